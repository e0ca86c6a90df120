"""Placing and ending holds, and waking the execution that waits on them.

A hold is one item plus its entry in the header's ``holds`` map, written in one transaction
with the header's status (``on_hold`` from the first hold; the status it was held from
comes back with the last) and the timeline event. The map is written pinned on the copy
read, so two holds placed or ended at once never lose one another. The release to
fulfillment refuses an order whose header has the map (``shared.order.state.not_held_check``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from functions.holds import store
from functions.holds.logic.models import HoldRequest, ReleaseRequest
from functions.holds.logic.policy import load_policy
from shared.actor import current_actor
from shared.api.caller import Caller
from shared.clock import iso, now, now_iso
from shared.errors import Conflict, InvalidInput, NotFound, RetryableError
from shared.ids import new_id
from shared.order import keys
from shared.order.hold_wait import wake
from shared.order.state import CLOSED, HELD_FROM, HOLDS, HeaderUpdate, OrderStatus, Reason
from shared.order.timeline import event_item
from shared.table import ConditionFailed, Item, Table

_ATTEMPTS = 5


def _header(table: Table, order_id: str) -> Item:
    header = table.get(keys.order_pk(order_id), keys.ORDER_HEADER)
    if header is None:
        raise NotFound(f"no order {order_id}")
    return header


def _pin_holds(update: HeaderUpdate, header: Item) -> HeaderUpdate:
    """The write applies only to the map of holds read."""
    if header.get(HOLDS):
        return update.condition("holds = :holds_read", {":holds_read": header[HOLDS]})
    return update.condition("attribute_not_exists(holds)")


def place(
    order_id: str,
    reason: str,
    *,
    note: str | None,
    expires_at: str | None,
    on_expiry: str,
    extra_ops: Sequence[dict[str, Any]] = (),
    source: str = "api",
    hold_id: str | None = None,
) -> Item:
    """Put the order on hold; ``extra_ops`` commit with it (the screening's record)."""
    table = Table()
    for _ in range(_ATTEMPTS):
        header = _header(table, order_id)
        status = str(header["status"])
        if status in CLOSED:
            raise Conflict(f"order {order_id} is {status}: there is nothing left to hold")
        at = now_iso()
        hold_id = hold_id or new_id("hld")
        entry = {"reason": reason, "placed_at": at, **({"expires_at": expires_at} if expires_at else {})}
        active = {**(header.get(HOLDS) or {}), hold_id: entry}
        update = _pin_holds(HeaderUpdate(order_id, at), header).set(HOLDS, active)
        if status == OrderStatus.ON_HOLD:
            update.still(status)
        else:
            update.because(Reason.HOLD_PLACED, expect=status)
        if len(active) == 1:
            update.set(HELD_FROM, status)
        hold = store.hold_item(
            order_id,
            hold_id,
            {
                "hold_id": hold_id,
                "reason": reason,
                "note": note,
                "status": "active",
                "expires_at": expires_at,
                "on_expiry": on_expiry,
                "source": source,
                "placed_by": current_actor(),
                "placed_at": at,
            },
        )
        detail = {"hold_id": hold_id, "reason": reason, "note": note, "expires_at": expires_at, "source": source}
        try:
            table.transact(
                [
                    {"Put": {"Item": hold, "ConditionExpression": "attribute_not_exists(pk)"}},
                    update.op(),
                    {"Put": {"Item": event_item(order_id, "order.hold_placed", detail, at=at)}},
                    *extra_ops,
                ]
            )
        except ConditionFailed:
            if extra_ops:
                raise  # the caller looks again at what its own items met
            continue
        if expires_at:
            # A waiting execution waits until the earliest expiry: let it look at this one too.
            wake(order_id, reason=f"hold {hold_id} placed")
        return hold
    raise RetryableError(f"order {order_id} kept changing while placing a hold")


def end(order_id: str, hold_id: str, *, outcome: str, note: str | None = None) -> Item:
    """Release (``released``) or expire (``expired``) an active hold; the last one gives the
    order its status back and wakes the waiting execution."""
    table = Table()
    for _ in range(_ATTEMPTS):
        hold = store.get_hold(order_id, hold_id, table)
        if hold is None:
            raise NotFound(f"no hold {hold_id} on order {order_id}")
        if hold["status"] != "active":
            raise Conflict(f"hold {hold_id} is already {hold['status']}")
        header = _header(table, order_id)
        status = str(header["status"])
        at = now_iso()
        active = {k: v for k, v in (header.get(HOLDS) or {}).items() if k != hold_id}
        update = _pin_holds(HeaderUpdate(order_id, at), header)
        if active:
            update.set(HOLDS, active).still(status)
        else:
            update.remove(HOLDS).remove(HELD_FROM)
            back = str(header.get(HELD_FROM) or OrderStatus.OPEN)
            # A dispute's hold (the header's ``hold``) keeps the order on hold until it closes.
            if status == OrderStatus.ON_HOLD and back != status and not header.get("hold"):
                update.status(OrderStatus(back), expect=status)
            else:
                update.still(status)
        ended = {"status": outcome, "ended_by": current_actor(), "ended_at": at, "end_note": note}
        detail = {"hold_id": hold_id, "reason": hold["reason"], "note": note}
        try:
            table.transact(
                [
                    store.end_hold_op(order_id, hold_id, ended),
                    update.op(),
                    {"Put": {"Item": event_item(order_id, f"order.hold_{outcome}", detail, at=at)}},
                ]
            )
        except ConditionFailed:
            continue
        if not active:
            wake(order_id, reason=f"hold {hold_id} {outcome}")
        return {**hold, **ended}
    raise RetryableError(f"order {order_id} kept changing while ending hold {hold_id}")


# --- the API's use cases -------------------------------------------------------------------


def hold_view(hold: Item) -> dict[str, Any]:
    fields = (
        "hold_id",
        "order_id",
        "reason",
        "note",
        "status",
        "expires_at",
        "on_expiry",
        "source",
        "placed_by",
        "placed_at",
        "ended_by",
        "ended_at",
        "end_note",
    )
    return {name: hold.get(name) for name in fields}


def hold_views(order_id: str) -> list[dict[str, Any]]:
    return [hold_view(h) for h in store.holds_of(order_id)]


def _visible(caller: Caller, order_id: str) -> None:
    caller.require("agent", "ops")
    header = Table().get(keys.order_pk(order_id), keys.ORDER_HEADER)
    if header is None:
        raise NotFound(f"no order {order_id}")


def place_hold(caller: Caller, order_id: str, request: HoldRequest) -> dict[str, Any]:
    _visible(caller, order_id)
    expires_at = None
    if request.expires_at is not None:
        if request.expires_at <= now():
            raise InvalidInput(
                "a hold cannot expire in the past",
                errors=[{"field": "expires_at", "message": "must be in the future"}],
            )
        expires_at = iso(request.expires_at)
    on_expiry = load_policy().action_on_expiry(request.reason)
    hold = place(order_id, request.reason, note=request.note, expires_at=expires_at, on_expiry=on_expiry)
    return hold_view(hold)


def release_hold(caller: Caller, order_id: str, hold_id: str, request: ReleaseRequest) -> dict[str, Any]:
    _visible(caller, order_id)
    return hold_view(end(order_id, hold_id, outcome="released", note=request.note))


def list_holds(caller: Caller, order_id: str) -> dict[str, Any]:
    _visible(caller, order_id)
    return {"items": hold_views(order_id), "next_cursor": None}
