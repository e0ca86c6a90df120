"""The merchant's routing policy: strategy, weights and rules are configuration, not code.

Stored as one item (``CONFIG`` / ``ROUTING``), edited through ``PUT /v1/config/routing``,
read by the allocate step (cached for a minute per warm function).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.api.validation import GroupName, Id, distinct
from shared.operator_config import OperatorConfig
from shared.table import Table


class _Strict(BaseModel):
    # Strict: "5" is not 5 and true is not 1 (numbers come back from the table as int or float).
    model_config = ConfigDict(extra="forbid", strict=True)


# Lists that stand for sets: each value at most once.
LocationSet = Annotated[list[Id], AfterValidator(distinct)]
GroupSet = Annotated[list[GroupName], AfterValidator(distinct)]


class ShipCostIn(_Strict):
    base: int = Field(450, ge=0, description="cents per shipment")
    per_km: int = Field(2, ge=0, description="cents per km per shipment")
    per_unit: int = Field(60, ge=0, description="cents per unit shipped")


class ChannelRule(_Strict):
    """Where a channel's orders may ship from: listed locations and groups (empty = all)."""

    locations: LocationSet = []
    groups: GroupSet = []
    excluded: LocationSet = []


class RoutingPolicy(_Strict):
    strategy: Literal["baseline", "optimizer"] = "optimizer"
    default_ship_cost: ShipCostIn = ShipCostIn()
    default_handling: int = Field(150, ge=0, description="cents per shipment handled")
    split_cost: int = Field(300, ge=0, description="cents per shipment beyond the first")
    co2_cost_per_km: int = Field(0, ge=0, description="cents per km, the price put on emissions")
    preference_penalty: int = Field(200, ge=0, description="cents per shipment from the kind not preferred")
    backorder_penalty: int = Field(100_000, ge=1, description="cents per unit left unallocated")
    max_splits: int | None = Field(3, ge=1)
    prefer: Literal["store", "warehouse"] | None = None
    excluded_locations: LocationSet = []
    channels: dict[str, ChannelRule] = {}
    backorder_timeout_seconds: int = Field(7 * 24 * 3600, ge=1, le=365 * 24 * 3600)
    # How long the execution waits on a fulfillment order before it goes to operators: a wait
    # nobody ends (a lost task token, a location that never answers) becomes a process exception.
    fulfillment_timeout_seconds: int = Field(14 * 24 * 3600, ge=1, le=365 * 24 * 3600)
    max_allocation_attempts: int = Field(3, ge=1, le=10)
    # Times an order's rejected units are routed again before it goes to operators.
    max_reroute_attempts: int = Field(3, ge=1, le=20)
    updated_at: str | None = None


_config = OperatorConfig("routing_policy", "ROUTING", RoutingPolicy)


def load_policy() -> RoutingPolicy:
    return _config.load()


def save_policy(policy: RoutingPolicy, table: Table | None = None) -> RoutingPolicy:
    return _config.save(policy, table)
