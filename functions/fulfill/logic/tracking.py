"""Carrier tracking events applied to shipments, and through them to orders.

Events arrive at least once and in any order. Each is applied once: a marker per
(source, event id) and shipment is written in the same transaction as the event's history
item and the shipment's change, so a redelivered event changes nothing. Whether an event moves
the shipment is ``decide``'s rule (docs/carrier-tracking.md):

- progress ranks ``label_created < in_transit < out_for_delivery < delivered``; a status
  below the highest reached never comes back, and an older scan never replaces a newer;
- ``exception`` applies when newer than the current status, over anything but a terminal;
- ``delivered`` and ``returned_to_sender`` are terminal and win whatever the times, since
  carriers' clocks disagree; ``returned_to_sender`` may follow ``delivered`` (refused,
  sent back), nothing follows ``returned_to_sender``.

Every event is kept in the shipment's history with its own time, applied or not.
``delivered`` of the last shipment, with no live unit left unshipped, makes the order
``delivered``; ``exception`` and ``returned_to_sender`` open a process exception.
An event for a tracking number no shipment has yet is kept as an orphan and applied by
the first later event of that number, or by ``adopt_orphans`` when the shipment is written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from functions.fulfill.logic.carriers.model import TrackingEvent
from functions.fulfill.rules.tracking import EXCEPTION_STATUSES, RANKS, Outcome, Tracked, decide
from functions.fulfill.store import find_shipments_by_tracking
from shared.clock import now, now_iso
from shared.errors import RetryableError
from shared.order import keys
from shared.order.state import FulfillmentStatus, HeaderUpdate
from shared.order.timeline import event_item
from shared.process_exceptions import record_exception
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table

# The timeline kind of each status a shipment moves to (the customer hears of a delay).
TIMELINE_KINDS = {
    "label_created": "shipment.label_created",
    "in_transit": "shipment.in_transit",
    "out_for_delivery": "shipment.out_for_delivery",
    "delivered": "shipment.delivered",
    "exception": "shipment.delayed",
    "returned_to_sender": "shipment.returned_to_sender",
}
STEP = "CarrierTracking"
MARKER_TTL = timedelta(days=30)
ORPHAN_TTL = timedelta(days=30)
_ATTEMPTS = 5


def apply_tracking_event(event: TrackingEvent, table: Table | None = None) -> Outcome:
    """Apply one event (at least once, in any order: the result is the same).

    A parcel recorded as several shipment items (a shipment too large for one
    transaction) moves them all; the outcome is the first one's.
    """
    table = table or Table()
    shipments = find_shipments_by_tracking(event.tracking_number, table)
    if not shipments:
        store_orphan(event, table)
        return Outcome.ORPHANED
    outcomes = [_apply(event, shipment, table, current=True) for shipment in shipments]
    adopt_orphans(event.tracking_number, table, shipments=shipments)
    return outcomes[0]


def _apply(event: TrackingEvent, found: Item, table: Table, *, current: bool = False) -> Outcome:
    """``current``: ``found`` was just read consistently and the first attempt decides on it
    (an attempt after a race reads the shipment again); otherwise only its key is used."""
    pk, sk = found["pk"], found["sk"]
    shipment: Item | None = dict(found) if current else None
    for _attempt in attempts(_ATTEMPTS):
        if shipment is None:
            shipment = table.get(pk, sk)
        if shipment is None:
            raise RetryableError(f"shipment {found.get('shipment_id')} vanished")
        shipment.setdefault("order_id", keys.order_id_of(pk))
        shipment.setdefault("shipment_id", sk.removeprefix("SHP#"))
        outcome = decide(Tracked.of(shipment), event.status, event.occurred_at)
        operations = [_marker_put(event, shipment), _history_put(event, shipment, outcome)]
        if outcome in (Outcome.APPLIED, Outcome.REFRESHED):
            operations.append(_shipment_update(event, shipment))
        if outcome is Outcome.APPLIED:
            detail = _timeline_detail(event, shipment)
            operations.append({"Put": {"Item": event_item(shipment["order_id"], TIMELINE_KINDS[event.status], detail)}})
        try:
            table.transact(operations)
        except ConditionFailed as err:
            if err.reasons[:1] == ["ConditionalCheckFailed"]:
                _repair_follow_ups(event, pk, sk, table)
                return Outcome.DUPLICATE
            shipment = None
            continue  # another event moved the shipment meanwhile: decide again on what it holds now
        if outcome is Outcome.APPLIED:
            _follow_up(event, shipment, table)
        return outcome
    raise RetryableError(f"shipment {found.get('shipment_id')} kept changing")


def _marker_put(event: TrackingEvent, shipment: Item) -> dict[str, Any]:
    marker = {
        "pk": f"CARRIEREVENT#{event.key}",
        "sk": f"SHP#{shipment['shipment_id']}",
        "type": "carrier_event_marker",
        "tracking_number": event.tracking_number,
        "ttl": int((now() + MARKER_TTL).timestamp()),
    }
    return {"Put": {"Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}}


def _history_put(event: TrackingEvent, shipment: Item, outcome: Outcome) -> dict[str, Any]:
    item = {
        "pk": shipment["pk"],
        "sk": f"TRACK#{shipment['shipment_id']}#{event.occurred_at}#{event.key}",
        "type": "tracking_event",
        "order_id": shipment["order_id"],
        "shipment_id": shipment["shipment_id"],
        "received_at": now_iso(),
        "outcome": str(outcome),
        **event.model_dump(),
    }
    return {"Put": {"Item": item}}


def _shipment_update(event: TrackingEvent, shipment: Item) -> dict[str, Any]:
    current = Tracked.of(shipment)
    values: dict[str, Any] = {
        ":s": event.status,
        ":at": event.occurred_at,
        ":ev": event.key,
        ":rank": max(current.progress, RANKS.get(event.status, 0)),
        ":now": now_iso(),
    }
    # ``tracking_updated_at`` is not stored: it is ``tracking_status_at`` (the view shows it
    # under both names). An empty description or location is removed rather than stored as
    # "", so the shipment keeps nothing of an earlier event's and no bytes for none.
    sets = [
        "tracking_status = :s, tracking_status_at = :at, tracking_event = :ev, tracking_rank = :rank, updated_at = :now"
    ]
    removes = ["tracking_updated_at"]
    for name, value in (("tracking_description", event.description), ("tracking_location", event.location)):
        if value:
            sets.append(f"{name} = :{name}")
            values[f":{name}"] = value
        else:
            removes.append(name)
    if event.status == "delivered":
        sets.append("delivered_at = :at")
    elif event.status == "returned_to_sender":
        sets.append("returned_at = :at")
    expression = "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes)
    # Optimistic: the shipment still holds the state this decision was made on.
    condition = "attribute_exists(pk) AND "
    if shipment.get("tracking_event"):
        condition += "tracking_event = :prev"
        values[":prev"] = shipment["tracking_event"]
    else:
        condition += "attribute_not_exists(tracking_event)"
    return {
        "Update": {
            "Key": {"pk": shipment["pk"], "sk": shipment["sk"]},
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
    }


def _timeline_detail(event: TrackingEvent, shipment: Item) -> dict[str, Any]:
    return {
        "shipment_id": shipment["shipment_id"],
        "carrier": shipment.get("carrier") or event.carrier or event.source,
        "tracking_number": event.tracking_number,
        "status": event.status,
        "occurred_at": event.occurred_at,
        "description": event.description,
        "location": event.location,
        "source": event.source,
        "source_event_id": event.event_id,
    }


def _follow_up(event: TrackingEvent, shipment: Item, table: Table) -> None:
    """What an applied status means beyond the shipment (each step idempotent on its own)."""
    order_id = shipment["order_id"]
    if event.status == "delivered":
        complete_delivery(order_id, table)
    if event.status in EXCEPTION_STATUSES:
        cause = event.description or f"the carrier reports {event.status}"
        record_exception(
            order_id=order_id,
            step=STEP,
            error=event.status,
            cause=f"shipment {shipment['shipment_id']} ({event.tracking_number}): {cause}",
            retry={"action": "none", "shipment_id": shipment["shipment_id"]},
            table=table,
        )


def _repair_follow_ups(event: TrackingEvent, pk: str, sk: str, table: Table) -> None:
    """A redelivered event whose first run may have stopped after its transaction."""
    shipment = table.get(pk, sk)
    if shipment and shipment.get("tracking_event") == event.key:
        _follow_up(event, shipment, table)


def complete_delivery(order_id: str, table: Table | None = None) -> bool:
    """Mark the order delivered once every shipment is and no live unit is left to ship.

    Reads are consistent and come after this event's own write, so of two shipments
    delivered at once, the later reader sees both.
    """
    table = table or Table()
    pk = keys.order_pk(order_id)
    shipments = _query_prefix(table, pk, "SHP#")
    if not shipments or any(s.get("tracking_status") != "delivered" for s in _live(shipments)):
        return False
    if any(_unshipped(line) > 0 for line in _query_prefix(table, pk, keys.LINE_SK_PREFIX)):
        return False
    delivered_at = max(str(s.get("delivered_at") or "") for s in _live(shipments)) or now_iso()
    at = now_iso()
    try:
        table.transact(
            [
                HeaderUpdate(order_id, at)
                .fulfillment(FulfillmentStatus.DELIVERED)
                .unless_fulfillment(FulfillmentStatus.DELIVERED)
                .set("delivered_at", delivered_at)
                .op(),
                {
                    "Put": {
                        "Item": event_item(
                            order_id,
                            "order.delivered",
                            {"shipments": len(_live(shipments)), "delivered_at": delivered_at},
                            at=at,
                        )
                    }
                },
            ]
        )
    except ConditionFailed:
        return False  # already delivered
    return True


def _query_prefix(table: Table, pk: str, prefix: str) -> list[Item]:
    return list(table.query_all("pk = :pk AND begins_with(sk, :p)", {":pk": pk, ":p": prefix}, consistent=True))


def _live(shipments: list[Item]) -> list[Item]:
    """Shipments that still travel (a voided label is no parcel)."""
    return [s for s in shipments if s.get("status") not in ("cancelled", "voided")]


def _unshipped(line: Item) -> int:
    q = line.get("quantities") or {}
    ordered = int(q.get("ordered") or line.get("quantity") or 0)
    return ordered - int(q.get("cancelled") or 0) - int(q.get("shipped") or 0)


def store_orphan(event: TrackingEvent, table: Table | None = None) -> None:
    """Keep an event whose shipment is not known yet (the ship call may still be on its way)."""
    (table or Table()).put(
        {
            "pk": orphan_pk(event.tracking_number),
            "sk": f"{event.occurred_at}#{event.key}",
            "type": "orphan_tracking_event",
            "event": event.model_dump(),
            "received_at": now_iso(),
            "ttl": int((now() + ORPHAN_TTL).timestamp()),
        }
    )


def orphan_pk(tracking_number: str) -> str:
    return f"ORPHANTRACK#{tracking_number}"


def adopt_orphans(tracking_number: str, table: Table | None = None, *, shipments: list[Item] | None = None) -> int:
    """Apply the orphaned events of a tracking number to its shipments, now that they exist.

    The ship step calls it; the next event of the same number would do it anyway.
    """
    table = table or Table()
    pk = orphan_pk(tracking_number)
    orphans = list(table.query_all("pk = :pk", {":pk": pk}, consistent=True))
    if not orphans:
        return 0
    shipments = shipments or find_shipments_by_tracking(tracking_number, table)
    if not shipments:
        return 0
    for orphan in orphans:
        event = TrackingEvent.model_validate(orphan["event"])
        for shipment in shipments:
            _apply(event, shipment, table)
    table.batch_delete((pk, o["sk"]) for o in orphans)
    return len(orphans)


def shipment_history(order_id: str, shipment_id: str, table: Table | None = None) -> list[Item]:
    """Every tracking event of a shipment, by the carrier's time."""
    return _query_prefix(table or Table(), keys.order_pk(order_id), f"TRACK#{shipment_id}#")
