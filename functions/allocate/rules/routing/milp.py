"""The exact model, solved by HiGHS.

Variables: ``x[l,j]`` units of line l from candidate j (integer), ``y[j]`` location j
ships (binary), ``b[l]`` units of line l backordered, ``z`` the order ships at all
(binary). Minimise

    sum_j (fixed_j + split) y_j + sum_lj per_unit_j x_lj + penalty sum_l b_l - split z

subject to
    sum_j x_lj + b_l = qty_l                              every line
    sum_{l of sku s} x_lj <= min(stock_sj, demand_s) y_j    every sku and candidate
    x_lj <= min(stock_sj, qty_l) y_j                       lines sharing a sku (tighter relaxation)
    sum_j y_j <= max_splits
    z <= sum_j y_j

so the objective is exactly plan_cost: ``split (sum y - z)`` charges every shipment after
the first. Capacity and the per-location rules are applied before, by leaving the
location out. Costs are integers, so a gap below 1 proves optimality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from functions.allocate.rules.routing.model import Assignment
from functions.allocate.rules.routing.problem import Problem

INF = float("inf")


@dataclass(frozen=True)
class MilpResult:
    assignments: list[Assignment]
    optimal: bool


@dataclass
class _Rows:
    """Row-wise constraint matrix under construction."""

    lower: list[float]
    upper: list[float]
    start: list[int]
    index: list[int]
    value: list[float]

    def add(self, lower: float, upper: float, index: Sequence[int], value: Sequence[float]) -> None:
        self.lower.append(lower)
        self.upper.append(upper)
        self.start.append(len(self.index))
        self.index.extend(index)
        self.value.extend(value)


def solve_milp(problem: Problem, warm_start: Sequence[Assignment] = ()) -> MilpResult | None:
    """The cost-optimal allocation; None when HiGHS found no solution in time."""
    import highspy  # ~60 ms to import: only when the optimizer runs

    cfg = problem.config
    n, n_lines = len(problem.sites), len(problem.lines)
    stock = problem.avail  # (candidates, skus), capped at demand
    # One x column per (line, candidate holding its sku).
    pair_line, pair_site = [], []
    for i, s in enumerate(problem.line_sku.tolist()):
        for j in np.flatnonzero(stock[:, s]).tolist():
            pair_line.append(i)
            pair_site.append(j)
    n_x = len(pair_line)
    y0, b0, z = n_x, n_x + n, n_x + n + n_lines
    n_cols = z + 1

    per_unit, fixed = problem.per_unit, problem.fixed
    quantity = [line.quantity for line in problem.lines]
    cost = np.concatenate(
        [
            per_unit[pair_site] if n_x else np.zeros(0),
            fixed + cfg.split_cost,
            np.full(n_lines, cfg.backorder_penalty),
            [-cfg.split_cost],
        ]
    ).astype(float)
    upper = np.concatenate(
        [
            [min(int(stock[j, problem.line_sku[i]]), quantity[i]) for i, j in zip(pair_line, pair_site, strict=True)],
            np.ones(n),
            quantity,
            [1],
        ]
    ).astype(float)
    integrality = np.concatenate([np.ones(n_x + n), np.zeros(n_lines), [1]]).astype(np.int32)

    rows = _Rows([], [], [], [], [])
    by_line: list[list[int]] = [[] for _ in range(n_lines)]
    by_sku_site: dict[tuple[int, int], list[int]] = {}
    for p, (i, j) in enumerate(zip(pair_line, pair_site, strict=True)):
        by_line[i].append(p)
        by_sku_site.setdefault((int(problem.line_sku[i]), j), []).append(p)
    for i, cols in enumerate(by_line):
        rows.add(quantity[i], quantity[i], [*cols, b0 + i], [1.0] * (len(cols) + 1))
    for (s, j), cols in by_sku_site.items():
        rows.add(-INF, 0.0, [*cols, y0 + j], [*([1.0] * len(cols)), -float(stock[j, s])])
        if len(cols) > 1:
            for p in cols:
                rows.add(-INF, 0.0, [p, y0 + j], [1.0, -upper[p]])
    if problem.max_shipments < n:
        rows.add(-INF, float(problem.max_shipments), range(y0, y0 + n), [1.0] * n)
    rows.add(-INF, 0.0, [z, *range(y0, y0 + n)], [1.0, *([-1.0] * n)])
    rows.start.append(len(rows.index))

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", cfg.time_limit_ms / 1000)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.999)
    # It hunts for a first solution, which the warm start already is.
    h.setOptionValue("mip_heuristic_run_feasibility_jump", False)
    h.passModel(
        n_cols,
        len(rows.lower),
        len(rows.index),
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        cost,
        np.zeros(n_cols),
        upper,
        np.array(rows.lower),
        np.array(rows.upper),
        np.array(rows.start, dtype=np.int32),
        np.array(rows.index, dtype=np.int32),
        np.array(rows.value),
        integrality,
    )
    if warm_start:
        h.setSolution(n_cols, np.arange(n_cols, dtype=np.int32), _columns(problem, warm_start, pair_line, pair_site))
    h.run()
    status = h.getModelStatus()
    if h.getInfo().primal_solution_status != highspy.kSolutionStatusFeasible:
        return None
    values = np.rint(np.asarray(h.getSolution().col_value[:n_x])).astype(np.int64)
    assignments = [
        Assignment(problem.lines[i].line_id, problem.sites[j].location_id, int(v))
        for i, j, v in zip(pair_line, pair_site, values.tolist(), strict=True)
        if v > 0
    ]
    return MilpResult(assignments, optimal=status == highspy.HighsModelStatus.kOptimal)


def _columns(
    problem: Problem, plan: Sequence[Assignment], pair_line: Sequence[int], pair_site: Sequence[int]
) -> np.ndarray:
    """A known plan as a full column vector, for HiGHS to start from."""
    n, n_lines, n_x = len(problem.sites), len(problem.lines), len(pair_line)
    line_of = {line.line_id: i for i, line in enumerate(problem.lines)}
    site_of = {s.location_id: j for j, s in enumerate(problem.sites)}
    column = {(i, j): p for p, (i, j) in enumerate(zip(pair_line, pair_site, strict=True))}
    values = np.zeros(n_x + n + n_lines + 1)
    given = np.zeros(n_lines)
    for a in plan:
        i, j = line_of[a.line_id], site_of[a.location_id]
        values[column[(i, j)]] += a.quantity
        values[n_x + j] = 1
        given[i] += a.quantity
    values[n_x + n : n_x + n + n_lines] = [line.quantity for line in problem.lines] - given
    values[-1] = 1.0 if len(plan) else 0.0
    return values
