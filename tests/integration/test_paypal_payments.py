"""PayPal as an order's payment provider against moto: the ledger through the fake PayPal
API, and PayPal webhooks (signed with a certificate the test makes) applied once, in order,
to the payment they are about."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.payments.gateways import registry
from functions.payments.logic import authorize, capture, refund, release
from infra.local.provision import LocalResources
from shared.order import keys
from shared.table import Table
from tests.fakes.paypal_api import FakePayPal, WebhookSigner
from tests.integration.test_payments import header, make_order, post_raw, ship, summary, timeline_kinds
from tests.unit.test_paypal_gateway import WEBHOOK_ID, gateway, handmade_event


@pytest.fixture
def paypal(aws: LocalResources) -> Any:
    api, signer = FakePayPal(), WebhookSigner()
    registry.use_gateway("paypal", gateway(api, signer))
    yield api, signer
    registry.reset()


def paypal_order() -> str:
    order_id = make_order()
    Table().update(
        keys.order_pk(order_id),
        keys.ORDER_HEADER,
        "SET payment = :p",
        values={":p": {"provider": "paypal", "token": "vault_ok"}},
    )
    return order_id


def post_event(signer: WebhookSigner, event: dict[str, Any]) -> tuple[int, Any]:
    body = json.dumps(event).encode()
    return post_raw(body.decode(), signer.headers(body, WEBHOOK_ID), provider="paypal")


def test_authorize_capture_per_shipment_and_refund(paypal: Any) -> None:
    api, _ = paypal
    order_id = paypal_order()
    authorize.authorize_order(order_id)
    payment = summary(order_id)["payments"][0]
    assert payment["reference"] in api.authorizations
    ship(order_id, "fo_a", {1: 1})
    first = capture.capture_shipments(order_id, "fo_a")
    ship(order_id, "fo_a", {1: 2, 2: 2})
    second = capture.capture_shipments(order_id, "fo_a")
    total = header(order_id)["totals"]["total"]
    assert first["captured"] + second["captured"] == total
    auth = api.authorizations[payment["reference"]]
    assert auth["status"] == "CAPTURED" and len(api.captures) == 2  # the last capture was final
    memo = refund.refund(order_id, change_id="chg_1", amount=500, reason="appeasement")
    assert memo["status"] == "issued"
    refunded = next(iter(api.refunds.values()))
    assert refunded["amount"] == {"currency_code": "EUR", "value": "5.00"}
    assert summary(order_id)["refunded"] == 500
    # Run again: the same request ids, no more money moves.
    assert capture.capture_shipments(order_id, "fo_a") == {"invoices": [], "captured": 0}
    assert len(api.captures) == 2


def test_release_voids_the_paypal_authorization(paypal: Any) -> None:
    api, _ = paypal
    order_id = paypal_order()
    authorize.authorize_order(order_id)
    reference = summary(order_id)["payments"][0]["reference"]
    release.release_authorized_funds(
        order_id, header(order_id)["totals"]["total"], reason="cancelled", change_id="chg_cancel"
    )
    assert api.authorizations[reference]["status"] == "VOIDED"


def test_paypal_webhooks_are_verified_deduplicated_and_matched_to_the_payment(paypal: Any) -> None:
    _, signer = paypal
    order_id = paypal_order()
    authorize.authorize_order(order_id)
    ship(order_id, "fo_a", {1: 3, 2: 2})
    capture.capture_shipments(order_id, "fo_a")
    invoice = summary(order_id)["invoices"][0]
    capture_id = invoice["capture_reference"]
    dispute = {
        "dispute_id": "PP-D-1",
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "status": "OPEN",
        "disputed_transactions": [{"seller_transaction_id": capture_id}],
        "dispute_amount": {"currency_code": "EUR", "value": "10.00"},
    }
    opened = handmade_event("CUSTOMER.DISPUTE.CREATED", "dispute", dispute, event_id="WH-D-OPEN")
    status, body = post_event(signer, opened)
    assert (status, body["outcome"], body["order_id"]) == (200, "held", order_id)
    assert header(order_id)["status"] == "on_hold"
    # The same delivery again: seen before, nothing changes.
    status, body = post_event(signer, opened)
    assert (status, body["duplicate"]) == (200, True)
    resolved = dict(dispute, status="RESOLVED", dispute_outcome={"outcome_code": "RESOLVED_SELLER_FAVOUR"})
    status, body = post_event(
        signer, handmade_event("CUSTOMER.DISPUTE.RESOLVED", "dispute", resolved, event_id="WH-D-DONE")
    )
    assert body["outcome"] == "released" and header(order_id)["status"] == "open"
    # An older stage delivered late moves nothing.
    updated = handmade_event("CUSTOMER.DISPUTE.CREATED", "dispute", dispute, event_id="WH-D-LATE")
    assert post_event(signer, updated)[1]["outcome"] == "stale"
    assert "payment.dispute_opened" in timeline_kinds(order_id)


def test_a_forged_paypal_webhook_is_refused_and_a_voided_hold_expires_the_payment(paypal: Any) -> None:
    _, signer = paypal
    order_id = paypal_order()
    authorize.authorize_order(order_id)
    reference = summary(order_id)["payments"][0]["reference"]
    voided = handmade_event("PAYMENT.AUTHORIZATION.VOIDED", "authorization", {"id": reference, "status": "VOIDED"})
    body = json.dumps(voided).encode()
    headers = signer.headers(body, WEBHOOK_ID)
    status, _ = post_raw(body.decode().replace("VOIDED", "CREATED"), headers, provider="paypal")
    assert status == 401
    status, answer = post_raw(body.decode(), headers, provider="paypal")
    assert (status, answer["outcome"]) == (200, "expired")
    assert summary(order_id)["payments"][0]["status"] == "expired"
