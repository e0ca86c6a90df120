"""Refunds the provider made without the OMS asking (a refund in the Stripe Dashboard).

The provider reports the running total refunded on a payment (Stripe's ``charge.refunded``:
``amount_refunded``). Whatever that total holds beyond what the ledger counts for the
payment (refunded or pending: the OMS sets its own refunds aside before asking) was
refunded outside the OMS; it is recorded as a refund with a credit memo, on the ledger
version read, once per running total (a duplicated or reordered event finds nothing
more to record). Money the provider gave back beyond what the ledger holds as captured
cannot be split over captures: it becomes a process exception for an operator.
"""

from __future__ import annotations

from typing import Any

from functions.payments.logic.common import ATTEMPTS
from functions.payments.rules.ledger import allocate_over_invoices, move_refund, refundable, refunded_by_invoice
from functions.payments.store import Batch, change_marker_sk, credit_memo_sk, versioned_put
from shared.errors import RetryableError
from shared.ids import new_id
from shared.order import keys
from shared.process_exceptions import record_exception
from shared.retry import attempts
from shared.table import ConditionFailed


def record_external_refund(
    order_id: str, payment_id: str, *, charge: str, total_refunded: int | None, occurred_at: str
) -> str:
    """``recorded``, ``unchanged`` (nothing beyond what the ledger counts) or ``exception``."""
    from functions.payments.store import load_ledger

    if total_refunded is None:
        return "unchanged"
    for _ in attempts(ATTEMPTS):
        snap = load_ledger(order_id)
        payment = snap.payment(payment_id)
        counted = int(payment.get("refunded", 0)) + int(payment.get("refund_pending", 0))
        extra = total_refunded - counted
        if extra <= 0:
            return "unchanged"
        change_id = f"provider:{charge}:{total_refunded}"
        if any(m["change_id"] == change_id for m in snap.credit_memos):
            return "unchanged"
        if extra > max(0, refundable(payment)):
            record_exception(
                order_id=order_id,
                step="PaymentRefund",
                error="ExternalRefundExceedsCaptured",
                cause=f"the provider reports {total_refunded} refunded on {charge}; the ledger holds "
                f"{counted} refunded and {refundable(payment)} refundable",
                retry={"action": "none"},
            )
            return "exception"
        own = [i for i in snap.invoices if i.get("payment_id") == payment_id and i.get("capture_reference")]
        pieces = allocate_over_invoices(extra, own, refunded_by_invoice(snap.credit_memos))
        batch = Batch(snap)
        entries: list[dict[str, Any]] = [
            {
                "payment_id": payment_id,
                "invoice_id": invoice_id,
                "capture_reference": next(i["capture_reference"] for i in own if i["invoice_id"] == invoice_id),
                "idempotency_key": None,
                "reference": None,
                "amount": piece,
                "status": "succeeded",
                "failure_reason": None,
                "settled_at": occurred_at,
            }
            for invoice_id, piece in pieces
        ]
        batch.payment(move_refund(payment, extra, None, "succeeded", batch.at))
        memo_id = new_id("cm")
        memo = {
            "pk": keys.order_pk(order_id),
            "sk": credit_memo_sk(memo_id),
            "type": "credit_memo",
            "credit_memo_id": memo_id,
            "order_id": order_id,
            "change_id": change_id,
            "reason": "refunded at the provider",
            "amount": extra,
            "lines": [],
            "refunds": entries,
            "status": "issued",
            "created_at": batch.at,
            "updated_at": batch.at,
        }
        batch.ops.append(versioned_put(memo, 0))
        batch.put(
            {"pk": memo["pk"], "sk": change_marker_sk(change_id), "type": "refund_change", "credit_memo_id": memo_id}
        )
        batch.event(
            "payment.refunded_at_provider",
            {"credit_memo_id": memo_id, "payment_id": payment_id, "charge": charge, "amount": extra},
        )
        try:
            batch.commit()
        except ConditionFailed:
            continue
        return "recorded"
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")
