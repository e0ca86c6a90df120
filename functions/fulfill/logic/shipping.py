"""Shipping a fulfillment order, whole or in part.

One transaction writes the shipment, moves the fulfillment order's lines (pinned on its
version), the order lines' ``shipped`` bucket through the order kernel's ``bucket_write``
(refused when ``shipped + cancelled`` would pass ``ordered``, and pinned on ``shipped``,
``cancelled`` and the return buckets, so a cancellation committing first makes this
transaction fail and re-read; the old ``shipped`` is also the shipment's ``first_unit``:
shared/order/amounts.py values units by position), takes the
units out of stock (on hand and reserved), marks the allocations shipped, and sets the
order's fulfillment status from a shipped-units counter on the header (pinned too, so two
locations shipping at once cannot both miss that the order is now complete). A shipment
too large for one transaction is written as several, each whole and consistent, sharing
the carrier and tracking number. The payments step captures and invoices each shipment.

A pickup order collected at the store is the same write without carrier or tracking
number (``Handover`` with ``pickup``): the shipment is delivered at once and the
fulfillment order ends ``picked_up`` (functions/fulfill/logic/pickup.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.allocate.api import consume_fo_allocations, pinned
from functions.fulfill.logic.access import workable
from functions.fulfill.logic.fulfillment_orders import (
    VersionMoved,
    allocations_and_buckets,
    retry_on_race,
    transact_pinned,
    wrong_status,
)
from functions.fulfill.logic.line_selection import Selection, selected_units, transaction_parts
from functions.fulfill.logic.models import LineQuantity, ShipRequest
from functions.fulfill.logic.resume import resume_waiting
from functions.fulfill.logic.tracking import adopt_orphans
from functions.fulfill.rules.status import PICKED_UP, READY_FOR_PICKUP, settled_status
from functions.fulfill.rules.views import shipment_view
from functions.fulfill.store import applied, fo_write_op, load_with_order, shipment_sk
from functions.inventory.api import StockConflict, ship_op
from shared.api.caller import Caller
from shared.clock import now_iso
from shared.errors import Conflict
from shared.ids import new_id
from shared.order import keys
from shared.order.quantities import LineQuantities, bucket_write
from shared.order.state import FulfillmentStatus, HeaderUpdate, after_shipment
from shared.order.timeline import event_item
from shared.table import Item, Table

_FIXED_ITEMS = 4  # shipment, fulfillment order, header, timeline event


@dataclass(frozen=True)
class Handover:
    """How units leave a location: with a carrier (a tracking number), or collected by the
    customer at the store (``pickup``: no carrier, no tracking number)."""

    carrier: str | None
    tracking_number: str | None
    lines: list[LineQuantity] | None = None

    @property
    def pickup(self) -> bool:
        return self.tracking_number is None


@dataclass
class _State:
    """What a part needs, kept current as parts are written."""

    fo: Item
    header: Item
    lines: dict[str, Item]  # order lines by line id
    allocations: list[Item]
    # Per SKU, the stock bucket its units leave from (None: ship_op finds one in a split pair).
    buckets: dict[str, int | None]


def _live_units(lines: dict[str, Item]) -> int:
    return sum(LineQuantities.of(line).live for line in lines.values())


def _header_op(header: Item, old: int, new: int, status: FulfillmentStatus, at: str) -> dict[str, Any]:
    return (
        HeaderUpdate(header["order_id"], at)
        .set("shipped_units", new)
        .fulfillment(status)
        .condition(pinned("shipped_units", ":old", old), {":old": old})
        .op()
    )


def _write_part(
    table: Table, state: _State, part: Selection, shipment_id: str, request: Handover, parts: list[str]
) -> Item:
    fo, at = state.fo, now_iso()
    order_id = fo["order_id"]
    ops: list[dict[str, Any]] = []
    kinds: list[str] = []
    shipped_lines: list[dict[str, Any]] = []
    fo_lines = {line["line_id"]: dict(line) for line in fo["lines"]}
    stock: dict[str, int] = defaultdict(int)
    allocations = state.allocations
    for fo_line, units in part:
        line = state.lines[fo_line["line_id"]]
        before = int(line["quantities"].get("shipped", 0))
        shipped_lines.append(
            {"line_id": line["line_id"], "position": int(line["position"]), "sku": line["sku"], "quantity": units}
            | {"first_unit": before}
        )
        fo_lines[line["line_id"]]["shipped"] = int(fo_line.get("shipped", 0)) + units
        stock[line["sku"]] += units
        # Checked by the order kernel and pinned on the buckets read: a cancellation of
        # these units committed first refuses this write (and vice versa).
        ops.append(bucket_write(line, shipped=units, at=at))
        kinds.append("line")
        alloc_ops, allocations = consume_fo_allocations(fo, allocations, line["line_id"], units, "shipped", at)
        ops += alloc_ops
        kinds += ["allocation"] * len(alloc_ops)
    for sku, units in sorted(stock.items()):
        ops.append(ship_op(sku, fo["location_id"], units, bucket=state.buckets.get(sku)))
        kinds.append("stock")
    new_lines = sorted(fo_lines.values(), key=lambda line: int(line["position"]))
    settled = settled_status(fo["status"], new_lines)
    if request.pickup and settled == "fulfilled":
        settled = PICKED_UP
    signal = "picked_up" if request.pickup else "shipped"
    fo_op = fo_write_op(fo, at=at, status=settled, lines=new_lines, signal=signal)
    units_total = sum(units for _, units in part)
    old_total = int(state.header.get("shipped_units", 0))
    status = after_shipment(old_total + units_total, _live_units(state.lines))
    shipment: Item = {
        "pk": keys.order_pk(order_id),
        "sk": shipment_sk(shipment_id),
        "type": "shipment",
        "shipment_id": shipment_id,
        "order_id": order_id,
        "fo_id": fo["fo_id"],
        "location_id": fo["location_id"],
        "carrier": request.carrier,
        "tracking_number": request.tracking_number,
        "lines": shipped_lines,
        "capture_status": "pending",
        "tracking_status": "label_created",
        "shipped_at": at,
        "created_at": at,
        **({"parts": parts} if len(parts) > 1 else {}),
    }
    if request.pickup:
        # In the customer's hands: delivered now, and nothing for a carrier to track.
        shipment |= {"method": "pickup", "tracking_status": "delivered", "delivered_at": at}
    else:
        # Readers look a number up by gsi2pk alone and order the shipments by id themselves:
        # the sort key need not repeat the id (a shipment item written at every capture and
        # carrier scan stays under a write unit longer).
        shipment |= {"gsi2pk": f"TRACKING#{request.tracking_number}", "gsi2sk": "SHP"}
    detail = {
        "shipment_id": shipment_id,
        "fo_id": fo["fo_id"],
        "location_id": fo["location_id"],
        "carrier": request.carrier,
        "tracking_number": request.tracking_number,
        "lines": [{k: v for k, v in sl.items() if k != "position"} for sl in shipped_lines],
    }
    ops += [
        {"Put": {"Item": shipment, "ConditionExpression": "attribute_not_exists(pk)"}},
        fo_op,
        _header_op(state.header, old_total, old_total + units_total, status, at),
        {"Put": {"Item": event_item(order_id, _event_kind(request), detail, at=at)}},
    ]
    kinds += ["shipment", "fo", "header", "event"]
    stock_refused = StockConflict(f"{fo['location_id']} does not hold these units on hand and reserved")
    transact_pinned(table, ops, kinds, {"stock": stock_refused})
    # Keep the state current for the next part.
    state.fo = applied(fo, fo_op)
    state.allocations = allocations
    state.header = dict(state.header, shipped_units=old_total + units_total, fulfillment_status=status)
    for sl in shipped_lines:
        line = state.lines[sl["line_id"]]
        quantities = dict(line["quantities"], shipped=sl["first_unit"] + sl["quantity"])
        state.lines[sl["line_id"]] = dict(line, quantities=quantities)
    return shipment


def _event_kind(request: Handover) -> str:
    return "shipment.picked_up" if request.pickup else "shipment.shipped"


def hand_over(
    caller: Caller,
    fo_id: str,
    request: Handover,
    check: Callable[[Item], None],
) -> tuple[list[Item], Item]:
    """Write the shipments of the units ``request`` names (all open ones if none), after
    ``check`` accepted the fulfillment order as read; the shipments and the order as left."""
    table = Table()
    written: list[Item] = []

    def attempt() -> _State:
        fo, record = load_with_order(fo_id, table)
        fo = workable(caller, fo)
        if record is None:
            raise Conflict(f"the order of fulfillment order {fo_id} is gone")
        lines = {i["line_id"]: i for i in record.lines}
        sent = _parcel_already_sent(record.others.get("SHP", []), fo_id, request)
        if sent:
            # A retry of a ship whose answer was lost after it committed: the same parcel.
            written[:] = sent
            return _State(fo, record.header, lines, [], {})
        check(fo)
        chosen = selected_units(fo, request.lines, "ship")
        state = _State(fo, record.header, lines, *allocations_and_buckets(fo, table))
        parts = transaction_parts(chosen, state.allocations, _FIXED_ITEMS)
        ids = [new_id("shp") for _ in parts]
        for index, part in enumerate(parts):
            try:
                written.append(_write_part(table, state, part, ids[index], request, ids))
            except VersionMoved:
                if written:  # earlier parts stand; the caller sees the conflict and what remains open
                    raise Conflict(f"fulfillment order {fo_id} changed while shipping; part was shipped") from None
                raise
        return state

    state = retry_on_race(attempt)
    event = "picked_up" if request.pickup else "shipped"
    resume_waiting(state.fo, {"event": event, "fo_id": fo_id, "shipment_id": written[0]["shipment_id"]}, table)
    return written, state.fo


def _parcel_already_sent(shipments: list[Item], fo_id: str, request: Handover) -> list[Item]:
    """The shipments of ``fo_id`` written under ``request``'s tracking number: one tracking
    number is one parcel, so a repeat is the same parcel (409 if it names other units). Two
    calls racing with the same number both read none; the fulfillment order's version pin
    lets one commit and sends the other back here."""
    if request.pickup:
        return []
    sent = sorted(
        (s for s in shipments if s["fo_id"] == fo_id and s.get("tracking_number") == request.tracking_number),
        key=lambda s: s["shipment_id"],
    )
    if sent and request.lines is not None:
        shipped: dict[str, int] = defaultdict(int)
        for shipment in sent:
            for line in shipment["lines"]:
                shipped[line["line_id"]] += int(line["quantity"])
        asked = {line.line_id: line.quantity for line in request.lines}
        if asked != dict(shipped):
            raise Conflict(f"tracking number {request.tracking_number} was shipped with other units on {fo_id}")
    return sent


def _shippable(fo: Item) -> None:
    if fo["status"] == READY_FOR_PICKUP:  # the customer holds a code and is on the way
        raise wrong_status(fo, "ship (it waits for its customer at the store)")


def ship(caller: Caller, fo_id: str, request: ShipRequest) -> dict[str, Any]:
    """Ship units of a fulfillment order; returns the shipment (the first, if split)."""
    handover = Handover(carrier=request.carrier, tracking_number=request.tracking_number, lines=request.lines)
    written, _ = hand_over(caller, fo_id, handover, _shippable)
    # A carrier may have scanned the parcel before the WMS reported it: apply what waited.
    adopt_orphans(request.tracking_number, Table(), shipments=written)
    return shipment_view(written[0])
