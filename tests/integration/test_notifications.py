"""Customer notifications: domain events -> rendered messages, sent once (outbox locally, SES in the cloud)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import boto3
import pytest

from functions.notify.handlers import notifications
from functions.notify.logic.notifications import DomainEvent, Result, notify
from functions.notify.rules.templates import money, render, tracking_url
from functions.notify.store import list_outbox
from functions.ops.logic.domain_events import domain_events
from infra.local import moto_patches
from infra.local.runtime import LambdaContext
from shared import warm_cache
from shared.observability import logger
from shared.order import keys
from shared.order.timeline import append_event
from shared.table import Table
from tests.integration.test_tracking import generic, post_webhook, seed_order

EMAIL, NAME = "ada@example.com", "Ada Lovelace"
# Typed loosely: the local runtime's context stands in for Lambda's.
CONTEXT: Any = LambdaContext(function_name="test")


def settle(order_id: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The order's outbox once ``count`` messages are there (stream -> EventBridge -> queue -> consumer)."""
    deadline = time.monotonic() + timeout
    while True:
        moto_patches.wait_for_streams()
        moto_patches.wait_for_queues()
        found = list_outbox(order_id)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def bridge_event(kind: str, detail: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge event the CustomerMessages rule puts on the queue."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": kind,
        "source": "oms",
        "account": "123456789012",
        "time": "2024-05-06T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def sqs_record(body: dict[str, Any], message_id: str = "m-1") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"r-{message_id}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:oms-CustomerNotifications",
        "awsRegion": "us-east-1",
    }


def deliver(*bodies: dict[str, Any]) -> Any:
    records = [sqs_record(b, f"m-{i}") for i, b in enumerate(bodies)]
    return notifications.handler({"Records": records}, CONTEXT)


# --- through the local stack ------------------------------------------------------------


def test_an_authorized_payment_confirms_the_order_once(aws):
    seed_order("ord_conf", {})
    append_event("ord_conf", "payment.authorized", {"payment_id": "pay_1", "amount": 2000})
    (message,) = settle("ord_conf", 1)
    assert message["kind"] == "order.confirmed"
    assert message["to"] == EMAIL
    assert message["subject"] == "Your order EXT-ord_conf is confirmed"
    assert "Hello Ada Lovelace," in message["text"]
    assert "20.00 EUR" in message["text"]
    # A second authorization (a re-authorization) is no second confirmation.
    append_event("ord_conf", "payment.authorized", {"payment_id": "pay_2", "amount": 2000})
    time.sleep(0.3)
    assert len(settle("ord_conf", 2, timeout=1.0)) == 1


def test_shipped_delivered_and_delayed_reach_the_customer_with_a_tracking_link(aws):
    seed_order("ord_trip", {"shp_t": "1Z999AA10123456784"}, ordered=1, shipped=1)
    append_event(
        "ord_trip",
        "shipment.shipped",
        {"shipment_id": "shp_t", "fo_id": "fo_1", "carrier": "UPS", "tracking_number": "1Z999AA10123456784"},
    )
    (shipped,) = settle("ord_trip", 1)
    link = "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert shipped["subject"] == "Your order EXT-ord_trip is on its way"
    assert link in shipped["text"]
    assert f'href="{link}"' in shipped["html"]
    # The carrier reports a delay, then the delivery: each becomes one more message.
    post_webhook(
        "generic", generic("x-1", "1Z999AA10123456784", "exception", "2024-05-02T10:00:00Z", description="Weather")
    )
    post_webhook("generic", generic("x-2", "1Z999AA10123456784", "delivered", "2024-05-03T10:00:00Z"))
    post_webhook("generic", generic("x-3", "1Z999AA10123456784", "delivered", "2024-05-03T11:00:00Z"))
    messages = settle("ord_trip", 3)
    assert [m["kind"] for m in messages] == ["shipment.shipped", "shipment.delayed", "shipment.delivered"]
    assert "The carrier reports: Weather" in messages[1]["text"]
    assert link in messages[1]["text"]
    assert messages[2]["subject"] == "Your order EXT-ord_trip has been delivered"


# --- the consumer, invoked directly -----------------------------------------------------


def test_the_same_event_delivered_again_sends_nothing_more(aws):
    seed_order("ord_once", {})
    detail = {"event_id": "evt_delay1", "order_id": "ord_once", "at": "2024-05-06T10:00:00.000Z", "description": "x"}
    event = bridge_event("shipment.delayed", detail)
    assert deliver(event) == {"batchItemFailures": []}
    assert deliver(event) == {"batchItemFailures": []}
    # Published twice by a retried stream batch: a new EventBridge id, the same event.
    assert deliver(bridge_event("shipment.delayed", detail)) == {"batchItemFailures": []}
    assert len(list_outbox("ord_once")) == 1
    marker = Table().get("NOTIFIED#evt_delay1", "NOTIFIED")
    assert marker is not None and marker["status"] == "sent"
    # Another delay of the same parcel is another message.
    deliver(bridge_event("shipment.delayed", {**detail, "event_id": "evt_delay2", "at": "2024-05-07T10:00:00.000Z"}))
    assert len(list_outbox("ord_once")) == 2


def test_events_without_a_template_an_order_or_an_address_send_nothing(aws):
    seed_order("ord_none", {})
    Table().update(keys.order_pk("ord_none"), keys.ORDER_HEADER, "REMOVE customer.email")
    detail = {"event_id": "evt_n1", "order_id": "ord_none", "at": "2024-05-06T10:00:00.000Z"}
    assert notify(DomainEvent.from_json(json.dumps(bridge_event("order.captured", detail)))) is Result.SKIPPED
    assert notify(DomainEvent.from_json(json.dumps(bridge_event("shipment.delayed", detail)))) is Result.SKIPPED
    missing = {**detail, "order_id": "ord_missing", "event_id": "evt_n2"}
    assert notify(DomainEvent.from_json(json.dumps(bridge_event("shipment.delayed", missing)))) is Result.SKIPPED
    assert list_outbox("ord_none") == []


def test_a_body_that_is_no_event_fails_alone(aws):
    seed_order("ord_bad", {})
    good = bridge_event("order.confirmed", {"event_id": "e1", "order_id": "ord_bad", "at": "2024-05-06T10:00:00.000Z"})
    out = notifications.handler(
        {"Records": [sqs_record({"no": "detail"}, "m-bad"), sqs_record(good, "m-good")]},
        CONTEXT,
    )
    assert out == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert len(list_outbox("ord_bad")) == 1


def test_a_claim_left_by_a_dead_attempt_is_taken_over_after_its_lease(aws):
    seed_order("ord_dead", {})
    detail = {"event_id": "evt_d1", "order_id": "ord_dead", "at": "2024-05-06T10:00:00.000Z"}
    event = DomainEvent.from_json(json.dumps(bridge_event("shipment.delayed", detail)))
    Table().put(
        {"pk": "NOTIFIED#evt_d1", "sk": "NOTIFIED", "status": "sending", "claimed_at": "2099-01-01T00:00:00.000Z"}
    )
    assert notify(event) is Result.DUPLICATE  # someone is sending it right now
    Table().put(
        {"pk": "NOTIFIED#evt_d1", "sk": "NOTIFIED", "status": "sending", "claimed_at": "2000-01-01T00:00:00.000Z"}
    )
    assert notify(event) is Result.SENT
    assert notify(event) is Result.DUPLICATE
    assert len(list_outbox("ord_dead")) == 1


def test_ses_transport_sends_from_the_configured_sender(aws, monkeypatch):
    from moto.ses.models import ses_backends

    monkeypatch.setenv("NOTIFICATIONS_TRANSPORT", "ses")
    monkeypatch.setenv("NOTIFICATIONS_SENDER", "orders@shop.example")
    warm_cache.reset_all()
    seed_order("ord_ses", {})
    detail = {"event_id": "evt_s1", "order_id": "ord_ses", "at": "2024-05-06T10:00:00.000Z"}
    event = DomainEvent.from_json(json.dumps(bridge_event("order.confirmed", detail)))
    # An unverified sender: SES refuses the message for good, and it is not retried.
    assert notify(event) is Result.REJECTED
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="orders@shop.example")
    detail2 = {**detail, "order_id": "ord_ses2", "event_id": "evt_s2"}
    seed_order("ord_ses2", {})
    assert notify(DomainEvent.from_json(json.dumps(bridge_event("order.confirmed", detail2)))) is Result.SENT
    (sent,) = ses_backends["123456789012"]["us-east-1"].sent_messages
    assert sent.source == "orders@shop.example"
    assert sent.destinations["ToAddresses"] == [EMAIL]
    assert sent.subject == "Your order EXT-ord_ses2 is confirmed"
    assert list_outbox("ord_ses2") == []


def test_notification_logs_carry_ids_but_no_personal_data(aws, caplog):
    caplog.set_level(logging.DEBUG, logger="oms")
    seed_order("ord_logs", {})
    detail = {"event_id": "evt_l1", "order_id": "ord_logs", "at": "2024-05-06T10:00:00.000Z"}
    deliver(bridge_event("order.confirmed", detail))
    out = "\n".join(logger.registered_formatter.format(record) for record in caplog.records)
    assert "ord_logs" in out
    assert EMAIL not in out and NAME not in out and "Ada" not in out


# --- domain events and templates --------------------------------------------------------


def test_payment_authorized_is_also_published_as_order_confirmed_with_its_own_id():
    item = {
        "type": "event",
        "kind": "payment.authorized",
        "event_id": "evt_1",
        "order_id": "ord_1",
        "at": "2024-05-06T10:00:00.000Z",
        "detail": {"amount": 2000},
    }
    first, confirmed = domain_events(item)
    assert (first["detail_type"], first["detail"]["event_id"]) == ("payment.authorized", "evt_1")
    assert confirmed["detail_type"] == "order.confirmed"
    assert confirmed["detail"]["event_id"] != "evt_1"
    assert confirmed["detail"]["timeline_event_id"] == "evt_1"
    assert confirmed["detail"]["amount"] == 2000
    assert [e["detail_type"] for e in domain_events({**item, "kind": "shipment.shipped"})] == ["shipment.shipped"]
    assert domain_events({**item, "type": "order"}) == []


@pytest.mark.parametrize(
    ("carrier", "url"),
    [
        ("UPS", "https://www.ups.com/track?tracknum=AB%2F1"),
        ("DHL Express", "https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?tracking-id=AB%2F1"),
        ("fedex", "https://www.fedex.com/fedextrack/?trknbr=AB%2F1"),
        ("Acme Freight", "https://track.aftership.com/AB%2F1"),
        (None, "https://track.aftership.com/AB%2F1"),
    ],
)
def test_tracking_links_per_carrier_with_a_generic_fallback(carrier, url):
    assert tracking_url(carrier, "AB/1") == url


def test_money_reads_in_the_currency_minor_units():
    assert money(123456, "EUR") == "1234.56 EUR"
    assert money(5, "USD") == "0.05 USD"
    assert money(1500, "JPY") == "1500 JPY"
    assert money(12345, "KWD") == "12.345 KWD"


def test_html_bodies_escape_what_customers_and_carriers_wrote():
    header = {
        "order_id": "ord_x",
        "external_id": "A&B-1",
        "currency": "EUR",
        "totals": {"total": 100},
        "customer": {"email": EMAIL, "name": "<script>alert(1)</script>"},
    }
    message = render("shipment.delayed", header, {"description": "<img src=x>", "tracking_number": "T1"})
    assert message is not None
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "<img" not in message.html
    assert message.subject == "Your order A&B-1 is delayed"
    assert render("order.captured", header, {}) is None
