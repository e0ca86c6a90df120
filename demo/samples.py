"""Believable sample data for the demo, the benchmarks and the end-to-end tests."""

from __future__ import annotations

import copy
import random
from typing import Any

# sku -> (name, unit price in cents)
CATALOGUE: dict[str, tuple[str, int]] = {
    "TEE-CLASSIC-S": ("Classic tee, S", 1999),
    "TEE-CLASSIC-M": ("Classic tee, M", 1999),
    "TEE-CLASSIC-L": ("Classic tee, L", 1999),
    "HOODIE-ZIP-M": ("Zip hoodie, M", 5900),
    "HOODIE-ZIP-L": ("Zip hoodie, L", 5900),
    "JEANS-SLIM-30": ("Slim jeans 30", 7950),
    "JEANS-SLIM-32": ("Slim jeans 32", 7950),
    "JEANS-SLIM-34": ("Slim jeans 34", 7950),
    "SNEAKER-RUN-42": ("Running sneaker 42", 11900),
    "SNEAKER-RUN-44": ("Running sneaker 44", 11900),
    "SOCKS-3PK": ("Socks, 3 pack", 1299),
    "CAP-LOGO": ("Logo cap", 2499),
    "BAG-TOTE": ("Canvas tote", 1850),
    "JACKET-RAIN-M": ("Rain jacket, M", 12900),
    "BELT-LEATHER": ("Leather belt", 3900),
    "SCARF-WOOL": ("Wool scarf", 4500),
}

CITIES = [
    ("Berlin", "10115", "DE", 52.52, 13.405),
    ("Hamburg", "20095", "DE", 53.551, 9.993),
    ("Munich", "80331", "DE", 48.137, 11.575),
    ("Cologne", "50667", "DE", 50.937, 6.96),
    ("Paris", "75001", "FR", 48.857, 2.352),
    ("Lyon", "69001", "FR", 45.764, 4.835),
    ("Amsterdam", "1012", "NL", 52.37, 4.895),
    ("Vienna", "1010", "AT", 48.208, 16.373),
    ("Milan", "20121", "IT", 45.464, 9.19),
    ("Madrid", "28013", "ES", 40.417, -3.704),
]

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia", "Tim", "Frances", "John"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Perlman", "Lee"]

# channel -> its development API key
CHANNEL_KEYS = {
    "web": "dev-web-key",
    "app": "dev-app-key",
    "pos": "dev-pos-key",
    "marketplace": "dev-marketplace-key",
}


def sample_order(rng: random.Random, channel: str, external_id: str, *, max_lines: int = 5) -> dict[str, Any]:
    skus = rng.sample(sorted(CATALOGUE), k=rng.randint(1, max_lines))
    lines: list[dict[str, Any]] = []
    subtotal = 0
    for sku in skus:
        quantity = rng.choice([1, 1, 1, 2, 2, 3])
        price = CATALOGUE[sku][1]
        discount = rng.choice([0, 0, 0, price // 10])
        tax = (quantity * price - discount) * 19 // 100
        lines.append({"sku": sku, "quantity": quantity, "unit_price": price, "discount": discount, "tax": tax})
        subtotal += quantity * price - discount
    city, postal, country, lat, lon = rng.choice(CITIES)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    pickup = channel == "pos" and rng.random() < 0.5
    body: dict[str, Any] = {
        "channel": channel,
        "external_id": external_id,
        "customer": {"email": f"{first}.{last}{rng.randint(1, 60)}@example.com".lower(), "name": f"{first} {last}"},
        "currency": "EUR",
        "lines": lines,
        "shipping": {
            "address": {
                "line1": f"{rng.randint(1, 200)} Hauptstrasse",
                "city": city,
                "postal_code": postal,
                "country": country,
                "lat": lat,
                "lon": lon,
            },
            "method": "pickup" if pickup else rng.choice(["standard", "standard", "express"]),
            "amount": 0 if pickup else rng.choice([0, 495, 995]),
        },
        "payment": {"provider": "sandbox", "token": "tok_approve"},
    }
    if pickup:
        body["shipping"]["pickup_location_id"] = "store-berlin-mitte"
    if rng.random() < 0.3:
        body["promotions"] = [{"code": "AUTUMN15", "amount": subtotal * 15 // 100}]
    return body


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target = out
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return out


def _with(body: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target: Any = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return out


def bad_inputs(valid: dict[str, Any]) -> list[tuple[str, Any]]:
    """Twenty kinds of bad input for POST /v1/orders: (what is wrong, raw body or object)."""
    return [
        ("body is not JSON", "{not json"),
        ("body is a JSON array", [valid]),
        ("channel missing", _without(valid, "channel")),
        ("external_id empty", _with(valid, "", "external_id")),
        ("currency unknown", _with(valid, "EURO", "currency")),
        ("no lines", _with(valid, [], "lines")),
        ("quantity zero", _with(valid, 0, "lines", 0, "quantity")),
        ("quantity a string", _with(valid, "2", "lines", 0, "quantity")),
        ("unit_price a fraction", _with(valid, 19.99, "lines", 0, "unit_price")),
        ("unit_price negative", _with(valid, -5, "lines", 0, "unit_price")),
        ("discount above the line", _with(valid, 10**9, "lines", 0, "discount")),
        ("sku with spaces", _with(valid, "bad sku", "lines", 0, "sku")),
        ("email invalid", _with(valid, "not-an-email", "customer", "email")),
        ("customer missing", _without(valid, "customer")),
        ("country not ISO", _with(valid, "Germany", "shipping", "address", "country")),
        ("shipping method unknown", _with(valid, "teleport", "shipping", "method")),
        ("pickup without location", _with(valid, "pickup", "shipping", "method")),
        ("promotion above the order", _with(valid, [{"code": "FREE", "amount": 10**9}], "promotions")),
        ("unknown field", _with(valid, "yes", "gift_wrap")),
        ("payment token missing", _without(valid, "payment", "token")),
    ]


# location id -> (type, city, lat, lon, daily capacity, groups)
LOCATIONS: dict[str, tuple[str, str, float, float, int | None, list[str]]] = {
    "wh-east": ("warehouse", "Berlin", 52.45, 13.52, None, ["de-warehouses"]),
    "wh-west": ("warehouse", "Dortmund", 51.51, 7.47, None, ["de-warehouses"]),
    "wh-central": ("warehouse", "Erfurt", 50.98, 11.03, None, ["de-warehouses"]),
    "wh-paris": ("warehouse", "Paris", 48.92, 2.43, None, ["eu-warehouses"]),
    "store-berlin-mitte": ("store", "Berlin", 52.52, 13.40, 40, ["stores-that-ship"]),
    "store-hamburg": ("store", "Hamburg", 53.55, 9.99, 40, ["stores-that-ship"]),
    "store-munich": ("store", "Munich", 48.14, 11.58, 40, ["stores-that-ship"]),
    "store-cologne": ("store", "Cologne", 50.94, 6.96, 40, ["stores-that-ship"]),
    "store-vienna": ("store", "Vienna", 48.21, 16.37, 30, ["stores-that-ship"]),
    "store-milan": ("store", "Milan", 45.46, 9.19, 30, ["stores-that-ship"]),
}

# SKUs kept scarce so that some orders split and some wait for stock.
SCARCE = {"JACKET-RAIN-M": 6, "SNEAKER-RUN-44": 10, "SCARF-WOOL": 0}


def stock_rows(rng: random.Random, as_of: str) -> list[dict[str, Any]]:
    """Absolute stock for every SKU and location: warehouses deep, stores shallow, a few scarce."""
    rows = []
    for sku in sorted(CATALOGUE):
        for location_id, (kind, *_rest) in LOCATIONS.items():
            if sku in SCARCE:
                on_hand = SCARCE[sku] if location_id == "wh-west" else 0
            elif kind == "warehouse":
                on_hand = rng.randint(0, 3) * 40
            else:
                on_hand = rng.choice([0, 0, 2, 5, 8])
            rows.append({"location_id": location_id, "sku": sku, "on_hand": on_hand, "safety_stock": 0, "as_of": as_of})
    return rows
