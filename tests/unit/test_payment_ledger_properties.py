"""The payment ledger's arithmetic (functions/payments/rules/ledger.py) under random sequences of
captures and refunds: what the operations write is what these functions compute."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.payments.rules.ledger import (
    allocate_over_invoices,
    allocate_refund,
    charge_amount,
    credit_memo_status,
    invoice_lines,
    ledger_totals,
    move_refund,
    open_amount,
    order_payment_status,
    refundable,
    refunded_by_invoice,
    units_to_ship,
    with_amounts,
)
from shared.order.amounts import COMPONENTS

AT = "2024-05-01T10:00:00.000Z"


@st.composite
def order_lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 5))):
        quantity = draw(st.integers(1, 7))
        subtotal = quantity * draw(st.integers(0, 20_000))
        discount = draw(st.integers(0, subtotal))
        tax, shipping = draw(st.integers(0, 5_000)), draw(st.integers(0, 2_000))
        out.append(
            {
                "line_id": f"ln_{i}",
                "quantity": quantity,
                "subtotal": subtotal,
                "discount": discount,
                "tax": tax,
                "shipping": shipping,
                "total": subtotal - discount + tax + shipping,
                "quantities": {"ordered": quantity, "shipped": 0, "cancelled": 0},
            }
        )
    return out


def payment(payment_id: str, authorized: int, created_at: str = AT) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "authorized": authorized,
        "captured": 0,
        "refunded": 0,
        "refund_pending": 0,
        "released": 0,
        "status": "authorized",
        "created_at": created_at,
    }


class Ledger:
    """The order's ledger as plain dicts, moved only by the functions the operations use."""

    def __init__(self, lines: list[dict[str, Any]]):
        self.lines = lines
        self.payments = [payment("pay_1", charge_amount(lines))]
        self.invoices: list[dict[str, Any]] = []
        self.memos: list[dict[str, Any]] = []

    def ship(self, picks: list[int]) -> None:
        shipped = []
        for line, pick in zip(self.lines, picks, strict=False):
            left = line["quantity"] - line["quantities"]["shipped"]
            qty = pick % (left + 1)
            if qty:
                shipped.append(
                    {"line_id": line["line_id"], "quantity": qty, "first_unit": line["quantities"]["shipped"]}
                )
                line["quantities"]["shipped"] += qty
        if not shipped:
            return
        lines = invoice_lines({line["line_id"]: line for line in self.lines}, {"lines": shipped})
        amount = sum(int(x["total"]) for x in lines)
        if amount <= 0:
            return
        p = next(p for p in self.payments if open_amount(p) >= amount)
        final = units_to_ship(self.lines) == 0
        rest = open_amount(p) - amount if final else 0
        self.payments[self.payments.index(p)] = with_amounts(p, AT, captured=amount, released=rest)
        self.invoices.append(
            {
                "invoice_id": f"inv_{len(self.invoices)}",
                "payment_id": p["payment_id"],
                "amount": amount,
                "lines": lines,
                "created_at": AT,
            }
        )

    def expire_and_reauthorize(self) -> None:
        """The open authorization lapses; a new one covers what is left to capture."""
        captured = ledger_totals(self.payments)["captured"]
        for i, p in enumerate(self.payments):
            if p["status"] in ("authorized", "partially_captured"):
                self.payments[i] = {**p, "status": "expired"}
        remainder = charge_amount(self.lines) - captured
        if remainder > 0:
            self.payments.append(payment(f"pay_{len(self.payments) + 1}", remainder, f"{AT}#{len(self.payments)}"))

    def refund(self, amount: int, outcome: str) -> None:
        parts = allocate_refund(amount, self.payments)
        already = refunded_by_invoice(self.memos)
        entries = []
        for payment_id, part in parts:
            own = [i for i in self.invoices if i["payment_id"] == payment_id]
            for invoice_id, piece in allocate_over_invoices(part, own, already):
                entries.append(
                    {"payment_id": payment_id, "invoice_id": invoice_id, "amount": piece, "status": "pending"}
                )
            i = next(i for i, p in enumerate(self.payments) if p["payment_id"] == payment_id)
            self.payments[i] = move_refund(self.payments[i], part, None, "pending", AT)
        memo = {"amount": amount, "refunds": entries}
        self.memos.append(memo)
        self.settle(memo, outcome)

    def settle(self, memo: dict[str, Any], outcome: str) -> None:
        for entry in memo["refunds"]:
            if entry["status"] != "pending" or outcome == "pending":
                continue
            i = next(i for i, p in enumerate(self.payments) if p["payment_id"] == entry["payment_id"])
            self.payments[i] = move_refund(self.payments[i], entry["amount"], "pending", outcome, AT)
            entry["status"] = outcome
        memo["status"] = credit_memo_status(memo["refunds"])

    def check(self) -> None:
        totals = ledger_totals(self.payments)
        assert totals["captured"] == sum(i["amount"] for i in self.invoices)
        entries = [e for m in self.memos for e in m["refunds"]]
        assert totals["refunded"] == sum(e["amount"] for e in entries if e["status"] == "succeeded")
        assert totals["refund_pending"] == sum(e["amount"] for e in entries if e["status"] == "pending")
        assert totals["refunded"] + totals["refund_pending"] <= totals["captured"] <= totals["authorized"]
        for p in self.payments:
            assert refundable(p) >= 0 and p["captured"] + p["released"] <= p["authorized"]
        for memo in self.memos:
            assert sum(e["amount"] for e in memo["refunds"]) == memo["amount"]
        # every invoice gives back at most what it charged
        for invoice_id, back in refunded_by_invoice(self.memos).items():
            assert back <= next(i["amount"] for i in self.invoices if i["invoice_id"] == invoice_id)


step = st.one_of(
    st.tuples(st.just("ship"), st.lists(st.integers(0, 7), min_size=5, max_size=5)),
    st.tuples(st.just("refund"), st.integers(0, 10**9), st.sampled_from(["succeeded", "pending", "failed"])),
    st.tuples(st.just("settle"), st.sampled_from(["succeeded", "failed"])),
    st.tuples(st.just("expire")),
)


@settings(max_examples=300, deadline=None)
@given(lines=order_lines(), steps=st.lists(step, max_size=15))
def test_any_sequence_of_captures_and_refunds_keeps_the_ledger_whole(
    lines: list[dict[str, Any]], steps: list[tuple[Any, ...]]
) -> None:
    ledger = Ledger(lines)
    for kind, *args in steps:
        if kind == "ship":
            ledger.ship(args[0])
        elif kind == "expire":
            ledger.expire_and_reauthorize()
        elif kind == "settle":
            for memo in ledger.memos:
                ledger.settle(memo, args[0])
        else:
            seed, outcome = args
            available = sum(refundable(p) for p in ledger.payments)
            amount = 1 + seed % (available + 50)  # now and then more than is refundable
            if amount > available:
                with pytest.raises(ValueError):
                    allocate_refund(amount, ledger.payments)
            else:
                ledger.refund(amount, outcome)
        ledger.check()
    # everything shipped: the invoices charged exactly each line's amounts
    if units_to_ship(lines) == 0:
        for line in lines:
            parts = [x for inv in ledger.invoices for x in inv["lines"] if x["line_id"] == line["line_id"]]
            for component in (*COMPONENTS, "total"):
                assert sum(int(x[component]) for x in parts) == line[component]


@settings(max_examples=300, deadline=None)
@given(rests=st.lists(st.integers(0, 10_000), min_size=1, max_size=6), data=st.data())
def test_a_refund_takes_the_exact_match_else_the_largest_first(rests: list[int], data: st.DataObject) -> None:
    payments = [{**payment(f"pay_{i}", r), "captured": r, "created_at": f"{AT}#{i}"} for i, r in enumerate(rests)]
    available = sum(rests)
    amount = data.draw(st.integers(1, available + 10))
    if amount > available:
        with pytest.raises(ValueError):
            allocate_refund(amount, payments)
        return
    parts = allocate_refund(amount, payments)
    assert sum(a for _, a in parts) == amount
    by_id = {p["payment_id"]: refundable(p) for p in payments}
    assert all(0 < a <= by_id[pid] for pid, a in parts)
    if amount in rests:
        assert parts == [(f"pay_{rests.index(amount)}", amount)]
    else:
        used = [by_id[pid] for pid, _ in parts]
        assert used == sorted(used, reverse=True)
        # only the last payment used is left with a rest; none skipped was larger
        assert all(a == by_id[pid] for pid, a in parts[:-1])
        unused = [r for pid, r in by_id.items() if pid not in dict(parts)]
        assert all(r <= used[-1] for r in unused)


def test_pending_refunds_count_against_what_can_be_refunded() -> None:
    p = with_amounts(payment("pay_1", 1000), AT, captured=1000)
    p = move_refund(p, 600, None, "pending", AT)
    assert refundable(p) == 400
    with pytest.raises(ValueError):
        allocate_refund(401, [p])
    with pytest.raises(ValueError):  # a pending refund cannot succeed twice
        move_refund(move_refund(p, 600, "pending", "succeeded", AT), 600, "failed", "succeeded", AT)
    p = move_refund(p, 600, "pending", "failed", AT)
    assert refundable(p) == 1000 and p["refunded"] == p["refund_pending"] == 0


def test_payment_status_follows_the_amounts() -> None:
    lines = [{"quantity": 2, "subtotal": 1000, "discount": 0, "tax": 0, "shipping": 0, "total": 1000}]
    p = payment("pay_1", 1000)
    assert order_payment_status([], 1000) == "pending"
    assert order_payment_status([p], charge_amount(lines)) == "authorized"
    half = with_amounts(p, AT, captured=500)
    assert half["status"] == "partially_captured" and order_payment_status([half], 1000) == "partially_captured"
    full = with_amounts(half, AT, captured=500)
    assert full["status"] == "captured" and order_payment_status([full], 1000) == "captured"
    assert order_payment_status([move_refund(full, 200, None, "succeeded", AT)], 1000) == "partially_refunded"
    assert order_payment_status([move_refund(full, 1000, None, "succeeded", AT)], 1000) == "refunded"
    assert with_amounts(p, AT, released=1000)["status"] == "voided"
    assert order_payment_status([{**p, "status": "failed"}], 1000) == "failed"
    assert order_payment_status([{**p, "status": "expired"}], 1000) == "pending"
    with pytest.raises(ValueError):
        with_amounts(p, AT, captured=1001)
