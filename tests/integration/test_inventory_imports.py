"""Bulk stock import through the StockImport queue, with moto delivering to the consumer."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.inventory.handlers import stock_import
from functions.inventory.logic.imports import CHUNK_ROWS, ImportChunk
from functions.inventory.store import get_stock, set_stock
from functions.inventory.store import imports as import_records
from infra.local import moto_patches
from infra.local.runtime import LambdaContext
from tests.integration.test_inventory_api import put_location, put_stock, request

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:00:00Z"


def post_import(rows, key="dev-wms-key"):
    """Post an import and let the local queue poller hand every chunk to the consumer."""
    answer = request("POST", "/v1/inventory/imports", "/v1/inventory/imports", key=key, body={"rows": rows})
    assert moto_patches.wait_for_queues(30)
    return answer


def get_import(import_id, key="dev-wms-key", **query):
    return request(
        "GET",
        f"/v1/inventory/imports/{import_id}",
        "/v1/inventory/imports/{import_id}",
        key=key,
        params={"import_id": import_id},
        query=query or None,
    )


def deliver(chunk: ImportChunk) -> dict:
    """The consumer receiving one message, as the SQS event source mapping sends it."""
    record = {
        "messageId": f"m-{chunk.chunk}",
        "receiptHandle": "r",
        "body": chunk.model_dump_json(),
        "attributes": {"ApproximateReceiveCount": "2"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:oms-StockImport",
        "awsRegion": "us-east-1",
    }
    return stock_import.handler({"Records": [record]}, LambdaContext(function_name="test"))


def test_import_applies_good_rows_and_reports_each_bad_one(aws):
    put_location("wh-east")
    put_location("wh-west")
    put_location("store-1", type="store")
    put_stock("wh-west", "OLD", {"on_hand": 9, "as_of": T1})
    rows = [{"location_id": "wh-east", "sku": f"SKU-{i}", "on_hand": i, "as_of": T0} for i in range(120)]
    rows[3] = {"location_id": "wh-east", "sku": "SKU-3", "on_hand": -1, "as_of": T0}
    rows[60] = {"location_id": "wh-central", "sku": "SKU-60", "on_hand": 1, "as_of": T0}  # never defined
    rows[61] = {"location_id": "store-1", "sku": "SKU-61", "on_hand": 1, "as_of": T0}  # not this WMS's
    rows[62] = {"location_id": "wh-west", "sku": "OLD", "on_hand": 1, "as_of": T0}  # stale
    rows[63] = {"sku": "SKU-63"}
    rows[119] = {"location_id": "wh-east", "sku": "SKU-119", "on_hand": 1, "as_of": T0, "colour": "red"}

    status, _, view = post_import(rows)
    assert status == 202, view
    assert view["import_id"].startswith("imp_")
    status, _, view = get_import(view["import_id"])
    assert status == 200
    assert view["status"] == "completed"
    assert view["counts"] == {"rows": 120, "applied": 114, "ignored_stale": 1, "failed": 5}
    failed = {row["row"]: row for row in view["failed_rows"]}
    assert sorted(failed) == [4, 61, 62, 64, 120]
    assert failed[4]["location_id"] == "wh-east" and "on_hand" in failed[4]["reason"]
    assert failed[61]["reason"] == "unknown location wh-central"
    assert "may not change stock at store-1" in failed[62]["reason"]
    assert failed[64]["sku"] == "SKU-63" and failed[64]["location_id"] is None
    assert "location_id" in failed[64]["reason"] and "as_of" in failed[64]["reason"]
    assert "colour" in failed[120]["reason"]
    assert get_stock("SKU-5", "wh-east").on_hand == 5
    assert get_stock("SKU-3", "wh-east") is None
    assert get_stock("OLD", "wh-west").on_hand == 9

    status, _, page = get_import(view["import_id"], limit="2")
    assert [r["row"] for r in page["failed_rows"]] == [4, 61] and page["next_cursor"]
    status, _, page = get_import(view["import_id"], limit="3", cursor=page["next_cursor"])
    assert [r["row"] for r in page["failed_rows"]] == [62, 64, 120]


def test_a_redelivered_chunk_is_not_counted_twice(aws):
    put_location("wh-east")
    rows = [{"location_id": "wh-east", "sku": f"R-{i}", "on_hand": 2, "as_of": T0} for i in range(CHUNK_ROWS + 1)]
    _, _, view = post_import(rows, key="dev-ops-key")
    import_id = view["import_id"]
    before = get_import(import_id, key="dev-ops-key")[2]
    assert before["counts"] == {"rows": 51, "applied": 51, "ignored_stale": 0, "failed": 0}
    item = import_records.get_import(import_id)
    again = ImportChunk(
        import_id=import_id, chunk=1, first_row=1, rows=rows[:CHUNK_ROWS], locations=None, expires=item["ttl"]
    )
    assert deliver(again) == {"batchItemFailures": []}
    assert get_import(import_id, key="dev-ops-key")[2] == before


def test_a_chunk_that_failed_after_applying_rows_counts_them_once_when_it_comes_back(aws):
    put_location("wh-east")
    import_records.record_import("imp_test", rows=3, chunks=1, created_by="wms-main", created_at=T0, expires=2**31)
    rows = [{"location_id": "wh-east", "sku": f"C-{i}", "on_hand": 4, "safety_stock": 1, "as_of": T0} for i in range(3)]
    chunk = ImportChunk(import_id="imp_test", chunk=1, first_row=1, rows=rows, locations=["wh-east"], expires=2**31)
    # The first delivery applied two rows, then the function died before counting.
    set_stock("wh-east", "C-0", 4, 1, T0)
    set_stock("wh-east", "C-1", 4, 1, T0)
    assert deliver(chunk) == {"batchItemFailures": []}
    _, _, view = get_import("imp_test")
    assert view["status"] == "completed"
    assert view["counts"] == {"rows": 3, "applied": 3, "ignored_stale": 0, "failed": 0}


def test_a_malformed_message_fails_and_goes_back_to_the_queue(aws):
    record = {"messageId": "m-1", "receiptHandle": "r", "body": json.dumps({"rows": []}), "attributes": {}}
    record |= {"messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1"}
    record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:oms-StockImport"
    # A batch that fails whole is an error: the message becomes visible again, then goes to the DLQ.
    with pytest.raises(BatchProcessingError):
        stock_import.handler({"Records": [record]}, LambdaContext(function_name="test"))


def test_import_roles_and_limits(aws):
    row = {"location_id": "wh-east", "sku": "A", "on_hand": 1, "as_of": T0}
    assert post_import([row], key="dev-web-key")[0] == 403
    assert post_import([row], key="dev-agent-key")[0] == 403
    assert post_import([])[0] == 422
    assert post_import([row, "not an object"])[0] == 422  # rows are objects; their fields are checked one by one
    assert post_import([row] * 10_001)[0] == 422
    _, _, view = post_import([row])
    assert get_import(view["import_id"], key="dev-web-key")[0] == 403
    assert get_import(view["import_id"], key="dev-agent-key")[0] == 200
    assert get_import("imp_unknown")[0] == 404
