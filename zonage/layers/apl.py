"""APL to general practitioners by COG 2025 commune (DREES 2022, 2023) and by TVS.

The DREES publishes the APL per commune of the COG of the data year; this layer
moves it to the COG 2025 communes through the ``cog_crosswalk`` layer.

Output ``apl_communes`` (long table, one row per year and place):

* ``level == "commune"``: exactly one row per (year, COG 2025 commune) having an
  APL. When several source codes fall into one 2025 commune (communes merged
  since the data year, or the municipal arrondissements of Paris, Lyon and
  Marseille), ``apl`` and ``apl_65`` are the means of the source values weighted
  by the standardised population and ``pop_std``/``pop_total`` are summed — the
  DREES rule for averaging APL over a territory. A single source code keeps its
  values unchanged.
* ``level == "arrondissement"``: the 45 municipal arrondissements of Paris, Lyon
  and Marseille as published, ``insee_arm`` = arrondissement code and ``insee`` =
  the parent commune (75056, 69123, 13055), for consumers working below the
  commune (the doctors' zoning lists these cities by arrondissement).

So a join on ``insee`` must first keep one level (usually ``level == "commune"``).
``mapping`` tells how a row was obtained: ``same`` (code unchanged), ``recoded``
(one old code now under another code), ``merged`` (several old communes
aggregated), ``arrondissements`` (a city aggregated from its arrondissements),
``arrondissement`` (an arrondissement row).

Communes restored since the data year (a merged commune split back, e.g.
Neussargues en Pinatelle, Les Hauts-Talican) have no row for that year and the
commune that kept the old code carries the APL of the former, larger territory;
the report lists the COG 2025 communes without an APL (besides Mayotte and the
collectivités d'outre-mer, outside the DREES field: those split-off communes and
the uninhabited "villages morts" of the Meuse).

Output ``apl_tvs``: the CartoSanté APL 2023 by territoire de vie-santé.
"""

from __future__ import annotations

import pandas as pd

from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec
from zonage.sources.apl import read_apl_tvs, read_apl_workbook

#: Columns of ``apl_communes``, in order.
COLUMNS = (
    "year", "insee", "level", "insee_arm", "nom", "apl", "apl_65", "pop_std", "pop_total",
    "pop_year", "n_source_codes", "source_codes", "mapping",
)

#: Départements outside the DREES field: Mayotte and the collectivités d'outre-mer.
OUTSIDE_FIELD = ("975", "976", "977", "978", "984", "986", "987", "988", "989")


def departement(codes: pd.Series) -> pd.Series:
    """Département part of commune codes (3 characters overseas, 2 elsewhere)."""
    codes = codes.astype("string")
    overseas = codes.str[:2].isin(["97", "98"])
    return codes.str[:3].where(overseas, codes.str[:2])


def _weighted(frame: pd.DataFrame, value: str, keys: list[str]) -> pd.Series:
    """Mean of ``value`` per group weighted by ``pop_std`` (plain mean if all weights are 0)."""
    ok = frame[value].notna() & frame["pop_std"].notna()
    weight = frame["pop_std"].where(ok)
    numerator = (frame[value] * weight).groupby([frame[k] for k in keys]).sum(min_count=1)
    denominator = weight.groupby([frame[k] for k in keys]).sum(min_count=1)
    plain = frame[value].groupby([frame[k] for k in keys]).mean()
    return (numerator / denominator).where(denominator > 0, plain)


def apl_to_cog2025(apl: pd.DataFrame, crosswalk: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Move APL rows keyed on the data year's COG to COG 2025 communes.

    Parameters
    ----------
    apl
        Rows as :func:`zonage.sources.apl.read_apl_workbook` returns them
        (``code, commune, year, apl, apl_65, pop_std, pop_total, pop_year``).
    crosswalk
        The ``cog_crosswalk`` layer (``code, code_2025, relation, nom``).

    Returns
    -------
    table
        The ``apl_communes`` table (see the module docstring).
    report
        Rows per year, unmapped codes, codes by relation, and the COG 2025
        communes left without an APL.
    """
    lookup = crosswalk.drop_duplicates("code").set_index("code")
    data = apl.copy()
    data["code"] = data["code"].astype("string").str.strip()
    data["insee"] = data["code"].map(lookup["code_2025"]).astype("string")
    data["relation"] = data["code"].map(lookup["relation"])
    unmapped = data[data["insee"].isna()]
    data = data[data["insee"].notna()]
    keys = ["year", "insee"]

    data = data.sort_values(["year", "insee", "code"])
    data["is_arrondissement"] = data["relation"] == "arrondissement"
    grouped = data.groupby(keys, sort=True)
    communes = grouped[["pop_std", "pop_total"]].sum(min_count=1)
    communes["pop_year"] = grouped["pop_year"].first()
    communes["n_source_codes"] = grouped.size()
    communes["first_code"] = grouped["code"].first()
    communes["all_arrondissements"] = grouped["is_arrondissement"].all()
    single = communes["n_source_codes"] == 1
    communes["source_codes"] = communes["first_code"]
    several = data[data.set_index(keys).index.isin(communes.index[~single])]
    if len(several):
        joined = several.groupby(keys)["code"].agg(";".join)
        communes.loc[joined.index, "source_codes"] = joined
    for value in ("apl", "apl_65"):
        communes[value] = _weighted(data, value, keys)
        first = grouped[value].first()
        communes.loc[single, value] = first[single]
    communes["mapping"] = "merged"
    communes.loc[single & (communes["first_code"] == communes.index.get_level_values("insee")),
                 "mapping"] = "same"
    communes.loc[single & (communes["first_code"] != communes.index.get_level_values("insee")),
                 "mapping"] = "recoded"
    communes.loc[~single & communes["all_arrondissements"], "mapping"] = "arrondissements"
    communes = communes.reset_index()
    communes["level"] = "commune"
    communes["insee_arm"] = pd.NA
    names = crosswalk[crosswalk["relation"] == "current"].set_index("code")["nom"]
    communes["nom"] = communes["insee"].map(names)

    arm = data[data["relation"] == "arrondissement"]
    arrondissements = pd.DataFrame({
        "year": arm["year"], "insee": arm["insee"], "level": "arrondissement",
        "insee_arm": arm["code"], "nom": arm["commune"], "apl": arm["apl"],
        "apl_65": arm["apl_65"], "pop_std": arm["pop_std"], "pop_total": arm["pop_total"],
        "pop_year": arm["pop_year"], "n_source_codes": 1, "source_codes": arm["code"],
        "mapping": "arrondissement",
    })
    table = pd.concat([communes[list(COLUMNS)], arrondissements[list(COLUMNS)]], ignore_index=True)
    table["_arm"] = table["level"] == "arrondissement"  # commune rows first
    table = table.sort_values(["year", "_arm", "insee", "insee_arm"], na_position="first")
    table = table.drop(columns="_arm").reset_index(drop=True)
    for column in ("insee", "level", "insee_arm", "nom", "source_codes", "mapping"):
        table[column] = table[column].astype("string")
    table["n_source_codes"] = table["n_source_codes"].astype("int64")
    table["pop_year"] = table["pop_year"].astype("Int64")
    return table, _report(apl, data, unmapped, table, crosswalk)


def _report(apl: pd.DataFrame, data: pd.DataFrame, unmapped: pd.DataFrame,
            table: pd.DataFrame, crosswalk: pd.DataFrame) -> dict:
    current = crosswalk.loc[crosswalk["relation"] == "current", ["code", "nom"]]
    report: dict = {"years": sorted(int(y) for y in apl["year"].unique()), "by_year": {}}
    for year in report["years"]:
        rows = table[(table["year"] == year)]
        communes = rows[rows["level"] == "commune"]
        weighted = communes.dropna(subset=["apl", "pop_std"])
        absent = current[~current["code"].isin(communes["insee"])]
        outside = departement(absent["code"]).isin(OUTSIDE_FIELD)
        by_dep = departement(absent["code"]).value_counts().sort_index()
        report["by_year"][str(year)] = {
            "source_rows": int((apl["year"] == year).sum()),
            "pop_year": None if communes["pop_year"].isna().all()
            else int(communes["pop_year"].max()),
            "source_codes_by_relation": {
                str(k): int(v)
                for k, v in data.loc[data["year"] == year, "relation"].value_counts().items()
            },
            "commune_rows": len(communes),
            "arrondissement_rows": int((rows["level"] == "arrondissement").sum()),
            "mapping": {str(k): int(v) for k, v in communes["mapping"].value_counts().items()},
            "unmapped_codes": sorted(unmapped.loc[unmapped["year"] == year, "code"].tolist()),
            "communes_2025_without_apl": {
                "count": len(absent),
                "by_departement": {str(k): int(v) for k, v in by_dep.items()},
                "outside_drees_field": int(outside.sum()),
                "inside_field": [f"{c} {n}" for c, n in
                                 zip(absent.loc[~outside, "code"], absent.loc[~outside, "nom"],
                                     strict=True)],
            },
            "national_mean_apl": round(float(
                (weighted["apl"] * weighted["pop_std"]).sum() / weighted["pop_std"].sum()), 4)
            if weighted["pop_std"].sum() > 0 else None,
            "pop_std_total": round(float(communes["pop_std"].sum()), 1),
        }
    return report


def _build(inputs: BuildInputs) -> LayerResult:
    crosswalk = inputs.layer("cog_crosswalk")
    apl = read_apl_workbook(inputs.source("apl_drees"))
    table, report = apl_to_cog2025(apl, crosswalk)
    tvs = read_apl_tvs(inputs.source("apl_tvs_cartosante"))
    report["tvs"] = {
        "rows": len(tvs),
        "years": sorted(int(y) for y in tvs["year"].unique()),
        "without_value": tvs.loc[tvs["apl"].isna(), "code_tvs"].tolist(),
    }
    years = ", ".join(str(y) for y in report["years"])
    return LayerResult(
        frames={"apl_communes": table, "apl_tvs": tvs},
        report=report,
        vintage=f"APL {years} (DREES), moved to COG 2025",
    )


SPEC = LayerSpec(
    name="apl",
    description="DREES APL to GPs by COG 2025 commune (pop_std-weighted over merges) and by TVS",
    sources=("apl_drees", "apl_tvs_cartosante"),
    depends=("crosswalk",),
    build=_build,
)
