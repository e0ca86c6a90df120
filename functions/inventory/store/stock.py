"""Stock per (sku, location) and the reservation primitives.

One item per pair: pk ``SKU#<sku>``, sk ``LOC#<location_id>``, with ``on_hand``,
``reserved``, ``safety_stock`` and ``available`` = on_hand - reserved - safety_stock.
``available`` is stored because DynamoDB conditions cannot do arithmetic: with it a
reservation is one conditional update (``available >= q``), and several of them go into
one transaction, so no unit is ever promised twice. ``available`` may be negative when
the warehouse reports less stock than is reserved; nothing can be reserved then, and
readers show ``available_to_promise`` = max(0, available) (the arithmetic and checks are
``functions/inventory/rules/stock.py``).

The ``*_op`` functions return transaction operations for ``Table.transact``: the
allocate, cancel and fulfil steps put them into their own transactions together with
their own records.

A hot pair may be split into N buckets (``set_buckets``), so reservations spread over N
items instead of one (one item takes about 1,000 writes a second, 500 in transactions).
Bucket 0 is the item above, which also keeps ``buckets: N``, ``as_of`` and the safety
stock; bucket n >= 1 is pk ``SKU#<sku>#B<n>``, sk ``LOC#<location_id>`` (its own partition
key, so the buckets do not share a partition), with the same four counts for its share.
The pair's figures are the sums over its buckets. Every bucket keeps ``available >= 0``,
except that bucket 0 alone goes below 0 when fewer units are on hand than reserved, and
then the other buckets are empty (``functions/inventory/rules/stock.py``, ``spread``): so
no bucket can promise a unit the pair does not have.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from functions.inventory.rules.stock import (
    Figures,
    available_to_promise,
    check_absolute,
    check_delta,
    check_quantity,
    gather_reserved,
    is_stale,
    normalize_as_of,
    spread,
    unreserved_units,
)
from shared.clock import now_iso
from shared.errors import Conflict, InvalidInput, RetryableError
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table

# Queries run at once by stock_for_skus (boto3 clients are thread-safe).
PARALLEL_QUERIES = 8
# set_stock without a safety stock re-reads and retries this often when it races.
_SET_ATTEMPTS = 5
# At most this many buckets per pair: a bucketed write (a count, a rebalance) is one
# transaction over all of them, with room left for removed buckets (100 items).
MAX_BUCKETS = 40
# Writes over all buckets (counts, rebalances) re-read and retry this often when they race.
_BUCKET_ATTEMPTS = 8
# Exercises bucket choice; a reservation picks its bucket at random so concurrent ones spread.
_choice = random.Random()


class Share(BaseModel):
    """One bucket's counts."""

    bucket: int
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    available: int = 0

    @property
    def figures(self) -> Figures:
        return Figures(self.on_hand, self.reserved, self.safety_stock, self.available)


class StockRecord(BaseModel):
    sku: str
    location_id: str
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    available: int = 0
    as_of: str | None = None
    updated_at: str | None = None
    # set_stock: False when the update was not newer than the stored one (ignored).
    applied: bool = True
    # How many items hold the pair's stock; the counts above are their sums.
    buckets: int = 1
    # Per bucket, bucket 0 first (one entry when the pair is not split).
    shares: list[Share] = []

    @property
    def available_to_promise(self) -> int:
        return available_to_promise(self.available)


class StockConflict(Conflict):
    """A stock change the current figures do not allow (not enough on hand, available, reserved)."""


def stock_pk(sku: str) -> str:
    return f"SKU#{sku}"


def stock_sk(location_id: str) -> str:
    return f"LOC#{location_id}"


def bucket_pk(sku: str, bucket: int) -> str:
    """Partition key of a bucket: bucket 0 is the pair's own item."""
    return stock_pk(sku) if bucket == 0 else f"{stock_pk(sku)}#B{bucket}"


def _key(sku: str, location_id: str, bucket: int = 0) -> dict[str, str]:
    return {"pk": bucket_pk(sku, bucket), "sk": stock_sk(location_id)}


def _bucket_count(item: Item | None) -> int:
    return int(item.get("buckets", 1)) if item else 1


def _share(item: Item, bucket: int) -> Share:
    return Share.model_validate({"bucket": bucket, **{k: v for k, v in item.items() if k in _COUNTS}})


_COUNTS = ("on_hand", "reserved", "safety_stock", "available")
# Per bucketed pair, each bucket's available units as this process last read them: a
# reservation built without a read (``reserve_op``) picks its bucket from them. A stale
# view costs a refused condition (the caller reads again), never a unit promised twice.
_seen: dict[tuple[str, str], tuple[int, ...]] = {}


def _record(item: Item, others: Iterable[Item] = ()) -> StockRecord:
    """The pair's record from bucket 0 and the other buckets' items (summed)."""
    record = StockRecord.model_validate({k: v for k, v in item.items() if k in StockRecord.model_fields})
    count = _bucket_count(item)
    by_bucket = {int(i["bucket"]): i for i in others}
    shares = [_share(item, 0)] + [_share(by_bucket.get(b, {}), b) for b in range(1, count)]
    if count > 1:
        for name in _COUNTS:
            setattr(record, name, sum(getattr(s, name) for s in shares))
        _seen[(record.sku, record.location_id)] = tuple(s.available for s in shares)
    else:
        _seen.pop((record.sku, record.location_id), None)
    record.buckets, record.shares = count, shares
    return record


def unsplit_bucket(item: Item | None) -> int | None:
    """The bucket a release or a shipment of the pair takes, told by the pair's own item as
    just read: 0 unless the pair is split (None: ``release_op`` and ``ship_op`` then read its
    buckets for one holding the units), as they would choose after reading the item themselves."""
    return 0 if _bucket_count(item) == 1 else None


def _bucket_items(sku: str, location_ids: Iterable[tuple[str, int]], consistent: bool, table: Table) -> list[Item]:
    keys = [(bucket_pk(sku, b), stock_sk(loc)) for loc, count in location_ids for b in range(1, count)]
    return table.batch_get(keys, consistent=consistent) if keys else []


def get_stock(sku: str, location_id: str, table: Table | None = None) -> StockRecord | None:
    """The pair's stock, its buckets summed (strongly consistent reads)."""
    table = table or Table()
    item = table.get(stock_pk(sku), stock_sk(location_id))
    if item is None:
        return None
    return _record(item, _bucket_items(sku, [(location_id, _bucket_count(item))], True, table))


def _newer_or_same(current: StockRecord | None, stamp: str) -> bool:
    return current is not None and is_stale(current.as_of, stamp)


def _ignored(current: StockRecord | None) -> StockRecord:
    assert current is not None
    return current.model_copy(update={"applied": False})


# Conditions of the one-item writes: the pair is not split into buckets.
_ONE_BUCKET = "(attribute_not_exists(buckets) OR buckets = :one)"


def set_stock(
    location_id: str,
    sku: str,
    on_hand: int,
    safety_stock: int | None,
    as_of: str | datetime,
    table: Table | None = None,
) -> StockRecord:
    """Absolute stock from a WMS or ERP, in one conditional update (after a read when
    ``safety_stock`` is None).

    An update whose ``as_of`` is not newer than the stored one is ignored: the current
    record comes back with ``applied=False``. ``safety_stock=None`` keeps the stored one
    (0 for a new item). Reservations are untouched; ``available`` is recomputed from them.
    """
    check_absolute(on_hand, safety_stock)
    table = table or Table()
    stamp = normalize_as_of(as_of)
    # One item: one update. A split pair is written over all its buckets (_set_split).
    newer = f"(attribute_not_exists(as_of) OR as_of < :as_of) AND {_ONE_BUCKET}"
    for _attempt in attempts(_SET_ATTEMPTS):
        condition = newer
        safety = safety_stock
        if safety is None:
            # The update must know the safety stock it subtracts: read it, and write
            # only if it is still the same (an optimistic check, retried on a race).
            current = get_stock(sku, location_id, table)
            if _newer_or_same(current, stamp):
                return _ignored(current)
            if current is not None and current.buckets > 1:
                return _set_split(location_id, sku, on_hand, safety_stock, stamp, table)
            safety = current.safety_stock if current else 0
            condition = f"safety_stock = :ss AND {newer}" if current else "attribute_not_exists(pk)"
        at = now_iso()
        try:
            item = table.update(
                stock_pk(sku),
                stock_sk(location_id),
                "SET on_hand = :oh, safety_stock = :ss, available = :free - if_not_exists(reserved, :zero), "
                "reserved = if_not_exists(reserved, :zero), as_of = :as_of, updated_at = :at, "
                "#type = :type, sku = :sku, location_id = :loc",
                values={
                    ":oh": on_hand,
                    ":ss": safety,
                    ":free": unreserved_units(on_hand, safety),
                    ":zero": 0,
                    ":as_of": stamp,
                    ":at": at,
                    ":type": "inventory",
                    ":sku": sku,
                    ":loc": location_id,
                    **({":one": 1} if condition != "attribute_not_exists(pk)" else {}),
                },
                names={"#type": "type"},
                condition=condition,
                return_new=True,
            )
        except ConditionFailed:
            current = get_stock(sku, location_id, table)
            if _newer_or_same(current, stamp):
                return _ignored(current)
            if current is not None and current.buckets > 1:
                return _set_split(location_id, sku, on_hand, safety_stock, stamp, table)
            continue  # the safety stock changed (or the item appeared) under us
        assert item is not None
        return _record(item)
    raise RetryableError(f"stock of {sku} at {location_id} kept changing; try again")


def adjust_stock(location_id: str, sku: str, delta: int, reason: str, table: Table | None = None) -> StockRecord:
    """A relative change of on hand (a count, damage, a receipt); ``available`` moves with it.

    On hand never goes below 0: a negative delta larger than on hand is a ``StockConflict``.
    """
    check_delta(delta)
    table = table or Table()
    at = now_iso()
    try:
        item = table.update(
            stock_pk(sku),
            stock_sk(location_id),
            "SET on_hand = if_not_exists(on_hand, :zero) + :d, available = if_not_exists(available, :zero) + :d, "
            "reserved = if_not_exists(reserved, :zero), safety_stock = if_not_exists(safety_stock, :zero), "
            "last_adjustment = :adj, updated_at = :at, #type = :type, sku = :sku, location_id = :loc",
            values={
                ":d": delta,
                ":zero": 0,
                ":adj": {"delta": delta, "reason": reason, "at": at},
                ":at": at,
                ":type": "inventory",
                ":sku": sku,
                ":loc": location_id,
                ":one": 1,
                **({":need": -delta} if delta < 0 else {}),
            },
            names={"#type": "type"},
            condition=f"on_hand >= :need AND {_ONE_BUCKET}" if delta < 0 else _ONE_BUCKET,
            return_new=True,
        )
    except ConditionFailed as err:
        current = get_stock(sku, location_id, table)
        if current is not None and current.buckets > 1:
            return _adjust_split(location_id, sku, delta, reason, at, table)
        on_hand = current.on_hand if current else 0
        raise StockConflict(
            f"{sku} at {location_id} has {on_hand} on hand; cannot remove {-delta}",
            errors=[{"field": "delta", "message": f"on hand is {on_hand}"}],
        ) from err
    assert item is not None
    return _record(item)


def _quantity_op(
    sku: str, location_id: str, quantity: int, expression: str, condition: str, bucket: int
) -> dict[str, Any]:
    return {
        "Update": {
            "Key": _key(sku, location_id, bucket),
            "UpdateExpression": expression + ", updated_at = :at",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":q": quantity, ":at": now_iso()},
        }
    }


def reserve_op(sku: str, location_id: str, quantity: int, *, bucket: int | None = None) -> dict[str, Any]:
    """Reserve ``quantity``: reserved += q, available -= q, if at least q is available.

    On a split pair the bucket is one with q available as this process last read the pair
    (picked at random, so concurrent reservations spread); when none holds q but the pair
    does, units are first moved into one bucket (a conditioned transaction). A pair this
    process has not read is reserved in bucket 0: if it is split and bucket 0 is short,
    the condition refuses and the caller reads the stock again.
    """
    check_quantity(quantity)
    chosen = _bucket_to_reserve(sku, location_id, quantity) if bucket is None else bucket
    return _quantity_op(
        sku,
        location_id,
        quantity,
        "SET reserved = reserved + :q, available = available - :q",
        "available >= :q",
        chosen,
    )


def release_op(sku: str, location_id: str, quantity: int, *, bucket: int | None = None) -> dict[str, Any]:
    """Give back a reservation: reserved -= q, available += q, if at least q is reserved.

    Without ``bucket`` the pair is read (one consistent read, two when it is split) to find
    a bucket holding q reserved; reservations are gathered into one first if none does.
    """
    check_quantity(quantity)
    chosen = _bucket_holding(sku, location_id, quantity, shipping=False) if bucket is None else bucket
    return _quantity_op(
        sku,
        location_id,
        quantity,
        "SET reserved = reserved - :q, available = available + :q",
        "reserved >= :q",
        chosen,
    )


def ship_op(sku: str, location_id: str, quantity: int, *, bucket: int | None = None) -> dict[str, Any]:
    """Reserved units leave: on_hand -= q, reserved -= q (available unchanged); the bucket
    as for ``release_op``."""
    check_quantity(quantity)
    chosen = _bucket_holding(sku, location_id, quantity, shipping=True) if bucket is None else bucket
    return _quantity_op(
        sku,
        location_id,
        quantity,
        "SET on_hand = on_hand - :q, reserved = reserved - :q",
        "reserved >= :q AND on_hand >= :q",
        chosen,
    )


def _bucket_to_reserve(sku: str, location_id: str, quantity: int) -> int:
    seen = _seen.get((sku, location_id))
    if not seen:
        return 0
    holding = [b for b, available in enumerate(seen) if available >= quantity]
    free = sum(max(0, available) for available in seen)
    if holding and (len(holding) == len(seen) or free < len(seen) * quantity):
        return _choice.choice(holding)
    if free < quantity:
        return max(range(len(seen)), key=lambda b: seen[b])  # refused: the pair is short
    # A bucket ran dry while the pair has units: spread them again (and make room for q).
    start = _choice.choice(holding) if holding else _choice.randrange(len(seen))
    moved = _make_room(sku, location_id, start, quantity)
    return start if moved or holding else max(range(len(seen)), key=lambda b: seen[b])


def _bucket_holding(sku: str, location_id: str, quantity: int, *, shipping: bool) -> int:
    table = Table()
    current = get_stock(sku, location_id, table)
    if current is None or current.buckets == 1:
        return 0

    def holds(share: Share) -> bool:
        return share.reserved >= quantity and (not shipping or share.on_hand >= quantity)

    for _attempt in attempts(_BUCKET_ATTEMPTS):
        holding = [s for s in current.shares if holds(s)]
        if holding:  # the one holding most, so concurrent releases rarely empty it under each other
            return max(holding, key=lambda s: (s.reserved, -s.bucket)).bucket
        fullest = max(current.shares, key=lambda s: (s.reserved, -s.bucket))
        if current.reserved < quantity or (shipping and current.on_hand < quantity):
            return 0  # refused: the pair does not hold q
        target = gather_reserved([s.figures for s in current.shares], fullest.bucket, quantity)
        with contextlib.suppress(ConditionFailed, RetryableError):
            _write(sku, location_id, current, target, table)
        refreshed = get_stock(sku, location_id, table)
        assert refreshed is not None
        current = refreshed
    return max(current.shares, key=lambda s: s.reserved).bucket


def _run(op: dict[str, Any], table: Table, refused: str) -> StockRecord:
    body = op["Update"]
    try:
        item = table.update(
            body["Key"]["pk"],
            body["Key"]["sk"],
            body["UpdateExpression"],
            values=body["ExpressionAttributeValues"],
            condition=body["ConditionExpression"],
            return_new=True,
        )
    except ConditionFailed as err:
        raise StockConflict(refused) from err
    assert item is not None
    if "bucket" in item or _bucket_count(item) > 1:
        record = get_stock(str(item["sku"]), str(item["location_id"]), table)
        assert record is not None
        return record
    return _record(item)


def _run_split(
    make: Callable[[], dict[str, Any]],
    sku: str,
    location_id: str,
    table: Table | None,
    refused: str,
    enough: Callable[[StockRecord], bool],
) -> StockRecord:
    """Run the op ``make()`` builds; on a split pair a refusal while the pair still has
    ``enough`` means another writer took the bucket first: pick again."""
    table = table or Table()
    for _attempt in attempts(_BUCKET_ATTEMPTS):
        try:
            return _run(make(), table, refused)
        except StockConflict:
            current = get_stock(sku, location_id, table)
            if current is None or current.buckets == 1 or not enough(current):
                raise
    raise RetryableError(f"stock of {sku} at {location_id} kept changing; try again")


def reserve(sku: str, location_id: str, quantity: int, table: Table | None = None) -> StockRecord:
    """``reserve_op`` on its own; ``StockConflict`` if fewer than ``quantity`` are available."""
    return _run_split(
        lambda: reserve_op(sku, location_id, quantity),
        sku,
        location_id,
        table,
        f"fewer than {quantity} {sku} available at {location_id}",
        lambda r: r.available >= quantity,
    )


def release(sku: str, location_id: str, quantity: int, table: Table | None = None) -> StockRecord:
    """``release_op`` on its own; ``StockConflict`` if fewer than ``quantity`` are reserved."""
    return _run_split(
        lambda: release_op(sku, location_id, quantity),
        sku,
        location_id,
        table,
        f"fewer than {quantity} {sku} reserved at {location_id}",
        lambda r: r.reserved >= quantity,
    )


def ship(sku: str, location_id: str, quantity: int, table: Table | None = None) -> StockRecord:
    """``ship_op`` on its own; ``StockConflict`` if fewer than ``quantity`` are reserved or on hand."""
    return _run_split(
        lambda: ship_op(sku, location_id, quantity),
        sku,
        location_id,
        table,
        f"cannot ship {quantity} {sku} from {location_id}",
        lambda r: r.reserved >= quantity and r.on_hand >= quantity,
    )


# --- split pairs: writes over all buckets ---------------------------------------------


def _write(
    sku: str,
    location_id: str,
    current: StockRecord,
    target: list[Figures],
    table: Table,
    *,
    root_set: dict[str, Any] | None = None,
    root_condition: str | None = None,
) -> None:
    """One transaction taking the buckets from ``current`` to ``target`` (its length is the
    new bucket count): relative updates, so reservations racing it stay counted.

    Each bucket is pinned on its ``on_hand`` as read (only counts, shipments, receipts and
    these writes move it); one that gives units up keeps ``available >= 0`` (its condition,
    or the figure read when a count takes bucket 0 below 0),
    one whose reservations move is pinned on them; bucket 0 on the bucket count. Buckets
    past the new count are deleted (pinned on their counts, which bucket 0 takes over).
    """
    at = now_iso()
    old = current.shares
    ops: list[dict[str, Any]] = []
    for b in range(max(len(old), len(target))):
        key = _key(sku, location_id, b)
        if b >= len(target):
            ops.append(
                {
                    "Delete": {
                        "Key": key,
                        "ConditionExpression": "on_hand = :oh AND reserved = :r",
                        "ExpressionAttributeValues": {":oh": old[b].on_hand, ":r": old[b].reserved},
                    }
                }
            )
            continue
        figures = target[b]
        if b >= len(old):
            item = {**key, "type": "inventory", "sku": sku, "location_id": location_id, "bucket": b}
            item.update(figures._asdict(), updated_at=at)
            ops.append({"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}})
            continue
        was = old[b]
        moved_reserved = figures.reserved - was.reserved
        moved_available = figures.available - was.available
        values: dict[str, Any] = {
            ":oh": was.on_hand,
            ":doh": figures.on_hand - was.on_hand,
            ":dr": moved_reserved,
            ":dss": figures.safety_stock - was.safety_stock,
            ":da": moved_available,
            ":at": at,
        }
        expression = (
            "SET on_hand = on_hand + :doh, reserved = reserved + :dr, safety_stock = safety_stock + :dss, "
            "available = available + :da, updated_at = :at"
        )
        conditions = ["on_hand = :oh"]
        if moved_reserved:
            conditions.append("reserved = :r")
            values[":r"] = was.reserved
        elif moved_available < 0:
            # What it gives up must still be there at commit (it ends at or above 0), and
            # a bucket 0 taken below 0 by a count is pinned at the figure read.
            conditions.append("available >= :take")
            values[":take"] = min(0, figures.available) - moved_available
        if b == 0:
            conditions.append("(attribute_not_exists(buckets) OR buckets = :n)" if len(old) == 1 else "buckets = :n")
            values[":n"] = len(old)
            expression += ", buckets = :count"
            values[":count"] = len(target)
            for name, value in (root_set or {}).items():
                expression += f", {name} = :{name}"
                values[f":{name}"] = value
            if root_condition:
                conditions.append(root_condition)
        ops.append(
            {
                "Update": {
                    "Key": key,
                    "UpdateExpression": expression,
                    "ConditionExpression": " AND ".join(conditions),
                    "ExpressionAttributeValues": values,
                }
            }
        )
    table.transact(ops)


def _rewrite(
    sku: str,
    location_id: str,
    table: Table,
    plan: Callable[[StockRecord], list[Figures] | None],
    **write: Any,
) -> StockRecord:
    """Read the pair, ``plan(current)`` its target (None: nothing to write, return current),
    write it; read again and retry when a racing writer moved a pinned count."""
    for _attempt in attempts(_BUCKET_ATTEMPTS):
        current = get_stock(sku, location_id, table)
        assert current is not None
        target = plan(current)
        if target is None:
            return current
        try:
            _write(sku, location_id, current, target, table, **write)
        except (ConditionFailed, RetryableError):
            continue
        done = get_stock(sku, location_id, table)
        assert done is not None
        return done
    raise RetryableError(f"stock of {sku} at {location_id} kept changing; try again")


def _set_split(
    location_id: str, sku: str, on_hand: int, safety_stock: int | None, stamp: str, table: Table
) -> StockRecord:
    """``set_stock`` on a split pair: the new on hand shared over the buckets (``spread``)."""
    ignored: list[StockRecord] = []

    def plan(current: StockRecord) -> list[Figures] | None:
        if _newer_or_same(current, stamp):
            ignored.append(current)
            return None
        safety = current.safety_stock if safety_stock is None else safety_stock
        return spread([s.reserved for s in current.shares], on_hand, safety)

    record = _rewrite(
        sku,
        location_id,
        table,
        plan,
        root_set={"as_of": stamp},
        root_condition="(attribute_not_exists(as_of) OR as_of < :as_of)",
    )
    return _ignored(record) if ignored else record


def _adjust_split(location_id: str, sku: str, delta: int, reason: str, at: str, table: Table) -> StockRecord:
    """``adjust_stock`` on a split pair: on hand moves by ``delta``, shared over the buckets."""

    def plan(current: StockRecord) -> list[Figures]:
        if current.on_hand + delta < 0:
            raise StockConflict(
                f"{sku} at {location_id} has {current.on_hand} on hand; cannot remove {-delta}",
                errors=[{"field": "delta", "message": f"on hand is {current.on_hand}"}],
            )
        return spread([s.reserved for s in current.shares], current.on_hand + delta, current.safety_stock)

    adjustment = {"delta": delta, "reason": reason, "at": at}
    return _rewrite(sku, location_id, table, plan, root_set={"last_adjustment": adjustment})


def set_buckets(sku: str, location_id: str, buckets: int, table: Table | None = None) -> StockRecord:
    """Split the pair's stock into ``buckets`` items (1 joins them again), its free units
    shared evenly; reservations of removed buckets move to bucket 0."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise InvalidInput(
            f"buckets is 1 to {MAX_BUCKETS}", errors=[{"field": "buckets", "message": f"1 to {MAX_BUCKETS}"}]
        )
    table = table or Table()
    if table.get(stock_pk(sku), stock_sk(location_id)) is None:
        with contextlib.suppress(ConditionFailed):  # a pair never stocked starts empty
            table.put(
                {
                    **_key(sku, location_id),
                    "type": "inventory",
                    "sku": sku,
                    "location_id": location_id,
                    **dict.fromkeys(_COUNTS, 0),
                    "updated_at": now_iso(),
                },
                condition="attribute_not_exists(pk)",
            )

    def plan(current: StockRecord) -> list[Figures] | None:
        if current.buckets == buckets:
            return None
        reserved = [s.reserved for s in current.shares[:buckets]] + [0] * (buckets - current.buckets)
        reserved[0] += sum(s.reserved for s in current.shares[buckets:])
        return spread(reserved, current.on_hand, current.safety_stock)

    return _rewrite(sku, location_id, table, plan)


def rebalance(sku: str, location_id: str, table: Table | None = None) -> StockRecord:
    """Share a split pair's free units evenly over its buckets again (one conditioned
    transaction: a bucket giving units keeps ``available >= 0``)."""

    def plan(current: StockRecord) -> list[Figures] | None:
        if current.buckets == 1:
            return None
        target = spread([s.reserved for s in current.shares], current.on_hand, current.safety_stock)
        return None if target == [s.figures for s in current.shares] else target

    return _rewrite(sku, location_id, table or Table(), plan)


def _make_room(sku: str, location_id: str, bucket: int, quantity: int) -> bool:
    """Best effort, for a reservation: spread the pair's free units again with ``quantity``
    of them in ``bucket`` first. False if the pair changed meanwhile (the reservation's own
    condition still decides)."""
    table = Table()
    current = get_stock(sku, location_id, table)
    if current is None or current.buckets <= bucket or current.available < quantity:
        return False
    target = spread(
        [s.reserved for s in current.shares], current.on_hand, current.safety_stock, first=(bucket, quantity)
    )
    try:
        _write(sku, location_id, current, target, table)
    except (ConditionFailed, RetryableError):
        return False
    get_stock(sku, location_id, table)  # what this process now knows of the buckets
    return True


def _stock_of(sku: str, location_ids: set[str] | None, consistent: bool, table: Table) -> dict[str, StockRecord]:
    items = table.query_all(
        "pk = :pk AND begins_with(sk, :loc)", {":pk": stock_pk(sku), ":loc": "LOC#"}, consistent=consistent
    )
    roots = [i for i in items if location_ids is None or i.get("location_id") in location_ids]
    split = [(str(i["location_id"]), _bucket_count(i)) for i in roots if _bucket_count(i) > 1]
    others: dict[str, list[Item]] = {}
    for item in _bucket_items(sku, split, consistent, table):
        others.setdefault(str(item["location_id"]), []).append(item)
    records = (_record(i, others.get(str(i.get("location_id")), [])) for i in roots)
    return {r.location_id: r for r in records}


def stock_for_skus(
    skus: Iterable[str],
    location_ids: set[str] | None = None,
    *,
    consistent: bool = False,
    table: Table | None = None,
) -> dict[str, dict[str, StockRecord]]:
    """Stock per SKU per location: one Query per SKU, up to ``PARALLEL_QUERIES`` at once.

    Every SKU asked for is in the result, with an empty dict where it has no stock;
    ``location_ids`` keeps only those locations.
    """
    table = table or Table()
    unique = list(dict.fromkeys(skus))
    if len(unique) <= 1:
        return {sku: _stock_of(sku, location_ids, consistent, table) for sku in unique}
    found = _query_pool().map(lambda sku: _stock_of(sku, location_ids, consistent, table), unique)
    return dict(zip(unique, found, strict=True))


_pool: list[ThreadPoolExecutor] = []


def _query_pool() -> ThreadPoolExecutor:
    """One pool per process, made on first use: no threads are started per call."""
    if not _pool:
        _pool.append(ThreadPoolExecutor(max_workers=PARALLEL_QUERIES, thread_name_prefix="stock-query"))
    return _pool[0]
