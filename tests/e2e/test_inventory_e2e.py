"""Locations, stock and availability through the local stack's HTTP API."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e


def test_put_a_location_and_its_stock_then_read_availability(api):
    location = {"name": "E2E East", "type": "warehouse", "lat": 40.7, "lon": -74.0, "groups": ["us-warehouses"]}
    r = api.request("PUT", "/v1/locations/wh-east", "dev-ops-key", json=location)
    assert r.status_code == 200, r.text
    assert r.json()["groups"] == ["us-warehouses"]

    stock = {"on_hand": 12, "safety_stock": 2, "as_of": "2024-05-01T10:00:00Z"}
    r = api.request("PUT", "/v1/inventory/wh-east/E2E-TEE", "dev-wms-key", json=stock)
    assert r.status_code == 200, r.text
    assert r.json()["available"] == 10 and r.json()["applied"] is True

    r = api.post(
        "/v1/inventory/adjustments",
        {"location_id": "wh-east", "sku": "E2E-TEE", "delta": -1, "reason": "damaged"},
        key="dev-wms-key",
        headers={"Idempotency-Key": "e2e-adj-1"},
    )
    assert r.status_code == 200, r.text

    r = api.get("/v1/availability?sku=E2E-TEE&sku=E2E-NONE")
    assert r.status_code == 200, r.text
    tee, none = r.json()["items"]
    assert tee["available_to_promise"] == 9
    assert tee["locations"] == [
        {"location_id": "wh-east", "active": True, "on_hand": 11, "reserved": 0, "safety_stock": 2, "available": 9}
    ]
    assert tee["groups"]["us-warehouses"]["available"] == 9
    assert none["available_to_promise"] == 0


def test_a_stock_import_travels_through_the_queue(api):
    api.request(
        "PUT", "/v1/locations/wh-west", "dev-ops-key", json={"name": "W", "type": "warehouse", "lat": 1, "lon": 1}
    )
    rows = [
        {"location_id": "wh-west", "sku": f"E2E-IMP-{i}", "on_hand": i, "as_of": "2024-05-01T10:00:00Z"}
        for i in range(60)
    ]
    rows.append({"location_id": "wh-nowhere", "sku": "E2E-IMP-X", "on_hand": 1, "as_of": "2024-05-01T10:00:00Z"})
    r = api.post("/v1/inventory/imports", {"rows": rows}, key="dev-wms-key")
    assert r.status_code == 202, r.text
    import_id = r.json()["import_id"]
    deadline = time.monotonic() + 20
    while True:
        view = api.get(f"/v1/inventory/imports/{import_id}", key="dev-wms-key").json()
        if view["status"] == "completed" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert view["status"] == "completed"
    assert view["counts"] == {"rows": 61, "applied": 60, "ignored_stale": 0, "failed": 1}
    assert view["failed_rows"][0]["reason"] == "unknown location wh-nowhere"
    r = api.get("/v1/availability?sku=E2E-IMP-59&location_id=wh-west", key="dev-wms-key")
    assert r.json()["items"][0]["available_to_promise"] == 59
