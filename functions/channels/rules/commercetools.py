"""A commercetools Order (from an ``OrderCreated`` Message) as a ``POST /v1/orders`` body, pure.

commercetools keeps money as ``centAmount`` in the currency's minor units. Per line: the
unit price is ``price.value``, the discount what ``totalPrice`` is below quantity x unit
price, the tax ``taxedPrice.totalGross - totalNet``. Shipping is ``shippingInfo.price`` and
its tax (``shippingInfo.taxedPrice``) is spread over the lines, as the OMS keeps shipping tax.
Where the project's prices include tax (``taxRate.includedInPrice``) the prices stay gross
and the tax they include is not split out (the OMS's tax adds to a net price): the order's
total is the same to the cent. The result must equal the order's ``taxedPrice.totalGross``
(or ``totalPrice``), or the order is refused rather than captured with other figures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from functions.channels.rules.shopify import UnmappableOrder
from shared.money import CURRENCY_EXPONENTS, split_largest_remainder

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _cents(money: Any, currency: str) -> int:
    if not isinstance(money, Mapping) or not isinstance(money.get("centAmount"), int):
        raise UnmappableOrder(f"not a commercetools money value: {money!r}")
    if money.get("currencyCode") != currency:
        raise UnmappableOrder(f"an amount in {money.get('currencyCode')}, the order is in {currency}")
    if int(money.get("fractionDigits", CURRENCY_EXPONENTS[currency])) != CURRENCY_EXPONENTS[currency]:
        raise UnmappableOrder("an amount with another number of fraction digits than the OMS keeps")
    return int(money["centAmount"])


def _tax(taxed: Any, currency: str) -> int:
    if not isinstance(taxed, Mapping):
        return 0
    return _cents(taxed.get("totalGross"), currency) - _cents(taxed.get("totalNet"), currency)


def _included(rate: Any) -> bool:
    return bool(isinstance(rate, Mapping) and rate.get("includedInPrice"))


def _address(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise UnmappableOrder("the order has no shipping address")
    street = " ".join(str(raw[k]) for k in ("streetName", "streetNumber") if raw.get(k)).strip()
    missing = [
        name
        for name, value in (
            ("street", street),
            ("city", raw.get("city")),
            ("postalCode", raw.get("postalCode")),
            ("country", raw.get("country")),
        )
        if not value
    ]
    if missing:
        raise UnmappableOrder(f"the shipping address has no {', '.join(missing)}")
    address: dict[str, Any] = {
        "line1": street,
        "city": raw["city"],
        "postal_code": raw["postalCode"],
        "country": raw["country"],
    }
    extra = " ".join(str(raw[k]) for k in ("building", "apartment", "additionalStreetInfo") if raw.get(k))
    if extra:
        address["line2"] = extra
    if raw.get("state") or raw.get("region"):
        address["region"] = raw.get("state") or raw.get("region")
    return address


def map_order(order: Mapping[str, Any], *, channel: str, payment_provider: str) -> dict[str, Any]:
    """The ``POST /v1/orders`` body for a commercetools Order (``UnmappableOrder`` if it cannot be one)."""
    currency = str((order.get("totalPrice") or {}).get("currencyCode") or "")
    if currency not in CURRENCY_EXPONENTS:
        raise UnmappableOrder(f"currency {currency!r} is not supported")
    if order.get("customLineItems"):
        raise UnmappableOrder("custom line items have no SKU the OMS can fulfil")
    items = [li for li in order.get("lineItems") or () if int(li.get("quantity") or 0) > 0]
    if not items:
        raise UnmappableOrder("the order has no line items")
    lines: list[dict[str, Any]] = []
    for li in items:
        sku = (li.get("variant") or {}).get("sku")
        if not sku:
            raise UnmappableOrder(f"line item {li.get('id')} has no SKU")
        quantity, unit = int(li["quantity"]), _cents((li.get("price") or {}).get("value"), currency)
        total = _cents(li.get("totalPrice"), currency)
        tax = 0 if _included(li.get("taxRate")) else _tax(li.get("taxedPrice"), currency)
        lines.append(
            {"sku": str(sku), "quantity": quantity, "unit_price": unit, "discount": quantity * unit - total, "tax": tax}
        )
    shipping_info = order.get("shippingInfo") or {}
    shipping = _cents(shipping_info["price"], currency) if shipping_info.get("price") else 0
    if shipping and not _included(shipping_info.get("taxRate")):
        shipping_tax = _tax(shipping_info.get("taxedPrice"), currency)
        nets = [ln["quantity"] * ln["unit_price"] - ln["discount"] for ln in lines]
        for line, share in zip(lines, split_largest_remainder(shipping_tax, nets), strict=True):
            line["tax"] += share
    total = sum(ln["quantity"] * ln["unit_price"] - ln["discount"] + ln["tax"] for ln in lines) + shipping
    expected = _cents((order.get("taxedPrice") or {}).get("totalGross") or order.get("totalPrice"), currency)
    if total != expected:
        raise UnmappableOrder(f"the lines and shipping come to {total}, the order says {expected}")
    address = order.get("shippingAddress") or {}
    # The order's e-mail, or the shipping address's when the order's is not deliverable mail.
    candidates = [str(e) for e in (order.get("customerEmail"), address.get("email")) if e]
    email = next((e for e in candidates if _EMAIL.match(e)), None)
    if not email:
        raise UnmappableOrder("the order has no customer e-mail")
    name = " ".join(str(address[k]) for k in ("firstName", "lastName") if address.get(k)) or str(email)
    request: dict[str, Any] = {
        "channel": channel,
        "external_id": str(order.get("orderNumber") or order["id"]),
        "customer": {"email": email, "name": name},
        "currency": currency,
        "lines": lines,
        "shipping": {"address": _address(order.get("shippingAddress")), "method": "standard", "amount": shipping},
        # The project's payment stays where the shop took it; the OMS keeps a reference.
        "payment": {"provider": payment_provider, "token": f"commercetools-order-{order['id']}"},
    }
    if order.get("createdAt"):
        request["placed_at"] = order["createdAt"]
    return request
