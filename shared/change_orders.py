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

from shared.order import keys
from shared.order.amounts import Amounts
from shared.order.record import OrderRecord
from shared.table import Item

BUCKETS = ("ordered", "allocated", "shipped", "cancelled", "return_initiated", "returned")
TOTAL_FIELDS = ("subtotal", "discount", "tax", "shipping", "fees", "credit")
KINDS = ("cancel", "return", "appeasement", "exchange", "fee")


def change_sk(change_id: str) -> str:
    return f"CHG#{change_id}"


def return_sk(return_id: str) -> str:
    return f"RET#{return_id}"


def return_pointer_pk(return_id: str) -> str:
    return f"RETURN#{return_id}"


def quantities(line: Mapping[str, Any]) -> dict[str, int]:
    """A line's buckets, every one present (absent means 0)."""
    q = line.get("quantities") or {}
    return {b: int(q.get(b, 0)) for b in BUCKETS}


def cancellable_units(line: Mapping[str, Any]) -> int:
    """Units that may still be cancelled: ordered, not cancelled, not shipped."""
    q = quantities(line)
    return q["ordered"] - q["cancelled"] - q["shipped"]


def returnable_units(line: Mapping[str, Any]) -> int:
    """Units that may still be returned: shipped, neither returned nor on an open return."""
    q = quantities(line)
    return q["shipped"] - q["returned"] - q["return_initiated"]


def buckets_consistent(q: Mapping[str, int]) -> bool:
    """The bucket invariants every write keeps."""
    return (
        all(int(q.get(b, 0)) >= 0 for b in BUCKETS)
        and int(q.get("cancelled", 0)) + int(q.get("shipped", 0)) <= int(q["ordered"])
        and int(q.get("returned", 0)) + int(q.get("return_initiated", 0)) <= int(q.get("shipped", 0))
        and int(q.get("allocated", 0)) + int(q.get("cancelled", 0)) <= int(q["ordered"])
    )


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


def change_item(
    order_id: str,
    change_id: str,
    *,
    kind: str,
    reason: str,
    lines: list[dict[str, Any]],
    totals: dict[str, int],
    refund: int,
    release: int,
    at: str,
    return_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Item:
    if kind not in KINDS:
        raise ValueError(f"unknown change kind {kind!r}")
    return {
        "pk": keys.order_pk(order_id),
        "sk": change_sk(change_id),
        "type": "change_order",
        "order_id": order_id,
        "change_id": change_id,
        "kind": kind,
        "reason": reason,
        "lines": lines,
        "totals": totals,
        "refund": {"amount": refund},
        "release": {"amount": release},
        "return_id": return_id,
        "created_at": at,
        **(extra or {}),
    }


def _changes(record: OrderRecord) -> list[Item]:
    return sorted(record.others.get("CHG", []), key=lambda c: (c["created_at"], c["change_id"]))


def order_figures(record: OrderRecord) -> dict[str, int]:
    """The order's current figures: its original totals plus every change's totals."""
    original = record.header["totals"]
    figures = {f: int(original.get(f, 0)) for f in TOTAL_FIELDS}
    for change in _changes(record):
        for f in TOTAL_FIELDS:
            figures[f] += int(change["totals"].get(f, 0))
    figures["total"] = int(original["total"]) + sum(int(c["totals"]["total"]) for c in _changes(record))
    return figures


def change_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "change_id": item["change_id"],
        "kind": item["kind"],
        "reason": item.get("reason", ""),
        "lines": item.get("lines", []),
        "totals": item["totals"],
        "refund": item.get("refund", {"amount": 0}),
        "release": item.get("release", {"amount": 0}),
        "return_id": item.get("return_id"),
        "created_at": item["created_at"],
    }


def change_views(record: OrderRecord) -> list[dict[str, Any]]:
    return [change_view(c) for c in _changes(record)]


def return_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "return_id": item["return_id"],
        "order_id": item["order_id"],
        "status": item["status"],
        "lines": item.get("lines", []),
        "exchange": item.get("exchange", []),
        "exchange_change_id": item.get("exchange_change_id"),
        "expected_refund": item.get("expected_refund", 0),
        "refunded": item.get("refunded", 0),
        "receipts": [{k: v for k, v in r.items() if k != "task_token"} for r in item.get("receipts", [])],
        "change_ids": item.get("change_ids", []),
        "created_at": item["created_at"],
        "updated_at": item.get("updated_at", item["created_at"]),
    }


def return_views(record: OrderRecord) -> list[dict[str, Any]]:
    items = sorted(record.others.get("RET", []), key=lambda r: (r["created_at"], r["return_id"]))
    return [return_view(r) for r in items]
