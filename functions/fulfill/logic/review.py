"""After the wait on a fulfillment order ends (the lifecycle's SettleFulfillmentOrder):
re-route what was rejected, keep waiting on what is open, or complete the order.

The waits on an order's fulfillment orders end independently and may settle at once. Each
settles after its own fulfillment order's last change (the capture, the cancellation) is
written and reads the order consistently, so of any two the later one sees both: the last
to settle finds nothing open and completes the order.

Re-routing counts its attempts on the order header, once per allocation round and only
after a rejection not yet counted (a retried review counts nothing twice; units backordered,
or added by an edit, are allocated again without counting); past the routing policy's
``max_reroute_attempts`` the step fails with ``RerouteLimitReached`` and the workflow puts
the order on hold as a process exception. Completion is one conditional write, so it happens once.
"""

from __future__ import annotations

from typing import Any

from functions.allocate.api import load_policy, pinned
from functions.fulfill.logic.tracking import complete_delivery
from functions.fulfill.rules.status import awaited
from shared.clock import now_iso
from shared.errors import Conflict, NotFound, RetryableError
from shared.order import keys
from shared.order.quantities import LineQuantities
from shared.order.record import OrderRecord, get_header, load_order
from shared.order.state import (
    ACTIVE,
    FulfillmentStatus,
    HeaderUpdate,
    OrderStatus,
    WorkflowStatus,
    at_completion,
    is_done,
)
from shared.order.timeline import event_item
from shared.table import ConditionFailed, Item, Table


class RerouteLimitReached(Conflict):
    """Locations rejected the order's units more often than the routing policy allows."""


class FulfillmentStalled(Conflict):
    """Units are neither shipped, cancelled, open for routing nor on an open fulfillment order."""


def _count(line: Item, bucket: str) -> int:
    return int(line.get("quantities", {}).get(bucket, 0))


def _unallocated(lines: list[Item]) -> int:
    return sum(max(0, LineQuantities.of(li).to_allocate) for li in lines)


def _header_key(order_id: str) -> dict[str, str]:
    return {"pk": keys.order_pk(order_id), "sk": keys.ORDER_HEADER}


def _reroute(table: Table, record: OrderRecord, units: int, open_ids: list[dict[str, str]]) -> dict[str, Any]:
    header = record.header
    order_id = header["order_id"]
    allocation_round = int(header.get("allocation_round", 0))
    attempts = int(header.get("reroute_attempts", 0))
    rejections = len(header.get("rejected_locations", []))
    outcome = {"next": "reroute", "open": open_ids, "unallocated_units": units}
    if rejections <= int(header.get("rerouted_rejections", 0)):
        # No rejection since the last count: backordered units, or units an edit added.
        return outcome | {"attempt": attempts}
    if attempts and header.get("rerouted_round") == allocation_round:
        return outcome | {"attempt": attempts}  # this round's review already counted
    limit = load_policy().max_reroute_attempts
    if attempts + 1 > limit:
        raise RerouteLimitReached(
            f"order {order_id}: {units} units still need a location after {attempts} re-routings (limit {limit})"
        )
    at = now_iso()
    detail = {"attempt": attempts + 1, "units": units, "rejected_locations": list(header.get("rejected_locations", []))}
    update = {
        "Key": _header_key(order_id),
        "UpdateExpression": "SET reroute_attempts = :n, rerouted_round = :r, rerouted_rejections = :j,"
        " updated_at = :at",
        "ConditionExpression": pinned("reroute_attempts", ":old", attempts),
        "ExpressionAttributeValues": {
            ":n": attempts + 1,
            ":r": allocation_round,
            ":j": rejections,
            ":at": at,
            ":old": attempts,
        },
    }
    try:
        table.transact([{"Update": update}, {"Put": {"Item": event_item(order_id, "fulfillment.rerouting", detail)}}])
    except ConditionFailed as err:
        raise RetryableError(f"order {order_id} changed during review") from err
    return outcome | {"attempt": attempts + 1}


def _complete(table: Table, record: OrderRecord) -> dict[str, Any]:
    header = record.header
    order_id = header["order_id"]
    unfinished = [
        li["line_id"] for li in record.lines if _count(li, "shipped") + _count(li, "cancelled") < _count(li, "ordered")
    ]
    if unfinished:
        raise FulfillmentStalled(
            f"order {order_id}: lines {unfinished[:10]} are allocated but on no open fulfillment order"
        )
    shipped = sum(_count(li, "shipped") for li in record.lines)
    status, fulfillment = at_completion(shipped, header["fulfillment_status"])
    at = now_iso()
    detail = {
        "status": status.value,
        "shipped_units": shipped,
        "cancelled_units": sum(_count(li, "cancelled") for li in record.lines),
    }
    # Pinned: a carrier's "delivered" landing meanwhile must not be overwritten with "shipped".
    update = (
        HeaderUpdate(order_id, at)
        .status(status)
        .fulfillment(fulfillment, expect=header["fulfillment_status"])
        .workflow(WorkflowStatus.SUCCEEDED)
        .set("completed_at", at)
        .condition("#st IN (:open, :hold)", {":open": OrderStatus.OPEN.value, ":hold": OrderStatus.ON_HOLD.value})
        .op()
    )
    try:
        table.transact([update, {"Put": {"Item": event_item(order_id, "order.completed", detail, at=at)}}])
    except ConditionFailed as err:
        current = get_header(order_id, table) or {}
        if current.get("status") in ACTIVE and current.get("fulfillment_status") != header.get("fulfillment_status"):
            return _complete(table, OrderRecord(header=current, lines=record.lines, others=record.others))
        if not is_done(current):
            raise Conflict(f"order {order_id} is {current.get('status')}; it cannot complete") from err
    _delivered_if_every_parcel_arrived(table, record)
    return {"next": "done", "open": []}


def _delivered_if_every_parcel_arrived(table: Table, record: OrderRecord) -> None:
    """The carrier's last "delivered" may have come while units were still open (later
    cancelled): no carrier event is left to mark the order delivered, so completion does."""
    if record.header.get("fulfillment_status") == FulfillmentStatus.DELIVERED:
        return
    parcels = [s for s in record.others.get("SHP", []) if s.get("status") not in ("cancelled", "voided")]
    if parcels and all(s.get("tracking_status") == "delivered" for s in parcels):
        complete_delivery(record.header["order_id"], table)  # re-reads consistently; once only


def review_fulfillment(order_id: str) -> dict[str, Any]:
    table = Table()
    record = load_order(order_id, table)
    if record is None:
        raise NotFound(f"no order {order_id}")
    if is_done(record.header):
        _delivered_if_every_parcel_arrived(table, record)  # a retry after a stop between the two writes
        return {"next": "done", "open": []}
    fos = sorted(record.others.get("FO", []), key=lambda fo: (fo["created_at"], fo["fo_id"]))
    # Closed ones with a shipment still to capture count as open: a shipment that landed
    # while the last pass was capturing its fulfillment order's earlier one is captured too.
    open_ids = [{"fo_id": fo["fo_id"]} for fo in awaited(fos, record.others.get("SHP", []))]
    units = _unallocated(record.lines)
    if units:
        return _reroute(table, record, units, open_ids)
    if open_ids:
        return {"next": "fulfill", "open": open_ids}
    return _complete(table, record)
