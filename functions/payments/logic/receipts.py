"""Provider webhooks received: each event is processed once.

Item ``WEBHOOK#<provider>#<event_id>`` / ``WEBHOOK``: written before the event is
applied, marked ``processed`` after. A redelivery of a processed event changes nothing;
one whose first delivery died half-way is applied again (every effect is idempotent).
A delivery holds the event for a while (``claimed_until``): a redelivery arriving while
another delivery is still applying it (providers deliver again when an answer is slow)
answers 503, and the provider delivers it again later, by when it is processed; a
delivery that failed gives its claim back at once, and a claim left by a delivery that
died lapses. Receipts expire after 90 days, far past any provider's retries.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from functions.payments.gateways.gateway import WebhookEvent
from shared.clock import now_iso
from shared.errors import RetryableError
from shared.table import ConditionFailed, Table

_KEEP_SECONDS = 90 * 24 * 3600
# Far longer than applying any event takes; a claim older than this was left by a delivery that died.
CLAIM_SECONDS = 60


class EventInProgress(RetryableError):
    """Another delivery of the same event is applying it: deliver it again later (503)."""


def receipt_pk(provider: str, event_id: str) -> str:
    return f"WEBHOOK#{provider}#{event_id}"


def receive(event: WebhookEvent) -> bool:
    """Record and claim the event; False if it was already processed, EventInProgress
    while another delivery holds it."""
    table = Table()
    pk = receipt_pk(event.provider, event.event_id)
    now = int(time.time())
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
        "claimed_until": now + CLAIM_SECONDS,
        "ttl": now + _KEEP_SECONDS,
    }
    try:
        table.put(item, condition="attribute_not_exists(pk)")
        return True
    except ConditionFailed:
        pass
    existing = table.get(pk, "WEBHOOK")
    if not existing:
        return True
    if existing.get("status") == "processed":
        return False
    claimed = int(existing.get("claimed_until", 0))
    if claimed > now:
        raise EventInProgress(f"event {event.event_id} is being applied by another delivery; deliver it again later")
    try:  # the claim lapsed or was given back: take it over, unless another delivery just did
        table.update(
            pk,
            "WEBHOOK",
            "SET claimed_until = :until",
            values={":until": now + CLAIM_SECONDS, ":seen": claimed, ":processed": "processed"},
            names={"#s": "status"},
            condition="#s <> :processed AND (attribute_not_exists(claimed_until) OR claimed_until = :seen)",
        )
    except ConditionFailed as err:
        if (table.get(pk, "WEBHOOK") or {}).get("status") == "processed":
            return False
        raise EventInProgress(f"event {event.event_id} is being applied by another delivery") from err
    return True


def give_back(event: WebhookEvent) -> None:
    """A delivery that failed lets the next one apply the event at once."""
    with contextlib.suppress(ConditionFailed):  # processed meanwhile: nothing to give back
        Table().update(
            receipt_pk(event.provider, event.event_id),
            "WEBHOOK",
            "SET claimed_until = :zero",
            values={":zero": 0, ":processed": "processed"},
            names={"#s": "status"},
            condition="#s <> :processed",
        )


def processed(event: WebhookEvent, outcome: dict[str, Any]) -> None:
    Table().update(
        receipt_pk(event.provider, event.event_id),
        "WEBHOOK",
        "SET #s = :s, outcome = :o, processed_at = :at",
        values={":s": "processed", ":o": outcome, ":at": now_iso()},
        names={"#s": "status"},
    )
