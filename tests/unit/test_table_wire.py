"""The table's shortcuts give what boto3 and botocore give: items written and read, responses parsed,
requests validated."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import botocore.session
import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from botocore.exceptions import ClientError, ParamValidationError
from botocore.parsers import JSONParser
from botocore.validate import ParamValidator

from shared.aws import reset_clients
from shared.dynamodb_responses import ItemResponseParser, ResponseParsers
from shared.errors import RetryableError
from shared.table import ConditionFailed, Table, _decimals, _deserializer, _validator, from_ddb, to_ddb


class Colour(enum.StrEnum):
    RED = "red"


VALUES: list[Any] = [
    "",
    "text",
    "ünïcödé",
    0,
    -7,
    12345,
    10**38 - 1,
    -(10**38) + 1,
    True,
    False,
    1.5,
    -0.25,
    Decimal("3.10"),
    Decimal("1E+2"),
    Colour.RED,
    b"\x00\x01",
    {"a", "b"},
    {1, 2},
    (1, "x"),
    [],
    {},
    [1, "x", None, {"k": [True, 2.5]}],
    {"nested": {"deeper": [None, {"n": 3}], "z": None}, "coords": [52.52, 13.405]},
]


# Ids by position: a set's repr changes from one process to the next.
@pytest.mark.parametrize("value", VALUES, ids=[f"{i}-{type(v).__name__}" for i, v in enumerate(VALUES)])
def test_writes_what_boto3_writes(value: Any) -> None:
    assert to_ddb({"v": value}) == {"v": TypeSerializer().serialize(_decimals(value))}


def test_a_number_past_38_digits_is_refused_as_boto3_refuses_it() -> None:
    with pytest.raises(Exception) as ours:
        to_ddb({"v": 10**38})
    with pytest.raises(Exception) as boto3s:
        TypeSerializer().serialize(10**38)
    assert type(ours.value) is type(boto3s.value)


def test_none_at_the_top_is_left_out() -> None:
    assert to_ddb({"a": None, "b": 1}) == {"b": {"N": "1"}}


WIRE: list[dict[str, Any]] = [
    {"S": "x"},
    {"N": "12"},
    {"N": "-3"},
    {"N": "1.5"},
    {"N": "1E+2"},
    {"N": "2.0"},
    {"N": "-0"},
    {"BOOL": True},
    {"NULL": True},
    {"SS": ["a", "b"]},
    {"NS": ["1", "2.5"]},
    {"B": b"\x00"},
    {"BS": [b"\x00", b"\x01"]},
    {"L": [{"S": "a"}, {"N": "1"}, {"M": {"b": {"BOOL": False}}}]},
    {"M": {"a": {"L": []}, "b": {"M": {}}, "c": {"NS": ["7"]}}},
]


@pytest.mark.parametrize("raw", WIRE, ids=[next(iter(raw)) for raw in WIRE])
def test_reads_what_the_deserializer_reads(raw: dict[str, Any]) -> None:
    ours, theirs = from_ddb({"v": raw})["v"], _deserializer.deserialize(raw)
    assert ours == theirs
    assert type(ours) is type(theirs)


def test_whole_numbers_come_back_as_int_and_fractions_as_float() -> None:
    item = from_ddb({"qty": {"N": "3"}, "big": {"N": "1E+2"}, "lat": {"N": "52.52"}})
    assert item == {"qty": 3, "big": 100, "lat": 52.52}
    assert [type(v) for v in item.values()] == [int, int, float]
    assert isinstance(from_ddb({"b": {"B": b"x"}})["b"], Binary)


def test_an_empty_attribute_is_refused_as_boto3_refuses_it() -> None:
    with pytest.raises(TypeError):
        from_ddb({"v": {}})


_MODEL = botocore.session.get_session().get_service_model("dynamodb")
_ITEM = {"pk": {"S": "ORDER#1"}, "sk": {"S": "LINE#00001"}, "qty": {"N": "2"}, "m": {"M": {"k": {"L": [{"S": "v"}]}}}}
RESPONSES: list[tuple[str, dict[str, Any]]] = [
    ("GetItem", {"Item": _ITEM}),
    ("GetItem", {}),
    ("Query", {"Items": [_ITEM, _ITEM], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": {"pk": {"S": "a"}}}),
    ("Query", {"Items": [], "Count": 0, "ScannedCount": 0, "LastEvaluatedKey": None}),
    ("Query", {"Items": [_ITEM], "Count": 1, "ScannedCount": 1, "Unmodelled": {"x": 1}}),
    ("Query", {"Items": [{"b": {"B": "AAE="}}], "Count": 1, "ScannedCount": 1}),
    ("Query", {"Items": [{"bs": {"BS": ["AAE="]}}], "Count": 1, "ScannedCount": 1}),
    ("Query", {"Items": [], "Count": 0, "ScannedCount": 0, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1}}),
    ("UpdateItem", {"Attributes": _ITEM}),
    ("PutItem", {}),
    ("TransactWriteItems", {}),
    ("BatchGetItem", {"Responses": {"t": [_ITEM]}, "UnprocessedKeys": {"t": {"Keys": [{"pk": {"S": "a"}}]}}}),
    ("BatchWriteItem", {"UnprocessedItems": {"t": [{"PutRequest": {"Item": _ITEM}}]}}),
    ("TransactGetItems", {"Responses": [{"Item": _ITEM}, {}]}),
]


@pytest.mark.parametrize(("operation", "body"), RESPONSES, ids=lambda v: v if isinstance(v, str) else "")
def test_parses_an_item_response_as_botocore_does(operation: str, body: dict[str, Any]) -> None:
    shape = _MODEL.operation_model(operation).output_shape
    response = {"status_code": 200, "headers": {"x-amzn-requestid": "r1"}, "body": json.dumps(body).encode()}
    assert ItemResponseParser().parse(dict(response), shape) == JSONParser().parse(dict(response), shape)


def test_errors_are_parsed_by_botocore() -> None:
    operation = _MODEL.operation_model("PutItem")
    body = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "failed"}
    response = {"status_code": 400, "headers": {"x-amzn-requestid": "r1"}, "body": json.dumps(body).encode()}
    ours = ItemResponseParser().parse(dict(response), operation.output_shape)
    assert ours == JSONParser().parse(dict(response), operation.output_shape)
    assert ours["Error"]["Code"] == "ConditionalCheckFailedException"


def test_other_services_keep_botocore_parsers() -> None:
    factory = ResponseParsers()
    assert type(factory.create_parser("json")) is ItemResponseParser
    assert type(factory.create_parser("query")) is not ItemResponseParser


@pytest.fixture
def unreachable_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Table]:
    """A table whose requests could not be sent: what is refused here is refused before sending."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    yield Table("t")
    reset_clients()


def test_a_misspelt_condition_is_refused_before_sending(unreachable_table: Table) -> None:
    put = {"Put": {"Item": {"pk": "a", "sk": "b", "qty": 1}, "ConditionExpresion": "attribute_not_exists(pk)"}}
    with pytest.raises(ParamValidationError, match="ConditionExpresion"):
        unreachable_table.transact([put])


def test_a_name_of_the_wrong_type_is_refused_before_sending(unreachable_table: Table) -> None:
    with pytest.raises(ParamValidationError, match="ExpressionAttributeNames"):
        unreachable_table.update("a", "b", "SET #q = :q", values={":q": 1}, names={"#q": 7})  # type: ignore[dict-item]


_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("GetItem", {"TableName": "t", "Key": to_ddb({"pk": "a", "sk": "b"}), "ConsistentRead": True}),
    (
        "Query",
        {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": to_ddb({":p": "a"})},
    ),
    ("Query", {"TableName": "t", "KeyConditionExpression": "pk = :p", "Limit": "5"}),
    ("Query", {"TableName": "t"}),
    ("PutItem", {"TableName": "t", "Item": to_ddb({"pk": "a", "n": [1, {"x": 2.5}]}), "Expected": 1}),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Update": {"TableName": "t", "Key": to_ddb({"pk": "a"}), "UpdateExpresion": "SET a = :a"}}
            ]
        },
    ),
    ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": to_ddb({"pk": "a"})}, "Extra": 1}]}}),
    # Maps of attribute values: their names are still checked (a name that is no string, too long).
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}, 7: {"N": "1"}}}),
    ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "a"}, "x" * 65536: {"S": "b"}}}),
    ("GetItem", {"TableName": "t", "Key": [{"pk": {"S": "a"}}]}),
]


@pytest.mark.parametrize(("operation", "params"), _REQUESTS, ids=[f"{i}-{op}" for i, (op, _) in enumerate(_REQUESTS)])
def test_validates_what_botocore_validates_around_attribute_values(operation: str, params: dict[str, Any]) -> None:
    shape = _MODEL.operation_model(operation).input_shape
    ours, botocores = _validator.validate(params, shape), ParamValidator().validate(params, shape)
    assert ours.generate_report() == botocores.generate_report()


def test_attribute_values_themselves_are_taken_as_built() -> None:
    shape = _MODEL.operation_model("PutItem").input_shape
    params = {"TableName": "t", "Item": {"pk": {"S": 1}}}
    assert ParamValidator().validate(params, shape).has_errors()
    assert not _validator.validate(params, shape).has_errors()


class _Recorder(Table):
    """The table with its requests recorded instead of sent (``fail``: the error code to answer)."""

    def __init__(self, fail: str | None = None):
        super().__init__("t")
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        self.sent.append((operation, params))
        if self.fail:
            raise ClientError({"Error": {"Code": self.fail, "Message": self.fail}}, operation)
        return {}


_PUT = {"Put": {"Item": {"pk": "a", "sk": "b", "n": 1}, "ConditionExpression": "attribute_not_exists(pk)"}}
_UPDATE = {
    "Update": {
        "Key": {"pk": "a", "sk": "b"},
        "UpdateExpression": "SET n = :n",
        "ConditionExpression": "n = :o",
        "ExpressionAttributeValues": {":n": 2, ":o": 1},
    }
}
_DELETE = {"Delete": {"Key": {"pk": "a", "sk": "b"}, "ConditionExpression": "attribute_exists(pk)"}}
_CHECK = {"ConditionCheck": {"Key": {"pk": "a", "sk": "b"}, "ConditionExpression": "attribute_exists(pk)"}}


@pytest.mark.parametrize(
    ("operation", "request_name"), [(_PUT, "PutItem"), (_UPDATE, "UpdateItem"), (_DELETE, "DeleteItem")]
)
def test_a_transaction_of_one_write_is_sent_as_that_write(operation: dict[str, Any], request_name: str) -> None:
    # The same conditional write at half the units: DynamoDB bills a transaction's items twice.
    table = _Recorder()
    table.transact([operation])
    ((_kind, body),) = operation.items()
    expected = {
        "TableName": "t",
        **{k: to_ddb(v) if k in ("Item", "Key", "ExpressionAttributeValues") else v for k, v in body.items()},
    }
    assert table.sent == [(request_name, expected)]


def test_a_transaction_of_several_items_or_a_lone_condition_check_stays_a_transaction() -> None:
    for operations in ([_PUT, _UPDATE], [_CHECK]):
        table = _Recorder()
        table.transact(operations)
        assert [name for name, _ in table.sent] == ["TransactWriteItems"]


def test_a_lone_write_refused_fails_as_the_transaction_would() -> None:
    with pytest.raises(ConditionFailed) as refused:
        _Recorder(fail="ConditionalCheckFailedException").transact([_UPDATE])
    assert refused.value.reasons == ["ConditionalCheckFailed"]
    with pytest.raises(RetryableError):
        _Recorder(fail="TransactionConflictException").transact([_PUT])
