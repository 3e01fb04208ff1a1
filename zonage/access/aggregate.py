"""Accessibility of demand units → territories, weighted by (standardised) population.

The DREES averages its commune APL up to territories (TVS, départements) with the
standardised population as weight; :func:`aggregate` does the same for any set of
levels (commune, BV2012 — the TVS proxy —, EPCI, département, région).
:func:`assign_points` attaches demand points (grid cells) to the polygons holding them.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage.errors import InputDataError

#: Default levels: name → column of the communes layer.
LEVELS: dict[str, str] = {
    "commune": "insee",
    "bv2012": "bv2012",
    "epci": "epci_siren",
    "departement": "departement",
    "region": "region",
}


def aggregate(
    result: pd.DataFrame,
    units: pd.DataFrame,
    levels: Mapping[str, str] | None = None,
    *,
    weight: str | pd.Series = "demand",
) -> pd.DataFrame:
    """Weighted mean accessibility per territory, for every level, as a long table.

    Parameters
    ----------
    result
        Long table of :func:`~zonage.access.methods.accessibility` (``id, supply,
        method, access, demand``).
    units
        One row per demand unit, indexed by its id, with one column per level (e.g.
        the communes layer indexed by ``insee``, or grid cells with their commune's codes).
    levels
        ``{level name: column of units}`` (default :data:`LEVELS`, those present).
    weight
        Column of ``result`` (default ``demand``, the standardised population used as
        demand) or a Series of weights per unit id.

    Returns
    -------
    pandas.DataFrame
        ``level, code, supply, method, access, weight, units``: ``access`` =
        Σ access × weight / Σ weight over the units of the territory (plain mean when
        the territory's weight is 0); ``units`` = how many demand units. Units without
        a code for a level are left out of that level.
    """
    if levels is None:
        levels = {k: v for k, v in LEVELS.items() if v in units.columns or (v == units.index.name)}
    if not units.index.is_unique:
        raise InputDataError("units: the index (demand unit id) must be unique")
    w = result[weight] if isinstance(weight, str) else weight.reindex(result["id"]).to_numpy()
    base = pd.DataFrame(
        {
            "id": result["id"].to_numpy(),
            "supply": result["supply"].to_numpy(),
            "method": result["method"].to_numpy(),
            "access": result["access"].to_numpy(dtype="float64"),
            "weight": np.asarray(w, dtype="float64"),
        }
    )
    missing = ~base["id"].isin(units.index)
    if missing.any():
        example = base["id"][missing].iloc[0]
        raise InputDataError(f"units: no row for {int(missing.sum())} demand units, e.g. {example!r}")
    frames = []
    for level, column in levels.items():
        codes = units.index.to_series() if column == units.index.name and column not in units.columns \
            else units[column]
        part = base.assign(code=codes.reindex(base["id"]).to_numpy())
        part = part[part["code"].notna()]
        part = part.assign(aw=part["access"] * part["weight"])
        grouped = part.groupby(["code", "supply", "method"], observed=True, sort=True)
        table = grouped.agg(aw=("aw", "sum"), weight=("weight", "sum"), plain=("access", "mean"),
                            units=("id", "size")).reset_index()
        with np.errstate(invalid="ignore", divide="ignore"):
            table["access"] = np.where(table["weight"] > 0, table["aw"] / table["weight"], table["plain"])
        table.insert(0, "level", level)
        frames.append(table[["level", "code", "supply", "method", "access", "weight", "units"]])
    if not frames:
        raise InputDataError("aggregate: no level to aggregate to")
    out = pd.concat(frames, ignore_index=True)
    out["code"] = out["code"].astype(str)
    return out


def assign_points(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame, columns: list[str]) -> pd.DataFrame:
    """Codes of the polygon holding each point; points in no polygon take the nearest one.

    Parameters
    ----------
    points
        Demand points (grid cell centres), indexed by id.
    polygons
        E.g. the communes of the territory, same CRS.
    columns
        Columns of ``polygons`` to copy (``insee``, ``bv2012``…).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``points``: the ``columns`` plus ``assigned`` (``within`` or ``nearest``).
    """
    if points.crs is None or not points.crs.equals(polygons.crs):
        raise InputDataError(f"points ({points.crs}) and polygons ({polygons.crs}) must share a CRS")
    left = gpd.GeoDataFrame({"_pos": np.arange(len(points))}, geometry=points.geometry.to_numpy(), crs=points.crs)
    right = polygons[[*columns, "geometry"]].reset_index(drop=True)
    joined = gpd.sjoin(left, right, how="left", predicate="within").drop_duplicates("_pos").set_index("_pos")
    assigned = np.full(len(joined), None, dtype=object)
    assigned[joined["index_right"].notna().to_numpy()] = "within"
    joined["assigned"] = assigned
    lost = joined.index[joined["index_right"].isna()]
    if len(lost):
        near = gpd.sjoin_nearest(left.iloc[lost], right, how="left").drop_duplicates("_pos").set_index("_pos")
        for column in columns:
            joined.loc[lost, column] = near.loc[lost, column].to_numpy()
        joined.loc[lost, "assigned"] = "nearest"
    out = joined.sort_index()[[*columns, "assigned"]]
    out.index = points.index
    return out
