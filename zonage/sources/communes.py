"""Parse commune polygons (IGN ADMIN EXPRESS derived files) and INSEE commune zonings.

Two polygon schemas are accepted: the mirror's GeoPackage (``insee`` column) and
the etalab *contours administratifs* GeoJSON (``code`` column). Attributes other
than the code are taken from the COG lists (:mod:`zonage.sources.cog`), so both
files give the same layer.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from zonage.errors import SourceFormatError
from zonage.io import read_french_csv

_CODE_COLUMNS = ("insee", "code", "INSEE_COM", "insee_com")


def read_commune_polygons(path: str | Path) -> gpd.GeoDataFrame:
    """Commune polygons as ``insee`` + ``geometry`` (EPSG:4326).

    Raises
    ------
    SourceFormatError
        If no commune code column is found or the file has no CRS.
    """
    path = Path(path)
    try:
        frame = pyogrio.read_dataframe(path, use_arrow=True)
    except Exception as exc:  # pyogrio raises several DataSourceError flavours
        raise SourceFormatError(f"{path.name}: cannot read polygons ({exc})") from exc
    code = next((c for c in _CODE_COLUMNS if c in frame.columns), None)
    if code is None:
        raise SourceFormatError(f"{path.name}: no commune code column (one of {_CODE_COLUMNS})")
    if frame.crs is None:
        raise SourceFormatError(f"{path.name}: polygons have no CRS")
    out = gpd.GeoDataFrame({"insee": frame[code].astype(str).str.zfill(5)},
                           geometry=frame.geometry.values, crs=frame.crs)
    return out.to_crs("EPSG:4326")


def read_tagc_zonings(path: str | Path) -> pd.DataFrame:
    """Commune → bassin de vie 2012 (TVS proxy), zone d'emploi, unité urbaine, aire d'attraction.

    Where a 2025 commune merged 2022 communes of different zones the source holds a
    ``;``-joined list: ``bv2012`` keeps the first code, ``bv2012_all`` the list.
    """
    table = read_french_csv(path)
    needed = {"insee", "bv2012", "ze2020", "uu2020", "aav2020"}
    if not needed <= set(table.columns):
        raise SourceFormatError(f"{Path(path).name}: missing columns {sorted(needed - set(table.columns))}")
    out = table[["insee"]].copy()
    for column in ("bv2012", "ze2020", "uu2020", "aav2020"):
        out[f"{column}_all"] = table[column]
        out[column] = table[column].str.split(";").str[0]
    return out
