"""The benchmark meter's index write units (tests/benchmarks/aws_meter.py) follow DynamoDB's
rule for global secondary indexes: an index is written only when the item's index key or
a projected attribute changes."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local import moto_patches
from tests.benchmarks.aws_meter import AwsMeter, IndexShape, IndexWrite, index_writes

KEYS_ONLY = IndexShape("gsi1", "gsi1pk", "gsi1sk", "KEYS_ONLY")
INCLUDE = IndexShape("gsi1", "gsi1pk", "gsi1sk", "INCLUDE", frozenset({"status"}))
ALL = IndexShape("gsi1", "gsi1pk", "gsi1sk", "ALL")
BIG = "x" * 1500  # an unprojected attribute that makes the item 2 KB


def _item(**attrs: str) -> dict[str, Any]:
    return {"pk": {"S": "ORDER#1"}, "sk": {"S": "HEADER"}, **{k: {"S": v} for k, v in attrs.items()}}


def test_a_new_item_with_the_index_key_puts_one_entry_sized_by_the_projection() -> None:
    new = _item(gsi1pk="ORDERS#01", gsi1sk="2026#1", status="placed", blob=BIG)
    assert index_writes(None, new, [KEYS_ONLY]) == [IndexWrite("gsi1", "ORDERS#01", 1)]
    assert index_writes(None, new, [ALL]) == [IndexWrite("gsi1", "ORDERS#01", 2)]


def test_a_new_item_without_the_index_key_writes_no_index() -> None:
    assert index_writes(None, _item(status="placed", blob=BIG), [ALL]) == []
    # A key attribute alone does not put an item in an index with a sort key.
    assert index_writes(None, _item(gsi1pk="ORDERS#01"), [ALL]) == []


def test_a_key_change_deletes_the_old_entry_and_puts_the_new_one() -> None:
    before = _item(gsi1pk="FOSTATUS#allocated", gsi1sk="2026#1", blob=BIG)
    after = _item(gsi1pk="FOSTATUS#picked", gsi1sk="2026#1", blob=BIG)
    assert index_writes(before, after, [KEYS_ONLY]) == [
        IndexWrite("gsi1", "FOSTATUS#allocated", 1),
        IndexWrite("gsi1", "FOSTATUS#picked", 1),
    ]
    # A sort key change alone moves the entry too.
    moved = _item(gsi1pk="FOSTATUS#allocated", gsi1sk="2026#2", blob=BIG)
    assert len(index_writes(before, moved, [ALL])) == 2


def test_a_key_removed_deletes_the_entry() -> None:
    before = _item(gsi1pk="EXCEPTIONS#open", gsi1sk="2026#1", status="open")
    after = _item(status="resolved")
    assert index_writes(before, after, [KEYS_ONLY]) == [IndexWrite("gsi1", "EXCEPTIONS#open", 1)]
    assert index_writes(before, None, [KEYS_ONLY]) == [IndexWrite("gsi1", "EXCEPTIONS#open", 1)]


def test_an_unprojected_attribute_change_writes_no_index_unless_all_is_projected() -> None:
    before = _item(gsi1pk="ORDERS#01", gsi1sk="2026#1", status="placed", updated_at="t1", blob=BIG)
    after = _item(gsi1pk="ORDERS#01", gsi1sk="2026#1", status="placed", updated_at="t2", blob=BIG)
    assert index_writes(before, after, [KEYS_ONLY]) == []
    assert index_writes(before, after, [INCLUDE]) == []
    assert index_writes(before, after, [ALL]) == [IndexWrite("gsi1", "ORDERS#01", 2)]


def test_a_projected_attribute_change_rewrites_the_entry_in_place() -> None:
    before = _item(gsi1pk="ORDERS#01", gsi1sk="2026#1", status="placed", blob=BIG)
    after = _item(gsi1pk="ORDERS#01", gsi1sk="2026#1", status="shipped", blob=BIG)
    assert index_writes(before, after, [INCLUDE]) == [IndexWrite("gsi1", "ORDERS#01", 1)]
    assert index_writes(before, after, [KEYS_ONLY]) == []


def test_setting_a_key_to_the_value_it_has_writes_no_index() -> None:
    item = _item(gsi1pk="ORDERS#01", gsi1sk="2026#1", status="placed", blob=BIG)
    assert index_writes(item, dict(item), [ALL, INCLUDE, KEYS_ONLY]) == []


def test_the_shape_comes_from_a_table_description() -> None:
    shape = IndexShape.from_description(
        {
            "IndexName": "gsi3",
            "KeySchema": [
                {"AttributeName": "gsi3pk", "KeyType": "HASH"},
                {"AttributeName": "gsi3sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
        }
    )
    assert shape == IndexShape("gsi3", "gsi3pk", "gsi3sk", "INCLUDE", frozenset({"status"}))


def streamed_table(projection: str, non_key: frozenset[str] = frozenset()) -> Any:
    """Table ``t`` in the emulator with one index (``gsi1``) of this projection and a stream,
    which the meter reads each write's before and after images from; its client."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": projection,
                    **({"NonKeyAttributes": sorted(non_key)} if non_key else {}),
                },
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return ddb


@mock_aws
def test_the_meter_sees_each_write_of_the_emulated_table_with_its_before_image() -> None:
    """moto's stream hands the meter every item before and after the write, for the
    projection the table was created with; a cancelled transaction leaves nothing."""
    ddb = streamed_table("KEYS_ONLY")
    meter = AwsMeter().attach("dynamodb")
    try:
        key = {"pk": {"S": "ORDER#1"}, "sk": {"S": "HEADER"}}
        ddb.put_item(TableName="t", Item=_item(gsi1pk="ORDERS#01", gsi1sk="2026#1", status="placed", blob=BIG))
        assert meter._take_index_writes() == [IndexWrite("gsi1", "ORDERS#01", 1)]
        ddb.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "shipped"}},
        )
        assert meter._take_index_writes() == []
        ddb.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": "ORDERS#01"}},
        )
        assert meter._take_index_writes() == []  # the same value again
        ddb.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": "ORDERS#02"}},
        )
        assert meter._take_index_writes() == [IndexWrite("gsi1", "ORDERS#01", 1), IndexWrite("gsi1", "ORDERS#02", 1)]
        ddb.delete_item(TableName="t", Key=key)
        assert meter._take_index_writes() == [IndexWrite("gsi1", "ORDERS#02", 1)]

        # A transaction moto applies in part, then cancels and rolls back, costs no index write.
        new = _item(gsi1pk="ORDERS#03", gsi1sk="2026#3")
        with pytest.raises(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "t", "Item": new}},
                    {
                        "ConditionCheck": {
                            "TableName": "t",
                            "Key": {"pk": {"S": "X"}, "sk": {"S": "Y"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
        meter._record(
            "dynamodb", "TransactWriteItems", "fn", {"TransactItems": []}, {"__type": "TransactionCanceledException"}
        )
        assert meter.index_write_units == 0
        assert meter._take_index_writes() == []
    finally:
        meter.detach()


@mock_aws
def test_the_meter_reads_a_stored_item_only_between_the_emulators_requests() -> None:
    """Sizing an update by the stored item read it while another request was changing that
    item ("dictionary changed size during iteration", which failed the metered request):
    the read waits for the emulator's lock."""
    ddb = streamed_table("KEYS_ONLY")
    ddb.put_item(TableName="t", Item=_item(status="placed"))
    meter = AwsMeter()
    read = threading.Event()
    sizes: list[int] = []

    def size() -> None:
        sizes.append(meter._stored_size("t", {"pk": {"S": "ORDER#1"}, "sk": {"S": "HEADER"}}))
        read.set()

    with moto_patches.dynamodb_lock():  # a request is being applied
        reader = threading.Thread(target=size)
        reader.start()
        assert not read.wait(0.3)
    assert read.wait(5)
    reader.join()
    assert sizes[0] > 0


@mock_aws
@pytest.mark.parametrize("shape", [KEYS_ONLY, INCLUDE, ALL], ids=lambda shape: shape.projection)
def test_the_meter_counts_an_emulated_write_as_the_rule_counts_its_whole_images(shape: IndexShape) -> None:
    """Through the emulator's stream the meter counts each write as the rule counts its
    before and after images, for every projection (the other tests here use KEYS_ONLY)."""
    ddb = streamed_table(shape.projection, shape.attributes)
    meter = AwsMeter().attach("dynamodb")
    try:
        first = _item(gsi1pk="ORDERS#01", gsi1sk="2026#1", status="placed", blob=BIG)
        images = [
            first,
            first | {"status": {"S": "shipped"}},  # projected by INCLUDE and ALL
            first | {"status": {"S": "shipped"}, "blob": {"S": BIG + "y"}},  # projected by ALL only
            first | {"status": {"S": "shipped"}, "blob": {"S": BIG + "y"}, "gsi1sk": {"S": "2026#2"}},
        ]
        before: dict[str, Any] | None = None
        for image in images:
            ddb.put_item(TableName="t", Item=image)
            assert meter._take_index_writes() == index_writes(before, image, [shape])
            before = image
    finally:
        meter.detach()
