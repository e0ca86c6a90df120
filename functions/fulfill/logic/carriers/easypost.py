"""EasyPost tracker webhooks.

EasyPost posts an ``Event`` object (``description`` ``tracker.created`` or
``tracker.updated``) whose ``result`` is the whole ``Tracker``: ``tracking_code``, the
current ``status`` and every ``tracking_details`` scan so far, each with its own
``datetime``. One webhook becomes one event: the tracker's current status, at the time
of the latest scan that reported it.

Signature: ``X-Hmac-Signature: hmac-sha256-hex=<hex>``, the HMAC-SHA256 of the raw body
keyed with the webhook secret normalized to Unicode NFKD (EasyPost's own libraries do so).
"""

from __future__ import annotations

import unicodedata
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

SIGNATURE_HEADER = "X-Hmac-Signature"
_PREFIX = "hmac-sha256-hex="
_TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})

# Tracker statuses -> ours. ``unknown`` (no scan yet) carries nothing to apply.
STATUSES: dict[str, str] = {
    "pre_transit": "label_created",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "available_for_pickup": "out_for_delivery",
    "delivered": "delivered",
    "return_to_sender": "returned_to_sender",
    "failure": "exception",
    "error": "exception",
    "cancelled": "exception",
}


def _signature(body: bytes, secret: str) -> str:
    key = unicodedata.normalize("NFKD", secret).encode()
    return _PREFIX + digest(key, body).hex()


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    return same(header(headers, SIGNATURE_HEADER), _signature(body, secret))


def sign(body: bytes, secret: str) -> dict[str, str]:
    return {SIGNATURE_HEADER: _signature(body, secret)}


def _latest_detail(details: list[Any], status: str) -> dict[str, Any] | None:
    """The latest scan reporting ``status``, else the latest scan of all."""
    dated = [
        (normalize_time(d["datetime"], "result.tracking_details.datetime"), i, d)
        for i, d in enumerate(details)
        if isinstance(d, dict) and d.get("datetime")
    ]
    dated.sort(key=lambda entry: (entry[0], entry[1]))
    matching = [entry for entry in dated if STATUSES.get(str(entry[2].get("status"))) == status]
    candidates = matching or dated
    return candidates[-1][2] if candidates else None


def parse(body: bytes, source: str) -> list[TrackingEvent]:
    doc = load_object(body)
    if doc.get("object") != "Event":
        raise invalid("object", "an EasyPost Event is expected")
    if doc.get("description") not in _TRACKER_EVENTS:
        return []  # other event kinds (batches, refunds...) are not tracking
    result = doc.get("result")
    if not isinstance(result, dict) or result.get("object") != "Tracker":
        raise invalid("result", "a Tracker is expected")
    tracking_number = required_text(result, "tracking_code", "result")
    raw_status = str(result.get("status") or "unknown")
    status = STATUSES.get(raw_status)
    if status is None:
        return []
    details = result.get("tracking_details") or []
    if not isinstance(details, list):
        raise invalid("result.tracking_details", "a list is expected")
    detail = _latest_detail(details, status)
    when = (detail or {}).get("datetime") or result.get("updated_at") or doc.get("created_at")
    where = (detail or {}).get("tracking_location") or {}
    return [
        TrackingEvent(
            source=source,
            event_id=required_text(doc, "id"),
            tracking_number=tracking_number,
            status=status,
            occurred_at=normalize_time(when, "result.tracking_details.datetime"),
            description=clip((detail or {}).get("message") or result.get("status_detail"), 500),
            location=place(where.get("city"), where.get("state"), where.get("country"))
            if isinstance(where, dict)
            else "",
            carrier=clip(result.get("carrier"), 64) or None,
            carrier_status=clip(raw_status, 100),
        )
    ]


FORMAT = CarrierFormat(name="easypost", signature_header=SIGNATURE_HEADER, verify=verify, sign=sign, parse=parse)
