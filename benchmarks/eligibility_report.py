"""Figures of the eligibility engine on real data for BENCHMARKS.md (not a timing).

Usage::

    ZONAGE_DATA=<built data> ZONAGE_MIRROR=../shared/data python benchmarks/eligibility_report.py \
        [--region 44] [--date 2025-03-01] [--before rows_of_an_earlier_version.csv]

Prints (1) the kind of structure of every FINESS centre de santé (category 124) of the
national extract, by kind and basis; (2) the région's batch (its FINESS centres de santé,
MSP and hospitals) per scheme and status at the date given, and ``statut_mg``; (3) with
``--before`` (the per-row CSV an earlier version wrote, one ``statut_<scheme>`` column per
scheme, keyed by ``finess``), how many verdicts changed per scheme and the transitions.
"""

from __future__ import annotations

import argparse
from datetime import date

import pandas as pd

from zonage.config import resolve_paths
from zonage.layers.store import read_layer
from zonage.rules.kinds import classify
from zonage.studies.eligibility import eligibility_of_region


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", default="44")
    parser.add_argument("--date", default="2025-03-01")
    parser.add_argument("--before", default=None)
    args = parser.parse_args()
    paths = resolve_paths()
    finess = read_layer(paths, "finess", columns=["nofinesset", "categetab", "codeape", "rs", "dep"])
    centres = finess[finess["categetab"] == "124"]
    kinds = classify(category=centres["categetab"], ape=centres["codeape"], name=centres["rs"])
    print(f"FINESS centres de santé (124): {len(centres)}")
    print(pd.crosstab(kinds["type"], kinds["type_source"], margins=True).to_string())

    on = date.fromisoformat(args.date)
    _, result = eligibility_of_region(paths, args.region, on=on)
    print(f"\nrégion {args.region}, date {on}: {len(result.rows)} structures")
    print(result.summary().to_string())
    print("statut_mg:", result.summary_gp().to_dict())
    print("kinds:", result.rows["type_structure"].value_counts().to_dict())

    if args.before:
        before = pd.read_csv(args.before, dtype=str).set_index("finess")
        after = result.rows.set_index("finess")
        common = before.index.intersection(after.index)
        print(f"\nverdicts compared with {args.before}: {len(common)} structures in both")
        for column in [c for c in after.columns if c.startswith("statut_") and c != "statut_mg"]:
            if column not in before.columns:
                continue
            old = before.loc[common, column].fillna("error")
            new = after.loc[common, column].astype(str)
            changed = old != new
            print(f"{column}: {int(changed.sum())} changed")
            if changed.any():
                print(pd.crosstab(old[changed].rename("before"), new[changed].rename("after")).to_string())
        if "status" in before.columns:
            print("row status before:", before["status"].value_counts().to_dict())


if __name__ == "__main__":
    main()
