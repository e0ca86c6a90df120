"""Order capture on the local stack: throughput, latency, AWS requests per order."""

from __future__ import annotations

import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from demo.samples import CATALOGUE, CHANNEL_KEYS, sample_order
from tests.benchmarks.aws_meter import AwsMeter


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _run(api_url: str, bodies: list[dict[str, Any]], clients: int) -> dict[str, float]:
    latencies: list[float] = []
    local = {}

    def post(body: dict[str, Any]) -> float:
        import threading

        http = local.setdefault(threading.get_ident(), requests.Session())
        started = time.perf_counter()
        response = http.post(
            f"{api_url}/v1/orders", json=body, headers={"x-api-key": CHANNEL_KEYS[body["channel"]]}, timeout=60
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"capture failed: {response.status_code} {response.text[:200]}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(post, bodies))
    wall = time.perf_counter() - started
    return {
        "orders": len(bodies),
        "clients": clients,
        "orders_per_second": len(bodies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


def _stock_catalogue(api_url: str) -> None:
    """One warehouse holding plenty of every SKU, so each lifecycle allocates and ends."""
    ops = {"x-api-key": "dev-ops-key"}
    body = {"name": "Bench warehouse", "type": "warehouse", "lat": 50.11, "lon": 8.68}
    requests.put(f"{api_url}/v1/locations/wh-bench", json=body, headers=ops, timeout=30).raise_for_status()
    for sku in CATALOGUE:
        stock = {"on_hand": 1_000_000, "safety_stock": 0, "as_of": "2026-01-01T00:00:00Z"}
        requests.put(f"{api_url}/v1/inventory/wh-bench/{sku}", json=stock, headers=ops, timeout=30).raise_for_status()


def bench_capture(api_url: str, meter: AwsMeter, *, orders: int, seed: int = 11) -> dict[str, Any]:
    rng = random.Random(seed)
    _stock_catalogue(api_url)

    def bodies(prefix: str, n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            channel = rng.choice(list(CHANNEL_KEYS))
            out.append(sample_order(rng, channel, f"{prefix}-{i}"))
        return out

    _run(api_url, bodies("WARM", 20), 1)  # imports and connection pools
    meter.reset()
    one = _run(api_url, bodies("ONE", orders), 1)
    meter.settle()
    per_order = {
        "dynamodb_requests": meter.dynamodb_requests() / orders,
        "dynamodb_write_units": meter.write_units / orders,
        "stepfunctions_requests": meter.calls["stepfunctions.StartExecution"] / orders,
        "calls": {k: v / orders for k, v in sorted(meter.calls.items())},
    }
    eight = _run(api_url, bodies("EIGHT", orders), 8)
    return {"one_client": one, "eight_clients": eight, "per_order": per_order}
