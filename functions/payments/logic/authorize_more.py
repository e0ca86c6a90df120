"""Authorize what an order now needs beyond its open authorizations (an order edit that
raised the total), as one more authorization: the open ones stay as they are.

Once per change: the payment carries the change's id, and the provider call's
idempotency key is the change's, so a rerun finds the payment (or gets the provider's
first answer) and authorizes nothing twice.
"""

from __future__ import annotations

from typing import Any

from functions.payments.gateways.gateway import GatewayUnavailable, PaymentDeclined
from functions.payments.logic.authorize import point_to
from functions.payments.logic.common import ATTEMPTS, gateway_of, unavailable
from functions.payments.rules.ledger import ACTIVE, ledger_totals, open_amount
from functions.payments.store import Batch, Snapshot, load_ledger, payment_item
from shared.errors import RetryableError
from shared.retry import attempts
from shared.table import ConditionFailed


def shortfall(snap: Snapshot) -> int:
    """What the order still has to capture beyond what its open authorizations cover."""
    needed = snap.charge - ledger_totals(snap.payments)["captured"]
    covered = sum(open_amount(p) for p in snap.payments if p["status"] in ACTIVE)
    return max(0, needed - covered)


def authorize_more(order_id: str, *, change_id: str) -> dict[str, Any]:
    """Authorize the order's shortfall for ``change_id``; nothing before the order's first
    authorization (the workflow's AdvanceOrder authorizes the whole order then).

    A decline is written (a failed payment and ``payment.additional_declined``) and re-raised.
    """
    for _ in attempts(ATTEMPTS):
        snap = load_ledger(order_id)
        done = next((p for p in snap.payments if p.get("change_id") == change_id), None)
        if done is not None:
            return {"payment_id": done["payment_id"], "authorized": int(done["authorized"]), "status": done["status"]}
        if not any(p["status"] != "failed" for p in snap.payments):
            return {"payment_id": None, "authorized": 0, "status": "not_authorized_yet"}
        amount = shortfall(snap)
        if amount == 0:
            return {"payment_id": None, "authorized": 0, "status": "covered"}
        provider, gateway = gateway_of(snap)
        batch = Batch(snap)
        try:
            authorization = gateway.authorize(
                token=str(snap.header["payment"]["token"]),
                amount=amount,
                currency=snap.header["currency"],
                idempotency_key=f"{order_id}:authorize:{change_id}",
                metadata={"order_id": order_id, "change_id": change_id},
            )
        except PaymentDeclined as declined:
            failed = payment_item(
                snap,
                provider,
                batch.at,
                amount=amount,
                authorization=None,
                replaces=None,
                failure_reason=declined.reason,
            )
            batch.payment(failed | {"change_id": change_id})
            detail = {"payment_id": failed["payment_id"], "amount": amount, "change_id": change_id}
            batch.event("payment.additional_declined", detail | {"reason": declined.reason})
            try:
                batch.commit()
            except ConditionFailed:
                continue
            raise
        except GatewayUnavailable as err:
            raise unavailable(provider, err) from err
        payment = payment_item(snap, provider, batch.at, amount=amount, authorization=authorization, replaces=None)
        payment["change_id"] = change_id
        batch.payment(payment)
        point_to(batch, provider, authorization, payment)
        batch.event(
            "payment.authorized",
            {"payment_id": payment["payment_id"], "amount": authorization.amount, "change_id": change_id},
        )
        try:
            batch.commit()
        except ConditionFailed:
            continue  # the ledger moved: read again; the provider answers the same key with the same authorization
        return {"payment_id": payment["payment_id"], "authorized": payment["authorized"], "status": payment["status"]}
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")
