"""The allocation problem: candidates, demand units, the effect of one post, the objective.

Objective
---------
Demand units ``i`` (communes) have a demand ``p_i`` (standardised population), an
accessibility ``A_i`` (consultations per year per standardised inhabitant, the unit of
the APL) and the région sets a threshold ``T`` (default 4.0, the top of the vivier).
The objective of an allocation ``x`` (posts per candidate structure) is::

    F(x) = Σ_{i in région} p_i · min(A_i(x), T)

— the consultations per year that reach people, each person counting only up to ``T``:
the **consultations reaching under-served people**. Since ``p min(A, T) = p T − p max(0, T − A)``,
raising ``F`` by ``g`` closes exactly ``g`` of the gap ``G = Σ p_i max(0, T − A_i)``
(the ``gap`` criterion of :mod:`~zonage.priority.scoring`): both readings are the same
number. The *gain* of an allocation is ``F(x) − F(0)``.

Effect of a post
----------------
Each candidate structure is a new supply node at its own point (straight-line costs to
every commune within the cut-off, as in the national run of ``zonage access``), so two
structures of one commune are told apart. With 2SFCA / E2SFCA the demand does not depend
on supply, so adding ``s`` consultations (one post) at site ``j`` leaves every other
site's ratio unchanged and adds ``ΔA_i = s W_ij / D_j`` with ``D_j = Σ_k W_kj p_k`` (the
site's catchment demand): accessibility is affine in ``x``, ``A(x) = A⁰ + Σ_j x_j a_j``.
The marginal gain of a candidate is computed exactly from its sparse column, and after a
pick only the candidates whose catchments overlap the picked one's change. After each
pick the accessibility is recomputed with the engine
(:func:`~zonage.access.methods.floating_catchment` on the candidates' weight matrix)
and checked against the incremental update (``engine_max_diff``). 3SFCA is not affine in
supply (a site with supply attracts demand away from the others) and is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from zonage.access.costs import TravelCosts, od_costs
from zonage.access.decay import Decay
from zonage.access.methods import default_decay, floating_catchment, weight_matrix
from zonage.errors import InputDataError
from zonage.priority.objectives import Objective, under_threshold

__all__ = ["AllocationProblem", "make_problem", "stack_problems"]


# ---------------------------------------------------------------------------- the problem
@dataclass(frozen=True)
class AllocationProblem:
    """The numbers an allocation works on (build it with :func:`make_problem`).

    Attributes
    ----------
    units
        Demand unit identifiers (communes of the région and of its buffer).
    candidates
        One row per candidate structure, indexed by its id; ``departement`` and
        ``territory`` are used by the constraints and the naive rule when present, the
        other columns describe the structure.
    eligible
        Boolean table (candidates × schemes): may a post of the scheme go there.
    weights
        ``(n_units, n_candidates)`` sparse decay weights ``W_ij`` (pairs within the cut-off).
    demand
        ``p_i`` (standardised population): the catchment demand and the objective's weight.
    access
        Baseline accessibility ``A⁰_i`` (consultations/year/std inhabitant).
    scope
        Units whose people count in the objective (the région).
    population
        Inhabitants per unit (for "population helped").
    threshold
        ``T``: people under it are under-served.
    capacity
        Consultations per year one post adds.
    method
        ``"e2sfca"`` or ``"2sfca"`` (same computation, used by the engine check).
    goal
        The objective (:mod:`zonage.priority.objectives`; default ``consultations_under``
        at ``threshold``).
    parts
        For a problem stacking several travel models (:func:`stack_problems`): the
        single-model problems, whose units are repeated here block by block.
    catchment
        ``D_j = Σ_i W_ij p_i`` (derived).
    increments
        ``a_ij = capacity × W_ij / D_j``: accessibility one post at ``j`` adds to unit ``i`` (derived).
    """

    units: pd.Index
    candidates: pd.DataFrame
    eligible: pd.DataFrame
    weights: sp.csc_array
    demand: np.ndarray
    access: np.ndarray
    scope: np.ndarray
    population: np.ndarray
    threshold: float
    capacity: float
    method: str = "e2sfca"
    goal: Objective | None = None
    parts: tuple[AllocationProblem, ...] = field(default=(), repr=False)
    given_increments: sp.csc_array | None = field(default=None, repr=False)
    catchment: np.ndarray = field(init=False, repr=False)
    increments: sp.csc_array = field(init=False, repr=False)
    _scoped: sp.csc_array = field(init=False, repr=False)
    _pattern: sp.csr_array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n, m = len(self.units), len(self.candidates)
        if self.weights.shape != (n, m):
            raise InputDataError(f"weights {self.weights.shape} do not match {n} units × {m} candidates")
        for name in ("demand", "access", "scope", "population"):
            if np.shape(getattr(self, name)) != (n,):
                raise InputDataError(f"{name}: expected {n} values, one per demand unit")
        if not self.eligible.index.equals(self.candidates.index):
            raise InputDataError("eligible: index must be the candidates' index")
        if self.method not in ("2sfca", "e2sfca"):
            raise ValueError(f"method {self.method!r}: post allocation needs 2sfca or e2sfca (3SFCA is not "
                             "affine in supply)")
        if not (self.threshold > 0 and self.capacity > 0):
            raise ValueError("threshold and capacity must be > 0")
        if self.goal is None:
            object.__setattr__(self, "goal", under_threshold(self.threshold))
        w = sp.csc_array(self.weights)
        w.sum_duplicates()
        if self.given_increments is not None:  # stacked models: each block's own D_j
            increments = sp.csc_array(self.given_increments)
            catchment = np.mean([part.catchment for part in self.parts], axis=0) if self.parts else np.ones(m)
        else:
            catchment = np.asarray(w.T @ self.demand, dtype="float64").reshape(m)
            scale = np.zeros(m)
            np.divide(self.capacity, catchment, out=scale, where=catchment > 0)
            increments = sp.csc_array(w @ sp.diags_array(scale))
        increments.eliminate_zeros()
        scoped = sp.csc_array(sp.diags_array(self.scope.astype("float64")) @ increments)
        scoped.eliminate_zeros()
        scoped.sort_indices()
        pattern = sp.csr_array((np.ones(scoped.nnz), scoped.indices, scoped.indptr), shape=(m, n)).T.tocsr()
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "catchment", catchment)
        object.__setattr__(self, "increments", increments)
        object.__setattr__(self, "_scoped", scoped)
        object.__setattr__(self, "_pattern", pattern)

    def subset(self, positions: Sequence[int] | np.ndarray) -> AllocationProblem:
        """The same problem restricted to the candidates at ``positions`` (e.g. for a brute-force check)."""
        idx = np.asarray(positions, dtype=np.int64)
        if self.parts:
            return stack_problems([part.subset(idx) for part in self.parts], self.goal)
        return AllocationProblem(units=self.units, candidates=self.candidates.iloc[idx],
                                 eligible=self.eligible.iloc[idx], weights=self.weights[:, idx], demand=self.demand,
                                 access=self.access, scope=self.scope, population=self.population,
                                 threshold=self.threshold, capacity=self.capacity, method=self.method, goal=self.goal)

    def with_goal(self, goal: Objective) -> AllocationProblem:
        """The same problem judged on another objective."""
        if self.parts:
            return stack_problems([part.with_goal(goal) for part in self.parts], goal)
        return dataclasses.replace(self, goal=goal)

    @property
    def schemes(self) -> list[str]:
        """Schemes of the ``eligible`` table."""
        return [str(c) for c in self.eligible.columns]

    @property
    def objective_fn(self) -> Objective:
        """The objective (never None after construction)."""
        assert self.goal is not None
        return self.goal

    def objective(self, access: np.ndarray) -> float:
        """``F = Σ_{i in scope} p_i φ(A_i)`` of the problem's objective (:mod:`zonage.priority.objectives`)."""
        s = self.scope
        return self.objective_fn.value(self.demand[s], access[s])

    def gap(self, access: np.ndarray) -> float:
        """``G = Σ_{i in scope} p_i max(0, T − A_i)``: consultations/year missing to bring everyone to ``T``."""
        s = self.scope
        return float(np.dot(self.demand[s], np.maximum(self.threshold - access[s], 0.0)))

    def access_after(self, posts: np.ndarray) -> np.ndarray:
        """``A⁰ + Σ_j posts_j a_j`` (incremental formula)."""
        return self.access + np.asarray(self.increments @ np.asarray(posts, dtype="float64"), dtype="float64")

    def engine_access(self, posts: np.ndarray) -> np.ndarray:
        """Accessibility after adding ``posts × capacity`` at the candidates, recomputed by the engine."""
        if self.parts:
            return np.concatenate([part.engine_access(posts) for part in self.parts])
        added, _ = floating_catchment(self.weights, self.demand, np.asarray(posts, dtype="float64") * self.capacity,
                                      self.method)
        return self.access + added

    def gains(self, columns: np.ndarray, access: np.ndarray) -> np.ndarray:
        """Exact marginal gain of one more post at each of ``columns`` given accessibility ``access``."""
        columns = np.asarray(columns, dtype=np.int64)
        m = self._scoped
        starts, ends = m.indptr[columns], m.indptr[columns + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(columns.size)
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        pos = np.arange(total) + offsets
        rows, values = m.indices[pos], m.data[pos]
        before = access[rows]
        phi = self.objective_fn.phi
        contrib = self.demand[rows] * (phi(before + values) - phi(before))
        owner = np.repeat(np.arange(columns.size), lengths)
        return np.bincount(owner, weights=contrib, minlength=columns.size)

    def overlapping(self, column: int) -> np.ndarray:
        """Candidates whose catchment shares an in-scope unit with ``column``'s (itself included)."""
        m = self._scoped
        rows = m.indices[m.indptr[column]:m.indptr[column + 1]]
        p = self._pattern
        if rows.size == 0:
            return np.array([column])
        sub = p[rows]
        return np.unique(np.concatenate([sub.indices, [column]]))


def make_problem(
    costs: TravelCosts | pd.DataFrame,
    demand: pd.Series,
    candidates: pd.DataFrame,
    *,
    schemes: Sequence[str],
    threshold: float,
    capacity: float = 5400.0,
    access: pd.Series | None = None,
    scope: pd.Series | None = None,
    population: pd.Series | None = None,
    method: str = "e2sfca",
    decay: Decay | None = None,
    cutoff: float | None = None,
    statuses: Sequence[str] = ("eligible",),
) -> AllocationProblem:
    """Build an :class:`AllocationProblem` from costs, demand and candidates.

    Parameters
    ----------
    costs
        Costs from demand units (origins) to candidates (destinations, the candidates'
        ids): a :class:`~zonage.access.costs.TravelCosts` or an OD table
        ``origin, destination, cost``.
    demand
        Demand per unit (standardised population), indexed by unit id.
    candidates
        One row per candidate, indexed by a unique id, with a column ``statut_<scheme>``
        per scheme (statuses of the eligibility engine); ``departement`` and
        ``territory`` are optional.
    schemes
        Schemes whose posts are allocated.
    threshold, capacity
        ``T`` and the consultations per year of one post.
    access
        Baseline accessibility per unit (default 0 everywhere).
    scope
        Boolean per unit: counted in the objective (default: every unit).
    population
        Inhabitants per unit (default: the demand).
    method, decay, cutoff
        As in :func:`~zonage.access.methods.accessibility` (2SFCA or E2SFCA).
    statuses
        Statuses making a structure a candidate for a scheme.

    Raises
    ------
    InputDataError
        Missing ``statut_<scheme>`` columns, repeated ids, missing values.
    """
    if not candidates.index.is_unique or candidates.index.hasnans:
        raise InputDataError("candidates: the index (candidate id) must be unique and not missing")
    if not demand.index.is_unique or demand.index.hasnans:
        raise InputDataError("demand: the index (unit id) must be unique and not missing")
    missing = [f"statut_{s}" for s in schemes if f"statut_{s}" not in candidates.columns]
    if missing:
        raise InputDataError(f"candidates: no column {', '.join(missing)} (schemes not assessed)")
    decay = decay or default_decay(method)
    if not isinstance(costs, TravelCosts):
        costs = od_costs(costs, cutoff=cutoff, origins=demand.index, destinations=candidates.index)
    weights = weight_matrix(costs, decay, cutoff=cutoff, origins=demand.index, destinations=candidates.index)
    values = pd.to_numeric(demand, errors="coerce").to_numpy(dtype="float64")
    if not np.isfinite(values).all() or (values < 0).any():
        raise InputDataError("demand: every unit needs a number ≥ 0")

    def per_unit(series: pd.Series | None, default: np.ndarray, what: str) -> np.ndarray:
        if series is None:
            return default
        aligned = series.reindex(demand.index)
        if aligned.isna().any():
            raise InputDataError(f"{what}: no value for unit {aligned.index[aligned.isna().to_numpy()][0]!r}")
        return aligned.to_numpy()

    base = per_unit(access, np.zeros(len(demand)), "access").astype("float64")
    inside = per_unit(scope, np.ones(len(demand), dtype=bool), "scope").astype(bool)
    people = per_unit(population, values, "population").astype("float64")
    eligible = pd.DataFrame({s: candidates[f"statut_{s}"].isin(list(statuses)).to_numpy() for s in schemes},
                            index=candidates.index)
    return AllocationProblem(units=demand.index, candidates=candidates, eligible=eligible,
                             weights=sp.csc_array(weights), demand=values, access=base, scope=inside,
                             population=people, threshold=float(threshold), capacity=float(capacity), method=method)


def stack_problems(problems: Sequence[AllocationProblem], goal: Objective | None = None) -> AllocationProblem:
    """One problem whose objective is the **mean** of the objectives of ``problems`` (one per travel model).

    The problems share candidates, eligibility, baseline, threshold and capacity and
    differ by their weights (travel model). Each unit is repeated once per model with
    demand ``p_i / K``: the stacked objective is ``(1/K) Σ_k F_k(x)``, the expected value
    over the ensemble, still monotone and DR-submodular for a concave ``φ`` (a sum of such
    functions), so greedy keeps its guarantees. Each block keeps its own catchment demand
    ``D_j`` (the increments are stacked, not the weights).
    """
    if not problems:
        raise ValueError("stack_problems: no problem")
    first = problems[0]
    k = len(problems)
    for other in problems[1:]:
        if not other.candidates.index.equals(first.candidates.index):
            raise InputDataError("stacked problems must share their candidates")
    goal = goal or first.goal
    units = pd.Index([f"{b}:{u}" for b in range(k) for u in first.units]) if k > 1 else first.units
    increments = sp.csc_array(sp.vstack([p.increments for p in problems], format="csc"))
    weights = sp.csc_array(sp.vstack([p.weights for p in problems], format="csc"))
    return AllocationProblem(
        units=units, candidates=first.candidates, eligible=first.eligible, weights=weights,
        demand=np.concatenate([p.demand / k for p in problems]), access=np.concatenate([p.access for p in problems]),
        scope=np.concatenate([p.scope for p in problems]),
        population=np.concatenate([p.population / k for p in problems]), threshold=first.threshold,
        capacity=first.capacity, method=first.method, goal=goal, parts=tuple(problems), given_increments=increments)


