"""Real road times of the Alpes-Maritimes (06) as a travel model a plan was not optimised on.

The mirror's ``access06/od_iris_06_km_min_le30.csv`` (IRIS → IRIS road times ≤ 30 min,
repository cyrilvincent/skema, **no licence: testing only**, which is why this lives in
``benchmarks/`` and not in the package) is aggregated to communes: the time between two
communes is the mean of their IRIS pairs' times weighted by the IRIS' GP demand
(``POPGP`` of ``rgp_iris_06_2022_popgp_nb_R.csv``, the same study's demand). Two covered
communes without any pair in the table are more than 30 minutes apart. Pairs with an end
outside the covered communes keep the straight-line reference model: the hybrid model is
"real roads where the table has them".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zonage.access.costs import od_costs, straight_line_costs
from zonage.priority.allocation import AllocationProblem, make_problem
from zonage.priority.ensemble import TravelModel
from zonage.priority.objectives import Objective
from zonage.studies.prioritisation import RegionInputs


def _commune(iris: pd.Series) -> pd.Series:
    return iris.astype(str).str.zfill(9).str[:5]


def commune_road_times(folder: Path) -> tuple[pd.DataFrame, set[str]]:
    """``origin``, ``destination`` (INSEE), ``cost`` (minutes) between covered communes, and the covered set."""
    od = pd.read_csv(folder / "od_iris_06_km_min_le30.csv", dtype={"IRIS1": str, "IRIS2": str})
    units = pd.read_csv(folder / "rgp_iris_06_2022_popgp_nb_R.csv", dtype={"IRIS1": str})
    weight = units.set_index("IRIS1")["POPGP"].astype("float64").clip(lower=1e-6)
    covered = set(_commune(units["IRIS1"]))
    w = weight.reindex(od["IRIS1"]).to_numpy() * weight.reindex(od["IRIS2"]).to_numpy()
    w = np.where(np.isfinite(w), w, 0.0)
    frame = pd.DataFrame({"origin": _commune(od["IRIS1"]), "destination": _commune(od["IRIS2"]),
                          "wt": w * od["TIME"].to_numpy(dtype="float64"), "w": w})
    frame = frame[frame["origin"].isin(covered) & frame["destination"].isin(covered) & (frame["w"] > 0)]
    sums = frame.groupby(["origin", "destination"], as_index=False)[["wt", "w"]].sum()
    sums["cost"] = sums["wt"] / sums["w"]
    return sums[["origin", "destination", "cost"]], covered


def road_problem(inputs: RegionInputs, a_config, goal: Objective, reference: TravelModel,
                 road: pd.DataFrame, covered: set[str]) -> tuple[AllocationProblem, dict[str, float]]:
    """The allocation problem of ``inputs`` under real road times where covered, ``reference`` elsewhere.

    Returns the problem and coverage figures (covered share of the région's demand, candidates covered,
    unit–candidate pairs taken from the road table).
    """
    a = a_config.allocation
    units = inputs.units.index.astype(str)
    cands = inputs.candidates
    cand_commune = cands["insee"].astype(str)
    straight = straight_line_costs(inputs.points[reference.point], inputs.candidate_xy, cutoff=reference.cutoff,
                                   model=reference.straight_line(), origin_ids=inputs.units.index,
                                   destination_ids=cands.index).to_frame()
    o_cov = straight["origin"].astype(str).isin(covered).to_numpy()
    d_cov = cand_commune.reindex(straight["destination"]).isin(covered).to_numpy()
    kept = straight[~(o_cov & d_cov)]
    in_units = [u for u in units if u in covered]
    in_cands = cands.index[cand_commune.isin(covered).to_numpy()]
    pairs = pd.DataFrame({"origin": np.repeat(in_units, len(in_cands)),
                          "destination": np.tile(in_cands.to_numpy(), len(in_units))})
    pairs["dest_commune"] = cand_commune.reindex(pairs["destination"]).to_numpy()
    pairs = pairs.merge(road.rename(columns={"destination": "dest_commune"}), on=["origin", "dest_commune"])
    table = pd.concat([kept[["origin", "destination", "cost"]], pairs[["origin", "destination", "cost"]]],
                      ignore_index=True)
    table["origin"] = table["origin"].astype(str)
    costs = od_costs(table, cutoff=reference.cutoff, origins=inputs.units.index.astype(str),
                     destinations=cands.index)
    frame = pd.DataFrame(cands.drop(columns="geometry"))
    demand = inputs.demand.copy()
    demand.index = demand.index.astype(str)
    baseline, scope, population = (s.copy() for s in (inputs.baseline, inputs.scope, inputs.population))
    for s in (baseline, scope, population):
        s.index = s.index.astype(str)
    problem = make_problem(costs, demand, frame, schemes=inputs.schemes, threshold=a.threshold,
                           capacity=a.consultations_per_post, access=baseline, scope=scope,
                           population=population, method=a.method, decay=reference.decay_fn(),
                           cutoff=reference.cutoff, statuses=a.statuses).with_goal(goal)
    region_demand = demand[scope.to_numpy()]
    share = float(region_demand[region_demand.index.isin(covered)].sum() / region_demand.sum())
    return problem, {"covered_demand_share": round(share, 3), "candidates_covered": len(in_cands),
                     "road_pairs": len(pairs)}
