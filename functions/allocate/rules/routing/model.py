"""What routing reads and returns. Money in integer minor units (cents), distances in km."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SiteType = Literal["warehouse", "store", "dropship"]
Strategy = Literal["baseline", "optimizer"]


@dataclass(frozen=True, slots=True)
class LineDemand:
    line_id: str
    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"line {self.line_id}: quantity must be at least 1")


@dataclass(frozen=True, slots=True)
class ShipCost:
    base: int  # per shipment
    per_km: int  # per shipment and km to the destination
    per_unit: int


@dataclass(frozen=True, slots=True)
class Site:
    location_id: str
    lat: float
    lon: float
    type: SiteType
    active: bool = True
    capacity_left: int | None = None  # shipments it can still take today; None = unlimited
    ship_cost: ShipCost | None = None  # None: the config's default
    handling: int | None = None  # per shipment handled there; None: the config's default
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Destination:
    """Where the order goes. Without coordinates every distance counts as 0."""

    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class RoutingRules:
    allowed: frozenset[str] | None = None  # location ids (channel and groups already resolved); None = all
    excluded: frozenset[str] = frozenset()
    max_splits: int | None = None  # most shipments (locations) for the order; None = no limit
    prefer: Literal["store", "warehouse"] | None = None  # the other kind pays the preference penalty
    pickup_location_id: str | None = None  # pickup: only this location; what it lacks is backordered

    def __post_init__(self) -> None:
        if self.max_splits is not None and self.max_splits < 1:
            raise ValueError("max_splits must be at least 1 (or None for no limit)")


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    strategy: Strategy = "optimizer"
    default_ship_cost: ShipCost = field(default_factory=lambda: ShipCost(base=450, per_km=2, per_unit=60))
    default_handling: int = 150
    split_cost: int = 300  # every shipment after the first
    co2_cost_per_km: int = 0  # per shipment and km
    preference_penalty: int = 200  # per shipment from the kind the rules do not prefer
    backorder_penalty: int = 100_000  # per unit not allocated
    exact_max_lines: int = 40
    exact_max_sites: int = 200
    time_limit_ms: int = 40


@dataclass(frozen=True, slots=True)
class Assignment:
    line_id: str
    location_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Plan:
    assignments: list[Assignment]
    backordered: dict[str, int]  # line_id -> units not allocated; lines fully allocated are absent
    strategy: str
    exact: bool  # proven optimal for the optimizer; the baseline's rule followed exactly for the baseline
    cost: int  # plan_cost, backorder penalty included
    shipments: int
    avg_distance_km: float
    solve_ms: float
    reason: str
    backorder_cost: int = 0  # the backorder penalty inside cost

    @property
    def fulfilment_cost(self) -> int:
        """What shipping the allocated part costs (cost without the backorder penalty)."""
        return self.cost - self.backorder_cost

    @property
    def location_ids(self) -> list[str]:
        return sorted({a.location_id for a in self.assignments})
