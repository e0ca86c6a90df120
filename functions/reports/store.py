"""The reports domain's items: each SKU's demand forecast, written by the nightly batch.

``FORECAST#<sku>`` / ``FORECAST``: the forecast of the next ``STORED_HORIZON`` days from
the day it was computed for, so ``GET /v1/forecast`` reads one item instead of fitting
the model on every request.
"""

from __future__ import annotations

from typing import Any

from shared.table import Item, Table

FORECAST_SK = "FORECAST"


def forecast_pk(sku: str) -> str:
    return f"FORECAST#{sku}"


def put_forecast(sku: str, fields: dict[str, Any], table: Table | None = None) -> None:
    """The SKU's forecast, replacing the previous one (a rerun for the same day writes the same figures)."""
    (table or Table()).put({"pk": forecast_pk(sku), "sk": FORECAST_SK, "type": "forecast", "sku": sku, **fields})


def get_forecast(sku: str, table: Table | None = None) -> Item | None:
    return (table or Table()).get(forecast_pk(sku), FORECAST_SK, consistent=False)
