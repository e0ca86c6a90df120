"""Edge cases of giving stock back and of waits that lose their reason to wait.

A transaction may name an item once: the releases of one SKU at one location are one
operation, however many lines or allocation rounds hold it. A backorder wait that parks
just after its units were cancelled resumes by itself.
"""

from __future__ import annotations

import pytest

from functions.allocate.logic.allocation import allocate_order, release_all
from functions.allocate.store import held_allocations
from functions.fulfill.api import release_to_fulfillment
from functions.inventory.store import get_stock
from shared.order.record import load_order
from tests.integration.conftest import stock_up
from tests.integration.test_capture_api import order_body, post

TWO_LINES_ONE_SKU = [
    {"sku": "TSHIRT-M", "quantity": 2, "unit_price": 1999},
    {"sku": "TSHIRT-M", "quantity": 3, "unit_price": 1999, "discount": 500},
]


@pytest.fixture
def captured(aws, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    stock_up({"TSHIRT-M": 10})
    status, _, order = post(order_body("SAME-SKU", lines=TWO_LINES_ONE_SKU))
    assert status == 201, order
    assert allocate_order(order["order_id"]).allocated_units == 5
    return str(order["order_id"])


def test_the_compensation_releases_both_lines_in_one_operation_per_stock_item(captured):
    assert get_stock("TSHIRT-M", "wh-berlin").reserved == 5
    assert release_all(captured) == {"released_units": 5}
    stock = get_stock("TSHIRT-M", "wh-berlin")
    assert (stock.on_hand, stock.reserved) == (10, 0)
    record = load_order(captured)
    assert record is not None
    assert [line["quantities"]["allocated"] for line in record.lines] == [0, 0]
    assert release_all(captured) == {"released_units": 0}  # a rerun gives nothing back twice


def test_the_compensation_keeps_the_units_on_an_open_fulfillment_order(captured):
    """Units released to a warehouse stay reserved for it when the order's workflow fails:
    given back, they could be promised to another order while the warehouse ships them."""
    assert release_to_fulfillment(captured)["created"] == 1
    assert release_all(captured) == {"released_units": 0}
    stock = get_stock("TSHIRT-M", "wh-berlin")
    assert (stock.on_hand, stock.reserved) == (10, 5)
    allocations = held_allocations(captured)
    assert sum(int(a["quantity"]) for a in allocations) == 5 and all(a.get("fo_id") for a in allocations)
    record = load_order(captured)
    assert record is not None
    assert [line["quantities"]["allocated"] for line in record.lines] == [2, 3]
    # An operator's retry runs the step again: it allocates nothing twice and waits on that order.
    assert allocate_order(captured).allocated_units == 0
    again = release_to_fulfillment(captured)
    assert (again["created"], len(again["open"])) == (0, 1)


def test_a_cancellation_of_both_lines_releases_their_shared_stock(captured):
    from functions.changes.logic.stock_release import release_cancelled_units
    from functions.changes.store import change_sk
    from shared.order import keys
    from shared.table import Table

    record = load_order(captured)
    assert record is not None
    change = {
        "pk": keys.order_pk(captured),
        "sk": change_sk("chg_test"),
        "type": "change",
        "change_id": "chg_test",
        "stock_released": {},
    }
    Table().put(change)
    units = {line["line_id"]: int(line["quantity"]) for line in record.lines}
    release_cancelled_units(captured, "chg_test", units, reason="test")
    stock = get_stock("TSHIRT-M", "wh-berlin")
    assert (stock.on_hand, stock.reserved) == (10, 0)


def test_a_wait_parked_after_its_units_were_cancelled_resumes_at_once(aws, monkeypatch: pytest.MonkeyPatch):
    """The cancellation commits between the wait's read and its token write: it finds no
    waiter to wake, so the wait must notice by itself that nothing is left to wait for."""
    from functions.allocate import store as backorders
    from functions.allocate.logic import backorders as logic
    from shared.order import keys
    from shared.table import Table

    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    resumed: list[str] = []
    monkeypatch.setattr(logic, "resume_task", lambda token, output: resumed.append(token) or True)
    status, _, order = post(order_body("LATE-CANCEL", lines=[{"sku": "NONE-LEFT", "quantity": 2, "unit_price": 999}]))
    assert status == 201
    order_id = order["order_id"]
    assert allocate_order(order_id).backordered_units == 2
    park = backorders.park_backorder

    def park_then_cancelled(order_id: str, token: str, skus: list[str], table: Table | None = None) -> None:
        park(order_id, token, skus, table)
        Table().update(keys.order_pk(order_id), keys.line_sk(1), "SET quantities.cancelled = :c", values={":c": 2})

    monkeypatch.setattr(backorders, "park_backorder", park_then_cancelled)
    assert logic.park_order(order_id, "token-late")["parked"] is False
    assert resumed == ["token-late"]
    assert backorders.backorder_waiter(order_id) is None
