"""Locate points: commune (by polygon), QPV (by polygon, per generation), zoning class.

A :class:`Locator` is built once from the layers and reused across batches. For
each territory it keeps the polygons in the territory's metric CRS, STRtrees, and
a raster lookup grid (``cell_m`` metres) telling, for every cell that no commune
boundary crosses, which commune covers it. Points in such cells are answered by
one array read; only points in cells crossed by a boundary (a few percent) get an
exact point-in-polygon test. A second bit marks cells within one cell of a
boundary, so that every point closer than ``cell_m`` to a boundary gets its exact
distance (``commune_boundary_m``), and a third marks cells within one cell of a
QPV, the only ones tested against QPV polygons.

Each point gets exactly one commune: inside one polygon → that one; inside two
(slivers where polygons simplified département by département overlap) → the one
it lies deepest in (ties: lowest code), flagged ``overlap``; inside none (thin gaps,
coastline simplification) → the nearest commune within ``tolerance_m``, flagged
``nearest``; farther → no commune.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zonage.crs import TERRITORY_CRS, WGS84, transform_xy, transformer
from zonage.grid import NEAR as _NEAR
from zonage.grid import OTHER_NEAR as _QPV_NEAR
from zonage.grid import TOUCHED as _TOUCHED
from zonage.grid import LookupGrid, territory_fingerprint

#: Zoning classes, most favourable first (order used when a choice is needed).
CLASSES: tuple[str, ...] = ("ZIP", "ZAC", "ZAR", "HZ", "unknown")
#: Margin (degrees) around a territory's communes when deciding which territory a point is in.
_BBOX_MARGIN_DEG = 0.2


@dataclass
class _Polygons:
    """Polygons of one kind (communes, QPV of a generation) in one territory.

    ``index`` gives each polygon's position in the locator's global arrays.
    """

    index: np.ndarray
    geoms: np.ndarray
    tree: shapely.STRtree = field(init=False)
    boundaries: np.ndarray = field(init=False)
    boundary_tree: shapely.STRtree = field(init=False)

    def __post_init__(self) -> None:
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self.boundaries = shapely.boundary(self.geoms)
        self.boundary_tree = shapely.STRtree(self.boundaries)

    def containing(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point index, polygon index) pairs where the polygon covers the point."""
        pairs = self.tree.query(points, predicate="intersects")  # shape (2, n)
        return pairs[0], pairs[1]


@dataclass
class _Territory:
    """Everything needed to locate points of one territory, in its metric CRS."""

    name: str
    crs: str
    communes: _Polygons
    qpv: dict[int, _Polygons]
    grid: LookupGrid


METHODS: tuple[str, ...] = ("none", "grid", "exact", "overlap", "nearest")
ALL_CLASSES: tuple[str, ...] = (*CLASSES, "mixed")
#: None as a 0-d object array, the "elsewhere" of ``np.where`` for object columns.
_NONE = np.array(None, dtype=object)
SOURCES: tuple[str, ...] = ("none", "commune", "arrondissement", "qpv")


def _categorical(codes: np.ndarray, categories: np.ndarray | tuple[str, ...]) -> pd.Categorical:
    """Strings as a categorical built from integer codes (-1 = missing): no per-row string work."""
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=pd.Index(list(categories), dtype=object))


class Locator:
    """Point → commune, QPV (2015 and 2024), zoning class, distances to boundaries.

    Parameters
    ----------
    communes
        The ``communes`` layer (any CRS; needs ``insee``, ``nom``, ``region``, ``territory``),
        or a dict territory → that territory's communes (as stored, in its metric CRS).
    qpv
        The ``qpv`` layer (``code_qp``, ``nom_qp``, ``generation``, ``classe_qpv``,
        ``region``, ``territory``) or None.
    zoning
        The ``zoning_communes`` table (``insee``, ``classe``; ``insee_arm`` and ``postcodes``
        for arrondissements) or None.
    zoning_qpv
        The ``zoning_qpv`` table (``code_qp``, ``classe``) or None.
    cell_m
        Lookup grid cell (m); also the distance below which boundary distances are exact.
    tolerance_m
        Largest distance to a commune for the nearest-commune fallback.
    grids
        Precomputed lookup grids (the ``locate_index`` layer): territory → (grid,
        fingerprint); a grid is used only if its fingerprint matches these polygons.
    extents
        Territory → WGS84 bounds telling which territory a point is in (default: the
        bounds of ``communes``). A locator built on part of the communes (around one
        address) passes every territory's whole extent, so that points elsewhere are
        told apart as with the whole layer.

    Notes
    -----
    Text columns of the result are categoricals built from integer codes, so that a
    million points cost no per-row string work.
    """

    def __init__(
        self,
        communes: gpd.GeoDataFrame | dict[str, gpd.GeoDataFrame],
        qpv: gpd.GeoDataFrame | None = None,
        zoning: pd.DataFrame | None = None,
        zoning_qpv: pd.DataFrame | None = None,
        *,
        cell_m: float = 100.0,
        tolerance_m: float = 250.0,
        grids: dict[str, tuple[LookupGrid, str]] | None = None,
        extents: dict[str, tuple[float, float, float, float]] | None = None,
    ) -> None:
        self.cell_m = float(cell_m)
        self._grids = dict(grids or {})
        self.tolerance_m = float(tolerance_m)
        if not isinstance(communes, dict):
            by_territory: dict[str, gpd.GeoDataFrame] = {}
            for t, part in communes.groupby("territory"):
                assert isinstance(part, gpd.GeoDataFrame)  # groups of a GeoDataFrame keep their geometry
                by_territory[str(t)] = part
            communes = by_territory
        self._communes = {name: communes[name] for name in sorted(communes)}
        self._territories: dict[str, _Territory] = {}
        self._bboxes = dict(sorted(extents.items())) if extents is not None else {
            name: transformer(str(part.crs), WGS84).transform_bounds(*part.total_bounds)
            for name, part in self._communes.items()
        }
        self._offset, start = {}, 0
        for name, part in self._communes.items():
            self._offset[name] = start
            start += len(part)
        every = pd.concat([pd.DataFrame(part[["insee", "nom", "region"]]) for part in self._communes.values()])
        self.codes = every["insee"].astype(str).to_numpy(object)
        self._names = every["nom"].astype(str).to_numpy(object)
        self._regions = every["region"].astype(str).to_numpy(object)
        if len(set(self.codes)) != len(self.codes):
            raise ValueError("commune codes must be unique")
        classes = _commune_classes(zoning)
        class_index = {c: i for i, c in enumerate(ALL_CLASSES)}
        unknown = class_index["unknown"]
        self._commune_class = np.array(
            [class_index.get(classes.get(code, "unknown"), unknown) for code in self.codes], dtype=np.int8
        )
        self._arrondissement_class = _arrondissement_classes(zoning)
        self.zoning_vintage = zoning_vintage(zoning)
        self._init_qpv(qpv, zoning_qpv, class_index)

    def _init_qpv(self, qpv: gpd.GeoDataFrame | None, zoning_qpv: pd.DataFrame | None,
                  class_index: dict[str, int]) -> None:
        self._qpv: dict[int, gpd.GeoDataFrame] = {}
        self._qpv_codes: dict[int, np.ndarray] = {}
        self._qpv_names: dict[int, np.ndarray] = {}
        self._qpv_class: dict[int, np.ndarray] = {}
        self._covered: dict[int, np.ndarray] = {}
        own = {} if zoning_qpv is None else dict(zip(zoning_qpv["code_qp"], zoning_qpv["classe"], strict=True))
        if qpv is not None and "classe_qpv" in qpv:
            for code, classe in zip(qpv["code_qp"], qpv["classe_qpv"], strict=True):
                if isinstance(classe, str) and classe:
                    own.setdefault(code, classe)
        if qpv is None:
            self.generations: list[int] = []
            return
        usable = qpv[qpv.geometry.notna() & ~qpv.geometry.is_empty]
        self.generations = sorted(int(g) for g in usable["generation"].unique())
        for generation in self.generations:
            part = usable[usable["generation"] == generation].sort_values("code_qp").reset_index(drop=True)
            self._qpv[generation] = part
            self._qpv_codes[generation] = part["code_qp"].astype(str).to_numpy(object)
            self._qpv_names[generation] = part["nom_qp"].astype(str).to_numpy(object)
            self._qpv_class[generation] = np.array(
                [class_index.get(own.get(code, ""), -1) for code in self._qpv_codes[generation]], dtype=np.int8
            )
            regions = set(part["region"].dropna().astype(str)) if "region" in part else set()
            self._covered[generation] = np.isin(self._regions, list(regions))

    def qpv_name(self, generation: int, code: str) -> str | None:
        """The name of QPV ``code`` of ``generation`` (None when this locator does not hold it)."""
        if generation not in self._qpv_codes:
            return None
        found = np.flatnonzero(self._qpv_codes[generation] == code)
        return str(self._qpv_names[generation][found[0]]) if len(found) else None

    @property
    def qpv_coverage(self) -> dict[int, set[str]]:
        """Régions with polygons of each QPV generation."""
        return {g: set(self._regions[self._covered[g]]) for g in self.generations}

    def add_window_grids(self, bounds: dict[str, tuple[float, float, float, float]], lon: np.ndarray,
                         lat: np.ndarray) -> None:
        """Give each territory with some of the points the lookup-grid cells around them.

        For a locator built on the communes around a few points (``zonage check``):
        ``bounds`` gives each territory's metric bounds of *all* its communes (the
        alignment of its stored grid, :meth:`LookupGrid.build`); the cells rasterised
        here are those the whole territory's grid holds (:meth:`_window_grid`).
        """
        which = self.territory_of(lon, lat)
        names = list(self._bboxes)
        for index in np.unique(which[which >= 0]):
            name = names[int(index)]
            rows = which == index
            self._grids[name] = (self._window_grid(name, bounds[name], lon[rows], lat[rows]), self.fingerprint(name))

    def _window_grid(self, name: str, box: tuple[float, float, float, float], lon: np.ndarray,
                     lat: np.ndarray) -> LookupGrid:
        """The cells of territory ``name``'s lookup grid around some points, as :meth:`LookupGrid.build` makes them.

        The grid of the whole territory is aligned on its communes' bounds ``box``
        (:meth:`LookupGrid.build`); this rasterises the same polygons on a window of
        that grid, three cells around the points, so that each cell gets the same
        polygon and flags (dilations need one cell beyond the cells read). Cells off
        the whole grid get every flag, as :meth:`LookupGrid.read` gives them.
        """
        from rasterio import features
        from rasterio.transform import Affine

        cell = self.cell_m
        crs = TERRITORY_CRS[name]
        minx, miny, maxx, maxy = box
        x0 = np.floor(minx / cell) * cell - 2 * cell
        y0 = np.ceil(maxy / cell) * cell + 2 * cell
        width = int(np.ceil((maxx - x0) / cell)) + 3
        height = int(np.ceil((y0 - miny) / cell)) + 3
        x, y = transform_xy(lon, lat, WGS84, crs)
        cols = np.floor((x - x0) / cell)
        rows = np.floor((y0 - y) / cell)
        c0, c1 = int(cols.min()) - 3, int(cols.max()) + 3
        r0, r1 = int(rows.min()) - 3, int(rows.max()) + 3
        shape = (r1 - r0 + 1, c1 - c0 + 1)
        wx0, wy0 = x0 + c0 * cell, y0 - r0 * cell
        transform = Affine(cell, 0.0, wx0, 0.0, -cell, wy0)  # rasterio.transform.from_origin, without its warning
        window = shapely.box(wx0, wy0 - shape[0] * cell, wx0 + shape[1] * cell, wy0)
        polygons = self._communes[name].to_crs(crs).geometry.to_numpy()
        shapes = [(g, i + 1) for i, g in enumerate(polygons) if g is not None and shapely.intersects(g, window)]
        ids = (features.rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint32")
               if shapes else np.zeros(shape, dtype=np.uint32))
        lines = [(b, 1) for b in shapely.boundary([g for g, _ in shapes])] if shapes else []
        touched = (features.rasterize(lines, out_shape=shape, transform=transform, fill=0, dtype="uint8",
                                      all_touched=True).astype(bool) if lines else np.zeros(shape, dtype=bool))
        flags = touched.astype(np.uint8) * _TOUCHED | _dilate(touched).astype(np.uint8) * _NEAR
        others = [g for frame in self._qpv.values()
                  for g in frame[frame["territory"] == name].to_crs(crs).geometry.to_numpy()
                  if shapely.intersects(g, window)]
        if others:
            covered = features.rasterize(((g, 1) for g in others), out_shape=shape, transform=transform, fill=0,
                                         dtype="uint8", all_touched=True).astype(bool)
            flags |= _dilate(covered).astype(np.uint8) * _QPV_NEAR
        grid_rows = np.arange(r0, r1 + 1)[:, None]
        grid_cols = np.arange(c0, c1 + 1)[None, :]
        off = (grid_rows < 0) | (grid_rows >= height) | (grid_cols < 0) | (grid_cols >= width)
        ids[off] = 0
        flags[off] = _TOUCHED | _NEAR | _QPV_NEAR
        return LookupGrid(float(wx0), float(wy0), float(cell), ids, flags)

    # -- index -------------------------------------------------------------------------------
    def territory(self, name: str) -> _Territory:
        """The index of one territory, built on first use."""
        if name not in self._communes:
            raise ValueError(f"territory {name} was not loaded by this locator (built around other points by "
                             "zonage.studies.locators.locator_near): use zonage.studies.locators.locator")
        if name not in self._territories:
            crs = TERRITORY_CRS[name]
            part = self._communes[name].to_crs(crs)
            offset = self._offset[name]
            communes = _Polygons(np.arange(offset, offset + len(part)), part.geometry.to_numpy())
            qpv: dict[int, _Polygons] = {}
            for generation, frame in self._qpv.items():
                local = frame[frame["territory"] == name]
                if len(local):
                    qpv[generation] = _Polygons(local.index.to_numpy(), local.to_crs(crs).geometry.to_numpy())
            stored = self._grids.get(name)
            if stored is not None and stored[1] == self.fingerprint(name):
                grid = stored[0]
            else:
                others = np.concatenate([p.geoms for p in qpv.values()]) if qpv else np.empty(0, dtype=object)
                grid = LookupGrid.build(communes.geoms, others, self.cell_m)
            self._territories[name] = _Territory(name, crs, communes, qpv, grid)
        return self._territories[name]

    def fingerprint(self, name: str) -> str:
        """Identity of a territory's polygons, to check a precomputed grid against."""
        codes = [str(c) for frame in self._qpv.values() for c in frame.loc[frame["territory"] == name, "code_qp"]]
        return territory_fingerprint(self._communes[name]["insee"].astype(str).tolist(), codes, self.cell_m)

    def qpv_classes_in(self, codes: list[str] | np.ndarray, min_area_m2: float = 100.0) -> dict[str, set[str]]:
        """Own zoning classes of the QPV lying (partly) in each commune.

        A commune with no such class is entirely in its commune class: knowing only the
        commune (e.g. a geocoding that found only the town) is then enough to know the class.

        Parameters
        ----------
        codes
            Commune codes (unknown codes are skipped).
        min_area_m2
            Overlap below which a QPV touching the commune is ignored (slivers).
        """
        position = {code: i for i, code in enumerate(self.codes)}
        starts = sorted(self._offset.items(), key=lambda item: item[1])  # territory → first global index
        out: dict[str, set[str]] = {}
        for code in set(codes):
            i = position.get(code)
            if i is None:
                continue
            name = next(t for t, start in reversed(starts) if start <= i)
            territory = self.territory(name)
            geom = territory.communes.geoms[i - self._offset[name]]
            found: set[str] = set()
            for generation, polys in territory.qpv.items():
                for h in polys.tree.query(geom, predicate="intersects"):
                    classe = int(self._qpv_class[generation][polys.index[h]])
                    if classe >= 0 and shapely.intersection(geom, polys.geoms[h]).area >= min_area_m2:
                        found.add(ALL_CLASSES[classe])
            out[code] = found
        return out

    def warm(self, territories: list[str] | None = None) -> None:
        """Build the indexes of the given territories (all by default) now."""
        for name in territories or list(self._bboxes):
            self.territory(name)

    # -- locate ------------------------------------------------------------------------------
    def territory_of(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index into ``sorted territories`` of each lon/lat point (-1 outside every territory's box)."""
        return territory_index(self._bboxes, lon, lat)

    def locate(
        self, x: np.ndarray, y: np.ndarray, crs: str = WGS84, postcodes: pd.Series | np.ndarray | None = None
    ) -> pd.DataFrame:
        """Locate points given in ``crs``; one output row per input point, same order.

        ``postcodes`` (optional, one per point) pick the arrondissement, and so the class,
        in Paris, Lyon and Marseille, whose arrondissements are classed separately but have
        no polygons here (``classe_source`` = ``arrondissement``); without it their class
        is ``mixed`` where arrondissements differ.

        Returns
        -------
        pandas.DataFrame
            ``territory``, ``lon``, ``lat``, ``insee``, ``commune_nom``, ``commune_method``
            (grid / exact / overlap / nearest / none), ``commune_candidates``,
            ``commune_boundary_m`` (exact when below ``cell_m``, NaN when farther),
            ``nearest_commune_m`` (for the fallback), for each QPV generation G:
            ``qpvG``, ``qpvG_nom``, ``qpvG_boundary_m``, ``qpvG_covered`` (polygons of
            that generation exist for the point's région); ``insee_arm``,
            ``classe_commune``, ``classe_qpv``, ``classe`` and ``classe_source``.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        lon, lat = transform_xy(x, y, crs, WGS84)
        n = len(x)
        terr = self.territory_of(lon, lat)
        state = _State(n, self.generations)
        names = list(self._bboxes)
        for t in np.unique(terr[terr >= 0]):
            rows = np.flatnonzero(terr == t)
            territory = self.territory(names[t])
            lx, ly = transform_xy(x[rows], y[rows], crs, territory.crs)
            self._locate_in(territory, rows, lx, ly, state)
        return self._frame(terr, lon, lat, state, postcodes)

    def _locate_in(self, terr: _Territory, rows: np.ndarray, x: np.ndarray, y: np.ndarray, state: _State) -> None:
        local, flags = terr.grid.read(x, y)
        method = np.where(local >= 0, 1, 0).astype(np.int8)
        check = np.flatnonzero((flags & (_TOUCHED | _NEAR | _QPV_NEAR)).astype(bool) | (local < 0))
        points = np.full(len(x), None, dtype=object)
        points[check] = shapely.points(x[check], y[check])
        exact = np.flatnonzero(flags & _TOUCHED)
        if len(exact):
            local[exact] = -1
            method[exact] = 0
            pi, ci = terr.communes.containing(points[exact])
            counts = np.bincount(pi, minlength=len(exact))
            take = counts[pi] == 1
            local[exact[pi[take]]] = ci[take]
            method[exact[pi[take]]] = 2
            multi = np.flatnonzero(counts > 1)
            if len(multi):
                self._resolve_overlaps(terr, exact, multi, pi, ci, points, local, method, state, rows)
        missing = np.flatnonzero(local < 0)
        if len(missing):
            pi, ci = terr.communes.tree.query_nearest(points[missing], max_distance=self.tolerance_m,
                                                      all_matches=False)
            if len(pi):
                local[missing[pi]] = ci
                method[missing[pi]] = 4
                state.nearest_m[rows[missing[pi]]] = shapely.distance(points[missing[pi]], terr.communes.geoms[ci])
        near = np.flatnonzero((flags & _NEAR).astype(bool) & (local >= 0) & (method != 4))
        if len(near):
            dist = shapely.distance(points[near], terr.communes.boundaries[local[near]])
            close = dist < self.cell_m
            state.boundary_m[rows[near[close]]] = dist[close]
        found = local >= 0
        state.commune[rows[found]] = terr.communes.index[local[found]]
        state.method[rows] = method
        candidates = np.flatnonzero(flags & _QPV_NEAR)
        for generation, polys in terr.qpv.items():
            self._locate_qpv(polys, generation, candidates, points, rows, state)

    def _resolve_overlaps(self, terr: _Territory, exact: np.ndarray, multi: np.ndarray, pi: np.ndarray,
                          ci: np.ndarray, points: np.ndarray, local: np.ndarray, method: np.ndarray,
                          state: _State, rows: np.ndarray) -> None:
        in_multi = np.isin(pi, multi)
        p, c = pi[in_multi], ci[in_multi]
        depth = shapely.distance(points[exact[p]], terr.communes.boundaries[c])
        codes = self.codes[terr.communes.index[c]]
        pairs = pd.DataFrame({"p": p, "c": c, "depth": depth, "code": codes})
        pairs = pairs.sort_values(["p", "depth", "code"], ascending=[True, False, True])
        best = pairs.drop_duplicates("p")
        local[exact[best["p"].to_numpy()]] = best["c"].to_numpy()
        method[exact[best["p"].to_numpy()]] = 3
        listed = pairs.groupby("p")["code"].agg(lambda s: "|".join(sorted(s)))
        for p_index, text in zip(listed.index.to_numpy(), listed.to_numpy(), strict=True):
            state.candidates[int(rows[exact[p_index]])] = text

    def _locate_qpv(self, polys: _Polygons, generation: int, candidates: np.ndarray, points: np.ndarray,
                    rows: np.ndarray, state: _State) -> None:
        if not len(candidates):
            return
        pts = points[candidates]
        pi, qi = polys.containing(pts)
        if len(pi):
            codes = self._qpv_codes[generation][polys.index[qi]]
            order = np.lexsort((codes.astype(str), pi))  # deterministic if two QPV overlap
            pi, qi = pi[order], qi[order]
            first = np.unique(pi, return_index=True)[1]
            state.qpv[generation][rows[candidates[pi[first]]]] = polys.index[qi[first]]
        bi, bj = polys.boundary_tree.query_nearest(pts, max_distance=self.cell_m, all_matches=False)
        if len(bi):
            state.qpv_boundary_m[generation][rows[candidates[bi]]] = shapely.distance(pts[bi], polys.boundaries[bj])

    # -- result ------------------------------------------------------------------------------
    def _frame(self, terr: np.ndarray, lon: np.ndarray, lat: np.ndarray, state: _State,
               postcodes: pd.Series | np.ndarray | None) -> pd.DataFrame:
        commune = state.commune
        found = commune >= 0
        safe = np.where(found, commune, 0)
        classe_commune = np.where(found, self._commune_class[safe], -1).astype(np.int64)
        source = np.where(found, 1, 0).astype(np.int64)
        arm = np.full(len(commune), None, dtype=object)
        mixed = ALL_CLASSES.index("mixed")
        if postcodes is not None and self._arrondissement_class:
            todo = np.flatnonzero(classe_commune == mixed)
            codes = pd.Series(np.asarray(postcodes, dtype=object)[todo]).astype("string").str.strip().str.zfill(5)
            for i, postcode in zip(todo, codes, strict=True):
                hit = self._arrondissement_class.get((self.codes[commune[i]], postcode))
                if hit is not None:
                    arm[i] = hit[0]
                    classe_commune[i] = ALL_CLASSES.index(hit[1]) if hit[1] in ALL_CLASSES else mixed
                    source[i] = 2
        qpv_class = np.full(len(commune), -1, dtype=np.int64)
        for g in sorted(self.generations, reverse=True):  # the newest generation's class wins
            idx = state.qpv[g]
            cls = np.where(idx >= 0, self._qpv_class[g][np.where(idx >= 0, idx, 0)], -1)
            qpv_class = np.where(qpv_class >= 0, qpv_class, cls)
        classe = np.where(qpv_class >= 0, qpv_class, classe_commune)
        source = np.where(qpv_class >= 0, 3, source)
        columns: dict[str, object] = {
            "territory": _categorical(terr, tuple(self._bboxes)),
            "lon": lon,
            "lat": lat,
            "insee": _categorical(np.where(found, commune, -1), self.codes),
            "commune_nom": pd.Series(np.where(found, self._names[safe], _NONE), dtype=object),
            "commune_method": _categorical(state.method.astype(np.int64), METHODS),
            "commune_candidates": pd.Series(state.candidates, dtype=object),
            "commune_boundary_m": state.boundary_m,
            "nearest_commune_m": state.nearest_m,
        }
        for g in self.generations:
            idx = state.qpv[g]
            columns[f"qpv{g}"] = _categorical(idx, self._qpv_codes[g])
            columns[f"qpv{g}_nom"] = pd.Series(
                np.where(idx >= 0, self._qpv_names[g][np.where(idx >= 0, idx, 0)], _NONE), dtype=object
            )
            columns[f"qpv{g}_boundary_m"] = state.qpv_boundary_m[g]
            columns[f"qpv{g}_covered"] = np.where(found, self._covered[g][safe], False)
        columns["insee_arm"] = pd.Series(arm, dtype=object)
        columns["classe_commune"] = _categorical(classe_commune, ALL_CLASSES)
        columns["classe_qpv"] = _categorical(qpv_class, ALL_CLASSES)
        columns["classe"] = _categorical(classe, ALL_CLASSES)
        columns["classe_source"] = _categorical(source, SOURCES)
        columns["zoning_vintage"] = (
            pd.Categorical.from_codes(np.zeros(len(lon), dtype=np.int8), categories=pd.Index([self.zoning_vintage]))
            if self.zoning_vintage is not None else pd.Series([None] * len(lon), dtype=object))
        return pd.DataFrame(columns)


def territory_index(boxes: dict[str, tuple[float, float, float, float]], lon: np.ndarray, lat: np.ndarray
                  ) -> np.ndarray:
    """Index into ``boxes`` (territory → WGS84 bounds) of each point's territory; -1 outside every box."""
    result = np.full(len(lon), -1, dtype=np.int64)
    m = _BBOX_MARGIN_DEG
    for i, (minx, miny, maxx, maxy) in enumerate(boxes.values()):
        inside = (lon >= minx - m) & (lon <= maxx + m) & (lat >= miny - m) & (lat <= maxy + m)
        result[inside & (result < 0)] = i
    return result


def _dilate(mask: np.ndarray) -> np.ndarray:
    """One step of binary dilation by the cross (``scipy.ndimage.binary_dilation`` defaults), outside = False."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


class _State:
    """Per-point results filled territory by territory (global indices, -1 = none)."""

    def __init__(self, n: int, generations: list[int]) -> None:
        self.commune = np.full(n, -1, dtype=np.int64)
        self.method = np.zeros(n, dtype=np.int8)
        self.candidates = np.full(n, None, dtype=object)
        self.boundary_m = np.full(n, np.nan)
        self.nearest_m = np.full(n, np.nan)
        self.qpv = {g: np.full(n, -1, dtype=np.int64) for g in generations}
        self.qpv_boundary_m = {g: np.full(n, np.nan) for g in generations}


def zoning_vintage(zoning: pd.DataFrame | None) -> str | None:
    """The vintage of the zoning classes (the ``vintage`` column of the zoning layer).

    One vintage is loaded at a time; the rules engine checks it against the zoning order
    in force at the date of each question (``_zoning_orders.toml``).
    """
    if zoning is None or "vintage" not in zoning:
        return None
    vintages = sorted(set(zoning["vintage"].dropna().astype(str)))
    if len(vintages) > 1:
        raise ValueError(f"zoning layer holds several vintages ({', '.join(vintages)}): pass one to the locator")
    return vintages[0] if vintages else None


def _commune_classes(zoning: pd.DataFrame | None) -> dict[str, str]:
    """Class per 2025 commune; ``mixed`` where arrondissements of one commune differ."""
    if zoning is None:
        return {}
    grouped = zoning.groupby("insee")["classe"]
    classes = grouped.first().astype(object).where(grouped.nunique() <= 1, "mixed")
    return {str(code): classe for code, classe in classes.items()}


def _arrondissement_classes(zoning: pd.DataFrame | None) -> dict[tuple[str, str], tuple[str, str]]:
    """(parent commune, postcode) → (arrondissement code, class) for Paris, Lyon, Marseille."""
    if zoning is None or "insee_arm" not in zoning or "postcodes" not in zoning:
        return {}
    arr = zoning[zoning["insee_arm"].notna() & (zoning["insee_arm"] != zoning["insee"])]
    lookup: dict[tuple[str, str], tuple[str, str]] = {}
    for insee, arm, classe, postcodes in zip(arr["insee"], arr["insee_arm"], arr["classe"], arr["postcodes"],
                                             strict=True):
        for postcode in str(postcodes).replace(",", ";").split(";"):
            if postcode.strip():
                lookup[(insee, postcode.strip())] = (arm, classe)
    return lookup
