"""The fraud signals and their score, hold expiry and the actor every timeline event names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.holds.logic.providers import LocalProvider
from functions.holds.rules.fraud import OrderFacts, score, signals
from functions.holds.rules.holds import due, wait_seconds
from functions.holds.rules.policy import FraudPolicy, FraudWeights, HoldPolicy
from shared.actor import acting_as, current_actor
from shared.api.app import request_actor
from shared.order.timeline import event_item

POLICY = FraudPolicy(enabled=True, threshold=50, first_order_value=50_000, history_multiple_pct=300, velocity_limit=3)


def _facts(**over: object) -> OrderFacts:
    base: dict[str, object] = {
        "total": 10_000,
        "shipping_method": "standard",
        "shipping_country": "DE",
        "billing_country": "DE",
        "prior_orders": 4,
        "prior_average": 9_000,
        "velocity": {"email": 1, "card": 1, "address": 1},
    }
    return OrderFacts(**(base | over))  # type: ignore[arg-type]


def test_an_ordinary_repeat_order_fires_nothing():
    assert signals(_facts(), POLICY) == []
    verdict = score(_facts(), POLICY)
    assert verdict.score == 0 and not verdict.hold


def test_each_signal_fires_on_its_own_fact():
    assert signals(_facts(total=27_001), POLICY) == ["value_above_history"]
    assert signals(_facts(total=27_000), POLICY) == []  # exactly three times the average is not above it
    assert signals(_facts(prior_orders=0, prior_average=None, total=50_001), POLICY) == ["first_order_high_value"]
    assert signals(_facts(velocity={"email": 4, "card": 3, "address": 9}), POLICY) == [
        "velocity_email",
        "velocity_address",
    ]
    assert signals(_facts(billing_country="US"), POLICY) == ["country_mismatch"]
    assert signals(_facts(billing_country=None), POLICY) == []
    assert signals(_facts(prior_orders=0, prior_average=None, shipping_method="express"), POLICY) == [
        "first_order_express"
    ]
    assert signals(_facts(shipping_method="express"), POLICY) == []  # a returning customer's express


def test_the_weights_add_up_and_only_a_score_above_the_threshold_holds():
    crafted = _facts(prior_orders=0, prior_average=None, total=60_000, shipping_method="express", billing_country="NG")
    verdict = score(crafted, POLICY)
    assert verdict.signals == {"first_order_high_value": 20, "country_mismatch": 25, "first_order_express": 15}
    assert verdict.score == 60 and verdict.hold
    at_threshold = POLICY.model_copy(update={"threshold": 60})
    assert not score(crafted, at_threshold).hold
    muted = POLICY.model_copy(update={"weights": FraudWeights(country_mismatch=0)})
    assert score(crafted, muted).signals == {"first_order_high_value": 20, "first_order_express": 15}
    assert not score(crafted, POLICY.model_copy(update={"enabled": False})).hold


def test_the_provider_adds_its_share_of_its_score():
    half = POLICY.model_copy(update={"weights": FraudWeights(provider_pct=50)})
    verdict = score(_facts(), half, provider_score=80)
    assert verdict.signals == {"provider": 40} and verdict.score == 40 and not verdict.hold
    assert score(_facts(), POLICY, provider_score=80).hold


def test_the_local_provider_is_deterministic():
    risky = LocalProvider().screen({"order_id": "ord_1", "customer": {"email": "a@Mailinator.com"}})
    assert risky.score == 80 and risky.reasons == ["disposable_email"]
    token = LocalProvider().screen({"customer": {"email": "a@b.de"}, "payment": {"token": "tok_fraud"}})
    assert token.score == 100
    assert LocalProvider().screen({"customer": {"email": "a@b.de"}}).score == 0


def test_expiry_and_the_wait_until_the_next_one():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    holds = {
        "hld_a": {"reason": "other", "expires_at": "2026-01-01T12:00:30.000Z"},
        "hld_b": {"reason": "other", "expires_at": "2026-01-01T11:59:00.000Z"},
        "hld_c": {"reason": "other"},
    }
    assert due(holds, now) == ["hld_b"]
    assert due(holds, now + timedelta(minutes=1)) == ["hld_b", "hld_a"]
    assert wait_seconds({"hld_a": holds["hld_a"]}, now, longest=3600) == 31
    assert wait_seconds({"hld_b": holds["hld_b"]}, now, longest=3600) == 1  # overdue: look at once
    assert wait_seconds({"hld_c": holds["hld_c"]}, now, longest=3600) == 3600


def test_the_policy_names_an_action_per_reason_and_releases_an_unnamed_one():
    policy = HoldPolicy(on_expiry={"fraud_review": "cancel"})
    assert policy.action_on_expiry("fraud_review") == "cancel"
    assert policy.action_on_expiry("address_check") == "release"
    assert HoldPolicy().action_on_expiry("payment_review") == "cancel"


def test_timeline_events_name_the_actor_of_the_request_or_system():
    assert current_actor() == "system"
    assert event_item("ord_1", "order.created", {})["actor"] == "system"
    with acting_as("agent-1"):
        assert event_item("ord_1", "order.cancelled", {})["actor"] == "agent-1"
        with acting_as(None):
            assert current_actor() == "system"
    assert current_actor() == "system"
    assert event_item("ord_1", "x", {}, actor="webhook:stripe")["actor"] == "webhook:stripe"


def test_the_request_actor_is_the_authorizers_principal_or_the_webhook_sender():
    authorized = {"path": "/v1/orders", "requestContext": {"authorizer": {"principal_id": "ops-1", "role": "ops"}}}
    assert request_actor(authorized) == "ops-1"
    assert request_actor({"path": "/v1/webhooks/payments/stripe", "requestContext": {}}) == "webhook:stripe"
    assert request_actor({"path": "/v1/docs"}) == "system"
