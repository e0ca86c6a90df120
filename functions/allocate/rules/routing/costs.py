"""The one cost model every plan is scored with, whichever strategy made it.

For each location that ships part of the order (one shipment per location):

    base + per_km * km + per_unit * units + handling
    + co2_cost_per_km * km
    + preference_penalty   if the rules prefer a kind and the location is of the other kind
                           (a dropship vendor counts as a warehouse)

plus ``split_cost`` for every shipment after the first, plus ``backorder_penalty`` for
every unit not allocated. ``km`` is the great-circle distance from the location to the
destination rounded half up to whole km (0 without destination coordinates); a
location's ``ship_cost`` and ``handling`` fall back to the config's defaults. Every term
is an integer in minor units, so costs compare exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from functions.allocate.rules.routing.geo import distance_km
from functions.allocate.rules.routing.model import Assignment, Destination, RoutingConfig, RoutingRules, Site


@dataclass(frozen=True, slots=True)
class SiteTerms:
    """A location's cost for this order: ``fixed`` per shipment (split cost aside) and ``per_unit``."""

    distance_km: int
    fixed: int
    per_unit: int


def is_preferred_kind(site: Site, prefer: str | None) -> bool:
    if prefer is None:
        return True
    kind = "store" if site.type == "store" else "warehouse"
    return kind == prefer


def site_terms(site: Site, destination: Destination, config: RoutingConfig, rules: RoutingRules) -> SiteTerms:
    ship = site.ship_cost or config.default_ship_cost
    handling = config.default_handling if site.handling is None else site.handling
    km = distance_km(site.lat, site.lon, destination.lat, destination.lon)
    fixed = ship.base + ship.per_km * km + handling + config.co2_cost_per_km * km
    if not is_preferred_kind(site, rules.prefer):
        fixed += config.preference_penalty
    return SiteTerms(distance_km=km, fixed=fixed, per_unit=ship.per_unit)


def plan_cost(
    assignments: Iterable[Assignment],
    sites_by_id: Mapping[str, Site],
    destination: Destination,
    config: RoutingConfig,
    rules: RoutingRules,
    backordered: Mapping[str, int] | None = None,
) -> int:
    """The cost of a plan under the model above; ``backordered`` maps line ids to units not allocated."""
    units: dict[str, int] = defaultdict(int)
    for a in assignments:
        units[a.location_id] += a.quantity
    used = [loc for loc, n in units.items() if n > 0]
    total = config.split_cost * max(0, len(used) - 1)
    for loc in used:
        terms = site_terms(sites_by_id[loc], destination, config, rules)
        total += terms.fixed + terms.per_unit * units[loc]
    if backordered:
        total += config.backorder_penalty * sum(backordered.values())
    return total
