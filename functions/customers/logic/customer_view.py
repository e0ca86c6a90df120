"""The customer's 360° view: profile, lifetime figures, segment, open work and recent history."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.customers import store
from functions.customers.rules.facts import placed_at
from functions.customers.rules.segment import lifetime_view, segment
from functions.fulfill.api import shipment_view
from functions.payments.api import payment_summary
from functions.returns.api import return_views
from shared.api.caller import Caller, Role
from shared.clock import now
from shared.errors import NotFound
from shared.order.record import load_order
from shared.table import Item

VIEW_ROLES: tuple[Role, ...] = ("agent", "ops")
OPEN_STATUSES = ("open", "on_hold")
RECENT_ORDERS = 10
RECENT_EVENTS = 25
OPEN_RETURN_STATUSES = ("authorized", "partially_received", "received")


class CustomerView(BaseModel):
    profile: dict[str, Any]
    lifetime: dict[str, Any] | None
    lifetime_by_currency: list[dict[str, Any]]
    segment: str
    open_orders: list[dict[str, Any]]
    open_returns: list[dict[str, Any]]
    recent_payments: list[dict[str, Any]]
    recent_shipments: list[dict[str, Any]]
    recent_events: list[dict[str, Any]]


PROFILE_FIELDS = (
    "customer_id",
    "email",
    "name",
    "phone",
    "marketing_consent",
    "consent_updated_at",
    "source_channel",
    "created_at",
    "updated_at",
    "erased_at",
)


def profile_view(profile: Item) -> dict[str, Any]:
    return {name: profile.get(name) for name in PROFILE_FIELDS}


def _order_row(header: Item) -> dict[str, Any]:
    return {
        "order_id": header["order_id"],
        "channel": header["channel"],
        "external_id": header["external_id"],
        "status": header["status"],
        "fulfillment_status": header["fulfillment_status"],
        "payment_status": header["payment_status"],
        "currency": header["currency"],
        "total": int(header["totals"]["total"]),
        "placed_at": placed_at(header),
    }


def customer_view(caller: Caller, customer_id: str) -> CustomerView:
    caller.require(*VIEW_ROLES)
    profile = store.get_customer(customer_id)
    if profile is None:
        raise NotFound(f"no customer {customer_id}")
    counters = sorted(store.lifetimes(customer_id), key=lambda c: -int(c.get("orders", 0)))
    headers = store.customer_orders(customer_id, newest_first=True)
    first = min((placed_at(h) for h in headers), default=None)
    last = max((placed_at(h) for h in headers), default=None)
    figures = [lifetime_view(c) | {"first_order_at": first, "last_order_at": last} for c in counters]
    orders_total = sum(int(c.get("orders", 0)) for c in counters)

    open_returns: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    shipments: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for header in headers[:RECENT_ORDERS]:
        order_id = header["order_id"]
        record = load_order(order_id)
        if record is None:
            continue
        open_returns += [
            r | {"order_id": order_id} for r in return_views(record) if r.get("status") in OPEN_RETURN_STATUSES
        ]
        payments += [p | {"order_id": order_id} for p in payment_summary(record)["payments"]]
        shipments += [shipment_view(s) | {"order_id": order_id} for s in record.others.get("SHP", [])]
        items = store.latest_events(order_id, limit=RECENT_EVENTS)
        events += [
            {
                "order_id": order_id,
                "event_id": e["event_id"],
                "kind": e["kind"],
                "at": e["at"],
                "detail": e.get("detail"),
            }
            for e in items
        ]
    return CustomerView(
        profile=profile_view(profile),
        lifetime=figures[0] if figures else None,
        lifetime_by_currency=figures,
        segment=segment(orders_total, last, now()),
        open_orders=[_order_row(h) for h in headers if h["status"] in OPEN_STATUSES],
        open_returns=open_returns,
        recent_payments=sorted(payments, key=lambda p: p["created_at"], reverse=True)[:RECENT_EVENTS],
        recent_shipments=sorted(shipments, key=lambda s: str(s.get("shipped_at") or ""), reverse=True)[:RECENT_EVENTS],
        recent_events=sorted(events, key=lambda e: e["at"], reverse=True)[:RECENT_EVENTS],
    )
