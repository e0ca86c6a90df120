"""The OMS's own tracking format, for carriers and aggregators without one we read.

Body: one event object, or ``{"events": [...]}`` of up to 100 (docs/carrier-tracking.md)::

    {"event_id", "tracking_number", "status", "occurred_at", "description"?, "location"?, "carrier"?}

``status`` is one of ours. Signature: ``X-OMS-Signature: sha256=<hex>``, the HMAC-SHA256
of the raw body keyed with the carrier's webhook secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.fulfill.logic.carriers.model import (
    CarrierFormat,
    TrackingEvent,
    TrackingStatus,
    load_object,
    normalize_time,
)
from functions.fulfill.logic.carriers.signing import digest, same
from shared.api.headers import header
from shared.errors import InvalidInput

SIGNATURE_HEADER = "X-OMS-Signature"
_PREFIX = "sha256="
MAX_EVENTS = 100


class GenericEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=200)
    tracking_number: str = Field(min_length=1, max_length=100)
    status: TrackingStatus
    occurred_at: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=500)
    location: str = Field(default="", max_length=200)
    carrier: str | None = Field(default=None, max_length=64)


class GenericBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[GenericEvent] = Field(min_length=1, max_length=MAX_EVENTS)


def _signature(body: bytes, secret: str) -> str:
    return _PREFIX + digest(secret.encode(), body).hex()


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    return same(header(headers, SIGNATURE_HEADER), _signature(body, secret))


def sign(body: bytes, secret: str) -> dict[str, str]:
    return {SIGNATURE_HEADER: _signature(body, secret)}


def _validated(doc: dict[str, Any]) -> list[GenericEvent]:
    try:
        if "events" in doc:
            return GenericBatch.model_validate(doc).events
        return [GenericEvent.model_validate(doc)]
    except ValidationError as err:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())) or "body", "message": str(e.get("msg", "invalid"))}
            for e in err.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise InvalidInput(f"invalid fields: {fields}", errors=errors) from err


def parse(body: bytes, source: str) -> list[TrackingEvent]:
    doc = load_object(body)
    events = _validated(doc)
    where = [f"events.{i}.occurred_at" if "events" in doc else "occurred_at" for i in range(len(events))]
    return [
        TrackingEvent(
            source=source,
            event_id=e.event_id,
            tracking_number=e.tracking_number,
            status=e.status,
            occurred_at=normalize_time(e.occurred_at, field),
            description=e.description,
            location=e.location,
            carrier=e.carrier,
            carrier_status=e.status,
        )
        for e, field in zip(events, where, strict=True)
    ]


FORMAT = CarrierFormat(name="generic", signature_header=SIGNATURE_HEADER, verify=verify, sign=sign, parse=parse)
