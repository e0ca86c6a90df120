"""A provider's final word on a refund it answered ``pending`` (or overturning an answer)."""

from __future__ import annotations

from functions.payments.logic.common import ATTEMPTS, memo_of, refund_exception
from functions.payments.rules.ledger import credit_memo_status, move_refund
from functions.payments.store import Batch, load_ledger, refund_ref_pk, versioned_put
from shared.errors import RetryableError
from shared.retry import attempts
from shared.table import ConditionFailed, Table


def settle_provider_refund(
    provider: str, reference: str, *, status: str, occurred_at: str, reason: str | None = None
) -> str:
    """A provider's final word on a refund: ``succeeded`` or ``failed``.

    Returns what happened: ``settled``, ``unchanged`` (already so), ``stale`` (an older
    event than the state recorded) or ``unknown``. A succeeded refund that later failed
    goes back to refundable; an older event never moves the state back.
    """
    pointer = Table().get(refund_ref_pk(provider, reference), "REFUNDREF")
    if pointer is None:
        return "unknown"
    order_id, memo_id = str(pointer["order_id"]), str(pointer["credit_memo_id"])
    for _ in attempts(ATTEMPTS):
        snap = load_ledger(order_id)
        memo = memo_of(snap, memo_id)
        entries = [dict(e) for e in memo["refunds"]]
        entry = next((e for e in entries if e.get("reference") == reference), None)
        if entry is None:
            return "unknown"
        before = str(entry["status"])
        if before == status:
            return "unchanged"
        # Only a provider's own later word overturns a final status (a synchronous answer
        # carries no provider time, so any later event may correct it).
        if before != "pending" and occurred_at <= str(entry.get("settled_at") or ""):
            return "stale"
        batch = Batch(snap)
        try:
            moved = move_refund(snap.payment(entry["payment_id"]), int(entry["amount"]), before, status, batch.at)
        except ValueError:
            # The money was refunded again meanwhile: recording this would refund twice.
            refund_exception(order_id, memo_id, [f"refund {reference} {status} after it was given back again"])
            return "stale"
        batch.payment(moved)
        entry.update(status=status, settled_at=occurred_at, failure_reason=reason if status == "failed" else None)
        updated = {**memo, "refunds": entries, "status": credit_memo_status(entries), "updated_at": batch.at}
        batch.ops.append(versioned_put(updated, int(memo.get("version", 0))))
        kind = "payment.refund_failed" if status == "failed" else "payment.refund_succeeded"
        batch.event(
            kind, {"credit_memo_id": memo_id, "reference": reference, "amount": entry["amount"], "reason": reason}
        )
        try:
            batch.commit()
        except ConditionFailed:
            continue
        if status == "failed":
            refund_exception(order_id, memo_id, [reason])
        return "settled"
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")
