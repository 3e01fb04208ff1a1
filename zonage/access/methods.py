"""Floating catchment area methods (2SFCA, E2SFCA, 3SFCA) on a sparse weight matrix.

All methods share one signature, :func:`accessibility`, and one computation: a
sparse origin × destination weight matrix ``W`` (``W[i, j] = f(c_ij)`` for pairs with
``c_ij <= cutoff``), then two sparse matrix–vector products:

- step 1, supply-to-demand ratio of each destination: ``R_j = S_j / Σ_i W_ij P_i``;
- step 2, accessibility of each origin: ``A_i = Σ_j W_ij R_j``.

2SFCA uses the binary weight, E2SFCA a stepped or continuous decay (the generalised
2SFCA); both run the same code and differ only by their default decay. 3SFCA (Wan,
Zou & Sternberg 2012) replaces ``W`` by ``G ∘ W`` where ``G_ij = W_ij / Σ_k W_ik`` is
the share of origin i's demand sent to destination j, the sum running over the
destinations within reach that have supply.

Conventions (those of PySAL ``access``): a pair is in the catchment when
``cost <= cutoff``; only the pairs present in the costs exist (an OD table without
self-pairs gives none). A destination whose catchment holds no demand keeps its
supply out of every ratio (``R_j = 0``; PySAL would give ``inf`` or ``NaN``); an
origin without any reachable supply gets accessibility 0 (PySAL: ``NaN``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from zonage.access.costs import TravelCosts, od_costs
from zonage.access.decay import Decay, binary, drees
from zonage.errors import InputDataError

if TYPE_CHECKING:
    # The base of every sparse array and matrix: in scipy (and its stubs) sp.sparray and
    # sp.spmatrix are bare marker classes, without shape or the other sparse methods.
    from scipy.sparse._base import _spbase

METHODS: tuple[str, ...] = ("2sfca", "e2sfca", "3sfca")


def default_decay(method: str) -> Decay:
    """Default decay of a method: binary for 2SFCA, the DREES steps for E2SFCA and 3SFCA."""
    _check_method(method)
    return binary() if method == "2sfca" else drees()


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"méthode {method!r} inconnue : choisir parmi {', '.join(METHODS)}")


def weight_matrix(
    costs: TravelCosts,
    decay: Decay | Callable[[np.ndarray], np.ndarray],
    *,
    cutoff: float | None = None,
    origins: pd.Index | None = None,
    destinations: pd.Index | None = None,
) -> sp.coo_array:
    """Sparse weights ``W[i, j] = decay(cost_ij)`` for pairs with ``cost <= cutoff``.

    The matrix is kept in COO form: its matrix–vector products run in one pass over
    the pairs, without the sort a CSR conversion needs.

    Parameters
    ----------
    costs
        Travel costs.
    decay
        Vectorised decay function.
    cutoff
        Catchment cut-off (default: the costs' own, i.e. every pair kept).
    origins, destinations
        Row and column order (e.g. the demand and supply identifiers); pairs with
        another origin or destination are dropped. Default: the costs' own.
    """
    rows, cols = costs.origin_pos, costs.destination_pos
    cost = costs.cost
    keep = np.ones(cost.size, dtype=bool) if cutoff is None else cost <= cutoff
    n_rows, n_cols = len(costs.origins), len(costs.destinations)
    if origins is not None and not origins.equals(costs.origins):
        remap = origins.get_indexer(costs.origins)
        rows = remap[rows]
        keep &= rows >= 0
        n_rows = len(origins)
    if destinations is not None and not destinations.equals(costs.destinations):
        remap = destinations.get_indexer(costs.destinations)
        cols = remap[cols]
        keep &= cols >= 0
        n_cols = len(destinations)
    weights = np.asarray(decay(cost), dtype="float64")
    if weights.shape != cost.shape or not np.isfinite(weights[keep]).all() or (weights[keep] < 0).any():
        raise ValueError(f"decay {decay} must return one finite weight ≥ 0 per cost")
    keep &= weights > 0
    return sp.coo_array((weights[keep], (rows[keep], cols[keep])), shape=(n_rows, n_cols))


def _mv(matrix: sp.coo_array, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` with the result's shape kept (scipy returns a scalar for a 1-element result)."""
    return np.asarray(matrix @ vector, dtype="float64").reshape((matrix.shape[0], *vector.shape[1:]))


def _ratio(supply: np.ndarray, demand: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast_shapes(supply.shape, demand.shape), dtype="float64")
    np.divide(supply, demand, out=out, where=demand > 0)
    return out


def floating_catchment(
    weights: _spbase,
    demand: np.ndarray,
    supply: np.ndarray,
    method: str = "e2sfca",
) -> tuple[np.ndarray, np.ndarray]:
    """Accessibility of each origin and supply ratio of each destination.

    Parameters
    ----------
    weights
        ``(n_origins, n_destinations)`` sparse weights (:func:`weight_matrix`).
    demand
        ``(n_origins,)`` demand (population, standardised population…), ≥ 0.
    supply
        ``(n_destinations,)`` or ``(n_destinations, k)`` supply, ≥ 0.
    method
        ``"2sfca"``, ``"e2sfca"`` (same computation) or ``"3sfca"``.

    Returns
    -------
    access, ratio
        ``(n_origins[, k])`` accessibility and ``(n_destinations[, k])`` supply ratios.
    """
    _check_method(method)
    demand = np.asarray(demand, dtype="float64")
    supply = np.asarray(supply, dtype="float64")
    one = supply.ndim == 1
    supply2 = supply[:, None] if one else supply
    if weights.shape != (demand.size, supply2.shape[0]):
        raise ValueError(f"weights {weights.shape} do not match demand {demand.size} × supply {supply2.shape[0]}")
    w = sp.coo_array(weights)
    if method != "3sfca":
        reached = _mv(w.T, demand)  # step 1: demand within each destination's catchment
        ratio = _ratio(supply2, reached[:, None])
        access = _mv(w, ratio)  # step 2: ratios within each origin's catchment
    else:
        access = np.empty((demand.size, supply2.shape[1]))
        ratio = np.empty_like(supply2)
        for k in range(supply2.shape[1]):
            # Only destinations with supply attract demand: G_ij = W_ij / Σ_{j' with supply} W_ij'.
            has = (supply2[:, k] > 0).astype("float64")
            total = _mv(w, has)
            data = w.data * w.data * has[w.col] * _ratio(np.ones(1), total)[w.row]  # G_ij · W_ij
            both = sp.coo_array((data, (w.row, w.col)), shape=w.shape)
            ratio[:, k] = _ratio(supply2[:, k], _mv(both.T, demand))
            access[:, k] = _mv(both, ratio[:, k])
    return (access[:, 0], ratio[:, 0]) if one else (access, ratio)


def _values(frame: pd.Series | pd.DataFrame, what: str) -> pd.DataFrame:
    table = frame.to_frame() if isinstance(frame, pd.Series) else frame
    if table.index.hasnans or not table.index.is_unique:
        raise InputDataError(f"{what}: identifiers (the index) must be unique and not missing")
    out = table.apply(pd.to_numeric, errors="coerce").astype("float64")
    bad = out.isna() | (out < 0) | ~np.isfinite(out)
    if bad.to_numpy().any():
        column = out.columns[bad.any().to_numpy()][0]
        row = out.index[bad[column].to_numpy()][0]
        raise InputDataError(f"{what}: {column} of {row!r} is {table.at[row, column]!r}, not a number ≥ 0")
    return out


def accessibility(
    costs: TravelCosts | pd.DataFrame,
    demand: pd.Series,
    supply: pd.Series | pd.DataFrame,
    *,
    method: str = "e2sfca",
    decay: Decay | Callable[[np.ndarray], np.ndarray] | None = None,
    cutoff: float | None = None,
    origin: str = "origin",
    destination: str = "destination",
    cost: str = "cost",
    scale: float = 1.0,
) -> pd.DataFrame:
    """Floating catchment accessibility of each demand unit, as a long table.

    One signature for every method. Costs run from demand units (origins) to supply
    locations (destinations).

    Parameters
    ----------
    costs
        :class:`~zonage.access.costs.TravelCosts`, or an OD table with columns
        ``origin``, ``destination``, ``cost``.
    demand
        Demand per demand unit (population, standardised population), indexed by
        the origin identifiers. Its name is the demand's name.
    supply
        Supply per location (GP count, consultations, FTE), indexed by the destination
        identifiers; a DataFrame gives several supplies at once (one per column).
    method
        ``"2sfca"``, ``"e2sfca"`` or ``"3sfca"``.
    decay
        Decay function (:mod:`zonage.access.decay`); default :func:`default_decay`.
    cutoff
        Catchment cut-off in the cost unit: pairs with ``cost <= cutoff`` count.
        Default: every pair of ``costs``.
    origin, destination, cost
        Column names when ``costs`` is a table.
    scale
        Multiplier of the result (e.g. ``1e5`` for GPs per 100,000 inhabitants).

    Returns
    -------
    pandas.DataFrame
        Long table, one row per demand unit and supply column: ``id, supply, method,
        access, demand`` (``demand`` is the demand weight, for aggregation). Its
        ``attrs`` hold ``decay``, ``cutoff``, ``unit``, ``pairs`` (pairs with a weight > 0) and
        ``unreached_supply`` (supply per column whose catchment holds no demand).
    """
    _check_method(method)
    decay = decay if decay is not None else default_decay(method)
    demand_values = _values(demand, "demand")
    if demand_values.shape[1] != 1:
        raise InputDataError("demand: give one column (a Series)")
    supply_values = _values(supply, "supply")
    if isinstance(costs, TravelCosts) and cutoff is not None and costs.cutoff is not None and cutoff > costs.cutoff:
        raise ValueError(f"costs were kept up to {costs.cutoff:g} {costs.unit} only; cannot use a {cutoff:g} cut-off")
    if not isinstance(costs, TravelCosts):
        costs = od_costs(costs, origin=origin, destination=destination, cost=cost, cutoff=cutoff,
                         origins=demand_values.index, destinations=supply_values.index)
    weights = weight_matrix(costs, decay, cutoff=cutoff, origins=demand_values.index,
                            destinations=supply_values.index)
    pop = demand_values.iloc[:, 0].to_numpy()
    offer = supply_values.to_numpy()
    access, _ = floating_catchment(weights, pop, offer, method)
    n, k = access.shape
    names = [str(c) for c in supply_values.columns]
    out = pd.DataFrame(
        {
            "id": np.tile(demand_values.index.to_numpy(), k),
            "supply": pd.Categorical(np.repeat(names, n), categories=names),
            "method": pd.Categorical.from_codes(np.full(n * k, METHODS.index(method)), categories=pd.Index(METHODS)),
            "access": access.T.ravel() * scale,
            "demand": np.tile(pop, k),
        }
    )
    reached = _mv(weights.T, pop)
    out.attrs.update(
        decay=str(decay),
        cutoff=cutoff if cutoff is not None else costs.cutoff,
        unit=costs.unit,
        pairs=int(weights.nnz),
        unreached_supply={name: float(offer[reached <= 0, c].sum()) for c, name in enumerate(names)},
        demand_name=str(demand_values.columns[0]),
    )
    return out
