"""Routing on random small networks: rules, stock and quantities always hold; the optimizer is exact.

The exact optimum is found by brute force: for every set of eligible locations (within
max_splits), each sku takes its units from the set's cheapest per-unit locations first;
the cheapest of those plans is the optimum (the set actually used by an optimal plan is
among them, and filling it that way costs no more).
"""

from dataclasses import replace
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.allocate.rules.routing import (
    Assignment,
    Destination,
    LineDemand,
    RoutingConfig,
    RoutingRules,
    ShipCost,
    Site,
    plan_cost,
    route,
    violations,
)
from functions.allocate.rules.routing.geo import distance_km
from functions.allocate.rules.routing.problem import is_eligible

SKUS = ["A", "B", "C"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def sites(draw):
    count = draw(st.integers(1, 5))
    out = []
    for i in range(count):
        cost = draw(st.none() | st.builds(ShipCost, st.integers(0, 600), st.integers(0, 4), st.integers(0, 150)))
        out.append(
            Site(
                location_id=f"loc-{i}",
                lat=draw(st.floats(45, 50)),
                lon=draw(st.floats(5, 12)),
                type=draw(st.sampled_from(["warehouse", "store", "dropship"])),
                active=draw(st.sampled_from([True, True, True, False])),
                capacity_left=draw(st.sampled_from([None, None, 0, 1, 3])),
                ship_cost=cost,
                handling=draw(st.none() | st.integers(0, 400)),
            )
        )
    return out


@st.composite
def orders(draw):
    network = draw(sites())
    ids = [s.location_id for s in network]
    stock = {sku: {loc: draw(st.integers(0, 4)) for loc in ids} for sku in SKUS}
    count = draw(st.integers(1, 4))
    lines = [LineDemand(f"L{i}", draw(st.sampled_from(SKUS)), draw(st.integers(1, 4))) for i in range(count)]
    destination = draw(st.just(Destination(None, None)) | st.builds(Destination, st.floats(45, 50), st.floats(5, 12)))
    some_ids = st.frozensets(st.sampled_from(ids))
    rules = RoutingRules(
        allowed=draw(st.none() | some_ids),
        excluded=draw(st.just(frozenset()) | some_ids),
        max_splits=draw(st.sampled_from([None, None, 1, 2, 3])),
        prefer=draw(st.sampled_from([None, "store", "warehouse"])),
        pickup_location_id=draw(st.sampled_from([None, None, None, *ids])),
    )
    config = RoutingConfig(
        split_cost=draw(st.integers(0, 800)),
        co2_cost_per_km=draw(st.integers(0, 3)),
        preference_penalty=draw(st.integers(0, 400)),
        # Above any per-unit cost above: allocating a unit always beats backordering it.
        backorder_penalty=draw(st.integers(151, 50_000)),
        # Now and then the paths for large orders, many locations and no proof in time.
        exact_max_lines=draw(st.sampled_from([40, 40, 40, 1])),
        exact_max_sites=draw(st.sampled_from([200, 200, 200, 2])),
        time_limit_ms=draw(st.sampled_from([1000, 1000, 1000, 0])),
    )
    return lines, stock, network, destination, rules, config


def per_unit(site, config):
    return (site.ship_cost or config.default_ship_cost).per_unit


def brute_force_optimum(lines, stock, network, destination, rules, config):
    eligible = [s for s in network if is_eligible(s, rules)]
    by_id = {s.location_id: s for s in network}
    limit = len(eligible) if rules.max_splits is None else min(rules.max_splits, len(eligible))
    best = None
    for k in range(limit + 1):
        for chosen in combinations(eligible, k):
            left = {(sku, s.location_id): stock.get(sku, {}).get(s.location_id, 0) for sku in SKUS for s in chosen}
            order = sorted(chosen, key=lambda s: per_unit(s, config))
            assignments, short = [], {}
            for line in lines:
                need = line.quantity
                for s in order:
                    take = min(need, left[(line.sku, s.location_id)])
                    if take:
                        left[(line.sku, s.location_id)] -= take
                        need -= take
                        assignments.append(Assignment(line.line_id, s.location_id, take))
                if need:
                    short[line.line_id] = need
            cost = plan_cost(assignments, by_id, destination, config, rules, short)
            best = cost if best is None else min(best, cost)
    return best


def fewest_splits_sets(lines, stock, network, destination, rules):
    """The baseline's rule, by brute force: smallest covering sets (up to 3), nearest on average, then ids."""
    eligible = sorted((s for s in network if is_eligible(s, rules)), key=lambda s: s.location_id)
    demand = {}
    for line in lines:
        demand[line.sku] = demand.get(line.sku, 0) + line.quantity
    limit = min(3, len(eligible) if rules.max_splits is None else rules.max_splits)
    for k in range(1, limit + 1):
        covering = [
            c
            for c in combinations(eligible, k)
            if all(sum(stock[sku][s.location_id] for s in c) >= n for sku, n in demand.items())
        ]
        if covering:

            def key(c):
                km = sum(distance_km(s.lat, s.lon, destination.lat, destination.lon) for s in c)
                return km, [s.location_id for s in c]

            return [s.location_id for s in min(covering, key=key)]
    return None


@SETTINGS
@given(orders())
def test_every_plan_keeps_rules_stock_and_quantities(order):
    lines, stock, network, destination, rules, config = order
    by_id = {s.location_id: s for s in network}
    costs = {}
    for strategy in ("baseline", "optimizer"):
        cfg = replace(config, strategy=strategy)
        plan = route(lines, stock, network, destination, rules, cfg)
        assert violations(plan, lines, stock, network, rules) == []
        assert plan.cost == plan_cost(plan.assignments, by_id, destination, cfg, rules, plan.backordered)
        assert plan.strategy == strategy and plan.reason
        costs[strategy] = plan.cost
    assert costs["optimizer"] <= costs["baseline"]


@SETTINGS
@given(orders())
def test_optimizer_matches_brute_force(order):
    lines, stock, network, destination, rules, config = order
    plan = route(lines, stock, network, destination, rules, config)
    optimum = brute_force_optimum(lines, stock, network, destination, rules, config)
    assert plan.cost >= optimum
    if plan.exact:
        assert plan.cost == optimum


@SETTINGS
@given(orders())
def test_baseline_picks_the_fewest_splits_nearest_set(order):
    lines, stock, network, destination, rules, config = order
    plan = route(lines, stock, network, destination, rules, replace(config, strategy="baseline"))
    expected = fewest_splits_sets(lines, stock, network, destination, rules)
    if expected is not None:
        assert plan.location_ids == sorted(expected)
        assert plan.backordered == {} and plan.exact
    else:
        assert not plan.exact


@settings(max_examples=40, deadline=None)
@given(orders())
def test_same_input_same_plan(order):
    first = route(*order)
    again = route(*order)
    assert (first.assignments, first.backordered, first.cost, first.reason) == (
        again.assignments,
        again.backordered,
        again.cost,
        again.reason,
    )
