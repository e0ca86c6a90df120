"""Reading an index partition written in shards: the shards are queried together and merged
by the sort key, so a caller sees the pages one partition sorted by that key would give.

Used by every sharded list (all orders, orders of a channel, a location's work). The sort
key of each such index is unique (it ends in the item's id), which makes the cursor simple:
the last sort key returned; the next page reads every shard past it.

The indexes project keys only: the merge runs on the entries, and only the entries a page
takes are read as items (``Table.hydrate``, in batches, in reading order). A condition on
anything but the keys (an order's status) is checked on those items, never on the index,
so an item whose status has moved on since its entry was read is not listed under the old one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.errors import MalformedInput
from shared.table import Item, Table, decode_cursor, encode_cursor

# Reads per page: a filter can leave a page short, so reading goes on until it is full or
# the index ends, for at most this many rounds (one query per partition that needs more).
MAX_ROUNDS = 20
# A sharded partition's shards are queried together: a page costs about one round trip
# instead of one per shard. 1 reads them one after another.
SHARD_READERS = 17
# Fewest entries read as items at once when a check on the items can leave some out.
MIN_BATCH = 25
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shard_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=SHARD_READERS, thread_name_prefix="index-shard")
        return _pool


@dataclass(frozen=True)
class IndexQuery:
    """One index query's expressions, less its partition key. ``lower`` and ``upper`` bound
    the sort key (both inclusive); ``forward`` reads it ascending (else descending).
    ``filters`` is a filter expression on the index's keys; ``where`` keeps the items (read
    by key) it accepts."""

    index: str
    pk_name: str
    sk_name: str
    lower: str | None = None
    upper: str | None = None
    filters: str | None = None
    names: dict[str, str] | None = None
    values: dict[str, Any] = field(default_factory=dict)
    forward: bool = False
    where: Callable[[Item], bool] | None = None

    def ahead(self, a: str, b: str) -> bool:
        """True when sort key ``a`` comes before ``b`` in reading order."""
        return a < b if self.forward else a > b

    def run(
        self,
        table: Table,
        pk_value: str,
        *,
        limit: int,
        start_key: dict[str, Any] | None = None,
        past: str | None = None,
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """The index entries in reading order from ``pk_value``: sort keys within the bounds,
        and past ``past`` (exclusive: below it descending, above it ascending) when given."""
        lower, upper = self.lower, self.upper
        lower_inclusive = upper_inclusive = True
        if past is not None and not self.forward and (upper is None or past <= upper):
            upper, upper_inclusive = past, False
        if past is not None and self.forward and (lower is None or past >= lower):
            lower, lower_inclusive = past, False
        if lower is not None and upper is not None and lower > upper:
            return [], None
        condition = f"{self.pk_name} = :pk"
        values = {**self.values, ":pk": pk_value}
        if lower is not None and upper is not None:
            # BETWEEN is inclusive at both ends: an exclusive bound is dropped below.
            condition += f" AND {self.sk_name} BETWEEN :after AND :before"
            values.update({":after": lower, ":before": upper})
        elif lower is not None:
            condition += f" AND {self.sk_name} {'>=' if lower_inclusive else '>'} :after"
            values[":after"] = lower
        elif upper is not None:
            condition += f" AND {self.sk_name} {'<=' if upper_inclusive else '<'} :before"
            values[":before"] = upper
        items, last = table.query(
            condition,
            values,
            index=self.index,
            names=self.names,
            filter_expression=self.filters,
            limit=limit,
            start_key=start_key,
            forward=self.forward,
            keys_only=True,
        )
        if not upper_inclusive:
            items = [i for i in items if i[self.sk_name] != upper]
        if not lower_inclusive:
            items = [i for i in items if i[self.sk_name] != lower]
        return items, last

    def items(self, table: Table, entries: list[Item]) -> list[Item]:
        """The items of ``entries`` that are still at their place in the index and pass ``where``, in order."""
        items = table.hydrate(entries, index_keys=(self.pk_name, self.sk_name))
        return [i for i in items if self.where(i)] if self.where else items


def read_one_partition(
    query: IndexQuery, pk_value: str, *, limit: int, cursor: str | None, table: Table
) -> tuple[list[Item], str | None]:
    """A partition that is not sharded; the cursor is the index's last evaluated key."""
    start = decode_cursor(cursor)
    found: list[Item] = []
    for _ in range(MAX_ROUNDS):
        entries, start = query.run(table, pk_value, limit=limit - len(found), start_key=start)
        found.extend(query.items(table, entries))
        if not start or len(found) >= limit:
            break
    return found, encode_cursor(start)


@dataclass
class _Shard:
    """One partition in a merged read: what was read and not yet returned (in reading
    order), and where its reading stands."""

    pk: str
    buffered: list[Item] = field(default_factory=list)
    start_key: dict[str, Any] | None = None
    # Sort key of the last item the partition's queries evaluated: every item past it is unread.
    read_to: str | None = None
    exhausted: bool = False
    reads: int = 0


def read_merged(
    query: IndexQuery, partitions: Sequence[str], *, limit: int, cursor: str | None, table: Table
) -> tuple[list[Item], str | None]:
    """A k-way merge of ``partitions`` (the shards, and any legacy partition) in reading order.

    The merge takes entries; the ones a page needs are read as items in batches (what the
    page still lacks, at least ``MIN_BATCH`` when a check can leave items out) and checked
    (``IndexQuery.items``). The cursor is the sort key of the last entry so checked (the
    last item returned when a batch held more than the page; when a page ends before
    checking any, where reading stopped): the next page reads each partition past it. Sort
    keys are unique, so nothing is returned twice and nothing is skipped.
    """
    past = _decode_past(cursor, query)
    shards = [_Shard(pk) for pk in partitions]
    # Items spread evenly: each partition holds about limit / n of a page. A first query
    # asks a little more than that; a partition asked again gets twice as many each time.
    first = min(limit, math.ceil(2 * limit / len(shards)) + 2)
    found: list[Item] = []
    # Entries the merge took, in reading order, not yet read as items; and the sort key of
    # the last entry seen (returned, or left out by the check): every entry before it has been.
    taken: list[Item] = []
    seen_to: str | None = None
    cut = False
    # A check can leave out most items: entries are then read at least this many at a time,
    # so that the last items of a page do not cost a request each.
    least = min(limit, MIN_BATCH) if query.where else 1

    def read_taken() -> None:
        nonlocal seen_to, cut
        if not taken:
            return
        items = query.items(table, taken)
        room = limit - len(found)
        if len(items) > room:  # more than the page holds: it ends at its last item
            items, cut = items[:room], True
            seen_to = str(items[-1][query.sk_name])
        else:
            seen_to = str(taken[-1][query.sk_name])
        found.extend(items)
        taken.clear()

    rounds = 0
    while True:
        if len(taken) >= max(limit - len(found), least):
            read_taken()
            if len(found) >= limit:
                break
        best: _Shard | None = None
        for s in shards:
            if s.buffered and (
                best is None or query.ahead(s.buffered[0][query.sk_name], best.buffered[0][query.sk_name])
            ):
                best = s
        best_key = best.buffered[0][query.sk_name] if best else None
        # A partition with nothing buffered may still hold something ahead of the best head,
        # past the point its reading reached: it is read before anything is taken.
        waiting = [
            s
            for s in shards
            if not s.buffered
            and not s.exhausted
            and (best_key is None or s.read_to is None or query.ahead(s.read_to, best_key))
        ]
        if waiting:
            if rounds == MAX_ROUNDS:
                break
            rounds += 1
            # Every partition with nothing in hand is read in the same round: one a filter
            # leaves empty would otherwise hold up the merge again a little further down.
            empty = [s for s in shards if not s.buffered and not s.exhausted]
            _read_round(query, table, empty, past=past, first=first, most=max(limit, 100))
            continue
        if best is None:
            break
        taken.append(best.buffered.pop(0))
    read_taken()
    more = cut or any(s.buffered or not s.exhausted for s in shards)
    if not more:
        return found, None
    if seen_to is not None:
        return found, _encode_past(seen_to, query)
    # No entry in this page's rounds: go on from the point the least read partition reached
    # (everything before it in reading order has been read in every partition).
    reached = [s.read_to for s in shards if not s.exhausted and s.read_to is not None]
    if not reached:
        return found, cursor
    least_read = reached[0]
    for point in reached[1:]:
        if query.ahead(point, least_read):
            least_read = point
    return found, _encode_past(least_read, query)


def _read_round(
    query: IndexQuery, table: Table, shards: list[_Shard], *, past: str | None, first: int, most: int
) -> None:
    def read(shard: _Shard) -> tuple[list[Item], dict[str, Any] | None]:
        size = min(most, first * 2**shard.reads)
        return query.run(table, shard.pk, limit=size, start_key=shard.start_key, past=past)

    concurrent = len(shards) > 1 and SHARD_READERS > 1
    results = list(_shard_pool().map(read, shards)) if concurrent else [read(s) for s in shards]
    for shard, (items, last) in zip(shards, results, strict=True):
        shard.reads += 1
        shard.buffered.extend(items)
        shard.start_key = last
        shard.exhausted = last is None
        if last is not None:
            shard.read_to = str(last[query.sk_name])


def _cursor_field(query: IndexQuery) -> str:
    return "above" if query.forward else "below"


def _encode_past(sort_key: str, query: IndexQuery) -> str | None:
    return encode_cursor({_cursor_field(query): sort_key})


def _decode_past(cursor: str | None, query: IndexQuery) -> str | None:
    """The sort key a page continues past. A cursor issued before the partition was sharded
    is the index's last evaluated key: its sort key is that point."""
    if not cursor:
        return None
    try:
        key = decode_cursor(cursor, required_keys=(_cursor_field(query),))
    except MalformedInput:
        key = decode_cursor(cursor, required_keys=(query.sk_name,))
        return key[query.sk_name] if key else None
    return key[_cursor_field(query)] if key else None
