"""Outputs for spreadsheets and QGIS (issue 13): XLSX, decimal comma, codes as text, labels, default outputs."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import load_workbook
from typer.testing import CliRunner

from zonage.cli import app
from zonage.errors import ZonageError
from zonage.export import COLUMN_LABELS, csv_options, csv_style, label_columns, write_table
from zonage.inputs import read_table

runner = CliRunner()
DOCS = Path(__file__).resolve().parent.parent / "docs" / "COLUMNS.md"


@pytest.fixture()
def table() -> pd.DataFrame:
    return pd.DataFrame({
        "finess": ["010000024", "750712184", None],
        "insee": ["01053", "2A004", "75056"],
        "code_postal": ["01000", "20000", "75001"],
        "siren": [200042935, 123456789, np.nan],  # a producer's numbers: written as text all the same
        "nom": ["=HYPERLINK(\"http://x\")", "Centre\x01 de santé", "-2+3"],
        "apl": [2.4661739261202427, np.nan, -1.5],
        "postes": pd.array([1, None, 3], dtype="Int64"),
        "eligible": [True, False, True],
        "date": pd.to_datetime(["2025-03-01", None, "2024-12-31"]),
        "dateouv": ["1969-03-01", "", "2010-08-25"],
        "mis_a_jour": pd.to_datetime(["2025-03-01 14:30", "2025-03-02 08:00", None]),
    })


def _sheet(path: Path):
    return load_workbook(path).active


def test_xlsx_typed_cells_header_and_filter(table: pd.DataFrame, tmp_path: Path) -> None:
    path = write_table(table, tmp_path / "structures.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["structures.xlsx"]  # no temporary file left
    sheet = _sheet(path)
    assert sheet.title == "structures" and sheet.max_row == 4 and sheet.max_column == len(table.columns)
    header = [c.value for c in sheet[1]]
    assert header == list(table.columns) and all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:K4"
    widths = {k: v.width for k, v in sheet.column_dimensions.items()}
    assert min(widths.values()) >= 8 and max(widths.values()) <= 60 and widths["E"] > widths["B"]
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    for code, value in (("finess", "010000024"), ("insee", "01053"), ("code_postal", "01000"),
                        ("siren", "200042935")):
        assert row[code].value == value and row[code].data_type == "s", code
        assert sheet.column_dimensions[row[code].column_letter].number_format == "@"
    assert row["apl"].value == pytest.approx(2.4661739261202427) and row["apl"].data_type == "n"
    assert row["postes"].value == 1 and row["postes"].data_type == "n"
    assert row["eligible"].value is True and row["eligible"].data_type == "b"
    assert row["date"].is_date and row["date"].value.date() == dt.date(2025, 3, 1)
    assert row["date"].number_format == "DD/MM/YYYY"
    assert row["dateouv"].is_date and row["dateouv"].value.date() == dt.date(1969, 3, 1)  # ISO text → a date
    assert row["mis_a_jour"].is_date and row["mis_a_jour"].number_format == "DD/MM/YYYY HH:MM"
    # A formula-like text is a string cell, shown as written (no apostrophe) and never run; a control
    # character Excel refuses is dropped.
    assert row["nom"].value == "=HYPERLINK(\"http://x\")" and row["nom"].data_type == "s"
    third = {h: c.value for h, c in zip(header, sheet[4], strict=True)}
    assert third["nom"] == "-2+3" and third["finess"] is None and third["siren"] is None
    assert [c.value for c in sheet[3]][header.index("nom")] == "Centre de santé"
    # Missing values are empty cells, not "nan".
    second = {h: c.value for h, c in zip(header, sheet[3], strict=True)}
    assert second["apl"] is None and second["postes"] is None and second["date"] is None and second["dateouv"] is None


def test_xlsx_round_trip_with_read_table(table: pd.DataFrame, tmp_path: Path) -> None:
    path = write_table(table, tmp_path / "out.xlsx")
    back = read_table(path)
    assert len(back) == len(table) and list(back.columns) == list(table.columns)
    assert back["insee"].tolist() == ["01053", "2A004", "75056"]
    assert back["code_postal"].tolist() == ["01000", "20000", "75001"]
    assert back["finess"].iloc[0] == "010000024" and back["siren"].iloc[1] == "123456789"
    assert float(back["apl"].iloc[0]) == pytest.approx(2.4661739261202427) and float(back["apl"].iloc[2]) == -1.5
    assert back["date"].iloc[0].startswith("2025-03-01")


def test_xlsx_types_input_text_columns(tmp_path: Path) -> None:
    """An input read as text (to keep its codes) comes back typed where every value says what it is."""
    frame = pd.DataFrame({
        "effectif": ["12", "3", ""], "surface": ["12,5", "-3.25", None], "telephone": ["0612345678", "12", "3"],
        "date_ouverture": ["01/03/2025", "31/12/2024", ""], "mauvaise_date": ["31/02/2025", "01/01/2025", ""],
        "n_long": ["1234567890123456", "1", "2"], "commentaire": ["12", "douze", "3"],
    })
    sheet = _sheet(write_table(frame, tmp_path / "echo.xlsx"))
    header = [c.value for c in sheet[1]]
    rows = [{h: c for h, c in zip(header, row, strict=True)} for row in sheet.iter_rows(min_row=2)]
    assert [r["effectif"].value for r in rows] == [12, 3, None] and rows[0]["effectif"].data_type == "n"
    assert [r["surface"].value for r in rows] == [12.5, -3.25, None]
    assert rows[0]["date_ouverture"].is_date and rows[0]["date_ouverture"].value.date() == dt.date(2025, 3, 1)
    assert rows[0]["date_ouverture"].number_format == "DD/MM/YYYY"
    # a leading zero, an impossible date, more than 15 digits, mixed words: text as read
    assert rows[0]["telephone"].value == "0612345678" and rows[1]["telephone"].data_type == "s"
    assert rows[0]["mauvaise_date"].value == "31/02/2025"
    assert rows[0]["n_long"].value == "1234567890123456" and rows[0]["commentaire"].value == "12"


def test_xlsx_geometries_and_limits(tmp_path: Path) -> None:
    points = gpd.GeoDataFrame({"insee": ["01053"]}, geometry=[shapely.Point(870_000, 6_570_000)], crs=2154)
    sheet = _sheet(write_table(points, tmp_path / "points.xlsx"))
    assert [c.value for c in sheet[1]] == ["insee", "lon", "lat"]
    lon, lat = sheet["B2"].value, sheet["C2"].value
    assert 5 < lon < 5.5 and 46 < lat < 46.5
    polygons = gpd.GeoDataFrame({"insee": ["01053"]}, geometry=[shapely.box(0, 0, 1000, 1000)], crs=2154)
    assert [c.value for c in _sheet(write_table(polygons, tmp_path / "poly.xlsx"))[1]] == ["insee"]
    empty = write_table(pd.DataFrame({"code": pd.Series([], dtype=str)}), tmp_path / "empty.xlsx")
    assert [c.value for c in _sheet(empty)[1]] == ["code"] and len(read_table(empty)) == 0


def test_decimal_comma_keeps_codes_and_text(table: pd.DataFrame, tmp_path: Path) -> None:
    frame = table.assign(distance=["2.5 km", "1,5", "x"])
    path = write_table(frame, tmp_path / "out.csv", sep=";", bom=True, decimal=",")
    raw = path.read_text(encoding="utf-8-sig")
    first = raw.splitlines()[1].split(";")
    columns = list(frame.columns)
    assert first[columns.index("apl")] == "2,4661739261202427" and first[columns.index("insee")] == "01053"
    assert first[columns.index("code_postal")] == "01000" and first[columns.index("finess")] == "010000024"
    assert first[columns.index("distance")] == "2.5 km"  # text is never touched
    assert raw.splitlines()[3].split(";")[columns.index("apl")] == "-1,5"
    back = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", dtype={"insee": str, "code_postal": str})
    assert back["apl"].iloc[0] == pytest.approx(2.4661739261202427) and back["insee"].iloc[0] == "01053"
    points = write_table(frame, tmp_path / "point.csv", sep=";")
    assert "2.4661739261202427" in points.read_text()  # the default stays the decimal point
    read = read_table(path)  # the tool reads its own output back (French conventions detected)
    assert read["insee"].tolist() == ["01053", "2A004", "75056"] and len(read) == 3


def test_decimal_comma_needs_another_separator(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.5]})
    with pytest.raises(ZonageError, match="séparateur"):
        write_table(frame, tmp_path / "out.csv", sep=",", decimal=",")
    with pytest.raises(ZonageError, match="séparateur décimal"):
        write_table(frame, tmp_path / "out.csv", sep=";", decimal="·")
    assert list(tmp_path.iterdir()) == []
    assert csv_style(",", False, True) == {"sep": ";", "bom": False, "decimal": ","}
    assert csv_style("\t", True, True) == {"sep": "\t", "bom": True, "decimal": ","}
    assert csv_style(",", False, False) == {"sep": ",", "bom": False, "decimal": "."}
    with csv_options(decimal=","):
        text = write_table(frame, tmp_path / "ctx.csv", sep=";").read_text()
        assert write_table(frame, tmp_path / "explicit.csv", sep=";", decimal=".").read_text() == "x\n1.5\n"
    assert text == "x\n1,5\n"
    assert write_table(frame, tmp_path / "after.csv", sep=";").read_text() == "x\n1.5\n"


def test_labels_for_spreadsheets_only(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"insee": ["01053"], "access": [61.2], "extra": ["x"]},
                             geometry=[shapely.Point(5.22, 46.2)], crs=4326)
    assert list(label_columns(frame, "access_communes").columns) == [
        "code_commune", "accessibilite_mg_100k", "extra", "geometry"]
    csv = pd.read_csv(write_table(frame, tmp_path / "a.csv", labels="access_communes"), dtype=str)
    assert list(csv.columns) == ["code_commune", "accessibilite_mg_100k", "extra", "lon", "lat"]
    assert csv["code_commune"].iloc[0] == "01053"
    xlsx = _sheet(write_table(frame, tmp_path / "a.xlsx", labels={"insee": "code_commune"}))
    assert [c.value for c in xlsx[1]] == ["code_commune", "access", "extra", "lon", "lat"]
    assert "insee" in gpd.read_parquet(write_table(frame, tmp_path / "a.parquet", labels="access_communes")).columns
    assert "insee" in gpd.read_file(write_table(frame, tmp_path / "a.gpkg", labels="access_communes")).columns


def test_columns_doc_covers_every_label() -> None:
    """docs/COLUMNS.md describes every labelled column of every table, with its machine name."""
    text = DOCS.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    documented = " ".join(rows)
    for table, labels in COLUMN_LABELS.items():
        assert f"`{table}`" in text, table
        for machine, label in labels.items():
            if re.fullmatch(r".+_(need|points)", machine) and machine.split("_")[0] in (
                    "apl", "gp", "population", "qpv", "gap"):
                assert f"`{label}`" in documented, (table, label)
                continue
            assert f"`{label}` | `{machine}`" in documented or f"`{machine}`" in documented, (table, machine)
            assert f"`{label}`" in documented, (table, label)
        assert len(set(labels.values())) == len(labels), f"{table}: two columns with one label"


# --------------------------------------------------------------------------- commands on the real data

def test_score_without_output_writes_the_default_file(built, tmp_path: Path, monkeypatch) -> None:
    """`zonage score --level bv2012` as in the README: outputs/ in the current folder, French conventions."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--data", str(built.data), "score", "--level", "bv2012", "--region", "84"])
    assert result.exit_code == 0, result.output
    target = tmp_path / "outputs" / "score_bv2012_region_84.csv"
    assert target.exists() and "outputs/score_bv2012_region_84.csv" in result.output.replace("\n", "")
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.split(b"\n")[0].count(b";") > 20
    rows = pd.read_csv(target, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert {"code", "territoire", "rang", "score_besoin", "apl", "explication"} <= set(rows.columns)
    assert "score" not in rows.columns  # French labels by default
    codes = rows["code"]
    assert codes.str.fullmatch(r"\d[\dAB]\d{3}").all() and codes.str.startswith("0").any()  # 01xxx, 03xxx…
    assert rows["departement"].str.len().eq(2).all() and "01" in set(rows["departement"])
    assert re.fullmatch(r"-?\d+(\.\d+)?", rows["score_besoin"].iloc[0])  # decimal point by default
    xlsx = tmp_path / "scores.xlsx"
    result = runner.invoke(app, ["--data", str(built.data), "score", "--level", "departement", "--region", "84",
                                 "-o", str(xlsx), "--raw-columns"])
    assert result.exit_code == 0, result.output
    sheet = _sheet(xlsx)
    header = [c.value for c in sheet[1]]
    assert "score" in header and sheet.freeze_panes == "A2" and sheet.max_row == 13
    code = header.index("code")
    assert sorted(row[code].value for row in sheet.iter_rows(min_row=2))[:3] == ["01", "03", "07"]
    assert all(row[header.index("score")].data_type == "n" for row in sheet.iter_rows(min_row=2))
    comma = tmp_path / "comma.csv"
    result = runner.invoke(app, ["--data", str(built.data), "score", "--level", "departement", "--region", "84",
                                 "-o", str(comma), "--decimal-comma"])
    assert result.exit_code == 0, result.output
    back = pd.read_csv(comma, sep=";", decimal=",", dtype={"code": str}, encoding="utf-8-sig")
    assert back["score_besoin"].dtype == float and back["code"].iloc[0].isdigit()


def test_access_output_and_region(built, tmp_path: Path) -> None:
    target = tmp_path / "acces_reunion.csv"
    result = runner.invoke(app, ["--data", str(built.data), "access", "--region", "04", "-o", str(target),
                                 "--decimal-comma"])
    assert result.exit_code == 0, result.output
    communes = pd.read_csv(target, sep=";", decimal=",", dtype=str, encoding="utf-8-sig")
    assert len(communes) == 24 and communes["code_commune"].str.startswith("974").all()
    assert set(communes["code_region"]) == {"04"}  # a code keeps its leading zero
    assert float(communes["accessibilite_mg_100k"].str.replace(",", ".").iloc[0]) > 0
    territories = pd.read_csv(tmp_path / "acces_reunion_territoires.csv", sep=";", dtype=str, encoding="utf-8-sig")
    assert set(territories["niveau"]) == {"bv2012", "epci", "departement", "region"}
    assert set(territories.loc[territories["niveau"] == "region", "code"]) == {"04"}
    drees = pd.read_csv(tmp_path / "acces_reunion_vs_drees.csv", sep=";", dtype=str, encoding="utf-8-sig")
    assert set(drees["code_region"]) == {"04"}  # the région's rows only
    # A metropolitan région: computed over metropolitan France (catchments cross its border), then cut.
    xlsx = tmp_path / "acces_normandie.xlsx"
    result = runner.invoke(app, ["--data", str(built.data), "access", "--region", "normandie", "-o", str(xlsx)])
    assert result.exit_code == 0, result.output
    sheet = _sheet(xlsx)
    header = [c.value for c in sheet[1]]
    assert sheet.max_row == 2645 and header[0] == "code_commune"
    departements = {row[header.index("departement")].value for row in sheet.iter_rows(min_row=2)}
    assert departements == {"14", "27", "50", "61", "76"}
    assert all(row[header.index("accessibilite_mg_100k")].data_type == "n" for row in sheet.iter_rows(min_row=2))
    assert (tmp_path / "acces_normandie_territoires.xlsx").exists()
    bad = runner.invoke(app, ["--data", str(built.data), "access", "--region", "99", "-o", str(xlsx)])
    assert bad.exit_code == 2 and "99" in bad.output


def test_prioritise_xlsx_and_decimal_comma(built, tmp_path: Path) -> None:
    picks, naive = tmp_path / "postes.xlsx", tmp_path / "naive.csv"
    result = runner.invoke(app, ["--data", str(built.data), "prioritise", "--region", "28", "--posts", "2",
                                 "-o", str(picks), "--naive", str(naive), "--decimal-comma", "--date", "2025-03-01"])
    assert result.exit_code == 0, result.output
    sheet = _sheet(picks)
    header = [c.value for c in sheet[1]]
    assert sheet.max_row == 3 and {"rang", "finess", "code_commune", "justification"} <= set(header)
    for row in sheet.iter_rows(min_row=2):
        assert re.fullmatch(r"\d{9}", row[header.index("finess")].value)
        assert row[header.index("code_commune")].data_type == "s"
        assert row[header.index("gain")].data_type == "n" and row[header.index("rang")].data_type == "n"
    assert (tmp_path / "postes_summary.json").exists()
    raw = naive.read_text(encoding="utf-8-sig")
    rows = pd.read_csv(naive, sep=";", decimal=",", dtype={"finess": str, "code_commune": str},
                       encoding="utf-8-sig")
    assert len(rows) == 2 and rows["finess"].str.fullmatch(r"\d{9}").all() and rows["gain"].dtype == float
    assert re.search(r";\d+,\d+;", raw)


def test_eligibility_xlsx_keeps_codes(built, tmp_path: Path) -> None:
    source = tmp_path / "structures.csv"
    source.write_text("id;nom;lon;lat;categetab\n1;Centre de Bourg;5,2256;46,2052;124\n2;=1+1;5,2256;46,2052;603\n",
                      encoding="utf-8")
    target = tmp_path / "resultat.xlsx"
    result = runner.invoke(app, ["--data", str(built.data), "eligibility", str(source), "-o", str(target),
                                 "--date", "2025-03-01"])
    assert result.exit_code == 0, result.output
    sheet = _sheet(target)
    header = [c.value for c in sheet[1]]
    insee = [row[header.index("insee")] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in insee] == ["01053", "01053"] and all(c.data_type == "s" for c in insee)
    assert [row[header.index("nom")].value for row in sheet.iter_rows(min_row=2)] == ["Centre de Bourg", "=1+1"]
    back = read_table(target)
    assert len(back) == 2 and back["insee"].tolist() == ["01053", "01053"]
    csv = tmp_path / "resultat.csv"
    result = runner.invoke(app, ["--data", str(built.data), "eligibility", str(source), "-o", str(csv),
                                 "--decimal-comma", "--date", "2025-03-01"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(csv, sep=";", decimal=",", dtype={"insee": str})  # --decimal-comma switched "," to ";"
    assert rows["insee"].tolist() == ["01053", "01053"] and rows["lon"].iloc[0] == pytest.approx(5.2256)
