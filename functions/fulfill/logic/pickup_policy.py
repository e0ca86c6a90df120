"""The merchant's pickup policy: how long a store holds a pickup order and how many wrong
codes it takes. One item (``CONFIG`` / ``PICKUP``), edited through ``PUT /v1/config/pickup``."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from shared.operator_config import OperatorConfig
from shared.table import Table


class PickupPolicy(BaseModel):
    # Strict: "7" is not 7 (numbers come back from the table as int or float).
    model_config = ConfigDict(extra="forbid", strict=True)

    no_show_after_days: float = Field(
        7,
        gt=0,
        le=300,  # a Standard execution lives a year at most
        description="days a ready pickup order waits for the customer; then it is cancelled, "
        "its payment voided or refunded and its units restocked (fractions allowed: 0.5 is 12 hours)",
    )
    max_code_attempts: int = Field(5, ge=1, le=20, description="wrong codes before a new code must be issued")
    updated_at: str | None = None

    def no_show_at(self, ready_at: datetime) -> datetime:
        return ready_at + timedelta(days=self.no_show_after_days)


_config = OperatorConfig("pickup_policy", "PICKUP", PickupPolicy)


def load_pickup_policy() -> PickupPolicy:
    return _config.load()


def save_pickup_policy(policy: PickupPolicy, table: Table | None = None) -> PickupPolicy:
    return _config.save(policy, table)
