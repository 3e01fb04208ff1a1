"""Territory indicators and a multi-criteria priority score that a jury can read.

Three steps, all pure (no file is written):

1. :func:`build_inputs` joins the layers into one row per commune — or per
   arrondissement for Paris, Lyon and Marseille — with APL, standardised population,
   GP count and QPV links (:func:`zonage.studies.territories.load_inputs` reads the layers and calls it);
2. :func:`aggregate_territories` sums them up to a level (commune, BV2012 as TVS proxy,
   EPCI, département): APL = standardised-population-weighted mean of commune APL, GP
   density, population, QPV count and population (where known), and the gap =
   standardised population × (threshold − APL) for territories under the threshold;
   a territory on several régions belongs to the one holding most of its population;
3. :func:`score_territories` turns each criterion into a 0–1 need sub-score within the
   territories compared (percentile rank or min–max), weights them (weights from the
   parameter file, re-normalised over the criteria a territory has a value for) and
   returns a score out of 100 with every component: a wide table (one row per
   territory, with a sentence listing the contributions) and a long table (one row
   per territory and criterion).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zonage.errors import InputDataError
from zonage.numbers import french_number
from zonage.priority.config import CRITERIA, PriorityConfig, ScoringConfig

__all__ = [
    "LEVELS",
    "Scores",
    "TerritoryInputs",
    "aggregate_territories",
    "build_inputs",
    "score_territories",
    "territories_scores",
]

#: Scoring levels → column of :attr:`TerritoryInputs.units` holding the territory code.
LEVELS: Mapping[str, str] = {
    "commune": "code",
    "bv2012": "bv2012",
    "epci": "epci_siren",
    "departement": "departement",
}

_UNIT_COLUMNS = (
    "code", "insee", "insee_arm", "nom", "commune_nom", "departement", "departement_nom", "region", "region_nom",
    "bv2012", "epci_siren", "epci_nom", "territory", "population", "apl", "pop_std", "weight", "gp_count",
)


@dataclass(frozen=True)
class TerritoryInputs:
    """Everything the scoring and the simulation need, one row per unit.

    Attributes
    ----------
    units
        One row per commune, or per arrondissement for Paris/Lyon/Marseille when
        ``arrondissements`` is true: ``code`` (the unit), ``insee`` (its commune),
        ``insee_arm``, ``nom``, ``commune_nom``, ``departement``, ``region``, ``bv2012`` (an
        arrondissement is its own BV), ``epci_siren``, ``population``, ``apl`` (the
        chosen APL column of the chosen year), ``pop_std``, ``weight`` (of the APL mean),
        ``gp_count`` (NaN for arrondissements: GPs are counted per commune).
    qpv
        QPV ↔ unit links: ``code_qp``, ``code`` (unit; missing when the QPV's commune is
        split into arrondissements, the QPV cannot be placed in one without polygons),
        ``insee``, ``qpv_population`` (NaN unless supplied), ``classe_qpv`` (the class
        of the QPV itself in the official order, where one exists).
    apl_year, apl_column
        Which APL was used.
    """

    units: pd.DataFrame
    qpv: pd.DataFrame
    apl_year: int
    apl_column: str


def build_inputs(
    communes: pd.DataFrame,
    apl: pd.DataFrame,
    *,
    year: int,
    apl_column: str = "apl_65",
    apl_weight: str = "pop_std",
    gp_supply: pd.DataFrame | None = None,
    qpv_communes: pd.DataFrame | None = None,
    qpv_classes: pd.DataFrame | None = None,
    qpv_population: pd.DataFrame | None = None,
    arrondissements: bool = True,
) -> TerritoryInputs:
    """Join communes, APL, GP counts and QPV links into :class:`TerritoryInputs`.

    Parameters
    ----------
    communes
        Communes layer (``insee, nom, departement, region, population, bv2012,
        epci_siren``; ``departement_nom, region_nom, epci_nom, territory`` used when present).
    apl
        ``apl_communes`` layer (``year, insee, level, insee_arm, nom, apl, apl_65,
        pop_std, pop_total``).
    year
        APL year to use.
    apl_column
        ``apl_65`` (GPs aged ≤ 65, the zoning indicator) or ``apl``.
    apl_weight
        ``pop_std`` (standardised population) or ``population``: weight of the mean.
    gp_supply
        ``insee, gp_count`` (optional).
    qpv_communes
        ``code_qp, insee_com``: which communes each QPV touches (optional).
    qpv_classes
        ``code_qp, classe``: QPV classed on their own by the official order (optional).
    qpv_population
        ``code_qp, population``: inhabitants of each QPV (optional; none in the mirror).
    arrondissements
        Split Paris, Lyon and Marseille into their arrondissements (APL rows of level
        ``arrondissement``); their population is the commune's, shared in proportion
        to the arrondissements' APL population.

    Returns
    -------
    TerritoryInputs

    Raises
    ------
    InputDataError
        A required column is missing, the year has no APL row, or a commune code repeats.
    """
    _require(communes, ["insee", "nom", "departement", "region", "population", "bv2012", "epci_siren"], "communes")
    _require(apl, ["year", "insee", "level", "insee_arm", "nom", apl_column, "pop_std", "pop_total"], "apl")
    if not communes["insee"].is_unique:
        raise InputDataError("communes: duplicate insee codes")
    apl_year = apl[apl["year"] == year]
    if apl_year.empty:
        raise InputDataError(f"apl: no row for year {year} (years: {sorted(apl['year'].unique().tolist())})")

    base = pd.DataFrame(communes.drop(columns="geometry", errors="ignore")).copy()
    for column in ("departement_nom", "region_nom", "epci_nom", "territory"):
        if column not in base.columns:
            base[column] = pd.NA
    base = base[["insee", "nom", "departement", "departement_nom", "region", "region_nom", "bv2012", "epci_siren",
                 "epci_nom", "territory", "population"]].astype({"population": "float64"})
    # Mayotte has no bassin de vie (INSEE code ZZZZZ): each commune is its own territory.
    base["bv2012"] = base["bv2012"].mask(base["bv2012"] == "ZZZZZ").fillna(base["insee"])
    commune_apl = apl_year[apl_year["level"] == "commune"].drop_duplicates("insee").set_index("insee")
    base["apl"] = base["insee"].map(commune_apl[apl_column]).astype("float64")
    base["pop_std"] = base["insee"].map(commune_apl["pop_std"]).astype("float64")
    base["code"] = base["insee"]
    base["commune_nom"] = base["nom"]
    base["insee_arm"] = pd.Series(pd.NA, index=base.index, dtype="string")

    if gp_supply is not None:
        _require(gp_supply, ["insee", "gp_count"], "gp_supply")
        counts = gp_supply.groupby("insee")["gp_count"].sum()
        base["gp_count"] = base["insee"].map(counts).fillna(0.0).astype("float64")
    else:
        base["gp_count"] = np.nan

    if arrondissements:
        arm = apl_year[apl_year["level"] == "arrondissement"]
        arm = arm[arm["insee"].isin(base["insee"])]
        if len(arm):
            parents = base.set_index("insee").loc[arm["insee"].to_numpy()].reset_index()
            share = arm["pop_total"].to_numpy(dtype="float64") / arm.groupby("insee")["pop_total"].transform(
                "sum").to_numpy(dtype="float64")
            parents["code"] = arm["insee_arm"].to_numpy()
            parents["insee_arm"] = arm["insee_arm"].to_numpy()
            parents["bv2012"] = arm["insee_arm"].to_numpy()
            parents["nom"] = arm["nom"].to_numpy()
            parents["population"] = parents["population"].to_numpy() * share
            parents["apl"] = arm[apl_column].to_numpy(dtype="float64")
            parents["pop_std"] = arm["pop_std"].to_numpy(dtype="float64")
            parents["gp_count"] = np.nan
            base = pd.concat([base[~base["insee"].isin(arm["insee"])], parents], ignore_index=True)

    base["weight"] = base["pop_std"] if apl_weight == "pop_std" else base["population"]
    base.loc[base["apl"].isna(), "weight"] = np.nan
    units = base[list(_UNIT_COLUMNS)].sort_values("code", ignore_index=True)

    qpv = _qpv_links(units, qpv_communes, qpv_classes, qpv_population)
    return TerritoryInputs(units=units, qpv=qpv, apl_year=int(year), apl_column=apl_column)


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputDataError(f"{name}: missing column(s) {', '.join(missing)}")


def _qpv_links(
    units: pd.DataFrame,
    qpv_communes: pd.DataFrame | None,
    qpv_classes: pd.DataFrame | None,
    qpv_population: pd.DataFrame | None,
) -> pd.DataFrame:
    columns = ["code_qp", "insee", "code", "qpv_population", "classe_qpv"]
    if qpv_communes is None:
        links = pd.DataFrame(columns=["code_qp", "insee"])
    else:
        _require(qpv_communes, ["code_qp", "insee_com"], "qpv_communes")
        links = qpv_communes[["code_qp", "insee_com"]].rename(columns={"insee_com": "insee"})
    if qpv_classes is not None:
        _require(qpv_classes, ["code_qp", "classe"], "qpv_classes")
        if "insee_com" in qpv_classes.columns:  # classed QPV missing from the QPV ↔ commune table
            extra = qpv_classes.loc[~qpv_classes["code_qp"].isin(links["code_qp"]), ["code_qp", "insee_com"]]
            links = pd.concat([links, extra.rename(columns={"insee_com": "insee"})], ignore_index=True)
    links = links.dropna(subset=["code_qp", "insee"]).drop_duplicates().reset_index(drop=True)
    counts = units.groupby("insee")["code"].agg(["first", "size"])
    single = counts.loc[counts["size"] == 1, "first"]
    links["code"] = links["insee"].map(single).astype("string")
    if qpv_population is not None:
        _require(qpv_population, ["code_qp", "population"], "qpv_population")
        links["qpv_population"] = links["code_qp"].map(
            qpv_population.drop_duplicates("code_qp").set_index("code_qp")["population"]).astype("float64")
    else:
        links["qpv_population"] = np.nan
    if qpv_classes is not None:
        links["classe_qpv"] = links["code_qp"].map(
            qpv_classes.drop_duplicates("code_qp").set_index("code_qp")["classe"]).astype("string")
    else:
        links["classe_qpv"] = pd.Series(pd.NA, index=links.index, dtype="string")
    return links[columns]


def _majority(units: pd.DataFrame, key: str, column: str) -> pd.DataFrame:
    """Per territory: the value of ``column`` holding most population, its share, and all values."""
    if key == column:
        codes = units[key].drop_duplicates()
        return pd.DataFrame({f"{column}_share": 1.0, f"{column}s": codes.astype("string").to_numpy()},
                            index=pd.Index(codes.to_numpy(), name=key)).assign(**{column: codes.to_numpy()})
    pop = units.groupby([key, column])["population"].sum().rename("pop").reset_index()
    total = pop.groupby(key)["pop"].transform("sum")
    pop["share"] = (pop["pop"] / total.where(total > 0)).fillna(1.0 / pop.groupby(key)["pop"].transform("size"))
    pop = pop.sort_values([key, "pop", column], ascending=[True, False, True])
    top = pop.drop_duplicates(key).set_index(key)
    listed = top[column].astype("string")
    several = pop[key].duplicated(keep=False)
    if several.any():
        multi = pop[several].sort_values([key, column]).groupby(key)[column].agg(";".join)
        listed.loc[multi.index] = multi
    return pd.DataFrame({column: top[column], f"{column}_share": top["share"], f"{column}s": listed})


def aggregate_territories(
    inputs: TerritoryInputs,
    level: str,
    *,
    gap_threshold: float = 4.0,
    consultations_per_gp: float = 5400.0,
    density_per: float = 10000.0,
) -> pd.DataFrame:
    """Indicators per territory of ``level``.

    Parameters
    ----------
    inputs
        From :func:`build_inputs`.
    level
        ``commune``, ``bv2012``, ``epci`` or ``departement`` (:data:`LEVELS`).
    gap_threshold
        APL under which the gap counts.
    consultations_per_gp
        Consultations per year of one full-time GP (gap expressed in GPs).
    density_per
        GP density per this many inhabitants.

    Returns
    -------
    pandas.DataFrame
        One row per territory: ``level, code, name, region`` (holding most of its
        population), ``region_share``, ``regions`` (all, ``;``-joined), ``departement``
        (majority), ``n_units``, ``population``, ``pop_std`` (of units with an APL),
        ``apl`` (weighted mean; plain mean where all weights are 0), ``apl_coverage``
        (share of population with an APL), ``gp_count`` (NaN when a unit has none, e.g.
        arrondissements), ``gp_density``, ``n_qpv``, ``qpv_population`` (NaN unless
        known for every QPV of the territory), ``gap`` (consultations/year), ``gp_missing``
        (gap in full-time GPs).
    """
    if level not in LEVELS:
        raise InputDataError(f"niveau {level!r} inconnu : choisir parmi {', '.join(LEVELS)}")
    key = LEVELS[level]
    units = inputs.units[inputs.units[key].notna()].copy()
    has_apl = units["apl"].notna()
    units["w"] = units["weight"].where(has_apl, 0.0).fillna(0.0)
    units["aw"] = units["apl"].where(has_apl, 0.0) * units["w"]
    units["pop_apl"] = units["population"].where(has_apl, 0.0)
    units["pop_std_apl"] = units["pop_std"].where(has_apl, 0.0).fillna(0.0)
    units["apl_sum"] = units["apl"].where(has_apl, 0.0)
    units["has_apl"] = has_apl.astype("int64")
    units["gp_unknown"] = units["gp_count"].isna().astype("int64")
    grouped = units.groupby(key)
    out = grouped.agg(
        n_units=("code", "size"),
        population=("population", "sum"),
        pop_std=("pop_std_apl", "sum"),
        w=("w", "sum"),
        aw=("aw", "sum"),
        pop_apl=("pop_apl", "sum"),
        apl_sum=("apl_sum", "sum"),
        n_apl=("has_apl", "sum"),
        gp_count=("gp_count", "sum"),
        gp_unknown=("gp_unknown", "sum"),
    )
    out.loc[out["gp_unknown"] > 0, "gp_count"] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = out["aw"] / out["w"]
        plain = out["apl_sum"] / out["n_apl"]
    out["apl"] = np.where(out["w"] > 0, weighted, np.where(out["n_apl"] > 0, plain, np.nan))
    out["apl_coverage"] = np.where(out["population"] > 0, out["pop_apl"] / out["population"].where(
        out["population"] > 0, 1.0), np.where(out["n_apl"] > 0, 1.0, 0.0))
    out["gp_density"] = np.where(out["population"] > 0,
                                 out["gp_count"] / out["population"].where(out["population"] > 0, 1.0) * density_per,
                                 np.nan)
    out["gap"] = (out["pop_std"] * (gap_threshold - out["apl"]).clip(lower=0.0)).where(out["apl"].notna())
    out["gp_missing"] = out["gap"] / consultations_per_gp

    qpv = inputs.qpv.copy()
    if len(qpv) and key != "code":
        qpv[key] = qpv["code"].map(inputs.units.set_index("code")[key])
    qpv = qpv.dropna(subset=[key]).drop_duplicates([key, "code_qp"]) if len(qpv) else qpv
    if len(qpv):
        qpv = qpv.assign(unknown=qpv["qpv_population"].isna().astype("int64"))
        q = qpv.groupby(key).agg(n_qpv=("code_qp", "nunique"), qpv_population=("qpv_population", "sum"),
                                 unknown=("unknown", "sum"))
        q.loc[q["unknown"] > 0, "qpv_population"] = np.nan
    else:
        q = pd.DataFrame({"n_qpv": pd.Series(dtype="int64"), "qpv_population": pd.Series(dtype="float64")})
    out["n_qpv"] = out.index.map(q["n_qpv"].to_dict()).fillna(0).astype("int64")
    known = inputs.qpv["qpv_population"].notna().any()
    out["qpv_population"] = out.index.map(q["qpv_population"].to_dict()).astype("float64")
    if known:
        out.loc[out["n_qpv"] == 0, "qpv_population"] = 0.0

    regions = _majority(units, key, "region")
    departements = _majority(units, key, "departement")
    out = out.join(regions).join(departements[["departement"]])
    names = _names(units, key, level)
    codes = out.index.to_series()
    out["name"] = codes.map(names.groupby(level=0).first()).astype("string").fillna(codes.astype("string"))
    out = out.reset_index(names="code")
    out.insert(0, "level", level)
    columns = ["level", "code", "name", "region", "region_share", "regions", "departement", "n_units", "population",
               "pop_std", "apl", "apl_coverage", "gp_count", "gp_density", "n_qpv", "qpv_population", "gap",
               "gp_missing"]
    return out[columns].sort_values("code", ignore_index=True)


def _names(units: pd.DataFrame, key: str, level: str) -> pd.Series:
    """Territory names: the unit's, the EPCI's, the département's, or the BV's pole commune."""
    if level == "commune":
        return units.set_index("code")["nom"]
    if level == "epci":
        return units.dropna(subset=["epci_nom"]).drop_duplicates(key).set_index(key)["epci_nom"]
    if level == "departement":
        return units.dropna(subset=["departement_nom"]).drop_duplicates(key).set_index(key)["departement_nom"]
    by_commune = units.drop_duplicates("insee").set_index("insee")["commune_nom"]
    biggest = units.sort_values("population", ascending=False).drop_duplicates(key).set_index(key)["nom"]
    codes = biggest.index.to_series()
    return codes.map(units.set_index("code")["nom"]).fillna(codes.map(by_commune)).fillna(biggest)


@dataclass(frozen=True)
class Scores:
    """Scores of territories with every component.

    Attributes
    ----------
    table
        One row per territory, best rank (most need) first: identity columns, ``score``
        (0–100), ``rank``, and per criterion ``<c>`` (value), ``<c>_need`` (0–1),
        ``<c>_points`` (contribution to the score); ``weight_coverage`` (share of the
        weights of the criteria known somewhere in the set that this territory has a
        value for; under ``min_coverage`` the territory gets no score); ``missing`` (criteria without a
        value, left out and the weights re-normalised); ``explanation`` (one sentence).
    components
        Long table: ``level, code, name, region, criterion, value, unit, direction,
        need, weight, weight_used, points``.
    """

    table: pd.DataFrame
    components: pd.DataFrame


def _need(values: pd.Series, direction: str, method: str) -> pd.Series:
    """0–1 sub-score: 1 = most need among the territories compared."""
    v = values.astype("float64")
    if direction == "lower":
        v = -v
    valid = v.notna()
    out = pd.Series(np.nan, index=values.index)
    n = int(valid.sum())
    if n == 0:
        return out
    if method == "rank":
        if n == 1:
            out[valid] = 0.5
        else:
            out[valid] = (v[valid].rank(method="average") - 1.0) / (n - 1.0)
        return out
    low, high = v[valid].min(), v[valid].max()
    out[valid] = 0.5 if high == low else (v[valid] - low) / (high - low)
    return out


#: French label, decimals and unit of each criterion in the sentences.
_LABELS = {
    "apl": ("APL", 2, ""),
    "gp_density": ("densité de généralistes", 1, " pour 10 000 hab."),
    "population": ("population", 0, " hab."),
    "qpv_population": ("population en QPV", 0, " hab."),
    "n_qpv": ("QPV", 0, ""),
    "gap": ("déficit", 0, " consultations/an"),
}


def _sentences(table: pd.DataFrame, names: list[str], labels: Mapping[str, tuple[str, int, str]]) -> list[str]:
    """One French sentence per territory: each criterion's value, need and points, largest contribution first."""
    values = table[names].to_numpy(dtype="float64")
    needs = table[[f"{n}_need" for n in names]].to_numpy(dtype="float64")
    pts = table[[f"{n}_points" for n in names]].to_numpy(dtype="float64")
    order = np.argsort(-pts, axis=1, kind="stable")
    sentences = []
    for i in range(len(table)):
        parts = []
        for j in order[i]:
            label, decimals, unit = labels[names[j]]
            if np.isnan(values[i, j]):
                parts.append(f"{label} inconnu (critère écarté)")
            else:
                parts.append(f"{label} {french_number(values[i, j], decimals)}{unit} (besoin "
                             f"{french_number(needs[i, j], 2)}) +{french_number(pts[i, j], 1)} pt")
        sentences.append(" ; ".join(parts))
    return sentences


def score_territories(territories: pd.DataFrame, config: ScoringConfig) -> Scores:
    """Multi-criteria need score of each territory, with its components.

    Parameters
    ----------
    territories
        From :func:`aggregate_territories` (the set the sub-scores are ranked within:
        filter it first to score within one région).
    config
        Weights, directions and normalisation.

    Returns
    -------
    Scores
        ``score = Σ weight_used × need × 100`` over the criteria the territory has a
        value for, with ``weight_used = weight / Σ weights available``.
    """
    criteria = [c for c in config.criteria if c.weight > 0]
    missing_columns = [c.name for c in criteria if c.name not in territories.columns]
    if missing_columns:
        raise InputDataError(f"territories: no column for criteria {', '.join(missing_columns)}")
    table = territories.reset_index(drop=True).copy()
    labels = dict(_LABELS)
    if config.density_per != 10000.0:
        labels["gp_density"] = ("densité de généralistes", 1,
                                f" pour {french_number(config.density_per, 0)} hab.")
    weights = pd.DataFrame({c.name: np.where(table[c.name].notna(), c.weight, 0.0) for c in criteria},
                           index=table.index)
    total = weights.sum(axis=1)
    present = [c.weight for c in criteria if table[c.name].notna().any()]
    coverage = total / sum(present) if present else total * np.nan
    total = total.where(coverage >= config.min_coverage, 0.0)
    used = weights.div(total.where(total > 0, np.nan), axis=0)
    for c in criteria:
        table[f"{c.name}_need"] = _need(table[c.name], c.direction, config.normalisation)
        table[f"{c.name}_points"] = (100.0 * used[c.name] * table[f"{c.name}_need"]).fillna(0.0)
    names = [c.name for c in criteria]
    points = table[[f"{n}_points" for n in names]]
    table["score"] = points.sum(axis=1).where(total > 0)
    table["weight_coverage"] = coverage
    table["rank"] = table["score"].rank(method="min", ascending=False).astype("Int64")
    absent = table[names].isna().to_numpy()
    table["missing"] = [";".join(n for n, a in zip(names, row, strict=True) if a) for row in absent]
    table["explanation"] = _sentences(table, names, labels)

    identity = [c for c in ("level", "code", "name", "region") if c in table.columns]
    long = []
    for c in criteria:
        part = table[identity].copy()
        part["criterion"] = c.name
        part["value"] = table[c.name].astype("float64")
        part["unit"] = CRITERIA[c.name][0]
        part["direction"] = c.direction
        part["need"] = table[f"{c.name}_need"]
        part["weight"] = c.weight
        part["weight_used"] = used[c.name]
        part["points"] = table[f"{c.name}_points"]
        long.append(part)
    components = pd.concat(long, ignore_index=True)
    components = components.sort_values([c for c in ("code", "criterion") if c in components.columns],
                                        ignore_index=True)

    first = [*[c for c in ("level", "code", "name", "region", "regions", "departement") if c in table.columns],
             "rank", "score"]
    per_criterion = [col for n in names for col in (n, f"{n}_need", f"{n}_points")]
    last = ["missing", "explanation"]
    rest = [c for c in table.columns if c not in {*first, *per_criterion, *last}]
    table = table[[*first, *per_criterion, *rest, *last]]
    table = table.sort_values(["rank", "code"] if "code" in table.columns else ["rank"], na_position="last",
                              ignore_index=True)
    return Scores(table=table, components=components)


def territories_scores(
    inputs: TerritoryInputs,
    level: str,
    config: PriorityConfig,
    *,
    region: str | None = None,
) -> Scores:
    """Aggregate to ``level``, keep the territories of ``region`` (majority population) and score them.

    Parameters
    ----------
    inputs
        From :func:`build_inputs` / :func:`zonage.studies.territories.load_inputs`.
    level
        ``commune``, ``bv2012``, ``epci`` or ``departement``.
    config
        Parameters (``config.scoring``).
    region
        INSEE région code: score only its territories (sub-scores ranked within it).

    Returns
    -------
    Scores
    """
    s = config.scoring
    territories = aggregate_territories(inputs, level, gap_threshold=s.gap_threshold,
                                        consultations_per_gp=s.consultations_per_gp, density_per=s.density_per)
    if region is not None:
        known = set(territories["region"].dropna())
        if str(region) not in known:
            raise InputDataError(f"région {region!r} inconnue (régions connues : {', '.join(sorted(known))})")
        territories = territories[territories["region"] == str(region)]
    return score_territories(territories, s)
