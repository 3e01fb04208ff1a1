"""The région study of post allocation: official baseline, travel-model ensemble, honest evaluation.

``prioritise(paths, "44", 40)`` answers "where would the next 40 posts help most?" in a
way a planner can defend:

1. **Before** is the official DREES APL (``allocation.apl_year``, GPs aged 65 or less by
   default), not a model of ours. The travel model supplies only what each post adds:
   with 2SFCA/E2SFCA, a post of ``s`` consultations at site ``j`` adds
   ``ΔA_i = s W_ij / D_j`` to commune ``i`` (``D_j = Σ_k W_kj p_k``), whatever the
   supply elsewhere, so the increment of a post does not depend on the model of the
   existing doctors (tested against a full engine run, to 1e-9).
2. Posts maximise the **mean** of a need-weighted objective
   (:mod:`zonage.priority.objectives`, default the reduction of the squared shortfall
   under 4) over an ensemble of travel models (:mod:`zonage.priority.ensemble`).
3. Every plan — the greedy's and the naive rule's ("fund the lowest-APL territories
   first") — is measured under each model on the three measures; with
   ``out_of_model=True`` each model is in turn left out of the optimisation and the plans
   are judged on it alone: the figure that counts (BENCHMARKS.md).

Engines do not read files; this module is where the région's layers are read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from zonage.access.costs import points_xy, straight_line_costs
from zonage.access.decay import parse_decay
from zonage.access.methods import accessibility
from zonage.config import Paths
from zonage.crs import TERRITORY_CRS
from zonage.errors import ZonageError
from zonage.numbers import french_number
from zonage.priority.allocation import (
    Allocation,
    AllocationProblem,
    Constraints,
    allocate,
    make_problem,
    naive_allocation,
    split_posts,
    stack_problems,
)
from zonage.priority.config import AllocationConfig, PriorityConfig, load_config
from zonage.priority.ensemble import TravelModel, ensemble_by_name
from zonage.priority.objectives import Objective, make_objective, measures, rooms_of
from zonage.regions import require_region

__all__ = ["MEASURES", "Prioritisation", "RegionInputs", "model_problems", "out_of_model", "prioritise",
           "region_inputs"]

#: The three measures every plan is judged on (gains; see :func:`zonage.priority.objectives.measures`).
MEASURES: tuple[str, ...] = ("consultations_under", "shortfall_squared", "lifted")
MEASURE_FR: Mapping[str, str] = {
    "consultations_under": "consultations atteignant des personnes sous le seuil",
    "shortfall_squared": "réduction du déficit quadratique",
    "lifted": "habitants standardisés portés au-dessus de 2,5",
}

Progress = Callable[[str, int, int | None], None]
_CANDIDATE_COLUMNS = ["finess", "nom", "categetab", "libcategetab", "type_structure", "insee", "commune_nom",
                      "classe", "qpv2024"]


@dataclass
class RegionInputs:
    """What a région's allocation is computed from (read once, reused by every model and rule)."""

    region: str
    region_name: str
    units: gpd.GeoDataFrame
    points: dict[str, np.ndarray]
    candidates: gpd.GeoDataFrame
    candidate_xy: np.ndarray
    demand: pd.Series
    population: pd.Series
    baseline: pd.Series
    baseline_label: str
    scope: pd.Series
    territories: pd.DataFrame
    level_column: str
    dropped: dict[str, int]
    schemes: list[str]


def _near(points: np.ndarray, targets: np.ndarray, radius: float) -> np.ndarray:
    """Which of ``points`` lie within ``radius`` metres of some target."""
    if len(targets) == 0:
        return np.zeros(len(points), dtype=bool)
    distance, _ = cKDTree(targets).query(points, distance_upper_bound=radius * (1 + 1e-9) + 1e-6)
    return np.isfinite(distance)


#: Candidates closer than this (metres) are one site: a post there has the same catchment whichever
#: FINESS establishment hosts it (a hospital campus holds several: CH, psychiatric CH, day hospital…).
SITE_METRES = 25.0
_SITE_ORDER = {"603": 0, "124": 1}  # MSP, centre de santé before hospitals when one must stand for the site


def _one_per_site(frame: gpd.GeoDataFrame, schemes: Sequence[str], statuses: Sequence[str],
                  metric_crs: str) -> tuple[gpd.GeoDataFrame, int]:
    """One candidate per site: the establishment eligible for most schemes stands for the others.

    The others are listed in ``meme_site`` ("FINESS nom; …") so that the pick says which
    establishments share the place. Returns the frame and how many were merged.
    """
    if frame.empty:
        return frame.assign(meme_site=pd.Series(dtype="string")), 0
    metric = frame.geometry.to_crs(metric_crs)
    xy = np.column_stack([metric.x.to_numpy(), metric.y.to_numpy()])
    pairs = cKDTree(xy).query_pairs(SITE_METRES, output_type="ndarray")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(frame)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else \
        coo_matrix((n, n))
    _, site = connected_components(graph, directed=False)
    usable = sum(frame[f"statut_{s}"].isin(list(statuses)).to_numpy().astype(int) for s in schemes)
    category = frame["categetab"].astype("string") if "categetab" in frame.columns else pd.Series("", index=frame.index)
    order = pd.DataFrame({"site": site, "usable": -np.asarray(usable),
                          "kind": category.map(_SITE_ORDER).fillna(9).to_numpy(), "pos": np.arange(n)})
    order = order.sort_values(["site", "usable", "kind", "pos"])
    first = order.drop_duplicates("site")["pos"].to_numpy()
    labels = (frame["candidate"].astype(str) + " " + frame.get("nom", pd.Series("", index=frame.index))
              .astype("string").fillna("")).to_numpy()
    others: dict[int, list[str]] = {}
    head = dict(zip(order.drop_duplicates("site")["site"], first, strict=True))
    for pos, s_id in zip(order["pos"], order["site"], strict=True):
        if pos != head[s_id]:
            others.setdefault(head[s_id], []).append(str(labels[pos]))
    kept = frame.iloc[np.sort(first)].copy()
    kept["meme_site"] = pd.array(["; ".join(others.get(p, [])) for p in np.sort(first)], dtype="string")
    return kept, n - len(first)


def _candidates(rows: gpd.GeoDataFrame, schemes: Sequence[str], statuses: Sequence[str], communes: pd.DataFrame,
                region: str, level_column: str,
                exclude_names: Sequence[str] = ()) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Candidate structures of the région from batch rows: one per id, eligible *as the post's site*, with codes.

    A structure is a candidate for a scheme when its status is among ``statuses`` for
    the part of the scheme that carries the zone condition (``role_<scheme>`` equal to
    the scheme's site role): a hospital that can only be the hospital partner of a shared
    post is not a candidate. Names containing a word of ``exclude_names`` are left out.
    """
    from zonage.rules import load_schemes

    if rows.empty:
        raise ZonageError(f"région {region}: no candidate structure to allocate posts to")
    missing = [f"statut_{s}" for s in schemes if f"statut_{s}" not in rows.columns]
    if missing:
        raise ZonageError(f"candidates: no column {', '.join(missing)} (scheme not assessed by the eligibility run)")
    site_roles = {sid: sc.site_role for sid, sc in load_schemes().items()}
    dropped: dict[str, int] = {}
    frame = rows.copy()
    for s in schemes:  # a partner part is not a site for the post
        role = f"role_{s}"
        if role in frame.columns and s in site_roles:
            partner = frame[role].astype("string").fillna(site_roles[s]) != site_roles[s]
            frame.loc[partner.to_numpy(), f"statut_{s}"] = "partner"
    located = frame["insee"].notna() & frame.geometry.notna() & ~frame.geometry.is_empty
    if "status" in frame.columns:
        located &= frame["status"].astype("string").fillna("error") != "error"
    dropped["not located"] = int((~located).sum())
    frame = frame[located.to_numpy()]
    if exclude_names and "nom" in frame.columns:
        from zonage.names import normalise_name, normalise_names

        names = normalise_names(frame["nom"].astype("string").fillna(""))
        words = [normalise_name(w) for w in exclude_names]
        excluded = names.map(lambda n: any(w in n for w in words)).to_numpy(dtype=bool)
        dropped["excluded by name"] = int(excluded.sum())
        frame = frame[~excluded]
    finess = frame["finess"].astype("string") if "finess" in frame.columns else pd.Series(pd.NA, index=frame.index)
    row = frame["row"].astype("string") if "row" in frame.columns else pd.Series(
        np.arange(1, len(frame) + 1), index=frame.index).astype("string")
    ids = finess.where(finess.notna() & (finess.str.strip() != ""), "row" + row)
    frame = frame.assign(candidate=ids.to_numpy())
    duplicated = frame["candidate"].duplicated()
    dropped["repeated structure"] = int(duplicated.sum())
    frame = frame[~duplicated.to_numpy()]
    info = communes.set_index("insee")
    insee = frame["insee"].astype("string")
    frame = frame.assign(
        departement=insee.map(info["departement"].to_dict()).to_numpy(),
        region=insee.map(info["region"].to_dict()).to_numpy(),
        territory=(insee.map(info[level_column].to_dict()) if level_column != "insee" else insee).to_numpy(),
    )
    outside = frame["region"].astype("string").fillna("") != str(region)
    dropped["outside the région"] = int(outside.sum())
    frame = frame[~outside.to_numpy()]
    usable = np.zeros(len(frame), dtype=bool)
    for s in schemes:
        usable |= frame[f"statut_{s}"].isin(list(statuses)).to_numpy()
    dropped["eligible as site for none of the schemes"] = int((~usable).sum())
    frame = frame[usable]
    frame, merged = _one_per_site(frame, schemes, statuses, TERRITORY_CRS[require_region(region).territory])
    dropped["same site as another candidate"] = merged
    for column in _CANDIDATE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    keep = ["candidate", *_CANDIDATE_COLUMNS, "meme_site", "departement", "territory",
            *[f"statut_{s}" for s in schemes], "geometry"]
    out = gpd.GeoDataFrame(frame[keep], geometry="geometry", crs=rows.crs).set_index("candidate")
    out["insee"] = out["insee"].astype("string")
    return out, dropped


def region_inputs(paths: Paths, region: str, config: PriorityConfig, posts: Mapping[str, int], *,
                  candidates: gpd.GeoDataFrame | None = None, on: date | None = None,
                  progress: Progress | None = None, models: Sequence[TravelModel] | None = None) -> RegionInputs:
    """Read a région's layers: communes (région + the buffer any model can reach), candidates, baseline."""
    from zonage.crs import TERRITORY_CRS
    from zonage.layers.store import read_layer
    from zonage.priority.scoring import aggregate_territories
    from zonage.studies.territories import load_inputs

    a: AllocationConfig = config.allocation
    known = require_region(region)
    region, territory = known.code, known.territory
    schemes = list(posts)
    models = list(models or ensemble_by_name(a.models))
    communes = read_layer(paths, "communes", territory=territory, columns=[
        "insee", "nom", "population", "departement", "departement_nom", "region", "region_nom", "bv2012",
        "epci_siren"])
    if not (communes["region"] == region).any():
        raise ZonageError(f"région {region!r} inconnue : donner un code INSEE de région, p. ex. 44 (Grand Est)")
    assert isinstance(communes, gpd.GeoDataFrame)  # the communes layer has geometries
    region_name = str(communes.loc[communes["region"] == region, "region_nom"].iloc[0])
    level_column = {"bv2012": "bv2012", "commune": "insee", "epci": "epci_siren", "departement": "departement"}[
        a.territory]
    if candidates is None:
        from zonage.studies.eligibility import eligibility_of_region

        _, batch = eligibility_of_region(
            paths, region, progress=(lambda done, total: progress("eligibility", done, total)) if progress else None,
            on=on)
        candidates = batch.rows
    if progress:
        progress("layers", 0, None)
    cands, dropped = _candidates(candidates, schemes, a.statuses, communes, region, level_column, a.exclude_names)
    if cands.empty:
        raise ZonageError(
            f"région {region}: no structure is eligible, as the post's site, for {', '.join(schemes)}; if every "
            "answer is 'à vérifier' because no zoning order is loaded for the date, give a date the loaded zoning "
            "covers (--date 2025-05-01) or allow 'needs_review' in allocation.statuses")
    metric = TERRITORY_CRS[territory]
    gdf = communes.to_crs(metric) if communes.crs is None or not communes.crs.equals(metric) else communes
    representative = points_xy(gdf, how="representative")
    centroid = points_xy(gdf, how="centroid")
    cand_xy = points_xy(cands.to_crs(metric))
    radius = max(m.radius_m() for m in models)
    in_region = (gdf["region"] == region).to_numpy()
    sites = _near(representative, representative[in_region], radius) | in_region
    keep = sites | _near(representative, representative[sites], radius) | _near(representative, cand_xy, radius)
    units = gdf[keep].set_index("insee", drop=False)

    apl = read_layer(paths, "apl_communes", columns=["year", "insee", "level", "pop_std", config.apl_column])
    years = sorted(apl["year"].dropna().astype(int).unique())
    year = a.apl_year if a.apl_year in years else (years[-1] if years else a.apl_year)
    apl = apl[(apl["year"] == year) & (apl["level"] == "commune")].drop_duplicates("insee").set_index("insee")
    population = units["population"].astype("float64").fillna(0.0)
    if a.demand == "pop_std":
        demand = apl["pop_std"].reindex(units.index).astype("float64").fillna(population)
    else:
        demand = population
    demand = demand.rename("demand")
    if a.baseline == "drees":
        official = apl[config.apl_column].reindex(units.index).astype("float64")
        engine = _engine_baseline(paths, units, representative[keep], demand, a) if official.isna().any() else None
        baseline = official.fillna(engine) if engine is not None else official
        label = f"APL DREES {year} ({'médecins ≤ 65 ans' if config.apl_column == 'apl_65' else 'tous médecins'})"
    else:
        baseline = _engine_baseline(paths, units, representative[keep], demand, a)
        label = "modèle (BPE 2019, lignes droites)"
    scope = pd.Series(units["region"].to_numpy() == region, index=units.index)

    inputs = load_inputs(paths, config, arrondissements=False)
    s = config.scoring
    terr = aggregate_territories(inputs, a.territory, gap_threshold=s.gap_threshold,
                                 consultations_per_gp=s.consultations_per_gp, density_per=s.density_per)
    codes = units.loc[scope.to_numpy(), level_column].astype("string")
    # a territory across a région border (BV2012 95355 Magny-en-Vexin holds Château-sur-Epte, Eure) is
    # attached to one région by the aggregation; it is the région's too for its communes here
    terr_codes = terr["code"].astype("string")
    foreign = (terr["region"] != region) & terr_codes.isin(set(codes.dropna()))
    terr = terr[(terr["region"] == region) | foreign].set_index("code")[["name", "departement", "population"]]
    if foreign.any():  # their département here: the one of the région's communes in them
        own = units.loc[scope.to_numpy(), ["departement"]].assign(code=codes.to_numpy())
        main_dep = own.groupby("code")["departement"].agg(lambda d: d.mode().iloc[0])
        foreign_codes = pd.Index(terr_codes[foreign.to_numpy()])
        terr.loc[foreign_codes, "departement"] = main_dep.reindex(foreign_codes).to_numpy()
    weights = demand[scope.to_numpy()]
    frame = pd.DataFrame({"code": codes.to_numpy(), "w": weights.to_numpy(),
                          "aw": weights.to_numpy() * baseline[scope.to_numpy()].to_numpy()})
    sums = frame.groupby("code")[["w", "aw"]].sum()
    terr["apl"] = (sums["aw"] / sums["w"].where(sums["w"] > 0)).reindex(terr.index)
    terr["apl_rank"] = terr["apl"].rank(method="min").astype("Int64")
    return RegionInputs(region=region, region_name=region_name, units=units,
                        points={"representative": representative[keep], "centroid": centroid[keep]},
                        candidates=cands, candidate_xy=cand_xy, demand=demand, population=population,
                        baseline=baseline.astype("float64"), baseline_label=label, scope=scope, territories=terr,
                        level_column=level_column, dropped=dropped, schemes=schemes)


def _engine_baseline(paths: Paths, units: gpd.GeoDataFrame, unit_xy: np.ndarray, demand: pd.Series,
                     a: AllocationConfig) -> pd.Series:
    """The engine's accessibility (BPE GPs × consultations per GP, straight lines, the reference model)."""
    from zonage.access.costs import StraightLine
    from zonage.layers.store import read_layer

    gp = read_layer(paths, "gp_supply", columns=["insee", "gp_count"]).groupby("insee")["gp_count"].sum()
    supply = (gp.reindex(units.index).fillna(0.0).astype("float64") * a.consultations_per_gp).rename("supply")
    costs = straight_line_costs(unit_xy, cutoff=a.cutoff, model=StraightLine(), origin_ids=units.index)
    run = accessibility(costs, demand, supply, method=a.method, decay=parse_decay(a.decay), cutoff=a.cutoff)
    return pd.Series(run["access"].to_numpy(), index=units.index)


def model_problems(inputs: RegionInputs, config: PriorityConfig, goal: Objective,
                   models: Sequence[TravelModel]) -> list[AllocationProblem]:
    """One allocation problem per travel model (same candidates, baseline and objective)."""
    a = config.allocation
    frame = pd.DataFrame(inputs.candidates.drop(columns="geometry"))
    out = []
    for model in models:
        costs = straight_line_costs(inputs.points[model.point], inputs.candidate_xy, cutoff=model.cutoff,
                                    model=model.straight_line(), origin_ids=inputs.units.index,
                                    destination_ids=inputs.candidates.index)
        out.append(make_problem(costs, inputs.demand, frame, schemes=inputs.schemes, threshold=a.threshold,
                                capacity=a.consultations_per_post, access=inputs.baseline, scope=inputs.scope,
                                population=inputs.population, method=a.method, decay=model.decay_fn(),
                                cutoff=model.cutoff, statuses=a.statuses).with_goal(goal))
    return out


def objective_for(config: PriorityConfig, inputs: RegionInputs) -> Objective:
    """The configured objective (the ``combined`` one scaled by the région's rooms)."""
    a = config.allocation
    scope = inputs.scope.to_numpy()
    rooms = rooms_of(inputs.demand.to_numpy()[scope], inputs.baseline.to_numpy()[scope], a.threshold)
    return make_objective(a.objective, a.threshold, weights=a.objective_weights, rooms=rooms)


def plan_measures(problem: AllocationProblem, posts: np.ndarray) -> dict[str, float]:
    """The three measures of a plan (posts per candidate) under one single-model problem."""
    scope = problem.scope
    after = problem.access_after(posts)
    return measures(problem.demand[scope], problem.access[scope], after[scope], problem.threshold)


def _posts_vector(allocation: Allocation) -> np.ndarray:
    return allocation.posts.sum(axis=1).to_numpy(dtype="float64")


def out_of_model(problems: Sequence[AllocationProblem], names: Sequence[str], constraints: Constraints,
                 territory_apl: pd.Series, goal: Objective) -> pd.DataFrame:
    """Leave one travel model out: optimise on the others, judge greedy and naive plans on it alone.

    Returns one row per held-out model and rule with the three measures (gains) and, for
    the greedy rule, the ratio to the naive rule's under the same held-out model.
    """
    rows = []
    for k, held in enumerate(problems):
        train = [p for i, p in enumerate(problems) if i != k]
        stacked = stack_problems(train, goal) if len(train) > 1 else train[0]
        greedy = allocate(stacked, constraints, check_engine=False)
        naive = naive_allocation(stacked, constraints, territory_apl)
        for rule, plan in (("greedy", greedy), ("naive", naive)):
            row: dict[str, Any] = {"held_out": names[k], "rule": rule, "posts": plan.n_posts}
            row.update(plan_measures(held, _posts_vector(plan)))
            rows.append(row)
    table = pd.DataFrame(rows)
    naive_rows = table[table["rule"] == "naive"].set_index("held_out")
    for measure in MEASURES:
        table[f"{measure}_ratio"] = [
            (r[measure] / naive_rows.loc[r["held_out"], measure]) if naive_rows.loc[r["held_out"], measure] > 0
            else math.nan for _, r in table.iterrows()]
    return table


@dataclass
class Prioritisation:
    """Result of :func:`prioritise`.

    Attributes
    ----------
    picks, naive
        The greedy's and the naive rule's posts, ranked, explained in French, with the
        structure's point (EPSG:4326).
    summary
        Figures of the run (JSON-friendly): gains, measures per model and their spread,
        the out-of-model evaluation when asked, settings.
    communes, territories
        Accessibility per commune before/after (mean over the models) and posts per
        territory.
    problem
        The stacked problem (all models) the greedy optimised.
    greedy, baseline_rule
        The two allocations.
    evaluation
        Every plan under every model (three measures).
    out_of_model
        Leave-one-model-out table (empty unless asked).
    """

    picks: gpd.GeoDataFrame
    naive: gpd.GeoDataFrame
    summary: dict[str, Any]
    communes: pd.DataFrame
    territories: pd.DataFrame
    problem: AllocationProblem
    greedy: Allocation
    baseline_rule: Allocation
    evaluation: pd.DataFrame = field(default_factory=pd.DataFrame)
    out_of_model: pd.DataFrame = field(default_factory=pd.DataFrame)


_fr = french_number


def _ordinal(rank: object) -> str:
    """``1er``, ``2e``, ``37e`` (``?`` when unknown)."""
    try:
        value = int(rank)  # type: ignore[call-overload]
    except (TypeError, ValueError):  # None, NA
        return "?"
    return "1er" if value == 1 else f"{value}e"


def _short_fr(scheme_id: str) -> str:
    """The scheme's short French name (``400 MG volet 2``), its id when unknown."""
    from zonage.rules import load_schemes

    scheme = load_schemes().get(str(scheme_id))
    return scheme.short_fr if scheme is not None and scheme.short_fr else str(scheme_id)


def _explain(row: pd.Series, threshold: float, label: str, goal: str) -> str:
    """One French sentence per post: what it is, where, the official APL of its territory before → after."""
    zone = str(row["classe"]) if pd.notna(row["classe"]) else "?"
    if pd.notna(row.get("qpv2024")):
        zone += f", QPV {row['qpv2024']}"
    territory = ""
    if pd.notna(row.get("territory")):
        territory = (f" ; bassin de vie {row['territory_name']} : {label} {_fr(row['territory_apl'])} → "
                     f"{_fr(row['territory_apl_after'])} avec le plan "
                     f"({_ordinal(row['territory_apl_rank'])} APL le plus bas des bassins de vie de la région)")
    site = row.get("meme_site")
    if isinstance(site, str) and site:
        territory += f" ; même site que {site} (un seul poste par site)"
    return (f"{row['nom']} ({row['commune_nom']}, zonage {zone}) — {_short_fr(row['scheme'])} : le poste atteint "
            f"{_fr(row['population_helped'], 0)} habitants sous {_fr(threshold, 1)} (moyenne des modèles de trajet) ; "
            f"{goal} : {_fr(row['gain'], 1)}{territory}")


def prioritise(
    paths: Paths,
    region: str,
    posts: int | Mapping[str, int],
    *,
    candidates: gpd.GeoDataFrame | None = None,
    config: PriorityConfig | None = None,
    progress: Progress | None = None,
    check_engine: bool = True,
    on: date | None = None,
    evaluate_out_of_model: bool = False,
) -> Prioritisation:
    """Allocate posts in a région (see the module docstring) and compare with the naive rule.

    Parameters
    ----------
    paths
        Data folders with the layers built.
    region
        INSEE région code (44 Grand Est, 28 Normandie…).
    posts
        Posts per scheme (``{"400mg_volet1": 20, "400mg_volet2": 20}``) or a total split
        evenly over ``config.allocation.schemes``.
    candidates
        Rows of a :class:`~zonage.eligibility.BatchResult`; default the eligibility of
        every centre de santé, MSP and hospital of the région on date ``on``.
    config
        Parameters (``config.allocation``); default the packaged ones.
    progress
        ``progress(stage, done, total)``: stages ``eligibility``, ``layers``, ``greedy``, ``naive``.
    check_engine
        Recompute accessibility with the engine after each greedy pick (each model).
    on
        Date of the eligibility question (zoning order in force); default today.
    evaluate_out_of_model
        Also run the leave-one-model-out evaluation (one more greedy per model).
    """
    config = config or load_config()
    a = config.allocation
    wanted = split_posts(posts, a.schemes)
    schemes = list(wanted)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    models = list(ensemble_by_name(a.models))
    t0 = time.perf_counter()
    inputs = region_inputs(paths, region, config, wanted, candidates=candidates, on=on, progress=progress,
                           models=models)
    timings["inputs"] = time.perf_counter() - t0
    goal = objective_for(config, inputs)
    t0 = time.perf_counter()
    problems = model_problems(inputs, config, goal, models)
    problem = stack_problems(problems, goal) if len(problems) > 1 else problems[0]
    timings["problems"] = time.perf_counter() - t0

    min_dep: int | dict[str, int] = 0
    if a.min_per_departement:
        deps = sorted(inputs.units.loc[inputs.scope.to_numpy(), "departement"].astype(str).unique())
        min_dep = {d: a.min_per_departement for d in deps}
    constraints = Constraints(
        posts=wanted, max_per_structure=a.max_per_structure or None, min_per_departement=min_dep,
        costs={sch: a.cost(sch) for sch in schemes}, budget=a.budget if a.budget > 0 else None)

    t0 = time.perf_counter()
    greedy = allocate(problem, constraints, progress=progress, check_engine=check_engine)
    timings["greedy"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    territory_apl = inputs.territories["apl"]
    naive = naive_allocation(problem, constraints, territory_apl)
    if progress:
        progress("naive", naive.n_posts, constraints.total())
    timings["naive"] = time.perf_counter() - t0

    names = [m.name for m in models]
    evaluation = pd.DataFrame([
        {"model": name, "rule": rule, **plan_measures(p, _posts_vector(plan))}
        for name, p in zip(names, problems, strict=True) for rule, plan in (("greedy", greedy), ("naive", naive))])
    oom = pd.DataFrame()
    if evaluate_out_of_model and len(problems) > 1:
        t0 = time.perf_counter()
        oom = out_of_model(problems, names, constraints, territory_apl, goal)
        timings["out_of_model"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    picks_table, naive_table, communes_out, terr_out = _tables(inputs, problems, greedy, naive, a.threshold,
                                                               goal.label_fr)
    summary = _summary(inputs, config, wanted, problem, problems, names, greedy, naive, evaluation, oom, goal,
                       timings)
    return Prioritisation(picks=picks_table, naive=naive_table, summary=summary, communes=communes_out,
                          territories=terr_out, problem=problem, greedy=greedy, baseline_rule=naive,
                          evaluation=evaluation, out_of_model=oom)


def _tables(inputs: RegionInputs, problems: Sequence[AllocationProblem], greedy: Allocation, naive: Allocation,
            threshold: float, goal: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Picks (greedy, naive), communes before/after and territories, in French-friendly columns."""
    scope = inputs.scope.to_numpy()
    units = inputs.units[scope]
    codes = units[inputs.level_column].astype("string").to_numpy()
    weights = inputs.demand[scope].to_numpy()
    before = inputs.baseline[scope].to_numpy()

    def mean_after(plan: Allocation) -> np.ndarray:
        added = _posts_vector(plan)
        return np.mean([p.access_after(added)[scope] for p in problems], axis=0)

    after = {"greedy": mean_after(greedy), "naive": mean_after(naive)}
    terr = inputs.territories.copy()
    for rule, values in after.items():
        frame = pd.DataFrame({"code": codes, "w": weights, "aw": weights * values}).groupby("code")[["w", "aw"]].sum()
        terr[f"apl_after_{rule}"] = (frame["aw"] / frame["w"].where(frame["w"] > 0)).reindex(terr.index)
    points = inputs.candidates.geometry.to_crs("EPSG:4326")
    cands = pd.DataFrame(inputs.candidates.drop(columns="geometry"))

    def table(plan: Allocation, rule: str) -> gpd.GeoDataFrame:
        picks = plan.picks.join(cands, on="candidate")
        picks["territory_name"] = picks["territory"].map(terr["name"].to_dict())
        picks["territory_apl"] = picks["territory"].map(terr["apl"].to_dict())
        picks["territory_apl_after"] = picks["territory"].map(terr[f"apl_after_{rule}"].to_dict())
        picks["territory_apl_rank"] = picks["territory"].map(terr["apl_rank"].to_dict()).astype("Int64")
        # the commune of the post: official APL before, mean over the travel models after the whole plan
        commune_after = pd.Series(after[rule], index=units.index.astype(str))
        insee = picks["insee"].astype(str)
        picks["access_before"] = insee.map(inputs.baseline.set_axis(inputs.baseline.index.astype(str))).to_numpy()
        picks["access_after"] = insee.map(commune_after).to_numpy()
        picks["rule"] = plan.rule
        picks["explanation"] = [_explain(r, threshold, "APL", goal) for _, r in picks.iterrows()]
        first = ["rank", "rule", "candidate", "finess", "nom", "type_structure", "categetab", "libcategetab", "insee",
                 "commune_nom", "departement", "scheme", "classe", "qpv2024", "gain", "cumulative_gain",
                 "population_helped", "units_helped", "territory", "territory_name", "territory_apl",
                 "territory_apl_after", "territory_apl_rank", "access_before", "access_after", "cost", "meme_site",
                 "explanation"]
        rest = [c for c in picks.columns if c not in first]
        picks = picks[first + rest]
        return gpd.GeoDataFrame(picks, geometry=picks["candidate"].map(points).to_numpy(), crs="EPSG:4326")

    communes_out = pd.DataFrame({
        "insee": units["insee"].to_numpy(), "nom": units["nom"].to_numpy(),
        "departement": units["departement"].to_numpy(), "territory": codes,
        "population": inputs.population[scope].to_numpy(), "demand": weights,
        "access_before": before, "access_greedy": after["greedy"], "access_naive": after["naive"],
    })
    cand_insee = inputs.candidates["insee"].astype(object)
    for name, plan in (("posts_greedy", greedy), ("posts_naive", naive)):
        per = plan.posts.sum(axis=1).groupby(cand_insee).sum()
        communes_out[name] = communes_out["insee"].map(per.to_dict()).fillna(0).astype("int64")
    terr_out = terr.reset_index()
    cand_terr = inputs.candidates["territory"].astype(object)
    for name, plan in (("posts_greedy", greedy), ("posts_naive", naive)):
        per = plan.posts.sum(axis=1).groupby(cand_terr).sum()
        terr_out[name] = terr_out["code"].map(per.to_dict()).fillna(0).astype("int64")
    terr_out["candidates"] = terr_out["code"].map(cand_terr.value_counts().to_dict()).fillna(0).astype("int64")
    return table(greedy, "greedy"), table(naive, "naive"), communes_out, terr_out


def _summary(inputs: RegionInputs, config: PriorityConfig, wanted: Mapping[str, int], problem: AllocationProblem,
             problems: Sequence[AllocationProblem], names: Sequence[str], greedy: Allocation, naive: Allocation,
             evaluation: pd.DataFrame, oom: pd.DataFrame, goal: Objective,
             timings: Mapping[str, float]) -> dict[str, Any]:
    a = config.allocation
    schemes = list(wanted)
    scope = inputs.scope.to_numpy()
    base = inputs.baseline.to_numpy()[scope]
    demand = inputs.demand.to_numpy()[scope]
    rooms = rooms_of(demand, base, a.threshold)

    def spread(rule: str) -> dict[str, dict[str, float]]:
        part = evaluation[evaluation["rule"] == rule]
        return {m: {"mean": float(part[m].mean()), "min": float(part[m].min()), "max": float(part[m].max())}
                for m in MEASURES}

    summary: dict[str, Any] = {
        "region": inputs.region,
        "region_name": inputs.region_name,
        "posts_asked": dict(wanted),
        "posts_placed_greedy": greedy.picks["scheme"].value_counts().reindex(schemes, fill_value=0).to_dict(),
        "posts_placed_naive": naive.picks["scheme"].value_counts().reindex(schemes, fill_value=0).to_dict(),
        "candidates": len(inputs.candidates),
        "candidates_per_scheme": {sch: int(problem.eligible[sch].sum()) for sch in schemes},
        "candidates_dropped": inputs.dropped,
        "units": len(inputs.units),
        "communes_in_region": int(scope.sum()),
        "baseline": inputs.baseline_label,
        "objective": goal.name,
        "objective_fr": goal.label_fr,
        "models": list(names),
        "rooms": {"gap": rooms[0], "squared_gap": rooms[1], "pop_std_under_2_5": rooms[2]},
        "population_under_threshold": float(inputs.population.to_numpy()[scope][base < a.threshold].sum()),
        "mean_access_before": float(np.average(base, weights=demand)) if demand.sum() > 0 else math.nan,
        "gain_greedy": greedy.gain,
        "gain_naive": naive.gain,
        "gain_ratio": greedy.gain / naive.gain if naive.gain > 0 else math.inf,
        "measures_greedy": spread("greedy"),
        "measures_naive": spread("naive"),
        "upper_bound": greedy.bound,
        "greedy_share_of_bound": greedy.share_of_bound(),
        "greedy_rule": greedy.rule,
        "evaluations": greedy.evaluations,
        "evaluations_plain_greedy": len(inputs.candidates) * max(greedy.n_posts, 1),
        "engine_max_diff": greedy.engine_max_diff,
        "unmet_minima": greedy.unmet,
        "timings_s": dict(timings),
        "settings": {
            "baseline": a.baseline, "apl_year": a.apl_year, "objective": a.objective, "threshold": a.threshold,
            "consultations_per_post": a.consultations_per_post, "demand": a.demand, "method": a.method,
            "models": list(a.models), "statuses": list(a.statuses), "max_per_structure": a.max_per_structure,
            "min_per_departement": a.min_per_departement, "budget": a.budget, "territory": a.territory,
        },
    }
    ratios = {}
    for m in MEASURES:
        g, n = summary["measures_greedy"][m]["mean"], summary["measures_naive"][m]["mean"]
        ratios[m] = g / n if n > 0 else math.nan
    summary["ratio_in_ensemble"] = ratios
    if not oom.empty:
        greedy_rows = oom[oom["rule"] == "greedy"]
        summary["out_of_model"] = {m: {"mean_ratio": float(greedy_rows[f"{m}_ratio"].mean()),
                                       "min_ratio": float(greedy_rows[f"{m}_ratio"].min())} for m in MEASURES}
    return summary
