"""The local stack keeps its state across a restart (``serve --data-dir``): orders, stock and
the executions waiting for a token go on where they stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.local.client import local_stack
from tests.e2e.conftest import Api, get_order, put_location, put_stock, wait_for_order

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WMS = "dev-wms-key"  # bound to wh-east


def _order(external_id: str, sku: str) -> dict[str, Any]:
    return {
        "channel": "web",
        "external_id": external_id,
        "customer": {"email": f"{external_id.lower()}@example.com", "name": "Ada Lovelace"},
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price": 2500, "tax": 475}],
        "shipping": {
            "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }


def _allocated_fo(api: Api, order_id: str) -> dict[str, Any]:
    order = wait_for_order(
        api, order_id, lambda o: any(f["status"] == "allocated" for f in o["fulfillment_orders"]), timeout=90
    )
    return next(f for f in order["fulfillment_orders"] if f["status"] == "allocated")


def _ship(api: Api, fo_id: str, tracking: str) -> None:
    for step in ("accept", "pick", "pack"):
        response = api.post(f"/v1/fulfillment-orders/{fo_id}/{step}", {}, key=WMS)
        assert response.status_code == 200, response.text
    body = {"carrier": "generic", "tracking_number": tracking}
    response = api.post(f"/v1/fulfillment-orders/{fo_id}/ship", body, key=WMS)
    assert response.status_code == 201, response.text


def test_orders_stock_and_waiting_executions_survive_a_restart(tmp_path):
    data_dir = str(tmp_path / "state")
    with local_stack(data_dir=data_dir) as first:
        api = Api(first.api_url)
        put_location(api, "wh-east", lat=52.45, lon=13.52)
        put_stock(api, "wh-east", "RESTART-KEPT", 5)
        shipping = api.post("/v1/orders", _order("RESTART-1", "RESTART-KEPT")).json()
        backordered = api.post("/v1/orders", _order("RESTART-2", "RESTART-LATE")).json()
        fo = _allocated_fo(api, shipping["order_id"])  # its execution waits on the fulfillment order
        wait_for_order(api, backordered["order_id"], lambda o: o["fulfillment_status"] == "backordered")
        before = get_order(api, shipping["order_id"])

    assert not Path(first.log_path).exists()  # a stack given no log directory leaves no log behind

    with local_stack(data_dir=data_dir, log_dir=tmp_path / "log") as second:
        api = Api(second.api_url)
        again = get_order(api, shipping["order_id"])
        assert again["totals"] == before["totals"] and again["fulfillment_orders"] == before["fulfillment_orders"]
        assert get_order(api, backordered["order_id"])["fulfillment_status"] == "backordered"
        stock = api.get("/v1/availability", params={"sku": ["RESTART-KEPT"]}).json()
        (east,) = [loc for item in stock["items"] for loc in item["locations"] if loc["location_id"] == "wh-east"]
        assert (east["on_hand"], east["reserved"]) == (5, 1)

        # The execution waiting on the fulfillment order hears the warehouse ship.
        _ship(api, fo["fo_id"], "RESTART1")
        done = wait_for_order(api, shipping["order_id"], lambda o: o["workflow"]["status"] == "SUCCEEDED", 90)
        assert done["status"] == "completed" and done["payment_status"] == "captured"

        # The execution waiting for stock hears it arrive, then ships too.
        put_stock(api, "wh-east", "RESTART-LATE", 2)
        late_fo = _allocated_fo(api, backordered["order_id"])
        _ship(api, late_fo["fo_id"], "RESTART2")
        late = wait_for_order(api, backordered["order_id"], lambda o: o["workflow"]["status"] == "SUCCEEDED", 90)
        assert late["status"] == "completed"
        history = second.aws("stepfunctions").get_execution_history(executionArn=late["workflow"]["execution_arn"])
        entered = [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]
        assert entered.count("WaitForStock") == 2  # once before the restart, once resumed

    assert Path(second.log_path) == tmp_path / "log" / "local-stack.log" and Path(second.log_path).exists()
