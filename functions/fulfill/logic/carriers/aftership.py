"""AfterShip tracking webhooks.

AfterShip posts ``{"event": "tracking_update", "event_id", "ts", "msg": <Tracking>}``;
the tracking carries ``tracking_number``, the carrier ``slug``, the current delivery
``tag`` (with its ``subtag``) and its ``checkpoints``, each with a ``checkpoint_time``.
One webhook becomes one event: the current tag, at the time of the latest checkpoint that
reported it. Other events (``edd_revise``, ``tracking_pending_time``) carry no status.

Signature: ``aftership-hmac-sha256: <base64>``, the HMAC-SHA256 of the raw body keyed
with the webhook secret.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from functions.fulfill.logic.carriers.model import (
    CarrierFormat,
    TrackingEvent,
    clip,
    invalid,
    load_object,
    normalize_time,
    place,
    required_text,
)
from functions.fulfill.logic.carriers.signing import digest, same
from shared.api.headers import header

SIGNATURE_HEADER = "aftership-hmac-sha256"

# Delivery tags -> ours. ``Pending`` (nothing from the carrier yet) carries nothing.
TAGS: dict[str, str] = {
    "InfoReceived": "label_created",
    "InTransit": "in_transit",
    "OutForDelivery": "out_for_delivery",
    "AvailableForPickup": "out_for_delivery",
    "AttemptFail": "exception",
    "Delivered": "delivered",
    "Exception": "exception",
    "Expired": "exception",
}
# The Exception subtag AfterShip uses for a parcel returned to its sender.
RETURNED_TO_SENDER_SUBTAG = "Exception_011"


def _signature(body: bytes, secret: str) -> str:
    return base64.b64encode(digest(secret.encode(), body)).decode()


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    return same(header(headers, SIGNATURE_HEADER), _signature(body, secret))


def sign(body: bytes, secret: str) -> dict[str, str]:
    return {SIGNATURE_HEADER: _signature(body, secret)}


def _status(tag: str, subtag: str) -> str | None:
    if tag == "Exception" and subtag == RETURNED_TO_SENDER_SUBTAG:
        return "returned_to_sender"
    return TAGS.get(tag)


def _latest_checkpoint(checkpoints: list[Any], tag: str) -> dict[str, Any] | None:
    dated = [
        (normalize_time(c["checkpoint_time"], "msg.checkpoints.checkpoint_time"), i, c)
        for i, c in enumerate(checkpoints)
        if isinstance(c, dict) and c.get("checkpoint_time")
    ]
    dated.sort(key=lambda entry: (entry[0], entry[1]))
    candidates = [entry for entry in dated if entry[2].get("tag") == tag] or dated
    return candidates[-1][2] if candidates else None


def _event_id(doc: dict[str, Any], body: bytes) -> str:
    given = doc.get("event_id")
    if isinstance(given, str) and given.strip():
        return given.strip()
    # Older payloads carry no id: the body itself names the update (a resend is identical).
    return "sha256-" + hashlib.sha256(body).hexdigest()


def parse(body: bytes, source: str) -> list[TrackingEvent]:
    doc = load_object(body)
    if doc.get("event", "tracking_update") != "tracking_update":
        return []
    msg = doc.get("msg")
    if not isinstance(msg, dict):
        raise invalid("msg", "a tracking object is expected")
    tracking_number = required_text(msg, "tracking_number", "msg")
    tag = str(msg.get("tag") or "Pending")
    status = _status(tag, str(msg.get("subtag") or ""))
    if status is None:
        return []
    checkpoints = msg.get("checkpoints") or []
    if not isinstance(checkpoints, list):
        raise invalid("msg.checkpoints", "a list is expected")
    checkpoint = _latest_checkpoint(checkpoints, tag) or {}
    when = checkpoint.get("checkpoint_time") or msg.get("updated_at") or doc.get("ts")
    if when is None:
        raise invalid("msg.checkpoints", "no time for the update")
    return [
        TrackingEvent(
            source=source,
            event_id=_event_id(doc, body),
            tracking_number=tracking_number,
            status=status,
            occurred_at=normalize_time(when, "msg.checkpoints.checkpoint_time"),
            description=clip(checkpoint.get("message") or msg.get("subtag_message"), 500),
            location=clip(checkpoint.get("location"), 200)
            or place(checkpoint.get("city"), checkpoint.get("state"), checkpoint.get("country_name")),
            carrier=clip(msg.get("slug"), 64) or None,
            carrier_status=clip(msg.get("subtag") or tag, 100),
        )
    ]


FORMAT = CarrierFormat(name="aftership", signature_header=SIGNATURE_HEADER, verify=verify, sign=sign, parse=parse)
