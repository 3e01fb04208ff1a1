"""Simulate the doctors' zoning with the 2017–2024 method, and compare it with the official one.

The method (order of 13 November 2017, DGOS FAQ of May 2018):

* the territory (TVS) APL is the standardised-population-weighted mean of its
  communes' APL (GPs aged ≤ 65); here the TVS is approximated by the 2012 bassin de
  vie (real TVS split BV over 50,000 inhabitants into territoires de vie — the proxy
  does not), Paris/Lyon/Marseille arrondissements being territories of their own;
* APL ≤ 2.5 → ZIP, national selection (zone A), always kept;
* 2.5 < APL ≤ 4 → the vivier: the ARS adds ZIP (zone B) up to a cap on the share of
  the région's population in ZIP (A + B) — here lowest APL first — and the rest of
  the vivier becomes ZAC (or zone de vigilance);
* APL > 4 → outside the vivier (hors zonage), except the optional regional
  adaptation: territories added to the vivier within 5 % of its population;
* a territory on two régions is decided by the région holding most of its
  population, each région counting its own share against its cap and margin;
* QPV classed on their own by the official order keep that class (override).

:func:`simulate_zoning` returns the territories, units (communes/arrondissements),
régions and QPV tables; :func:`compare_zoning` compares the units with the official
zoning (agreement by units and by population, confusion matrices, disagreements).
Nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zonage.errors import InputDataError
from zonage.priority.config import PriorityConfig, SimulationConfig
from zonage.priority.scoring import TerritoryInputs, aggregate_territories

__all__ = [
    "Comparison",
    "Simulation",
    "compare_zoning",
    "confusion_matrix",
    "simulate_zoning",
]

_EPS = 1e-6
ALL = "all"


@dataclass(frozen=True)
class Simulation:
    """Result of :func:`simulate_zoning`.

    Attributes
    ----------
    territories
        One row per territory: ``code, name, region`` (deciding région), ``region_share``,
        ``regions``, ``population``, ``pop_std``, ``apl``, ``n_units``, ``n_qpv``,
        ``branch`` (``national``, ``vivier``, ``margin``, ``outside``, ``unknown``),
        ``classe`` (``ZIP``, ``ZAC``, ``ZV``, ``HZ``, ``unknown``), ``zip_zone`` (``A``/``B``),
        ``selection`` (vivier: ``taken``, ``no_room``, ``after_stop``), ``vivier_rank``
        (APL order within the deciding région's candidates), ``reason`` (a sentence).
    units
        One row per commune (arrondissement in Paris/Lyon/Marseille): identity, its
        territory and the territory's APL, branch, class and reason.
    regions
        One row per région (own population only): population, cap, population in ZIP
        A / B, ZAC, ZV, HZ, vivier, margin budget and use, ``national_over_cap``.
    qpv
        One row per QPV and commune: the class inherited from the territory, the
        official QPV class where the order gives one (kept), and the final class.
    """

    territories: pd.DataFrame
    units: pd.DataFrame
    regions: pd.DataFrame
    qpv: pd.DataFrame


def _shares(units: pd.DataFrame, key: str, codes: pd.Index, regions: pd.Index) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each territory (in ``codes`` order): indices of the régions it touches and its population in each."""
    pop = units.groupby([key, "region"])["population"].sum().reset_index()
    pop["t"] = codes.get_indexer(pd.Index(pop[key]))
    pop["r"] = regions.get_indexer(pd.Index(pop["region"]))
    pop = pop.sort_values("t")
    bounds = np.searchsorted(pop["t"].to_numpy(), np.arange(len(codes) + 1))
    r = pop["r"].to_numpy()
    p = pop["population"].to_numpy(dtype="float64")
    return [(r[bounds[i]:bounds[i + 1]], p[bounds[i]:bounds[i + 1]]) for i in range(len(codes))]


def _greedy(
    order: np.ndarray,
    deciding: np.ndarray,
    shares: list[tuple[np.ndarray, np.ndarray]],
    budget: np.ndarray,
    used: np.ndarray,
    fill: str,
) -> np.ndarray:
    """Take candidates in ``order`` while every région they touch stays within its budget.

    Régions are coupled by the territories they share, so this walks the candidates
    one by one (a few hundred territories per run). Returns a status per territory:
    ``""`` (not a candidate), ``taken``, ``no_room`` (would exceed a budget) or
    ``after_stop`` (its deciding région stopped at an earlier candidate, ``fill="stop"``).
    ``used`` is updated in place.
    """
    status = np.full(len(deciding), "", dtype=object)
    stopped: set[int] = set()
    for t in order:
        d = deciding[t]
        if d in stopped:
            status[t] = "after_stop"
            continue
        regs, pops = shares[t]
        if np.all(used[regs] + pops <= budget[regs] + _EPS):
            used[regs] += pops
            status[t] = "taken"
        else:
            status[t] = "no_room"
            if fill == "stop":
                stopped.add(d)
    return status


def simulate_zoning(
    inputs: TerritoryInputs,
    config: PriorityConfig,
    *,
    regions: Iterable[str] | None = None,
) -> Simulation:
    """Classify every territory with the 2017–2024 method.

    The whole country is always simulated (régions are coupled by the territories they
    share); ``regions`` only filters the returned tables.

    Parameters
    ----------
    inputs
        From :func:`zonage.priority.scoring.build_inputs` (APL year and column chosen there).
    config
        Parameters (``config.simulation``: thresholds, caps, vivier rule, margin).
    regions
        INSEE région codes to return (default: all).

    Returns
    -------
    Simulation
    """
    sim = config.simulation
    level = "bv2012" if sim.territory == "bv2012" else "commune"
    key = "bv2012" if level == "bv2012" else "code"
    units = inputs.units[inputs.units[key].notna()]
    terr = aggregate_territories(inputs, level).set_index("code")
    codes = terr.index
    region_index = pd.Index(sorted(units["region"].dropna().unique()))
    shares = _shares(units, key, codes, region_index)
    deciding = region_index.get_indexer(terr["region"])

    apl = terr["apl"].to_numpy(dtype="float64")
    branch = np.select(
        [np.isnan(apl), apl <= sim.zip_max + 1e-12, apl <= sim.vivier_max + 1e-12],
        ["unknown", "national", "vivier"], default="outside",
    ).astype(object)

    region_pop = units.groupby("region")["population"].sum().reindex(region_index).to_numpy(dtype="float64")
    caps = np.array([sim.cap(r) for r in region_index])
    cap_pop = caps * region_pop

    def own(mask: np.ndarray) -> np.ndarray:
        """Population of each région living in the territories of ``mask``."""
        total = np.zeros(len(region_index))
        for t in np.flatnonzero(mask):
            np.add.at(total, shares[t][0], shares[t][1])
        return total

    # Regional adaptation: territories with APL > vivier_max added to the vivier.
    vivier_pop = own(branch == "vivier")
    margin_budget = sim.margin_share * vivier_pop if sim.margin_enabled else np.zeros(len(region_index))
    margin_status = np.full(len(codes), "", dtype=object)
    if sim.margin_enabled:
        outside = np.flatnonzero(branch == "outside")
        keys = [apl[outside], codes[outside].to_numpy()]
        if sim.margin_order == "qpv_first":
            keys.append(-(terr["n_qpv"].to_numpy()[outside] > 0).astype(int))
        order = outside[np.lexsort(keys)]
        margin_status = _greedy(order, deciding, shares, margin_budget, np.zeros(len(region_index)), sim.margin_fill)
        branch[margin_status == "taken"] = "margin"
    margin_pop = own(branch == "margin")

    # ZIP: the national selection, then the vivier lowest APL first within the caps.
    used = own(branch == "national")
    zip_a = used.copy()
    candidates = np.flatnonzero(np.isin(branch, ["vivier", "margin"]))
    order = candidates[np.lexsort([codes[candidates].to_numpy(), apl[candidates]])]
    selection = _greedy(order, deciding, shares, cap_pop, used, sim.vivier_fill)

    classe = np.select(
        [branch == "national", selection == "taken", np.isin(branch, ["vivier", "margin"]), branch == "outside"],
        ["ZIP", "ZIP", sim.vivier_rest, "HZ"], default="unknown",
    )
    zip_zone = np.select([branch == "national", selection == "taken"], ["A", "B"], default="")

    out = terr[["name", "region", "region_share", "regions", "population", "pop_std", "apl", "n_units", "n_qpv"]].copy()
    out["branch"] = branch.astype(str)
    out["classe"] = classe
    out["zip_zone"] = pd.Series(zip_zone, index=codes).replace("", pd.NA).astype("string")
    out["selection"] = pd.Series(selection, index=codes).replace("", pd.NA).astype("string")
    in_vivier = np.isin(branch, ["vivier", "margin"])
    rank_values = np.full(len(codes), np.nan)
    rank_values[order] = pd.Series(deciding[order]).groupby(deciding[order]).cumcount().to_numpy() + 1
    rank = pd.Series(rank_values, index=codes)
    out["vivier_rank"] = rank.where(in_vivier).astype("Int64")
    out["margin"] = pd.Series(margin_status, index=codes).replace("", pd.NA).astype("string")

    cap_share_of = pd.Series(caps, index=region_index)
    out["cap"] = out["region"].map(cap_share_of)
    out["reason"] = _reasons(out, sim)
    out = out.reset_index(names="territory")

    unit_table = _units(units, key, out)
    region_table = _regions(region_index, units, unit_table, caps, cap_pop, zip_a, vivier_pop, margin_budget,
                            margin_pop)
    qpv_table = _qpv(inputs.qpv, units, key, out)
    if regions is not None:
        chosen = {str(r) for r in regions}
        unknown = chosen - set(region_index)
        if unknown:
            raise InputDataError(f"région(s) inconnue(s) : {', '.join(sorted(unknown))} (régions connues : "
                                 f"{', '.join(region_index)})")
        touched = out["regions"].str.split(";").map(lambda rs: bool(chosen & set(rs)))
        out = out[touched].reset_index(drop=True)
        unit_table = unit_table[unit_table["region"].isin(chosen)].reset_index(drop=True)
        region_table = region_table[region_table["region"].isin(chosen)].reset_index(drop=True)
        qpv_table = qpv_table[qpv_table["region"].isin(chosen)].reset_index(drop=True)
    return Simulation(territories=out, units=unit_table, regions=region_table, qpv=qpv_table)


def _reasons(t: pd.DataFrame, sim: SimulationConfig) -> list[str]:
    """A sentence per territory saying which branch of the method classed it, and why."""
    out = []
    for row in t.itertuples():
        apl = row.apl
        cap = f"{row.cap:.1%}"
        if row.branch == "unknown":
            text = "no APL for this territory → unknown"
        elif row.branch == "national":
            text = f"APL {apl:.2f} ≤ {sim.zip_max:g}: ZIP, national selection (zone A)"
        else:
            if row.branch == "margin":
                head = (f"APL {apl:.2f} > {sim.vivier_max:g}, added to the vivier within the "
                        f"{sim.margin_share:.0%} regional margin")
            elif row.branch == "vivier":
                head = f"{sim.zip_max:g} < APL {apl:.2f} ≤ {sim.vivier_max:g}: vivier"
            else:
                head = f"APL {apl:.2f} > {sim.vivier_max:g}: outside the vivier → HZ"
            if row.branch == "outside":
                text = head
            elif row.selection == "taken":
                text = (f"{head}; ZIP added by the ARS (zone B), #{row.vivier_rank} by APL in région "
                        f"{row.region}, ZIP population within its cap {cap}")
            elif row.selection == "no_room":
                text = f"{head}; not taken as ZIP: the ZIP cap {cap} would be exceeded → {row.classe}"
            else:
                text = f"{head}; not taken as ZIP: région {row.region} stopped at its cap {cap} → {row.classe}"
        if ";" in str(row.regions):
            text += f" (on régions {row.regions}: classed by {row.region}, {row.region_share:.0%} of its population)"
        out.append(text)
    return out


def _units(units: pd.DataFrame, key: str, territories: pd.DataFrame) -> pd.DataFrame:
    t = territories.set_index("territory")
    out = units[["code", "insee", "insee_arm", "nom", "departement", "region", "population", "apl"]].copy()
    out["territory"] = units[key]
    out = out.join(t[["name", "apl", "branch", "classe", "zip_zone", "reason"]].rename(
        columns={"name": "territory_name", "apl": "apl_territory"}), on="territory")
    return out[["code", "insee", "insee_arm", "nom", "departement", "region", "population", "apl", "territory",
                "territory_name", "apl_territory", "branch", "classe", "zip_zone", "reason"]].reset_index(drop=True)


def _regions(
    index: pd.Index,
    units: pd.DataFrame,
    unit_table: pd.DataFrame,
    caps: np.ndarray,
    cap_pop: np.ndarray,
    zip_a: np.ndarray,
    vivier_pop: np.ndarray,
    margin_budget: np.ndarray,
    margin_pop: np.ndarray,
) -> pd.DataFrame:
    by_class = unit_table.pivot_table(index="region", columns="classe", values="population", aggfunc="sum",
                                      fill_value=0.0).reindex(index, fill_value=0.0)
    names = units.dropna(subset=["region_nom"]).drop_duplicates("region").set_index("region")["region_nom"]
    out = pd.DataFrame({
        "region": index,
        "region_nom": index.map(names.to_dict() if isinstance(names, pd.Series) else names),
        "population": units.groupby("region")["population"].sum().reindex(index).to_numpy(),
        "cap_share": caps,
        "cap_population": cap_pop,
        "zip_a_population": zip_a,
    })
    for c in ("ZIP", "ZAC", "ZV", "HZ", "unknown"):
        out[f"{c.lower()}_population"] = by_class[c].to_numpy() if c in by_class.columns else 0.0
    out["zip_b_population"] = out["zip_population"] - out["zip_a_population"]
    out["zip_share"] = out["zip_population"] / out["population"]
    out["national_over_cap"] = out["zip_a_population"] > out["cap_population"] + _EPS
    out["vivier_population"] = vivier_pop
    out["margin_budget"] = margin_budget
    out["margin_population"] = margin_pop
    return out


def _qpv(links: pd.DataFrame, units: pd.DataFrame, key: str, territories: pd.DataFrame) -> pd.DataFrame:
    q = links.copy()
    q["region"] = q["insee"].map(units.drop_duplicates("insee").set_index("insee")["region"])
    q["territory"] = q["code"].map(units.set_index("code")[key]) if key != "code" else q["code"]
    t = territories.set_index("territory")
    q["classe_territory"] = q["territory"].map(t["classe"]).astype("string")
    q["branch_territory"] = q["territory"].map(t["branch"]).astype("string")
    q["classe"] = q["classe_qpv"].fillna(q["classe_territory"])
    q["source"] = np.where(q["classe_qpv"].notna(), "official QPV class (kept)",
                           np.where(q["territory"].notna(), "class of its territory",
                                    "commune split into arrondissements: territory unknown"))
    outside = q["classe_qpv"].isin(["ZIP", "ZAC"]) & q["branch_territory"].isin(["outside"])
    q["note"] = np.where(outside, "QPV classed ZIP/ZAC while its territory is outside the vivier: "
                                  "only possible within the 5 % margin", "")
    return q[["code_qp", "insee", "code", "region", "territory", "branch_territory", "classe_territory",
              "classe_qpv", "classe", "source", "note", "qpv_population"]].reset_index(drop=True)


@dataclass(frozen=True)
class Comparison:
    """Simulated against official classes.

    Attributes
    ----------
    table
        One row per unit: simulation columns plus ``official_raw``, ``official`` and
        ``simulated`` (after ``class_map``), ``comparable`` (neither is unknown), ``agree``.
    agreement
        One row per région plus ``all``: ``n_units``, ``n_agree``, ``share_units``,
        ``population``, ``population_agree``, ``share_population``; the same for the
        two-way question "zoned (ZIP or ZAC) or not" (``share_units_zoned``,
        ``share_population_zoned``) and "ZIP or not" (``share_population_zip``); the
        official and simulated ZIP shares of population; ``n_excluded`` (unknown class).
    confusion
        Long table: ``region`` (or ``all``), ``simulated``, ``official``, ``n_units``, ``population``.
    disagreements
        The comparable units whose classes differ, largest population first within each
        région: codes, names, territory, APL (commune and territory), branch, both
        classes, reason — ready to join to commune polygons for a map.
    """

    table: pd.DataFrame
    agreement: pd.DataFrame
    confusion: pd.DataFrame
    disagreements: pd.DataFrame


def compare_zoning(
    simulation: Simulation,
    official: pd.DataFrame,
    class_map: Mapping[str, str] | None = None,
) -> Comparison:
    """Compare simulated unit classes with the official zoning, by units and by population.

    Parameters
    ----------
    simulation
        From :func:`simulate_zoning`.
    official
        ``code, classe`` (the ``zoning_communes`` layer: ``code`` is the commune or
        arrondissement code).
    class_map
        Classes compared as another one, applied to both sides (default
        ``{"ZAR": "HZ", "ZV": "HZ"}``; see ``[comparison]`` in the parameter file).

    Returns
    -------
    Comparison
    """
    if class_map is None:
        class_map = {"ZAR": "HZ", "ZV": "HZ"}
    if "code" not in official.columns or "classe" not in official.columns:
        raise InputDataError("official zoning: needs columns code and classe")
    off = pd.DataFrame(official.drop(columns="geometry", errors="ignore")).drop_duplicates("code")
    table = simulation.units.copy()
    table["official_raw"] = table["code"].map(off.set_index("code")["classe"]).fillna("unknown").astype(str)
    table["official"] = table["official_raw"].replace(dict(class_map))
    table["simulated"] = table["classe"].astype(str).replace(dict(class_map))
    table["comparable"] = (table["official"] != "unknown") & (table["simulated"] != "unknown")
    table["agree"] = table["comparable"] & (table["official"] == table["simulated"])
    zoned = {"ZIP", "ZAC"}
    table["agree_zoned"] = table["comparable"] & (table["official"].isin(zoned) == table["simulated"].isin(zoned))
    table["agree_zip"] = table["comparable"] & ((table["official"] == "ZIP") == (table["simulated"] == "ZIP"))

    comp = table[table["comparable"]]
    both = pd.concat([comp, comp.assign(region=ALL)], ignore_index=True)
    pop = both["population"]
    agg = both.assign(
        pop_agree=pop.where(both["agree"], 0.0),
        pop_agree_zoned=pop.where(both["agree_zoned"], 0.0),
        pop_agree_zip=pop.where(both["agree_zip"], 0.0),
        pop_official_zip=pop.where(both["official"] == "ZIP", 0.0),
        pop_simulated_zip=pop.where(both["simulated"] == "ZIP", 0.0),
    ).groupby("region").agg(
        n_units=("code", "size"),
        n_agree=("agree", "sum"),
        n_agree_zoned=("agree_zoned", "sum"),
        population=("population", "sum"),
        population_agree=("pop_agree", "sum"),
        population_agree_zoned=("pop_agree_zoned", "sum"),
        population_agree_zip=("pop_agree_zip", "sum"),
        official_zip=("pop_official_zip", "sum"),
        simulated_zip=("pop_simulated_zip", "sum"),
    )
    agreement = pd.DataFrame({
        "n_units": agg["n_units"],
        "n_agree": agg["n_agree"],
        "share_units": agg["n_agree"] / agg["n_units"],
        "population": agg["population"],
        "population_agree": agg["population_agree"],
        "share_population": agg["population_agree"] / agg["population"],
        "share_units_zoned": agg["n_agree_zoned"] / agg["n_units"],
        "share_population_zoned": agg["population_agree_zoned"] / agg["population"],
        "share_population_zip": agg["population_agree_zip"] / agg["population"],
        "official_zip_share": agg["official_zip"] / agg["population"],
        "simulated_zip_share": agg["simulated_zip"] / agg["population"],
    })
    excluded = pd.concat([table.loc[~table["comparable"], "region"],
                          pd.Series(ALL, index=table.index[~table["comparable"]])])
    agreement["n_excluded"] = excluded.value_counts().reindex(agreement.index, fill_value=0)
    order = [*sorted(i for i in agreement.index if i != ALL), ALL]
    agreement = agreement.reindex(order).reset_index(names="region")

    confusion = both.groupby(["region", "simulated", "official"]).agg(
        n_units=("code", "size"), population=("population", "sum")).reset_index()

    columns = ["code", "insee", "nom", "departement", "region", "population", "territory", "territory_name", "apl",
               "apl_territory", "branch", "simulated", "official", "official_raw", "reason"]
    disagreements = comp.loc[~comp["agree"], columns].sort_values(
        ["region", "population"], ascending=[True, False], ignore_index=True)
    return Comparison(table=table.reset_index(drop=True), agreement=agreement, confusion=confusion,
                      disagreements=disagreements)


def confusion_matrix(confusion: pd.DataFrame, region: str = ALL, value: str = "n_units") -> pd.DataFrame:
    """Pivot the long confusion table: simulated classes in rows, official in columns.

    Parameters
    ----------
    confusion
        :attr:`Comparison.confusion`.
    region
        A région code or ``"all"``.
    value
        ``n_units`` or ``population``.

    Returns
    -------
    pandas.DataFrame
        With row and column totals (``total``).
    """
    part = confusion[confusion["region"] == region]
    matrix = part.pivot_table(index="simulated", columns="official", values=value, aggfunc="sum", fill_value=0)
    matrix["total"] = matrix.sum(axis=1)
    matrix.loc["total"] = matrix.sum(axis=0)
    matrix.index.name = "simulé \\ officiel"
    matrix.columns.name = None
    return matrix
