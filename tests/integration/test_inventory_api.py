"""The inventory API's handlers against moto: stock, adjustments, availability, roles."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from functions.inventory.handlers.api import handler
from tests.integration.conftest import api_event, call

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:00:00Z"


def request(method, path, resource, *, key="dev-ops-key", body=None, params=None, query=None, headers=None):
    event = api_event(
        method, path, resource=resource, body=body, key=key, path_parameters=params, headers=headers, query=None
    )
    if query:
        # Repeated parameters (sku=A&sku=B) as API Gateway passes them.
        multi = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
        event["multiValueQueryStringParameters"] = multi
        event["queryStringParameters"] = {k: v[-1] for k, v in multi.items()}
    return call(handler, event)


def put_location(location_id, key="dev-ops-key", **over):
    body = {"name": location_id, "type": "warehouse", "lat": 52.5, "lon": 13.4, "active": True, **over}
    return request(
        "PUT",
        f"/v1/locations/{location_id}",
        "/v1/locations/{location_id}",
        key=key,
        body=body,
        params={"location_id": location_id},
    )


def put_stock(location_id, sku, body, key="dev-ops-key"):
    return request(
        "PUT",
        f"/v1/inventory/{location_id}/{quote(sku, safe='')}",
        "/v1/inventory/{location_id}/{sku}",
        key=key,
        body=body,
        params={"location_id": location_id, "sku": sku},
    )


def adjust(body, key="dev-ops-key", idempotency_key=None):
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    return request(
        "POST", "/v1/inventory/adjustments", "/v1/inventory/adjustments", key=key, body=body, headers=headers
    )


def availability(key="dev-web-key", **query):
    return request("GET", "/v1/availability", "/v1/availability", key=key, query=query)


@pytest.fixture
def network(aws):
    put_location("wh-east", groups=["eu-warehouses"], daily_capacity=100, ship_cost={"base": 450, "per_km": 2})
    put_location("wh-west", groups=["eu-warehouses"])
    put_location("store-1", type="store", groups=["stores-that-ship"])
    put_location("store-closed", type="store", active=False, groups=["stores-that-ship"])
    return aws


def test_locations_are_put_by_operators_and_listed_per_role(network):
    status, _, body = put_location("wh-central", key="dev-wms-key")
    assert status == 403 and body["status"] == 403
    status, _, loc = put_location("wh-central", handling=120, groups=["eu-warehouses"])
    assert status == 200
    assert loc["location_id"] == "wh-central" and loc["type"] == "warehouse" and loc["handling"] == 120
    assert loc["updated_at"]

    def listed(key, **query):
        status, _, page = request("GET", "/v1/locations", "/v1/locations", key=key, query=query or None)
        assert status == 200, page
        return [x["location_id"] for x in page["items"]], page["next_cursor"]

    everything = ["store-1", "store-closed", "wh-central", "wh-east", "wh-west"]
    assert listed("dev-ops-key") == (everything, None)
    assert listed("dev-agent-key")[0] == everything
    assert listed("dev-wms-key")[0] == ["wh-central", "wh-east", "wh-west"]
    assert listed("dev-web-key")[0] == ["store-1", "wh-central", "wh-east", "wh-west"]
    first, cursor = listed("dev-ops-key", limit="2")
    assert first == ["store-1", "store-closed"] and cursor
    assert listed("dev-ops-key", limit="2", cursor=cursor)[0] == ["wh-central", "wh-east"]


def test_location_body_is_validated(network):
    status, _, body = put_location("wh-x", type="shop", lat=200)
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"type", "lat"}
    status, _, body = put_location("imports")
    assert status == 422
    status, _, body = put_location("bad id!")
    assert status == 422 and body["errors"][0]["field"] == "location_id"


def test_put_stock_applies_newer_and_ignores_stale_updates(network):
    status, _, rec = put_stock("wh-east", "TEE-M", {"on_hand": 10, "safety_stock": 2, "as_of": T1})
    assert status == 200, rec
    assert rec | {"updated_at": None} == {
        "location_id": "wh-east",
        "sku": "TEE-M",
        "on_hand": 10,
        "reserved": 0,
        "safety_stock": 2,
        "available": 8,
        "as_of": "2024-05-01T11:00:00.000Z",
        "updated_at": None,
        "applied": True,
        "buckets": 1,  # one item: not split
    }
    for stale in (T0, T1, "2024-05-01T12:00:00+02:00"):  # older, equal, and older in another zone
        status, _, rec = put_stock("wh-east", "TEE-M", {"on_hand": 99, "as_of": stale})
        assert status == 200
        assert rec["applied"] is False and rec["on_hand"] == 10
    status, _, rec = put_stock("wh-east", "TEE-M", {"on_hand": 4, "as_of": "2024-05-01T12:00:00Z"})
    assert rec["applied"] is True and rec["on_hand"] == 4 and rec["safety_stock"] == 2 and rec["available"] == 2


def test_put_stock_roles_and_unknown_locations(network):
    body = {"on_hand": 1, "as_of": T0}
    assert put_stock("wh-east", "A", body, key="dev-wms-key")[0] == 200
    assert put_stock("store-1", "A", body, key="dev-wms-key")[0] == 403  # not one of its locations
    assert put_stock("wh-east", "A", body, key="dev-web-key")[0] == 403
    assert put_stock("wh-east", "A", body, key="dev-agent-key")[0] == 403
    assert put_stock("nowhere", "A", body)[0] == 404
    status, _, problem = put_stock("wh-east", "A", {"on_hand": -1, "as_of": "2024-05-01T10:00:00"})
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {"on_hand", "as_of"}  # negative; no time zone
    assert put_stock("wh-east", "A", {"on_hand": "3", "as_of": T0})[0] == 422  # strict integers
    status, _, problem = put_stock("wh-east", "A", "[1]")
    assert status == 400


def test_a_sku_with_a_slash_travels_percent_encoded(network):
    status, _, rec = put_stock("wh-east", "TEE/M", {"on_hand": 3, "as_of": T0})
    assert status == 200 and rec["sku"] == "TEE/M"
    _, _, view = availability(sku="TEE/M")
    assert view["items"][0]["available_to_promise"] == 3


def test_adjustments_are_idempotent_with_a_key_and_never_take_on_hand_below_zero(network):
    put_stock("wh-east", "MUG", {"on_hand": 5, "as_of": T0})
    body = {"location_id": "wh-east", "sku": "MUG", "delta": -2, "reason": "damaged"}
    status, _, first = adjust(body, idempotency_key="adj-1")
    assert status == 200 and first["on_hand"] == 3 and first["available"] == 3
    status, _, again = adjust(body, idempotency_key="adj-1")
    assert status == 200 and again == first  # replayed, not applied twice
    status, _, problem = adjust(body | {"delta": -3}, idempotency_key="adj-1")
    assert status == 409  # same key, other body
    status, _, problem = adjust(body | {"delta": -4})
    assert status == 409 and problem["errors"][0]["field"] == "delta"
    status, _, rec = adjust(body | {"delta": 7, "reason": "found in aisle 3"})
    assert rec["on_hand"] == 10
    status, _, rec = adjust({"location_id": "wh-west", "sku": "NEW", "delta": 4, "reason": "receipt"})
    assert status == 200 and rec["on_hand"] == 4 and rec["as_of"] is None  # a first receipt creates the item
    assert adjust(body | {"delta": 0})[0] == 422
    assert adjust(body | {"location_id": "store-1"}, key="dev-wms-key")[0] == 403
    assert adjust(body | {"location_id": "nowhere"})[0] == 404
    assert adjust(body, key="dev-web-key")[0] == 403


def test_availability_sums_active_locations_and_clamps_at_zero(network):
    from functions.inventory.store import reserve

    put_stock("wh-east", "TEE", {"on_hand": 10, "safety_stock": 2, "as_of": T0})
    put_stock("wh-west", "TEE", {"on_hand": 5, "as_of": T0})
    put_stock("store-1", "TEE", {"on_hand": 3, "safety_stock": 1, "as_of": T0})
    put_stock("store-closed", "TEE", {"on_hand": 50, "as_of": T0})
    reserve("TEE", "wh-west", 4)
    # The warehouse recounts lower than what is reserved: available is negative inside.
    put_stock("wh-west", "TEE", {"on_hand": 1, "safety_stock": 1, "as_of": T1})

    status, _, view = availability(key="dev-ops-key", sku=["TEE", "NONE"])
    assert status == 200, view
    tee, none = view["items"]
    assert none == {"sku": "NONE", "available_to_promise": 0, "locations": [], "groups": {}}
    assert tee["available_to_promise"] == 8 + 0 + 2
    by_location = {row["location_id"]: row for row in tee["locations"]}
    assert by_location["wh-west"] == {
        "location_id": "wh-west",
        "active": True,
        "on_hand": 1,
        "reserved": 4,
        "safety_stock": 1,
        "available": 0,
    }
    assert by_location["store-closed"]["active"] is False  # listed, never promised
    assert tee["groups"] == {
        "eu-warehouses": {"on_hand": 11, "reserved": 4, "safety_stock": 3, "available": 8},
        "stores-that-ship": {"on_hand": 3, "reserved": 0, "safety_stock": 1, "available": 2},
    }
    # Channels see active locations only; filters by location and by group.
    _, _, web = availability(sku="TEE")
    assert "store-closed" not in {row["location_id"] for row in web["items"][0]["locations"]}
    _, _, one = availability(sku="TEE", location_id="wh-east")
    assert one["items"][0]["available_to_promise"] == 8
    assert [row["location_id"] for row in one["items"][0]["locations"]] == ["wh-east"]
    _, _, stores = availability(sku="TEE", group="stores-that-ship")
    assert stores["items"][0]["available_to_promise"] == 2
    assert availability(sku="TEE", location_id="nowhere")[0] == 404
    assert availability(sku="TEE", location_id="store-closed")[0] == 404  # hidden from channels
    # A WMS sees its own locations.
    _, _, wms = availability(key="dev-wms-key", sku="TEE")
    assert {row["location_id"] for row in wms["items"][0]["locations"]} == {"wh-east", "wh-west"}


def test_availability_takes_up_to_100_skus(network):
    skus = [f"SKU-{i:03d}" for i in range(101)]
    status, _, problem = availability(sku=skus)
    assert status == 422 and problem["errors"][0]["field"] == "sku"
    put_stock("wh-east", "SKU-099", {"on_hand": 2, "as_of": T0})
    status, _, view = availability(sku=skus[:100])
    assert status == 200
    assert len(view["items"]) == 100
    assert view["items"][99] == {
        "sku": "SKU-099",
        "available_to_promise": 2,
        "locations": [
            {"location_id": "wh-east", "active": True, "on_hand": 2, "reserved": 0, "safety_stock": 0, "available": 2}
        ],
        "groups": {"eu-warehouses": {"on_hand": 2, "reserved": 0, "safety_stock": 0, "available": 2}},
    }
    status, _, problem = availability()
    assert status == 422  # no sku at all


def test_errors_are_problem_json(network):
    status, headers, body = request("GET", "/v1/locations", "/v1/locations", key=None)
    assert status == 401
    assert headers["Content-Type"] == "application/problem+json"
    assert body["title"] == "Unauthorized"
