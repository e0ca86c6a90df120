"""End-to-end store pickup through the local stack: collected with its code, and a no-show."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from infra.manifest import LOCAL_PREFIX
from tests.e2e.conftest import put_location, put_stock, wait_for_order

pytestmark = pytest.mark.e2e

STORE = "store-milan"  # one of the dev-stores-key's locations
STORES_KEY = "dev-stores-key"
SKU = "PICKUP-E2E-LAMP"  # stocked only at this store, so no other test's order is routed here
CODE = re.compile(r"Your pickup code: ([A-Z0-9]{4}-[A-Z0-9]{4})")


@pytest.fixture(scope="module")
def store(api):
    # Far from every other test's customers, and the only holder of its SKU.
    put_location(api, STORE, lat=45.46, lon=9.19, kind="store")
    put_stock(api, STORE, SKU, 10)
    return api


def _pickup_order(api, external_id: str) -> dict[str, Any]:
    body = {
        "channel": "web",
        "external_id": external_id,
        "customer": {"email": f"{external_id.lower()}@example.com", "name": "Grace Hopper"},
        "currency": "EUR",
        "lines": [{"sku": SKU, "quantity": 2, "unit_price": 2450, "tax": 400}],
        "shipping": {
            "address": {"line1": "Via Dante 1", "city": "Milano", "postal_code": "20121", "country": "IT"},
            "method": "pickup",
            "amount": 0,
            "pickup_location_id": STORE,
        },
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }
    response = api.post("/v1/orders", body, headers={"Idempotency-Key": external_id})
    assert response.status_code == 201, response.text
    order = wait_for_order(api, response.json()["order_id"], lambda o: bool(o["fulfillment_orders"]), 90)
    [fo] = order["fulfillment_orders"]
    assert fo["location_id"] == STORE and fo["delivery_group"] == "pickup"
    return order


def _available(api) -> int:
    response = api.get(f"/v1/availability?sku={SKU}&location_id={STORE}", key="dev-ops-key")
    assert response.status_code == 200, response.text
    return int(response.json()["items"][0]["available_to_promise"])


def _code(stack, order_id: str, timeout: float = 60) -> str:
    """The pickup code in the customer's e-mail (the local stack's outbox)."""
    dynamodb = stack.aws("dynamodb")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = dynamodb.query(
            TableName=f"{LOCAL_PREFIX}Table",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"OUTBOX#{order_id}"}},
        )["Items"]
        for item in items:
            if item["kind"]["S"] == "fulfillment.ready_for_pickup":
                found = CODE.search(item["text"]["S"])
                assert found, item["text"]["S"]
                return found.group(1)
        time.sleep(0.3)
    raise AssertionError(f"no pickup code was e-mailed for {order_id}")


def _policy(api, **values: Any) -> None:
    response = api.request("PUT", "/v1/config/pickup", key="dev-ops-key", json=values)
    assert response.status_code == 200, response.text


def test_a_pickup_order_completes_without_a_tracking_number(store, stack):
    api = store
    order = _pickup_order(api, f"PICKUP-{uuid.uuid4().hex[:8]}")
    fo_id = order["fulfillment_orders"][0]["fo_id"]
    ready = api.post(f"/v1/fulfillment-orders/{fo_id}/ready-for-pickup", key=STORES_KEY)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready_for_pickup"
    code = _code(stack, order["order_id"])

    wrong = api.post(f"/v1/fulfillment-orders/{fo_id}/picked-up", {"pickup_code": "ZZZZ-ZZZZ"}, key=STORES_KEY)
    assert wrong.status_code == 422 and wrong.json()["attempts_left"] >= 1, wrong.text
    handover = api.post(
        f"/v1/fulfillment-orders/{fo_id}/picked-up",
        {"pickup_code": code},
        key=STORES_KEY,
        headers={"Idempotency-Key": f"pickup-{fo_id}"},
    )
    assert handover.status_code == 201, handover.text
    assert handover.json()["tracking_number"] is None and handover.json()["carrier"] is None

    done = wait_for_order(api, order["order_id"], lambda o: o["status"] == "completed" and bool(o["invoices"]), 90)
    assert done["fulfillment_status"] == "delivered"
    assert done["payment_status"] == "captured"
    [shipment] = done["shipments"]
    assert shipment["tracking_number"] is None and shipment["method"] == "pickup"
    [invoice] = done["invoices"]
    assert invoice["amount"] == done["totals"]["total"]
    assert [f["status"] for f in done["fulfillment_orders"]] == ["picked_up"]


def test_a_no_show_is_cancelled_voided_and_restocked(store, stack):
    api = store
    before = _available(api)
    _policy(api, no_show_after_days=3 / 86_400)  # three seconds
    try:
        order = _pickup_order(api, f"NOSHOW-{uuid.uuid4().hex[:8]}")
        assert _available(api) == before - 2
        fo_id = order["fulfillment_orders"][0]["fo_id"]
        ready = api.post(f"/v1/fulfillment-orders/{fo_id}/ready-for-pickup", key=STORES_KEY)
        assert ready.status_code == 200, ready.text
    finally:
        _policy(api)  # the defaults again, for whatever runs next
    cancelled = wait_for_order(
        api, order["order_id"], lambda o: o["status"] == "cancelled" and o["payment_status"] == "voided", 90
    )
    sfn = stack.aws("stepfunctions")
    arn = cancelled["workflow"]["execution_arn"]
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert "CancelUncollectedPickup" in entered
    assert [c["reason"] for c in cancelled["changes"]] == ["pickup_not_collected"]
    assert cancelled["payment_status"] == "voided", cancelled["payment_summary"]
    assert cancelled["invoices"] == [] and cancelled["shipments"] == []
    assert [f["status"] for f in cancelled["fulfillment_orders"]] == ["cancelled"]
    assert _available(api) == before
