"""Forecast and report rules without a table."""

from __future__ import annotations

import numpy as np

from functions.reports.rules.forecast import forecast, reorder
from functions.reports.rules.metrics import percentile, summarize


def test_weekly_demand_is_forecast_with_its_season_and_an_interval_around_it():
    rng = np.random.default_rng(1)
    weekly = np.array([10, 10, 10, 10, 10, 30, 5])
    history = [int(v) for v in rng.poisson(np.tile(weekly, 20))]
    fc = forecast(history, 14)
    assert fc.method == "holt_winters"
    saturday = fc.mean[(140 + 5 - 140) % 7]  # day 140 is a Monday of the pattern
    assert saturday > 2 * fc.mean[0]
    assert all(lo <= m <= hi for lo, m, hi in zip(fc.lower, fc.mean, fc.upper, strict=True))


def test_intermittent_demand_uses_tsb_and_the_reorder_point_covers_lead_time_demand():
    history = [0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 4, 0, 0] * 10
    fc = forecast(history, 28)
    assert fc.method == "tsb"
    assert abs(sum(fc.mean[:14]) - sum(history[-14:])) <= 4
    r = reorder(fc, lead_time_days=7, service_level=0.95, on_hand=2, reserved=1, cover_days=14)
    assert r.reorder_point >= r.lead_time_demand + r.safety_stock - 1 and r.safety_stock > 0
    assert r.suggested_quantity >= r.reorder_point - r.position
    plenty = reorder(fc, lead_time_days=7, service_level=0.95, on_hand=1000, reserved=0, cover_days=14)
    assert plenty.suggested_quantity == 0


def test_percentiles_are_nearest_rank():
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert percentile([], 50) is None


def facts(order_id, **extra):
    base = {
        "order_id": order_id,
        "channel": "web",
        "currency": "EUR",
        "placed_at": "2026-03-01T10:00:00.000Z",
        "units": 2,
        "units_cancelled": 0,
        "units_shipped": 2,
        "units_returned": 0,
        "ordered": 1000,
        "shipments": 1,
        "first_shipped_at": "2026-03-01T22:00:00.000Z",
        "allocation_ran": 1,
        "first_time_fill": 1,
        "backordered": 0,
        "backordered_skus": [],
        "locations": ["wh-a"],
    }
    return base | extra


def test_summary_figures_follow_their_definitions():
    rows = [
        facts("o1"),
        facts("o2", ordered=3001, shipments=2, units_returned=1, delivered_at="2026-03-03T10:00:00.000Z"),
        facts(
            "o3",
            units_cancelled=2,
            units_shipped=0,
            shipments=0,
            first_shipped_at=None,
            first_time_fill=0,
            backordered=1,
            backordered_skus=["X", "Y"],
        ),
        facts("o4", currency="USD", ordered=500, first_shipped_at="2026-03-04T10:00:00.000Z"),
    ]
    s = summarize(rows)
    assert s["orders"] == 4 and s["units"] == 8
    assert s["gmv"] == {"EUR": 5001, "USD": 500} and s["aov"] == {"EUR": 1667, "USD": 500}
    assert s["fill_rate"] == 0.75 and s["backorder_rate"] == 0.25 and s["cancel_rate"] == 0.25
    assert s["split_rate"] == round(1 / 3, 4) and s["return_rate"] == round(1 / 6, 4)
    assert s["time_to_ship"] == {"p50": 12 * 3600, "p90": 72 * 3600}
    assert s["time_to_delivery"] == {"p50": 48 * 3600, "p90": 48 * 3600}
    assert s["on_time_ship_rate"] == round(2 / 3, 4) and s["stock_outs"] == 2


def test_an_orders_facts_keep_demand_of_at_most_one_transactions_worth_of_skus():
    from functions.customers.rules.facts import MAX_DEMAND_SKUS, order_facts
    from shared.order.record import OrderRecord

    header = {
        "order_id": "ord_1",
        "customer_id": "cus_1",
        "channel": "web",
        "currency": "EUR",
        "status": "open",
        "created_at": "2026-03-01T10:00:00.000Z",
        "placed_at": "2026-02-27T09:00:00.000Z",
        "totals": {"total": 9500},
    }
    lines = [
        {"line_id": f"ln_{i}", "sku": f"SKU-{i:03d}", "quantity": 1, "quantities": {"ordered": 1}} for i in range(95)
    ]
    cancel = {"kind": "cancel", "totals": {"total": -300}}
    facts = order_facts(OrderRecord(header=header, lines=lines, others={"CHG": [cancel]}))
    assert len(facts["demand"]) == MAX_DEMAND_SKUS and "SKU-000" in facts["demand"] and "SKU-094" not in facts["demand"]
    assert facts["day"] == "2026-02-27" and facts["units"] == 95 and facts["cancelled"] == 300
    assert "first_shipped_at" not in facts  # absent, never null


def test_the_median_of_sparse_demand_is_zero_and_its_mean_the_rate():
    history = [0, 0, 0, 3, 0, 0, 0, 0, 2, 0] * 20  # a demand day one day in five
    fc = forecast(history, 7)
    assert fc.method == "tsb"
    assert fc.median == [0.0] * 7
    assert 0.3 < fc.mean[0] < 0.7  # about 2.5 units x 0.2


def test_the_median_of_frequent_intermittent_demand_is_a_demand_size():
    history = [0, 4, 4, 0, 4, 4, 4, 0, 4, 4] * 20
    history[::7] = [0] * len(history[::7])  # 40 % zero days: intermittent, yet a demand day is the likelier
    fc = forecast(history, 3)
    assert fc.method == "tsb"
    assert fc.median == [4.0] * 3


def test_the_median_of_smooth_demand_is_near_its_mean():
    rng = np.random.default_rng(5)
    history = [int(v) for v in rng.poisson(np.tile([20, 20, 20, 20, 20, 40, 10], 30))]
    fc = forecast(history, 14)
    assert fc.method == "holt_winters"
    assert all(abs(m - md) <= 3 for m, md in zip(fc.mean, fc.median, strict=True))
