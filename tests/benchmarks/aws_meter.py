"""Counting the AWS requests and DynamoDB read and write units the handlers spend.

Handlers run in the local stack's worker processes; the emulator sees each of their
requests (``infra.local.requests_meter``) and hands it here with its answer, named by
the function that made it. Item sizes follow DynamoDB's documented rules (``item_size``:
attribute names plus typed values, nested lists and maps with their own overhead, never
the JSON text). Write units follow DynamoDB's rules (1 per started KB written,
2 per transactional item); an update's size is the stored item's after the write (a
delete counts 1 unit), read from the emulator, since moto reports no real consumed capacity.

Index write units follow DynamoDB's rule for global secondary indexes, for the projection
each index has in the emulated table: an index is written only when the item's index key
or an attribute the index projects changes (a key change is a delete and a put, a key
removed a delete, a new item with the key a put; 1 unit per started KB of the index
entry, its projected attributes plus 100 bytes of overhead, never doubled in a
transaction). That needs each item before and after the write:
moto hands both to the table's stream (``StreamShard.add``, every put, update and delete,
transactions and batches included), so the meter wraps that call while attached and keeps
what each write cost the indexes until the request that made it is answered (same thread).
"""

from __future__ import annotations

import base64
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import StreamShard

from infra.local import requests_meter

# DynamoDB's item size rules ("Item sizes and formats" in the developer guide): an item is
# the sum over its attributes of the name's UTF-8 bytes and the value's size. Sizes come
# from the typed values ({"S": ...}), never from their JSON text, which costs a nested value
# its type wrapper and quotes (``{"N":"0"}`` is 9 characters, 2 bytes stored).
_LIST_OR_MAP = 3  # a List or Map's own overhead, whatever it holds
_ELEMENT = 1  # each element of a List or Map
# Every index entry's overhead (the developer guide's global secondary index storage rule).
INDEX_ENTRY_OVERHEAD = 100


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed) plus 1; a zero
    is counted as one digit, so it takes 2 bytes."""
    digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    significant = max(1, len(digits))
    return math.ceil(significant / 2) + 1


def _binary_size(value: str | bytes) -> int:
    """Raw bytes: the wire (and moto) carry them base64-encoded."""
    return len(value) if isinstance(value, bytes | bytearray) else len(base64.b64decode(value))


def value_size(typed: Mapping[str, Any]) -> int:
    """The stored size of one typed attribute value (``{"S": "x"}``, ``{"M": {...}}``, ...)."""
    ((kind, value),) = typed.items()
    if kind == "S":
        return _utf8(value)
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return _binary_size(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(v) for v in value)
    if kind == "NS":
        return sum(_number_size(v) for v in value)
    if kind == "BS":
        return sum(_binary_size(v) for v in value)
    if kind == "L":
        return _LIST_OR_MAP + sum(_ELEMENT + value_size(v) for v in value)
    if kind == "M":
        return _LIST_OR_MAP + sum(_ELEMENT + _utf8(k) + value_size(v) for k, v in value.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind!r}")


def item_size(attrs: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus their values' sizes."""
    return sum(_utf8(name) + value_size(typed) for name, typed in attrs.items())


def index_entry_size(entry: Mapping[str, Any]) -> int:
    """An index entry's size: its projected attributes plus the per-entry overhead."""
    return item_size(entry) + INDEX_ENTRY_OVERHEAD


_INDEX_KEY = re.compile(r"^gsi\d+pk$")


def _units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


@dataclass(frozen=True)
class IndexShape:
    """A global secondary index as the meter needs it: its key and what it projects."""

    name: str
    pk: str
    sk: str | None
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    attributes: frozenset[str] = frozenset()  # INCLUDE's non-key attributes

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> IndexShape:
        """From a GlobalSecondaryIndexes entry of a table description (or moto's index)."""
        keys = {k["KeyType"]: k["AttributeName"] for k in description["KeySchema"]}
        projection = description.get("Projection") or {}
        return cls(
            name=description["IndexName"],
            pk=keys["HASH"],
            sk=keys.get("RANGE"),
            projection=projection.get("ProjectionType", "ALL"),
            attributes=frozenset(projection.get("NonKeyAttributes", ())),
        )


@dataclass(frozen=True)
class IndexWrite:
    """One write of an index entry: the index, the index partition it lands in, its units."""

    index: str
    partition: str
    units: int


def _entry(item: Mapping[str, Any] | None, index: IndexShape, table_keys: Sequence[str]) -> dict[str, Any] | None:
    """The item's entry in the index (None: the item is not in it, a key attribute is missing)."""
    if item is None or index.pk not in item or (index.sk is not None and index.sk not in item):
        return None
    if index.projection == "ALL":
        return dict(item)
    names = [*table_keys, index.pk, *([index.sk] if index.sk else [])]
    if index.projection == "INCLUDE":
        names += sorted(index.attributes)
    return {name: item[name] for name in names if name in item}


def _plain(typed: Any) -> str:
    return str(next(iter(typed.values()))) if isinstance(typed, dict) and len(typed) == 1 else str(typed)


def index_writes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    indexes: Sequence[IndexShape],
    table_keys: Sequence[str] = ("pk", "sk"),
) -> list[IndexWrite]:
    """What one item write (its stored image ``before`` and ``after``, typed attributes as
    DynamoDB's JSON has them; None: no item) costs each index, by DynamoDB's rule."""
    out: list[IndexWrite] = []
    for index in indexes:
        old, new = _entry(before, index, table_keys), _entry(after, index, table_keys)
        if old is None and new is None:
            continue
        if old is None:
            assert new is not None
            out.append(IndexWrite(index.name, _plain(new[index.pk]), _units(index_entry_size(new))))
        elif new is None:
            out.append(IndexWrite(index.name, _plain(old[index.pk]), _units(index_entry_size(old))))
        elif old[index.pk] != new[index.pk] or (index.sk is not None and old[index.sk] != new[index.sk]):
            out.append(IndexWrite(index.name, _plain(old[index.pk]), _units(index_entry_size(old))))
            out.append(IndexWrite(index.name, _plain(new[index.pk]), _units(index_entry_size(new))))
        elif old != new:  # a projected attribute changed: the entry is rewritten in place
            size = max(index_entry_size(old), index_entry_size(new))
            out.append(IndexWrite(index.name, _plain(new[index.pk]), _units(size)))
    return out


def _read_units(size: int) -> int:
    return max(1, math.ceil(size / 4096))


# Meters attached, which the stream hook tells of every item write.
_attached: list[AwsMeter] = []
_hook_lock = threading.Lock()
# What StreamShard.add was when the hook went in: moto's, or the local stack's own (it
# delivers stream records asynchronously), which the hook calls first.
_unhooked_add: Callable[..., None] = StreamShard.add


def _hooked_add(shard: StreamShard, old: Any, new: Any) -> None:
    _unhooked_add(shard, old, new)
    for meter in list(_attached):
        meter._item_written(shard.table, old, new)


def _hook(meter: AwsMeter) -> None:
    """Attach after the local stack has started (it patches the same call)."""
    global _unhooked_add
    with _hook_lock:
        if StreamShard.add is not _hooked_add:
            _unhooked_add = StreamShard.add
            StreamShard.add = _hooked_add  # type: ignore[method-assign,assignment]
        _attached.append(meter)


def _unhook(meter: AwsMeter) -> None:
    with _hook_lock:
        if meter in _attached:
            _attached.remove(meter)
        if not _attached and StreamShard.add is _hooked_add:
            StreamShard.add = _unhooked_add  # type: ignore[method-assign]


class AwsMeter:
    def __init__(self, account: str = "123456789012", region: str = "us-east-1"):
        self.calls: Counter[str] = Counter()
        # The same calls by the handler that made them ("domain.module service.Operation").
        self.by_handler: Counter[str] = Counter()
        # Entries of batch calls (events published, messages sent), which are billed each.
        self.entries: Counter[str] = Counter()
        self.write_units = 0.0
        # Of write_units: what the indexes spent.
        self.index_write_units = 0.0
        self.read_units = 0.0
        # Write units by the function that spent them.
        self.write_units_by_handler: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._backend = dynamodb_backends[account][region]
        # Index writes of the items written by the request this thread serves, until it is answered.
        self._pending = threading.local()

    @staticmethod
    def _table_shape(table: Any) -> tuple[list[IndexShape], list[str]]:
        """The emulated table's indexes as they were created (their projection included), and its key."""
        indexes = [
            IndexShape.from_description({"IndexName": ix.name, "KeySchema": ix.schema, "Projection": ix.projection})
            for ix in table.global_indexes
        ]
        return indexes, list(table.table_key_attrs)

    def _item_written(self, table: Any, old: Any, new: Any) -> None:
        """An item write the emulator applied (from the stream hook, in the request's thread)."""
        indexes, table_keys = self._table_shape(table)
        if not indexes:
            return
        names = [ix.pk for ix in indexes]
        if not any(n in item.attrs for item in (old, new) if item is not None for n in names):
            return  # in no index before or after: nothing to compare
        before = old.to_json()["Attributes"] if old is not None else None
        after = new.to_json()["Attributes"] if new is not None else None
        writes = index_writes(before, after, indexes, table_keys)
        pending = getattr(self._pending, "writes", None)
        if pending is None:
            pending = self._pending.writes = []
        pending.extend(writes)

    def _take_index_writes(self) -> list[IndexWrite]:
        writes: list[IndexWrite] = getattr(self._pending, "writes", None) or []
        self._pending.writes = []
        return writes

    def _stored(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        try:
            item = self._backend.get_table(table).get_item(DynamoType(key["pk"]), DynamoType(key["sk"]))
        except Exception:
            return {}
        return item.to_json()["Attributes"] if item else {}

    def _stored_size(self, table: str, key: dict[str, Any]) -> int:
        stored = self._stored(table, key)
        return item_size(stored) if stored else 0

    def _write_units(self, operation: str, params: dict[str, Any]) -> float:
        if operation == "PutItem":
            return _units(item_size(params["Item"]))
        if operation in ("UpdateItem", "DeleteItem"):
            return _units(self._stored_size(params["TableName"], params["Key"]))
        if operation == "BatchWriteItem":
            total = 0
            for requests in params["RequestItems"].values():
                for r in requests:
                    total += _units(item_size(r["PutRequest"]["Item"])) if "PutRequest" in r else 1
            return total
        if operation == "TransactWriteItems":
            total = 0
            for entry in params["TransactItems"]:
                ((kind, op),) = entry.items()
                size = item_size(op["Item"]) if kind == "Put" else self._stored_size(op["TableName"], op["Key"])
                total += 2 * _units(size)
            return total
        return 0

    def _record(self, service: str, operation: str, caller: str, params: Any, answer: Any) -> None:
        """One request the emulator served (``infra.local.requests_meter``), after it was answered."""
        written = self._take_index_writes() if service == "dynamodb" else []
        if "__type" in answer:
            written = []  # a failed request wrote no index (moto rolls a cancelled transaction back)
        if caller == requests_meter.OUTSIDE or service not in self._services:
            return  # the bench's own reads and the interpreter's Lambda calls are not the order's
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
            self.by_handler[f"{caller} {service}.{operation}"] += 1
            if operation in ("PutEvents", "SendMessageBatch"):
                self.entries[f"{service}.{operation}"] += len(params.get("Entries", []))
            if service == "dynamodb":
                index_units = sum(w.units for w in written)
                units = self._write_units(operation, params) + index_units
                self.write_units += units
                self.index_write_units += index_units
                self.write_units_by_handler[caller] += units
                self.read_units += self._read(operation, params, answer)

    @staticmethod
    def _read(name: str, params: dict[str, Any], answer: dict[str, Any]) -> float:
        """Read units from what came back: 4 KB per unit, half for eventually consistent reads."""
        units = 0.0
        if name == "GetItem" and answer.get("Item"):
            units = _read_units(item_size(answer["Item"]))
        elif name in ("Query", "Scan"):
            units = _read_units(sum(item_size(item) for item in answer.get("Items", [])))
        elif name == "BatchGetItem":
            units = sum(_read_units(item_size(i)) for items in answer.get("Responses", {}).values() for i in items)
        elif name == "TransactGetItems":
            return 2 * sum(_read_units(item_size(r.get("Item", {}))) for r in answer.get("Responses", []))
        return units if params.get("ConsistentRead") else units / 2

    def attach(self, *services: str) -> AwsMeter:
        self._services = set(services)
        _hook(self)
        requests_meter.listen(self._record)
        return self

    def detach(self) -> None:
        requests_meter.unlisten(self._record)
        _unhook(self)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.by_handler.clear()
            self.entries.clear()
            self.write_units = 0
            self.index_write_units = 0
            self.write_units_by_handler.clear()
            self.read_units = 0

    def dynamodb_requests(self) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith("dynamodb."))
