"""Counting the AWS requests and DynamoDB read and write units the handlers spend.

Handlers run in the local stack's worker processes; the emulator sees each of their
requests (``infra.local.requests_meter``) and hands it here with its answer, named by
the function that made it, and metered when the figures are read (``settle``), so that
parsing and sizing requests and answers does not take the emulator's one interpreter from
the stack being measured. Item sizes follow DynamoDB's
documented rules (``item_size``: attribute names plus typed values, nested lists and
maps with their own overhead, never the JSON text). Write units follow DynamoDB's rules
(1 per started KB written, 2 per transactional item); an update's size is the stored
item's after the write (a delete counts 1 unit), as the emulator's stream saw it, since
moto reports no real consumed capacity.

Index write units follow DynamoDB's rule for global secondary indexes, for the projection
each index has in the emulated table: an index is written only when the item's index key
or an attribute the index projects changes (a key change is a delete and a put, a key
removed a delete, a new item with the key a put; 1 unit per started KB of the index
entry, its projected attributes plus 100 bytes of overhead, never doubled in a
transaction). That needs each item before and after the write:
moto hands both to the table's stream (``StreamShard.add``, every put, update and delete,
transactions and batches included), so the meter wraps that call while attached and keeps
both images with the request that made them (same thread) until the figures are read.
An image is the item's answered values, which no later write changes (moto_patches 38).

Outside providers' own records are not the OMS's cost: the sandbox payment provider keeps
in the table (``PROVIDER_KEY_PREFIXES``) what Stripe or PayPal keep on their own servers,
and its round trip is modelled as external latency (``cloud_duration.EXTERNAL_LATENCY_MS``);
the local stack's outbox e-mail transport keeps each customer message where SES would send
it (the cost is without e-mail).
Their write, read and index units are counted apart (``provider_*``), and so is a request
that names only such items; a request that mixes them with the OMS's items (a transaction)
still counts, with only the OMS items' units.
"""

from __future__ import annotations

import base64
import functools
import math
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import StreamShard

from infra.local import moto_patches, requests_meter

# DynamoDB's item size rules ("Item sizes and formats" in the developer guide): an item is
# the sum over its attributes of the name's UTF-8 bytes and the value's size. Sizes come
# from the typed values ({"S": ...}), never from their JSON text, which costs a nested value
# its type wrapper and quotes (``{"N":"0"}`` is 9 characters, 2 bytes stored).
_LIST_OR_MAP = 3  # a List or Map's own overhead, whatever it holds
_ELEMENT = 1  # each element of a List or Map
# Every index entry's overhead (the developer guide's global secondary index storage rule).
INDEX_ENTRY_OVERHEAD = 100


def _utf8(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


# The meter runs in the emulator's process, on its one core: a number's size is worked out
# once per distinct number (the same quantities, amounts and versions recur in every item).
@functools.lru_cache(maxsize=4096)
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


# The sandbox payment provider's ledger, idempotency results and markers (docs/data-model.md):
# a real provider keeps them on its own servers. ``PAYREF#`` (reference -> payment) is the OMS's.
# ``OUTBOX#``: messages the outbox e-mail transport keeps instead of sending (SES in the cloud);
# the notification's claim marker (``NOTIFIED#``) is the OMS's and stays counted.
PROVIDER_KEY_PREFIXES = ("SANDBOX#", "SANDBOXKEY#", "SANDBOXTOKEN#", "OUTBOX#")


def is_provider_key(pk: Any) -> bool:
    """Whether an item's pk (typed, ``{"S": ...}``, or plain) is an outside provider's (payments, e-mail)."""
    return _plain(pk).startswith(PROVIDER_KEY_PREFIXES)


def request_keys(operation: str, params: Mapping[str, Any]) -> list[Any]:
    """The pk of every item a request names (none for a Query or Scan, which name a partition
    or nothing: they count as the OMS's)."""
    if operation in ("GetItem", "UpdateItem", "DeleteItem"):
        return [params["Key"]["pk"]]
    if operation == "PutItem":
        return [params["Item"]["pk"]]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        out = []
        for entry in params["TransactItems"]:
            ((_, op),) = entry.items()
            out.append(op["Item"]["pk"] if "Item" in op else op["Key"]["pk"])
        return out
    if operation == "BatchWriteItem":
        return [
            r["PutRequest"]["Item"]["pk"] if "PutRequest" in r else r["DeleteRequest"]["Key"]["pk"]
            for requests in params["RequestItems"].values()
            for r in requests
        ]
    if operation == "BatchGetItem":
        return [key["pk"] for table in params["RequestItems"].values() for key in table["Keys"]]
    return []


def provider_only(operation: str, params: Mapping[str, Any]) -> bool:
    """A request that touches only the provider's items: the provider's request, not the OMS's."""
    keys = request_keys(operation, params)
    return bool(keys) and all(is_provider_key(k) for k in keys)


def _read_units(size: int) -> int:
    return max(1, math.ceil(size / 4096))


# Meters attached, which the stream hook tells of every item write.
_attached: list[AwsMeter] = []
_hook_lock = threading.Lock()
# What StreamShard.add was when the hook went in: moto's, or the local stack's own (it
# delivers stream records asynchronously), which the hook calls first.
_unhooked_add: Callable[..., None] = StreamShard.add


# CPU the meter spends inside the emulator's writes (index units of each item written):
# measuring, not emulation, and kept apart from it by the benchmarks.
item_meter_cpu = [0.0]


def _hooked_add(shard: StreamShard, old: Any, new: Any) -> None:
    _unhooked_add(shard, old, new)
    started = time.thread_time()
    for meter in list(_attached):
        meter._item_written(shard.table, old, new)
    spent = time.thread_time() - started
    with _hook_lock:
        item_meter_cpu[0] += spent


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


# Every request is kept as it was sent and answered, a write with the images of the items it
# wrote, and metered when the figures are read (``settle``): parsing and sizing each one
# took the emulator's one interpreter from the stack it measured (5 ms of CPU an order,
# more than a third of it reading back each updated item). A write that was refused, or a
# transaction that checks an item it does not write, is sized by the stored items as it is
# answered: no image tells what they were.
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


class Written(NamedTuple):
    """One item a write left: its table (the emulator's) and its images before and after
    (typed attributes; None: no item)."""

    table: Any
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


def _key(typed: Mapping[str, Any], table_keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(_plain(typed[name]) for name in table_keys if name in typed)


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
        # Events published by detail type, and messages sent by queue (the last part of its
        # URL): which queues the events reach is the event rules' business (``sqs_batches``).
        self.events_by_type: Counter[str] = Counter()
        self.sent_by_queue: Counter[str] = Counter()
        # The payment provider's share, apart: its requests (those naming only its items) by
        # "service.Operation", and its items' units (index units included in the write units).
        self.provider_calls: Counter[str] = Counter()
        self.provider_write_units = 0.0
        self.provider_index_write_units = 0.0
        self.provider_read_units = 0.0
        self._lock = threading.Lock()
        self._backend = dynamodb_backends[account][region]
        # The items written by the request this thread serves, until it is answered.
        self._pending = threading.local()
        # Requests metered when the figures are read: (service, operation, caller, body,
        # answer, the items a write wrote).
        self._kept: deque[tuple[str, str, str, bytes, bytes, list[Written]]] = deque()
        self._shapes: dict[Any, tuple[list[IndexShape], list[str]]] = {}

    @staticmethod
    def _table_shape(table: Any) -> tuple[list[IndexShape], list[str]]:
        """The emulated table's indexes as they were created (their projection included), and its key."""
        indexes = [
            IndexShape.from_description({"IndexName": ix.name, "KeySchema": ix.schema, "Projection": ix.projection})
            for ix in table.global_indexes
        ]
        return indexes, list(table.table_key_attrs)

    def _item_written(self, table: Any, old: Any, new: Any) -> None:
        """An item write the emulator applied (from the stream hook, in the request's thread):
        its images are kept with the request. They are the items' answered values, which
        their stream record has just made (moto_patches 38)."""
        before = moto_patches.item_values(old) if old is not None else None
        after = moto_patches.item_values(new) if new is not None else None
        pending = getattr(self._pending, "writes", None)
        if pending is None:
            pending = self._pending.writes = []
        pending.append(Written(table, before, after))

    def _take_written(self) -> list[Written]:
        """The items the request this thread has just answered wrote."""
        written: list[Written] = getattr(self._pending, "writes", None) or []
        self._pending.writes = []
        return written

    def _shape(self, table: Any) -> tuple[list[IndexShape], list[str]]:
        shape = self._shapes.get(table)
        if shape is None:  # a table's indexes are made with it
            shape = self._shapes[table] = self._table_shape(table)
        return shape

    def _owned_index_writes(self, written: Sequence[Written]) -> list[tuple[IndexWrite, bool]]:
        """The index writes of the items written, each with whether its item is the provider's."""
        out: list[tuple[IndexWrite, bool]] = []
        for item in written:
            indexes, table_keys = self._shape(item.table)
            if indexes:
                provider = is_provider_key((item.after or item.before or {}).get("pk", ""))
                out.extend((w, provider) for w in index_writes(item.before, item.after, indexes, table_keys))
        return out

    def _take_index_writes(self) -> list[IndexWrite]:
        """The index writes of the request this thread has just answered."""
        return [w for w, _ in self._owned_index_writes(self._take_written())]

    def _stored(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        # Read under the emulator's lock: the request being metered has been answered, and
        # another may be updating this very item.
        with moto_patches.dynamodb_lock():
            try:
                item = self._backend.get_table(table).get_item(DynamoType(key["pk"]), DynamoType(key["sk"]))
            except Exception:
                return {}
            return item.to_json()["Attributes"] if item else {}

    def _stored_size(self, table: str, key: dict[str, Any]) -> int:
        stored = self._stored(table, key)
        return item_size(stored) if stored else 0

    def _size_after(self, table: str, key: dict[str, Any], written: Sequence[Written]) -> int:
        """The size of the item ``key`` names as the request left it: from its image, or
        the stored item where it wrote none (a refused write, an item a transaction checks)."""
        for item in written:
            if item.table.name == table:
                table_keys = self._shape(item.table)[1]
                image = item.after or item.before
                if image is not None and _key(image, table_keys) == _key(key, table_keys):
                    return item_size(item.after) if item.after is not None else 0
        return self._stored_size(table, key)

    def _item_write_units(
        self, operation: str, params: dict[str, Any], written: Sequence[Written] = ()
    ) -> list[tuple[Any, int]]:
        """(pk, write units) of each item a write request writes."""
        if operation == "PutItem":
            return [(params["Item"]["pk"], _units(item_size(params["Item"])))]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["Key"]["pk"], _units(self._size_after(params["TableName"], params["Key"], written)))]
        if operation == "BatchWriteItem":
            out: list[tuple[Any, int]] = []
            for requests in params["RequestItems"].values():
                for r in requests:
                    if "PutRequest" in r:
                        out.append((r["PutRequest"]["Item"]["pk"], _units(item_size(r["PutRequest"]["Item"]))))
                    else:
                        out.append((r["DeleteRequest"]["Key"]["pk"], 1))
            return out
        if operation == "TransactWriteItems":
            out = []
            for entry in params["TransactItems"]:
                ((kind, op),) = entry.items()
                if kind == "Put":
                    out.append((op["Item"]["pk"], 2 * _units(item_size(op["Item"]))))
                else:
                    size = self._size_after(op["TableName"], op["Key"], written)
                    out.append((op["Key"]["pk"], 2 * _units(size)))
            return out
        return []

    def _write_units(self, operation: str, params: dict[str, Any]) -> float:
        return sum(units for _, units in self._item_write_units(operation, params))

    def _observe(self, service: str, operation: str, caller: str, body: bytes, answer: bytes) -> None:
        """One request the emulator served, as it was answered (a raw ``requests_meter`` listener)."""
        written = self._take_written() if service == "dynamodb" else []
        if operation in _WRITES and service == "dynamodb" and (b"__type" in answer or b"ConditionCheck" in body):
            parsed = requests_meter.parsed
            params, answered = parsed(body), parsed(answer)
            if "__type" in answered or any("ConditionCheck" in entry for entry in params.get("TransactItems", ())):
                self._record(service, operation, caller, params, answered, written)
                return
        self._kept.append((service, operation, caller, body, answer, written))

    def settle(self) -> None:
        """Meter the requests kept for later: call before reading the figures."""
        parsed = requests_meter.parsed
        while self._kept:
            service, operation, caller, body, answer, written = self._kept.popleft()
            self._record(service, operation, caller, parsed(body), parsed(answer), written)

    def _record(
        self,
        service: str,
        operation: str,
        caller: str,
        params: Any,
        answer: Any,
        written: Sequence[Written] | None = None,
    ) -> None:
        """One request the emulator served (``infra.local.requests_meter``), after it was answered;
        ``written``: the items it wrote, unless they are still this thread's to take."""
        if written is None:
            written = self._take_written() if service == "dynamodb" else []
        if "__type" in answer:
            written = []  # a failed request wrote nothing (moto rolls a cancelled transaction back)
        if caller == requests_meter.OUTSIDE or service not in self._services:
            return  # the bench's own reads and the interpreter's Lambda calls are not the order's
        with self._lock:
            name = f"{service}.{operation}"
            if service == "dynamodb" and provider_only(operation, params):
                self.provider_calls[name] += 1
            else:
                self.calls[name] += 1
                self.by_handler[f"{caller} {name}"] += 1
            if operation in ("PutEvents", "SendMessageBatch"):
                self.entries[name] += len(params.get("Entries", []))
            if operation == "PutEvents":
                self.events_by_type.update(e.get("DetailType", "") for e in params.get("Entries", []))
            elif operation in ("SendMessage", "SendMessageBatch"):
                queue = str(params.get("QueueUrl", "")).rsplit("/", 1)[-1]
                self.sent_by_queue[queue] += len(params.get("Entries", [])) if operation == "SendMessageBatch" else 1
            if service == "dynamodb":
                self._dynamodb_units(operation, params, answer, caller, written)

    def _dynamodb_units(
        self,
        operation: str,
        params: dict[str, Any],
        answer: dict[str, Any],
        caller: str,
        written: Sequence[Written],
    ) -> None:
        """A DynamoDB request's units, the provider's items' apart (called under the lock)."""
        items = self._item_write_units(operation, params, written)
        owned = self._owned_index_writes(written)
        index_units = sum(w.units for w, provider in owned if not provider)
        units = sum(u for pk, u in items if not is_provider_key(pk)) + index_units
        self.write_units += units
        self.index_write_units += index_units
        self.write_units_by_handler[caller] += units
        provider_index_units = sum(w.units for w, provider in owned if provider)
        self.provider_write_units += sum(u for pk, u in items if is_provider_key(pk)) + provider_index_units
        self.provider_index_write_units += provider_index_units
        oms_reads, provider_reads = self._owned_read(operation, params, answer)
        self.read_units += oms_reads
        self.provider_read_units += provider_reads

    @classmethod
    def _owned_read(cls, name: str, params: dict[str, Any], answer: dict[str, Any]) -> tuple[float, float]:
        """Read units of the OMS's items and of the provider's (``_read``'s rules, item by item
        where the request names its items; a Query or Scan is the OMS's)."""
        if name == "GetItem":
            units = cls._read(name, params, answer)
            return (0.0, units) if is_provider_key(params["Key"]["pk"]) else (units, 0.0)
        owned = [0.0, 0.0]
        if name == "BatchGetItem":
            for item in (i for items in answer.get("Responses", {}).values() for i in items):
                owned[is_provider_key(item["pk"])] += cls._read(name, params, {"Responses": {"t": [item]}})
        elif name == "TransactGetItems":
            # An item not found still costs its read: the key asked for names its owner.
            for pk, response in zip(request_keys(name, params), answer.get("Responses", []), strict=False):
                owned[is_provider_key(pk)] += cls._read(name, params, {"Responses": [response]})
        else:
            return cls._read(name, params, answer), 0.0
        return owned[0], owned[1]

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
        requests_meter.listen_raw(self._observe)
        return self

    def detach(self) -> None:
        requests_meter.unlisten_raw(self._observe)
        _unhook(self)

    def __enter__(self) -> AwsMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        # A meter left attached goes on metering (and keeping) every later request of the process.
        self.detach()

    def reset(self) -> None:
        self._kept.clear()
        with self._lock:
            self.calls.clear()
            self.by_handler.clear()
            self.entries.clear()
            self.events_by_type.clear()
            self.sent_by_queue.clear()
            self.write_units = 0
            self.index_write_units = 0
            self.write_units_by_handler.clear()
            self.read_units = 0
            self.provider_calls.clear()
            self.provider_write_units = 0
            self.provider_index_write_units = 0
            self.provider_read_units = 0

    def dynamodb_requests(self) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith("dynamodb."))
