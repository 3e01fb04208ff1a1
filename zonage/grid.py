"""A raster lookup grid over polygons: which polygon covers each cell, and which cells need care.

For every cell that no polygon boundary crosses, ``ids`` holds the covering polygon
(index + 1; 0 = none), so a point there is answered by one array read. ``flags``
marks cells crossed by a boundary (``TOUCHED``: exact test needed), cells within one
cell of a boundary (``NEAR``: the point may be closer than one cell to a boundary)
and cells within one cell of a second set of polygons (``OTHER_NEAR``: QPV).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    import geopandas as gpd

TOUCHED, NEAR, OTHER_NEAR = 1, 2, 4


@dataclass
class LookupGrid:
    """Cell ``(row, col)`` covers x in [x0 + col·cell, x0 + (col+1)·cell), y in (y0 − (row+1)·cell, y0 − row·cell]."""

    x0: float
    y0: float
    cell: float
    ids: np.ndarray
    flags: np.ndarray

    @classmethod
    def build(cls, polygons: np.ndarray, others: np.ndarray, cell: float) -> LookupGrid:
        """Rasterise ``polygons`` (metric CRS) and the neighbourhood of ``others`` at ``cell`` metres."""
        from rasterio import features  # imported here: reading a grid (every batch, `zonage check`) needs neither
        from rasterio.transform import from_origin
        from scipy import ndimage
        minx, miny, maxx, maxy = shapely.total_bounds(polygons)
        x0 = np.floor(minx / cell) * cell - 2 * cell
        y0 = np.ceil(maxy / cell) * cell + 2 * cell
        width = int(np.ceil((maxx - x0) / cell)) + 3
        height = int(np.ceil((y0 - miny) / cell)) + 3
        transform = from_origin(x0, y0, cell, cell)
        dtype = "uint16" if len(polygons) < 65535 else "uint32"
        ids = features.rasterize(((g, i + 1) for i, g in enumerate(polygons)), out_shape=(height, width),
                                 transform=transform, fill=0, dtype=dtype)
        touched = features.rasterize(((b, 1) for b in shapely.boundary(polygons)), out_shape=(height, width),
                                     transform=transform, fill=0, dtype="uint8", all_touched=True).astype(bool)
        flags = touched.astype(np.uint8) * TOUCHED
        flags |= ndimage.binary_dilation(touched).astype(np.uint8) * NEAR
        del touched
        if len(others):
            covered = features.rasterize(((g, 1) for g in others), out_shape=(height, width), transform=transform,
                                         fill=0, dtype="uint8", all_touched=True).astype(bool)
            flags |= ndimage.binary_dilation(covered).astype(np.uint8) * OTHER_NEAR
        return cls(float(x0), float(y0), float(cell), ids, flags)

    def read(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Polygon index (-1 = none) and flags per point; points off the grid get every flag."""
        col = np.floor((x - self.x0) / self.cell)
        row = np.floor((self.y0 - y) / self.cell)
        height, width = self.ids.shape
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height) & np.isfinite(col) & np.isfinite(row)
        ids = np.full(len(x), -1, dtype=np.int64)
        flags = np.full(len(x), TOUCHED | NEAR | OTHER_NEAR, dtype=np.uint8)
        r, c = row[inside].astype(np.intp), col[inside].astype(np.intp)
        ids[inside] = self.ids[r, c].astype(np.int64) - 1
        flags[inside] = self.flags[r, c]
        return ids, flags

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The grid as named arrays (for an ``.npz`` file)."""
        return {f"{prefix}ids": self.ids, f"{prefix}flags": self.flags,
                f"{prefix}origin": np.array([self.x0, self.y0, self.cell])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> LookupGrid:
        """Inverse of :meth:`to_arrays`."""
        x0, y0, cell = arrays[f"{prefix}origin"]
        return cls(float(x0), float(y0), float(cell), arrays[f"{prefix}ids"], arrays[f"{prefix}flags"])


def territory_fingerprint(commune_codes: list[str], qpv_codes: list[str], cell: float) -> str:
    """Identity of the polygons a territory's grid was made from (commune order matters, QPV order not)."""
    import hashlib

    text = f"cell={float(cell)}\n" + "|".join(commune_codes) + "\n" + "|".join(sorted(qpv_codes))
    return hashlib.sha256(text.encode()).hexdigest()


def territory_grids(
    communes: Mapping[str, gpd.GeoDataFrame], qpv: gpd.GeoDataFrame | None, cell: float
) -> dict[str, np.ndarray]:
    """Grids and fingerprints of every territory, as named arrays for an ``.npz`` file.

    Parameters
    ----------
    communes
        Territory → communes GeoDataFrame (``insee``, geometry), in the order the locator reads them.
    qpv
        The ``qpv`` GeoDataFrame (``code_qp``, ``territory``, geometry) or None.
    cell
        Cell size (m).
    """
    from zonage.crs import TERRITORY_CRS

    arrays: dict[str, np.ndarray] = {}
    for name, part in communes.items():
        crs = TERRITORY_CRS[name]
        polygons = part.to_crs(crs).geometry.to_numpy()
        others = np.empty(0, dtype=object)
        codes: list[str] = []
        if qpv is not None:
            local = qpv[(qpv["territory"] == name) & qpv.geometry.notna() & ~qpv.geometry.is_empty]
            others = local.to_crs(crs).geometry.to_numpy()
            codes = local["code_qp"].astype(str).tolist()
        arrays.update(LookupGrid.build(polygons, others, cell).to_arrays(f"{name}__"))
        fingerprint = territory_fingerprint(part["insee"].astype(str).tolist(), codes, cell)
        arrays[f"{name}__fingerprint"] = np.array(fingerprint)
    return arrays


def grids_from_arrays(arrays: dict[str, np.ndarray]) -> dict[str, tuple[LookupGrid, str]]:
    """Inverse of :func:`territory_grids`: territory → (grid, fingerprint)."""
    names = {key.split("__", 1)[0] for key in arrays}
    return {n: (LookupGrid.from_arrays(arrays, f"{n}__"), str(arrays[f"{n}__fingerprint"])) for n in names}
