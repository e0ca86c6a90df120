"""The indexes project keys only: a Query on an index reads the items by key, in the index's
order, and leaves out an item deleted or moved on in the index since its entry was read."""

from __future__ import annotations

import random
from typing import Any

import boto3

from functions.capture.store import OrderFilter, list_orders
from infra import manifest
from shared.aws import client
from shared.order import keys
from shared.table import Table
from tests.integration.test_order_index_shards import seed


def _entry(item: dict[str, Any], index: str) -> dict[str, Any]:
    return {k: item[k] for k in ("pk", "sk", f"{index}pk", f"{index}sk")}


def test_every_index_of_the_provisioned_table_projects_keys_only(aws: Any) -> None:
    table = boto3.client("dynamodb").describe_table(TableName=aws.table_name)["Table"]
    projections = {ix["IndexName"]: ix["Projection"] for ix in table["GlobalSecondaryIndexes"]}
    assert projections == {ix.name: {"ProjectionType": "KEYS_ONLY"} for ix in manifest.TABLE.indexes}
    header = seed(1)[0]
    entries, _ = Table().query("gsi3pk = :p", {":p": header["gsi3pk"]}, index="gsi3", keys_only=True)
    assert entries == [_entry(header, "gsi3")]  # the entry has no status, no channel: only keys


def test_hydrate_keeps_the_index_order_over_several_batches(aws: Any) -> None:
    table = Table()
    items = [
        {"pk": f"THING#{n:04d}", "sk": "THING", "gsi1pk": "THINGS", "gsi1sk": f"{n:04d}", "n": n} for n in range(230)
    ]
    table.batch_put(items)
    entries = [_entry(i, "gsi1") for i in items]
    random.Random(3).shuffle(entries)
    hydrated = table.hydrate(entries, index_keys=("gsi1pk", "gsi1sk"))
    assert [i["n"] for i in hydrated] == [int(e["gsi1sk"]) for e in entries]


def test_hydrate_leaves_out_an_item_deleted_or_moved_on_since_its_entry_was_read(aws: Any) -> None:
    table = Table()
    items = [
        {"pk": f"FO#{n}", "sk": "FO", "gsi3pk": "FOSTATUS#allocated", "gsi3sk": f"t#{n}", "status": "allocated"}
        for n in range(3)
    ]
    table.batch_put(items)
    entries = [_entry(i, "gsi3") for i in items]  # read while all three were allocated
    table.update(
        "FO#1",
        "FO",
        "SET #s = :s, gsi3pk = :p",
        names={"#s": "status"},
        values={":s": "accepted", ":p": "FOSTATUS#accepted"},
    )
    table.batch_delete([("FO#2", "FO")])
    assert [i["pk"] for i in table.hydrate(entries, index_keys=("gsi3pk", "gsi3sk"))] == ["FO#0"]
    # The list by status read now: the index and the items agree.
    listed, _ = table.query("gsi3pk = :p", {":p": "FOSTATUS#allocated"}, index="gsi3")
    assert [i["pk"] for i in listed] == ["FO#0"]


def test_a_list_by_status_shows_an_order_under_its_current_status_only(aws: Any) -> None:
    headers = seed(40, seed=11)
    moved = next(h for h in headers if h["status"] == "open")
    Table().update(moved["pk"], keys.ORDER_HEADER, "SET #s = :s", names={"#s": "status"}, values={":s": "shipped"})
    opened = _all_pages(OrderFilter(status="open"))
    shipped = _all_pages(OrderFilter(status="shipped"))
    assert moved["order_id"] not in {h["order_id"] for h in opened}
    assert moved["order_id"] in {h["order_id"] for h in shipped}
    assert all(h["status"] == "open" for h in opened)
    assert len(opened) == sum(1 for h in headers if h["status"] == "open") - 1


def test_a_page_reads_as_items_only_the_entries_it_returns(aws: Any, monkeypatch: Any) -> None:
    seed(60, seed=5)
    asked: list[int] = []
    batch_get = Table.batch_get

    def counting(self: Table, keys_: Any, **kwargs: Any) -> Any:
        wanted = list(keys_)
        asked.append(len(wanted))
        return batch_get(self, wanted, **kwargs)

    monkeypatch.setattr(Table, "batch_get", counting)
    items, cursor = list_orders(OrderFilter(), limit=10, cursor=None)
    assert len(items) == 10 and cursor
    assert sum(asked) == 10  # the 16 shards' entries merged, only the page's 10 read


def _all_pages(flt: OrderFilter) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        items, cursor = list_orders(flt, limit=7, cursor=cursor)
        out.extend(items)
        if not cursor:
            return out


def test_a_filtered_page_reads_its_candidates_a_batch_at_a_time(aws: Any, monkeypatch: Any) -> None:
    headers = seed(150, seed=9)
    calls: list[int] = []
    batch_get = Table.batch_get

    def counting(self: Table, keys_: Any, **kwargs: Any) -> Any:
        wanted = list(keys_)
        calls.append(len(wanted))
        return batch_get(self, wanted, **kwargs)

    monkeypatch.setattr(Table, "batch_get", counting)
    items, _ = list_orders(OrderFilter(status="cancelled"), limit=20, cursor=None)
    cancelled = sorted((h for h in headers if h["status"] == "cancelled"), key=lambda h: h["gsi3sk"], reverse=True)
    assert [i["order_id"] for i in items] == [h["order_id"] for h in cancelled[:20]]
    # About one in five is cancelled: ~100 candidates, read 20 or more at a time.
    assert all(n >= 20 for n in calls[:-1]) and len(calls) <= 8


def test_hydrate_asks_again_for_the_keys_dynamodb_left_unprocessed(aws: Any, monkeypatch: Any) -> None:
    table = Table()
    items = [{"pk": f"THING#{n:04d}", "sk": "THING", "gsi1pk": "THINGS", "gsi1sk": f"{n:04d}"} for n in range(150)]
    table.batch_put(items)
    ddb = client("dynamodb")
    real = ddb.batch_get_item
    requested: list[int] = []

    def holding_back(**kwargs: Any) -> Any:
        ((name, request),) = kwargs["RequestItems"].items()
        requested.append(len(request["Keys"]))
        out = real(**kwargs)
        if len(requested) == 1:  # DynamoDB answers part of a request under load or past 16 MB
            got = out["Responses"][name]
            out["Responses"][name] = got[:40]
            held = [{"pk": i["pk"], "sk": i["sk"]} for i in got[40:]]
            out["UnprocessedKeys"] = {name: {"Keys": held, "ConsistentRead": False}}
        return out

    monkeypatch.setattr(ddb, "batch_get_item", holding_back)
    hydrated = table.hydrate([_entry(i, "gsi1") for i in items], index_keys=("gsi1pk", "gsi1sk"))
    assert [i["gsi1sk"] for i in hydrated] == [i["gsi1sk"] for i in items]
    assert requested == [100, 60, 50]  # the first chunk's 60 held back asked again, then the rest
