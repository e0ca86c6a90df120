"""Fraud screening: rule-based signals over an order's facts, scored by the policy's weights.

Each signal is a yes/no question about the order; a signal that fires adds its weight, an
external provider's 0-100 score adds its share, and a score above the threshold puts the
order on a ``fraud_review`` hold. No I/O: the facts (the customer's history before this
order, velocity counts) are gathered by ``logic/screening.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from functions.holds.rules.policy import FraudPolicy

VELOCITY_KINDS = ("email", "card", "address")


@dataclass(frozen=True)
class OrderFacts:
    total: int  # minor units
    shipping_method: str
    shipping_country: str
    billing_country: str | None
    prior_orders: int  # the customer's orders before this one (in this currency)
    prior_average: int | None  # their average order value, minor units
    # Orders in the velocity window with this order's e-mail, payment token, address (this one included).
    velocity: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    score: int
    signals: dict[str, int]  # the signals that fired -> points each added
    hold: bool


def signals(facts: OrderFacts, policy: FraudPolicy) -> list[str]:
    """The names of the signals that fire (before weighting)."""
    fired: list[str] = []
    first = facts.prior_orders == 0
    if facts.prior_average and facts.total * 100 > facts.prior_average * policy.history_multiple_pct:
        fired.append("value_above_history")
    if first and facts.total > policy.first_order_value:
        fired.append("first_order_high_value")
    for kind in VELOCITY_KINDS:
        if facts.velocity.get(kind, 0) > policy.velocity_limit:
            fired.append(f"velocity_{kind}")
    if facts.billing_country and facts.billing_country != facts.shipping_country:
        fired.append("country_mismatch")
    if first and facts.shipping_method == "express":
        fired.append("first_order_express")
    return fired


def score(facts: OrderFacts, policy: FraudPolicy, provider_score: int | None = None) -> Verdict:
    weights = policy.weights.model_dump()
    points = {name: int(weights[name]) for name in signals(facts, policy) if weights[name] > 0}
    if provider_score:
        share = provider_score * policy.weights.provider_pct // 100
        if share:
            points["provider"] = share
    total = sum(points.values())
    return Verdict(score=total, signals=points, hold=policy.enabled and total > policy.threshold)
