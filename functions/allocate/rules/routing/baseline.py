"""The router Salesforce Order Management offers: fewest shipments, then shortest average distance.

Every single location that can ship the whole order is tried first, then every pair,
then every triple (up to the rules' max_splits); among sets of the same size the one
with the smallest average distance to the destination wins, ties going to the set of
smallest location ids. Beyond triples, or when no set within max_splits covers the
order, locations are added greedily by the units they still cover, and what is left is
backordered. Inside the chosen set every line takes its units from the nearest location
that has them.
"""

from __future__ import annotations

import numpy as np

from functions.allocate.rules.routing.model import Plan
from functions.allocate.rules.routing.problem import IntArray, Problem, fill_lines, make_plan

ENUMERATE_UP_TO = 3  # locations per set; beyond, greedy


class _Best:
    """The covering set with the smallest total distance; ties to the smallest sorted ids."""

    def __init__(self, distance: IntArray) -> None:
        self.distance = distance
        self.key: tuple[int, tuple[int, ...]] | None = None

    def offer(self, members: tuple[int, ...]) -> None:
        key = (int(self.distance[list(members)].sum()), tuple(sorted(members)))
        if self.key is None or key < self.key:
            self.key = key


def fewest_covering_set(problem: Problem, k: int) -> list[int] | None:
    """The best k-set of candidates that covers the whole order, or None.

    Every covering set holds some unit of the scarcest sku still needed, so the search
    branches on that sku's holders and checks the last one or two members vectorised.
    Only called when no smaller set covers, so every member contributes something.
    """
    best = _Best(problem.distance)
    _search(problem, problem.demand, k, (), best)
    return None if best.key is None else list(best.key[1])


def _search(problem: Problem, need: IntArray, k: int, chosen: tuple[int, ...], best: _Best) -> None:
    avail = problem.avail
    useful = np.minimum(avail, need).sum(axis=1) > 0
    useful[list(chosen)] = False
    if k > 2:
        holders = (avail > 0) & useful[:, None]
        missing = np.flatnonzero(need > 0)
        scarcest = missing[np.argmin(holders[:, missing].sum(axis=0))]
        for h in np.flatnonzero(holders[:, scarcest]).tolist():
            _search(problem, np.maximum(need - avail[h], 0), k - 1, (*chosen, h), best)
        return
    if k == 1:
        ends = np.flatnonzero(useful & (avail >= need).all(axis=1))[:, None]
    else:
        idx = np.flatnonzero(useful)
        sub = avail[idx]
        ends = idx[np.argwhere(np.triu((sub[:, None, :] + sub[None, :, :] >= need).all(axis=2), k=1))]
    if len(ends):
        totals = problem.distance[ends].sum(axis=1)
        for members in ends[totals == totals.min()].tolist():  # only the nearest compete on ids
            best.offer((*chosen, *members))


def greedy_cover(problem: Problem, limit: int) -> list[int]:
    """Add the location covering most of what is still missing (nearest first on ties), up to ``limit``."""
    missing = problem.demand.copy()
    distance = problem.distance
    chosen: list[int] = []
    free = np.ones(len(problem.sites), dtype=bool)
    while len(chosen) < limit and missing.any():
        gain = np.minimum(problem.avail, missing).sum(axis=1)
        gain[~free] = -1
        # Most units first, then nearest, then smallest id (index order).
        j = int(np.lexsort((np.arange(len(gain)), distance, -gain))[0])
        if gain[j] <= 0:
            break
        chosen.append(j)
        free[j] = False
        missing -= np.minimum(problem.avail[j], missing)
    return chosen


def baseline_sites(problem: Problem) -> tuple[list[int], bool]:
    """The chosen location set, and whether the fewest-splits enumeration found it."""
    limit = problem.max_shipments
    for k in range(1, min(limit, ENUMERATE_UP_TO) + 1):
        found = fewest_covering_set(problem, k)
        if found is not None:
            return found, True
    return greedy_cover(problem, limit), False


def route_baseline(problem: Problem) -> Plan:
    chosen, enumerated = baseline_sites(problem)
    nearest_first = sorted(chosen, key=lambda j: (problem.terms[j].distance_km, j))
    assignments = fill_lines(problem, nearest_first)
    how = "baseline fewest splits" if enumerated else "baseline greedy cover"
    return make_plan(problem, assignments, "baseline", enumerated, how)
