"""Post allocation (issue 6): 40 posts in Grand Est and Normandie, greedy against the naive rule.

Usage: ``ZONAGE_DATA=data ZONAGE_MIRROR=../shared/data python benchmarks/bench_allocation.py``
after ``zonage build`` (``--region 44 --region 28`` by default; ``--repeat 3``).

For each région:

* the wall time of the whole run as the command line does it (``prioritise`` including
  the eligibility of every centre de santé, MSP and hospital of the région), then the
  allocation alone (eligibility rows given) ``--repeat`` times, with the time of each stage;
* the objective before, the gain of the greedy and of the naive rule "lowest APL first",
  their ratio, the share of the gap closed, the certified share of the optimum (online
  bound) and the gain evaluations of the lazy greedy against the plain greedy's;
* brute force on real sub-cases: for each of the 5 candidates with the best first-post
  gain, the 8 candidates sharing its catchment, 3 posts of 1, 3, 5 or 10 FTE, three
  constraint sets (one count; one post per structure; 2 volet 1 + 1 volet 2);
* variants: one post per structure, at least 2 per département, a budget with volet 2
  costing 1.5, the DREES APL as baseline, the naive rule sorted on the engine's
  accessibility, "needs review" structures admitted.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from zonage.config import resolve_paths
from zonage.priority import load_config
from zonage.priority.allocation import Constraints, allocate, exact_allocation, prioritise
from zonage.workflows import eligibility_of_region

POSTS = {"400mg_volet1": 20, "400mg_volet2": 20}
VARIANTS = {
    "default (no cap)": {},
    "one post per structure": {"max_per_structure": 1},
    "≥ 2 per département": {"min_per_departement": 2},
    "≥ 2 per département, one per structure": {"min_per_departement": 2, "max_per_structure": 1},
    "budget 45, volet 2 costs 1.5": {"budget": 45.0, "costs": {"schemes": {"400mg_volet2": 1.5}}},
    "baseline = DREES APL 2022": {"baseline": "drees"},
    "naive sorted on engine accessibility": {"naive_apl": "engine"},
    "statuses eligible + needs_review": {"statuses": ["eligible", "needs_review"]},
}


def line(name: str, s: dict) -> str:
    """One row of the variants table (Markdown)."""
    return (f"| {name} | {s['gain_greedy']:,.0f} | {s['gain_naive']:,.0f} | {s['gain_ratio']:.2f} | "
            f"{100 * s['gap_closed_greedy']:.1f} % | {100 * s['gap_closed_naive']:.1f} % | "
            f"{100 * s['greedy_share_of_bound']:.1f} % | {s['population_helped_greedy']:,.0f} | "
            f"{s['population_helped_naive']:,.0f} | {s['timings_s']['greedy']:.2f} s |")


def main() -> None:
    """Run the benchmark and print Markdown tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--region", action="append")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = resolve_paths()
    for region in args.region or ["44", "28"]:
        start = time.perf_counter()
        full = prioritise(paths, region, POSTS)
        wall = time.perf_counter() - start
        s = full.summary
        print(f"\n## {region} {s['region_name']}: 40 posts (20 volet 1 + 20 volet 2)")
        print(f"whole run (eligibility of {s['candidates'] + sum(s['candidates_dropped'].values())} structures "
              f"+ allocation): {wall:.1f} s; stages: "
              + ", ".join(f"{k} {v:.2f} s" for k, v in s["timings_s"].items()))
        rows = eligibility_of_region(paths, region)[1].rows
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            run = prioritise(paths, region, POSTS, candidates=rows)
            times.append(time.perf_counter() - t0)
        s = run.summary
        print(f"allocation alone (rows given), {args.repeat} runs: " + ", ".join(f"{t:.2f} s" for t in times)
              + f"; greedy {s['timings_s']['greedy']:.3f} s, naive {s['timings_s']['naive']:.3f} s")
        print(f"candidates {s['candidates']} ({s['candidates_per_scheme']}); units {s['units']} "
              f"({s['communes_in_region']} in the région); population under {s['settings']['threshold']:g}: "
              f"{s['population_under_threshold']:,.0f} / {s['population_region']:,.0f}; mean accessibility "
              f"{s['mean_access_before']:.2f}")
        print(f"objective before {s['objective_before']:,.0f}; gap {s['gap_before']:,.0f} consultations/year")
        print(f"greedy gain {s['gain_greedy']:,.0f} ({100 * s['gap_closed_greedy']:.1f} % of the gap), naive "
              f"{s['gain_naive']:,.0f} ({100 * s['gap_closed_naive']:.1f} %), ratio {s['gain_ratio']:.2f}; bound "
              f"{s['upper_bound']:,.0f} → greedy ≥ {100 * s['greedy_share_of_bound']:.1f} % of the optimum; "
              f"gain evaluations {s['evaluations']:,} (plain greedy {s['evaluations_plain_greedy']:,}); engine "
              f"check max diff {s['engine_max_diff']:.1e}; structures used {run.picks['candidate'].nunique()}")
        problem = run.problem
        gains = problem.gains(np.arange(len(problem.candidates)), problem.access)
        ratios = []
        for size in (1, 3, 5, 10):
            for start in np.argsort(-gains, kind="stable")[:5]:
                near = problem.overlapping(int(start))
                near = near[np.argsort(-gains[near], kind="stable")][:8]
                sub = dataclasses.replace(problem.subset(near), capacity=problem.capacity * size)
                for constraints in (Constraints({"400mg_volet1": 3}),
                                    Constraints({"400mg_volet1": 3}, max_per_structure=1),
                                    Constraints({"400mg_volet1": 2, "400mg_volet2": 1})):
                    g, e = allocate(sub, constraints), exact_allocation(sub, constraints)
                    ratios.append((size, g.gain / e.gain if e.gain else 1.0, g.bound >= e.gain - 1e-6))
        table = np.array([(size, ratio) for size, ratio, _ in ratios])
        print(f"brute force on {len(ratios)} real sub-cases (the 8 candidates sharing the catchment of each of the 5 "
              "best, 3 posts, posts of 1/3/5/10 FTE, three constraint sets): greedy optimal in "
              f"{int((table[:, 1] > 1 - 1e-9).sum())}, worst greedy/exact {table[:, 1].min():.4f}; per size "
              + ", ".join(f"{int(k)} FTE {table[table[:, 0] == k, 1].min():.4f}" for k in (1, 3, 5, 10))
              + f"; online bound ≥ exact in all: {all(ok for *_, ok in ratios)}")
        print("\n| variant | greedy gain | naive gain | ratio | gap closed (greedy) | gap closed (naive) | "
              "≥ share of optimum | pop. helped (greedy) | pop. helped (naive) | greedy time |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, overrides in VARIANTS.items():
            config = load_config(overrides={"allocation": overrides})
            variant = prioritise(paths, region, POSTS, candidates=rows, config=config)
            print(line(name, variant.summary))


if __name__ == "__main__":
    main()
