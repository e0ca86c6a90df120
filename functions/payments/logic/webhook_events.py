"""Provider webhooks: verify, process each event once, and apply it to the order it is about.

Events find their order through the pointers written with each authorization
(``PAYREF#``: the authorization and, when the provider has one, its charge) and refund
(``REFUNDREF#``). A provider's running total refunded (Stripe ``charge.refunded``) records
what was refunded outside the OMS (functions/payments/logic/external_refund.py). An event
about a reference the OMS does not know is recorded and answered 200 (``ignored``), so the provider stops retrying it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.payments.gateways import registry
from functions.payments.gateways.gateway import WebhookEvent
from functions.payments.logic import receipts
from functions.payments.logic.authorize import expire_authorization
from functions.payments.logic.disputes import apply_dispute
from functions.payments.logic.external_refund import record_external_refund
from functions.payments.logic.lookups import payment_by_reference
from functions.payments.logic.settle_refund import settle_provider_refund
from shared.errors import NotFound
from shared.order.timeline import append_event
from shared.process_exceptions import record_exception


def process_webhook(provider: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """Verify the signature on the raw body (InvalidSignature: 401), then apply the event once."""
    if provider not in registry.PROVIDERS:
        raise NotFound(f"no payment provider {provider!r}")
    event = registry.gateway_for(provider).verify_webhook(body=body, headers=headers)
    if not receipts.receive(event):
        return {"event_id": event.event_id, "duplicate": True}
    try:
        outcome = apply_event(event)
    except Exception:
        receipts.give_back(event)
        raise
    receipts.processed(event, outcome)
    return {"event_id": event.event_id, "duplicate": False, **outcome}


def _payment_of(event: WebhookEvent) -> tuple[str, str] | None:
    for reference in (event.payment_reference, event.reference):
        found = payment_by_reference(event.provider, reference) if reference else None
        if found:
            return found
    return None


def apply_event(event: WebhookEvent) -> dict[str, Any]:
    """What the event did: ``{"outcome", "order_id"?}``."""
    if event.kind in ("refund.succeeded", "refund.failed"):
        status = event.kind.removeprefix("refund.")
        result = settle_provider_refund(
            event.provider, event.reference, status=status, occurred_at=event.occurred_at, reason=event.reason
        )
        return {"outcome": "ignored" if result == "unknown" else result}
    if event.kind == "other":
        return {"outcome": "ignored"}
    found = _payment_of(event)
    if found is None:
        return {"outcome": "ignored"}
    order_id, payment_id = found
    if event.kind == "authorization.expired":
        expired = expire_authorization(order_id, payment_id, source="webhook")
        return {"outcome": "expired" if expired else "unchanged", "order_id": order_id}
    if event.kind == "refund.external":
        outcome = record_external_refund(
            order_id, payment_id, charge=event.reference, total_refunded=event.amount, occurred_at=event.occurred_at
        )
        return {"outcome": outcome, "order_id": order_id}
    if event.kind == "capture.failed":
        detail = {"payment_id": payment_id, "capture_reference": event.reference, "reason": event.reason}
        append_event(order_id, "payment.capture_failed", detail)
        record_exception(
            order_id=order_id,
            step="PaymentCapture",
            error="CaptureFailed",
            cause=f"capture {event.reference} of payment {payment_id} failed: {event.reason or 'no reason given'}",
            retry={"action": "none"},
        )
        return {"outcome": "exception", "order_id": order_id}
    return {"outcome": apply_dispute(order_id, payment_id, event), "order_id": order_id}
