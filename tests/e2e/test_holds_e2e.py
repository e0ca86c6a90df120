"""Holds and fraud screening through the local stack's HTTP API: a crafted order is held for
fraud review, nothing is released to a warehouse until an agent releases it, then it ships."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import put_location, put_stock, wait_for_order

pytestmark = pytest.mark.e2e

WMS = "dev-wms-key"  # bound to wh-east, wh-west, wh-central
OPS = "dev-ops-key"
AGENT = "dev-agent-key"


def _order(external_id: str, email: str) -> dict[str, Any]:
    return {
        "channel": "web",
        "external_id": external_id,
        "customer": {"email": email, "name": "Hold Tester"},
        "currency": "EUR",
        "lines": [{"sku": "HOLD-SKU", "quantity": 1, "unit_price": 2500}],
        "shipping": {
            "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }


def test_a_flagged_order_waits_on_its_fraud_hold_until_an_agent_releases_it(api):
    policy = api.get("/v1/config/holds", key=OPS).json()
    original = {k: v for k, v in policy.items() if k != "updated_at"}
    screening = original | {"fraud": original["fraud"] | {"enabled": True, "provider": "local", "threshold": 50}}
    assert api.request("PUT", "/v1/config/holds", key=OPS, json=screening).status_code == 200
    try:
        put_location(api, "wh-east", lat=52.52, lon=13.40)
        put_stock(api, "wh-east", "HOLD-SKU", 50)
        response = api.post("/v1/orders", _order("HOLD-E2E-1", "buyer@mailinator.com"))
        assert response.status_code == 201, response.text
        order_id = response.json()["order_id"]

        held = wait_for_order(api, order_id, lambda o: o["status"] == "on_hold" and o["holds"])
        (hold,) = held["holds"]
        assert hold["reason"] == "fraud_review" and hold["status"] == "active" and hold["placed_by"] == "system"
        time.sleep(2)  # the workflow is parked: nothing reaches a warehouse
        assert api.get(f"/v1/orders/{order_id}", key=OPS).json()["fulfillment_orders"] == []

        release = f"/v1/orders/{order_id}/holds/{hold['hold_id']}/release"
        assert api.post(release, {"note": "called the customer"}, key="dev-web-key").status_code == 403
        first = api.post(release, {"note": "called the customer"}, key=AGENT, headers={"Idempotency-Key": "rel-1"})
        assert first.status_code == 200, first.text
        replay = api.post(release, {"note": "called the customer"}, key=AGENT, headers={"Idempotency-Key": "rel-1"})
        assert replay.json() == first.json()
        assert first.json()["ended_by"] == "agent-1"

        released = wait_for_order(api, order_id, lambda o: len(o["fulfillment_orders"]) == 1, timeout=90)
        assert released["status"] == "open"
        fo_id = released["fulfillment_orders"][0]["fo_id"]
        shipped = api.post(
            f"/v1/fulfillment-orders/{fo_id}/ship", {"carrier": "generic", "tracking_number": "HLD1"}, key=WMS
        )
        assert shipped.status_code == 201, shipped.text
        wait_for_order(api, order_id, lambda o: o["status"] == "completed", timeout=90)

        events = api.get(f"/v1/orders/{order_id}/timeline", key=OPS).json()["items"]
        actors = {e["kind"]: e["actor"] for e in events}
        assert actors["order.captured"] == "channel-web"
        assert actors["order.hold_placed"] == "system"
        assert actors["order.hold_released"] == "agent-1"
        assert actors["shipment.shipped"] == "wms-main"
        kinds = [e["kind"] for e in events]
        assert kinds.index("order.hold_released") < kinds.index("fulfillment.released")
    finally:
        api.request("PUT", "/v1/config/holds", key=OPS, json=original)
