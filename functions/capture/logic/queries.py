"""Reading orders: one order, a filtered page of orders, an order's timeline."""

from __future__ import annotations

from datetime import datetime

from functions.capture.logic.order_view import OrderPage, OrderView, TimelineEvent, TimelinePage, order_view, summary
from functions.capture.store import OrderFilter, list_orders
from shared.api.caller import Caller, Role
from shared.clock import iso
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.order.record import get_header, load_order
from shared.order.timeline import timeline
from shared.table import Item

READ_ROLES: tuple[Role, ...] = ("channel", "agent", "ops")
ORDER_STATUSES = ("open", "on_hold", "completed", "cancelled", "failed")
FULFILLMENT_STATUSES = ("unallocated", "allocated", "backordered", "partially_shipped", "shipped", "delivered")


def _visible(caller: Caller, header: Item | None, order_id: str) -> Item:
    """Another channel's order is reported as unknown (404), not forbidden."""
    caller.require(*READ_ROLES)
    if header is None or not caller.may_see_channel(header["channel"]):
        raise NotFound(f"no order {order_id}")
    return header


def get_order(caller: Caller, order_id: str) -> OrderView:
    caller.require(*READ_ROLES)
    record = load_order(order_id)
    _visible(caller, record.header if record else None, order_id)
    assert record is not None
    return order_view(record)


def _instant(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidInput(
            f"{name} is not an ISO 8601 timestamp", errors=[{"field": name, "message": "ISO 8601 expected"}]
        ) from err
    if moment.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone", errors=[{"field": name, "message": "add Z or an offset"}])
    return iso(moment)


def find_orders(
    caller: Caller,
    *,
    channel: str | None,
    customer_id: str | None,
    status: str | None,
    created_after: str | None,
    created_before: str | None,
    limit: int,
    cursor: str | None,
    fulfillment_status: str | None = None,
    updated_before: str | None = None,
) -> OrderPage:
    caller.require(*READ_ROLES)
    if caller.role == "channel":
        if channel and channel != caller.channel:
            raise Forbidden(
                "a channel lists only its own orders",
                errors=[{"field": "channel", "message": "not this key's channel"}],
            )
        channel = caller.channel
    if status and status not in ORDER_STATUSES:
        raise InvalidInput(
            "unknown status", errors=[{"field": "status", "message": f"one of {', '.join(ORDER_STATUSES)}"}]
        )
    if fulfillment_status and fulfillment_status not in FULFILLMENT_STATUSES:
        raise InvalidInput(
            "unknown fulfillment status",
            errors=[{"field": "fulfillment_status", "message": f"one of {', '.join(FULFILLMENT_STATUSES)}"}],
        )
    flt = OrderFilter(
        channel=channel,
        customer_id=customer_id,
        status=status,
        created_after=_instant("created_after", created_after),
        created_before=_instant("created_before", created_before),
        fulfillment_status=fulfillment_status,
        updated_before=_instant("updated_before", updated_before),
    )
    items, next_cursor = list_orders(flt, limit=limit, cursor=cursor)
    return OrderPage(items=[summary(h) for h in items], next_cursor=next_cursor)


def order_timeline(caller: Caller, order_id: str, *, limit: int, cursor: str | None) -> TimelinePage:
    _visible(caller, get_header(order_id), order_id)
    items, next_cursor = timeline(order_id, limit=limit, cursor=cursor)
    return TimelinePage(
        items=[
            TimelineEvent(
                event_id=i["event_id"],
                kind=i["kind"],
                at=i["at"],
                detail=i.get("detail", {}),
                actor=i.get("actor") or "system",
            )
            for i in items
        ],
        next_cursor=next_cursor,
    )
