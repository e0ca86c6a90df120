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

    @property
    def refundable(self) -> int:
        return max(0, self.captured - self.refunded)


def payment_position(record: OrderRecord) -> PaymentPosition:
    from functions.payments.api import open_amount

    payments = [p for p in record.others.get("PAY", []) if p.get("status") != "failed"]
    return PaymentPosition(
        captured=sum(int(p.get("captured", 0)) for p in payments),
        refunded=sum(int(p.get("refunded", 0)) + int(p.get("refund_pending", 0)) for p in payments),
        authorized_open=sum(open_amount(p) for p in payments),
    )


def issue_refund(
    order_id: str, *, change_id: str, amount: int, reason: str, lines: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """Refund ``amount`` with a credit memo (once per change); None when there is nothing to refund."""
    if amount <= 0:
        return None
    from functions.payments.api import refund

    memo: dict[str, Any] = refund(order_id, change_id=change_id, amount=amount, reason=reason, lines=lines)
    return memo


def release_authorization(order_id: str, amount: int, *, reason: str, change_id: str) -> dict[str, Any] | None:
    """Give back ``amount`` of the open authorization, once per change; None when there is nothing to release."""
    if amount <= 0:
        return None
    from functions.payments.api import release_authorized_funds as release

    out: dict[str, Any] = release(order_id, amount, reason=reason, change_id=change_id)
    return out
