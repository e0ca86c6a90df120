"""A bounded search by plan cost, for orders too large for the exact model.

Given a set of open locations the cheapest allocation is easy: each sku takes its units
from the open locations in order of per-unit cost. So the search is over sets only:
greedy (open the location with the lowest cost per newly covered unit), then local
improvement (drop one, add one, swap one in for one out) until nothing improves. The
effort is bounded by a count of evaluated sets rather than a clock, so the same order
always gets the same plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from functions.allocate.rules.routing.model import Assignment
from functions.allocate.rules.routing.problem import Problem, fill_lines

EVALUATIONS = 600  # sets costed per order, at most


class SetCost:
    """Cost of serving the order from a set of open locations, vectorised over skus."""

    def __init__(self, problem: Problem, budget: int = EVALUATIONS) -> None:
        self.problem = problem
        # Plain lists: these are read a few at a time, where numpy's per-call cost dominates.
        self.fixed = problem.fixed.tolist()
        self.per_unit = problem.per_unit.tolist()
        rank = np.lexsort((np.arange(len(problem.sites)), problem.distance, problem.per_unit)).tolist()
        self.position = [0] * len(rank)
        for place, j in enumerate(rank):
            self.position[j] = place
        self.cache: dict[frozenset[int], int] = {}
        self.budget = budget

    @property
    def exhausted(self) -> bool:
        return self.budget <= 0

    def fill_order(self, open_sites: Iterable[int]) -> list[int]:
        """Cheapest per unit first, then nearest, then smallest id."""
        return sorted(open_sites, key=self.position.__getitem__)

    def __call__(self, open_sites: frozenset[int]) -> int:
        cached = self.cache.get(open_sites)
        if cached is not None:
            return cached
        self.budget -= 1
        p, cfg = self.problem, self.problem.config
        cost, shipments, before = 0, 0, 0
        if open_sites:
            order = self.fill_order(open_sites)
            reached = np.minimum(p.avail[order].cumsum(axis=0), p.demand).sum(axis=1).tolist()
            for j, now in zip(order, reached, strict=True):
                if now > before:
                    cost += self.fixed[j] + self.per_unit[j] * (now - before)
                    shipments += 1
                    before = now
        cost += cfg.split_cost * max(0, shipments - 1)
        cost += cfg.backorder_penalty * (int(p.demand.sum()) - before)
        self.cache[open_sites] = cost
        return cost

    def key(self, open_sites: frozenset[int]) -> tuple[int, list[int]]:
        """Cheaper first; equal costs go to the set of smaller indices, i.e. smaller ids."""
        return self(open_sites), sorted(open_sites)


def _neighbours(current: frozenset[int], n: int, limit: int) -> Iterator[frozenset[int]]:
    inside = sorted(current)
    outside = [k for k in range(n) if k not in current]
    for j in inside:
        yield current - {j}
    if len(current) < limit:
        for k in outside:
            yield current | {k}
    for j in inside:
        for k in outside:
            yield (current - {j}) | {k}


def _improve(cost: SetCost, current: frozenset[int], n: int, limit: int) -> frozenset[int]:
    """First improvement: take the first cheaper neighbour, until none is cheaper or the budget is spent."""
    improved = True
    while improved and not cost.exhausted:
        improved = False
        for step in _neighbours(current, n, limit):
            if cost.key(step) < cost.key(current):
                current, improved = step, True
                break
            if cost.exhausted:
                break
    return current


def search_sites(problem: Problem, starts: Sequence[frozenset[int]], budget: int = EVALUATIONS) -> frozenset[int]:
    """The best set found by improving each of ``starts`` within ``budget`` evaluations in all."""
    cost = SetCost(problem, budget)
    n, limit = len(problem.sites), problem.max_shipments
    best = frozenset[int]()
    for start in starts:
        found = _improve(cost, start, n, limit)
        if cost.key(found) < cost.key(best):
            best = found
    return best


def greedy_sites(problem: Problem) -> frozenset[int]:
    """A quick good set: repeatedly open the location with the lowest cost per newly covered unit.

    Then drop any location the rest can do without more cheaply. Used to start the exact
    model from a good plan and to prune it.
    """
    cost = SetCost(problem, budget=len(problem.sites) + 1)
    missing = problem.demand.copy()
    fixed, per_unit, distance = problem.fixed, problem.per_unit, problem.distance
    chosen: list[int] = []
    while missing.any() and len(chosen) < problem.max_shipments:
        new = np.minimum(problem.avail, missing).sum(axis=1)
        new[chosen] = 0
        if not new.any():
            break
        per_new_unit = np.where(new > 0, (fixed + per_unit * new) / np.maximum(new, 1), np.inf)
        j = int(np.lexsort((np.arange(len(new)), distance, per_new_unit))[0])
        if per_new_unit[j] >= problem.config.backorder_penalty:
            break
        chosen.append(j)
        missing -= np.minimum(problem.avail[j], missing)
    current = frozenset(chosen)
    for j in sorted(chosen, key=lambda j: -int(fixed[j])):
        if cost(current - {j}) < cost(current):
            current = current - {j}
    return current


def heuristic_assignments(
    problem: Problem, starts: Sequence[frozenset[int]], budget: int = EVALUATIONS
) -> list[Assignment]:
    """Local search from ``starts``, as line assignments."""
    chosen = search_sites(problem, starts, budget)
    return fill_lines(problem, SetCost(problem).fill_order(chosen))
