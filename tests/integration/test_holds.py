"""Holds, fraud screening and actors on moto, through the real OrderLifecycle execution."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import boto3
import pytest

from functions.fulfill.handlers.api import handler as fulfillment_handler
from functions.fulfill.store import fulfillment_orders_of
from functions.holds.handlers.api import handler as holds_handler
from functions.holds.logic.policy import load_policy, save_policy
from functions.holds.rules.policy import FraudPolicy, HoldPolicy
from functions.inventory.store import get_stock
from shared.clock import iso, now
from shared.order.record import load_order
from shared.order.timeline import timeline
from tests.integration.conftest import (
    api_event,
    call,
    reads_of_partition,
    stock_up,
    wait_for_execution,
    wait_for_fulfillment_wait,
    wait_for_state,
)
from tests.integration.test_capture_api import order_body, post

WMS = "dev-wms-key"  # works wh-east, wh-west, wh-central
AGENT = "dev-agent-key"
LOCATION = "wh-east"


def _holds_api(method: str, order_id: str, suffix: str = "", *, body: Any = None, key: str = AGENT, **kw: Any):
    resource = "/v1/orders/{order_id}/holds" + ("/{hold_id}/release" if suffix else "")
    params = {"order_id": order_id, **({"hold_id": suffix} if suffix else {})}
    path = f"/v1/orders/{order_id}/holds" + (f"/{suffix}/release" if suffix else "")
    event = api_event(method, path, resource=resource, body=body, key=key, path_parameters=params, **kw)
    return call(holds_handler, event)


def _place(order_id: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    status, _, hold = _holds_api("POST", order_id, body=body, **kw)
    assert status == 201, hold
    return hold


def _release(order_id: str, hold_id: str, **kw: Any) -> tuple[int, Any]:
    status, _, out = _holds_api("POST", order_id, hold_id, body={"note": "checked with the customer"}, **kw)
    return status, out


def _ship(fo_id: str) -> None:
    path = f"/v1/fulfillment-orders/{fo_id}/ship"
    body = {"carrier": "dhl", "tracking_number": f"TRK{fo_id[-8:]}"}
    event = api_event(
        "POST",
        path,
        resource="/v1/fulfillment-orders/{fo_id}/ship",
        body=body,
        key=WMS,
        path_parameters={"fo_id": fo_id},
    )
    status, _, out = call(fulfillment_handler, event)
    assert status in (200, 201), out


def _entered(arn: str) -> list[str]:
    events = boto3.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def _header(order_id: str) -> dict[str, Any]:
    record = load_order(order_id)
    assert record is not None
    return record.header


def _events(order_id: str) -> list[dict[str, Any]]:
    items, _ = timeline(order_id, limit=500, cursor=None)
    return items


def _until(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _backordered(external_id: str, **body: Any) -> dict[str, Any]:
    """An order waiting for stock (nothing is stocked yet), so a hold is in place before its release."""
    stock_up({"OTHER-SKU": 1}, location_id=LOCATION)
    status, _, order = post(order_body(external_id, **body))
    assert status == 201, order
    assert "WaitForStock" in wait_for_state(order["workflow"]["execution_arn"], "WaitForStock", timeout=60)
    return order


def _no_screening() -> None:
    save_policy(HoldPolicy(fraud=FraudPolicy(enabled=False)))


def test_a_held_order_creates_no_fulfillment_order_until_released_then_completes(aws):
    _no_screening()
    order = _backordered("HOLD-1")
    order_id, arn = order["order_id"], order["workflow"]["execution_arn"]
    hold = _place(order_id, {"reason": "address_check", "note": "the street looks wrong"})
    assert hold["status"] == "active" and hold["placed_by"] == "agent-1"
    assert _header(order_id)["status"] == "on_hold"

    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)  # wakes the backorder
    assert "AwaitHoldRelease" in wait_for_state(arn, "AwaitHoldRelease", timeout=60)
    time.sleep(1.0)  # a release would have happened by now
    assert fulfillment_orders_of(order_id) == []
    assert get_stock("TSHIRT-M", LOCATION).reserved == 2  # allocated, held, not released
    assert _entered(arn)[-1] == "AwaitHoldRelease"  # still held there: nothing released

    status, released = _release(order_id, hold["hold_id"])
    assert status == 200, released
    assert released["status"] == "released" and released["ended_by"] == "agent-1"
    assert _header(order_id)["status"] == "open"
    (fo,) = _until(lambda: fulfillment_orders_of(order_id))
    _ship(fo["fo_id"])
    assert wait_for_execution(arn, timeout=60)["status"] == "SUCCEEDED"
    assert _header(order_id)["status"] == "completed"
    kinds = [e["kind"] for e in _events(order_id)]
    assert kinds.index("order.hold_released") < kinds.index("fulfillment.released")

    # A released hold cannot be released again; an unknown one is 404.
    assert _release(order_id, hold["hold_id"])[0] == 409
    assert _release(order_id, "hld_unknown")[0] == 404


def test_placing_a_hold_is_idempotent_and_only_for_agents_and_operators(aws):
    _no_screening()
    order = _backordered("HOLD-IDEM")
    body = {"reason": "customer_request"}
    first = _place(order["order_id"], body, headers={"Idempotency-Key": "h-1"})
    again = _place(order["order_id"], body, headers={"Idempotency-Key": "h-1"})
    assert again["hold_id"] == first["hold_id"]
    assert _holds_api("POST", order["order_id"], body={"reason": "other"}, headers={"Idempotency-Key": "h-1"})[0] == 409
    assert _holds_api("POST", order["order_id"], body=body, key="dev-web-key")[0] == 403
    assert _holds_api("POST", order["order_id"], body={"reason": "whim"})[0] == 422
    past = iso(now() - timedelta(minutes=1))
    assert _holds_api("POST", order["order_id"], body={"reason": "other", "expires_at": past})[0] == 422
    status, _, page = _holds_api("GET", order["order_id"])
    assert status == 200 and [h["hold_id"] for h in page["items"]] == [first["hold_id"]]


def test_an_expired_hold_is_released_by_its_policy_and_the_order_goes_on(aws):
    _no_screening()
    order = _backordered("HOLD-EXP-REL")
    order_id, arn = order["order_id"], order["workflow"]["execution_arn"]
    blocker = _place(order_id, {"reason": "other"})
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)
    assert "AwaitHoldRelease" in wait_for_state(arn, "AwaitHoldRelease", timeout=60)
    # A hold with an expiry wakes the wait, which is taken again until that expiry.
    timed = _place(order_id, {"reason": "address_check", "expires_at": iso(now() + timedelta(seconds=4))})
    assert timed["on_expiry"] == "release"
    assert _release(order_id, blocker["hold_id"])[0] == 200
    assert _header(order_id)["status"] == "on_hold"  # the timed hold still holds it

    assert len(_until(lambda: fulfillment_orders_of(order_id))) == 1
    expired = next(h for h in _holds_api("GET", order_id)[2]["items"] if h["hold_id"] == timed["hold_id"])
    assert expired["status"] == "expired" and expired["ended_by"] == "system"
    assert _header(order_id)["status"] == "open"
    kinds = [e["kind"] for e in _events(order_id)]
    assert kinds.index("order.hold_expired") < kinds.index("fulfillment.released")
    assert _entered(arn).count("AwaitHoldRelease") >= 2


def test_an_expired_hold_whose_policy_cancels_cancels_the_order_and_returns_its_stock(aws):
    policy = HoldPolicy(fraud=FraudPolicy(enabled=False))
    save_policy(policy.model_copy(update={"on_expiry": {**policy.on_expiry, "customer_request": "cancel"}}))
    order = _backordered("HOLD-EXP-CAN")
    order_id, arn = order["order_id"], order["workflow"]["execution_arn"]
    hold = _place(order_id, {"reason": "customer_request", "expires_at": iso(now() + timedelta(seconds=4))})
    assert hold["on_expiry"] == "cancel"
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)  # allocated, then held until the expiry
    assert wait_for_execution(arn, timeout=60)["status"] == "SUCCEEDED"
    header = _header(order_id)
    assert header["status"] == "cancelled" and "holds" not in header
    assert fulfillment_orders_of(order_id) == []
    assert get_stock("TSHIRT-M", LOCATION).reserved == 0 and get_stock("JEANS-32", LOCATION).reserved == 0
    by_kind = {e["kind"]: e for e in _events(order_id)}
    assert by_kind["order.cancelled"]["actor"] == "system"
    assert by_kind["order.hold_expired"]["actor"] == "system"


def _fraud_policy(**over: Any) -> None:
    fraud = FraudPolicy(**({"enabled": True, "threshold": 50, "first_order_value": 5_000} | over))
    save_policy(HoldPolicy(fraud=fraud))


def test_a_crafted_order_fires_the_fraud_rules_and_waits_on_a_fraud_review_hold(aws):
    _fraud_policy()
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)
    shipping = {
        "address": {"line1": "9 Quay St", "city": "Lagos", "postal_code": "100001", "country": "NG"},
        "method": "express",
        "amount": 2999,
    }
    billing = {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    body = order_body("FRAUD-1", shipping=shipping, billing_address=billing)
    body["customer"] = {"email": "first.timer@example.com", "name": "First Timer"}
    status, _, order = post(body)
    assert status == 201, order
    order_id, arn = order["order_id"], order["workflow"]["execution_arn"]
    assert "AwaitHoldRelease" in wait_for_state(arn, "AwaitHoldRelease", timeout=60)
    header = _header(order_id)
    assert header["status"] == "on_hold"
    (hold,) = _holds_api("GET", order_id)[2]["items"]
    assert hold["reason"] == "fraud_review" and hold["source"] == "fraud_screening" and hold["placed_by"] == "system"
    assert hold["on_expiry"] == "cancel" and hold["expires_at"]
    screening = load_order(order_id).others["SCREENING"][0]  # type: ignore[union-attr]
    assert screening["signals"] == {"first_order_high_value": 20, "country_mismatch": 25, "first_order_express": 15}
    assert screening["score"] == 60 and screening["hold_id"] == hold["hold_id"]
    time.sleep(0.5)
    assert fulfillment_orders_of(order_id) == []

    # An agent reviews it and lets it go: the workflow resumes and releases it (screened once).
    assert _release(order_id, hold["hold_id"])[0] == 200
    assert len(_until(lambda: fulfillment_orders_of(order_id))) == 1
    assert [e["kind"] for e in _events(order_id)].count("order.hold_placed") == 1


def test_an_ordinary_order_passes_the_screening_and_the_provider_flags_a_disposable_mailbox(aws):
    _fraud_policy(provider="local")
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)
    status, _, plain = post(order_body("FRAUD-OK"))
    assert status == 201
    assert wait_for_fulfillment_wait(plain["order_id"], timeout=60)
    assert "AwaitHoldRelease" not in _entered(plain["workflow"]["execution_arn"])

    body = order_body("FRAUD-MAIL")
    body["customer"] = {"email": "buyer@mailinator.com", "name": "Throwaway"}
    status, _, flagged = post(body)
    assert status == 201
    assert "AwaitHoldRelease" in wait_for_state(flagged["workflow"]["execution_arn"], "AwaitHoldRelease", timeout=60)
    screening = load_order(flagged["order_id"]).others["SCREENING"][0]  # type: ignore[union-attr]
    assert screening["provider"] == "local" and screening["signals"]["provider"] == 80


@pytest.mark.parametrize("screening", ["disabled", "passed"])
def test_the_gate_reads_the_header_and_the_verdict_in_one_request(aws, monkeypatch, screening):
    from functions.holds.logic.gate import check_holds

    if screening == "disabled":
        _no_screening()
    else:
        _fraud_policy()
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    status, _, order = post(order_body(f"GATE-READS-{screening}"))
    assert status == 201
    reads = reads_of_partition(monkeypatch, f"ORDER#{order['order_id']}")
    first = check_holds(order["order_id"])
    assert first["held"] is False and reads == [("BatchGetItem", ["HEADER", "SCREENING"])]
    reads.clear()
    again = check_holds(order["order_id"])  # screened already: the stored verdict and the header, read together
    assert again == first and reads == [("BatchGetItem", ["HEADER", "SCREENING"])]


def test_velocity_per_email_fires_past_the_limit(aws):
    _fraud_policy(velocity_limit=2, threshold=20)
    stock_up({"TSHIRT-M": 50, "JEANS-32": 50}, location_id=LOCATION)
    arns = []
    for n in range(3):
        status, _, order = post(order_body(f"VEL-{n}"))
        assert status == 201
        arns.append((order["order_id"], order["workflow"]["execution_arn"]))
        if n < 2:
            wait_for_fulfillment_wait(order["order_id"], timeout=60)
        else:
            wait_for_state(arns[-1][1], "AwaitHoldRelease", timeout=60)
    third = load_order(arns[-1][0]).others["SCREENING"][0]  # type: ignore[union-attr]
    assert third["velocity"]["email"] == 3 and "velocity_email" in third["signals"]
    assert third["hold"] is True


def test_every_timeline_event_names_its_actor(aws):
    _no_screening()
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)
    status, _, order = post(order_body("ACTORS-1"))
    assert status == 201
    order_id, arn = order["order_id"], order["workflow"]["execution_arn"]
    (fo,) = _until(lambda: fulfillment_orders_of(order_id))
    _ship(fo["fo_id"])
    assert wait_for_execution(arn, timeout=60)["status"] == "SUCCEEDED"
    events = _events(order_id)
    by_kind = {e["kind"]: e["actor"] for e in events}
    assert by_kind["order.captured"] == "channel-web"  # the channel's key that captured it
    assert by_kind["fulfillment.released"] == "system"  # a workflow step
    assert all(e.get("actor") for e in events)
    from functions.capture.handlers.api import handler as capture_handler

    path = f"/v1/orders/{order_id}/timeline"
    event = api_event("GET", path, resource="/v1/orders/{order_id}/timeline", path_parameters={"order_id": order_id})
    status, _, page = call(capture_handler, event)
    assert status == 200 and all("actor" in e for e in page["items"])
    assert {e["actor"] for e in page["items"]} >= {"channel-web", "system"}


def test_the_hold_policy_is_read_and_replaced_by_operators(aws):
    from tests.integration.conftest import api_event as event_for

    def policy_call(method: str, key: str, body: Any = None):
        return call(
            holds_handler, event_for(method, "/v1/config/holds", resource="/v1/config/holds", body=body, key=key)
        )

    status, _, policy = policy_call("GET", "dev-ops-key")
    assert status == 200 and policy["fraud"]["threshold"] == 50
    policy["fraud"]["threshold"] = 70
    policy.pop("updated_at")
    assert policy_call("PUT", "dev-agent-key", policy)[0] == 403
    status, _, saved = policy_call("PUT", "dev-ops-key", policy)
    assert status == 200 and saved["fraud"]["threshold"] == 70
    assert load_policy().fraud.threshold == 70
    assert policy_call("PUT", "dev-ops-key", {"fraud": {"threshold": "high"}})[0] == 422


@pytest.mark.parametrize("reason", ["fraud_review", "payment_review"])
def test_holds_of_a_closed_order_are_refused(aws, reason):
    _no_screening()
    order = _backordered(f"HOLD-CLOSED-{reason}")
    from functions.changes.handlers.api import handler as changes_handler

    order_id = order["order_id"]
    event = api_event(
        "POST",
        f"/v1/orders/{order_id}/cancel",
        resource="/v1/orders/{order_id}/cancel",
        body={"reason": "changed mind"},
        path_parameters={"order_id": order_id},
    )
    assert call(changes_handler, event)[0] == 201
    assert _holds_api("POST", order_id, body={"reason": reason})[0] == 409


def test_a_held_order_cancelled_while_its_workflow_waits_ends_the_wait(aws):
    _no_screening()
    order = _backordered("HOLD-CANCELLED")
    order_id, arn = order["order_id"], order["workflow"]["execution_arn"]
    _place(order_id, {"reason": "customer_request"})
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)
    assert "AwaitHoldRelease" in wait_for_state(arn, "AwaitHoldRelease", timeout=60)
    from functions.changes.handlers.api import handler as changes_handler

    event = api_event(
        "POST",
        f"/v1/orders/{order_id}/cancel",
        resource="/v1/orders/{order_id}/cancel",
        body={"reason": "customer asked"},
        path_parameters={"order_id": order_id},
    )
    assert call(changes_handler, event)[0] == 201
    assert wait_for_execution(arn, timeout=60)["status"] == "SUCCEEDED"
    assert _header(order_id)["status"] == "cancelled"
    assert fulfillment_orders_of(order_id) == []
    assert get_stock("TSHIRT-M", LOCATION).reserved == 0


def test_a_hold_placed_after_the_release_read_the_order_releases_nothing(aws, monkeypatch: pytest.MonkeyPatch):
    """The release's transaction carries the no-hold condition: a release that read the order
    before a hold committed creates no fulfillment order (it fails without the condition)."""
    from functions.allocate.logic.allocation import allocate_order
    from functions.fulfill.logic import release
    from functions.holds.logic.holds import place
    from shared.order.state import OrderHeld

    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)
    status, _, order = post(order_body("HOLD-RACE"))
    assert status == 201
    order_id = order["order_id"]
    assert allocate_order(order_id).backordered_units == 0
    before_hold = load_order(order_id)
    place(order_id, "address_check", note=None, expires_at=None, on_expiry="release")

    reads = iter([before_hold])
    monkeypatch.setattr(release, "load_order", lambda oid, table=None: next(reads, None) or load_order(oid))
    with pytest.raises(OrderHeld):
        release.release_to_fulfillment(order_id)
    assert fulfillment_orders_of(order_id) == []
    assert "fulfillment.released" not in [e["kind"] for e in _events(order_id)]


def test_a_hold_placed_between_the_gate_and_the_release_sends_advance_order_to_the_wait(
    aws, monkeypatch: pytest.MonkeyPatch
):
    """AdvanceOrder's gate found the order free, then a hold committed before the release:
    the release refuses (OrderHeld), the step looks at the gate again and answers
    ``await_hold_release`` with no fulfillment order made, instead of failing the order."""
    from functions.fulfill.logic.release import release_to_fulfillment
    from functions.holds.logic.holds import place
    from functions.lifecycle.logic import advance

    _no_screening()
    monkeypatch.setattr("functions.capture.logic.capture.start_order_lifecycle", lambda order_id, **_: "")
    stock_up({"TSHIRT-M": 10, "JEANS-32": 10}, location_id=LOCATION)
    status, _, order = post(order_body("HOLD-GATE-RACE"))
    assert status == 201
    order_id = order["order_id"]
    releases: list[str] = []

    def hold_first(oid: str) -> dict[str, Any]:
        if not releases:  # the agent's hold lands just after the gate looked
            place(oid, "address_check", note=None, expires_at=None, on_expiry="release")
        releases.append(oid)
        return release_to_fulfillment(oid)

    monkeypatch.setattr(advance, "release_to_fulfillment", hold_first)
    outcome = advance.advance_order(order_id)
    assert outcome.next == "await_hold_release" and outcome.hold_timeout_seconds
    assert releases == [order_id]  # the gate, not a second release, answered
    assert fulfillment_orders_of(order_id) == []
    assert get_stock("TSHIRT-M", LOCATION).reserved == 2  # allocated and kept while held
    authorized = [e for e in _events(order_id) if e["kind"] == "payment.authorized"]
    assert len(authorized) == 1
