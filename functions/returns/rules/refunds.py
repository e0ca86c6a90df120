"""What returned units are worth to the customer (no writes).

Returned units are a line's front positions again (shared/order/amounts.py): their
subtotal, discount share and tax always go back; their shipping share only when the
policy or the reason says so; a restocking fee by reason comes off (waived when the
return is an exchange). The part of a return's value promised to its exchange lines is
kept as ``credit`` instead of being refunded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.changes.api import ChangePolicy, change_line, change_totals
from shared.order.amounts import returned_amounts
from shared.table import Item


@dataclass(frozen=True)
class ReturnedUnits:
    line: Item
    quantity: int
    reason: str
    # How many units of the line were returned (or expected) before these.
    returned_before: int


def _restocking_fee(u: ReturnedUnits, policy: ChangePolicy) -> int:
    """The fee of units by position, like every amount: the fee on the line's first ``n``
    units less that on the units before, so the fees of any receipts splitting the same
    units add up to the fee promised on all of them (no cent lost to rounding each part)."""
    end = returned_amounts(u.line, 0, u.returned_before + u.quantity).subtotal
    start = returned_amounts(u.line, 0, u.returned_before).subtotal
    return policy.restocking_fee(u.reason, end) - policy.restocking_fee(u.reason, start)


def refund_lines(
    units: Sequence[ReturnedUnits], policy: ChangePolicy, *, waive_fees: bool = False
) -> list[dict[str, Any]]:
    """Change lines (negative figures, fee positive) for returned units."""
    rows = []
    for u in units:
        amounts = returned_amounts(u.line, u.returned_before, u.quantity)
        keep_shipping = not policy.refunds_shipping(u.reason)
        worth = amounts.total - (amounts.shipping if keep_shipping else 0)
        fee = 0 if waive_fees else min(_restocking_fee(u, policy), max(0, worth))
        rows.append(change_line(u.line["line_id"], u.quantity, amounts, fee=fee, keep_shipping=keep_shipping))
    return rows


@dataclass(frozen=True)
class ReturnRefund:
    lines: list[dict[str, Any]]
    totals: dict[str, int]
    credit_used: int

    @property
    def refund(self) -> int:
        return -self.totals["total"]


def settle_return_refund(
    lines: list[dict[str, Any]], *, credit_left: int, refundable: int | None = None
) -> ReturnRefund:
    """Totals of a receipt's refund, keeping up to ``credit_left`` for the exchange.

    Never more than ``refundable`` (captured and not yet refunded): what an earlier
    appeasement already gave back is kept too, so the figures still match the money.
    """
    gross = -change_totals(lines)["total"]  # what these units would refund
    used = max(0, min(credit_left, gross))
    kept = used
    if refundable is not None and gross - kept > refundable:
        kept = gross - max(0, refundable)
    return ReturnRefund(lines, change_totals(lines, credit=kept), used)


def expected_refund(units: Sequence[ReturnedUnits], policy: ChangePolicy, *, waive_fees: bool) -> int:
    return -change_totals(refund_lines(units, policy, waive_fees=waive_fees))["total"]


def restock_quantities(receipt_lines: Sequence[Mapping[str, Any]], lines_by_id: Mapping[str, Item]) -> dict[str, int]:
    """Units per SKU that go back to stock: resellable ones only."""
    out: dict[str, int] = {}
    for r in receipt_lines:
        if r["condition"] == "resellable":
            sku = lines_by_id[r["line_id"]]["sku"]
            out[sku] = out.get(sku, 0) + int(r["quantity"])
    return out
