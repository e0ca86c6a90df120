"""Who may change which order."""

from __future__ import annotations

from shared.api.caller import Caller
from shared.errors import Conflict, Forbidden, NotFound
from shared.order.record import OrderRecord, load_order

_FINAL = ("failed",)


def load_for_change(caller: Caller, order_id: str, *, roles: tuple[str, ...]) -> OrderRecord:
    """The order, if the caller may change it: a channel only its own orders (404 otherwise)."""
    if caller.role not in roles:
        raise Forbidden(f"role {caller.role!r} may not do this")
    record = load_order(order_id)
    if record is None or not caller.may_see_channel(record.header["channel"]):
        raise NotFound(f"no order {order_id}")
    if record.header["status"] in _FINAL:
        raise Conflict(f"order {order_id} is {record.header['status']}")
    return record
