"""A hot SKU's stock split into bucket items (functions/inventory/store/stock.py): reservations
spread over the buckets and never promise a unit twice, counts and rebalances keep the sums,
and every operation equals the one-item ledger replay."""

from __future__ import annotations

import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.inventory.store import (
    StockConflict,
    StockRecord,
    adjust_stock,
    bucket_pk,
    get_stock,
    rebalance,
    release,
    release_op,
    reserve,
    reserve_op,
    set_buckets,
    set_stock,
    ship,
    stock_for_skus,
)
from shared.table import ConditionFailed, Table
from tests.integration.test_inventory_ledger import Ledger, apply

LOCATION = "wh-ledger"
T0 = "2024-05-01T09:00:00Z"


def fresh_sku() -> str:
    return f"HOT-{uuid.uuid4().hex[:10]}"


def check_buckets(record: StockRecord) -> None:
    """Each bucket's own arithmetic, the sums, and no bucket promising what the pair lacks."""
    assert len(record.shares) == record.buckets
    for share in record.shares:
        assert share.available == share.on_hand - share.reserved - share.safety_stock, share
        assert share.on_hand >= 0 and share.reserved >= 0
    for name in ("on_hand", "reserved", "safety_stock", "available"):
        assert getattr(record, name) == sum(getattr(s, name) for s in record.shares), name
    others = record.shares[1:]
    assert all(s.safety_stock == 0 and s.available >= 0 for s in others)
    if record.shares[0].available < 0:  # over-reserved: bucket 0 alone holds the shortfall
        assert all(s.on_hand == s.reserved == s.available == 0 for s in others)
    promisable = sum(max(0, s.available) for s in record.shares)
    assert promisable == max(0, record.available)


def test_a_split_pair_is_n_items_whose_sums_are_the_stock(aws):
    sku = fresh_sku()
    set_stock(LOCATION, sku, 103, 3, T0)
    reserve(sku, LOCATION, 4)
    record = set_buckets(sku, LOCATION, 4)
    check_buckets(record)
    assert (record.buckets, record.on_hand, record.reserved, record.safety_stock, record.available) == (
        4,
        103,
        4,
        3,
        96,
    )
    assert [s.available for s in record.shares] == [24, 24, 24, 24]
    table = Table()
    bucket_3 = table.get(bucket_pk(sku, 3), f"LOC#{LOCATION}")
    assert bucket_3 is not None and bucket_3["pk"] == f"SKU#{sku}#B3" and bucket_3["type"] == "inventory"
    listed = stock_for_skus([sku], consistent=True)[sku][LOCATION]
    assert (listed.buckets, listed.on_hand, listed.reserved, listed.available) == (4, 103, 4, 96)

    joined = set_buckets(sku, LOCATION, 1)
    assert (joined.buckets, joined.on_hand, joined.reserved, joined.available) == (1, 103, 4, 96)
    assert table.get(bucket_pk(sku, 3), f"LOC#{LOCATION}") is None
    reserve(sku, LOCATION, 96)  # the joined item is an ordinary one again
    with pytest.raises(StockConflict):
        reserve(sku, LOCATION, 1)


@pytest.mark.slow
def test_many_threads_reserving_a_split_hot_sku_take_exactly_the_stock(aws):
    sku, stock, threads, tries = fresh_sku(), 120, 12, 15  # 180 attempts for 120 units
    set_stock(LOCATION, sku, stock, 0, T0)
    set_buckets(sku, LOCATION, 4)
    stock_for_skus([sku])  # what an allocation reads before it reserves
    taken: list[int] = []
    refused: list[int] = []
    used_buckets: set[str] = set()
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def buyer() -> None:
        start.wait()
        for _ in range(tries):
            op = reserve_op(sku, LOCATION, 1)
            try:
                Table().transact([op])
            except ConditionFailed:
                # What the allocate step does: read the stock again, then try once more.
                stock_for_skus([sku])
                try:
                    reserve(sku, LOCATION, 1)
                except StockConflict:
                    with lock:
                        refused.append(1)
                    continue
            with lock:
                taken.append(1)
                used_buckets.add(op["Update"]["Key"]["pk"])

    workers = [threading.Thread(target=buyer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    record = get_stock(sku, LOCATION)
    assert record is not None
    check_buckets(record)
    assert len(taken) == stock and len(refused) == threads * tries - stock
    assert (record.on_hand, record.reserved, record.available) == (stock, stock, 0)
    assert sum(s.available for s in record.shares) + record.reserved == record.on_hand
    assert len(used_buckets) > 1  # the reservations spread


def test_a_reservation_larger_than_any_bucket_moves_units_into_one_first(aws):
    sku = fresh_sku()
    set_stock(LOCATION, sku, 8, 0, T0)
    set_buckets(sku, LOCATION, 4)  # 2 a bucket
    record = reserve(sku, LOCATION, 7)
    check_buckets(record)
    assert (record.reserved, record.available) == (7, 1)
    assert max(s.reserved for s in record.shares) == 7
    with pytest.raises(StockConflict):
        reserve(sku, LOCATION, 2)


def test_a_dry_bucket_is_refilled_by_a_rebalance_that_keeps_every_source_at_or_above_zero(aws):
    sku = fresh_sku()
    set_stock(LOCATION, sku, 40, 0, T0)
    set_buckets(sku, LOCATION, 4)
    Table().transact([reserve_op(sku, LOCATION, 10, bucket=2)])  # bucket 2 runs dry
    dry = get_stock(sku, LOCATION)
    assert dry is not None and [s.available for s in dry.shares] == [10, 10, 0, 10]
    record = rebalance(sku, LOCATION)
    check_buckets(record)
    assert [s.available for s in record.shares] == [8, 8, 7, 7]
    assert (record.on_hand, record.reserved) == (40, 10)
    assert record.shares[2].reserved == 10  # reservations stay where they were taken

    # A reservation that sees a dry bucket spreads the units again before it picks one.
    Table().transact([reserve_op(sku, LOCATION, 7, bucket=3)])
    stock_for_skus([sku], consistent=True)
    op = reserve_op(sku, LOCATION, 1)
    after = get_stock(sku, LOCATION)
    assert after is not None and min(s.available for s in after.shares) >= 1
    Table().transact([op])


def test_releases_and_shipments_find_the_bucket_holding_the_units(aws):
    sku = fresh_sku()
    set_stock(LOCATION, sku, 12, 0, T0)
    set_buckets(sku, LOCATION, 3)
    for bucket in range(3):
        Table().transact([reserve_op(sku, LOCATION, 3, bucket=bucket)])
    op = release_op(sku, LOCATION, 2)  # a bucket holding 2 reserved
    Table().transact([op])
    record = release(sku, LOCATION, 5)  # more than any bucket holds: gathered into one first
    check_buckets(record)
    assert (record.on_hand, record.reserved, record.available) == (12, 2, 10)
    record = ship(sku, LOCATION, 2)
    check_buckets(record)
    assert (record.on_hand, record.reserved, record.available) == (10, 0, 10)
    with pytest.raises(StockConflict):
        release(sku, LOCATION, 1)


def test_a_count_below_the_reservations_collapses_into_bucket_0_until_stock_returns(aws):
    sku = fresh_sku()
    set_stock(LOCATION, sku, 20, 2, T0)
    set_buckets(sku, LOCATION, 4)
    for bucket in (1, 2, 3):
        Table().transact([reserve_op(sku, LOCATION, 3, bucket=bucket)])
    counted = set_stock(LOCATION, sku, 5, None, "2024-05-01T10:00:00Z")  # 9 reserved, 2 held back
    check_buckets(counted)
    assert (counted.on_hand, counted.reserved, counted.available) == (5, 9, -6)
    assert [s.reserved for s in counted.shares] == [9, 0, 0, 0]
    with pytest.raises(StockConflict):
        reserve(sku, LOCATION, 1)
    release(sku, LOCATION, 3)
    received = adjust_stock(LOCATION, sku, 10, "receipt")
    check_buckets(received)
    assert (received.on_hand, received.reserved, received.available) == (15, 6, 7)
    assert min(s.available for s in received.shares) >= 1  # spread again


# --- the ledger property over split stock -------------------------------------------------

quantities = st.integers(min_value=1, max_value=6)
events = st.one_of(
    st.tuples(
        st.just("set"),
        st.integers(min_value=0, max_value=16),
        st.none() | st.integers(min_value=0, max_value=3),
        st.integers(min_value=1, max_value=59),
    ),
    st.tuples(st.just("adjust"), st.integers(min_value=-6, max_value=6).filter(bool)),
    st.tuples(st.just("reserve"), quantities),
    st.tuples(st.just("release"), quantities),
    st.tuples(st.just("ship"), quantities),
    st.tuples(st.just("rebalance")),
    st.tuples(st.just("buckets"), st.integers(min_value=1, max_value=5)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.integers(min_value=0, max_value=16),
    buckets=st.integers(min_value=2, max_value=5),
    history=st.lists(events, min_size=1, max_size=14),
)
def test_split_stock_equals_the_ledger_replay(aws, start, buckets, history):
    sku = fresh_sku()
    ledger = Ledger()
    first = ("set", start, 0, 0)
    assert apply(sku, first) and ledger.apply(first)
    set_buckets(sku, LOCATION, buckets)
    for event in history:
        kind, *args = event
        if kind == "rebalance":
            check_buckets(rebalance(sku, LOCATION))
            continue
        if kind == "buckets":
            check_buckets(set_buckets(sku, LOCATION, args[0]))
            continue
        assert apply(sku, event) == ledger.apply(event), event
        stored = get_stock(sku, LOCATION)
        assert stored is not None
        check_buckets(stored)
    stored = get_stock(sku, LOCATION)
    assert stored is not None
    assert (stored.on_hand, stored.reserved, stored.safety_stock, stored.available) == (
        ledger.on_hand,
        ledger.reserved,
        ledger.safety,
        ledger.available,
    )


# --- through the API and the allocate step ---------------------------------------------------


def test_operators_split_stock_through_the_api_and_availability_sums_the_buckets(aws):
    from tests.integration.test_inventory_api import availability, put_location, put_stock, request

    put_location("wh-east")

    def split(body, key="dev-ops-key"):
        return request(
            "PUT",
            "/v1/inventory/wh-east/HOT-1/buckets",
            "/v1/inventory/{location_id}/{sku}/buckets",
            key=key,
            body=body,
            params={"location_id": "wh-east", "sku": "HOT-1"},
        )

    assert put_stock("wh-east", "HOT-1", {"on_hand": 50, "safety_stock": 2, "as_of": T0})[0] == 200
    status, _, view = split({"buckets": 5})
    assert status == 200
    assert (view["buckets"], view["on_hand"], view["reserved"], view["available"]) == (5, 50, 0, 48)
    assert split({"buckets": 5}, key="dev-wms-key")[0] == 403  # the operators' decision
    assert split({"buckets": 41})[0] == 422
    assert split({"buckets": 0})[0] == 422
    status, _, view = put_stock("wh-east", "HOT-1", {"on_hand": 60, "as_of": "2024-05-01T09:30:00Z"})
    assert status == 200 and (view["buckets"], view["on_hand"], view["available"]) == (5, 60, 58)
    status, _, found = availability(sku=["HOT-1"])
    assert status == 200
    assert found["items"][0]["available_to_promise"] == 58
    assert found["items"][0]["locations"][0]["on_hand"] == 60


def test_the_allocate_step_reserves_and_releases_a_split_sku(aws, monkeypatch):
    from functions.allocate.logic.allocation import allocate_order, release_all
    from tests.integration.conftest import stock_up
    from tests.integration.test_capture_api import order_body, post

    # Allocated, not yet released to a warehouse: the compensation gives all of it back.
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10})
    set_buckets("TSHIRT-M", "wh-berlin", 3)
    status, _, order = post(order_body("SPLIT-1"))
    assert status == 201
    assert allocate_order(order["order_id"]).allocated_units == 3
    held = get_stock("TSHIRT-M", "wh-berlin")
    assert held is not None
    check_buckets(held)
    assert (held.buckets, held.on_hand, held.reserved, held.available) == (3, 10, 2, 8)
    assert release_all(order["order_id"]) == {"released_units": 3}
    back = get_stock("TSHIRT-M", "wh-berlin")
    assert back is not None
    check_buckets(back)
    assert (back.on_hand, back.reserved, back.available) == (10, 0, 10)
