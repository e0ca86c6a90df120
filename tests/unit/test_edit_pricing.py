"""The figures of an order edit's new units and removed units (no table)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from functions.changes.logic.edit_plan import charge_of
from functions.changes.rules.edits import more_of, new_line_figures, swapped_in, tax_at_rate_of
from shared.order.amounts import cancelled_amounts

LINE = {"sku": "TSHIRT-M", "quantity": 2, "unit_price": 1999, "subtotal": 3998, "discount": 538, "tax": 300}


def test_a_new_line_is_its_units_at_their_price_with_no_discount_or_shipping_share():
    figures = new_line_figures("SOCKS-5", 2, 500, 95)
    assert figures["subtotal"] == 1000 and figures["discount"] == 0 and figures["shipping"] == 0
    assert figures["total"] == 1095 and figures["quantities"] == {"ordered": 2}


def test_more_of_a_line_and_a_swap_take_its_price_and_tax_rate_unless_given():
    assert tax_at_rate_of(LINE, 1999) == 150
    more = more_of(LINE, 1)
    assert (more["sku"], more["subtotal"], more["tax"], more["total"]) == ("TSHIRT-M", 1999, 150, 2149)
    swap = swapped_in(LINE, "TSHIRT-L", 2, None, None)
    assert (swap["sku"], swap["subtotal"], swap["tax"]) == ("TSHIRT-L", 3998, 300)
    dearer = swapped_in(LINE, "TSHIRT-XL", 1, 2999, 0)
    assert (dearer["subtotal"], dearer["tax"]) == (2999, 0)
    assert tax_at_rate_of({"subtotal": 0, "tax": 0}, 500) == 0


@given(
    quantity=st.integers(1, 20),
    unit_price=st.integers(0, 10_000),
    tax=st.integers(0, 5_000),
    shipping=st.integers(0, 2_000),
    cuts=st.lists(st.integers(1, 5), max_size=6),
)
def test_removing_units_one_edit_at_a_time_adds_up_to_the_line(quantity, unit_price, tax, shipping, cuts):
    line = {
        "quantity": quantity,
        "subtotal": quantity * unit_price,
        "discount": 0,
        "tax": tax,
        "shipping": shipping,
        "quantities": {"ordered": quantity},
    }
    before = charge_of([line])
    removed, cancelled = 0, 0
    for cut in cuts:
        cut = min(cut, quantity - cancelled)
        if cut == 0:
            break
        removed += cancelled_amounts(line, cancelled, cut).total
        cancelled += cut
        line["quantities"] = {"ordered": quantity, "cancelled": cancelled}
        assert charge_of([line]) == before - removed
    assert before == quantity * unit_price + tax + shipping
