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
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from functions.inventory.rules.stock import (
    available_to_promise,
    check_absolute,
    check_delta,
    check_quantity,
    is_stale,
    normalize_as_of,
    unreserved_units,
)
from shared.clock import now_iso
from shared.errors import Conflict, RetryableError
from shared.retry import attempts
from shared.table import ConditionFailed, Item, Table

# Queries run at once by stock_for_skus (boto3 clients are thread-safe).
PARALLEL_QUERIES = 8
# set_stock without a safety stock re-reads and retries this often when it races.
_SET_ATTEMPTS = 5


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

    @property
    def available_to_promise(self) -> int:
        return available_to_promise(self.available)


class StockConflict(Conflict):
    """A stock change the current figures do not allow (not enough on hand, available, reserved)."""


def stock_pk(sku: str) -> str:
    return f"SKU#{sku}"


def stock_sk(location_id: str) -> str:
    return f"LOC#{location_id}"


def _key(sku: str, location_id: str) -> dict[str, str]:
    return {"pk": stock_pk(sku), "sk": stock_sk(location_id)}


def _record(item: Item) -> StockRecord:
    return StockRecord.model_validate({k: v for k, v in item.items() if k in StockRecord.model_fields})


def get_stock(sku: str, location_id: str, table: Table | None = None) -> StockRecord | None:
    item = (table or Table()).get(stock_pk(sku), stock_sk(location_id))
    return _record(item) if item else None


def _newer_or_same(current: StockRecord | None, stamp: str) -> bool:
    return current is not None and is_stale(current.as_of, stamp)


def _ignored(current: StockRecord | None) -> StockRecord:
    assert current is not None
    return current.model_copy(update={"applied": False})


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
    newer = "(attribute_not_exists(as_of) OR as_of < :as_of)"
    for _attempt in attempts(_SET_ATTEMPTS):
        condition = newer
        safety = safety_stock
        if safety is None:
            # The update must know the safety stock it subtracts: read it, and write
            # only if it is still the same (an optimistic check, retried on a race).
            current = get_stock(sku, location_id, table)
            if _newer_or_same(current, stamp):
                return _ignored(current)
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
                },
                names={"#type": "type"},
                condition=condition,
                return_new=True,
            )
        except ConditionFailed:
            current = get_stock(sku, location_id, table)
            if _newer_or_same(current, stamp):
                return _ignored(current)
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
                **({":need": -delta} if delta < 0 else {}),
            },
            names={"#type": "type"},
            condition="on_hand >= :need" if delta < 0 else None,
            return_new=True,
        )
    except ConditionFailed as err:
        current = get_stock(sku, location_id, table)
        on_hand = current.on_hand if current else 0
        raise StockConflict(
            f"{sku} at {location_id} has {on_hand} on hand; cannot remove {-delta}",
            errors=[{"field": "delta", "message": f"on hand is {on_hand}"}],
        ) from err
    assert item is not None
    return _record(item)


def _quantity_op(sku: str, location_id: str, quantity: int, expression: str, condition: str) -> dict[str, Any]:
    check_quantity(quantity)
    return {
        "Update": {
            "Key": _key(sku, location_id),
            "UpdateExpression": expression + ", updated_at = :at",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":q": quantity, ":at": now_iso()},
        }
    }


def reserve_op(sku: str, location_id: str, quantity: int) -> dict[str, Any]:
    """Reserve ``quantity``: reserved += q, available -= q, if at least q is available."""
    return _quantity_op(
        sku, location_id, quantity, "SET reserved = reserved + :q, available = available - :q", "available >= :q"
    )


def release_op(sku: str, location_id: str, quantity: int) -> dict[str, Any]:
    """Give back a reservation: reserved -= q, available += q, if at least q is reserved."""
    return _quantity_op(
        sku, location_id, quantity, "SET reserved = reserved - :q, available = available + :q", "reserved >= :q"
    )


def ship_op(sku: str, location_id: str, quantity: int) -> dict[str, Any]:
    """Reserved units leave: on_hand -= q, reserved -= q (available unchanged)."""
    return _quantity_op(
        sku,
        location_id,
        quantity,
        "SET on_hand = on_hand - :q, reserved = reserved - :q",
        "reserved >= :q AND on_hand >= :q",
    )


def _run(op: dict[str, Any], table: Table | None, refused: str) -> StockRecord:
    body = op["Update"]
    try:
        item = (table or Table()).update(
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
    return _record(item)


def reserve(sku: str, location_id: str, quantity: int, table: Table | None = None) -> StockRecord:
    """``reserve_op`` on its own; ``StockConflict`` if fewer than ``quantity`` are available."""
    return _run(
        reserve_op(sku, location_id, quantity), table, f"fewer than {quantity} {sku} available at {location_id}"
    )


def release(sku: str, location_id: str, quantity: int, table: Table | None = None) -> StockRecord:
    """``release_op`` on its own; ``StockConflict`` if fewer than ``quantity`` are reserved."""
    return _run(release_op(sku, location_id, quantity), table, f"fewer than {quantity} {sku} reserved at {location_id}")


def ship(sku: str, location_id: str, quantity: int, table: Table | None = None) -> StockRecord:
    """``ship_op`` on its own; ``StockConflict`` if fewer than ``quantity`` are reserved or on hand."""
    return _run(ship_op(sku, location_id, quantity), table, f"cannot ship {quantity} {sku} from {location_id}")


def _stock_of(sku: str, location_ids: set[str] | None, consistent: bool, table: Table) -> dict[str, StockRecord]:
    items = table.query_all(
        "pk = :pk AND begins_with(sk, :loc)", {":pk": stock_pk(sku), ":loc": "LOC#"}, consistent=consistent
    )
    records = (_record(i) for i in items)
    return {r.location_id: r for r in records if location_ids is None or r.location_id in location_ids}


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
