"""What the payment use cases share: the order's gateway, the provider-unavailable error,
a quiet void, a credit memo by id, and the process exception of a refused refund.

Each use case reads the ledger, asks the provider, and writes the outcome in one
transaction pinned to what it read (functions/payments/store.py). A writer that lost a
race reads again (up to ``ATTEMPTS`` times) and repeats its provider call with the same
idempotency key, which the provider answers with the first result: money never moves twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from functions.payments.gateways import registry
from functions.payments.gateways.gateway import GatewayUnavailable
from functions.payments.store import Snapshot
from shared.errors import Conflict, DomainError, NotFound, RetryableError
from shared.observability import logger
from shared.process_exceptions import record_exception
from shared.table import Item

ATTEMPTS = 5


def gateway_of(snap: Snapshot) -> tuple[str, Any]:
    provider = str((snap.header.get("payment") or {}).get("provider") or "")
    if not provider:
        raise Conflict(f"order {snap.order_id} has no payment method")
    return provider, registry.gateway_for(provider)


def unavailable(provider: str, err: GatewayUnavailable) -> RetryableError:
    # The workflow retries on the class name RetryableError, not on its subclasses' names.
    return RetryableError(f"payment provider {provider!r} is unavailable: {err.detail}")


def void_quietly(gateway: Any, order_id: str, payment: Item) -> None:
    """Give an authorization back at the provider; if that fails it simply lapses."""
    try:
        gateway.void(authorization=payment["reference"], idempotency_key=f"{order_id}:void:{payment['payment_id']}")
    except DomainError as err:
        logger.warning("void failed", extra={"payment_id": payment["payment_id"], "error": type(err).__name__})


def memo_of(snap: Snapshot, memo_id: str) -> Item:
    for memo in snap.credit_memos:
        if memo["credit_memo_id"] == memo_id:
            return memo
    raise NotFound(f"order {snap.order_id} has no credit memo {memo_id}")


def refund_exception(order_id: str, memo_id: str, reasons: Sequence[str | None]) -> None:
    record_exception(
        order_id=order_id,
        step="PaymentRefund",
        error="RefundFailed",
        cause=f"credit memo {memo_id}: refund refused ({', '.join(r or 'no reason' for r in reasons)})",
        retry={"action": "none"},
    )
