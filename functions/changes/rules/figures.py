"""Change orders: every change with a financial effect, and the order's figures from them.

The original order is never edited. A cancel, a return, an appeasement, an exchange or a
fee is a ``CHG#<chg_id>`` item under the order with its own lines and totals; the
order's current figures are the header's original totals plus the totals of every
change.

Sign convention: a change's figures are what it does to the order. What is taken off is
negative (a cancel of a 30.00 line is subtotal -3000), what is added is positive (the
lines of an exchange, a restocking fee). An appeasement adds a discount (discount
+500, total -500). ``total = subtotal - discount + tax + shipping + fees + credit``,
where ``credit`` is the part of a return's value kept to pay for its exchange lines
instead of being refunded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.order.amounts import Amounts
from shared.order.record import OrderRecord
from shared.table import Item

TOTAL_FIELDS = ("subtotal", "discount", "tax", "shipping", "fees", "credit")


def change_line(
    line_id: str, quantity: int, amounts: Amounts, *, sign: int = -1, fee: int = 0, keep_shipping: bool = False
) -> dict[str, Any]:
    """One line of a change order: ``amounts`` of ``quantity`` units, signed, plus a fee."""
    shipping = 0 if keep_shipping else amounts.shipping
    figures = {
        "subtotal": sign * amounts.subtotal,
        "discount": sign * amounts.discount,
        "tax": sign * amounts.tax,
        "shipping": sign * shipping,
        "fee": fee,
    }
    total = figures["subtotal"] - figures["discount"] + figures["tax"] + figures["shipping"] + fee
    return {"line_id": line_id, "quantity": quantity, **figures, "total": total}


def change_totals(lines: Iterable[Mapping[str, Any]], *, discount: int = 0, credit: int = 0) -> dict[str, int]:
    """Totals of a change from its lines, plus a header-level discount and a kept credit."""
    rows = list(lines)
    totals = {
        "subtotal": sum(int(r["subtotal"]) for r in rows),
        "discount": sum(int(r["discount"]) for r in rows) + discount,
        "tax": sum(int(r["tax"]) for r in rows),
        "shipping": sum(int(r["shipping"]) for r in rows),
        "fees": sum(int(r.get("fee", 0)) for r in rows),
        "credit": credit,
    }
    totals["total"] = (
        totals["subtotal"] - totals["discount"] + totals["tax"] + totals["shipping"] + totals["fees"] + credit
    )
    return totals


def changes_of(record: OrderRecord) -> list[Item]:
    """The order's change orders, oldest first."""
    return sorted(record.others.get("CHG", []), key=lambda c: (c["created_at"], c["change_id"]))


def order_figures(record: OrderRecord) -> dict[str, int]:
    """The order's current figures: its original totals plus every change's totals."""
    original = record.header["totals"]
    figures = {f: int(original.get(f, 0)) for f in TOTAL_FIELDS}
    for change in changes_of(record):
        for f in TOTAL_FIELDS:
            figures[f] += int(change["totals"].get(f, 0))
    figures["total"] = int(original["total"]) + sum(int(c["totals"]["total"]) for c in changes_of(record))
    return figures
