"""What an order edit does to the order (no writes): the units it removes, the lines it adds,
the shipping it changes, and what that is worth.

Only units not yet released to a warehouse may change: units still waiting for stock
and units whose stock is reserved by an allocation that is on no fulfillment order.
Fewer units of a line are a cancellation of its back positions (backordered units
first, then reserved ones); more units, another SKU, or a new SKU are new lines
(functions/changes/rules/edits.py). A request that would touch released units is 409,
naming each line and how many of its units are released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.allocate.api import held
from functions.changes.logic.models import EditRequest
from functions.changes.rules.edits import more_of, new_line_figures, swapped_in
from functions.changes.rules.figures import change_line, change_totals
from functions.fulfill.api import fulfillment_order_view
from shared.errors import Conflict, InvalidInput
from shared.order.amounts import Amounts, cancelled_amounts, units_amounts
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord
from shared.table import Item

_CLOSED_FO = frozenset({"fulfilled", "rejected", "cancelled"})


class ReleasedUnits(Conflict):
    """An edit of units a warehouse already has (409, naming them)."""


@dataclass(frozen=True)
class Removal:
    line: Item
    quantity: int
    amounts: Amounts
    unallocated: int  # backordered units: no stock to give back
    reserved: int  # units whose stock is reserved on no fulfillment order: released in the edit's transaction


@dataclass(frozen=True)
class NewLine:
    figures: dict[str, Any]
    of_line: str | None  # the line it adds to or replaces (more units, a swap); None for a new SKU


@dataclass
class EditPlan:
    removals: list[Removal] = field(default_factory=list)
    new_lines: list[NewLine] = field(default_factory=list)
    shipping: dict[str, Any] | None = None
    free_allocations: list[Item] = field(default_factory=list)

    def change_lines(self, new_ids: Sequence[str]) -> list[dict[str, Any]]:
        removed = [change_line(r.line["line_id"], r.quantity, r.amounts) for r in self.removals]
        added = [
            {"line_id": line_id, "quantity": n.figures["quantity"], "fee": 0}
            | {k: int(n.figures[k]) for k in ("subtotal", "discount", "tax", "shipping", "total")}
            for line_id, n in zip(new_ids, self.new_lines, strict=True)
        ]
        return removed + added

    def totals(self) -> dict[str, int]:
        return change_totals(self.change_lines([""] * len(self.new_lines)))

    @property
    def value(self) -> int:
        """What the edit does to the order's total (signed)."""
        return self.totals()["total"]


def free_allocations(record: OrderRecord) -> list[Item]:
    """Allocations holding stock on no fulfillment order: their units are not released yet."""
    on_fulfillment = {sk for fo in record.others.get("FO", []) for sk in fo.get("allocations", [])}
    return [
        a
        for a in record.others.get("ALLOC", [])
        if a.get("status") == "reserved" and "fo_id" not in a and a["sk"] not in on_fulfillment and held(a) > 0
    ]


def editable_units(line: Item, free: Sequence[Item]) -> tuple[int, int]:
    """(backordered units, units reserved on no fulfillment order) of ``line``."""
    q = LineQuantities.of(line)
    reserved = sum(held(a) for a in free if a["line_id"] == line["line_id"])
    return max(0, q.to_allocate), min(reserved, max(0, q.unshipped - max(0, q.to_allocate)))


def open_fulfillment_units(record: OrderRecord) -> dict[str, int]:
    """Units per line on fulfillment orders a warehouse is still working."""
    units: dict[str, int] = {}
    for fo in record.others.get("FO", []):
        view = fulfillment_order_view(fo)
        if view["status"] in _CLOSED_FO:
            continue
        for line in view["lines"]:
            if line["open"] > 0:
                units[line["line_id"]] = units.get(line["line_id"], 0) + int(line["open"])
    return units


def charge_of(lines: Sequence[Item]) -> int:
    """What the order's lines charge: every unit's worth less what cancelled units were worth."""
    total = 0
    for line in lines:
        q = LineQuantities.of(line)
        total += units_amounts(line, 0, int(line["quantity"])).total - cancelled_amounts(line, 0, q.cancelled).total
    return total


class _Planner:
    def __init__(self, record: OrderRecord) -> None:
        self.record = record
        self.by_id = {line["line_id"]: line for line in record.lines}
        self.free = free_allocations(record)
        self.plan = EditPlan(free_allocations=self.free)
        self.released: list[dict[str, Any]] = []
        self.problems: list[dict[str, str]] = []

    def line(self, line_id: str, field_name: str) -> Item:
        line = self.by_id.get(line_id)
        if line is None:
            raise InvalidInput(
                f"no line {line_id} on this order", errors=[{"field": field_name, "message": "unknown line"}]
            )
        return line

    def remove(self, line: Item, quantity: int, field_name: str) -> bool:
        unallocated, reserved = editable_units(line, self.free)
        q = LineQuantities.of(line)
        if quantity > unallocated + reserved:
            released = min(quantity, q.unshipped) - unallocated - reserved
            shipped = quantity - min(quantity, q.unshipped)
            self.released.append({"line_id": line["line_id"], "quantity": released + shipped})
            self.problems.append(
                {
                    "field": field_name,
                    "message": f"line {line['line_id']}: {released + shipped} of these units are released to a "
                    f"warehouse (at most {unallocated + reserved} may change)",
                }
            )
            return False
        first = min(quantity, unallocated)
        self.plan.removals.append(
            Removal(
                line=line,
                quantity=quantity,
                amounts=cancelled_amounts(line, q.cancelled, quantity),
                unallocated=first,
                reserved=quantity - first,
            )
        )
        return True


def plan_edit(record: OrderRecord, request: EditRequest) -> EditPlan:
    """The edit's plan; InvalidInput (422) or ReleasedUnits (409) when it cannot be done."""
    planner = _Planner(record)
    plan = planner.plan
    for i, asked in enumerate(request.lines or []):
        line = planner.line(asked.line_id, f"lines[{i}].line_id")
        live = LineQuantities.of(line).live
        if asked.quantity < live:
            planner.remove(line, live - asked.quantity, f"lines[{i}].quantity")
        elif asked.quantity > live:
            plan.new_lines.append(NewLine(more_of(line, asked.quantity - live), line["line_id"]))
    for i, swap in enumerate(request.swap or []):
        line = planner.line(swap.line_id, f"swap[{i}].line_id")
        if swap.sku == line["sku"]:
            raise InvalidInput("a swap names another SKU", errors=[{"field": f"swap[{i}].sku", "message": "same SKU"}])
        quantity = swap.quantity if swap.quantity is not None else sum(editable_units(line, planner.free))
        if quantity == 0:
            planner.released.append({"line_id": line["line_id"], "quantity": LineQuantities.of(line).live})
            planner.problems.append({"field": f"swap[{i}].line_id", "message": "no unit of this line may change"})
            continue
        if planner.remove(line, quantity, f"swap[{i}].quantity"):
            figures = swapped_in(line, swap.sku, quantity, swap.unit_price, swap.tax)
            plan.new_lines.append(NewLine(figures, line["line_id"]))
    for add in request.add or []:
        plan.new_lines.append(NewLine(new_line_figures(add.sku, add.quantity, add.unit_price, add.tax), None))
    if request.shipping is not None:
        plan.shipping = _shipping(record, request, planner)
    if planner.problems:
        raise ReleasedUnits(
            "units already released to a warehouse cannot change: "
            + ", ".join(f"{r['line_id']} ({r['quantity']})" for r in planner.released),
            errors=planner.problems,
            released_units=planner.released,
        )
    live_after = sum(LineQuantities.of(line).live for line in record.lines)
    live_after += sum(int(n.figures["quantity"]) for n in plan.new_lines) - sum(r.quantity for r in plan.removals)
    if live_after <= 0:
        raise Conflict("an edit cannot remove every unit: cancel the order instead")
    if not plan.removals and not plan.new_lines and plan.shipping is None:
        raise InvalidInput("the edit changes nothing", errors=[{"field": "lines", "message": "already so"}])
    return plan


def _shipping(record: OrderRecord, request: EditRequest, planner: _Planner) -> dict[str, Any] | None:
    asked = request.shipping
    assert asked is not None
    current = dict(record.header.get("shipping") or {})
    if asked.amount is not None and asked.amount != int(current.get("amount", 0)):
        raise InvalidInput(
            "an edit cannot change the shipping amount",
            errors=[{"field": "shipping.amount", "message": f"stays {int(current.get('amount', 0))}"}],
        )
    if asked.method is not None and (asked.method == "pickup") != (current.get("method") == "pickup"):
        # Pickup units are routed to the pickup store: switching would have to route them again.
        raise InvalidInput(
            "an edit cannot switch an order to or from store pickup",
            errors=[
                {
                    "field": "shipping.method",
                    "message": f"stays {'pickup' if current.get('method') == 'pickup' else 'a delivery'}",
                }
            ],
        )
    at_warehouse = open_fulfillment_units(record)
    if at_warehouse:
        for line_id, units in sorted(at_warehouse.items()):
            planner.released.append({"line_id": line_id, "quantity": units})
        planner.problems.append(
            {"field": "shipping", "message": "units are released to a warehouse: the shipping cannot change"}
        )
        return None
    after = dict(current)
    if asked.address is not None:
        after["address"] = asked.address.model_dump(mode="json", exclude_none=True)
    if asked.method is not None:
        after["method"] = asked.method
        if asked.method == "pickup":
            after["pickup_location_id"] = asked.pickup_location_id
        else:
            after.pop("pickup_location_id", None)
    return None if after == current else after
