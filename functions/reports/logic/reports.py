"""Reports over a range of days: read each day's order facts (one query per day) and sum them."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from functions.customers.api import facts_of_day
from functions.reports.rules.metrics import select, summarize
from shared.api.caller import Caller, Role
from shared.errors import InvalidInput
from shared.order.record import load_order

REPORT_ROLES: tuple[Role, ...] = ("agent", "ops")
MAX_DAYS = 366


def days(start: str, end: str) -> list[str]:
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as err:
        raise InvalidInput("from and to are dates", errors=[{"field": "from", "message": "YYYY-MM-DD"}]) from err
    if last < first or (last - first).days >= MAX_DAYS:
        raise InvalidInput(
            "to must follow from, within a year", errors=[{"field": "to", "message": f"at most {MAX_DAYS} days"}]
        )
    return [(first + timedelta(d)).isoformat() for d in range((last - first).days + 1)]


def _facts(caller: Caller, start: str, end: str, channel: str | None, location_id: str | None) -> dict[str, list[Any]]:
    caller.require(*REPORT_ROLES)
    return {day: select(facts_of_day(day), channel=channel, location_id=location_id) for day in days(start, end)}


def summary(caller: Caller, start: str, end: str, channel: str | None, location_id: str | None) -> dict[str, Any]:
    by_day = _facts(caller, start, end, channel, location_id)
    return {"from": start, "to": end, **summarize(f for rows in by_day.values() for f in rows)}


def daily(caller: Caller, start: str, end: str, channel: str | None, location_id: str | None) -> dict[str, Any]:
    by_day = _facts(caller, start, end, channel, location_id)
    return {"from": start, "to": end, "items": [{"date": day, **summarize(rows)} for day, rows in by_day.items()]}


EXPORT_KINDS = ("orders", "lines", "invoices", "credit_memos")
ORDER_COLUMNS = (
    "order_id",
    "channel",
    "customer_id",
    "currency",
    "placed_at",
    "status",
    "units",
    "units_cancelled",
    "units_shipped",
    "units_returned",
    "ordered",
    "cancelled",
    "captured",
    "refunded",
    "shipments",
)


def export(caller: Caller, kind: str, start: str, end: str) -> str:
    """CSV of the range's orders, their lines, invoices or credit memos (orders by the day they were placed)."""
    if kind not in EXPORT_KINDS:
        raise InvalidInput("unknown kind", errors=[{"field": "kind", "message": f"one of {', '.join(EXPORT_KINDS)}"}])
    facts = [f for rows in _facts(caller, start, end, None, None).values() for f in rows]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if kind == "orders":
        writer.writerow(ORDER_COLUMNS)
        for f in facts:
            writer.writerow([f.get(c) for c in ORDER_COLUMNS])
        return out.getvalue()
    columns = {
        "lines": (
            "order_id",
            "line_id",
            "sku",
            "quantity",
            "unit_price",
            "subtotal",
            "discount",
            "tax",
            "shipping",
            "total",
        ),
        "invoices": ("order_id", "invoice_id", "shipment_id", "payment_id", "amount", "created_at"),
        "credit_memos": ("order_id", "credit_memo_id", "change_id", "reason", "amount", "status", "created_at"),
    }[kind]
    prefix = {"invoices": "INV", "credit_memos": "CM"}.get(kind)
    writer.writerow(columns)
    for f in facts:
        record = load_order(f["order_id"])
        if record is None:
            continue
        items = record.lines if prefix is None else record.others.get(prefix, [])
        for item in sorted(items, key=lambda i: i["sk"]):
            writer.writerow([f["order_id"] if c == "order_id" else item.get(c) for c in columns])
    return out.getvalue()
