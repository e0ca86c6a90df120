"""What a cancel takes off the order: which units, what they are worth (no writes).

Cancelled units are the back positions of a line (shared/order/amounts.py). A line's
unallocated (backordered) units go first, then units holding stock; shipped units can
never be cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from functions.changes.rules.figures import change_line, change_totals
from shared.errors import Conflict, InvalidInput
from shared.order.amounts import Amounts, cancelled_amounts
from shared.order.quantities import LineQuantities
from shared.table import Item


@dataclass(frozen=True)
class CancelLine:
    line: Item
    quantity: int
    amounts: Amounts
    # Units that held no stock (backordered) and units that did (allocated, not shipped).
    unallocated: int
    allocated: int


@dataclass(frozen=True)
class CancelPlan:
    lines: list[CancelLine]
    change_lines: list[dict[str, Any]]
    totals: dict[str, int]

    @property
    def value(self) -> int:
        """What the cancel takes off the order, as a positive amount."""
        return -self.totals["total"]


def _split(line: Item, quantity: int) -> CancelLine:
    q = LineQuantities.of(line)
    unallocated = max(0, q.to_allocate)
    first = min(quantity, unallocated)
    return CancelLine(
        line=line,
        quantity=quantity,
        amounts=cancelled_amounts(line, q.cancelled, quantity),
        unallocated=first,
        allocated=quantity - first,
    )


def _requested(lines: Sequence[Item], requested: Sequence[tuple[str, int]]) -> list[tuple[Item, int]]:
    by_id = {line["line_id"]: line for line in lines}
    picked: list[tuple[Item, int]] = []
    seen: set[str] = set()
    for i, (line_id, quantity) in enumerate(requested):
        field = f"lines[{i}]"
        if line_id not in by_id:
            raise InvalidInput(
                f"no line {line_id} on this order", errors=[{"field": f"{field}.line_id", "message": "unknown line"}]
            )
        if line_id in seen:
            raise InvalidInput(
                f"line {line_id} named twice", errors=[{"field": f"{field}.line_id", "message": "named twice"}]
            )
        seen.add(line_id)
        line = by_id[line_id]
        open_units = LineQuantities.of(line).cancellable
        if quantity > open_units:
            shipped = LineQuantities.of(line).shipped
            why = f"{shipped} already shipped" if shipped else "already cancelled"
            raise Conflict(
                f"line {line_id} has {max(0, open_units)} units left to cancel ({why})",
                errors=[{"field": f"{field}.quantity", "message": f"at most {max(0, open_units)}"}],
            )
        picked.append((line, quantity))
    return picked


def plan_cancellation(
    lines: Sequence[Item], requested: Sequence[tuple[str, int]] | None, *, refund_shipping: bool = True
) -> CancelPlan:
    """The units to cancel: those named, or every unit not shipped when nothing is named."""
    if requested is None:
        picked = [(line, n) for line in lines if (n := LineQuantities.of(line).cancellable) > 0]
        if not picked:
            raise Conflict("nothing left to cancel: every unit is shipped or cancelled")
    else:
        picked = _requested(lines, requested)
    planned = [_split(line, quantity) for line, quantity in picked]
    change_lines = [
        change_line(p.line["line_id"], p.quantity, p.amounts, keep_shipping=not refund_shipping) for p in planned
    ]
    return CancelPlan(planned, change_lines, change_totals(change_lines))


@dataclass(frozen=True)
class MoneyEffect:
    release: int  # authorization released (never charged)
    refund: int  # captured funds given back


def money_effect(value: int, *, captured: int, refunded: int, authorized_open: int, needed_after: int) -> MoneyEffect:
    """Split what a change takes off into a refund and an authorization release.

    Funds already captured beyond what the order now needs are refunded; the rest of the
    value is simply not charged, releasing as much of the open authorization as it covers.
    """
    if value <= 0:
        return MoneyEffect(0, 0)
    excess = max(0, captured - refunded - max(0, needed_after))
    refund = min(value, excess)
    release = max(0, min(value - refund, authorized_open))
    return MoneyEffect(release=release, refund=refund)
