"""COG crosswalk: any commune code seen since the 2010s → its COG 2025 commune.

Data keyed on older codes (BPE 2019, APL 2022/2023, lists by commune déléguée)
join to the 2025 communes through this table. Sources: ``anciensCodes`` of
current communes (merges), ``chefLieu`` of communes déléguées/associées, and the
parent commune of Paris/Lyon/Marseille arrondissements.
"""

from __future__ import annotations

import pandas as pd

from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec
from zonage.sources.cog import ARRONDISSEMENT, ASSOCIATED, CURRENT, DELEGATED, read_cog_entries

#: Relation of a code to its 2025 commune, most authoritative first.
RELATIONS = ("current", "merged", "deleguee", "associee", "arrondissement")


def crosswalk_from_cog(entries: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Build the crosswalk table from :func:`zonage.sources.cog.read_cog_entries`.

    Returns
    -------
    table
        Columns ``code`` (unique), ``code_2025``, ``relation``, ``nom`` (name of the
        old entity where known).
    report
        Counts per relation and the codes claimed by two different communes.
    """
    current = entries[entries["type"] == CURRENT]
    rows = [pd.DataFrame({"code": current["code"], "code_2025": current["code"],
                          "relation": "current", "nom": current["nom"]})]
    merged = current[["code", "anciens_codes"]].explode("anciens_codes").dropna()
    rows.append(pd.DataFrame({"code": merged["anciens_codes"], "code_2025": merged["code"],
                              "relation": "merged", "nom": None}))
    kinds = {DELEGATED: "deleguee", ASSOCIATED: "associee", ARRONDISSEMENT: "arrondissement"}
    for kind, relation in kinds.items():
        part = entries[entries["type"] == kind]
        rows.append(pd.DataFrame({"code": part["code"], "code_2025": part["chef_lieu"],
                                  "relation": relation, "nom": part["nom"]}))
    table = pd.concat(rows, ignore_index=True).dropna(subset=["code", "code_2025"])
    table["rank"] = table["relation"].map({r: i for i, r in enumerate(RELATIONS)})
    # Names of old communes come from the déléguée/associée entries when a merge lists the code.
    names = table.dropna(subset=["nom"]).drop_duplicates("code").set_index("code")["nom"]
    table["nom"] = table["nom"].fillna(table["code"].map(names))
    targets = table.groupby("code")["code_2025"].nunique()
    conflicts = sorted(targets[targets > 1].index)
    table = table.sort_values(["code", "rank"]).drop_duplicates("code").drop(columns="rank")
    report = {
        "codes": len(table),
        "by_relation": {k: int(v) for k, v in table["relation"].value_counts().items()},
        "codes_with_two_targets": conflicts,
    }
    return table.reset_index(drop=True), report


def to_current(codes: pd.Series, crosswalk: pd.DataFrame) -> pd.Series:
    """Map commune codes of any vintage to COG 2025 codes (NaN where unknown).

    Parameters
    ----------
    codes
        INSEE commune codes (text, 5 characters).
    crosswalk
        The ``cog_crosswalk`` layer.
    """
    lookup = crosswalk.set_index("code")["code_2025"]
    return codes.astype("string").str.strip().map(lookup)


def _build(inputs: BuildInputs) -> LayerResult:
    entries = read_cog_entries(inputs.source("decoupage_administratif"))
    table, report = crosswalk_from_cog(entries)
    return LayerResult(frames={"cog_crosswalk": table}, report=report, vintage="COG 2025")


SPEC = LayerSpec(
    name="crosswalk",
    description="old commune code (merges, déléguées, associées, arrondissements) → COG 2025 code",
    sources=("decoupage_administratif",),
    build=_build,
)
