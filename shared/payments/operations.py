"""What the workflow and other domains do with an order's payment.

authorize_order, capture_shipments, refund, release_authorization, and the settlements
provider webhooks bring (expire_authorization, settle_refund).

Each reads the ledger, asks the provider, and writes the outcome in one transaction
pinned to what it read (shared/payments/ledger.py). A writer that lost a race reads
again and repeats its provider call with the same idempotency key, which the provider
answers with the first result: money never moves twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.clock import now_iso
from shared.errors import Conflict, DomainError, InvalidInput, NotFound, RetryableError
from shared.ids import new_id
from shared.observability import logger
from shared.order import keys
from shared.order.record import OrderRecord, load_order
from shared.order.timeline import event_item
from shared.payments import registry
from shared.payments.gateway import (
    Authorization,
    AuthorizationExpired,
    GatewayUnavailable,
    PaymentDeclined,
    Refund,
    RefundFailed,
)
from shared.payments.ledger import (
    ACTIVE,
    allocate_over_invoices,
    allocate_refund,
    change_marker_sk,
    charge_amount,
    credit_memo_sk,
    credit_memo_status,
    header_op,
    invoice_lines,
    invoice_sk,
    ledger_totals,
    move_refund,
    new_put,
    open_amount,
    order_payment_status,
    payment_ref_pk,
    payment_sk,
    pointer_item,
    refund_ref_pk,
    refundable,
    refunded_by_invoice,
    units_to_ship,
    versioned_put,
    with_amounts,
)
from shared.payments.summary import credit_memo_view
from shared.process_exceptions import record_exception
from shared.table import ConditionFailed, Item, Table

_ATTEMPTS = 5


# ---- reading and writing the ledger ------------------------------------------------------


@dataclass
class Snapshot:
    """The order's ledger as read, with the version every write of it is pinned to."""

    record: OrderRecord

    @property
    def header(self) -> Item:
        return self.record.header

    @property
    def order_id(self) -> str:
        return str(self.header["order_id"])

    @property
    def version(self) -> int:
        return int(self.header.get("payment_version", 0))

    def items(self, prefix: str) -> list[Item]:
        return sorted(self.record.others.get(prefix, []), key=lambda i: (str(i.get("created_at", "")), i["sk"]))

    @property
    def payments(self) -> list[Item]:
        return self.items("PAY")

    @property
    def invoices(self) -> list[Item]:
        return self.items("INV")

    @property
    def credit_memos(self) -> list[Item]:
        return self.items("CM")

    @property
    def shipments(self) -> list[Item]:
        return self.items("SHP")

    @property
    def charge(self) -> int:
        return charge_amount(self.record.lines)

    def payment(self, payment_id: str) -> Item:
        for p in self.payments:
            if p["payment_id"] == payment_id:
                return p
        raise NotFound(f"order {self.order_id} has no payment {payment_id}")


def load_ledger(order_id: str, table: Table | None = None) -> Snapshot:
    record = load_order(order_id, table)
    if record is None:
        raise NotFound(f"no order {order_id}")
    return Snapshot(record)


@dataclass
class _Batch:
    """The writes of one ledger transaction: changed payments, other items, the header."""

    snap: Snapshot
    at: str = field(default_factory=now_iso)
    ops: list[dict[str, Any]] = field(default_factory=list)
    changed: dict[str, Item] = field(default_factory=dict)

    def payment(self, item: Item) -> None:
        self.changed[item["payment_id"]] = item

    def put(self, item: Item) -> None:
        self.ops.append(new_put(item))

    def event(self, kind: str, detail: dict[str, Any]) -> None:
        self.ops.append({"Put": {"Item": event_item(self.snap.order_id, kind, detail, at=self.at)}})

    def payments_after(self) -> list[Item]:
        before = {p["payment_id"]: p for p in self.snap.payments}
        return list({**before, **self.changed}.values())

    def commit(self, *, payment_status: str | None = None, extra: Mapping[str, Any] | None = None) -> None:
        read = {p["payment_id"]: int(p.get("version", 0)) for p in self.snap.payments}
        ops = [versioned_put(p, read.get(pid, 0)) for pid, p in self.changed.items()]
        ops += self.ops
        ops.append(
            header_op(
                self.snap.order_id,
                self.snap.version,
                self.payments_after(),
                self.snap.charge,
                self.at,
                payment_status_override=payment_status,
                extra=extra,
            )
        )
        Table().transact(ops)


def _gateway_of(snap: Snapshot) -> tuple[str, Any]:
    provider = str((snap.header.get("payment") or {}).get("provider") or "")
    if not provider:
        raise Conflict(f"order {snap.order_id} has no payment method")
    return provider, registry.gateway_for(provider)


def _unavailable(provider: str, err: GatewayUnavailable) -> RetryableError:
    # The workflow retries on the class name RetryableError, not on its subclasses' names.
    return RetryableError(f"payment provider {provider!r} is unavailable: {err.detail}")


# ---- authorization -----------------------------------------------------------------------


def _payment_item(
    snap: Snapshot,
    provider: str,
    at: str,
    *,
    amount: int,
    authorization: Authorization | None,
    replaces: str | None,
    failure_reason: str | None = None,
) -> Item:
    payment_id = new_id("pay")
    return {
        "pk": keys.order_pk(snap.order_id),
        "sk": payment_sk(payment_id),
        "type": "payment",
        "payment_id": payment_id,
        "order_id": snap.order_id,
        "provider": provider,
        "reference": authorization.reference if authorization else None,
        "currency": snap.header["currency"],
        "requested": amount,
        "authorized": authorization.amount if authorization else 0,
        "captured": 0,
        "refunded": 0,
        "refund_pending": 0,
        "released": 0,
        "status": "authorized" if authorization else "failed",
        "failure_reason": failure_reason,
        "expires_at": authorization.expires_at if authorization else None,
        "multicapture": authorization.multicapture if authorization else False,
        "replaces": replaces,
        "created_at": at,
        "updated_at": at,
    }


def _authorize(snap: Snapshot, amount: int, *, replaces: str | None, first: bool) -> Item:
    """Authorize ``amount`` with the order's payment method; earlier open authorizations are
    given back, so one authorization covers everything still to capture.

    A decline is written (a failed payment and the reason on the timeline; on the first
    authorization the order fails) and re-raised.
    """
    provider, gateway = _gateway_of(snap)
    token = str(snap.header["payment"]["token"])
    batch = _Batch(snap)
    try:
        authorization = gateway.authorize(
            token=token,
            amount=amount,
            currency=snap.header["currency"],
            idempotency_key=f"{snap.order_id}:authorize:{len(snap.payments)}",
            metadata={"order_id": snap.order_id, "channel": str(snap.header.get("channel", ""))},
        )
    except PaymentDeclined as declined:
        failed = _payment_item(
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
        raise _unavailable(provider, err) from err
    payment = _payment_item(snap, provider, batch.at, amount=amount, authorization=authorization, replaces=replaces)
    batch.payment(payment)
    pointer = pointer_item(
        payment_ref_pk(provider, authorization.reference), snap.order_id, payment_id=payment["payment_id"]
    )
    batch.ops.append({"Put": {"Item": pointer}})
    for old in snap.payments:
        if old["status"] in ACTIVE and open_amount(old) > 0:
            _void_quietly(gateway, snap.order_id, old)
            batch.payment(with_amounts(old, batch.at, released=open_amount(old)))
    kind = "payment.authorized" if replaces is None else "payment.reauthorized"
    batch.event(kind, {"payment_id": payment["payment_id"], "amount": authorization.amount, "replaces": replaces})
    batch.commit()
    return payment


def _void_quietly(gateway: Any, order_id: str, payment: Item) -> None:
    """Give an authorization back at the provider; if that fails it simply lapses."""
    try:
        gateway.void(authorization=payment["reference"], idempotency_key=f"{order_id}:void:{payment['payment_id']}")
    except DomainError as err:
        logger.warning("void failed", extra={"payment_id": payment["payment_id"], "error": type(err).__name__})


def authorize_order(order_id: str) -> dict[str, Any]:
    """Authorize what the order still has to capture, unless open authorizations cover it."""
    for _ in range(_ATTEMPTS):
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
            payment = _authorize(
                snap, needed, replaces=latest[-1]["payment_id"] if latest else None, first=not snap.invoices
            )
        except ConditionFailed:
            continue
        return {"payment_id": payment["payment_id"], "authorized": payment["authorized"], "status": payment["status"]}
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")


def expire_authorization(order_id: str, payment_id: str, *, source: str) -> bool:
    """Mark an authorization expired (the next capture authorizes again); False if it was not open."""
    for _ in range(_ATTEMPTS):
        snap = load_ledger(order_id)
        payment = snap.payment(payment_id)
        if payment["status"] not in ACTIVE:
            return False
        batch = _Batch(snap)
        batch.payment({**payment, "status": "expired", "updated_at": batch.at})
        batch.event("payment.authorization_expired", {"payment_id": payment_id, "source": source})
        try:
            batch.commit()
        except ConditionFailed:
            continue
        return True
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")


# ---- capture per shipment ------------------------------------------------------------------


def capture_shipments(order_id: str, fo_id: str) -> dict[str, Any]:
    """Capture and invoice every shipment of ``fo_id`` not captured yet, one invoice each.

    An expired authorization is authorized again for what is left to capture; a decline
    of that raises PaymentDeclined. A second run finds nothing pending.
    """
    invoices: list[str] = []
    captured = 0
    budget: int | None = None  # passes: one per shipment, a few more per expiry or lost race
    while True:
        snap = load_ledger(order_id)
        pending = [s for s in snap.shipments if s.get("fo_id") == fo_id and s.get("capture_status") == "pending"]
        if not pending:
            return {"invoices": invoices, "captured": captured}
        budget = 4 * len(pending) + _ATTEMPTS if budget is None else budget - 1
        if budget <= 0:
            raise RetryableError(f"could not capture the shipments of {fo_id}")
        invoice = _capture_shipment(snap, pending[0])
        if invoice is not None:
            invoices.append(invoice["invoice_id"])
            captured += int(invoice["amount"])


def _capturable(snap: Snapshot, amount: int) -> Item | None:
    return next((p for p in snap.payments if p["status"] in ACTIVE and open_amount(p) >= amount), None)


def _capture_shipment(snap: Snapshot, shipment: Item) -> Item | None:
    """Capture one shipment; None when the ledger moved (expired, re-authorized, a race)."""
    lines = invoice_lines({line["line_id"]: line for line in snap.record.lines}, shipment)
    amount = sum(int(line["total"]) for line in lines)
    others = [s for s in snap.shipments if s.get("capture_status") == "pending" and s["sk"] != shipment["sk"]]
    final = not others and units_to_ship(snap.record.lines) == 0
    payment: Item | None = None
    reference: str | None = None
    if amount > 0:
        payment = _capturable(snap, amount)
        if payment is None:
            granted = [p for p in snap.payments if p["status"] != "failed"]
            remainder = max(amount, snap.charge - ledger_totals(snap.payments)["captured"])
            replaces = granted[-1]["payment_id"] if granted else None
            with contextlib.suppress(ConditionFailed):  # a race: the next pass reads the winner's write
                _authorize(snap, remainder, replaces=replaces, first=False)
            return None
        provider, gateway = _gateway_of(snap)
        key = f"{snap.order_id}:capture:{shipment['shipment_id']}"
        if payment.get("replaces"):  # a capture key is bound to one authorization
            key += f":{payment['payment_id']}"
        try:
            capture = gateway.capture(
                authorization=payment["reference"],
                amount=amount,
                currency=snap.header["currency"],
                idempotency_key=key,
                final=final,
            )
        except AuthorizationExpired:
            expire_authorization(snap.order_id, payment["payment_id"], source="capture")
            return None
        except GatewayUnavailable as err:
            raise _unavailable(provider, err) from err
        reference = capture.reference
    return _write_invoice(snap, shipment, lines, amount, payment, reference, final)


def _write_invoice(
    snap: Snapshot,
    shipment: Item,
    lines: list[dict[str, Any]],
    amount: int,
    payment: Item | None,
    capture_reference: str | None,
    final: bool,
) -> Item | None:
    batch = _Batch(snap)
    invoice_id = new_id("inv")
    invoice = {
        "pk": keys.order_pk(snap.order_id),
        "sk": invoice_sk(invoice_id),
        "type": "invoice",
        "invoice_id": invoice_id,
        "order_id": snap.order_id,
        "shipment_id": shipment["shipment_id"],
        "fo_id": shipment.get("fo_id"),
        "payment_id": payment["payment_id"] if payment else None,
        "capture_reference": capture_reference,
        "amount": amount,
        "lines": lines,
        "created_at": batch.at,
    }
    if payment is not None:
        # A final capture releases the rest of the authorization at the provider.
        rest = open_amount(payment) - amount if final else 0
        batch.payment(with_amounts(payment, batch.at, captured=amount, released=rest))
    batch.put(invoice)
    batch.ops.append(
        {
            "Update": {
                "Key": {"pk": shipment["pk"], "sk": shipment["sk"]},
                "UpdateExpression": "SET capture_status = :captured, invoice_id = :inv, captured_at = :at",
                "ConditionExpression": "capture_status = :pending",
                "ExpressionAttributeValues": {
                    ":captured": "captured",
                    ":inv": invoice_id,
                    ":at": batch.at,
                    ":pending": "pending",
                },
            }
        }
    )
    batch.event(
        "payment.captured",
        {"invoice_id": invoice_id, "shipment_id": shipment["shipment_id"], "amount": amount},
    )
    try:
        batch.commit()
    except ConditionFailed:
        return None
    return invoice


# ---- refunds -----------------------------------------------------------------------------


def refund(
    order_id: str, *, change_id: str, amount: int, reason: str, lines: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Refund ``amount`` of captured funds for the change ``change_id``, with one credit memo.

    Never more than captured and not yet refunded, pending refunds included (the double
    refund). The amount is set aside on the ledger before the provider is asked, so two
    refunds at once cannot both take the same money. The same change twice returns its
    credit memo; a refund interrupted after setting the amount aside resumes.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("a refund amount is a positive integer", errors=[{"field": "amount", "message": "> 0"}])
    if not change_id:
        raise InvalidInput("a refund names its change", errors=[{"field": "change_id", "message": "required"}])
    for _ in range(_ATTEMPTS):
        snap = load_ledger(order_id)
        existing = next((m for m in snap.credit_memos if m["change_id"] == change_id), None)
        if existing is not None:
            return credit_memo_view(_submit(order_id, existing["credit_memo_id"]))
        available = sum(max(0, refundable(p)) for p in snap.payments)
        if amount > available:
            raise Conflict(
                f"refund of {amount} exceeds the {available} captured and not yet refunded or pending",
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
    batch = _Batch(snap)
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
    batch.commit()
    return memo_id


def _submit(order_id: str, memo_id: str) -> Item:
    """Ask the provider for every refund of the credit memo not asked yet, and record the answers."""
    snap = load_ledger(order_id)
    memo = _memo(snap, memo_id)
    todo = [i for i, e in enumerate(memo["refunds"]) if e["status"] == "pending" and not e.get("reference")]
    if not todo:
        return memo
    provider, gateway = _gateway_of(snap)
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
            raise _unavailable(provider, err) from err
    for _ in range(_ATTEMPTS):
        try:
            return _record_answers(load_ledger(order_id), memo_id, provider, answers)
        except ConditionFailed:
            continue
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")


def _memo(snap: Snapshot, memo_id: str) -> Item:
    for memo in snap.credit_memos:
        if memo["credit_memo_id"] == memo_id:
            return memo
    raise NotFound(f"order {snap.order_id} has no credit memo {memo_id}")


def _record_answers(snap: Snapshot, memo_id: str, provider: str, answers: Mapping[int, Refund]) -> Item:
    memo = _memo(snap, memo_id)
    batch = _Batch(snap)
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
        _refund_exception(snap.order_id, memo_id, [e.get("failure_reason") for e in failed])
    return {**updated, "version": int(memo.get("version", 0)) + 1}


def _refund_exception(order_id: str, memo_id: str, reasons: Sequence[str | None]) -> None:
    record_exception(
        order_id=order_id,
        step="PaymentRefund",
        error="RefundFailed",
        cause=f"credit memo {memo_id}: refund refused ({', '.join(r or 'no reason' for r in reasons)})",
        retry={"action": "none"},
    )


def payment_by_reference(provider: str, reference: str) -> tuple[str, str] | None:
    """(order id, payment id) of a provider's authorization reference, if it is one of ours."""
    pointer = Table().get(payment_ref_pk(provider, reference), "PAYREF")
    return (str(pointer["order_id"]), str(pointer["payment_id"])) if pointer else None


def settle_refund(provider: str, reference: str, *, status: str, occurred_at: str, reason: str | None = None) -> str:
    """A provider's final word on a refund: ``succeeded`` or ``failed``.

    Returns what happened: ``settled``, ``unchanged`` (already so), ``stale`` (an older
    event than the state recorded) or ``unknown``. A succeeded refund that later failed
    goes back to refundable; an older event never moves the state back.
    """
    pointer = Table().get(refund_ref_pk(provider, reference), "REFUNDREF")
    if pointer is None:
        return "unknown"
    order_id, memo_id = str(pointer["order_id"]), str(pointer["credit_memo_id"])
    for _ in range(_ATTEMPTS):
        snap = load_ledger(order_id)
        memo = _memo(snap, memo_id)
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
        batch = _Batch(snap)
        try:
            moved = move_refund(snap.payment(entry["payment_id"]), int(entry["amount"]), before, status, batch.at)
        except ValueError:
            # The money was refunded again meanwhile: recording this would refund twice.
            _refund_exception(order_id, memo_id, [f"refund {reference} {status} after it was given back again"])
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
            _refund_exception(order_id, memo_id, [reason])
        return "settled"
    raise RetryableError(f"the payment ledger of order {order_id} kept changing")


# ---- release -------------------------------------------------------------------------------


def release_authorization(order_id: str, amount: int, *, reason: str, change_id: str | None = None) -> dict[str, Any]:
    """Give back ``amount`` of authorized, uncaptured funds (a cancellation before shipment).

    Taken from the newest open authorizations first, never more than is open. An
    authorization left with nothing to capture and nothing captured is voided at the
    provider; otherwise the reduction is recorded (``released``) and the final capture
    releases it at the provider. With ``change_id`` the release happens once per change:
    a marker item is written in the same transaction, and a rerun returns what it recorded.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidInput("a release amount is an integer >= 0", errors=[{"field": "amount", "message": ">= 0"}])
    for _ in range(_ATTEMPTS):
        snap = load_ledger(order_id)
        done = next((m for m in snap.record.others.get("RELEASE", []) if m.get("change_id") == change_id), None)
        if change_id and done is not None:
            return dict(done["result"])
        batch = _Batch(snap)
        left = amount
        voided: list[str] = []
        for payment in reversed([p for p in snap.payments if p["status"] in ACTIVE]):
            take = min(open_amount(payment), left)
            if take == 0:
                continue
            left -= take
            after = with_amounts(payment, batch.at, released=take)
            if after["status"] == "voided":
                _void_quietly(_gateway_of(snap)[1], order_id, payment)
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
                    "sk": f"RELEASE#{change_id}",
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
