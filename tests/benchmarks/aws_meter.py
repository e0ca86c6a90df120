"""Counting the AWS requests and DynamoDB write units the handlers spend.

Handlers share the clients of ``shared.aws``; a botocore hook on them sees every call.
Write units follow DynamoDB's rules (1 per started KB written, 2 per transactional item,
the larger of old and new item for updates); the item sizes are read from the emulator,
since moto reports no real consumed capacity.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from shared.aws import client


def _size(attrs: dict[str, Any]) -> int:
    """Attribute names plus values, the typed wrapper ({"S": ...}) left out."""
    total = 0
    for name, typed in attrs.items():
        (value,) = typed.values() if isinstance(typed, dict) and len(typed) == 1 else (typed,)
        total += len(name) + len(json.dumps(value, separators=(",", ":")))
    return total


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
        self.read_units = 0.0
        self._lock = threading.Lock()
        self._backend = dynamodb_backends[account][region]

    def _stored_size(self, table: str, key: dict[str, Any]) -> int:
        try:
            item = self._backend.get_table(table).get_item(DynamoType(key["pk"]), DynamoType(key["sk"]))
        except Exception:
            return 0
        return _size(item.to_json()["Attributes"]) if item else 0

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

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        from infra.local import runtime

        handler = getattr(runtime.current, "handler", None) or "outside any handler"
        parts = handler.split(".")
        who = f"{parts[1]}.{parts[-2]}" if len(parts) > 3 else handler
        with self._lock:
            self.calls[f"{service}.{model.name}"] += 1
            self.by_handler[f"{who} {service}.{model.name}"] += 1
            if model.name in ("PutEvents", "SendMessageBatch"):
                self.entries[f"{service}.{model.name}"] += len(params.get("Entries", []))
            if service == "dynamodb":
                self.write_units += self._write_units(model.name, params)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        """Read units from what came back: 4 KB per unit, half for eventually consistent reads."""
        if model.service_model.service_name != "dynamodb":
            return
        units = 0.0
        name = model.name
        if name == "GetItem" and parsed.get("Item"):
            units = _read_units(_size(parsed["Item"]))
        elif name in ("Query", "Scan"):
            size = sum(_size(item) for item in parsed.get("Items", []))
            units = _read_units(size)
        elif name == "BatchGetItem":
            units = sum(_read_units(_size(i)) for items in parsed.get("Responses", {}).values() for i in items)
        elif name == "TransactGetItems":
            units = 2 * sum(_read_units(_size(r.get("Item", {}))) for r in parsed.get("Responses", []))
        consistent = getattr(self._local, "consistent", True)
        with self._lock:
            self.read_units += units if consistent or name == "TransactGetItems" else units / 2

    def _remember_consistency(self, params: dict[str, Any], **_: Any) -> None:
        self._local.consistent = bool(params.get("ConsistentRead"))

    def attach(self, *services: str) -> AwsMeter:
        self._local = threading.local()
        for service in services:
            events = client(service).meta.events
            events.register("provide-client-params", self._before)
            if service == "dynamodb":
                events.register("provide-client-params.dynamodb", self._remember_consistency)
                events.register("after-call.dynamodb", self._after)
        return self

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.by_handler.clear()
            self.entries.clear()
            self.write_units = 0
            self.read_units = 0

    def dynamodb_requests(self) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith("dynamodb."))
