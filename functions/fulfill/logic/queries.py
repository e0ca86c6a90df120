"""Reading fulfillment orders: one, a location's work, a pick list."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.fulfill.logic.access import READ_ROLES, listable_location, visible
from functions.fulfill.logic.pick_list import pick_list
from functions.fulfill.rules.status import OPEN_STATUSES, TERMINAL_STATUSES
from functions.fulfill.rules.views import fulfillment_order_view
from functions.fulfill.store import list_fulfillment_orders, load_fulfillment_order
from shared.api.caller import Caller
from shared.errors import InvalidInput
from shared.order.record import get_header

STATUSES = (*OPEN_STATUSES, *TERMINAL_STATUSES)


class FulfillmentOrderPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


def get_fulfillment_order(caller: Caller, fo_id: str) -> dict[str, Any]:
    return fulfillment_order_view(visible(caller, load_fulfillment_order(fo_id)))


def get_pick_list(caller: Caller, fo_id: str) -> dict[str, Any]:
    fo = visible(caller, load_fulfillment_order(fo_id))
    return pick_list(fo, get_header(fo["order_id"]) or {})


def find_fulfillment_orders(
    caller: Caller, *, location_id: str | None, status: str | None, limit: int, cursor: str | None
) -> FulfillmentOrderPage:
    """A location's work (oldest first), or every location's work in one status.

    A WMS key with one location needs neither filter; otherwise one of them is required.
    """
    caller.require(*READ_ROLES)
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}", errors=[{"field": "status", "message": f"one of {STATUSES}"}])
    if location_id is None and status is None and caller.role == "wms" and len(caller.locations) == 1:
        location_id = caller.locations[0]
    if location_id is not None:
        listable_location(caller, location_id)
    elif status is None:
        raise InvalidInput(
            "name a location_id or a status",
            errors=[{"field": "location_id", "message": "location_id or status is required"}],
        )
    within = caller.locations if caller.role == "wms" else None
    if within == ():
        return FulfillmentOrderPage(items=[], next_cursor=None)
    items, next_cursor = list_fulfillment_orders(
        location_id=location_id, status=status, within=within, limit=limit, cursor=cursor
    )
    return FulfillmentOrderPage(items=[fulfillment_order_view(i) for i in items], next_cursor=next_cursor)
