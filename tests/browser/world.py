"""The orders the browser tests work on, placed through the public API of a running local stack.

``python -m tests.browser.world http://127.0.0.1:3000`` seeds a running ``make serve`` the
same way (to look at the console with something in it).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from functions.payments.gateways.sandbox import sign_sandbox_event
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS

OPS = "dev-ops-key"
AGENT = "dev-agent-key"
WMS = "dev-wms-key"  # wh-east, wh-west, wh-central
WEB = "dev-web-key"
APP = "dev-app-key"
LOCATION = "wh-east"
STOCKED = {"TEE-CLASSIC-M": 1999, "JEANS-SLIM-32": 7950, "SOCKS-3PK": 1299, "CAP-LOGO": 2499}
# Never stocked: an order of it waits for stock.
UNSTOCKED = ("BELT-LEATHER", 3900)
# A loaded machine takes its time through allocation and authorization.
READY_SECONDS = 240.0
RETRIES = 4


@dataclass
class World:
    run: str
    customer_email: str
    agent_order: str
    warehouse_order: str
    shipped_order: str
    dispute_order: str
    exception_id: str
    app_order: str
    backordered_order: str


class Client:
    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def call(self, method: str, path: str, key: str, body: Any = None, **kwargs: Any) -> requests.Response:
        """Retries what a client retries (a timeout, 429, 503): every call here is idempotent
        (PUTs, reads, and POSTs with an Idempotency-Key or that repeat harmlessly)."""
        headers = {"x-api-key": key, **kwargs.pop("headers", {})}
        for attempt in range(RETRIES):
            try:
                response = self.http.request(
                    method, self.base + path, headers=headers, json=body, timeout=120, **kwargs
                )
            except requests.Timeout:
                if attempt == RETRIES - 1:
                    raise
                continue
            if response.status_code not in (429, 503, 504) or attempt == RETRIES - 1:
                return response
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, key: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, key, body, **kwargs)
        assert response.status_code in (200, 201, 202), f"{method} {path}: {response.status_code} {response.text}"
        return dict(response.json())

    def order(self, order_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/v1/orders/{order_id}", OPS)

    def wait(self, order_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = READY_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        order: dict[str, Any] = {}
        while time.monotonic() < deadline:
            order = self.order(order_id)
            if done(order):
                return
            time.sleep(0.5)
        raise AssertionError(f"order {order_id} never got there: {json.dumps(order)[:2000]}")


def _ready(order: dict[str, Any]) -> bool:
    return order["payment_status"] == "authorized" and any(
        f["status"] == "allocated" for f in order["fulfillment_orders"]
    )


def _place(api: Client, key: str, channel: str, external_id: str, email: str, lines: list[dict[str, Any]]) -> str:
    body = {
        "channel": channel,
        "external_id": external_id,
        "customer": {"email": email, "name": "Ada Lovelace", "phone": "+4930" + external_id[-6:].encode().hex()[:6]},
        "currency": "EUR",
        "lines": lines,
        "shipping": {
            "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"},
            "method": "standard",
            "amount": 495,
        },
        "promotions": [{"code": "WELCOME", "amount": 500}],
        "payment": {"provider": "sandbox", "token": "tok_visa"},
    }
    return str(api.ok("POST", "/v1/orders", key, body, headers={"Idempotency-Key": external_id})["order_id"])


def _line(sku: str, price: int, quantity: int) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price": price, "tax": quantity * price * 19 // 100}


def _ship(api: Client, order_id: str, tracking: str) -> None:
    fo = next(f for f in api.order(order_id)["fulfillment_orders"] if f["status"] == "allocated")
    for step in ("accept", "pick", "pack"):
        api.ok(
            "POST",
            f"/v1/fulfillment-orders/{fo['fo_id']}/{step}",
            WMS,
            {},
            headers={"Idempotency-Key": f"{fo['fo_id']}-{step}"},
        )
    shipment = {"carrier": "dhl", "tracking_number": tracking}
    api.ok("POST", f"/v1/fulfillment-orders/{fo['fo_id']}/ship", WMS, shipment, headers={"Idempotency-Key": tracking})


def _dispute(api: Client, order_id: str) -> str:
    (payment,) = api.order(order_id)["payments"]
    event = {
        "id": f"evt_console_{order_id}",
        "type": "dispute.opened",
        "created": int(time.time()),
        "data": {
            "reference": payment["reference"],
            "payment_reference": payment["reference"],
            "amount": payment.get("amount", 0),
            "reason": "fraudulent",
        },
    }
    body, headers = sign_sandbox_event(event, DEV_WEBHOOK_SECRETS["sandbox"])
    response = api.http.post(api.base + "/v1/webhooks/payments/sandbox", data=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    page = api.ok("GET", "/v1/exceptions", OPS, params={"status": "open", "limit": 200})
    return str(next(e["exc_id"] for e in page["items"] if e["order_id"] == order_id))


def seed(base: str) -> World:
    api = Client(base)
    run = uuid.uuid4().hex[:6].upper()
    api.ok("PUT", f"/v1/locations/{LOCATION}", OPS, {"name": "East", "type": "warehouse", "lat": 52.52, "lon": 13.40})
    now = datetime.now(UTC).isoformat()
    for sku in STOCKED:
        api.ok("PUT", f"/v1/inventory/{LOCATION}/{sku}", OPS, {"on_hand": 500, "safety_stock": 2, "as_of": now})
    email = f"ada.{run.lower()}@example.com"
    tee, jeans, socks, cap = ((sku, price) for sku, price in STOCKED.items())
    agent_order = _place(api, WEB, "web", f"CON-{run}-1", email, [_line(*tee, 2), _line(*jeans, 1)])
    warehouse_order = _place(api, WEB, "web", f"CON-{run}-2", email, [_line(*socks, 3)])
    shipped_order = _place(api, WEB, "web", f"CON-{run}-3", f"grace.{run.lower()}@example.com", [_line(*cap, 1)])
    dispute_order = _place(api, WEB, "web", f"CON-{run}-4", f"alan.{run.lower()}@example.com", [_line(*tee, 1)])
    app_order = _place(api, APP, "app", f"CON-{run}-5", f"app.{run.lower()}@example.com", [_line(*cap, 1)])
    backordered = _place(api, WEB, "web", f"CON-{run}-6", email, [_line(*UNSTOCKED, 1)])
    for order_id in (agent_order, warehouse_order, shipped_order, dispute_order, app_order):
        api.wait(order_id, _ready)
    api.wait(backordered, lambda o: o["fulfillment_status"] == "backordered")
    _ship(api, shipped_order, f"TRK{run}")
    exception_id = _dispute(api, dispute_order)
    return World(
        run=run,
        customer_email=email,
        agent_order=agent_order,
        warehouse_order=warehouse_order,
        shipped_order=shipped_order,
        dispute_order=dispute_order,
        exception_id=exception_id,
        app_order=app_order,
        backordered_order=backordered,
    )


if __name__ == "__main__":
    print(json.dumps(seed(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3000").__dict__, indent=2))
