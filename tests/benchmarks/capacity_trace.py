"""Recording the capacity model's trace: whole lifecycles on the local stack, request by request.

Two phases, so the model can scale them apart: *placed* (capture through the HTTP API until
every fulfillment order waits for the warehouse) and *processed* (the simulated warehouse
accepts, picks, packs and ships, the carrier delivers, the workflow ends). Every AWS request
a function makes is kept with the partitions it touches (base-table pk; for a write every
index entry it puts, rewrites or deletes, by DynamoDB's rule for the index's projection,
from the item before and after the write; for a Query the index and its pk) and its units
(``aws_meter``'s rules), its key values turned into key classes
(``capacity.key_class``). The trace holds per-order averages per phase.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections import Counter, defaultdict
from typing import Any, NamedTuple

from moto.dynamodb.models.dynamo_type import DynamoType

from demo.samples import CHANNEL_KEYS, sample_order
from functions.customers.store import DEMAND_SHARDS, FACTS_SHARDS
from functions.fulfill.store import LOCATION_INDEX_SHARDS
from infra import manifest
from infra.local import requests_meter, runtime
from shared.order.keys import ORDER_INDEX_SHARDS
from tests.benchmarks.aws_meter import AwsMeter, IndexWrite, _hook, _read_units, _unhook, _units, item_size
from tests.benchmarks.bench_lifecycle import _finished, _stock, _transitions
from tests.benchmarks.capacity import bucket_of, key_class
from tests.benchmarks.load_clients import Warehouse, capture

_INDEXES = {ix.name: ix.pk for ix in manifest.TABLE.indexes}
_EQUALS = re.compile(r"(#?[\w]+)\s*=\s*(:[\w]+)")
_SHARD_VALUE = re.compile(r"^ORDERS#\d+$")
_READ_MODEL_SHARD = re.compile(r"^(FACTS|DEMAND)#.+#\d{2}$")

_CHANNEL_SHARD = re.compile(r"^CHANNEL#[^#]+#\d+$")
_LOCATION_SHARD = re.compile(r"^FOLOC#[^#]+#\d+$")


def _plain(typed: Any) -> Any:
    if isinstance(typed, dict) and len(typed) == 1:
        return next(iter(typed.values()))
    return typed


class Written(NamedTuple):
    size: int  # bytes stored after the write (0: deleted)


class Phase:
    def __init__(self) -> None:
        # (index, key class) -> units and request counts
        self.partitions: defaultdict[tuple[str, str], defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.requests: Counter[str] = Counter()
        self.entries: Counter[str] = Counter()
        self.by_caller: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], str] = {}


class TraceRecorder(AwsMeter):
    """An ``AwsMeter`` that also keeps, per phase, which partitions each request touched."""

    def __init__(self) -> None:
        super().__init__()
        self.phase: Phase | None = None
        self.shards_seen: set[str] = set()
        self.channel_shards_seen: set[str] = set()
        self.location_shards_seen: set[str] = set()
        self.buckets_seen: set[int] = set()
        self.read_model_shards_seen: set[str] = set()  # FACTS, DEMAND: keys with a shard suffix were written
        self._trace_lock = threading.Lock()

    def attach(self, *services: str) -> TraceRecorder:
        self._services = set(services)
        _hook(self)
        requests_meter.listen(self.observe)
        return self

    def detach(self) -> None:
        requests_meter.unlisten(self.observe)
        _unhook(self)

    # -- requests -----------------------------------------------------------------------

    def observe(self, service: str, operation: str, caller: str, params: Any, answer: Any) -> None:
        """One request the emulator served, after its answer (a ``requests_meter`` listener)."""
        with self._trace_lock:
            failed = "__type" in answer
            index_writes = self._take_index_writes() if service == "dynamodb" else []
            if failed:
                index_writes = []  # moto rolls a cancelled transaction back
            written = self._follow(operation, params) if service == "dynamodb" else {}
            phase = self.phase
            if phase is None or caller == requests_meter.OUTSIDE or service not in self._services:
                return
            name = f"{service}.{operation}"
            phase.requests[name] += 1
            phase.by_caller[(caller, name)] += 1
            if operation in ("PutEvents", "SendMessageBatch"):
                phase.entries[name] += len(params.get("Entries", []))
            if service == "dynamodb":
                self._dynamodb(phase, operation, params, answer, written, index_writes)

    def _stored(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        try:
            item = self._backend.get_table(table).get_item(DynamoType(key["pk"]), DynamoType(key["sk"]))
        except Exception:
            return None
        return item.to_json()["Attributes"] if item else None

    def _writes(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], int, str]]:
        """(table, key, units factor, kind) of each item a write request touches."""
        if operation == "PutItem":
            item = params["Item"]
            return [(params["TableName"], {"pk": item["pk"], "sk": item["sk"]}, 1, "Put")]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], 1, operation[:-4])]
        out = []
        if operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    if "PutRequest" in r:
                        item = r["PutRequest"]["Item"]
                        out.append((table, {"pk": item["pk"], "sk": item["sk"]}, 1, "Put"))
                    else:
                        out.append((table, r["DeleteRequest"]["Key"], 1, "Delete"))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, op),) = entry.items()
                key = {"pk": op["Item"]["pk"], "sk": op["Item"]["sk"]} if kind == "Put" else op["Key"]
                out.append((op["TableName"], key, 2, kind))
        return out

    def _follow(self, operation: str, params: dict[str, Any]) -> dict[tuple[str, str], Written]:
        """Each written item's stored size after the write."""
        out: dict[tuple[str, str], Written] = {}
        for table, key, _, _kind in self._writes(operation, params):
            stored = self._stored(table, key)
            out[(str(_plain(key["pk"])), str(_plain(key["sk"])))] = Written(item_size(stored) if stored else 0)
        return out

    def _dynamodb(
        self,
        phase: Phase,
        operation: str,
        params: dict[str, Any],
        answer: dict[str, Any],
        written: dict[tuple[str, str], Written],
        index_writes: list[IndexWrite],
    ) -> None:
        writes = self._writes(operation, params)
        for _, key, factor, _kind in writes:
            pk, sk = str(_plain(key["pk"])), str(_plain(key["sk"]))
            (size,) = written[(pk, sk)]
            self._touch(phase, "table", self._table_class(pk, sk), pk, wcu=factor * _units(size), writes=1)
        # Each index entry put, rewritten or deleted (none for a failed condition).
        for w in index_writes:
            self._touch(phase, w.index, key_class(w.partition), w.partition, wcu=w.units, writes=1)
        if writes:
            return
        consistent = 1.0 if params.get("ConsistentRead") else 0.5
        if operation == "GetItem":
            pk, sk = str(_plain(params["Key"]["pk"])), str(_plain(params["Key"]["sk"]))
            item = answer.get("Item")
            units = _read_units(item_size(item)) if item else 1
            self._touch(phase, "table", self._table_class(pk, sk), pk, rcu=units * consistent, reads=1)
        elif operation in ("Query", "Scan"):
            index = params.get("IndexName", "table")
            units = _read_units(sum(item_size(i) for i in answer.get("Items", [])))
            value = self._query_pk(params, _INDEXES.get(index, "pk")) if operation == "Query" else None
            cls = key_class(value) if value else "{scan}"
            if index == "table" and value and all("sk" in i for i in answer.get("Items", [])[:1]):
                sk = str(_plain(answer["Items"][0]["sk"])) if answer.get("Items") else ""
                cls = self._table_class(value, sk)
            self._touch(phase, index, cls, value or "", rcu=units * consistent, reads=1)
        elif operation == "BatchGetItem":
            for table_items in answer.get("Responses", {}).values():
                for item in table_items:
                    pk, sk = str(_plain(item["pk"])), str(_plain(item["sk"]))
                    units = _read_units(item_size(item))
                    self._touch(phase, "table", self._table_class(pk, sk), pk, rcu=units, reads=1)
        elif operation == "TransactGetItems":
            for entry, response in zip(params.get("TransactItems", []), answer.get("Responses", []), strict=False):
                key = entry["Get"]["Key"]
                pk, sk = str(_plain(key["pk"])), str(_plain(key["sk"]))
                units = 2 * _read_units(item_size(response.get("Item", {})))
                self._touch(phase, "table", self._table_class(pk, sk), pk, rcu=units, reads=1)

    @staticmethod
    def _query_pk(params: dict[str, Any], attribute: str) -> str | None:
        names = params.get("ExpressionAttributeNames", {})
        values = params.get("ExpressionAttributeValues", {})
        for name, placeholder in _EQUALS.findall(params.get("KeyConditionExpression", "")):
            if names.get(name, name) == attribute and placeholder in values:
                return str(_plain(values[placeholder]))
        return None

    def _table_class(self, pk: str, sk: str) -> str:
        """The pk's class; a bucket suffix on the sort key (a stock item split into buckets
        under one pk) is kept, since each bucket item takes its own share of the writes."""
        cls = key_class(pk)
        bucket = bucket_of(sk)
        if bucket is not None:
            self.buckets_seen.add(bucket)
            if "#B{bucket}" not in cls:
                cls += "#B{bucket}"
        return cls

    def _touch(self, phase: Phase, index: str, cls: str, raw: str, **units: float) -> None:
        counter = phase.partitions[(index, cls)]
        for unit, n in units.items():
            counter[unit] += n
        phase.examples.setdefault((index, cls), raw)
        if _SHARD_VALUE.match(raw):
            self.shards_seen.add(raw)
        if _READ_MODEL_SHARD.match(raw):
            self.read_model_shards_seen.add(raw.split("#", 1)[0])

        if _CHANNEL_SHARD.match(raw):
            self.channel_shards_seen.add(raw)
        if _LOCATION_SHARD.match(raw):
            self.location_shards_seen.add(raw)
        bucket = bucket_of(raw)
        if bucket is not None:
            self.buckets_seen.add(bucket)

    # -- phases -------------------------------------------------------------------------

    def begin(self) -> dict[str, Any]:
        """Start a phase; what the runtime counted so far, to subtract at its end."""
        with self._trace_lock:
            self.phase = Phase()
        return {
            "invocations": Counter(runtime.invocations),
            "cpu": dict(runtime.cpu_seconds),
            "busy": dict(runtime.busy_seconds),
        }

    def end(self, before: dict[str, Any], orders: int, transitions: float, api_requests: int) -> dict[str, Any]:
        with self._trace_lock:
            phase, self.phase = self.phase, None
        assert phase is not None
        n = max(1, orders)
        functions = {spec.handler: spec for spec in manifest.FUNCTIONS}
        by_name = {spec.name: spec for spec in manifest.FUNCTIONS}
        calls = runtime.invocations - before["invocations"]
        requests_by_function: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for (caller, name), count in phase.by_caller.items():
            spec = by_name.get(caller) or next((s for s in manifest.FUNCTIONS if caller.endswith(s.name)), None)
            requests_by_function[spec.name if spec else caller][name] += count
        lambdas: dict[str, Any] = {}
        for handler, count in sorted(calls.items()):
            spec = functions.get(handler)
            name = spec.name if spec else handler
            lambdas[name] = {
                "invocations": count / n,
                "cpu_ms": (runtime.cpu_seconds[handler] - before["cpu"].get(handler, 0.0)) / count * 1000,
                "local_ms": (runtime.busy_seconds[handler] - before["busy"].get(handler, 0.0)) / count * 1000,
                "memory_mb": spec.memory_mb if spec else 512,
                "requests": {op: c / count for op, c in sorted(requests_by_function.get(name, Counter()).items())},
            }
        partitions = [
            {
                "index": index,
                "key": cls,
                "example": phase.examples[(index, cls)],
                **{unit: round(value / n, 4) for unit, value in sorted(counter.items())},
            }
            for (index, cls), counter in sorted(phase.partitions.items())
        ]
        sfn = {op.split(".", 1)[1]: c / n for op, c in phase.requests.items() if op.startswith("stepfunctions.")}
        return {
            "orders": orders,
            "dynamodb": {
                "partitions": partitions,
                "wcu": sum(p.get("wcu", 0.0) for p in partitions),
                "rcu": sum(p.get("rcu", 0.0) for p in partitions),
            },
            "stepfunctions": {"transitions": transitions / n, "requests": sfn},
            "lambda": lambdas,
            "apigateway": {"requests": api_requests / n},
            "events": {
                "PutEvents": phase.requests["events.PutEvents"] / n,
                "entries": phase.entries["events.PutEvents"] / n,
            },
            "sqs": {
                "SendMessage": phase.requests["sqs.SendMessage"] / n,
                "entries": (phase.requests["sqs.SendMessage"] + phase.entries["sqs.SendMessageBatch"]) / n,
            },
            "requests": {name: c / n for name, c in sorted(phase.requests.items())},
        }


def _bodies(rng: random.Random, prefix: str, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        body = sample_order(rng, rng.choice(list(CHANNEL_KEYS)), f"{prefix}-{i}")
        body["shipping"]["method"] = "standard"  # delivered by the carrier, not picked up in a store
        body["shipping"].pop("pickup_location_id", None)
        out.append(body)
    return out


def _waiting_for_warehouse(stack: Any, order_ids: list[str], timeout: float) -> set[str]:
    """Orders whose every fulfillment order holds its execution's task token (the placing
    phase is over). Read around the handlers, as the bench's own reads are."""
    ddb = stack.client("dynamodb")
    table = stack.resources.table_name
    ready: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(ready) < len(order_ids) and time.monotonic() < deadline:
        for order_id in order_ids:
            if order_id in ready:
                continue
            items = ddb.query(
                TableName=table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :fo)",
                ExpressionAttributeValues={":pk": {"S": f"ORDER#{order_id}"}, ":fo": {"S": "FO#"}},
                ConsistentRead=True,
            )["Items"]
            waits = [
                ddb.get_item(
                    TableName=table,
                    Key={"pk": {"S": f"FOWAIT#{i['fo_id']['S']}"}, "sk": {"S": "WAIT"}},
                    ConsistentRead=True,
                ).get("Item")
                for i in items
            ]
            if items and all(waits):  # each fulfillment order's token is parked
                ready.add(order_id)
                continue
            if items and all("task_token" in i for i in items):
                ready.add(order_id)
        time.sleep(0.5)
    return ready


def _settle(quiet: float = 3.0, timeout: float = 60.0) -> None:
    """Wait until no function has been invoked for ``quiet`` seconds: the stream consumers
    and queues have caught up with what the phase did (its load is the phase's)."""
    deadline = time.monotonic() + timeout
    last, since = sum(runtime.invocations.values()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(runtime.invocations.values())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def _run(stack: Any, recorder: TraceRecorder, orders: int, clients: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    api_url = stack.api_url
    _stock(api_url)
    # Warm every function first: cold starts are not per-order load.
    warm = Warehouse(api_url, pickers=clients)
    worker = threading.Thread(target=warm.run, daemon=True)
    worker.start()
    warm_ids = capture(api_url, _bodies(rng, f"CAPWARM{clients}", min(clients, 4)), min(clients, 4))
    _finished(stack, list(warm_ids), 180)
    warm.stop.set()
    worker.join(timeout=30)
    _settle()

    bodies = _bodies(rng, f"CAP{clients}", orders)
    lines_per_order = sum(len(b["lines"]) for b in bodies) / len(bodies)

    before = recorder.begin()
    created = capture(api_url, bodies, clients)
    ids = list(created)
    placed = _waiting_for_warehouse(stack, ids, timeout=max(120.0, orders * 3.0))
    _settle()
    transitions_placed = sum(_transitions(stack, set(ids)))
    phase_placed = recorder.end(before, len(placed), transitions_placed, api_requests=len(created))

    before = recorder.begin()
    warehouse = Warehouse(api_url, pickers=clients)
    deadline = time.monotonic() + max(300.0, orders * 3.0)
    while len(warehouse.shipped) < len(placed) and time.monotonic() < deadline:
        if not warehouse.work_once():
            time.sleep(0.5)
    done = _finished(stack, ids, timeout=max(120.0, orders * 3.0))
    _settle()
    transitions_all = sum(_transitions(stack, set(ids)))
    phase_processed = recorder.end(before, len(done), transitions_all - transitions_placed, warehouse.http.answered)

    return {
        "format": 1,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "orders": orders,
        "placed": len(placed),
        "completed": len(done),
        "clients": clients,
        "lines_per_order": lines_per_order,
        "warehouse_errors": warehouse.errors[:10],
        "observed": {
            # ORDERS#<nn> keys mean the orders index is sharded (16 shards); plain ORDERS: one.
            "order_shards": 16 if recorder.shards_seen else 1,
            "order_shard_keys_seen": len(recorder.shards_seen),
            # CHANNEL#<c>#<nn> and FOLOC#<l>#<nn>: the counts the code writes them with.
            "channel_shards": ORDER_INDEX_SHARDS if recorder.channel_shards_seen else 1,
            "location_shards": LOCATION_INDEX_SHARDS if recorder.location_shards_seen else 1,
            "sku_buckets": max(recorder.buckets_seen) + 1 if recorder.buckets_seen else 1,
            # Read models written in shards: the code's fixed counts once their shard keys appear.
            "facts_shards": FACTS_SHARDS if "FACTS" in recorder.read_model_shards_seen else 1,
            "demand_shards": DEMAND_SHARDS if "DEMAND" in recorder.read_model_shards_seen else 1,
        },
        "phases": {"placed": phase_placed, "processed": phase_processed},
    }


def record(orders: int = 20, clients: int = 8, seed: int = 29) -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    logging.basicConfig(level=logging.ERROR)
    from infra.local.stack import LocalStack

    with LocalStack(moto_port=0, api_port=0) as stack:
        recorder = TraceRecorder().attach("dynamodb", "stepfunctions", "events", "sqs", "secretsmanager")
        try:
            return _run(stack, recorder, orders, clients, seed)
        finally:
            recorder.detach()
