"""The order lifecycle past allocation, through the local stack's HTTP API only.

Payments (sandbox gateway), the WMS working fulfillment orders, carriers posting tracking
events: each test plays the outside world the way real clients would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from typing import Any

import pytest

from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from tests.e2e.conftest import put_location, put_stock, wait_for_order

pytestmark = pytest.mark.e2e

WMS = "dev-wms-key"  # bound to wh-east, wh-west, wh-central


def _order(external_id: str, lines: list[dict[str, Any]], *, token: str = "tok_visa", promotion: int = 0) -> dict:
    body: dict[str, Any] = {
        "channel": "web",
        "external_id": external_id,
        "customer": {"email": f"{external_id.lower()}@example.com", "name": "Ada Lovelace"},
        "currency": "EUR",
        "lines": lines,
        "shipping": {
            "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "payment": {"provider": "sandbox", "token": token},
    }
    if promotion:
        body["promotions"] = [{"code": "WELCOME", "amount": promotion}]
    return body


def _open_fos(api, order_id: str, count: int, timeout: float = 90) -> list[dict]:
    order = wait_for_order(
        api,
        order_id,
        lambda o: len([f for f in o["fulfillment_orders"] if f["status"] == "allocated"]) >= count,
        timeout,
    )
    return [f for f in order["fulfillment_orders"] if f["status"] == "allocated"]


def _work(api, fo_id: str) -> None:
    for step in ("accept", "pick", "pack"):
        response = api.post(f"/v1/fulfillment-orders/{fo_id}/{step}", {}, key=WMS)
        assert response.status_code == 200, response.text


def _ship(api, fo_id: str, tracking: str, lines: list[dict] | None = None) -> dict:
    body: dict[str, Any] = {"carrier": "generic", "tracking_number": tracking}
    if lines:
        body["lines"] = lines
    response = api.post(f"/v1/fulfillment-orders/{fo_id}/ship", body, key=WMS)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _carrier_event(api, tracking: str, status: str, at: str, event_id: str, *, secret: str | None = None):
    body = json.dumps({"event_id": event_id, "tracking_number": tracking, "status": status, "occurred_at": at}).encode()
    key = (secret or DEV_WEBHOOK_SECRETS["generic"]).encode()
    signature = hmac.new(key, body, hashlib.sha256).hexdigest()
    return api.request(
        "POST",
        "/v1/webhooks/carriers/generic",
        key=None,
        data=body,
        headers={"X-OMS-Signature": f"sha256={signature}", "Content-Type": "application/json"},
    )


def _entered_until(stack, order: dict, state: str, timeout: float = 30) -> list[str]:
    """The states entered once the execution has entered ``state`` last (it moves on after
    what the test watches, the capture, is written)."""
    deadline = time.monotonic() + timeout
    while (entered := _entered(stack, order))[-1] != state and time.monotonic() < deadline:
        time.sleep(0.3)
    return entered


def _entered(stack, order: dict) -> list[str]:
    """The states the order's execution entered, in order: each is a paid transition."""
    history = stack.aws("stepfunctions").get_execution_history(executionArn=order["workflow"]["execution_arn"])
    return [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]


@pytest.fixture(scope="module")
def network(api):
    put_location(api, "wh-east", lat=52.45, lon=13.52)
    put_location(api, "wh-west", lat=51.51, lon=7.47)
    for sku in ("LC-ONLY-EAST", "LC-BOTH"):
        put_stock(api, "wh-east", sku, 500)
    for sku in ("LC-ONLY-WEST", "LC-BOTH"):
        put_stock(api, "wh-west", sku, 500)
    return api


def test_a_split_order_ships_twice_and_each_shipment_is_captured_and_invoiced(network, stack):
    api = network
    lines = [
        {"sku": "LC-ONLY-EAST", "quantity": 2, "unit_price": 1999, "tax": 760},
        {"sku": "LC-ONLY-WEST", "quantity": 1, "unit_price": 4999, "tax": 950},
    ]
    order = api.post("/v1/orders", _order("LC-SPLIT-1", lines, promotion=700)).json()
    total = order["totals"]["total"]
    fos = _open_fos(api, order["order_id"], 2)
    assert sorted(f["location_id"] for f in fos) == ["wh-east", "wh-west"]
    authorized = api.get(f"/v1/orders/{order['order_id']}").json()
    assert authorized["payment_status"] == "authorized"
    assert authorized["payment_summary"]["authorized"] == total

    first, second = sorted(fos, key=lambda f: f["location_id"])
    _work(api, first["fo_id"])
    _ship(api, first["fo_id"], "LCSPLIT1E")
    partly = wait_for_order(api, order["order_id"], lambda o: len(o["invoices"]) == 1)
    assert partly["payment_status"] == "partially_captured"
    east_line = next(x for x in partly["lines"] if x["sku"] == "LC-ONLY-EAST")
    # The invoice carries the line and its share of shipping (the line total leaves shipping out).
    assert partly["invoices"][0]["amount"] == east_line["total"] + east_line["shipping"]

    _work(api, second["fo_id"])
    _ship(api, second["fo_id"], "LCSPLIT1W")
    done = wait_for_order(api, order["order_id"], lambda o: o["workflow"]["status"] == "SUCCEEDED")
    assert done["status"] == "completed"
    assert done["payment_status"] == "captured"
    assert len(done["shipments"]) == 2 and len(done["invoices"]) == 2
    assert sum(i["amount"] for i in done["invoices"]) == total
    assert done["payment_summary"]["captured"] == total
    assert done["payment_summary"]["balance"] == 0
    assert [q["quantities"]["shipped"] for q in done["lines"]] == [2, 1]
    stock = api.get("/v1/availability", params={"sku": ["LC-ONLY-EAST"]}).json()
    (east,) = [loc for item in stock["items"] for loc in item["locations"] if loc["location_id"] == "wh-east"]
    assert (east["on_hand"], east["reserved"]) == (498, 0)
    # Two fulfillment orders: AdvanceOrder branches to the Map, which waits on both at once.
    assert Counter(_entered(stack, order)) == Counter(
        ["AdvanceOrder", "ReadParkedOutcome", "ReadParkedStep", "NextOrderStep", "FulfillEach"]
        + ["AwaitEachFulfillment", "SettleEachFulfillmentOrder"] * 2
    )


def test_a_declined_payment_fails_the_order_and_releases_its_stock(network):
    api = network
    put_stock(api, "wh-east", "LC-DECLINE", 3)
    order = api.post(
        "/v1/orders",
        _order("LC-DECLINE-1", [{"sku": "LC-DECLINE", "quantity": 3, "unit_price": 1000}], token="tok_decline"),
    ).json()
    failed = wait_for_order(api, order["order_id"], lambda o: o["workflow"]["status"] == "FAILED")
    assert failed["status"] == "failed"
    assert failed["payment_status"] == "failed"
    assert failed["fulfillment_orders"] == []
    kinds = [e["kind"] for e in api.get(f"/v1/orders/{order['order_id']}/timeline").json()["items"]]
    assert "payment.declined" in kinds and "order.reservations_released" in kinds
    stock = api.get("/v1/availability", params={"sku": ["LC-DECLINE"]}).json()
    assert stock["items"][0]["available_to_promise"] == 3


def test_a_transient_gateway_failure_recovers(network):
    api = network
    order = api.post(
        "/v1/orders",
        _order("LC-TRANSIENT-1", [{"sku": "LC-BOTH", "quantity": 1, "unit_price": 2500}], token="tok_transient"),
    ).json()
    ready = wait_for_order(
        api, order["order_id"], lambda o: o["payment_status"] == "authorized" and o["fulfillment_orders"]
    )
    assert ready["payment_summary"]["authorized"] == order["totals"]["total"]
    assert ready["status"] == "open"


def test_a_rejected_fulfillment_order_is_routed_elsewhere_and_still_ships(network, stack):
    api = network
    order = api.post(
        "/v1/orders", _order("LC-REJECT-1", [{"sku": "LC-BOTH", "quantity": 2, "unit_price": 1500}])
    ).json()
    (fo,) = _open_fos(api, order["order_id"], 1)
    rejected = api.post(f"/v1/fulfillment-orders/{fo['fo_id']}/reject", {"reason": "damaged stock"}, key=WMS)
    assert rejected.status_code == 200, rejected.text
    rerouted = wait_for_order(
        api,
        order["order_id"],
        lambda o: any(
            f["status"] == "allocated" and f["location_id"] != fo["location_id"] for f in o["fulfillment_orders"]
        ),
    )
    (again,) = [f for f in rerouted["fulfillment_orders"] if f["status"] == "allocated"]
    _work(api, again["fo_id"])
    _ship(api, again["fo_id"], "LCREJECT1")
    done = wait_for_order(api, order["order_id"], lambda o: o["workflow"]["status"] == "SUCCEEDED")
    assert done["status"] == "completed"
    assert done["payment_summary"]["captured"] == order["totals"]["total"]
    assert {f["status"] for f in done["fulfillment_orders"]} == {"rejected", "fulfilled"}
    # One fulfillment order at a time: the single way twice, no Map.
    assert _entered(stack, order) == ["AdvanceOrder", "SettleFulfillmentOrder"] * 2


def test_a_parcel_is_captured_while_a_rejected_unit_waits_for_stock(network, stack):
    api = network
    put_stock(api, "wh-east", "LC-EAST-LAST", 1)
    lines = [
        {"sku": "LC-EAST-LAST", "quantity": 1, "unit_price": 1999},
        {"sku": "LC-ONLY-WEST", "quantity": 1, "unit_price": 4999},
    ]
    order = api.post("/v1/orders", _order("LC-REJ-WAIT-1", lines)).json()
    order_id = order["order_id"]
    east, west = sorted(_open_fos(api, order_id, 2), key=lambda f: f["location_id"])
    rejected = api.post(f"/v1/fulfillment-orders/{east['fo_id']}/reject", {"reason": "damaged"}, key=WMS)
    assert rejected.status_code == 200, rejected.text
    wait_for_order(api, order_id, lambda o: o["fulfillment_status"] == "backordered")

    # No other location stocks the rejected unit; the west parcel is captured when it ships.
    _work(api, west["fo_id"])
    _ship(api, west["fo_id"], "LCREJWAIT1W")
    partly = wait_for_order(api, order_id, lambda o: o["payment_status"] == "partially_captured")
    assert [s["capture_status"] for s in partly["shipments"]] == ["captured"]
    assert partly["status"] == "open"
    assert _entered_until(stack, order, "WaitForStock")[-1] == "WaitForStock"

    put_stock(api, "wh-west", "LC-EAST-LAST", 1)  # the stock wait resumes and the unit ships from there
    (again,) = [f for f in _open_fos(api, order_id, 1) if f["location_id"] == "wh-west"]
    _work(api, again["fo_id"])
    _ship(api, again["fo_id"], "LCREJWAIT1E")
    done = wait_for_order(api, order_id, lambda o: o["workflow"]["status"] == "SUCCEEDED")
    assert (done["status"], done["payment_summary"]["captured"]) == ("completed", order["totals"]["total"])


def test_parcels_of_several_fulfillment_orders_are_captured_while_a_rejected_unit_waits(network, stack):
    api = network
    put_location(api, "wh-central", lat=50.11, lon=8.68)
    put_stock(api, "wh-east", "LC-EAST-LAST-2", 1)
    put_stock(api, "wh-central", "LC-ONLY-CENTRAL", 5)
    lines = [
        {"sku": "LC-EAST-LAST-2", "quantity": 1, "unit_price": 1999},
        {"sku": "LC-ONLY-WEST", "quantity": 1, "unit_price": 4999},
        {"sku": "LC-ONLY-CENTRAL", "quantity": 2, "unit_price": 2500},
    ]
    order = api.post("/v1/orders", _order("LC-REJ-WAIT-2", lines)).json()
    order_id = order["order_id"]
    fos = {f["location_id"]: f["fo_id"] for f in _open_fos(api, order_id, 3)}
    rejected = api.post(f"/v1/fulfillment-orders/{fos['wh-east']}/reject", {"reason": "damaged"}, key=WMS)
    assert rejected.status_code == 200, rejected.text
    wait_for_order(api, order_id, lambda o: o["fulfillment_status"] == "backordered")

    for location, tracking in (("wh-west", "LCREJWAIT2W"), ("wh-central", "LCREJWAIT2C")):
        _work(api, fos[location])
        _ship(api, fos[location], tracking)
    waiting = order["lines"][0]  # all is captured but this unit and its share of shipping
    captured = order["totals"]["total"] - waiting["total"] - waiting["shipping"]
    partly = wait_for_order(
        api, order_id, lambda o: [s["capture_status"] for s in o["shipments"]] == ["captured", "captured"]
    )
    assert (partly["status"], partly["payment_summary"]["captured"]) == ("open", captured)
    entered = _entered_until(stack, order, "WaitForStock")
    # The two still open are waited on in a Map after the re-routing, then the order waits for stock.
    assert entered.count("FulfillEach") == 2 and entered[-1] == "WaitForStock"


def test_carrier_events_out_of_order_and_twice_end_right_and_forgeries_are_refused(network):
    api = network
    order = api.post(
        "/v1/orders", _order("LC-TRACK-1", [{"sku": "LC-ONLY-EAST", "quantity": 1, "unit_price": 999}])
    ).json()
    (fo,) = _open_fos(api, order["order_id"], 1)
    _work(api, fo["fo_id"])
    _ship(api, fo["fo_id"], "LCTRACK1")
    forged = _carrier_event(api, "LCTRACK1", "delivered", "2026-11-22T10:00:00Z", "forged-1", secret="not-the-secret")
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")
    for status, at, event_id in [
        ("delivered", "2026-11-23T15:00:00Z", "e3"),
        ("in_transit", "2026-11-22T18:00:00Z", "e1"),
        ("delivered", "2026-11-23T15:00:00Z", "e3"),
        ("out_for_delivery", "2026-11-23T08:00:00Z", "e2"),
    ]:
        assert _carrier_event(api, "LCTRACK1", status, at, event_id).status_code == 202
    done = wait_for_order(api, order["order_id"], lambda o: o["fulfillment_status"] == "delivered")
    (shipment,) = done["shipments"]
    assert shipment["tracking_status"] == "delivered"
    time.sleep(1.0)  # the older events, still queued, must not move it back
    assert api.get(f"/v1/orders/{order['order_id']}").json()["shipments"][0]["tracking_status"] == "delivered"
