"""RFM segments and the derived lifetime figures (pure).

Recency is days since the last order, frequency the number of orders, monetary the net
paid (captured less refunded). The segment is recomputed whenever the view is read, from
figures the stream keeps, because recency moves with the clock and not only with events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

Segment = Literal["none", "new", "loyal", "at_risk", "lapsed", "active"]

ACTIVE_DAYS = 90
LAPSED_DAYS = 180
LOYAL_ORDERS = 3


def _days_between(earlier: str, later: datetime) -> float:
    moment = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
    return (later - moment).total_seconds() / 86_400


def segment(orders: int, last_order_at: str | None, now: datetime) -> Segment:
    """new: one order, recent; loyal: 3+ orders, recent; at_risk: 2+ orders, 90-180 days quiet;
    lapsed: quiet for 180+ days; active: recent, 2 orders."""
    if orders <= 0 or not last_order_at:
        return "none"
    quiet = _days_between(last_order_at, now)
    if quiet > LAPSED_DAYS:
        return "lapsed"
    if quiet > ACTIVE_DAYS:
        return "at_risk" if orders >= 2 else "lapsed"
    if orders == 1:
        return "new"
    return "loyal" if orders >= LOYAL_ORDERS else "active"


def rounded_ratio(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers (minor units stay whole)."""
    if denominator <= 0:
        return 0
    return (2 * numerator + denominator) // (2 * denominator)


def lifetime_view(counters: Mapping[str, Any]) -> dict[str, Any]:
    """The API's lifetime figures from the stored sums (docs/reports.md defines each)."""
    c = {k: int(counters.get(k, 0)) for k in ("orders", "units", "ordered", "cancelled", "captured", "refunded")}
    shipped, returned = int(counters.get("units_shipped", 0)), int(counters.get("units_returned", 0))
    net = c["captured"] - c["refunded"]
    return {
        "currency": counters["currency"],
        **c,
        "net": net,
        "returns": int(counters.get("returns", 0)),
        "units_shipped": shipped,
        "units_returned": returned,
        "return_rate": round(returned / shipped, 4) if shipped else 0.0,
        "average_order_value": rounded_ratio(c["ordered"] - c["cancelled"], c["orders"]),
    }
