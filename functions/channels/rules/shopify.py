"""Shopify's order (REST Admin API / webhook payload) as an OMS order request, exact to the cent.

Shopify already spreads every discount over the lines (``discount_allocations``, order-level
discounts included) and every tax over the lines (``tax_lines``), so each line keeps Shopify's
own figures: unit price, discount, tax. Shipping lines add up to the order's shipping, net of
their own discount allocations; their taxes are spread over the lines' tax by largest
remainder so the order's tax equals Shopify's ``total_tax``. All amounts are shop money, the
currency in which Shopify states ``total_price``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.money import CURRENCY_EXPONENTS, split_largest_remainder

_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{4,32}$")


class UnmappableOrder(ValueError):
    """The payload cannot become an order here (no shipping address, unknown currency ...)."""


def to_minor(amount: Any, currency: str) -> int:
    """ "12.34" -> 1234 in the currency's minor units; refuses fractions of a minor unit."""
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise UnmappableOrder(f"currency {currency!r} is not supported")
    try:
        scaled = Decimal(str(amount)) * (10**exponent)
    except InvalidOperation as err:
        raise UnmappableOrder(f"{amount!r} is not an amount") from err
    if scaled != scaled.to_integral_value():
        raise UnmappableOrder(f"{amount!r} has more decimals than {currency} allows")
    return int(scaled)


def _shop_amount(obj: Mapping[str, Any], field: str, currency: str) -> int:
    """``<field>_set.shop_money.amount`` where Shopify sends it, else ``<field>`` (older payloads)."""
    shop = ((obj.get(f"{field}_set") or {}).get("shop_money") or {}).get("amount")
    return to_minor(shop if shop is not None else obj.get(field) or "0", currency)


def _sum(items: Any, field: str, currency: str) -> int:
    return sum(_shop_amount(item, field, currency) for item in items or ())


@dataclass(frozen=True)
class ShopifyTotals:
    """What Shopify says the order is worth, in minor units."""

    total_price: int
    total_tax: int


def shopify_totals(order: Mapping[str, Any]) -> ShopifyTotals:
    currency = str(order.get("currency") or "")
    return ShopifyTotals(
        total_price=_shop_amount(order, "total_price", currency),
        total_tax=_shop_amount(order, "total_tax", currency),
    )


def _sku(line: Mapping[str, Any]) -> str:
    sku = str(line.get("sku") or "").strip()
    if _SKU.match(sku):
        return sku
    # No usable SKU (custom items): the variant, else the line itself, names the item.
    return f"shopify-{line.get('variant_id') or line.get('id')}"


def _address(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    if not raw or not raw.get("address1") or not raw.get("city") or not raw.get("country_code"):
        raise UnmappableOrder("the order has no complete shipping address")
    address: dict[str, Any] = {
        "line1": raw["address1"],
        "city": raw["city"],
        "postal_code": raw.get("zip") or "-",
        "country": str(raw["country_code"]).upper(),
    }
    if raw.get("address2"):
        address["line2"] = raw["address2"]
    if raw.get("province_code"):
        address["region"] = raw["province_code"]
    lat, lon = raw.get("latitude"), raw.get("longitude")
    if lat not in (None, "") and lon not in (None, ""):
        address["lat"], address["lon"] = float(lat), float(lon)
    return address


def _customer(order: Mapping[str, Any]) -> dict[str, Any]:
    customer = order.get("customer") or {}
    shipping = order.get("shipping_address") or {}
    email = customer.get("email") or order.get("email") or order.get("contact_email")
    if not email:
        raise UnmappableOrder("the order has no customer e-mail")
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)
    name = name or shipping.get("name") or str(email)
    out: dict[str, Any] = {"email": email, "name": name}
    phone = customer.get("phone") or order.get("phone") or shipping.get("phone")
    if phone and _PHONE.match(str(phone)):
        out["phone"] = str(phone)
    return out


def _method(shipping_lines: list[Mapping[str, Any]]) -> str:
    names = " ".join(str(s.get("code") or "") + " " + str(s.get("title") or "") for s in shipping_lines).lower()
    return "express" if "express" in names or "expedited" in names else "standard"


@dataclass(frozen=True)
class MappedAmounts:
    """The order's money as the OMS keeps it: its lines and its shipping, in minor units."""

    lines: list[dict[str, Any]]
    shipping: int
    shipping_lines: list[Mapping[str, Any]]

    @property
    def total(self) -> int:
        """What capture will total (``subtotal - discount + tax + shipping``)."""
        return sum(ln["quantity"] * ln["unit_price"] - ln["discount"] + ln["tax"] for ln in self.lines) + self.shipping

    @property
    def tax(self) -> int:
        return sum(ln["tax"] for ln in self.lines)


def map_amounts(order: Mapping[str, Any]) -> MappedAmounts:
    currency = str(order.get("currency") or "")
    if currency not in CURRENCY_EXPONENTS:
        raise UnmappableOrder(f"currency {currency!r} is not supported")
    items = [li for li in order.get("line_items") or () if int(li.get("quantity") or 0) > 0]
    if not items:
        raise UnmappableOrder("the order has no line items")
    lines: list[dict[str, Any]] = [
        {
            "sku": _sku(li),
            "quantity": int(li["quantity"]),
            "unit_price": _shop_amount(li, "price", currency),
            "discount": _sum(li.get("discount_allocations"), "amount", currency),
            "tax": _sum(li.get("tax_lines"), "price", currency),
        }
        for li in items
    ]
    shipping_lines = list(order.get("shipping_lines") or ())
    shipping = sum(
        _shop_amount(s, "price", currency) - _sum(s.get("discount_allocations"), "amount", currency)
        for s in shipping_lines
    )
    shipping_tax = sum(_sum(s.get("tax_lines"), "price", currency) for s in shipping_lines)
    if shipping_tax:
        nets = [ln["quantity"] * ln["unit_price"] - ln["discount"] for ln in lines]
        for line, share in zip(lines, split_largest_remainder(shipping_tax, nets), strict=True):
            line["tax"] += share
    return MappedAmounts(lines=lines, shipping=max(shipping, 0), shipping_lines=shipping_lines)


def map_order(order: Mapping[str, Any], *, channel: str, payment_provider: str) -> dict[str, Any]:
    """The ``POST /v1/orders`` body for a Shopify order (``UnmappableOrder`` if it cannot be one)."""
    amounts = map_amounts(order)
    request: dict[str, Any] = {
        "channel": channel,
        "external_id": str(order["id"]),
        "customer": _customer(order),
        "currency": order["currency"],
        "lines": amounts.lines,
        "shipping": {
            "address": _address(order.get("shipping_address")),
            "method": _method(amounts.shipping_lines),
            "amount": amounts.shipping,
        },
        # Shopify took the payment; the OMS keeps a reference to it for capture and refunds.
        "payment": {"provider": payment_provider, "token": f"shopify-order-{order['id']}"},
    }
    placed_at = order.get("processed_at") or order.get("created_at")
    if placed_at:
        request["placed_at"] = placed_at
    return request
