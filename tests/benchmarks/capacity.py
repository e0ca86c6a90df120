"""``make capacity``: how many orders a minute the cloud deployment carries, and what gives first.

A trace of whole lifecycles on the local stack (``capacity_trace.py``: every AWS request,
its partitions and units, per order) is scaled to a target rate of orders placed and orders
processed per minute and set against AWS's per-partition limits and default quotas. The
model here is pure: it reads the trace, never the stack (docs/capacity.md).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.benchmarks.cloud_duration import duration_s

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench-results"
TRACE = OUT / "trace.json"
RESULT = OUT / "capacity.json"
# A recorded trace older than this is recorded again by ``make capacity``.
FRESH_SECONDS = 24 * 3600

# ---------------------------------------------------------------------------------------
# Key classes: entity ids become placeholders, so a class tells whether its load spreads
# over one partition per order (or fulfillment order, customer, ...) or lands on a few.
# ---------------------------------------------------------------------------------------

# Id prefixes of shared/ids.py and their placeholders.
_ID_PLACEHOLDERS = {
    "ord": "order",
    "fo": "fo",
    "shp": "shipment",
    "pay": "payment",
    "inv": "invoice",
    "cm": "credit_memo",
    "ret": "return",
    "chg": "change",
    "exc": "exception",
    "cus": "customer",
    "evt": "event",
    "imp": "import",
    "whs": "subscription",
    "whd": "delivery",
    "hld": "hold",
    "ln": "line",
}
_ID = re.compile(r"\b(" + "|".join(sorted(_ID_PLACEHOLDERS, key=len, reverse=True)) + r")_[0-9a-z]{20,}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?")
_MONTH = re.compile(r"\b\d{4}-\d{2}\b")
_BUCKET = re.compile(r"#B\d+$")
_SHARD = re.compile(r"^ORDERS#\d+$")
# Read models written in shards (``FACTS#<day>#<nn>``, ``DEMAND#<sku>#<nn>``): the shard
# suffix, or none (the unsharded key), makes one class with ``{shard}``, as ``ORDERS`` does.
_SHARDED_PREFIXES = ("FACTS", "DEMAND")
_SHARD_SUFFIX = re.compile(r"#\d{2}$")
# Partitions written in shards (shared/order/keys.py, functions/fulfill/store.py): the
# legacy key and each shard of it are one class, whose load divides by the shard count.
_INDEX_SHARDED = {"CHANNEL": "CHANNEL#{channel}#{shard}", "FOLOC": "FOLOC#{location}#{shard}"}
_SHARDED = re.compile(r"^(CHANNEL|FOLOC)#[^#]+(?:#\d+)?$")

# The segments after these key prefixes name things of these kinds.
_SEGMENT_KINDS: dict[str, tuple[str, ...]] = {
    "SKU": ("sku",),
    "DEMAND": ("sku",),
    "DEMANDSKU": ("sku",),
    "FORECAST": ("sku",),
    "BACKORDERSKU": ("sku",),
    "LOC": ("location",),
    "LOCATION": ("location",),
    "CAPACITY": ("location",),
    "FOLOC": ("location",),
    "CHANNEL": ("channel",),
    "CHANNELORDER": ("channel", "external_id"),
    "CHANNELHOOK": ("channel", "shop", "id"),
    "CUSTOMER": ("customer",),
    "CUSTOMEREMAIL": ("email",),
    "CUSTNAME": ("name",),
    "CUSTPHONE": ("phone",),
    "TRACKING": ("tracking",),
    "ORPHANTRACK": ("tracking",),
    "SEARCHEXT": ("external_id",),
    "FRAUDVEL": ("kind", "digest"),
    "WEBHOOK": ("provider", "id"),
    "CARRIEREVENT": ("carrier", "id"),
}
# Placeholders whose values are few, so their load is shared: a class made only of these
# is hot at scale. Any other placeholder names one order, parcel, customer, event ...
SHARED_DIMENSIONS = frozenset(
    {"sku", "location", "channel", "date", "month", "shard", "bucket", "kind", "provider", "carrier", "shop"}
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Long opaque segments left over (hashes, tracking numbers, external ids).
_OPAQUE = re.compile(r"^(?=.*\d)[0-9A-Za-z_.:@+=/-]{12,}$")


def key_class(value: str) -> str:
    """``ORDER#ord_01J...`` -> ``ORDER#{order}``; ``SKU#TEE-M#B3`` -> ``SKU#{sku}#B{bucket}``;
    ``ORDERS`` and ``ORDERS#07`` -> ``ORDERS#{shard}`` (one class, sharded or not), and so
    ``CHANNEL#web`` and ``CHANNEL#web#07`` -> ``CHANNEL#{channel}#{shard}``, ``FOLOC#wh-east``
    and ``FOLOC#wh-east#03`` -> ``FOLOC#{location}#{shard}``;
    ``FACTS#2026-12-02`` and ``FACTS#2026-12-02#03`` -> ``FACTS#{date}#{shard}``."""
    if value == "ORDERS" or _SHARD.match(value):
        return "ORDERS#{shard}"
    sharded = _SHARDED.match(value)
    if sharded:
        return _INDEX_SHARDED[sharded.group(1)]
    if value.split("#", 1)[0] in _SHARDED_PREFIXES:
        return _segments_class(_SHARD_SUFFIX.sub("", value)) + "#{shard}"
    return _segments_class(value)


def _segments_class(value: str) -> str:
    bucket = bool(_BUCKET.search(value))
    if bucket:
        value = _BUCKET.sub("", value)
    value = _ID.sub(lambda m: "{" + _ID_PLACEHOLDERS[m.group(1)] + "}", value)
    value = _TIMESTAMP.sub("{date}", value)
    value = _MONTH.sub("{month}", value)
    parts = value.split("#")
    kinds = _SEGMENT_KINDS.get(parts[0], ())
    for i, part in enumerate(parts):
        if i == 0 or "{" in part:
            continue
        if i <= len(kinds):
            parts[i] = "{" + kinds[i - 1] + "}"
        elif part.isdigit():
            parts[i] = "{n}"
        elif _OPAQUE.match(part):
            parts[i] = "{id}"
    return "#".join(parts) + ("#B{bucket}" if bucket else "")


def is_shared(cls: str) -> bool:
    """True when the class's load lands on a few partitions (no per-entity placeholder)."""
    return not (set(_PLACEHOLDER.findall(cls)) - SHARED_DIMENSIONS)


def bucket_of(value: str) -> int | None:
    found = _BUCKET.search(value)
    return int(found.group(0)[2:]) if found else None


# ---------------------------------------------------------------------------------------
# Limits: AWS's published defaults, us-east-1 (sources in docs/capacity.md).
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    partition_wcu: float = 1_000  # per partition (and per item), per second
    partition_rcu: float = 3_000
    table_wru: float = 40_000  # on-demand table-level defaults, table and each GSI
    table_rru: float = 40_000
    sfn_transitions: float = 1_500  # StateTransition refill per second (bucket 5,000)
    sfn_start_execution: float = 300  # refill per second (bucket 1,300)
    sfn_send_task: float = 500  # each of SendTaskSuccess / Failure / Heartbeat (bucket 3,000)
    lambda_concurrency: float = 1_000
    apigateway_rps: float = 10_000
    eventbridge_put_events: float = 10_000  # PutEvents requests per second


def modelled_duration_s(function: Mapping[str, Any], name: str = "") -> float:
    """One invocation in the cloud (``cloud_duration``), from the trace's per-invocation figures."""
    return duration_s(
        cpu_ms=float(function.get("cpu_ms", 0.0)),
        requests=function.get("requests", {}),
        memory_mb=float(function.get("memory_mb", 512)),
        function=name,
    )


# ---------------------------------------------------------------------------------------
# Workload
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    placed_per_minute: float = 5_000
    processed_per_minute: float = 2_500
    # SKU popularity: Zipf over the catalogue, or a flash sale's share of orders on one SKU.
    skus: int = 1_000
    zipf_s: float = 1.0
    hot_sku_order_share: float | None = None
    sku_buckets: int | None = None  # None: as the trace has it (1 without bucket keys)
    order_shards: int | None = None  # None: as the trace has it (1 for ORDERS, 16 for ORDERS#<nn>)
    # Read-model shards (FACTS#<day>#<nn>, DEMAND#<sku>#<nn>); None: as the trace has it.
    facts_shards: int | None = None
    demand_shards: int | None = None
    channel_shards: int | None = None  # None: as the trace has it (1 for CHANNEL#<c>, 16 for CHANNEL#<c>#<nn>)
    location_shards: int | None = None  # None: as the trace has it (1 for FOLOC#<l>, 8 for FOLOC#<l>#<nn>)
    # One channel / one location taking every order is the worst case the model assumes.
    channel_share: float = 1.0
    location_share: float = 1.0


def zipf_top_share(skus: int, s: float) -> float:
    """Share of all order lines that name the most popular SKU."""
    return 1.0 / sum(1.0 / (k**s) for k in range(1, skus + 1))


def hot_sku_order_share(workload: Workload, lines_per_order: float) -> float:
    """Share of orders with a line of the hottest SKU."""
    if workload.hot_sku_order_share is not None:
        return workload.hot_sku_order_share
    return min(1.0, lines_per_order * zipf_top_share(workload.skus, workload.zipf_s))


def sku_orders(rng: Any, orders: int, skus: int, s: float, lines: int = 2) -> dict[int, int]:
    """A replayable skewed stream: orders per SKU (rank 0 the most popular) for ``orders``
    orders of ``lines`` distinct SKUs drawn from a Zipf(s) popularity."""
    weights = [1.0 / (k**s) for k in range(1, skus + 1)]
    counts: dict[int, int] = {}
    for _ in range(orders):
        chosen: set[int] = set()
        while len(chosen) < min(lines, skus):
            chosen.add(rng.choices(range(skus), weights)[0])
        for sku in chosen:
            counts[sku] = counts.get(sku, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------


@dataclass
class Candidate:
    name: str
    kind: str  # "partition", "table", "stepfunctions", "lambda", "apigateway", "eventbridge"
    limit: float
    unit: str
    load: float  # at the target
    utilisation: float  # load against the limit (a partition: WCU/1,000 + RCU/3,000)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def headroom(self) -> float:
        return 1.0 - self.utilisation

    def max_placed_per_minute(self, placed_per_minute: float) -> float:
        return math.inf if self.utilisation <= 0 else placed_per_minute / self.utilisation


def _rates(workload: Workload) -> dict[str, float]:
    return {"placed": workload.placed_per_minute / 60, "processed": workload.processed_per_minute / 60}


def _per_second(trace: Mapping[str, Any], workload: Workload, pick: Any) -> float:
    """Sum over phases of (orders/s in that phase) x (what ``pick`` reads from the phase, per order)."""
    rates = _rates(workload)
    return sum(rates[name] * float(pick(phase) or 0.0) for name, phase in trace["phases"].items() if name in rates)


def observed_order_shards(trace: Mapping[str, Any]) -> int:
    return int(trace.get("observed", {}).get("order_shards", 1))


def shards_of(cls: str, trace: Mapping[str, Any], workload: Workload) -> int:
    """The partitions a ``{shard}`` class is written in: the workload's count, else the trace's."""
    observed = trace.get("observed", {})
    if cls.startswith("FACTS#"):
        return workload.facts_shards or int(observed.get("facts_shards", 1))
    if cls.startswith("DEMAND#"):
        return workload.demand_shards or int(observed.get("demand_shards", 1))
    if cls.startswith("CHANNEL#"):
        return workload.channel_shards or int(observed.get("channel_shards", 1))
    if cls.startswith("FOLOC#"):
        return workload.location_shards or int(observed.get("location_shards", 1))
    return workload.order_shards or observed_order_shards(trace)


def observed_sku_buckets(trace: Mapping[str, Any]) -> int:
    return int(trace.get("observed", {}).get("sku_buckets", 1))


def _partition_loads(trace: Mapping[str, Any], workload: Workload) -> dict[tuple[str, str], dict[str, float]]:
    """Units per second on each (index, key class), all its partitions together."""
    rates = _rates(workload)
    loads: dict[tuple[str, str], dict[str, float]] = {}
    for phase_name, phase in trace["phases"].items():
        rate = rates.get(phase_name, 0.0)
        for p in phase["dynamodb"]["partitions"]:
            # A trace recorded before these classes were sharded names them without {shard}.
            cls = key_class(p["key"]) if _SHARDED.match(p["key"]) else p["key"]
            entry = loads.setdefault((p["index"], cls), {"wcu": 0.0, "rcu": 0.0, "writes": 0.0, "reads": 0.0})
            for unit in entry:
                entry[unit] += rate * float(p.get(unit, 0.0))
    return loads


def _spread(cls: str, trace: Mapping[str, Any], workload: Workload) -> tuple[float, str]:
    """Share of the class's load on its busiest partition, and why."""
    dims = set(_PLACEHOLDER.findall(cls))
    share, why = 1.0, []
    if "shard" in dims:
        shards = shards_of(cls, trace, workload)
        share /= shards
        why.append(f"{shards} shard(s)")
    if "sku" in dims:
        hot = hot_sku_order_share(workload, float(trace.get("lines_per_order", 1.0)))
        # The trace's per-order load on SKU classes covers all of an order's lines: one line's share.
        share *= hot / max(1.0, float(trace.get("lines_per_order", 1.0)))
        why.append(f"hottest SKU in {hot:.1%} of orders")
        if cls in STOCK_CLASSES:  # only the stock item is split into buckets
            buckets = workload.sku_buckets or observed_sku_buckets(trace)
            share /= buckets
            why.append(f"{buckets} bucket(s)")
    if "channel" in dims:
        share *= workload.channel_share
    if "location" in dims:
        share *= workload.location_share
    return share, ", ".join(why)


def evaluate(trace: Mapping[str, Any], workload: Workload, limits: Limits | None = None) -> list[Candidate]:
    """Every bottleneck candidate with its load at the workload, busiest first."""
    limits = limits or Limits()
    candidates: list[Candidate] = []
    # DynamoDB partitions of shared key classes (per-order classes spread with the orders).
    table_totals: dict[str, dict[str, float]] = {}
    for (index, cls), load in _partition_loads(trace, workload).items():
        totals = table_totals.setdefault(index, {"wcu": 0.0, "rcu": 0.0})
        totals["wcu"] += load["wcu"]
        totals["rcu"] += load["rcu"]
        if not is_shared(cls) or cls in SPLIT_BY_SORT_KEY:
            continue
        share, why = _spread(cls, trace, workload)
        wcu, rcu = load["wcu"] * share, load["rcu"] * share
        candidates.append(
            Candidate(
                name=f"{index} {cls}",
                kind="partition",
                limit=limits.partition_wcu,
                unit="WCU/s (+ RCU/s / 3)",
                load=wcu + rcu / 3,
                utilisation=wcu / limits.partition_wcu + rcu / limits.partition_rcu,
                detail={"wcu_per_s": wcu, "rcu_per_s": rcu, "spread": why or "one partition"},
            )
        )
    for index, totals in table_totals.items():
        for unit, limit in (("wcu", limits.table_wru), ("rcu", limits.table_rru)):
            candidates.append(
                Candidate(
                    name=f"{index} on-demand {'write' if unit == 'wcu' else 'read'} units",
                    kind="table",
                    limit=limit,
                    unit=f"{unit.upper()}/s",
                    load=totals[unit],
                    utilisation=totals[unit] / limit,
                )
            )
    # Step Functions (Standard): account-wide token buckets, judged on their refill rates.
    transitions = _per_second(trace, workload, lambda ph: ph["stepfunctions"].get("transitions"))
    candidates.append(
        Candidate(
            "Step Functions StateTransition",
            "stepfunctions",
            limits.sfn_transitions,
            "transitions/s",
            transitions,
            transitions / limits.sfn_transitions,
        )
    )
    for op, limit in (
        ("StartExecution", limits.sfn_start_execution),
        ("SendTaskSuccess", limits.sfn_send_task),
        ("SendTaskFailure", limits.sfn_send_task),
        ("SendTaskHeartbeat", limits.sfn_send_task),
    ):
        rate = _per_second(trace, workload, lambda ph, op=op: ph["stepfunctions"].get("requests", {}).get(op))
        candidates.append(Candidate(f"Step Functions {op}", "stepfunctions", limit, "requests/s", rate, rate / limit))
    # Lambda: concurrency = invocations/s x modelled duration, summed over functions.
    per_function: dict[str, float] = {}
    for phase_name, phase in trace["phases"].items():
        rate = _rates(workload).get(phase_name, 0.0)
        for name, fn in phase.get("lambda", {}).items():
            per_function[name] = per_function.get(name, 0.0) + rate * fn["invocations"] * modelled_duration_s(fn, name)
    concurrency = sum(per_function.values())
    top = sorted(per_function.items(), key=lambda kv: -kv[1])[:5]
    candidates.append(
        Candidate(
            "Lambda concurrent executions",
            "lambda",
            limits.lambda_concurrency,
            "executions",
            concurrency,
            concurrency / limits.lambda_concurrency,
            {"largest": {k: round(v, 1) for k, v in top}},
        )
    )
    api = _per_second(trace, workload, lambda ph: ph.get("apigateway", {}).get("requests"))
    candidates.append(
        Candidate(
            "API Gateway requests", "apigateway", limits.apigateway_rps, "requests/s", api, api / limits.apigateway_rps
        )
    )
    # The quota counts PutEvents requests ("transactions"), of up to 10 entries each.
    events = _per_second(trace, workload, lambda ph: ph.get("events", {}).get("PutEvents"))
    candidates.append(
        Candidate(
            "EventBridge PutEvents",
            "eventbridge",
            limits.eventbridge_put_events,
            "requests/s",
            events,
            events / limits.eventbridge_put_events,
        )
    )
    candidates.sort(key=lambda c: -c.utilisation)
    return candidates


# Shared partitions whose items have random sort keys (hashes): DynamoDB splits them for
# heat by sort key range, so they are not held to one partition's limit.
SPLIT_BY_SORT_KEY = frozenset({"IDEMPOTENCY"})


def verdict(candidates: list[Candidate], workload: Workload) -> dict[str, Any]:
    first = candidates[0]
    scale = math.inf if first.utilisation <= 0 else 1 / first.utilisation
    return {
        "target": {
            "placed_per_minute": workload.placed_per_minute,
            "processed_per_minute": workload.processed_per_minute,
        },
        "sustainable": first.utilisation <= 1.0,
        "first_bottleneck": first.name,
        "bottleneck_utilisation": first.utilisation,
        # Both rates scaled together, keeping the target's ratio.
        "max_placed_per_minute": workload.placed_per_minute * scale,
        "max_processed_per_minute": workload.processed_per_minute * scale,
    }


# ---------------------------------------------------------------------------------------
# Flash sale: one SKU in half the orders; its stock item split into N buckets.
# ---------------------------------------------------------------------------------------

STOCK_CLASSES = ("SKU#{sku}", "SKU#{sku}#B{bucket}")


def units_per_line(trace: Mapping[str, Any], workload: Workload, classes: Iterable[str]) -> dict[str, float]:
    """Units one order line costs the items of ``classes`` (table keys): the placing phase's
    (the reservation) and the processing phase's (shipping it), the latter weighted by the
    workload's processed/placed ratio."""
    wanted = set(classes)
    lines = max(1.0, float(trace.get("lines_per_order", 1.0)))
    ratio = workload.processed_per_minute / workload.placed_per_minute if workload.placed_per_minute else 0.0
    out = {"wcu": 0.0, "rcu": 0.0, "writes": 0.0}
    for phase_name, weight in (("placed", 1.0), ("processed", ratio)):
        phase = trace["phases"].get(phase_name)
        if not phase:
            continue
        for p in phase["dynamodb"]["partitions"]:
            if p["index"] == "table" and p["key"] in wanted:
                for unit in out:
                    out[unit] += weight * float(p.get(unit, 0.0)) / lines
    return out


def stock_units_per_line(trace: Mapping[str, Any], workload: Workload) -> dict[str, float]:
    return units_per_line(trace, workload, STOCK_CLASSES)


def _lines_per_second(units: Mapping[str, float], limits: Limits) -> float:
    """Order lines a second one item carries, writes and reads combined linearly."""
    per_line = units["wcu"] / limits.partition_wcu + units["rcu"] / limits.partition_rcu
    return math.inf if per_line <= 0 else 1 / per_line


def flash_sale(
    trace: Mapping[str, Any],
    workload: Workload,
    *,
    hot_order_share: float = 0.5,
    needed_reservations_per_s: float = 1_000,
    limits: Limits | None = None,
) -> dict[str, Any]:
    limits = limits or Limits()
    per_line = stock_units_per_line(trace, workload)
    # One reservation's share of one stock item's capacity (writes and reads combine linearly).
    per_reservation = per_line["wcu"] / limits.partition_wcu + per_line["rcu"] / limits.partition_rcu
    buckets = workload.sku_buckets or observed_sku_buckets(trace)
    capacity = buckets / per_reservation if per_reservation > 0 else math.inf
    at_target = workload.placed_per_minute / 60 * hot_order_share
    needed = max(1, math.ceil(needed_reservations_per_s * per_reservation)) if per_reservation > 0 else 1
    # Other items of the hot SKU that every line of it writes (read models keyed by SKU):
    # not split into buckets, so they cap the SKU's lines per second on their own.
    other_classes = sorted(
        {
            p["key"]
            for phase in trace["phases"].values()
            for p in phase["dynamodb"]["partitions"]
            if p["index"] == "table" and "{sku}" in p["key"] and p["key"] not in STOCK_CLASSES
        }
    )
    # A sharded one (DEMAND#{sku}#{shard}) takes a line in one of its shards.
    others = {
        cls: _lines_per_second(units_per_line(trace, workload, [cls]), limits)
        * (shards_of(cls, trace, workload) if "{shard}" in cls else 1)
        for cls in other_classes
    }
    return {
        "hot_order_share": hot_order_share,
        "wcu_per_reservation": per_line["wcu"],
        "rcu_per_reservation": per_line["rcu"],
        "buckets": buckets,
        "reservations_per_s_at_target": at_target,
        "reservations_per_s_capacity": capacity,
        "reservations_per_s_per_bucket": capacity / buckets,
        "needed_reservations_per_s": needed_reservations_per_s,
        "carries_needed": capacity >= needed_reservations_per_s,
        "buckets_for_needed": needed,
        "max_placed_per_minute_on_hot_sku": capacity / hot_order_share * 60,
        "other_hot_sku_items": {
            cls: {
                "lines_per_s_capacity": None if math.isinf(v) else round(v, 1),
                "carries_needed": v >= needed_reservations_per_s,
            }
            for cls, v in others.items()
        },
    }


# A new on-demand table serves this much at once; past it, it doubles its previous peak
# within 30 minutes (or is pre-warmed with warm throughput).
NEW_TABLE_WRU = 4_000
NEW_TABLE_RRU = 12_000


def scenarios(trace: Mapping[str, Any], workload: Workload, limits: Limits) -> list[dict[str, Any]]:
    """The verdict as the hot keys are split: what gives next."""
    out = []
    for label, change in (
        ("as recorded", {}),
        ("orders index in 16 shards", {"order_shards": 16}),
        ("16 shards, orders spread over 4 channels", {"order_shards": 16, "channel_share": 0.25}),
        (
            "16 shards, 4 channels, 2 warehouses",
            {"order_shards": 16, "channel_share": 0.25, "location_share": 0.5},
        ),
        (
            "orders, channels 16 shards, locations 8",
            {"order_shards": 16, "channel_shards": 16, "location_shards": 8},
        ),
    ):
        w = replace(workload, **change)
        out.append({"scenario": label, **verdict(evaluate(trace, w, limits), w)})
    return out


def run_model(trace: Mapping[str, Any], workload: Workload, limits: Limits | None = None) -> dict[str, Any]:
    limits = limits or Limits()
    candidates = evaluate(trace, workload, limits)
    flash_workload = replace(workload, hot_sku_order_share=0.5)
    flash_candidates = evaluate(trace, flash_workload, limits)
    by_name = {c.name: c for c in candidates}
    table_wru = by_name["table on-demand write units"].load if "table on-demand write units" in by_name else 0.0
    table_rru = by_name["table on-demand read units"].load if "table on-demand read units" in by_name else 0.0
    return {
        "workload": asdict(workload),
        "order_shards": workload.order_shards or observed_order_shards(trace),
        "facts_shards": shards_of("FACTS#{date}#{shard}", trace, workload),
        "demand_shards": shards_of("DEMAND#{sku}#{shard}", trace, workload),
        "channel_shards": shards_of("CHANNEL#", trace, workload),
        "location_shards": shards_of("FOLOC#", trace, workload),
        "sku_buckets": workload.sku_buckets or observed_sku_buckets(trace),
        "limits": asdict(limits),
        "trace": {k: trace.get(k) for k in ("recorded_at", "orders", "clients", "lines_per_order")},
        "verdict": verdict(candidates, workload),
        "candidates": [_candidate_json(c, workload) for c in candidates],
        "flash_sale": {
            **flash_sale(trace, workload, limits=limits),
            "verdict": verdict(flash_candidates, flash_workload),
        },
        "scenarios": scenarios(trace, workload, limits),
        "new_table": {
            "wru_per_s_needed": round(table_wru, 1),
            "rru_per_s_needed": round(table_rru, 1),
            "served_at_once": {"wru": NEW_TABLE_WRU, "rru": NEW_TABLE_RRU},
            "needs_warm_throughput": table_wru > NEW_TABLE_WRU or table_rru > NEW_TABLE_RRU,
        },
        "lambda_modelled_ms": {
            name: round(modelled_duration_s(fn, name) * 1000, 1)
            for phase in trace["phases"].values()
            for name, fn in phase.get("lambda", {}).items()
        },
    }


def _candidate_json(c: Candidate, workload: Workload) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "limit": c.limit,
        "unit": c.unit,
        "load_at_target": round(c.load, 3),
        "utilisation": round(c.utilisation, 4),
        "headroom": round(c.headroom, 4),
        "max_placed_per_minute": None
        if math.isinf(c.max_placed_per_minute(workload.placed_per_minute))
        else round(c.max_placed_per_minute(workload.placed_per_minute)),
        **({"detail": c.detail} if c.detail else {}),
    }


def print_report(result: Mapping[str, Any], rows: int = 15) -> None:
    v = result["verdict"]
    target = v["target"]
    print(
        f"\nCapacity at {target['placed_per_minute']:,.0f} placed + {target['processed_per_minute']:,.0f}"
        f" processed orders/min (order shards {result['order_shards']}, channel shards"
        f" {result.get('channel_shards', 1)}, location shards {result.get('location_shards', 1)},"
        f" facts shards {result['facts_shards']}, demand shards {result['demand_shards']},"
        f" SKU buckets {result['sku_buckets']})"
    )
    print(f"  {'candidate':<44} {'limit':>10} {'load':>10}  {'headroom':>8}  {'max placed/min':>14}")
    for c in result["candidates"][:rows]:
        best = "-" if c["max_placed_per_minute"] is None else f"{c['max_placed_per_minute']:,}"
        print(
            f"  {c['name'][:44]:<44} {c['limit']:>10,.0f} {c['load_at_target']:>10,.1f}  "
            f"{c['headroom']:>8.0%}  {best:>14}"
        )
    state = "sustainable" if v["sustainable"] else "NOT sustainable"
    print(
        f"\n  verdict: {state}; first bottleneck {v['first_bottleneck']} at {v['bottleneck_utilisation']:.0%};"
        f" highest sustainable {v['max_placed_per_minute']:,.0f} placed + {v['max_processed_per_minute']:,.0f}"
        " processed/min"
    )
    f = result["flash_sale"]
    print(
        f"\nFlash sale: {f['hot_order_share']:.0%} of orders on one SKU; {f['wcu_per_reservation']:.2f} WCU and"
        f" {f['rcu_per_reservation']:.2f} RCU on its stock item per reserved line"
        f"\n  at the target: {f['reservations_per_s_at_target']:,.1f} reservations/s on the hot SKU;"
        f" capacity {f['reservations_per_s_capacity']:,.0f}/s with {f['buckets']} bucket(s)"
        f" ({f['reservations_per_s_per_bucket']:,.0f}/s each)"
        f"\n  {f['needed_reservations_per_s']:,.0f} reservations/s needs {f['buckets_for_needed']} bucket(s);"
        f" with {f['buckets']}: {'carried' if f['carries_needed'] else 'NOT carried'};"
        f" flash-sale first bottleneck {f['verdict']['first_bottleneck']}"
        f" (max {f['verdict']['max_placed_per_minute']:,.0f} placed/min)"
    )
    for cls, other in f["other_hot_sku_items"].items():
        cap = other["lines_per_s_capacity"]
        print(f"  other item of the hot SKU {cls}: {'unbounded' if cap is None else f'{cap:,.0f} lines/s'}")


def _print_extras(result: Mapping[str, Any]) -> None:
    print("\nAs the hot keys are split:")
    for sc in result["scenarios"]:
        print(
            f"  {sc['scenario']:<42} first bottleneck {sc['first_bottleneck']} at {sc['bottleneck_utilisation']:.0%};"
            f" max {sc['max_placed_per_minute']:,.0f} placed/min"
        )
    nt = result["new_table"]
    if nt["needs_warm_throughput"]:
        print(
            f"\n  A new on-demand table serves {nt['served_at_once']['wru']:,} WRU/s and"
            f" {nt['served_at_once']['rru']:,} RRU/s at once; the target needs {nt['wru_per_s_needed']:,.0f} WRU/s and"
            f" {nt['rru_per_s_needed']:,.0f} RRU/s: pre-warm it (warm throughput) or ramp up over 30-minute doublings."
        )


# Classes a trace recorded before the read models were sharded names without ``{shard}``.
_UNSHARDED_CLASSES = {"FACTS#{date}": "FACTS#{date}#{shard}", "DEMAND#{sku}": "DEMAND#{sku}#{shard}"}


def with_current_classes(trace: dict[str, Any]) -> dict[str, Any]:
    """An older trace's key classes as ``key_class`` names them now (its observed shard count stays 1)."""
    for phase in trace.get("phases", {}).values():
        for p in phase.get("dynamodb", {}).get("partitions", []):
            p["key"] = _UNSHARDED_CLASSES.get(p["key"], p["key"])
    return trace


def load_trace(path: Path = TRACE) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return with_current_classes(data)


def _fresh(path: Path) -> bool:
    return path.exists() and time.time() - path.stat().st_mtime < FRESH_SECONDS


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="record a new trace even if a fresh one exists")
    parser.add_argument("--no-record", action="store_true", help="never record: use the trace as it is")
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--lifecycles", type=int, default=20, help="orders in a recorded trace")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--placed", type=float, default=5_000, help="orders placed per minute")
    parser.add_argument("--processed", type=float, default=2_500, help="orders processed per minute")
    parser.add_argument("--sku-buckets", type=int, help="stock items per hot SKU (default: as the trace has it)")
    parser.add_argument("--order-shards", type=int, help="orders index shards (default: as the trace has it)")
    parser.add_argument("--facts-shards", type=int, help="order facts shards a day (default: as the trace has it)")
    parser.add_argument("--demand-shards", type=int, help="demand counter shards a SKU (default: as the trace has it)")
    parser.add_argument("--channel-shards", type=int, help="channel index shards (default: as the trace has it)")
    parser.add_argument("--location-shards", type=int, help="location work index shards (default: as the trace)")
    parser.add_argument("--skus", type=int, default=1_000, help="catalogue size for the Zipf popularity")
    parser.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent of SKU popularity")
    parser.add_argument("--channel-share", type=float, default=1.0, help="share of orders the busiest channel brings")
    parser.add_argument("--location-share", type=float, default=1.0, help="share of orders the busiest location ships")
    args = parser.parse_args(list(argv) if argv is not None else None)

    if args.record or (not args.no_record and not _fresh(args.trace)):
        from tests.benchmarks.capacity_trace import record

        trace = record(orders=args.lifecycles, clients=args.clients)
        args.trace.parent.mkdir(exist_ok=True)
        args.trace.write_text(json.dumps(trace, indent=2))
        print(f"trace written: {args.trace}")
    trace = load_trace(args.trace)
    workload = Workload(
        placed_per_minute=args.placed,
        processed_per_minute=args.processed,
        skus=args.skus,
        zipf_s=args.zipf,
        sku_buckets=args.sku_buckets,
        order_shards=args.order_shards,
        facts_shards=args.facts_shards,
        demand_shards=args.demand_shards,
        channel_shards=args.channel_shards,
        location_shards=args.location_shards,
        channel_share=args.channel_share,
        location_share=args.location_share,
    )
    result = run_model(trace, workload)
    print_report(result)
    _print_extras(result)
    OUT.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2, default=lambda x: None))
    print(f"\nwritten: {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
