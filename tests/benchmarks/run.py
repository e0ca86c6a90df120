"""``make bench``: every benchmark; prints tables, writes JSON.

Capture runs on the local stack; routing is pure logic and needs no stack.
Figures to report and improve, never assertions. Results go to bench-results/.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import platform
from typing import Any

from infra.manifest import ROOT
from tests.benchmarks.aws_meter import AwsMeter
from tests.benchmarks.bench_capture import bench_capture
from tests.benchmarks.bench_forecast import bench_forecast
from tests.benchmarks.bench_forecast import print_table as print_forecast_table
from tests.benchmarks.bench_imports import bench_imports
from tests.benchmarks.bench_lifecycle import bench_lifecycle
from tests.benchmarks.bench_orders_index import bench_orders_index
from tests.benchmarks.bench_orders_index import print_table as print_orders_index_table
from tests.benchmarks.bench_routing import bench_routing, print_table
from tests.benchmarks.emulation_split import EmulationSplit
from tests.benchmarks.prices import PRICES_USD

OUT = ROOT / "bench-results"


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n{title}")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, help="orders per run (default: capture 300, routing 10,000)")
    parser.add_argument(
        "--only", choices=["capture", "lifecycle", "routing", "forecast", "orders_index"], help="run one benchmark"
    )
    parser.add_argument(
        "--lifecycles", type=int, default=int(os.environ.get("BENCH_LIFECYCLES", "60")), help="orders per lifecycle run"
    )
    parser.add_argument("--clients", default="1,8,32", help="lifecycle runs: concurrent clients, comma-separated")
    parser.add_argument(
        "--task-token-chars",
        type=int,
        default=0,
        help="lifecycle runs: Step Functions task tokens of this many characters, as long as the cloud's may be "
        "(up to 2,048; the emulator's are 36), to see what storing them costs (default: the emulator's)",
    )
    args = parser.parse_args()
    if args.task_token_chars:
        cloud_sized_task_tokens(args.task_token_chars)
    # The lifecycle runs before the capture benchmark. The captured orders are left waiting
    # for a warehouse, and moto's interpreter keeps two idle threads for each waiting
    # execution after their stack has stopped: idle threads made the next stack in this
    # process spend up to a tenth more CPU an order emulating (docs/decisions.md).
    if args.only in (None, "lifecycle"):
        run_lifecycle(args.lifecycles, tuple(int(c) for c in args.clients.split(",")))
    if args.only in (None, "capture"):
        run_capture(args.orders or 300)
    if args.only in (None, "routing"):
        run_routing(args.orders or 10_000)
    if args.only in (None, "forecast"):
        run_forecast()
    if args.only in (None, "orders_index"):
        run_orders_index()


def cloud_sized_task_tokens(chars: int) -> None:
    """Make the emulator's task tokens ``chars`` long (random base64), as a cloud token may be."""
    from moto.stepfunctions.parser.asl.eval import states

    def token() -> str:
        return base64.b64encode(os.urandom(chars)).decode()[:chars]

    states.long_uid = token


def run_orders_index() -> None:
    result = bench_orders_index()
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    print_orders_index_table(result)
    OUT.mkdir(exist_ok=True)
    path = OUT / "orders_index.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nwritten: {path.relative_to(ROOT)}")


def run_forecast() -> None:
    result = bench_forecast()
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    print_forecast_table(result)
    OUT.mkdir(exist_ok=True)
    path = OUT / "forecast.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nwritten: {path.relative_to(ROOT)}")


def run_routing(orders: int) -> None:
    result = bench_routing(orders)
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    print_table(result)
    OUT.mkdir(exist_ok=True)
    path = OUT / "routing.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nwritten: {path.relative_to(ROOT)}")


# Stacks started by this process so far: the first start imports what the later ones find loaded.
_STACKS_STARTED = [0]


def _stack_start(seconds: float) -> str:
    _STACKS_STARTED[0] += 1
    later = " (not the process's first stack: its imports were done)" if _STACKS_STARTED[0] > 1 else ""
    return f"{seconds:.2f} s{later}"


def run_capture(orders: int) -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    logging.basicConfig(level=logging.ERROR)
    from infra.local.stack import LocalStack

    results: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
    with LocalStack(moto_port=0, api_port=0) as stack:
        results["local_stack_startup_s"] = stack.startup_seconds
        started = _stack_start(stack.startup_seconds)
        with AwsMeter().attach("dynamodb", "stepfunctions", "events") as meter:
            capture = bench_capture(stack.api_url, meter, orders=orders)
    results["capture"] = capture
    results["imports"] = bench_imports()

    per = capture["per_order"]

    def run_line(r: dict[str, float]) -> str:
        return f"{r['orders_per_second']:.1f} orders/s  p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms"

    _table(
        f"Order capture through the HTTP API ({orders} orders per run)",
        [
            ("local stack start", started),
            ("1 client", run_line(capture["one_client"])),
            ("8 clients", run_line(capture["eight_clients"])),
            ("DynamoDB requests / order", f"{per['dynamodb_requests']:.2f}"),
            ("DynamoDB write units / order", f"{per['dynamodb_write_units']:.2f}"),
            ("StartExecution / order", f"{per['stepfunctions_requests']:.2f}"),
            ("calls / order", ", ".join(f"{k} {v:.2f}" for k, v in per["calls"].items())),
        ],
    )
    _table(
        "Handler import time (cold start, median of 3)",
        [(r["function"], f"{r['import_ms_median']:.0f} ms") for r in results["imports"]],
    )
    OUT.mkdir(exist_ok=True)
    path = OUT / "capture.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {path.relative_to(ROOT)}")


def _cost_rows(runs: dict[str, Any]) -> list[tuple[str, str]]:
    """Per run: each service's cost as run locally and at the target rate (queue consumers batched)."""
    rows = []
    for n, r in runs.items():
        local, target = r["cost_per_1000_orders_usd"], r["cost_per_1000_orders_at_target_usd"]
        parts = [f"{name} {local[name]:.3f} | {target[name]:.3f}" for name in local if name in PRICES_USD]
        total = f"total {local['total_without_messages']:.3f} | {target['total_without_messages']:.3f}"
        rows.append((f"{n} client(s)", f"{total}  ({', '.join(parts)})"))
    return rows


def run_lifecycle(orders: int, clients: tuple[int, ...] = (1, 8, 32)) -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    logging.basicConfig(level=logging.ERROR)
    from infra.local.stack import LocalStack

    runs: dict[str, Any] = {}
    with LocalStack(moto_port=0, api_port=0) as stack:
        startup_s, started = stack.startup_seconds, _stack_start(stack.startup_seconds)
        # The split first: it times the meter's listener, which the meter registers as it attaches.
        with (
            EmulationSplit().attached() as split,
            AwsMeter().attach("dynamodb", "stepfunctions", "events", "sqs", "secretsmanager") as meter,
        ):
            for n in clients:
                runs[str(n)] = bench_lifecycle(stack, meter, orders=orders, clients=n, split=split)
        environments = stack.environments.stats() if stack.environments else {}
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "orders_per_run": orders,
        "local_stack_startup_s": startup_s,
        "runs": runs,
        "environments": environments,
    }
    rows = [("local stack start", started)]
    for n, r in runs.items():
        cpu, lat = r["cpu_per_order_s"], r["capture_latency_ms"]
        ref, speed = r["cpu_per_order_in_reference_workloads"], r["machine_speed"]
        rows.append(
            (
                f"{n} client(s)",
                f"{r['orders_per_minute']:.0f} lifecycles/min"
                f" ({r['completed']} of {orders} in {r['wall_seconds']:.1f} s)"
                f"  CPU/order handlers {cpu['handlers']:.3f} s, emulation {cpu['emulation']:.3f} s"
                f" (bench metering {cpu['bench_metering']:.3f} s apart)"
                f"  capture p50 {lat['p50'] or 0:.0f} ms, p99 {lat['p99'] or 0:.0f} ms"
                f"  | reference workload {speed['reference_workload_ms_median']:.0f} ms:"
                f" handlers {ref['handlers']:.1f}, emulation {ref['emulation']:.1f} workloads/order",
            )
        )
    _table(
        "Full lifecycle: capture -> allocate -> authorize -> ship -> capture + invoice -> delivered"
        " (goals: >= 600/min, emulation CPU <= handlers' CPU, p99 capture < 1 s at 32 clients)",
        rows,
    )
    _table(
        "Emulation CPU per order by part of the stack (ms): functions' AWS requests by service, the wire's"
        " frames, the HTTP API, stream and queue delivery, state machines, the rest (pools, timers, servers)",
        [
            (
                f"{n} client(s)",
                ", ".join(f"{part} {s * 1000:.1f}" for part, s in r["emulation_cpu_per_order_s"].items()),
            )
            for n, r in runs.items()
        ],
    )
    _table(
        "The WMS told of its fulfillment orders by the outbound webhook fulfillment.released (warm-up included)",
        [
            (
                f"{n} client(s)",
                f"{(w := r['warehouse_notices'])['webhooks']} webhooks, delay from release p50"
                f" {w['webhook_delay_ms_p50'] or 0:.0f} ms, p99 {w['webhook_delay_ms_p99'] or 0:.0f} ms;"
                f" {w['reconciled_from_the_work_list']} found on the work list instead",
            )
            for n, r in runs.items()
        ],
    )
    _table("Cost per 1,000 lifecycles without e-mail (USD): as run locally | at the target rate", _cost_rows(runs))
    OUT.mkdir(exist_ok=True)
    path = OUT / "lifecycle.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
