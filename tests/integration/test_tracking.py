"""Carrier tracking webhooks through the local stack: signature, queue, consumer, shipment, order."""

from __future__ import annotations

import json
from typing import Any

import boto3

from functions.fulfill.handlers import carrier_webhooks, tracking_events
from functions.fulfill.logic import tracking as tracking_logic
from functions.fulfill.logic.carriers.model import TrackingEvent
from functions.fulfill.logic.carriers.registry import sign
from functions.fulfill.logic.tracking import adopt_orphans, apply_tracking_event, orphan_pk, shipment_history
from functions.fulfill.rules.views import shipment_view
from infra.local import moto_patches
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from infra.local.runtime import LambdaContext
from shared.order import keys
from shared.process_exceptions import list_exceptions
from shared.table import Table
from tests.integration.conftest import api_event, call, reads_of_partition
from tests.unit.test_carrier_formats import aftership_webhook, easypost_event

T1, T2, T3, T4 = (f"2024-05-0{d}T10:00:00.000Z" for d in range(1, 5))
# Typed loosely: the local runtime's context stands in for Lambda's.
CONTEXT: Any = LambdaContext(function_name="test")


def seed_order(
    order_id: str, parcels: dict[str, str], *, ordered: int = 2, shipped: int = 2, status: str = "shipped"
) -> None:
    """An order with one line and a shipment per ``{shipment_id: tracking_number}``, as the ship step leaves it."""
    table = Table()
    pk = keys.order_pk(order_id)
    table.put(
        {
            "pk": pk,
            "sk": keys.ORDER_HEADER,
            "type": "order",
            "order_id": order_id,
            "channel": "web",
            "external_id": f"EXT-{order_id}",
            "customer_id": "cus_1",
            "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
            "currency": "EUR",
            "status": "open",
            "fulfillment_status": status,
            "payment_status": "captured",
            "totals": {"subtotal": 2000, "discount": 0, "tax": 0, "shipping": 0, "total": 2000},
            "line_count": 1,
            "created_at": T1,
            "updated_at": T1,
        }
    )
    table.put(
        {
            "pk": pk,
            "sk": keys.line_sk(1),
            "type": "line",
            "order_id": order_id,
            "line_id": "ln_1",
            "sku": "TSHIRT-M",
            "quantity": ordered,
            "quantities": {"ordered": ordered, "allocated": ordered, "shipped": shipped},
        }
    )
    for shipment_id, tracking_number in parcels.items():
        table.put(
            {
                "pk": pk,
                "sk": f"SHP#{shipment_id}",
                "type": "shipment",
                "shipment_id": shipment_id,
                "order_id": order_id,
                "fo_id": "fo_1",
                "location_id": "wh-berlin",
                "carrier": "ups",
                "tracking_number": tracking_number,
                "lines": [{"line_id": "ln_1", "sku": "TSHIRT-M", "quantity": 1, "first_unit": 0, "position": 1}],
                "capture_status": "captured",
                "tracking_status": "label_created",
                "shipped_at": T1,
                "created_at": T1,
                "gsi2pk": f"TRACKING#{tracking_number}",
                "gsi2sk": shipment_id,
            }
        )


def generic(event_id: str, tracking_number: str, status: str, at: str, **extra: str) -> dict[str, Any]:
    return {"event_id": event_id, "tracking_number": tracking_number, "status": status, "occurred_at": at, **extra}


def post_webhook(carrier: str, doc: Any, *, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """POST a webhook as the carrier signs it (unless ``headers`` are given) and let the queue deliver it."""
    body = doc if isinstance(doc, str) else json.dumps(doc)
    if headers is None:
        headers = sign(carrier, body, DEV_WEBHOOK_SECRETS.get(carrier, "no-secret"))
    event = api_event(
        "POST",
        f"/v1/webhooks/carriers/{carrier}",
        resource="/v1/webhooks/carriers/{carrier}",
        body=body,
        key=None,
        headers=headers,
        path_parameters={"carrier": carrier},
    )
    answer = call(carrier_webhooks.handler, event)
    assert moto_patches.wait_for_queues(30)
    return answer


def shipment(order_id: str, shipment_id: str) -> dict[str, Any]:
    item = Table().get(keys.order_pk(order_id), f"SHP#{shipment_id}")
    assert item is not None
    return item


def header(order_id: str) -> dict[str, Any]:
    item = Table().get(keys.order_pk(order_id), keys.ORDER_HEADER)
    assert item is not None
    return item


def timeline_kinds(order_id: str) -> list[str]:
    items = Table().query_all(
        "pk = :pk AND begins_with(sk, :e)", {":pk": keys.order_pk(order_id), ":e": "EVENT#"}, consistent=True
    )
    return [i["kind"] for i in items]


def open_exceptions(order_id: str) -> list[dict[str, Any]]:
    items, _ = list_exceptions("open", limit=200, cursor=None)
    return [i for i in items if i["order_id"] == order_id]


def table_items() -> list[dict[str, Any]]:
    out = boto3.client("dynamodb").scan(TableName=Table().name)
    return out["Items"]


def test_forged_unsigned_and_unknown_carrier_webhooks_are_refused_and_nothing_is_stored(aws):
    seed_order("ord_forged", {"shp_f1": "TNFORGED1"})
    moto_patches.wait_for_streams()  # the read models of the seeded order are written before the snapshot
    before = table_items()
    doc = generic("e-1", "TNFORGED1", "delivered", T2)
    body = json.dumps(doc)
    forged = sign("generic", body, "not-the-secret")
    of_another_body = sign(
        "generic", json.dumps(generic("e-2", "TNFORGED1", "in_transit", T2)), DEV_WEBHOOK_SECRETS["generic"]
    )
    for headers in (forged, {}, of_another_body, {"X-OMS-Signature": "sha256="}):
        status, response_headers, problem = post_webhook("generic", body, headers=headers)
        assert status == 401
        assert response_headers["Content-Type"] == "application/problem+json"
        assert problem["status"] == 401
    # EasyPost's header carrying AfterShip's scheme is no signature either.
    ep_body = json.dumps(easypost_event())
    status, _, _ = post_webhook(
        "easypost", ep_body, headers=sign("aftership", ep_body, DEV_WEBHOOK_SECRETS["easypost"])
    )
    assert status == 401
    status, _, problem = post_webhook("acme-freight", body)
    assert status == 404
    assert table_items() == before
    assert shipment("ord_forged", "shp_f1")["tracking_status"] == "label_created"


def test_a_signed_webhook_is_accepted_and_applied_through_the_queue(aws):
    seed_order("ord_ep", {"shp_ep": "9400100000000000000000"})
    status, _, body = post_webhook("easypost", easypost_event("in_transit"))
    assert status == 202
    assert body == {"accepted": 1, "event_ids": ["evt_6f2f3c1a098d11efb6a1ad2d9c0b4b25"]}
    shp = shipment("ord_ep", "shp_ep")
    assert shp["tracking_status"] == "in_transit"
    assert shp["tracking_status_at"] == "2024-04-04T19:10:42.000Z"  # the scan's own time
    assert shp["tracking_location"] == "COLUMBIA, SC"
    (history,) = shipment_history("ord_ep", "shp_ep")
    assert (history["source"], history["status"], history["outcome"]) == ("easypost", "in_transit", "applied")
    assert timeline_kinds("ord_ep") == ["shipment.in_transit"]


def test_an_event_decides_on_the_shipment_its_lookup_read_and_reads_it_again_only_after_a_race(aws, monkeypatch):
    seed_order("ord_rd", {"shp_rd": "TNREAD"})
    reads = reads_of_partition(monkeypatch, keys.order_pk("ord_rd"))
    event = TrackingEvent(
        source="generic", event_id="e-1", tracking_number="TNREAD", status="in_transit", occurred_at=T2
    )
    assert str(apply_tracking_event(event)) == "applied"
    assert reads == [("GetItem", ["SHP#shp_rd"])]  # the lookup's consistent read, and no second one

    # Another event lands between the lookup and the write: the write's condition refuses it,
    # and the retry decides on the shipment as it is now.
    reads.clear()
    lookup = tracking_logic.find_shipments_by_tracking
    raced: list[bool] = []

    def racing_lookup(tracking_number: str, table: Table | None = None) -> list[dict[str, Any]]:
        found = lookup(tracking_number, table)
        if not raced:
            raced.append(True)
            other = TrackingEvent(
                source="generic", event_id="e-2", tracking_number="TNREAD", status="delivered", occurred_at=T4
            )
            assert str(apply_tracking_event(other)) == "applied"
        return found

    monkeypatch.setattr(tracking_logic, "find_shipments_by_tracking", racing_lookup)
    late = TrackingEvent(
        source="generic", event_id="e-3", tracking_number="TNREAD", status="out_for_delivery", occurred_at=T3
    )
    assert str(apply_tracking_event(late)) == "stale"  # decided again: behind "delivered"
    assert reads.count(("GetItem", ["SHP#shp_rd"])) == 3  # the lookup, the racing event's lookup, the retry
    assert shipment("ord_rd", "shp_rd")["tracking_status"] == "delivered"


def test_malformed_but_signed_bodies_are_client_errors(aws):
    status, _, problem = post_webhook("generic", "not json")
    assert (status, problem["status"]) == (400, 400)
    status, _, problem = post_webhook("generic", generic("e-1", "TN", "lost", T1))
    assert status == 422
    assert problem["errors"][0]["field"] == "status"


def test_events_out_of_order_and_duplicated_end_with_the_latest_status(aws):
    seed_order("ord_ooo", {"shp_o": "TNOOO"}, ordered=1, shipped=1)
    arrivals = [
        generic("e-ofd", "TNOOO", "out_for_delivery", T3),
        generic("e-transit", "TNOOO", "in_transit", T2),
        generic("e-ofd", "TNOOO", "out_for_delivery", T3),  # duplicate
        generic("e-delivered", "TNOOO", "delivered", T4, location="Hamburg"),
        generic("e-label", "TNOOO", "label_created", T1),
        generic("e-transit", "TNOOO", "in_transit", T2),  # duplicate
        generic("e-late-exception", "TNOOO", "exception", "2024-05-03T12:00:00.000Z"),  # older than delivered
    ]
    for doc in arrivals:
        assert post_webhook("generic", doc)[0] == 202
    shp = shipment("ord_ooo", "shp_o")
    assert (shp["tracking_status"], shp["tracking_status_at"], shp["delivered_at"]) == ("delivered", T4, T4)
    history = shipment_history("ord_ooo", "shp_o")
    assert [h["event_id"] for h in history] == ["e-label", "e-transit", "e-ofd", "e-late-exception", "e-delivered"]
    assert timeline_kinds("ord_ooo") == ["shipment.out_for_delivery", "shipment.delivered", "order.delivered"]
    assert header("ord_ooo")["fulfillment_status"] == "delivered"
    assert open_exceptions("ord_ooo") == []


def test_a_redelivered_queue_message_changes_nothing(aws):
    seed_order("ord_dup", {"shp_d": "TNDUP"}, ordered=1, shipped=1)
    body = json.dumps(
        {
            "source": "generic",
            "event_id": "e-1",
            "tracking_number": "TNDUP",
            "status": "delivered",
            "occurred_at": T2,
        }
    )
    record = {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": aws.queues["CarrierEvents"].arn,
        "awsRegion": "us-east-1",
    }
    broken = {**record, "messageId": "m-2", "body": '{"not": "an event"}'}
    for _ in range(2):
        out = tracking_events.handler({"Records": [record, broken]}, CONTEXT)
        assert out == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert len(shipment_history("ord_dup", "shp_d")) == 1
    assert timeline_kinds("ord_dup") == ["shipment.delivered", "order.delivered"]


def test_the_order_is_delivered_only_when_every_shipment_is(aws):
    seed_order("ord_two", {"shp_a": "TNA", "shp_b": "TNB"})
    post_webhook("generic", generic("a-1", "TNA", "delivered", T2))
    assert shipment("ord_two", "shp_a")["tracking_status"] == "delivered"
    assert header("ord_two")["fulfillment_status"] == "shipped"
    post_webhook("generic", generic("b-1", "TNB", "in_transit", T2))
    assert header("ord_two")["fulfillment_status"] == "shipped"
    post_webhook("generic", generic("b-2", "TNB", "delivered", T3))
    head = header("ord_two")
    assert (head["fulfillment_status"], head["delivered_at"]) == ("delivered", T3)
    assert timeline_kinds("ord_two").count("order.delivered") == 1


def test_units_left_to_ship_keep_the_order_from_delivered(aws):
    seed_order("ord_partial", {"shp_p": "TNP"}, ordered=3, shipped=2, status="partially_shipped")
    post_webhook("generic", generic("p-1", "TNP", "delivered", T2))
    assert shipment("ord_partial", "shp_p")["tracking_status"] == "delivered"
    assert header("ord_partial")["fulfillment_status"] == "partially_shipped"
    assert "order.delivered" not in timeline_kinds("ord_partial")


def test_exception_and_return_to_sender_open_a_process_exception(aws):
    seed_order("ord_exc", {"shp_x": "1Z9999W99999999999"}, ordered=1, shipped=1)
    doc = aftership_webhook("Exception", "Exception_004")
    doc["msg"]["checkpoints"][-1]["message"] = "Held at customs"
    assert post_webhook("aftership", doc)[0] == 202
    shp = shipment("ord_exc", "shp_x")
    assert (shp["tracking_status"], shp["tracking_description"]) == ("exception", "Held at customs")
    (exc,) = open_exceptions("ord_exc")
    assert (exc["step"], exc["error"], exc["retry"]["action"]) == ("CarrierTracking", "exception", "none")
    assert "Held at customs" in exc["cause"]
    assert "shipment.delayed" in timeline_kinds("ord_exc")
    # The carrier gives up and sends it back: still one open exception for the order's step.
    returned = easypost_event("return_to_sender", details=[], tracking_code="1Z9999W99999999999")
    returned["result"]["updated_at"] = "2024-05-09T10:00:00Z"
    assert post_webhook("easypost", returned)[0] == 202
    assert shipment("ord_exc", "shp_x")["tracking_status"] == "returned_to_sender"
    assert len(open_exceptions("ord_exc")) == 1
    assert header("ord_exc")["fulfillment_status"] == "shipped"


def test_events_before_their_shipment_are_kept_and_applied_once_it_exists(aws):
    status, _, _ = post_webhook("generic", generic("early-1", "TNLATE", "in_transit", T2))
    assert status == 202
    orphans = list(Table().query_all("pk = :pk", {":pk": orphan_pk("TNLATE")}, consistent=True))
    assert [o["event"]["event_id"] for o in orphans] == ["early-1"]
    seed_order("ord_late", {"shp_l": "TNLATE"}, ordered=1, shipped=1)
    assert adopt_orphans("TNLATE") == 1
    assert shipment("ord_late", "shp_l")["tracking_status"] == "in_transit"
    assert list(Table().query_all("pk = :pk", {":pk": orphan_pk("TNLATE")}, consistent=True)) == []
    post_webhook("generic", generic("late-2", "TNLATE", "delivered", T4))
    assert [h["event_id"] for h in shipment_history("ord_late", "shp_l")] == ["early-1", "late-2"]
    assert header("ord_late")["fulfillment_status"] == "delivered"


def test_an_orphan_is_adopted_by_the_next_event_of_its_number(aws):
    post_webhook("generic", generic("o-1", "TNNEXT", "out_for_delivery", T3))
    seed_order("ord_next", {"shp_n": "TNNEXT"}, ordered=1, shipped=1)
    post_webhook("generic", generic("o-2", "TNNEXT", "in_transit", T2))
    shp = shipment("ord_next", "shp_n")
    assert (shp["tracking_status"], shp["tracking_status_at"]) == ("out_for_delivery", T3)
    assert [h["event_id"] for h in shipment_history("ord_next", "shp_n")] == ["o-2", "o-1"]


def test_the_shipment_keeps_only_the_latest_events_text_and_its_time_once(aws):
    seed_order("ord_text", {"shp_t": "TNTEXT"}, ordered=1, shipped=1)
    assert post_webhook("generic", generic("e-1", "TNTEXT", "in_transit", T2, location="Hamburg"))[0] == 202
    assert shipment("ord_text", "shp_t")["tracking_location"] == "Hamburg"
    assert post_webhook("generic", generic("e-2", "TNTEXT", "delivered", T4))[0] == 202
    shp = shipment("ord_text", "shp_t")
    assert (shp["tracking_status"], shp["tracking_status_at"]) == ("delivered", T4)
    # Nothing of the earlier event's location, no empty strings, the time stored once.
    assert not {"tracking_location", "tracking_description", "tracking_updated_at"} & set(shp)
    view = shipment_view(shp)
    assert (view["tracking_status"], view["tracking_updated_at"]) == ("delivered", T4)
