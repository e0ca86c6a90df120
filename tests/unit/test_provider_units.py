"""The benchmark meter (tests/benchmarks/aws_meter.py) counts the payment provider's own items
apart: the sandbox provider keeps in the table (``SANDBOX#``, ``SANDBOXKEY#``) what Stripe or
PayPal keep on their servers, so neither their units nor a request that touches only them
are the order's cost. A transaction that mixes them with the OMS's items still counts as a
request, with only the OMS items' units; ``PAYREF#`` (reference -> payment) is the OMS's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.benchmarks.aws_meter import AwsMeter, is_provider_key, provider_only
from tests.unit.test_index_write_units import streamed_table

BLOB = "x" * 1500  # makes an item 2 KB: 2 write units, 4 in a transaction


def _item(pk: str, sk: str, **attrs: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attrs.items()}}


@pytest.fixture
def meter() -> Iterator[AwsMeter]:
    attached = AwsMeter().attach("dynamodb")
    try:
        yield attached
    finally:
        attached.detach()


def test_the_sandbox_items_are_the_providers_and_payref_the_oms() -> None:
    assert is_provider_key({"S": "SANDBOX#auth_1"})
    assert is_provider_key({"S": "SANDBOXKEY#idem-1"})
    assert is_provider_key("SANDBOXTOKEN#tok_expire#ord_1")
    assert not is_provider_key({"S": "PAYREF#sandbox#auth_1"})
    assert not is_provider_key({"S": "ORDER#ord_1"})
    # The outbox transport's kept messages stand for SES; the claim marker is the OMS's.
    assert is_provider_key({"S": "OUTBOX#ord_1"})
    assert not is_provider_key({"S": "NOTIFIED#ord_1#order.confirmed"})
    puts = [{"Put": {"Item": _item("SANDBOX#a", "AUTH")}}, {"Put": {"Item": _item("ORDER#1", "PAY#1")}}]
    mixed = {"TransactItems": puts}
    assert not provider_only("TransactWriteItems", mixed)
    assert provider_only("GetItem", {"Key": _item("SANDBOXKEY#k", "RESULT")})
    assert not provider_only("Query", {"KeyConditionExpression": "pk = :pk"})


def test_requests_are_metered_when_the_figures_are_read(meter: AwsMeter) -> None:
    # Parsing and sizing every request took the emulator's interpreter from the stack measured.
    key = _item("ORDER#1", "HEADER")
    get = json.dumps({"TableName": "t", "Key": key}).encode()
    meter._observe(
        "dynamodb", "GetItem", "fn", get, json.dumps({"Item": _item("ORDER#1", "HEADER", blob="x" * 5000)}).encode()
    )
    meter._observe("sqs", "SendMessage", "fn", b'{"QueueUrl": "http://q/1/Events"}', b"{}")
    put = json.dumps({"TableName": "t", "Item": _item("ORDER#1", "LINE#1")}).encode()
    meter._observe("dynamodb", "PutItem", "fn", put, b"{}")
    assert not meter.calls and meter.write_units == 0 and meter.read_units == 0
    meter.settle()
    assert meter.calls == {"dynamodb.PutItem": 1, "dynamodb.GetItem": 1}  # sqs is not metered here
    assert meter.write_units == 1
    assert meter.read_units == 1  # 5 KB read eventually consistently
    meter._observe("dynamodb", "GetItem", "fn", get, b"{}")
    meter.reset()
    meter.settle()
    assert not meter.calls  # what was kept before a reset is not counted after it


@mock_aws
def test_an_update_is_sized_as_it_left_the_item_though_later_writes_changed_it() -> None:
    """The units of a write kept for later come from the images the emulator's stream saw,
    not from the item as it is when the figures are read; a refused write, which left no
    image, is sized at once by the stored item."""
    ddb = streamed_table("KEYS_ONLY")
    meter = AwsMeter().attach("dynamodb")
    try:
        key = _item("ORDER#1", "HEADER")

        def update(blob: str, condition: str | None = None) -> None:
            params: dict[str, Any] = {
                "TableName": "t",
                "Key": key,
                "UpdateExpression": "SET body = :b",
                "ExpressionAttributeValues": {":b": {"S": blob}},
            }
            answer: dict[str, Any] = {}
            if condition:
                params["ConditionExpression"] = condition
                with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
                    ddb.update_item(**params)
                answer = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}
            else:
                ddb.update_item(**params)
            meter._observe("dynamodb", "UpdateItem", "fn", json.dumps(params).encode(), json.dumps(answer).encode())

        update("x")  # a small item: 1 unit
        update("x" * 3000)  # 3 KB: 3 units
        update("x" * 5000, condition="attribute_not_exists(pk)")  # refused: the stored 3 KB, at once
        assert meter.write_units == 3
        ddb.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET body = :b",
            ExpressionAttributeValues={":b": {"S": "x" * 9000}},
        )  # 9 KB now, before the figures are read
        meter.settle()
        assert meter.calls == {"dynamodb.UpdateItem": 3}
        assert meter.write_units == 3 + 1 + 3
    finally:
        meter.detach()


def test_a_transaction_mixing_provider_and_oms_items_counts_only_the_oms_units(meter: AwsMeter) -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "t", "Item": _item("SANDBOXKEY#idem-1", "RESULT", blob=BLOB)}},
            {"Put": {"TableName": "t", "Item": _item("SANDBOX#auth_1", "AUTH")}},
            {"Put": {"TableName": "t", "Item": _item("ORDER#1", "PAY#1", blob=BLOB)}},
            {"Put": {"TableName": "t", "Item": _item("PAYREF#sandbox#auth_1", "PAYREF")}},
        ]
    }
    meter._record("dynamodb", "TransactWriteItems", "fn", params, {})
    assert meter.calls == {"dynamodb.TransactWriteItems": 1}
    assert meter.by_handler == {"fn dynamodb.TransactWriteItems": 1}
    assert meter.write_units == 2 * 2 + 2 * 1  # the payment (2 KB) and its reference
    assert meter.write_units_by_handler["fn"] == 6
    assert meter.provider_write_units == 2 * 2 + 2 * 1  # the key's result (2 KB) and the authorization
    assert not meter.provider_calls


def test_a_request_touching_only_provider_items_is_the_providers(meter: AwsMeter) -> None:
    put = {
        "TransactItems": [
            {"Put": {"TableName": "t", "Item": _item("SANDBOXKEY#idem-1", "RESULT")}},
            {"Put": {"TableName": "t", "Item": _item("SANDBOX#cap_1", "CAPTURE")}},
        ]
    }
    meter._record("dynamodb", "TransactWriteItems", "fn", put, {})
    get = {"TableName": "t", "Key": _item("SANDBOXKEY#idem-1", "RESULT"), "ConsistentRead": True}
    meter._record("dynamodb", "GetItem", "fn", get, {"Item": _item("SANDBOXKEY#idem-1", "RESULT", blob="x" * 5000)})
    assert not meter.calls and not meter.by_handler and meter.dynamodb_requests() == 0
    assert meter.provider_calls == {"dynamodb.TransactWriteItems": 1, "dynamodb.GetItem": 1}
    assert meter.write_units == 0 and meter.read_units == 0
    assert meter.provider_write_units == 2 + 2
    assert meter.provider_read_units == 2  # 5 KB read consistently


def test_the_oms_reads_of_its_payment_reference_stay_counted(meter: AwsMeter) -> None:
    key = _item("PAYREF#sandbox#auth_1", "PAYREF")
    meter._record("dynamodb", "GetItem", "fn", {"TableName": "t", "Key": key}, {"Item": key})
    assert meter.calls == {"dynamodb.GetItem": 1}
    assert meter.read_units == 0.5 and meter.provider_read_units == 0


def test_a_transactional_read_of_both_splits_its_units(meter: AwsMeter) -> None:
    params = {
        "TransactItems": [
            {"Get": {"TableName": "t", "Key": _item("SANDBOX#auth_1", "AUTH")}},
            {"Get": {"TableName": "t", "Key": _item("ORDER#1", "HEADER")}},
        ]
    }
    # The authorization is not found: its read is still charged, to its owner.
    answer = {"Responses": [{}, {"Item": _item("ORDER#1", "HEADER", blob="x" * 5000)}]}
    meter._record("dynamodb", "TransactGetItems", "fn", params, answer)
    assert meter.calls == {"dynamodb.TransactGetItems": 1}
    assert meter.read_units == 2 * 2 and meter.provider_read_units == 2 * 1


@mock_aws
def test_index_writes_of_provider_items_are_set_apart() -> None:
    ddb = streamed_table("ALL")
    meter = AwsMeter().attach("dynamodb")
    try:
        params = {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": _item("SANDBOX#a", "AUTH", gsi1pk="P", gsi1sk="1", blob=BLOB)}},
                {"Put": {"TableName": "t", "Item": _item("ORDER#1", "HEADER", gsi1pk="O", gsi1sk="1")}},
            ]
        }
        ddb.transact_write_items(**params)
        meter._record("dynamodb", "TransactWriteItems", "fn", params, {})
        assert meter.index_write_units == 1  # the header's entry
        assert meter.write_units == 2 * 1 + 1
        assert meter.provider_index_write_units == 2  # the authorization's entry, all of its 2 KB projected
        assert meter.provider_write_units == 2 * 2 + 2
    finally:
        meter.detach()


def test_a_meter_used_as_a_context_is_detached_after_it() -> None:
    # The capture benchmark's meter stayed attached through the lifecycle runs after it,
    # metering (and keeping) every request a second time in the emulator's process.
    from moto.dynamodb.models.table import StreamShard

    from infra.local import requests_meter
    from tests.benchmarks import aws_meter

    with AwsMeter().attach("dynamodb") as meter:
        assert meter._observe in requests_meter._raw_listeners
        assert StreamShard.add is aws_meter._hooked_add
    assert meter._observe not in requests_meter._raw_listeners
    assert StreamShard.add is not aws_meter._hooked_add
