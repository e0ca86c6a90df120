"""Order edits through the local stack's HTTP API only, with the real OrderLifecycle running.

An order authorized and then rejected by its only warehouse waits for stock: none of its
units is at a warehouse, so it may be edited. An added line raises the total and is
authorized by exactly the difference; fewer units lower it and release exactly the
difference; once stock arrives and the units are released to warehouses, an edit of them
is 409 naming them. Every figure is worked out by hand below.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Api, get_order, put_location, put_stock, wait_for_order

pytestmark = pytest.mark.e2e

WMS = "dev-wms-key"  # bound to wh-east, wh-west, wh-central


def _edit(api: Api, order_id: str, body: dict[str, Any], *, preview: bool = False, key: str = "dev-web-key"):
    suffix = "?preview=true" if preview else ""
    headers = {} if preview else {"Idempotency-Key": str(uuid.uuid4())}
    return api.post(f"/v1/orders/{order_id}/edits{suffix}", body, key=key, headers=headers)


def _line(order: dict[str, Any], sku: str) -> dict[str, Any]:
    (line,) = [x for x in order["lines"] if x["sku"] == sku]
    return line


def test_edits_authorize_or_release_exactly_the_difference_and_released_units_are_409(api: Api) -> None:
    put_location(api, "wh-east", lat=52.45, lon=13.52)
    put_location(api, "wh-west", lat=51.51, lon=7.47)
    put_location(api, "wh-central", lat=50.11, lon=8.68)
    put_stock(api, "wh-east", "ED-A", 2)
    put_stock(api, "wh-west", "ED-B", 5)
    body = {
        "channel": "web",
        "external_id": "ED-E2E-1",
        "customer": {"email": "ed-e2e@example.com", "name": "Edith Clarke"},
        "currency": "EUR",
        "lines": [{"sku": "ED-A", "quantity": 2, "unit_price": 2500, "tax": 475}],
        "shipping": {
            "address": {"line1": "Zeil 1", "city": "Frankfurt", "postal_code": "60313", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }
    response = api.post("/v1/orders", body)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    # One line: subtotal 5000, tax 475, the whole shipping 495; total 5970.
    assert response.json()["totals"]["total"] == 5970

    ready = wait_for_order(
        api, order_id, lambda o: o["payment_status"] == "authorized" and len(o["fulfillment_orders"]) == 1
    )
    fo_id = ready["fulfillment_orders"][0]["fo_id"]
    rejected = api.post(f"/v1/fulfillment-orders/{fo_id}/reject", {"reason": "shelf empty"}, key=WMS)
    assert rejected.status_code == 200, rejected.text
    waiting = wait_for_order(api, order_id, lambda o: o["fulfillment_status"] == "backordered")
    line_a = _line(waiting, "ED-A")

    # An added line raises the total by its 1500 + 285 tax: authorized by exactly that.
    add = {"add": [{"sku": "ED-B", "quantity": 1, "unit_price": 1500, "tax": 285}], "reason": "add a scarf"}
    preview = _edit(api, order_id, add, preview=True)
    assert preview.status_code == 200, preview.text
    assert preview.json()["authorize"] == {"amount": 1785} and preview.json()["payment_difference"] == 1785
    edited = _edit(api, order_id, add)
    assert edited.status_code == 201, edited.text
    assert edited.json()["current_totals"]["total"] == 5970 + 1785 == 7755
    raised = wait_for_order(api, order_id, lambda o: len(o["payments"]) == 2)
    assert [p["authorized"] for p in raised["payments"]] == [5970, 1785]
    assert raised["payment_summary"]["available_to_capture"] == raised["current_totals"]["total"] == 7755

    # One unit of ED-A fewer: its back position, 2500 + (475 - 237) tax + (495 - 247) shipping = 2986.
    fewer = {"lines": [{"line_id": line_a["line_id"], "quantity": 1}], "reason": "only one"}
    edited = _edit(api, order_id, fewer, key="dev-agent-key")
    assert edited.status_code == 201, edited.text
    assert edited.json()["totals"]["total"] == -2986 and edited.json()["release"] == {"amount": 2986}
    lowered = get_order(api, order_id)
    assert lowered["current_totals"]["total"] == 7755 - 2986 == 4769
    assert sum(p["released"] for p in lowered["payments"]) == 2986
    assert lowered["payment_summary"]["available_to_capture"] == 4769

    timeline = api.get(f"/v1/orders/{order_id}/timeline", key="dev-ops-key").json()["items"]
    actors = [e["detail"]["actor"] for e in timeline if e["kind"] == "order.edited"]
    assert actors == ["channel-web", "agent-1"]

    # Stock arrives: both lines go to warehouses; the open authorizations already cover them.
    put_stock(api, "wh-central", "ED-A", 5)
    released = wait_for_order(
        api,
        order_id,
        lambda o: len([f for f in o["fulfillment_orders"] if f["status"] == "allocated"]) == 2,
    )
    assert released["payment_summary"]["available_to_capture"] == 4769
    assert len(released["payments"]) == 2
    line_b = _line(released, "ED-B")
    refused = _edit(api, order_id, {"lines": [{"line_id": line_b["line_id"], "quantity": 0}], "reason": "no"})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["released_units"] == [{"line_id": line_b["line_id"], "quantity": 1}]
