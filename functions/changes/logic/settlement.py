"""Money moves of a change order, through the payment ledger (functions/payments).

A change computes what it takes off; this module reads what the ledger holds (captured,
refunded, still authorized) and asks the ledger to refund or release. Both ledger calls
are keyed by the change, so running them again moves no money twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.order.record import OrderRecord


@dataclass(frozen=True)
class PaymentPosition:
    captured: int
    # Refunded or on its way back: neither can be refunded again.
    refunded: int
    authorized_open: int
    # Promised to other changes (a received return, an accepted appeasement) and not yet set aside.
    reserved: int = 0

    @property
    def refundable(self) -> int:
        return max(0, self.captured - self.refunded - self.reserved)


def payment_position(record: OrderRecord, change_id: str | None = None) -> PaymentPosition:
    """The order's money as read; ``reserved`` leaves out what ``change_id`` reserved itself."""
    from functions.payments.api import open_amount

    payments = [p for p in record.others.get("PAY", []) if p.get("status") != "failed"]
    reserved = {k: int(v) for k, v in (record.header.get("refund_reserved") or {}).items()}
    return PaymentPosition(
        captured=sum(int(p.get("captured", 0)) for p in payments),
        refunded=sum(int(p.get("refunded", 0)) + int(p.get("refund_pending", 0)) for p in payments),
        authorized_open=sum(open_amount(p) for p in payments),
        reserved=sum(reserved.values()) - reserved.get(change_id or "", 0),
    )


def issue_refund(
    order_id: str, *, change_id: str, amount: int, reason: str, lines: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """Refund ``amount`` with a credit memo (once per change); None when there is nothing to
    refund (and whatever the change reserved is given back)."""
    if amount <= 0:
        from functions.payments.api import drop_refund_reservation

        drop_refund_reservation(order_id, change_id)
        return None
    from functions.payments.api import refund

    memo: dict[str, Any] = refund(order_id, change_id=change_id, amount=amount, reason=reason, lines=lines)
    return memo


def reserve_refund_op(record: OrderRecord, change_id: str, amount: int, at: str) -> dict[str, Any]:
    """The write, in the change's own transaction, that reserves its refund on the ledger (409 when
    less is left); the refund set aside later takes it."""
    from functions.payments.api import reserve_refund_op as reserve

    op: dict[str, Any] = reserve(record, change_id, amount, at)
    return op


def release_authorization(order_id: str, amount: int, *, reason: str, change_id: str) -> dict[str, Any] | None:
    """Give back ``amount`` of the open authorization, once per change; None when there is nothing to release."""
    if amount <= 0:
        return None
    from functions.payments.api import release_authorized_funds as release

    out: dict[str, Any] = release(order_id, amount, reason=reason, change_id=change_id)
    return out
