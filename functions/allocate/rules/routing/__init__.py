"""Distributed order routing: which locations ship which units of an order.

Pure domain logic, no I/O. ``route`` takes the order's lines, the stock available to
promise per sku and location, the locations, the destination, the merchant's rules and
the configuration, and returns a ``Plan``. Two strategies, scored by the same
``plan_cost`` (see ``costs``):

- ``baseline``: what Salesforce Order Management offers, fewest shipments then shortest
  average distance (see ``baseline``);
- ``optimizer``: minimum cost, exact (MILP, HiGHS) for ordinary orders, a bounded search
  beyond, never costlier than the baseline (see ``optimizer``).

Both are deterministic and never break a rule or promise more than the stock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from functions.allocate.rules.routing.baseline import route_baseline
from functions.allocate.rules.routing.channels import resolve_allowed
from functions.allocate.rules.routing.checks import violations
from functions.allocate.rules.routing.costs import plan_cost
from functions.allocate.rules.routing.model import (
    Assignment,
    Destination,
    LineDemand,
    Plan,
    RoutingConfig,
    RoutingRules,
    ShipCost,
    Site,
)
from functions.allocate.rules.routing.optimizer import route_optimizer
from functions.allocate.rules.routing.problem import prepare

__all__ = [
    "Assignment",
    "Destination",
    "LineDemand",
    "Plan",
    "RoutingConfig",
    "RoutingRules",
    "ShipCost",
    "Site",
    "plan_cost",
    "resolve_allowed",
    "route",
    "violations",
]


def route(
    lines: Sequence[LineDemand],
    stock: Mapping[str, Mapping[str, int]],
    sites: Sequence[Site],
    destination: Destination,
    rules: RoutingRules,
    config: RoutingConfig,
) -> Plan:
    """Allocate the order's lines to locations, with the strategy the config names.

    ``stock`` maps sku -> location id -> units available to promise (missing means 0).
    Lines of the same sku share that stock. What cannot be allocated is backordered.
    """
    problem = prepare(lines, stock, sites, destination, rules, config)
    if config.strategy == "baseline":
        return route_baseline(problem)
    return route_optimizer(problem)
