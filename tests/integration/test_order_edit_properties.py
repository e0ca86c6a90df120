"""Random sequences of order edits on moto, against what must stay true after each one.

Each example captures an order (allocated and authorized, released to the warehouse or
not) and a competing order for the same scarce SKUs, then applies random edits: a line's
new quantity, an added line, a SKU swapped, a shipping change. After every answer:
- the order's figures are its original total plus every change's total, to the cent, and
  equal what its lines charge; the open authorizations cover exactly that (nothing is
  captured here), so a raised total was authorized by the difference and a lowered one
  released by the difference;
- no unit is promised twice: each stock item's ``reserved`` is the sum of what the
  allocations of both orders hold there, ``available`` never goes below zero, every
  line's buckets are consistent;
- on a released order every edit of its original units is 409 and changes nothing.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.allocate.api import held
from functions.allocate.logic.allocation import allocate_order
from functions.changes.logic.edit_plan import charge_of
from functions.changes.rules.figures import order_figures
from functions.fulfill.logic.release import release_to_fulfillment
from functions.inventory.store import get_stock
from functions.payments.logic.authorize import authorize_order
from shared.order.quantities import LineQuantities
from shared.order.record import load_order
from tests.integration.conftest import stock_up
from tests.integration.test_capture_api import order_body, post
from tests.integration.test_order_edits import LOCATION, edit, open_authorized

pytestmark = pytest.mark.slow

_examples = itertools.count()


@pytest.fixture
def driven(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders are captured without their execution: the test runs its steps."""
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")


quantities = st.integers(min_value=0, max_value=4)
edits = st.one_of(
    st.tuples(st.just("quantity"), st.integers(0, 5), quantities),
    st.tuples(st.just("add"), st.sampled_from("ABC"), st.integers(1, 3), st.integers(1, 3000), st.integers(0, 400)),
    st.tuples(st.just("swap"), st.integers(0, 5), st.sampled_from("ABC")),
    st.tuples(st.just("shipping"), st.sampled_from(["standard", "express"])),
)


def _body(kind: tuple[Any, ...], lines: list[dict[str, Any]], skus: dict[str, str]) -> dict[str, Any]:
    if kind[0] == "quantity":
        return {"lines": [{"line_id": lines[kind[1] % len(lines)]["line_id"], "quantity": kind[2]}], "reason": "p"}
    if kind[0] == "add":
        add = {"sku": skus[kind[1]], "quantity": kind[2], "unit_price": kind[3], "tax": kind[4]}
        return {"add": [add], "reason": "p"}
    if kind[0] == "swap":
        return {"swap": [{"line_id": lines[kind[1] % len(lines)]["line_id"], "sku": skus[kind[2]]}], "reason": "p"}
    return {"shipping": {"method": kind[1]}, "reason": "p"}


def _check_stock(order_ids: list[str], skus: list[str]) -> None:
    records = [load_order(order_id) for order_id in order_ids]
    for sku in skus:
        holding = sum(
            held(a)
            for record in records
            for a in record.others.get("ALLOC", [])
            if a["sku"] == sku and a["location_id"] == LOCATION and a.get("status") == "reserved"
        )
        stock = get_stock(sku, LOCATION)
        assert stock is not None and stock.reserved == holding, (sku, stock, holding)
        assert stock.available == stock.on_hand - stock.reserved - stock.safety_stock >= 0
    for record in records:
        assert all(LineQuantities.of(line).consistent() for line in record.lines)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(released=st.booleans(), sequence=st.lists(edits, min_size=1, max_size=4), scarce=st.integers(1, 4))
def test_random_edits_reconcile_to_the_cent_and_never_promise_a_unit_twice(driven, released, sequence, scarce):
    n = next(_examples)
    skus = {"A": f"P{n}-A", "B": f"P{n}-B", "C": f"P{n}-C"}
    shirt, jeans = f"P{n}-SHIRT", f"P{n}-JEANS"
    stock_up({shirt: 2 + scarce, jeans: 1 + scarce, skus["A"]: scarce, skus["B"]: scarce, skus["C"]: 0})
    lines = [
        {"sku": shirt, "quantity": 2, "unit_price": 1999, "discount": 100, "tax": 300},
        {"sku": jeans, "quantity": 1, "unit_price": 4999, "tax": 950},
    ]
    order_ids = []
    for external_id in (f"PROP-{n}", f"PROP-{n}-OTHER"):
        status, _, order = post(order_body(external_id, lines=lines))
        assert status == 201, order
        allocate_order(order["order_id"])
        authorize_order(order["order_id"])
        order_ids.append(order["order_id"])
    order_id = order_ids[0]
    if released:
        release_to_fulfillment(order_id)
    original = load_order(order_id)
    original_lines = list(original.lines)
    expected = int(original.header["totals"]["total"])
    assert expected == open_authorized(original)

    for kind in sequence:
        record = load_order(order_id)
        body = _body(kind, record.lines, skus)
        status_p, _, preview = edit(order_id, body, preview=True)
        status, _, answer = edit(order_id, body)
        assert status_p == (200 if status == 201 else status), (preview, answer)
        touches_original = kind[0] in ("quantity", "swap") and body.get("lines", body.get("swap"))[0]["line_id"] in {
            line["line_id"] for line in original_lines
        }
        if released and (kind[0] == "shipping" or (touches_original and kind[0] == "swap")):
            assert status == 409, answer
        if released and touches_original and kind[0] == "quantity":
            live = LineQuantities.of(next(li for li in record.lines if li["line_id"] == body["lines"][0]["line_id"]))
            if body["lines"][0]["quantity"] < live.live:
                assert status == 409 and answer["released_units"], answer
        if status == 201:
            assert answer["totals"] == preview["totals"] and answer["authorize"] == preview["authorize"]
            assert answer["release"] == preview["release"]
            expected += int(answer["totals"]["total"])
        else:
            assert status in (409, 422), answer
        after = load_order(order_id)
        figures = order_figures(after)["total"]
        assert figures == expected == charge_of(after.lines)
        assert open_authorized(after) == figures
        _check_stock(order_ids, [shirt, jeans, *skus.values()])
