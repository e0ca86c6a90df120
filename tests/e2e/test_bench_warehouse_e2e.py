"""The lifecycle benchmark's WMS hears of its fulfillment orders from the outbound webhook,
verified, each taken once, and works them to delivery through the HTTP API."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import pytest

from shared.clock import now, now_iso
from tests.benchmarks.load_clients import LOCATION, NotifiedWarehouse
from tests.e2e.conftest import put_location, put_stock, wait_for_order
from tests.e2e.test_lifecycle_e2e import _order

pytestmark = pytest.mark.e2e

SKU = "BENCH-WMS-ONLY-EAST"  # stocked at the benchmark WMS's location alone


def _taken(warehouse: NotifiedWarehouse, order_id: str, timeout: float = 60) -> dict[str, Any]:
    """The fulfillment order of ``order_id`` once a webhook brought it (others' are passed over)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fo = warehouse.to_work.get(timeout=0.2)
        except queue.Empty:
            continue
        if fo["order_id"] == order_id:
            return fo
    raise AssertionError(f"no webhook brought the fulfillment order of {order_id}")


def _queued(warehouse: NotifiedWarehouse) -> set[str]:
    """The fulfillment orders waiting for a picker (taken off the queue)."""
    found = set()
    while not warehouse.to_work.empty():
        found.add(warehouse.to_work.get_nowait()["fo_id"])
    return found


def test_the_bench_wms_works_what_the_webhook_brings_and_refuses_what_is_not_signed(api, stack):
    put_location(api, LOCATION, lat=52.45, lon=13.52)
    put_stock(api, LOCATION, SKU, 5)
    warehouse = NotifiedWarehouse(api.base)
    try:
        line = {"sku": SKU, "quantity": 1, "unit_price": 1999}
        created = api.post("/v1/orders", _order(f"BENCH-WMS-{time.time_ns()}", [line]))
        assert created.status_code == 201, created.text
        order_id = created.json()["order_id"]

        fo = _taken(warehouse, order_id)
        # The same event delivered again (at least once) is acknowledged, not taken twice.
        again = {"type": "fulfillment.released", "data": {**fo, "location_id": LOCATION, "at": now_iso()}}
        body, headers = _signed(warehouse, "msg_again", again)
        assert warehouse.notified(body, headers) == 204
        # One not signed with the subscription's secret is refused.
        other = {**again, "data": {**again["data"], "fo_id": "fo_forged", "order_id": "ord_forged"}}
        body, headers = _signed(warehouse, "msg_forged", other)
        assert warehouse.notified(body, {**headers, "webhook-signature": "v1,bm90IHRoZSBzZWNyZXQ="}) == 401
        assert not _queued(warehouse) & {fo["fo_id"], "fo_forged"}

        warehouse.work(fo)
        assert warehouse.errors == []
        order = wait_for_order(api, order_id, lambda o: o["fulfillment_status"] == "delivered")
        assert order_id in warehouse.shipped
        assert [f["fo_id"] for f in order["fulfillment_orders"]] == [fo["fo_id"]]
    finally:
        warehouse.close()
    subscription = api.get(f"/v1/webhooks/subscriptions/{warehouse.subscription_id}", key="dev-ops-key")
    assert subscription.status_code == 404


def _signed(warehouse: NotifiedWarehouse, msg_id: str, message: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A delivery as the OMS signs one for this subscription (Standard Webhooks)."""
    body, at = json.dumps(message), now()
    signature = warehouse.webhook.sign(msg_id, at, body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}
    return body.encode(), headers


def test_a_picker_that_fails_is_reported_with_the_runs_errors(api, monkeypatch):
    """A picker runs in a pool whose task would drop an exception: the run must show it."""
    warehouse = NotifiedWarehouse(api.base)
    try:

        def fail(fo: dict[str, Any]) -> None:
            raise ConnectionError("the API went away")

        monkeypatch.setattr(warehouse, "work", fail)
        loop = threading.Thread(target=warehouse.run, daemon=True)
        loop.start()
        warehouse.to_work.put({"fo_id": "fo_lost", "order_id": "ord_lost"})
        deadline = time.monotonic() + 30
        while not warehouse.errors and time.monotonic() < deadline:
            time.sleep(0.05)
        assert warehouse.errors == ["fo_lost: ConnectionError: the API went away"]
    finally:
        warehouse.stop.set()
        loop.join(timeout=5)
        warehouse.close()


def test_a_stopped_wms_asks_the_api_for_nothing_more(api, monkeypatch):
    """Its caller stops the local stack next: a work list read after the stop found the API gone."""
    warehouse = NotifiedWarehouse(api.base)
    asked: list[float] = []
    monkeypatch.setattr(warehouse, "work_list", lambda: asked.append(time.monotonic()) or [])
    loop = threading.Thread(target=warehouse.run, daemon=True)
    try:
        loop.start()
        time.sleep(0.2)  # the loop waits for a webhook's fulfillment order
        warehouse.stop.set()
        stopped = time.monotonic()
        loop.join(timeout=5)
        assert not loop.is_alive()
        assert [at for at in asked if at >= stopped] == []
    finally:
        warehouse.stop.set()
        warehouse.close()
