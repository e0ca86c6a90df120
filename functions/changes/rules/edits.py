"""What an order edit's new units cost (no I/O).

Removed units are priced as a cancellation prices them (their back positions, with their
own discount and promotion share, tax and shipping share: shared/order/amounts.py). New
units are a new line: ``quantity x unit_price``, no discount (the order's promotions are
fixed amounts already spread over the lines it was captured with), the tax given or, for
units of an existing line (more of it, or a swap), that line's tax rate, and no shipping
share (the order's shipping amount does not change by an edit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tax_at_rate_of(line: Mapping[str, Any], subtotal: int) -> int:
    """Tax on ``subtotal`` at ``line``'s rate (its tax over its subtotal), rounded down."""
    line_subtotal = int(line["subtotal"])
    if line_subtotal <= 0:
        return 0
    return int(line["tax"]) * subtotal // line_subtotal


def new_line_figures(sku: str, quantity: int, unit_price: int, tax: int) -> dict[str, Any]:
    """A new line's figures (without keys), as the capture stores a line."""
    if quantity <= 0 or unit_price < 0 or tax < 0:
        raise ValueError("a new line has units, and no negative price or tax")
    subtotal = quantity * unit_price
    return {
        "sku": sku,
        "quantity": quantity,
        "unit_price": unit_price,
        "subtotal": subtotal,
        "line_discount": 0,
        "promotions": {},
        "discount": 0,
        "tax": tax,
        "shipping": 0,
        "total": subtotal + tax,
        "quantities": {"ordered": quantity},
    }


def more_of(line: Mapping[str, Any], quantity: int) -> dict[str, Any]:
    """``quantity`` more units of ``line``: its SKU and unit price, tax at its rate."""
    unit_price = int(line["unit_price"])
    return new_line_figures(line["sku"], quantity, unit_price, tax_at_rate_of(line, quantity * unit_price))


def swapped_in(
    line: Mapping[str, Any], sku: str, quantity: int, unit_price: int | None, tax: int | None
) -> dict[str, Any]:
    """``quantity`` units of ``sku`` in place of ``line``'s: its unit price and tax rate unless given."""
    price = int(line["unit_price"]) if unit_price is None else unit_price
    return new_line_figures(sku, quantity, price, tax_at_rate_of(line, quantity * price) if tax is None else tax)
