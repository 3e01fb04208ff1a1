"""Zoning simulation (2017–2024 method) against the official 2022 regional zonings.

Usage: ``ZONAGE_DATA=data python benchmarks/bench_zoning_simulation.py`` after ``zonage build``
(``--region 44 --region 28`` for the confusion matrices of chosen régions; default 44 and 28).

Prints, with the packaged defaults: the agreement per région and nationally (by communes
and by population, three-way ZIP/ZAC/HZ with ZAR compared as HZ, and two-way "zoned or
not"), the national and regional confusion matrices, where the disagreements come from
(which branch of the method), then the same national figures for variants that isolate
the sources of disagreement:

* ``vivier_fill=skip`` (fill the cap with smaller territories after a large one failed);
* oracle caps: each région's cap = its official ZIP population share (what is left is
  which territories, not how many);
* APL 2023 instead of 2022; APL of all GPs instead of GPs aged ≤ 65;
* the 5 % margin on;
* communes as territories (no TVS proxy);
* the ceiling of any BV2012-level zoning: the share of communes (population) whose
  official class is their BV2012's majority class.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from zonage.config import resolve_paths
from zonage.priority import compare_zoning, confusion_matrix, load_config, simulate_zoning
from zonage.studies.territories import load_inputs, load_official

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)


def pct(frame: pd.DataFrame) -> pd.DataFrame:
    """Shares as percentages with one decimal."""
    out = frame.copy()
    for column in out.columns:
        if column.startswith("share") or column.endswith("_share"):
            out[column] = (100 * out[column]).round(1)
    return out


def run(paths, overrides=None, inputs=None, official=None):
    """Simulate and compare with the given parameter overrides; returns (config, simulation, comparison, seconds)."""
    start = time.perf_counter()
    config = load_config(overrides=overrides)
    if inputs is None or config.apl_year != inputs.apl_year or config.apl_column != inputs.apl_column \
            or config.simulation.territory != "bv2012":
        inputs = load_inputs(paths, config)
    simulation = simulate_zoning(inputs, config)
    comparison = compare_zoning(simulation, official if official is not None else load_official(paths),
                                config.class_map)
    return config, simulation, comparison, time.perf_counter() - start


def ceiling(inputs, official: pd.DataFrame, class_map) -> pd.DataFrame:
    """Best agreement any BV2012-level zoning could reach: each commune gets its BV's majority official class."""
    units = inputs.units[["code", "region", "bv2012", "population"]].copy()
    units["official"] = units["code"].map(official.drop_duplicates("code").set_index("code")["classe"])
    units["official"] = units["official"].fillna("unknown").replace(dict(class_map))
    units = units[units["official"] != "unknown"]
    weight = units.groupby(["bv2012", "official"])["population"].sum().reset_index()
    majority = weight.sort_values(["bv2012", "population"], ascending=[True, False]).drop_duplicates("bv2012")
    units["best"] = units["bv2012"].map(majority.set_index("bv2012")["official"])
    units["agree"] = units["best"] == units["official"]
    both = pd.concat([units, units.assign(region="all")])
    both["pop_agree"] = both["population"].where(both["agree"], 0.0)
    g = both.groupby("region")
    return pd.DataFrame({"share_units": g["agree"].mean(), "share_population": g["pop_agree"].sum()
                         / g["population"].sum()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", action="append", help="régions whose confusion matrix is printed")
    args = parser.parse_args()
    regions = args.region or ["44", "28"]
    paths = resolve_paths()

    start = time.perf_counter()
    config = load_config()
    inputs = load_inputs(paths, config)
    official = load_official(paths)
    loaded = time.perf_counter() - start
    _, simulation, comparison, seconds = run(paths, inputs=inputs, official=official)
    print(f"inputs loaded in {loaded:.1f}s; national simulation + comparison in {seconds:.2f}s")
    print(f"APL {config.apl_column} {config.apl_year}; TVS proxy {config.simulation.territory}; cap default "
          f"{config.simulation.cap_default:.1%}, overrides {dict(config.simulation.caps)}; fill "
          f"{config.simulation.vivier_fill}; margin {'on' if config.simulation.margin_enabled else 'off'}")
    print()
    print("territories by branch and class:")
    print(pd.crosstab(simulation.territories["branch"], simulation.territories["classe"]).to_string())
    print()
    columns = ["n_units", "share_units", "share_population", "share_units_zoned", "share_population_zoned",
               "official_zip_share", "simulated_zip_share", "n_excluded"]
    agreement = comparison.agreement.set_index("region")
    names = simulation.regions.set_index("region")["region_nom"]
    table = pct(agreement[columns])
    table.insert(0, "name", table.index.map(names).fillna(""))
    print("agreement (shares in %; ZAR and ZV compared as HZ; 'zoned' = ZIP or ZAC vs not):")
    print(table.to_string())
    print()
    for scope in ["all", *regions]:
        for value in ("n_units", "population"):
            matrix = confusion_matrix(comparison.confusion, scope, value)
            print(f"confusion matrix, {scope}, {value.replace('n_units', 'communes')}:")
            print(matrix.round(0).astype("int64").to_string())
            print()

    table = comparison.table[comparison.table["comparable"]]
    kinds = table.assign(kind=table["simulated"] + "→" + table["official"])
    kinds = kinds[~kinds["agree"]]
    print("disagreements by branch of the method (communes; population in thousands):")
    summary = kinds.groupby(["branch", "kind"]).agg(communes=("code", "size"),
                                                    population_k=("population", "sum"))
    summary["population_k"] = (summary["population_k"] / 1000).round(0).astype("int64")
    print(summary.sort_values("communes", ascending=False).to_string())
    print()

    variants = {
        "default": None,
        "vivier_fill=skip": {"simulation": {"vivier_fill": "skip"}},
        "oracle caps (official ZIP share)": {"simulation": {"caps": {"regions": {
            r: float(min(max(v, 0.0), 1.0)) for r, v in agreement["official_zip_share"].items() if r != "all"}}}},
        "APL 2023": {"data": {"apl_year": 2023}},
        "APL all GPs (not ≤ 65)": {"data": {"apl_column": "apl"}},
        "5 % margin on": {"simulation": {"margin": {"enabled": True}}},
        "communes as territories": {"simulation": {"territory": "commune"}},
    }
    rows = []
    for name, overrides in variants.items():
        _, _, comp, secs = run(paths, overrides, inputs, official)
        a = comp.agreement.set_index("region")
        row = {"variant": name}
        for scope in ["all", *regions]:
            row[f"{scope} units"] = round(100 * a.loc[scope, "share_units"], 1)
            row[f"{scope} pop."] = round(100 * a.loc[scope, "share_population"], 1)
        row["all zoned pop."] = round(100 * a.loc["all", "share_population_zoned"], 1)
        row["seconds"] = round(secs, 2)
        rows.append(row)
    best = ceiling(inputs, official, config.class_map)
    row = {"variant": "ceiling of a BV2012 zoning"}
    for scope in ["all", *regions]:
        row[f"{scope} units"] = round(100 * best.loc[scope, "share_units"], 1)
        row[f"{scope} pop."] = round(100 * best.loc[scope, "share_population"], 1)
    rows.append(row)
    print("variants (agreement %, three classes; 'zoned' = two-way):")
    print(pd.DataFrame(rows).set_index("variant").to_string())


if __name__ == "__main__":
    main()
