"""Write tables and layers: CSV, GeoJSON (RFC 7946), GeoPackage, Parquet — atomically.

Outputs never compute: they receive finished frames and only convert formats. CSV
cells that a spreadsheet would run as a formula are neutralised; helpers refuse an
output that would overwrite an input (:func:`refuse_same_file`) or a name that
leaves its folder (:func:`inside_folder`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from zonage.crs import WGS84
from zonage.errors import InputDataError, ZonageError
from zonage.io import atomic_path

__all__ = ["FORMATS", "format_of", "inside_folder", "neutralise_formulas", "refuse_same_file", "write_table"]

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


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def _defused(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_formulas(frame: _Frame) -> _Frame:
    """Prefix with ``'`` the text cells (and column names) a spreadsheet would run as formulas.

    Cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return are
    prefixed, unless the whole text is a plain number (``-1.5``, ``+33``, ``-2,5``):
    numbers stay numbers, and numeric columns are never touched.
    """
    out = frame.copy()
    geometry = getattr(out, "_geometry_column_name", None)
    for position, column in enumerate(out.columns):
        if column == geometry:
            continue
        values = out.iloc[:, position]
        categorical = isinstance(values.dtype, pd.CategoricalDtype)
        if not (categorical or pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        cells = values.astype(object).tolist()
        if not any(isinstance(v, str) and v.startswith(FORMULA_STARTS) for v in cells):
            continue
        defused = np.array([_defused(v) for v in cells], dtype=object)
        dtype: Any = values.dtype
        keep_dtype = not categorical and not pd.api.types.is_object_dtype(dtype)  # a string dtype stays one
        out.isetitem(position, pd.array(defused, dtype=dtype) if keep_dtype else defused)
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.Index([_defused(c) if c != geometry else c for c in out.columns])
    return out


def _holds_carriage_return(frame: pd.DataFrame) -> bool:
    if any(isinstance(c, str) and "\r" in c for c in frame.columns):
        return True
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        if any(isinstance(v, str) and "\r" in v for v in values.astype(object).tolist()):
            return True
    return False


def refuse_same_file(output: str | Path, *inputs: str | Path | None) -> None:
    """Raise :class:`InputDataError` if ``output`` is one of ``inputs``.

    The same file is the same resolved path (symbolic links followed) or, when
    both exist, the same inode (a hard link, a case-insensitive file system).
    ``None`` inputs are ignored.
    """
    target = Path(output).expanduser()
    resolved = target.resolve()
    for source in inputs:
        if source is None:
            continue
        given = Path(source).expanduser()
        same = given.resolve() == resolved
        if not same and target.exists() and given.exists():
            try:
                same = os.path.samefile(target, given)
            except OSError:
                same = False
        if same:
            raise InputDataError(
                f"output {target} is the input file {given}: writing it would destroy the input; "
                "choose another output file"
            )


def inside_folder(folder: str | Path, name: str | Path) -> Path:
    """The resolved path of ``name`` inside ``folder``; refuse a name that leaves it.

    Raises
    ------
    InputDataError
        ``name`` is absolute, climbs out with ``..``, goes through a symbolic link
        pointing outside, is empty or holds a NUL character.
    """
    text = str(name)
    base = Path(folder).expanduser().resolve()
    relative = Path(text)
    if not text.strip() or "\x00" in text or relative.is_absolute() or relative.anchor:
        raise InputDataError(f"{text!r} is not a file name inside {base}: give a relative file name")
    target = (base / relative).resolve()
    if target == base or base not in target.parents:
        raise InputDataError(f"{text!r} would be written outside {base}: give a file name inside that folder")
    return target


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
        Text cells a spreadsheet would run as formulas are prefixed with ``'``
        (see :func:`neutralise_formulas`); numbers are written unchanged.
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
            encoding = "utf-8-sig" if bom else "utf-8"
            table = neutralise_formulas(_flat(table))
            # Python's csv writer quotes a cell holding "\r" only when "\r" is part of the line end: without
            # that, a carriage return inside a cell would end the row for every reader.
            ends = "\r\n" if _holds_carriage_return(table) else os.linesep
            table.to_csv(tmp, index=False, sep=sep, encoding=encoding, lineterminator=ends)
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
