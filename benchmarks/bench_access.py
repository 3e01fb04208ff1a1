"""National commune-level accessibility: zonage.access vs PySAL ``access``, timings, memory, DREES.

Usage (layers built in $ZONAGE_DATA, e.g. by ``zonage build``)::

    ZONAGE_DATA=/tmp/zd ZONAGE_MIRROR=../shared/data python benchmarks/bench_access.py

Parts, each in its own child process so that peak memory (RSS) is its own:

1. ``ours``: the full national run (read layers, straight-line costs ≤ 30 min between the
   ~35k communes, E2SFCA with DREES steps, aggregation, DREES comparison), then the engine
   alone on the same inputs (costs + E2SFCA), best of 3.
2. ``pysal``: the same OD table (our straight-line pairs, ≤ 30 min), demand and supply through
   PySAL ``access`` (``enhanced_two_stage_fca``), and ours again on that very table; max relative
   difference. ``--pysal-scope region:44`` runs a regional subset instead of France when PySAL is
   too slow (the timing is then extrapolated by the number of pairs and labelled so).
3. ``sensitivity``: correlations with the DREES APL 2023 under a few alternative settings, and
   the speed model checked against the Alpes-Maritimes road times (access06 OD table).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _paths():
    from zonage.config import resolve_paths

    return resolve_paths()


def _national_inputs(paths, scope: str = "france"):
    """Commune points, population, GP counts and straight-line costs per territory."""
    from zonage.access import points_xy
    from zonage.layers.store import read_layer, territories

    gps = read_layer(paths, "gp_supply", columns=["insee", "gp_count"]).set_index("insee")["gp_count"]
    out = []
    for territory in territories(paths, "communes"):
        communes = read_layer(paths, "communes", territory=territory,
                              columns=["insee", "population", "region"]).set_index("insee")
        if scope.startswith("region:"):
            communes = communes[communes["region"] == scope.split(":", 1)[1]]
        if communes.empty:
            continue
        out.append((territory, communes, points_xy(communes),
                    gps.reindex(communes.index).fillna(0).astype("float64").rename("gp_count")))
    return out


def part_ours() -> dict:
    from zonage.access import StraightLine, accessibility, drees, straight_line_costs
    from zonage.studies.access import commune_accessibility

    paths = _paths()
    start = time.perf_counter()
    run = commune_accessibility(paths, method="e2sfca", decay=drees(), cutoff=30.0)
    full = time.perf_counter() - start
    inputs = _national_inputs(paths)
    model = StraightLine()
    engine = []
    for _ in range(3):
        t0 = time.perf_counter()
        costs_s = fca_s = 0.0
        pairs = 0
        for _territory, communes, xy, gps in inputs:
            t1 = time.perf_counter()
            costs = straight_line_costs(xy, cutoff=30.0, model=model, origin_ids=communes.index)
            t2 = time.perf_counter()
            accessibility(costs, communes["population"].astype("float64"), gps, method="e2sfca", decay=drees(),
                          cutoff=30.0)
            t3 = time.perf_counter()
            costs_s += t2 - t1
            fca_s += t3 - t2
            pairs += len(costs)
        engine.append((time.perf_counter() - t0, costs_s, fca_s, pairs))
    best = min(engine)
    return {
        "communes": len(run.communes), "pairs": sum(run.pairs.values()), "full_run_s": full,
        "full_run_timings": run.timings, "engine_best_s": best[0], "engine_costs_s": best[1],
        "engine_fca_s": best[2], "national_mean": run.national_mean(),
        "comparison": run.comparison.to_dict(orient="records"), "peak_rss_mib": _peak_mib(),
    }


def part_pysal(scope: str) -> dict:
    import logging

    from access import Access, weights

    from zonage.access import StraightLine, accessibility, drees, luo_qi, straight_line_costs

    logging.getLogger("access").setLevel(logging.WARNING)
    paths = _paths()
    inputs = _national_inputs(paths, scope)
    model = StraightLine()
    tables, demand, supply = [], [], []
    for _territory, communes, xy, gps in inputs:
        costs = straight_line_costs(xy, cutoff=30.0, model=model, origin_ids=communes.index)
        tables.append(costs.to_frame("origin", "dest", "cost"))
        demand.append(communes["population"].astype("float64").rename("pop"))
        supply.append(gps.rename("gp"))
    od = pd.concat(tables, ignore_index=True)
    pop = pd.concat(demand)
    gp = pd.concat(supply)
    results = {"scope": scope, "pairs": len(od), "origins": len(pop)}
    for label, ours_decay, theirs_fn in (
        ("drees steps", drees(), weights.step_fn({10: 1, 15: 2 / 3, 20: 1 / 3})),
        ("luo-qi steps", luo_qi(), weights.step_fn({10: 1, 20: 0.68, 30: 0.22})),
    ):
        def run_ours(decay=ours_decay):
            return accessibility(od, pop, gp, method="e2sfca", decay=decay, cutoff=30.0, destination="dest")

        def run_theirs(fn=theirs_fn):
            model_ = Access(demand_df=pop.rename_axis("geoid").reset_index(), demand_index="geoid",
                            demand_value="pop", supply_df=gp.rename_axis("geoid").reset_index(), supply_index="geoid",
                            supply_value="gp", cost_df=od, cost_origin="origin", cost_dest="dest", cost_name="cost")
            return model_.enhanced_two_stage_fca(max_cost=30.0, weight_fn=fn).iloc[:, 0]

        ours, t_ours, cpu_ours = _best(run_ours, 5)
        theirs, t_theirs, cpu_theirs = _best(run_theirs, 2)
        a = ours.set_index("id")["access"]
        b = theirs.reindex(a.index)
        finite = np.isfinite(b.to_numpy())
        rel = np.abs(a.to_numpy()[finite] - b.to_numpy()[finite]) / np.maximum(np.abs(b.to_numpy()[finite]), 1e-300)
        results[label] = {"ours_s": t_ours, "pysal_s": t_theirs, "speedup": t_theirs / t_ours,
                          "ours_cpu_s": cpu_ours, "pysal_cpu_s": cpu_theirs, "speedup_cpu": cpu_theirs / cpu_ours,
                          "max_rel_diff": float(rel.max()), "non_finite_pysal": int((~finite).sum()),
                          "ours_at_non_finite": float(np.abs(a.to_numpy()[~finite]).max()) if (~finite).any() else 0}
    results["peak_rss_mib"] = _peak_mib()
    return results


def part_sensitivity() -> dict:
    from zonage.access import StraightLine, drees, points_xy
    from zonage.layers.store import read_layer
    from zonage.studies.access import _correlations, commune_accessibility

    paths = _paths()
    apl = read_layer(paths, "apl_communes", columns=["insee", "year", "level", "apl", "pop_std"])
    apl = apl[(apl["level"] == "commune") & (apl["year"] == 2023)].set_index("insee")
    out = {}

    def corr(communes: pd.DataFrame) -> tuple[int, float, float]:
        merged = communes.join(apl[["apl"]], on="insee", how="inner")
        return _correlations(merged["access"], merged["apl"])

    base = commune_accessibility(paths, decay=drees(), cutoff=30.0, compare_years=())
    out["default (representative points, detour 1.3, speeds 5:30,20:60,80)"] = corr(base.communes)
    big = base.communes[base.communes["population"] >= 1000]
    out["same run, communes of 1,000 inhabitants or more only"] = corr(big)
    drees_2022 = read_layer(paths, "apl_communes", columns=["insee", "year", "level", "apl"])
    drees_2022 = drees_2022[(drees_2022["level"] == "commune") & (drees_2022["year"] == 2022)]
    out["reference: DREES APL 2022 vs DREES APL 2023"] = corr(
        drees_2022.rename(columns={"apl": "access"})[["insee", "access"]])
    out["centroids instead of representative points"] = corr(
        commune_accessibility(paths, decay=drees(), cutoff=30.0, point="centroid", compare_years=()).communes)
    for detour in (1.2, 1.5):
        out[f"detour factor {detour}"] = corr(commune_accessibility(
            paths, decay=drees(), cutoff=30.0, model=StraightLine(detour=detour), compare_years=()).communes)
    out["binary 2SFCA, 20 min"] = corr(commune_accessibility(paths, method="2sfca", cutoff=20.0,
                                                             compare_years=()).communes)
    # Demand = the DREES standardised population (2023) instead of the commune population.
    from zonage.access import accessibility, straight_line_costs
    from zonage.layers.store import territories

    gps = read_layer(paths, "gp_supply", columns=["insee", "gp_count"]).set_index("insee")["gp_count"]
    frames = []
    for territory in territories(paths, "communes"):
        communes = read_layer(paths, "communes", territory=territory, columns=["insee", "population"])
        communes = communes.set_index("insee", drop=False)
        pop_std = apl["pop_std"].reindex(communes.index).fillna(communes["population"])
        costs = straight_line_costs(points_xy(communes), cutoff=30.0, origin_ids=communes.index)
        result = accessibility(costs, pop_std.rename("pop_std"), gps.reindex(communes.index).fillna(0).astype(float),
                               decay=drees(), cutoff=30.0)
        frames.append(pd.DataFrame({"insee": communes.index, "access": result["access"].to_numpy()}))
    out["demand = DREES standardised population 2023"] = corr(pd.concat(frames))

    # The speed model against real road times: Alpes-Maritimes IRIS→IRIS OD (≤ 30 min), as commune pairs.
    mirror = Path(os.environ.get("ZONAGE_MIRROR", "../shared/data"))
    od = pd.read_csv(mirror / "access06" / "od_iris_06_km_min_le30.csv")
    for side in ("IRIS1", "IRIS2"):
        od["c" + side[-1]] = od[side].astype(str).str.zfill(9).str[:5]
    pairs = od[od["c1"] != od["c2"]].groupby(["c1", "c2"]).agg(minutes=("TIME", "median"), km=("KM", "median"))
    pairs = pairs.reset_index()
    communes = read_layer(paths, "communes", territory="metro", columns=["insee", "departement"])
    communes = communes[communes["departement"].isin(["04", "06", "83"])].set_index("insee")
    xy = pd.DataFrame(points_xy(communes), index=communes.index, columns=["x", "y"])
    pairs = pairs[pairs["c1"].isin(xy.index) & pairs["c2"].isin(xy.index)]
    crow = np.hypot(xy.loc[pairs["c1"], "x"].to_numpy() - xy.loc[pairs["c2"], "x"].to_numpy(),
                    xy.loc[pairs["c1"], "y"].to_numpy() - xy.loc[pairs["c2"], "y"].to_numpy())
    ours = StraightLine().cost(crow)
    road = pairs["minutes"].to_numpy(dtype=float)
    bands = {}
    for lo, hi in ((0, 10), (10, 15), (15, 20), (20, 30)):
        sel = (road > lo) & (road <= hi)
        bands[f"{lo}-{hi}"] = {"pairs": int(sel.sum()), "median_ours": float(np.median(ours[sel])),
                               "median_road": float(np.median(road[sel]))}
    out["road_check_06"] = {
        "commune_pairs": len(pairs), "median_detour": float(np.median(pairs["km"].to_numpy() / (crow / 1000))),
        "median_road_speed_kmh": float(np.median(pairs["km"] / (pairs["minutes"] / 60))),
        "pearson": float(np.corrcoef(road, ours)[0, 1]), "mean_ours_minus_road": float(np.mean(ours - road)),
        "by_road_band": bands,
    }
    out["peak_rss_mib"] = _peak_mib()
    return out


def _best(function, repeat: int):
    """(result, best wall time, best CPU time) in seconds over ``repeat`` runs."""
    best, best_cpu, result = np.inf, np.inf, None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return result, best, best_cpu


def _child(part: str, *extra: str) -> dict:
    result = subprocess.run([sys.executable, __file__, "--part", part, *extra], check=True, capture_output=True,
                            text=True, env=os.environ)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["ours", "pysal", "sensitivity"])
    parser.add_argument("--pysal-scope", default="france", help="france or region:CODE")
    parser.add_argument("--skip-sensitivity", action="store_true")
    args = parser.parse_args()
    if args.part == "ours":
        print(json.dumps(part_ours(), default=str))
        return
    if args.part == "pysal":
        print(json.dumps(part_pysal(args.pysal_scope), default=str))
        return
    if args.part == "sensitivity":
        print(json.dumps(part_sensitivity(), default=str))
        return
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ours = _child("ours")
    print(f"national run (zonage access): {ours['communes']:,} communes, {ours['pairs']:,} pairs ≤ 30 min")
    steps = json.dumps({k: round(v, 2) for k, v in ours["full_run_timings"].items()})
    print(f"  full run {ours['full_run_s']:.2f} s {steps}")
    print(f"  engine (costs + E2SFCA), best of 3: {ours['engine_best_s']:.2f} s (costs {ours['engine_costs_s']:.2f} s, "
          f"E2SFCA {ours['engine_fca_s']:.2f} s); peak RSS {ours['peak_rss_mib']:.0f} MiB")
    comparison = pd.DataFrame(ours["comparison"])
    print(comparison.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    pysal = _child("pysal", "--pysal-scope", args.pysal_scope)
    print(f"PySAL access on identical inputs ({pysal['scope']}: {pysal['origins']:,} origins, "
          f"{pysal['pairs']:,} pairs); peak RSS {pysal['peak_rss_mib']:.0f} MiB")
    for label in ("drees steps", "luo-qi steps"):
        r = pysal[label]
        print(f"  E2SFCA {label}: ours {r['ours_s']:.2f} s (best of 5), PySAL {r['pysal_s']:.1f} s (best of 2), "
              f"speed-up {r['speedup']:.0f}x (CPU time: ours {r['ours_cpu_s']:.2f} s, PySAL {r['pysal_cpu_s']:.1f} s, "
              f"{r['speedup_cpu']:.0f}x), max relative difference {r['max_rel_diff']:.2e} "
              f"(non-finite in PySAL: {r['non_finite_pysal']})")
    print(f"load average after the timed parts: {os.getloadavg()[0]:.1f}")
    if not args.skip_sensitivity:
        sens = _child("sensitivity")
        print("sensitivity (DREES APL 2023, commune level, France: n, Pearson, Spearman):")
        for key, value in sens.items():
            if key not in ("road_check_06", "peak_rss_mib"):
                print(f"  {key}: n={value[0]}, r={value[1]:.3f}, rho={value[2]:.3f}")
        print("speed model vs Alpes-Maritimes road times:", json.dumps(sens["road_check_06"], indent=1))


if __name__ == "__main__":
    main()
