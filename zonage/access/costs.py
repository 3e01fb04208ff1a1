"""Travel costs between demand and supply locations, kept sparse.

Two sources of costs, one structure (:class:`TravelCosts`):

- an origin–destination table (IRIS or commune codes, minutes or km), read by
  :func:`od_costs`;
- straight-line distances in a metric CRS turned into road minutes (or road km) by a
  detour factor and a speed model (:class:`StraightLine`), computed by
  :func:`straight_line_costs` with a k-d tree so that only the pairs within the cut-off
  are ever materialised — never a dense origins × destinations matrix.

Costs are a long, sparse list of pairs: origin position, destination position, cost.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from zonage.errors import InputDataError

#: Default speed model: road km travelled at each speed (the first 5 km at 30 km/h —
#: towns, access roads —, the next 15 km at 60 km/h, the rest at 80 km/h). A priori
#: values, not fitted to any reference.
DEFAULT_SPEEDS: tuple[tuple[float, float], ...] = ((5.0, 30.0), (20.0, 60.0), (math.inf, 80.0))
#: Default detour factor (road distance / straight-line distance).
DEFAULT_DETOUR = 1.3


@dataclass(frozen=True)
class TravelCosts:
    """Sparse travel costs: one entry per (origin, destination) pair kept.

    Attributes
    ----------
    origins, destinations
        Identifiers of the origins (demand units) and destinations (supply locations).
    origin_pos, destination_pos
        Positions into ``origins`` / ``destinations`` of each pair (int64 arrays).
    cost
        Cost of each pair (float64), in ``unit``.
    unit
        ``"min"`` or ``"km"`` (or any label given with an OD table).
    cutoff
        Largest cost kept (pairs above it were dropped), or ``None``.
    """

    origins: pd.Index
    destinations: pd.Index
    origin_pos: np.ndarray
    destination_pos: np.ndarray
    cost: np.ndarray
    unit: str = "min"
    cutoff: float | None = None

    def __len__(self) -> int:
        return int(self.cost.size)

    def to_frame(self, origin: str = "origin", destination: str = "destination", cost: str = "cost") -> pd.DataFrame:
        """The pairs as a long table ``origin, destination, cost``."""
        return pd.DataFrame(
            {
                origin: self.origins.take(self.origin_pos),
                destination: self.destinations.take(self.destination_pos),
                cost: self.cost,
            }
        )

    def within(self, cutoff: float) -> TravelCosts:
        """The pairs whose cost is at most ``cutoff``."""
        if self.cutoff is not None and cutoff >= self.cutoff:
            return self
        keep = self.cost <= cutoff
        return TravelCosts(self.origins, self.destinations, self.origin_pos[keep], self.destination_pos[keep],
                           self.cost[keep], self.unit, cutoff)


def _index(values: Sequence | pd.Index, what: str) -> pd.Index:
    index = pd.Index(values)
    if index.hasnans:
        raise InputDataError(f"{what}: missing identifiers")
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise InputDataError(f"{what}: repeated identifiers, e.g. {dup}")
    return index


def od_costs(
    table: pd.DataFrame,
    *,
    origin: str = "origin",
    destination: str = "destination",
    cost: str = "cost",
    cutoff: float | None = None,
    unit: str = "min",
    origins: Sequence | pd.Index | None = None,
    destinations: Sequence | pd.Index | None = None,
) -> TravelCosts:
    """Travel costs from an origin–destination table.

    Parameters
    ----------
    table
        One row per pair, e.g. IRIS→IRIS road times; pairs absent from the table are
        treated as unreachable.
    origin, destination, cost
        Column names.
    cutoff
        Keep only pairs with ``cost <= cutoff``.
    unit
        Label of the cost unit (``"min"``, ``"km"``).
    origins, destinations
        Identifiers to index on (e.g. the demand and supply units); pairs with another
        origin or destination are dropped. Default: the identifiers met in the table.

    Raises
    ------
    InputDataError
        Missing columns, missing or negative costs, or a pair given twice.
    """
    missing = [c for c in (origin, destination, cost) if c not in table.columns]
    if missing:
        raise InputDataError(f"OD table: no column {missing}; columns are {list(table.columns)}")
    values = pd.to_numeric(table[cost], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputDataError(f"OD table: cost {table[cost].iloc[row]!r} in row {row} is not a non-negative number")
    if table[origin].isna().any() or table[destination].isna().any():
        raise InputDataError("OD table: missing origin or destination identifiers")
    orig_codes, orig_index = _codes(table[origin], origins, "origins")
    dest_codes, dest_index = _codes(table[destination], destinations, "destinations")
    keep = (orig_codes >= 0) & (dest_codes >= 0)
    if cutoff is not None:
        keep &= values <= cutoff
    if len(table) and not ((orig_codes >= 0).any() and (dest_codes >= 0).any()):
        raise InputDataError(
            f"OD table: no {origin} / {destination} matches the demand or supply identifiers "
            f"(e.g. {table[origin].iloc[0]!r}; types {table[origin].dtype} / {orig_index.dtype})"
        )
    all_kept = bool(keep.all())
    o = np.asarray(orig_codes if all_kept else orig_codes[keep], dtype=np.int64)
    d = np.asarray(dest_codes if all_kept else dest_codes[keep], dtype=np.int64)
    key = o * max(len(dest_index), 1) + d
    ordered = np.sort(key)  # a plain sort is fast; look for the culprit only when there is one
    if (ordered[1:] == ordered[:-1]).any():
        repeated = pd.Series(key).duplicated().to_numpy()
        row = int(np.flatnonzero(keep)[np.flatnonzero(repeated)[0]])
        raise InputDataError(
            f"OD table: pair {table[origin].iloc[row]!r} → {table[destination].iloc[row]!r} is given more than once"
        )
    return TravelCosts(orig_index, dest_index, o, d, values if all_kept else values[keep], unit,
                       cutoff)


def _positions(column: pd.Series, index: pd.Index) -> np.ndarray:
    """Position in ``index`` of each value of ``column`` (-1 when absent).

    Arrow hash lookup (``pyarrow.compute.index_in``) when both sides are strings or
    both integers — about twice as fast as pandas on millions of pairs —, else pandas.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pa.array(column)
        lookup = pa.array(index.to_numpy())
        strings = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
        lookup_strings = pa.types.is_string(lookup.type) or pa.types.is_large_string(lookup.type)
        if (strings and lookup_strings) or (pa.types.is_integer(values.type) and pa.types.is_integer(lookup.type)):
            found = pc.index_in(values, value_set=lookup.cast(values.type))
            return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    except (pa.ArrowException, TypeError, ValueError):
        pass
    return np.asarray(index.get_indexer(pd.Index(column)), dtype=np.int64)


def _codes(column: pd.Series, ids: Sequence | pd.Index | None, what: str) -> tuple[np.ndarray, pd.Index]:
    """Codes of ``column`` into ``ids`` (given) or into its own distinct values."""
    if ids is None:
        codes, uniques = pd.factorize(column, sort=False)
        return np.asarray(codes, dtype=np.int64), pd.Index(uniques)
    index = _index(ids, what)
    return _positions(column, index), index


@dataclass(frozen=True)
class StraightLine:
    """Straight-line distance → road distance → travel time.

    Road km = straight-line km × ``detour``. With ``speeds`` the cost is in minutes:
    each band of road km is travelled at its own speed, so that time grows
    continuously and monotonically with distance; with ``speeds=None`` the cost is
    the road distance in km.

    Parameters
    ----------
    detour
        Road distance / straight-line distance (≥ 1).
    speeds
        ``((up_to_km, km_per_h), …)`` with increasing bounds, the last bound ``inf``.
    """

    detour: float = DEFAULT_DETOUR
    speeds: tuple[tuple[float, float], ...] | None = field(default=DEFAULT_SPEEDS)

    def __post_init__(self) -> None:
        if not (self.detour >= 1.0 and math.isfinite(self.detour)):
            raise ValueError(f"detour factor must be a finite number ≥ 1, not {self.detour}")
        if self.speeds is None:
            return
        speeds = tuple((float(b), float(v)) for b, v in self.speeds)
        bounds = [b for b, _ in speeds]
        if not speeds or any(v <= 0 or not math.isfinite(v) for _, v in speeds):
            raise ValueError("speeds must be positive and finite")
        if any(b2 <= b1 for b1, b2 in itertools.pairwise(bounds)) or bounds[0] <= 0:
            raise ValueError(f"speed band bounds must increase from > 0: {bounds}")
        if bounds[-1] != math.inf:
            raise ValueError("the last speed band must be open (bound inf)")
        object.__setattr__(self, "speeds", speeds)

    @property
    def unit(self) -> str:
        """``"min"`` with a speed model, ``"km"`` without."""
        return "km" if self.speeds is None else "min"

    def _bands(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.speeds is not None
        upper = np.array([b for b, _ in self.speeds])
        lower = np.concatenate([[0.0], upper[:-1]])
        pace = 60.0 / np.array([v for _, v in self.speeds])  # minutes per km
        return lower, upper, pace

    def cost(self, metres: np.ndarray) -> np.ndarray:
        """Cost (minutes or road km) of straight-line distances in metres."""
        road_km = np.asarray(metres, dtype="float64") * (self.detour / 1000.0)
        if self.speeds is None:
            return road_km
        lower, upper, pace = self._bands()
        minutes = np.zeros_like(road_km)
        for lo, hi, p in zip(lower, upper, pace, strict=True):
            minutes += np.clip(road_km - lo, 0.0, hi - lo) * p
        return minutes

    def max_metres(self, cost: float) -> float:
        """Largest straight-line distance (m) whose cost is at most ``cost``."""
        if cost < 0:
            raise ValueError("cut-off must be ≥ 0")
        if self.speeds is None:
            road_km = cost
        else:
            lower, upper, pace = self._bands()
            road_km, left = 0.0, float(cost)
            for lo, hi, p in zip(lower, upper, pace, strict=True):
                span = (hi - lo) * p
                if left <= span:
                    road_km = lo + left / p
                    break
                left -= span
        return road_km * 1000.0 / self.detour


def points_xy(points: gpd.GeoSeries | gpd.GeoDataFrame, how: str = "representative") -> np.ndarray:
    """``(n, 2)`` coordinates of points, or of polygons reduced to one point each.

    Parameters
    ----------
    points
        Geometries in a projected (metric) CRS.
    how
        For non-point geometries: ``"representative"`` (a point guaranteed inside,
        :meth:`~geopandas.GeoSeries.representative_point`) or ``"centroid"``.

    Raises
    ------
    InputDataError
        Geographic (degree) or missing CRS, or empty geometries.
    """
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is None or not geoms.crs.is_projected:
        raise InputDataError(f"straight-line costs need a projected metric CRS, not {geoms.crs}")
    if geoms.is_empty.any() or geoms.isna().any():
        raise InputDataError("straight-line costs: missing or empty geometries")
    if not (geoms.geom_type == "Point").all():
        if how == "representative":
            geoms = geoms.representative_point()
        elif how == "centroid":
            geoms = geoms.centroid
        else:
            raise ValueError(f"unknown point rule {how!r}: 'representative' or 'centroid'")
    return np.column_stack([geoms.x.to_numpy(), geoms.y.to_numpy()])


def straight_line_costs(
    origins: np.ndarray | gpd.GeoSeries | gpd.GeoDataFrame,
    destinations: np.ndarray | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    *,
    cutoff: float,
    model: StraightLine | None = None,
    origin_ids: Sequence | pd.Index | None = None,
    destination_ids: Sequence | pd.Index | None = None,
    how: str = "representative",
) -> TravelCosts:
    """Costs of every pair within ``cutoff``, from straight-line distances.

    A k-d tree (:class:`scipy.spatial.cKDTree`) finds the pairs closer than the
    straight-line radius matching the cut-off; only those are materialised, so
    memory grows with the number of pairs kept, not with origins × destinations.

    Parameters
    ----------
    origins, destinations
        ``(n, 2)`` metric coordinates, or geometries in a projected CRS (polygons are
        reduced to one point, see ``how``). ``destinations=None``: the origins.
    cutoff
        Largest cost kept, in the model's unit (minutes, or km without speeds).
    model
        Detour factor and speed model (default :class:`StraightLine`).
    origin_ids, destination_ids
        Identifiers; default the index of a GeoSeries/GeoDataFrame, else 0…n-1.
    how
        Point of a polygon: ``"representative"`` or ``"centroid"``.
    """
    model = model or StraightLine()
    same = destinations is None
    o_xy, o_ids = _coords(origins, origin_ids, how, "origins")
    if destinations is None:
        d_xy, d_ids = o_xy, (o_ids if destination_ids is None else _index(destination_ids, "destinations"))
    else:
        d_xy, d_ids = _coords(destinations, destination_ids, how, "destinations")
    if len(d_ids) != len(d_xy):
        raise InputDataError("destination identifiers and coordinates differ in length")
    geo = (gpd.GeoSeries, gpd.GeoDataFrame)
    if isinstance(origins, geo) and isinstance(destinations, geo):
        assert origins.crs is not None  # _coords → points_xy rejected geometries without a CRS
        if not origins.crs.equals(destinations.crs):
            raise InputDataError(f"origins ({origins.crs}) and destinations ({destinations.crs}) differ in CRS")
    radius = model.max_metres(cutoff)
    tree_o = cKDTree(o_xy)
    tree_d = tree_o if same else cKDTree(d_xy)
    pairs = tree_o.sparse_distance_matrix(tree_d, radius, output_type="ndarray")
    cost = model.cost(pairs["v"])
    keep = cost <= cutoff
    return TravelCosts(o_ids, d_ids, pairs["i"][keep].astype(np.int64), pairs["j"][keep].astype(np.int64),
                       cost[keep], model.unit, cutoff)


def _coords(
    points: np.ndarray | gpd.GeoSeries | gpd.GeoDataFrame, ids: Sequence | pd.Index | None, how: str, what: str
) -> tuple[np.ndarray, pd.Index]:
    if isinstance(points, gpd.GeoSeries | gpd.GeoDataFrame):
        xy = points_xy(points, how)
        index = _index(points.index if ids is None else ids, what)
    else:
        xy = np.asarray(points, dtype="float64")
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise InputDataError(f"{what}: coordinates must be an (n, 2) array")
        index = pd.RangeIndex(len(xy)) if ids is None else _index(ids, what)
    if not np.isfinite(xy).all():
        raise InputDataError(f"{what}: non-finite coordinates")
    if len(index) != len(xy):
        raise InputDataError(f"{what}: {len(index)} identifiers for {len(xy)} points")
    return xy, index


def parse_speeds(text: str) -> tuple[tuple[float, float], ...]:
    """``"5:30,20:60,80"`` → ``((5, 30), (20, 60), (inf, 80))``: road km up to which each speed (km/h) holds.

    The last item, without a bound, is the speed beyond the last bound.
    """
    bands: list[tuple[float, float]] = []
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        for k, part in enumerate(parts):
            bound, sep, speed = part.partition(":")
            if not sep:
                if k != len(parts) - 1:
                    raise ValueError("seule la dernière vitesse peut venir sans borne")
                bands.append((math.inf, float(bound)))
            else:
                bands.append((float(bound), float(speed)))
    except ValueError as exc:
        reason = str(exc) if "borne" in str(exc) else "des nombres sont attendus"
        raise InputDataError(f"--speeds {text!r} : {reason} (p. ex. 5:30,20:60,80 : 30 km/h jusqu'à 5 km, 60 "
                             "jusqu'à 20 km, 80 au-delà)") from None
    if not bands or bands[-1][0] != math.inf:
        raise InputDataError(f"--speeds {text!r} : finir par la vitesse au-delà de la dernière borne (p. ex. "
                             "5:30,20:60,80)")
    return tuple(bands)
