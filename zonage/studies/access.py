"""The national commune-level run: GP supply (BPE), commune populations, straight-line costs.

:func:`commune_accessibility` reads the ``communes``, ``gp_supply`` and (when built)
``apl_communes`` layers, computes the accessibility of every commune territory by
territory (each in its metric CRS; no pair crosses a sea), aggregates it to BV2012,
EPCI, départements and régions, and compares it with the DREES APL. It writes
nothing: the command line writes the tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from zonage.access.aggregate import LEVELS, aggregate, assign_points
from zonage.access.costs import StraightLine, points_xy, straight_line_costs
from zonage.access.decay import Decay
from zonage.access.demand import raster_demand
from zonage.access.methods import accessibility, default_decay
from zonage.access.raster import Grid, accessibility_grid
from zonage.config import Paths
from zonage.errors import InputDataError, LayerMissingError, ZonageError
from zonage.layers.store import read_geo_layer, read_layer, territories

COMMUNE_COLUMNS = ["insee", "nom", "population", "bv2012", "epci_siren", "departement", "region", "region_nom",
                   "territory"]


@dataclass
class CommuneRun:
    """Result of :func:`commune_accessibility`.

    Attributes
    ----------
    communes
        One row per commune: codes, ``population`` (demand), ``gp_count`` (supply),
        ``access`` (GPs per ``scale`` inhabitants within reach, decay-weighted).
    aggregates
        Long table of :func:`~zonage.access.aggregate.aggregate` (BV2012, EPCI,
        département, région), population-weighted.
    comparison
        Correlations with the DREES APL: ``year, level, region, region_nom, n,
        pearson, spearman`` (``region`` ``"all"`` for France as a whole).
    settings
        Method, decay, cut-off, cost model, scale.
    timings
        Seconds spent reading layers, building costs, computing, aggregating, comparing.
    pairs
        Commune pairs within the cut-off, per territory.
    """

    communes: pd.DataFrame
    aggregates: pd.DataFrame
    comparison: pd.DataFrame
    settings: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    pairs: dict[str, int] = field(default_factory=dict)

    def national_mean(self) -> float:
        """Population-weighted mean accessibility over every commune."""
        c = self.communes
        return float(np.average(c["access"], weights=c["population"])) if c["population"].sum() > 0 else np.nan


def commune_accessibility(
    paths: Paths,
    *,
    method: str = "e2sfca",
    decay: Decay | None = None,
    cutoff: float = 30.0,
    model: StraightLine | None = None,
    only: Sequence[str] | None = None,
    point: str = "representative",
    scale: float = 1e5,
    compare_years: Sequence[int] = (2022, 2023),
    progress: Callable[[str, int, int], None] | None = None,
) -> CommuneRun:
    """Accessibility of every commune to GPs, national, with straight-line travel costs.

    Parameters
    ----------
    paths
        Data folders with the built layers.
    method, decay, cutoff
        As in :func:`~zonage.access.methods.accessibility`; cut-off in minutes.
    model
        Detour factor and speed model (default :class:`~zonage.access.costs.StraightLine`).
    only
        Territories to run (``metro``, ``971``…); default all.
    point
        Point of each commune polygon: ``representative`` or ``centroid``.
    scale
        Result unit: GPs per ``scale`` inhabitants (default per 100,000).
    compare_years
        DREES APL years to compare with (skipped when ``apl_communes`` is not built).
    progress
        Called as ``progress(step, done, total)`` after each territory.

    Raises
    ------
    LayerMissingError
        ``communes`` or ``gp_supply`` not built.
    """
    model = model or StraightLine()
    decay = decay or default_decay(method)
    timings: dict[str, float] = {"read": 0.0, "costs": 0.0, "fca": 0.0}
    if not territories(paths, "communes"):
        raise LayerMissingError("la couche communes n'est pas encore construite : lancer `zonage build`")
    chosen = list(only) if only else territories(paths, "communes")
    unknown = sorted(set(chosen) - set(territories(paths, "communes")))
    if unknown:
        raise ZonageError(f"aucune commune pour le(s) territoire(s) {', '.join(unknown)} (territoires construits : "
                          f"{', '.join(territories(paths, 'communes'))})")
    start = time.perf_counter()
    supply = read_layer(paths, "gp_supply", columns=["insee", "gp_count"]).set_index("insee")["gp_count"]
    timings["read"] += time.perf_counter() - start
    frames, results, pairs = [], [], {}
    for done, territory in enumerate(chosen, start=1):
        t0 = time.perf_counter()
        communes = read_geo_layer(paths, "communes", territory=territory, columns=COMMUNE_COLUMNS)
        communes = communes.set_index("insee", drop=False)
        xy = points_xy(communes, point)
        t1 = time.perf_counter()
        costs = straight_line_costs(xy, cutoff=cutoff, model=model, origin_ids=communes.index)
        t2 = time.perf_counter()
        gps = supply.reindex(communes.index).fillna(0).astype("float64").rename("gp_count")
        result = accessibility(costs, communes["population"].astype("float64").rename("population"), gps,
                               method=method, decay=decay, cutoff=cutoff, scale=scale)
        t3 = time.perf_counter()
        timings["read"] += t1 - t0
        timings["costs"] += t2 - t1
        timings["fca"] += t3 - t2
        pairs[territory] = len(costs)
        frame = pd.DataFrame(communes.drop(columns="geometry")).reset_index(drop=True)
        frame["gp_count"] = gps.to_numpy()
        frame["access"] = result["access"].to_numpy()
        frames.append(frame)
        results.append(result)
        if progress:
            progress(territory, done, len(chosen))
    table = pd.concat(frames, ignore_index=True)
    t0 = time.perf_counter()
    long = pd.concat(results, ignore_index=True)
    units = table.set_index("insee", drop=False)
    aggregates = aggregate(long, units, {k: v for k, v in LEVELS.items() if k != "commune"})
    timings["aggregate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    comparison = compare_with_drees(paths, table, compare_years)
    timings["compare"] = time.perf_counter() - t0
    lost = float(supply[~supply.index.isin(table["insee"])].sum()) if not only else 0.0
    settings = {
        "method": method, "decay": str(decay), "cutoff_min": cutoff, "detour": model.detour,
        "speeds_km_kmh": model.speeds, "point": point, "scale": scale, "supply": "BPE 2019 D201 GP count",
        "demand": "commune population", "gp_outside_communes": lost,
    }
    return CommuneRun(table, aggregates, comparison, settings, timings, pairs)


@dataclass
class GridRun:
    """Result of :func:`grid_accessibility`.

    Attributes
    ----------
    cells
        One row per populated cell: ``id, row, col, population, insee, bv2012, epci_siren,
        departement, assigned, access``.
    grid
        Accessibility on the population grid (:class:`~zonage.access.raster.Grid`), nodata elsewhere.
    aggregates
        Population-weighted means per commune, BV2012, EPCI, département.
    settings
        Method, decay, cut-off, cost model, scale, territory.
    """

    cells: pd.DataFrame
    grid: Grid
    aggregates: pd.DataFrame
    settings: dict = field(default_factory=dict)


def grid_accessibility(
    paths: Paths,
    raster: str | Path,
    territory: str,
    *,
    method: str = "e2sfca",
    decay: Decay | None = None,
    cutoff: float = 30.0,
    model: StraightLine | None = None,
    point: str = "representative",
    scale: float = 1e5,
    band: int = 1,
) -> GridRun:
    """Accessibility of the cells of a population raster to the GPs of one territory.

    Demand: the populated cells (centres) of ``raster``; supply: the BPE GP count of each
    commune at its point; costs: straight lines cell → commune within ``cutoff``. Cells
    take the codes of the commune holding their centre (the nearest commune for cells
    whose centre falls in the sea) and are averaged per commune, BV2012, EPCI and
    département, weighted by population.

    Parameters
    ----------
    paths
        Data folders with the built layers.
    raster
        Population raster (GeoTIFF) in the territory's metric CRS, or any CRS rasterio
        knows (the communes are projected to it; it must be metric).
    territory
        ``metro``, ``971``… — the communes and GPs used as supply.
    method, decay, cutoff, model, point, scale
        As in :func:`commune_accessibility`.
    band
        Raster band holding the population.
    """
    model = model or StraightLine()
    decay = decay or default_decay(method)
    cells, template = raster_demand(raster, band)
    if cells.empty:
        raise ZonageError(f"{raster}: no populated cell")
    if cells.crs is None:
        raise ZonageError(f"{raster}: the raster has no CRS")
    communes = read_geo_layer(paths, "communes", territory=territory, columns=COMMUNE_COLUMNS)
    communes = communes.to_crs(cells.crs).set_index("insee", drop=False)
    gps = read_layer(paths, "gp_supply", columns=["insee", "gp_count"]).set_index("insee")["gp_count"]
    gps = gps.reindex(communes.index).fillna(0).astype("float64").rename("gp_count")
    costs = straight_line_costs(cells, communes, cutoff=cutoff, model=model, destination_ids=communes.index,
                                how=point)
    result = accessibility(costs, cells["population"], gps, method=method, decay=decay, cutoff=cutoff, scale=scale)
    codes = assign_points(cells, communes, ["insee", "bv2012", "epci_siren", "departement"])
    levels = {"commune": "insee", "bv2012": "bv2012", "epci": "epci_siren", "departement": "departement"}
    aggregates = aggregate(result, codes, levels)
    access = result.set_index("id")["access"]
    table = pd.DataFrame(cells.drop(columns="geometry")).join(codes).assign(access=access.reindex(cells.index))
    grid = accessibility_grid(access, cells, template)
    settings = {"method": method, "decay": str(decay), "cutoff_min": cutoff, "detour": model.detour,
                "speeds_km_kmh": model.speeds, "point": point, "scale": scale, "territory": territory,
                "raster": str(raster), "pairs": result.attrs["pairs"]}
    return GridRun(table.reset_index(drop=True), grid, aggregates, settings)


def _correlations(ours: pd.Series, theirs: pd.Series) -> tuple[int, float, float]:
    ok = ours.notna() & theirs.notna()
    x, y = ours[ok].to_numpy(dtype="float64"), theirs[ok].to_numpy(dtype="float64")
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return int(x.size), np.nan, np.nan
    return int(x.size), float(np.corrcoef(x, y)[0, 1]), float(stats.spearmanr(x, y).statistic)


def compare_with_drees(paths: Paths, communes: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    """Pearson and Spearman correlations of our accessibility with the DREES APL, by région.

    At two levels: ``commune`` (each commune's value) and ``bv2012`` (both sides
    averaged per BV2012, the TVS proxy: ours weighted by population, the DREES one by
    its standardised population). Empty when the ``apl_communes`` layer is not built.
    """
    columns = ["year", "level", "region", "region_nom", "n", "pearson", "spearman"]
    if not years:
        return pd.DataFrame(columns=columns)
    try:
        apl = read_layer(paths, "apl_communes", columns=["insee", "year", "level", "apl", "pop_std"])
    except LayerMissingError:
        return pd.DataFrame(columns=columns)
    apl = apl[apl["level"] == "commune"]
    rows: list[tuple[object, ...]] = []
    names = communes.drop_duplicates("region").set_index("region")["region_nom"]
    for year in years:
        drees = apl[apl["year"] == year].drop_duplicates("insee").set_index("insee")
        merged = communes.join(drees[["apl", "pop_std"]], on="insee", how="inner")
        merged = merged[merged["apl"].notna()]
        by_bv = _bv_means(merged)
        for level, frame in (("commune", merged), ("bv2012", by_bv)):
            n, r, rho = _correlations(frame["access"], frame["apl"])
            rows.append((year, level, "all", "France", n, r, rho))
            for region, part in frame.groupby("region", sort=True):
                n, r, rho = _correlations(part["access"], part["apl"])
                rows.append((year, level, region, names.get(region, ""), n, r, rho))
    return pd.DataFrame(rows, columns=columns)


def _bv_means(merged: pd.DataFrame) -> pd.DataFrame:
    frame = merged[merged["bv2012"].notna()].copy()
    frame["aw"] = frame["access"] * frame["population"]
    frame["dw"] = frame["apl"] * frame["pop_std"]
    # A BV2012 is put in the région holding most of its population (as TVS are).
    by_region = frame.groupby(["bv2012", "region"])["population"].sum().sort_values(kind="stable")
    region = by_region.reset_index().groupby("bv2012")["region"].last()
    sums = frame.groupby("bv2012")[["aw", "population", "dw", "pop_std"]].sum()
    out = pd.DataFrame(
        {
            "access": sums["aw"] / sums["population"].where(sums["population"] > 0),
            "apl": sums["dw"] / sums["pop_std"].where(sums["pop_std"] > 0),
            "region": region.reindex(sums.index),
        }
    )
    return out.reset_index()


def cut_to_region(run: CommuneRun, region: str) -> CommuneRun:
    """``run`` with its tables cut to région ``region``: its communes, the territories they belong to, its rows.

    The accessibility itself is not recomputed: it was computed over the whole territory
    (metropolitan France or the overseas département), so catchments across the région's
    border count.

    Raises
    ------
    InputDataError
        No commune of the run belongs to ``region``.
    """
    communes = run.communes[run.communes["region"].astype(str) == str(region)].reset_index(drop=True)
    if communes.empty:
        raise InputDataError(f"région {region}: no commune of this région in the territories computed; give an INSEE "
                          "région code (44 Grand Est, 28 Normandie, 04 La Réunion…)")
    aggregates = run.aggregates
    keep = pd.Series(False, index=aggregates.index)
    for level, column in LEVELS.items():
        if column in communes.columns:
            codes = set(communes[column].dropna().astype(str))
            keep |= (aggregates["level"] == level) & aggregates["code"].astype(str).isin(codes)
    comparison = run.comparison
    if len(comparison):
        comparison = comparison[comparison["region"].astype(str) == str(region)].reset_index(drop=True)
    return replace(run, communes=communes, aggregates=aggregates[keep].reset_index(drop=True), comparison=comparison)
