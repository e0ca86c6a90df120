"""A carrier webhook in: verify its signature on the raw body, read it, queue its events.

Nothing is read, stored or queued before the signature holds. The events go to the
CarrierEvents queue (and its DLQ), so a burst or a failing consumer loses nothing; the
consumer (``functions/fulfill/logic/tracking.py``) applies them.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from functions.fulfill.logic.carriers.model import TrackingEvent
from functions.fulfill.logic.carriers.registry import carrier_format
from shared.errors import Unauthorized
from shared.integration_secrets import carrier_secret
from shared.queues import send_messages
from shared.settings import get_settings


class WebhookAccepted(BaseModel):
    """What a carrier gets back: how many tracking events were queued, by their ids."""

    accepted: int
    event_ids: list[str]


def receive_webhook(carrier: str, body: bytes, headers: Mapping[str, str]) -> WebhookAccepted:
    """``NotFound`` for an unknown carrier, ``Unauthorized`` for a bad or missing signature."""
    secret = carrier_secret(carrier)
    fmt = carrier_format(carrier)
    if not fmt.verify(body, headers, secret):
        raise Unauthorized(
            "the webhook signature does not match",
            errors=[{"field": fmt.signature_header, "message": "missing or not the HMAC of this body"}],
        )
    events = fmt.parse(body, carrier)
    queue_events(events)
    return WebhookAccepted(accepted=len(events), event_ids=[e.event_id for e in events])


def queue_events(events: list[TrackingEvent]) -> None:
    if events:
        send_messages(get_settings().carrier_events_queue_url, [e.model_dump_json() for e in events])
