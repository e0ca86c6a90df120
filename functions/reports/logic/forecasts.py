"""GET /v1/forecast: the SKU's demand history (kept from the stream), its forecast and a reorder suggestion."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from functions.customers.api import demand_history
from functions.inventory.api import stock_for_skus
from functions.reports.rules.forecast import forecast, reorder
from shared.api.caller import Caller, Role
from shared.clock import now

FORECAST_ROLES: tuple[Role, ...] = ("agent", "ops")
HISTORY_DAYS = 365


def demand_series(sku: str, last_day: date, history_days: int = HISTORY_DAYS) -> list[int]:
    """Units ordered per day, oldest first, zero on days without orders (from the first day with any)."""
    first = last_day - timedelta(days=history_days - 1)
    found = demand_history(sku, first.isoformat(), last_day.isoformat())
    series = [found.get((first + timedelta(d)).isoformat(), 0) for d in range(history_days)]
    start = next((i for i, units in enumerate(series) if units), len(series))
    return series[start:]


def sku_forecast(
    caller: Caller, sku: str, location_id: str | None, days: int, lead_time_days: int, service_level: float
) -> dict[str, Any]:
    caller.require(*FORECAST_ROLES)
    today = now().date()
    history = demand_series(sku, today - timedelta(days=1))
    fc = forecast(history, max(days, lead_time_days))
    # Without a location: the SKU's stock over every location.
    held = stock_for_skus([sku], {location_id} if location_id else None)[sku].values()
    on_hand = sum(s.on_hand for s in held)
    reserved = sum(s.reserved for s in held)
    suggestion = reorder(
        fc,
        lead_time_days=lead_time_days,
        service_level=service_level,
        on_hand=on_hand,
        reserved=reserved,
        cover_days=days,
    )
    return {
        "sku": sku,
        "location_id": location_id,
        "method": fc.method,
        "history_days": len(history),
        "interval": 0.8,
        "daily": [
            {
                "date": (today + timedelta(d)).isoformat(),
                "mean": round(fc.mean[d], 3),
                "lower": round(fc.lower[d], 3),
                "upper": round(fc.upper[d], 3),
            }
            for d in range(days)
        ],
        "reorder": {
            "reorder_point": suggestion.reorder_point,
            "safety_stock": suggestion.safety_stock,
            "suggested_quantity": suggestion.suggested_quantity,
            "lead_time_days": suggestion.lead_time_days,
            "lead_time_demand": suggestion.lead_time_demand,
            "service_level": suggestion.service_level,
            "on_hand": on_hand,
            "reserved": reserved,
        },
    }
