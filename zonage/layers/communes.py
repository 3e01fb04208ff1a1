"""Communes, départements and régions of COG 2025, with a topology report.

Polygons come from the commune polygon source; names, département, région, EPCI,
population and postcodes from the COG lists; the 2012 bassin de vie (TVS proxy)
from the INSEE zonings. Départements and régions are dissolved from the communes
in each territory's metric CRS. Overlaps and gaps between neighbouring communes
(slivers left by simplifying polygons one département at a time) are measured.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zonage.crs import TERRITORY_CRS, territory_of_commune
from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec
from zonage.sources.cog import read_current_communes
from zonage.sources.communes import read_commune_polygons, read_tagc_zonings

#: Overlaps and gaps smaller than this (m²) are numerical noise, not reported.
MIN_SLIVER_M2 = 1.0


def overlap_report(communes: gpd.GeoDataFrame) -> dict:
    """Measure pairs of communes whose interiors overlap (metric CRS expected).

    Returns counts, total area (m²), the share crossing a département border and
    the ten largest overlaps.
    """
    geoms = communes.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="overlaps")
    keep = left < right
    left, right = left[keep], right[keep]
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    real = area > MIN_SLIVER_M2
    left, right, area = left[real], right[real], area[real]
    codes = communes["insee"].to_numpy()
    deps = communes["departement"].to_numpy()
    largest = np.argsort(area)[::-1][:10]
    return {
        "pairs": len(area),
        "area_km2": round(float(area.sum()) / 1e6, 3),
        "pairs_across_departements": int((deps[left] != deps[right]).sum()),
        "largest": [
            {"a": codes[left[i]], "b": codes[right[i]], "area_m2": round(float(area[i]), 1)}
            for i in largest
        ],
    }


def gap_report(departements: gpd.GeoDataFrame) -> dict:
    """Measure holes inside the union of a territory's départements (gaps between communes).

    The largest holes are listed with a lon/lat point inside them, to look at on a map.
    """
    union = shapely.union_all(departements.geometry.values)
    parts = shapely.get_parts(union)
    counts = shapely.get_num_interior_rings(parts)
    owner = np.repeat(np.arange(len(parts)), counts)
    index = np.concatenate([np.arange(n) for n in counts]) if len(counts) else np.zeros(0, int)
    rings = shapely.get_interior_ring(parts[owner], index.astype(int))
    # An array of rings gives an array of polygons (the stubs allow one polygon from coordinates).
    holes = np.asarray(shapely.polygons(rings)) if len(rings) else np.empty(0, dtype=object)
    areas = np.asarray(shapely.area(holes)) if len(holes) else np.zeros(0)
    keep = areas > MIN_SLIVER_M2
    holes, areas = holes[keep], areas[keep]
    order = np.argsort(areas)[::-1][:5]
    points = gpd.GeoSeries(shapely.point_on_surface(holes[order]), crs=departements.crs).to_crs("EPSG:4326")
    return {
        "holes": len(areas),
        "area_km2": round(float(areas.sum()) / 1e6, 3),
        "largest": [
            {"area_m2": round(float(areas[i]), 1), "lon": round(float(x), 5), "lat": round(float(y), 5)}
            for i, x, y in zip(order, points.x, points.y, strict=True)
        ],
    }


def assemble_communes(
    polygons: gpd.GeoDataFrame, cog: pd.DataFrame, tagc: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, dict]:
    """Join polygons to COG attributes; report codes on one side only and fixed geometries."""
    duplicated = polygons["insee"][polygons["insee"].duplicated()].tolist()
    polygons = polygons.drop_duplicates("insee")
    merged = polygons.merge(cog, left_on="insee", right_on="code", how="left", indicator=True)
    no_cog = merged.loc[merged["_merge"] == "left_only", "insee"].tolist()
    merged = merged[merged["_merge"] == "both"].drop(columns=["_merge", "code"])
    no_polygon = cog.loc[~cog["code"].isin(polygons["insee"]), ["code", "nom", "departement"]]
    merged = merged.merge(tagc, on="insee", how="left")
    invalid = ~merged.geometry.is_valid
    if invalid.any():
        merged.loc[invalid, "geometry"] = shapely.make_valid(np.asarray(merged.geometry[invalid].values))
    merged["codes_postaux"] = merged["codes_postaux"].map(list)
    merged["anciens_codes"] = merged["anciens_codes"].map(list)
    merged["territory"] = territory_of_commune(merged["insee"]).to_numpy()
    communes = gpd.GeoDataFrame(merged, geometry="geometry", crs=polygons.crs)
    report = {
        "polygons": len(polygons),
        "communes": len(communes),
        "duplicate_polygon_codes": duplicated,
        "polygons_without_cog_entry": no_cog,
        "cog_communes_without_polygon": {
            "count": len(no_polygon),
            "by_departement": {k: int(v) for k, v in no_polygon["departement"].value_counts().sort_index().items()},
            "codes": no_polygon["code"].tolist(),
        },
        "invalid_geometries_fixed": int(invalid.sum()),
        "without_bv2012": int(communes["bv2012"].isna().sum()),
    }
    return communes, report


def dissolve_territories(communes: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Dissolve départements and régions per territory (metric CRS) and measure topology."""
    deps: list[gpd.GeoDataFrame] = []
    regs: list[gpd.GeoDataFrame] = []
    topology: dict[str, dict] = {}
    for territory, part in communes.groupby("territory"):
        assert isinstance(part, gpd.GeoDataFrame)  # groups of a GeoDataFrame keep their geometry
        local = part.to_crs(TERRITORY_CRS[str(territory)])
        dep = local.dissolve("departement", aggfunc={"region": "first", "departement_nom": "first",
                                                      "population": "sum", "insee": "count"})
        dep = dep.rename(columns={"insee": "communes"}).reset_index()
        reg = dep.dissolve("region", aggfunc={"population": "sum", "communes": "sum"}).reset_index()
        reg["region_nom"] = reg["region"].map(part.drop_duplicates("region").set_index("region")["region_nom"])
        topology[str(territory)] = {"overlaps": overlap_report(local), "gaps": gap_report(dep)}
        for frame, bucket in ((dep, deps), (reg, regs)):
            frame["territory"] = territory
            bucket.append(frame.to_crs("EPSG:4326"))
    departements = gpd.GeoDataFrame(pd.concat(deps, ignore_index=True), crs="EPSG:4326")
    regions = gpd.GeoDataFrame(pd.concat(regs, ignore_index=True), crs="EPSG:4326")
    return departements, regions, topology


def _build(inputs: BuildInputs) -> LayerResult:
    polygons = read_commune_polygons(inputs.source("communes_polygons"))
    cog = read_current_communes(inputs.source("decoupage_administratif"))
    tagc = read_tagc_zonings(inputs.source("tagc_zonages"))
    communes, report = assemble_communes(polygons, cog, tagc)
    departements, regions, topology = dissolve_territories(communes)
    report["departements"] = len(departements)
    report["regions"] = len(regions)
    report["topology"] = topology
    return LayerResult(
        frames={"communes": communes, "departements": departements, "regions": regions},
        report=report,
        vintage="COG 2025",
    )


SPEC = LayerSpec(
    name="communes",
    description="COG 2025 commune polygons with attributes; départements and régions dissolved",
    sources=("communes_polygons", "decoupage_administratif", "tagc_zonages"),
    build=_build,
)
