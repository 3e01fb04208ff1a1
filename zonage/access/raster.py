"""Grids: polygons of a gridded dataset → raster, accessibility of grid cells → GeoTIFF.

:func:`rasterize_cells` and :func:`accessibility_grid` are pure (arrays in memory);
:func:`write_geotiff` is the only writer (atomic: a reader never sees half a file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage.access.demand import GridTemplate
from zonage.errors import InputDataError
from zonage.io import atomic_path

NODATA = -9999.0


@dataclass(frozen=True)
class Grid:
    """A single-band float grid with its georeferencing."""

    array: np.ndarray
    template: GridTemplate
    nodata: float = NODATA


def rasterize_cells(cells: gpd.GeoDataFrame, column: str, resolution: float) -> Grid:
    """Burn gridded polygons (e.g. the Filosofi 1 km squares) into a raster, summing values.

    Parameters
    ----------
    cells
        Polygons in a metric CRS, aligned on a grid of ``resolution`` metres.
    column
        Value to burn (e.g. ``Ind``, inhabitants).
    resolution
        Cell size in metres.
    """
    from rasterio.enums import MergeAlg
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    if cells.crs is None or not cells.crs.is_projected:
        raise InputDataError(f"rasterize: cells need a projected CRS, not {cells.crs}")
    minx, miny, maxx, maxy = cells.total_bounds
    minx, miny = np.floor(minx / resolution) * resolution, np.floor(miny / resolution) * resolution
    maxx, maxy = np.ceil(maxx / resolution) * resolution, np.ceil(maxy / resolution) * resolution
    width, height = round((maxx - minx) / resolution), round((maxy - miny) / resolution)
    transform = from_origin(minx, maxy, resolution, resolution)
    values = pd.to_numeric(cells[column], errors="coerce").fillna(0.0).to_numpy(dtype="float64")
    array = rasterize(
        zip(cells.geometry, values, strict=True), out_shape=(height, width), transform=transform, fill=0.0,
        dtype="float64", merge_alg=MergeAlg.add,
    )
    from rasterio.crs import CRS

    return Grid(array, GridTemplate(height, width, transform, CRS.from_user_input(cells.crs.to_wkt())), nodata=NODATA)


def accessibility_grid(values: pd.Series, cells: pd.DataFrame, template: GridTemplate) -> Grid:
    """Place per-cell values (accessibility) back on the grid; other cells are nodata.

    Parameters
    ----------
    values
        Value per cell id (e.g. the ``access`` of :func:`~zonage.access.methods.accessibility`
        indexed by ``id``).
    cells
        The cells of :func:`~zonage.access.demand.raster_demand` (``row``, ``col``, indexed by id).
    template
        The grid of :func:`~zonage.access.demand.raster_demand`.
    """
    array = np.full((template.height, template.width), NODATA, dtype="float64")
    aligned = values.reindex(cells.index)
    known = aligned.notna().to_numpy()
    array[cells["row"].to_numpy()[known], cells["col"].to_numpy()[known]] = aligned.to_numpy()[known]
    return Grid(array, template)


def write_geotiff(grid: Grid, path: str | Path) -> Path:
    """Write ``grid`` as a single-band, deflate-compressed float GeoTIFF, atomically."""
    import rasterio

    path = Path(path)
    profile = {
        "driver": "GTiff", "height": grid.template.height, "width": grid.template.width, "count": 1,
        "dtype": "float64", "crs": grid.template.crs, "transform": grid.template.transform,
        "nodata": grid.nodata, "compress": "deflate",
    }
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dataset:
        dataset.write(grid.array, 1)
    return path
