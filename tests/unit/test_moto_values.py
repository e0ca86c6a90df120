"""The local stack's item size and plain values (moto_patches 24, 25) against moto's own, for values of every type."""

from __future__ import annotations

import base64
import functools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

from infra.local import moto_patches

_ATTRIBUTE_VALUES = st.recursive(
    st.one_of(
        st.text(max_size=20).map(lambda text: {"S": text}),
        st.integers().map(lambda n: {"N": str(n)}),
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda n: {"N": str(n)}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.binary(max_size=12).map(lambda data: {"B": base64.b64encode(data).decode()}),
        st.lists(st.text(max_size=6), min_size=1, max_size=4, unique=True).map(lambda texts: {"SS": texts}),
        st.lists(st.integers(), min_size=1, max_size=4, unique=True).map(lambda ns: {"NS": [str(n) for n in ns]}),
    ),
    lambda members: st.one_of(
        st.lists(members, max_size=4).map(lambda values: {"L": values}),
        st.dictionaries(st.text(max_size=8), members, max_size=4).map(lambda values: {"M": values}),
    ),
    max_leaves=24,
)


@settings(max_examples=300, deadline=None)
@given(_ATTRIBUTE_VALUES)
def test_an_attributes_size_is_counted_as_moto_counts_it(value: dict[str, Any]) -> None:
    typed = DynamoType(value)
    moto_size = moto_patches._ORIGINAL_SIZE or DynamoType.size  # moto's own, whether or not the patches are in
    assert moto_patches._value_size(typed) == moto_size(typed)


@settings(max_examples=300, deadline=None)
@given(_ATTRIBUTE_VALUES)
def test_a_values_plain_form_is_moto_s_and_shares_nothing_with_the_value(value: dict[str, Any]) -> None:
    typed = DynamoType(value)
    moto_plain = moto_patches._ORIGINAL_REGULAR_JSON or DynamoType.to_regular_json
    expected = moto_plain(typed)
    plain = moto_patches._regular_json(typed)
    assert plain == expected
    _clear_containers(plain)  # a stream record's image is handed on: changing it must not change the item
    assert moto_plain(typed) == expected


def _clear_containers(plain: Any) -> None:
    members = list(plain.values()) if isinstance(plain, dict) else plain if isinstance(plain, list) else []
    for member in members:
        _clear_containers(member)
    if isinstance(plain, dict | list):
        plain.clear()


@settings(max_examples=300, deadline=None)
@given(_ATTRIBUTE_VALUES, _ATTRIBUTE_VALUES)
def test_an_items_copy_equals_it_and_shares_nothing_an_update_changes(first: Any, second: Any) -> None:
    item = Item(DynamoType({"S": "P"}), DynamoType({"S": "S"}), {"pk": {"S": "P"}, "sk": {"S": "S"}, "a": first})
    item.attrs["b"] = DynamoType(second)
    expected = item.to_json()
    copied = moto_patches._copied_item(item)
    assert type(copied) is Item and type(copied.attrs) is LimitedSizeDict
    assert (copied.hash_key, copied.range_key) == (item.hash_key, item.range_key)
    assert copied.hash_key is not item.hash_key
    assert copied.to_json() == expected
    for value in copied.attrs.values():  # an update changes its item's values in place
        _change_in_place(value)
    assert item.to_json() == expected


def _change_in_place(value: DynamoType) -> None:
    if isinstance(value.value, dict):
        for member in value.value.values():
            _change_in_place(member)
        value.value.clear()
    elif isinstance(value.value, list):
        for member in value.value:
            if isinstance(member, DynamoType):
                _change_in_place(member)
        value.value.clear()
    value.type = "NULL"


def _with_bytes(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as the SDK takes it: binary as bytes (it encodes them itself)."""
    ((kind, raw),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(raw)}
    if kind == "L":
        return {kind: [_with_bytes(member) for member in raw]}
    if kind == "M":
        return {kind: {name: _with_bytes(member) for name, member in raw.items()}}
    return value


_ITEMS = st.dictionaries(st.text(min_size=1, max_size=8), _ATTRIBUTE_VALUES.map(_with_bytes), max_size=6)


@settings(max_examples=100, deadline=None)
@given(_ITEMS, _ITEMS, st.integers(min_value=1, max_value=100))
def test_a_json_requests_parameters_are_read_as_moto_reads_them(item: Any, values: Any, limit: int) -> None:
    """moto_patches 29 against moto's own parser, on requests as the SDK serializes them."""
    from botocore.serialize import create_serializer
    from moto.core.parse import JSONParser

    model = _dynamodb_model()
    key = {"pk": {"S": "P"}, "sk": {"S": "S"}}
    requests = {
        "PutItem": {"TableName": "t", "Item": {**item, **key}, "ConditionExpression": "attribute_not_exists(pk)"},
        "TransactWriteItems": {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": {**item, **key}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": key,
                        "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {f":{n}": v for n, v in enumerate(values.values())},
                    }
                },
            ]
        },
        "Query": {
            "TableName": "t",
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "P"}},
            "ExclusiveStartKey": {**values, **key},
            "Limit": limit,
            "ScanIndexForward": False,
        },
    }
    for name, params in requests.items():
        operation = model.operation_model(name)
        body = create_serializer("json").serialize_to_request(params, operation)["body"]
        expected = JSONParser(operation).parse({"body": body})
        parsed = moto_patches.PresentMembersParser(operation).parse({"body": body})
        assert parsed == expected
        assert _key_order(parsed) == _key_order(expected)


@functools.cache
def _dynamodb_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("dynamodb")


def _key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, _key_order(member)) for key, member in value.items()]
    if isinstance(value, list):
        return [_key_order(member) for member in value]
    return None
