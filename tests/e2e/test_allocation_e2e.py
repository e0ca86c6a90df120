"""Allocation through the local stack: no unit promised twice, backorders wait and resume."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from demo.samples import sample_order
from tests.e2e.conftest import put_location, put_stock

pytestmark = pytest.mark.e2e


def _one_unit_order(external_id: str, sku: str) -> dict:
    body = sample_order(random.Random(external_id), "web", external_id, max_lines=1)
    body["lines"] = [{"sku": sku, "quantity": 1, "unit_price": 2500, "tax": 475}]
    body["shipping"]["method"] = "standard"
    body["shipping"].pop("pickup_location_id", None)
    body.pop("promotions", None)
    return body


def _settled(api, order_ids: list[str], wanted: set[str], timeout: float = 90) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    orders: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for order_id in order_ids:
            if orders.get(order_id, {}).get("fulfillment_status") not in wanted:
                orders[order_id] = api.get(f"/v1/orders/{order_id}", key="dev-ops-key").json()
        if all(o["fulfillment_status"] in wanted for o in orders.values()):
            break
        time.sleep(0.5)
    return orders


def test_sixty_concurrent_orders_for_the_last_ten_units(api):
    put_location(api, "wh-last", lat=48.14, lon=11.58)
    put_stock(api, "wh-last", "LAST-UNITS", 10)

    def place(i: int) -> str:
        with requests.Session() as http:
            response = http.post(
                f"{api.base}/v1/orders",
                json=_one_unit_order(f"LAST-{i}", "LAST-UNITS"),
                headers={"x-api-key": "dev-web-key"},
                timeout=120,
            )
        assert response.status_code == 201, response.text
        return str(response.json()["order_id"])

    with ThreadPoolExecutor(8) as pool:
        order_ids = list(pool.map(place, range(60)))
    orders = _settled(api, order_ids, {"allocated", "backordered"})
    statuses = [o["fulfillment_status"] for o in orders.values()]
    assert statuses.count("allocated") == 10, statuses
    assert statuses.count("backordered") == 50
    allocated_units = sum(o["lines"][0]["quantities"]["allocated"] for o in orders.values())
    assert allocated_units == 10
    stock = api.get("/v1/availability", params={"sku": "LAST-UNITS"}).json()
    (row,) = [loc for item in stock["items"] for loc in item["locations"] if loc["location_id"] == "wh-last"]
    assert (row["on_hand"], row["reserved"], row["available"]) == (10, 10, 0)


def test_thirty_concurrent_clients_get_no_5xx_and_exactly_ten_units(api):
    """Concurrent requests run at once in their own environments: none waits past the
    gateway's timeout, and the oversell guard holds with them truly in parallel."""
    put_location(api, "wh-rush", lat=52.37, lon=9.73)
    put_stock(api, "wh-rush", "RUSH-UNITS", 10)
    start = threading.Barrier(30)

    def client(n: int) -> list[tuple[int, str]]:
        answers = []
        with requests.Session() as http:
            start.wait()
            for i in range(n, 60, 30):
                response = http.post(
                    f"{api.base}/v1/orders",
                    json=_one_unit_order(f"RUSH-{i}", "RUSH-UNITS"),
                    headers={"x-api-key": "dev-web-key"},
                    timeout=120,
                )
                answers.append((response.status_code, response.text))
        return answers

    with ThreadPoolExecutor(30) as pool:
        answers = [a for batch in pool.map(client, range(30)) for a in batch]
    assert [a for a in answers if a[0] >= 500] == []
    assert [status for status, _ in answers] == [201] * 60, answers
    order_ids = [json.loads(text)["order_id"] for _, text in answers]
    orders = _settled(api, order_ids, {"allocated", "backordered"})
    statuses = [o["fulfillment_status"] for o in orders.values()]
    assert statuses.count("allocated") == 10, statuses
    assert statuses.count("backordered") == 50
    assert sum(o["lines"][0]["quantities"]["allocated"] for o in orders.values()) == 10


def test_a_backorder_resumes_when_stock_arrives_and_times_out_otherwise(api):
    policy = api.get("/v1/config/routing", key="dev-ops-key").json()
    short = {k: v for k, v in policy.items() if k != "updated_at"} | {"backorder_timeout_seconds": 15}
    assert api.request("PUT", "/v1/config/routing", key="dev-ops-key", json=short).status_code == 200
    try:
        put_location(api, "wh-late", lat=50.94, lon=6.96)
        waiting = api.post("/v1/orders", _one_unit_order("LATE-1", "LATE-SKU")).json()
        abandoned = api.post("/v1/orders", _one_unit_order("LATE-2", "NEVER-SKU")).json()
        _settled(api, [waiting["order_id"], abandoned["order_id"]], {"backordered"})
        put_stock(api, "wh-late", "LATE-SKU", 3)
        resumed = _settled(api, [waiting["order_id"]], {"allocated"})[waiting["order_id"]]
        assert resumed["lines"][0]["quantities"]["allocated"] == 1
        kinds = [e["kind"] for e in api.get(f"/v1/orders/{waiting['order_id']}/timeline").json()["items"]]
        assert kinds[:3] == ["order.captured", "order.backordered", "order.allocated"]

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            gone = api.get(f"/v1/orders/{abandoned['order_id']}").json()
            if gone["status"] == "cancelled":
                break
            time.sleep(0.5)
        assert gone["status"] == "cancelled"
        assert gone["lines"][0]["quantities"]["cancelled"] == 1
        assert gone["lines"][0]["status"] == "cancelled"
    finally:
        api.request(
            "PUT", "/v1/config/routing", key="dev-ops-key", json={k: v for k, v in policy.items() if k != "updated_at"}
        )
