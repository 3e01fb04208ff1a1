"""Export a processed layer for GIS tools and spreadsheets (``zonage export``).

Formats are those of :func:`zonage.export.write_table`: GeoJSON strictly RFC 7946
(EPSG:4326, counter-clockwise exteriors, 6 decimals), GeoPackage (named layers, each
territory in its own metric CRS so QGIS measures in metres), CSV (``;`` and UTF-8 BOM
on request; points as ``lon``/``lat``, polygons as WKT) and (Geo)Parquet. Nothing is
recomputed: the layer is read and converted. Writes are atomic.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyogrio

from zonage.config import Paths
from zonage.crs import WGS84
from zonage.errors import ZonageError
from zonage.export import _flat, format_of, write_table
from zonage.io import atomic_path
from zonage.layers.store import layer_location, read_layer, territories


@contextmanager
def _quiet_gpkg() -> Iterator[None]:
    """GDAL warns that the atomic temporary file (``.part``) lacks the ``.gpkg`` extension."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(extension|file extension).*", category=RuntimeWarning)
        yield


EXTENSIONS: dict[str, str] = {"geojson": ".geojson", "gpkg": ".gpkg", "csv": ".csv", "parquet": ".parquet"}


def default_output(name: str, fmt: str, territory: str | None = None, folder: str | Path = "exports") -> Path:
    """``exports/<layer>[_<territory>].<ext>``."""
    stem = f"{name}_{territory}" if territory else name
    return Path(folder) / f"{stem}{EXTENSIONS[fmt]}"


def export_layer(
    paths: Paths,
    name: str,
    output: str | Path | None = None,
    *,
    fmt: str | None = None,
    territory: str | None = None,
    sep: str = ",",
    bom: bool = False,
) -> Path:
    """Write layer ``name`` to ``output`` and return the path.

    Parameters
    ----------
    paths
        Data folders with the layer built.
    name
        Layer name (``communes``, ``qpv``, ``zoning_communes``…).
    output
        Target file (default :func:`default_output`); the format follows ``fmt`` or the suffix.
    fmt
        ``geojson``, ``gpkg``, ``csv`` or ``parquet``.
    territory
        Only this territory of a geographic layer (``metro``, ``971``…), kept in its metric
        CRS for GPKG/Parquet.
    sep, bom
        CSV separator and UTF-8 byte-order mark (``;`` and BOM for French spreadsheets).

    Raises
    ------
    ZonageError
        Unknown format, a table asked as GeoJSON/GPKG, an unknown territory.
    """
    if fmt is None and output is None:
        raise ZonageError("give --format or an output file name")
    kind = format_of(output or f"x{EXTENSIONS.get(str(fmt), '')}", fmt)
    target = Path(output) if output is not None else default_output(name, kind, territory)
    if not layer_location(paths, name).exists():
        read_layer(paths, name)  # raises LayerMissingError with the usual message
    parts = territories(paths, name)
    geographic = bool(parts)
    if territory is not None and not geographic:
        raise ZonageError(f"layer {name} is a table: --territory applies to geographic layers only")
    if territory is not None and territory not in parts:
        raise ZonageError(f"layer {name} has no territory {territory!r} (have: {', '.join(parts)})")
    if not geographic:
        if kind in ("geojson", "gpkg"):
            raise ZonageError(f"layer {name} is a table without geometries: export it as csv or parquet")
        return write_table(read_layer(paths, name), target, fmt=kind, sep=sep, bom=bom)
    if kind == "gpkg" and territory is None and len(parts) > 1:
        return _gpkg_per_territory(paths, name, parts, target)
    layer = name
    if territory is not None:
        frame, layer = read_layer(paths, name, territory=territory), f"{name}_{territory}"
    elif len(parts) == 1 and kind in ("gpkg", "parquet"):
        frame = read_layer(paths, name, territory=parts[0])  # its metric CRS
    else:
        frame = read_layer(paths, name, crs=WGS84)  # several territories together
    with _quiet_gpkg():
        return write_table(frame, target, fmt=kind, layer=layer, sep=sep, bom=bom)


def _gpkg_per_territory(paths: Paths, name: str, parts: list[str], target: Path) -> Path:
    """One GeoPackage, one layer per territory (``<name>_<territory>``) in its metric CRS."""
    with atomic_path(target) as tmp, _quiet_gpkg():
        tmp.unlink()  # GDAL creates the GeoPackage itself
        for part in parts:
            frame = read_layer(paths, name, territory=part)
            pyogrio.write_dataframe(_flat(frame), tmp, driver="GPKG", layer=f"{name}_{part}")
    return target
