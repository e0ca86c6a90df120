"""Capture's reads of the order indexes: orders by channel, customer, or all, newest first; and the
migration of headers indexed before the all-orders index was sharded."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.errors import MalformedInput
from shared.order import keys
from shared.table import ConditionFailed, Item, Table, decode_cursor, encode_cursor


@dataclass(frozen=True)
class OrderFilter:
    channel: str | None = None
    customer_id: str | None = None
    status: str | None = None
    created_after: str | None = None
    created_before: str | None = None
    fulfillment_status: str | None = None
    # Orders not changed since (an open order unchanged for long is stuck somewhere).
    updated_before: str | None = None


# The GSI chosen per filter, most selective first. Each holds the header only.
_INDEX_BY_FILTER = (
    ("customer_id", "gsi2", "gsi2pk", "gsi2sk", keys.customer_pk),
    ("channel", "gsi1", "gsi1pk", "gsi1sk", lambda c: f"CHANNEL#{c}"),
)
# Reads per page: a filter can leave a page short, so reading goes on until it is full or
# the index ends, for at most this many rounds (one query per partition that needs more).
_MAX_ROUNDS = 20
# The all-orders index's partitions are queried together: a page costs about one round
# trip instead of one per partition.
_SHARD_READERS = len(keys.order_index_pks())
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shard_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_SHARD_READERS, thread_name_prefix="order-index")
        return _pool


@dataclass(frozen=True)
class _Query:
    """One index query's expressions, less its partition key."""

    index: str
    pk_name: str
    sk_name: str
    lower: str | None
    upper: str | None
    filters: str | None
    names: dict[str, str] | None
    values: dict[str, Any]

    def run(
        self,
        table: Table,
        pk_value: str,
        *,
        limit: int,
        start_key: dict[str, Any] | None = None,
        below: str | None = None,
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """Newest first from ``pk_value``: sort keys within the dates, and under ``below``
        (exclusive) when given."""
        condition = f"{self.pk_name} = :pk"
        values = {**self.values, ":pk": pk_value}
        upper = self.upper
        upper_inclusive = True
        if below is not None and (upper is None or below <= upper):
            upper, upper_inclusive = below, False
        if self.lower is not None and upper is not None:
            # BETWEEN is inclusive at both ends: an exclusive upper bound is dropped below.
            condition += f" AND {self.sk_name} BETWEEN :after AND :before"
            values.update({":after": self.lower, ":before": upper})
        elif self.lower is not None:
            condition += f" AND {self.sk_name} >= :after"
            values[":after"] = self.lower
        elif upper is not None:
            condition += f" AND {self.sk_name} {'<=' if upper_inclusive else '<'} :before"
            values[":before"] = upper
        if self.lower is not None and upper is not None and self.lower > upper:
            return [], None
        items, last = table.query(
            condition,
            values,
            index=self.index,
            names=self.names,
            filter_expression=self.filters,
            limit=limit,
            start_key=start_key,
            forward=False,
        )
        if not upper_inclusive:
            items = [i for i in items if i[self.sk_name] != upper]
        return items, last


def _query_for(flt: OrderFilter, index: str, pk_name: str, sk_name: str) -> _Query:
    values: dict[str, Any] = {}
    filters = []
    names: dict[str, str] = {}
    if flt.status:
        filters.append("#status = :status")
        names["#status"] = "status"
        values[":status"] = flt.status
    if flt.fulfillment_status:
        filters.append("#fs = :fs")
        names["#fs"] = "fulfillment_status"
        values[":fs"] = flt.fulfillment_status
    if flt.updated_before:
        filters.append("updated_at < :updated_before")
        values[":updated_before"] = flt.updated_before
    if flt.channel and index != "gsi1":
        filters.append("channel = :channel")
        values[":channel"] = flt.channel
    return _Query(
        index=index,
        pk_name=pk_name,
        sk_name=sk_name,
        lower=flt.created_after,
        # The sort key is <created_at>#<id>: "~" sorts after every id, so the bound takes that instant in.
        upper=flt.created_before + "~" if flt.created_before else None,
        filters=" AND ".join(filters) or None,
        names=names or None,
        values=values,
    )


def list_orders(
    flt: OrderFilter, *, limit: int, cursor: str | None, table: Table | None = None
) -> tuple[list[Item], str | None]:
    """Newest first. Status is a filter on the chosen index; dates bound its sort key."""
    table = table or Table()
    for attr, idx, pkn, skn, build in _INDEX_BY_FILTER:
        value = getattr(flt, attr)
        if value:
            return _list_one_partition(_query_for(flt, idx, pkn, skn), build(value), limit, cursor, table)
    return _list_all_orders(_query_for(flt, "gsi3", "gsi3pk", "gsi3sk"), limit, cursor, table)


def _list_one_partition(
    query: _Query, pk_value: str, limit: int, cursor: str | None, table: Table
) -> tuple[list[Item], str | None]:
    start = decode_cursor(cursor)
    found: list[Item] = []
    for _ in range(_MAX_ROUNDS):
        items, start = query.run(table, pk_value, limit=limit - len(found), start_key=start)
        found.extend(items)
        if not start or len(found) >= limit:
            break
    return found, encode_cursor(start)


@dataclass
class _Shard:
    """One partition of the all-orders index in a merged read: what was read and not yet
    returned (newest first), and where its reading stands."""

    pk: str
    buffered: list[Item] = field(default_factory=list)
    start_key: dict[str, Any] | None = None
    # Sort key of the last item the partition's queries evaluated: every item under it is unread.
    read_down_to: str | None = None
    exhausted: bool = False
    reads: int = 0


def _list_all_orders(query: _Query, limit: int, cursor: str | None, table: Table) -> tuple[list[Item], str | None]:
    """A k-way merge of the index's partitions, newest first.

    The cursor is the sort key every returned item is above (the last one returned, or,
    when a page ends before finding any, where reading stopped): the next page reads each
    partition under it. Sort keys are ``<created_at>#<order_id>``, unique, so nothing is
    returned twice and nothing is skipped.
    """
    below = _decode_below(cursor)
    shards = [_Shard(pk) for pk in keys.order_index_pks()]
    # Orders spread evenly: each partition holds about limit / n of a page. A first query
    # asks a little more than that; a partition asked again gets twice as many each time.
    first = min(limit, math.ceil(2 * limit / len(shards)) + 2)
    found: list[Item] = []
    rounds = 0
    while len(found) < limit:
        heads = [s for s in shards if s.buffered]
        best = max(heads, key=lambda s: s.buffered[0][query.sk_name]) if heads else None
        best_key = best.buffered[0][query.sk_name] if best else None
        # A partition with nothing buffered may still hold something newer than the best
        # head, under the point its reading reached: it is read before anything is returned.
        waiting = [
            s
            for s in shards
            if not s.buffered
            and not s.exhausted
            and (best_key is None or s.read_down_to is None or s.read_down_to > best_key)
        ]
        if waiting:
            if rounds == _MAX_ROUNDS:
                break
            rounds += 1
            # Every partition with nothing in hand is read in the same round: one a filter
            # leaves empty would otherwise hold up the merge again a little further down.
            empty = [s for s in shards if not s.buffered and not s.exhausted]
            _read_round(query, table, empty, below=below, first=first, most=max(limit, 100))
            continue
        if best is None:
            break
        found.append(best.buffered.pop(0))
    more = any(s.buffered or not s.exhausted for s in shards)
    if not more:
        return found, None
    if found:
        return found, _encode_below(found[-1][query.sk_name])
    # No item in this page's rounds: go on from the newest point any partition's reading reached.
    reached = [s.read_down_to for s in shards if not s.exhausted and s.read_down_to is not None]
    return found, _encode_below(max(reached)) if reached else cursor


def _read_round(query: _Query, table: Table, shards: list[_Shard], *, below: str | None, first: int, most: int) -> None:
    def read(shard: _Shard) -> tuple[list[Item], dict[str, Any] | None]:
        size = min(most, first * 2**shard.reads)
        return query.run(table, shard.pk, limit=size, start_key=shard.start_key, below=below)

    concurrent = len(shards) > 1 and _SHARD_READERS > 1
    results = list(_shard_pool().map(read, shards)) if concurrent else [read(s) for s in shards]
    for shard, (items, last) in zip(shards, results, strict=True):
        shard.reads += 1
        shard.buffered.extend(items)
        shard.start_key = last
        shard.exhausted = last is None
        if last is not None:
            shard.read_down_to = str(last[query.sk_name])


def _encode_below(sort_key: str) -> str | None:
    return encode_cursor({"below": sort_key})


def _decode_below(cursor: str | None) -> str | None:
    """The sort key a page continues under. A cursor issued before the index was sharded is
    the index's last evaluated key: its ``gsi3sk`` is that point."""
    if not cursor:
        return None
    try:
        key = decode_cursor(cursor, required_keys=("below",))
    except MalformedInput:
        key = decode_cursor(cursor, required_keys=("gsi3sk",))
        return key["gsi3sk"] if key else None
    return key["below"] if key else None


def migrate_legacy_order_index(table: Table | None = None) -> dict[str, int]:
    """Move every header still in the legacy all-orders partition to its shard.

    Each move is conditional on the header still being in the legacy partition, so runs
    that race each other move each header once; running it again moves nothing new. One
    pass over the partition: a header an older deployment writes there during the pass is
    moved by the next run (readers read the partition meanwhile).
    """
    table = table or Table()
    moved = already_moved = 0
    legacy = keys.LEGACY_ORDER_INDEX_PK
    for header in table.query_all("gsi3pk = :pk", {":pk": legacy}, index="gsi3"):
        shard = keys.order_index_pk(str(header["order_id"]))
        try:
            table.update(
                header["pk"],
                header["sk"],
                "SET gsi3pk = :shard",
                values={":shard": shard, ":legacy": legacy},
                condition="gsi3pk = :legacy",
            )
            moved += 1
        except ConditionFailed:
            already_moved += 1
    return {"moved": moved, "already_moved": already_moved}
