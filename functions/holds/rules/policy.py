"""The hold policy operators edit (``PUT /v1/config/holds``): what an expired hold does, and
the fraud screening's weights and threshold."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HoldReason = Literal["fraud_review", "address_check", "payment_review", "customer_request", "other"]
HOLD_REASONS: tuple[HoldReason, ...] = (
    "fraud_review",
    "address_check",
    "payment_review",
    "customer_request",
    "other",
)
ExpiryAction = Literal["release", "cancel"]


class _Strict(BaseModel):
    # Strict: "5" is not 5 and true is not 1 (numbers come back from the table as int).
    model_config = ConfigDict(extra="forbid", strict=True)


class FraudWeights(_Strict):
    """Points each signal adds to the score when it fires (0 turns a signal off)."""

    value_above_history: int = Field(30, ge=0, le=100, description="total past history_multiple_pct of the average")
    first_order_high_value: int = Field(20, ge=0, le=100, description="a first order above first_order_value")
    velocity_email: int = Field(25, ge=0, le=100, description="orders from this e-mail in the window past the limit")
    velocity_card: int = Field(30, ge=0, le=100, description="orders with this payment token past the limit")
    velocity_address: int = Field(20, ge=0, le=100, description="orders to this address past the limit")
    country_mismatch: int = Field(25, ge=0, le=100, description="billing country differs from shipping country")
    first_order_express: int = Field(15, ge=0, le=100, description="a first order shipped express")
    provider_pct: int = Field(100, ge=0, le=100, description="percent of the external provider's 0-100 score added")


class FraudPolicy(_Strict):
    # Off until an operator turns it on: the velocity limits need tuning to the shop's traffic
    # (test and demo data reuse one card token and address for every order).
    enabled: bool = False
    # A score strictly above the threshold puts a fraud_review hold.
    threshold: int = Field(50, ge=0, le=1000)
    weights: FraudWeights = FraudWeights()
    history_multiple_pct: int = Field(300, ge=100, description="300: three times the customer's average order")
    first_order_value: int = Field(50_000, ge=0, description="minor units")
    velocity_window_hours: int = Field(24, ge=1, le=24 * 30)
    velocity_limit: int = Field(3, ge=1, description="orders in the window allowed before the signal fires")
    provider: Literal["none", "local"] = "none"
    # How long a hold the screening puts lasts before its expiry action applies (None: until released).
    hold_hours: int | None = Field(72, ge=1, le=24 * 365)


class HoldPolicy(_Strict):
    on_expiry: dict[HoldReason, ExpiryAction] = {
        "fraud_review": "cancel",
        "address_check": "release",
        "payment_review": "cancel",
        "customer_request": "release",
        "other": "release",
    }
    # A held order with no expiring hold looks again after this long (a Step Functions wait
    # needs a bound); nothing happens to it then but the look.
    recheck_seconds: int = Field(30 * 24 * 3600, ge=60, le=365 * 24 * 3600)
    fraud: FraudPolicy = FraudPolicy()
    updated_at: str | None = None

    def action_on_expiry(self, reason: str) -> ExpiryAction:
        """A reason the policy does not name is released (the safe side: nothing is cancelled unasked)."""
        return next((action for known, action in self.on_expiry.items() if known == reason), "release")
