"""The Stripe gateway offline: recorded Stripe responses behind a fake HTTP client."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from functions.payments.gateways.gateway import (
    AuthorizationExpired,
    CaptureFailed,
    GatewayMisconfigured,
    GatewayUnavailable,
    InvalidSignature,
    PaymentDeclined,
    RefundFailed,
)
from functions.payments.gateways.stripe_gateway import StripeGateway
from shared.errors import Conflict, InvalidInput, NotFound, RetryableError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe"
SECRET = "whsec_test_secret"
PI = "pi_3PmVtR2eZvKYlo2C0qJ8xYzA"
DISPUTE = "dp_1PmVtR2eZvKYlo2C9dIsPuTe"
CHARGE = "ch_3PmVtR2eZvKYlo2C0hG4kLmN"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class Sent:
    method: str
    path: str
    form: dict[str, list[str]]
    headers: dict[str, str]


class RecordedStripe(stripe.HTTPClient):
    """Answers each request with the next recorded response and keeps what was sent."""

    name = "recorded"

    def __init__(self, *responses: tuple[int, dict[str, Any]] | Exception):
        super().__init__()
        self.responses = list(responses)
        self.sent: list[Sent] = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        self.sent.append(Sent(method, urlsplit(url).path, parse_qs(post_data or ""), dict(headers or {})))
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return json.dumps(body), status, {"Request-Id": f"req_{len(self.sent)}"}

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise NotImplementedError

    def close(self):
        pass

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0


def gateway(*responses, retries: int = 0) -> tuple[StripeGateway, RecordedStripe]:
    http = RecordedStripe(*responses)
    return StripeGateway(
        api_key="sk_test_123", webhook_secret=SECRET, http_client=http, max_network_retries=retries
    ), http


# -- authorize -------------------------------------------------------------------------


def test_authorize_confirms_a_manual_capture_intent_with_multicapture():
    gw, http = gateway((200, fixture("payment_intent_requires_capture")))
    auth = gw.authorize(
        token="pm_card_visa", amount=10_000, currency="EUR", idempotency_key="auth-ord1", metadata={"order_id": "ord1"}
    )
    assert auth.reference == PI
    assert (auth.amount, auth.currency, auth.multicapture) == (10_000, "EUR", True)
    assert auth.expires_at == "2024-08-15T10:20:00.000Z"  # the charge's capture_before
    (sent,) = http.sent
    assert (sent.method, sent.path) == ("post", "/v1/payment_intents")
    assert sent.headers["Idempotency-Key"] == "auth-ord1"
    assert sent.form["amount"] == ["10000"]
    assert sent.form["currency"] == ["eur"]
    assert sent.form["payment_method"] == ["pm_card_visa"]
    assert sent.form["capture_method"] == ["manual"]
    assert sent.form["confirm"] == ["true"]
    assert sent.form["payment_method_options[card][request_multicapture]"] == ["if_available"]
    assert sent.form["metadata[order_id]"] == ["ord1"]
    assert sent.form["expand[0]"] == ["latest_charge"]


def test_authorize_without_multicapture_says_so():
    intent = fixture("payment_intent_requires_capture")
    intent["latest_charge"]["payment_method_details"]["card"]["multicapture"] = {"status": "unavailable"}
    gw, _ = gateway((200, intent))
    auth = gw.authorize(token="pm_card_visa", amount=10_000, currency="eur", idempotency_key="k", metadata={})
    assert auth.multicapture is False


def test_decline_is_payment_declined_with_the_decline_code():
    gw, _ = gateway((402, fixture("error_card_declined")))
    with pytest.raises(PaymentDeclined) as caught:
        gw.authorize(token="pm_card_visa", amount=10_000, currency="EUR", idempotency_key="k", metadata={})
    assert caught.value.reason == "insufficient_funds"


def test_intent_needing_3ds_is_declined_as_authentication_required():
    intent = fixture("payment_intent_requires_capture") | {"status": "requires_action"}
    gw, _ = gateway((200, intent))
    with pytest.raises(PaymentDeclined) as caught:
        gw.authorize(token="pm_card_visa", amount=10_000, currency="EUR", idempotency_key="k", metadata={})
    assert caught.value.reason == "authentication_required"


@pytest.mark.parametrize(
    "answer",
    [
        (429, fixture("error_rate_limit")),
        (500, fixture("error_api")),
        (503, fixture("error_api")),
        stripe.APIConnectionError("connection reset"),
    ],
    ids=["lock-timeout", "500", "503", "network"],
)
def test_transient_trouble_is_gateway_unavailable(answer):
    gw, _ = gateway(answer)
    with pytest.raises(GatewayUnavailable) as caught:
        gw.authorize(token="pm_card_visa", amount=10_000, currency="EUR", idempotency_key="k", metadata={})
    assert isinstance(caught.value, RetryableError)


def test_sdk_retries_a_5xx_with_the_same_idempotency_key():
    gw, http = gateway((500, fixture("error_api")), (200, fixture("payment_intent_requires_capture")), retries=1)
    auth = gw.authorize(token="pm_card_visa", amount=10_000, currency="EUR", idempotency_key="auth-k", metadata={})
    assert auth.reference == PI
    assert [s.headers["Idempotency-Key"] for s in http.sent] == ["auth-k", "auth-k"]


def test_bad_credentials_are_misconfiguration_not_retryable():
    gw, _ = gateway((401, fixture("error_invalid_api_key")))
    with pytest.raises(GatewayMisconfigured) as caught:
        gw.authorize(token="pm_card_visa", amount=10_000, currency="EUR", idempotency_key="k", metadata={})
    assert not isinstance(caught.value, RetryableError)


def test_no_api_key_is_misconfiguration():
    gw = StripeGateway(api_key=None, webhook_secret=SECRET)
    with pytest.raises(GatewayMisconfigured):
        gw.void(authorization=PI, idempotency_key="k")


def test_bad_amount_is_invalid_input_before_any_call():
    gw, http = gateway()
    with pytest.raises(InvalidInput):
        gw.authorize(token="pm_card_visa", amount=-1, currency="EUR", idempotency_key="k", metadata={})
    assert http.sent == []


# -- capture and void ------------------------------------------------------------------


def test_partial_capture_keeps_the_rest_capturable():
    gw, http = gateway((200, fixture("payment_intent_partially_captured")))
    capture = gw.capture(authorization=PI, amount=6_000, currency="EUR", idempotency_key="cap-shp1", final=False)
    assert (capture.reference, capture.amount, capture.authorization) == (PI, 6_000, PI)
    (sent,) = http.sent
    assert (sent.method, sent.path) == ("post", f"/v1/payment_intents/{PI}/capture")
    assert sent.form == {"amount_to_capture": ["6000"], "final_capture": ["false"]}
    assert sent.headers["Idempotency-Key"] == "cap-shp1"


def test_final_capture_lets_stripe_release_the_rest():
    gw, http = gateway((200, fixture("payment_intent_partially_captured")))
    gw.capture(authorization=PI, amount=6_000, currency="EUR", idempotency_key="cap-last", final=True)
    assert http.sent[0].form == {"amount_to_capture": ["6000"]}  # final_capture defaults to true


def test_capture_of_a_lapsed_intent_is_authorization_expired():
    gw, _ = gateway((400, fixture("error_capture_expired_intent")))
    with pytest.raises(AuthorizationExpired):
        gw.capture(authorization=PI, amount=100, currency="EUR", idempotency_key="k", final=False)


def test_capture_of_a_voided_intent_is_capture_failed():
    error = fixture("error_capture_expired_intent")
    error["error"]["payment_intent"]["cancellation_reason"] = "requested_by_customer"
    gw, _ = gateway((400, error))
    with pytest.raises(CaptureFailed) as caught:
        gw.capture(authorization=PI, amount=100, currency="EUR", idempotency_key="k", final=False)
    assert caught.value.reason == "authorization_voided"


def test_over_capture_is_capture_failed():
    gw, _ = gateway((400, fixture("error_capture_amount_too_large")))
    with pytest.raises(CaptureFailed) as caught:
        gw.capture(authorization=PI, amount=12_000, currency="EUR", idempotency_key="k", final=False)
    assert caught.value.reason == "amount_too_large"


def test_capture_of_an_unknown_intent_is_not_found():
    gw, _ = gateway((404, fixture("error_resource_missing")))
    with pytest.raises(NotFound):
        gw.capture(authorization="pi_doesnotexist", amount=100, currency="EUR", idempotency_key="k", final=False)


def test_void_cancels_the_intent():
    gw, http = gateway((200, fixture("payment_intent_canceled")))
    gw.void(authorization=PI, idempotency_key="void-ord1")
    (sent,) = http.sent
    assert (sent.method, sent.path, sent.headers["Idempotency-Key"]) == (
        "post",
        f"/v1/payment_intents/{PI}/cancel",
        "void-ord1",
    )


def test_void_of_an_already_canceled_intent_is_harmless():
    gw, _ = gateway((400, fixture("error_capture_expired_intent")))
    gw.void(authorization=PI, idempotency_key="k")


def test_void_of_a_captured_intent_is_a_conflict():
    gw, _ = gateway((400, fixture("error_cancel_succeeded_intent")))
    with pytest.raises(Conflict):
        gw.void(authorization=PI, idempotency_key="k")


# -- refund ----------------------------------------------------------------------------


def test_refund_of_a_capture_refunds_its_intent():
    gw, http = gateway((200, fixture("refund_succeeded")))
    refund = gw.refund(capture=PI, amount=2_500, currency="EUR", idempotency_key="cm-1")
    assert (refund.reference, refund.amount, refund.status, refund.failure_reason) == (
        "re_3PmVtR2eZvKYlo2C0aBcDeFg",
        2_500,
        "succeeded",
        None,
    )
    (sent,) = http.sent
    assert (sent.method, sent.path) == ("post", "/v1/refunds")
    assert sent.form == {"payment_intent": [PI], "amount": ["2500"]}
    assert sent.headers["Idempotency-Key"] == "cm-1"


def test_refund_of_a_charge_names_the_charge():
    gw, http = gateway((200, fixture("refund_succeeded")))
    gw.refund(capture="ch_3PmVtR2eZvKYlo2C0hG4kLmN", amount=2_500, currency="EUR", idempotency_key="cm-1")
    assert http.sent[0].form["charge"] == ["ch_3PmVtR2eZvKYlo2C0hG4kLmN"]


def test_pending_refund_is_pending():
    gw, _ = gateway((200, fixture("refund_pending")))
    assert gw.refund(capture=PI, amount=2_500, currency="EUR", idempotency_key="k").status == "pending"


def test_over_refund_is_refund_failed():
    gw, _ = gateway((400, fixture("error_refund_exceeds_charge")))
    with pytest.raises(RefundFailed) as caught:
        gw.refund(capture=PI, amount=12_000, currency="EUR", idempotency_key="k")
    assert caught.value.reason == "invalid_request_error"


# -- webhooks --------------------------------------------------------------------------


def signed(name: str, *, secret: str = SECRET, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = (FIXTURES / f"{name}.json").read_text()
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp or int(time.time()))
    return body.encode(), {"stripe-signature": header}  # lower case, as API Gateway may pass it


@pytest.mark.parametrize(
    ("name", "kind", "reference", "payment_reference", "amount", "reason"),
    [
        ("event_payment_intent_canceled_automatic", "authorization.expired", PI, PI, 10_000, "automatic"),
        ("event_payment_intent_canceled_requested", "other", PI, None, 10_000, None),
        ("event_payment_intent_payment_failed", "capture.failed", PI, PI, 10_000, "insufficient_funds"),
        ("event_charge_failed", "capture.failed", PI, PI, 10_000, "card_declined"),
        (
            "event_charge_refund_updated_failed",
            "refund.failed",
            "re_3PmVtR2eZvKYlo2C0aBcDeFg",
            PI,
            2_500,
            "expired_or_canceled_card",
        ),
        ("event_refund_updated_succeeded", "refund.succeeded", "re_3PmVtR2eZvKYlo2C0aBcDeFg", PI, 2_500, None),
        # A dispute is its own thing (its id), about the payment of its intent.
        ("event_charge_dispute_created", "dispute.opened", DISPUTE, PI, 10_000, "fraudulent"),
        ("event_charge_dispute_closed", "dispute.closed", DISPUTE, PI, 10_000, "lost"),
        ("event_charge_succeeded", "other", "ch_3PmVtR2eZvKYlo2C0hG4kLmN", PI, 10_000, None),
    ],
)
def test_webhook_events_are_mapped(name, kind, reference, payment_reference, amount, reason):
    gw, _ = gateway()
    body, headers = signed(name)
    event = gw.verify_webhook(body=body, headers=headers)
    raw = fixture(name)
    assert (event.provider, event.event_id, event.raw_type) == ("stripe", raw["id"], raw["type"])
    assert (event.kind, event.reference, event.payment_reference, event.amount, event.reason) == (
        kind,
        reference,
        payment_reference,
        amount,
        reason,
    )
    assert event.occurred_at.endswith("Z")


def test_webhook_time_is_the_event_creation_in_utc():
    gw, _ = gateway()
    body, headers = signed("event_charge_dispute_created")
    assert gw.verify_webhook(body=body, headers=headers).occurred_at == "2024-08-18T16:53:21.000Z"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace(b"fraudulent", b"duplicate"), headers),
        lambda body, headers: (body, {}),
        lambda body, headers: (body, {"Stripe-Signature": "garbage"}),
        lambda body, headers: (body, {"Stripe-Signature": headers["stripe-signature"].split(",")[0]}),
        lambda body, headers: signed("event_charge_dispute_created", secret="whsec_other"),
        lambda body, headers: signed("event_charge_dispute_created", timestamp=int(time.time()) - 301),
        lambda body, headers: (b"\xff\xfe", headers),
    ],
    ids=["body-changed", "no-header", "garbage", "no-v1", "wrong-secret", "too-old", "not-utf8"],
)
def test_bad_signatures_are_invalid_signature(tamper):
    gw, _ = gateway()
    body, headers = tamper(*signed("event_charge_dispute_created"))
    with pytest.raises(InvalidSignature) as caught:
        gw.verify_webhook(body=body, headers=headers)
    assert caught.value.status == 401


def test_webhooks_verify_without_an_api_key():
    gw = StripeGateway(api_key=None, webhook_secret=SECRET)
    body, headers = signed("event_charge_dispute_created")
    assert gw.verify_webhook(body=body, headers=headers).kind == "dispute.opened"


def test_a_dispute_without_a_payment_intent_is_about_the_charge_and_its_stage_orders_it():
    from functions.payments.gateways.stripe_gateway import parse_event

    created, closed = fixture("event_charge_dispute_created"), fixture("event_charge_dispute_closed")
    assert (parse_event(created).sequence, parse_event(closed).sequence) == (0, 2)
    for payload in (created, closed):
        payload["data"]["object"]["payment_intent"] = None  # a charge made without an intent
        event = parse_event(payload)
        assert (event.reference, event.payment_reference) == (DISPUTE, CHARGE)


def test_charge_refunded_reports_the_running_total_refunded_on_the_payment():
    """Hand-made: Stripe publishes no ``charge.refunded`` event sample (stripe/openapi's
    fixtures hold one event, ``plan.created``); this is the ``charge.succeeded`` sample
    above with the fields a refund in the Dashboard changes."""
    from functions.payments.gateways.stripe_gateway import parse_event

    payload = fixture("event_charge_succeeded")
    payload["type"] = "charge.refunded"
    payload["data"]["object"] |= {"amount_refunded": 2500, "refunded": False}
    event = parse_event(payload)
    assert (event.kind, event.reference, event.payment_reference, event.amount) == (
        "refund.external",
        CHARGE,
        PI,
        2500,
    )
