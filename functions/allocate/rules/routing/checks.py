"""Whether a plan keeps every rule and the stock: a guard on every answer, and the tests' oracle."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from functions.allocate.rules.routing.model import Assignment, LineDemand, Plan, RoutingRules, Site
from functions.allocate.rules.routing.problem import is_eligible


def violations(
    plan: Plan,
    lines: Sequence[LineDemand],
    stock: Mapping[str, Mapping[str, int]],
    sites: Sequence[Site],
    rules: RoutingRules,
) -> list[str]:
    """Every broken rule, as sentences; empty when the plan is sound."""
    problems = allocation_violations(plan.assignments, plan.backordered, lines, stock, sites, rules)
    used = {a.location_id for a in plan.assignments}
    if plan.shipments != len(used):
        problems.append(f"plan says {plan.shipments} shipments, assignments use {len(used)}")
    return problems


def allocation_violations(
    assignments: Sequence[Assignment],
    backordered: Mapping[str, int],
    lines: Sequence[LineDemand],
    stock: Mapping[str, Mapping[str, int]],
    sites: Sequence[Site],
    rules: RoutingRules,
) -> list[str]:
    problems: list[str] = []
    by_line = {line.line_id: line for line in lines}
    by_site = {s.location_id: s for s in sites}
    given: dict[str, int] = defaultdict(int)
    taken: dict[tuple[str, str], int] = defaultdict(int)
    for a in assignments:
        line = by_line.get(a.line_id)
        site = by_site.get(a.location_id)
        if line is None or site is None:
            problems.append(f"unknown line or location in {a}")
            continue
        if a.quantity <= 0:
            problems.append(f"non-positive quantity in {a}")
        if not is_eligible(site, rules):
            problems.append(f"{a.location_id} may not serve this order")
        given[a.line_id] += a.quantity
        taken[(line.sku, a.location_id)] += a.quantity
    for (sku, loc), n in taken.items():
        if n > stock.get(sku, {}).get(loc, 0):
            problems.append(f"{n} units of {sku} taken from {loc}, which has {stock.get(sku, {}).get(loc, 0)}")
    for line in lines:
        short = backordered.get(line.line_id, 0)
        if short < 0 or given[line.line_id] + short != line.quantity:
            problems.append(f"line {line.line_id}: {given[line.line_id]} allocated + {short} backordered")
    used = {a.location_id for a in assignments}
    if rules.max_splits is not None and len(used) > rules.max_splits:
        problems.append(f"{len(used)} shipments, at most {rules.max_splits} allowed")
    return problems
