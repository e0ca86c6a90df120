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
from infra.local.samples import CATALOGUE, CHANNEL_KEYS, bad_inputs, sample_order


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

    with ThreadPoolExecutor(8) as pool:
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


def wait_for_executions(stack: RunningStack, arns: list[str], timeout: float = 120) -> Counter[str]:
    sfn = stack.aws("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        statuses: Counter[str] = Counter()
        for sm in sfn.list_state_machines()["stateMachines"]:
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=sm["stateMachineArn"]):
                statuses.update(e["status"] for e in page["executions"] if e["executionArn"] in arns)
        if statuses.get("RUNNING", 0) == 0 or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def summarize(stack: RunningStack, outcome: Outcome, executions: Counter[str]) -> None:
    http = requests.Session()
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    gmv: Counter[str] = Counter()
    for order in outcome.created:
        current = http.get(
            f"{stack.api_url}/v1/orders/{order['order_id']}", headers={"x-api-key": "dev-ops-key"}, timeout=30
        ).json()
        by_channel[current["channel"]][current["status"]] += 1
        gmv[current["channel"]] += current["totals"]["total"]
    print("\nOrders per channel and status")
    print(f"  {'channel':<12}{'orders':>8}{'open':>8}{'failed':>8}{'GMV (EUR)':>14}")
    for channel in sorted(by_channel):
        c = by_channel[channel]
        print(f"  {channel:<12}{sum(c.values()):>8}{c['open']:>8}{c['failed']:>8}{gmv[channel] / 100:>14,.2f}")
    print(f"\nOrderLifecycle executions: {dict(executions)}")
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
        started = time.monotonic()
        outcome = place_orders(stack, args.orders, args.seed)
        elapsed = time.monotonic() - started
        print(
            f"Placed {len(outcome.created)} orders in {elapsed:.1f}s"
            f" ({len(outcome.created) / elapsed:.0f}/s, 8 clients)"
        )
        executions = wait_for_executions(stack, [o["workflow"]["execution_arn"] for o in outcome.created])
        summarize(stack, outcome, executions)


if __name__ == "__main__":
    main()
