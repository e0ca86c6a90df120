"""A PayPal order through the local stack's HTTP API: authorized after allocation and
captured at shipment by the local stack's own functions, against the fake PayPal API on
the development port (infra/local/dev_credentials.py)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from infra.local.dev_credentials import DEV_PAYPAL, DEV_PAYPAL_API_PORT
from tests.e2e.conftest import Api, put_location, put_stock, wait_for_order
from tests.fakes.paypal_api import FakePayPal, FakePayPalServer

pytestmark = pytest.mark.e2e

WMS = "dev-wms-key"


@pytest.fixture(scope="module")
def paypal(api: Api) -> Iterator[FakePayPal]:
    put_location(api, "wh-central", lat=50.11, lon=8.68)
    put_stock(api, "wh-central", "CX-PAYPAL-1", 10)
    fake = FakePayPal(client_id=DEV_PAYPAL["client_id"], client_secret=DEV_PAYPAL["client_secret"])
    with FakePayPalServer(fake, port=DEV_PAYPAL_API_PORT):
        yield fake


def test_a_paypal_order_is_authorized_then_captured_at_shipment(api: Api, paypal: FakePayPal) -> None:
    body = {
        "channel": "web",
        "external_id": "CX-PAYPAL-ORDER-1",
        "customer": {"email": "grace@example.com", "name": "Grace Hopper"},
        "currency": "EUR",
        "lines": [{"sku": "CX-PAYPAL-1", "quantity": 2, "unit_price": 2500, "tax": 950}],
        "shipping": {
            "address": {"line1": "Zeil 1", "city": "Frankfurt", "postal_code": "60313", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "payment": {"provider": "paypal", "token": "vault_ok"},
    }
    response = api.post("/v1/orders", body)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    ready = wait_for_order(
        api,
        order_id,
        lambda o: (
            o["payment_status"] == "authorized" and any(f["status"] == "allocated" for f in o["fulfillment_orders"])
        ),
        timeout=120,
    )
    (payment,) = ready["payments"]
    assert paypal.authorizations[payment["reference"]]["amount"] == {"currency_code": "EUR", "value": "64.45"}
    fo_id = ready["fulfillment_orders"][0]["fo_id"]
    for step in ("accept", "pick", "pack"):
        assert api.post(f"/v1/fulfillment-orders/{fo_id}/{step}", {}, key=WMS).status_code == 200
    shipped = api.post(
        f"/v1/fulfillment-orders/{fo_id}/ship", {"carrier": "dhl", "tracking_number": "PP-E2E-1"}, key=WMS
    )
    assert shipped.status_code == 201, shipped.text
    done = wait_for_order(api, order_id, lambda o: o["payment_status"] == "captured", timeout=120)
    (capture,) = paypal.captures.values()
    assert Decimal(capture["amount"]["value"]) * 100 == done["totals"]["total"] == 6445
    assert len(done["invoices"]) == 1
