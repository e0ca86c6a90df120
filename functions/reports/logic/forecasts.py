"""Demand forecasts: GET /v1/forecast and the nightly batch that stores one per SKU.

The forecast (the model fit) is the costly part; the batch computes it once a day for
every SKU with demand in the last year and stores it. A request reads the stored one when
it was computed for today, else fits the model itself; the reorder suggestion is always
computed on request, from the live stock and the caller's lead time and service level.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from functions.customers.api import demand_history, skus_with_demand
from functions.inventory.api import stock_for_skus
from functions.reports import store
from functions.reports.rules.forecast import Forecast, forecast, reorder
from shared.api.caller import Caller, Role
from shared.clock import now, now_iso

FORECAST_ROLES: tuple[Role, ...] = ("agent", "ops")
HISTORY_DAYS = 365
# The longest the API asks for: days and lead_time_days are each at most 90.
STORED_HORIZON = 90


def demand_series(sku: str, last_day: date, history_days: int = HISTORY_DAYS) -> list[int]:
    """Units ordered per day, oldest first, zero on days without orders (from the first day with any)."""
    first = last_day - timedelta(days=history_days - 1)
    found = demand_history(sku, first.isoformat(), last_day.isoformat())
    series = [found.get((first + timedelta(d)).isoformat(), 0) for d in range(history_days)]
    start = next((i for i, units in enumerate(series) if units), len(series))
    return series[start:]


def _fields(fc: Forecast, history_days: int, today: date) -> dict[str, Any]:
    return {
        "computed_for": today.isoformat(),
        "computed_at": now_iso(),
        "method": fc.method,
        "history_days": history_days,
        "residual_std": round(float(fc.residual_std), 6),
        "mean": [round(float(v), 6) for v in fc.mean],
        "median": [round(float(v), 6) for v in fc.median],
        "lower": [round(float(v), 6) for v in fc.lower],
        "upper": [round(float(v), 6) for v in fc.upper],
    }


def _stored(item: dict[str, Any], horizon: int) -> Forecast:
    """The stored forecast cut to ``horizon`` days: every method's forecast is a prefix of a longer one."""
    return Forecast(
        method=item["method"],
        mean=[float(v) for v in item["mean"][:horizon]],
        lower=[float(v) for v in item["lower"][:horizon]],
        upper=[float(v) for v in item["upper"][:horizon]],
        residual_std=float(item["residual_std"]),
        median=[float(v) for v in item["median"][:horizon]],
    )


def forecast_for(sku: str, today: date, horizon: int) -> tuple[Forecast, int, str | None]:
    """(forecast, history days, when it was computed: None when fitted for this request)."""
    item = store.get_forecast(sku)
    if item is not None and item.get("computed_for") == today.isoformat() and len(item["mean"]) >= horizon:
        return _stored(item, horizon), int(item["history_days"]), str(item["computed_at"])
    history = demand_series(sku, today - timedelta(days=1))
    return forecast(history, horizon), len(history), None


def forecast_batch(today: date, time_left_ms: int | None = None) -> dict[str, Any]:
    """Fit and store the forecast of every SKU with demand in the last year (idempotent: a rerun
    the same day rewrites the same figures). Stops early, saying so, when the time is nearly up."""
    yesterday = today - timedelta(days=1)
    skus = skus_with_demand((yesterday - timedelta(days=HISTORY_DAYS - 1)).isoformat(), yesterday.isoformat())
    started = time.monotonic()
    written = 0
    for sku in skus:
        if time_left_ms is not None and time_left_ms - (time.monotonic() - started) * 1000 < 10_000:
            break
        history = demand_series(sku, yesterday)
        store.put_forecast(sku, _fields(forecast(history, STORED_HORIZON), len(history), today))
        written += 1
    return {"day": today.isoformat(), "skus": len(skus), "written": written, "complete": written == len(skus)}


def sku_forecast(
    caller: Caller, sku: str, location_id: str | None, days: int, lead_time_days: int, service_level: float
) -> dict[str, Any]:
    caller.require(*FORECAST_ROLES)
    today = now().date()
    fc, history_days, computed_at = forecast_for(sku, today, max(days, lead_time_days))
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
        "history_days": history_days,
        "interval": 0.8,
        "computed_at": computed_at or now_iso(),
        "source": "batch" if computed_at else "request",
        "daily": [
            {
                "date": (today + timedelta(d)).isoformat(),
                "mean": round(fc.mean[d], 3),
                "median": round(fc.median[d], 3),
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
