"""A fake Shopify Admin API (GraphQL) on a loopback port, recording every call.

It knows the orders it was given (``add_order`` with a Shopify order payload: one open
fulfillment order holding its line items) and answers the calls the OMS makes back
(functions/channels/rules/shopify_status.py): the order's fulfillment state,
``fulfillmentCreate``, ``orderCancel`` and ``refundCreate``. ``fail_next`` makes the next
calls answer 503. Hand-made for the demo and the tests: not Shopify's code.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra.local.dev_credentials import DEV_SHOPIFY_ADMIN_PORT, DEV_SHOPIFY_ADMIN_TOKEN


class FakeShopifyAdmin:
    def __init__(self, port: int = DEV_SHOPIFY_ADMIN_PORT, token: str = DEV_SHOPIFY_ADMIN_TOKEN):
        self.token = token
        self.calls: list[dict[str, Any]] = []
        self.fail_next = 0
        self.orders: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/admin/api/2025-01/graphql.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeShopifyAdmin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_order(self, order: dict[str, Any]) -> None:
        gid = f"gid://shopify/Order/{order['id']}"
        lines = [
            {
                "id": f"gid://shopify/FulfillmentOrderLineItem/{li['id']}",
                "sku": li.get("sku"),
                "remainingQuantity": li["quantity"],
            }
            for li in order.get("line_items") or []
        ]
        fulfillment_order = {
            "id": f"gid://shopify/FulfillmentOrder/{order['id']}",
            "status": "OPEN",
            "lineItems": {"nodes": lines},
        }
        with self._lock:
            self.orders[gid] = {
                "id": gid,
                "fulfillments": [],
                "fulfillmentOrders": {"nodes": [fulfillment_order]},
                "cancelled": False,
            }

    def operations(self) -> list[str]:
        return [c["operation"] for c in self.calls]

    def _answer(self, token: str | None, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        query, variables = str(request.get("query") or ""), dict(request.get("variables") or {})
        operation = next(
            (op for op in ("fulfillmentCreate", "orderCancel", "refundCreate") if f"{op}(" in query), "order"
        )
        with self._lock:
            self.calls.append({"operation": operation, "variables": variables})
            if token != self.token:
                return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
            if self.fail_next:
                self.fail_next -= 1
                return 503, {"errors": "Service unavailable"}
            if operation == "order":
                return 200, {"data": {"order": self.orders.get(variables.get("id", ""))}}
            if operation == "fulfillmentCreate":
                return 200, {"data": {"fulfillmentCreate": self._fulfill(variables["fulfillment"])}}
            order = self.orders.get(variables.get("orderId") or variables.get("input", {}).get("orderId", ""))
            if order is None:
                errors = [{"field": ["orderId"], "message": "Order does not exist"}]
                key = "orderCancelUserErrors" if operation == "orderCancel" else "userErrors"
                return 200, {"data": {operation: {key: errors}}}
            if operation == "orderCancel":
                order["cancelled"] = True
                return 200, {
                    "data": {"orderCancel": {"job": {"id": "gid://shopify/Job/1"}, "orderCancelUserErrors": []}}
                }
            return 200, {
                "data": {
                    "refundCreate": {"refund": {"id": f"gid://shopify/Refund/{len(self.calls)}"}, "userErrors": []}
                }
            }

    def _fulfill(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        for group in fulfillment["lineItemsByFulfillmentOrder"]:
            for order in self.orders.values():
                for fo in order["fulfillmentOrders"]["nodes"]:
                    if fo["id"] != group["fulfillmentOrderId"]:
                        continue
                    by_id = {line["id"]: line for line in fo["lineItems"]["nodes"]}
                    for wanted in group["fulfillmentOrderLineItems"]:
                        line = by_id.get(wanted["id"])
                        if line is None or line["remainingQuantity"] < wanted["quantity"]:
                            return {
                                "fulfillment": None,
                                "userErrors": [{"field": ["fulfillment"], "message": "Invalid quantity"}],
                            }
                        line["remainingQuantity"] -= wanted["quantity"]
                    order["fulfillments"].append({"trackingInfo": [fulfillment.get("trackingInfo") or {}]})
                    fulfillment_id = f"gid://shopify/Fulfillment/{len(order['fulfillments'])}"
                    return {"fulfillment": {"id": fulfillment_id, "status": "SUCCESS"}, "userErrors": []}
        return {
            "fulfillment": None,
            "userErrors": [{"field": ["fulfillment"], "message": "Fulfillment order not found"}],
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    request = {}
                status, body = fake._answer(self.headers.get("X-Shopify-Access-Token"), request)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
