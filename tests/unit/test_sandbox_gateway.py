"""The sandbox provider against moto: its test tokens, its ledger and its rules."""

from __future__ import annotations

import time
import types
from collections.abc import Iterator

import pytest
from moto import mock_aws

from functions.payments.gateways import registry
from functions.payments.gateways.gateway import (
    AuthorizationExpired,
    CaptureFailed,
    GatewayUnavailable,
    InvalidSignature,
    PaymentDeclined,
    RefundFailed,
)
from functions.payments.gateways.sandbox import SandboxGateway, sign_sandbox_event
from infra import manifest
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from infra.local.provision import provision
from shared import warm_cache
from shared.errors import Conflict, InvalidInput, MalformedInput, NotFound, RetryableError
from shared.table import Table

SECRET = DEV_WEBHOOK_SECRETS["sandbox"]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Table]:
    """The stack's table and secrets in moto, without functions, queues or workflows."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    bare = types.SimpleNamespace(**{k: getattr(manifest, k) for k in dir(manifest) if k.isupper()})
    bare.FUNCTIONS = bare.QUEUES = bare.STREAM_CONSUMERS = bare.STATE_MACHINES = bare.EVENT_RULES = bare.SCHEDULES = ()
    bare.GRANT_ENVIRONMENT = {}
    with mock_aws():
        resources = provision(m=bare)
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        warm_cache.reset_all()
        registry.reset()
        yield Table()
    warm_cache.reset_all()
    registry.reset()


@pytest.fixture
def gateway(table: Table) -> SandboxGateway:
    return SandboxGateway(webhook_secret=SECRET)


def authorize(gateway: SandboxGateway, token: str = "tok_visa", amount: int = 10_000, key: str = "auth-1", **meta: str):
    return gateway.authorize(token=token, amount=amount, currency="EUR", idempotency_key=key, metadata=meta)


def take(gateway: SandboxGateway, authorization: str, amount: int, key: str, *, final: bool = False):
    return gateway.capture(authorization=authorization, amount=amount, currency="EUR", idempotency_key=key, final=final)


# -- authorize -------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["tok_visa", "tok_approve", "tok_anything_else"])
def test_approving_tokens_hold_the_amount(gateway, token):
    auth = authorize(gateway, token)
    assert auth.amount == 10_000
    assert auth.currency == "EUR"
    assert auth.multicapture is True
    assert auth.expires_at and auth.expires_at.endswith("Z")
    held = gateway.ledger(auth.reference)
    assert held is not None
    assert (held["amount"], held["captured"], held["refunded"], held["status"]) == (10_000, 0, 0, "authorized")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("tok_decline", "insufficient_funds"),
        ("tok_decline_insufficient_funds", "insufficient_funds"),
        ("tok_decline_stolen", "stolen_card"),
    ],
)
def test_declining_tokens_raise_payment_declined_with_reason(gateway, token, reason):
    with pytest.raises(PaymentDeclined) as caught:
        authorize(gateway, token)
    assert caught.value.reason == reason
    assert caught.value.status == 422
    assert type(caught.value).__name__ == "PaymentDeclined"  # what the workflow's Catch matches


def test_transient_token_fails_twice_per_key_then_approves(gateway):
    for _ in range(2):
        with pytest.raises(GatewayUnavailable) as caught:
            authorize(gateway, "tok_transient", key="k-transient")
        assert isinstance(caught.value, RetryableError)
    auth = authorize(gateway, "tok_transient", key="k-transient")
    assert authorize(gateway, "tok_transient", key="k-transient") == auth
    with pytest.raises(GatewayUnavailable):  # a new key starts counting again
        authorize(gateway, "tok_transient", key="k-other")


def test_unavailable_token_never_approves(gateway):
    for _ in range(4):
        with pytest.raises(GatewayUnavailable):
            authorize(gateway, "tok_unavailable")


def test_same_key_returns_the_same_authorization_and_holds_once(gateway, table):
    first = authorize(gateway, key="same")
    again = authorize(gateway, key="same")
    assert again == first
    holds = [i for i in _scan(table) if i["pk"].startswith("SANDBOX#") and i["sk"] == "AUTH"]
    assert len(holds) == 1


def test_same_key_with_a_different_request_is_a_conflict(gateway):
    authorize(gateway, key="reused")
    with pytest.raises(Conflict):
        authorize(gateway, amount=5, key="reused")


def test_bad_amount_or_currency_is_invalid_input(gateway):
    with pytest.raises(InvalidInput):
        authorize(gateway, amount=0)
    with pytest.raises(InvalidInput):
        gateway.authorize(token="tok_visa", amount=100, currency="EURO", idempotency_key="x", metadata={})


# -- capture ---------------------------------------------------------------------------


def test_partial_captures_up_to_the_authorized_amount(gateway):
    auth = authorize(gateway)
    first = take(gateway, auth.reference, 6_000, "c1")
    assert (first.amount, first.authorization) == (6_000, auth.reference)
    with pytest.raises(CaptureFailed) as caught:
        take(gateway, auth.reference, 4_001, "c2")
    assert caught.value.reason == "amount_too_large"
    second = take(gateway, auth.reference, 4_000, "c3")
    assert second.reference != first.reference
    held = gateway.ledger(auth.reference)
    assert held is not None
    assert (held["captured"], held["status"]) == (10_000, "captured")


def test_capture_replay_moves_no_money_twice(gateway):
    auth = authorize(gateway)
    one = take(gateway, auth.reference, 3_000, "cap")
    two = take(gateway, auth.reference, 3_000, "cap")
    assert one == two
    held = gateway.ledger(auth.reference)
    assert held is not None and held["captured"] == 3_000


def test_capture_void_and_refund_read_their_key_and_ledger_item_in_one_request(gateway, monkeypatch):
    auth = authorize(gateway)
    reads: list[str] = []
    call = Table._call

    def counted(self: Table, operation: str, **params: object) -> object:
        if operation in ("GetItem", "BatchGetItem", "Query"):
            reads.append(operation)
        return call(self, operation, **params)

    monkeypatch.setattr(Table, "_call", counted)
    captured = take(gateway, auth.reference, 3_000, "c1")
    assert reads == ["BatchGetItem"]
    reads.clear()
    gateway.refund(capture=captured.reference, amount=1_000, currency="EUR", idempotency_key="r1")
    assert reads == ["BatchGetItem"]
    reads.clear()
    gateway.void(authorization=auth.reference, idempotency_key="v1")
    assert reads == ["BatchGetItem"]
    reads.clear()
    assert take(gateway, auth.reference, 3_000, "c1") == captured  # a replay reads no more
    assert reads == ["BatchGetItem"]


def test_final_capture_releases_the_rest(gateway):
    auth = authorize(gateway)
    take(gateway, auth.reference, 2_500, "c1", final=True)
    with pytest.raises(CaptureFailed) as caught:
        take(gateway, auth.reference, 100, "c2")
    assert caught.value.reason == "authorization_closed"


def test_capture_in_another_currency_fails(gateway):
    auth = authorize(gateway)
    with pytest.raises(CaptureFailed) as caught:
        gateway.capture(authorization=auth.reference, amount=100, currency="USD", idempotency_key="c1", final=False)
    assert caught.value.reason == "currency_mismatch"


def test_capture_of_unknown_authorization_is_not_found(gateway):
    with pytest.raises(NotFound):
        gateway.capture(authorization="sbx_auth_nope", amount=100, currency="EUR", idempotency_key="c1", final=False)


def test_no_capture_after_void_and_void_is_repeatable(gateway):
    auth = authorize(gateway)
    take(gateway, auth.reference, 1_000, "c1")
    gateway.void(authorization=auth.reference, idempotency_key="v1")
    gateway.void(authorization=auth.reference, idempotency_key="v1")
    gateway.void(authorization=auth.reference, idempotency_key="v2")  # already void: nothing to do
    held = gateway.ledger(auth.reference)
    assert held is not None
    assert (held["status"], held["voided"], held["captured"]) == ("voided", True, 1_000)
    with pytest.raises(CaptureFailed) as caught:
        take(gateway, auth.reference, 100, "c2")
    assert caught.value.reason == "authorization_voided"


def test_void_after_final_capture_is_a_conflict(gateway):
    auth = authorize(gateway)
    take(gateway, auth.reference, 10_000, "c1", final=True)
    with pytest.raises(Conflict):
        gateway.void(authorization=auth.reference, idempotency_key="v1")


def test_expire_token_expires_the_first_authorization_of_an_order_only(gateway):
    first = authorize(gateway, "tok_expire", key="a1", order_id="ord_1")
    for key in ("c1", "c1", "c2"):
        with pytest.raises(AuthorizationExpired):
            take(gateway, first.reference, 100, key)
    held = gateway.ledger(first.reference)
    assert held is not None and (held["status"], held["captured"]) == ("expired", 0)
    again = authorize(gateway, "tok_expire", key="a2", order_id="ord_1")
    done = take(gateway, again.reference, 100, "c3")
    assert done.amount == 100
    other_order = authorize(gateway, "tok_expire", key="a3", order_id="ord_2")
    with pytest.raises(AuthorizationExpired):
        take(gateway, other_order.reference, 1, "c4")


def test_lapsed_authorization_cannot_be_captured(gateway, table):
    auth = authorize(gateway)
    table.update(
        f"SANDBOX#{auth.reference}", "AUTH", "SET expires_at = :past", values={":past": "2020-01-01T00:00:00.000Z"}
    )
    with pytest.raises(AuthorizationExpired):
        take(gateway, auth.reference, 1, "c1")


# -- refund ----------------------------------------------------------------------------


def _captured(gateway: SandboxGateway, token: str = "tok_visa", amount: int = 10_000):
    auth = authorize(gateway, token, amount=amount, key=f"auth-{token}")
    return auth, take(gateway, auth.reference, amount, f"cap-{token}", final=True)


def test_refunds_never_exceed_what_is_captured_and_unrefunded(gateway):
    auth, cap = _captured(gateway)
    first = gateway.refund(capture=cap.reference, amount=7_000, currency="EUR", idempotency_key="r1")
    assert (first.status, first.amount, first.failure_reason) == ("succeeded", 7_000, None)
    assert gateway.refund(capture=cap.reference, amount=7_000, currency="EUR", idempotency_key="r1") == first
    with pytest.raises(RefundFailed) as caught:
        gateway.refund(capture=cap.reference, amount=3_001, currency="EUR", idempotency_key="r2")
    assert caught.value.reason == "amount_too_large"
    gateway.refund(capture=cap.reference, amount=3_000, currency="EUR", idempotency_key="r3")
    held, captured = gateway.ledger(auth.reference), gateway.ledger(cap.reference)
    assert held is not None and captured is not None
    assert (held["refunded"], captured["refunded"]) == (10_000, 10_000)


def test_refund_of_unknown_capture_is_not_found(gateway):
    with pytest.raises(NotFound):
        gateway.refund(capture="sbx_cap_nope", amount=1, currency="EUR", idempotency_key="r1")


def test_refund_fail_token_refunds_fail_and_leave_the_money_refundable(gateway):
    auth, cap = _captured(gateway, "tok_refund_fail")
    refund = gateway.refund(capture=cap.reference, amount=4_000, currency="EUR", idempotency_key="r1")
    assert (refund.status, refund.failure_reason) == ("failed", "refund_declined")
    held = gateway.ledger(auth.reference)
    assert held is not None and held["refunded"] == 0


def test_refund_pending_token_settles_later_by_webhook(gateway):
    auth, cap = _captured(gateway, "tok_refund_pending")
    ok = gateway.refund(capture=cap.reference, amount=4_000, currency="EUR", idempotency_key="r1")
    bad = gateway.refund(capture=cap.reference, amount=1_000, currency="EUR", idempotency_key="r2")
    assert (ok.status, bad.status) == ("pending", "pending")
    held = gateway.ledger(auth.reference)
    assert held is not None and held["refunded"] == 5_000  # pending refunds are reserved

    settled = gateway.settle_pending_refund(ok.reference)
    replayed = gateway.settle_pending_refund(ok.reference)  # settling twice changes nothing
    assert (replayed["id"], replayed["data"]) == (settled["id"], settled["data"])
    failed = gateway.settle_pending_refund(bad.reference, succeeded=False)
    with pytest.raises(Conflict):
        gateway.settle_pending_refund(bad.reference, succeeded=True)
    held = gateway.ledger(auth.reference)
    assert held is not None and held["refunded"] == 4_000  # the failed one gave its 1,000 back

    body, headers = sign_sandbox_event(settled, SECRET)
    event = gateway.verify_webhook(body=body, headers=headers)
    assert (event.kind, event.reference, event.payment_reference, event.amount) == (
        "refund.succeeded",
        ok.reference,
        auth.reference,
        4_000,
    )
    body, headers = sign_sandbox_event(failed, SECRET)
    event = gateway.verify_webhook(body=body, headers=headers)
    assert (event.kind, event.reason) == ("refund.failed", "refund_declined")


# -- webhooks --------------------------------------------------------------------------


def _payload(**data):
    return {
        "id": "evt_1",
        "type": "dispute.opened",
        "created": 1_700_000_000,
        "data": {"reference": "sbx_auth_1", **data},
    }


def test_signed_webhook_is_verified_and_parsed(gateway):
    body, headers = sign_sandbox_event(
        _payload(amount=500, reason="fraudulent", payment_reference="sbx_auth_1"), SECRET
    )
    lower = {k.lower(): v for k, v in headers.items()}  # header names are case-insensitive
    event = gateway.verify_webhook(body=body, headers=lower)
    assert event.provider == "sandbox"
    assert event.event_id == "evt_1"
    assert event.kind == "dispute.opened"
    assert event.occurred_at == "2023-11-14T22:13:20.000Z"
    assert (event.reference, event.payment_reference, event.amount, event.reason) == (
        "sbx_auth_1",
        "sbx_auth_1",
        500,
        "fraudulent",
    )


def test_unknown_event_type_is_other(gateway):
    body, headers = sign_sandbox_event({**_payload(), "type": "payout.paid"}, SECRET)
    event = gateway.verify_webhook(body=body, headers=headers)
    assert (event.kind, event.raw_type) == ("other", "payout.paid")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body + b" ", headers),
        lambda body, headers: (body, {}),
        lambda body, headers: (body, {"Sandbox-Signature": "v1=abc"}),
        lambda body, headers: (body, {"Sandbox-Signature": "garbage"}),
        lambda body, headers: sign_sandbox_event(_payload(), "another-secret"),
        lambda body, headers: sign_sandbox_event(_payload(), SECRET, timestamp=int(time.time()) - 301),
        lambda body, headers: sign_sandbox_event(_payload(), SECRET, timestamp=int(time.time()) + 301),
    ],
    ids=["body-changed", "no-header", "no-timestamp", "garbage", "wrong-secret", "too-old", "from-the-future"],
)
def test_bad_signatures_are_refused(gateway, tamper):
    body, headers = tamper(*sign_sandbox_event(_payload(), SECRET))
    with pytest.raises(InvalidSignature) as caught:
        gateway.verify_webhook(body=body, headers=headers)
    assert caught.value.status == 401


def test_signature_within_tolerance_is_accepted(gateway):
    body, headers = sign_sandbox_event(_payload(), SECRET, timestamp=int(time.time()) - 290)
    assert gateway.verify_webhook(body=body, headers=headers).event_id == "evt_1"


def test_signed_but_malformed_event_is_malformed_input(gateway):
    body, headers = sign_sandbox_event({"id": "evt_1", "type": "refund.failed"}, SECRET)
    with pytest.raises(MalformedInput):
        gateway.verify_webhook(body=body, headers=headers)


def test_expire_authorization_marks_it_and_tells_by_webhook(gateway):
    auth = authorize(gateway)
    body, headers = sign_sandbox_event(gateway.expire_authorization(auth.reference), SECRET)
    event = gateway.verify_webhook(body=body, headers=headers)
    assert (event.kind, event.reference) == ("authorization.expired", auth.reference)
    with pytest.raises(AuthorizationExpired):
        take(gateway, auth.reference, 1, "c1")


# -- registry --------------------------------------------------------------------------


def test_registry_builds_each_provider_once_from_its_credentials(table):
    sandbox = registry.gateway_for("sandbox")
    assert sandbox.name == "sandbox"
    assert registry.gateway_for("sandbox") is sandbox
    assert registry.gateway_for("stripe").name == "stripe"
    assert registry.gateway_for("paypal").name == "paypal"
    with pytest.raises(InvalidInput):
        registry.gateway_for("adyen")
    body, headers = sign_sandbox_event(_payload(), SECRET)
    assert sandbox.verify_webhook(body=body, headers=headers).event_id == "evt_1"


def test_registry_override_serves_a_double(table):
    double = SandboxGateway(webhook_secret="other")
    registry.use_gateway("stripe", double)
    assert registry.gateway_for("stripe") is double
    registry.use_gateway("stripe", None)
    assert registry.gateway_for("stripe") is not double


def _scan(table: Table) -> list[dict]:
    from shared.aws import client
    from shared.table import from_ddb

    return [from_ddb(i) for i in client("dynamodb").scan(TableName=table.name)["Items"]]
