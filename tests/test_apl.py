from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from zonage.errors import SourceFormatError
from zonage.layers.apl import apl_to_cog2025, departement
from zonage.layers.pipeline import read_manifest
from zonage.layers.store import read_layer
from zonage.sources.apl import read_apl_sheet, read_apl_tvs, read_apl_workbook

HEADER = [
    "Code commune INSEE",
    "Commune",
    "APL aux médecins généralistes",
    "APL aux médecins généralistes de moins de 65 ans",
    "Population standardisée {pop} pour la médecine générale",
    "Population totale {pop}",
]
UNITS = [
    None,
    None,
    "En nombre de consultations/visites accessibles par habitant standardisé",
    "En nombre de consultations/visites accessibles par habitant standardisé",
    "En nombre d'habitants standardisés",
    "En nombre d'habitants",
]


def _workbook(
    path: Path,
    sheets: dict[str, list[tuple]],
    *,
    title_lines: int = 7,
    drop: str | None = None,
    millesime: int | None = None,
) -> Path:
    """An xlsx laid out as the DREES one: title lines, blank row, header, units row, data."""
    book = Workbook()
    book.active.title = "Paramètres"
    book.active.append(["Paramètres de l'indicateur d'APL aux médecins généralistes"])
    for name, rows in sheets.items():
        year = int(name.split()[-1])
        sheet = book.create_sheet(name)
        titles = [
            f"Indicateur d'accessibilité potentielle localisée (APL) {year}",
            None,
            f"Millésime : {millesime or year}",
            "Sources : SNIIR-AM",
            "Champ : France hors Mayotte.",
            "Lecture : …",
            "Note : pondérer par la population standardisée.",
        ][:title_lines]
        for title in titles:
            sheet.append([title])
        sheet.append([])
        header = [h.format(pop=year - 2) for h in HEADER]
        keep = [i for i, h in enumerate(HEADER) if drop is None or not h.startswith(drop)]
        sheet.append([header[i] for i in keep])
        sheet.append([UNITS[i] for i in keep])
        for row in rows:
            sheet.append([row[i] for i in keep])
    book.save(path)
    return path


ROWS_2022 = [
    ("01001", "L'Abergement-Clémenciat", 1.89, 1.828, 810.855, 806),
    (1002, "L'Abergement-de-Varey", 2.649, 2.059, 250.962, 262),  # code stored as a number
    ("2A004", "Ajaccio", 4.1, 3.2, 70000.5, 71000),
]


def test_workbook_layout_is_read(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "apl.xlsx", {"APL 2022": ROWS_2022, "APL 2023": ROWS_2022[:1]})
    frame = read_apl_workbook(path)
    assert frame.groupby("year").size().to_dict() == {2022: 3, 2023: 1}
    first = frame[(frame["year"] == 2022) & (frame["code"] == "01001")].iloc[0]
    assert (first["apl"], first["apl_65"], first["pop_std"], first["pop_total"]) == (
        1.89, 1.828, 810.855, 806.0)
    assert first["pop_year"] == 2020
    assert frame["code"].tolist()[:3] == ["01001", "01002", "2A004"]
    assert frame["code"].str.len().eq(5).all()
    assert frame.loc[frame["year"] == 2023, "pop_year"].iloc[0] == 2021
    assert read_apl_workbook(path, years=(2023,))["year"].unique().tolist() == [2023]


def test_header_is_found_by_content(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "apl.xlsx", {"APL 2022": ROWS_2022}, title_lines=3)
    frame = read_apl_sheet(path, "APL 2022")
    assert len(frame) == 3 and frame["year"].eq(2022).all()


def test_missing_column_names_file_sheet_and_column(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "broken.xlsx", {"APL 2022": ROWS_2022}, drop="Population totale")
    with pytest.raises(SourceFormatError) as info:
        read_apl_workbook(path)
    message = str(info.value)
    assert "broken.xlsx" in message and "APL 2022" in message and "population totale" in message


def test_no_header_row_and_missing_year(tmp_path: Path) -> None:
    book = Workbook()
    book.active.title = "APL 2022"
    book.active.append(["nothing here"])
    book.save(tmp_path / "empty.xlsx")
    with pytest.raises(SourceFormatError, match="Code commune INSEE"):
        read_apl_workbook(tmp_path / "empty.xlsx")
    path = _workbook(tmp_path / "apl.xlsx", {"APL 2022": ROWS_2022})
    with pytest.raises(SourceFormatError, match="2024"):
        read_apl_workbook(path, years=(2024,))


def test_millesime_must_agree_with_sheet(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "apl.xlsx", {"APL 2022": ROWS_2022}, millesime=2021)
    with pytest.raises(SourceFormatError, match="millésime 2021"):
        read_apl_workbook(path)


def test_text_values_and_bad_values(tmp_path: Path) -> None:
    rows = [("01001", "A", "N/A - résultat non disponible", "1,5", 10.0, 10)]
    frame = read_apl_workbook(_workbook(tmp_path / "ok.xlsx", {"APL 2022": rows}))
    assert np.isnan(frame["apl"].iloc[0]) and frame["apl_65"].iloc[0] == 1.5
    bad = [("01001", "A", "beaucoup", 1.0, 10.0, 10)]
    with pytest.raises(SourceFormatError, match=r"ligne 11.*beaucoup"):
        read_apl_workbook(_workbook(tmp_path / "bad.xlsx", {"APL 2022": bad}))
    not_a_code = [("Total", "France", 3.0, 3.0, 10.0, 10)]
    with pytest.raises(SourceFormatError, match="not a commune code"):
        read_apl_workbook(_workbook(tmp_path / "code.xlsx", {"APL 2022": not_a_code}))


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("not a zip")
    with pytest.raises(SourceFormatError, match=r"fake\.xlsx"):
        read_apl_workbook(path)


def _crosswalk() -> pd.DataFrame:
    rows = [
        ("01001", "01001", "current", "Alpha"),
        ("01002", "01002", "current", "Beta"),   # absorbed 01003 since the APL year
        ("01003", "01002", "merged", "Gamma"),
        ("01004", "01009", "merged", "Delta"),   # alone, under a new code
        ("01009", "01009", "current", "Nouvelle"),
        ("01005", "01005", "current", "Sans APL"),
        ("75056", "75056", "current", "Paris"),
        ("75101", "75056", "arrondissement", "Paris 1er"),
        ("75102", "75056", "arrondissement", "Paris 2e"),
        ("97601", "97601", "current", "Acoua"),
    ]
    return pd.DataFrame(rows, columns=["code", "code_2025", "relation", "nom"])


def _apl(rows: list[tuple], year: int = 2022) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["code", "commune", "apl", "apl_65", "pop_std", "pop_total"])
    frame["year"] = year
    frame["pop_year"] = pd.array([year - 2] * len(frame), dtype="Int64")
    return frame


def test_merge_is_weighted_by_standardised_population() -> None:
    apl = _apl([
        ("01001", "Alpha", 1.5, 1.0, 50.0, 55),
        ("01002", "Beta", 2.0, 1.0, 100.0, 110),
        ("01003", "Gamma", 4.0, 3.0, 300.0, 290),
        ("01004", "Delta", 5.0, 4.0, 20.0, 21),
        ("75101", "Paris 1er", 6.0, 5.0, 1000.0, 900),
        ("75102", "Paris 2e", 3.0, 2.0, 3000.0, 3100),
        ("99999", "Inconnue", 1.0, 1.0, 1.0, 1),
    ])
    table, report = apl_to_cog2025(apl, _crosswalk())
    communes = table[table["level"] == "commune"].set_index("insee")
    assert communes.index.is_unique
    beta = communes.loc["01002"]
    # (2.0 * 100 + 4.0 * 300) / 400 = 3.5 ; (1.0 * 100 + 3.0 * 300) / 400 = 2.5
    assert beta["apl"] == pytest.approx(3.5) and beta["apl_65"] == pytest.approx(2.5)
    assert (beta["pop_std"], beta["pop_total"]) == (400.0, 400.0)
    assert (beta["mapping"], beta["n_source_codes"], beta["source_codes"]) == ("merged", 2, "01002;01003")
    assert communes.loc["01001", "mapping"] == "same" and communes.loc["01001", "apl"] == 1.5
    assert communes.loc["01009", "mapping"] == "recoded" and communes.loc["01009", "apl"] == 5.0
    paris = communes.loc["75056"]
    # (6 * 1000 + 3 * 3000) / 4000 = 3.75
    assert paris["apl"] == pytest.approx(3.75) and paris["mapping"] == "arrondissements"
    assert paris["pop_total"] == 4000
    arm = table[table["level"] == "arrondissement"]
    assert arm["insee_arm"].tolist() == ["75101", "75102"] and arm["insee"].eq("75056").all()
    assert arm["apl"].tolist() == [6.0, 3.0]
    year = report["by_year"]["2022"]
    assert year["unmapped_codes"] == ["99999"]
    assert year["commune_rows"] == 4 and year["arrondissement_rows"] == 2
    absent = year["communes_2025_without_apl"]
    assert absent["count"] == 2 and absent["by_departement"] == {"01": 1, "976": 1}
    assert absent["outside_drees_field"] == 1 and absent["inside_field"] == ["01005 Sans APL"]
    expected = (1.5 * 50 + 3.5 * 400 + 5.0 * 20 + 3.75 * 4000) / (50 + 400 + 20 + 4000)
    assert year["national_mean_apl"] == pytest.approx(expected, abs=1e-4)


def test_zero_weights_fall_back_to_plain_mean_and_nan_is_skipped() -> None:
    apl = _apl([
        ("01002", "Beta", 2.0, np.nan, 0.0, 0),
        ("01003", "Gamma", 4.0, 3.0, 0.0, 0),
    ])
    table, _ = apl_to_cog2025(apl, _crosswalk())
    row = table.set_index("insee").loc["01002"]
    assert row["apl"] == pytest.approx(3.0)
    assert row["apl_65"] == pytest.approx(3.0)  # the NaN one is left out


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 20), st.floats(0, 20),
                          st.one_of(st.just(0.0), st.floats(1e-3, 1e5))),
                min_size=1, max_size=6))
def test_merge_stays_between_sources_and_conserves_population(parts) -> None:
    codes = [f"010{i:02d}" for i in range(len(parts))]
    crosswalk = pd.DataFrame({"code": codes, "code_2025": codes[0], "relation": "merged",
                              "nom": "X"})
    crosswalk.loc[0, "relation"] = "current"
    apl = _apl([(c, c, a, b, w, w) for c, (a, b, w) in zip(codes, parts, strict=True)])
    table, _ = apl_to_cog2025(apl, crosswalk)
    assert len(table) == 1
    row = table.iloc[0]
    values = [a for a, _, _ in parts]
    assert min(values) - 1e-9 <= row["apl"] <= max(values) + 1e-9
    assert row["pop_std"] == pytest.approx(sum(w for _, _, w in parts))
    assert row["n_source_codes"] == len(parts)


def test_departement() -> None:
    assert departement(pd.Series(["01001", "2A004", "97411", "98735"])).tolist() == [
        "01", "2A", "974", "987"]


def test_tvs_csv_latin1_decimal_comma(tmp_path: Path) -> None:
    text = (
        "CartoSanté; ; \n"
        "Référentiel géographique : France par bassin de vie / canton-ville; ; \n"
        "Code;Libellé;APL Médecins généralistes 2023\n"
        "01004;Ambérieu-en-Bugey;3,4\n"
        "0102;Attignat;2,5\n"
        "976ZZ;Mayotte;N/A - résultat non disponible\n"
    )
    path = tmp_path / "tvs.csv"
    path.write_bytes(text.encode("latin-1"))
    frame = read_apl_tvs(path)
    assert frame["code_tvs"].tolist() == ["01004", "0102", "976ZZ"]
    assert frame["libelle"].iloc[0] == "Ambérieu-en-Bugey"
    assert frame["apl"].iloc[:2].tolist() == [3.4, 2.5] and np.isnan(frame["apl"].iloc[2])
    assert frame["year"].eq(2023).all()


def test_tvs_csv_without_apl_column(tmp_path: Path) -> None:
    path = tmp_path / "tvs.csv"
    path.write_text("titre;;\nCode;Libellé;Autre\n01004;A;3\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match="APL"):
        read_apl_tvs(path)
    path.write_text("titre;;\n01004;A;3\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match="Code"):
        read_apl_tvs(path)


# --- real data -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apl_built(build_layers):
    paths = build_layers("apl")
    return read_layer(paths, "apl_communes"), read_manifest(paths)["apl"]["report"], paths


def test_real_apl_years_and_rows(apl_built) -> None:
    table, report, _ = apl_built
    assert report["years"] == [2022, 2023]
    communes = table[table["level"] == "commune"]
    for year in (2022, 2023):
        part = communes[communes["year"] == year]
        assert 34_000 <= len(part) <= 35_000
        assert part["insee"].is_unique
        assert report["by_year"][str(year)]["unmapped_codes"] == []
        arm = table[(table["year"] == year) & (table["level"] == "arrondissement")]
        assert len(arm) == 45
        assert set(arm["insee"]) == {"75056", "69123", "13055"}
        absent = report["by_year"][str(year)]["communes_2025_without_apl"]
        assert absent["by_departement"]["976"] == 17  # Mayotte: outside the DREES field
        assert len(absent["inside_field"]) < 50


def test_real_apl_known_value(apl_built) -> None:
    table, _, _ = apl_built
    row = table[(table["insee"] == "01001") & (table["year"] == 2022)].iloc[0]
    assert (row["apl"], row["apl_65"], row["pop_std"]) == (1.89, 1.828, 810.855)
    assert row["mapping"] == "same" and row["pop_year"] == 2020


def test_real_national_mean_and_paris(apl_built) -> None:
    table, report, _ = apl_built
    communes = table[table["level"] == "commune"]
    for year, part in communes.groupby("year"):
        mean = (part["apl"] * part["pop_std"]).sum() / part["pop_std"].sum()
        assert 3.0 <= mean <= 4.5
        assert report["by_year"][str(year)]["national_mean_apl"] == pytest.approx(mean, abs=1e-3)
        arm = table[(table["year"] == year) & (table["insee"] == "75056")
                    & (table["level"] == "arrondissement")]
        paris = part.set_index("insee").loc["75056"]
        expected = (arm["apl"] * arm["pop_std"]).sum() / arm["pop_std"].sum()
        assert paris["apl"] == pytest.approx(expected)
        assert paris["pop_total"] == arm["pop_total"].sum()


def test_real_merged_communes_match_the_source(apl_built, mirror: Path) -> None:
    table, report, _ = apl_built
    source = read_apl_workbook(mirror / "apl" / "drees_apl_mg_2022_2023.xlsx").set_index(["year", "code"])
    merged = table[table["mapping"] == "merged"]
    assert len(merged) > 20
    assert report["by_year"]["2022"]["mapping"]["merged"] == (merged["year"] == 2022).sum()
    for row in merged.itertuples():
        parts = source.loc[[(row.year, code) for code in row.source_codes.split(";")]]
        assert row.pop_std == pytest.approx(parts["pop_std"].sum())
        if parts["pop_std"].sum() > 0:
            weighted = (parts["apl"] * parts["pop_std"]).sum() / parts["pop_std"].sum()
            assert row.apl == pytest.approx(weighted)
    # Total standardised population is conserved by the move to COG 2025.
    for year in (2022, 2023):
        communes = table[(table["level"] == "commune") & (table["year"] == year)]
        assert communes["pop_std"].sum() == pytest.approx(source.loc[year, "pop_std"].sum())


def test_real_apl_tvs(apl_built) -> None:
    _, report, paths = apl_built
    tvs = read_layer(paths, "apl_tvs")
    assert len(tvs) == 2931 and tvs["code_tvs"].is_unique
    assert tvs["apl"].isna().sum() == 3
    assert report["tvs"]["without_value"] == ["976ZZ", "977ZZ", "978ZZ"]
    assert 1 < tvs["apl"].median() < 6
