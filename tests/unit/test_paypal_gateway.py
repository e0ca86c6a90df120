"""The PayPal gateway offline: the fake PayPal API, PayPal's own signed deliveries, and
webhook events built by hand (PayPal's Payments v2 samples are not in PayPal's repositories;
tests/fixtures/paypal/SOURCES.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.payments.gateways.gateway import (
    AuthorizationExpired,
    CaptureFailed,
    GatewayMisconfigured,
    GatewayUnavailable,
    InvalidSignature,
    PaymentDeclined,
    RefundFailed,
)
from functions.payments.gateways.paypal_gateway import PayPalGateway, money, signed_message, to_minor
from shared.errors import Conflict
from tests.fakes.paypal_api import FakePayPal, WebhookSigner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "paypal"
WEBHOOK_ID = "8PT597110X687430LKGECATA"


def gateway(api: FakePayPal, signer: WebhookSigner | None = None, **kwargs: Any) -> PayPalGateway:
    return PayPalGateway(
        client_id=api.client_id,
        client_secret=api.client_secret,
        webhook_id=kwargs.pop("webhook_id", WEBHOOK_ID),
        transport=api,
        cert_fetcher=(signer or WebhookSigner()).fetch,
        retry_pause_seconds=0,
        **kwargs,
    )


def handmade_event(
    event_type: str, resource_type: str, resource: dict[str, Any], event_id: str = "WH-HANDMADE-1"
) -> dict[str, Any]:
    """A webhook event written for these tests in PayPal's documented envelope (not PayPal's sample)."""
    return {
        "id": event_id,
        "event_version": "1.0",
        "create_time": "2026-11-02T10:00:00.000Z",
        "resource_type": resource_type,
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": "hand-made for tests",
        "resource": resource,
        "links": [],
    }


def test_money_round_trips_in_minor_units() -> None:
    assert money(1999, "EUR") == {"currency_code": "EUR", "value": "19.99"}
    assert money(500, "JPY") == {"currency_code": "JPY", "value": "500"}
    assert to_minor({"currency_code": "USD", "value": "2.51"}, "USD") == 251
    assert to_minor({"currency_code": "JPY", "value": "500"}, "JPY") == 500


def test_authorize_capture_refund_and_void_through_the_fake_api() -> None:
    api = FakePayPal()
    pp = gateway(api)
    auth = pp.authorize(
        token="vault_ok",
        amount=10_000,
        currency="EUR",
        idempotency_key="ord_1:authorize:0",
        metadata={"order_id": "ord_1"},
    )
    assert auth.amount == 10_000 and auth.currency == "EUR" and auth.multicapture and auth.expires_at
    first = pp.capture(authorization=auth.reference, amount=6_000, currency="EUR", idempotency_key="cap:1", final=False)
    assert first.reference != auth.reference and first.authorization == auth.reference
    refund = pp.refund(capture=first.reference, amount=2_500, currency="EUR", idempotency_key="ref:1")
    assert (refund.status, refund.amount) == ("succeeded", 2_500)
    with pytest.raises(RefundFailed) as too_much:
        pp.refund(capture=first.reference, amount=3_501, currency="EUR", idempotency_key="ref:2")
    assert too_much.value.reason == "amount_too_large"
    with pytest.raises(CaptureFailed) as over:
        pp.capture(authorization=auth.reference, amount=4_001, currency="EUR", idempotency_key="cap:2", final=True)
    assert over.value.reason == "amount_too_large"
    pp.void(authorization=auth.reference, idempotency_key="void:1")
    pp.void(authorization=auth.reference, idempotency_key="void:2")  # voiding a voided hold is no error
    with pytest.raises(CaptureFailed) as voided:
        pp.capture(authorization=auth.reference, amount=100, currency="EUR", idempotency_key="cap:3", final=True)
    assert voided.value.reason == "authorization_voided"
    sent = api.money_calls()
    assert [r.path.rsplit("/", 1)[-1] for r in sent[:4]] == ["orders", "authorize", "capture", "refund"]
    assert sent[0].body["intent"] == "AUTHORIZE"
    assert sent[0].body["purchase_units"][0]["amount"] == {"currency_code": "EUR", "value": "100.00"}
    assert sent[0].body["purchase_units"][0]["custom_id"] == "ord_1"
    assert sent[2].body == {"amount": {"currency_code": "EUR", "value": "60.00"}, "final_capture": False}
    assert sent[2].headers["PayPal-Request-Id"] == "cap:1"


def test_a_repeated_request_id_moves_no_money_twice() -> None:
    api = FakePayPal()
    pp = gateway(api)
    auth = pp.authorize(token="vault_ok", amount=5_000, currency="USD", idempotency_key="k:auth", metadata={})
    again = pp.authorize(token="vault_ok", amount=5_000, currency="USD", idempotency_key="k:auth", metadata={})
    assert again.reference == auth.reference and len(api.authorizations) == 1
    one = pp.capture(authorization=auth.reference, amount=5_000, currency="USD", idempotency_key="k:cap", final=True)
    two = pp.capture(authorization=auth.reference, amount=5_000, currency="USD", idempotency_key="k:cap", final=True)
    assert one.reference == two.reference and len(api.captures) == 1


def test_transient_failures_are_retried_with_the_same_request_id() -> None:
    api = FakePayPal()
    pp = gateway(api)
    auth = pp.authorize(token="vault_ok", amount=5_000, currency="USD", idempotency_key="t:auth", metadata={})
    api.failures = [503, "unreachable"]
    capture = pp.capture(
        authorization=auth.reference, amount=1_000, currency="USD", idempotency_key="t:cap", final=False
    )
    tries = [r for r in api.requests if r.path.endswith("/capture")]
    assert len(tries) == 3 and {r.headers["PayPal-Request-Id"] for r in tries} == {"t:cap"}
    assert api.captures[capture.reference]["amount"]["value"] == "10.00"
    api.failures = [500, 500, 500]
    with pytest.raises(GatewayUnavailable):
        pp.capture(authorization=auth.reference, amount=1_000, currency="USD", idempotency_key="t:cap2", final=False)


def test_declines_expiry_and_credentials() -> None:
    api = FakePayPal()
    pp = gateway(api)
    with pytest.raises(PaymentDeclined) as declined:
        pp.authorize(token="vault_declined", amount=100, currency="USD", idempotency_key="d:1", metadata={})
    assert declined.value.reason == "instrument_declined"
    with pytest.raises(PaymentDeclined) as action:
        pp.authorize(token="vault_payer_action", amount=100, currency="USD", idempotency_key="d:2", metadata={})
    assert action.value.reason == "payer_action_required"
    auth = pp.authorize(token="vault_ok", amount=100, currency="USD", idempotency_key="d:3", metadata={})
    api.expire.add(auth.reference)
    with pytest.raises(AuthorizationExpired):
        pp.capture(authorization=auth.reference, amount=100, currency="USD", idempotency_key="d:4", final=True)
    wrong = PayPalGateway(client_id="x", client_secret="y", webhook_id=WEBHOOK_ID, transport=api, retry_pause_seconds=0)
    with pytest.raises(GatewayMisconfigured):
        wrong.authorize(token="vault_ok", amount=100, currency="USD", idempotency_key="d:5", metadata={})
    second = pp.authorize(token="vault_ok", amount=100, currency="USD", idempotency_key="d:6", metadata={})
    pp.capture(authorization=second.reference, amount=100, currency="USD", idempotency_key="d:7", final=True)
    with pytest.raises(Conflict):
        pp.void(authorization=second.reference, idempotency_key="d:8")


def test_paypals_own_signed_delivery_verifies_with_paypals_certificate() -> None:
    """PayPal's Java SDK test delivery, signed by PayPal, checked with PayPal's sandbox certificate."""
    body = (FIXTURES / "java_sdk_billing_plan_created.body.json").read_bytes()
    delivery = json.loads((FIXTURES / "java_sdk_billing_plan_created.delivery.json").read_text())
    pem = (FIXTURES / "java_sdk_messageverificationcerts_sandbox.crt").read_bytes()
    then = datetime(2017, 3, 30, 20, 4, 30, tzinfo=UTC)  # when it was sent; the certificate has expired since
    pp = PayPalGateway(
        client_id=None,
        client_secret=None,
        webhook_id=delivery["webhook_id"],
        cert_fetcher=lambda url: pem,
        now=lambda: then,
    )
    event = pp.verify_webhook(body=body, headers=delivery["headers"])
    assert (event.provider, event.raw_type, event.kind) == ("paypal", "BILLING.PLAN.CREATED", "other")
    assert event.event_id == "WH-2MW4820926242972J-6SG447389E205703U"
    # One byte changed, another webhook id, or the certificate past its validity: refused.
    with pytest.raises(InvalidSignature):
        pp.verify_webhook(body=body.replace(b'"100"', b'"101"'), headers=delivery["headers"])
    other_hook = PayPalGateway(
        client_id=None, client_secret=None, webhook_id="OTHER", cert_fetcher=lambda url: pem, now=lambda: then
    )
    with pytest.raises(InvalidSignature):
        other_hook.verify_webhook(body=body, headers=delivery["headers"])
    today = PayPalGateway(
        client_id=None, client_secret=None, webhook_id=delivery["webhook_id"], cert_fetcher=lambda url: pem
    )
    with pytest.raises(InvalidSignature):
        today.verify_webhook(body=body, headers=delivery["headers"])


def test_the_signed_string_matches_paypals_python_sdk_sample() -> None:
    """PayPal's Python SDK sample: its documented expected signature input, CRC32 of the raw body."""
    body = (FIXTURES / "python_sdk_payment_sale_completed.body.json").read_bytes()
    delivery = json.loads((FIXTURES / "python_sdk_payment_sale_completed.delivery.json").read_text())
    h = delivery["headers"]
    message = signed_message(h["PAYPAL-TRANSMISSION-ID"], h["PAYPAL-TRANSMISSION-TIME"], delivery["webhook_id"], body)
    import zlib

    assert (
        message
        == f"dfb3be50-fd74-11e4-8bf3-77339302725b|2015-05-18T15:45:13Z|4JH86294D6297924G|{zlib.crc32(body)}".encode()
    )


def test_webhooks_signed_with_a_certificate_the_test_makes() -> None:
    signer = WebhookSigner()
    pp = gateway(FakePayPal(), signer)
    resource = {
        "id": "1Y107995YT783435V",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "0.99"},
        "links": [
            {"href": "https://api.paypal.com/v2/payments/captures/0JF852973C016714D", "rel": "up", "method": "GET"}
        ],
    }
    body = json.dumps(handmade_event("PAYMENT.CAPTURE.REFUNDED", "refund", resource)).encode()
    event = pp.verify_webhook(body=body, headers=signer.headers(body, WEBHOOK_ID))
    assert (event.kind, event.reference, event.payment_reference, event.amount) == (
        "refund.succeeded",
        "1Y107995YT783435V",
        "0JF852973C016714D",
        99,
    )
    pp.verify_webhook(body=body, headers=signer.headers(body, WEBHOOK_ID))
    assert len(signer.fetched) == 1  # the certificate is cached per URL
    with pytest.raises(InvalidSignature):  # older than five minutes
        pp.verify_webhook(
            body=body, headers=signer.headers(body, WEBHOOK_ID, when=datetime.now(UTC) - timedelta(minutes=6))
        )
    with pytest.raises(InvalidSignature):  # a certificate from anywhere but PayPal
        pp.verify_webhook(body=body, headers=signer.headers(body, WEBHOOK_ID, cert_url="https://evil.example/cert.pem"))
    with pytest.raises(InvalidSignature):  # not over https
        pp.verify_webhook(
            body=body,
            headers=signer.headers(body, WEBHOOK_ID, cert_url="http://api.paypal.com/v1/notifications/certs/x"),
        )
    impostor = WebhookSigner(common_name="paypal.example.com")
    with pytest.raises(InvalidSignature):  # a certificate that is not PayPal's
        gateway(FakePayPal(), impostor).verify_webhook(body=body, headers=impostor.headers(body, WEBHOOK_ID))
    stranger = WebhookSigner()
    with pytest.raises(InvalidSignature):  # signed with another key than the certificate's
        pp.verify_webhook(body=body, headers=stranger.headers(body, WEBHOOK_ID))
    with pytest.raises(InvalidSignature):
        pp.verify_webhook(body=body, headers={})


@pytest.mark.parametrize(
    ("event_type", "resource_type", "resource", "expected"),
    [
        (
            "PAYMENT.AUTHORIZATION.VOIDED",
            "authorization",
            {"id": "8PP38301D7923932J", "status": "VOIDED", "amount": {"currency_code": "USD", "value": "2.51"}},
            ("authorization.expired", "8PP38301D7923932J", "8PP38301D7923932J", "voided"),
        ),
        (
            "PAYMENT.CAPTURE.DENIED",
            "capture",
            {
                "id": "27M47624FP291604U",
                "status": "DECLINED",
                "links": [{"href": "https://api.paypal.com/v2/payments/authorizations/7W5147081L658180V", "rel": "up"}],
            },
            ("capture.failed", "27M47624FP291604U", "7W5147081L658180V", "declined"),
        ),
        (
            "CUSTOMER.DISPUTE.CREATED",
            "dispute",
            {
                "dispute_id": "PP-000-042-663-135",
                "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                "status": "OPEN",
                "disputed_transactions": [{"seller_transaction_id": "00D10444LD479031K"}],
                "dispute_amount": {"currency_code": "USD", "value": "3.00"},
            },
            ("dispute.opened", "PP-000-042-663-135", "00D10444LD479031K", "merchandise_or_service_not_received"),
        ),
        (
            "CUSTOMER.DISPUTE.RESOLVED",
            "dispute",
            {
                "dispute_id": "PP-000-042-663-135",
                "status": "RESOLVED",
                "disputed_transactions": [{"seller_transaction_id": "00D10444LD479031K"}],
                "dispute_outcome": {"outcome_code": "RESOLVED_SELLER_FAVOUR"},
            },
            ("dispute.closed", "PP-000-042-663-135", "00D10444LD479031K", "resolved_seller_favour"),
        ),
    ],
)
def test_events_map_to_the_gateway_kinds(
    event_type: str, resource_type: str, resource: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    signer = WebhookSigner()
    pp = gateway(FakePayPal(), signer)
    body = json.dumps(handmade_event(event_type, resource_type, resource)).encode()
    event = pp.verify_webhook(body=body, headers=signer.headers(body, WEBHOOK_ID))
    assert (event.kind, event.reference, event.payment_reference, event.reason) == expected
