"""Order totals in minor units, exact to the unit.

subtotal = sum(quantity x unit_price); discount = line discounts + promotions;
total = subtotal - discount + tax + shipping. Each promotion and the shipping amount are
spread over the lines by largest remainder, weighted by the line's value after its own
discount and the promotions before it, so every split adds up exactly, no line is
discounted below zero and the lines add up to the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from functions.capture.logic.models import OrderRequest
from shared.money import split_largest_remainder


@dataclass(frozen=True)
class PricedLine:
    subtotal: int
    line_discount: int
    promotions: dict[str, int] = field(default_factory=dict)
    tax: int = 0
    shipping: int = 0

    @property
    def discount(self) -> int:
        return self.line_discount + sum(self.promotions.values())

    @property
    def total(self) -> int:
        """What the line costs the customer, shipping share excluded."""
        return self.subtotal - self.discount + self.tax


@dataclass(frozen=True)
class Totals:
    subtotal: int
    discount: int
    tax: int
    shipping: int

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + self.tax + self.shipping

    def as_dict(self) -> dict[str, int]:
        return {
            "subtotal": self.subtotal,
            "discount": self.discount,
            "tax": self.tax,
            "shipping": self.shipping,
            "total": self.total,
        }


def price_order(request: OrderRequest) -> tuple[list[PricedLine], Totals]:
    nets = [line.quantity * line.unit_price - line.discount for line in request.lines]
    # Each promotion over what the ones before it left of each line: split over the same
    # values, two promotions could each round the same line's share up past its value.
    after_promos = list(nets)
    promo_shares: dict[str, list[int]] = {}
    for promotion in request.promotions:
        shares = promo_shares[promotion.code] = split_largest_remainder(promotion.amount, after_promos)
        after_promos = [left - share for left, share in zip(after_promos, shares, strict=True)]
    shipping_shares = split_largest_remainder(request.shipping.amount, after_promos)
    priced = [
        PricedLine(
            subtotal=line.quantity * line.unit_price,
            line_discount=line.discount,
            promotions={code: shares[i] for code, shares in promo_shares.items() if shares[i]},
            tax=line.tax,
            shipping=shipping_shares[i],
        )
        for i, line in enumerate(request.lines)
    ]
    totals = Totals(
        subtotal=sum(p.subtotal for p in priced),
        discount=sum(p.discount for p in priced),
        tax=sum(p.tax for p in priced),
        shipping=request.shipping.amount,
    )
    return priced, totals
