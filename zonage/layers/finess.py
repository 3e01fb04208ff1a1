"""FINESS establishments as points, every row kept.

Coordinates are published in each territory's projection (Lambert-93 for the
mainland, UTM overseas, named by ``crs_src``); they are reprojected to EPSG:4326
with one vectorised transform per source CRS. Establishments without coordinates
are kept with a missing geometry and ``has_coords=False``; coordinates falling
outside the area of their CRS or of their own territory are flagged
``coord_issue=True`` (kept as they are, for the user to judge).
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zonage.crs import TERRITORY_CRS, WGS84, transform_xy
from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec
from zonage.sources.finess import insee_departement, read_finess

#: Plausible (lon min, lat min, lon max, lat max) of coordinates in each source CRS.
CRS_EXTENT: dict[str, tuple[float, float, float, float]] = {
    "EPSG:2154": (-5.6, 41.2, 9.8, 51.2),  # mainland and Corsica
    "EPSG:5490": (-63.3, 14.3, -60.7, 18.2),  # Antilles, with Saint-Martin and Saint-Barthélemy
    "EPSG:2972": (-54.7, 2.0, -51.5, 6.0),  # Guyane
    "EPSG:2975": (55.1, -21.5, 56.0, -20.8),  # La Réunion
    "EPSG:4471": (44.9, -13.1, 45.4, -12.5),  # Mayotte
}

#: Plausible extent of each territory (the Antilles CRS covers two of them).
TERRITORY_EXTENT: dict[str, tuple[float, float, float, float]] = {
    "metro": CRS_EXTENT["EPSG:2154"],
    "971": (-63.3, 15.8, -60.9, 18.2),
    "972": (-61.3, 14.3, -60.7, 15.0),
    "973": CRS_EXTENT["EPSG:2972"],
    "974": CRS_EXTENT["EPSG:2975"],
    "976": CRS_EXTENT["EPSG:4471"],
}

#: Postcodes of Saint-Barthélemy and Saint-Martin: collectivités (977, 978) since 2007 that
#: FINESS still files under Guadeloupe (9A); kept in territory 971 (same CRS), counted apart.
COLLECTIVITY_POSTCODES = ("97133", "97150")

#: FINESS categories worth counting in the report.
KEY_CATEGORIES = ("124", "603", "355", "101", "106", "500")


def territory_of_finess(dep: pd.Series, crs_src: pd.Series) -> pd.Series:
    """Territory of each establishment from its département (FINESS or INSEE code).

    ``9A``/``971`` → ``971`` … ``9F``/``976`` → ``976``, ``2A``/``2B`` and the other
    mainland codes → ``metro``, overseas collectivities (``9E`` Saint-Pierre-et-Miquelon,
    ``9J`` Wallis-et-Futuna…) → their own code. A missing département falls back on the
    source CRS when it names one territory; otherwise NA (kept as ``unknown`` by the layer).
    """
    code = insee_departement(dep)
    overseas = code.str.match(r"^9[78]", na=False)
    territory = pd.Series("metro", index=dep.index, dtype="string")
    territory = territory.mask(overseas, code.where(code.isin(list(TERRITORY_CRS))))
    by_crs = {"EPSG:2154": "metro", "EPSG:2972": "973", "EPSG:2975": "974", "EPSG:4471": "976"}
    fallback = crs_src.astype("string").map(by_crs)
    return territory.mask(code.isna(), fallback).astype("string")


def _inside(lon: np.ndarray, lat: np.ndarray, extent: tuple[float, float, float, float]) -> np.ndarray:
    return (lon >= extent[0]) & (lon <= extent[2]) & (lat >= extent[1]) & (lat <= extent[3])


def finess_points(table: pd.DataFrame) -> tuple[gpd.GeoDataFrame, dict]:
    """Turn the normalised FINESS table into the ``finess`` point layer.

    Parameters
    ----------
    table
        Output of :func:`zonage.sources.finess.read_finess`.

    Returns
    -------
    layer
        Every row of ``table`` (territory ``unknown`` where it cannot be told), in EPSG:4326, with
        ``territory``, ``has_coords``, ``coord_issue`` and ``crs_territory_mismatch``.
    report
        Row counts (with coordinates, per source CRS, per territory), flagged rows
        and rows that could not be placed in a territory.
    """
    frame = table.reset_index(drop=True).copy()
    frame["dep"] = insee_departement(frame["dep"])
    frame["territory"] = territory_of_finess(frame["dep"], frame["crs_src"])
    x = frame["x_src"].to_numpy(dtype=float)
    y = frame["y_src"].to_numpy(dtype=float)
    crs = frame["crs_src"].astype("string")
    known_crs = crs.notna().to_numpy()
    has_coords = np.isfinite(x) & np.isfinite(y) & known_crs

    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    crs_values = crs.fillna("").to_numpy(dtype=object)
    for name in pd.unique(crs_values[has_coords]):  # one vectorised transform per source CRS
        rows = np.flatnonzero(has_coords & (crs_values == name))
        lon[rows], lat[rows] = transform_xy(x[rows], y[rows], str(name), WGS84)
    finite = np.isfinite(lon) & np.isfinite(lat)

    outside_crs = np.zeros(len(frame), dtype=bool)
    for name, extent in CRS_EXTENT.items():
        rows = has_coords & (crs_values == name)
        outside_crs[rows] = ~_inside(lon[rows], lat[rows], extent)
    outside_territory = np.zeros(len(frame), dtype=bool)
    territory = frame["territory"]
    for name, extent in TERRITORY_EXTENT.items():
        rows = has_coords & (territory == name).fillna(False).to_numpy()
        outside_territory[rows] = ~_inside(lon[rows], lat[rows], extent)
    expected_crs = territory.map(TERRITORY_CRS)
    mismatch = has_coords & (expected_crs.fillna("").to_numpy(dtype=object) != crs_values)
    coord_issue = has_coords & (~finite | outside_crs | outside_territory | mismatch)

    geometry = np.full(len(frame), None, dtype=object)
    placed = has_coords & finite
    geometry[placed] = shapely.points(lon[placed], lat[placed])
    frame["has_coords"] = has_coords
    frame["coord_issue"] = coord_issue
    frame["crs_territory_mismatch"] = mismatch
    layer = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=WGS84), crs=WGS84)

    unplaced = layer["territory"].isna()
    flagged_cols = ["nofinesset", "rs", "dep", "crs_src", "x_src", "y_src"]
    flagged = layer.loc[coord_issue, flagged_cols].head(50)
    report = {
        "rows_read": len(table),
        "rows": len(layer),
        "rows_with_coords": int(has_coords.sum()),
        "rows_without_coords": int((~has_coords).sum()),
        "without_coords": layer.loc[~has_coords, "nofinesset"].head(100).tolist(),
        "rows_per_crs": {str(k): int(v) for k, v in crs.value_counts(dropna=False).items()},
        "rows_per_territory": {str(k): int(v) for k, v in territory.value_counts().sort_index().items()},
        "coord_issue": int(coord_issue.sum()),
        "coord_issue_outside_crs_extent": int((has_coords & outside_crs).sum()),
        "coord_issue_outside_territory_extent": int((has_coords & outside_territory).sum()),
        "crs_territory_mismatch": int(mismatch.sum()),
        "coord_issue_rows": flagged.astype(object).where(flagged.notna(), None).to_dict("records"),
        "saint_martin_saint_barthelemy": int(layer["code_postal"].isin(COLLECTIVITY_POSTCODES).sum()),
        "rows_without_territory": int(unplaced.sum()),
        "without_territory": layer.loc[unplaced, ["nofinesset", "dep"]].head(100)
        .astype(str).to_dict("records"),
        "key_categories": {
            c: int(v) for c, v in layer["categetab"].value_counts().items() if c in KEY_CATEGORIES
        },
    }
    layer["territory"] = layer["territory"].astype(object).where(~unplaced, "unknown")
    return layer, report


def _vintage(table: pd.DataFrame, filename: str) -> str:
    date = table.attrs.get("extraction_date")
    if not date:
        match = re.search(r"(\d{4})-?(\d{2})-?(\d{2})", filename)
        date = "-".join(match.groups()) if match else ""
    return f"FINESS extraction of {date}" if date else "FINESS extraction"


def _build(inputs: BuildInputs) -> LayerResult:
    path = inputs.source("finess")
    table = read_finess(path)
    layer, report = finess_points(table)
    return LayerResult(frames={"finess": layer}, report=report, vintage=_vintage(table, path.name))


SPEC = LayerSpec(
    name="finess",
    description="FINESS establishments (points, all rows kept, flags for missing or odd coordinates)",
    sources=("finess",),
    build=_build,
)
