"""The demo's last step, printed with the ``oms`` tool: one customer's 360° view, the run's
summary report, and a SKU's forecast with its reorder suggestion.

A forecast needs history, and the run's orders are all placed today: three weeks of orders
of one SKU are imported first with their channel's ``placed_at`` (as a shop loading its
past orders would), then the nightly forecast schedule is fired on the local stack.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import requests

from cli.main import main as oms
from demo.samples import sample_order
from infra.local.client import RunningStack
from infra.local.schedules import fire

HISTORY_SKU = "FORECAST-DEMO-MUG"
HISTORY_DAYS = 21
# Units per weekday (Monday first): weekends sell more.
WEEKDAY_UNITS = (2, 1, 2, 2, 3, 5, 4)


def _import_history(stack: RunningStack, seed: int) -> None:
    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=11, minute=0, second=0, microsecond=0)
    lines = []
    for ago in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=ago)
        body = sample_order(rng, "web", f"HIST-{seed}-{ago}", max_lines=1)
        units = WEEKDAY_UNITS[day.weekday()]
        body["lines"] = [{"sku": HISTORY_SKU, "quantity": units, "unit_price": 1200, "tax": 228 * units}]
        body["shipping"] = {**body["shipping"], "method": "standard", "amount": 495}
        body.pop("promotions", None)
        body["placed_at"] = day.isoformat()
        lines.append(json.dumps(body))
    headers = {"x-api-key": "dev-web-key", "Idempotency-Key": str(uuid.uuid4()), "content-type": "application/x-ndjson"}
    http = requests.Session()
    started = http.post(f"{stack.api_url}/v1/orders/imports", data="\n".join(lines), headers=headers, timeout=60)
    started.raise_for_status()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = http.get(
            f"{stack.api_url}/v1/orders/imports/{started.json()['import_id']}",
            headers={"x-api-key": "dev-web-key"},
            timeout=30,
        ).json()
        if status["status"] == "completed":
            break
        time.sleep(0.5)
    # The demand read model follows the stream, a batch of orders at a time: wait until the
    # forecast sees the whole span of the history and stops changing (every day projected).
    previous = None
    while time.monotonic() < deadline:
        ops = {"x-api-key": "dev-ops-key"}
        found = http.get(f"{stack.api_url}/v1/forecast", params={"sku": HISTORY_SKU}, headers=ops, timeout=30).json()
        if found.get("history_days", 0) >= HISTORY_DAYS and found.get("daily") == previous:
            return
        previous = found.get("daily")
        time.sleep(1.0)


def print_finale(stack: RunningStack, customer_id: str, seed: int) -> None:
    _import_history(stack, seed)
    fire(stack.aws("events"), stack.aws("lambda"), "NightlyForecasts")
    today = datetime.now(UTC).date().isoformat()
    settings = ["--api-url", stack.api_url, "--api-key", "dev-ops-key"]
    print(f"\n$ oms customers get {customer_id}")
    oms([*settings, "customers", "get", customer_id])
    print(f"\n$ oms reports summary --from {today} --to {today}")
    oms([*settings, "reports", "summary", "--from", today, "--to", today])
    print(f"\n$ oms forecast {HISTORY_SKU} --days 7   (stored by the NightlyForecasts schedule)")
    oms([*settings, "forecast", HISTORY_SKU, "--days", "7"])
