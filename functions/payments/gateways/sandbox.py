"""The sandbox payment provider: deterministic, local, with its ledger in the table.

It holds what a real provider would hold, in the one table, so every function sees the
same ledger and tests can check it: per authorization (``SANDBOX#<reference>`` /
``AUTH``) the amount, captured, refunded, status and expiry; per capture
(``SANDBOX#<reference>`` / ``CAPTURE``) and refund (``SANDBOX#<reference>`` /
``REFUND``) their amounts; and per idempotency key (``SANDBOXKEY#<key>``) the result
first returned. It enforces the rules a provider does: never capture more than is
authorized and uncaptured, never refund more than is captured and unrefunded, no
capture after a void, a final capture or the expiry.

Test tokens (any other token approves):

- ``tok_visa``, ``tok_approve``: approve.
- ``tok_decline``, ``tok_decline_insufficient_funds``: declined, reason ``insufficient_funds``.
- ``tok_decline_stolen``: declined, reason ``stolen_card``.
- ``tok_transient``: the first two authorize attempts with one idempotency key are
  ``GatewayUnavailable``, the third approves.
- ``tok_unavailable``: always ``GatewayUnavailable``.
- ``tok_expire``: approves, but the first such authorization of an order (metadata
  ``order_id``; without it, of the token) is expired when first captured
  (``AuthorizationExpired``); a new authorization with the token does not expire.
- ``tok_refund_fail``: approves and captures; refunds come back ``failed``
  (``refund_declined``).
- ``tok_refund_pending``: refunds come back ``pending``; ``settle_pending_refund`` settles them
  and returns the webhook that says so.

Webhooks carry ``Sandbox-Signature: t=<unix>,v1=<hex>``, the HMAC-SHA256 of
``"<t>.<body>"`` with the provider's webhook secret, accepted for five minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.payments.gateways.gateway import (
    WEBHOOK_KINDS,
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
    WebhookEvent,
)
from shared.api.headers import header
from shared.clock import iso, now
from shared.errors import Conflict, InvalidInput, MalformedInput, NotFound
from shared.table import ConditionFailed, Item, Table

SIGNATURE_HEADER = "Sandbox-Signature"
TOLERANCE_SECONDS = 300
AUTHORIZATION_VALIDITY = timedelta(days=7)
TRANSIENT_FAILURES = 2

_DECLINES = {
    "tok_decline": "insufficient_funds",
    "tok_decline_insufficient_funds": "insufficient_funds",
    "tok_decline_stolen": "stolen_card",
}


class SandboxGateway:
    name = "sandbox"

    def __init__(self, webhook_secret: str, table: Table | None = None):
        if not webhook_secret:
            raise GatewayMisconfigured("the sandbox provider has no webhook secret")
        self._secret = webhook_secret
        self._table = table

    @property
    def _db(self) -> Table:
        return self._table or Table()

    # -- money -------------------------------------------------------------------------

    def authorize(
        self, *, token: str, amount: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Authorization:
        _require_amount(amount)
        request = {"token": token, "amount": amount, "currency": _currency(currency)}
        done = self._replay(idempotency_key, "authorize", request)
        if done is None:
            self._refuse_token(token, idempotency_key)
            done = self._new_authorization(token, request, idempotency_key, metadata)
        return Authorization(**done)

    def capture(self, *, authorization: str, amount: int, currency: str, idempotency_key: str, final: bool) -> Capture:
        _require_amount(amount)
        currency = _currency(currency)
        request: dict[str, Any] = {
            "authorization": authorization,
            "amount": amount,
            "currency": currency,
            "final": final,
        }
        done, auth = self._replay_or_read(idempotency_key, "capture", request, authorization, "AUTH", "authorization")
        if done is not None:
            return Capture(**done)
        self._check_capturable(auth, amount, currency)
        captured = auth["captured"] + amount
        reference = _reference("cap", idempotency_key)
        result: dict[str, Any] = {"reference": reference, "amount": amount, "authorization": authorization}
        capture_item = {
            "pk": _pk(result["reference"]),
            "sk": "CAPTURE",
            "type": "sandbox_capture",
            **result,
            "currency": auth["currency"],
            "refunded": 0,
            "token": auth["token"],
            "version": 0,
            "created_at": iso(now()),
        }
        status = "captured" if final or captured == auth["amount"] else "partially_captured"
        done = self._commit(
            idempotency_key,
            "capture",
            request,
            result,
            [
                _bump(auth, "SET captured = :captured, #status = :status", {":captured": captured, ":status": status}),
                {"Put": {"Item": capture_item, "ConditionExpression": "attribute_not_exists(pk)"}},
            ],
        )
        return Capture(**done)

    def void(self, *, authorization: str, idempotency_key: str) -> None:
        request = {"authorization": authorization}
        done, auth = self._replay_or_read(idempotency_key, "void", request, authorization, "AUTH", "authorization")
        if done is not None:
            return
        if auth["status"] == "captured":
            raise Conflict(f"authorization {authorization} is closed by its final capture; refund instead")
        operations = []
        if auth["status"] in ("authorized", "partially_captured"):
            release = {":status": "voided", ":true": True}
            operations.append(_bump(auth, "SET #status = :status, voided = :true", release))
        # Voiding a voided or expired authorization changes nothing and is no error.
        self._commit(idempotency_key, "void", request, {"authorization": authorization}, operations)

    def refund(self, *, capture: str, amount: int, currency: str, idempotency_key: str) -> Refund:
        _require_amount(amount)
        request: dict[str, Any] = {"capture": capture, "amount": amount, "currency": _currency(currency)}
        done, cap = self._replay_or_read(idempotency_key, "refund", request, capture, "CAPTURE", "capture")
        if done is not None:
            return Refund(**done)
        if cap["currency"] != request["currency"]:
            raise RefundFailed(f"capture {capture} is in {cap['currency']}", reason="currency_mismatch")
        if amount > cap["amount"] - cap["refunded"]:
            raise RefundFailed(
                f"refund of {amount} exceeds the {cap['amount'] - cap['refunded']} still refundable on {capture}",
                reason="amount_too_large",
            )
        status, failure = {
            "tok_refund_fail": ("failed", "refund_declined"),
            "tok_refund_pending": ("pending", None),
        }.get(cap["token"], ("succeeded", None))
        result: dict[str, Any] = {
            "reference": _reference("ref", idempotency_key),
            "amount": amount,
            "status": status,
            "failure_reason": failure,
        }
        refund_item = {
            "pk": _pk(result["reference"]),
            "sk": "REFUND",
            "type": "sandbox_refund",
            **result,
            "capture": capture,
            "authorization": cap["authorization"],
            "created_at": iso(now()),
        }
        operations: list[dict[str, Any]] = [
            {"Put": {"Item": refund_item, "ConditionExpression": "attribute_not_exists(pk)"}}
        ]
        if status != "failed":  # a failed refund gives the money back to the refundable balance
            operations += _refund_moves(cap, amount)
        return Refund(**self._commit(idempotency_key, "refund", request, result, operations))

    # -- webhooks ----------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        verify_signature(body, header(headers, SIGNATURE_HEADER), self._secret)
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise MalformedInput("the event body is not JSON") from err
        return parse_event(payload)

    # -- what a test or the demo does to the provider's side ---------------------------

    def settle_pending_refund(self, refund: str, *, succeeded: bool = True) -> dict[str, Any]:
        """Settle a pending refund; returns the webhook payload the provider sends about it."""
        item = self._get(refund, "REFUND", "refund")
        outcome = "succeeded" if succeeded else "failed"
        if item["status"] == "pending":
            operations: list[dict[str, Any]] = [
                {
                    "Update": {
                        "Key": {"pk": item["pk"], "sk": "REFUND"},
                        "UpdateExpression": "SET #status = :outcome, failure_reason = :reason",
                        "ConditionExpression": "#status = :pending",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            ":outcome": outcome,
                            ":reason": "" if succeeded else "refund_declined",
                            ":pending": "pending",
                        },
                    }
                }
            ]
            if not succeeded:
                cap = self._get(item["capture"], "CAPTURE", "capture")
                operations += _refund_moves(cap, -item["amount"])
            self._transact(operations)
        elif item["status"] != outcome:
            raise Conflict(f"refund {refund} already {item['status']}")
        return {
            "id": _reference("evt", f"{refund}:{outcome}"),
            "type": f"refund.{outcome}",
            "created": int(time.time()),
            "data": {
                "reference": refund,
                "payment_reference": item["authorization"],
                "amount": item["amount"],
                "reason": None if succeeded else "refund_declined",
            },
        }

    def expire_authorization(self, authorization: str) -> dict[str, Any]:
        """Let an authorization lapse now; returns the webhook payload that tells of it."""
        auth = self._get(authorization, "AUTH", "authorization")
        if auth["status"] in ("authorized", "partially_captured"):
            self._transact([_bump(auth, "SET #status = :status", {":status": "expired"})])
        elif auth["status"] != "expired":
            raise Conflict(f"authorization {authorization} is {auth['status']}, it cannot expire")
        return {
            "id": _reference("evt", f"{authorization}:expired"),
            "type": "authorization.expired",
            "created": int(time.time()),
            "data": {"reference": authorization, "payment_reference": authorization, "amount": auth["amount"]},
        }

    def ledger(self, reference: str) -> Item | None:
        """What the provider holds about an authorization, capture or refund."""
        for sk in ("AUTH", "CAPTURE", "REFUND"):
            item = self._db.get(_pk(reference), sk)
            if item:
                return {k: v for k, v in item.items() if k not in ("pk", "sk")}
        return None

    # -- internals ---------------------------------------------------------------------

    def _refuse_token(self, token: str, idempotency_key: str) -> None:
        if token in _DECLINES:
            raise PaymentDeclined(f"the card was declined ({_DECLINES[token]})", reason=_DECLINES[token])
        if token == "tok_unavailable":
            raise GatewayUnavailable("the sandbox provider is unavailable")
        if token == "tok_transient":
            counter = self._db.update(
                _key_pk(idempotency_key),
                "ATTEMPTS",
                "ADD attempts :one SET #type = :type",
                values={":one": 1, ":type": "sandbox_attempts"},
                names={"#type": "type"},
                return_new=True,
            )
            if counter and counter["attempts"] <= TRANSIENT_FAILURES:
                raise GatewayUnavailable(f"sandbox transient failure (attempt {counter['attempts']})")

    def _new_authorization(
        self, token: str, request: dict[str, Any], idempotency_key: str, metadata: dict[str, str]
    ) -> dict[str, Any]:
        created = now()
        result: dict[str, Any] = {
            "reference": _reference("auth", idempotency_key),
            "amount": request["amount"],
            "currency": request["currency"],
            "expires_at": iso(created + AUTHORIZATION_VALIDITY),
            "multicapture": True,
        }
        operations: list[dict[str, Any]] = []
        expire_on_capture = False
        if token == "tok_expire":
            marker = {"pk": f"SANDBOXTOKEN#{token}#{metadata.get('order_id', '')}", "sk": "EXPIRING"}
            expire_on_capture = self._db.get(marker["pk"], marker["sk"]) is None
            marker |= {"type": "sandbox_marker", "authorization": result["reference"]}
            operations.append({"Put": {"Item": marker}})
        auth_item = {
            "pk": _pk(result["reference"]),
            "sk": "AUTH",
            "type": "sandbox_authorization",
            **result,
            "token": token,
            "captured": 0,
            "refunded": 0,
            "voided": False,
            "status": "authorized",
            "expire_on_capture": expire_on_capture,
            "metadata": dict(metadata),
            "version": 0,
            "created_at": iso(created),
        }
        operations.append({"Put": {"Item": auth_item, "ConditionExpression": "attribute_not_exists(pk)"}})
        return self._commit(idempotency_key, "authorize", request, result, operations)

    def _check_capturable(self, auth: Item, amount: int, currency: str) -> None:
        reference = auth["reference"]
        if auth["currency"] != currency:
            raise CaptureFailed(f"authorization {reference} is in {auth['currency']}", reason="currency_mismatch")
        if auth["status"] == "voided":
            raise CaptureFailed(f"authorization {reference} was voided", reason="authorization_voided")
        if auth["status"] == "captured":
            raise CaptureFailed(f"authorization {reference} had its final capture", reason="authorization_closed")
        lapsed = now() >= datetime.fromisoformat(auth["expires_at"].replace("Z", "+00:00")).astimezone(UTC)
        if auth["status"] == "expired" or lapsed or auth.get("expire_on_capture"):
            if auth["status"] != "expired":
                self._transact([_bump(auth, "SET #status = :status", {":status": "expired"})])
            raise AuthorizationExpired(f"authorization {reference} has expired; authorize again")
        if amount > auth["amount"] - auth["captured"]:
            raise CaptureFailed(
                f"capture of {amount} exceeds the {auth['amount'] - auth['captured']} left on {reference}",
                reason="amount_too_large",
            )

    def _get(self, reference: str, sk: str, what: str) -> Item:
        item = self._db.get(_pk(reference), sk)
        if item is None:
            raise NotFound(f"the sandbox provider has no {what} {reference!r}")
        return item

    def _replay(self, key: str, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The result stored under an idempotency key, or None when the key is new."""
        if not key:
            raise InvalidInput("an idempotency key is required")
        return self._replayed(key, self._db.get(_key_pk(key), "RESULT"), operation, request)

    def _replay_or_read(
        self, key: str, operation: str, request: dict[str, Any], reference: str, sk: str, what: str
    ) -> tuple[dict[str, Any] | None, Item]:
        """The result stored under an idempotency key, and the ledger item the operation
        changes, in one consistent read: a new key (the common case) needs both."""
        if not key:
            raise InvalidInput("an idempotency key is required")
        key_item, ledger_item = (_key_pk(key), "RESULT"), (_pk(reference), sk)
        found = {(i["pk"], i["sk"]): i for i in self._db.batch_get([key_item, ledger_item], consistent=True)}
        done = self._replayed(key, found.get(key_item), operation, request)
        item = found.get(ledger_item)
        if done is None and item is None:
            raise NotFound(f"the sandbox provider has no {what} {reference!r}")
        return done, item or {}

    def _replayed(
        self, key: str, record: Item | None, operation: str, request: dict[str, Any]
    ) -> dict[str, Any] | None:
        if record is None:
            return None
        if record["operation"] != operation or record["request"] != request:
            raise Conflict(f"idempotency key {key!r} was used for a different request", reason="idempotency_key_reused")
        return dict(record["result"])

    def _commit(
        self,
        key: str,
        operation: str,
        request: dict[str, Any],
        result: dict[str, Any],
        operations: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Write the change and the key's result together; a lost race replays the winner."""
        record = {
            "pk": _key_pk(key),
            "sk": "RESULT",
            "type": "sandbox_idempotency",
            "operation": operation,
            "request": request,
            "result": result,
            "created_at": iso(now()),
        }
        try:
            self._transact([{"Put": {"Item": record, "ConditionExpression": "attribute_not_exists(pk)"}}, *operations])
        except GatewayUnavailable:
            replayed = self._replay(key, operation, request)
            if replayed is None:
                raise
            return replayed
        return result

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        try:
            self._db.transact(operations)
        except ConditionFailed as err:
            # Someone changed the ledger since it was read: reading it again decides.
            raise GatewayUnavailable("the sandbox ledger changed concurrently, try again") from err


def _refund_moves(cap: Item, amount: int) -> list[dict[str, Any]]:
    """Move ``amount`` into (or, negative, out of) the refunded totals of a capture and its authorization."""
    return [
        _bump(cap, "SET refunded = :refunded", {":refunded": cap["refunded"] + amount}),
        {
            "Update": {
                "Key": {"pk": _pk(cap["authorization"]), "sk": "AUTH"},
                "UpdateExpression": "ADD refunded :amount",
                "ExpressionAttributeValues": {":amount": amount},
            }
        },
    ]


def _bump(item: Item, expression: str, values: dict[str, Any]) -> dict[str, Any]:
    """An update of a ledger item that only applies to the version that was read."""
    uses_status = "#status" in expression
    update: dict[str, Any] = {
        "Key": {"pk": item["pk"], "sk": item["sk"]},
        "UpdateExpression": f"{expression}, version = :next",
        "ConditionExpression": "version = :seen",
        "ExpressionAttributeValues": {**values, ":seen": item["version"], ":next": item["version"] + 1},
    }
    if uses_status:
        update["ExpressionAttributeNames"] = {"#status": "status"}
    return {"Update": update}


def verify_signature(body: bytes, value: str | None, secret: str) -> None:
    """Raise InvalidSignature unless ``value`` signs ``body`` with ``secret`` within the tolerance."""
    if not value:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    parts = [p.strip().partition("=") for p in value.split(",")]
    stamps = [v for k, _, v in parts if k == "t"]
    signatures = [v for k, _, v in parts if k == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        raise InvalidSignature(f"{SIGNATURE_HEADER} header is not t=<unix>,v1=<hex>")
    timestamp = int(stamps[0])
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("the signature timestamp is outside the tolerance")
    expected = _signature(body, timestamp, secret)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise InvalidSignature("the signature does not match")


def sign_sandbox_event(
    payload: dict[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a sandbox webhook, signed as the provider signs them."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = f"t={stamp},v1={_signature(body, stamp, secret)}"
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: signature}


def parse_event(payload: Any) -> WebhookEvent:
    """The WebhookEvent of a verified sandbox payload; MalformedInput if it lacks a field."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise MalformedInput("the event has no data object")
    event_id, kind, created = payload.get("id"), payload.get("type"), payload.get("created")
    reference = data.get("reference")
    if not (isinstance(event_id, str) and event_id and isinstance(kind, str) and isinstance(reference, str)):
        raise MalformedInput("the event needs id, type and data.reference")
    if not isinstance(created, int) or isinstance(created, bool):
        raise MalformedInput("the event needs created (unix seconds)")
    amount = data.get("amount")
    return WebhookEvent(
        provider="sandbox",
        event_id=event_id,
        kind=kind if kind in WEBHOOK_KINDS else "other",  # type: ignore[arg-type]
        occurred_at=iso(datetime.fromtimestamp(created, UTC)),
        reference=reference,
        payment_reference=_text(data.get("payment_reference")),
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        reason=_text(data.get("reason")),
        raw_type=kind,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _signature(body: bytes, timestamp: int, secret: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _reference(kind: str, seed: str) -> str:
    """A reference derived from the idempotency key: a replay names the same object."""
    return f"sbx_{kind}_{hashlib.sha256(seed.encode()).hexdigest()[:24]}"


def _pk(reference: str) -> str:
    return f"SANDBOX#{reference}"


def _key_pk(key: str) -> str:
    return f"SANDBOXKEY#{key}"


def _require_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidInput("amount must be a positive integer in minor units")


def _currency(currency: str) -> str:
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise InvalidInput("currency must be a three-letter ISO 4217 code")
    return currency.upper()
