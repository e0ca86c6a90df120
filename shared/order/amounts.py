"""What a range of a line's units is worth: the one rule every invoice, refund and cancel uses.

A line of ``quantity`` units carries amounts (subtotal, discount incl. its promotion
share, tax, shipping share). Unit ``k`` (0-based) is worth ``cum(k + 1) - cum(k)`` of each
amount, where ``cum(n) = amount * n // quantity``. Any partition of the units into ranges
therefore adds up to the line's amounts exactly, to the minor unit, whatever order the
ranges are charged or refunded in.

Positions are fixed by convention, so every party computes the same figures:
shipped (invoiced) units take positions from the front, in shipping order
(``[shipped_before, shipped_before + q)``); cancelled units from the back
(``[quantity - cancelled_after, quantity - cancelled_before)``); returned units are the
shipped ones, again from the front (``[returned_before, returned_before + q)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

COMPONENTS = ("subtotal", "discount", "tax", "shipping")


@dataclass(frozen=True)
class Amounts:
    subtotal: int = 0
    discount: int = 0
    tax: int = 0
    shipping: int = 0

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + self.tax + self.shipping

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(*(getattr(self, c) + getattr(other, c) for c in COMPONENTS))

    def as_dict(self) -> dict[str, int]:
        return asdict(self) | {"total": self.total}


def _cumulative(amount: int, units: int, quantity: int) -> int:
    return amount * units // quantity


def units_amounts(line: Mapping[str, Any], start: int, count: int) -> Amounts:
    """The amounts of units ``[start, start + count)`` of ``line`` (a line item or view)."""
    quantity = int(line["quantity"])
    if count < 0 or start < 0 or start + count > quantity:
        raise ValueError(f"units [{start}, {start + count}) outside a line of {quantity}")
    end = start + count
    return Amounts(
        *(_cumulative(int(line[c]), end, quantity) - _cumulative(int(line[c]), start, quantity) for c in COMPONENTS)
    )


def shipped_amounts(line: Mapping[str, Any], shipped_before: int, count: int) -> Amounts:
    """What shipping ``count`` more units is worth (front positions)."""
    return units_amounts(line, shipped_before, count)


def cancelled_amounts(line: Mapping[str, Any], cancelled_before: int, count: int) -> Amounts:
    """What cancelling ``count`` more units is worth (back positions)."""
    quantity = int(line["quantity"])
    return units_amounts(line, quantity - cancelled_before - count, count)


def returned_amounts(line: Mapping[str, Any], returned_before: int, count: int) -> Amounts:
    """What returning ``count`` more shipped units is worth (the front positions again)."""
    return units_amounts(line, returned_before, count)
