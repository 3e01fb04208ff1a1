"""General practitioners per COG 2025 commune (INSEE BPE 2019, equipment D201).

The BPE counts are keyed on COG 2019 codes (Paris, Lyon and Marseille by
municipal arrondissement). Each code is moved to its COG 2025 commune through the
``cog_crosswalk`` layer and the counts are summed, so no GP is lost: the total out
equals the total in (checked; the build fails otherwise, unless codes could not be
mapped at all, which the report lists).

Output ``gp_supply``: one row per current COG 2025 commune in the BPE field
(France métropolitaine and the five DROM, Mayotte included; not the collectivités
d'outre-mer, which the BPE does not cover), ``gp_count`` = 0 where the BPE lists no
GP; columns ``insee, gp_count, year, source, n_source_codes, source_codes``.
"""

from __future__ import annotations

import pandas as pd

from zonage.errors import ZonageError
from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec
from zonage.sources.bpe import read_bpe_d201

#: Départements of the collectivités d'outre-mer, outside the BPE field.
OUTSIDE_BPE = ("975", "977", "978", "984", "986", "987", "988", "989")

SOURCE_LABEL = "INSEE BPE {year}, D201 (médecin omnipraticien)"


def gp_supply_to_cog2025(bpe: pd.DataFrame, crosswalk: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Sum BPE GP counts per COG 2025 commune; every current commune gets a row.

    Parameters
    ----------
    bpe
        As :func:`zonage.sources.bpe.read_bpe_d201` returns it.
    crosswalk
        The ``cog_crosswalk`` layer.

    Returns
    -------
    table
        The ``gp_supply`` table (see the module docstring).
    report
        Totals in and out, codes by relation, unmapped codes, communes with a GP.
    """
    lookup = crosswalk.drop_duplicates("code").set_index("code")
    data = bpe.copy()
    data["insee"] = data["depcom"].map(lookup["code_2025"]).astype("string")
    data["relation"] = data["depcom"].map(lookup["relation"])
    unmapped = data[data["insee"].isna()]
    mapped = data[data["insee"].notna()].sort_values(["insee", "depcom"])
    years = sorted(int(y) for y in bpe["year"].unique())
    year = years[-1] if years else pd.NA

    current = crosswalk.loc[crosswalk["relation"] == "current", "code"].astype("string")
    overseas = current.str[:3].isin(OUTSIDE_BPE)
    field = pd.Index(sorted(current[~overseas]), name="insee")
    grouped = mapped.groupby("insee")
    counts = grouped["gp_count"].sum()
    sources = grouped["depcom"].agg(";".join)
    n_codes = grouped.size()
    outside = sorted(set(counts.index) - set(field))  # a GP in a COM would still be kept
    index = field.append(pd.Index(outside, name="insee"))
    table = pd.DataFrame({
        "insee": index.astype("string"),
        "gp_count": counts.reindex(index, fill_value=0).to_numpy().astype("int64"),
        "year": year,
        "source": pd.array([SOURCE_LABEL.format(year=year)] * len(index), dtype="string"),
        "n_source_codes": n_codes.reindex(index, fill_value=0).to_numpy().astype("int64"),
        "source_codes": sources.reindex(index, fill_value="").astype("string").to_numpy(),
    }).sort_values("insee", ignore_index=True)

    total_in = int(bpe["gp_count"].sum())
    total_out = int(table["gp_count"].sum())
    lost = int(unmapped["gp_count"].sum())
    if total_out + lost != total_in:  # pragma: no cover - guards the arithmetic above
        raise ZonageError(f"gp_supply: {total_in} GPs in, {total_out} out, {lost} unmapped")
    merged = table[table["n_source_codes"] > 1]
    report = {
        "years": years,
        "source_codes": len(bpe),
        "source_codes_by_relation": {str(k): int(v) for k, v in data["relation"].value_counts().items()},
        "gp_total_in": total_in,
        "gp_total_out": total_out,
        "gp_unmapped": lost,
        "conserved": total_in == total_out,
        "unmapped_codes": [f"{c} ({n} GP)" for c, n in zip(unmapped["depcom"], unmapped["gp_count"],
                                                              strict=True)],
        "communes": len(table),
        "communes_with_gp": int((table["gp_count"] > 0).sum()),
        "communes_from_several_codes": len(merged),
        "communes_outside_field_with_gp": outside,
    }
    return table, report


def _build(inputs: BuildInputs) -> LayerResult:
    crosswalk = inputs.layer("cog_crosswalk")
    bpe = read_bpe_d201(inputs.source("bpe19_gp"))
    table, report = gp_supply_to_cog2025(bpe, crosswalk)
    years = ", ".join(str(y) for y in report["years"])
    return LayerResult(frames={"gp_supply": table}, report=report,
                       vintage=f"BPE {years} (COG {years}), moved to COG 2025")


SPEC = LayerSpec(
    name="gp_supply",
    description="general practitioners (BPE 2019 D201) per COG 2025 commune, 0 where none",
    sources=("bpe19_gp",),
    depends=("crosswalk",),
    build=_build,
)
