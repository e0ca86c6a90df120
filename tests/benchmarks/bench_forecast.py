"""Forecast backtests on generated daily demand: smooth (weekly season and trend) and intermittent.

For each SKU: fit on all days but the last ``horizon``, forecast those, and compare with
the seasonal-naive forecast (the last week repeated). Figures: MASE relative to seasonal
naive (mean absolute error of the method / of seasonal naive over the same days; goal
< 0.9), the share of actual days inside the 80 % interval (goal 75-85 %), time per SKU.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from functions.reports.rules.forecast import forecast, seasonal_naive

WEEKLY = np.array([0.8, 0.9, 1.0, 1.0, 1.1, 1.4, 0.8])


def smooth_series(rng: np.random.Generator, days: int) -> list[int]:
    base = rng.uniform(10, 60)
    trend = rng.uniform(-0.02, 0.08) * base / 30
    t = np.arange(days)
    mean = np.maximum(base + trend * t, 1.0) * WEEKLY[t % 7]
    return [int(v) for v in rng.poisson(mean)]


def intermittent_series(rng: np.random.Generator, days: int) -> list[int]:
    probability = rng.uniform(0.05, 0.4)
    size = rng.uniform(1, 6)
    demand = rng.random(days) < probability
    return [int(1 + rng.poisson(size - 1)) if d else 0 for d in demand]


def backtest(kind: str, skus: int, days: int, horizon: int, seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    make = smooth_series if kind == "smooth" else intermittent_series
    method_error = naive_error = 0.0
    inside = total = 0
    week_method = week_naive = 0.0
    elapsed = 0.0
    methods: dict[str, int] = {}
    for _ in range(skus):
        series = make(rng, days + horizon)
        history, actual = series[:days], np.array(series[days:], dtype=float)
        started = time.perf_counter()
        fc = forecast(history, horizon)
        elapsed += time.perf_counter() - started
        methods[fc.method] = methods.get(fc.method, 0) + 1
        method_error += float(np.abs(actual - np.array(fc.mean)).sum())
        naive_error += float(np.abs(actual - np.array(seasonal_naive(history, horizon))).sum())
        # Weekly sums: what a reorder decision over a lead time depends on.
        weeks = horizon // 7 * 7
        actual_weeks = actual[:weeks].reshape(-1, 7).sum(axis=1)
        week_method += float(np.abs(actual_weeks - np.array(fc.mean[:weeks]).reshape(-1, 7).sum(axis=1)).sum())
        naive_weeks = np.array(seasonal_naive(history, weeks)).reshape(-1, 7).sum(axis=1)
        week_naive += float(np.abs(actual_weeks - naive_weeks).sum())
        inside += int(((actual >= np.array(fc.lower)) & (actual <= np.array(fc.upper))).sum())
        total += horizon
    return {
        "kind": kind,
        "skus": skus,
        "history_days": days,
        "horizon_days": horizon,
        "methods": methods,
        "mase_vs_seasonal_naive": round(method_error / naive_error, 3),
        "weekly_mase_vs_seasonal_naive": round(week_method / week_naive, 3),
        "interval_80_coverage": round(inside / total, 3),
        "ms_per_sku": round(elapsed / skus * 1000, 2),
    }


def bench_forecast(skus: int = 200) -> dict[str, Any]:
    return {"runs": [backtest("smooth", skus, 365, 28), backtest("intermittent", skus, 365, 28)]}


def print_table(result: dict[str, Any]) -> None:
    print("\nDemand forecast backtests (goal: MASE vs seasonal naive < 0.9, 80 % interval coverage 75-85 %)")
    print(f"  {'series':<13} {'SKUs':>5} {'method':<22} {'MASE':>6} {'weekly':>6} {'cover':>6} {'ms/SKU':>7}")
    for run in result["runs"]:
        methods = ",".join(f"{k}:{v}" for k, v in run["methods"].items())
        print(
            f"  {run['kind']:<13} {run['skus']:>5} {methods:<22} {run['mase_vs_seasonal_naive']:>6} "
            f"{run['weekly_mase_vs_seasonal_naive']:>6} {run['interval_80_coverage']:>6} {run['ms_per_sku']:>7}"
        )


if __name__ == "__main__":
    print_table(bench_forecast(60))
