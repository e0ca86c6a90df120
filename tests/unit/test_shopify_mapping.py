"""Shopify's published sample orders map to OMS orders whose totals equal Shopify's, to the cent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.capture.api import OrderRequest
from functions.channels.rules.shopify import UnmappableOrder, map_amounts, map_order, shopify_totals, to_minor
from functions.channels.rules.signatures import shopify_signature, shopify_signature_valid

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
SAMPLES = [
    "order_get.json",
    "order_create_eur_tax.json",
    "order_create_discounted.json",
    "order_create_three_lines_tax.json",
]


def sample(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())["order"]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_totals_equal_shopifys_total_price(name):
    order = sample(name)
    amounts = map_amounts(order)
    totals = shopify_totals(order)
    assert amounts.total == totals.total_price
    assert amounts.tax == totals.total_tax
    assert len(amounts.lines) == len(order["line_items"])


def test_the_full_sample_maps_line_by_line():
    order = sample("order_get.json")
    request = map_order(order, channel="shopify", payment_provider="sandbox")
    OrderRequest.model_validate(request)  # capture accepts it as it is
    assert request["external_id"] == "450789469"
    assert request["currency"] == "USD"
    assert [(ln["sku"], ln["unit_price"], ln["discount"], ln["tax"]) for ln in request["lines"]] == [
        ("IPOD2008GREEN", 19900, 334, 398),
        ("IPOD2008RED", 19900, 333, 398),
        ("IPOD2008BLACK", 19900, 333, 398),
    ]
    assert request["shipping"]["amount"] == 0
    assert request["customer"] == {
        "email": "bob.norman@mail.example.com",
        "name": "Bob Norman",
        "phone": "+16136120707",
    }
    assert request["shipping"]["address"]["country"] == "US"
    assert request["placed_at"] == "2008-01-10T11:00:00-05:00"
    assert map_amounts(order).total == 59894


def test_samples_without_an_address_are_refused_not_guessed():
    order = sample("order_create_eur_tax.json")
    with pytest.raises(UnmappableOrder):
        map_order(order, channel="shopify", payment_provider="sandbox")


def test_amounts_in_minor_units_are_exact():
    assert to_minor("598.94", "USD") == 59894
    assert to_minor("1000", "JPY") == 1000
    assert to_minor("1.234", "KWD") == 1234
    with pytest.raises(UnmappableOrder):
        to_minor("1.005", "USD")


def test_shopify_signature_is_base64_hmac_of_the_raw_body():
    body = b'{"id": 1}'
    signed = shopify_signature("secret", body)
    assert shopify_signature_valid("secret", body, signed)
    assert not shopify_signature_valid("secret", body + b" ", signed)
    assert not shopify_signature_valid("other", body, signed)
    assert not shopify_signature_valid("secret", body, None)
