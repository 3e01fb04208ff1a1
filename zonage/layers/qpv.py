"""QPV polygons of both generations, harmonised, valid and de-duplicated.

Inputs: the regional 2024 extracts (Grand Est + Normandie in the ANCT schema,
PACA with each QPV's own GP zoning class), the 2015 Occitanie polygons, the
ANCT QPV 2024 → commune table and, when it could be fetched, the national ANCT
2024 file, which then supersedes the regional 2024 extracts for the codes it
holds (PACA's zoning class is still joined on by code).

Outputs: ``qpv`` (one polygon per generation and code, with the ``;``-joined
list of its communes) and ``qpv_communes`` (the ANCT table).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from geopandas.array import from_shapely
from shapely.geometry.base import BaseGeometry

from zonage.crs import WGS84
from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec
from zonage.sources.qpv import (
    QPV_COLUMNS,
    QPV_COMMUNES_COLUMNS,
    join_codes,
    read_qpv_2015,
    read_qpv_anct,
    read_qpv_communes,
    read_qpv_paca,
)

#: Regional polygon sources, in order of precedence after the national file.
REGIONAL_SOURCES: tuple[str, ...] = (
    "qpv2024_grand_est_normandie",
    "qpv2024_paca",
    "qpv2015_occitanie",
)
NATIONAL_SOURCE = "qpv2024_national"


def _polygonal(geom: BaseGeometry | None) -> shapely.MultiPolygon | None:
    """The polygonal part of a geometry as a MultiPolygon (None when there is none)."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    if isinstance(geom, shapely.GeometryCollection):
        parts = [p for g in geom.geoms if (m := _polygonal(g)) is not None for p in m.geoms]
        return shapely.MultiPolygon(parts) if parts else None
    return None


def make_valid_polygons(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict]:
    """Repair invalid polygons (``make_valid``, structure method) and make all MultiPolygons.

    Parameters
    ----------
    frame
        Polygon layer.

    Returns
    -------
    frame
        The same rows, every geometry valid and a MultiPolygon.
    report
        ``invalid`` (rows repaired), ``codes`` (their QPV codes, when a ``code_qp``
        column exists), ``reasons`` (GEOS explanation of the first ones) and
        ``emptied`` (rows left without any polygon).
    """
    geoms = frame.geometry.values
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    fixed = geoms.copy()
    reasons = [shapely.is_valid_reason(g) for g in geoms[invalid][:20]]
    if invalid.any():
        fixed[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    polygons = [_polygonal(g) for g in fixed]
    out = frame.copy()
    out = out.set_geometry(gpd.GeoSeries(from_shapely(polygons), index=frame.index, crs=frame.crs))
    emptied = out.geometry.isna() & ~frame.geometry.isna()
    report = {
        "invalid": int(invalid.sum()),
        "codes": out.loc[invalid, "code_qp"].astype(str).tolist() if "code_qp" in out else [],
        "reasons": reasons,
        "emptied": int(emptied.sum()),
    }
    return out, report


def combine_qpv(
    regional: list[gpd.GeoDataFrame],
    national: gpd.GeoDataFrame | None,
    communes: pd.DataFrame,
) -> tuple[gpd.GeoDataFrame, dict]:
    """Merge QPV polygon frames into one layer, de-duplicated by (generation, code_qp).

    Parameters
    ----------
    regional
        Frames from the regional readers, in order of precedence.
    national
        The national ANCT 2024 frame, or None. When given, it supersedes the
        regional 2024 polygons of the same codes; PACA's ``classe_qpv`` is joined
        onto it by code.
    communes
        The ANCT QPV 2024 → commune table; its communes are added to each 2024
        QPV's ``communes`` list.

    Returns
    -------
    layer
        :data:`zonage.sources.qpv.QPV_COLUMNS`, one row per (generation, code_qp),
        valid MultiPolygons, sorted by generation and code.
    report
        Counts, repairs, duplicates and the comparison with the ANCT table.
    """
    frames = ([national] if national is not None else []) + list(regional)
    fixes: dict[str, dict] = {}
    parts = []
    for rank, frame in enumerate(frames):
        valid, fix = make_valid_polygons(frame)
        name = str(frame["source"].iloc[0]) if len(frame) else f"frame{rank}"
        fixes[name] = fix
        valid = valid.assign(_rank=rank)
        expected = frame.attrs.get("expected_generation")
        if expected is not None:
            valid["_generation_mismatch"] = valid["generation"] != expected
        parts.append(valid)
    allrows = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=WGS84)
    mismatch = allrows.get("_generation_mismatch", pd.Series(False, index=allrows.index)).fillna(False)

    key = ["generation", "code_qp"]
    # Attributes gathered over every copy of a QPV before duplicates are dropped.
    classes = (allrows.dropna(subset=["classe_qpv"]).sort_values("_rank")
               .drop_duplicates(key).set_index(key)["classe_qpv"])
    commune_lists = allrows.groupby(key)["communes"].agg(
        lambda s: [c for v in s.dropna() for c in v.split(";")])
    table = communes.dropna(subset=["code_qp", "insee_com"])
    table_lists = table.groupby("code_qp")["insee_com"].agg(list)

    ordered = allrows.sort_values([*key, "_rank", "source"], kind="stable")
    duplicated = ordered.duplicated(key, keep="first")
    dropped = ordered.loc[duplicated, [*key, "source"]]
    layer = ordered.loc[~duplicated].copy()
    index = pd.MultiIndex.from_frame(layer[key])
    layer["classe_qpv"] = pd.Series(classes.reindex(index).to_numpy(), index=layer.index,
                                    dtype="string")
    merged = []
    for (gen, code), own in zip(index, commune_lists.reindex(index), strict=True):
        extra = table_lists.get(code, []) if gen == 2024 else []
        merged.append(join_codes([own if isinstance(own, list) else [], extra]))
    layer["communes"] = pd.Series(merged, index=layer.index, dtype="string")
    layer["insee_com"] = layer["insee_com"].fillna(layer["communes"].str.split(";").str[0])
    unplaced = layer["territory"].isna()
    without_territory = layer.loc[unplaced, "code_qp"].astype(str).tolist()
    layer = layer.loc[~unplaced]
    layer = gpd.GeoDataFrame(layer[list(QPV_COLUMNS)].reset_index(drop=True), crs=WGS84)

    polygons_2024 = set(layer.loc[layer["generation"] == 2024, "code_qp"])
    table_codes = set(table["code_qp"])
    covered = set(layer.loc[layer["generation"] == 2024, "departement"].dropna())
    table_covered = set(table.loc[table["dep"].isin(covered), "code_qp"])
    superseded = 0
    if national is not None:
        national_codes = set(national["code_qp"])
        superseded = int(dropped["code_qp"].isin(national_codes).sum())
    report = {
        "rows": len(layer),
        "per_generation": _counts(layer["generation"]),
        "per_source": _counts(layer["source"]),
        "per_region": {str(g): _counts(part["region"]) for g, part in layer.groupby("generation")},
        "per_departement": {str(g): _counts(part["departement"])
                            for g, part in layer.groupby("generation")},
        "classe_qpv": _counts(layer["classe_qpv"]),
        "invalid_fixed": sum(f["invalid"] for f in fixes.values()),
        "invalid_fixed_per_source": {k: f["invalid"] for k, f in fixes.items()},
        "invalid_codes": {k: f["codes"] for k, f in fixes.items() if f["codes"]},
        "invalid_reasons": {k: f["reasons"][:5] for k, f in fixes.items() if f["reasons"]},
        "emptied_by_repair": sum(f["emptied"] for f in fixes.values()),
        "all_valid": bool(shapely.is_valid(layer.geometry.values).all()),
        "duplicates_dropped": len(dropped),
        "dropped_without_territory": without_territory,
        "superseded_by_national": superseded,
        "national_file": national is not None,
        "generation_prefix_mismatch": allrows.loc[mismatch, "code_qp"].astype(str).tolist(),
        "anct_table_codes": len(table_codes),
        "polygons_2024_not_in_anct_table": sorted(polygons_2024 - table_codes),
        "anct_table_not_in_polygons": len(table_codes - polygons_2024),
        "anct_table_not_in_polygons_in_covered_departements": sorted(table_covered - polygons_2024),
        "covered_departements_2024": sorted(covered),
    }
    return layer, report


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts(dropna=False).sort_index().items()}


def _build(inputs: BuildInputs) -> LayerResult:
    regional = [
        read_qpv_anct(inputs.source("qpv2024_grand_est_normandie"),
                      source="qpv2024_grand_est_normandie", generation=2024),
        read_qpv_paca(inputs.source("qpv2024_paca"), source="qpv2024_paca", generation=2024),
        read_qpv_2015(inputs.source("qpv2015_occitanie"), source="qpv2015_occitanie",
                      generation=2015),
    ]
    national_path = inputs.optional_source(NATIONAL_SOURCE)
    national = (read_qpv_anct(national_path, source=NATIONAL_SOURCE, generation=2024)
                if national_path is not None else None)
    communes = read_qpv_communes(inputs.source("qpv2024_communes"))
    layer, report = combine_qpv(regional, national, communes)
    report["qpv_communes_rows"] = len(communes)
    table = communes[list(QPV_COMMUNES_COLUMNS)]
    vintage = "QPV 2024 (national ANCT file)" if national is not None else \
        "QPV 2024 regional extracts + QPV 2015 Occitanie"
    return LayerResult(frames={"qpv": layer, "qpv_communes": table}, report=report, vintage=vintage)


SPEC = LayerSpec(
    name="qpv",
    description="QPV polygons (2015 and 2024 generations, PACA's QPV zoning class) and QPV → communes",
    sources=("qpv2024_grand_est_normandie", "qpv2024_paca", "qpv2015_occitanie", "qpv2024_communes"),
    optional_sources=(NATIONAL_SOURCE,),
    build=_build,
)
