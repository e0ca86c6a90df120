"""Refunds reserved ahead of their credit memo.

A received return owes its refund, an accepted appeasement its amount, from the moment
the change commits; the refund itself is set aside later (functions/payments/logic/
refund.py). The change's own transaction carries ``reserve_refund_op``: it writes the
amount into the header's ``refund_reserved`` on the ledger version it read, so anything
that would take the same money (another appeasement, a refund set aside meanwhile) either
commits first and is seen, or is refused at commit and computes again. Setting the
refund aside consumes the reservation.
"""

from __future__ import annotations

from typing import Any

from functions.payments.rules.ledger import refundable_for, reserved_refunds
from functions.payments.store import load_ledger, reservation_op
from shared.clock import now_iso
from shared.errors import Conflict
from shared.order.record import OrderRecord
from shared.retry import attempts
from shared.table import ConditionFailed, Table


def available_to_refund(record: OrderRecord, change_id: str | None = None) -> int:
    """Captured, not refunded, not pending and not reserved by another change."""
    return max(0, refundable_for(record.others.get("PAY", []), record.header, change_id))


def reserve_refund_op(record: OrderRecord, change_id: str, amount: int, at: str | None = None) -> dict[str, Any]:
    """The header write reserving ``amount`` for ``change_id``, pinned on the ledger version
    of ``record``; 409 when less than that is left to refund."""
    available = available_to_refund(record, change_id)
    if amount > available:
        raise Conflict(
            f"a refund of {amount} exceeds the {available} captured and neither refunded, pending nor reserved",
            errors=[{"field": "amount", "message": f"at most {available}"}],
            available_to_refund=available,
        )
    reserved = reserved_refunds(record.header) | {change_id: amount}
    header = record.header
    return reservation_op(header["order_id"], int(header.get("payment_version", 0)), reserved, at or now_iso())


def drop_refund_reservation(order_id: str, change_id: str) -> None:
    """Give back what ``change_id`` reserved and will not refund (its refund came to nothing)."""
    for _ in attempts(5):
        snap = load_ledger(order_id)
        reserved = reserved_refunds(snap.header)
        if change_id not in reserved:
            return
        del reserved[change_id]
        try:
            Table().transact([reservation_op(order_id, snap.version, reserved, now_iso())])
            return
        except ConditionFailed:
            continue
