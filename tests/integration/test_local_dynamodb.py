"""The local stack's DynamoDB behaves as DynamoDB where the OMS depends on it."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local import moto_patches
from shared.table import ConditionFailed, Table


def test_a_refused_transaction_writes_nothing_and_streams_nothing(aws):
    table = Table()
    table.put({"pk": "A", "sk": "1", "type": "x"})
    moto_patches.wait_for_streams()
    before = len(_shard_records(aws))
    with pytest.raises(ConditionFailed) as err:
        table.transact(
            [
                {"Put": {"Item": {"pk": "B", "sk": "1", "type": "x"}}},
                {
                    "Put": {
                        "Item": {"pk": "A", "sk": "1", "type": "x"},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert err.value.reasons == ["None", "ConditionalCheckFailed"]
    assert table.get("B", "1") is None
    moto_patches.wait_for_streams()
    assert len(_shard_records(aws)) == before


def test_conditional_updates_never_oversell_under_threads(aws):
    table = Table()
    table.put({"pk": "STOCK", "sk": "X", "type": "x", "left": 10})
    granted = []

    def take() -> None:
        for _ in range(10):
            try:
                table.update(
                    "STOCK",
                    "X",
                    "SET #l = #l - :one",
                    values={":one": 1, ":zero": 0},
                    names={"#l": "left"},
                    condition="#l > :zero",
                )
                granted.append(1)
            except ConditionFailed:
                pass

    threads = [threading.Thread(target=take) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 10
    assert table.get("STOCK", "X")["left"] == 0


def test_query_results_round_trip_every_attribute_type(aws):
    table = Table()
    item = {
        "pk": "T",
        "sk": "1",
        "type": "x",
        "n": 12345678901234567890,
        "f": 52.52,
        "s": "ü",
        "b": True,
        "l": [1, "a", {"m": 2}],
        "m": {"nested": {"deep": [0]}},
        "none": None,
    }
    table.put(item)
    items, _ = table.query("pk = :pk", {":pk": "T"})
    assert items == [{k: v for k, v in item.items() if v is not None}]


def test_transactions_past_100_items_are_refused(aws):
    with pytest.raises(ValueError):
        Table().transact([{"Put": {"Item": {"pk": f"P{i}", "sk": "1"}}} for i in range(101)])
    client = boto3.client("dynamodb")
    with pytest.raises(ClientError):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": aws.table_name, "Item": {"pk": {"S": f"P{i}"}, "sk": {"S": "1"}}}}
                for i in range(101)
            ]
        )


def _shard_records(aws):
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(aws.table_name)
    return table.stream_shard.items


def test_a_query_pages_by_the_items_sizes_after_they_grew(aws):
    """An item's size is kept between writes (moto_patches 26): an update that grows it, in
    a transaction or alone, moves the 1 MB page boundary as DynamoDB's would."""
    client = boto3.client("dynamodb")
    kilobytes = 100
    for n in range(4):
        client.put_item(
            TableName=aws.table_name,
            Item={"pk": {"S": "BIG"}, "sk": {"S": str(n)}, "payload": {"S": "x" * kilobytes * 1000}},
        )

    def first_page() -> int:
        return len(client.query(**_partition_query(aws, "BIG"))["Items"])

    assert first_page() == 4  # 400 KB: one page, every size now kept
    grown = {":payload": {"S": "y" * 300_000}}
    client.update_item(
        TableName=aws.table_name,
        Key={"pk": {"S": "BIG"}, "sk": {"S": "0"}},
        UpdateExpression="SET payload = :payload",
        ExpressionAttributeValues=grown,
    )
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": aws.table_name,
                    "Key": {"pk": {"S": "BIG"}, "sk": {"S": str(n)}},
                    "UpdateExpression": "SET payload = :payload",
                    "ExpressionAttributeValues": grown,
                }
            }
            for n in (1, 2)
        ]
    )
    assert first_page() == 3  # 3 x 300 KB, and the fourth item would pass 1 MB


def _partition_query(aws, pk: str) -> dict:
    return {
        "TableName": aws.table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }


@pytest.mark.parametrize(
    ("names", "refused"),
    [
        ({"#a": "pk", "#b": "other"}, "part of the key"),
        ({"#a": "same", "#b": "same"}, "Two document paths overlap"),
    ],
)
def test_an_update_expression_checked_once_is_still_refused_with_other_names(aws, names, refused):
    """The checks of an expression and its names are kept per expression and names
    (moto_patches 27): the same expression that passed with some names fails with others."""
    client = boto3.client("dynamodb")
    update = {
        "TableName": aws.table_name,
        "Key": {"pk": {"S": "CHECKED"}, "sk": {"S": "1"}},
        "UpdateExpression": "SET #a = :a, #b = :b",
        "ExpressionAttributeValues": {":a": {"S": "x"}, ":b": {"S": "y"}},
    }
    for _ in range(2):
        client.update_item(**update, ExpressionAttributeNames={"#a": "first", "#b": "second"})
    for _ in range(2):
        with pytest.raises(ClientError, match=refused):
            client.update_item(**update, ExpressionAttributeNames=names)
    assert client.get_item(TableName=aws.table_name, Key=update["Key"])["Item"]["first"] == {"S": "x"}


def test_a_condition_parsed_once_is_evaluated_with_each_requests_names_and_values(aws):
    """Conditions are parsed once per expression, names and the values they name
    (moto_patches 33): the same expression with other values or names decides anew."""
    client = boto3.client("dynamodb")
    key = {"pk": {"S": "VERSIONED"}, "sk": {"S": "1"}}
    client.put_item(TableName=aws.table_name, Item={**key, "version": {"N": "1"}, "state": {"S": "open"}})

    def bump(seen: str, names: dict[str, str]) -> bool:
        try:
            client.update_item(
                TableName=aws.table_name,
                Key=key,
                UpdateExpression="SET version = version + :one",
                ConditionExpression="#f = :seen",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":one": {"N": "1"}, ":seen": {"N": seen} if seen.isdigit() else {"S": seen}},
            )
            return True
        except ClientError as refused:
            assert refused.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False

    version = {"#f": "version"}
    assert [bump("1", version), bump("1", version), bump("2", version), bump("9", version)] == [
        True,
        False,
        True,
        False,
    ]
    assert [bump("open", {"#f": "state"}), bump("closed", {"#f": "state"})] == [True, False]
    assert client.get_item(TableName=aws.table_name, Key=key)["Item"]["version"] == {"N": "4"}


def _stored_item(aws, pk: str, sk: str):
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(aws.table_name)
    return table.get_item(DynamoType({"S": pk}), DynamoType({"S": sk}))


def test_an_item_is_answered_as_it_is_after_every_kind_of_write(aws):
    """An item's answered form is kept until an update changes it (moto_patches 38): every
    read after a write, whatever wrote it, answers the item as it is."""
    client = boto3.client("dynamodb")
    key = {"pk": {"S": "KEPT"}, "sk": {"S": "1"}}
    expected = {**key, "n": {"N": "1"}, "tags": {"L": [{"S": "a"}]}, "note": {"S": "first"}}
    client.put_item(TableName=aws.table_name, Item=expected)

    def answered() -> list[dict | None]:
        got = client.get_item(TableName=aws.table_name, Key=key).get("Item")
        queried = client.query(**_partition_query(aws, "KEPT"))["Items"]
        batch = client.batch_get_item(RequestItems={aws.table_name: {"Keys": [key]}})["Responses"][aws.table_name]
        return [got, *queried, *batch]

    def update(**request) -> None:
        client.update_item(TableName=aws.table_name, Key=key, **request)

    assert answered() == [expected] * 3
    assert answered() == [expected] * 3  # answered again from the kept form
    update(UpdateExpression="SET n = n + :one", ExpressionAttributeValues={":one": {"N": "1"}})
    expected = {**expected, "n": {"N": "2"}}
    assert answered() == [expected] * 3
    update(
        UpdateExpression="SET tags = list_append(tags, :more)", ExpressionAttributeValues={":more": {"L": [{"S": "b"}]}}
    )
    expected = {**expected, "tags": {"L": [{"S": "a"}, {"S": "b"}]}}
    assert answered() == [expected] * 3
    client.transact_write_items(
        TransactItems=[{"Update": {"TableName": aws.table_name, "Key": key, "UpdateExpression": "REMOVE note"}}]
    )
    expected = {k: v for k, v in expected.items() if k != "note"}
    assert answered() == [expected] * 3
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        update(
            UpdateExpression="SET n = :n",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":n": {"N": "9"}},
        )
    assert answered() == [expected] * 3
    replaced = {**key, "n": {"N": "7"}}
    client.put_item(TableName=aws.table_name, Item=replaced)
    assert answered() == [replaced] * 3
    client.delete_item(TableName=aws.table_name, Key=key)
    assert answered() == [None]


def test_an_items_answered_form_is_built_once_between_updates(aws):
    client = boto3.client("dynamodb")
    key = {"pk": {"S": "ONCE"}, "sk": {"S": "1"}}
    client.put_item(TableName=aws.table_name, Item={**key, "n": {"N": "1"}})
    item = _stored_item(aws, "ONCE", "1")
    first = moto_patches._to_dict(item.attrs)
    assert moto_patches._to_dict(item.attrs) is first
    client.update_item(
        TableName=aws.table_name, Key=key, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "2"}}
    )
    assert moto_patches._to_dict(item.attrs) is not first
    assert moto_patches._to_dict(item.attrs)["n"] == {"N": "2"}


def test_an_answer_is_the_json_of_its_result_with_each_items_text_written_once(aws):
    client = boto3.client("dynamodb")
    item = {
        "pk": {"S": "TEXT"},
        "sk": {"S": "1"},
        "name": {"S": 'Zoë "quoted" \\ back'},
        "n": {"N": "12.50"},
        "blob": {"B": b"\x00\xff"},
        "tags": {"SS": ["a", "b"]},
        "nested": {"M": {"list": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
    }
    client.put_item(TableName=aws.table_name, Item=item)
    stored = _stored_item(aws, "TEXT", "1")
    answered = moto_patches._to_dict(stored.attrs)
    results = [
        {"Item": answered},
        {"Count": 1, "ScannedCount": 1, "Items": [answered], "LastEvaluatedKey": {"pk": {"S": "TEXT"}}},
        {"Responses": {aws.table_name: [answered]}, "UnprocessedKeys": {}, "ConsumedCapacity": []},
        {"Attributes": {"n": {"N": "1"}}},
    ]
    for result in results:
        assert moto_patches._answer_text(result) == moto_patches._json(result)
    assert moto_patches._item_text(answered) is moto_patches._item_text(answered)  # written once
    got = client.get_item(TableName=aws.table_name, Key={"pk": item["pk"], "sk": item["sk"]})["Item"]
    assert got == item


def test_an_updates_stream_record_shows_the_item_before_and_after_it(aws):
    """A record's images are the item's answered values (moto_patches 38): the old image the
    values kept from before the update, the new one made for the record and kept for the
    reads after it. Taken before the in-place update, the new image would show the old item."""
    from moto.dynamodb.models import dynamodb_backends

    client = boto3.client("dynamodb")
    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(aws.table_name)
    key = {"pk": {"S": "IMAGES"}, "sk": {"S": "1"}}

    def last_record() -> dict:
        moto_patches.wait_for_streams()
        return table.stream_shard.items[-1].record["dynamodb"]

    def read() -> dict | None:
        return client.get_item(TableName=aws.table_name, Key=key, ConsistentRead=True).get("Item")

    # An update of an item not there yet writes it.
    client.update_item(
        TableName=aws.table_name, Key=key, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}}
    )
    before = {**key, "n": {"N": "1"}}
    assert read() == before and last_record()["NewImage"] == before and "OldImage" not in last_record()
    bump = {
        "UpdateExpression": "SET n = n + :one, tags = list_append(if_not_exists(tags, :empty), :tag)",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":empty": {"L": []}, ":tag": {"L": [{"S": "t"}]}},
    }
    for n in (2, 3, 4):  # moto's path first, then the plan compiled from it (update_plans)
        assert read() == before  # the answered values are kept on the item now
        client.update_item(TableName=aws.table_name, Key=key, **bump)
        after = {**key, "n": {"N": str(n)}, "tags": {"L": [{"S": "t"}] * (n - 1)}}
        record = last_record()
        assert (record["OldImage"], record["NewImage"]) == (before, after)
        assert type(record["NewImage"]) is dict and type(record["OldImage"]) is dict  # crosses to a function as it is
        assert read() == after
        before = after
    client.transact_write_items(
        TransactItems=[{"Update": {"TableName": aws.table_name, "Key": key, "UpdateExpression": "REMOVE tags"}}]
    )
    after = {**key, "n": {"N": "4"}}
    assert (last_record()["OldImage"], last_record()["NewImage"]) == (before, after)
    assert read() == after
    client.delete_item(TableName=aws.table_name, Key=key)
    assert last_record()["OldImage"] == after and "NewImage" not in last_record() and read() is None
