"""The normalized tracking event every carrier format is parsed into, and parsing helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api.validation import max_future
from shared.clock import iso
from shared.errors import InvalidInput, MalformedInput

TrackingStatus = Literal[
    "label_created", "in_transit", "out_for_delivery", "delivered", "exception", "returned_to_sender"
]
TRACKING_STATUSES: tuple[str, ...] = TrackingStatus.__args__  # type: ignore[attr-defined]


class TrackingEvent(BaseModel):
    """One carrier update of one parcel, whatever format it came in.

    ``source`` is the webhook it came through (``easypost``, ``aftership``, ``generic``...)
    and ``event_id`` that source's own id, so (source, event_id) names the update.
    ``occurred_at`` is the carrier's time of the scan (UTC, milliseconds), not ours.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(min_length=1, max_length=64)
    event_id: str = Field(min_length=1, max_length=200)
    tracking_number: str = Field(min_length=1, max_length=100)
    status: TrackingStatus
    occurred_at: str
    description: str = Field(default="", max_length=500)
    location: str = Field(default="", max_length=200)
    # The carrier as the source names it (USPS, ups, dhl...), and its raw status.
    carrier: str | None = Field(default=None, max_length=64)
    carrier_status: str = Field(default="", max_length=100)

    @property
    def key(self) -> str:
        """(source, event id) as one string: the update's identity."""
        return f"{self.source}#{self.event_id}"


@dataclass(frozen=True)
class CarrierFormat:
    """A tracking webhook format: how its signature is checked and made, how it is read."""

    name: str
    signature_header: str
    verify: Callable[[bytes, Mapping[str, str], str], bool]
    sign: Callable[[bytes, str], dict[str, str]]
    parse: Callable[[bytes, str], list[TrackingEvent]]


def load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is not JSON or not an object."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedInput(
            "the body is not valid JSON", errors=[{"field": "body", "message": "not valid JSON"}]
        ) from err
    if not isinstance(doc, dict):
        raise MalformedInput(
            "the body must be a JSON object", errors=[{"field": "body", "message": "a JSON object is expected"}]
        )
    return doc


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"invalid fields: {field}", errors=[{"field": field, "message": message}])


def required_text(doc: Mapping[str, Any], name: str, where: str = "") -> str:
    value = doc.get(name)
    field = f"{where}.{name}" if where else name
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "a non-empty string is required")
    return value.strip()


def normalize_time(value: Any, field: str) -> str:
    """An ISO 8601 time or a Unix timestamp -> UTC with milliseconds (sortable as a string).

    A time without an offset is taken as UTC: carriers that omit it report UTC or the
    scan's local time, and no better guess is available.
    """
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and value.strip():
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        else:
            raise ValueError(value)
    except (ValueError, OverflowError, OSError) as err:
        raise invalid(field, "an ISO 8601 time is required") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > max_future():
        # Statuses never go backwards in time: a scan dated ahead would outrank every real one.
        raise invalid(field, "must not be in the future")
    return iso(moment)


def clip(value: Any, length: int) -> str:
    return str(value).strip()[:length] if value not in (None, "") else ""


def place(*parts: Any) -> str:
    """``city, state, country`` from whichever parts are given."""
    return clip(", ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip()), 200)
