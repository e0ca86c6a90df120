"""The payment ledger's arithmetic: pure functions over the item dicts of payments,
invoices and credit memos (their layout: functions/payments/store.py).

What a payment can still capture and refund, its status, the header's totals and
payment status, an invoice's lines, and how a refund is split over payments and their
captures. No I/O: tested without a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.order.amounts import cancelled_amounts, shipped_amounts, units_amounts
from shared.table import Item

ACTIVE = frozenset({"authorized", "partially_captured"})
CLOSED = frozenset({"expired", "voided", "failed"})
TOTALS = ("authorized", "captured", "refunded", "refund_pending")
# Where a provider refund's amount is counted, by its status (a failed one is refundable again).
_REFUND_BUCKET = {"pending": "refund_pending", "succeeded": "refunded", "failed": None}


# ---- amounts of one payment ------------------------------------------------------------


def open_amount(payment: Mapping[str, Any]) -> int:
    """Authorized and still capturable: nothing once expired, voided or failed."""
    if payment["status"] not in ACTIVE:
        return 0
    return max(0, int(payment["authorized"]) - int(payment["captured"]) - int(payment.get("released", 0)))


def refundable(payment: Mapping[str, Any]) -> int:
    """Captured and neither refunded nor on its way back (pending refunds count)."""
    return int(payment["captured"]) - int(payment["refunded"]) - int(payment["refund_pending"])


def reserved_refunds(header: Mapping[str, Any]) -> dict[str, int]:
    """Refunds promised but not yet set aside, by change (a received return, an appeasement):
    the header's ``refund_reserved``. Nothing else may take that money."""
    return {change_id: int(amount) for change_id, amount in (header.get("refund_reserved") or {}).items()}


def refundable_for(payments: Iterable[Mapping[str, Any]], header: Mapping[str, Any], change_id: str | None) -> int:
    """What the change ``change_id`` may refund: captured, neither refunded nor pending, less
    what other changes reserved (its own reservation is its to take)."""
    reserved = reserved_refunds(header)
    others = sum(reserved.values()) - reserved.get(change_id or "", 0)
    return sum(max(0, refundable(p)) for p in payments if p["status"] != "failed") - others


def payment_status(payment: Mapping[str, Any]) -> str:
    """A payment's status follows from its amounts, once it is neither expired, voided nor failed."""
    if payment["status"] in CLOSED:
        return str(payment["status"])
    captured, authorized = int(payment["captured"]), int(payment["authorized"])
    released = int(payment.get("released", 0))
    if captured == 0:
        return "voided" if released >= authorized > 0 else "authorized"
    return "captured" if captured + released >= authorized else "partially_captured"


def with_amounts(payment: Mapping[str, Any], at: str, **deltas: int) -> Item:
    """A copy of ``payment`` with amounts moved by ``deltas``, its status recomputed."""
    out = dict(payment)
    for name, delta in deltas.items():
        out[name] = int(out.get(name, 0)) + delta
        if out[name] < 0:
            raise ValueError(f"{name} of payment {payment['payment_id']} would go below zero")
    if refundable(out) < 0 or int(out["captured"]) + int(out.get("released", 0)) > int(out["authorized"]):
        raise ValueError(f"payment {payment['payment_id']} would not add up")
    out["status"] = payment_status(out)
    out["updated_at"] = at
    return out


def move_refund(payment: Mapping[str, Any], amount: int, before: str | None, after: str, at: str) -> Item:
    """Move a provider refund's amount from the bucket of ``before`` to that of ``after``."""
    deltas: dict[str, int] = {}
    if before and _REFUND_BUCKET[before]:
        deltas[str(_REFUND_BUCKET[before])] = -amount
    if _REFUND_BUCKET[after]:
        bucket = str(_REFUND_BUCKET[after])
        deltas[bucket] = deltas.get(bucket, 0) + amount
    return with_amounts(payment, at, **deltas)


# ---- amounts of the order --------------------------------------------------------------


def charge_amount(lines: Iterable[Mapping[str, Any]]) -> int:
    """What the order charges: every line's total less what its cancelled units were worth."""
    total = 0
    for line in lines:
        cancelled = int(line.get("quantities", {}).get("cancelled", 0))
        # The stored line total leaves out the line's shipping share; the units carry it.
        total += units_amounts(line, 0, int(line["quantity"])).total - cancelled_amounts(line, 0, cancelled).total
    return total


def units_to_ship(lines: Iterable[Mapping[str, Any]]) -> int:
    """Units neither shipped nor cancelled: when none are left, a capture is the final one."""
    left = 0
    for line in lines:
        q = line.get("quantities", {})
        left += max(0, int(line["quantity"]) - int(q.get("shipped", 0)) - int(q.get("cancelled", 0)))
    return left


def ledger_totals(payments: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Header totals. ``authorized`` counts every authorization granted, re-authorizations too."""
    totals = dict.fromkeys(TOTALS, 0)
    for p in payments:
        if p["status"] == "failed":
            continue
        for name in TOTALS:
            totals[name] += int(p.get(name, 0))
    return totals


def order_payment_status(payments: Sequence[Mapping[str, Any]], charge: int) -> str:
    """The header's ``payment_status``, derived from the payments and what the order charges."""
    granted = [p for p in payments if p["status"] != "failed"]
    if not granted:
        return "failed" if payments else "pending"
    totals = ledger_totals(granted)
    captured, refunded = totals["captured"], totals["refunded"]
    if refunded > 0:
        return "refunded" if refunded >= captured else "partially_refunded"
    if captured > 0:
        return "captured" if captured >= charge else "partially_captured"
    if any(p["status"] in ACTIVE for p in granted):
        return "authorized"
    if all(p["status"] == "voided" for p in granted):
        return "voided"
    return "pending"  # only expired authorizations: the next capture authorizes again


# ---- invoices --------------------------------------------------------------------------


def invoice_lines(
    lines_by_id: Mapping[str, Mapping[str, Any]], shipment: Mapping[str, Any]
) -> list[dict[str, int | str]]:
    """The shipped units of each line, priced by the one rule (shared/order/amounts.py)."""
    out: list[dict[str, int | str]] = []
    for shipped in shipment["lines"]:
        line = lines_by_id[shipped["line_id"]]
        quantity, first = int(shipped["quantity"]), int(shipped.get("first_unit", 0))
        amounts = shipped_amounts(line, first, quantity)
        out.append({"line_id": shipped["line_id"], "quantity": quantity, "first_unit": first, **amounts.as_dict()})
    return out


# ---- refunds ---------------------------------------------------------------------------


def allocate_refund(amount: int, payments: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Split a refund over payments: one whose refundable rest equals it, else largest first.

    Ties go to the older payment. Raises ValueError if the payments cannot cover it.
    """
    candidates = [(p["payment_id"], refundable(p), str(p.get("created_at", ""))) for p in payments]
    candidates = [c for c in candidates if c[1] > 0]
    for payment_id, rest, _ in sorted(candidates, key=lambda c: c[2]):
        if rest == amount:
            return [(payment_id, amount)]
    parts: list[tuple[str, int]] = []
    left = amount
    for payment_id, rest, _ in sorted(candidates, key=lambda c: (-c[1], c[2])):
        if left == 0:
            break
        take = min(rest, left)
        parts.append((payment_id, take))
        left -= take
    if left:
        raise ValueError(f"refund of {amount} exceeds what is refundable")
    return parts


def refunded_by_invoice(credit_memos: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """What each invoice (capture) has given back or is giving back."""
    out: dict[str, int] = {}
    for memo in credit_memos:
        for entry in memo.get("refunds", []):
            if entry["status"] != "failed" and entry.get("invoice_id"):
                out[entry["invoice_id"]] = out.get(entry["invoice_id"], 0) + int(entry["amount"])
    return out


def allocate_over_invoices(
    amount: int, invoices: Sequence[Mapping[str, Any]], already: Mapping[str, int]
) -> list[tuple[str, int]]:
    """Split one payment's part over its captures (a provider refunds a capture), largest first."""
    rests = [
        (i["invoice_id"], int(i["amount"]) - already.get(i["invoice_id"], 0), str(i["created_at"])) for i in invoices
    ]
    parts: list[tuple[str, int]] = []
    left = amount
    for invoice_id, rest, _ in sorted(rests, key=lambda r: (-r[1], r[2])):
        if left == 0 or rest <= 0:
            break
        take = min(rest, left)
        parts.append((invoice_id, take))
        left -= take
    if left:
        raise ValueError(f"the captures cannot give back {amount}")
    return parts


def credit_memo_status(entries: Sequence[Mapping[str, Any]]) -> str:
    statuses = {e["status"] for e in entries}
    if not entries or statuses == {"succeeded"}:
        return "issued"
    if "failed" in statuses:
        return "failed" if statuses == {"failed"} else "partially_failed"
    return "pending"
