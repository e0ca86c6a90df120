"""Customer 360, search and erasure through the local stack's HTTP API only.

One e-mail places orders on two channels; one is shipped and appeased, one partly
cancelled, one shipped and partly returned. The 360° figures must equal the sums of
those orders as GET /v1/orders/{id} shows them, to the cent.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Api, get_order, put_location, put_stock, wait_for_order

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WMS = "dev-wms-key"
OPS = "dev-ops-key"
AGENT = "dev-agent-key"


def _body(channel: str, external_id: str, email: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "channel": channel,
        "external_id": external_id,
        "customer": {"email": email, "name": "Ada Lovelace", "phone": "+44 20 7946 0000"},
        "currency": "EUR",
        "lines": lines,
        "shipping": {
            "address": {"line1": "12 St James's Sq", "city": "London", "postal_code": "SW1Y 4LB", "country": "GB"},
            "method": "standard",
            "amount": 500,
        },
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }


def _place(api: Api, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/orders", body, key=key)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _ship(api: Api, order_id: str, tracking: str) -> dict[str, Any]:
    order = wait_for_order(
        api,
        order_id,
        lambda o: (
            o["payment_status"] == "authorized" and any(f["status"] == "allocated" for f in o["fulfillment_orders"])
        ),
    )
    for fo in (f for f in order["fulfillment_orders"] if f["status"] == "allocated"):
        for step in ("accept", "pick", "pack"):
            assert api.post(f"/v1/fulfillment-orders/{fo['fo_id']}/{step}", {}, key=WMS).status_code == 200
        shipped = api.post(
            f"/v1/fulfillment-orders/{fo['fo_id']}/ship", {"carrier": "generic", "tracking_number": tracking}, key=WMS
        )
        assert shipped.status_code == 201, shipped.text
    return wait_for_order(api, order_id, lambda o: o["payment_status"] == "captured")


def _eventually(read, done, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


@pytest.fixture(scope="module")
def shop(api: Api) -> Api:
    put_location(api, "wh-east", lat=52.45, lon=13.52)
    for sku in ("C360-A", "C360-B"):
        put_stock(api, "wh-east", sku, 100)
    return api


def test_one_customer_across_channels_360_search_and_erasure(shop: Api) -> None:
    api = shop
    run = uuid.uuid4().hex[:8]
    email = f"ada-{run}@example.com"
    lines = [
        {"sku": "C360-A", "quantity": 2, "unit_price": 2500, "tax": 950},
        {"sku": "C360-B", "quantity": 1, "unit_price": 4000},
    ]
    shipped = _place(api, "dev-web-key", _body("web", f"C360-W-{run}", email, lines))
    cancelled = _place(api, "dev-app-key", _body("app", f"C360-A-{run}", email, lines))
    returned = _place(api, "dev-web-key", _body("web", f"C360-R-{run}", email, lines[:1]))
    customer_id = shipped["customer_id"]
    assert cancelled["customer_id"] == returned["customer_id"] == customer_id

    tracking = f"TRK{run}"
    _ship(api, shipped["order_id"], tracking)
    appeased = api.post(f"/v1/orders/{shipped['order_id']}/adjustments", {"amount": 700, "reason": "late"}, key=AGENT)
    assert appeased.status_code in (200, 201), appeased.text

    ready = wait_for_order(api, cancelled["order_id"], lambda o: o["payment_status"] == "authorized")
    line_b = next(x for x in ready["lines"] if x["sku"] == "C360-B")
    cancel = api.post(
        f"/v1/orders/{cancelled['order_id']}/cancel",
        {"lines": [{"line_id": line_b["line_id"], "quantity": 1}], "reason": "changed mind"},
        key=AGENT,
    )
    assert cancel.status_code in (200, 201), cancel.text

    done = _ship(api, returned["order_id"], f"{tracking}R")
    line_a = done["lines"][0]
    rma = api.post(
        f"/v1/orders/{returned['order_id']}/returns",
        {"lines": [{"line_id": line_a["line_id"], "quantity": 1, "reason": "defective"}]},
    )
    assert rma.status_code == 201, rma.text
    receipt = {
        "location_id": "wh-east",
        "lines": [{"line_id": line_a["line_id"], "quantity": 1, "condition": "damaged"}],
    }
    assert api.post(f"/v1/returns/{rma.json()['return_id']}/receive", receipt, key=WMS).status_code == 200
    wait_for_order(api, returned["order_id"], lambda o: o["returns"][0]["status"] == "closed")
    wait_for_order(api, shipped["order_id"], lambda o: o["payment_summary"]["refunded"] == 700)

    orders = [get_order(api, o["order_id"]) for o in (shipped, cancelled, returned)]
    captured = sum(o["payment_summary"]["captured"] for o in orders)
    refunded = sum(o["payment_summary"]["refunded"] for o in orders)
    cancelled_value = -sum(c["totals"]["total"] for o in orders for c in o["changes"] if c["kind"] == "cancel")
    expected = {
        "orders": 3,
        "units": sum(x["quantity"] for o in orders for x in o["lines"]),
        "ordered": sum(o["totals"]["total"] for o in orders),
        "cancelled": cancelled_value,
        "captured": captured,
        "refunded": refunded,
        "net": captured - refunded,
        "returns": 1,
    }
    assert cancelled_value > 0 and refunded > 700

    def view() -> dict[str, Any]:
        response = api.get(f"/v1/customers/{customer_id}", key=AGENT)
        assert response.status_code == 200, response.text
        return dict(response.json())

    seen = _eventually(view, lambda v: v["lifetime"] and {k: v["lifetime"][k] for k in expected} == expected)
    assert {k: seen["lifetime"][k] for k in expected} == expected
    assert seen["profile"]["email"] == email and seen["segment"] == "loyal"
    assert {s["tracking_number"] for s in seen["recent_shipments"]} >= {tracking, f"{tracking}R"}

    def hits(q: str, key: str = AGENT) -> set[str]:
        response = api.get("/v1/search", key=key, params={"q": q})
        assert response.status_code == 200, response.text
        return {h.get("order_id") or h["customer_id"] for h in response.json()["items"]}

    all_ids = {o["order_id"] for o in orders}
    assert hits(email) == all_ids | {customer_id}
    assert _eventually(lambda: hits(f"C360-A-{run}"), lambda h: h) == {cancelled["order_id"]}
    assert hits(tracking) == {shipped["order_id"]}
    assert hits(email, key="dev-web-key") == {shipped["order_id"], returned["order_id"]}
    assert hits(f"C360-A-{run}", key="dev-web-key") == set()

    erased = api.post(f"/v1/customers/{customer_id}/erase", {}, key=OPS)
    assert erased.status_code == 200, erased.text
    after = view()
    assert after["profile"]["email"] is None and after["profile"]["phone"] is None
    assert {k: after["lifetime"][k] for k in expected} == expected
    for order_id in all_ids:
        order = get_order(api, order_id)
        assert email not in repr(order) and "St James" not in repr(order)
        assert order["totals"]["total"] > 0
    assert hits(email) == set()
