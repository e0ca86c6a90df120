"""From an order and the current stock to a routing plan (no writes)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from functions.allocate.logic.policy import RoutingPolicy
from functions.allocate.rules.routing import (
    Destination,
    LineDemand,
    Plan,
    RoutingConfig,
    RoutingRules,
    ShipCost,
    Site,
    route,
)
from functions.inventory.api import Location, capacity_used, list_locations, locations_version, stock_for_skus
from shared.order.quantities import LineQuantities
from shared.table import Item
from shared.warm_cache import WarmCache


def open_quantity(line: Item) -> int:
    """Units of a line that still need a location: ordered, not allocated, not cancelled."""
    return LineQuantities.of(line).to_allocate


@dataclass(frozen=True)
class PlanningInput:
    demands: list[LineDemand]
    stock: dict[str, dict[str, int]]
    sites: list[Site]
    destination: Destination
    rules: RoutingRules
    config: RoutingConfig
    # Shipments a location takes per day (None: no limit), for the capacity counters.
    daily_capacity: dict[str, int | None]


def routing_config(policy: RoutingPolicy) -> RoutingConfig:
    return RoutingConfig(
        strategy=policy.strategy,
        default_ship_cost=ShipCost(**policy.default_ship_cost.model_dump()),
        default_handling=policy.default_handling,
        split_cost=policy.split_cost,
        co2_cost_per_km=policy.co2_cost_per_km,
        preference_penalty=policy.preference_penalty,
        backorder_penalty=policy.backorder_penalty,
    )


def _site(location: Location, used_today: int) -> Site:
    left = None if location.daily_capacity is None else max(0, location.daily_capacity - used_today)
    return Site(
        location_id=location.location_id,
        lat=location.lat,
        lon=location.lon,
        type=location.type,
        active=location.active,
        capacity_left=left,
        ship_cost=ShipCost(**location.ship_cost.model_dump()) if location.ship_cost else None,
        handling=location.handling,
        groups=frozenset(location.groups),
    )


def _rules(header: Item, policy: RoutingPolicy, locations: list[Location]) -> RoutingRules:
    rule = policy.channels.get(header["channel"])
    allowed: frozenset[str] | None = None
    # Locations that rejected this order's units never get them again.
    excluded = set(policy.excluded_locations) | set(header.get("excluded_locations", []))
    excluded |= set(header.get("rejected_locations", []))
    if rule:
        if rule.locations or rule.groups:
            allowed = frozenset(
                loc.location_id
                for loc in locations
                if loc.location_id in rule.locations or set(rule.groups) & set(loc.groups)
            )
        excluded |= set(rule.excluded)
    shipping = header.get("shipping", {})
    return RoutingRules(
        allowed=allowed,
        excluded=frozenset(excluded),
        max_splits=policy.max_splits,
        prefer=policy.prefer,
        pickup_location_id=shipping.get("pickup_location_id") if shipping.get("method") == "pickup" else None,
    )


# The location list, kept per warm function while its version stands (one read instead of
# a query per order); stock and capacity are always read fresh.
_locations = WarmCache("locations", lambda _version: list_locations(), ttl_seconds=300)


def known_locations() -> list[Location]:
    return _locations.get(locations_version())


def gather(header: Item, lines: list[Item], policy: RoutingPolicy, day: str) -> PlanningInput:
    """Read what routing needs: open lines, locations with today's capacity, their stock."""
    demands = [
        LineDemand(line_id=line["line_id"], sku=line["sku"], quantity=open_quantity(line))
        for line in lines
        if open_quantity(line) > 0
    ]
    locations = known_locations()
    used = capacity_used([loc.location_id for loc in locations if loc.daily_capacity is not None], day)
    skus = sorted({d.sku for d in demands})
    records = stock_for_skus(skus) if skus else {}
    stock = {sku: {loc: rec.available_to_promise for loc, rec in by_loc.items()} for sku, by_loc in records.items()}
    address = header.get("shipping", {}).get("address", {})
    return PlanningInput(
        demands=demands,
        stock=stock,
        sites=[_site(loc, used.get(loc.location_id, 0)) for loc in locations],
        destination=Destination(lat=address.get("lat"), lon=address.get("lon")),
        rules=_rules(header, policy, locations),
        config=routing_config(policy),
        daily_capacity={loc.location_id: loc.daily_capacity for loc in locations},
    )


# HiGHS keeps a scheduler per OS thread and aborts the whole process when a thread that
# solved exits. A Lambda invocation's thread lives as long as its process; the local stack
# runs each invocation on a short-lived thread. One long-lived solver thread serves both.
_SOLVER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="routing-solver")


def make_plan(inputs: PlanningInput) -> Plan:
    return _SOLVER.submit(
        route, inputs.demands, inputs.stock, inputs.sites, inputs.destination, inputs.rules, inputs.config
    ).result()
