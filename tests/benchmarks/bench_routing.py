"""Routing on a generated US network: the Salesforce-style baseline against the cost optimizer.

The network: 10 warehouses at real distribution hubs, 45 stores in the largest metro
areas, 3 dropship vendors; 2,000 SKUs with Zipf-like demand, popular SKUs stocked
widely and the long tail in a few warehouses or at a vendor. Orders have 1-20 lines
(mostly few) and go to addresses scattered around the metros, some rural.

Costs per shipment, decided before measuring and never tuned to the result: carrier base
+ 1 cent per km (ground parcel rates grow well under that per km; 1 is the smallest
whole cent) + per unit + handling. Warehouses: base 4.50, 0.35/unit, handling 1.50
(automated, contracted rates). Stores: base 5.50, 0.90/unit, handling 3.00 (associates
pick and pack, smaller carrier discounts). Vendors: base 5.00, 0.50/unit, handling 2.50.
Each location varies by up to 10%. Split cost and backorder penalty: the config's defaults.

Every order is routed by both strategies against the same stock snapshot (stock is not
depleted between orders), so both see identical availability. Times are wall-clock per
``route`` call, everything included, after one warm-up order (the highspy import), with
the process's CPU time beside them. The first 2,000 orders are routed again with every
location at 0 and at 2 cents per km, to show how the saving depends on that rate.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from dataclasses import replace
from typing import Any

from functions.allocate.rules.routing import (
    Destination,
    LineDemand,
    Plan,
    RoutingConfig,
    RoutingRules,
    ShipCost,
    Site,
    route,
    violations,
)
from functions.allocate.rules.routing.model import SiteType, Strategy

WAREHOUSES = {
    "wh-edison-nj": (40.52, -74.41),
    "wh-jacksonville-fl": (30.33, -81.66),
    "wh-mcdonough-ga": (33.45, -84.15),
    "wh-columbus-oh": (39.96, -82.99),
    "wh-joliet-il": (41.53, -88.08),
    "wh-memphis-tn": (35.15, -90.05),
    "wh-fortworth-tx": (32.90, -97.04),
    "wh-ontario-ca": (34.06, -117.65),
    "wh-reno-nv": (39.53, -119.81),
    "wh-kent-wa": (47.38, -122.23),
}
VENDORS = {
    "ds-greensboro-nc": (36.07, -79.79),
    "ds-dayton-oh": (39.76, -84.19),
    "ds-ogden-ut": (41.22, -111.97),
}
# Metro areas: (lat, lon, population in millions), a store in each.
METROS = {
    "new-york": (40.71, -74.01, 19.5),
    "los-angeles": (34.05, -118.24, 12.8),
    "chicago": (41.88, -87.63, 9.4),
    "dallas": (32.78, -96.80, 7.9),
    "houston": (29.76, -95.37, 7.3),
    "washington": (38.91, -77.04, 6.3),
    "philadelphia": (39.95, -75.17, 6.2),
    "atlanta": (33.75, -84.39, 6.2),
    "miami": (25.76, -80.19, 6.1),
    "phoenix": (33.45, -112.07, 5.0),
    "boston": (42.36, -71.06, 4.9),
    "san-francisco": (37.77, -122.42, 4.6),
    "riverside": (33.95, -117.40, 4.6),
    "detroit": (42.33, -83.05, 4.3),
    "seattle": (47.61, -122.33, 4.0),
    "minneapolis": (44.98, -93.27, 3.7),
    "san-diego": (32.72, -117.16, 3.3),
    "tampa": (27.95, -82.46, 3.3),
    "denver": (39.74, -104.99, 3.0),
    "st-louis": (38.63, -90.20, 2.8),
    "baltimore": (39.29, -76.61, 2.8),
    "charlotte": (35.23, -80.84, 2.7),
    "orlando": (28.54, -81.38, 2.7),
    "san-antonio": (29.42, -98.49, 2.6),
    "portland": (45.52, -122.68, 2.5),
    "sacramento": (38.58, -121.49, 2.4),
    "pittsburgh": (40.44, -79.99, 2.4),
    "austin": (30.27, -97.74, 2.4),
    "las-vegas": (36.17, -115.14, 2.3),
    "cincinnati": (39.10, -84.51, 2.3),
    "kansas-city": (39.10, -94.58, 2.2),
    "columbus": (39.96, -83.00, 2.1),
    "indianapolis": (39.77, -86.16, 2.1),
    "cleveland": (41.50, -81.69, 2.1),
    "san-jose": (37.34, -121.89, 2.0),
    "nashville": (36.16, -86.78, 2.0),
    "virginia-beach": (36.85, -75.98, 1.8),
    "providence": (41.82, -71.41, 1.7),
    "jacksonville": (30.33, -81.66, 1.6),
    "milwaukee": (43.04, -87.91, 1.6),
    "raleigh": (35.78, -78.64, 1.4),
    "oklahoma-city": (35.47, -97.52, 1.4),
    "memphis": (35.15, -90.05, 1.3),
    "richmond": (37.54, -77.44, 1.3),
    "salt-lake-city": (40.76, -111.89, 1.3),
}
COSTS = {  # (base, per_km, per_unit, handling), cents
    "warehouse": (450, 1, 35, 150),
    "store": (550, 1, 90, 300),
    "dropship": (500, 1, 50, 250),
}
STRATEGIES: tuple[Strategy, ...] = ("baseline", "optimizer")
SKUS = 2_000
SENSITIVITY_ORDERS = 2_000  # orders re-routed at other per-km rates
ZIPF_S = 1.0
KM_PER_DEGREE = 111.2


def _vary(rng: random.Random, cents: int) -> int:
    return max(0, round(cents * rng.uniform(0.9, 1.1)))


def _site(rng: random.Random, location_id: str, lat: float, lon: float, kind: SiteType, **extra: Any) -> Site:
    base, per_km, per_unit, handling = COSTS[kind]
    cost = ShipCost(base=_vary(rng, base), per_km=per_km, per_unit=_vary(rng, per_unit))
    return Site(location_id, lat, lon, kind, ship_cost=cost, handling=_vary(rng, handling), **extra)


def make_network(rng: random.Random) -> list[Site]:
    sites = [_site(rng, lid, lat, lon, "warehouse") for lid, (lat, lon) in WAREHOUSES.items()]
    sites += [_site(rng, lid, lat, lon, "dropship") for lid, (lat, lon) in VENDORS.items()]
    for i, (city, (lat, lon, _)) in enumerate(METROS.items()):
        # About one store in ten has used up today's ship-from-store capacity; one is closed.
        capacity = 0 if rng.random() < 0.1 else rng.randint(5, 60)
        sites.append(_site(rng, f"store-{city}", lat, lon, "store", capacity_left=capacity, active=i != 7))
    return sites


def popularity() -> list[float]:
    weights = [1 / (rank + 1) ** ZIPF_S for rank in range(SKUS)]
    total = sum(weights)
    return [w / total for w in weights]


def make_stock(rng: random.Random, sites: list[Site], share: list[float]) -> dict[str, dict[str, int]]:
    """Popular SKUs in most warehouses and many stores; the long tail in one or two places."""
    stock: dict[str, dict[str, int]] = {}
    warehouses = [s for s in sites if s.type == "warehouse"]
    stores = [s for s in sites if s.type == "store"]
    vendors = [s for s in sites if s.type == "dropship"]
    for rank in range(SKUS):
        sku = f"SKU-{rank:05d}"
        relative = share[rank] * SKUS  # 1.0 = average demand
        depth = math.sqrt(relative)
        where: dict[str, int] = {}
        if rng.random() < 0.01:  # out of stock everywhere: backorders
            stock[sku] = where
            continue
        in_warehouse = min(0.95, max(0.12, 0.95 - 0.27 * math.log10(rank + 1)))
        in_store = min(0.8, max(0.0, 0.8 - 0.3 * math.log10(rank + 1)))
        for w in warehouses:
            if rng.random() < in_warehouse:
                where[w.location_id] = 1 + int(rng.expovariate(1 / (4 + 30 * depth)))
        for s in stores:
            if rng.random() < in_store:
                where[s.location_id] = 1 + int(rng.expovariate(1 / (1 + 4 * depth)))
        if rank >= 200:
            for v in vendors:
                if rng.random() < 0.15:
                    where[v.location_id] = 20 + rng.randint(0, 80)
        if not where:  # every SKU lives somewhere, if only thinly
            where[rng.choice(warehouses).location_id] = 1 + rng.randint(0, 5)
        stock[sku] = where
    return stock


def _line_count(rng: random.Random) -> int:
    weights = [n**-1.6 for n in range(1, 21)]
    return rng.choices(range(1, 21), weights)[0]


def _quantity(rng: random.Random) -> int:
    return rng.choices([1, 2, 3, 4, 5], [80, 13, 4, 2, 1])[0]


def _destination(rng: random.Random) -> Destination:
    if rng.random() < 0.15:  # rural, anywhere in the lower 48's inner box
        return Destination(round(rng.uniform(31.0, 47.0), 4), round(rng.uniform(-120.0, -76.0), 4))
    lat, lon, _ = rng.choices(list(METROS.values()), [m[2] for m in METROS.values()])[0]
    spread = 35 / KM_PER_DEGREE
    return Destination(
        round(lat + rng.gauss(0, spread), 4),
        round(lon + rng.gauss(0, spread / math.cos(math.radians(lat))), 4),
    )


def make_orders(rng: random.Random, n: int, share: list[float]) -> list[tuple[list[LineDemand], Destination]]:
    ranks = range(SKUS)
    orders = []
    for _ in range(n):
        picked: list[int] = []
        for _ in range(_line_count(rng)):
            rank = rng.choices(ranks, share)[0]
            if rank in picked and rng.random() > 0.02:  # now and then the same SKU on two lines
                continue
            picked.append(rank)
        lines = [LineDemand(f"L{i + 1}", f"SKU-{rank:05d}", _quantity(rng)) for i, rank in enumerate(picked)]
        orders.append((lines, _destination(rng)))
    return orders


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _summary(plans: list[Plan], times_ms: list[float], cpu_ms: list[float]) -> dict[str, Any]:
    shipments = sum(p.shipments for p in plans)
    distance = sum(p.avg_distance_km * p.shipments for p in plans)
    return {
        "shipping_cost": sum(p.fulfilment_cost for p in plans) / 100,
        "shipments_per_order": shipments / len(plans),
        "avg_distance_km": distance / shipments if shipments else 0.0,
        "orders_split_share": sum(p.shipments > 1 for p in plans) / len(plans),
        "backordered_units": sum(sum(p.backordered.values()) for p in plans),
        "exact_share": sum(p.exact for p in plans) / len(plans),
        "solve_ms_p50": statistics.median(times_ms),
        "solve_ms_p99": _percentile(times_ms, 0.99),
        "solve_ms_max": max(times_ms),
        # CPU time of the process: what the solve costs when other work shares the machine.
        "solve_cpu_ms_p50": statistics.median(cpu_ms),
        "solve_cpu_ms_p99": _percentile(cpu_ms, 0.99),
    }


def bench_routing(orders: int = 10_000, seed: int = 20_240_601) -> dict[str, Any]:
    rng = random.Random(seed)
    share = popularity()
    sites = make_network(rng)
    stock = make_stock(rng, sites, share)
    batch = make_orders(rng, orders, share)
    rules = RoutingRules()
    configs = {name: RoutingConfig(strategy=name) for name in STRATEGIES}
    route(batch[0][0], stock, sites, batch[0][1], rules, configs["optimizer"])  # warm-up: imports highspy

    plans: dict[str, list[Plan]] = {name: [] for name in configs}
    times: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    broken = 0
    started = time.perf_counter()
    for lines, destination in batch:
        for name, config in configs.items():
            c0, t0 = time.process_time(), time.perf_counter()
            plan = route(lines, stock, sites, destination, rules, config)
            times[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
            plans[name].append(plan)
            broken += bool(violations(plan, lines, stock, sites, rules))
    elapsed = time.perf_counter() - started

    result: dict[str, Any] = {name: _summary(plans[name], times[name], cpu[name]) for name in configs}
    base, best = result["baseline"], result["optimizer"]
    result["saving_percent"] = 100 * (1 - best["shipping_cost"] / base["shipping_cost"])
    cheaper = sum(o.cost < b.cost for o, b in zip(plans["optimizer"], plans["baseline"], strict=True))
    costlier = sum(o.cost > b.cost for o, b in zip(plans["optimizer"], plans["baseline"], strict=True))
    by_size: dict[str, list[tuple[int, int]]] = {}
    for (lines, _), o, b in zip(batch, plans["optimizer"], plans["baseline"], strict=True):
        bucket = "1" if len(lines) == 1 else "2-3" if len(lines) <= 3 else "4-9" if len(lines) <= 9 else "10-20"
        by_size.setdefault(bucket, []).append((o.fulfilment_cost, b.fulfilment_cost))
    result["saving_percent_by_lines"] = {
        k: 100 * (1 - sum(o for o, _ in v) / sum(b for _, b in v)) for k, v in sorted(by_size.items())
    }
    result["orders"] = orders
    result["orders_cheaper_with_optimizer_share"] = cheaper / orders
    result["orders_costlier_with_optimizer"] = costlier
    result["plans_breaking_a_rule"] = broken
    result["lines_per_order"] = sum(len(lines) for lines, _ in batch) / orders
    result["network"] = {
        "locations": len(sites),
        "warehouses": sum(s.type == "warehouse" for s in sites),
        "stores": sum(s.type == "store" for s in sites),
        "dropship": sum(s.type == "dropship" for s in sites),
        "skus": SKUS,
        "stock_records": sum(len(v) for v in stock.values()),
    }
    result["seed"] = seed
    result["run_seconds"] = elapsed
    result["stock"] = "one snapshot for every order, not depleted"
    sample = min(orders, SENSITIVITY_ORDERS)
    result["saving_percent_if_per_km"] = {
        "orders": sample,
        **{f"{cents}_cents": sensitivity(sample, seed, cents) for cents in (0, 2)},
    }
    return result


def sensitivity(orders: int, seed: int, per_km: int) -> float:
    """Saving in % when every location's per-km rate is ``per_km`` (the default config's is 2)."""
    rng = random.Random(seed)
    share = popularity()
    sites = [replace(s, ship_cost=replace(s.ship_cost, per_km=per_km)) if s.ship_cost else s for s in make_network(rng)]
    stock = make_stock(rng, sites, share)
    batch = make_orders(rng, orders, share)
    totals = {}
    for name in STRATEGIES:
        config = RoutingConfig(strategy=name)
        totals[name] = sum(route(lines, stock, sites, d, RoutingRules(), config).fulfilment_cost for lines, d in batch)
    return 100 * (1 - totals["optimizer"] / totals["baseline"])


def print_table(result: dict[str, Any]) -> None:
    rows = [
        ("total shipping cost", lambda r: f"{r['shipping_cost']:,.2f}"),
        ("shipments / order", lambda r: f"{r['shipments_per_order']:.3f}"),
        ("avg distance / shipment", lambda r: f"{r['avg_distance_km']:.0f} km"),
        ("orders split", lambda r: f"{100 * r['orders_split_share']:.1f} %"),
        ("backordered units", lambda r: f"{r['backordered_units']}"),
        ("proven exact", lambda r: f"{100 * r['exact_share']:.1f} %"),
        ("solve p50", lambda r: f"{r['solve_ms_p50']:.2f} ms"),
        ("solve p99", lambda r: f"{r['solve_ms_p99']:.2f} ms"),
        ("solve max", lambda r: f"{r['solve_ms_max']:.2f} ms"),
        ("solve p99, CPU time", lambda r: f"{r['solve_cpu_ms_p99']:.2f} ms"),
    ]
    net = result["network"]
    print(
        f"\nRouting: {result['orders']:,} orders ({result['lines_per_order']:.2f} lines avg), "
        f"{net['locations']} locations, {net['skus']:,} SKUs"
    )
    print(f"  {'':<26}{'baseline':>14}{'optimizer':>14}")
    for label, fmt in rows:
        print(f"  {label:<26}{fmt(result['baseline']):>14}{fmt(result['optimizer']):>14}")
    print(f"  optimizer saving: {result['saving_percent']:.1f} %  (by lines per order: ", end="")
    print(", ".join(f"{k}: {v:.1f} %" for k, v in result["saving_percent_by_lines"].items()) + ")")
    print(
        f"  orders cheaper with the optimizer: {100 * result['orders_cheaper_with_optimizer_share']:.1f} %, "
        f"costlier: {result['orders_costlier_with_optimizer']}, "
        f"plans breaking a rule: {result['plans_breaking_a_rule']}"
    )
    other = result["saving_percent_if_per_km"]
    print(
        f"  saving if every location charged 0 / 2 cents per km instead of 1 (first {other['orders']:,} orders): "
        f"{other['0_cents']:.1f} % / {other['2_cents']:.1f} %"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()
    print_table(bench_routing(args.orders))


if __name__ == "__main__":
    main()
