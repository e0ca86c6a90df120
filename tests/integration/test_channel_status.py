"""Status back to Shopify on moto: shipments, cancellations and refunds of a Shopify order
told to a fake Shopify Admin API once each, retried when Shopify cannot answer, and a
process exception (nothing lost) when it refuses or never answers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from demo.fake_shopify import FakeShopifyAdmin
from functions.channels.logic import channel_status
from functions.channels.logic.shopify_admin import HttpShopifyAdmin
from functions.channels.store import status_update_key
from infra.local.dev_credentials import DEV_SHOPIFY_ADMIN_TOKEN
from infra.local.provision import LocalResources
from shared.order.record import load_order
from shared.table import Table
from tests.integration.conftest import reads_of_partition
from tests.integration.test_capture_api import order_body, post
from tests.integration.test_shopify_webhooks import FIXTURES, deliver, sample_body


@pytest.fixture
def shopify(aws: LocalResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShopifyAdmin]:
    with FakeShopifyAdmin(port=0) as fake:
        monkeypatch.setattr(
            channel_status, "admin_for", lambda shop, config: HttpShopifyAdmin(shop, DEV_SHOPIFY_ADMIN_TOKEN, fake.url)
        )
        yield fake


def captured_sample(fake: FakeShopifyAdmin) -> dict[str, Any]:
    order = json.loads((FIXTURES / "order_get.json").read_text())["order"]
    fake.add_order(order)
    status, _, out = deliver(sample_body(), "orders/create", webhook_id=str(uuid.uuid4()))
    assert status == 200, out
    record = load_order(out["order_id"])
    assert record
    return {"order_id": out["order_id"], "lines": record.lines}


def shipped_event(order: dict[str, Any], tracking: str, event_id: str | None = None) -> dict[str, Any]:
    lines = [{"line_id": ln["line_id"], "sku": ln["sku"], "quantity": int(ln["quantity"])} for ln in order["lines"]]
    detail = {
        "event_id": event_id or f"evt_{uuid.uuid4().hex}",
        "order_id": order["order_id"],
        "carrier": "dhl",
        "tracking_number": tracking,
        "lines": lines,
    }
    return {"detail-type": "shipment.shipped", "detail": detail}


def sync_record(order_id: str, event_id: str) -> dict[str, Any] | None:
    return Table().get(*status_update_key(order_id, event_id))


def open_exceptions(order_id: str) -> list[dict[str, Any]]:
    found = Table().query_all("gsi1pk = :p", {":p": "EXCEPTIONS#open"}, index="gsi1")
    return [e for e in found if e["order_id"] == order_id and e["step"] == "ChannelStatus"]


def test_a_shipment_is_told_to_shopify_once_with_its_tracking(shopify: FakeShopifyAdmin) -> None:
    order = captured_sample(shopify)
    event = shipped_event(order, "JD0142")
    out = channel_status.handle_message(event)
    assert out["result"] == "sent", out
    creates = [c for c in shopify.calls if c["operation"] == "fulfillmentCreate"]
    assert len(creates) == 1
    fulfillment = creates[0]["variables"]["fulfillment"]
    assert fulfillment["trackingInfo"] == {"company": "DHL Express", "number": "JD0142"}
    assert (
        sum(li["quantity"] for g in fulfillment["lineItemsByFulfillmentOrder"] for li in g["fulfillmentOrderLineItems"])
        == 3
    )
    # The same event again: already sent. The same shipment under another event id (a
    # replay after a lost record): Shopify already has its tracking number, nothing created.
    assert channel_status.handle_message(event)["result"] == "duplicate"
    again = channel_status.handle_message(shipped_event(order, "JD0142"))
    assert again["result"] == "sent" and again["found"] is True
    assert shopify.operations().count("fulfillmentCreate") == 1
    timeline = Table().query_all(
        "pk = :pk AND begins_with(sk, :e)", {":pk": f"ORDER#{order['order_id']}", ":e": "EVENT#"}
    )
    assert any(i["kind"] == "channel.status_sent" for i in timeline)


@pytest.mark.slow
def test_shopify_unavailable_is_retried_through_the_queue_until_it_answers(shopify: FakeShopifyAdmin) -> None:
    order = captured_sample(shopify)
    shopify.fail_next = 2
    event = shipped_event(order, "JD0143")
    assert channel_status.handle_message(event)["result"] == "retrying"
    # The queue brings the next attempts to the ChannelStatusSync consumer.
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and (sync_record(order["order_id"], event["detail"]["event_id"]) or {}).get("status") != "sent"
    ):
        time.sleep(0.5)
    record = sync_record(order["order_id"], event["detail"]["event_id"])
    assert record and record["status"] == "sent" and record["attempts"] == 3
    assert shopify.operations().count("fulfillmentCreate") == 1
    assert open_exceptions(order["order_id"]) == []


def test_a_refusal_or_endless_unavailability_becomes_a_process_exception(
    shopify: FakeShopifyAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = captured_sample(shopify)
    refund = {
        "detail-type": "payment.refunded",
        "detail": {
            "event_id": "evt_refund_1",
            "order_id": order["order_id"],
            "amount": 1000,
            "status": "issued",
            "credit_memo_id": "cm_1",
        },
    }
    shopify.orders.clear()  # Shopify no longer knows the order: it refuses
    assert channel_status.handle_message(refund)["result"] == "failed"
    assert sync_record(order["order_id"], "evt_refund_1")["status"] == "failed"  # type: ignore[index]
    assert len(open_exceptions(order["order_id"])) == 1
    # Never answering: parked after the last attempt, the event kept with the record.
    monkeypatch.setattr(channel_status, "MAX_ATTEMPTS", 2)
    shopify.fail_next = 100
    cancel = {
        "detail-type": "order.cancelled",
        "detail": {"event_id": "evt_cancel_1", "order_id": order["order_id"], "reason": "customer asked"},
    }
    assert channel_status.handle_message({"status_update": cancel, "attempt": 2})["result"] == "failed"
    assert sync_record(order["order_id"], "evt_cancel_1")["status"] == "failed"  # type: ignore[index]


def test_a_cancellation_shopify_asked_for_is_not_sent_back_and_ours_is(shopify: FakeShopifyAdmin) -> None:
    order = captured_sample(shopify)
    theirs = {
        "detail-type": "order.cancelled",
        "detail": {"event_id": "evt_c1", "order_id": order["order_id"], "reason": "cancelled on Shopify (customer)"},
    }
    assert channel_status.handle_message(theirs)["result"] == "from_the_platform"
    ours = {
        "detail-type": "order.cancelled",
        "detail": {"event_id": "evt_c2", "order_id": order["order_id"], "reason": "out of stock"},
    }
    assert channel_status.handle_message(ours)["result"] == "sent"
    cancels = [c for c in shopify.calls if c["operation"] == "orderCancel"]
    assert len(cancels) == 1 and cancels[0]["variables"]["orderId"] == "gid://shopify/Order/450789469"
    assert next(iter(shopify.orders.values()))["cancelled"] is True


def test_an_order_of_no_platform_is_told_nowhere_on_a_read_of_its_header_alone(
    aws: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _, order = post(order_body("NO-PLATFORM-1"))
    assert status == 201
    reads = reads_of_partition(monkeypatch, f"ORDER#{order['order_id']}")
    event = shipped_event({"order_id": order["order_id"], "lines": []}, "TN-NOWHERE")
    assert channel_status.sync_status(event, attempt=1) == {"result": "not_a_platform_order"}
    assert reads == [("GetItem", ["HEADER"])]
