import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from functions.capture.logic.models import OrderRequest
from functions.capture.rules.pricing import price_order


def order(lines, promotions=(), shipping=0, **over):
    body = {
        "channel": "web",
        "external_id": "W-1",
        "customer": {"email": "ada@example.com", "name": "Ada"},
        "currency": "EUR",
        "lines": lines,
        "shipping": {
            "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"},
            "method": "standard",
            "amount": shipping,
        },
        "promotions": list(promotions),
        "payment": {"provider": "sandbox", "token": "tok_approve"},
    }
    body.update(over)
    return OrderRequest.model_validate(body)


def test_hand_computed_order():
    # 2 x 1999 - 100, 1 x 4999, promo 1000 over nets 3898/4999, shipping 499, tax 300 + 950.
    request = order(
        [
            {"sku": "TSHIRT-M", "quantity": 2, "unit_price": 1999, "discount": 100, "tax": 300},
            {"sku": "JEANS-32", "quantity": 1, "unit_price": 4999, "tax": 950},
        ],
        promotions=[{"code": "WELCOME10", "amount": 1000}],
        shipping=499,
    )
    lines, totals = price_order(request)
    # 1000 * 3898 / 8897 = 438.13 -> 438; 1000 * 4999 / 8897 = 561.87 -> 562 (larger remainder)
    assert [line.promotions for line in lines] == [{"WELCOME10": 438}, {"WELCOME10": 562}]
    assert [line.discount for line in lines] == [538, 562]
    assert totals.as_dict() == {"subtotal": 8997, "discount": 1100, "tax": 1250, "shipping": 499, "total": 9646}
    assert sum(line.total for line in lines) + sum(line.shipping for line in lines) == totals.total


def test_two_promotions_never_take_a_line_below_zero():
    # Split over the same values, both promotions rounded the first line's share up: it
    # went to -1 and the shipping split refused the negative weight.
    request = order(
        [{"sku": "A-1", "quantity": 1, "unit_price": 1}, {"sku": "B-1", "quantity": 1, "unit_price": 1}],
        promotions=[{"code": "A", "amount": 1}, {"code": "B", "amount": 1}],
        shipping=100,
    )
    lines, totals = price_order(request)
    assert [line.promotions for line in lines] == [{"A": 1}, {"B": 1}]
    assert [line.total for line in lines] == [0, 0]
    assert [line.shipping for line in lines] == [50, 50]
    assert totals.total == 100


line_st = st.fixed_dictionaries(
    {
        "sku": st.from_regex(r"[A-Z]{2,6}-[0-9]{1,3}", fullmatch=True),
        "quantity": st.integers(1, 50),
        "unit_price": st.integers(0, 500_000),
        "tax": st.integers(0, 50_000),
    }
)


@given(st.lists(line_st, min_size=1, max_size=40), st.integers(0, 10**6), st.data())
def test_lines_always_add_up_to_the_order(lines, shipping, data):
    net = sum(line["quantity"] * line["unit_price"] for line in lines)
    promos = []
    if net:
        promo_total = data.draw(st.integers(0, net))
        cut = data.draw(st.integers(0, promo_total))
        promos = [{"code": c, "amount": a} for c, a in (("A", cut), ("B", promo_total - cut)) if a]
    lines_out, totals = price_order(order(lines, promotions=promos, shipping=shipping))
    assert totals.total == totals.subtotal - totals.discount + totals.tax + totals.shipping
    assert sum(line.total for line in lines_out) + sum(line.shipping for line in lines_out) == totals.total
    assert sum(line.shipping for line in lines_out) == shipping
    for promo in promos:
        assert sum(line.promotions.get(promo["code"], 0) for line in lines_out) == promo["amount"]
    assert all(line.total >= line.tax for line in lines_out)  # no line is discounted below zero


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "XXX"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "A", "quantity": 0, "unit_price": 1}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "A", "quantity": "2", "unit_price": 1}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "A", "quantity": 1.5, "unit_price": 1}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price": 10.5}]}, "lines.0.unit_price"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price": -1}]}, "lines.0.unit_price"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price": 5, "discount": 6}]}, "lines.0"),
        ({"promotions": [{"code": "X", "amount": 10**6}]}, "body"),
        ({"customer": {"email": "nope", "name": "A"}}, "customer.email"),
    ],
)
def test_invalid_orders_name_the_field(change, field):
    base = order([{"sku": "A", "quantity": 1, "unit_price": 100}]).model_dump()
    base.update(change)
    with pytest.raises(ValidationError) as err:
        OrderRequest.model_validate(base)
    locs = {".".join(str(p) for p in e["loc"]) or "body" for e in err.value.errors()}
    assert any(loc.startswith(field) or field == "body" for loc in locs), locs
