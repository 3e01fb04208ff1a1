"""Read and write processed layers (GeoParquet) in ``data/processed``.

A geographic layer is a folder with one GeoParquet file per territory
(``communes/metro.parquet`` in EPSG:2154, ``communes/974.parquet`` in EPSG:2975…);
a table is a single Parquet file. Writes are atomic: a layer is written to a
temporary folder that replaces the old one in one rename.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage.config import Paths
from zonage.crs import TERRITORY_CRS, WGS84
from zonage.errors import LayerMissingError
from zonage.io import atomic_path

TERRITORY = "territory"


def layer_location(paths: Paths, name: str) -> Path:
    """The folder (geographic layer) or file (table) of layer ``name``; may not exist."""
    folder = paths.processed / name
    return folder if folder.is_dir() else paths.processed / f"{name}.parquet"


def write_layer(paths: Paths, name: str, frame: pd.DataFrame) -> list[Path]:
    """Write ``frame`` as layer ``name`` and return the files written.

    A GeoDataFrame must carry a ``territory`` column; each territory is reprojected
    to its metric CRS (:data:`zonage.crs.TERRITORY_CRS`) and written to its own file.
    Rows with no geometry keep their territory. A plain DataFrame becomes one file.
    """
    paths.processed.mkdir(parents=True, exist_ok=True)
    if not isinstance(frame, gpd.GeoDataFrame):
        target = paths.processed / f"{name}.parquet"
        with atomic_path(target) as tmp:
            frame.to_parquet(tmp, index=False)
        return [target]
    if TERRITORY not in frame.columns:
        raise ValueError(f"layer {name}: a GeoDataFrame needs a {TERRITORY!r} column")
    unknown = set(frame[TERRITORY].dropna()) - set(TERRITORY_CRS)
    if unknown or frame[TERRITORY].isna().any():
        raise ValueError(f"layer {name}: unknown territories {sorted(map(str, unknown))} or missing ones")
    final = paths.processed / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=paths.processed))
    try:
        for territory, part in frame.groupby(TERRITORY, sort=True):
            assert isinstance(part, gpd.GeoDataFrame)  # groups of a GeoDataFrame keep their geometry
            part.to_crs(TERRITORY_CRS[str(territory)]).to_parquet(
                staging / f"{territory}.parquet", index=False, write_covering_bbox=True
            )
        trash = None
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=paths.processed))
            os.replace(final, trash / name)
        os.replace(staging, final)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        stale = paths.processed / f"{name}.parquet"
        if stale.exists():
            stale.unlink()
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return sorted(final.glob("*.parquet"))


def territories(paths: Paths, name: str) -> list[str]:
    """Territories present in geographic layer ``name``."""
    folder = paths.processed / name
    return sorted(p.stem for p in folder.glob("*.parquet")) if folder.is_dir() else []


def read_layer(
    paths: Paths,
    name: str,
    *,
    territory: str | None = None,
    crs: str | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read layer ``name``.

    Parameters
    ----------
    paths
        Data folders.
    name
        Layer name (``communes``, ``qpv``, ``finess``, ``zoning``…).
    territory
        For a geographic layer, read only this territory, in its own metric CRS
        unless ``crs`` is given.
    crs
        Output CRS when several territories are read together (default EPSG:4326).
    columns
        Subset of columns (the geometry is always read for geographic layers).

    Raises
    ------
    LayerMissingError
        The layer has not been built.
    """
    folder = paths.processed / name
    if folder.is_dir():
        parts = [territory] if territory else territories(paths, name)
        frames = []
        for part in parts:
            file = folder / f"{part}.parquet"
            if not file.exists():
                raise LayerMissingError(f"layer {name} has no territory {part!r} (have: {territories(paths, name)})")
            cols = None if columns is None else [*columns, "geometry"]
            frame = gpd.read_parquet(file, columns=cols)
            if territory is None or crs:
                frame = frame.to_crs(crs or WGS84)
            frames.append(frame)
        if len(frames) == 1:
            return frames[0]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    file = paths.processed / f"{name}.parquet"
    if not file.exists():
        raise LayerMissingError(f"layer {name} is not built yet: run `zonage build`")
    return pd.read_parquet(file, columns=columns)


def read_geo_layer(
    paths: Paths,
    name: str,
    *,
    territory: str | None = None,
    crs: str | None = None,
    columns: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Read geographic layer ``name``: :func:`read_layer` for a layer known to hold geometries.

    Raises
    ------
    LayerMissingError
        The layer has not been built, or was built as a table without geometries.
    """
    frame = read_layer(paths, name, territory=territory, crs=crs, columns=columns)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise LayerMissingError(f"layer {name} is a table, not a geographic layer: run `zonage build`")
    return frame


def write_arrays(paths: Paths, name: str, arrays: dict[str, np.ndarray]) -> Path:
    """Write named arrays as ``processed/<name>.npz`` (compressed, atomic)."""
    target = paths.processed / f"{name}.npz"
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        # allow_pickle=True is numpy's default, spelled out so that the type checker does not match **arrays to it.
        np.savez_compressed(fh, allow_pickle=True, **arrays)
    return target


def read_arrays(paths: Paths, name: str) -> dict[str, np.ndarray]:
    """Read the arrays written by :func:`write_arrays` (raises LayerMissingError when absent)."""
    file = paths.processed / f"{name}.npz"
    if not file.exists():
        raise LayerMissingError(f"layer {name} is not built yet: run `zonage build`")
    with np.load(file, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
