"""functions/inventory/store/stock.py against moto: the conditions that keep stock from being promised twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.inventory.store import (
    StockConflict,
    adjust_stock,
    get_stock,
    release,
    release_op,
    reserve,
    reserve_op,
    set_stock,
    ship,
    ship_op,
    stock_for_skus,
)
from shared.table import ConditionFailed, Table

T0 = "2024-05-01T10:00:00Z"


def figures(sku, location_id="wh-1"):
    rec = get_stock(sku, location_id)
    assert rec is not None
    return rec.on_hand, rec.reserved, rec.safety_stock, rec.available


def test_reserve_release_and_ship_move_the_right_figures(aws):
    set_stock("wh-1", "A", 10, 2, T0)
    assert figures("A") == (10, 0, 2, 8)
    assert reserve("A", "wh-1", 3).available == 5
    assert figures("A") == (10, 3, 2, 5)
    ship("A", "wh-1", 2)
    assert figures("A") == (8, 1, 2, 5)  # available unchanged by a shipment
    release("A", "wh-1", 1)
    assert figures("A") == (8, 0, 2, 6)


def test_conditions_refuse_what_the_figures_do_not_allow(aws):
    set_stock("wh-1", "A", 5, 1, T0)
    with pytest.raises(StockConflict):
        reserve("A", "wh-1", 5)  # only 4 available: safety stock is never promised
    reserve("A", "wh-1", 4)
    with pytest.raises(StockConflict):
        reserve("A", "wh-1", 1)
    with pytest.raises(StockConflict):
        release("A", "wh-1", 5)
    with pytest.raises(StockConflict):
        ship("A", "wh-1", 5)
    # The warehouse counts 2 on hand while 4 are reserved: at most 2 can leave.
    set_stock("wh-1", "A", 2, 1, "2024-05-01T11:00:00Z")
    assert figures("A") == (2, 4, 1, -3)
    with pytest.raises(StockConflict):
        ship("A", "wh-1", 3)
    ship("A", "wh-1", 2)
    assert figures("A") == (0, 2, 1, -3)
    with pytest.raises(StockConflict):
        reserve("A", "wh-1", 1)
    assert figures("A") == (0, 2, 1, -3)  # nothing changed by the refusals
    for op in (reserve, release, ship):
        with pytest.raises(StockConflict):
            op("UNKNOWN", "wh-1", 1)
    with pytest.raises(ValueError):
        reserve_op("A", "wh-1", 0)


def test_ops_compose_into_one_all_or_nothing_transaction(aws):
    set_stock("wh-1", "A", 3, 0, T0)
    set_stock("wh-2", "B", 1, 0, T0)
    table = Table()
    with pytest.raises(ConditionFailed) as refused:
        table.transact([reserve_op("A", "wh-1", 2), reserve_op("B", "wh-2", 2)])
    assert refused.value.reasons == ["None", "ConditionalCheckFailed"]
    assert figures("A") == (3, 0, 0, 3)  # the line that fitted was not reserved either
    table.transact([reserve_op("A", "wh-1", 2), reserve_op("B", "wh-2", 1)])
    table.transact([ship_op("A", "wh-1", 2), release_op("B", "wh-2", 1)])
    assert figures("A") == (1, 0, 0, 1)
    assert figures("B", "wh-2") == (1, 0, 0, 1)


def test_set_stock_keeps_reservations_and_the_stored_safety_stock(aws):
    set_stock("wh-1", "A", 10, 3, T0)
    reserve("A", "wh-1", 4)
    rec = set_stock("wh-1", "A", 12, None, "2024-05-01T11:00:00Z")
    assert rec.applied and (rec.on_hand, rec.reserved, rec.safety_stock, rec.available) == (12, 4, 3, 5)
    stale = set_stock("wh-1", "A", 1, 0, "2024-05-01T11:00:00.000Z")
    assert not stale.applied and stale.on_hand == 12
    new = set_stock("wh-1", "NEW", 5, None, T0)
    assert (new.on_hand, new.reserved, new.safety_stock, new.available) == (5, 0, 0, 5)


def test_adjust_stock_is_relative_and_refuses_going_below_zero(aws):
    adjust_stock("wh-1", "A", 5, "receipt")
    reserve("A", "wh-1", 2)
    assert adjust_stock("wh-1", "A", -3, "damaged").available == 0
    with pytest.raises(StockConflict):
        adjust_stock("wh-1", "A", -3, "count")
    assert figures("A") == (2, 2, 0, 0)
    # An absolute update applies after adjustments (the item had no as_of yet).
    assert set_stock("wh-1", "A", 7, None, T0).available == 5


def test_two_concurrent_reservations_of_the_last_unit_one_wins(aws):
    set_stock("wh-1", "LAST", 1, 0, T0)
    barrier = threading.Barrier(2)

    def attempt(_):
        barrier.wait()
        try:
            reserve("LAST", "wh-1", 1)
            return True
        except StockConflict:
            return False

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(attempt, range(2)))
    assert sorted(outcomes) == [False, True]
    assert figures("LAST") == (1, 1, 0, 0)


def test_many_threads_never_oversell(aws):
    set_stock("wh-1", "HOT", 10, 0, T0)
    with ThreadPoolExecutor(16) as pool:
        wins = sum(pool.map(lambda _: _try_reserve("HOT", 1), range(40)))
    assert wins == 10
    assert figures("HOT") == (10, 10, 0, 0)


def _try_reserve(sku, quantity):
    try:
        reserve(sku, "wh-1", quantity)
        return 1
    except StockConflict:
        return 0


def test_stock_for_skus_reads_every_sku_and_filters_locations(aws):
    for i in range(12):
        set_stock("wh-1", f"S{i}", i, 0, T0)
        set_stock("wh-2", f"S{i}", 1, 0, T0)
    found = stock_for_skus([f"S{i}" for i in range(12)] + ["MISSING", "S1"])
    assert list(found) == [f"S{i}" for i in range(12)] + ["MISSING"]
    assert found["MISSING"] == {}
    assert {loc: r.on_hand for loc, r in found["S7"].items()} == {"wh-1": 7, "wh-2": 1}
    only = stock_for_skus(["S3"], {"wh-2"}, consistent=True)
    assert list(only["S3"]) == ["wh-2"]
    assert only["S3"]["wh-2"].available_to_promise == 1
