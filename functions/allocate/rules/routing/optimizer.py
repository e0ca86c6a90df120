"""Minimum plan cost: the exact model for ordinary orders, a bounded search beyond.

1. Two quick plans: the baseline's, and a greedy one (cheapest per newly covered unit).
   The cheaper is the incumbent.
2. Locations that cannot be in any plan cheaper than the incumbent are left out (see
   ``lower_bounds``). This keeps the model exact and makes it smaller.
3. Ordinary orders (up to ``exact_max_lines`` lines and ``exact_max_sites`` remaining
   locations) go to the MILP, started from the incumbent. Proven optimal: done.
4. Otherwise (a larger order, more locations than the model takes, or no proof within
   ``time_limit_ms``) a bounded local search joins in and the cheapest answer is kept,
   marked not exact.

Every answer is checked against the rules and the stock before use, and the result is
never costlier than the baseline's plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from functions.allocate.rules.routing.baseline import baseline_sites
from functions.allocate.rules.routing.checks import allocation_violations
from functions.allocate.rules.routing.heuristic import EVALUATIONS, SetCost, greedy_sites, heuristic_assignments
from functions.allocate.rules.routing.milp import solve_milp
from functions.allocate.rules.routing.model import Assignment, Plan
from functions.allocate.rules.routing.problem import IntArray, Problem, backorders, cost_of, fill_lines, make_plan

Option = tuple[list[Assignment], bool, str]  # assignments, proven optimal, how it was found

FALLBACK_EVALUATIONS = 150  # local search after the MILP ran out of time: keep the total bounded


def lower_bounds(problem: Problem) -> IntArray:
    """For each candidate, a cost no plan that uses it can beat.

    Its fixed cost; every unit at the lowest per-unit cost anyone offers for its sku (or
    the backorder penalty); and, for what it lacks, the cheaper of one more shipment (the
    split cost plus the lowest fixed cost among those holding some of it) and
    backordering it.
    """
    avail, demand, fixed = problem.avail, problem.demand, problem.fixed
    penalty, big = problem.config.backorder_penalty, np.iinfo(np.int64).max
    unit_floor = np.minimum(np.where(avail > 0, problem.per_unit[:, None], big).min(axis=0, initial=big), penalty)
    floor = int((demand * unit_floor).sum())
    lacking = np.maximum(demand - avail, 0)  # (j, sku): what j cannot give
    backordering = (lacking * (penalty - unit_floor)).sum(axis=1)
    helps = (np.minimum(avail[None, :, :], lacking[:, None, :]) > 0).any(axis=2)  # (j, k): k holds some of it
    np.fill_diagonal(helps, False)
    helper = np.where(helps, fixed[None, :] + problem.config.split_cost, big).min(axis=1, initial=big)
    return fixed + floor + np.minimum(helper, backordering)


def worth_modelling(problem: Problem, upper: int, keep: Iterable[int]) -> list[int]:
    """Candidates that may still be in a plan costing at most ``upper``, plus ``keep``."""
    could = set(np.flatnonzero(lower_bounds(problem) <= upper).tolist())
    return sorted(could.union(keep))


def shortlist(problem: Problem, among: Sequence[int], keep: Iterable[int], size: int) -> list[int]:
    """When there are still too many candidates: the cheapest few ``among`` them for each line (not exact).

    A line's candidates are ranked by what shipping that line alone from them would cost,
    those that cannot ship all of it last.
    """
    per_line = max(3, size // max(1, len(problem.lines)))
    pool = np.asarray(among, dtype=np.int64)
    fixed, per_unit = problem.fixed, problem.per_unit
    chosen = set(keep)
    for line, s in zip(problem.lines, problem.line_sku.tolist(), strict=True):
        holders = pool[problem.avail[pool, s] > 0]
        units = np.minimum(problem.avail[holders, s], line.quantity)
        alone = fixed[holders] + per_unit[holders] * units
        order = np.lexsort((holders, alone, units < line.quantity))
        chosen.update(holders[order[:per_line]].tolist())
    return sorted(chosen)


def _sound(problem: Problem, assignments: list[Assignment]) -> bool:
    short = backorders(problem.lines, assignments)
    sites = list(problem.sites_by_id.values())
    return not allocation_violations(assignments, short, problem.lines, problem.stock, sites, problem.rules)


def _indices(problem: Problem, assignments: Iterable[Assignment]) -> set[int]:
    index = {s.location_id: j for j, s in enumerate(problem.sites)}
    return {index[a.location_id] for a in assignments}


def route_optimizer(problem: Problem) -> Plan:
    cfg = problem.config
    base_set, _ = baseline_sites(problem)
    baseline = fill_lines(problem, sorted(base_set, key=lambda j: (problem.terms[j].distance_km, j)))
    greedy_set = greedy_sites(problem)
    greedy = fill_lines(problem, SetCost(problem).fill_order(greedy_set))
    incumbent = min([baseline, greedy], key=lambda plan: cost_of(problem, plan))
    options: list[Option] = []
    budget = EVALUATIONS
    if len(problem.lines) <= cfg.exact_max_lines:
        start = _indices(problem, incumbent)
        keep = worth_modelling(problem, cost_of(problem, incumbent), start)
        whole = len(keep) <= cfg.exact_max_sites
        if not whole:
            keep = shortlist(problem, keep, start, cfg.exact_max_sites)
        result = solve_milp(problem.restricted_to(keep), warm_start=incumbent)
        if result is not None and _sound(problem, result.assignments):
            if result.optimal and whole:
                # Proven optimal; the baseline check only guards against a modelling slip.
                return _cheapest(problem, [(result.assignments, True, "optimizer exact"), _baseline(baseline)])
            options.append((result.assignments, False, "optimizer MILP, optimality not proven"))
        budget = FALLBACK_EVALUATIONS
    found = heuristic_assignments(problem, starts=[frozenset(base_set), greedy_set], budget=budget)
    if _sound(problem, found):
        options.append((found, False, "optimizer local search"))
    options.append((greedy, False, "optimizer greedy"))
    return _cheapest(problem, [*options, _baseline(baseline)])


def _baseline(assignments: list[Assignment]) -> Option:
    return assignments, False, "optimizer found nothing cheaper than the baseline"


def _cheapest(problem: Problem, options: Sequence[Option]) -> Plan:
    """The cheapest option; among equals the fewest shipments, then the smallest location ids.

    When one of them is proven optimal, every option as cheap is optimal too.
    """
    costs = [cost_of(problem, assignments) for assignments, _, _ in options]
    best = min(costs)
    proven = any(exact for (_, exact, _), cost in zip(options, costs, strict=True) if cost == best)

    def preference(i: int) -> tuple[int, list[str], int]:
        ids = sorted({a.location_id for a in options[i][0]})
        return len(ids), ids, i

    chosen = min((i for i, cost in enumerate(costs) if cost == best), key=preference)
    assignments, _, how = options[chosen]
    return make_plan(problem, assignments, "optimizer", proven, "optimizer exact" if proven else how)
