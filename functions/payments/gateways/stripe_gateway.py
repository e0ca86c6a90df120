"""Stripe behind the gateway interface: PaymentIntents with manual capture.

An authorization is a confirmed PaymentIntent in ``requires_capture``; its id is the
reference of the authorization and of its captures (Stripe refunds a PaymentIntent, or
a ``ch_`` charge when given one). The token is a PaymentMethod id (``pm_...``) the
channel collected. Multicapture is requested where the card allows it. Every call
carries the caller's idempotency key, so Stripe replays instead of moving money twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

import stripe

from functions.payments.gateways.gateway import (
    Authorization,
    AuthorizationExpired,
    Capture,
    CaptureFailed,
    GatewayMisconfigured,
    GatewayUnavailable,
    InvalidSignature,
    PaymentDeclined,
    Refund,
    RefundFailed,
    RefundStatus,
    WebhookEvent,
    WebhookKind,
)
from shared.api.headers import header
from shared.clock import iso
from shared.errors import Conflict, InvalidInput, MalformedInput, NotFound

SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300
_LAPSED = {"automatic", "expired"}  # cancellation reasons that mean the hold ran out
_REFUND_STATUS: dict[str, RefundStatus] = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
}


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        *,
        api_key: str | None,
        webhook_secret: str,
        http_client: stripe.HTTPClient | None = None,
        max_network_retries: int = 2,
    ):
        if not webhook_secret:
            raise GatewayMisconfigured("the stripe provider has no webhook secret")
        self._secret = webhook_secret
        # The SDK retries network errors and 5xx itself, with the same idempotency key.
        self._client = (
            stripe.StripeClient(api_key, http_client=http_client, max_network_retries=max_network_retries)
            if api_key
            else None
        )

    @property
    def _v1(self) -> Any:
        if self._client is None:
            raise GatewayMisconfigured("the stripe provider has no api_key")
        return self._client.v1

    def authorize(
        self, *, token: str, amount: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Authorization:
        _require_amount(amount)
        params = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": token,
            "payment_method_types": ["card"],  # no redirect methods: the OMS confirms server-side
            "capture_method": "manual",
            "confirm": True,
            "payment_method_options": {"card": {"request_multicapture": "if_available"}},
            "metadata": dict(metadata),
            "expand": ["latest_charge"],
        }
        try:
            created = self._v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key})
        except stripe.CardError as err:
            reason = _error(err).get("decline_code") or err.code or "card_declined"
            raise PaymentDeclined(f"the card was declined ({reason})", reason=reason) from err
        except stripe.StripeError as err:
            _raise_common(err)
        intent = created.to_dict()
        status = intent.get("status")
        if status == "requires_action":  # 3-D Secure needs the customer; no server-side way on
            raise PaymentDeclined("the card requires authentication", reason="authentication_required")
        if status != "requires_capture":
            failure = intent.get("last_payment_error") or {}
            reason = failure.get("decline_code") or failure.get("code") or str(status)
            raise PaymentDeclined(f"the payment was not authorized ({reason})", reason=reason)
        card = _card_details(intent)
        capture_before = card.get("capture_before")
        return Authorization(
            reference=intent["id"],
            amount=intent.get("amount_capturable") or amount,
            currency=str(intent["currency"]).upper(),
            expires_at=_iso(capture_before) if capture_before else None,
            multicapture=(card.get("multicapture") or {}).get("status") == "available",
            charge_reference=_charge_id(intent),
        )

    def capture(self, *, authorization: str, amount: int, currency: str, idempotency_key: str, final: bool) -> Capture:
        _require_amount(amount)
        params: dict[str, Any] = {"amount_to_capture": amount}
        if not final:  # Stripe's default releases the rest; only multicapture intents may keep it
            params["final_capture"] = False
        try:
            self._v1.payment_intents.capture(authorization, params=params, options={"idempotency_key": idempotency_key})
        except stripe.CardError as err:
            raise CaptureFailed(f"capture of {authorization} declined", reason=_reason(err)) from err
        except stripe.InvalidRequestError as err:
            _raise_lapsed(err, authorization)
            intent = _error(err).get("payment_intent") or {}
            if intent.get("status") == "canceled":
                raise CaptureFailed(f"{authorization} was voided", reason="authorization_voided") from err
            if intent.get("status") == "succeeded":
                raise CaptureFailed(f"{authorization} had its final capture", reason="authorization_closed") from err
            if err.code == "resource_missing":
                _raise_common(err)
            raise CaptureFailed(f"capture of {authorization} refused: {err.user_message}", reason=_reason(err)) from err
        except stripe.StripeError as err:
            _raise_common(err)
        return Capture(reference=authorization, amount=amount, authorization=authorization)

    def void(self, *, authorization: str, idempotency_key: str) -> None:
        try:
            self._v1.payment_intents.cancel(authorization, options={"idempotency_key": idempotency_key})
        except stripe.InvalidRequestError as err:
            intent = _error(err).get("payment_intent") or {}
            if intent.get("status") == "canceled":
                return  # voided or lapsed already: nothing is held
            if intent.get("status") == "succeeded":
                raise Conflict(f"{authorization} is fully captured; refund instead") from err
            _raise_common(err)
        except stripe.StripeError as err:
            _raise_common(err)

    def refund(self, *, capture: str, amount: int, currency: str, idempotency_key: str) -> Refund:
        _require_amount(amount)
        target = "charge" if capture.startswith("ch_") else "payment_intent"
        params = {target: capture, "amount": amount}
        try:
            refund = self._v1.refunds.create(params=params, options={"idempotency_key": idempotency_key}).to_dict()
        except stripe.InvalidRequestError as err:
            if err.code == "resource_missing":
                _raise_common(err)
            raise RefundFailed(f"refund of {capture} refused: {err.user_message}", reason=_reason(err)) from err
        except stripe.CardError as err:
            raise RefundFailed(f"refund of {capture} refused", reason=_reason(err)) from err
        except stripe.StripeError as err:
            _raise_common(err)
        status = _REFUND_STATUS.get(str(refund.get("status")), "failed")  # canceled: no money moved
        failure = refund.get("failure_reason") or (None if status != "failed" else str(refund.get("status")))
        return Refund(reference=refund["id"], amount=int(refund["amount"]), status=status, failure_reason=failure)

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        try:
            stripe.WebhookSignature.verify_header(
                body, header(headers, SIGNATURE_HEADER), self._secret, TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError) as err:
            raise InvalidSignature(f"stripe signature rejected: {err}") from err
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise MalformedInput("the event body is not JSON") from err
        return parse_event(payload)


def parse_event(payload: Any) -> WebhookEvent:
    """The WebhookEvent of a verified Stripe event (a v1 snapshot event)."""
    obj = (payload.get("data") or {}).get("object") if isinstance(payload, dict) else None
    if not isinstance(obj, dict) or not isinstance(payload.get("id"), str) or not isinstance(payload.get("type"), str):
        raise MalformedInput("not a Stripe event: id, type and data.object are required")
    if not isinstance(payload.get("created"), int):
        raise MalformedInput("the Stripe event has no created time")
    raw_type: str = payload["type"]
    kind, reference, payment, reason = _classify(raw_type, obj)
    amount = obj.get("amount_refunded") if kind == "refund.external" else obj.get("amount")
    return WebhookEvent(
        provider="stripe",
        event_id=payload["id"],
        kind=kind,
        occurred_at=_iso(payload["created"]),
        reference=reference or str(obj.get("id") or payload["id"]),
        payment_reference=payment,
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        reason=reason,
        raw_type=raw_type,
        sequence=_DISPUTE_STAGE.get(str(obj.get("status")), 0) if obj.get("object") == "dispute" else 0,
    )


# A dispute's stages in the order Stripe moves it through them (its ``status``).
_DISPUTE_STAGE = {
    "warning_needs_response": 0,
    "needs_response": 0,
    "warning_under_review": 1,
    "under_review": 1,
    "won": 2,
    "lost": 2,
    "warning_closed": 2,
}


def _charge_id(intent: Any) -> str | None:
    charge = intent.get("latest_charge")
    if isinstance(charge, Mapping):
        charge = charge.get("id")
    return charge if isinstance(charge, str) and charge else None


def _classify(raw_type: str, obj: dict[str, Any]) -> tuple[WebhookKind, str | None, str | None, str | None]:
    """(kind, reference, payment_reference, reason) of an event's type and object."""
    if raw_type == "payment_intent.canceled" and obj.get("cancellation_reason") in _LAPSED:
        return "authorization.expired", obj.get("id"), obj.get("id"), obj.get("cancellation_reason")
    if raw_type == "charge.expired":
        return "authorization.expired", obj.get("payment_intent"), obj.get("payment_intent"), "expired"
    if raw_type == "payment_intent.payment_failed":
        failure = obj.get("last_payment_error") or {}
        return "capture.failed", obj.get("id"), obj.get("id"), failure.get("decline_code") or failure.get("code")
    if raw_type == "charge.failed":
        return "capture.failed", obj.get("payment_intent"), obj.get("payment_intent"), obj.get("failure_code")
    if raw_type in ("charge.refund.updated", "refund.updated", "refund.failed") and obj.get("object") == "refund":
        status = obj.get("status")
        if status in ("failed", "canceled"):
            return "refund.failed", obj.get("id"), obj.get("payment_intent"), obj.get("failure_reason") or status
        if status == "succeeded":
            return "refund.succeeded", obj.get("id"), obj.get("payment_intent"), None
    if raw_type == "charge.refunded" and obj.get("object") == "charge":
        # ``amount_refunded`` is the charge's running total, Dashboard refunds included.
        return "refund.external", obj.get("id"), obj.get("payment_intent") or obj.get("id"), None
    if raw_type in ("charge.dispute.created", "charge.dispute.closed"):
        # The dispute is its own thing; its payment is the intent, or the charge when a
        # dispute names no intent (a charge made without one).
        payment = obj.get("payment_intent") or obj.get("charge")
        if raw_type == "charge.dispute.created":
            return "dispute.opened", obj.get("id"), payment, obj.get("reason")
        return "dispute.closed", obj.get("id"), payment, obj.get("status")  # won, lost, warning_closed
    return "other", obj.get("id"), obj.get("payment_intent"), None


def _card_details(intent: Any) -> dict[str, Any]:
    """``payment_method_details.card`` of the intent's (expanded) latest charge."""
    charge = intent.get("latest_charge")
    if not isinstance(charge, Mapping):
        return {}
    details = charge.get("payment_method_details") or {}
    return dict(details.get("card") or {})


def _raise_lapsed(err: stripe.InvalidRequestError, authorization: str) -> None:
    intent = _error(err).get("payment_intent") or {}
    lapsed = err.code == "charge_expired_for_capture" or (
        intent.get("status") == "canceled" and intent.get("cancellation_reason") in _LAPSED
    )
    if lapsed:
        raise AuthorizationExpired(f"authorization {authorization} has expired; authorize again") from err


def _raise_common(err: stripe.StripeError) -> NoReturn:
    """Map what every call can meet: transient trouble, credentials, a missing object, misuse."""
    if isinstance(err, stripe.RateLimitError | stripe.APIConnectionError):
        raise GatewayUnavailable(f"stripe unavailable: {err.user_message}") from err
    if isinstance(err, stripe.AuthenticationError | stripe.PermissionError):
        raise GatewayMisconfigured(f"stripe refused our credentials: {err.user_message}") from err
    if isinstance(err, stripe.IdempotencyError):
        raise Conflict(f"idempotency key reused for a different request: {err.user_message}") from err
    if isinstance(err, stripe.InvalidRequestError):
        if err.code == "resource_missing":
            raise NotFound(f"stripe has no such object: {err.user_message}") from err
        raise Conflict(f"stripe refused the request: {err.user_message}", reason=_reason(err)) from err
    # APIError (5xx, 409 lock timeouts) and anything unforeseen: retrying with the same key is safe.
    raise GatewayUnavailable(f"stripe error {err.http_status}: {err.user_message}") from err


def _error(err: stripe.StripeError) -> dict[str, Any]:
    body = err.json_body if isinstance(err.json_body, dict) else {}
    found = body.get("error")
    return found if isinstance(found, dict) else {}


def _reason(err: stripe.StripeError) -> str:
    details = _error(err)
    return str(details.get("decline_code") or details.get("code") or err.code or details.get("type") or "stripe_error")


def _iso(unix: int) -> str:
    return iso(datetime.fromtimestamp(unix, UTC))


def _require_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidInput("amount must be a positive integer in minor units")
