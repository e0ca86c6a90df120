"""Fulfillment orders and shipments as GET /v1/orders/{id} and the fulfillment API show them."""

from __future__ import annotations

from typing import Any

from functions.fulfill.rules.status import PICKUP_GROUP, READY_FOR_PICKUP, TERMINAL_STATUSES, open_units
from shared.table import Item

_STEPS = ("accepted", "picked", "packed", READY_FOR_PICKUP, *TERMINAL_STATUSES)


def _pickup(item: Item) -> dict[str, Any]:
    """A pickup order's code state (never the code, never its hash)."""
    if item.get("delivery_group") != PICKUP_GROUP or "pickup_issue" not in item:
        return {}
    return {
        "pickup": {
            "codes_issued": int(item["pickup_issue"]),
            "wrong_attempts": int(item.get("pickup_attempts", 0)),
            "no_show_at": item.get("no_show_at"),
        }
    }


def fulfillment_order_view(item: Item) -> dict[str, Any]:
    lines = sorted(item["lines"], key=lambda line: int(line["position"]))
    return {
        "fo_id": item["fo_id"],
        "order_id": item["order_id"],
        "location_id": item["location_id"],
        "delivery_group": item["delivery_group"],
        "status": item["status"],
        "lines": [
            {
                "line_id": line["line_id"],
                "sku": line["sku"],
                "quantity": int(line["quantity"]),
                "shipped": int(line.get("shipped", 0)),
                "rejected": int(line.get("rejected", 0)),
                "cancelled": int(line.get("cancelled", 0)),
                "open": open_units(line),
            }
            for line in lines
        ],
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
        **{f"{s}_at": item[f"{s}_at"] for s in _STEPS if f"{s}_at" in item},
        **_pickup(item),
    }


_SHIPMENT_OPTIONAL = ("invoice_id", "captured_at", "delivered_at", "parts", "method")


def shipment_view(item: Item) -> dict[str, Any]:
    return {
        "shipment_id": item["shipment_id"],
        "order_id": item["order_id"],
        "fo_id": item["fo_id"],
        "location_id": item["location_id"],
        "carrier": item.get("carrier"),  # none for a pickup (method "pickup")
        "tracking_number": item.get("tracking_number"),
        "lines": [
            {
                "line_id": line["line_id"],
                "sku": line["sku"],
                "quantity": int(line["quantity"]),
                "first_unit": int(line["first_unit"]),
            }
            for line in sorted(item["lines"], key=lambda line: int(line["position"]))
        ],
        "capture_status": item["capture_status"],
        "tracking_status": item["tracking_status"],
        "shipped_at": item["shipped_at"],
        **{name: item[name] for name in _SHIPMENT_OPTIONAL if name in item},
        # The carrier's time of the latest status (stored once, as ``tracking_status_at``;
        # shipments tracked before kept a copy as ``tracking_updated_at``).
        **(
            {"tracking_updated_at": item.get("tracking_status_at") or item["tracking_updated_at"]}
            if "tracking_status_at" in item or "tracking_updated_at" in item
            else {}
        ),
    }
