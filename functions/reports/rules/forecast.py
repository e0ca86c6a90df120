"""Daily demand forecasts with an 80 % prediction interval, and the reorder suggestion (pure, numpy).

Two methods, chosen by the history's share of zero days:

- ``holt_winters``: additive Holt-Winters with a damped trend and a weekly season,
  smoothing weights picked on a small grid by the one-step-ahead squared error;
  the interval adds the 10th and 90th percentiles of the one-step residuals.
- ``tsb`` (Teunter-Syntetos-Babai) for intermittent demand: the probability of a
  demand day and the size of a demand, each exponentially smoothed; the interval is the
  10th to 90th percentile of recent daily demand (what a day of it looks like).

Each day has a ``mean`` (expected units: what lead-time demand and the reorder point sum)
and a ``median`` (the middle of the day's predictive distribution: the point forecast a
per-day absolute error asks for). On intermittent demand they differ: with a demand day
less likely than not the median is 0 while the mean is the rate (docs/reports.md).

The reorder point is the lead-time demand plus safety stock z(service level) x sigma x
sqrt(lead time); docs/reports.md states the formulas.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

SEASON = 7
INTERMITTENT_ZERO_SHARE = 0.3
INTERVAL = (10, 90)
ALPHAS = (0.05, 0.1, 0.2, 0.35)
BETAS = (0.01, 0.05)
GAMMAS = (0.05, 0.15, 0.3)
PHIS = (0.9, 0.98)


@dataclass(frozen=True)
class Forecast:
    method: str
    mean: list[float]
    lower: list[float]
    upper: list[float]
    residual_std: float
    median: list[float]


def _holt_winters(
    y: np.ndarray, alpha: float, beta: float, gamma: float, phi: float, horizon: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """One pass: the one-step squared error, the one-step residuals, the horizon's forecast."""
    season = y[:SEASON] - y[:SEASON].mean()
    seasonal = list(season)
    level = float(y[:SEASON].mean())
    trend = float((y[SEASON : 2 * SEASON].mean() - y[:SEASON].mean()) / SEASON) if len(y) >= 2 * SEASON else 0.0
    residuals = np.empty(len(y) - SEASON)
    for t in range(SEASON, len(y)):
        s = seasonal[t - SEASON]
        predicted = level + phi * trend + s
        residuals[t - SEASON] = y[t] - predicted
        new_level = alpha * (y[t] - s) + (1 - alpha) * (level + phi * trend)
        trend = beta * (new_level - level) + (1 - beta) * phi * trend
        seasonal.append(gamma * (y[t] - new_level) + (1 - gamma) * s)
        level = new_level
    n = len(y)
    damp = np.cumsum(phi ** np.arange(1, horizon + 1))
    ahead = np.array([level + damp[k] * trend + seasonal[n - SEASON + (k % SEASON)] for k in range(horizon)])
    return float(np.mean(residuals**2)), residuals, ahead


def holt_winters(y: np.ndarray, horizon: int) -> Forecast:
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for alpha, beta, gamma, phi in itertools.product(ALPHAS, BETAS, GAMMAS, PHIS):
        fit = _holt_winters(y, alpha, beta, gamma, phi, horizon)
        if best is None or fit[0] < best[0]:
            best = fit
    assert best is not None
    _, residuals, ahead = best
    recent = residuals[-180:]
    low, high = np.percentile(recent, INTERVAL)
    mean = np.maximum(ahead, 0.0)
    return Forecast(
        method="holt_winters",
        mean=mean.tolist(),
        lower=np.maximum(ahead + low, 0.0).tolist(),
        upper=np.maximum(ahead + high, 0.0).tolist(),
        residual_std=float(np.std(recent)),
        median=np.maximum(ahead + float(np.percentile(recent, 50)), 0.0).tolist(),
    )


def tsb(y: np.ndarray, horizon: int) -> Forecast:
    best: tuple[float, float, float] | None = None
    for alpha, beta in itertools.product((0.05, 0.1, 0.2, 0.3), (0.02, 0.05, 0.1, 0.2)):
        nonzero = y[y > 0]
        size = float(nonzero[:5].mean()) if len(nonzero) else 0.0
        probability = float((y[: SEASON * 2] > 0).mean())
        error = 0.0
        for value in y:
            error += (value - probability * size) ** 2
            probability += beta * ((1.0 if value > 0 else 0.0) - probability)
            if value > 0:
                size += alpha * (value - size)
        if best is None or error < best[0]:
            best = (error, probability, size)
    assert best is not None
    _, probability, size = best
    recent = y[-90:]
    low = float(np.percentile(recent, INTERVAL[0], method="inverted_cdf"))
    # Demand comes in whole units and most days are zero: from a lower bound of 0 the
    # interval needs only the 80th percentile above it to hold 80 % of the days.
    upper_share = INTERVAL[1] - INTERVAL[0] if low == 0 else INTERVAL[1]
    high = float(np.percentile(recent, upper_share, method="inverted_cdf"))
    daily = probability * size
    return Forecast(
        method="tsb",
        mean=[daily] * horizon,
        lower=[float(low)] * horizon,
        upper=[float(high)] * horizon,
        residual_std=float(np.std(recent - daily)),
        median=[_mixture_median(probability, y[y > 0][-SIZE_HISTORY:])] * horizon,
    )


SIZE_HISTORY = 60


def _mixture_median(probability: float, sizes: np.ndarray) -> float:
    """The median of a day that is 0 with 1 - ``probability``, else one of the recent demand ``sizes``."""
    if probability <= 0.5 or not len(sizes):
        return 0.0
    share = (0.5 - (1.0 - probability)) / probability
    return float(np.quantile(sizes, share, method="inverted_cdf"))


def forecast(history: list[int], horizon: int) -> Forecast:
    """The forecast of the next ``horizon`` days from daily demand, oldest first."""
    y = np.asarray(history, dtype=float)
    if len(y) < 2 * SEASON:
        mean = float(y.mean()) if len(y) else 0.0
        return Forecast(
            "mean",
            [mean] * horizon,
            [0.0] * horizon,
            [float(y.max()) if len(y) else 0.0] * horizon,
            float(y.std()) if len(y) else 0.0,
            [float(np.median(y)) if len(y) else 0.0] * horizon,
        )
    if (y == 0).mean() > INTERMITTENT_ZERO_SHARE:
        return tsb(y, horizon)
    return holt_winters(y, horizon)


def seasonal_naive(history: list[int], horizon: int) -> list[float]:
    last = history[-SEASON:]
    return [float(last[k % SEASON]) for k in range(horizon)]


@dataclass(frozen=True)
class Reorder:
    reorder_point: int
    safety_stock: int
    suggested_quantity: int
    lead_time_days: int
    service_level: float
    lead_time_demand: int
    position: int


def reorder(
    fc: Forecast, *, lead_time_days: int, service_level: float, on_hand: int, reserved: int, cover_days: int
) -> Reorder:
    """Reorder point = lead-time demand + safety stock; order when the position (on hand less reserved)
    is at or below it, enough to last the lead time and ``cover_days`` more with the safety stock."""
    z = NormalDist().inv_cdf(service_level)
    lead_demand = sum(fc.mean[:lead_time_days]) + max(0, lead_time_days - len(fc.mean)) * (
        fc.mean[-1] if fc.mean else 0
    )
    safety = math.ceil(z * fc.residual_std * math.sqrt(lead_time_days))
    point = math.ceil(lead_demand) + safety
    position = on_hand - reserved
    cover = sum(fc.mean[lead_time_days : lead_time_days + cover_days])
    suggested = max(0, math.ceil(point + cover - position)) if position <= point else 0
    return Reorder(point, safety, suggested, lead_time_days, service_level, math.ceil(lead_demand), position)
