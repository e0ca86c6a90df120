"""Outbound webhooks through the local stack: timeline -> stream -> EventBridge -> WebhookEvents
queue -> WebhookDelivery -> a subscriber on 127.0.0.1, every delivery verified with the
Standard Webhooks reference library; failures retried, parked, listed and replayed."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from standardwebhooks import Webhook

from functions.allocate.logic.allocation import allocate_order
from functions.channels.handlers import webhook_delivery
from functions.channels.handlers.webhooks_api import handler as webhooks_handler
from functions.channels.rules.webhooks import MAX_ATTEMPTS
from functions.fulfill.logic import resume as fulfillment_resume
from functions.fulfill.logic.release import release_to_fulfillment
from functions.fulfill.store import fulfillment_orders_of
from infra.local import moto_patches
from infra.local.runtime import LambdaContext
from shared.order.timeline import append_event
from tests.integration.conftest import api_event, call, stock_up
from tests.integration.test_capture_api import order_body, post
from tests.integration.test_fulfillment import _api as fulfillment_api
from tests.integration.test_notifications import bridge_event, sqs_record
from tests.unit.test_outbound_webhooks import Receiver

OPS = "dev-ops-key"
CONTEXT: Any = LambdaContext(function_name="test")
ORDER_EVENTS = ["order.captured", "order.allocated", "fulfillment.released", "shipment.shipped"]


@pytest.fixture
def flow(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders are captured without their execution: the test drives the steps itself."""
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    monkeypatch.setattr(fulfillment_resume, "signal_wait", lambda token, output, fo: True)


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(failures: int = 0) -> Receiver:
        made.append(Receiver(failures))
        return made[-1]

    yield make
    for r in made:
        r.close()


def webhooks(method: str, path: str, resource: str, *, key: str = OPS, body: Any = None, **kw: Any):
    return call(webhooks_handler, api_event(method, path, resource=resource, key=key, body=body, **kw))


def subscribe(url: str, events: list[str]) -> dict[str, Any]:
    status, _, created = webhooks(
        "POST", "/v1/webhooks/subscriptions", "/v1/webhooks/subscriptions", body={"url": url, "events": events}
    )
    assert status == 201, created
    return created


def ship_an_order(external_id: str) -> str:
    """Capture, allocate, release and ship one order: each step a timeline event."""
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id="wh-east")
    status, _, order = post(order_body(external_id))
    assert status == 201, order
    allocate_order(order["order_id"])
    release_to_fulfillment(order["order_id"])
    (fo,) = fulfillment_orders_of(order["order_id"])
    status, _, shipped = fulfillment_api(
        "POST", fo["fo_id"], "ship", body={"carrier": "dhl", "tracking_number": f"TRK-{external_id}"}
    )
    assert status == 201, shipped
    return str(order["order_id"])


def settle(received: list[Any], count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        moto_patches.wait_for_streams()
        moto_patches.wait_for_queues()
        time.sleep(0.05)


def verified(secret: str, received: list[tuple[dict[str, str], bytes]]) -> list[dict[str, Any]]:
    """Each delivery as the reference library verifies it (it raises on a bad signature)."""
    hook = Webhook(secret)
    return [dict(hook.verify(body, headers)) | {"webhook-id": headers["webhook-id"]} for headers, body in received]


def test_a_subscriber_receives_every_event_of_an_order_signed(flow, receiver):
    subscriber = receiver()
    created = subscribe(subscriber.url, [*ORDER_EVENTS, "order.cancelled"])
    order_id = ship_an_order("WH-1")
    settle(subscriber.received, len(ORDER_EVENTS))
    messages = verified(created["secret"], subscriber.received)
    assert sorted(m["type"] for m in messages) == sorted(ORDER_EVENTS)
    assert all(m["data"]["order_id"] == order_id for m in messages)
    shipped = next(m for m in messages if m["type"] == "shipment.shipped")
    assert shipped["data"]["tracking_number"] == "TRK-WH-1"
    # One webhook-id per event; a wrong secret does not verify.
    assert len({m["webhook-id"] for m in messages}) == len(messages)
    with pytest.raises(Exception, match="signature"):
        verified("whsec_" + "A" * 44, subscriber.received[:1])
    time.sleep(0.3)
    assert len(subscriber.received) == len(ORDER_EVENTS)  # nothing twice
    status, _, delivered = webhooks(
        "GET", "/v1/webhooks/deliveries", "/v1/webhooks/deliveries", query={"status": "delivered"}
    )
    assert status == 200 and len(delivered["deliveries"]) == len(ORDER_EVENTS)
    assert {d["attempts"] for d in delivered["deliveries"]} == {1}


def test_a_subscriber_that_fails_three_times_gets_everything_once_it_recovers(flow, receiver):
    subscriber = receiver(failures=3)
    created = subscribe(subscriber.url, ORDER_EVENTS)
    ship_an_order("WH-2")
    settle(subscriber.received, len(ORDER_EVENTS))
    time.sleep(0.3)
    moto_patches.wait_for_queues()
    messages = verified(created["secret"], subscriber.received)
    assert sorted(m["type"] for m in messages) == sorted(ORDER_EVENTS)  # each once, none lost
    _, _, failed = webhooks("GET", "/v1/webhooks/deliveries", "/v1/webhooks/deliveries", query={"status": "failed"})
    _, _, pending = webhooks("GET", "/v1/webhooks/deliveries", "/v1/webhooks/deliveries", query={"status": "pending"})
    assert failed["deliveries"] == [] and pending["deliveries"] == []
    _, _, delivered = webhooks(
        "GET", "/v1/webhooks/deliveries", "/v1/webhooks/deliveries", query={"status": "delivered"}
    )
    assert sum(d["attempts"] for d in delivered["deliveries"]) == len(ORDER_EVENTS) + 3


def test_a_delivery_that_keeps_failing_is_parked_then_replayed_by_an_operator(flow, receiver):
    subscriber = receiver(failures=10_000)
    created = subscribe(subscriber.url, ["order.captured"])
    append_event("ord_park", "order.captured", {"channel": "web"})
    deadline = time.monotonic() + 15
    failed: dict[str, Any] = {"deliveries": []}
    while not failed["deliveries"] and time.monotonic() < deadline:
        moto_patches.wait_for_streams()
        moto_patches.wait_for_queues()
        _, _, failed = webhooks("GET", "/v1/webhooks/deliveries", "/v1/webhooks/deliveries", query={"status": "failed"})
    (parked,) = failed["deliveries"]
    assert parked["attempts"] == MAX_ATTEMPTS and parked["last_http_status"] == 503
    assert parked["subscription_id"] == created["subscription_id"] and parked["event_type"] == "order.captured"
    assert subscriber.received == []

    delivery = f"/v1/webhooks/deliveries/{parked['delivery_id']}"
    resource = "/v1/webhooks/deliveries/{delivery_id}"
    params = {"delivery_id": parked["delivery_id"]}
    # Replaying is for operators, and only of a failed delivery.
    assert (
        webhooks("POST", f"{delivery}/replay", f"{resource}/replay", key="dev-web-key", path_parameters=params)[0]
        == 403
    )
    subscriber.failures = 0
    status, _, replayed = webhooks("POST", f"{delivery}/replay", f"{resource}/replay", path_parameters=params)
    assert status == 202 and replayed["status"] == "pending"
    settle(subscriber.received, 1)
    (message,) = verified(created["secret"], subscriber.received)
    assert message["type"] == "order.captured" and message["webhook-id"] == parked["delivery_id"]
    status, _, after = webhooks("GET", delivery, resource, path_parameters=params)
    assert status == 200 and after["status"] == "delivered" and after["attempts"] == 1
    status, _, problem = webhooks("POST", f"{delivery}/replay", f"{resource}/replay", path_parameters=params)
    assert status == 409, problem


def test_a_redelivered_event_is_not_sent_again(aws, receiver):
    subscriber = receiver()
    subscribe(subscriber.url, ["shipment.shipped"])
    event = bridge_event("shipment.shipped", {"event_id": "evt_1", "order_id": "ord_1", "at": "2024-05-06T10:00:00Z"})
    for message_id in ("m-1", "m-2"):  # SQS delivers at least once
        out = webhook_delivery.handler({"Records": [sqs_record(event, message_id)]}, CONTEXT)
        assert out == {"batchItemFailures": []}
    assert len(subscriber.received) == 1
    # An event of a type nobody subscribed to goes nowhere.
    other = bridge_event("order.captured", {"event_id": "evt_2", "order_id": "ord_1", "at": "2024-05-06T10:00:00Z"})
    webhook_delivery.handler({"Records": [sqs_record(other)]}, CONTEXT)
    assert len(subscriber.received) == 1


def test_a_batch_of_events_reads_the_subscriptions_once(aws, receiver, monkeypatch):
    from functions.channels import store

    reads: list[int] = []
    read = store.list_subscriptions
    monkeypatch.setattr(webhook_delivery, "list_subscriptions", lambda: reads.append(1) or read())
    shipped, both = receiver(), receiver()
    subscribe(shipped.url, ["shipment.shipped"])
    deleted = subscribe(both.url, ["order.captured", "shipment.shipped"])
    kinds = ["shipment.shipped", "order.captured", "shipment.shipped"]
    records = [
        sqs_record(bridge_event(kind, {"event_id": f"evt_b{n}", "order_id": "ord_b", "at": "2024-05-06T10:00:00Z"}))
        | {"messageId": f"m-b{n}"}
        for n, kind in enumerate(kinds)
    ]
    assert webhook_delivery.handler({"Records": records}, CONTEXT) == {"batchItemFailures": []}
    assert reads == [1]
    assert (len(shipped.received), len(both.received)) == (2, 3)
    # The next batch reads them again: a subscription deleted meanwhile gets nothing more.
    assert store.delete_subscription(deleted["subscription_id"])
    later = bridge_event("shipment.shipped", {"event_id": "evt_b9", "order_id": "ord_b", "at": "2024-05-06T10:01:00Z"})
    assert webhook_delivery.handler({"Records": [sqs_record(later, "m-b9")]}, CONTEXT) == {"batchItemFailures": []}
    assert reads == [1, 1]
    assert (len(shipped.received), len(both.received)) == (3, 3)


def test_subscriptions_show_the_secret_once_and_belong_to_operators(aws, receiver):
    subscriber = receiver()
    created = subscribe(subscriber.url, ["order.captured"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["order.captured"]
    sid = created["subscription_id"]
    path, resource, params = (
        f"/v1/webhooks/subscriptions/{sid}",
        "/v1/webhooks/subscriptions/{subscription_id}",
        {"subscription_id": sid},
    )
    status, _, one = webhooks("GET", path, resource, path_parameters=params)
    assert status == 200 and "secret" not in one and one["url"] == subscriber.url
    _, _, listed = webhooks("GET", "/v1/webhooks/subscriptions", "/v1/webhooks/subscriptions")
    assert [s["subscription_id"] for s in listed["subscriptions"]] == [sid]
    assert "secret" not in json.dumps(listed)
    for bad in (
        {"url": "http://10.0.0.5/hooks", "events": ["order.captured"]},  # private address
        {"url": subscriber.url, "events": ["order.nonsense"]},
        {"url": subscriber.url, "events": []},
    ):
        status, _, problem = webhooks("POST", "/v1/webhooks/subscriptions", "/v1/webhooks/subscriptions", body=bad)
        assert status == 422, (bad, problem)
    channel = webhooks(
        "POST",
        "/v1/webhooks/subscriptions",
        "/v1/webhooks/subscriptions",
        key="dev-web-key",
        body={"url": subscriber.url, "events": ["order.captured"]},
    )
    assert channel[0] == 403
    assert webhooks("DELETE", path, resource, path_parameters=params)[0] == 204
    assert webhooks("GET", path, resource, path_parameters=params)[0] == 404
    assert webhooks("DELETE", path, resource, path_parameters=params)[0] == 404
    _, _, listed = webhooks("GET", "/v1/webhooks/subscriptions", "/v1/webhooks/subscriptions")
    assert listed["subscriptions"] == []


def test_a_replay_that_cannot_be_queued_leaves_the_delivery_failed(aws, receiver, monkeypatch):
    from functions.channels.logic import webhooks as logic
    from functions.channels.store import claim_delivery, get_delivery, record_attempt
    from shared.errors import RetryableError

    subscriber = receiver()
    created = subscribe(subscriber.url, ["order.captured"])
    claim_delivery("whd_x", created["subscription_id"], "evt_x", "order.captured", {"type": "order.captured"})
    record_attempt("whd_x", status="failed", http_status=503, error="HTTP 503")

    def no_queue(*args, **kwargs):
        raise RetryableError("SQS failed")

    monkeypatch.setattr(logic, "send_messages", no_queue)
    params = {"delivery_id": "whd_x"}
    path, resource = "/v1/webhooks/deliveries/whd_x/replay", "/v1/webhooks/deliveries/{delivery_id}/replay"
    assert webhooks("POST", path, resource, path_parameters=params)[0] == 503
    after = get_delivery("whd_x")
    assert after is not None and after["status"] == "failed"  # and so replayable again
