"""Cancelling units a location holds (change orders): release the stock and the
allocations, move the fulfillment order lines, resume the executions waiting on them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from functions.allocate.api import consume_allocations, line_allocated_op
from functions.fulfill.logic.fulfillment_orders import allocations_and_buckets, retry_on_race, transact_pinned
from functions.fulfill.logic.resume import resume_waiting
from functions.fulfill.rules.status import open_units, settled_status
from functions.fulfill.store import applied, fo_write_op, open_fulfillment_orders
from functions.inventory.api import release_op
from shared.clock import now_iso
from shared.order.timeline import event_item
from shared.table import TRANSACTION_LIMIT, Item, Table


@dataclass
class FulfillmentCancellation:
    """What cancelling units held by fulfillment orders takes.

    ``ops`` release the stock and the allocations, move the fulfillment order lines and,
    with ``line_ops``, the order lines' ``allocated`` bucket (the caller moves
    ``quantities.cancelled`` itself; a caller that updates the same line items in its
    transaction passes ``line_ops=False`` and folds ``released`` into its own update).
    ``unplaced`` is what no open fulfillment order held (still unallocated, or allocated but
    not yet released to a location). After the transaction, ``notify`` each changed FO.
    """

    ops: list[dict[str, Any]] = field(default_factory=list)
    changed: list[Item] = field(default_factory=list)
    unplaced: dict[str, int] = field(default_factory=dict)
    # Units released per order line position (what ``allocated`` loses).
    released: dict[int, int] = field(default_factory=dict)

    def notify(self, table: Table | None = None) -> None:
        for fo in self.changed:
            resume_waiting(fo, {"event": "cancelled", "fo_id": fo["fo_id"]}, table)


def plan_fulfillment_cancellation(
    order_id: str,
    cancellations: dict[str, int],
    *,
    line_ops: bool = True,
    table: Table | None = None,
    at: str | None = None,
) -> FulfillmentCancellation:
    """Take the units to cancel from the order's open fulfillment orders, newest first."""
    table = table or Table()
    at = at or now_iso()
    plan = FulfillmentCancellation()
    left = {line_id: q for line_id, q in cancellations.items() if q > 0}
    line_release: dict[int, int] = defaultdict(int)
    # Two fulfillment orders at one location share stock items: one operation per item.
    stock: dict[tuple[str, str], int] = defaultdict(int)
    buckets: dict[tuple[str, str], int | None] = {}
    for fo in reversed(open_fulfillment_orders(order_id, table)):
        if not any(line["line_id"] in left for line in fo["lines"]):
            continue
        allocations, fo_buckets = allocations_and_buckets(fo, table)
        buckets.update(((sku, fo["location_id"]), bucket) for sku, bucket in fo_buckets.items())
        lines = [dict(line) for line in fo["lines"]]
        alloc_ops: list[dict[str, Any]] = []
        for line in lines:
            take = min(left.get(line["line_id"], 0), open_units(line))
            if take == 0:
                continue
            line["cancelled"] = int(line.get("cancelled", 0)) + take
            left[line["line_id"]] -= take
            stock[(line["sku"], fo["location_id"])] += take
            line_release[int(line["position"])] += take
            ops, allocations = consume_allocations(allocations, line["line_id"], take, "released", at)
            alloc_ops += ops
        status = settled_status(fo["status"], lines)
        op = fo_write_op(fo, at=at, status=status, lines=lines, signal="cancelled")
        plan.ops += [op, *alloc_ops]
        plan.changed.append(applied(fo, op))
    plan.ops += [release_op(sku, loc, q, bucket=buckets.get((sku, loc))) for (sku, loc), q in sorted(stock.items())]
    plan.released = dict(sorted(line_release.items()))
    if line_ops:
        plan.ops += [line_allocated_op(order_id, pos, -q) for pos, q in plan.released.items()]
    plan.unplaced = {line_id: q for line_id, q in left.items() if q > 0}
    return plan


def cancel_fulfillment_lines(
    order_id: str,
    cancellations: dict[str, int],
    reason: str,
    *,
    line_ops: bool = True,
    once: dict[str, Any] | None = None,
) -> FulfillmentCancellation:
    """Cancel units held by fulfillment orders on their own (one transaction with a timeline
    event), then resume the executions waiting on them. Callers that write more in the same
    transaction use ``plan_fulfillment_cancellation`` instead; a change order that already
    took the units out of the lines' ``allocated`` bucket passes ``line_ops=False``.

    A fulfillment order written meanwhile (a shipment, a rejection, the execution parking
    its token) refuses the transaction: the cancellation is planned again from fresh
    fulfillment orders. ``once`` is a write whose condition holds only the first time (a
    marker on the change order): committed in the same transaction, it makes a rerun after
    a crash find the units already cancelled instead of cancelling more."""
    table = Table()

    def attempt() -> FulfillmentCancellation:
        plan = plan_fulfillment_cancellation(order_id, cancellations, line_ops=line_ops, table=table)
        if not plan.changed:
            return plan
        detail = {
            "reason": reason,
            "fulfillment_orders": [fo["fo_id"] for fo in plan.changed],
            "lines": [
                {"line_id": k, "quantity": q - plan.unplaced.get(k, 0)} for k, q in sorted(cancellations.items())
            ],
        }
        ops = [*plan.ops, {"Put": {"Item": event_item(order_id, "fulfillment.cancelled", detail)}}]
        kinds = ["plan"] * len(ops)
        if once is not None:
            ops.append(once)
            kinds.append("once")
        if len(ops) > TRANSACTION_LIMIT:
            raise ValueError("too many lines to cancel in one transaction; cancel them in parts")
        try:
            transact_pinned(table, ops, kinds, {"once": AlreadyCancelled()})
        except AlreadyCancelled:
            return FulfillmentCancellation()
        return plan

    plan = retry_on_race(attempt)
    plan.notify(table)
    return plan


class AlreadyCancelled(Exception):
    """The ``once`` write was refused: an earlier run made this cancellation."""
