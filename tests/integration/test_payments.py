"""The payment ledger against moto and the sandbox provider: authorize, capture per
shipment, refunds with credit memos, release, provider webhooks, disputes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.payments.gateways import registry
from functions.payments.gateways.gateway import PaymentDeclined
from functions.payments.gateways.sandbox import SandboxGateway, sign_sandbox_event
from functions.payments.handlers import capture_shipments, webhooks
from functions.payments.logic import authorize, capture, refund, release, settle_refund
from functions.payments.rules.ledger import refundable
from functions.payments.rules.summary import payment_summary
from infra.local.dev_credentials import DEV_WEBHOOK_SECRETS
from infra.local.provision import LocalResources
from infra.local.runtime import LambdaContext
from shared import warm_cache
from shared.clock import now_iso
from shared.errors import Conflict, NotFound, RetryableError
from shared.ids import new_id
from shared.order import keys
from shared.order.amounts import shipped_amounts
from shared.order.record import create_order, load_order
from shared.table import Table
from tests.integration.conftest import api_event, call

SECRET = DEV_WEBHOOK_SECRETS["sandbox"]
CTX = LambdaContext(function_name="test")


@pytest.fixture
def stack(aws: LocalResources) -> LocalResources:
    warm_cache.reset_all()
    registry.reset()
    return aws


# ---- helpers ---------------------------------------------------------------------------------


def make_order(token: str = "tok_visa", lines: list[tuple[int, int, int, int, int]] | None = None) -> str:
    """An order written straight to the table (no workflow); lines are (qty, unit, discount, tax, shipping)."""
    lines = lines or [(3, 1999, 500, 760, 300), (2, 4999, 0, 1900, 195)]
    order_id = new_id("ord")
    at = now_iso()
    items = []
    for position, (qty, unit, discount, tax, shipping) in enumerate(lines, start=1):
        subtotal = qty * unit
        items.append(
            {
                "pk": keys.order_pk(order_id),
                "sk": keys.line_sk(position),
                "type": "line",
                "order_id": order_id,
                "line_id": new_id("ln"),
                "position": position,
                "sku": f"SKU-{position}",
                "quantity": qty,
                "unit_price": unit,
                "subtotal": subtotal,
                "discount": discount,
                "tax": tax,
                "shipping": shipping,
                "total": subtotal - discount + tax + shipping,
                "quantities": {"ordered": qty, "allocated": qty},
            }
        )
    header = {
        "pk": keys.order_pk(order_id),
        "sk": keys.ORDER_HEADER,
        "type": "order",
        "order_id": order_id,
        "channel": "web",
        "external_id": order_id,
        "customer_id": "cus_test",
        "currency": "EUR",
        "status": "open",
        "fulfillment_status": "allocated",
        "payment_status": "pending",
        "totals": {"total": sum(i["total"] for i in items)},
        "payment": {"provider": "sandbox", "token": token},
        "line_count": len(items),
        "workflow": {"status": "RUNNING"},
        "created_at": at,
        "updated_at": at,
    }
    create_order(header, items, [])
    return order_id


def ship(order_id: str, fo_id: str, units: dict[int, int]) -> str:
    """A shipment of ``{line position: units}`` as fulfillment writes it, lines' shipped moved on."""
    table = Table()
    record = load_order(order_id)
    assert record
    by_position = {int(line["position"]): line for line in record.lines}
    shipment_id = new_id("shp")
    shipped_lines = []
    for position, qty in units.items():
        line = by_position[position]
        before = int(line["quantities"].get("shipped", 0))
        shipped_lines.append(
            {
                "line_id": line["line_id"],
                "position": position,
                "sku": line["sku"],
                "quantity": qty,
                "first_unit": before,
            }
        )
        table.update(line["pk"], line["sk"], "SET quantities.shipped = :s", values={":s": before + qty})
    table.put(
        {
            "pk": keys.order_pk(order_id),
            "sk": f"SHP#{shipment_id}",
            "type": "shipment",
            "shipment_id": shipment_id,
            "order_id": order_id,
            "fo_id": fo_id,
            "location_id": "wh-east",
            "carrier": "dhl",
            "tracking_number": shipment_id,
            "lines": shipped_lines,
            "capture_status": "pending",
            "created_at": now_iso(),
        }
    )
    return shipment_id


def summary(order_id: str) -> dict[str, Any]:
    record = load_order(order_id)
    assert record
    return payment_summary(record)


def header(order_id: str) -> dict[str, Any]:
    record = load_order(order_id)
    assert record
    return record.header


def timeline_kinds(order_id: str) -> list[str]:
    items = Table().query_all("pk = :pk AND begins_with(sk, :e)", {":pk": keys.order_pk(order_id), ":e": "EVENT#"})
    return [i["kind"] for i in items]


def sandbox() -> SandboxGateway:
    gateway = registry.gateway_for("sandbox")
    assert isinstance(gateway, SandboxGateway)
    return gateway


def post_webhook(payload: dict[str, Any], *, secret: str = SECRET, provider: str = "sandbox") -> tuple[int, Any]:
    body, headers = sign_sandbox_event(payload, secret)
    return post_raw(body.decode(), headers, provider=provider)


def post_raw(body: str, headers: dict[str, str], *, provider: str = "sandbox") -> tuple[int, Any]:
    event = api_event(
        "POST",
        f"/v1/webhooks/payments/{provider}",
        resource="/v1/webhooks/payments/{provider}",
        body=body,
        key=None,
        headers=headers,
        path_parameters={"provider": provider},
    )
    status, _, parsed = call(webhooks.handler, event)
    return status, parsed


def event_payload(
    kind: str,
    reference: str,
    *,
    payment_reference: str | None = None,
    created: int | None = None,
    amount: int | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "type": kind,
        "created": created if created is not None else int(time.time()),
        "data": {"reference": reference, "payment_reference": payment_reference, "amount": amount, "reason": reason},
    }


def ship_all_and_capture(order_id: str, fo_id: str = "fo_a") -> int:
    record = load_order(order_id)
    assert record
    ship(order_id, fo_id, {int(line["position"]): int(line["quantity"]) for line in record.lines})
    return int(capture.capture_shipments(order_id, fo_id)["captured"])


# ---- authorization -------------------------------------------------------------------------------


def test_authorize_covers_the_order_and_a_second_run_changes_nothing(stack: LocalResources) -> None:
    order_id = make_order()
    total = header(order_id)["totals"]["total"]
    first = authorize.authorize_order(order_id)
    assert first["authorized"] == total and first["status"] == "authorized"
    again = authorize.authorize_order(order_id)
    assert again["payment_id"] == first["payment_id"]
    assert len(summary(order_id)["payments"]) == 1
    h = header(order_id)
    assert h["payment_status"] == "authorized"
    assert h["payment_totals"] == {"authorized": total}  # zeros are left out
    assert "payment.authorized" in timeline_kinds(order_id)
    assert sandbox().ledger(summary(order_id)["payments"][0]["reference"])["amount"] == total  # type: ignore[index]


def test_authorize_leaves_out_cancelled_units(stack: LocalResources) -> None:
    order_id = make_order(lines=[(4, 1000, 100, 0, 0)])
    line = load_order(order_id).lines[0]  # type: ignore[union-attr]
    Table().update(line["pk"], line["sk"], "SET quantities.cancelled = :c", values={":c": 1})
    outcome = authorize.authorize_order(order_id)
    # the last unit is worth 1000 - 25 of the discount
    assert outcome["authorized"] == 3900 - 975


def test_decline_fails_the_order_with_the_reason(stack: LocalResources) -> None:
    order_id = make_order("tok_decline")
    with pytest.raises(PaymentDeclined) as caught:
        authorize.authorize_order(order_id)
    assert type(caught.value).__name__ == "PaymentDeclined"
    h = header(order_id)
    assert (h["status"], h["payment_status"]) == ("failed", "failed")
    assert h["payment_failure"]["reason"] == "insufficient_funds"
    events = Table().query_all("pk = :pk AND begins_with(sk, :e)", {":pk": keys.order_pk(order_id), ":e": "EVENT#"})
    declined = [e for e in events if e["kind"] == "payment.declined"]
    assert declined and declined[0]["detail"]["reason"] == "insufficient_funds"
    assert summary(order_id)["payments"][0]["status"] == "failed"


def test_transient_failures_surface_as_retryable_then_succeed(stack: LocalResources) -> None:
    order_id = make_order("tok_transient")
    for _ in range(2):
        with pytest.raises(RetryableError) as caught:
            authorize.authorize_order(order_id)
        assert type(caught.value).__name__ == "RetryableError"  # the name the workflow retries on
    assert authorize.authorize_order(order_id)["status"] == "authorized"

    unavailable = make_order("tok_unavailable")
    with pytest.raises(RetryableError):
        authorize.authorize_order(unavailable)
    assert header(unavailable)["payment_status"] == "pending"


# ---- capture ---------------------------------------------------------------------------------------


def test_each_shipment_captures_exactly_its_part_with_one_invoice(
    stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = make_order()
    authorize.authorize_order(order_id)
    record = load_order(order_id)
    assert record
    lines = {int(line["position"]): line for line in record.lines}
    first = ship(order_id, "fo_a", {1: 1})
    reads: list[str] = []
    load_ledger = capture.load_ledger
    monkeypatch.setattr(capture, "load_ledger", lambda order: reads.append(order) or load_ledger(order))
    out = capture_shipments.handler({"order_id": order_id, "fo_id": "fo_a"}, CTX)
    assert out["captured"] == shipped_amounts(lines[1], 0, 1).total
    assert reads == [order_id]  # the one shipment it read, captured: the ledger is not read again
    assert header(order_id)["payment_status"] == "partially_captured"
    assert capture.capture_shipments(order_id, "fo_a") == {"invoices": [], "captured": 0}

    ship(order_id, "fo_a", {1: 1})
    ship(order_id, "fo_a", {1: 1})  # two parcels: both captured in one run
    ship(order_id, "fo_b", {2: 2})
    reads.clear()
    assert len(capture.capture_shipments(order_id, "fo_a")["invoices"]) == 2
    assert len(reads) == 2
    capture.capture_shipments(order_id, "fo_b")
    s = summary(order_id)
    total = header(order_id)["totals"]["total"]
    assert len(s["invoices"]) == 4
    assert sum(i["amount"] for i in s["invoices"]) == s["captured"] == total
    assert s["invoices"][0]["shipment_id"] == first
    assert s["invoices"][1]["lines"][0]["first_unit"] == 1
    # line by line, the invoices add up to each line's amounts exactly
    for position, line in lines.items():
        parts = [il for inv in s["invoices"] for il in inv["lines"] if il["line_id"] == line["line_id"]]
        for component in ("subtotal", "discount", "tax", "shipping", "total"):
            assert sum(p[component] for p in parts) == line[component]
        assert sum(p["quantity"] for p in parts) == line["quantity"], position
    assert s["available_to_capture"] == 0 and s["balance"] == 0
    assert header(order_id)["payment_status"] == "captured"
    shipments = load_order(order_id).others["SHP"]  # type: ignore[union-attr]
    assert {x["capture_status"] for x in shipments} == {"captured"}
    assert timeline_kinds(order_id).count("payment.captured") == 4
    auth = sandbox().ledger(s["payments"][0]["reference"])
    assert auth and auth["captured"] == total


def test_an_expired_authorization_is_authorized_again_before_capture(stack: LocalResources) -> None:
    order_id = make_order("tok_expire")
    authorize.authorize_order(order_id)
    captured = ship_all_and_capture(order_id)
    s = summary(order_id)
    total = header(order_id)["totals"]["total"]
    assert captured == total
    first, second = s["payments"]
    assert first["status"] == "expired" and first["captured"] == 0
    assert second["replaces"] == first["payment_id"] and second["captured"] == total
    assert s["invoices"][0]["payment_id"] == second["payment_id"]
    assert s["authorized"] == 2 * total and s["captured"] == total
    kinds = timeline_kinds(order_id)
    assert "payment.authorization_expired" in kinds and "payment.reauthorized" in kinds


def test_expiry_by_webhook_then_a_declined_reauthorization_raises(stack: LocalResources) -> None:
    order_id = make_order()
    payment_id = authorize.authorize_order(order_id)["payment_id"]
    reference = summary(order_id)["payments"][0]["reference"]
    status, body = post_webhook(sandbox().expire_authorization(reference))
    assert status == 200 and body["outcome"] == "expired"
    assert summary(order_id)["payments"][0]["status"] == "expired"
    assert header(order_id)["payment_status"] == "pending"
    # the card has been cancelled since
    h = header(order_id)
    Table().update(h["pk"], h["sk"], "SET payment.#t = :t", values={":t": "tok_decline"}, names={"#t": "token"})
    ship(order_id, "fo_a", {1: 1})
    with pytest.raises(PaymentDeclined):
        capture.capture_shipments(order_id, "fo_a")
    assert header(order_id)["status"] == "open"  # goods left: the workflow holds the order
    assert "payment.reauthorization_declined" in timeline_kinds(order_id)
    assert summary(order_id)["payments"][1]["replaces"] == payment_id


# ---- refunds ---------------------------------------------------------------------------------------


def two_payments(order_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Line 2 captured on the first authorization; it expires; line 1 on a re-authorization."""
    authorize.authorize_order(order_id)
    ship(order_id, "fo_a", {2: 2})
    capture.capture_shipments(order_id, "fo_a")
    post_webhook(sandbox().expire_authorization(summary(order_id)["payments"][0]["reference"]))
    ship(order_id, "fo_b", {1: 3})
    capture.capture_shipments(order_id, "fo_b")
    first, second = summary(order_id)["payments"]
    return first, second


def test_refund_takes_the_exact_match_first_then_the_largest(stack: LocalResources) -> None:
    order_id = make_order()
    first, second = two_payments(order_id)
    assert first["captured"] > second["captured"] > 0
    memo = refund.refund(order_id, change_id="chg_a", amount=second["captured"], reason="return")
    assert [r["payment_id"] for r in memo["refunds"]] == [second["payment_id"]]
    assert memo["status"] == "issued"

    memo = refund.refund(order_id, change_id="chg_b", amount=first["captured"] - 100, reason="appeasement")
    assert [r["payment_id"] for r in memo["refunds"]] == [first["payment_id"]]
    s = summary(order_id)
    assert s["refunded"] == second["captured"] + first["captured"] - 100
    assert s["available_to_refund"] == 100
    assert header(order_id)["payment_status"] == "partially_refunded"
    assert len(s["credit_memos"]) == 2
    with pytest.raises(Conflict):
        refund.refund(order_id, change_id="chg_c", amount=101, reason="too much")
    memo = refund.refund(order_id, change_id="chg_d", amount=100, reason="rest")
    assert header(order_id)["payment_status"] == "refunded"
    assert sandbox().ledger(memo["refunds"][0]["reference"])["amount"] == 100  # type: ignore[index]


def test_a_refund_over_two_payments_is_one_credit_memo(stack: LocalResources) -> None:
    order_id = make_order()
    first, second = two_payments(order_id)
    amount = first["captured"] + 10
    memo = refund.refund(order_id, change_id="chg_all", amount=amount, reason="return")
    assert [(r["payment_id"], r["amount"]) for r in memo["refunds"]] == [
        (first["payment_id"], first["captured"]),
        (second["payment_id"], 10),
    ]
    assert summary(order_id)["refunded"] == amount


def test_a_pending_refund_blocks_the_double_refund(stack: LocalResources) -> None:
    order_id = make_order("tok_refund_pending")
    authorize.authorize_order(order_id)
    total = ship_all_and_capture(order_id)
    memo = refund.refund(order_id, change_id="chg_1", amount=total, reason="return")
    assert memo["status"] == "pending"
    s = summary(order_id)
    assert (s["refund_pending"], s["refunded"], s["available_to_refund"]) == (total, 0, 0)
    with pytest.raises(Conflict) as caught:
        refund.refund(order_id, change_id="chg_2", amount=1, reason="again")
    assert caught.value.extra["available_to_refund"] == 0
    # the same change again is the same credit memo, and no second provider refund
    assert refund.refund(order_id, change_id="chg_1", amount=total, reason="return") == memo
    assert len(summary(order_id)["credit_memos"]) == 1

    status, body = post_webhook(sandbox().settle_pending_refund(memo["refunds"][0]["reference"]))
    assert status == 200 and body["outcome"] == "settled"
    s = summary(order_id)
    assert (s["refund_pending"], s["refunded"]) == (0, total)
    assert s["credit_memos"][0]["status"] == "issued"
    assert header(order_id)["payment_status"] == "refunded"
    with pytest.raises(Conflict):
        refund.refund(order_id, change_id="chg_3", amount=1, reason="again")


def test_a_failed_refund_is_refundable_again_with_an_exception(stack: LocalResources) -> None:
    order_id = make_order("tok_refund_fail")
    authorize.authorize_order(order_id)
    total = ship_all_and_capture(order_id)
    memo = refund.refund(order_id, change_id="chg_1", amount=500, reason="return")
    assert memo["status"] == "failed" and memo["refunds"][0]["failure_reason"]
    s = summary(order_id)
    assert (s["refunded"], s["refund_pending"], s["available_to_refund"]) == (0, 0, total)
    assert s["balance"] == -500  # owed to the customer
    exceptions = Table().query_all("gsi1pk = :p", {":p": "EXCEPTIONS#open"}, index="gsi1")
    assert any(e["order_id"] == order_id and e["step"] == "PaymentRefund" for e in exceptions)
    assert "payment.refund_failed" in timeline_kinds(order_id)


def test_release_voids_an_untouched_authorization(stack: LocalResources) -> None:
    order_id = make_order()
    authorized = authorize.authorize_order(order_id)["authorized"]
    partial = release.release_authorized_funds(order_id, 1000, reason="line cancelled")
    assert partial["released"] == 1000 and partial["voided"] == []
    assert summary(order_id)["available_to_capture"] == authorized - 1000
    out = release.release_authorized_funds(order_id, authorized, reason="order cancelled")
    assert out["released"] == authorized - 1000 and out["payment_status"] == "voided"
    payment = summary(order_id)["payments"][0]
    assert payment["status"] == "voided"
    assert sandbox().ledger(payment["reference"])["status"] == "voided"  # type: ignore[index]
    assert header(order_id)["payment_status"] == "voided"


def test_a_release_keyed_by_its_change_happens_once(stack: LocalResources) -> None:
    order_id = make_order()
    authorized = authorize.authorize_order(order_id)["authorized"]
    first = release.release_authorized_funds(order_id, 700, reason="line cancelled", change_id="chg_1")
    again = release.release_authorized_funds(order_id, 700, reason="line cancelled", change_id="chg_1")
    assert again == first and first["released"] == 700
    assert summary(order_id)["available_to_capture"] == authorized - 700
    other = release.release_authorized_funds(order_id, 300, reason="another line", change_id="chg_2")
    assert other["released"] == 300
    assert summary(order_id)["available_to_capture"] == authorized - 1000


# ---- webhooks ---------------------------------------------------------------------------------------


def test_forged_missing_and_unknown_provider_webhooks_are_refused(stack: LocalResources) -> None:
    order_id = make_order()
    authorize.authorize_order(order_id)
    payload = sandbox().expire_authorization(summary(order_id)["payments"][0]["reference"])
    status, body = post_webhook(payload, secret="not-the-secret")
    assert status == 401 and body["status"] == 401
    body_text, headers = sign_sandbox_event(payload, SECRET)
    status, _ = post_raw(body_text.decode(), {"Content-Type": "application/json"})
    assert status == 401
    assert Table().get(f"WEBHOOK#sandbox#{payload['id']}", "WEBHOOK") is None
    assert summary(order_id)["payments"][0]["status"] == "authorized"
    status, _ = post_raw(body_text.decode(), headers, provider="adyen")
    assert status == 404
    # A sandbox-signed body posted as PayPal's carries none of PayPal's signature headers.
    status, _ = post_raw(body_text.decode(), headers, provider="paypal")
    assert status == 401


def test_a_duplicate_webhook_changes_nothing_and_unknown_references_are_ignored(stack: LocalResources) -> None:
    order_id = make_order()
    authorize.authorize_order(order_id)
    payload = event_payload("capture.failed", "cap_x", payment_reference=summary(order_id)["payments"][0]["reference"])
    status, body = post_webhook(payload)
    assert (status, body["outcome"], body["duplicate"]) == (200, "exception", False)
    status, body = post_webhook(payload)
    assert status == 200 and body["duplicate"] is True
    assert timeline_kinds(order_id).count("payment.capture_failed") == 1

    status, body = post_webhook(event_payload("dispute.opened", "dp_1", payment_reference="sbx_auth_unknown"))
    assert (status, body["outcome"]) == (200, "ignored")
    status, body = post_webhook(event_payload("refund.failed", "sbx_ref_unknown"))
    assert (status, body["outcome"]) == (200, "ignored")


def test_refund_events_out_of_order_keep_the_later_and_never_double_count(stack: LocalResources) -> None:
    order_id = make_order("tok_refund_pending")
    authorize.authorize_order(order_id)
    total = ship_all_and_capture(order_id)
    memo = refund.refund(order_id, change_id="chg_1", amount=1000, reason="return")
    reference = memo["refunds"][0]["reference"]
    now = int(time.time())
    _, body = post_webhook(event_payload("refund.failed", reference, created=now, reason="expired_card"))
    assert body["outcome"] == "settled"
    _, body = post_webhook(event_payload("refund.succeeded", reference, created=now - 60))
    assert body["outcome"] == "stale"
    s = summary(order_id)
    assert (s["refunded"], s["refund_pending"], s["available_to_refund"]) == (0, 0, total)
    assert s["credit_memos"][0]["status"] == "failed"

    memo = refund.refund(order_id, change_id="chg_2", amount=700, reason="return")
    reference = memo["refunds"][0]["reference"]
    post_webhook(event_payload("refund.succeeded", reference, created=now))
    _, body = post_webhook(event_payload("refund.succeeded", reference, created=now + 1))
    assert body["outcome"] == "unchanged"
    post_webhook(event_payload("refund.failed", reference, created=now - 5))
    s = summary(order_id)
    assert (s["refunded"], s["refund_pending"]) == (700, 0)
    # a later failure overturns the success: the money is refundable again, counted once
    post_webhook(event_payload("refund.failed", reference, created=now + 30, reason="account_closed"))
    s = summary(order_id)
    assert (s["refunded"], s["available_to_refund"]) == (0, total)


def test_a_dispute_holds_the_order_until_it_closes(stack: LocalResources) -> None:
    order_id = make_order()
    authorize.authorize_order(order_id)
    ship_all_and_capture(order_id)
    auth = summary(order_id)["payments"][0]["reference"]
    now = int(time.time())
    status, body = post_webhook(
        event_payload("dispute.opened", "dp_1", payment_reference=auth, created=now, reason="fraudulent")
    )
    assert (status, body["outcome"]) == (200, "held")
    h = header(order_id)
    assert h["status"] == "on_hold" and h["hold"]["previous_status"] == "open"
    exceptions = Table().query_all("gsi1pk = :p", {":p": "EXCEPTIONS#open"}, index="gsi1")
    assert any(e["order_id"] == order_id and e["step"] == "PaymentDispute" for e in exceptions)
    assert "payment.dispute_opened" in timeline_kinds(order_id)

    status, body = post_webhook(event_payload("dispute.closed", "dp_1", payment_reference=auth, created=now + 5))
    assert body["outcome"] == "released"
    assert header(order_id)["status"] == "open" and "hold" not in header(order_id)

    # closed delivered before opened: the older opening moves nothing
    post_webhook(event_payload("dispute.closed", "dp_2", payment_reference=auth, created=now + 20))
    status, body = post_webhook(event_payload("dispute.opened", "dp_2", payment_reference=auth, created=now + 10))
    assert body["outcome"] == "stale"
    assert header(order_id)["status"] == "open"


def test_unknown_order_is_not_found(stack: LocalResources) -> None:
    with pytest.raises(NotFound):
        authorize.authorize_order("ord_missing")


# ---- property: any sequence of captures and refunds keeps the ledger whole ---------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 3))
    lines = [
        (
            draw(st.integers(1, 4)),
            draw(st.integers(1, 5000)),
            draw(st.integers(0, 300)),
            draw(st.integers(0, 900)),
            draw(st.integers(0, 500)),
        )
        for _ in range(n)
    ]
    lines = [(q, u, min(d, q * u), t, s) for q, u, d, t, s in lines]
    token = draw(st.sampled_from(["tok_visa", "tok_refund_pending", "tok_expire"]))
    steps = draw(st.lists(st.tuples(st.sampled_from(["ship", "refund", "settle"]), st.integers(0, 10**6)), max_size=8))
    return {"lines": lines, "token": token, "steps": steps}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_ledger_invariants_hold_for_any_sequence(stack: LocalResources, scenario: dict[str, Any]) -> None:
    order_id = make_order(scenario["token"], scenario["lines"])
    authorize.authorize_order(order_id)
    refused = 0
    for n, (kind, seed) in enumerate(scenario["steps"]):
        record = load_order(order_id)
        assert record
        if kind == "ship":
            left = {
                int(line["position"]): int(line["quantity"]) - int(line["quantities"].get("shipped", 0))
                for line in record.lines
            }
            units = {p: 1 + seed % q for p, q in left.items() if q > 0 and (seed >> p) % 2 == 0}
            if units:
                ship(order_id, f"fo_{n}", units)
                capture.capture_shipments(order_id, f"fo_{n}")
        elif kind == "refund":
            available = sum(max(0, refundable(p)) for p in record.others.get("PAY", []))
            amount = 1 + seed % (available + 5)
            try:
                refund.refund(order_id, change_id=f"chg_{n}", amount=amount, reason="test")
            except Conflict:
                assert amount > available
                refused += 1
            else:
                assert amount <= available
        else:
            for memo in record.others.get("CM", []):
                for entry in memo["refunds"]:
                    if entry["status"] == "pending" and entry.get("reference"):
                        settle_refund.settle_provider_refund(
                            "sandbox",
                            entry["reference"],
                            status="succeeded" if seed % 3 else "failed",
                            occurred_at=now_iso(),
                        )
        s = summary(order_id)
        assert s["captured"] == sum(i["amount"] for i in s["invoices"])
        succeeded = [r["amount"] for m in s["credit_memos"] for r in m["refunds"] if r["status"] == "succeeded"]
        pending = [r["amount"] for m in s["credit_memos"] for r in m["refunds"] if r["status"] == "pending"]
        assert s["refunded"] == sum(succeeded) and s["refund_pending"] == sum(pending)
        assert s["refunded"] + s["refund_pending"] <= s["captured"] <= s["authorized"]
        for memo in s["credit_memos"]:
            assert sum(r["amount"] for r in memo["refunds"]) == memo["amount"]
        totals = header(order_id)["payment_totals"]
        assert {k: totals.get(k, 0) for k in ("authorized", "captured", "refunded", "refund_pending")} == {
            k: s[k] for k in ("authorized", "captured", "refunded", "refund_pending")
        }
        assert 0 not in totals.values()
    record = load_order(order_id)
    assert record
    if all(int(li["quantities"].get("shipped", 0)) == int(li["quantity"]) for li in record.lines):
        assert summary(order_id)["captured"] == sum(int(li["total"]) for li in record.lines)
    json.dumps(summary(order_id))  # the view is plain JSON


def test_balance_counts_change_orders_and_refused_refunds(stack: LocalResources) -> None:
    order_id = make_order()
    authorize.authorize_order(order_id)
    total = ship_all_and_capture(order_id)
    # a return of 1500 recorded as a change order, refunded against it: settled
    Table().put(
        {
            "pk": keys.order_pk(order_id),
            "sk": "CHG#chg_ret",
            "type": "change_order",
            "order_id": order_id,
            "change_id": "chg_ret",
            "kind": "return",
            "totals": {"total": -1500},
            "created_at": now_iso(),
        }
    )
    refund.refund(order_id, change_id="chg_ret", amount=1500, reason="return")
    s = summary(order_id)
    assert (s["amount_due"], s["balance"]) == (total - 1500, 0)
    # a refund without a change order lowers what is due by itself
    refund.refund(order_id, change_id="chg_goodwill", amount=200, reason="goodwill")
    s = summary(order_id)
    assert (s["amount_due"], s["balance"], s["available_to_refund"]) == (total - 1700, 0, total - 1700)


# ---- provider events the OMS did not cause, and disputes in one second --------------------------


def test_a_dispute_closed_in_the_second_it_opened_releases_the_order(stack: LocalResources) -> None:
    order_id = make_order()
    authorize.authorize_order(order_id)
    ship_all_and_capture(order_id)
    auth = summary(order_id)["payments"][0]["reference"]
    now = int(time.time())
    opened = event_payload("dispute.opened", "dp_fast", payment_reference=auth, created=now, reason="fraudulent")
    closed = event_payload("dispute.closed", "dp_fast", payment_reference=auth, created=now, reason="won")
    assert post_webhook(opened)[1]["outcome"] == "held"
    assert post_webhook(closed)[1]["outcome"] == "released"
    assert header(order_id)["status"] == "open" and "hold" not in header(order_id)
    # and the other way round: the close first, then its open of the same second, is stale
    post_webhook(event_payload("dispute.closed", "dp_late", payment_reference=auth, created=now))
    reopened = event_payload("dispute.opened", "dp_late", payment_reference=auth, created=now)
    assert post_webhook(reopened)[1]["outcome"] == "stale"
    assert header(order_id)["status"] == "open"


def test_an_event_naming_only_the_charge_finds_the_payment(stack: LocalResources, monkeypatch) -> None:
    import dataclasses

    gateway = sandbox()
    authorize_at_sandbox = gateway.authorize

    def with_charge(**kw: Any) -> Any:
        return dataclasses.replace(authorize_at_sandbox(**kw), charge_reference="ch_only_the_charge")

    monkeypatch.setattr(gateway, "authorize", with_charge)
    order_id = make_order()
    authorize.authorize_order(order_id)
    ship_all_and_capture(order_id)
    opened = event_payload("dispute.opened", "dp_charge", payment_reference="ch_only_the_charge")
    status, body = post_webhook(opened)
    assert (status, body["outcome"], body["order_id"]) == (200, "held", order_id)


def test_a_refund_made_at_the_provider_is_recorded_with_a_credit_memo_once(stack: LocalResources) -> None:
    order_id = make_order()
    authorize.authorize_order(order_id)
    total = ship_all_and_capture(order_id)
    auth = summary(order_id)["payments"][0]["reference"]
    now = int(time.time())
    # The provider reports its running total refunded on the payment (Stripe charge.refunded).
    first = event_payload("refund.external", "ch_1", payment_reference=auth, created=now, amount=700)
    assert post_webhook(first)[1]["outcome"] == "recorded"
    s = summary(order_id)
    assert (s["refunded"], s["available_to_refund"]) == (700, total - 700)
    memos = load_order(order_id).others["CM"]
    assert [(m["amount"], m["status"]) for m in memos] == [(700, "issued")]
    assert "payment.refunded_at_provider" in timeline_kinds(order_id)
    # the same total again (another event id), or an older, smaller total: nothing more
    again = event_payload("refund.external", "ch_1", payment_reference=auth, created=now, amount=700)
    assert post_webhook(again)[1]["outcome"] == "unchanged"
    # a second Dashboard refund raises the total: only the difference is recorded
    later = event_payload("refund.external", "ch_1", payment_reference=auth, created=now + 5, amount=1000)
    assert post_webhook(later)[1]["outcome"] == "recorded"
    older = event_payload("refund.external", "ch_1", payment_reference=auth, created=now - 5, amount=700)
    assert post_webhook(older)[1]["outcome"] == "unchanged"
    assert summary(order_id)["refunded"] == 1000
    assert sorted(m["amount"] for m in load_order(order_id).others["CM"]) == [300, 700]
