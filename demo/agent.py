"""The demo's service agent: cancels, returns, an exchange and an appeasement, over HTTP only.

The agent works with the agent key; the warehouse that receives a return uses its own
WMS key (the one bound to the receiving location).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from demo.samples import CATALOGUE
from demo.world import Api, Surprises, World

AGENT_KEY = "dev-agent-key"


def sibling_sizes(sku: str) -> list[str]:
    """Other sizes of the same article (TEE-CLASSIC-M -> TEE-CLASSIC-S, TEE-CLASSIC-L)."""
    stem = sku.rsplit("-", 1)[0]
    return [s for s in sorted(CATALOGUE) if s != sku and s.rsplit("-", 1)[0] == stem and "-" in s[len(stem) :]]


@dataclass
class AgentLog:
    cancelled_orders: list[str] = field(default_factory=list)
    cancelled_lines: list[str] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)  # return ids
    exchange: str | None = None  # return id
    appeased: str | None = None  # order id


class Agent:
    def __init__(self, api_url: str, world: World, seed: int):
        self.api_url = api_url
        self.api = Api(api_url, AGENT_KEY, world.surprises)
        self.world = world
        self.rng = random.Random(seed)
        self.log = AgentLog()

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self.api.send("GET", f"/v1/orders/{order_id}", "agent read order")

    def cancel(self, order: dict[str, Any], lines: list[dict[str, Any]] | None, reason: str) -> bool:
        body: dict[str, Any] = {"reason": reason}
        if lines:
            body["lines"] = lines
        key = f"cancel-{order['order_id']}-{len(lines or [])}"
        answer = self.api.send(
            "POST",
            f"/v1/orders/{order['order_id']}/cancel",
            "agent cancel",
            json=body,
            headers={"Idempotency-Key": key},
        )
        if answer is not None:
            (self.log.cancelled_lines if lines else self.log.cancelled_orders).append(order["order_id"])
        return answer is not None

    def clear_backorders(self, order_ids: list[str]) -> None:
        """Backordered orders: every other one cancelled whole, the others only their missing units."""
        for i, order_id in enumerate(order_ids):
            order = self.order(order_id)
            if not order or order["status"] != "open" or order["fulfillment_status"] != "backordered":
                continue
            if i % 2 == 0:
                self.cancel(order, None, "customer will not wait for the backorder")
                continue
            missing = [
                {"line_id": x["line_id"], "quantity": q}
                for x in order["lines"]
                if (q := x["quantities"]["ordered"] - x["quantities"]["cancelled"] - x["quantities"]["allocated"]) > 0
            ]
            self.cancel(order, missing or None, "item no longer available")

    def cancel_held(self, order_ids: list[str]) -> None:
        """Orders still in the warehouse queue: the first cancelled whole, one line of each other."""
        for i, order_id in enumerate(order_ids):
            order = self.order(order_id)
            if not order or order["status"] != "open":
                continue
            if i == 0:
                self.cancel(order, None, "ordered by mistake")
            else:
                line = order["lines"][-1]
                self.cancel(
                    order, [{"line_id": line["line_id"], "quantity": line["quantities"]["ordered"]}], "changed mind"
                )

    def return_units(self, orders: list[dict[str, Any]], count: int) -> None:
        """Returns of one delivered unit each, received at the location that shipped it."""
        reasons = [("changed_mind", "resellable"), ("damaged_in_transit", "damaged"), ("changed_mind", "damaged")]
        for i, order in enumerate(orders[:count]):
            shipment = order["shipments"][0]
            line = shipment["lines"][0]
            reason, condition = reasons[i % len(reasons)]
            body = {"lines": [{"line_id": line["line_id"], "quantity": 1, "reason": reason}]}
            rma = self.api.send(
                "POST", f"/v1/orders/{order['order_id']}/returns", "agent return", json=body,
                headers={"Idempotency-Key": f"return-{order['order_id']}"},
            )  # fmt: skip
            if rma is None:
                continue
            self.log.returns.append(rma["return_id"])
            self.receive(rma["return_id"], shipment["location_id"], line["line_id"], condition)

    def exchange(self, orders: list[dict[str, Any]]) -> None:
        """One delivered unit exchanged for another size that is in stock."""
        for order in orders:
            for shipment in order["shipments"]:
                for line in shipment["lines"]:
                    size = self.in_stock(sibling_sizes(line["sku"]))
                    if size is None:
                        continue
                    body = {
                        "lines": [{"line_id": line["line_id"], "quantity": 1, "reason": "wrong_size"}],
                        "exchange": [{"sku": size, "quantity": 1}],
                    }
                    rma = self.api.send("POST", f"/v1/orders/{order['order_id']}/returns", "agent exchange", json=body)
                    if rma is None:
                        return
                    self.log.exchange = rma["return_id"]
                    self.receive(rma["return_id"], shipment["location_id"], line["line_id"], "resellable")
                    return

    def in_stock(self, skus: list[str]) -> str | None:
        if not skus:
            return None
        found = self.api.send("GET", "/v1/availability", "agent availability", params={"sku": skus})
        return next((i["sku"] for i in (found or {}).get("items", []) if i["available_to_promise"] > 0), None)

    def receive(self, return_id: str, location_id: str, line_id: str, condition: str) -> None:
        key = self.world.key_for(location_id)
        receipt = {"location_id": location_id, "lines": [{"line_id": line_id, "quantity": 1, "condition": condition}]}
        Api(self.api_url, key, self.world.surprises).send(
            "POST", f"/v1/returns/{return_id}/receive", "WMS receive return", json=receipt
        )

    def appease(self, orders: list[dict[str, Any]]) -> None:
        """A goodwill refund of 5.00 (or less) on one captured order."""
        for order in orders:
            if order["payment_status"] != "captured":
                continue
            amount = min(500, order["payment_summary"]["captured"] - order["payment_summary"]["refunded"])
            body = {"amount": amount, "reason": "parcel arrived late"}
            if self.api.send("POST", f"/v1/orders/{order['order_id']}/adjustments", "agent appeasement", json=body):
                self.log.appeased = order["order_id"]
            return


__all__ = ["Agent", "AgentLog", "Surprises", "sibling_sizes"]
