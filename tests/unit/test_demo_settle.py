"""The demo's settle wait: which orders nothing more will happen to."""

from __future__ import annotations

from typing import Any

import pytest

from demo.run import settled, waits_for_stock_only


def _order(*lines: dict[str, int]) -> dict[str, Any]:
    return {"lines": [{"quantities": q} for q in lines]}


def _open(fulfillment_status: str) -> dict[str, Any]:
    return {"order_id": "o", "status": "open", "fulfillment_status": fulfillment_status}


@pytest.mark.parametrize(
    ("lines", "waiting"),
    [
        # shipped what it held; two units still want stock
        ([{"ordered": 3, "allocated": 1, "shipped": 1}], True),
        ([{"ordered": 2, "allocated": 2, "shipped": 2}, {"ordered": 1}], True),
        # a second parcel is still to ship
        ([{"ordered": 3, "allocated": 2, "shipped": 1}], False),
        ([{"ordered": 2, "allocated": 2, "shipped": 1}, {"ordered": 1}], False),
        # the rest was cancelled: nothing is wanted any more
        ([{"ordered": 3, "allocated": 1, "shipped": 1, "cancelled": 2}], False),
    ],
)
def test_an_order_shipped_in_part_waits_for_stock_only_when_nothing_it_holds_is_left_to_ship(lines, waiting):
    assert waits_for_stock_only(_order(*lines)) is waiting


def test_a_partly_shipped_order_waiting_for_stock_is_settled_and_one_with_a_parcel_to_ship_is_not():
    waiting = _order({"ordered": 3, "allocated": 1, "shipped": 1})
    shipping = _order({"ordered": 3, "allocated": 3, "shipped": 1})
    assert settled(_open("partially_shipped"), lambda: waiting)
    assert not settled(_open("partially_shipped"), lambda: shipping)
    assert settled(_open("backordered"))
    assert not settled(_open("allocated"), lambda: waiting)
    assert settled({"order_id": "o", "status": "completed", "fulfillment_status": "delivered"})
    assert not settled({"order_id": "o", "status": "completed", "fulfillment_status": "shipped"})
