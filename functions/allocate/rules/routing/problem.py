"""One order prepared for routing: the locations that may serve it and what each can give."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from functions.allocate.rules.routing.costs import SiteTerms, plan_cost, site_terms
from functions.allocate.rules.routing.model import (
    Assignment,
    Destination,
    LineDemand,
    Plan,
    RoutingConfig,
    RoutingRules,
    Site,
)

IntArray = np.ndarray  # numpy arrays of int64


def is_eligible(site: Site, rules: RoutingRules) -> bool:
    """Every rule that concerns a location alone; max_splits is checked on the plan."""
    if not site.active or site.location_id in rules.excluded:
        return False
    if rules.allowed is not None and site.location_id not in rules.allowed:
        return False
    if rules.pickup_location_id is not None and site.location_id != rules.pickup_location_id:
        return False
    # A shipment takes one unit of today's capacity.
    return site.capacity_left is None or site.capacity_left >= 1


@dataclass(frozen=True)
class Problem:
    """Candidates are the eligible locations holding at least one unit of a line's sku, ordered by id.

    ``avail[j, s]`` is what candidate ``j`` can give of sku ``skus[s]``, capped at the order's
    demand for it, so the arrays stay small and every sum of them is meaningful.
    """

    lines: list[LineDemand]
    skus: list[str]
    line_sku: IntArray  # line index -> sku index
    demand: IntArray  # sku index -> units ordered over all lines of that sku
    sites: list[Site]
    terms: list[SiteTerms]
    avail: IntArray  # (candidates, skus)
    sites_by_id: dict[str, Site]
    stock: Mapping[str, Mapping[str, int]]
    destination: Destination
    rules: RoutingRules
    config: RoutingConfig
    started: float

    @property
    def max_shipments(self) -> int:
        limit = self.rules.max_splits
        return len(self.sites) if limit is None else min(limit, len(self.sites))

    @property
    def distance(self) -> IntArray:
        return np.array([t.distance_km for t in self.terms], dtype=np.int64)

    @property
    def fixed(self) -> IntArray:
        return np.array([t.fixed for t in self.terms], dtype=np.int64)

    @property
    def per_unit(self) -> IntArray:
        return np.array([t.per_unit for t in self.terms], dtype=np.int64)

    def restricted_to(self, keep: Sequence[int]) -> Problem:
        """The same order with only the candidates at ``keep`` (indices, ascending)."""
        keep = sorted(keep)
        return Problem(
            lines=self.lines,
            skus=self.skus,
            line_sku=self.line_sku,
            demand=self.demand,
            sites=[self.sites[j] for j in keep],
            terms=[self.terms[j] for j in keep],
            avail=self.avail[keep],
            sites_by_id=self.sites_by_id,
            stock=self.stock,
            destination=self.destination,
            rules=self.rules,
            config=self.config,
            started=self.started,
        )


def prepare(
    lines: Sequence[LineDemand],
    stock: Mapping[str, Mapping[str, int]],
    sites: Sequence[Site],
    destination: Destination,
    rules: RoutingRules,
    config: RoutingConfig,
) -> Problem:
    started = time.perf_counter()
    if len({line.line_id for line in lines}) != len(lines):
        raise ValueError("line ids must be unique")
    sites_by_id = {s.location_id: s for s in sites}
    if len(sites_by_id) != len(sites):
        raise ValueError("location ids must be unique")
    skus = list(dict.fromkeys(line.sku for line in lines))
    sku_index = {sku: i for i, sku in enumerate(skus)}
    line_sku = np.array([sku_index[line.sku] for line in lines], dtype=np.int64)
    demand = np.zeros(len(skus), dtype=np.int64)
    np.add.at(demand, line_sku, [line.quantity for line in lines])

    eligible = sorted((s for s in sites if is_eligible(s, rules)), key=lambda s: s.location_id)
    row_of = {s.location_id: j for j, s in enumerate(eligible)}
    held = np.zeros((len(eligible), len(skus)), dtype=np.int64)
    for i, sku in enumerate(skus):
        for location_id, units in stock.get(sku, {}).items():
            j = row_of.get(location_id)
            if j is not None and units > 0:
                held[j, i] = units
    holds_some = held.any(axis=1)
    candidates = [eligible[j] for j in np.flatnonzero(holds_some).tolist()]
    avail = np.minimum(held[holds_some], demand)
    return Problem(
        lines=list(lines),
        skus=skus,
        line_sku=line_sku,
        demand=demand,
        sites=candidates,
        terms=[site_terms(s, destination, config, rules) for s in candidates],
        avail=avail,
        sites_by_id=sites_by_id,
        stock=stock,
        destination=destination,
        rules=rules,
        config=config,
        started=started,
    )


def fill_lines(problem: Problem, site_order: Sequence[int]) -> list[Assignment]:
    """Each line, in order, takes what it still needs from the candidates in ``site_order``.

    Lines of the same sku draw on the same stock, so what one line takes the next cannot.
    """
    left = problem.avail.copy()
    out: list[Assignment] = []
    for line, s in zip(problem.lines, problem.line_sku.tolist(), strict=True):
        need = line.quantity
        for j in site_order:
            if need == 0:
                break
            take = min(need, int(left[j, s]))
            if take:
                left[j, s] -= take
                need -= take
                out.append(Assignment(line.line_id, problem.sites[j].location_id, take))
    return out


def backorders(lines: Sequence[LineDemand], assignments: Sequence[Assignment]) -> dict[str, int]:
    given: dict[str, int] = {}
    for a in assignments:
        given[a.line_id] = given.get(a.line_id, 0) + a.quantity
    short = {line.line_id: line.quantity - given.get(line.line_id, 0) for line in lines}
    return {line_id: n for line_id, n in short.items() if n > 0}


def cost_of(problem: Problem, assignments: Sequence[Assignment]) -> int:
    return plan_cost(
        assignments,
        problem.sites_by_id,
        problem.destination,
        problem.config,
        problem.rules,
        backorders(problem.lines, assignments),
    )


def _names(ids: list[str], shown: int = 4) -> str:
    if len(ids) <= shown:
        return ", ".join(ids)
    return f"{', '.join(ids[:shown])} and {len(ids) - shown} more"


def make_plan(problem: Problem, assignments: list[Assignment], strategy: str, exact: bool, how: str) -> Plan:
    """The plan as recorded: assignments in line order, cost by the one model, a sentence for the timeline."""
    order = {line.line_id: i for i, line in enumerate(problem.lines)}
    assignments = sorted(assignments, key=lambda a: (order[a.line_id], a.location_id))
    short = backorders(problem.lines, assignments)
    cost = cost_of(problem, assignments)
    backorder_cost = problem.config.backorder_penalty * sum(short.values())
    locations = sorted({a.location_id for a in assignments})
    terms = {s.location_id: t for s, t in zip(problem.sites, problem.terms, strict=True)}
    avg_km = sum(terms[loc].distance_km for loc in locations) / len(locations) if locations else 0.0
    if locations:
        noun = "shipment" if len(locations) == 1 else "shipments"
        reason = (
            f"{len(locations)} {noun} from {_names(locations)}: cost {(cost - backorder_cost) / 100:.2f}, "
            f"avg {avg_km:.0f} km, {how}"
        )
    else:
        reason = f"nothing allocated: no eligible location has stock, {how}"
    if short:
        units = sum(short.values())
        reason += f"; {units} unit{'s' if units != 1 else ''} backordered"
    return Plan(
        assignments=assignments,
        backordered=short,
        strategy=strategy,
        exact=exact,
        cost=cost,
        shipments=len(locations),
        avg_distance_km=avg_km,
        solve_ms=(time.perf_counter() - problem.started) * 1000,
        reason=reason,
        backorder_cost=backorder_cost,
    )
