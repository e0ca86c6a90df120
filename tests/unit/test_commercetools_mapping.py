"""commercetools' own example Orders mapped to capture requests, to the cent
(tests/fixtures/commercetools/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions.capture.api import OrderRequest
from functions.channels.rules.commercetools import map_order
from functions.channels.rules.shopify import UnmappableOrder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "commercetools"


def example_order() -> dict[str, Any]:
    """The Order in commercetools' OrderEdit example (``result.preview``)."""
    return json.loads((FIXTURES / "order-edits.example.json").read_text())["result"]["preview"]


def test_the_example_order_maps_to_its_total_to_the_cent() -> None:
    order = example_order()
    request = map_order(order, channel="commercetools", payment_provider="sandbox")
    OrderRequest.model_validate(request)
    total = sum(ln["quantity"] * ln["unit_price"] - ln["discount"] + ln["tax"] for ln in request["lines"])
    total += request["shipping"]["amount"]
    assert total == order["taxedPrice"]["totalGross"]["centAmount"] == 3970
    assert request["lines"] == [
        {"sku": "sku_GIRLS_CREW_variant1_1522841378290", "quantity": 1, "unit_price": 3400, "discount": 0, "tax": 0}
    ]
    assert request["shipping"]["amount"] == 570
    assert request["shipping"]["address"] == {
        "line1": "streetname 2",
        "line2": "34",
        "city": "Berlin",
        "postal_code": "101256",
        "country": "DE",
    }
    # The order's e-mail (user@localhost) is no deliverable address; the shipping address's is.
    assert request["customer"] == {"email": "user@example.com", "name": "user lastname"}
    assert request["external_id"] == order["id"] and request["currency"] == "EUR"
    assert request["placed_at"] == "2018-05-15T12:40:17.301Z"


def test_an_order_without_an_address_or_with_other_figures_is_refused() -> None:
    bare = json.loads((FIXTURES / "order.example.json").read_text())
    with pytest.raises(UnmappableOrder):
        map_order(bare, channel="commercetools", payment_provider="sandbox")
    order = example_order()
    order["taxedPrice"]["totalGross"]["centAmount"] += 1
    with pytest.raises(UnmappableOrder, match="come to 3970"):
        map_order(order, channel="commercetools", payment_provider="sandbox")
