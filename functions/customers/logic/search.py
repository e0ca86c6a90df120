"""Search: orders and customers by order id, external id, e-mail, phone, name prefix or tracking number.

Every kind of match is one key read or one index query (docs/data-model.md, Access
patterns), never a scan. A channel key sees only its own channel's orders and no
customers; agents and operators see everything.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from functions.customers import store
from shared.api.caller import Caller, Role
from shared.errors import InvalidInput
from shared.order.record import get_header
from shared.table import Item

SEARCH_ROLES: tuple[Role, ...] = ("channel", "agent", "ops")
PHONE = re.compile(r"^\+?[0-9 ()./-]{6,32}$")


class SearchPage(BaseModel):
    items: list[dict[str, Any]]


def _order_hit(header: Item, matched: str) -> dict[str, Any]:
    return {
        "kind": "order",
        "matched": matched,
        "order_id": header["order_id"],
        "channel": header["channel"],
        "external_id": header["external_id"],
        "customer_id": header.get("customer_id"),
        "status": header["status"],
        "total": int(header["totals"]["total"]),
        "currency": header["currency"],
        "created_at": header["created_at"],
    }


def _customer_hit(profile: Item, matched: str) -> dict[str, Any]:
    return {
        "kind": "customer",
        "matched": matched,
        "customer_id": profile["customer_id"],
        "name": profile.get("name"),
        "email": profile.get("email"),
        "phone": profile.get("phone"),
    }


def search(caller: Caller, q: str) -> SearchPage:
    caller.require(*SEARCH_ROLES)
    term = q.strip()
    if len(term) < 2:
        raise InvalidInput("q needs at least two characters", errors=[{"field": "q", "message": "too short"}])
    sees_customers = caller.role in ("agent", "ops")
    orders: dict[str, dict[str, Any]] = {}
    customers: dict[str, dict[str, Any]] = {}

    def add_order(header: Item | None, matched: str) -> None:
        if header and caller.may_see_channel(header["channel"]) and header["order_id"] not in orders:
            orders[header["order_id"]] = _order_hit(header, matched)

    def add_customer(profile: Item | None, matched: str) -> None:
        if profile and sees_customers and profile["customer_id"] not in customers:
            customers[profile["customer_id"]] = _customer_hit(profile, matched)

    if term.startswith("ord_"):
        add_order(get_header(term), "order_id")
    if term.startswith("cus_"):
        add_customer(store.get_customer(term), "customer_id")
    if "@" in term:
        customer_id = store.customer_by_email(term)
        if customer_id:
            add_customer(store.get_customer(customer_id), "email")
            for header in store.customer_orders(customer_id, limit=50):
                add_order(header, "email")
    for entry in store.orders_by_external_id(term):
        if caller.may_see_channel(entry["channel"]):
            add_order(get_header(entry["order_id"]), "external_id")
    for shipment in store.shipments_by_tracking(term):
        add_order(get_header(shipment["order_id"]), "tracking_number")
    if sees_customers and PHONE.match(term):
        for profile in store.customers_by_phone(term):
            add_customer(profile, "phone")
    if sees_customers and "@" not in term and not term.startswith(("ord_", "cus_")):
        for profile in store.customers_by_name(term):
            add_customer(profile, "name")
    return SearchPage(items=[*orders.values(), *customers.values()])
