"""The main job on the local stack: channels place orders, and we see what happened.

Seeds a catalogue and four channels, places a few hundred orders through the HTTP API
(some replayed with their Idempotency-Key, some duplicated, twenty kinds of bad input),
waits for their OrderLifecycle executions and prints a summary.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from infra.local.client import RunningStack, local_stack
from infra.local.samples import CATALOGUE, CHANNEL_KEYS, LOCATIONS, SCARCE, bad_inputs, sample_order, stock_rows

OPS = {"x-api-key": "dev-ops-key"}
# Concurrent channel clients. The local stack runs every function in one process, so
# more clients only queue longer; in the cloud each request gets its own environment.
CLIENTS = 4


def seed_network(stack: RunningStack, seed: int) -> None:
    """Locations, a routing policy with channel rules, and stock through a bulk import."""
    http = requests.Session()
    for location_id, (kind, city, lat, lon, capacity, groups) in LOCATIONS.items():
        body: dict[str, Any] = {"name": f"{city} {kind}", "type": kind, "lat": lat, "lon": lon, "groups": groups}
        if capacity:
            body["daily_capacity"] = capacity
        http.put(f"{stack.api_url}/v1/locations/{location_id}", json=body, headers=OPS, timeout=30).raise_for_status()
    policy = http.get(f"{stack.api_url}/v1/config/routing", headers=OPS, timeout=30).json()
    policy.pop("updated_at", None)
    policy["channels"] = {
        "pos": {"groups": ["stores-that-ship"]},  # the shops' own orders ship from shops
        "marketplace": {"groups": ["de-warehouses", "eu-warehouses"]},
    }
    http.put(f"{stack.api_url}/v1/config/routing", json=policy, headers=OPS, timeout=30).raise_for_status()
    rows = stock_rows(random.Random(seed), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    started = http.post(f"{stack.api_url}/v1/inventory/imports", json={"rows": rows}, headers=OPS, timeout=60).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = http.get(
            f"{stack.api_url}/v1/inventory/imports/{started['import_id']}", headers=OPS, timeout=30
        ).json()
        if status["status"] == "completed":
            break
        time.sleep(0.3)
    counts = status["counts"]
    print(
        f"Network: {len(LOCATIONS)} locations; stock import {started['import_id']}: "
        f"{counts['applied']} of {counts['rows']} rows applied, {counts['failed']} failed"
    )


@dataclass
class Outcome:
    created: list[dict[str, Any]] = field(default_factory=list)
    replays_same_id: int = 0
    replays_total: int = 0
    duplicates_409: int = 0
    rejected: list[tuple[str, int, str]] = field(default_factory=list)


def _post(http: requests.Session, url: str, key: str, body: Any, idem: str | None = None) -> requests.Response:
    headers = {"x-api-key": key, "content-type": "application/json"}
    if idem:
        headers["Idempotency-Key"] = idem
    data = body if isinstance(body, str) else None
    return http.post(url, json=None if data else body, data=data, headers=headers, timeout=30)


def place_orders(stack: RunningStack, count: int, seed: int) -> Outcome:
    rng = random.Random(seed)
    url = f"{stack.api_url}/v1/orders"
    outcome = Outcome()
    plans = []
    for i in range(count):
        channel = rng.choices(list(CHANNEL_KEYS), weights=[50, 25, 15, 10])[0]
        plans.append((channel, sample_order(rng, channel, f"{channel.upper()}-{10000 + i}"), f"idem-{seed}-{i}"))

    def place(plan: tuple[str, dict[str, Any], str]) -> tuple[str, dict[str, Any], str, requests.Response]:
        channel, body, idem = plan
        with requests.Session() as http:
            return channel, body, idem, _post(http, url, CHANNEL_KEYS[channel], body, idem)

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(place, plans))
    http = requests.Session()
    for channel, body, idem, response in results:
        if response.status_code != 201:
            outcome.rejected.append((f"valid order refused ({channel})", response.status_code, response.text[:120]))
            continue
        order = response.json()
        outcome.created.append(order)
        if rng.random() < 0.1:  # the channel lost the response and sends the same request again
            outcome.replays_total += 1
            again = _post(http, url, CHANNEL_KEYS[channel], body, idem)
            outcome.replays_same_id += again.status_code == 201 and again.json()["order_id"] == order["order_id"]
        elif rng.random() < 0.05:  # the same order sent again without a key
            again = _post(http, url, CHANNEL_KEYS[channel], body)
            outcome.duplicates_409 += again.status_code == 409 and again.json().get("order_id") == order["order_id"]
    valid = sample_order(rng, "web", "WEB-BAD", max_lines=2)
    for what, body in bad_inputs(valid):
        response = _post(http, url, CHANNEL_KEYS["web"], body)
        problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        fields = ", ".join(e["field"] for e in problem.get("errors", [])) or "-"
        outcome.rejected.append((what, response.status_code, f"{problem.get('title', response.text[:60])} [{fields}]"))
    return outcome


def _order_rows(http: requests.Session, api_url: str) -> dict[str, dict[str, Any]]:
    """Every order's list row (status and fulfillment status), a page of 200 at a time."""
    rows: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = http.get(f"{api_url}/v1/orders", params=params, headers=OPS, timeout=60).json()
        rows.update({row["order_id"]: row for row in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return rows


def wait_for_allocation(stack: RunningStack, order_ids: list[str], timeout: float = 300) -> list[dict[str, Any]]:
    """Every order allocated or waiting for stock (its execution parked on a task token).

    Polls the order list, not each order: polling costs the local stack the CPU that the
    allocations need.
    """
    http = requests.Session()
    deadline = time.monotonic() + timeout
    wanted = set(order_ids)
    while time.monotonic() < deadline:
        rows = _order_rows(http, stack.api_url)
        pending = [
            i
            for i in wanted
            if rows.get(i, {}).get("fulfillment_status", "unallocated") == "unallocated"
            and rows.get(i, {}).get("status") == "open"
        ]
        if not pending:
            break
        time.sleep(2)
    return [http.get(f"{stack.api_url}/v1/orders/{i}", headers=OPS, timeout=60).json() for i in order_ids]


def executions(stack: RunningStack) -> Counter[str]:
    sfn = stack.aws("stepfunctions")
    statuses: Counter[str] = Counter()
    for sm in sfn.list_state_machines()["stateMachines"]:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=sm["stateMachineArn"]):
            statuses.update(e["status"] for e in page["executions"])
    return statuses


def summarize(stack: RunningStack, outcome: Outcome, orders: list[dict[str, Any]]) -> None:
    http = requests.Session()
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    gmv: Counter[str] = Counter()
    shipments: Counter[int] = Counter()
    reasons: list[tuple[str, str, str]] = []
    for order in orders:
        by_channel[order["channel"]][order["fulfillment_status"]] += 1
        by_channel[order["channel"]][order["status"]] += 1
        gmv[order["channel"]] += order["totals"]["total"]
        events = http.get(f"{stack.api_url}/v1/orders/{order['order_id']}/timeline", headers=OPS, timeout=30).json()
        plans = [e for e in events["items"] if e["kind"] == "order.allocated"]
        if plans:
            shipments[plans[-1]["detail"]["shipments"]] += 1
            if len(reasons) < 6 and (plans[-1]["detail"]["shipments"] > 1 or len(reasons) < 3):
                reasons.append((order["order_id"], order["channel"], plans[-1]["detail"]["reason"]))
    print("\nOrders per channel")
    print(f"  {'channel':<12}{'orders':>7}{'allocated':>10}{'backordered':>12}{'GMV (EUR)':>13}")
    for channel in sorted(by_channel):
        c = by_channel[channel]
        total = c["open"] + c["failed"] + c["cancelled"] + c["completed"] + c["on_hold"]
        print(f"  {channel:<12}{total:>7}{c['allocated']:>10}{c['backordered']:>12}{gmv[channel] / 100:>13,.2f}")
    allocated = sum(shipments.values())
    split = sum(n for k, n in shipments.items() if k > 1)
    print(f"\nShipments per allocated order: {dict(sorted(shipments.items()))}  (split: {split}/{allocated})")
    print("Routing decisions, a few of them:")
    for order_id, channel, reason in reasons:
        print(f"  {order_id} ({channel}): {reason}")
    scarce = http.get(
        f"{stack.api_url}/v1/availability", params={"sku": sorted(SCARCE)}, headers=OPS, timeout=30
    ).json()
    print("Scarce SKUs now (available to promise):", {i["sku"]: i["available_to_promise"] for i in scarce["items"]})
    print(f"\nOrderLifecycle executions: {dict(executions(stack))}  (RUNNING = waiting for stock)")
    print(
        f"Replays with the same Idempotency-Key: {outcome.replays_same_id}/{outcome.replays_total}"
        " returned the same order"
    )
    print(f"Same external_id without a key: {outcome.duplicates_409} answered 409 naming the existing order")
    print(f"\nRejected inputs ({len(outcome.rejected)})")
    for what, status, reason in outcome.rejected:
        print(f"  {status}  {what:<28} {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"Catalogue: {len(CATALOGUE)} SKUs; channels: {', '.join(CHANNEL_KEYS)}")
    with local_stack() as stack:
        print(f"Local stack up in {stack.started_in:.1f}s (API {stack.api_url}, AWS {stack.aws_url})")
        seed_network(stack, args.seed)
        started = time.monotonic()
        outcome = place_orders(stack, args.orders, args.seed)
        elapsed = time.monotonic() - started
        print(
            f"Placed {len(outcome.created)} orders in {elapsed:.1f}s"
            f" ({len(outcome.created) / elapsed:.0f}/s, {CLIENTS} clients)"
        )
        orders = wait_for_allocation(stack, [o["order_id"] for o in outcome.created])
        summarize(stack, outcome, orders)


if __name__ == "__main__":
    main()
