"""The allocate step: route the order's open units and reserve them, or backorder them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from functions.allocate.logic.planning import gather, make_plan, open_quantity
from functions.allocate.logic.policy import load_policy
from functions.allocate.logic.reservation import RoundTaken, StockMoved, commit
from functions.allocate.store import Reservation, consume_allocations, held, held_allocations, line_allocated_op
from functions.inventory.api import release_op
from shared.clock import now_iso
from shared.errors import NotFound, RetryableError
from shared.order.record import OrderRecord, load_order
from shared.order.state import FulfillmentStatus, HeaderUpdate, after_allocation, is_closed
from shared.order.timeline import append_event, event_item
from shared.retry import attempts
from shared.table import Table

_EVENT_ASSIGNMENTS = 200  # keep the timeline item small for very large orders


@dataclass(frozen=True)
class Outcome:
    allocated_units: int
    backordered_units: int
    backorder_timeout_seconds: int
    reason: str
    # Units available (all locations) of each backordered SKU when the plan was made: the
    # wait resumes at once only if more has arrived since, never in a loop on stock the
    # rules keep out of reach.
    stock_seen: dict[str, int] = field(default_factory=dict)
    # The fulfillment waits' timeout (the routing policy's), read by the state machine.
    fulfillment_timeout_seconds: int = 14 * 24 * 3600

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _header_change(order_id: str, backordered: int, workflow_status: str | None, at: str) -> HeaderUpdate:
    header = HeaderUpdate(order_id, at).fulfillment(after_allocation(backordered))
    return header.workflow(workflow_status) if workflow_status and not backordered else header


def _reservations(record: OrderRecord, assignments: list[Any]) -> list[Reservation]:
    lines = {line["line_id"]: line for line in record.lines}
    return [
        Reservation(
            line_position=int(lines[a.line_id]["position"]),
            line_id=a.line_id,
            sku=lines[a.line_id]["sku"],
            location_id=a.location_id,
            quantity=a.quantity,
        )
        for a in assignments
        if a.quantity > 0
    ]


def allocate_order(order_id: str, *, workflow_status_when_done: str | None = None) -> Outcome:
    """Plan and reserve; a plan refused because stock moved is made again from fresh stock.

    Safe to run twice: a second run finds the units already allocated (or loses the
    allocation round to the first) and reserves nothing more. A run that reserves nothing
    for an order already backordered writes nothing (a wake-up that found too little).
    """
    policy = load_policy()
    for _attempt in attempts(policy.max_allocation_attempts):
        record = load_order(order_id)
        if record is None:
            raise NotFound(f"no order {order_id}")
        header = record.header
        open_units = sum(max(0, open_quantity(line)) for line in record.lines)
        if is_closed(header) or open_units == 0:
            return Outcome(
                0,
                0,
                policy.backorder_timeout_seconds,
                "nothing left to allocate",
                fulfillment_timeout_seconds=policy.fulfillment_timeout_seconds,
            )
        at = now_iso()
        day = at[:10]
        inputs = gather(header, record.lines, policy, day)
        plan = make_plan(inputs)
        reservations = _reservations(record, plan.assignments)
        allocated = sum(r.quantity for r in reservations)
        backordered = open_units - allocated
        short = {d.sku for d in inputs.demands if plan.backordered.get(d.line_id)}
        seen = {sku: sum(inputs.stock.get(sku, {}).values()) for sku in sorted(short)}
        if not reservations and header.get("fulfillment_status") == FulfillmentStatus.BACKORDERED:
            # Woken and still short: the header and timeline already say so, nothing to write.
            return Outcome(
                0,
                backordered,
                policy.backorder_timeout_seconds,
                plan.reason,
                seen,
                fulfillment_timeout_seconds=policy.fulfillment_timeout_seconds,
            )
        detail = {
            "round": int(header.get("allocation_round", 0)) + 1,
            "strategy": plan.strategy,
            "exact": plan.exact,
            "cost": plan.cost,
            "shipments": plan.shipments,
            "avg_distance_km": round(plan.avg_distance_km, 1),
            "reason": plan.reason,
            "allocated_units": allocated,
            "backordered": {k: v for k, v in plan.backordered.items() if v},
            "assignments": [
                {"line_id": r.line_id, "location_id": r.location_id, "quantity": r.quantity}
                for r in reservations[:_EVENT_ASSIGNMENTS]
            ],
        }
        change = _header_change(order_id, backordered, workflow_status_when_done, at)
        kind = "order.allocated" if allocated else "order.backordered"
        closing = [{"Put": {"Item": event_item(order_id, kind, detail, at=at)}}]
        try:
            commit(
                order_id,
                reservations,
                current_round=int(header.get("allocation_round", 0)),
                at=at,
                day=day,
                capacities=inputs.daily_capacity,
                header=change,
                closing_ops=closing,
                lines=record.lines,
            )
        except (StockMoved, RoundTaken):
            continue
        return Outcome(
            allocated,
            backordered,
            policy.backorder_timeout_seconds,
            plan.reason,
            seen,
            fulfillment_timeout_seconds=policy.fulfillment_timeout_seconds,
        )
    raise RetryableError(f"order {order_id}: stock kept changing during allocation")


def release_all(order_id: str) -> dict[str, Any]:
    """Compensation: give back every reservation the order holds on no fulfillment order,
    each exactly once.

    Units on a fulfillment order stay reserved: the warehouse holds them for it and may ship
    them, and what it ships is recorded against them; released, they could be promised to
    another order, and a retried order would allocate and release them again. Each release
    is pinned on the allocation being on no fulfillment order, should one take it meanwhile.
    The allocation items stay, marked ``released``, as the record of what happened.
    """
    table = Table()
    # After a partial shipment an allocation holds less than its quantity: release that only.
    holding = [(a, held(a)) for a in held_allocations(order_id, table) if not a.get("fo_id")]
    holding = [(a, q) for a, q in holding if q > 0]
    at = now_iso()
    for start in range(0, len(holding), 30):  # 3 operations per allocation
        chunk = holding[start : start + 30]
        ops: list[dict[str, Any]] = []
        per_line: dict[int, int] = {}
        # Two lines of one SKU, or two rounds at one location, share a stock item: one operation each.
        per_stock: dict[tuple[str, str], int] = {}
        for a, quantity in chunk:
            ops.extend(consume_allocations([a], a["line_id"], quantity, "released", at, unlinked=True)[0])
            per_line[int(a["line_position"])] = per_line.get(int(a["line_position"]), 0) + quantity
            stock_key = (a["sku"], a["location_id"])
            per_stock[stock_key] = per_stock.get(stock_key, 0) + quantity
        ops += [release_op(sku, location, q) for (sku, location), q in sorted(per_stock.items())]
        ops += [line_allocated_op(order_id, pos, -q) for pos, q in sorted(per_line.items())]
        table.transact(ops)
    units = sum(q for _, q in holding)
    if holding:
        append_event(order_id, "order.reservations_released", {"units": units})
    return {"released_units": units}
