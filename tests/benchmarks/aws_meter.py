"""Counting the AWS requests and DynamoDB read and write units the handlers spend.

Handlers run in the local stack's worker processes; the emulator sees each of their
requests (``infra.local.requests_meter``) and hands it here with its answer, named by
the function that made it. Write units follow DynamoDB's rules (1 per started KB written,
2 per transactional item); an update's size is the stored item's after the write (a
delete counts 1 unit), read from the emulator, since moto reports no real consumed capacity.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from infra.local import requests_meter


def _size(attrs: dict[str, Any]) -> int:
    """Attribute names plus values, the typed wrapper ({"S": ...}) left out."""
    total = 0
    for name, typed in attrs.items():
        (value,) = typed.values() if isinstance(typed, dict) and len(typed) == 1 else (typed,)
        total += len(name) + len(json.dumps(value, separators=(",", ":")))
    return total


_INDEX_KEY = re.compile(r"^gsi\d+pk$")


def _units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _read_units(size: int) -> int:
    return max(1, math.ceil(size / 4096))


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

    def _stored(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        try:
            item = self._backend.get_table(table).get_item(DynamoType(key["pk"]), DynamoType(key["sk"]))
        except Exception:
            return {}
        return item.to_json()["Attributes"] if item else {}

    def _stored_size(self, table: str, key: dict[str, Any]) -> int:
        stored = self._stored(table, key)
        return _size(stored) if stored else 0

    def _index_units(self, table: str, operation: str, params: dict[str, Any]) -> int:
        """Write units the indexes spend: every index projects the whole item (ALL), so each
        index whose key the written item carries is written again (1 unit per KB, never doubled)."""
        if operation == "PutItem":
            items = [params["Item"]]
        elif operation == "UpdateItem":
            items = [self._stored(table, params["Key"])]
        elif operation == "TransactWriteItems":
            items = []
            for entry in params["TransactItems"]:
                ((kind, op),) = entry.items()
                if kind == "Put":
                    items.append(op["Item"])
                elif kind == "Update":
                    items.append(self._stored(op["TableName"], op["Key"]))
        else:
            return 0
        return sum(_units(_size(item)) * sum(1 for name in item if _INDEX_KEY.match(name)) for item in items if item)

    def _write_units(self, operation: str, params: dict[str, Any]) -> float:
        if operation == "PutItem":
            return _units(_size(params["Item"]))
        if operation in ("UpdateItem", "DeleteItem"):
            return _units(self._stored_size(params["TableName"], params["Key"]))
        if operation == "BatchWriteItem":
            total = 0
            for requests in params["RequestItems"].values():
                for r in requests:
                    total += _units(_size(r["PutRequest"]["Item"])) if "PutRequest" in r else 1
            return total
        if operation == "TransactWriteItems":
            total = 0
            for entry in params["TransactItems"]:
                ((kind, op),) = entry.items()
                size = _size(op["Item"]) if kind == "Put" else self._stored_size(op["TableName"], op["Key"])
                total += 2 * _units(size)
            return total
        return 0

    def _record(self, service: str, operation: str, caller: str, params: Any, answer: Any) -> None:
        """One request the emulator served (``infra.local.requests_meter``), after it was answered."""
        if caller == requests_meter.OUTSIDE or service not in self._services:
            return  # the bench's own reads and the interpreter's Lambda calls are not the order's
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
            self.by_handler[f"{caller} {service}.{operation}"] += 1
            if operation in ("PutEvents", "SendMessageBatch"):
                self.entries[f"{service}.{operation}"] += len(params.get("Entries", []))
            if service == "dynamodb":
                index_units = self._index_units(params.get("TableName", ""), operation, params)
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
            units = _read_units(_size(answer["Item"]))
        elif name in ("Query", "Scan"):
            units = _read_units(sum(_size(item) for item in answer.get("Items", [])))
        elif name == "BatchGetItem":
            units = sum(_read_units(_size(i)) for items in answer.get("Responses", {}).values() for i in items)
        elif name == "TransactGetItems":
            return 2 * sum(_read_units(_size(r.get("Item", {}))) for r in answer.get("Responses", []))
        return units if params.get("ConsistentRead") else units / 2

    def attach(self, *services: str) -> AwsMeter:
        self._services = set(services)
        requests_meter.listen(self._record)
        return self

    def detach(self) -> None:
        requests_meter.unlisten(self._record)

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
