"""Post allocation: where N funded doctor posts most raise accessibility for under-served people.

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

Submodularity and guarantees
----------------------------
Each term ``p_i min(A⁰_i + Σ_j x_j a_ij, T)`` is a concave non-decreasing function of a
non-negative linear form of ``x``, so ``F`` is monotone and **DR-submodular** on the
integer lattice: the gain of one more post at ``j`` can only shrink when posts are added
anywhere (the argument of the concave ``min`` only grows). Hence

- greedy is a ``1 − 1/e`` approximation under one count of posts (Nemhauser et al. 1978;
  Soma & Yoshida 2015 on the lattice), with or without "one post per structure";
- with one count per scheme (volet 1 and volet 2: a partition matroid) greedy gives at
  least ``1/2`` of the optimum (Fisher, Nemhauser & Wolsey 1978);
- with a budget and per-scheme costs, the best of the cost-benefit greedy (gain / cost)
  and the plain greedy gives at least ``(1 − 1/e)/2`` (Khuller, Moss & Naor 1999;
  Leskovec et al. 2007) — for the budget alone;
- when no two candidates reach a common commune the objective is separable concave and
  greedy is optimal; with a single post it is optimal.

A bound is also computed on every run (Minoux; Leskovec et al. 2007): for any feasible
``X`` and any ``Y``, ``F(X) ≤ F(Y) + Σ_{t ∈ X} δ_t(Y)`` (monotone, DR-submodular), so the
gain of the optimum under the per-scheme counts (and structure cap) is at most
``gain(Y) + Σ_schemes (the N_s largest marginal gains at Y)``, the smallest over the
greedy's prefixes ``Y`` (the empty one: the sum of the N best first-post gains); the
other constraints only shrink the feasible set, so this bounds their optimum too.
``gain / bound`` is a certified share of the optimum. :func:`exact_allocation` enumerates every allocation of
small cases (≤ 8 candidates, ≤ 3 posts) for tests.

Algorithm (lazy greedy, Minoux 1978)
------------------------------------
A max-heap keeps an upper bound of each candidate's gain (its last computed gain, still an
upper bound by DR-submodularity). The top is re-evaluated when its gain is stale; when
its fresh value still tops the heap it is picked. Gains of candidates whose catchment
does not overlap the pick stay exact (not re-evaluated). With costs and a budget the key
is gain / cost.

Constraints
-----------
- one count of posts per scheme; a post of a scheme goes only to a structure whose
  status for that scheme is among ``statuses`` (default ``eligible``); a structure
  eligible for several schemes takes the scheme with the most posts left;
- ``max_per_structure`` posts per structure, all schemes together (None: no cap);
- at least ``k`` posts per département (**reserve**): a pick is allowed only if the
  minima still unmet can be completed afterwards with the posts left — checked exactly
  by a max-flow (schemes → eligible structures of the départements in deficit, with their
  remaining room → départements), and the budget by the cheapest scheme (a necessary
  condition). A pick refused once stays refused (posts, room and budget only shrink).
  Départements without any eligible structure cannot meet a minimum: reported in
  ``unmet`` and left out;
- ``budget``: total cost of the posts (per-scheme costs).

Naive rule
----------
:func:`naive_allocation`: territories (BV2012 by default) sorted by APL ascending (the
published DREES APL by default); in each in turn, one post to its eligible structure
with the largest catchment demand ``D_j``; passes repeat until the posts run out; same
constraints. The ratio of the two gains says what the optimisation adds.

Everything here is pure: :func:`prioritise` reads layers and returns tables, the command
line ``zonage prioritise`` writes them.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow
from scipy.spatial import cKDTree

from zonage.access.costs import StraightLine, TravelCosts, od_costs, points_xy, straight_line_costs
from zonage.access.decay import Decay, parse_decay
from zonage.access.methods import accessibility, default_decay, floating_catchment, weight_matrix
from zonage.config import Paths
from zonage.errors import InputDataError, ZonageError
from zonage.priority.config import AllocationConfig, PriorityConfig, load_config

__all__ = [
    "REGION_TERRITORY",
    "Allocation",
    "AllocationProblem",
    "Constraints",
    "Prioritisation",
    "allocate",
    "exact_allocation",
    "make_problem",
    "naive_allocation",
    "prioritise",
    "split_posts",
]

#: Overseas régions → territory of their communes (every other région: ``metro``).
REGION_TERRITORY: Mapping[str, str] = {"01": "971", "02": "972", "03": "973", "04": "974", "06": "976"}

Progress = Callable[[str, int, int | None], None]


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
        w = sp.csc_array(self.weights)
        w.sum_duplicates()
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
        return AllocationProblem(units=self.units, candidates=self.candidates.iloc[idx],
                                 eligible=self.eligible.iloc[idx], weights=self.weights[:, idx], demand=self.demand,
                                 access=self.access, scope=self.scope, population=self.population,
                                 threshold=self.threshold, capacity=self.capacity, method=self.method)

    @property
    def schemes(self) -> list[str]:
        """Schemes of the ``eligible`` table."""
        return [str(c) for c in self.eligible.columns]

    def objective(self, access: np.ndarray) -> float:
        """``F = Σ_{i in scope} p_i min(A_i, T)``: consultations/year reaching people, up to ``T`` each."""
        s = self.scope
        return float(np.dot(self.demand[s], np.minimum(access[s], self.threshold)))

    def gap(self, access: np.ndarray) -> float:
        """``G = Σ_{i in scope} p_i max(0, T − A_i)``: consultations/year missing to bring everyone to ``T``."""
        s = self.scope
        return float(np.dot(self.demand[s], np.maximum(self.threshold - access[s], 0.0)))

    def access_after(self, posts: np.ndarray) -> np.ndarray:
        """``A⁰ + Σ_j posts_j a_j`` (incremental formula)."""
        return self.access + np.asarray(self.increments @ np.asarray(posts, dtype="float64"), dtype="float64")

    def engine_access(self, posts: np.ndarray) -> np.ndarray:
        """Accessibility after adding ``posts × capacity`` at the candidates, recomputed by the engine."""
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
        contrib = self.demand[rows] * (np.minimum(before + values, self.threshold) - np.minimum(before, self.threshold))
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


# ---------------------------------------------------------------------------- constraints and state
@dataclass(frozen=True)
class Constraints:
    """What an allocation must respect.

    Attributes
    ----------
    posts
        Posts of each scheme, ``{scheme: N_s}`` (separate counts).
    max_per_structure
        At most this many posts per structure, all schemes together (None: no cap).
    min_per_departement
        At least this many posts in each département of the candidates (an int), or
        ``{département: k}``.
    costs
        Cost of one post per scheme (default 1 each).
    budget
        Largest total cost (None: no budget).
    """

    posts: Mapping[str, int]
    max_per_structure: int | None = None
    min_per_departement: int | Mapping[str, int] = 0
    costs: Mapping[str, float] | None = None
    budget: float | None = None

    def total(self) -> int:
        """Posts of every scheme together."""
        return int(sum(self.posts.values()))


class _State:
    """Posts left, room per structure, départements' minima and budget during an allocation."""

    def __init__(self, problem: AllocationProblem, constraints: Constraints) -> None:
        self.schemes = list(constraints.posts)
        unknown = [s for s in self.schemes if s not in problem.eligible.columns]
        if unknown:
            raise InputDataError(f"no eligibility for scheme(s) {unknown}; the problem has {problem.schemes}")
        self.remaining = np.array([int(constraints.posts[s]) for s in self.schemes], dtype=np.int64)
        if (self.remaining < 0).any():
            raise InputDataError("posts: counts must be ≥ 0")
        costs = constraints.costs or {}
        self.cost = np.array([float(costs.get(s, 1.0)) for s in self.schemes])
        if not (self.cost > 0).all():
            raise InputDataError("costs: every scheme's cost must be > 0")
        self.budget = math.inf if constraints.budget is None else float(constraints.budget)
        self.elig = problem.eligible[self.schemes].to_numpy(dtype=bool)
        m = len(problem.candidates)
        self.cap = constraints.max_per_structure if constraints.max_per_structure else None
        self.count = np.zeros(m, dtype=np.int64)
        self.posts = np.zeros((m, len(self.schemes)), dtype=np.int64)
        deps = (problem.candidates["departement"] if "departement" in problem.candidates.columns
                else pd.Series(pd.NA, index=problem.candidates.index))
        codes, names = pd.factorize(deps.astype("string"), sort=True)
        self.dep = np.asarray(codes, dtype=np.int64)
        self.dep_names = [str(n) for n in names]
        minimum = constraints.min_per_departement
        wanted = ({d: int(minimum) for d in self.dep_names} if isinstance(minimum, int | np.integer)
                  else {str(d): int(k) for d, k in minimum.items()})
        self.need = np.zeros(len(self.dep_names), dtype=np.int64)
        self.unmet: dict[str, int] = {}
        usable = np.asarray(self.elig.any(axis=1), dtype=bool)
        for d, k in wanted.items():
            if k <= 0:
                continue
            if d not in self.dep_names or not usable[self.dep == self.dep_names.index(d)].any():
                self.unmet[d] = k
                continue
            self.need[self.dep_names.index(d)] = k
        if self.need.any() and not self._fillable(self.remaining, self.count, self.need, self.budget):
            detail = ", ".join(f"{self.dep_names[i]}: {k}" for i, k in enumerate(self.need) if k)
            raise InputDataError(f"the minima per département ({detail}) cannot all be met with posts "
                                 f"{dict(zip(self.schemes, self.remaining.tolist(), strict=True))} and the eligible "
                                 "structures")

    def room(self, j: int) -> bool:
        """Can structure ``j`` take one more post (cap)."""
        return self.cap is None or self.count[j] < self.cap

    def _fillable(self, remaining: np.ndarray, count: np.ndarray, need: np.ndarray, budget: float) -> bool:
        """Whether the unmet minima ``need`` can still be met (max-flow; budget by the cheapest scheme)."""
        total = int(need.sum())
        if total == 0:
            return True
        if int(remaining.sum()) < total:
            return False
        open_schemes = remaining > 0
        if not open_schemes.any() or total * float(self.cost[open_schemes].min()) > budget + 1e-9:
            return False
        in_deficit = (self.dep >= 0) & (need[np.maximum(self.dep, 0)] > 0)
        if self.cap is not None:
            in_deficit &= count < self.cap
        cands = np.flatnonzero(in_deficit & (self.elig & open_schemes).any(axis=1))
        if cands.size == 0:
            return False
        n_s, n_c, n_d = len(self.schemes), cands.size, len(self.dep_names)
        source, sink = 0, 1 + n_s + 2 * n_c + n_d
        s_node = 1 + np.arange(n_s)
        c_in = 1 + n_s + np.arange(n_c)
        c_out = c_in + n_c
        d_node = 1 + n_s + 2 * n_c + np.arange(n_d)
        rows, cols, caps = [], [], []

        def add(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
            rows.append(np.asarray(a, dtype=np.int64))
            cols.append(np.asarray(b, dtype=np.int64))
            caps.append(np.asarray(c, dtype=np.int64))

        add(np.zeros(n_s), s_node, np.minimum(remaining, total))
        ci, si = np.nonzero(self.elig[cands] & open_schemes)
        add(s_node[si], c_in[ci], np.full(ci.size, total))
        room = np.full(n_c, total) if self.cap is None else np.minimum(self.cap - count[cands], total)
        add(c_in, c_out, room)
        add(c_out, d_node[self.dep[cands]], np.full(n_c, total))
        add(d_node, np.full(n_d, sink), need)
        graph = sp.csr_array((np.concatenate(caps).astype(np.int32),
                              (np.concatenate(rows), np.concatenate(cols))), shape=(sink + 1, sink + 1))
        return int(maximum_flow(graph, source, sink).flow_value) >= total

    def options(self, j: int, keys: np.ndarray) -> tuple[int, float] | None:
        """Best scheme for one more post at ``j`` given per-scheme keys: ``(scheme index, key)`` or None."""
        if not self.room(j):
            return None
        possible = np.flatnonzero(self.elig[j] & (self.remaining > 0) & (self.cost <= self.budget + 1e-9))
        if possible.size == 0:
            return None
        order = possible[np.lexsort((possible, -self.remaining[possible], -keys[possible]))]
        for s in order:
            if self.need.any():
                remaining = self.remaining.copy()
                remaining[s] -= 1
                count = self.count.copy()
                count[j] += 1
                need = self.need.copy()
                if self.dep[j] >= 0 and need[self.dep[j]] > 0:
                    need[self.dep[j]] -= 1
                if not self._fillable(remaining, count, need, self.budget - self.cost[s]):
                    continue
            return int(s), float(keys[s])
        return None

    def commit(self, j: int, s: int) -> None:
        """Record one post of scheme ``s`` at structure ``j``."""
        self.remaining[s] -= 1
        self.count[j] += 1
        self.posts[j, s] += 1
        self.budget -= self.cost[s]
        if self.dep[j] >= 0 and self.need[self.dep[j]] > 0:
            self.need[self.dep[j]] -= 1

    def in_deficit(self, j: int) -> bool:
        """Is ``j`` in a département whose minimum is still unmet."""
        return bool(self.dep[j] >= 0 and self.need[self.dep[j]] > 0)


# ---------------------------------------------------------------------------- results
@dataclass
class Allocation:
    """An allocation and how it was found.

    Attributes
    ----------
    rule
        ``greedy``, ``greedy (gain/cost)``, ``naive`` or ``exact``.
    picks
        One row per post in the order chosen: ``rank, candidate, scheme, gain``
        (consultations/year reaching under-served people added by this post),
        ``cumulative_gain``, ``population_helped`` (inhabitants of units under the
        threshold whose accessibility rose), ``units_helped``, ``cost``, ``access_before``
        and ``access_after`` (of the structure's own unit, when it is a demand unit).
    posts
        Posts per candidate and scheme (candidates × schemes, integers).
    access
        Accessibility of every unit after the allocation.
    gain
        ``F(x) − F(0)``.
    evaluations
        Candidate gains computed (lazy greedy; the plain greedy would need
        candidates × posts).
    bound
        Upper bound of the optimum's gain under the per-scheme counts (greedy only).
    engine_max_diff
        Largest difference between the incremental accessibility and the engine's
        recomputation over the picks (NaN when not checked).
    unmet
        Départements whose minimum could not be asked (no eligible structure).
    seconds
        Wall time.
    """

    rule: str
    picks: pd.DataFrame
    posts: pd.DataFrame
    access: np.ndarray
    gain: float
    evaluations: int = 0
    bound: float = math.nan
    engine_max_diff: float = math.nan
    unmet: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_posts(self) -> int:
        """Posts placed."""
        return len(self.picks)

    def share_of_bound(self) -> float:
        """``gain / bound``: certified share of the optimum reached (NaN without a bound)."""
        if not (self.bound > 0):
            return math.nan if math.isnan(self.bound) else 1.0
        return self.gain / self.bound


class _Tracker:
    """Accessibility and the record of picks, shared by every rule."""

    def __init__(self, problem: AllocationProblem, state: _State, home: np.ndarray | None, check_engine: bool) -> None:
        self.problem = problem
        self.state = state
        self.access = problem.access.copy()
        self.added = np.zeros(len(problem.candidates))
        self.records: list[dict[str, Any]] = []
        self.home = home
        self.check_engine = check_engine
        self.max_diff = 0.0 if check_engine else math.nan
        self.total = 0.0

    def commit(self, j: int, s: int) -> tuple[np.ndarray, float]:
        p = self.problem
        inc = p.increments
        rows = inc.indices[inc.indptr[j]:inc.indptr[j + 1]]
        values = inc.data[inc.indptr[j]:inc.indptr[j + 1]]
        before = self.access[rows]
        after_incremental = self.access.copy()
        after_incremental[rows] += values
        self.state.commit(j, s)
        self.added[j] += 1
        if self.check_engine:
            after = p.engine_access(self.added)
            self.max_diff = max(self.max_diff, float(np.abs(after - after_incremental).max(initial=0.0)))
        else:
            after = after_incremental
        inside = p.scope[rows]
        t = p.threshold
        gain = float(np.dot(p.demand[rows][inside], np.minimum(before[inside] + values[inside], t)
                            - np.minimum(before[inside], t)))
        helped = inside & (before < t) & (values > 0)
        unit = -1 if self.home is None else int(self.home[j])
        self.total += gain
        self.records.append({
            "rank": len(self.records) + 1,
            "candidate": p.candidates.index[j],
            "scheme": self.state.schemes[s],
            "gain": gain,
            "cumulative_gain": self.total,
            "population_helped": float(p.population[rows][helped].sum()),
            "units_helped": int(helped.sum()),
            "cost": float(self.state.cost[s]),
            "access_before": float(self.access[unit]) if unit >= 0 else math.nan,
            "access_after": float(after[unit]) if unit >= 0 else math.nan,
        })
        self.access = after
        return rows, gain

    def result(self, rule: str, evaluations: int, started: float) -> Allocation:
        p = self.problem
        columns = ["rank", "candidate", "scheme", "gain", "cumulative_gain", "population_helped", "units_helped",
                   "cost", "access_before", "access_after"]
        picks = pd.DataFrame(self.records, columns=columns)
        posts = pd.DataFrame(self.state.posts, index=p.candidates.index, columns=self.state.schemes)
        final = p.access_after(self.added)
        return Allocation(rule=rule, picks=picks, posts=posts, access=final,
                          gain=p.objective(final) - p.objective(p.access), evaluations=evaluations,
                          engine_max_diff=self.max_diff, unmet=dict(self.state.unmet),
                          seconds=time.perf_counter() - started)


def _home_units(problem: AllocationProblem) -> np.ndarray | None:
    """Position of each candidate's own unit (column ``unit`` or ``insee``) among the demand units."""
    for column in ("unit", "insee"):
        if column in problem.candidates.columns:
            return problem.units.get_indexer(pd.Index(problem.candidates[column].astype(object)))
    return None


# ---------------------------------------------------------------------------- greedy
def _greedy(problem: AllocationProblem, constraints: Constraints, ratio: bool, progress: Progress | None,
            check_engine: bool) -> Allocation:
    started = time.perf_counter()
    state = _State(problem, constraints)
    tracker = _Tracker(problem, state, _home_units(problem), check_engine)
    m = len(problem.candidates)
    inv_cost = (1.0 / state.cost) if ratio else np.ones(len(state.schemes))
    gains = problem.gains(np.arange(m), tracker.access)
    evaluations = m
    valid = np.ones(m, dtype=bool)
    order = np.lexsort((np.arange(m), -problem.catchment))
    tiebreak = np.empty(m, dtype=np.int64)
    tiebreak[order] = np.arange(m)
    best_inv = np.where(state.elig, inv_cost, 0.0).max(axis=1, initial=0.0)
    heap = [(-gains[j] * best_inv[j], int(tiebreak[j]), int(j)) for j in np.flatnonzero(state.elig.any(axis=1))]
    heapq.heapify(heap)
    total = constraints.total()
    while heap and state.remaining.sum() > 0:
        negative, tb, j = heapq.heappop(heap)
        if not valid[j]:
            gains[j] = problem.gains(np.array([j]), tracker.access)[0]
            valid[j] = True
            evaluations += 1
        choice = state.options(j, gains[j] * inv_cost)
        if choice is None:
            continue  # no scheme can take it now, nor later (posts, room, budget only shrink)
        s, key = choice
        if key < -negative - 1e-9 * max(1.0, -negative):
            heapq.heappush(heap, (-key, tb, j))  # its bound was stale: back in the queue at its true value
            continue
        if key <= 1e-12 and not state.in_deficit(j):
            continue  # nothing left to gain here; only a département's minimum could still ask for it
        tracker.commit(j, s)
        valid[problem.overlapping(j)] = False
        if state.room(j):
            heapq.heappush(heap, (-key, tb, j))
        if progress:
            progress("greedy", len(tracker.records), total)
    result = tracker.result("greedy (gain/cost)" if ratio else "greedy", evaluations, started)
    positions = problem.candidates.index.get_indexer(pd.Index(result.picks["candidate"]))
    result.bound = _upper_bound(problem, state, positions.tolist())
    return result


def _upper_bound(problem: AllocationProblem, state: _State, picked: Sequence[int]) -> float:
    """Upper bound of the optimum's gain under the per-scheme counts (and structure cap).

    For any allocation ``Y`` and any feasible ``X``, ``F(X) − F(0) ≤ F(Y) − F(0) + Σ_{t ∈ X} δ_t(Y)``
    (monotone, DR-submodular); the sum is at most the ``N_s`` largest marginal gains at
    ``Y`` of each scheme's eligible structures (each repeated up to the structure cap).
    ``Y`` runs over every prefix of the greedy's picks (the empty one included) and the
    smallest bound is kept.
    """
    m = len(problem.candidates)
    asked = state.remaining + state.posts.sum(axis=0)
    access = problem.access.copy()
    base = problem.objective(access)
    best = math.inf
    inc = problem.increments
    for step in range(len(picked) + 1):
        if step:
            j = picked[step - 1]
            rows = inc.indices[inc.indptr[j]:inc.indptr[j + 1]]
            access[rows] += inc.data[inc.indptr[j]:inc.indptr[j + 1]]
        marginal = np.maximum(problem.gains(np.arange(m), access), 0.0)
        extra = 0.0
        for s in range(len(state.schemes)):
            n = int(asked[s])
            values = np.sort(marginal[state.elig[:, s]])[::-1]
            if n == 0 or values.size == 0:
                continue
            repeats = n if state.cap is None else min(state.cap, n)
            extra += float(np.repeat(values[:n], repeats)[:n].sum())
        best = min(best, problem.objective(access) - base + extra)
    return best


def allocate(
    problem: AllocationProblem,
    constraints: Constraints,
    *,
    progress: Progress | None = None,
    check_engine: bool = True,
) -> Allocation:
    """Lazy greedy allocation of the posts (see the module's notes for the method and guarantees).

    Parameters
    ----------
    problem
        From :func:`make_problem`.
    constraints
        Posts per scheme and the optional caps, minima and budget.
    progress
        ``progress("greedy", posts placed, posts asked)`` after each pick.
    check_engine
        Recompute accessibility with the engine after each pick (and record the largest
        difference with the incremental update).

    Returns
    -------
    Allocation
        With a budget and unequal costs, the better of the cost-benefit greedy
        (gain / cost) and the plain greedy.
    """
    costs = [float((constraints.costs or {}).get(s, 1.0)) for s in constraints.posts]
    if constraints.budget is not None and len(set(costs)) > 1:
        both = [_greedy(problem, constraints, ratio, progress, check_engine) for ratio in (True, False)]
        return max(both, key=lambda a: (a.gain, a.rule == "greedy (gain/cost)"))
    return _greedy(problem, constraints, False, progress, check_engine)


# ---------------------------------------------------------------------------- naive rule
def naive_allocation(
    problem: AllocationProblem,
    constraints: Constraints,
    territory_apl: Mapping[str, float] | pd.Series,
    *,
    check_engine: bool = False,
) -> Allocation:
    """The rule "fund the lowest-APL territories first".

    Territories (column ``territory`` of the candidates) are sorted by APL ascending
    (territories without an APL last); each in turn funds one post at its eligible
    structure with the largest catchment demand ``D_j`` (the next one when that one
    cannot take it); passes repeat until the posts run out or nothing can be placed.
    The same constraints as the greedy apply.

    Parameters
    ----------
    problem, constraints
        As for :func:`allocate`.
    territory_apl
        APL per territory code.
    check_engine
        Recompute with the engine after each pick.
    """
    started = time.perf_counter()
    if "territory" not in problem.candidates.columns:
        raise InputDataError("candidates: no 'territory' column for the naive rule")
    state = _State(problem, constraints)
    tracker = _Tracker(problem, state, _home_units(problem), check_engine)
    apl = pd.Series(territory_apl, dtype="float64")
    table = pd.DataFrame({"territory": problem.candidates["territory"].astype("string").to_numpy(),
                          "demand": problem.catchment, "pos": np.arange(len(problem.candidates))})
    table = table[table["territory"].notna().to_numpy() & np.asarray(state.elig.any(axis=1), dtype=bool)]
    table["apl"] = table["territory"].map(apl)
    table = table.sort_values(["apl", "territory", "demand", "pos"], ascending=[True, True, False, True],
                              na_position="last", kind="stable")
    members = [group["pos"].to_numpy() for _, group in table.groupby("territory", sort=False)]
    ones = np.ones(len(state.schemes))
    placed = True
    while placed and state.remaining.sum() > 0:
        placed = False
        for positions in members:
            if state.remaining.sum() == 0:
                break
            for j in positions:
                choice = state.options(int(j), ones)
                if choice is not None:
                    tracker.commit(int(j), choice[0])
                    placed = True
                    break
    return tracker.result("naive", 0, started)


# ---------------------------------------------------------------------------- exact check
def exact_allocation(problem: AllocationProblem, constraints: Constraints, *, limit: int = 200_000) -> Allocation:
    """The best allocation by enumerating them all (small cases: a few candidates and posts).

    Every multiset of eligible candidates of size ≤ ``N_s`` per scheme (sets when
    ``max_per_structure`` is 1) is tried against every constraint; the objective is
    monotone, so the optimum is among them.

    Raises
    ------
    ValueError
        More than ``limit`` allocations to try.
    """
    started = time.perf_counter()
    state = _State(problem, constraints)
    m = len(problem.candidates)
    choices = []
    for s in range(len(state.schemes)):
        pool = np.flatnonzero(state.elig[:, s]).tolist()
        n = int(state.remaining[s])
        maker = itertools.combinations if state.cap == 1 else itertools.combinations_with_replacement
        choices.append([combo for k in range(n + 1) for combo in maker(pool, k)])
    size = math.prod(len(c) for c in choices)
    if size > limit:
        raise ValueError(f"{size:,} allocations to try: more than the limit {limit:,}")
    dense = problem.increments.toarray()
    base = problem.objective(problem.access)
    best, best_combo = -math.inf, None
    need = state.need
    for combo in itertools.product(*choices):
        counts = np.zeros(m, dtype=np.int64)
        cost = 0.0
        for s, picked in enumerate(combo):
            np.add.at(counts, np.asarray(picked, dtype=np.int64), 1)
            cost += len(picked) * state.cost[s]
        if state.cap is not None and (counts > state.cap).any():
            continue
        if cost > state.budget + 1e-9:
            continue
        if need.any():
            per_dep = np.bincount(state.dep[state.dep >= 0], weights=counts[state.dep >= 0],
                                  minlength=len(need))
            if (per_dep < need).any():
                continue
        value = problem.objective(problem.access + dense @ counts) - base
        if value > best + 1e-9:
            best, best_combo = value, combo
    tracker = _Tracker(problem, state, _home_units(problem), check_engine=False)
    for s, picked in enumerate(best_combo or ()):
        for j in picked:
            tracker.commit(int(j), s)
    return tracker.result("exact", size, started)


# ---------------------------------------------------------------------------- real data
def split_posts(posts: int | Mapping[str, int], schemes: Sequence[str]) -> dict[str, int]:
    """Posts per scheme: a mapping as given, or a total split evenly (the first schemes take the rest).

    Examples
    --------
    >>> split_posts(41, ["400mg_volet1", "400mg_volet2"])
    {'400mg_volet1': 21, '400mg_volet2': 20}
    """
    if isinstance(posts, Mapping):
        return {str(k): int(v) for k, v in posts.items()}
    if posts < 0 or not schemes:
        raise InputDataError("posts: a count ≥ 0 and at least one scheme")
    q, r = divmod(int(posts), len(schemes))
    return {s: q + (1 if i < r else 0) for i, s in enumerate(schemes)}


@dataclass
class Prioritisation:
    """Result of :func:`prioritise`.

    Attributes
    ----------
    picks
        The greedy's posts, ranked, with their explanation and the structure's point
        (EPSG:4326).
    naive
        The naive rule's posts, same columns.
    summary
        Figures of the run (objective, gains, ratio, bound, timings, settings).
    communes
        One row per commune of the région: demand, accessibility before, after the
        greedy, after the naive rule, posts.
    territories
        Territories of the région: APL, rank by APL, score rank, engine accessibility,
        candidates and posts of each rule.
    problem
        The :class:`AllocationProblem` (for notebooks and checks).
    greedy, baseline_rule
        The two :class:`Allocation` objects.
    """

    picks: gpd.GeoDataFrame
    naive: gpd.GeoDataFrame
    summary: dict[str, Any]
    communes: pd.DataFrame
    territories: pd.DataFrame
    problem: AllocationProblem
    greedy: Allocation
    baseline_rule: Allocation


_CANDIDATE_COLUMNS = ["finess", "nom", "categetab", "libcategetab", "insee", "commune_nom", "classe", "qpv2024"]


def _candidates(rows: gpd.GeoDataFrame, schemes: Sequence[str], statuses: Sequence[str], communes: pd.DataFrame,
                region: str, level_column: str,
                exclude_names: Sequence[str] = ()) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Candidate structures of the région from batch rows: one per id, eligible for a scheme, with codes.

    Structures whose name contains a word of ``exclude_names`` (accents and case ignored) are left out.
    """
    if rows.empty:
        raise ZonageError(f"région {region}: no candidate structure to allocate posts to")
    missing = [f"statut_{s}" for s in schemes if f"statut_{s}" not in rows.columns]
    if missing:
        raise ZonageError(f"candidates: no column {', '.join(missing)} (scheme not assessed by the eligibility run)")
    dropped: dict[str, int] = {}
    frame = rows.copy()
    located = frame["insee"].notna() & frame.geometry.notna() & ~frame.geometry.is_empty
    if "status" in frame.columns:
        located &= frame["status"].astype("string").fillna("error") != "error"
    dropped["not located"] = int((~located).sum())
    frame = frame[located.to_numpy()]
    if exclude_names and "nom" in frame.columns:
        from zonage.names import normalise_name, normalise_names

        names = normalise_names(frame["nom"].astype("string").fillna(""))
        words = [normalise_name(w) for w in exclude_names]
        excluded = names.map(lambda n: any(w in n for w in words)).to_numpy(dtype=bool)
        dropped["excluded by name"] = int(excluded.sum())
        frame = frame[~excluded]
    finess = frame["finess"].astype("string") if "finess" in frame.columns else pd.Series(pd.NA, index=frame.index)
    row = frame["row"].astype("string") if "row" in frame.columns else pd.Series(
        np.arange(1, len(frame) + 1), index=frame.index).astype("string")
    ids = finess.where(finess.notna() & (finess.str.strip() != ""), "row" + row)
    frame = frame.assign(candidate=ids.to_numpy())
    duplicated = frame["candidate"].duplicated()
    dropped["repeated structure"] = int(duplicated.sum())
    frame = frame[~duplicated.to_numpy()]
    info = communes.set_index("insee")
    insee = frame["insee"].astype("string")
    frame = frame.assign(
        departement=insee.map(info["departement"]).to_numpy(),
        region=insee.map(info["region"]).to_numpy(),
        territory=insee.map(info[level_column] if level_column != "insee" else info.index.to_series()).to_numpy(),
    )
    outside = frame["region"].astype("string").fillna("") != str(region)
    dropped["outside the région"] = int(outside.sum())
    frame = frame[~outside.to_numpy()]
    usable = np.zeros(len(frame), dtype=bool)
    for s in schemes:
        usable |= frame[f"statut_{s}"].isin(list(statuses)).to_numpy()
    dropped["eligible for none of the schemes"] = int((~usable).sum())
    frame = frame[usable]
    for column in _CANDIDATE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    keep = ["candidate", *_CANDIDATE_COLUMNS, "departement", "territory", *[f"statut_{s}" for s in schemes],
            "geometry"]
    out = gpd.GeoDataFrame(frame[keep], geometry="geometry", crs=rows.crs).set_index("candidate")
    out["insee"] = out["insee"].astype("string")
    return out, dropped


def _near(points: np.ndarray, targets: np.ndarray, radius: float) -> np.ndarray:
    """Which of ``points`` lie within ``radius`` metres of some target."""
    if len(targets) == 0:
        return np.zeros(len(points), dtype=bool)
    distance, _ = cKDTree(targets).query(points, distance_upper_bound=radius * (1 + 1e-9) + 1e-6)
    return np.isfinite(distance)


def _explain(row: pd.Series, threshold: float, capacity: float, n_territories: int) -> str:
    zone = str(row["classe"]) if pd.notna(row["classe"]) else "?"
    if pd.notna(row.get("qpv2024")):
        zone += f", QPV {row['qpv2024']}"
    kind = row["libcategetab"] if pd.notna(row["libcategetab"]) else row["categetab"]
    territory = ""
    if pd.notna(row.get("territory")):
        apl = f"APL {row['territory_apl']:.2f}" if pd.notna(row.get("territory_apl")) else "APL n/a"
        rank = f"rank {int(row['territory_apl_rank'])}/{n_territories}" if pd.notna(row.get("territory_apl_rank")) \
            else "unranked"
        territory = f"; territory {row['territory_name']} ({row['territory']}): {apl}, {rank} by APL"
    return (f"{row['nom']} ({kind}, {row['commune_nom']}) — {row['scheme']}, zone {zone}: "
            f"+{row['gain']:,.0f} consultations/year reach people under {threshold:g} "
            f"({row['gain'] / capacity:.0%} of the post's {capacity:,.0f}); {row['population_helped']:,.0f} "
            f"inhabitants of {row['units_helped']} under-served communes helped{territory}")


def prioritise(
    paths: Paths,
    region: str,
    posts: int | Mapping[str, int],
    *,
    candidates: gpd.GeoDataFrame | None = None,
    config: PriorityConfig | None = None,
    progress: Progress | None = None,
    check_engine: bool = True,
    on: date | None = None,
) -> Prioritisation:
    """Allocate posts in a région: greedy with lazy re-evaluation, compared with the naive rule.

    Parameters
    ----------
    paths
        Data folders with the layers built.
    region
        INSEE région code (44 Grand Est, 28 Normandie…).
    posts
        Posts per scheme (``{"400mg_volet1": 20, "400mg_volet2": 20}``) or a total split
        evenly over ``config.allocation.schemes``.
    candidates
        Rows of a :class:`~zonage.eligibility.BatchResult` (``finess, nom, categetab,
        insee, classe, qpv2024, status, statut_<scheme>``, point geometry); default: the
        eligibility of every centre de santé, MSP and hospital of the région
        (:func:`~zonage.workflows.eligibility_of_region`).
    config
        Parameters (``config.allocation``); default the packaged ones.
    progress
        ``progress(stage, done, total)``: stages ``eligibility``, ``layers``, ``greedy``, ``naive``.
    check_engine
        Recompute accessibility with the engine after each greedy pick.
    on
        Date of the eligibility question when ``candidates`` is not given (zoning order in
        force); default today.

    Returns
    -------
    Prioritisation

    Raises
    ------
    ZonageError
        Unknown région, missing layers, candidates without the schemes' statuses,
        minima that cannot be met.
    """
    from zonage.crs import TERRITORY_CRS
    from zonage.layers.store import read_layer
    from zonage.priority.scoring import aggregate_territories, load_inputs, score_territories

    config = config or load_config()
    a: AllocationConfig = config.allocation
    region = str(region)
    wanted = split_posts(posts, a.schemes)
    schemes = list(wanted)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    territory = REGION_TERRITORY.get(region, "metro")
    communes = read_layer(paths, "communes", territory=territory, columns=[
        "insee", "nom", "population", "departement", "departement_nom", "region", "region_nom", "bv2012",
        "epci_siren"])
    if not (communes["region"] == region).any():
        raise ZonageError(f"unknown région {region!r}: expected an INSEE région code such as 44 (Grand Est)")
    region_name = str(communes.loc[communes["region"] == region, "region_nom"].iloc[0])
    level_column = {"bv2012": "bv2012", "commune": "insee", "epci": "epci_siren", "departement": "departement"}[
        a.territory]

    t0 = time.perf_counter()
    if candidates is None:
        from zonage.workflows import eligibility_of_region

        _, batch = eligibility_of_region(
            paths, region, progress=(lambda done, total: progress("eligibility", done, total)) if progress else None,
            on=on)
        candidates = batch.rows
    timings["eligibility"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if progress:
        progress("layers", 0, None)
    cands, dropped = _candidates(candidates, schemes, a.statuses, communes, region, level_column, a.exclude_names)
    if cands.empty:
        raise ZonageError(f"région {region}: no candidate structure eligible for {', '.join(schemes)}")
    metric = TERRITORY_CRS[territory]
    assert isinstance(communes, gpd.GeoDataFrame)  # the communes layer has geometries
    gdf = communes.to_crs(metric) if communes.crs is None or not communes.crs.equals(metric) else communes
    xy = points_xy(gdf)
    cand_xy = points_xy(cands.to_crs(metric))
    model = StraightLine()
    radius = model.max_metres(a.cutoff)
    in_region = (gdf["region"] == region).to_numpy()
    sites = _near(xy, xy[in_region], radius) | in_region
    keep = sites | _near(xy, xy[sites], radius) | _near(xy, cand_xy, radius)
    units = gdf[keep].set_index("insee", drop=False)
    unit_xy = xy[keep]

    apl = read_layer(paths, "apl_communes", columns=["year", "insee", "level", "pop_std", config.apl_column])
    apl = apl[(apl["year"] == config.apl_year) & (apl["level"] == "commune")].drop_duplicates("insee")
    apl = apl.set_index("insee")
    population = units["population"].astype("float64").fillna(0.0)
    if a.demand == "pop_std":
        demand = apl["pop_std"].reindex(units.index).astype("float64").fillna(population)
    else:
        demand = population
    demand = demand.rename("demand")
    decay = parse_decay(a.decay)
    timings["layers"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    gp = read_layer(paths, "gp_supply", columns=["insee", "gp_count"]).groupby("insee")["gp_count"].sum()
    supply = (gp.reindex(units.index).fillna(0.0).astype("float64") * a.consultations_per_gp).rename("supply")
    base_costs = straight_line_costs(unit_xy, cutoff=a.cutoff, model=model, origin_ids=units.index)
    engine = accessibility(base_costs, demand, supply, method=a.method, decay=decay, cutoff=a.cutoff)
    engine_access = pd.Series(engine["access"].to_numpy(), index=units.index)
    if a.baseline == "drees":
        baseline = apl[config.apl_column].reindex(units.index).astype("float64").fillna(engine_access)
    else:
        baseline = engine_access
    cand_costs = straight_line_costs(unit_xy, cand_xy, cutoff=a.cutoff, model=model, origin_ids=units.index,
                                     destination_ids=cands.index)
    scope = pd.Series(units["region"].to_numpy() == region, index=units.index)
    problem = make_problem(cand_costs, demand, pd.DataFrame(cands.drop(columns="geometry")), schemes=schemes,
                           threshold=a.threshold, capacity=a.consultations_per_post, access=baseline, scope=scope,
                           population=population, method=a.method, decay=decay, cutoff=a.cutoff, statuses=a.statuses)
    timings["costs_and_baseline"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    inputs = load_inputs(paths, config, arrondissements=False)
    s = config.scoring
    terr = aggregate_territories(inputs, a.territory, gap_threshold=s.gap_threshold,
                                 consultations_per_gp=s.consultations_per_gp, density_per=s.density_per)
    terr = terr[terr["region"] == region].reset_index(drop=True)
    scores = score_territories(terr, s).table.set_index("code")
    terr["apl_rank"] = terr["apl"].rank(method="min").astype("Int64")
    terr["score"] = terr["code"].map(scores["score"])
    terr["score_rank"] = terr["code"].map(scores["rank"]).astype("Int64")
    region_units = units[scope.to_numpy()]
    codes = region_units[level_column].astype("string").to_numpy()
    w = demand[scope.to_numpy()].to_numpy()
    grouped = pd.DataFrame({"code": codes, "aw": w * engine_access[scope.to_numpy()].to_numpy(), "w": w}).groupby(
        "code")
    sums = grouped.sum()
    terr["engine_access"] = terr["code"].map(sums["aw"] / sums["w"].where(sums["w"] > 0))
    terr = terr.set_index("code")
    timings["territories"] = time.perf_counter() - t0

    min_dep: int | dict[str, int] = 0
    if a.min_per_departement:
        deps = sorted(communes.loc[communes["region"] == region, "departement"].astype(str).unique())
        min_dep = {d: a.min_per_departement for d in deps}
    constraints = Constraints(
        posts=wanted, max_per_structure=a.max_per_structure or None, min_per_departement=min_dep,
        costs={sch: a.cost(sch) for sch in schemes}, budget=a.budget if a.budget > 0 else None)

    t0 = time.perf_counter()
    greedy = allocate(problem, constraints, progress=progress, check_engine=check_engine)
    timings["greedy"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    order = terr["apl"] if a.naive_apl == "drees" else terr["engine_access"]
    naive = naive_allocation(problem, constraints, order)
    if progress:
        progress("naive", naive.n_posts, constraints.total())
    timings["naive"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    points = cands.geometry.to_crs("EPSG:4326")
    n_territories = int(terr["apl"].notna().sum())

    def table(allocation: Allocation) -> gpd.GeoDataFrame:
        picks = allocation.picks.join(pd.DataFrame(cands.drop(columns="geometry")), on="candidate")
        picks["territory_name"] = picks["territory"].map(terr["name"])
        picks["territory_apl"] = picks["territory"].map(terr["apl"])
        picks["territory_apl_rank"] = picks["territory"].map(terr["apl_rank"]).astype("Int64")
        picks["territory_score_rank"] = picks["territory"].map(terr["score_rank"]).astype("Int64")
        picks["territory_engine_access"] = picks["territory"].map(terr["engine_access"])
        picks["gain_share_of_post"] = picks["gain"] / a.consultations_per_post
        picks["rule"] = allocation.rule
        picks["explanation"] = [_explain(r, a.threshold, a.consultations_per_post, n_territories)
                                for _, r in picks.iterrows()]
        first = ["rank", "rule", "candidate", "finess", "nom", "categetab", "libcategetab", "insee", "commune_nom",
                 "departement", "scheme", "classe", "qpv2024", "gain", "gain_share_of_post", "cumulative_gain",
                 "population_helped", "units_helped", "territory", "territory_name", "territory_apl",
                 "territory_apl_rank", "territory_score_rank", "territory_engine_access", "access_before",
                 "access_after", "cost", "explanation"]
        rest = [c for c in picks.columns if c not in first]
        picks = picks[first + rest]
        return gpd.GeoDataFrame(picks, geometry=picks["candidate"].map(points).to_numpy(), crs="EPSG:4326")

    picks_table, naive_table = table(greedy), table(naive)
    inside = scope.to_numpy()
    communes_out = pd.DataFrame({
        "insee": region_units["insee"].to_numpy(), "nom": region_units["nom"].to_numpy(),
        "departement": region_units["departement"].to_numpy(), "territory": codes,
        "population": population[inside].to_numpy(), "demand": w,
        "access_before": problem.access[inside], "access_greedy": greedy.access[inside],
        "access_naive": naive.access[inside],
    })
    for name, allocation in (("posts_greedy", greedy), ("posts_naive", naive)):
        per = allocation.posts.sum(axis=1).groupby(cands["insee"].astype(object)).sum()
        communes_out[name] = communes_out["insee"].map(per).fillna(0).astype("int64")
    terr_out = terr.reset_index()
    for name, allocation in (("posts_greedy", greedy), ("posts_naive", naive)):
        per = allocation.posts.sum(axis=1).groupby(cands["territory"].astype(object)).sum()
        terr_out[name] = terr_out["code"].map(per).fillna(0).astype("int64")
    terr_out["candidates"] = terr_out["code"].map(cands["territory"].value_counts()).fillna(0).astype("int64")

    f0 = problem.objective(problem.access)
    g0 = problem.gap(problem.access)
    under = problem.scope & (problem.access < a.threshold)
    summary: dict[str, Any] = {
        "region": region,
        "region_name": region_name,
        "posts_asked": wanted,
        "posts_placed_greedy": greedy.picks["scheme"].value_counts().reindex(schemes, fill_value=0).to_dict(),
        "posts_placed_naive": naive.picks["scheme"].value_counts().reindex(schemes, fill_value=0).to_dict(),
        "candidates": len(cands),
        "candidates_per_scheme": {sch: int(problem.eligible[sch].sum()) for sch in schemes},
        "candidates_dropped": dropped,
        "units": len(units),
        "communes_in_region": int(inside.sum()),
        "objective_before": f0,
        "gap_before": g0,
        "population_under_threshold": float(problem.population[under].sum()),
        "population_region": float(problem.population[problem.scope].sum()),
        "mean_access_before": float(np.average(problem.access[inside], weights=w)) if w.sum() > 0 else math.nan,
        "gain_greedy": greedy.gain,
        "gain_naive": naive.gain,
        "gain_ratio": greedy.gain / naive.gain if naive.gain > 0 else math.inf,
        "gap_closed_greedy": greedy.gain / g0 if g0 > 0 else math.nan,
        "gap_closed_naive": naive.gain / g0 if g0 > 0 else math.nan,
        "upper_bound": greedy.bound,
        "greedy_share_of_bound": greedy.share_of_bound(),
        "population_helped_greedy": float(problem.population[under & (greedy.access > problem.access)].sum()),
        "population_helped_naive": float(problem.population[under & (naive.access > problem.access)].sum()),
        "greedy_rule": greedy.rule,
        "evaluations": greedy.evaluations,
        "evaluations_plain_greedy": len(cands) * max(greedy.n_posts, 1),
        "engine_max_diff": greedy.engine_max_diff,
        "unmet_minima": greedy.unmet,
        "timings_s": timings,
        "settings": {
            "baseline": a.baseline, "threshold": a.threshold, "consultations_per_post": a.consultations_per_post,
            "consultations_per_gp": a.consultations_per_gp, "demand": a.demand, "method": a.method,
            "decay": str(decay), "cutoff_min": a.cutoff, "statuses": list(a.statuses),
            "max_per_structure": a.max_per_structure, "min_per_departement": a.min_per_departement,
            "budget": a.budget, "costs": {sch: a.cost(sch) for sch in schemes}, "territory": a.territory,
            "naive_apl": a.naive_apl, "apl": f"{config.apl_column} {config.apl_year}",
            "detour": model.detour, "speeds_km_kmh": model.speeds,
        },
    }
    return Prioritisation(picks=picks_table, naive=naive_table, summary=summary, communes=communes_out,
                          territories=terr_out, problem=problem, greedy=greedy, baseline_rule=naive)
