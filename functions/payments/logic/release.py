"""Give back authorized, uncaptured funds (a cancellation before shipment)."""

from __future__ import annotations

from typing import Any

from functions.payments.logic.common import ATTEMPTS, gateway_of, void_quietly
from functions.payments.rules.ledger import ACTIVE, open_amount, order_payment_status, with_amounts
from functions.payments.store import Batch, load_ledger, release_marker_sk
from shared.errors import InvalidInput, RetryableError
from shared.order import keys
from shared.retry import attempts
from shared.table import ConditionFailed


def release_authorized_funds(
    order_id: str, amount: int, *, reason: str, change_id: str | None = None
) -> dict[str, Any]:
    """Give back ``amount`` of authorized, uncaptured funds (a cancellation before shipment).

    Taken from the newest open authorizations first, never more than is open. An
    authorization left with nothing to capture and nothing captured is voided at the
    provider; otherwise the reduction is recorded (``released``) and the final capture
    releases it at the provider. With ``change_id`` the release happens once per change:
    a marker item is written in the same transaction, and a rerun returns what it recorded.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidInput("a release amount is an integer >= 0", errors=[{"field": "amount", "message": ">= 0"}])
    for _ in attempts(ATTEMPTS):
        snap = load_ledger(order_id)
        done = next((m for m in snap.record.others.get("RELEASE", []) if m.get("change_id") == change_id), None)
        if change_id and done is not None:
            return dict(done["result"])
        batch = Batch(snap)
        left = amount
        voided: list[str] = []
        for payment in reversed([p for p in snap.payments if p["status"] in ACTIVE]):
            take = min(open_amount(payment), left)
            if take == 0:
                continue
            left -= take
            after = with_amounts(payment, batch.at, released=take)
            if after["status"] == "voided":
                void_quietly(gateway_of(snap)[1], order_id, payment)
                voided.append(payment["payment_id"])
            batch.payment(after)
        released = amount - left
        if released == 0:
            return {"released": 0, "voided": [], "payment_status": snap.header.get("payment_status", "pending")}
        batch.event("payment.released", {"amount": released, "reason": reason, "voided": voided})
        status = order_payment_status(batch.payments_after(), snap.charge)
        result = {"released": released, "voided": voided, "payment_status": status}
        if change_id:
            batch.put(
                {
                    "pk": keys.order_pk(order_id),
                    "sk": release_marker_sk(change_id),
                    "type": "authorization_release",
                    "change_id": change_id,
                    "result": result,
                    "created_at": batch.at,
                }
            )
        try:
            batch.commit()
        except ConditionFailed:
            continue
        return result
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")
