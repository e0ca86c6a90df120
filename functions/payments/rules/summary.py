"""An order's payment summary, after Salesforce's OrderPaymentSummary.

- ``authorized``: every authorization the provider granted, re-authorizations included
  (an expired authorization stays in the history with what it captured).
- ``captured``: the sum of the invoices; ``refunded``: what the providers confirmed;
  ``refund_pending``: refunds asked for and not settled yet.
- ``available_to_capture``: authorized, uncaptured and not released on open
  authorizations; ``available_to_refund``: captured less refunded, pending and reserved.
- ``amount_due``: what the order charges: its lines' totals less what cancelled units
  were worth, plus the totals of its other change orders (returns, appeasements,
  exchanges, fees: negative when they take value off), less credit memos that no change
  order stands for. Cancelled units count once, through the lines, whether a backorder
  timeout or a cancel change cancelled them.
- ``balance`` = amount_due - captured + refunded + refund_pending: positive is still to
  be charged (units not shipped yet), zero is settled, negative is owed to the customer
  (a refund the provider refused).

Pure derivations over the order record (no read, no write), hence among the rules: the
order view composes them and tests check them without a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.payments.rules.ledger import (
    ACTIVE,
    charge_amount,
    ledger_totals,
    open_amount,
    refundable,
    refundable_for,
    reserved_refunds,
)
from shared.order.record import OrderRecord


def _sorted(record: OrderRecord, prefix: str) -> list[dict[str, Any]]:
    return sorted(record.others.get(prefix, []), key=lambda i: (str(i.get("created_at", "")), i["sk"]))


def payment_view(payment: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "payment_id": payment["payment_id"],
        "provider": payment["provider"],
        "reference": payment.get("reference"),
        "status": payment["status"],
        "currency": payment["currency"],
        "authorized": int(payment["authorized"]),
        "captured": int(payment["captured"]),
        "refunded": int(payment["refunded"]),
        "refund_pending": int(payment["refund_pending"]),
        "released": int(payment.get("released", 0)),
        "available_to_capture": open_amount(payment),
        "available_to_refund": max(0, refundable(payment)),
        "expires_at": payment.get("expires_at"),
        "replaces": payment.get("replaces"),
        "failure_reason": payment.get("failure_reason"),
        "created_at": payment["created_at"],
        "updated_at": payment.get("updated_at", payment["created_at"]),
    }


def invoice_view(invoice: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "invoice_id": invoice["invoice_id"],
        "shipment_id": invoice["shipment_id"],
        "fo_id": invoice.get("fo_id"),
        "payment_id": invoice.get("payment_id"),
        "capture_reference": invoice.get("capture_reference"),
        "amount": int(invoice["amount"]),
        "lines": invoice.get("lines", []),
        "created_at": invoice["created_at"],
    }


def credit_memo_view(memo: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "credit_memo_id": memo["credit_memo_id"],
        "change_id": memo["change_id"],
        "reason": memo.get("reason"),
        "amount": int(memo["amount"]),
        "status": memo["status"],
        "lines": memo.get("lines", []),
        "refunds": [
            {
                "payment_id": e["payment_id"],
                "invoice_id": e.get("invoice_id"),
                "reference": e.get("reference"),
                "amount": int(e["amount"]),
                "status": e["status"],
                "failure_reason": e.get("failure_reason"),
            }
            for e in memo.get("refunds", [])
        ],
        "created_at": memo["created_at"],
    }


def amount_to_charge(record: OrderRecord) -> int:
    changes = record.others.get("CHG", [])
    changed = sum(int(c["totals"]["total"]) for c in changes if c.get("kind") != "cancel")
    known = {c["change_id"] for c in changes}
    unexplained = sum(int(m["amount"]) for m in record.others.get("CM", []) if m["change_id"] not in known)
    return charge_amount(record.lines) + changed - unexplained


def payment_summary(record: OrderRecord) -> dict[str, Any]:
    """The figures and records GET /v1/orders/{id} shows (``payments``, ``invoices``, ``credit_memos``)."""
    payments = _sorted(record, "PAY")
    memos = _sorted(record, "CM")
    totals = ledger_totals(payments)
    amount_due = amount_to_charge(record)
    net_paid = totals["captured"] - totals["refunded"] - totals["refund_pending"]
    return {
        **totals,
        "available_to_capture": sum(open_amount(p) for p in payments if p["status"] in ACTIVE),
        # Refunds reserved by received returns and appeasements are not available to others.
        "available_to_refund": max(0, refundable_for(payments, record.header, None)),
        "refund_reserved": sum(reserved_refunds(record.header).values()),
        "amount_due": amount_due,
        "balance": amount_due - net_paid,
        "payments": [payment_view(p) for p in payments],
        "invoices": [invoice_view(i) for i in _sorted(record, "INV")],
        "credit_memos": [credit_memo_view(m) for m in memos],
    }
