"""Post allocation: where N funded doctor posts most raise accessibility for under-served people.

The problem (objective, effect of a post) is built in :mod:`zonage.priority.problem`;
here are the constraints and the solvers: lazy greedy, the naive rule, exhaustive
search for tests (the exact MILP is in :mod:`zonage.priority.milp`).

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

Everything here is pure (arrays and DataFrames in, tables out); the région study that
reads the layers is :mod:`zonage.studies.prioritisation`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from zonage.errors import InputDataError
from zonage.priority.problem import AllocationProblem, make_problem, stack_problems

__all__ = [
    "Allocation",
    "AllocationProblem",
    "Constraints",
    "allocate",
    "exact_allocation",
    "make_problem",
    "naive_allocation",
    "split_posts",
    "stack_problems",
]

Progress = Callable[[str, int, int | None], None]


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
        gain = p.objective_fn.gain(p.demand[rows][inside], before[inside], before[inside] + values[inside])
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
