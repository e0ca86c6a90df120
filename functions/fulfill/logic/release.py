"""The release to fulfillment (in OrderLifecycle's AdvanceOrder): one fulfillment order per
location and delivery group.

Made from the order's allocation items that reserve stock and belong to no fulfillment
order yet. Each fulfillment order is written in one transaction with the ``fo_id`` of
its allocation items (each conditioned on having none), so a re-run, or a run racing
another, never makes the same units into two fulfillment orders. A fulfillment order of
more allocations than one transaction holds links the rest in further transactions; its
item lists them all, so a run interrupted in between is completed by the next.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from functions.allocate.api import held, pinned
from functions.fulfill.rules.status import awaited
from functions.fulfill.store import fulfillment_orders_of, in_creation_order, new_fulfillment_order, shipments_of
from shared.clock import now_iso
from shared.errors import NotFound, RetryableError
from shared.ids import child_id
from shared.order.record import load_order
from shared.order.state import OrderHeld, is_held, not_held_check
from shared.order.timeline import event_item
from shared.retry import attempts
from shared.table import TRANSACTION_LIMIT, ConditionFailed, Item, Table

_CLOSED = ("cancelled", "failed", "completed")
_ATTEMPTS = 3


def _link_op(alloc: Item, fo_id: str, at: str) -> dict[str, Any]:
    """Give the allocation to the fulfillment order, pinned on the counts its units were
    taken from: units a cancellation released meanwhile go on no fulfillment order."""
    shipped, released = int(alloc.get("shipped", 0)), int(alloc.get("released", 0))
    return {
        "Update": {
            "Key": {"pk": alloc["pk"], "sk": alloc["sk"]},
            "UpdateExpression": "SET fo_id = :fo, shipped = if_not_exists(shipped, :zero),"
            " released = if_not_exists(released, :zero), updated_at = :at",
            "ConditionExpression": "attribute_not_exists(fo_id) AND #st = :reserved AND "
            + pinned("shipped", ":os", shipped)
            + " AND "
            + pinned("released", ":or", released),
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {
                ":fo": fo_id,
                ":zero": 0,
                ":reserved": "reserved",
                ":at": at,
                ":os": shipped,
                ":or": released,
            },
        }
    }


def _fo_lines(allocations: list[Item]) -> list[dict[str, Any]]:
    lines: dict[str, dict[str, Any]] = {}
    for alloc in allocations:
        line = lines.setdefault(
            alloc["line_id"],
            {
                "line_id": alloc["line_id"],
                "position": int(alloc["line_position"]),
                "sku": alloc["sku"],
                # shipped, rejected and cancelled appear when units move (absent: 0), so a new
                # fulfillment order stays under a write unit longer.
                "quantity": 0,
            },
        )
        line["quantity"] += held(alloc)
    return sorted(lines.values(), key=lambda line: line["position"])


def _in_chunks(table: Table, head: list[dict[str, Any]], links: list[dict[str, Any]]) -> None:
    room = TRANSACTION_LIMIT - len(head)
    table.transact([*head, *links[:room]])
    for start in range(room, len(links), TRANSACTION_LIMIT):
        table.transact(links[start : start + TRANSACTION_LIMIT])


def _create(table: Table, header: Item, location_id: str, allocations: list[Item]) -> Item:
    at = now_iso()
    fo_id = child_id("fo", header["order_id"])  # names its order: readers need no index
    order_id = header["order_id"]
    lines = _fo_lines(allocations)
    group = str(header.get("shipping", {}).get("method", "standard"))
    fo = new_fulfillment_order(order_id, fo_id, location_id, group, lines, [a["sk"] for a in allocations], at)
    detail = {"fo_id": fo_id, "location_id": location_id, "delivery_group": group, "lines": len(lines)}
    detail["units"] = sum(line["quantity"] for line in lines)
    head: list[dict[str, Any]] = [
        {"Put": {"Item": fo, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"Item": event_item(order_id, "fulfillment.released", detail, at=at)}},
        not_held_check(order_id),  # a hold placed since the read releases nothing
    ]
    _in_chunks(table, head, [_link_op(a, fo_id, at) for a in allocations])
    return fo


def _release_once(table: Table, order_id: str) -> tuple[int, list[Item]]:
    """Create the missing fulfillment orders: how many, and the ones the workflow waits on.

    Those are told from the order as this run read it and the fulfillment orders it
    created, not read again: each wait reads its fulfillment order back after parking its
    token (``await_fulfillment``), so one that moved on since this read is heard at once."""
    record = load_order(order_id, table)
    if record is None:
        raise NotFound(f"no order {order_id}")
    allocations = {a["sk"]: a for a in record.others.get("ALLOC", [])}
    fos, shipments = record.others.get("FO", []), record.others.get("SHP", [])
    claimed: set[str] = set()
    at = now_iso()
    for fo in fos:  # finish what an interrupted run began
        claimed.update(fo.get("allocations", []))
        linked = (allocations[sk] for sk in fo.get("allocations", []) if sk in allocations)
        unlinked = [a for a in linked if "fo_id" not in a and a.get("status") == "reserved"]
        if unlinked:
            _in_chunks(table, [], [_link_op(a, fo["fo_id"], at) for a in unlinked])
    if record.header["status"] in _CLOSED:
        return 0, awaited(in_creation_order(fos), shipments)
    if is_held(record.header):
        raise OrderHeld(f"order {order_id} is on hold")
    by_location: dict[str, list[Item]] = defaultdict(list)
    for sk, alloc in sorted(allocations.items()):
        if sk not in claimed and "fo_id" not in alloc and alloc.get("status") == "reserved" and held(alloc) > 0:
            by_location[alloc["location_id"]].append(alloc)
    created = [_create(table, record.header, location_id, items) for location_id, items in sorted(by_location.items())]
    return len(created), awaited(in_creation_order([*fos, *created]), shipments)


def release_to_fulfillment(order_id: str) -> dict[str, Any]:
    """Create the missing fulfillment orders; returns every one the workflow waits on (open,
    or with a shipment to capture)."""
    table = Table()
    for _ in attempts(_ATTEMPTS):
        try:
            created, waiting = _release_once(table, order_id)
        except ConditionFailed:
            continue  # another run linked these allocations first, or a cancellation released some: look again
        return {"open": [{"fo_id": fo["fo_id"]} for fo in waiting], "created": created}
    raise RetryableError(f"order {order_id}: allocations kept changing during release")


def awaited_fulfillment_orders(order_id: str) -> list[dict[str, str]]:
    """The fulfillment orders the workflow waits on, releasing nothing: an order backordered in
    part waits on these first, so what they ship is captured as it ships."""
    table = Table()
    fos = fulfillment_orders_of(order_id, table)
    return [{"fo_id": fo["fo_id"]} for fo in awaited(fos, shipments_of(order_id, table=table))]
