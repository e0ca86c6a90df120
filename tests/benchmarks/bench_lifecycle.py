"""The whole order lifecycle on the local stack, played by channels, a WMS told of its work
by the outbound webhook, and a carrier.

capture -> allocate -> authorize -> release to fulfillment -> accept, pick, pack, ship ->
capture + invoice -> carrier "delivered" -> completed. Every step goes through the HTTP API
the way real clients would. Per order it counts what AWS would bill: state transitions
(from the executions' histories), Lambda invocations and GB-seconds, DynamoDB requests and
read/write units, API Gateway requests, EventBridge events and SQS requests, and prices
them with ``prices.py``: as run locally (the local pollers hand queue consumers what
waits, often a message or two), and at the capacity model's target rate, where Lambda's pollers hand
them batches (``sqs_batches``). The payment provider's own items are not the order's
cost (``aws_meter``): they are reported apart.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from demo.samples import CATALOGUE, CHANNEL_KEYS, sample_order
from infra import manifest
from infra.local import moto_patches, requests_meter, runtime
from tests.benchmarks.aws_meter import AwsMeter, item_meter_cpu
from tests.benchmarks.cloud_duration import duration_s
from tests.benchmarks.emulation_split import PARTS, EmulationSplit
from tests.benchmarks.load_clients import LOCATION, OPS, Clients
from tests.benchmarks.machine_speed import SpeedSampler
from tests.benchmarks.prices import cost_per_thousand
from tests.benchmarks.sqs_batches import QueueAtTarget, at_target, queue_messages

# HTTP requests each order makes of the API: capture, accept, pick, pack, ship, carrier event.
API_REQUESTS_PER_ORDER = 6


def _stock(api_url: str) -> None:
    body = {"name": "East warehouse", "type": "warehouse", "lat": 50.11, "lon": 8.68}
    requests.put(f"{api_url}/v1/locations/{LOCATION}", json=body, headers=OPS, timeout=30).raise_for_status()
    for sku in CATALOGUE:
        stock = {"on_hand": 10_000_000, "safety_stock": 0, "as_of": "2026-01-01T00:00:00Z"}
        requests.put(f"{api_url}/v1/inventory/{LOCATION}/{sku}", json=stock, headers=OPS, timeout=30).raise_for_status()


# CPU the benchmark spends in this process watching the orders finish (``_finished``):
# it runs in the emulator's process and is not emulation.
WATCH_CPU = [0.0]


def _finished(stack: Any, order_ids: list[str], timeout: float) -> dict[str, float]:
    """Orders delivered with their execution done, read from the emulator's table in this
    process: each with when it finished (epoch seconds), the ``updated_at`` of the header
    write that finished it, not when this look noticed.

    Watching goes around the handlers, the meter and HTTP: what is counted is what the
    lifecycle spends, not what watching it costs. A request per order every 0.5 s was
    about ten GetItems an order, served by the emulator's process (its CPU counted as
    emulation, and its core taken from the lifecycle).
    """
    table = dynamodb_backends[runtime.ACCOUNT_ID][stack.region].get_table(stack.resources.table_name)
    header = DynamoType({"S": "HEADER"})
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(order_ids) and time.monotonic() < deadline:
        cpu = time.thread_time()
        for order_id in order_ids:
            if order_id in done:
                continue
            with moto_patches.dynamodb_lock():
                item = table.get_item(DynamoType({"S": f"ORDER#{order_id}"}), header)
                workflow, fulfillment = (
                    item.attrs["workflow"].value["status"].value,
                    item.attrs["fulfillment_status"].value,
                )
                updated = item.attrs["updated_at"].value if "updated_at" in item.attrs else None
            if workflow in ("SUCCEEDED", "FAILED") and fulfillment == "delivered":
                done[order_id] = datetime.fromisoformat(updated).timestamp() if updated else time.time()
        WATCH_CPU[0] += time.thread_time() - cpu
        time.sleep(0.5)
    return done


def _transitions(stack: Any, order_ids: set[str]) -> list[int]:
    sfn = stack.client("stepfunctions")
    arn = stack.resources.state_machines["OrderLifecycle"]
    counts = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        for execution in page["executions"]:
            if execution["name"] not in order_ids:
                continue
            events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            counts.append(sum(1 for e in events if e["type"].endswith("StateEntered")))
    return counts


def _domain_module(handler: str) -> str:
    """``functions.fulfill.handlers.api.handler`` -> ``fulfill.api``."""
    parts = handler.split(".")
    return f"{parts[1]}.{parts[3]}"


def _modelled_gb_seconds(
    meter: AwsMeter, calls: Mapping[str, float], cpu: dict[str, float], memory: dict[str, int]
) -> float:
    """Lambda GB-seconds the run would bill in the cloud (``cloud_duration``), all functions.
    The CPU and requests a function spent are shared by its ``calls`` invocations: fewer,
    larger batches spend the same work and fewer invocation overheads."""
    name_of = {spec.handler: spec.name for spec in manifest.FUNCTIONS}
    requests_by_function: dict[str, Counter[str]] = {}
    for key, count in meter.by_handler.items():
        caller, call = key.split(" ", 1)
        requests_by_function.setdefault(caller.removeprefix(manifest.LOCAL_PREFIX), Counter())[call] += count
    total = 0.0
    for handler, n in calls.items():
        name, mb = name_of.get(handler, ""), memory.get(handler, 512)
        per_invocation = {call: c / n for call, c in requests_by_function.get(name, Counter()).items()}
        seconds = duration_s(
            cpu_ms=cpu.get(handler, 0.0) * 1000 / n, requests=per_invocation, memory_mb=mb, function=name
        )
        total += n * seconds * mb / 1024
    return total


def _queue_batches(calls: Mapping[str, float]) -> float:
    """The queue consumers' invocations: each one batch its poller received and deleted."""
    handler_of = {spec.name: spec.handler for spec in manifest.FUNCTIONS}
    return sum(calls.get(handler_of[q.consumer], 0) for q in manifest.QUEUES)


def _invocations_at_target(calls: Mapping[str, float], queues: list[QueueAtTarget], n: int) -> dict[str, float]:
    """The run's invocations (``n`` orders) with each queue consumer's replaced by its batches at the target rate."""
    handler_of = {spec.name: spec.handler for spec in manifest.FUNCTIONS}
    out = dict(calls)
    for q in queues:
        out[handler_of[q.consumer]] = q.invocations * n
    return out


def bench_lifecycle(
    stack: Any, meter: AwsMeter, *, orders: int, clients: int = 4, seed: int = 23, split: EmulationSplit | None = None
) -> dict[str, Any]:
    """``split``: attached around the run, it takes the emulation apart (``emulation_split``)."""
    rng = random.Random(seed)
    api_url = stack.api_url
    _stock(api_url)

    def bodies(prefix: str, n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            body = sample_order(rng, rng.choice(list(CHANNEL_KEYS)), f"{prefix}-{i}")
            body["shipping"]["method"] = "standard"  # delivered by the carrier, not picked up in a store
            body["shipping"].pop("pickup_location_id", None)
            out.append(body)
        return out

    with Clients(api_url, pickers=clients) as load:
        warm, _ = load.capture(bodies(f"LCWARM{clients}", min(clients, 8)), min(clients, 8))
        _finished(stack, list(warm), 120)

        meter.reset()
        invocations, busy = Counter(runtime.invocations), dict(runtime.busy_seconds)
        handler_cpu_before = dict(runtime.cpu_seconds)
        handler_cpu = sum(handler_cpu_before.values())
        process_cpu, watch_cpu, client_cpu = time.process_time(), WATCH_CPU[0], load.cpu_seconds()
        meter_cpu = requests_meter.listener_cpu[0] + item_meter_cpu[0]
        parts_before = split.seconds if split else Counter()
        started = time.time()
        with SpeedSampler() as speed:
            created, latencies = load.capture(bodies(f"LC{clients}", orders), clients)
            done = _finished(stack, list(created), timeout=max(300.0, orders * 3.0))
        # Until the last order finished: when the watching noticed (up to half a second
        # later) is not the stack's time.
        wall = (max(done.values()) if done else time.time()) - started
        shipped, warehouse_errors, notices, clients_cpu_at_stop = load.stop()
    client_cpu = clients_cpu_at_stop - client_cpu
    # The CPU an order costs includes what its last steps set off after it completed (read
    # models, e-mails, webhooks), delivered before the counters are read.
    moto_patches.wait_for_streams(60)
    moto_patches.wait_for_queues(60)
    handler_cpu = sum(runtime.cpu_seconds.values()) - handler_cpu
    # The bench's request meter and its watching run in this process: neither is emulation.
    metering_cpu = requests_meter.listener_cpu[0] + item_meter_cpu[0] - meter_cpu
    watching_cpu = WATCH_CPU[0] - watch_cpu
    emulation_cpu = (time.process_time() - process_cpu) - watching_cpu - metering_cpu - speed.cpu_seconds
    parts = (split.seconds if split else Counter()) - parts_before
    latencies.sort()
    settling = time.process_time()
    meter.settle()  # the requests the meter kept for after the run
    metering_after_cpu = time.process_time() - settling

    memory = {spec.handler: spec.memory_mb for spec in manifest.FUNCTIONS}
    cpu = {h: t - handler_cpu_before.get(h, 0.0) for h, t in runtime.cpu_seconds.items()}
    calls = runtime.invocations - invocations
    seconds = {h: t - busy.get(h, 0.0) for h, t in runtime.busy_seconds.items()}
    transitions = _transitions(stack, set(created))
    n = max(1, len(done))
    to_ship = sorted(shipped[o] - created[o] for o in done if o in shipped)
    events = {t: c / n for t, c in sorted(meter.events_by_type.items())}
    sent = {q.removeprefix(manifest.LOCAL_PREFIX): c / n for q, c in meter.sent_by_queue.items()}
    messages = queue_messages(events, sent)
    # Sends: EventBridge sends each event to each queue a rule routes it to, a function one request a send.
    routed = sum(queue_messages(events, {}).values())
    sends = routed + (meter.calls["sqs.SendMessage"] + meter.calls["sqs.SendMessageBatch"]) / n
    queues = at_target(messages)
    calls_at_target = _invocations_at_target(calls, queues, n)
    per_order = {
        "stepfunctions_transition": sum(transitions) / max(1, len(transitions)),
        "lambda_request": sum(calls.values()) / n,
        "lambda_gb_second": _modelled_gb_seconds(meter, calls, cpu, memory) / n,
        "dynamodb_requests": meter.dynamodb_requests() / n,
        "dynamodb_write_unit": meter.write_units / n,
        "dynamodb_read_unit": meter.read_units / n,
        "apigateway_request": API_REQUESTS_PER_ORDER,
        "eventbridge_event": meter.entries["events.PutEvents"] / n,
        # As run locally: the sends, and a receive and a delete a batch (a batch an invocation).
        "sqs_request": sends + 2 * _queue_batches(calls) / n,
        "ses_message": 3,  # confirmed, shipped, delivered
    }
    # The same work with queue consumers invoked once per batch, receiving and deleting a batch at a time.
    per_order_at_target = per_order | {
        "lambda_request": sum(calls_at_target.values()) / n,
        "lambda_gb_second": _modelled_gb_seconds(meter, calls_at_target, cpu, memory) / n,
        "sqs_request": sends + sum(q.receive_and_delete_requests for q in queues),
    }
    return {
        "orders": orders,
        "cpu_per_order_s": {
            "handlers": handler_cpu / n,
            "emulation": emulation_cpu / n,
            "bench_metering": metering_cpu / n,
            "bench_metering_after_the_run": metering_after_cpu / n,
            # The clients' own process (``load_clients``) and the watching in this one.
            "bench_clients": (client_cpu + watching_cpu) / n,
        },
        # The emulation by the part of the stack that spent it (emulation_split); "rest": the
        # environments' pools, timers, the servers' threads.
        "emulation_cpu_per_order_s": (
            {part: parts[part] / n for part in PARTS} | {"rest": (emulation_cpu - sum(parts.values())) / n}
            if split
            else {}
        ),
        # The same CPU in reference workloads (``machine_speed``): comparable across runs taken at other speeds.
        "cpu_per_order_in_reference_workloads": {
            "handlers": handler_cpu / n / (reference_s := speed.summary()["reference_workload_ms_median"] / 1000),
            "emulation": emulation_cpu / n / reference_s,
        },
        "machine_speed": speed.summary(),
        "capture_latency_ms": {
            "p50": latencies[len(latencies) // 2] * 1000 if latencies else None,
            "p99": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] * 1000 if latencies else None,
        },
        "completed": len(done),
        "clients": clients,
        "wall_seconds": wall,
        "orders_per_minute": len(done) / wall * 60,
        "to_ship_p50_s": to_ship[len(to_ship) // 2] if to_ship else None,
        "warehouse_errors": warehouse_errors[:10],
        # How the WMS heard of its fulfillment orders (warm-up's included): the outbound webhook under load.
        "warehouse_notices": notices,
        "per_order": per_order,
        "per_order_at_target": per_order_at_target,
        "sqs_messages_per_order": messages,
        "sqs_at_target": {
            q.queue: {"consumer": q.consumer, "messages": q.messages, "batch": q.batch, "invocations": q.invocations}
            for q in queues
        },
        "events_per_order": events,
        # The sandbox payment provider's own items and requests: a real provider's, not in the cost.
        "provider_per_order": {
            "requests": {k: v / n for k, v in sorted(meter.provider_calls.items())},
            "write_units": meter.provider_write_units / n,
            "index_write_units": meter.provider_index_write_units / n,
            "read_units": meter.provider_read_units / n,
        },
        "invocations_per_order": {_domain_module(h): v / n for h, v in sorted(calls.items())},
        "handler_cpu_ms_per_order": {_domain_module(h): round(t * 1000 / n, 2) for h, t in sorted(cpu.items()) if t},
        "dynamodb_calls_per_order": {k: v / n for k, v in sorted(meter.calls.items()) if k.startswith("dynamodb.")},
        "dynamodb_calls_by_handler_per_order": {
            k: round(v / n, 2) for k, v in sorted(meter.by_handler.items()) if " dynamodb." in k
        },
        "dynamodb_write_units_by_handler_per_order": {
            k: round(v / n, 2) for k, v in sorted(meter.write_units_by_handler.items())
        },
        "dynamodb_index_write_units_per_order": meter.index_write_units / n,
        # Local wall time priced as Lambda duration (mostly waiting for the emulator): for comparison.
        "lambda_gb_second_local_wall": sum(seconds[h] * memory.get(h, 512) / 1024 for h in seconds) / n,
        "transitions_max": max(transitions, default=0),
        "cost_per_1000_orders_usd": cost_per_thousand(per_order),
        "cost_per_1000_orders_at_target_usd": cost_per_thousand(per_order_at_target),
    }
