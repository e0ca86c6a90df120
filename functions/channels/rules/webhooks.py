"""Outbound webhooks, pure: which events a subscriber may ask for, the message it receives,
the id of one (subscription, event) delivery, and when a failed delivery is tried again."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

# The domain events subscribers may receive; the WebhookSubscriptions rule in
# infra/manifest.py routes exactly these.
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    "order.captured",
    "order.confirmed",
    "order.allocated",
    "order.backordered",
    "order.cancelled",
    "order.lines_cancelled",
    "order.edited",
    "order.completed",
    "order.delivered",
    "fulfillment.released",
    "fulfillment.rejected",
    "fulfillment.cancelled",
    "shipment.shipped",
    "shipment.in_transit",
    "shipment.out_for_delivery",
    "shipment.delivered",
    "shipment.delayed",
    "payment.authorized",
    "payment.captured",
    "payment.refunded",
    "return.authorized",
    "return.received",
    "return.refunded",
    "return.closed",
)

# Attempts before a delivery is parked as failed (an operator replays it).
MAX_ATTEMPTS = 8
# SQS delays a message by at most 15 minutes.
MAX_DELAY_SECONDS = 900


def unknown_event_types(events: list[str]) -> list[str]:
    return [e for e in events if e not in WEBHOOK_EVENT_TYPES]


def delivery_id(subscription_id: str, event_id: str) -> str:
    """One id per (subscription, event): every attempt and every replay is the same delivery,
    sent with the same ``webhook-id`` so the receiver can drop what it already has."""
    digest = hashlib.sha256(f"{subscription_id}|{event_id}".encode()).hexdigest()[:26]
    return f"whd_{digest}"


def retry_delay(attempts: int, base_seconds: int) -> int:
    """Seconds before the next attempt once ``attempts`` have failed: base * 2^(attempts-1), capped."""
    if attempts < 1 or base_seconds <= 0:
        return 0
    return min(base_seconds * 2 ** (attempts - 1), MAX_DELAY_SECONDS)


def webhook_message(event_type: str, at: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    """The body subscribers receive, in the shape Standard Webhooks recommends."""
    return {"type": event_type, "timestamp": at, "data": dict(detail)}
