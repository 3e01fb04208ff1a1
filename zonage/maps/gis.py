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
from typing import Any

import numpy as np
import pyogrio

from zonage.config import Paths
from zonage.crs import WGS84
from zonage.errors import ZonageError
from zonage.export import _flat, format_of, inside_folder, write_table
from zonage.io import atomic_path
from zonage.layers.store import layer_location, read_layer, territories


@contextmanager
def _quiet_gpkg() -> Iterator[None]:
    """GDAL warns that the atomic temporary file (``.part``) lacks the ``.gpkg`` extension."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(extension|file extension).*", category=RuntimeWarning)
        yield


EXTENSIONS: dict[str, str] = {"geojson": ".geojson", "gpkg": ".gpkg", "csv": ".csv", "parquet": ".parquet",
                              "xlsx": ".xlsx"}


def default_output(name: str, fmt: str, territory: str | None = None, folder: str | Path = "exports") -> Path:
    """``exports/<layer>[_<territory>].<ext>``."""
    stem = f"{name}_{territory}" if territory else name
    return inside_folder(folder, f"{stem}{EXTENSIONS[fmt]}")


def export_layer(
    paths: Paths,
    name: str,
    output: str | Path | None = None,
    *,
    fmt: str | None = None,
    territory: str | None = None,
    sep: str = ",",
    bom: bool = False,
    region: str | None = None,
    departement: str | None = None,
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
    region, departement
        Only the rows of this région / département (INSEE codes).

    Raises
    ------
    ZonageError
        Unknown format, a table asked as GeoJSON/GPKG, an unknown territory.
    """
    if fmt is None and output is None:
        raise ZonageError("donner --format ou un nom de fichier de sortie (-o)")
    kind = format_of(output or f"x{EXTENSIONS.get(str(fmt), '')}", fmt)
    target = Path(output) if output is not None else default_output(name, kind, territory)
    if not layer_location(paths, name).exists():
        from zonage.layers.pipeline import read_manifest

        built = sorted(out for entry in read_manifest(paths).values() for out in entry.get("outputs", {}))
        if built:  # a built data folder without this name: a typo, not a build to run
            raise ZonageError(f"couche {name!r} inconnue : couches construites : {', '.join(built)}")
        read_layer(paths, name)  # raises LayerMissingError: "… pas encore construite : lancer `zonage build`"
    parts = territories(paths, name)
    geographic = bool(parts)
    if territory is not None and not geographic:
        raise ZonageError(f"la couche {name} est une table : --territory ne vaut que pour les couches géographiques")
    if territory is not None and territory not in parts:
        raise ZonageError(f"la couche {name} n'a pas de territoire {territory!r} (territoires construits : "
                          f"{', '.join(parts)})")
    if not geographic:
        if kind in ("geojson", "gpkg"):
            raise ZonageError(f"la couche {name} est une table sans géométries : l'exporter en csv ou en parquet")
        return write_table(_filter(read_layer(paths, name), region, departement), target, fmt=kind, sep=sep, bom=bom)
    if kind == "gpkg" and territory is None and len(parts) > 1 and region is None and departement is None:
        return _gpkg_per_territory(paths, name, parts, target)
    layer = name
    if territory is not None:
        frame, layer = read_layer(paths, name, territory=territory), f"{name}_{territory}"
    elif len(parts) == 1 and kind in ("gpkg", "parquet"):
        frame = read_layer(paths, name, territory=parts[0])  # its metric CRS
    else:
        frame = read_layer(paths, name, crs=WGS84)  # several territories together
    frame = _filter(frame, region, departement)
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


#: Columns of the zoning export, with the French label a planner reads (machine names kept as column names).
ZONING_COLUMNS: dict[str, str] = {
    "insee": "code INSEE de la commune (COG 2025)",
    "nom": "nom de la commune",
    "departement": "département",
    "region": "région",
    "classe": "classe du zonage médecins (ZIP, ZAC, ZAR, ZV, HZ, mixed : selon l'arrondissement, unknown)",
    "libelle": "libellé de la classe",
    "vintage": "millésime des classes (export national de mai 2025 : arrêtés régionaux de 2022)",
}


def _filter(frame: Any, region: str | None, departement: str | None) -> Any:
    """Rows of a région and/or a département (by ``region``/``departement`` columns, else the INSEE code)."""
    if region is None and departement is None:
        return frame
    dep = frame["departement"].astype("string") if "departement" in frame.columns else (
        frame["dep"].astype("string") if "dep" in frame.columns else None)
    if dep is None and "insee" in frame.columns:
        code = frame["insee"].astype("string")
        dep = code.str.slice(0, 2).where(~code.str.startswith("97"), code.str.slice(0, 3))
    keep = np.ones(len(frame), dtype=bool)
    if departement is not None:
        if dep is None:
            raise ZonageError("this layer has no département to filter on")
        keep &= (dep == str(departement).zfill(2)).fillna(False).to_numpy(dtype=bool)
    if region is not None:
        if "region" in frame.columns:
            keep &= (frame["region"].astype("string") == str(region).zfill(2)).fillna(False).to_numpy(dtype=bool)
        elif dep is not None:
            from zonage.rules import load_schemes

            common = next(iter(load_schemes().values())).common
            assert common is not None
            deps = set(common.regions[str(region).zfill(2)].departements) if str(region).zfill(2) in \
                common.regions else set()
            keep &= dep.isin(deps).fillna(False).to_numpy(dtype=bool)
        else:
            raise ZonageError("cette couche n'a pas de colonne région ou département : l'exporter entière")
    if not keep.any():
        raise ZonageError(f"aucune ligne pour la région {region or '-'} / le département {departement or '-'} : "
                          "vérifier le code, et que --territory contient bien ce territoire")
    return frame[keep]


def zoning_frame(paths: Paths, *, region: str | None = None, departement: str | None = None) -> Any:
    """Commune polygons (EPSG:4326) with their class of the doctors' zoning and its label."""
    from zonage.maps.style import CLASS_STYLE

    communes = read_layer(paths, "communes", crs=WGS84, columns=["insee", "nom", "departement", "region"])
    zoning = read_layer(paths, "zoning_communes", columns=["insee", "classe", "vintage"])
    per_commune = zoning.groupby("insee").agg(classe=("classe", lambda s: s.iloc[0] if s.nunique() == 1 else "mixed"),
                                              vintage=("vintage", "first"))
    frame = communes.merge(per_commune, left_on="insee", right_index=True, how="left")
    frame["classe"] = frame["classe"].fillna("unknown").astype(str)
    labels = {k: label for k, (_, label) in CLASS_STYLE.items()}
    labels["mixed"] = labels["ARR"]
    frame["libelle"] = frame["classe"].map(labels).fillna(frame["classe"])
    frame = _filter(frame, region, departement)
    return frame[[*ZONING_COLUMNS, "geometry"]].reset_index(drop=True)


def qml_style(field: str = "classe") -> str:
    """A QGIS style (QML): commune fill by zoning class, with the map's colours and labels."""
    from xml.sax.saxutils import quoteattr

    from zonage.maps.style import CLASS_STYLE, HATCH_COLOUR, HATCHED_CLASSES

    entries = [*CLASS_STYLE.items(), ("mixed", CLASS_STYLE["ARR"])]
    entries = [(k, v) for k, v in entries if k != "ARR"]
    categories, symbols = [], []
    for i, (key, (colour, label)) in enumerate(entries):
        hatched = key in HATCHED_CLASSES  # QGIS hatches in the fill colour: the hatching colour then
        rgb = ",".join(str(int((HATCH_COLOUR if hatched else colour)[j:j + 2], 16)) for j in (1, 3, 5))
        categories.append(f'<category render="true" symbol="{i}" value={quoteattr(key)} label={quoteattr(label)}/>')
        symbols.append(
            f'<symbol type="fill" name="{i}" alpha="0.75" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
            f'<Option type="QString" name="color" value="{rgb},255"/>'
            '<Option type="QString" name="outline_color" value="91,91,91,255"/>'
            '<Option type="QString" name="outline_width" value="0.1"/>'
            f'<Option type="QString" name="style" value="{"b_diagonal" if hatched else "solid"}"/>'
            '</Option></layer></symbol>')
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.28" styleCategories="Symbology">\n'
            f'<renderer-v2 type="categorizedSymbol" attr="{field}" symbollevels="0" enableorderby="0" '
            'forceraster="0">\n<categories>' + "".join(categories) + "</categories>\n<symbols>"
            + "".join(symbols) + "</symbols>\n</renderer-v2>\n</qgis>\n")


def _store_style(gpkg: Path, layer: str, qml: str) -> None:
    """Store ``qml`` as the default style of ``layer`` in the GeoPackage (QGIS's ``layer_styles`` table)."""
    import sqlite3

    with sqlite3.connect(gpkg) as db:
        db.execute("""CREATE TABLE IF NOT EXISTS layer_styles (
            id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT, f_table_schema TEXT, f_table_name TEXT,
            f_geometry_column TEXT, styleName TEXT, styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN,
            description TEXT, owner TEXT, ui TEXT, update_time DATETIME DEFAULT CURRENT_TIMESTAMP)""")
        db.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                   "styleName, styleQML, styleSLD, useAsDefault, description, owner) "
                   "VALUES ('', '', ?, 'geom', ?, ?, '', 1, 'Zonage médecins (zonage)', '')", (layer, layer, qml))


def export_zoning(paths: Paths, output: str | Path | None = None, *, fmt: str | None = None,
                  region: str | None = None, departement: str | None = None, sep: str = ";",
                  bom: bool = True) -> list[Path]:
    """Export the zoning *with commune polygons* (GPKG with its QGIS style, GeoJSON, CSV as WKT) and a ``.qml``.

    A GeoPackage or Parquet of one région or département is written in its metric CRS
    (Lambert-93 on the mainland, the local UTM overseas); otherwise EPSG:4326.
    Returns the files written (the data file, then the QGIS style file beside it).
    """
    kind = format_of(output or f"x{EXTENSIONS.get(str(fmt or 'gpkg'), '')}", fmt or None)
    scope = "_".join(p for p in (f"region_{region}" if region else "", f"dep_{departement}" if departement else "")
                     if p)
    target = Path(output) if output is not None else default_output("zonage" + (f"_{scope}" if scope else ""),
                                                                       kind)
    frame = zoning_frame(paths, region=region, departement=departement)
    if kind in ("gpkg", "parquet") and (region or departement):
        # one région or département: its metric CRS (Lambert-93 on the mainland), as a GIS user expects;
        # GeoJSON stays in degrees (RFC 7946)
        from zonage.crs import TERRITORY_CRS
        from zonage.regions import DEPARTEMENT_REGION, require_region

        code = region or DEPARTEMENT_REGION.get(str(departement))
        if code is not None:
            frame = frame.to_crs(TERRITORY_CRS[require_region(code).territory])
    layer = target.stem
    with _quiet_gpkg():
        written = write_table(frame, target, fmt=kind, layer=layer, sep=sep, bom=bom)
    qml = qml_style()
    if kind == "gpkg":
        _store_style(written, layer, qml)
    style_path = written.with_suffix(".qml")
    with atomic_path(style_path) as tmp:
        tmp.write_text(qml, encoding="utf-8")
    return [written, style_path]


def with_communes(frame: Any, paths: Paths, code: str = "code") -> Any:
    """``frame`` with the polygon of the commune its ``code`` column names (EPSG:4326; none for other codes)."""
    import geopandas as gpd

    communes = read_layer(paths, "communes", columns=["insee"])
    geometry = frame[code].map(communes.set_index("insee").geometry)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry.to_numpy(), crs=communes.crs), crs=communes.crs)
