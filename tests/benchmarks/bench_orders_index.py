"""The all-orders list (``GET /v1/orders`` without a channel or customer) before and after
sharding its index.

The same headers are listed twice from one moto table: first all in the one partition
``ORDERS`` and read the way the list read it before (one partition, queries one after
another until the page is full), then moved to their 16 shards by the migration and read
by the merged list, its shards queried together and one after another. Per page: queries,
round trips (queries that wait on each other: a concurrent round is one), items the
queries evaluated (what DynamoDB bills read units on), read units (eventually consistent,
each query's index entries rounded up to 4 KB, half a unit at least, and each item the
page reads by key after it: the index projects keys only), and wall time in moto.

Moto's wall time is its own CPU (it reads the whole table for every index query), not a
network, so it says little about DynamoDB: the latency that counts is round trips times
DynamoDB's per-request latency (``--rtt-ms``, 5 ms by default, about a Query's from a
Lambda in its region), printed beside it as a model, not a measurement.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws

from shared.clock import iso
from shared.order import keys
from tests.benchmarks.aws_meter import item_size

START = datetime(2026, 11, 1, tzinfo=UTC)


def _header(rng: random.Random, n: int) -> dict[str, Any]:
    """A header about the size of a captured one (customer, shipping address, totals)."""
    order_id = f"ord_{rng.getrandbits(64):016x}{n:05d}"
    created_at = iso(START + timedelta(seconds=rng.randrange(0, 30 * 86400)))
    sort_key = keys.created_sort_key(created_at, order_id)
    return {
        "pk": keys.order_pk(order_id),
        "sk": keys.ORDER_HEADER,
        "type": "order",
        "order_id": order_id,
        "channel": rng.choice(("web", "web", "pos", "marketplace")),
        "external_id": f"W-{n}",
        "customer_id": f"cus_{rng.getrandbits(48):012x}",
        "customer": {"email": f"customer{n}@example.com", "name": "Ada Lovelace", "phone": "+44 20 7946 0000"},
        "currency": "EUR",
        "totals": {"subtotal": 8997, "discount": 1100, "tax": 1250, "shipping": 499, "total": 9646},
        "shipping": {
            "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"},
            "method": "standard",
            "amount": 499,
        },
        "payment": {"provider": "sandbox", "token": "tok_approve"},
        "line_count": 2,
        # A fifth open; the rest further on.
        "status": rng.choice(("open", "allocated", "released", "shipped", "completed")),
        "fulfillment_status": rng.choice(("unfulfilled", "backordered", "fulfilled")),
        "payment_status": "authorized",
        "workflow": {"execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:oms-Order:{order_id}"},
        "created_at": created_at,
        "updated_at": created_at,
        "gsi1pk": "CHANNEL#web",
        "gsi1sk": sort_key,
        "gsi2pk": "CUSTOMER#cus_x",
        "gsi2sk": sort_key,
        "gsi3pk": keys.LEGACY_ORDER_INDEX_PK,
        "gsi3sk": sort_key,
    }


class _QueryMeter:
    """Counts the Query calls of the current page, with their evaluated entries and read
    units, and the BatchGetItem calls that read the page's items by key (the index projects
    keys only: an entry is ``entry_bytes``, an item ``item_bytes``)."""

    def __init__(self, item_bytes: int, entry_bytes: int):
        self.item_bytes = item_bytes
        self.entry_bytes = entry_bytes
        self.queries = 0
        self.batch_gets = 0
        self.evaluated = 0
        self.read_units = 0.0
        # Concurrent rounds of the merged list (each one round trip); None: every query is one.
        self.rounds: int | None = None

    def reset(self) -> None:
        self.queries, self.batch_gets, self.evaluated, self.read_units = 0, 0, 0, 0.0
        self.rounds = None

    def after(self, parsed: dict[str, Any], **_: Any) -> None:
        scanned = int(parsed.get("ScannedCount", 0))
        self.queries += 1
        self.evaluated += scanned
        self.read_units += max(1, math.ceil(scanned * self.entry_bytes / 4096)) / 2

    def after_batch_get(self, parsed: dict[str, Any], **_: Any) -> None:
        found = sum(len(items) for items in parsed.get("Responses", {}).values())
        self.batch_gets += 1
        self.read_units += found * max(1, math.ceil(self.item_bytes / 4096)) / 2


@contextmanager
def _table() -> Iterator[None]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    saved = {k: os.environ.get(k) for k in [*env, "TABLE_NAME", "AWS_ENDPOINT_URL"]}
    os.environ.update(env)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from shared import warm_cache

    try:
        with mock_aws():
            from infra import manifest
            from infra.local import provision

            # The table alone, as the stacks declare it: the list needs nothing else.
            provision._table(boto3.client("dynamodb"), manifest)
            os.environ["TABLE_NAME"] = provision.local_name(manifest.TABLE.name)
            warm_cache.reset_all()
            yield
    finally:
        warm_cache.reset_all()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _walk(
    read_page: Callable[[str | None], tuple[list[Any], str | None]],
    meter: _QueryMeter,
    pages: int,
    *,
    concurrent_rounds: bool,
    rtt_ms: float,
) -> dict[str, Any]:
    times, queries, trips, evaluated, units, sizes = [], [], [], [], [], []
    cursor: str | None = None
    for _ in range(pages):
        meter.reset()
        started = time.perf_counter()
        items, cursor = read_page(cursor)
        times.append((time.perf_counter() - started) * 1000)
        queries.append(meter.queries)
        trips.append(
            (meter.rounds if concurrent_rounds and meter.rounds is not None else meter.queries) + meter.batch_gets
        )
        evaluated.append(meter.evaluated)
        units.append(meter.read_units)
        sizes.append(len(items))
        if not cursor:
            break
    return {
        "pages": len(times),
        "items_per_page": statistics.mean(sizes),
        "moto_p50_ms": statistics.median(times),
        "moto_max_ms": max(times),
        "queries_per_page": statistics.mean(queries),
        "round_trips_per_page": statistics.mean(trips),
        "modelled_latency_ms": statistics.mean(trips) * rtt_ms,
        "items_evaluated_per_page": statistics.mean(evaluated),
        "read_units_per_page": statistics.mean(units),
    }


def bench_orders_index(orders: int = 800, pages: int = 5, rtt_ms: float = 5.0) -> dict[str, Any]:
    from functions.capture import store
    from shared import sharded_index

    rng = random.Random(20261202)
    headers = [_header(rng, n) for n in range(orders)]
    typed = {k: TypeSerializer().serialize(v) for k, v in headers[0].items()}
    item_bytes = item_size(typed)
    # A query reads an entry's projected attributes (the index overhead is storage, not read).
    entry_bytes = item_size({k: typed[k] for k in ("pk", "sk", "gsi3pk", "gsi3sk")})
    meter = _QueryMeter(item_bytes, entry_bytes)
    cases = {
        "newest 50": (store.OrderFilter(), 50),
        "newest 10": (store.OrderFilter(), 10),
        "status=open, 50": (store.OrderFilter(status="open"), 50),
        "open and backordered, 25": (store.OrderFilter(status="open", fulfillment_status="backordered"), 25),
    }
    results: dict[str, Any] = {"orders": orders, "pages_per_walk": pages, "header_bytes": item_bytes, "rtt_ms": rtt_ms}
    with _table():
        from shared.table import Table

        table = Table()
        table.batch_put(headers)
        from shared.aws import client

        # The one client every Table shares (cached per service).
        events = client("dynamodb").meta.events
        events.register("after-call.dynamodb.Query", meter.after)
        events.register("after-call.dynamodb.BatchGetItem", meter.after_batch_get)

        def one_partition(flt: store.OrderFilter, limit: int) -> Callable[[str | None], Any]:
            query = store._query_for(flt, "gsi3", "gsi3pk", "gsi3sk")
            return lambda cursor: sharded_index.read_one_partition(
                query, keys.LEGACY_ORDER_INDEX_PK, limit=limit, cursor=cursor, table=table
            )

        def sharded(flt: store.OrderFilter, limit: int) -> Callable[[str | None], Any]:
            return lambda cursor: store.list_orders(flt, limit=limit, cursor=cursor, table=table)

        def run_all(label: str, reader: Callable[..., Any], *, concurrent_rounds: bool) -> None:
            for name, (flt, limit) in cases.items():
                results.setdefault(name, {})[label] = _walk(
                    reader(flt, limit), meter, pages, concurrent_rounds=concurrent_rounds, rtt_ms=rtt_ms
                )

        read_round = sharded_index._read_round

        def counted_round(*args: Any, **kwargs: Any) -> None:
            meter.rounds = (meter.rounds or 0) + 1
            read_round(*args, **kwargs)

        run_all("one partition (before)", one_partition, concurrent_rounds=False)
        results["migration"] = store.migrate_legacy_order_index(table)
        sharded_index._read_round = counted_round
        readers = sharded_index.SHARD_READERS
        try:
            run_all(f"{keys.ORDER_INDEX_SHARDS} shards, concurrent", sharded, concurrent_rounds=True)
            sharded_index.SHARD_READERS = 1
            run_all(f"{keys.ORDER_INDEX_SHARDS} shards, one after another", sharded, concurrent_rounds=False)
        finally:
            sharded_index.SHARD_READERS = readers
            sharded_index._read_round = read_round
    return results


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\nAll-orders list, {result['orders']} headers of ~{result['header_bytes']} B, first"
        f" {result['pages_per_walk']} pages; per page: queries, round trips, items evaluated, read units,"
        f" latency modelled at {result['rtt_ms']:g} ms a round trip (moto's own time beside it)"
    )
    for case, runs in result.items():
        if not isinstance(runs, dict) or case in ("migration", "machine"):
            continue
        print(f"  {case}")
        for label, r in runs.items():
            print(
                f"    {label:<32} {r['queries_per_page']:5.1f} q {r['round_trips_per_page']:5.1f} trips"
                f" {r['items_evaluated_per_page']:6.1f} items {r['read_units_per_page']:5.1f} RU"
                f" {r['modelled_latency_ms']:6.1f} ms (moto {r['moto_p50_ms']:.0f} ms)"
            )
