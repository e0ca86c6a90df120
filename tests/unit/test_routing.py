"""Routing on hand-built networks: each rule and each strategy's choice, checked by hand."""

from dataclasses import replace

import pytest

from functions.allocate.rules.routing import (
    Assignment,
    Destination,
    LineDemand,
    RoutingConfig,
    RoutingRules,
    ShipCost,
    Site,
    plan_cost,
    resolve_allowed,
    route,
    violations,
)
from functions.allocate.rules.routing.geo import distance_km

# Around Berlin: 1 degree of latitude is ~111 km, so these sit at known distances north.
HOME = Destination(52.52, 13.40)
FLAT = ShipCost(base=400, per_km=2, per_unit=50)


def north(km: float) -> float:
    return HOME.lat + km / 111.2


def site(location_id, km, kind="warehouse", **extra):
    extra.setdefault("ship_cost", FLAT)
    extra.setdefault("handling", 100)
    return Site(location_id, north(km), HOME.lon, kind, **extra)


BASELINE = RoutingConfig(strategy="baseline")
OPTIMIZER = RoutingConfig(strategy="optimizer")
ANY = RoutingRules()


def both(lines, stock, sites, destination=HOME, rules=ANY, **config):
    plans = {}
    for base in (BASELINE, OPTIMIZER):
        cfg = replace(base, **config)
        plan = route(lines, stock, sites, destination, rules, cfg)
        assert violations(plan, lines, stock, sites, rules) == []
        by_id = {s.location_id: s for s in sites}
        assert plan.cost == plan_cost(plan.assignments, by_id, destination, cfg, rules, plan.backordered)
        plans[cfg.strategy] = plan
    assert plans["optimizer"].cost <= plans["baseline"].cost
    return plans["baseline"], plans["optimizer"]


def units_by_location(plan):
    out = {}
    for a in plan.assignments:
        out[a.location_id] = out.get(a.location_id, 0) + a.quantity
    return out


def test_plan_cost_by_hand():
    sites = [site("near", 10), site("far", 100, "store", ship_cost=ShipCost(500, 3, 70), handling=200)]
    assignments = [Assignment("1", "near", 2), Assignment("2", "far", 1), Assignment("3", "far", 3)]
    config = RoutingConfig(split_cost=300, co2_cost_per_km=1, preference_penalty=250, backorder_penalty=1000)
    rules = RoutingRules(prefer="warehouse")
    km_near = distance_km(sites[0].lat, sites[0].lon, HOME.lat, HOME.lon)
    km_far = distance_km(sites[1].lat, sites[1].lon, HOME.lat, HOME.lon)
    assert (km_near, km_far) == (10, 100)
    near = 400 + 2 * 10 + 50 * 2 + 100 + 1 * 10
    far = 500 + 3 * 100 + 70 * 4 + 200 + 1 * 100 + 250  # a store while warehouses are preferred
    expected = near + far + 300 + 2 * 1000
    by_id = {s.location_id: s for s in sites}
    assert plan_cost(assignments, by_id, HOME, config, rules, {"4": 2}) == expected


def test_defaults_apply_when_a_location_has_no_cost_model():
    config = RoutingConfig()
    bare = Site("bare", HOME.lat, HOME.lon, "warehouse")
    cost = plan_cost([Assignment("1", "bare", 3)], {"bare": bare}, HOME, config, ANY)
    assert cost == 450 + 0 + 3 * 60 + 150


def test_one_location_with_everything_wins_for_both():
    sites = [site("wh-a", 20), site("wh-b", 30), site("wh-c", 40)]
    stock = {"A": {"wh-a": 5, "wh-b": 5}, "B": {"wh-a": 5, "wh-c": 5}}
    lines = [LineDemand("1", "A", 2), LineDemand("2", "B", 1)]
    baseline, optimizer = both(lines, stock, sites)
    for plan in (baseline, optimizer):
        assert units_by_location(plan) == {"wh-a": 3}
        assert plan.shipments == 1 and plan.backordered == {}
    assert optimizer.exact
    assert baseline.reason.startswith("1 shipment from wh-a: cost ")


def test_optimizer_splits_when_cheaper_and_baseline_keeps_fewest_shipments():
    # Only a far location holds both skus; two near ones hold one each.
    sites = [site("far", 900), site("near-a", 10), site("near-b", 15)]
    stock = {"A": {"far": 1, "near-a": 1}, "B": {"far": 1, "near-b": 1}}
    lines = [LineDemand("1", "A", 1), LineDemand("2", "B", 1)]
    baseline, optimizer = both(lines, stock, sites)
    assert baseline.location_ids == ["far"]
    assert optimizer.location_ids == ["near-a", "near-b"]
    assert optimizer.exact and optimizer.cost < baseline.cost
    assert optimizer.reason.startswith("2 shipments from near-a, near-b: cost ")
    assert optimizer.reason.endswith("optimizer exact")


def test_optimizer_keeps_one_shipment_when_splitting_costs_more():
    sites = [site("mid", 150), site("near-a", 10), site("near-b", 15)]
    stock = {"A": {"mid": 1, "near-a": 1}, "B": {"mid": 1, "near-b": 1}}
    lines = [LineDemand("1", "A", 1), LineDemand("2", "B", 1)]
    baseline, optimizer = both(lines, stock, sites)
    assert baseline.location_ids == optimizer.location_ids == ["mid"]


def test_baseline_ranks_equal_split_counts_by_average_distance():
    sites = [site("a", 100), site("b", 300), site("c", 120), site("d", 50)]
    # No single location covers; pairs {a,b} avg 200, {c,d} avg 85, {a,d} avg 75 does not cover.
    stock = {"X": {"a": 1, "c": 1}, "Y": {"b": 1, "d": 1}, "Z": {"b": 1, "c": 1}}
    lines = [LineDemand("1", "X", 1), LineDemand("2", "Y", 1), LineDemand("3", "Z", 1)]
    baseline, _ = both(lines, stock, sites)
    assert baseline.location_ids == ["c", "d"]
    assert baseline.avg_distance_km == pytest.approx(85)


def test_baseline_ties_break_by_location_id():
    sites = [site("wh-b", 40), site("wh-a", 40)]
    stock = {"A": {"wh-a": 1, "wh-b": 1}}
    baseline, _ = both([LineDemand("1", "A", 1)], stock, sites)
    assert baseline.location_ids == ["wh-a"]


def test_baseline_sends_each_line_to_the_nearest_location_of_the_set():
    sites = [site("near", 10), site("far", 500)]
    stock = {"A": {"near": 1, "far": 5}, "B": {"far": 5}}
    lines = [LineDemand("1", "A", 3), LineDemand("2", "B", 1)]
    baseline, _ = both(lines, stock, sites)
    assert baseline.location_ids == ["far"]  # one location covers: no split
    stock["B"]["far"] = 0
    stock["B"]["near"] = 1
    baseline, _ = both(lines, stock, sites)
    assert sorted((a.line_id, a.location_id, a.quantity) for a in baseline.assignments) == [
        ("1", "far", 2),
        ("1", "near", 1),
        ("2", "near", 1),
    ]


def test_pickup_uses_only_the_pickup_store_and_backorders_the_rest():
    sites = [site("store-1", 5, "store"), site("wh", 1)]
    stock = {"A": {"store-1": 1, "wh": 10}, "B": {"wh": 10}}
    lines = [LineDemand("1", "A", 2), LineDemand("2", "B", 1)]
    rules = RoutingRules(pickup_location_id="store-1")
    for plan in both(lines, stock, sites, rules=rules):
        assert plan.location_ids == ["store-1"]
        assert plan.backordered == {"1": 1, "2": 1}
        assert plan.reason.endswith("; 2 units backordered")


@pytest.mark.parametrize(
    ("rules", "sites_override"),
    [
        (RoutingRules(excluded=frozenset({"near"})), {}),
        (RoutingRules(allowed=frozenset({"far", "other"})), {}),
        (ANY, {"active": False}),
        (ANY, {"capacity_left": 0}),
    ],
    ids=["excluded", "not-allowed", "inactive", "no-capacity-left"],
)
def test_a_location_the_rules_rule_out_is_never_used(rules, sites_override):
    sites = [site("near", 5, **sites_override), site("far", 400)]
    stock = {"A": {"near": 10, "far": 10}}
    for plan in both([LineDemand("1", "A", 2)], stock, sites, rules=rules):
        assert plan.location_ids == ["far"]


def test_capacity_of_one_shipment_is_enough():
    sites = [site("near", 5, capacity_left=1), site("far", 400)]
    for plan in both([LineDemand("1", "A", 2)], {"A": {"near": 10, "far": 10}}, sites):
        assert plan.location_ids == ["near"]


def test_max_splits_backorders_what_the_allowed_shipments_cannot_carry():
    sites = [site("a", 10), site("b", 20), site("c", 30)]
    stock = {"X": {"a": 2}, "Y": {"b": 2}, "Z": {"c": 1}}
    lines = [LineDemand("1", "X", 2), LineDemand("2", "Y", 2), LineDemand("3", "Z", 1)]
    baseline, optimizer = both(lines, stock, sites, rules=RoutingRules(max_splits=2))
    for plan in (baseline, optimizer):
        assert plan.shipments == 2
        assert sum(plan.backordered.values()) == 1
    assert optimizer.backordered == {"3": 1}  # the fewest units short


def test_max_splits_one_means_one_location():
    sites = [site("a", 10), site("b", 20)]
    stock = {"X": {"a": 1, "b": 1}, "Y": {"b": 1}}
    lines = [LineDemand("1", "X", 1), LineDemand("2", "Y", 1)]
    for plan in both(lines, stock, sites, rules=RoutingRules(max_splits=1)):
        assert plan.location_ids == ["b"] and plan.backordered == {}


def test_two_lines_of_one_sku_share_its_stock():
    sites = [site("near", 10), site("far", 300)]
    stock = {"A": {"near": 3, "far": 1}}
    lines = [LineDemand("1", "A", 2), LineDemand("2", "A", 2)]
    for plan in both(lines, stock, sites):
        assert units_by_location(plan) == {"near": 3, "far": 1}
        assert plan.backordered == {}
    stock = {"A": {"near": 3}}
    for plan in both(lines, stock, sites):
        assert units_by_location(plan) == {"near": 3}
        assert sum(plan.backordered.values()) == 1


def test_nothing_in_stock_is_all_backordered():
    sites = [site("a", 10)]
    lines = [LineDemand("1", "GONE", 2)]
    for plan in both(lines, {}, sites):
        assert plan.assignments == [] and plan.backordered == {"1": 2}
        assert plan.shipments == 0 and plan.cost == 2 * 100_000 and plan.fulfilment_cost == 0
        assert plan.reason.startswith("nothing allocated")


def test_destination_without_coordinates_counts_distances_as_zero():
    sites = [site("wh-b", 10), site("wh-a", 900)]
    stock = {"A": {"wh-a": 1, "wh-b": 1}}
    for plan in both([LineDemand("1", "A", 1)], stock, sites, destination=Destination(None, None)):
        assert plan.location_ids == ["wh-a"]  # equal at 0 km: the smaller id
        assert plan.avg_distance_km == 0


def test_preference_penalty_tips_the_choice():
    sites = [site("store", 60, "store"), site("wh", 10)]
    stock = {"A": {"store": 1, "wh": 1}}
    lines = [LineDemand("1", "A", 1)]
    _, optimizer = both(lines, stock, sites)
    assert optimizer.location_ids == ["wh"]
    # The store is 50 km further: 100 more. A penalty of 200 on the warehouse outweighs it, 50 does not.
    _, optimizer = both(lines, stock, sites, rules=RoutingRules(prefer="store"))
    assert optimizer.location_ids == ["store"]
    _, optimizer = both(lines, stock, sites, rules=RoutingRules(prefer="store"), preference_penalty=50)
    assert optimizer.location_ids == ["wh"]


def test_dropship_counts_as_warehouse_for_preferences():
    sites = [site("vendor", 10, "dropship"), site("store", 10, "store")]
    stock = {"A": {"vendor": 1, "store": 1}}
    _, optimizer = both([LineDemand("1", "A", 1)], stock, sites, rules=RoutingRules(prefer="warehouse"))
    assert optimizer.location_ids == ["vendor"]


def test_co2_weight_favours_the_nearer_location():
    # 200 + 100 km x 1 beats 400 + 10 km x 2; at 2 more per km for CO2 it no longer does.
    sites = [site("cheap-far", 100, ship_cost=ShipCost(200, 1, 50)), site("near", 10)]
    stock = {"A": {"cheap-far": 1, "near": 1}}
    _, optimizer = both([LineDemand("1", "A", 1)], stock, sites)
    assert optimizer.location_ids == ["cheap-far"]
    _, optimizer = both([LineDemand("1", "A", 1)], stock, sites, co2_cost_per_km=2)
    assert optimizer.location_ids == ["near"]


def test_same_input_same_plan():
    sites = [site(f"s{i}", 10 + 37 * i % 200, "store" if i % 2 else "warehouse") for i in range(12)]
    stock = {sku: {f"s{i}": (i * 7 + n) % 3 for i in range(12)} for n, sku in enumerate("ABCDE")}
    lines = [LineDemand(str(n), sku, 1 + n % 3) for n, sku in enumerate("ABCDEA")]
    for config in (BASELINE, OPTIMIZER):
        first = route(lines, stock, sites, HOME, ANY, config)
        again = route(lines, stock, sites, HOME, ANY, config)
        assert (first.assignments, first.backordered, first.cost) == (again.assignments, again.backordered, again.cost)


def test_large_orders_take_the_bounded_search_and_stay_sound():
    sites = [site(f"s{i:02d}", 20 + 13 * i, "store" if i % 3 else "warehouse") for i in range(20)]
    stock = {f"K{n}": {f"s{i:02d}": (i + n) % 4 for i in range(20)} for n in range(30)}
    lines = [LineDemand(str(n), f"K{n}", 1 + n % 2) for n in range(30)]
    config = RoutingConfig(exact_max_lines=5)
    plan = route(lines, stock, sites, HOME, ANY, config)
    baseline = route(lines, stock, sites, HOME, ANY, BASELINE)
    assert not plan.exact
    assert violations(plan, lines, stock, sites, ANY) == []
    assert plan.cost <= baseline.cost
    exact = route(lines, stock, sites, HOME, ANY, OPTIMIZER)
    assert exact.exact and exact.cost <= plan.cost


def test_more_candidates_than_the_model_takes_is_not_exact_but_sound():
    sites = [site(f"s{i:02d}", 20 + 13 * i) for i in range(12)]
    stock = {"A": {f"s{i:02d}": 1 for i in range(12)}, "B": {f"s{i:02d}": 1 for i in range(0, 12, 3)}}
    lines = [LineDemand("1", "A", 3), LineDemand("2", "B", 2)]
    plan = route(lines, stock, sites, HOME, ANY, RoutingConfig(exact_max_sites=4))
    assert not plan.exact
    assert violations(plan, lines, stock, sites, ANY) == []
    assert plan.cost <= route(lines, stock, sites, HOME, ANY, BASELINE).cost


def test_no_proof_in_time_still_gives_a_sound_plan():
    sites = [site(f"s{i:02d}", 20 + 13 * i, "store" if i % 3 else "warehouse") for i in range(20)]
    stock = {f"K{n}": {f"s{i:02d}": (i + n) % 4 for i in range(20)} for n in range(30)}
    lines = [LineDemand(str(n), f"K{n}", 1 + n % 2) for n in range(30)]
    plan = route(lines, stock, sites, HOME, ANY, RoutingConfig(time_limit_ms=0))
    assert not plan.exact
    assert violations(plan, lines, stock, sites, ANY) == []
    assert plan.cost <= route(lines, stock, sites, HOME, ANY, BASELINE).cost


def test_rules_and_lines_are_validated():
    with pytest.raises(ValueError):
        LineDemand("1", "A", 0)
    with pytest.raises(ValueError):
        RoutingRules(max_splits=0)
    with pytest.raises(ValueError, match="unique"):
        route([LineDemand("1", "A", 1), LineDemand("1", "B", 1)], {}, [], HOME, ANY, OPTIMIZER)


def test_violations_reports_broken_rules():
    sites = [site("a", 10), site("b", 20)]
    stock = {"A": {"a": 1, "b": 5}}
    lines = [LineDemand("1", "A", 2)]
    plan = route(lines, stock, sites, HOME, ANY, OPTIMIZER)
    broken = type(plan)(
        [Assignment("1", "a", 2)], {}, "x", False, 0, 1, 0.0, 0.0, ""
    )  # two units from a location holding one
    assert any("taken from a" in v for v in violations(broken, lines, stock, sites, ANY))
    assert any(
        "may not serve" in v for v in violations(plan, lines, stock, sites, RoutingRules(excluded=frozenset({"b"})))
    )


def test_resolve_allowed_maps_channels_to_locations_and_groups():
    sites = [
        Site("wh-1", 0, 0, "warehouse", groups=frozenset({"eu-warehouses"})),
        Site("store-1", 0, 0, "store", groups=frozenset({"ship-from-store"})),
        Site("store-2", 0, 0, "store"),
    ]
    rules = {"web": {"groups": ["eu-warehouses", "ship-from-store"]}, "pos": {"locations": ["store-2"]}}
    assert resolve_allowed("web", rules, sites) == frozenset({"wh-1", "store-1"})
    assert resolve_allowed("pos", rules, sites) == frozenset({"store-2"})
    assert resolve_allowed("marketplace", rules, sites) is None
