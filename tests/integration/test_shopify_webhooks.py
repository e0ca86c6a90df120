"""Shopify order webhooks on moto: Shopify's sample order captured to the cent, forged and
replayed deliveries refused or ignored, a cancellation on Shopify cancelled here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

from functions.channels.handlers.shopify_webhooks import handler
from infra.local.dev_credentials import DEV_CHANNEL_SHOPS
from shared.order.record import find_order_id, load_order
from tests.integration.conftest import api_event, call

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
SHOP = "dev-shop.myshopify.com"
SECRET = DEV_CHANNEL_SHOPS["shopify"][SHOP]["webhook_secret"]
PATH = "/v1/webhooks/channels/shopify"


def sample_body(name: str = "order_get.json") -> str:
    return json.dumps(json.loads((FIXTURES / name).read_text())["order"])


def deliver(body: str, topic: str, *, webhook_id: str | None = None, secret: str = SECRET, shop: str = SHOP):
    signature = base64.b64encode(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-API-Version": "2024-10",
    }
    return call(handler, api_event("POST", PATH, resource=PATH, body=body, key=None, headers=headers))


def test_orders_create_captures_shopifys_sample_to_the_cent(aws):
    status, _, out = deliver(sample_body(), "orders/create")
    assert status == 200, out
    assert out["result"] == "captured"
    record = load_order(out["order_id"])
    assert record is not None
    header = record.header
    assert header["channel"] == "shopify"
    assert header["external_id"] == "450789469"
    assert header["currency"] == "USD"
    # Shopify's total_price "598.94": 3 x 199.00 - 10.00 (TENOFF over the lines) + 3 x 3.98 tax.
    assert header["totals"] == {"subtotal": 59700, "discount": 1000, "tax": 1194, "shipping": 0, "total": 59894}
    assert sorted((ln["sku"], ln["discount"], ln["tax"]) for ln in record.lines) == [
        ("IPOD2008BLACK", 333, 398),
        ("IPOD2008GREEN", 334, 398),
        ("IPOD2008RED", 333, 398),
    ]
    assert header["shipping"]["address"]["line1"] == "Chestnut Street 92"
    assert header["placed_at"].startswith("2008-01-10T11:00:00")


def test_a_forged_or_unknown_shops_webhook_is_refused_and_stores_nothing(aws):
    body = sample_body()
    status, _, _ = deliver(body, "orders/create", secret="not-the-secret")
    assert status == 401
    status, _, _ = deliver(body, "orders/create", shop="someone-else.myshopify.com")
    assert status == 401
    # The body altered after Shopify signed it.
    status, _, _ = call(
        handler,
        api_event(
            "POST",
            PATH,
            resource=PATH,
            body=body.replace("199.00", "1.00"),
            key=None,
            headers={
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Webhook-Id": "w-1",
                "X-Shopify-Hmac-Sha256": base64.b64encode(
                    hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()
                ).decode(),
            },
        ),
    )
    assert status == 401
    assert find_order_id("shopify", "450789469") is None


def test_a_replayed_webhook_is_ignored(aws):
    webhook_id = str(uuid.uuid4())
    status, _, first = deliver(sample_body(), "orders/create", webhook_id=webhook_id)
    assert status == 200 and first["result"] == "captured"
    status, _, again = deliver(sample_body(), "orders/create", webhook_id=webhook_id)
    assert status == 200
    assert again["result"] == "duplicate"
    assert again["order_id"] == first["order_id"]
    # A second delivery of the same order under a new webhook id finds the order, writes none.
    status, _, other = deliver(sample_body(), "orders/create")
    assert other == {"result": "exists", "order_id": first["order_id"]}


def test_orders_cancelled_cancels_the_order_here(aws):
    _, _, created = deliver(sample_body(), "orders/create")
    order_id = created["order_id"]
    status, _, out = deliver(sample_body("order_cancel.json"), "orders/cancelled")
    assert status == 200, out
    assert out == {"result": "cancelled", "order_id": order_id}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        record = load_order(order_id)
        if record and record.header["status"] == "cancelled":
            break
        time.sleep(0.1)
    assert record is not None and record.header["status"] == "cancelled"
    assert all(ln["quantities"].get("cancelled") == ln["quantity"] for ln in record.lines)


def test_orders_updated_for_an_unknown_order_captures_it(aws):
    status, _, out = deliver(sample_body(), "orders/updated")
    assert status == 200 and out["result"] == "captured"
    status, _, out = deliver(sample_body(), "orders/updated")
    assert out["result"] == "noted"


def test_an_order_without_a_shipping_address_is_422_not_a_guess(aws):
    status, _, out = deliver(sample_body("order_create_eur_tax.json"), "orders/create")
    assert status == 422, out
