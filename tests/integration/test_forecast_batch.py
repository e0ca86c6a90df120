"""The nightly forecast batch: fired through its EventBridge schedule, it stores every SKU's
forecast, and GET /v1/forecast reads the stored one (the same figures a request would fit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import numpy as np

from functions.customers.store import demand_add_op, put_demand_days, skus_with_demand
from functions.reports import store
from functions.reports.handlers.api import handler as reports_handler
from functions.reports.logic.forecasts import demand_series
from functions.reports.rules.forecast import forecast
from infra.local.schedules import fire
from shared.clock import now
from shared.table import Table
from tests.integration.conftest import api_event, call


def _demand(sku: str, units_by_days_ago: dict[int, int], today: datetime) -> None:
    """Demand counters as the read-model projection writes them: each day's units from two
    orders (so in up to two shards' counters), and the SKU's day markers."""
    ops, days = [], []
    for ago, units in units_by_days_ago.items():
        day = (today.date() - timedelta(days=ago)).isoformat()
        days.append((sku, day))
        first = units // 2
        for order_id, part in ((f"ord_{sku}_{ago}_a", first), (f"ord_{sku}_{ago}_b", units - first)):
            if part:
                ops.append(demand_add_op(sku, day, part, order_id))
    table = Table()
    put_demand_days(days, table)
    for op in ops:  # one at a time: two orders of a day may share a shard's counter
        table.transact([op])


def _get_forecast(sku: str, days: int = 14) -> dict:
    status, _, body = call(
        reports_handler,
        api_event(
            "GET",
            "/v1/forecast",
            resource="/v1/forecast",
            key="dev-ops-key",
            query={"sku": sku, "days": str(days)},
        ),
    )
    assert status == 200, body
    return body


def test_the_schedule_stores_each_skus_forecast_and_the_api_reads_it(aws):
    today = now()
    rng = np.random.default_rng(3)
    weekly = [12, 10, 11, 13, 15, 25, 8]
    _demand("BATCH-SMOOTH", {ago: int(rng.poisson(weekly[ago % 7])) + 1 for ago in range(1, 120)}, today)
    _demand("BATCH-SPARSE", {ago: 2 for ago in range(1, 200, 9)}, today)
    _demand("BATCH-OLD", {400: 5, 420: 3}, today)  # nothing in the last year: no forecast to keep
    _demand("BATCH-TODAY", {0: 4}, today)  # today's demand is not history yet

    events, lambda_ = boto3.client("events"), boto3.client("lambda")
    (result,) = fire(events, lambda_, "NightlyForecasts", at=today)
    assert result == {"day": today.date().isoformat(), "skus": 2, "written": 2, "complete": True}
    assert store.get_forecast("BATCH-OLD") is None and store.get_forecast("BATCH-TODAY") is None

    for sku, method in (("BATCH-SMOOTH", "holt_winters"), ("BATCH-SPARSE", "tsb")):
        stored = store.get_forecast(sku)
        assert stored is not None and stored["computed_for"] == today.date().isoformat()
        served = _get_forecast(sku)
        assert (served["source"], served["method"], served["computed_at"]) == ("batch", method, stored["computed_at"])
        # What the request would have fitted itself, to the API's rounding.
        history = demand_series(sku, today.date() - timedelta(days=1))
        fitted = forecast(history, 14)
        assert served["history_days"] == len(history)
        assert [d["mean"] for d in served["daily"]] == [round(v, 3) for v in fitted.mean]
        assert [d["upper"] for d in served["daily"]] == [round(v, 3) for v in fitted.upper]

    # Fired twice (EventBridge delivers at least once): the same figures again.
    first = store.get_forecast("BATCH-SMOOTH")
    fire(events, lambda_, "NightlyForecasts", at=today)
    again = store.get_forecast("BATCH-SMOOTH")
    assert first is not None and again is not None
    first.pop("computed_at")
    again.pop("computed_at")
    assert again == first


def test_a_forecast_of_an_earlier_day_is_not_served(aws):
    today = now()
    _demand("BATCH-STALE", {ago: 3 for ago in range(1, 40)}, today)
    (result,) = fire(boto3.client("events"), boto3.client("lambda"), "NightlyForecasts", at=today - timedelta(days=1))
    assert result["written"] == 1
    assert _get_forecast("BATCH-STALE")["source"] == "request"
    # A SKU the batch has not reached yet is fitted on request as before.
    _demand("BATCH-NEW", {1: 2, 2: 1}, today)
    assert _get_forecast("BATCH-NEW")["source"] == "request"


def test_skus_with_demand_reads_one_index_partition_per_month(aws):
    day = datetime(2026, 1, 15, tzinfo=UTC)
    _demand("MONTH-A", {0: 1, 40: 2}, day)
    _demand("MONTH-B", {70: 1}, day)
    assert skus_with_demand("2025-12-01", "2026-01-15") == ["MONTH-A"]
    assert skus_with_demand("2025-11-01", "2026-01-31") == ["MONTH-A", "MONTH-B"]
    assert skus_with_demand("2026-01-16", "2026-02-28") == []
