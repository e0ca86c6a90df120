"""A location's work read across the shards of its index: the same pages and order (by
status name, oldest first within a status) as one partition gave, the cursor going on
without a duplicate or a gap; fulfillment orders written before sharding are listed and
migrated."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.fulfill import store
from functions.fulfill.api import migrate_legacy_location_index
from shared.clock import iso
from shared.shards import shard_of
from shared.table import Table, encode_cursor

STATUSES = ("allocated", "allocated", "accepted", "picked", "packed", "fulfilled", "cancelled")
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def seed(count: int, *, location: str = "wh-east", legacy: int = 0, rng_seed: int = 3) -> list[dict[str, Any]]:
    """``count`` fulfillment orders of one location, many created at the same instant (their
    id orders them), the last ``legacy`` of them in the unsharded partition."""
    rng = random.Random(rng_seed)
    items = []
    for n in range(count):
        fo_id = f"fo_{rng.getrandbits(64):016x}{n:04d}"
        at = iso(START + timedelta(minutes=rng.randrange(0, 600, 9)))
        fo = store.new_fulfillment_order(f"ord_{n:06d}", fo_id, location, "dg1", [], [], at)
        status = rng.choice(STATUSES)
        fo |= {"status": status, "gsi1sk": store.location_index_sk(status, at, fo_id)}
        if n >= count - legacy:
            fo["gsi1pk"] = store.legacy_location_index_pk(location)
        items.append(fo)
    Table().batch_put(items)
    return items


def expected(items: list[dict[str, Any]], status: str | None) -> list[str]:
    return [i["fo_id"] for i in sorted(items, key=lambda i: i["gsi1sk"]) if status is None or i["status"] == status]


def pages(location: str, status: str | None, limit: int) -> list[list[str]]:
    out: list[list[str]] = []
    cursor: str | None = None
    for _ in range(300):
        items, cursor = store.list_fulfillment_orders(
            location_id=location, status=status, within=None, limit=limit, cursor=cursor
        )
        out.append([i["fo_id"] for i in items])
        if not cursor:
            return out
    raise AssertionError("no last page")


def assert_paged_like_a_sort(items: list[dict[str, Any]], status: str | None, limit: int) -> None:
    got = pages("wh-east", status, limit)
    flat = [fo_id for page in got for fo_id in page]
    assert flat == expected(items, status), (status, limit)
    assert all(len(page) == limit for page in got[:-1]), [len(p) for p in got]


def test_the_shard_of_a_fulfillment_order_is_a_digest_of_its_id(aws):
    items = seed(80)
    shards = Counter(i["gsi1pk"] for i in items)
    assert set(shards) == set(store.location_index_pks("wh-east")[: store.LOCATION_INDEX_SHARDS])
    for i in items:
        assert i["gsi1pk"] == f"FOLOC#wh-east#{shard_of(i['fo_id'], store.LOCATION_INDEX_SHARDS):02d}"


@pytest.mark.parametrize("limit", [3, pytest.param(1, marks=pytest.mark.slow)])
def test_pages_of_a_location_s_work_equal_a_sort_of_its_index(aws, limit):
    items = seed(70)
    seed(20, location="wh-west", rng_seed=4)  # another location's work is not listed
    for status in (None, "allocated", "picked", "cancelled", "ready_for_pickup"):
        assert_paged_like_a_sort(items, status, limit)


def test_a_page_larger_than_the_work_is_all_of_it_without_a_cursor(aws):
    items = seed(30)
    got, cursor = store.list_fulfillment_orders(location_id="wh-east", status=None, within=None, limit=100, cursor=None)
    assert [i["fo_id"] for i in got] == expected(items, None) and cursor is None


def test_work_indexed_before_sharding_is_listed_migrated_and_a_cursor_of_then_goes_on(aws):
    items = seed(50, legacy=15)
    table = Table()
    for status in (None, "allocated"):
        assert_paged_like_a_sort(items, status, 4)
    everything = expected(items, None)
    fifth = next(i for i in items if i["fo_id"] == everything[4])
    old = encode_cursor({"pk": fifth["pk"], "sk": fifth["sk"], "gsi1pk": "FOLOC#wh-east", "gsi1sk": fifth["gsi1sk"]})
    got, _ = store.list_fulfillment_orders(location_id="wh-east", status=None, within=None, limit=4, cursor=old)
    assert [i["fo_id"] for i in got] == everything[5:9]

    assert migrate_legacy_location_index(["wh-east", "wh-west"], table) == {"moved": 15, "already_moved": 0}
    legacy, _ = table.query("gsi1pk = :pk", {":pk": "FOLOC#wh-east"}, index="gsi1")
    assert legacy == []
    for i in items:
        stored = table.get(i["pk"], i["sk"])
        assert stored is not None and stored["gsi1pk"] == store.location_index_pk("wh-east", i["fo_id"])
    for status in (None, "allocated"):
        assert_paged_like_a_sort(items, status, 4)
    assert migrate_legacy_location_index(["wh-east"], table) == {"moved": 0, "already_moved": 0}
