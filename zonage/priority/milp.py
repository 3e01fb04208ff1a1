"""Exact allocation as a mixed-integer linear programme (SciPy ``milp``, HiGHS).

With a concave objective ``F(x) = Σ_i p_i φ(A⁰_i + Σ_j a_ij x_j)`` the allocation is a
MILP without a binary per unit: maximise ``Σ p_i z_i`` subject to ``z_i ≤ c_t + d_t A_i(x)``
for the tangents ``t`` of ``φ`` (:meth:`~zonage.priority.objectives.Objective.tangents`),
with integer posts ``x_{j,s}`` (structure ``j``, scheme ``s``) under the per-scheme counts,
the cap per structure, the minima per département and the budget.

For the piecewise-linear ``min(A, T)`` the tangents are exact and the MILP optimum *is*
the optimum. For the squared shortfall the tangents are an upper envelope touching ``φ``
every ``step``: the MILP's value is an **upper bound** of the optimum, and the true
objective of its solution a lower bound; both are returned, so the greedy's gap to the
optimum is bracketed. Tangents are drawn only over the range each unit's accessibility can
reach (its baseline plus the largest increments of as many posts as there are), so the
programme stays small.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from zonage.errors import InputDataError
from zonage.priority.allocation import AllocationProblem, Constraints

__all__ = ["ExactResult", "solve_exact"]


@dataclass
class ExactResult:
    """Outcome of :func:`solve_exact`.

    Attributes
    ----------
    posts
        Posts per candidate and scheme of the MILP's solution.
    gain
        True objective gain of that solution (a lower bound of the optimum).
    upper
        The MILP's objective gain (an upper bound of the optimum; equal to the optimum
        for a piecewise-linear objective).
    status
        HiGHS status message.
    seconds
        Wall time.
    variables, rows
        Size of the programme.
    """

    posts: pd.DataFrame
    gain: float
    upper: float
    status: str
    seconds: float
    variables: int
    rows: int


def solve_exact(problem: AllocationProblem, constraints: Constraints, *, step: float = 0.05,
                time_limit: float = 300.0, mip_rel_gap: float = 1e-7) -> ExactResult:
    """Solve the allocation exactly (see the module docstring).

    Raises
    ------
    InputDataError
        The objective is not concave (``lifted``), or the programme is infeasible.
    """
    goal = problem.objective_fn
    if not goal.concave:
        raise InputDataError(f"objective {goal.name!r} is not concave: no MILP formulation here")
    started = time.perf_counter()
    schemes = list(constraints.posts)
    elig = problem.eligible[schemes].to_numpy(dtype=bool)
    m = len(problem.candidates)
    pairs_j, pairs_s = np.nonzero(elig)
    n_x = len(pairs_j)
    total_posts = int(sum(constraints.posts.values()))
    cap = constraints.max_per_structure or total_posts

    inc = sp.csr_array(problem.increments)  # units × candidates
    scope = np.flatnonzero(problem.scope & (np.diff(inc.indptr) > 0))
    a = inc[scope]  # touched units × candidates
    # largest reachable increment per unit: its `total_posts` best columns, each at most `cap` times
    reach = np.zeros(len(scope))
    for r in range(len(scope)):
        row = np.sort(a.data[a.indptr[r]:a.indptr[r + 1]])[::-1]
        if row.size:
            repeated = np.repeat(row, cap)[:total_posts]
            reach[r] = repeated.sum()
    base = problem.access[scope]
    demand = problem.demand[scope]
    high = np.minimum(base + reach, goal.threshold)
    changing = high > base + 1e-12
    units = np.flatnonzero(changing)
    n_z = len(units)

    # tangent rows: z_u - d * Σ_j a_uj Σ_s x_js <= c + d * A0_u
    a_x = sp.csr_array(a[units][:, pairs_j])  # units × x-variables
    rows_i, cols_i, vals_i, rhs_l, z_rows = [], [], [], [], []
    n_t = 0
    for k, u in enumerate(units):
        intercepts, slopes = goal.tangents(float(base[u]), float(high[u]), step)
        start, end = a_x.indptr[k], a_x.indptr[k + 1]
        cols, vals = a_x.indices[start:end], a_x.data[start:end]
        t = len(slopes)
        rows_i.append(np.repeat(np.arange(n_t, n_t + t), len(cols)))
        cols_i.append(np.tile(cols, t))
        vals_i.append(-np.repeat(slopes, len(cols)) * np.tile(vals, t))
        rhs_l.append(intercepts + slopes * base[u])
        z_rows.append(np.full(t, k))
        n_t += t
    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    rhs = cat(rhs_l, float)
    x_part = sp.csr_array((cat(vals_i, float), (cat(rows_i, np.int64), cat(cols_i, np.int64))), shape=(n_t, n_x))
    z_part = sp.csr_array((np.ones(n_t), (np.arange(n_t), cat(z_rows, np.int64))), shape=(n_t, n_z))
    a_tan = sp.hstack([x_part, z_part], format="csr")
    cons = [LinearConstraint(a_tan, -np.inf, rhs)]

    # per-scheme counts (at most: the objective never decreases with a post, the optimum fills them)
    counts = sp.csr_array((np.ones(n_x), (pairs_s, np.arange(n_x))), shape=(len(schemes), n_x))
    cons.append(LinearConstraint(sp.hstack([counts, sp.csr_array((len(schemes), n_z))]), -np.inf,
                                 np.array([constraints.posts[s] for s in schemes], dtype=float)))
    if constraints.max_per_structure:
        per = sp.csr_array((np.ones(n_x), (pairs_j, np.arange(n_x))), shape=(m, n_x))
        cons.append(LinearConstraint(sp.hstack([per, sp.csr_array((m, n_z))]), -np.inf,
                                     np.full(m, float(constraints.max_per_structure))))
    minimum = constraints.min_per_departement
    if minimum:
        deps = problem.candidates["departement"].astype("string").to_numpy() if "departement" in \
            problem.candidates.columns else np.full(m, None)
        wanted = {str(d): int(minimum) for d in pd.unique(deps[pd.notna(deps)])} if isinstance(minimum, int) \
            else {str(d): int(k) for d, k in minimum.items()}
        for d, k in wanted.items():
            members = np.isin(pairs_j, np.flatnonzero(deps == d))
            if k > 0 and members.any():
                floor = np.concatenate([members.astype("float64"), np.zeros(n_z)]).reshape(1, -1)
                cons.append(LinearConstraint(sp.csr_array(floor), k, np.inf))
    if constraints.budget is not None:
        costs = constraints.costs or {}
        price = np.array([float(costs.get(schemes[s], 1.0)) for s in pairs_s])
        cons.append(LinearConstraint(sp.hstack([sp.csr_array(price.reshape(1, -1)), sp.csr_array((1, n_z))]),
                                     -np.inf, float(constraints.budget)))

    objective = np.concatenate([np.zeros(n_x), -demand[units]])
    integrality = np.concatenate([np.ones(n_x), np.zeros(n_z)])
    upper_x = np.full(n_x, float(cap))
    lower = np.concatenate([np.zeros(n_x), np.full(n_z, -np.inf)])
    upper = np.concatenate([upper_x, np.full(n_z, np.inf)])
    result = milp(objective, integrality=integrality, bounds=Bounds(lower, upper), constraints=cons,
                  options={"time_limit": time_limit, "mip_rel_gap": mip_rel_gap, "disp": False})
    if result.x is None:
        raise InputDataError(f"exact allocation: no solution ({result.message})")
    x = np.round(result.x[:n_x]).astype(np.int64)
    posts = np.zeros((m, len(schemes)), dtype=np.int64)
    np.add.at(posts, (pairs_j, pairs_s), x)
    added = posts.sum(axis=1).astype("float64")
    after = problem.access_after(added)
    gain = problem.objective(after) - problem.objective(problem.access)
    base_value = float(np.dot(demand[units], goal.phi(base[units])))
    dual = getattr(result, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and math.isfinite(dual) else -float(result.fun)
    upper_gain = bound - base_value
    return ExactResult(posts=pd.DataFrame(posts, index=problem.candidates.index, columns=schemes), gain=gain,
                       upper=max(upper_gain, gain), status=str(result.message),
                       seconds=time.perf_counter() - started, variables=n_x + n_z, rows=n_t)
