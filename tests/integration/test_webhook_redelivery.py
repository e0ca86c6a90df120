"""A payment provider's event delivered again while its first delivery is still being applied.

Providers deliver an event again when an answer is slow, so two deliveries of one event
can run at once (the concurrent model over HTTP found both applied). The first delivery
holds the event; the other answers 503 and is applied by nobody; once the first is
processed a redelivery is a duplicate. A delivery that failed, or one that died, does
not keep the event from being applied by the next.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from functions.payments.gateways import registry
from functions.payments.logic import webhook_events
from shared import warm_cache
from shared.table import Table
from tests.integration.test_payments import authorize, event_payload, make_order, post_webhook, summary, timeline_kinds


@pytest.fixture
def capture_failed(aws: Any) -> tuple[str, dict[str, Any]]:
    """An authorized order and a provider event about it that the OMS applies visibly (a
    timeline event per application)."""
    warm_cache.reset_all()
    registry.reset()
    order_id = make_order()
    authorize.authorize_order(order_id)
    reference = summary(order_id)["payments"][0]["reference"]
    return order_id, event_payload("capture.failed", "cap_x", payment_reference=reference)


def test_a_redelivery_while_the_first_is_applied_answers_503_and_applies_nothing(capture_failed, monkeypatch):
    order_id, payload = capture_failed
    applying, go_on = threading.Event(), threading.Event()
    apply = webhook_events.apply_event

    def slow_first(event: Any) -> dict[str, Any]:
        if not applying.is_set():
            applying.set()
            assert go_on.wait(30)
        return apply(event)

    monkeypatch.setattr(webhook_events, "apply_event", slow_first)
    first: list[tuple[int, Any]] = []
    delivery = threading.Thread(target=lambda: first.append(post_webhook(payload)))
    delivery.start()
    assert applying.wait(30)

    status, body = post_webhook(payload)
    assert status == 503, body

    go_on.set()
    delivery.join(30)
    ((status, body),) = first
    assert (status, body["duplicate"], body["outcome"]) == (200, False, "exception")
    status, body = post_webhook(payload)
    assert (status, body["duplicate"]) == (200, True)
    assert timeline_kinds(order_id).count("payment.capture_failed") == 1


def _crash(event: Any) -> dict[str, Any]:
    raise RuntimeError("crashed")


def test_a_delivery_that_failed_lets_the_next_apply_the_event_at_once(capture_failed, monkeypatch):
    order_id, payload = capture_failed
    with monkeypatch.context() as patch:
        patch.setattr(webhook_events, "apply_event", _crash)
        with pytest.raises(RuntimeError, match="crashed"):  # the runtime answers it 500
            post_webhook(payload)
    status, body = post_webhook(payload)
    assert (status, body["duplicate"], body["outcome"]) == (200, False, "exception")
    assert timeline_kinds(order_id).count("payment.capture_failed") == 1


def test_a_claim_left_by_a_delivery_that_died_lapses(capture_failed):
    order_id, payload = capture_failed
    pk = f"WEBHOOK#sandbox#{payload['id']}"
    # What a delivery that died after claiming the event leaves: received, claimed, never processed.
    Table().put({"pk": pk, "sk": "WEBHOOK", "status": "received", "claimed_until": int(time.time()) + 60})
    status, _ = post_webhook(payload)
    assert status == 503
    Table().update(pk, "WEBHOOK", "SET claimed_until = :past", values={":past": int(time.time()) - 1})
    status, body = post_webhook(payload)
    assert (status, body["duplicate"], body["outcome"]) == (200, False, "exception")
    assert timeline_kinds(order_id).count("payment.capture_failed") == 1
