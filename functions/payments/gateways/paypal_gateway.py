"""PayPal behind the gateway interface: Orders v2 with intent AUTHORIZE, Payments v2.

- ``authorize``: ``POST /v2/checkout/orders`` (intent ``AUTHORIZE``, the amount, the OMS
  order id as ``custom_id``, the buyer's saved PayPal wallet as
  ``payment_source.paypal.vault_id`` = the token the channel collected), then
  ``POST /v2/checkout/orders/{id}/authorize``. The authorization id is the reference.
- ``capture``: ``POST /v2/payments/authorizations/{id}/capture`` with the amount and
  ``final_capture``; the capture id is the reference refunds use.
- ``void``: ``POST /v2/payments/authorizations/{id}/void``.
- ``refund``: ``POST /v2/payments/captures/{id}/refund`` with the amount.

Every money-moving call carries the caller's idempotency key as ``PayPal-Request-Id``, so
PayPal answers a repeat with the first result; network errors, 429 and 5xx are retried
twice with that same id. The OAuth token (client credentials) is kept until shortly
before it expires. No SDK: the calls are five JSON requests, and PayPal's server SDK
would bring its HTTP stack into every payment function (docs/decisions.md).

Webhooks are verified offline as PayPal documents: the signature in
``PAYPAL-TRANSMISSION-SIG`` is SHA256withRSA over
``<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body>``, checked
with the public key of the certificate at ``PAYPAL-CERT-URL``, which must be an https URL
on PayPal's API hosts and a PayPal certificate valid now; certificates are cached per URL.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

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
from shared import outbound_http
from shared.api.headers import header
from shared.clock import iso
from shared.errors import Conflict, InvalidInput, MalformedInput, NotFound
from shared.money import CURRENCY_EXPONENTS

LIVE_API = "https://api-m.paypal.com"
SANDBOX_API = "https://api-m.sandbox.paypal.com"
# Hosts PayPal serves its webhook signing certificates from.
CERT_HOSTS = frozenset({"api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com"})
TOLERANCE_SECONDS = 300
RETRIES = 2

# (status, response headers, body) for (method, url, headers, body).
Transport = Callable[[str, str, dict[str, str], bytes | None], tuple[int, dict[str, str], bytes]]
CertFetcher = Callable[[str], bytes]

_REFUND_STATUS: dict[str, RefundStatus] = {
    "COMPLETED": "succeeded",
    "PENDING": "pending",
    "FAILED": "failed",
    "CANCELLED": "failed",
}


class Unreachable(Exception):
    """Raised by a transport that could not reach PayPal (connection refused, timeout, DNS)."""


def urllib_transport(
    method: str, url: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with outbound_http.urlopen(request, 10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers or {}), err.read()
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise Unreachable(str(err)) from err


def fetch_certificate(url: str) -> bytes:
    # Not redirected: the URL's host was checked to be PayPal's, and the certificate comes from it.
    with outbound_http.urlopen(url, 10) as response:
        return bytes(response.read())


@dataclass(frozen=True)
class _Response:
    status: int
    body: dict[str, Any]

    @property
    def issue(self) -> str:
        """The first ``details[].issue`` of a PayPal error (or its ``name``)."""
        details = self.body.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict) and details[0].get("issue"):
            return str(details[0]["issue"])
        return str(self.body.get("name") or self.body.get("error") or f"http_{self.status}")


class PayPalGateway:
    name = "paypal"

    def __init__(
        self,
        *,
        client_id: str | None,
        client_secret: str | None,
        webhook_id: str,
        api_base: str = SANDBOX_API,
        transport: Transport | None = None,
        cert_fetcher: CertFetcher | None = None,
        now: Callable[[], datetime] | None = None,
        retry_pause_seconds: float = 0.5,
    ):
        if not webhook_id:
            raise GatewayMisconfigured("the paypal provider has no webhook_id")
        self._client_id = client_id
        self._client_secret = client_secret
        self._webhook_id = webhook_id
        self._base = api_base.rstrip("/")
        self._transport = transport or urllib_transport
        self._fetch_cert = cert_fetcher or fetch_certificate
        self._now = now or (lambda: datetime.now(UTC))
        self._pause = retry_pause_seconds
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (access token, monotonic expiry)
        self._certs: dict[str, Any] = {}

    # ---- money calls ---------------------------------------------------------------------

    def authorize(
        self, *, token: str, amount: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Authorization:
        _require_amount(amount)
        order_request = {
            "intent": "AUTHORIZE",
            "purchase_units": [
                {
                    "reference_id": metadata.get("order_id") or "default",
                    "custom_id": metadata.get("order_id") or None,
                    "amount": money(amount, currency),
                }
            ],
            "payment_source": {"paypal": {"vault_id": token}},
        }
        created = self._call("POST", "/v2/checkout/orders", order_request, request_id=f"{idempotency_key}:order")
        if created.status >= 400:
            self._declined_or_raise(created)
        order = created.body
        authorized = order
        if order.get("status") != "COMPLETED" or not _authorizations(order):
            authorized_response = self._call(
                "POST", f"/v2/checkout/orders/{order['id']}/authorize", {}, request_id=f"{idempotency_key}:authorize"
            )
            if authorized_response.status >= 400:
                self._declined_or_raise(authorized_response)
            authorized = authorized_response.body
        found = _authorizations(authorized)
        if not found:
            raise PaymentDeclined("PayPal authorized nothing", reason=str(authorized.get("status") or "not_authorized"))
        auth = found[-1]
        if auth.get("status") not in ("CREATED", "PENDING"):
            reason = str((auth.get("status_details") or {}).get("reason") or auth.get("status") or "not_authorized")
            raise PaymentDeclined(f"the PayPal authorization is {auth.get('status')}", reason=reason.lower())
        return Authorization(
            reference=str(auth["id"]),
            amount=to_minor(auth.get("amount") or {}, currency),
            currency=str((auth.get("amount") or {}).get("currency_code") or currency).upper(),
            expires_at=_iso_time(auth["expiration_time"]) if auth.get("expiration_time") else None,
            # A PayPal authorization takes several captures until one is final.
            multicapture=True,
            charge_reference=str(order["id"]),
        )

    def capture(self, *, authorization: str, amount: int, currency: str, idempotency_key: str, final: bool) -> Capture:
        _require_amount(amount)
        body = {"amount": money(amount, currency), "final_capture": final}
        response = self._call(
            "POST", f"/v2/payments/authorizations/{authorization}/capture", body, request_id=idempotency_key
        )
        if response.status >= 400:
            issue = response.issue
            if issue in ("AUTHORIZATION_EXPIRED", "AUTH_CAPTURE_NOT_ENABLED_EXPIRED"):
                raise AuthorizationExpired(f"authorization {authorization} has expired; authorize again")
            if issue in ("AUTHORIZATION_VOIDED", "PREVIOUSLY_VOIDED"):
                raise CaptureFailed(f"{authorization} was voided", reason="authorization_voided")
            if issue in ("AUTHORIZATION_ALREADY_CAPTURED", "PREVIOUSLY_CAPTURED"):
                raise CaptureFailed(f"{authorization} had its final capture", reason="authorization_closed")
            if issue in ("MAX_CAPTURE_AMOUNT_EXCEEDED", "MAX_CAPTURE_COUNT_EXCEEDED"):
                raise CaptureFailed(f"capture of {authorization} is more than is left", reason="amount_too_large")
            if issue == "CURRENCY_MISMATCH":
                raise CaptureFailed(f"capture of {authorization} in the wrong currency", reason="currency_mismatch")
            self._raise_common(response)
        capture = response.body
        if capture.get("status") in ("DECLINED", "FAILED"):
            reason = str((capture.get("status_details") or {}).get("reason") or capture["status"]).lower()
            raise CaptureFailed(f"capture of {authorization} declined", reason=reason)
        return Capture(reference=str(capture["id"]), amount=amount, authorization=authorization)

    def void(self, *, authorization: str, idempotency_key: str) -> None:
        response = self._call(
            "POST", f"/v2/payments/authorizations/{authorization}/void", None, request_id=idempotency_key
        )
        if response.status < 400:
            return
        issue = response.issue
        if issue in ("PREVIOUSLY_VOIDED", "AUTHORIZATION_VOIDED", "AUTHORIZATION_EXPIRED"):
            return  # nothing is held any more
        if issue in ("PREVIOUSLY_CAPTURED", "AUTHORIZATION_ALREADY_CAPTURED", "CANNOT_BE_VOIDED"):
            raise Conflict(f"{authorization} is fully captured; refund instead")
        self._raise_common(response)

    def refund(self, *, capture: str, amount: int, currency: str, idempotency_key: str) -> Refund:
        _require_amount(amount)
        body = {"amount": money(amount, currency)}
        response = self._call("POST", f"/v2/payments/captures/{capture}/refund", body, request_id=idempotency_key)
        if response.status >= 400:
            issue = response.issue
            if issue in ("REFUND_AMOUNT_EXCEEDED", "CAPTURE_FULLY_REFUNDED"):
                raise RefundFailed(f"refund of {capture} is more than is left", reason="amount_too_large")
            if issue in ("REFUND_CURRENCY_MISMATCH", "CURRENCY_MISMATCH"):
                raise RefundFailed(f"refund of {capture} in the wrong currency", reason="currency_mismatch")
            if response.status == 422:
                raise RefundFailed(f"refund of {capture} refused: {issue}", reason=issue.lower())
            self._raise_common(response)
        refund = response.body
        status = _REFUND_STATUS.get(str(refund.get("status")), "failed")
        reason = (refund.get("status_details") or {}).get("reason")
        failure = str(reason).lower() if reason else (None if status != "failed" else str(refund.get("status")).lower())
        return Refund(reference=str(refund["id"]), amount=amount, status=status, failure_reason=failure)

    # ---- webhooks ------------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        transmission_id = header(headers, "PAYPAL-TRANSMISSION-ID")
        transmission_time = header(headers, "PAYPAL-TRANSMISSION-TIME")
        signature = header(headers, "PAYPAL-TRANSMISSION-SIG")
        cert_url = header(headers, "PAYPAL-CERT-URL")
        algorithm = header(headers, "PAYPAL-AUTH-ALGO") or "SHA256withRSA"
        if not (transmission_id and transmission_time and signature and cert_url):
            raise InvalidSignature("paypal signature headers missing")
        if algorithm.upper() != "SHA256WITHRSA":
            raise InvalidSignature(f"paypal signature algorithm {algorithm!r} not accepted")
        try:
            sent = _parse_time(transmission_time)
        except ValueError as err:
            raise InvalidSignature("PAYPAL-TRANSMISSION-TIME is not a time") from err
        if abs((self._now() - sent).total_seconds()) > TOLERANCE_SECONDS:
            raise InvalidSignature("paypal transmission time outside the tolerance")
        signed = signed_message(transmission_id, transmission_time, self._webhook_id, body)
        if not _signature_valid(self._certificate(cert_url), signature, signed):
            raise InvalidSignature("paypal signature rejected")
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise MalformedInput("the event body is not JSON") from err
        return parse_event(payload)

    def _certificate(self, url: str) -> Any:
        from cryptography import x509  # imported on first webhook: the money calls never need it

        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "https" or parsed.hostname not in CERT_HOSTS:
            raise InvalidSignature("PAYPAL-CERT-URL is not PayPal's")
        with self._lock:
            cert = self._certs.get(url)
        if cert is None:
            try:
                cert = x509.load_pem_x509_certificate(self._fetch_cert(url))
            except (OSError, ValueError) as err:
                raise GatewayUnavailable(f"paypal certificate unavailable: {err}") from err
            with self._lock:
                self._certs[url] = cert
        now = self._now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise InvalidSignature("the paypal signing certificate is not valid now")
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else ""
        if not (common_name == "paypal.com" or common_name.endswith(".paypal.com")):
            raise InvalidSignature("the signing certificate is not PayPal's")
        return cert

    # ---- transport -----------------------------------------------------------------------

    def _access_token(self) -> str:
        with self._lock:
            if self._token and self._token[1] > time.monotonic():
                return self._token[0]
        if not self._client_id or not self._client_secret:
            raise GatewayMisconfigured("the paypal provider has no client_id/client_secret")
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        status, _, raw = self._send(
            "POST",
            f"{self._base}/v1/oauth2/token",
            {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
            b"grant_type=client_credentials",
        )
        body = _json(raw)
        if status in (400, 401, 403):
            raise GatewayMisconfigured(f"paypal refused our credentials: {body.get('error_description') or status}")
        if status >= 400 or "access_token" not in body:
            raise GatewayUnavailable(f"paypal token endpoint answered {status}")
        token = str(body["access_token"])
        lifetime = max(int(body.get("expires_in") or 0) - 60, 0)  # renew a minute early
        with self._lock:
            self._token = (token, time.monotonic() + lifetime)
        return token

    def _call(self, method: str, path: str, body: dict[str, Any] | None, *, request_id: str) -> _Response:
        headers = {
            "Authorization": f"Bearer {self._access_token()}",
            "Content-Type": "application/json",
            "PayPal-Request-Id": request_id,
            "Prefer": "return=representation",
        }
        data = json.dumps(body).encode() if body is not None else None
        status, _, raw = self._send(method, f"{self._base}{path}", headers, data)
        if status == 401:  # the token was revoked or expired early: once more with a new one
            with self._lock:
                self._token = None
            headers["Authorization"] = f"Bearer {self._access_token()}"
            status, _, raw = self._send(method, f"{self._base}{path}", headers, data)
        return _Response(status, _json(raw))

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        """One request, retried on network errors, 429 and 5xx (same PayPal-Request-Id)."""
        for attempt in range(RETRIES + 1):
            try:
                status, response_headers, raw = self._transport(method, url, headers, body)
            except Unreachable as err:
                if attempt == RETRIES:
                    raise GatewayUnavailable(f"paypal unreachable: {err}") from err
                time.sleep(self._pause * (2**attempt))
                continue
            if (status == 429 or status >= 500) and attempt < RETRIES:
                time.sleep(self._pause * (2**attempt))
                continue
            if 300 <= status < 400:
                # Never followed (urllib would resend a POST as a GET, credentials and all).
                where = header(response_headers, "Location")
                raise GatewayMisconfigured(f"paypal answered {status} to {where}: check the API base URL")
            return status, response_headers, raw
        raise AssertionError("unreachable")

    def _declined_or_raise(self, response: _Response) -> NoReturn:
        if response.status == 422:
            issue = response.issue
            raise PaymentDeclined(f"PayPal declined the payment ({issue})", reason=issue.lower())
        self._raise_common(response)

    @staticmethod
    def _raise_common(response: _Response) -> NoReturn:
        status, issue = response.status, response.issue
        if status in (401, 403):
            raise GatewayMisconfigured(f"paypal refused our credentials ({issue})")
        if status == 404:
            raise NotFound(f"paypal has no such object ({issue})")
        if status == 429 or status >= 500:
            raise GatewayUnavailable(f"paypal error {status} ({issue})")
        raise Conflict(f"paypal refused the request ({issue})", reason=issue.lower())


# ---- events ----------------------------------------------------------------------------------


def signed_message(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> bytes:
    """What PayPal signs: transmission id, time, webhook id and the body's CRC32 (decimal)."""
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body) & 0xFFFFFFFF}".encode()


def _signature_valid(cert: Any, signature: str, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature as BadSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (BadSignature, binascii.Error, ValueError):
        return False
    return True


_DISPUTE_STAGE = {"CUSTOMER.DISPUTE.CREATED": 0, "CUSTOMER.DISPUTE.UPDATED": 1, "CUSTOMER.DISPUTE.RESOLVED": 2}


def parse_event(payload: Any) -> WebhookEvent:
    """The WebhookEvent of a verified PayPal event."""
    resource = payload.get("resource") if isinstance(payload, dict) else None
    if not isinstance(resource, dict) or not isinstance(payload.get("id"), str):
        raise MalformedInput("not a PayPal event: id, event_type and resource are required")
    raw_type = payload.get("event_type")
    if not isinstance(raw_type, str) or not isinstance(payload.get("create_time"), str):
        raise MalformedInput("the PayPal event has no event_type or create_time")
    kind, reference, payment, reason = _classify(raw_type, resource)
    amount_field = resource.get("amount") or resource.get("dispute_amount")
    amount = None
    if isinstance(amount_field, dict) and amount_field.get("currency_code"):
        try:
            amount = to_minor(amount_field, str(amount_field["currency_code"]))
        except InvalidInput:
            amount = None
    return WebhookEvent(
        provider="paypal",
        event_id=payload["id"],
        kind=kind,
        occurred_at=_iso_time(payload["create_time"]),
        reference=reference or str(resource.get("id") or payload["id"]),
        payment_reference=payment,
        amount=amount,
        reason=reason,
        raw_type=raw_type,
        sequence=_DISPUTE_STAGE.get(raw_type, 0),
    )


def _classify(raw_type: str, resource: dict[str, Any]) -> tuple[WebhookKind, str | None, str | None, str | None]:
    """(kind, reference, payment_reference, reason) of a PayPal event type and resource."""
    rid = resource.get("id")
    status = str(resource.get("status") or "")
    status_reason = (resource.get("status_details") or {}).get("reason")
    if raw_type == "PAYMENT.AUTHORIZATION.VOIDED":
        # PayPal voids a hold that reached its validity period (or that we voided: no change then).
        return "authorization.expired", rid, rid, "voided"
    if raw_type in ("PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED"):
        return "capture.failed", rid, _linked(resource, "authorizations"), str(status_reason or status).lower()
    if raw_type.startswith("PAYMENT.REFUND.") or raw_type == "PAYMENT.CAPTURE.REFUNDED":
        capture = _linked(resource, "captures")
        if status == "COMPLETED":
            return "refund.succeeded", rid, capture, None
        if status in ("FAILED", "CANCELLED"):
            return "refund.failed", rid, capture, str(status_reason or status).lower()
        return "other", rid, capture, None
    if raw_type in _DISPUTE_STAGE:
        transactions = resource.get("disputed_transactions") or [{}]
        seller_transaction = transactions[0].get("seller_transaction_id") if isinstance(transactions[0], dict) else None
        reference = resource.get("dispute_id") or rid
        if raw_type == "CUSTOMER.DISPUTE.RESOLVED":
            outcome = (resource.get("dispute_outcome") or {}).get("outcome_code")
            return "dispute.closed", reference, seller_transaction, str(outcome or status).lower()
        if raw_type == "CUSTOMER.DISPUTE.CREATED":
            return "dispute.opened", reference, seller_transaction, str(resource.get("reason") or "").lower() or None
        return "other", reference, seller_transaction, None
    return "other", rid, None, None


def _linked(resource: dict[str, Any], collection: str) -> str | None:
    """The id in the resource's ``up`` link to ``/v2/payments/<collection>/<id>``."""
    for link in resource.get("links") or []:
        href = str(link.get("href") or "") if isinstance(link, dict) else ""
        marker = f"/v2/payments/{collection}/"
        if link.get("rel") == "up" and marker in href:
            return href.split(marker, 1)[1].split("/", 1)[0] or None
    related = ((resource.get("supplementary_data") or {}).get("related_ids")) or {}
    found = related.get(f"{collection[:-1]}_id")
    return str(found) if found else None


def _authorizations(order: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for unit in order.get("purchase_units") or []:
        found.extend((unit.get("payments") or {}).get("authorizations") or [])
    return found


# ---- money and time ---------------------------------------------------------------------------


def money(amount: int, currency: str) -> dict[str, str]:
    """PayPal's money object of an amount in minor units."""
    exponent = CURRENCY_EXPONENTS.get(currency.upper(), 2)
    value = Decimal(amount).scaleb(-exponent)
    return {"currency_code": currency.upper(), "value": f"{value:.{exponent}f}"}


def to_minor(value: Mapping[str, Any], currency: str) -> int:
    """Minor units of a PayPal money object (exact; refuses fractions of a minor unit)."""
    code = str(value.get("currency_code") or currency).upper()
    try:
        scaled = Decimal(str(value.get("value"))).scaleb(CURRENCY_EXPONENTS.get(code, 2))
    except InvalidOperation as err:
        raise InvalidInput(f"not a PayPal amount: {value!r}") from err
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"not a whole number of minor units: {value!r}")
    return int(scaled)


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso_time(text: str) -> str:
    try:
        return iso(_parse_time(text).astimezone(UTC))
    except ValueError as err:
        raise MalformedInput(f"not a time: {text!r}") from err


def _json(raw: bytes) -> dict[str, Any]:
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _require_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidInput("amount must be a positive integer in minor units")
