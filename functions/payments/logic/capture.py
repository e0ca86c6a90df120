"""Capture per shipment: one capture at the provider and one invoice per shipment."""

from __future__ import annotations

import contextlib
from typing import Any

from functions.payments.gateways.gateway import AuthorizationExpired, GatewayUnavailable
from functions.payments.logic.authorize import authorize_amount, expire_authorization
from functions.payments.logic.common import ATTEMPTS, gateway_of, unavailable
from functions.payments.rules.ledger import (
    ACTIVE,
    invoice_lines,
    ledger_totals,
    open_amount,
    units_to_ship,
    with_amounts,
)
from functions.payments.store import Batch, Snapshot, invoice_sk, load_ledger, payment_ref_pk, pointer_item
from shared.errors import RetryableError
from shared.ids import new_id
from shared.order import keys
from shared.table import ConditionFailed, Item


def capture_shipments(order_id: str, fo_id: str) -> dict[str, Any]:
    """Capture and invoice every shipment of ``fo_id`` not captured yet as the ledger is
    read, one invoice each.

    An expired authorization is authorized again for what is left to capture; a decline
    of that raises PaymentDeclined. A second run finds nothing pending.
    """
    invoices: list[str] = []
    captured = 0
    budget: int | None = None  # passes: one per shipment, a few more per expiry or lost race
    # Whether each shipment's capture is the final one, as first asked of the provider: a
    # pass after a lost race asks again under the same idempotency key, so it must ask the
    # same (another fulfillment order's capture landing meanwhile would change the answer).
    finals: dict[str, bool] = {}
    while True:
        snap = load_ledger(order_id)
        pending = [s for s in snap.shipments if s.get("fo_id") == fo_id and s.get("capture_status") == "pending"]
        if not pending:
            return {"invoices": invoices, "captured": captured}
        budget = 4 * len(pending) + ATTEMPTS if budget is None else budget - 1
        if budget <= 0:
            raise RetryableError(f"could not capture the shipments of {fo_id}")
        invoice = _capture_shipment(snap, pending[0], finals)
        if invoice is not None:
            invoices.append(invoice["invoice_id"])
            captured += int(invoice["amount"])
            if len(pending) == 1:
                # The last one this read found: not read again. A shipment landing since is
                # the review's to see (its fulfillment order stays awaited until captured).
                return {"invoices": invoices, "captured": captured}


def _capturable(snap: Snapshot, amount: int) -> Item | None:
    return next((p for p in snap.payments if p["status"] in ACTIVE and open_amount(p) >= amount), None)


def _capture_shipment(snap: Snapshot, shipment: Item, finals: dict[str, bool]) -> Item | None:
    """Capture one shipment; None when the ledger moved (expired, re-authorized, a race)."""
    lines = invoice_lines({line["line_id"]: line for line in snap.record.lines}, shipment)
    amount = sum(int(line["total"]) for line in lines)
    others = [s for s in snap.shipments if s.get("capture_status") == "pending" and s["sk"] != shipment["sk"]]
    final = finals.get(shipment["shipment_id"], not others and units_to_ship(snap.record.lines) == 0)
    payment: Item | None = None
    reference: str | None = None
    if amount > 0:
        payment = _capturable(snap, amount)
        if payment is None:
            granted = [p for p in snap.payments if p["status"] != "failed"]
            remainder = max(amount, snap.charge - ledger_totals(snap.payments)["captured"])
            replaces = granted[-1]["payment_id"] if granted else None
            with contextlib.suppress(ConditionFailed):  # a race: the next pass reads the winner's write
                authorize_amount(snap, remainder, replaces=replaces, first=False)
            return None
        provider, gateway = gateway_of(snap)
        key = f"{snap.order_id}:capture:{shipment['shipment_id']}"
        if payment.get("replaces"):  # a capture key is bound to one authorization
            key += f":{payment['payment_id']}"
        finals[shipment["shipment_id"]] = final
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
            raise unavailable(provider, err) from err
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
    batch = Batch(snap)
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
    if payment is not None and capture_reference and capture_reference != payment["reference"]:
        # Providers whose captures have ids of their own (PayPal) name them in later events.
        provider = str(snap.header["payment"]["provider"])
        pointer = pointer_item(
            payment_ref_pk(provider, capture_reference), snap.order_id, payment_id=payment["payment_id"]
        )
        batch.ops.append({"Put": {"Item": pointer}})
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
