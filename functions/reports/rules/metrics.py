"""Report figures from orders' facts (pure). docs/reports.md defines each figure once."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

ON_TIME_SHIP_SECONDS = 48 * 3600


def seconds_between(start: str, end: str) -> int:
    def parse(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    return int((parse(end) - parse(start)).total_seconds())


def percentile(values: list[int], p: int) -> int | None:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


def rounded_ratio(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator) if denominator > 0 else 0


def select(
    facts: Iterable[Mapping[str, Any]], *, channel: str | None, location_id: str | None
) -> list[Mapping[str, Any]]:
    return [
        f
        for f in facts
        if (channel is None or f["channel"] == channel)
        and (location_id is None or location_id in f.get("locations", []))
    ]


def summarize(facts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    rows = list(facts)
    gmv: dict[str, int] = {}
    per_currency: dict[str, int] = {}
    for f in rows:
        gmv[f["currency"]] = gmv.get(f["currency"], 0) + int(f["ordered"])
        per_currency[f["currency"]] = per_currency.get(f["currency"], 0) + 1
    allocated = [f for f in rows if int(f.get("allocation_ran", 0))]
    shipped = [f for f in rows if f.get("first_shipped_at")]
    delivered = [f for f in rows if f.get("delivered_at")]
    to_ship = [seconds_between(f["placed_at"], f["first_shipped_at"]) for f in shipped]
    to_deliver = [seconds_between(f["placed_at"], f["delivered_at"]) for f in delivered]
    units_shipped = sum(int(f["units_shipped"]) for f in rows)
    return {
        "orders": len(rows),
        "units": sum(int(f["units"]) for f in rows),
        "gmv": gmv,
        "aov": {c: rounded_ratio(v, per_currency[c]) for c, v in gmv.items()},
        "fill_rate": rate(sum(int(f["first_time_fill"]) for f in allocated), len(allocated)),
        "split_rate": rate(sum(1 for f in shipped if int(f["shipments"]) > 1), len(shipped)),
        "backorder_rate": rate(sum(int(f["backordered"]) for f in allocated), len(allocated)),
        "cancel_rate": rate(sum(1 for f in rows if int(f["units_cancelled"]) > 0), len(rows)),
        "return_rate": rate(sum(int(f["units_returned"]) for f in rows), units_shipped),
        "time_to_ship": {"p50": percentile(to_ship, 50), "p90": percentile(to_ship, 90)},
        "time_to_delivery": {"p50": percentile(to_deliver, 50), "p90": percentile(to_deliver, 90)},
        "on_time_ship_rate": rate(sum(1 for s in to_ship if s <= ON_TIME_SHIP_SECONDS), len(to_ship)),
        "stock_outs": len({sku for f in rows for sku in f.get("backordered_skus", [])}),
    }
