"""Prioritisation judged outside its own model (issue #12): figures for BENCHMARKS.md.

Usage::

    ZONAGE_DATA=<built data> ZONAGE_MIRROR=../shared/data python benchmarks/bench_prioritisation.py \
        [--region 44 --region 28] [--posts 10 --posts 40 --posts 100] [--objective shortfall_squared] \
        [--exact] [--date 2025-03-01] [--max-per-structure 1]

For each région and number of posts: the eligible structures of the région (FINESS centres
de santé, MSP and hospitals, as the post's practice site, on ``--date``), the official DREES
APL 2023 (GPs ≤ 65) as baseline, and the six travel models of the ensemble. For each model
in turn, the plan is optimised on the five others (mean objective) and the naive rule
("fund the lowest-APL territory first, at its structure with the largest catchment") is run
with the same constraints (one post per structure); both plans are then judged on the
held-out model alone on three measures: consultations a year reaching people under 4, the
reduction of Σ pop_std × (4 − APL)₊², and the standardised inhabitants lifted over 2.5.
Printed: the mean and the minimum over held-out models of the ratio plan / naive, per measure.

``--exact``: the greedy's gap to the exact optimum (MILP, HiGHS) on the reference model and
on the whole ensemble, for the configured objective.

``--road-times``: also judge the plan (optimised on all six straight-line models) and the naive
rule on the real road times of the Alpes-Maritimes (``$ZONAGE_MIRROR/access06``, testing use only:
see ``benchmarks/road_times.py``), straight lines elsewhere; meaningful for PACA (``--region 93``).
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import pandas as pd

from zonage.config import resolve_paths
from zonage.priority import load_config
from zonage.priority.allocation import Constraints, allocate, naive_allocation, split_posts, stack_problems
from zonage.priority.ensemble import ensemble_by_name
from zonage.studies.eligibility import eligibility_of_region
from zonage.studies.prioritisation import MEASURES, model_problems, objective_for, out_of_model, region_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", action="append")
    parser.add_argument("--posts", action="append", type=int)
    parser.add_argument("--objective", default=None)
    parser.add_argument("--date", default="2025-03-01")
    parser.add_argument("--exact", action="store_true")
    parser.add_argument("--max-per-structure", type=int, default=None)
    parser.add_argument("--road-times", action="store_true")
    args = parser.parse_args()
    regions = args.region or ["44", "28"]
    sizes = args.posts or [10, 40, 100]
    allocation: dict[str, object] = {}
    if args.objective:
        allocation["objective"] = args.objective
    if args.max_per_structure is not None:
        allocation["max_per_structure"] = args.max_per_structure
    config = load_config(overrides={"allocation": allocation} if allocation else None)
    paths = resolve_paths()
    models = list(ensemble_by_name(config.allocation.models))
    names = [m.name for m in models]
    rows_out = []
    for region in regions:
        rows = eligibility_of_region(paths, region, on=date.fromisoformat(args.date))[1].rows
        for n in sizes:
            posts = split_posts(n, config.allocation.schemes)
            inputs = region_inputs(paths, region, config, posts, candidates=rows, models=models)
            goal = objective_for(config, inputs)
            problems = model_problems(inputs, config, goal, models)
            constraints = Constraints(posts, max_per_structure=config.allocation.max_per_structure or None)
            started = time.perf_counter()
            table = out_of_model(problems, names, constraints, inputs.territories["apl"], goal)
            seconds = time.perf_counter() - started
            greedy = table[table["rule"] == "greedy"]
            line = {"region": region, "posts": n, "candidates": len(inputs.candidates), "seconds": round(seconds, 2)}
            for m in MEASURES:
                line[f"{m}_mean"] = round(float(greedy[f"{m}_ratio"].mean()), 3)
                line[f"{m}_min"] = round(float(greedy[f"{m}_ratio"].min()), 3)
            if args.road_times:
                line.update(_judged_on_roads(paths, inputs, config, goal, problems, models, constraints))
            rows_out.append(line)
            print(pd.DataFrame([line]).to_string(index=False), flush=True)
            if args.exact:
                from zonage.priority.milp import solve_exact

                for label, problem in (("reference", problems[0]), ("ensemble", stack_problems(problems, goal))):
                    t0 = time.perf_counter()
                    plan = allocate(problem, constraints, check_engine=False)
                    greedy_s = time.perf_counter() - t0
                    exact = solve_exact(problem, constraints, time_limit=300)
                    naive = naive_allocation(problem, constraints, inputs.territories["apl"])
                    print(f"  exact {label}: greedy {plan.gain:,.1f} in {greedy_s:.2f} s; MILP solution "
                          f"{exact.gain:,.1f}, upper bound {exact.upper:,.1f} ({exact.status}) in "
                          f"{exact.seconds:.1f} s; greedy ≥ {plan.gain / exact.upper:.4%} of the optimum; "
                          f"naive {naive.gain:,.1f}: greedy / naive {plan.gain / naive.gain:.3f}, optimum / naive "
                          f"≤ {exact.upper / naive.gain:.3f}; {exact.variables:,} variables, {exact.rows:,} tangent "
                          "rows", flush=True)
    print()
    print(pd.DataFrame(rows_out).to_string(index=False))


def _judged_on_roads(paths, inputs, config, goal, problems, models, constraints) -> dict:
    """Plan (all six models) and naive rule judged on real road times where the 06 table covers."""
    from road_times import commune_road_times, road_problem

    from zonage.studies.prioritisation import plan_measures

    road, covered = commune_road_times(paths.mirror / "access06")
    problem, coverage = road_problem(inputs, config, goal, models[0], road, covered)
    stacked = stack_problems(problems, goal)
    greedy = allocate(stacked, constraints, check_engine=False)
    naive = naive_allocation(stacked, constraints, inputs.territories["apl"])
    ours = plan_measures(problem, greedy.posts.sum(axis=1).to_numpy(dtype="float64"))
    theirs = plan_measures(problem, naive.posts.sum(axis=1).to_numpy(dtype="float64"))
    out = dict(coverage)
    for m in MEASURES:
        out[f"{m}_roads"] = round(ours[m] / theirs[m], 3) if theirs[m] > 0 else float("nan")
    in_06 = inputs.candidates["insee"].astype(str).isin(covered)
    out["posts_in_covered"] = int(greedy.posts.sum(axis=1)[in_06.to_numpy()].sum())
    out["naive_posts_in_covered"] = int(naive.posts.sum(axis=1)[in_06.to_numpy()].sum())
    return out


if __name__ == "__main__":
    main()
