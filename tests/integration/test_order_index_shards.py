"""The all-orders and channel lists read across the shards of their indexes: the same pages,
filters and order as one partition sorted, the cursor going on without a duplicate or a gap;
headers written before sharding are listed and migrated."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.capture.store import (
    OrderFilter,
    list_orders,
    migrate_legacy_channel_index,
    migrate_legacy_order_index,
)
from functions.customers import store as customers_store
from shared import sharded_index
from shared.clock import iso
from shared.errors import MalformedInput
from shared.order import keys
from shared.table import Table, encode_cursor
from tests.integration.test_capture_api import order_body, post

STATUSES = ("open", "open", "allocated", "shipped", "cancelled")
FULFILLMENT = ("unfulfilled", "backordered", "fulfilled")
CHANNELS = ("web", "web", "pos", "marketplace")
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _header(order_id: str, created_at: str, rng: random.Random, *, legacy: bool = False) -> dict[str, Any]:
    sort_key = keys.created_sort_key(created_at, order_id)
    channel = rng.choice(CHANNELS)
    return {
        "pk": keys.order_pk(order_id),
        "sk": keys.ORDER_HEADER,
        "type": "order",
        "order_id": order_id,
        "channel": channel,
        "customer_id": "cus_shared",
        "status": rng.choice(STATUSES),
        "fulfillment_status": rng.choice(FULFILLMENT),
        "created_at": created_at,
        "updated_at": iso(START + timedelta(minutes=rng.randrange(0, 24 * 60))),
        "gsi1pk": keys.legacy_channel_index_pk(channel) if legacy else keys.channel_index_pk(channel, order_id),
        "gsi1sk": sort_key,
        "gsi2pk": keys.customer_pk("cus_shared"),
        "gsi2sk": sort_key,
        "gsi3pk": keys.LEGACY_ORDER_INDEX_PK if legacy else keys.order_index_pk(order_id),
        "gsi3sk": sort_key,
    }


def seed(count: int, *, seed: int = 7, legacy: int = 0) -> list[dict[str, Any]]:
    """``count`` headers over 16 shards, many sharing their creation instant (so the id
    decides their order), the last ``legacy`` of them in the unsharded partition."""
    rng = random.Random(seed)
    headers = []
    for n in range(count):
        order_id = f"ord_{rng.getrandbits(64):016x}{n:04d}"
        created_at = iso(START + timedelta(minutes=rng.randrange(0, 12 * 60, 7)))
        headers.append(_header(order_id, created_at, rng, legacy=n >= count - legacy))
    Table().batch_put(headers)
    return headers


def expected(headers: list[dict[str, Any]], flt: OrderFilter) -> list[str]:
    """The same list from the headers themselves: filtered, then sorted newest first."""

    def keep(h: dict[str, Any]) -> bool:
        return (
            (not flt.status or h["status"] == flt.status)
            and (not flt.fulfillment_status or h["fulfillment_status"] == flt.fulfillment_status)
            and (not flt.channel or h["channel"] == flt.channel)
            and (not flt.customer_id or h["customer_id"] == flt.customer_id)
            and (not flt.created_after or h["gsi3sk"] >= flt.created_after)
            and (not flt.created_before or h["gsi3sk"] <= flt.created_before + "~")
            and (not flt.updated_before or h["updated_at"] < flt.updated_before)
        )

    return [h["order_id"] for h in sorted(filter(keep, headers), key=lambda h: h["gsi3sk"], reverse=True)]


def pages(flt: OrderFilter, limit: int, *, most: int = 500) -> list[list[str]]:
    out: list[list[str]] = []
    cursor: str | None = None
    for _ in range(most):
        items, cursor = list_orders(flt, limit=limit, cursor=cursor)
        out.append([i["order_id"] for i in items])
        if not cursor:
            return out
    raise AssertionError(f"no last page after {most} pages")


def assert_paged_like_a_sort(headers: list[dict[str, Any]], flt: OrderFilter, limit: int) -> None:
    got = pages(flt, limit)
    flat = [order_id for page in got for order_id in page]
    assert flat == expected(headers, flt), (flt, limit)
    assert len(set(flat)) == len(flat)
    # Every page but the last is full, whatever the filter leaves in each shard.
    assert all(len(page) == limit for page in got[:-1]), [len(p) for p in got]
    assert len(got[-1]) <= limit


AT = iso(START + timedelta(hours=3))
LATER = iso(START + timedelta(hours=8))
FILTERS = [
    OrderFilter(),
    OrderFilter(status="open"),
    OrderFilter(fulfillment_status="backordered"),
    OrderFilter(channel="pos"),
    OrderFilter(customer_id="cus_shared", status="shipped"),
    OrderFilter(created_after=AT),
    OrderFilter(created_before=AT),
    OrderFilter(created_after=AT, created_before=LATER),
    # An instant with orders in it: the bound takes that instant's orders in (the "~").
    OrderFilter(created_before=iso(START + timedelta(minutes=7 * 20))),
    OrderFilter(updated_before=iso(START + timedelta(hours=6))),
    OrderFilter(status="cancelled", fulfillment_status="unfulfilled", created_after=AT),
    OrderFilter(status="open", updated_before=iso(START + timedelta(hours=10)), created_before=LATER),
]


# Every filter again within a channel: the channel's shards are merged the same way.
CHANNEL_FILTERS = [
    replace(flt, channel=channel)
    for channel in ("web", "marketplace")
    for flt in FILTERS
    if not flt.customer_id and not flt.channel
]


def test_the_seeded_orders_spread_over_every_shard(aws):
    headers = seed(90)
    shards = Counter(h["gsi3pk"] for h in headers)
    assert set(shards) == set(keys.order_index_pks()[: keys.ORDER_INDEX_SHARDS])
    web = Counter(h["gsi1pk"] for h in headers if h["channel"] == "web")
    assert len(web) > keys.ORDER_INDEX_SHARDS // 2
    assert set(web) <= set(keys.channel_index_pks("web")[: keys.ORDER_INDEX_SHARDS])
    # Instants shared by several orders: their ids order them.
    assert max(Counter(h["created_at"] for h in headers).values()) > 1


@pytest.mark.parametrize("limit", [pytest.param(2, marks=pytest.mark.slow), 7])
def test_pages_of_the_all_orders_list_equal_a_sort_of_the_same_orders_under_every_filter(aws, limit):
    headers = seed(90)
    for flt in FILTERS:
        assert_paged_like_a_sort(headers, flt, limit)


@pytest.mark.parametrize("limit", [pytest.param(2, marks=pytest.mark.slow), 5])
def test_pages_of_a_channel_list_equal_a_sort_of_the_channel_orders_under_every_filter(aws, limit):
    headers = seed(90)
    for flt in CHANNEL_FILTERS:
        assert_paged_like_a_sort(headers, flt, limit)


def test_a_channel_list_holds_only_that_channel(aws):
    headers = seed(60)
    for channel in ("web", "pos", "marketplace", "none"):
        got = [i for page in pages(OrderFilter(channel=channel), 4) for i in page]
        assert got == expected(headers, OrderFilter(channel=channel))
        assert all(h["channel"] == channel for h in headers if h["order_id"] in got)
    # A channel named like another's shard lists nothing (capture refuses such names).
    assert list_orders(OrderFilter(channel="web#01"), limit=10, cursor=None) == ([], None)


@pytest.mark.slow
def test_pages_of_one_order(aws):
    headers = seed(60)
    for flt in (
        OrderFilter(),
        OrderFilter(status="open", created_after=AT),
        OrderFilter(fulfillment_status="fulfilled"),
    ):
        assert_paged_like_a_sort(headers, flt, 1)


def test_a_page_larger_than_the_list_is_the_whole_list_without_a_cursor(aws):
    headers = seed(40)
    items, cursor = list_orders(OrderFilter(), limit=200, cursor=None)
    assert [i["order_id"] for i in items] == expected(headers, OrderFilter()) and cursor is None
    items, cursor = list_orders(OrderFilter(status="no-such-status"), limit=50, cursor=None)
    assert items == [] and cursor is None


def test_a_page_cut_short_by_its_read_budget_goes_on_from_where_reading_stopped(aws, monkeypatch):
    """A filter that matches little can stop a page before it is full (a bounded number of
    reads per request): the cursor then resumes there, even from a page with no item."""
    headers = seed(120)
    monkeypatch.setattr(sharded_index, "MAX_ROUNDS", 1)
    for flt in (OrderFilter(status="cancelled", fulfillment_status="fulfilled"), OrderFilter(status="open")):
        got = pages(flt, 3)
        flat = [order_id for page in got for order_id in page]
        assert flat == expected(headers, flt)
        assert any(len(page) < 3 for page in got[:-1])  # the budget did cut pages short


def test_reading_the_shards_one_after_another_gives_the_same_pages(aws, monkeypatch):
    headers = seed(50)
    flt = OrderFilter(status="open", created_before=LATER)
    concurrent = pages(flt, 4)
    monkeypatch.setattr(sharded_index, "SHARD_READERS", 1)
    assert pages(flt, 4) == concurrent
    assert [i for p in concurrent for i in p] == expected(headers, flt)


def test_orders_indexed_before_sharding_are_listed_and_migrated_to_their_shards(aws):
    headers = seed(60, legacy=20)
    table = Table()
    assert sum(h["gsi3pk"] == keys.LEGACY_ORDER_INDEX_PK for h in headers) == 20
    for flt in (OrderFilter(), OrderFilter(status="open"), OrderFilter(created_after=AT)):
        assert_paged_like_a_sort(headers, flt, 7)
    assert sorted(customers_store.all_order_ids(table)) == sorted(h["order_id"] for h in headers)

    assert migrate_legacy_order_index(table) == {"moved": 20, "already_moved": 0}
    legacy, _ = table.query("gsi3pk = :pk", {":pk": keys.LEGACY_ORDER_INDEX_PK}, index="gsi3")
    assert legacy == []
    for h in headers:
        stored = table.get(h["pk"], h["sk"])
        assert stored is not None and stored["gsi3pk"] == keys.order_index_pk(h["order_id"])
        assert {k: v for k, v in stored.items() if k != "gsi3pk"} == {k: v for k, v in h.items() if k != "gsi3pk"}
    migrated = [{**h, "gsi3pk": keys.order_index_pk(h["order_id"])} for h in headers]
    for flt in (OrderFilter(), OrderFilter(status="open"), OrderFilter(created_after=AT)):
        assert_paged_like_a_sort(migrated, flt, 7)
    assert sorted(customers_store.all_order_ids(table)) == sorted(h["order_id"] for h in headers)
    # A second run finds nothing left to move.
    assert migrate_legacy_order_index(table) == {"moved": 0, "already_moved": 0}

    # The channel partitions: still legacy for those 20, listed, then moved too.
    for flt in (OrderFilter(channel="web"), OrderFilter(channel="pos", status="open")):
        assert_paged_like_a_sort(migrated, flt, 3)
    assert migrate_legacy_channel_index(table) == {"moved": 20, "already_moved": 0}
    for channel in ("web", "pos", "marketplace"):
        legacy, _ = table.query("gsi1pk = :pk", {":pk": keys.legacy_channel_index_pk(channel)}, index="gsi1")
        assert legacy == []
    for h in headers:
        stored = table.get(h["pk"], h["sk"])
        assert stored is not None and stored["gsi1pk"] == keys.channel_index_pk(h["channel"], h["order_id"])
    for flt in (OrderFilter(channel="web"), OrderFilter(channel="pos", status="open")):
        assert_paged_like_a_sort(migrated, flt, 3)
    assert migrate_legacy_channel_index(table) == {"moved": 0, "already_moved": 0}


def test_a_cursor_issued_before_sharding_goes_on_below_its_sort_key(aws):
    headers = seed(30)
    everything = expected(headers, OrderFilter())
    tenth = next(h for h in headers if h["order_id"] == everything[9])
    old = encode_cursor(
        {"pk": tenth["pk"], "sk": tenth["sk"], "gsi3pk": keys.LEGACY_ORDER_INDEX_PK, "gsi3sk": tenth["gsi3sk"]}
    )
    items, _ = list_orders(OrderFilter(), limit=5, cursor=old)
    assert [i["order_id"] for i in items] == everything[10:15]
    with pytest.raises(MalformedInput):
        list_orders(OrderFilter(), limit=5, cursor=encode_cursor({"pk": "x", "sk": "y"}))
    # A channel list's cursor then was gsi1's last evaluated key.
    web = expected(headers, OrderFilter(channel="web"))
    fourth = next(h for h in headers if h["order_id"] == web[3])
    old = encode_cursor({"pk": fourth["pk"], "sk": fourth["sk"], "gsi1pk": "CHANNEL#web", "gsi1sk": fourth["gsi1sk"]})
    items, _ = list_orders(OrderFilter(channel="web"), limit=3, cursor=old)
    assert [i["order_id"] for i in items] == web[4:7]


def test_captured_orders_are_written_to_their_shard_and_listed(aws):
    placed = [post(order_body(f"S-{i}"))[2] for i in range(4)]
    table = Table()
    for order in placed:
        header = table.get(keys.order_pk(order["order_id"]), keys.ORDER_HEADER)
        assert header is not None
        assert header["gsi3pk"] == keys.order_index_pk(order["order_id"]) != keys.LEGACY_ORDER_INDEX_PK
        assert header["gsi1pk"] == keys.channel_index_pk(header["channel"], order["order_id"])
    items, _ = list_orders(OrderFilter(), limit=10, cursor=None)
    ids = [i["order_id"] for i in items]
    assert set(ids) == {o["order_id"] for o in placed}
    assert ids == [h["order_id"] for h in sorted(items, key=lambda h: h["gsi3sk"], reverse=True)]
    channel = items[0]["channel"]
    by_channel, _ = list_orders(OrderFilter(channel=channel), limit=10, cursor=None)
    assert [i["order_id"] for i in by_channel] == [i["order_id"] for i in items if i["channel"] == channel]
