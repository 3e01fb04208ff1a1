"""Throughput of locate + classes (+ reasons) against a plain geopandas pipeline, same run.

Usage: ``ZONAGE_DATA=data python benchmarks/bench_locate.py [--points 1000000]`` after ``zonage build``.

Baseline (what a GIS user would write): points → Lambert-93, ``geopandas.sjoin`` with the
communes, ``sjoin`` with the QPV, merge of the zoning classes and QPV overrides.
Ours: :class:`zonage.locate.Locator` (grid lookup, exact tests near boundaries), then the
rules engine for every packaged scheme (reason codes and messages).
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage.config import resolve_paths
from zonage.crs import LAMBERT93, WGS84, transform_xy
from zonage.layers.store import read_layer
from zonage.rules import evaluate_sites, load_schemes
from zonage.studies import locators


def plain_geopandas(lon: np.ndarray, lat: np.ndarray, communes: gpd.GeoDataFrame, qpv: gpd.GeoDataFrame,
                    zoning: pd.DataFrame, zoning_qpv: pd.DataFrame) -> pd.DataFrame:
    """The baseline pipeline; returns one row per match (points may appear 0, 1 or 2 times)."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=WGS84).to_crs(LAMBERT93)
    joined = gpd.sjoin(points, communes[["insee", "geometry"]], predicate="within", how="left")
    joined = joined.drop(columns="index_right")
    joined = gpd.sjoin(joined, qpv[["code_qp", "geometry"]], predicate="within", how="left")
    classes = zoning.groupby("insee")["classe"].first()
    out = pd.DataFrame(joined.drop(columns=["geometry", "index_right"]))
    out["classe_commune"] = out["insee"].map(classes)
    out["classe_qpv"] = out["code_qp"].map(zoning_qpv.drop_duplicates("code_qp").set_index("code_qp")["classe"])
    out["classe"] = out["classe_qpv"].fillna(out["classe_commune"])
    return out


def timed(label: str, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"  {label:<52} {seconds:8.2f} s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    paths = resolve_paths()
    communes = read_layer(paths, "communes", territory="metro", columns=["insee"])
    qpv = read_layer(paths, "qpv", crs=LAMBERT93)
    qpv = qpv[qpv["territory"] == "metro"]
    zoning = read_layer(paths, "zoning_communes")
    zoning_qpv = read_layer(paths, "zoning_qpv")
    schemes = load_schemes()

    locator, build_s = timed("Locator: read layers", locators.locator, paths)
    _, warm_s = timed("Locator: build mainland index (once, reused)", locator.warm, ["metro"])

    finess = read_layer(paths, "finess")
    finess = finess[finess["has_coords"] & (finess["territory"] == "metro")]
    rng = np.random.default_rng(2025)
    minx, miny, maxx, maxy = communes.total_bounds
    x = rng.uniform(minx, maxx, args.points * 3)
    y = rng.uniform(miny, maxy, args.points * 3)
    inside, _ = locator.territory("metro").grid.read(x, y)
    keep = np.flatnonzero(inside >= 0)[: args.points]  # random points on mainland land
    rlon, rlat = transform_xy(x[keep], y[keep], LAMBERT93, WGS84)
    inputs = {
        f"FINESS mainland ({len(finess):,} points)": (finess.geometry.x.to_numpy(), finess.geometry.y.to_numpy(),
                                                     finess["categetab"].to_numpy()),
        f"random points on land ({len(keep):,})": (rlon, rlat, None),
    }
    print(f"schemes: {len(schemes)}")
    for label, (lon, lat, categories) in inputs.items():
        print(label)
        base, base_s = timed("plain geopandas: sjoin communes + sjoin QPV + merge", plain_geopandas,
                             lon, lat, communes, qpv, zoning, zoning_qpv)
        located, loc_s = timed("zonage: locate + classes", locator.locate, lon, lat)
        verdicts, rules_s = timed(f"zonage: reasons for {len(schemes)} schemes", evaluate_sites, located, schemes,
                                  categories=categories)
        n = len(lon)
        counts = base.index.value_counts()
        print(f"  plain pipeline rows {len(base):,} for {n:,} points: {int((counts > 1).sum())} points twice, "
              f"{int(base['insee'].isna().sum())} without commune")
        print(f"  zonage rows {len(located):,}: methods {located['commune_method'].value_counts().to_dict()}")
        print(f"  verdict rows {len(verdicts):,}")
        print(f"  speed-up locate + classes vs plain: {base_s / loc_s:.1f}x; "
              f"with reasons: {base_s / (loc_s + rules_s):.1f}x; "
              f"points/s (locate + classes + reasons): {n / (loc_s + rules_s):,.0f}")
    print(f"(index build, not in the ratios: {build_s + warm_s:.1f} s)")


if __name__ == "__main__":
    main()
