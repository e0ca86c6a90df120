"""The pick list of a fulfillment order: what to take from the shelves, and where it goes.

JSON for a WMS, or a printable HTML page (A4, one table, no scripts).
"""

from __future__ import annotations

from html import escape
from typing import Any

from functions.fulfill.rules.status import open_units
from shared.clock import now_iso
from shared.table import Item


def pick_list(fo: Item, header: Item) -> dict[str, Any]:
    """Open units per line, in line order; the ship-to comes from the order."""
    lines = [
        {
            "line_id": line["line_id"],
            "position": int(line["position"]),
            "sku": line["sku"],
            "quantity": open_units(line),
        }
        for line in sorted(fo["lines"], key=lambda line: int(line["position"]))
        if open_units(line) > 0
    ]
    shipping = header.get("shipping", {})
    return {
        "fo_id": fo["fo_id"],
        "order_id": fo["order_id"],
        "external_id": header.get("external_id"),
        "location_id": fo["location_id"],
        "delivery_group": fo["delivery_group"],
        "status": fo["status"],
        "ship_to": {"name": header.get("customer", {}).get("name"), "address": shipping.get("address", {})},
        "lines": lines,
        "total_units": sum(line["quantity"] for line in lines),
        "generated_at": now_iso(),
    }


_ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "region", "country")


def pick_list_html(pick: dict[str, Any]) -> str:
    address = pick["ship_to"]["address"]
    ship_to = "<br>".join(escape(str(address[f])) for f in _ADDRESS_FIELDS if address.get(f))
    rows = "".join(
        f"<tr><td>{line['position']}</td><td><code>{escape(line['sku'])}</code></td>"
        f"<td class='n'>{line['quantity']}</td><td class='box'></td></tr>"
        for line in pick["lines"]
    )
    title = f"Pick list {escape(pick['fo_id'])}"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>"
        "@page{size:A4;margin:15mm}body{font-family:sans-serif;font-size:11pt}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #444;padding:4px 8px;text-align:left}"
        ".n{text-align:right}.box{width:20mm}"
        "</style></head><body>"
        f"<h1>{title}</h1>"
        f"<p>Order {escape(pick['order_id'])} ({escape(str(pick.get('external_id') or ''))}) · "
        f"location {escape(pick['location_id'])} · {escape(pick['delivery_group'])} · {escape(pick['status'])}</p>"
        f"<p><strong>Ship to</strong><br>{escape(str(pick['ship_to'].get('name') or ''))}<br>{ship_to}</p>"
        "<table><tr><th>Line</th><th>SKU</th><th class='n'>Quantity</th><th>Picked</th></tr>"
        f"{rows}<tr><th colspan='2'>Total units</th><th class='n'>{pick['total_units']}</th><th></th></tr></table>"
        f"<p>Printed {escape(pick['generated_at'])}</p></body></html>"
    )
