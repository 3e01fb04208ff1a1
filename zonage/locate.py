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
from rasterio import features
from rasterio.transform import from_origin
from scipy import ndimage

from zonage.crs import TERRITORY_CRS, WGS84, transform_xy, transformer

#: Zoning classes, most favourable first (order used when a choice is needed).
CLASSES: tuple[str, ...] = ("ZIP", "ZAC", "ZAR", "HZ", "unknown")
#: Bits of the lookup grid's flag array.
_TOUCHED, _NEAR, _QPV_NEAR = 1, 2, 4
#: Margin (degrees) around a territory's communes when deciding which territory a point is in.
_BBOX_MARGIN_DEG = 0.2


@dataclass
class _Polygons:
    """Polygons of one kind (communes, QPV of a generation) in one territory."""

    codes: np.ndarray
    names: np.ndarray
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
        return self.tree.query(points, predicate="intersects")


@dataclass
class _Grid:
    """Raster lookup: commune id (index + 1, 0 = none) and flag bits per cell."""

    x0: float
    y0: float
    cell: float
    ids: np.ndarray
    flags: np.ndarray

    @classmethod
    def build(cls, communes: _Polygons, qpv: list[_Polygons], cell: float) -> _Grid:
        minx, miny, maxx, maxy = shapely.total_bounds(communes.geoms)
        x0 = np.floor(minx / cell) * cell - 2 * cell
        y0 = np.ceil(maxy / cell) * cell + 2 * cell
        width = int(np.ceil((maxx - x0) / cell)) + 3
        height = int(np.ceil((y0 - miny) / cell)) + 3
        transform = from_origin(x0, y0, cell, cell)
        dtype = "uint16" if len(communes.geoms) < 65535 else "uint32"
        ids = features.rasterize(
            ((g, i + 1) for i, g in enumerate(communes.geoms)),
            out_shape=(height, width), transform=transform, fill=0, dtype=dtype,
        )
        touched = features.rasterize(
            ((b, 1) for b in communes.boundaries), out_shape=(height, width), transform=transform,
            fill=0, dtype="uint8", all_touched=True,
        ).astype(bool)
        flags = touched.astype(np.uint8) * _TOUCHED
        flags |= ndimage.binary_dilation(touched).astype(np.uint8) * _NEAR
        del touched
        qpv_geoms = [g for part in qpv for g in part.geoms]
        if qpv_geoms:
            covered = features.rasterize(
                ((g, 1) for g in qpv_geoms), out_shape=(height, width), transform=transform,
                fill=0, dtype="uint8", all_touched=True,
            ).astype(bool)
            flags |= ndimage.binary_dilation(covered).astype(np.uint8) * _QPV_NEAR
        return cls(x0, y0, cell, ids, flags)

    def read(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Commune index (-1 = none) and flags for each point; points off the grid are flagged all."""
        col = np.floor((x - self.x0) / self.cell)
        row = np.floor((self.y0 - y) / self.cell)
        height, width = self.ids.shape
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height) & np.isfinite(col) & np.isfinite(row)
        ids = np.full(len(x), -1, dtype=np.int64)
        flags = np.full(len(x), _TOUCHED | _NEAR | _QPV_NEAR, dtype=np.uint8)
        r, c = row[inside].astype(np.intp), col[inside].astype(np.intp)
        ids[inside] = self.ids[r, c].astype(np.int64) - 1
        flags[inside] = self.flags[r, c]
        return ids, flags


@dataclass
class _Territory:
    """Everything needed to locate points of one territory, in its metric CRS."""

    name: str
    crs: str
    communes: _Polygons
    qpv: dict[int, _Polygons]
    grid: _Grid


class Locator:
    """Point → commune, QPV (2015 and 2024), zoning class, distances to boundaries.

    Parameters
    ----------
    communes
        The ``communes`` layer (any CRS; needs ``insee``, ``nom``, ``region``, ``territory``),
        or a dict territory → that territory's communes (as stored, in its metric CRS).
    qpv
        The ``qpv`` layer (``code_qp``, ``nom_qp``, ``generation``, ``classe_qpv``,
        ``territory``) or None.
    zoning
        The ``zoning_communes`` table (``insee``, ``insee_arm``, ``classe``) or None.
    zoning_qpv
        The ``zoning_qpv`` table (``code_qp``, ``classe``) or None.
    cell_m
        Lookup grid cell (m); also the distance below which boundary distances are exact.
    tolerance_m
        Largest distance to a commune for the nearest-commune fallback.
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
    ) -> None:
        self.cell_m = float(cell_m)
        self.tolerance_m = float(tolerance_m)
        if not isinstance(communes, dict):
            communes = {str(t): part for t, part in communes.groupby("territory")}
        self._communes = communes
        self._qpv = qpv
        self._territories: dict[str, _Territory] = {}
        self._bboxes = {
            name: transformer(str(part.crs), WGS84).transform_bounds(*part.total_bounds)
            for name, part in communes.items()
        }
        self._region = {
            code: region for part in communes.values()
            for code, region in zip(part["insee"], part["region"], strict=True)
        }
        self._commune_class = _commune_classes(zoning)
        self._arrondissement_class = _arrondissement_classes(zoning)
        self._qpv_class = (
            {} if zoning_qpv is None else dict(zip(zoning_qpv["code_qp"], zoning_qpv["classe"], strict=True))
        )
        if qpv is not None and "classe_qpv" in qpv:
            for code, classe in zip(qpv["code_qp"], qpv["classe_qpv"], strict=True):
                if isinstance(classe, str) and classe:
                    self._qpv_class.setdefault(code, classe)
        self.generations = sorted(int(g) for g in qpv["generation"].unique()) if qpv is not None else []
        self.qpv_coverage = _qpv_coverage(qpv)

    @classmethod
    def from_paths(cls, paths: object, **kwargs: float) -> Locator:
        """Build a locator from the processed layers of ``paths`` (a :class:`~zonage.config.Paths`)."""
        from zonage.errors import LayerMissingError
        from zonage.layers.store import read_layer, territories

        def optional(name: str) -> pd.DataFrame | None:
            try:
                return read_layer(paths, name)  # type: ignore[arg-type]
            except LayerMissingError:
                return None

        columns = ["insee", "nom", "departement", "region", "territory"]
        communes = {
            t: read_layer(paths, "communes", territory=t, columns=columns)  # type: ignore[arg-type]
            for t in territories(paths, "communes")  # type: ignore[arg-type]
        }
        return cls(communes, optional("qpv"), optional("zoning_communes"), optional("zoning_qpv"), **kwargs)

    # -- index -------------------------------------------------------------------------------
    def territory(self, name: str) -> _Territory:
        """The index of one territory, built on first use."""
        if name not in self._territories:
            crs = TERRITORY_CRS[name]
            part = self._communes[name].to_crs(crs)
            communes = _Polygons(part["insee"].to_numpy(object), part["nom"].to_numpy(object),
                                 part.geometry.to_numpy())
            qpv: dict[int, _Polygons] = {}
            if self._qpv is not None:
                local = self._qpv[(self._qpv["territory"] == name) & self._qpv.geometry.notna()].to_crs(crs)
                for generation, group in local.groupby("generation"):
                    qpv[int(generation)] = _Polygons(group["code_qp"].to_numpy(object),
                                                     group["nom_qp"].to_numpy(object), group.geometry.to_numpy())
            grid = _Grid.build(communes, list(qpv.values()), self.cell_m)
            self._territories[name] = _Territory(name, crs, communes, qpv, grid)
        return self._territories[name]

    def warm(self, territories: list[str] | None = None) -> None:
        """Build the indexes of the given territories (all by default) now."""
        for name in territories or list(self._bboxes):
            self.territory(name)

    # -- locate ------------------------------------------------------------------------------
    def territory_of(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Territory key of each lon/lat point (None outside every territory's box)."""
        result = np.full(len(lon), None, dtype=object)
        for name, (minx, miny, maxx, maxy) in self._bboxes.items():
            m = _BBOX_MARGIN_DEG
            inside = (lon >= minx - m) & (lon <= maxx + m) & (lat >= miny - m) & (lat <= maxy + m)
            result[inside & (result == None)] = name  # noqa: E711 (element-wise)
        return result

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
            that generation exist for the point's région); ``classe_commune``,
            ``classe_qpv``, ``classe`` and ``classe_source``.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        lon, lat = transform_xy(x, y, crs, WGS84)
        n = len(x)
        out = {
            "territory": self.territory_of(lon, lat),
            "insee": np.full(n, None, dtype=object),
            "commune_method": np.full(n, "none", dtype=object),
            "commune_candidates": np.full(n, None, dtype=object),
            "commune_boundary_m": np.full(n, np.nan),
            "nearest_commune_m": np.full(n, np.nan),
        }
        for g in self.generations:
            out[f"qpv{g}"] = np.full(n, None, dtype=object)
            out[f"qpv{g}_nom"] = np.full(n, None, dtype=object)
            out[f"qpv{g}_boundary_m"] = np.full(n, np.nan)
        names = np.full(n, None, dtype=object)
        for name in pd.unique(out["territory"][out["territory"] != None]):  # noqa: E711
            rows = np.flatnonzero(out["territory"] == name)
            terr = self.territory(str(name))
            lx, ly = transform_xy(x[rows], y[rows], crs, terr.crs)
            self._locate_in(terr, rows, lx, ly, out, names)
        frame = pd.DataFrame({"territory": out.pop("territory"), "lon": lon, "lat": lat})
        for key, values in out.items():
            frame[key] = values
        frame.insert(4, "commune_nom", names)
        self._classify(frame, None if postcodes is None else pd.Series(np.asarray(postcodes, dtype=object)))
        return frame

    def _locate_in(self, terr: _Territory, rows: np.ndarray, x: np.ndarray, y: np.ndarray,
                   out: dict[str, np.ndarray], names: np.ndarray) -> None:
        ids, flags = terr.grid.read(x, y)
        method = np.where(ids >= 0, "grid", "none").astype(object)
        exact = np.flatnonzero(flags & _TOUCHED)
        points = shapely.points(x, y)
        if len(exact):
            ids[exact] = -1
            method[exact] = "none"
            pi, ci = terr.communes.containing(points[exact])
            single = np.bincount(pi, minlength=len(exact)) == 1
            take = single[pi]
            ids[exact[pi[take]]] = ci[take]
            method[exact[pi[take]]] = "exact"
            multi = np.flatnonzero(~single & (np.bincount(pi, minlength=len(exact)) > 1))
            if len(multi):
                self._resolve_overlaps(terr, exact, multi, pi, ci, points, ids, method, out, rows)
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            self._nearest(terr, missing, points, ids, method, out, rows)
        near = np.flatnonzero((flags & _NEAR).astype(bool) & (ids >= 0))
        if len(near):
            dist = shapely.distance(points[near], terr.communes.boundaries[ids[near]])
            inside = method[near] != "nearest"
            keep = near[inside & (dist < self.cell_m)]
            out["commune_boundary_m"][rows[keep]] = dist[inside & (dist < self.cell_m)]
        found = ids >= 0
        out["insee"][rows[found]] = terr.communes.codes[ids[found]]
        names[rows[found]] = terr.communes.names[ids[found]]
        out["commune_method"][rows] = method
        candidates_qpv = np.flatnonzero(flags & _QPV_NEAR)
        for generation, polys in terr.qpv.items():
            self._locate_qpv(polys, generation, candidates_qpv, points, rows, out)

    def _resolve_overlaps(self, terr: _Territory, exact: np.ndarray, multi: np.ndarray, pi: np.ndarray,
                          ci: np.ndarray, points: np.ndarray, ids: np.ndarray, method: np.ndarray,
                          out: dict[str, np.ndarray], rows: np.ndarray) -> None:
        in_multi = np.isin(pi, multi)
        p, c = pi[in_multi], ci[in_multi]
        depth = shapely.distance(points[exact[p]], terr.communes.boundaries[c])
        codes = terr.communes.codes[c]
        pairs = pd.DataFrame({"p": p, "c": c, "depth": depth, "code": codes})
        pairs = pairs.sort_values(["p", "depth", "code"], ascending=[True, False, True])
        best = pairs.drop_duplicates("p")
        ids[exact[best["p"].to_numpy()]] = best["c"].to_numpy()
        method[exact[best["p"].to_numpy()]] = "overlap"
        listed = pairs.groupby("p")["code"].agg(lambda s: "|".join(sorted(s)))
        out["commune_candidates"][rows[exact[listed.index.to_numpy()]]] = listed.to_numpy()

    def _nearest(self, terr: _Territory, missing: np.ndarray, points: np.ndarray, ids: np.ndarray,
                 method: np.ndarray, out: dict[str, np.ndarray], rows: np.ndarray) -> None:
        pi, ci = terr.communes.tree.query_nearest(
            points[missing], max_distance=self.tolerance_m, all_matches=False
        )
        if len(pi):
            dist = shapely.distance(points[missing[pi]], terr.communes.geoms[ci])
            ids[missing[pi]] = ci
            method[missing[pi]] = "nearest"
            out["nearest_commune_m"][rows[missing[pi]]] = dist

    def _locate_qpv(self, polys: _Polygons, generation: int, candidates: np.ndarray, points: np.ndarray,
                    rows: np.ndarray, out: dict[str, np.ndarray]) -> None:
        if not len(candidates):
            return
        pts = points[candidates]
        pi, qi = polys.containing(pts)
        if len(pi):
            order = np.lexsort((polys.codes[qi].astype(str), pi))  # deterministic if two QPV overlap
            pi, qi = pi[order], qi[order]
            first = np.unique(pi, return_index=True)[1]
            pi, qi = pi[first], qi[first]
            out[f"qpv{generation}"][rows[candidates[pi]]] = polys.codes[qi]
            out[f"qpv{generation}_nom"][rows[candidates[pi]]] = polys.names[qi]
        bi, bj = polys.boundary_tree.query_nearest(pts, max_distance=self.cell_m, all_matches=False)
        if len(bi):
            dist = shapely.distance(pts[bi], polys.boundaries[bj])
            out[f"qpv{generation}_boundary_m"][rows[candidates[bi]]] = dist

    # -- classes -----------------------------------------------------------------------------
    def _classify(self, frame: pd.DataFrame, postcodes: pd.Series | None) -> None:
        classe_commune = frame["insee"].map(self._commune_class)
        classe_commune = classe_commune.fillna("unknown").where(frame["insee"].notna())
        frame["insee_arm"] = None
        by_arrondissement = pd.Series(False, index=frame.index)
        if postcodes is not None and self._arrondissement_class:
            keys = list(zip(frame["insee"], postcodes.astype("string").str.strip().str.zfill(5), strict=True))
            hits = pd.Series([self._arrondissement_class.get(k) for k in keys], index=frame.index, dtype=object)
            by_arrondissement = hits.notna()
            frame.loc[by_arrondissement, "insee_arm"] = hits[by_arrondissement].str[0]
            classe_commune = classe_commune.where(~by_arrondissement, hits[by_arrondissement].str[1])
        qpv_class = pd.Series(None, index=frame.index, dtype=object)
        for g in sorted(self.generations, reverse=True):  # the newest generation's class wins
            cls = frame[f"qpv{g}"].map(self._qpv_class)
            qpv_class = qpv_class.where(qpv_class.notna(), cls)
        frame["classe_commune"] = classe_commune
        frame["classe_qpv"] = qpv_class
        frame["classe"] = qpv_class.where(qpv_class.notna(), classe_commune)
        frame["classe_source"] = np.select(
            [qpv_class.notna().to_numpy(), by_arrondissement.to_numpy(), classe_commune.notna().to_numpy()],
            ["qpv", "arrondissement", "commune"], "none",
        )
        region = frame["insee"].map(self._region)
        for g in self.generations:
            frame[f"qpv{g}_covered"] = region.isin(self.qpv_coverage.get(g, set())).to_numpy()


def _commune_classes(zoning: pd.DataFrame | None) -> dict[str, str]:
    """Class per 2025 commune; ``mixed`` where arrondissements of one commune differ."""
    if zoning is None:
        return {}
    classes = zoning.groupby("insee")["classe"].agg(lambda s: s.iloc[0] if s.nunique() == 1 else "mixed")
    return classes.to_dict()


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


def _qpv_coverage(qpv: gpd.GeoDataFrame | None) -> dict[int, set[str]]:
    """Régions for which polygons of each QPV generation are available."""
    if qpv is None or "region" not in qpv:
        return {}
    return {int(g): set(part["region"].dropna().astype(str)) for g, part in qpv.groupby("generation")}
