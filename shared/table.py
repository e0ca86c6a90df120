"""The single-table data layer: the only module that calls DynamoDB.

Items are plain dicts of str, int, bool, None, list and dict. Numbers come back as int
(the table stores no fractions: money is in minor units). ``ClientError`` codes are
turned into domain exceptions here and nowhere else.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator

from shared.aws import client
from shared.errors import Conflict, MalformedInput, RetryableError, Throttled
from shared.retry import attempts
from shared.settings import get_settings

Item = dict[str, Any]

_serializer = TypeSerializer()


class _NumberDeserializer(TypeDeserializer):
    """Whole numbers (all money and quantities) come back as int, others as float."""

    def _deserialize_n(self, value: str) -> Any:
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)


_deserializer = _NumberDeserializer()

_RETRYABLE = {
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "RequestLimitExceeded",
}
_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException"}

TRANSACTION_LIMIT = 100
# A transaction of one of these is written as the single request it amounts to.
_SINGLE_WRITES = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100


def _decimals(value: Any) -> Any:
    """boto3 refuses floats (coordinates); their shortest repr is exact enough as Decimal."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


# Whole numbers below 10**38 are exact in DynamoDB's 38 digits: their string is the N value.
_EXACT_INT = 10**38


def _to_attribute(value: Any) -> dict[str, Any]:
    """``TypeSerializer().serialize(_decimals(value))`` with the common types written directly
    (exact types only: subclasses, floats, sets, bytes and large numbers take boto3's path)."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int and -_EXACT_INT < value < _EXACT_INT:
        return {"N": str(value)}
    if kind is bool:
        return {"BOOL": value}
    if kind is dict:
        return {"M": {k: _to_attribute(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [_to_attribute(v) for v in value]}
    return _serializer.serialize(_decimals(value))


def _number(value: str) -> int | float:
    try:
        return int(value)  # the usual case; anything else (fractions, exponents) goes by Decimal
    except ValueError:
        return _deserializer._deserialize_n(value)


def _from_attribute(raw: dict[str, Any]) -> Any:
    """``_deserializer.deserialize(raw)`` with the common types read directly."""
    for kind, value in raw.items():  # the first key names the type, as boto3 reads it
        if kind == "S":
            return value
        if kind == "N":
            return _number(value)
        if kind == "M":
            return {k: _from_attribute(v) for k, v in value.items()}
        if kind == "L":
            return [_from_attribute(v) for v in value]
        if kind == "BOOL":
            return value
        if kind == "NULL":
            return None
        break
    return _deserializer.deserialize(raw)


def to_ddb(item: Item) -> dict[str, Any]:
    return {k: _to_attribute(v) for k, v in item.items() if v is not None}


def from_ddb(raw: dict[str, Any]) -> Item:
    return {k: _from_attribute(v) for k, v in raw.items()}


class _RequestValidator(ParamValidator):
    """botocore's parameter validation, without descending into attribute values.

    Every attribute value sent is built by ``to_ddb``, which makes only valid ones, and
    checking each attribute of every item again costs a third of a large transaction's
    CPU. All around them is still checked before sending: operations, conditions,
    expressions and names, where a misspelt member would otherwise be left out of the
    request without a word (a write without its condition).

    A map of attribute values (an item, a key, expression values) has its names checked
    in one pass, as botocore would find them (strings within the length the model allows
    a name): walking it member by member for nothing else was 25 µs an item of a transaction."""

    def _validate(self, params: Any, shape: Any, errors: Any, name: str) -> None:
        if shape.name == "AttributeValue":
            return
        if shape.type_name == "map" and shape.value.name == "AttributeValue" and type(params) is dict:
            longest = shape.key.metadata.get("max", float("inf"))
            if all(type(key) is str and len(key) <= longest for key in params):
                return
        super()._validate(params, shape, errors, name)


_validator = _RequestValidator()
_METHODS = {
    "GetItem": "get_item",
    "PutItem": "put_item",
    "UpdateItem": "update_item",
    "DeleteItem": "delete_item",
    "Query": "query",
    "TransactWriteItems": "transact_write_items",
    "BatchGetItem": "batch_get_item",
    "BatchWriteItem": "batch_write_item",
}


class ConditionFailed(Conflict):
    """A conditional write failed; ``reasons`` holds one code per transaction item."""

    def __init__(self, detail: str, reasons: list[str] | None = None):
        Conflict.__init__(self, detail)
        self.reasons = reasons or []


def _map_error(err: ClientError) -> Exception:
    code = err.response.get("Error", {}).get("Code", "")
    message = err.response.get("Error", {}).get("Message", code)
    if code == "ConditionalCheckFailedException":
        return ConditionFailed(message, ["ConditionalCheckFailed"])
    if code == "TransactionCanceledException":
        reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
        if not reasons:  # some emulators put the reasons only in the message
            inner = message.partition("[")[2].rstrip("]")
            reasons = [r.strip() for r in inner.split(",")] if inner else []
        if any(r in _THROTTLED or r == "ThrottlingError" for r in reasons):
            return Throttled("DynamoDB throttled the transaction")
        if "TransactionConflict" in reasons:
            return RetryableError("transaction conflict, try again")
        return ConditionFailed(message, reasons)
    if code in _THROTTLED:
        return Throttled(message)
    if code in _RETRYABLE:
        return RetryableError(message)
    return err


class Table:
    """Repository over the one table. Cheap to create; holds no connection itself."""

    def __init__(self, name: str | None = None):
        self.name = name or get_settings().table_name

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One request, its parameters validated here (the client is made without validation)."""
        ddb = self._ddb
        report = _validator.validate(params, ddb.meta.service_model.operation_model(operation).input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        out: dict[str, Any] = getattr(ddb, _METHODS[operation])(**params)
        return out

    def get(self, pk: str, sk: str, *, consistent: bool = True) -> Item | None:
        try:
            out = self._call(
                "GetItem",
                TableName=self.name,
                Key=to_ddb({"pk": pk, "sk": sk}),
                ConsistentRead=consistent,
            )
        except ClientError as err:
            raise _map_error(err) from err
        raw = out.get("Item")
        return from_ddb(raw) if raw else None

    def put(self, item: Item, *, condition: str | None = None, names: dict[str, str] | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": to_ddb(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            self._call("PutItem", **kwargs)
        except ClientError as err:
            raise _map_error(err) from err

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
        condition: str | None = None,
        return_new: bool = False,
    ) -> Item | None:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": to_ddb({"pk": pk, "sk": sk}),
            "UpdateExpression": expression,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = to_ddb(values)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if condition:
            kwargs["ConditionExpression"] = condition
        if return_new:
            kwargs["ReturnValues"] = "ALL_NEW"
        try:
            out = self._call("UpdateItem", **kwargs)
        except ClientError as err:
            raise _map_error(err) from err
        return from_ddb(out["Attributes"]) if return_new else None

    def query(
        self,
        key_condition: str,
        values: dict[str, Any],
        *,
        index: str | None = None,
        names: dict[str, str] | None = None,
        filter_expression: str | None = None,
        limit: int | None = None,
        start_key: dict[str, Any] | None = None,
        forward: bool = True,
        consistent: bool = False,
        keys_only: bool = False,
        where: Callable[[Item], bool] | None = None,
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """One page: the items and the key to continue from (None on the last page).

        The indexes project keys only (infra/manifest.py): on an ``index`` the entries are
        turned into the items they stand for (``hydrate``), unless ``keys_only`` asks for
        the entries themselves. A ``filter_expression`` on an index sees only its keys; a
        condition on other attributes is ``where``, checked on the items read (a page can
        come back short, as with a filter; the key to continue from is the index's).
        """
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": to_ddb(values),
            "ScanIndexForward": forward,
        }
        if index:
            kwargs["IndexName"] = index
        elif consistent:
            kwargs["ConsistentRead"] = True
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if limit:
            kwargs["Limit"] = limit
        if start_key:
            kwargs["ExclusiveStartKey"] = to_ddb(start_key)
        try:
            out = self._call("Query", **kwargs)
        except ClientError as err:
            raise _map_error(err) from err
        last = out.get("LastEvaluatedKey")
        items = [from_ddb(i) for i in out.get("Items", [])]
        if index and not keys_only:
            # Each index's key attributes are named after it: gsi1 -> gsi1pk, gsi1sk.
            items = self.hydrate(items, index_keys=(f"{index}pk", f"{index}sk"))
        if where is not None:
            items = [i for i in items if where(i)]
        return items, (from_ddb(last) if last else None)

    def query_all(self, key_condition: str, values: dict[str, Any], **kwargs: Any) -> Iterator[Item]:
        start: dict[str, Any] | None = None
        while True:
            items, start = self.query(key_condition, values, start_key=start, **kwargs)
            yield from items
            if not start:
                return

    def transact(self, operations: Sequence[dict[str, Any]]) -> None:
        """All-or-nothing write of up to 100 operations.

        Each operation is ``{"Put": {"Item": item, "ConditionExpression"?: ...}}``,
        ``{"Update": {...}}``, ``{"Delete": {...}}`` or ``{"ConditionCheck": {...}}`` with
        plain Python values; table name and serialization are added here.
        """
        if len(operations) > TRANSACTION_LIMIT:
            raise ValueError(f"a transaction holds at most {TRANSACTION_LIMIT} items")
        if len(operations) == 1 and next(iter(operations[0])) in _SINGLE_WRITES:
            self._write_one(operations[0])
            return
        try:
            self._call("TransactWriteItems", TransactItems=[self._transact_item(op) for op in operations])
        except ClientError as err:
            raise _map_error(err) from err

    def _write_one(self, operation: dict[str, Any]) -> None:
        """One item is all-or-nothing on its own: the same conditional write, outside a
        transaction, costs half the write units (DynamoDB bills transactional items twice).
        A refused condition raises ConditionFailed with the one reason a transaction gives."""
        ((kind, body),) = self._transact_item(operation).items()
        try:
            self._call(_SINGLE_WRITES[kind], **body)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "TransactionConflictException":
                raise RetryableError("transaction conflict, try again") from err  # as the transaction's
            raise _map_error(err) from err

    def _transact_item(self, op: dict[str, Any]) -> dict[str, Any]:
        ((kind, body),) = op.items()
        body = dict(body)
        body["TableName"] = self.name
        if "Item" in body:
            body["Item"] = to_ddb(body["Item"])
        if "Key" in body:
            body["Key"] = to_ddb(body["Key"])
        if "ExpressionAttributeValues" in body:
            body["ExpressionAttributeValues"] = to_ddb(body["ExpressionAttributeValues"])
        return {kind: body}

    def batch_get(self, keys: Iterable[tuple[str, str]], *, consistent: bool = False) -> list[Item]:
        """The items that exist among ``keys`` (pk, sk), in no particular order."""
        unique = list(dict.fromkeys(keys))  # BatchGetItem refuses a key named twice
        found: list[Item] = []
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            chunk = unique[start : start + BATCH_GET_LIMIT]
            pending: dict[str, Any] = {
                "Keys": [to_ddb({"pk": pk, "sk": sk}) for pk, sk in chunk],
                "ConsistentRead": consistent,
            }
            for _attempt in attempts(8):
                try:
                    out = self._call("BatchGetItem", RequestItems={self.name: pending})
                except ClientError as err:
                    raise _map_error(err) from err
                found.extend(from_ddb(raw) for raw in out.get("Responses", {}).get(self.name, []))
                pending = out.get("UnprocessedKeys", {}).get(self.name) or {}
                if not pending:
                    break
            else:
                raise RetryableError("DynamoDB left keys unprocessed after retries")
        return found

    def hydrate(self, entries: Sequence[Item], *, index_keys: Sequence[str]) -> list[Item]:
        """The items index ``entries`` stand for, in the entries' order: read by key, 100 a
        BatchGetItem (eventually consistent, as the index itself is).

        The item read may be newer than the entry. An item deleted since is left out, and so
        is one whose index key (``index_keys``, the attributes) has changed since: it has moved
        on in the index (a list by status, whose key holds the status, must not show it under
        its old one).
        """
        if not entries:
            return []
        found = {(i["pk"], i["sk"]): i for i in self.batch_get((e["pk"], e["sk"]) for e in entries)}
        items = []
        for entry in entries:
            item = found.get((entry["pk"], entry["sk"]))
            if item is not None and all(item.get(k) == entry.get(k) for k in index_keys):
                items.append(item)
        return items

    def batch_put(self, items: Iterable[Item]) -> None:
        self._batch([{"PutRequest": {"Item": to_ddb(i)}} for i in items])

    def batch_delete(self, keys: Iterable[tuple[str, str]]) -> None:
        self._batch([{"DeleteRequest": {"Key": to_ddb({"pk": pk, "sk": sk})}} for pk, sk in keys])

    def _batch(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending = requests[start : start + BATCH_WRITE_LIMIT]
            for _attempt in attempts(8):
                try:
                    out = self._call("BatchWriteItem", RequestItems={self.name: pending})
                except ClientError as err:
                    raise _map_error(err) from err
                pending = out.get("UnprocessedItems", {}).get(self.name, [])
                if not pending:
                    break
            else:
                raise RetryableError("DynamoDB left items unprocessed after retries")


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, required_keys: Iterable[str] = ("pk", "sk")) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedInput(
            "cursor is not valid", errors=[{"field": "cursor", "message": "not a cursor this API issued"}]
        ) from err
    if (
        not isinstance(key, dict)
        or not set(required_keys) <= set(key)
        or not all(isinstance(v, str) for v in key.values())
    ):
        raise MalformedInput(
            "cursor is not valid", errors=[{"field": "cursor", "message": "not a cursor this API issued"}]
        )
    return key
