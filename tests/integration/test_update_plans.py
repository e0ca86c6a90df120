"""An update applied by a compiled plan (moto_patches 35) ends exactly as moto's own path ends it.

Each example applies one update twice, to two items alike but for their partition key:
once by moto's path and once by the plan. The answers (the item, or the error and its
message), the items stored afterwards and the stream records written must be the same.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from infra.local import moto_patches, update_plans

TABLE = "plans"

N1, S1, SS1, M1 = {"N": "1"}, {"S": "x"}, {"SS": ["p"]}, {"M": {"x": {"N": "1"}, "y": {"N": "2"}, "z": {"S": "w"}}}
# Expressions with their names, and an item and values moto applies each to: applied once
# so, an expression has a plan (update_plans.update_item), whatever values and item the
# examples then draw.
EXPRESSIONS: list[tuple[str, dict[str, str], dict[str, Any], dict[str, Any]]] = [
    ("SET a = :v", {}, {}, {":v": S1}),
    ("SET a = a + :v", {}, {"a": N1}, {":v": N1}),
    ("SET a = :v - a, b = :w", {}, {"a": N1}, {":v": N1, ":w": S1}),
    ("SET #n = if_not_exists(#n, :v) + :w", {"#n": "a"}, {}, {":v": N1, ":w": N1}),
    ("SET a = if_not_exists(m.x, :v)", {}, {}, {":v": N1}),
    ("SET l = list_append(l, :v)", {}, {"l": {"L": []}}, {":v": {"L": [N1]}}),
    ("SET l = list_append(:v, l)", {}, {"l": {"L": []}}, {":v": {"L": [N1]}}),
    ("SET m.x = :v", {}, {"m": M1}, {":v": S1}),
    ("SET m.x = m.y + :v REMOVE m.z", {}, {"m": M1}, {":v": N1}),
    ("SET b = a REMOVE a", {}, {"a": S1}, {}),
    ("SET c = s ADD s :v", {}, {"s": SS1}, {":v": {"SS": ["q"]}}),
    ("REMOVE a, m.y", {}, {"m": M1}, {}),
    ("ADD a :v", {}, {}, {":v": N1}),
    ("ADD s :v, n :w", {}, {}, {":v": SS1, ":w": N1}),
    ("DELETE s :v", {}, {"s": SS1}, {":v": SS1}),
    ("SET gsi1pk = :v", {}, {}, {":v": S1}),
    ("SET #g = :v", {"#g": "gsi1pk"}, {}, {":v": S1}),
    ("SET a = :v, b = :w REMOVE c ADD n :v DELETE s :w", {}, {"s": SS1}, {":v": N1, ":w": SS1}),
    ("SET #t = :v, b = #t", {"#t": "type"}, {"type": S1}, {":v": S1}),
]

VALUES = st.one_of(
    st.sampled_from(["0", "5", "-3", "1.5", "10", "007"]).map(lambda n: {"N": n}),
    st.sampled_from(["", "x", "yz"]).map(lambda s: {"S": s}),
    st.sampled_from([["p"], ["p", "q"], []]).map(lambda ss: {"SS": ss}),
    st.sampled_from([["1"], ["1", "2"]]).map(lambda ns: {"NS": ns}),
    st.just({"L": [{"N": "1"}, {"S": "e"}]}),
    st.just({"M": {"x": {"N": "1"}, "y": {"S": "z"}}}),
    st.just({"M": {"x": {"N": "2"}, "y": {"N": "3"}, "z": {"S": "w"}}}),
    st.just({"BOOL": True}),
)
ATTRIBUTES = st.dictionaries(st.sampled_from(["a", "b", "c", "n", "s", "l", "m", "type", "gsi1pk"]), VALUES)


@pytest.fixture(scope="module")
def backend() -> Iterator[Any]:
    with mock_aws():
        moto_patches.install()
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        backend = dynamodb_backends["123456789012"]["us-east-1"]
        table = backend.get_table(TABLE)
        for n, (text, names, item, values) in enumerate(EXPRESSIONS):
            key = {"pk": {"S": f"FIRST#{n}"}, "sk": {"S": "1"}}
            backend.put_item(TABLE, {**key, **item})
            backend.update_item(TABLE, key, text, names, values)
            assert update_plans.planned(TABLE, table, text, names), text
        yield backend


def _without_partition(attributes: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if attributes is None else {k: v for k, v in attributes.items() if k != "pk"}


def _outcome(backend: Any, pk: str, update: dict[str, Any], by_plan: bool) -> tuple[Any, ...]:
    """(the answer, the item stored afterwards, the stream records the update wrote)."""
    table = backend.get_table(TABLE)
    records = len(table.stream_shard.items)
    key = {"pk": {"S": pk}, "sk": {"S": "1"}}
    with pytest.MonkeyPatch.context() as patch:
        if not by_plan:
            patch.setattr(update_plans, "update_item", lambda original, *args, **kwargs: original(*args, **kwargs))
        try:
            updated = backend.update_item(TABLE, key, **copy.deepcopy(update))
            answer: Any = _without_partition(updated.to_json()["Attributes"])
        except Exception as refused:
            answer = (type(refused).__name__, str(refused))
    stored = backend.get_item(TABLE, key)
    written = [
        (
            r.record["eventName"],
            _without_partition(r.record["dynamodb"].get("OldImage")),
            _without_partition(r.record["dynamodb"].get("NewImage")),
            r.record["dynamodb"]["SizeBytes"],
        )
        for r in table.stream_shard.items[records:]
    ]
    return answer, _without_partition(stored.to_json()["Attributes"] if stored else None), written


_examples = iter(range(10**9))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    expression=st.sampled_from(EXPRESSIONS),
    item=st.none() | ATTRIBUTES,
    values=st.fixed_dictionaries({":v": VALUES, ":w": VALUES})
    | st.fixed_dictionaries({}, optional={":v": VALUES, ":w": VALUES}),
    condition=st.sampled_from([None, None, None, "attribute_exists(a)", "attribute_not_exists(a)"]),
)
def test_a_plan_ends_every_update_as_moto_does(backend, expression, item, values, condition):
    text, names = expression[:2]
    n = next(_examples)
    by_moto, by_plan = f"MOTO#{n}", f"PLAN#{n}"
    if item is not None:
        for pk in (by_moto, by_plan):
            backend.put_item(TABLE, {"pk": {"S": pk}, "sk": {"S": "1"}, **copy.deepcopy(item)})
    update = {
        "update_expression": text,
        "expression_attribute_names": names,
        "expression_attribute_values": values,
        "condition_expression": condition,
    }
    assert _outcome(backend, by_plan, update, by_plan=True) == _outcome(backend, by_moto, update, by_plan=False)


def test_every_expression_shape_drawn_above_compiles_to_a_plan(backend):
    """None of the shapes the property test draws is left to moto by its shape alone."""
    assert all(update_plans.compile_plan(text, names) is not None for text, names, _, _ in EXPRESSIONS)


def test_an_expression_moto_never_applied_is_refused_as_moto_refuses_it(backend):
    """A plan is made only after moto's path applied the expression with those names:
    one whose checks fail is refused by moto every time."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    update = {
        "TableName": TABLE,
        "Key": {"pk": {"S": "NEVER"}, "sk": {"S": "1"}},
        "UpdateExpression": "SET #a = :a, #b = :b",
        "ExpressionAttributeNames": {"#a": "same", "#b": "same"},
        "ExpressionAttributeValues": {":a": {"S": "x"}, ":b": {"S": "y"}},
    }
    for _ in range(3):
        with pytest.raises(ClientError, match="Two document paths overlap"):
            client.update_item(**update)
    assert "Item" not in client.get_item(TableName=TABLE, Key=update["Key"])


@pytest.mark.parametrize("by_plan", [False, True])
def test_a_stream_record_sizes_the_item_an_update_grew(backend, by_plan):
    """The size kept on an item (moto_patches 26) is the size before an update changed it in
    place: the record's new image is sized again, by moto's path and by a plan alike."""
    table = backend.get_table(TABLE)
    pk = f"GROWN#{by_plan}"
    backend.put_item(TABLE, {"pk": {"S": pk}, "sk": {"S": "1"}, "note": {"S": "x"}})
    update = {
        "update_expression": "SET note = :long",
        "expression_attribute_names": {},
        "expression_attribute_values": {":long": {"S": "y" * 1000}},
    }
    backend.update_item(TABLE, {"pk": {"S": "FIRST#GROWN"}, "sk": {"S": "1"}}, **update)  # moto's, then planned
    assert update_plans.planned(TABLE, table, update["update_expression"], {})
    _outcome(backend, pk, update, by_plan=by_plan)
    record = table.stream_shard.items[-1].record
    assert record["eventName"] == "MODIFY"
    # keys (pk + its value, sk + "1") + the old image (keys and note "x") + the new one (keys and 1,000 y)
    keys = len("pk") + len(pk) + len("sk") + 1
    assert record["dynamodb"]["SizeBytes"] == keys + (keys + len("note") + 1) + (keys + len("note") + 1000)


def _fresh_size(item: Any) -> int:
    return sum(len(name.encode()) + value.size() for name, value in item.attrs.items())


@pytest.mark.parametrize("by_plan", [False, True])
def test_an_item_updated_where_no_stream_is_written_is_sized_again(backend, by_plan):
    """Where no stream record sizes the updated item (moto_patches 26), its kept size goes."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    if "plain" not in backend.tables:
        client.create_table(
            TableName="plain",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    update = {
        "update_expression": "SET note = :long",
        "expression_attribute_names": {},
        "expression_attribute_values": {":long": {"S": "y" * 1000}},
    }
    backend.update_item("plain", {"pk": {"S": "FIRST"}}, **update)  # moto's path, then planned
    assert update_plans.planned("plain", backend.get_table("plain"), "SET note = :long", {})
    key = {"pk": {"S": f"PLAIN#{by_plan}"}}
    backend.put_item("plain", {**key, "note": {"S": "x"}})
    item = backend.get_item("plain", key)
    assert item.size() == _fresh_size(item)  # kept from the put
    with pytest.MonkeyPatch.context() as patch:
        if not by_plan:
            patch.setattr(update_plans, "update_item", lambda original, *args, **kwargs: original(*args, **kwargs))
        backend.update_item("plain", key, **update)
    assert item.size() == _fresh_size(item) > 1000


def test_an_update_moto_refuses_after_changing_the_item_in_part_leaves_it_sized_anew(backend):
    """moto sets an update's attributes one by one and refuses the one that passes the size
    limit after setting those before it: the item it leaves is sized again."""
    key = {"pk": {"S": "PARTLY"}, "sk": {"S": "1"}}
    backend.put_item(TABLE, {**key, "note": {"S": "x"}})
    item = backend.get_table(TABLE).get_item(*backend.get_keys_value(backend.get_table(TABLE), key))
    kept = item.size()
    with pytest.raises(Exception, match="maximum allowed size"):
        backend.update_item(
            TABLE,
            key,
            "SET a = :small, b = :huge",
            {},
            {":small": {"S": "s" * 100}, ":huge": {"S": "h" * 410_000}},
        )
    assert "a" in item.attrs  # moto's partial update, as moto leaves it
    assert item.size() == _fresh_size(item) > kept
