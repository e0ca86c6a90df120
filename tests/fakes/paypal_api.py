"""A fake PayPal REST API (OAuth, Orders v2, Payments v2) and a fake PayPal webhook signer.

``FakePayPal`` is a transport for ``PayPalGateway``: it answers as PayPal's sandbox does
(shapes from PayPal's Orders v2 / Payments v2 reference), enforces what PayPal enforces
(no capture beyond the authorization, none after a void or a final capture, no refund
beyond a capture), replays a repeated ``PayPal-Request-Id`` with its first answer, and
records every request. Vault ids choose the buyer's behaviour: ``vault_declined``
(INSTRUMENT_DECLINED), ``vault_payer_action`` (PAYER_ACTION_REQUIRED), anything else approves.

``WebhookSigner`` makes an RSA key and a self-signed certificate named like PayPal's
(``messageverificationcerts.sandbox.paypal.com``) and signs deliveries as PayPal documents.
Hand-made: neither is PayPal's own code or data.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from functions.payments.gateways.paypal_gateway import Unreachable, signed_message

CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-fake-for-tests"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakePayPal:
    client_id: str = "fake-client"
    client_secret: str = "fake-secret"
    requests: list[Request] = field(default_factory=list)
    # Answers to give before the real one: an int status (a PayPal error body) or "unreachable".
    failures: list[int | str] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    expire: set[str] = field(default_factory=set)  # authorizations PayPal lets lapse
    _replies: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def money_calls(self) -> list[Request]:
        return [r for r in self.requests if r.path != "/v1/oauth2/token"]

    def __call__(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(url).path
        parsed: Any = body.decode() if path == "/v1/oauth2/token" and body else json.loads(body) if body else None
        with self._lock:
            self.requests.append(Request(method, path, dict(headers), parsed))
            if self.failures:
                failure = self.failures.pop(0)
                if failure == "unreachable":
                    raise Unreachable("connection refused")
                assert isinstance(failure, int)
                return failure, {}, _error(failure, "INTERNAL_SERVER_ERROR" if failure >= 500 else "RATE_LIMIT_REACHED")
            if path == "/v1/oauth2/token":
                return self._token(headers)
            if headers.get("Authorization") != "Bearer fake-access-token":
                return 401, {}, json.dumps({"error": "invalid_token"}).encode()
            request_id = headers.get("PayPal-Request-Id", "")
            if request_id and request_id in self._replies:
                replayed_status, replayed = self._replies[request_id]
                return replayed_status, {}, replayed
            status, reply = self._route(method, path, parsed or {})
            raw = json.dumps(reply).encode() if reply is not None else b""
            if request_id and status < 500:
                self._replies[request_id] = (status, raw)
            return status, {}, raw

    def _token(self, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return (
                401,
                {},
                json.dumps({"error": "invalid_client", "error_description": "Client Authentication failed"}).encode(),
            )
        token = {"access_token": "fake-access-token", "token_type": "Bearer", "expires_in": 32400}
        return 200, {}, json.dumps(token).encode()

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):013d}".upper()

    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v2/checkout/orders":
            return self._create_order(body)
        if method == "POST" and parts[:3] == ["v2", "checkout", "orders"] and parts[-1] == "authorize":
            return self._authorize(parts[3])
        if method == "POST" and parts[:3] == ["v2", "payments", "authorizations"]:
            auth = self.authorizations.get(parts[3])
            if auth is None:
                return 404, _issue("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            return self._capture(auth, body) if parts[4] == "capture" else self._void(auth)
        if method == "POST" and parts[:3] == ["v2", "payments", "captures"] and parts[4] == "refund":
            capture = self.captures.get(parts[3])
            if capture is None:
                return 404, _issue("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            return self._refund(capture, body)
        return 404, _issue("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")

    def _create_order(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        unit = body["purchase_units"][0]
        order_id = self._new_id("O")
        vault_id = body["payment_source"]["paypal"]["vault_id"]
        self.orders[order_id] = {"id": order_id, "status": "APPROVED", "unit": unit, "vault_id": vault_id}
        return 201, {"id": order_id, "status": "APPROVED", "intent": body["intent"]}

    def _authorize(self, order_id: str) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(order_id)
        if order is None:
            return 404, _issue("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if order["vault_id"] == "vault_declined":
            return 422, _issue("UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        if order["vault_id"] == "vault_payer_action":
            return 422, _issue("UNPROCESSABLE_ENTITY", "PAYER_ACTION_REQUIRED")
        if order["status"] == "COMPLETED":
            return 422, _issue("UNPROCESSABLE_ENTITY", "ORDER_ALREADY_AUTHORIZED")
        auth_id = self._new_id("A")
        amount = order["unit"]["amount"]
        expires = (datetime.now(UTC) + timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.authorizations[auth_id] = {
            "id": auth_id,
            "status": "CREATED",
            "amount": amount,
            "captured": Decimal(0),
            "order_id": order_id,
        }
        order["status"] = "COMPLETED"
        authorization = {"id": auth_id, "status": "CREATED", "amount": amount, "expiration_time": expires}
        unit = {"reference_id": order["unit"].get("reference_id"), "payments": {"authorizations": [authorization]}}
        return 201, {"id": order_id, "status": "COMPLETED", "purchase_units": [unit]}

    def _capture(self, auth: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if auth["id"] in self.expire:
            auth["status"] = "EXPIRED"
        if auth["status"] == "EXPIRED":
            return 422, _issue("UNPROCESSABLE_ENTITY", "AUTHORIZATION_EXPIRED")
        if auth["status"] == "VOIDED":
            return 422, _issue("UNPROCESSABLE_ENTITY", "AUTHORIZATION_VOIDED")
        if auth["status"] == "CAPTURED":
            return 422, _issue("UNPROCESSABLE_ENTITY", "AUTHORIZATION_ALREADY_CAPTURED")
        if body["amount"]["currency_code"] != auth["amount"]["currency_code"]:
            return 422, _issue("UNPROCESSABLE_ENTITY", "CURRENCY_MISMATCH")
        value = Decimal(body["amount"]["value"])
        if auth["captured"] + value > Decimal(auth["amount"]["value"]):
            return 422, _issue("UNPROCESSABLE_ENTITY", "MAX_CAPTURE_AMOUNT_EXCEEDED")
        auth["captured"] += value
        auth["status"] = "CAPTURED" if body.get("final_capture") else "PARTIALLY_CAPTURED"
        capture_id = self._new_id("C")
        self.captures[capture_id] = {
            "id": capture_id,
            "amount": body["amount"],
            "refunded": Decimal(0),
            "auth": auth["id"],
        }
        links = [{"href": f"https://api.sandbox.paypal.com/v2/payments/authorizations/{auth['id']}", "rel": "up"}]
        return 201, {
            "id": capture_id,
            "status": "COMPLETED",
            "amount": body["amount"],
            "final_capture": bool(body.get("final_capture")),
            "links": links,
        }

    def _void(self, auth: dict[str, Any]) -> tuple[int, None] | tuple[int, dict[str, Any]]:
        if auth["status"] == "VOIDED":
            return 422, _issue("UNPROCESSABLE_ENTITY", "PREVIOUSLY_VOIDED")
        if auth["status"] == "CAPTURED":
            return 422, _issue("UNPROCESSABLE_ENTITY", "PREVIOUSLY_CAPTURED")
        auth["status"] = "VOIDED"
        return 204, None

    def _refund(self, capture: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        value = Decimal(body["amount"]["value"])
        if capture["refunded"] + value > Decimal(capture["amount"]["value"]):
            return 422, _issue("UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED")
        capture["refunded"] += value
        refund_id = self._new_id("R")
        self.refunds[refund_id] = {"id": refund_id, "amount": body["amount"], "capture": capture["id"]}
        links = [{"href": f"https://api.sandbox.paypal.com/v2/payments/captures/{capture['id']}", "rel": "up"}]
        return 201, {"id": refund_id, "status": "COMPLETED", "amount": body["amount"], "links": links}


def _issue(name: str, issue: str) -> dict[str, Any]:
    return {"name": name, "message": issue, "debug_id": uuid.uuid4().hex[:13], "details": [{"issue": issue}]}


def _error(status: int, name: str) -> bytes:
    return json.dumps({"name": name, "message": name, "debug_id": uuid.uuid4().hex[:13]}).encode()


class WebhookSigner:
    """Signs webhook deliveries as PayPal does, with a certificate made here."""

    def __init__(self, *, common_name: str = "messageverificationcerts.sandbox.paypal.com", valid_days: int = 365):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "PayPal, Inc."),
                x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name),
            ]
        )
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=valid_days))
            .sign(self._key, hashes.SHA256())
        )
        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        self.fetched: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.pem

    def headers(
        self, body: bytes, webhook_id: str, *, when: datetime | None = None, cert_url: str = CERT_URL
    ) -> dict[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        transmission_id = str(uuid.uuid1())
        sent = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        signature = self._key.sign(
            signed_message(transmission_id, sent, webhook_id, body), padding.PKCS1v15(), hashes.SHA256()
        )
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": sent,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-CERT-URL": cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "Content-Type": "application/json",
        }


class FakePayPalServer:
    """The fake PayPal API over HTTP on a loopback port, so the local stack's functions reach it."""

    def __init__(self, api: FakePayPal, port: int = 0):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        fake = api

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()}
                status, _, raw = fake("POST", f"http://fake{self.path}", headers, body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.api = api
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakePayPalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
