"""Refund captured funds for a change, with one credit memo.

The amount is set aside on the ledger (the credit memo, its planned provider refunds
counted as pending), then each provider refund is asked for and its answer recorded.
A refused refund becomes a process exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.payments.gateways.gateway import GatewayUnavailable, Refund, RefundFailed
from functions.payments.logic.common import ATTEMPTS, gateway_of, memo_of, refund_exception, unavailable
from functions.payments.rules.ledger import (
    allocate_over_invoices,
    allocate_refund,
    credit_memo_status,
    move_refund,
    refundable_for,
    refunded_by_invoice,
    reserved_refunds,
)
from functions.payments.rules.summary import credit_memo_view
from functions.payments.store import (
    Batch,
    Snapshot,
    change_marker_sk,
    credit_memo_sk,
    load_ledger,
    pointer_item,
    refund_ref_pk,
    versioned_put,
)
from shared.errors import Conflict, InvalidInput, RetryableError
from shared.ids import new_id
from shared.order import keys
from shared.retry import attempts
from shared.table import ConditionFailed, Item


def refund(
    order_id: str, *, change_id: str, amount: int, reason: str, lines: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Refund ``amount`` of captured funds for the change ``change_id``, with one credit memo.

    Never more than captured and not yet refunded, pending refunds included (the double
    refund). The amount is set aside on the ledger before the provider is asked, so two
    refunds at once cannot both take the same money. The same change twice returns its
    credit memo; a refund interrupted after setting the amount aside resumes. What the
    change reserved (functions/payments/logic/reservations.py) is its own to take, and
    setting the refund aside consumes the reservation in the same transaction.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("a refund amount is a positive integer", errors=[{"field": "amount", "message": "> 0"}])
    if not change_id:
        raise InvalidInput("a refund names its change", errors=[{"field": "change_id", "message": "required"}])
    for _ in attempts(ATTEMPTS):
        snap = load_ledger(order_id)
        existing = next((m for m in snap.credit_memos if m["change_id"] == change_id), None)
        if existing is not None:
            return credit_memo_view(_submit(order_id, existing["credit_memo_id"]))
        # Reserved refunds of other changes (a received return) are not this change's to take.
        available = max(0, refundable_for(snap.payments, snap.header, change_id))
        if amount > available:
            raise Conflict(
                f"refund of {amount} exceeds the {available} captured and not yet refunded, pending or reserved",
                errors=[{"field": "amount", "message": f"at most {available}"}],
                available_to_refund=available,
            )
        try:
            memo_id = _set_aside(snap, change_id, amount, reason, lines)
        except ConditionFailed:
            continue
        return credit_memo_view(_submit(order_id, memo_id))
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")


def _set_aside(snap: Snapshot, change_id: str, amount: int, reason: str, lines: list[dict[str, Any]] | None) -> str:
    """Write the credit memo with its planned provider refunds, counted as pending."""
    batch = Batch(snap)
    already = refunded_by_invoice(snap.credit_memos)
    invoices = snap.invoices
    entries: list[dict[str, Any]] = []
    for payment_id, part in allocate_refund(amount, snap.payments):
        payment = snap.payment(payment_id)
        own = [i for i in invoices if i.get("payment_id") == payment_id and i.get("capture_reference")]
        pieces = allocate_over_invoices(part, own, already)
        for invoice_id, piece in pieces:
            key = f"{snap.order_id}:refund:{change_id}:{payment_id}"
            entries.append(
                {
                    "payment_id": payment_id,
                    "invoice_id": invoice_id,
                    "capture_reference": next(i["capture_reference"] for i in own if i["invoice_id"] == invoice_id),
                    "idempotency_key": key if len(pieces) == 1 else f"{key}:{invoice_id}",
                    "reference": None,
                    "amount": piece,
                    "status": "pending",
                    "failure_reason": None,
                    "settled_at": None,
                }
            )
        batch.payment(move_refund(payment, part, None, "pending", batch.at))
    memo_id = new_id("cm")
    memo = {
        "pk": keys.order_pk(snap.order_id),
        "sk": credit_memo_sk(memo_id),
        "type": "credit_memo",
        "credit_memo_id": memo_id,
        "order_id": snap.order_id,
        "change_id": change_id,
        "reason": reason,
        "amount": amount,
        "lines": lines or [],
        "refunds": entries,
        "status": "pending",
        "created_at": batch.at,
        "updated_at": batch.at,
    }
    batch.ops.append(versioned_put(memo, 0))
    marker = {"pk": memo["pk"], "sk": change_marker_sk(change_id), "type": "refund_change", "credit_memo_id": memo_id}
    batch.put(marker)
    reserved = reserved_refunds(snap.header)
    if change_id in reserved:
        del reserved[change_id]
        batch.commit(extra={"refund_reserved": reserved})
    else:
        batch.commit()
    return memo_id


def _submit(order_id: str, memo_id: str) -> Item:
    """Ask the provider for every refund of the credit memo not asked yet, and record the answers."""
    snap = load_ledger(order_id)
    memo = memo_of(snap, memo_id)
    todo = [i for i, e in enumerate(memo["refunds"]) if e["status"] == "pending" and not e.get("reference")]
    if not todo:
        return memo
    provider, gateway = gateway_of(snap)
    answers: dict[int, Refund] = {}
    for index in todo:
        entry = memo["refunds"][index]
        try:
            answers[index] = gateway.refund(
                capture=entry["capture_reference"],
                amount=int(entry["amount"]),
                currency=snap.header["currency"],
                idempotency_key=entry["idempotency_key"],
            )
        except RefundFailed as err:
            answers[index] = Refund(
                reference="", amount=int(entry["amount"]), status="failed", failure_reason=err.reason
            )
        except GatewayUnavailable as err:
            raise unavailable(provider, err) from err
    for _ in attempts(ATTEMPTS):
        try:
            return _record_answers(load_ledger(order_id), memo_id, provider, answers)
        except ConditionFailed:
            continue
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")


def _record_answers(snap: Snapshot, memo_id: str, provider: str, answers: Mapping[int, Refund]) -> Item:
    memo = memo_of(snap, memo_id)
    batch = Batch(snap)
    entries = [dict(e) for e in memo["refunds"]]
    payments = {p["payment_id"]: p for p in snap.payments}
    failed: list[dict[str, Any]] = []
    for index, answer in answers.items():
        entry = entries[index]
        if entry["status"] != "pending" or entry.get("reference"):
            continue  # recorded by an earlier run
        entry.update(
            reference=answer.reference or None,
            status=answer.status,
            failure_reason=answer.failure_reason,
            answered_at=batch.at,
        )
        pid = entry["payment_id"]
        payments[pid] = move_refund(payments[pid], int(entry["amount"]), "pending", answer.status, batch.at)
        batch.payment(payments[pid])
        if answer.reference:
            batch.ops.append(
                {
                    "Put": {
                        "Item": pointer_item(
                            refund_ref_pk(provider, answer.reference),
                            snap.order_id,
                            credit_memo_id=memo_id,
                            payment_id=pid,
                        )
                    }
                }
            )
        if answer.status == "failed":
            failed.append(entry)
    updated = {**memo, "refunds": entries, "status": credit_memo_status(entries), "updated_at": batch.at}
    batch.ops.append(versioned_put(updated, int(memo.get("version", 0))))
    batch.event(
        "payment.refunded",
        {
            "credit_memo_id": memo_id,
            "change_id": memo["change_id"],
            "amount": memo["amount"],
            "status": updated["status"],
        },
    )
    if failed:
        batch.event(
            "payment.refund_failed", {"credit_memo_id": memo_id, "reasons": [e["failure_reason"] for e in failed]}
        )
    batch.commit()
    if failed:
        refund_exception(snap.order_id, memo_id, [e.get("failure_reason") for e in failed])
    return {**updated, "version": int(memo.get("version", 0)) + 1}
