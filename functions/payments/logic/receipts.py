"""Provider webhooks received: each event is processed once.

Item ``WEBHOOK#<provider>#<event_id>`` / ``WEBHOOK``: written before the event is
applied, marked ``processed`` after. A redelivery of a processed event changes nothing;
one whose first delivery died half-way is applied again (every effect is idempotent).
Receipts expire after 90 days, far past any provider's retries.
"""

from __future__ import annotations

import time
from typing import Any

from functions.payments.gateways.gateway import WebhookEvent
from shared.clock import now_iso
from shared.table import ConditionFailed, Table

_KEEP_SECONDS = 90 * 24 * 3600


def receipt_pk(provider: str, event_id: str) -> str:
    return f"WEBHOOK#{provider}#{event_id}"


def receive(event: WebhookEvent) -> bool:
    """Record the event; False if it was already processed."""
    table = Table()
    pk = receipt_pk(event.provider, event.event_id)
    item = {
        "pk": pk,
        "sk": "WEBHOOK",
        "type": "payment_webhook",
        "provider": event.provider,
        "event_id": event.event_id,
        "kind": event.kind,
        "raw_type": event.raw_type,
        "reference": event.reference,
        "payment_reference": event.payment_reference,
        "occurred_at": event.occurred_at,
        "received_at": now_iso(),
        "status": "received",
        "ttl": int(time.time()) + _KEEP_SECONDS,
    }
    try:
        table.put(item, condition="attribute_not_exists(pk)")
        return True
    except ConditionFailed:
        existing = table.get(pk, "WEBHOOK")
        return not existing or existing.get("status") != "processed"


def processed(event: WebhookEvent, outcome: dict[str, Any]) -> None:
    Table().update(
        receipt_pk(event.provider, event.event_id),
        "WEBHOOK",
        "SET #s = :s, outcome = :o, processed_at = :at",
        values={":s": "processed", ":o": outcome, ":at": now_iso()},
        names={"#s": "status"},
    )
