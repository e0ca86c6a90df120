"""A location rejects units it cannot ship: they go back to routing, elsewhere.

One transaction moves the fulfillment order's lines (``rejected``, pinned on its
version), releases the stock the location reserved and the allocations behind it, takes
the units out of the order lines' ``allocated`` bucket (so routing sees them open again)
and adds the location to the order's ``rejected_locations``, which routing excludes for
this order. The execution waiting on the fulfillment order is resumed; its review step
re-routes the units.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from functions.allocate.api import consume_fo_allocations, line_allocated_op
from functions.fulfill.logic.access import workable
from functions.fulfill.logic.fulfillment_orders import (
    VersionMoved,
    allocations_and_buckets,
    retry_on_race,
    transact_pinned,
)
from functions.fulfill.logic.line_selection import Selection, selected_units, transaction_parts
from functions.fulfill.logic.models import RejectRequest
from functions.fulfill.logic.resume import resume_waiting
from functions.fulfill.rules.status import settled_status
from functions.fulfill.rules.views import fulfillment_order_view
from functions.fulfill.store import applied, fo_write_op, load_fulfillment_order
from functions.inventory.api import StockConflict, release_op
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict
from shared.order import keys
from shared.order.timeline import event_item
from shared.table import Item, Table

_FIXED_ITEMS = 3  # fulfillment order, header, timeline event


def _header_op(order_id: str, location_id: str, at: str) -> dict[str, Any]:
    return {
        "Update": {
            "Key": {"pk": keys.order_pk(order_id), "sk": keys.ORDER_HEADER},
            "UpdateExpression": "SET rejected_locations = list_append(if_not_exists(rejected_locations, :none), :loc),"
            " updated_at = :at",
            "ExpressionAttributeValues": {":none": [], ":loc": [location_id], ":at": at},
        }
    }


def _write_part(
    table: Table, fo: Item, allocations: list[Item], buckets: dict[str, int | None], part: Selection, reason: str
) -> tuple[Item, list[Item]]:
    at = now_iso()
    order_id = fo["order_id"]
    ops: list[dict[str, Any]] = []
    kinds: list[str] = []
    fo_lines = {line["line_id"]: dict(line) for line in fo["lines"]}
    stock: dict[str, int] = defaultdict(int)
    for fo_line, units in part:
        fo_lines[fo_line["line_id"]]["rejected"] = int(fo_line.get("rejected", 0)) + units
        stock[fo_line["sku"]] += units
        ops.append(line_allocated_op(order_id, int(fo_line["position"]), -units))
        kinds.append("line")
        alloc_ops, allocations = consume_fo_allocations(fo, allocations, fo_line["line_id"], units, "released", at)
        ops += alloc_ops
        kinds += ["allocation"] * len(alloc_ops)
    for sku, units in sorted(stock.items()):
        ops.append(release_op(sku, fo["location_id"], units, bucket=buckets.get(sku)))
        kinds.append("stock")
    new_lines = sorted(fo_lines.values(), key=lambda line: int(line["position"]))
    fo_op = fo_write_op(fo, at=at, status=settled_status(fo["status"], new_lines), lines=new_lines, signal="rejected")
    detail = {
        "fo_id": fo["fo_id"],
        "location_id": fo["location_id"],
        "reason": reason,
        "lines": [{"line_id": line["line_id"], "quantity": units} for line, units in part],
    }
    ops += [
        fo_op,
        _header_op(order_id, fo["location_id"], at),
        {"Put": {"Item": event_item(order_id, "fulfillment.rejected", detail, at=at)}},
    ]
    kinds += ["fo", "header", "event"]
    refused = StockConflict(f"{fo['location_id']} no longer holds these units reserved")
    transact_pinned(table, ops, kinds, {"stock": refused})
    return applied(fo, fo_op), allocations


def reject(caller: Caller, fo_id: str, request: RejectRequest) -> dict[str, Any]:
    """Reject units (all open ones when no lines are named); returns the fulfillment order."""
    table = Table()
    done: list[Item] = []

    def attempt() -> Item:
        fo = workable(caller, load_fulfillment_order(fo_id, table))
        chosen = selected_units(fo, request.lines, "reject")
        allocations, buckets = allocations_and_buckets(fo, table)
        for part in transaction_parts(chosen, allocations, _FIXED_ITEMS):
            try:
                fo, allocations = _write_part(table, fo, allocations, buckets, part, request.reason)
            except VersionMoved:
                if done:
                    raise Conflict(f"fulfillment order {fo_id} changed while rejecting; part was rejected") from None
                raise
            done.append(fo)
        return fo

    fo = retry_on_race(attempt)
    resume_waiting(fo, {"event": "rejected", "fo_id": fo_id}, table)
    return fulfillment_order_view(fo)
