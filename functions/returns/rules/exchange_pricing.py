"""Pricing the replacement lines of an exchange (no writes).

A replacement is priced at what the returned units it replaces were worth, unless a
``unit_price`` is given (then at that price, with the returned line's tax rate). The
return's expected refund pays for the replacements first: that credit is a discount on
the new lines (``promotions["exchange_credit"]``), so a same-price exchange moves no
money, a dearer one charges only the difference and a cheaper one refunds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from functions.returns.rules.refunds import ReturnedUnits
from shared.money import split_largest_remainder
from shared.order.amounts import Amounts, returned_amounts

CREDIT = "exchange_credit"


@dataclass(frozen=True)
class Replacement:
    sku: str
    quantity: int
    unit_price: int | None = None


def _priced(replacement: Replacement, source: ReturnedUnits) -> Amounts:
    line = source.line
    if replacement.unit_price is not None:
        subtotal = replacement.quantity * replacement.unit_price
        tax = int(line["tax"]) * subtotal // int(line["subtotal"]) if int(line["subtotal"]) else 0
        return Amounts(subtotal=subtotal, tax=tax)
    if replacement.quantity <= source.quantity:
        worth = returned_amounts(line, source.returned_before, replacement.quantity)
    else:
        quantity = int(line["quantity"])
        worth = Amounts(*(int(line[c]) * replacement.quantity // quantity for c in ("subtotal", "discount", "tax")))
    return Amounts(subtotal=worth.subtotal, discount=worth.discount, tax=worth.tax)


def price_replacements(
    replacements: Sequence[Replacement], returned: Sequence[ReturnedUnits], *, expected_refund: int
) -> tuple[list[dict[str, Any]], int]:
    """The new lines' figures (without keys) and the credit the return pays for them.

    Replacement ``i`` takes its price from returned line ``i`` (the first if fewer).
    """
    if not returned:
        raise ValueError("an exchange needs returned units")
    rows = []
    for i, r in enumerate(replacements):
        source = returned[i] if i < len(returned) else returned[0]
        worth = _priced(r, source)
        unit_price = r.unit_price if r.unit_price is not None else int(source.line["unit_price"])
        rows.append((r, worth, unit_price))
    values = [max(0, w.subtotal - w.discount + w.tax) for _, w, _ in rows]
    credit = max(0, min(sum(values), expected_refund))
    shares = split_largest_remainder(credit, values)
    lines = []
    for (r, worth, unit_price), share in zip(rows, shares, strict=True):
        promotions = {CREDIT: share} if share else {}
        base_discount = worth.discount
        discount = base_discount + share
        lines.append(
            {
                "sku": r.sku,
                "quantity": r.quantity,
                "unit_price": unit_price,
                "subtotal": worth.subtotal,
                "line_discount": base_discount,
                "promotions": promotions,
                "discount": discount,
                "tax": worth.tax,
                "shipping": 0,
                "total": worth.subtotal - discount + worth.tax,
                "quantities": {"ordered": r.quantity},
            }
        )
    return lines, credit
