"""Domain events -> customer messages, each sent once.

The event arrives from EventBridge through SQS (at least once). A marker
``NOTIFIED#<key>`` is claimed before sending and marked ``sent`` after, so a redelivered
event sends nothing. The key is the event's own id, and for the moments a customer hears
of once (the order confirmed, a parcel shipped or delivered) the order or parcel with
the kind, so even two events of one moment send one message.

A claim left ``sending`` by an attempt that died is taken over after ``CLAIM_LEASE``,
longer than the function's timeout and shorter than the queue's visibility timeout, so
the redelivery of that event sends it. The outbox transport then finds the message
already written (its key comes from the event); SES could, in that rare case, send twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from functions.fulfill.api import pickup_code
from functions.notify.logic.sending import Rejected, send
from functions.notify.rules.templates import TEMPLATES, render
from shared.clock import iso, now, now_iso
from shared.errors import MalformedInput
from shared.order.record import get_header
from shared.table import ConditionFailed, Table

CLAIM_LEASE = timedelta(seconds=120)
MARKER_TTL = timedelta(days=90)
# Kinds a customer hears of once per order, or once per shipment.
_ONCE_PER_ORDER = frozenset({"order.confirmed"})
_ONCE_PER_SHIPMENT = frozenset({"shipment.shipped", "shipment.delivered"})


class Result(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"  # sent (or decided) before
    SKIPPED = "skipped"  # no template, no order or no address
    REJECTED = "rejected"  # the transport refuses it for good


@dataclass(frozen=True)
class DomainEvent:
    """An EventBridge event: ``{"id", "detail-type", "source", "time", "detail"}``."""

    id: str
    kind: str
    time: str
    detail: dict[str, Any]

    @classmethod
    def from_json(cls, body: str) -> DomainEvent:
        try:
            doc = json.loads(body)
            detail = doc["detail"]
            if not isinstance(detail, dict):
                raise TypeError("detail")
            return cls(id=str(doc["id"]), kind=str(doc["detail-type"]), time=str(doc.get("time") or ""), detail=detail)
        except (ValueError, KeyError, TypeError) as err:
            raise MalformedInput("not an EventBridge event") from err

    @property
    def order_id(self) -> str:
        return str(self.detail.get("order_id") or "")

    @property
    def event_id(self) -> str:
        return str(self.detail.get("event_id") or self.id)

    @property
    def at(self) -> str:
        return str(self.detail.get("at") or self.time)


def dedupe_key(event: DomainEvent) -> str:
    if event.kind in _ONCE_PER_ORDER:
        return f"{event.order_id}#{event.kind}"
    # One parcel may be recorded as several shipment items: it is named by its tracking number.
    parcel = event.detail.get("tracking_number") or event.detail.get("shipment_id")
    if event.kind in _ONCE_PER_SHIPMENT and parcel:
        return f"{event.order_id}#{event.kind}#{parcel}"
    return event.event_id


def notify(event: DomainEvent, table: Table | None = None) -> Result:
    """Render and send the customer message of ``event``, once."""
    table = table or Table()
    if event.kind not in TEMPLATES or not event.order_id:
        return Result.SKIPPED
    key = dedupe_key(event)
    if not _claim(table, key, event):
        return Result.DUPLICATE
    try:
        header = get_header(event.order_id, table)
        to = str(((header or {}).get("customer") or {}).get("email") or "")
        message = render(event.kind, header, _with_secrets(event)) if header and to else None
        if message is None:
            _finish(table, key, Result.SKIPPED)
            return Result.SKIPPED
        try:
            message_id = send(
                message, to=to, order_id=event.order_id, event_id=event.event_id, at=event.at, kind=event.kind
            )
        except Rejected as err:
            _finish(table, key, Result.REJECTED, note=str(err))
            return Result.REJECTED
    except Exception:
        table.batch_delete([_marker_key(key)])  # let the redelivery try again
        raise
    _finish(table, key, Result.SENT, message_id=message_id)
    return Result.SENT


def _with_secrets(event: DomainEvent) -> dict[str, Any]:
    """The detail, with what never travels in an event: a pickup code is derived here."""
    if event.kind == "fulfillment.ready_for_pickup":
        code = pickup_code(str(event.detail["fo_id"]), int(event.detail["pickup_issue"]))
        return event.detail | {"pickup_code": code}
    return event.detail


def _marker_key(key: str) -> tuple[str, str]:
    return f"NOTIFIED#{key}", "NOTIFIED"


def _claim(table: Table, key: str, event: DomainEvent) -> bool:
    pk, sk = _marker_key(key)
    moment = now()
    try:
        table.update(
            pk,
            sk,
            "SET #t = :type, #s = :sending, kind = :kind, order_id = :order, event_id = :event,"
            " claimed_at = :now, #ttl = :ttl",
            values={
                ":type": "notification_marker",
                ":sending": "sending",
                ":kind": event.kind,
                ":order": event.order_id,
                ":event": event.event_id,
                ":now": iso(moment),
                ":ttl": int((moment + MARKER_TTL).timestamp()),
                ":stale": iso(moment - CLAIM_LEASE),
            },
            names={"#t": "type", "#s": "status", "#ttl": "ttl"},
            condition="attribute_not_exists(pk) OR (#s = :sending AND claimed_at < :stale)",
        )
    except ConditionFailed:
        return False
    return True


def _finish(table: Table, key: str, result: Result, *, message_id: str = "", note: str = "") -> None:
    pk, sk = _marker_key(key)
    table.update(
        pk,
        sk,
        "SET #s = :s, finished_at = :at, message_id = :m, note = :n",
        values={":s": str(result), ":at": now_iso(), ":m": message_id, ":n": note},
        names={"#s": "status"},
    )
