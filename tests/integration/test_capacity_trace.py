"""The capacity trace's recorder on moto: which partitions a request touches, and its units."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra import manifest
from tests.benchmarks.capacity_trace import TraceRecorder

TABLE = "CapacityTrace"
ORDER = "ORDER#ord_01jc0m2x3y4z5a6b7c8d9e0f1g"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        attrs = ["pk", "sk"] + [a for ix in manifest.TABLE.indexes for a in (ix.pk, ix.sk)]
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attrs],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": ix.name,
                    "KeySchema": [
                        {"AttributeName": ix.pk, "KeyType": "HASH"},
                        {"AttributeName": ix.sk, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for ix in manifest.TABLE.indexes
            ],
            # The recorder sees each item before and after a write through the stream.
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


@pytest.fixture
def recorder() -> Iterator[TraceRecorder]:
    attached = TraceRecorder().attach("dynamodb")
    yield attached
    attached.detach()


def _send(recorder: TraceRecorder, client: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Make the request, then hand it to the recorder as the emulator would."""
    method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
    answer: dict[str, Any] = getattr(client, method)(**params)
    recorder.observe("dynamodb", operation, "CaptureApi", params, answer)
    return answer


def _partitions(phase: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    return {(p["index"], p["key"]): p for p in phase["dynamodb"]["partitions"]}


def test_writes_touch_the_base_partition_and_every_index_the_item_enters_or_leaves(
    ddb: Any, recorder: TraceRecorder
) -> None:
    fo = {
        "pk": {"S": ORDER},
        "sk": {"S": "FO#fo_01jc0m2x3y4z5a6b7c8d9e0f1g"},
        "gsi1pk": {"S": "FOLOC#wh-east"},
        "gsi1sk": {"S": "allocated#2026-12-02T00:00:00Z"},
        "gsi3pk": {"S": "FOSTATUS#allocated"},
        "gsi3sk": {"S": "2026-12-02T00:00:00Z"},
    }
    before = recorder.begin()
    _send(recorder, ddb, "PutItem", {"TableName": TABLE, "Item": fo})
    # The status moves: gsi3 leaves FOSTATUS#allocated and enters FOSTATUS#accepted; gsi1's
    # sort key changes within its partition (its entry deleted and put again).
    _send(
        recorder,
        ddb,
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": fo["pk"], "sk": fo["sk"]},
                        "UpdateExpression": "SET gsi3pk = :s, gsi1sk = :k",
                        "ExpressionAttributeValues": {":s": {"S": "FOSTATUS#accepted"}, ":k": {"S": "accepted#x"}},
                    }
                }
            ]
        },
    )
    phase = recorder.end(before, orders=1, transitions=0, api_requests=0)
    parts = _partitions(phase)
    # Base item: 1 WCU for the put, 2 for the transactional update (items far below 1 KB).
    assert parts[("table", "ORDER#{order}")]["wcu"] == 3
    assert parts[("table", "ORDER#{order}")]["writes"] == 2
    assert parts[("gsi1", "FOLOC#{location}#{shard}")]["writes"] == 3
    assert parts[("gsi3", "FOSTATUS#allocated")]["writes"] == 2  # entered, then the old entry deleted
    assert parts[("gsi3", "FOSTATUS#accepted")]["writes"] == 1
    assert ("gsi2", "FO#{fo}") not in parts  # the item carries no gsi2 key


def test_a_write_that_changes_no_index_key_or_projected_attribute_writes_no_index(
    ddb: Any, recorder: TraceRecorder
) -> None:
    header = {
        "pk": {"S": ORDER},
        "sk": {"S": "HEADER"},
        "gsi3pk": {"S": "ORDERS#07"},
        "gsi3sk": {"S": "2026-12-02T00:00:00Z"},
        "status": {"S": "placed"},
    }
    _send(recorder, ddb, "PutItem", {"TableName": TABLE, "Item": header})
    before = recorder.begin()
    # The same key again, and a status the ALL projection of this table carries.
    _send(
        recorder,
        ddb,
        "UpdateItem",
        {
            "TableName": TABLE,
            "Key": {"pk": header["pk"], "sk": header["sk"]},
            "UpdateExpression": "SET gsi3pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "ORDERS#07"}},
        },
    )
    assert not [key for key in _partitions(recorder.end(before, 1, 0, 0)) if key[0] != "table"]
    before = recorder.begin()
    _send(
        recorder,
        ddb,
        "UpdateItem",
        {
            "TableName": TABLE,
            "Key": {"pk": header["pk"], "sk": header["sk"]},
            "UpdateExpression": "SET #s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "shipped"}},
        },
    )
    assert _partitions(recorder.end(before, 1, 0, 0))[("gsi3", "ORDERS#{shard}")]["writes"] == 1


def test_a_query_is_charged_to_its_index_and_key_class_at_half_for_eventual_reads(
    ddb: Any, recorder: TraceRecorder
) -> None:
    for n in range(3):
        item = {
            "pk": {"S": f"ORDER#ord_01jc0m2x3y4z5a6b7c8d9e0f{n}g"},
            "sk": {"S": "HEADER"},
            "gsi3pk": {"S": "ORDERS#07"},
            "gsi3sk": {"S": f"2026-12-02T00:00:0{n}Z"},
            "payload": {"S": "x" * 3000},
        }
        _send(recorder, ddb, "PutItem", {"TableName": TABLE, "Item": item})
    before = recorder.begin()
    _send(
        recorder,
        ddb,
        "Query",
        {
            "TableName": TABLE,
            "IndexName": "gsi3",
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": "gsi3pk"},
            "ExpressionAttributeValues": {":p": {"S": "ORDERS#07"}},
        },
    )
    phase = recorder.end(before, orders=1, transitions=0, api_requests=0)
    query = _partitions(phase)[("gsi3", "ORDERS#{shard}")]
    # About 9 KB read: 3 units of 4 KB, half for an eventually consistent read.
    assert query["rcu"] == 1.5
    assert recorder.shards_seen == {"ORDERS#07"}


def test_a_failed_condition_costs_the_item_its_units_and_writes_no_index(ddb: Any, recorder: TraceRecorder) -> None:
    stock = {"pk": {"S": "SKU#TEE-M"}, "sk": {"S": "LOC#wh-east#B2"}, "available": {"N": "0"}}
    ddb.put_item(TableName=TABLE, Item=stock)
    before = recorder.begin()
    params = {
        "TableName": TABLE,
        "Key": {"pk": stock["pk"], "sk": stock["sk"]},
        "UpdateExpression": "SET available = available - :q, gsi1pk = :g",
        "ConditionExpression": "available >= :q",
        "ExpressionAttributeValues": {":q": {"N": "1"}, ":g": {"S": "NEVER"}},
    }
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(**params)
    recorder.observe("dynamodb", "UpdateItem", "AllocateOrder", params, {"__type": "ConditionalCheckFailedException"})
    phase = recorder.end(before, orders=1, transitions=0, api_requests=0)
    parts = _partitions(phase)
    # A bucket suffix on the sort key is kept: each bucket item takes its own share.
    assert parts[("table", "SKU#{sku}#B{bucket}")]["wcu"] == 1
    assert not [key for key in parts if key[0] != "table"]
    assert recorder.buckets_seen == {2}
