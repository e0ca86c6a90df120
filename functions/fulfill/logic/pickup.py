"""Store pickup: the order waits at the store, the customer shows a code, the store hands it over.

``ready_for_pickup`` issues a code (derived from the ``pickup.code_key`` secret and the
issue number; only its hash is stored), records ``no_show_at`` from the pickup policy and
wakes the execution, which then waits in ``AwaitPickup`` until the customer comes or the
time is up. The e-mail with the code is the notify domain's, from the
``fulfillment.ready_for_pickup`` event (``pickup_code`` derives the code again).

``picked_up`` checks the code in constant time; a wrong code is counted, and past the
policy's ``max_code_attempts`` the order takes no code until a new one is issued. The
right code writes the handover as a shipment without carrier or tracking number (the ship
transaction, functions/fulfill/logic/shipping.py), which the workflow captures and
invoices as any other.

A no-show: the workflow's pickup wait times out and ``CancelUncollectedPickup`` (changes
domain) cancels ``uncollected_units`` as a change order: the authorization is voided (or a
capture refunded) and the reservations are released.
"""

from __future__ import annotations

from typing import Any

from functions.fulfill.logic.access import workable
from functions.fulfill.logic.fulfillment_orders import retry_on_race, transact_pinned, wrong_status
from functions.fulfill.logic.models import PickedUpRequest, ReadyForPickupRequest
from functions.fulfill.logic.pickup_policy import load_pickup_policy
from functions.fulfill.logic.resume import clear_signal, resume_waiting
from functions.fulfill.logic.shipping import Handover, hand_over
from functions.fulfill.logic.tracking import complete_delivery
from functions.fulfill.rules.pickup import code_hash, code_matches, derive_code, seconds_to_no_show
from functions.fulfill.rules.status import (
    OPEN_STATUSES,
    PICKED_UP,
    PICKUP_GROUP,
    READY_FOR_PICKUP,
    is_terminal,
    open_units,
)
from functions.fulfill.rules.views import fulfillment_order_view, shipment_view
from functions.fulfill.store import applied, fo_write_op, load_fulfillment_order, park_and_read, shipments_of
from shared.api.caller import Caller
from shared.clock import iso, now
from shared.errors import Conflict, InvalidInput
from shared.integration_secrets import pickup_code_key
from shared.order.timeline import event_item
from shared.table import ConditionFailed, Item, Table
from shared.workflow import resume_task


def _pickup_only(fo: Item, action: str) -> None:
    if fo.get("delivery_group") != PICKUP_GROUP:
        raise Conflict(
            f"fulfillment order {fo['fo_id']} is not a pickup order; it ships with a carrier",
            errors=[{"field": "delivery_group", "message": f"is {fo.get('delivery_group')}"}],
            action=action,
        )


def ready_for_pickup(caller: Caller, fo_id: str, request: ReadyForPickupRequest) -> dict[str, Any]:
    """The order waits at the store: issue a pickup code (again with ``reissue_code``)."""
    table = Table()

    def attempt() -> tuple[Item, bool]:
        fo = workable(caller, load_fulfillment_order(fo_id, table))
        _pickup_only(fo, "ready-for-pickup")
        status = fo["status"]
        if status == READY_FOR_PICKUP and not request.reissue_code:
            return fo, False  # already waiting for its customer: nothing new
        if status not in OPEN_STATUSES or not any(open_units(line) for line in fo["lines"]):
            raise wrong_status(fo, "be made ready for pickup")
        moment = now()
        at = iso(moment)
        issue = int(fo.get("pickup_issue", 0)) + 1
        code = derive_code(pickup_code_key(), fo_id, issue)
        # The deadline is set once, when the order is first ready: a new code does not extend it.
        no_show_at = fo.get("no_show_at") or iso(load_pickup_policy().no_show_at(moment))
        extra = {"pickup_issue": issue, "pickup_code_hash": code_hash(fo_id, code), "pickup_attempts": 0}
        op = fo_write_op(fo, at=at, status=READY_FOR_PICKUP, extra=extra | {"no_show_at": no_show_at})
        detail = {
            "fo_id": fo_id,
            "location_id": fo["location_id"],
            "pickup_issue": issue,
            "no_show_at": no_show_at,
            "actor": caller.principal_id,
        }
        event = {"Put": {"Item": event_item(fo["order_id"], f"fulfillment.{READY_FOR_PICKUP}", detail, at=at)}}
        transact_pinned(table, [op, event], ["fo", "event"], {})
        return applied(fo, op), status != READY_FOR_PICKUP

    fo, became_ready = retry_on_race(attempt)
    if became_ready:
        # The execution waiting on the order moves on to the pickup wait.
        output = {"event": READY_FOR_PICKUP, "fo_id": fo_id, "no_show_after_seconds": seconds_to_no_show(fo, now())}
        resume_waiting(fo, output, table)
    return fulfillment_order_view(fo)


def _count_wrong_code(table: Table, fo: Item, limit: int) -> int:
    """One more wrong code on this issue; the attempts left."""
    try:
        updated = table.update(
            fo["pk"],
            fo["sk"],
            "SET pickup_attempts = if_not_exists(pickup_attempts, :zero) + :one",
            values={":zero": 0, ":one": 1, ":issue": fo["pickup_issue"], ":limit": limit, ":ready": READY_FOR_PICKUP},
            names={"#st": "status"},
            condition="#st = :ready AND pickup_issue = :issue AND "
            "(attribute_not_exists(pickup_attempts) OR pickup_attempts < :limit)",
            return_new=True,
        )
    except ConditionFailed:
        return 0  # the limit was reached meanwhile (or a new code issued: this one is void anyway)
    assert updated is not None
    return max(0, limit - int(updated["pickup_attempts"]))


def _locked(fo: Item) -> Conflict:
    return Conflict(
        f"too many wrong pickup codes for fulfillment order {fo['fo_id']}: issue a new code "
        "(POST .../ready-for-pickup with reissue_code)",
        errors=[{"field": "pickup_code", "message": "too many wrong codes"}],
        attempts_left=0,
    )


def picked_up(caller: Caller, fo_id: str, request: PickedUpRequest) -> dict[str, Any]:
    """The customer collected the order with the right code: the handover (a shipment without
    carrier or tracking number), captured and invoiced by the workflow."""
    table = Table()
    fo = workable(caller, load_fulfillment_order(fo_id, table))
    _pickup_only(fo, "picked-up")
    if fo["status"] == PICKED_UP and code_matches(str(fo.get("pickup_code_hash", "")), fo_id, request.pickup_code):
        # Told twice: the first handover stands.
        return shipment_view(shipments_of(fo["order_id"], fo_id=fo_id, table=table)[0])
    if fo["status"] != READY_FOR_PICKUP:
        raise wrong_status(fo, "be picked up")
    policy = load_pickup_policy()
    if int(fo.get("pickup_attempts", 0)) >= policy.max_code_attempts:
        raise _locked(fo)
    if not code_matches(str(fo["pickup_code_hash"]), fo_id, request.pickup_code):
        left = _count_wrong_code(table, fo, policy.max_code_attempts)
        if not left:
            raise _locked(fo)
        raise InvalidInput(
            "the pickup code does not match",
            errors=[{"field": "pickup_code", "message": "does not match"}],
            attempts_left=left,
        )
    issue = fo["pickup_issue"]

    def still_ready(current: Item) -> None:
        # Read again inside the write: a new code issued or a cancellation since refuses this one.
        if current["status"] != READY_FOR_PICKUP:
            raise wrong_status(current, "be picked up")
        if current["pickup_issue"] != issue:
            raise InvalidInput(
                "a new pickup code was issued since", errors=[{"field": "pickup_code", "message": "replaced"}]
            )

    written, _ = hand_over(caller, fo_id, Handover(carrier=None, tracking_number=None), still_ready)
    complete_delivery(fo["order_id"], table)  # in the customer's hands: delivered when all is
    return shipment_view(written[0])


# --- the workflow's side ----------------------------------------------------------------


def _pickup_news(fo: Item, shipments: list[Item]) -> str | None:
    if is_terminal(fo):
        return str(fo["status"])
    if any(s["capture_status"] == "pending" for s in shipments):
        return "picked_up"
    return None


def await_pickup(order_id: str, fo_id: str, task_token: str) -> dict[str, Any]:
    """OrderLifecycle AwaitPickup: park the token for the ready order (as the wait on
    fulfillment does: token first, then read back), so the handover or a cancellation resumes it."""
    table = Table()
    fo, shipments = park_and_read(order_id, fo_id, task_token, now(), table)
    event = _pickup_news(fo, shipments)
    if event is None:
        return {"fo_id": fo_id, "resumed": False}
    resume_task(task_token, {"event": event, "fo_id": fo_id})
    clear_signal(fo, table)
    return {"fo_id": fo_id, "resumed": True, "event": event}


def uncollected_units(order_id: str, fo_id: str) -> dict[str, int]:
    """Units of a pickup order still waiting at the store (none once collected or cancelled)."""
    fo = load_fulfillment_order(fo_id)
    if fo["order_id"] != order_id or fo.get("delivery_group") != PICKUP_GROUP or fo["status"] != READY_FOR_PICKUP:
        return {}
    if _pickup_news(fo, shipments_of(order_id, fo_id=fo_id)):  # collected, the capture still to come
        return {}
    return {line["line_id"]: open_units(line) for line in fo["lines"] if open_units(line) > 0}


def pickup_code(fo_id: str, issue: int) -> str:
    """The code of issue ``issue`` (for the customer's e-mail); derived, never read from the table."""
    return derive_code(pickup_code_key(), fo_id, issue)
