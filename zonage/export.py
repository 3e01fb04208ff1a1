"""Write tables and layers: CSV, GeoJSON (RFC 7946), GeoPackage, Parquet — atomically.

Outputs never compute: they receive finished frames and only convert formats.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from zonage.crs import WGS84
from zonage.errors import ZonageError
from zonage.io import atomic_path

_Frame = TypeVar("_Frame", bound=pd.DataFrame)

FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".parquet": "parquet"}


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The output format named by ``fmt`` or by the file's extension."""
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise ZonageError(f"unknown format {fmt!r}: one of {sorted(set(FORMATS.values()))}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ZonageError(
            f"{Path(path).name}: cannot tell the format from {suffix!r}; use .csv, .geojson, .gpkg, .parquet"
        )
    return FORMATS[suffix]


def _flat(frame: _Frame) -> _Frame:
    """Lists, tuples and dicts as ';'-joined text (CSV and GDAL formats hold scalars only)."""
    out = frame.copy()
    for column in out.columns:
        if column == getattr(out, "_geometry_column_name", None) or out[column].dtype != object:
            continue
        sample = out[column].dropna().head(50)
        if any(isinstance(v, list | tuple | np.ndarray | dict) for v in sample):
            out[column] = out[column].map(
                lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v
            )
    return out


def write_table(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    fmt: str | None = None,
    layer: str | None = None,
    sep: str = ",",
    bom: bool = False,
) -> Path:
    """Write ``frame`` to ``path`` atomically and return the path.

    Parameters
    ----------
    frame
        A DataFrame or GeoDataFrame.
    path
        Output file; the format follows its extension unless ``fmt`` is given.
    fmt
        ``csv``, ``geojson`` (RFC 7946: EPSG:4326, counter-clockwise exteriors, 6 decimals),
        ``gpkg`` (named ``layer``, CRS kept) or ``parquet`` (GeoParquet for geometries).
    layer
        GeoPackage layer name (default: the file's stem).
    sep, bom
        CSV separator (``;`` for French spreadsheets) and UTF-8 byte-order mark.
    """
    path = Path(path)
    kind = format_of(path, fmt)
    with atomic_path(path) as tmp:
        if kind == "csv":
            table = frame
            if isinstance(frame, gpd.GeoDataFrame):
                points = frame.to_crs(WGS84) if frame.crs else frame
                table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
                is_point = (points.geom_type == "Point").to_numpy()
                if is_point.any() or frame.geometry.isna().all():
                    table["lon"] = np.where(is_point, points.geometry.x.round(6), np.nan)
                    table["lat"] = np.where(is_point, points.geometry.y.round(6), np.nan)
                else:
                    table["wkt"] = points.geometry.to_wkt(rounding_precision=6)
            _flat(table).to_csv(tmp, index=False, sep=sep, encoding="utf-8-sig" if bom else "utf-8")
        elif kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            if not isinstance(frame, gpd.GeoDataFrame):
                raise ZonageError(f"{path.name}: {kind} needs geometries; write a table as CSV or Parquet")
            data = _flat(frame)
            if kind == "geojson":
                pyogrio.write_dataframe(data.to_crs(WGS84), tmp, driver="GeoJSON",
                                        layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "6",
                                                       "WRITE_NAME": "NO"})
            else:
                pyogrio.write_dataframe(data, tmp, driver="GPKG", layer=layer or path.stem)
    return path
