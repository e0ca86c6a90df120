"""Authorize what the order will charge; authorize again when an authorization expired.

authorize_order is the workflow's authorization (in AdvanceOrder); authorize_amount also serves a
capture that finds no open authorization (a re-authorization replacing the last one);
expire_authorization records an expiry a provider reported (capture or webhook).
"""

from __future__ import annotations

from typing import Any

from functions.payments.gateways.gateway import Authorization, GatewayUnavailable, PaymentDeclined
from functions.payments.logic.common import ATTEMPTS, gateway_of, unavailable, void_quietly
from functions.payments.rules.ledger import ACTIVE, ledger_totals, open_amount, with_amounts
from functions.payments.store import Batch, Snapshot, load_ledger, payment_item, payment_ref_pk, pointer_item
from shared.errors import RetryableError
from shared.retry import attempts
from shared.table import ConditionFailed, Item


def point_to(batch: Batch, provider: str, authorization: Authorization, payment: Item) -> None:
    """Write the pointers from the provider's references to ``payment``, so its webhooks find
    the order: the authorization's, and the charge's for events that name only the charge."""
    for reference in (authorization.reference, authorization.charge_reference):
        if reference:
            pointer = pointer_item(
                payment_ref_pk(provider, reference), batch.snap.order_id, payment_id=payment["payment_id"]
            )
            batch.ops.append({"Put": {"Item": pointer}})


def authorize_amount(snap: Snapshot, amount: int, *, replaces: str | None, first: bool) -> Item:
    """Authorize ``amount`` with the order's payment method; earlier open authorizations are
    given back, so one authorization covers everything still to capture.

    A decline is written (a failed payment and the reason on the timeline; on the first
    authorization the order fails) and re-raised.
    """
    provider, gateway = gateway_of(snap)
    token = str(snap.header["payment"]["token"])
    batch = Batch(snap)
    try:
        authorization = gateway.authorize(
            token=token,
            amount=amount,
            currency=snap.header["currency"],
            idempotency_key=f"{snap.order_id}:authorize:{len(snap.payments)}",
            metadata={"order_id": snap.order_id, "channel": str(snap.header.get("channel", ""))},
        )
    except PaymentDeclined as declined:
        failed = payment_item(
            snap,
            provider,
            batch.at,
            amount=amount,
            authorization=None,
            replaces=replaces,
            failure_reason=declined.reason,
        )
        batch.payment(failed)
        detail = {"payment_id": failed["payment_id"], "amount": amount, "reason": declined.reason}
        if first:
            batch.event("payment.declined", detail)
            batch.commit(payment_status="failed", extra={"status": "failed", "payment_failure": detail})
        else:
            batch.event("payment.reauthorization_declined", detail)
            batch.commit(payment_status="failed")
        raise
    except GatewayUnavailable as err:
        raise unavailable(provider, err) from err
    payment = payment_item(snap, provider, batch.at, amount=amount, authorization=authorization, replaces=replaces)
    batch.payment(payment)
    point_to(batch, provider, authorization, payment)
    for old in snap.payments:
        if old["status"] in ACTIVE and open_amount(old) > 0:
            void_quietly(gateway, snap.order_id, old)
            batch.payment(with_amounts(old, batch.at, released=open_amount(old)))
    kind = "payment.authorized" if replaces is None else "payment.reauthorized"
    batch.event(kind, {"payment_id": payment["payment_id"], "amount": authorization.amount, "replaces": replaces})
    batch.commit()
    return payment


def authorize_order(order_id: str) -> dict[str, Any]:
    """Authorize what the order still has to capture, unless open authorizations cover it."""
    for _ in attempts(ATTEMPTS):
        snap = load_ledger(order_id)
        needed = snap.charge - ledger_totals(snap.payments)["captured"]
        active = [p for p in snap.payments if p["status"] in ACTIVE]
        covered = sum(open_amount(p) for p in active)
        if needed <= covered:
            best = max(active, key=open_amount, default=None)
            if best is None:
                return {"payment_id": None, "authorized": 0, "status": "not_required"}
            return {"payment_id": best["payment_id"], "authorized": covered, "status": best["status"]}
        latest = [p for p in snap.payments if p["status"] != "failed"]
        try:
            payment = authorize_amount(
                snap, needed, replaces=latest[-1]["payment_id"] if latest else None, first=not snap.invoices
            )
        except ConditionFailed:
            continue
        return {"payment_id": payment["payment_id"], "authorized": payment["authorized"], "status": payment["status"]}
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")


def expire_authorization(order_id: str, payment_id: str, *, source: str) -> bool:
    """Mark an authorization expired (the next capture authorizes again); False if it was not open."""
    for _ in attempts(ATTEMPTS):
        snap = load_ledger(order_id)
        payment = snap.payment(payment_id)
        if payment["status"] not in ACTIVE:
            return False
        batch = Batch(snap)
        batch.payment({**payment, "status": "expired", "updated_at": batch.at})
        batch.event("payment.authorization_expired", {"payment_id": payment_id, "source": source})
        try:
            batch.commit()
        except ConditionFailed:
            continue
        return True
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")
