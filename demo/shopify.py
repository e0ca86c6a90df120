"""The demo's Shopify shop: Shopify's sample order arrives as a signed ``orders/create``
webhook, the warehouses ship it like any other, and the shipment goes back to the shop's
Admin API (a fake one, listening where the development shop's configuration points)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from demo.fake_shopify import FakeShopifyAdmin
from infra.local.dev_credentials import DEV_CHANNEL_SHOPS

SHOP = "dev-shop.myshopify.com"
# Shopify's published sample order (tests/fixtures/shopify/SOURCES.md).
SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "shopify" / "order_get.json"
WMS = {"x-api-key": "dev-wms-key"}


class ShopifyShop:
    def __init__(self, api_url: str):
        self.api_url = api_url
        try:
            self.admin: FakeShopifyAdmin | None = FakeShopifyAdmin().__enter__()  # a daemon thread
        except OSError as err:  # the port is taken (another demo?): the shop plays no part
            print(f"Shopify: the fake Admin API cannot listen ({err}); the Shopify order is left out")
            self.admin = None
        self.order = json.loads(SAMPLE.read_text())["order"]
        self.order_id: str | None = None

    def place(self) -> None:
        """Stock for the sample's SKUs, then the order webhook as Shopify signs it."""
        if self.admin is None:
            return
        self.admin.add_order(self.order)
        as_of = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for sku in {li["sku"] for li in self.order["line_items"]}:
            body: dict[str, Any] = {"on_hand": 20, "safety_stock": 0, "as_of": as_of}
            requests.put(f"{self.api_url}/v1/inventory/wh-east/{sku}", json=body, headers=WMS, timeout=30)
        raw = json.dumps(self.order).encode()
        secret = DEV_CHANNEL_SHOPS["shopify"][SHOP]["webhook_secret"]
        headers = {
            "content-type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode(),
        }
        answer = requests.post(f"{self.api_url}/v1/webhooks/channels/shopify", data=raw, headers=headers, timeout=30)
        self.order_id = answer.json().get("order_id") if answer.ok else None
        print(
            f"Shopify: sample order {self.order['id']} ({self.order['total_price']} {self.order['currency']})"
            f" in: {answer.status_code} {self.order_id}"
        )

    def report(self, timeout: float = 60) -> None:
        """What went back to the shop: the fulfillment with its tracking number."""
        if self.admin is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and "fulfillmentCreate" not in self.admin.operations():
            time.sleep(1)
        sent = [c["variables"]["fulfillment"] for c in self.admin.calls if c["operation"] == "fulfillmentCreate"]
        if not sent:
            print(
                f"Shopify: nothing went back to the shop within {timeout:.0f}s"
                f" (Admin API calls: {self.admin.operations()})"
            )
            return
        tracking = [f["trackingInfo"]["number"] for f in sent]
        units = sum(
            li["quantity"]
            for f in sent
            for g in f["lineItemsByFulfillmentOrder"]
            for li in g["fulfillmentOrderLineItems"]
        )
        print(
            f"Shopify: order {self.order_id} shipped; Admin API fulfillmentCreate x{len(sent)}"
            f" ({units} units, tracking {', '.join(tracking)})"
        )
