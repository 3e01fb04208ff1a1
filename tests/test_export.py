import json
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from zonage.errors import InputDataError, ZonageError
from zonage.export import inside_folder, refuse_same_file, write_table


@pytest.fixture()
def frame() -> gpd.GeoDataFrame:
    clockwise = shapely.Polygon([(0, 0), (0, 1000), (1000, 1000), (1000, 0)])  # exterior clockwise
    return gpd.GeoDataFrame(
        {"code": ["01001", "75056"], "tags": [["a", "b"], []], "nom": ["L'Abergement", "Paris <b>"]},
        geometry=[shapely.affinity.translate(clockwise, 650_000, 6_860_000), shapely.Point(652_000, 6_862_000)],
        crs=2154,
    )


def test_geojson_is_rfc7946(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = write_table(frame, tmp_path / "out.geojson")
    data = json.loads(path.read_text())
    assert "crs" not in data  # RFC 7946: WGS84 implied
    ring = data["features"][0]["geometry"]["coordinates"][0]
    assert shapely.LinearRing(ring).is_ccw  # exterior counter-clockwise
    assert all(len(str(c).split(".")[-1]) <= 6 for pt in ring for c in pt)
    lon, lat = ring[0]
    assert 2 < lon < 3 and 48 < lat < 49
    back = gpd.read_file(path)
    assert back["code"].tolist() == ["01001", "75056"] and back["tags"].tolist()[0] == "a;b"


def test_gpkg_round_trip_keeps_crs_and_layer(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = write_table(frame, tmp_path / "out.gpkg", layer="communes")
    assert pyogrio.list_layers(path)[0][0] == "communes"
    back = gpd.read_file(path, layer="communes")
    assert back.crs.to_epsg() == 2154 and back.geometry.equals(frame.geometry)


def test_csv_for_spreadsheets(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = write_table(frame.iloc[[1]], tmp_path / "out.csv", sep=";", bom=True)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str)
    assert back.loc[0, "code"] == "75056" and float(back.loc[0, "lat"]) == pytest.approx(48.85, abs=0.05)


def test_parquet_round_trip_and_errors(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = write_table(frame, tmp_path / "out.parquet")
    assert gpd.read_parquet(path).crs.to_epsg() == 2154
    with pytest.raises(ZonageError, match="demande des géométries"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.geojson")
    with pytest.raises(ZonageError, match="impossible de reconnaître le format"):
        write_table(frame, tmp_path / "out.xyz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


def test_csv_neutralises_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "nom": ["=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx", "Élise", None],
        "texte_nombre": ["-1.5", "+33", "-2,5", "1e-3", "-", "+33 6 12 34 56 78", "0612", ""],
        "valeur": [-1.5, 2.0, -3.25, 0.0, -0.5, 1.0, 2.5, -7.0],
        "entier": [-1, 2, -3, 4, -5, 6, 7, -8],
    })
    frame["=titre"] = "x"
    path = write_table(frame, tmp_path / "out.csv", sep=";")
    back = pd.read_csv(path, sep=";", dtype={"nom": str, "texte_nombre": str}, keep_default_na=False)
    assert back["nom"].tolist() == [
        "'=HYPERLINK(\"http://x\")", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "Élise", ""]
    assert back["texte_nombre"].tolist() == ["-1.5", "+33", "-2,5", "1e-3", "'-", "'+33 6 12 34 56 78", "0612", ""]
    assert back["valeur"].tolist() == frame["valeur"].tolist() and back["valeur"].dtype == float
    assert back["entier"].tolist() == frame["entier"].tolist()
    assert list(back.columns)[-1] == "'=titre"
    assert frame.loc[0, "nom"].startswith("=")  # the caller's frame is not modified


def test_only_csv_is_neutralised(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    frame = frame.assign(nom=["=1+1", "-x"])
    sheet = load_workbook(write_table(frame, tmp_path / "out.xlsx")).active
    cells = [row[[c.value for c in sheet[1]].index("nom")] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == ["=1+1", "-x"] and {c.data_type for c in cells} == {"s"}  # text, not run
    # a polygon beside a point (this frame): the point as lon/lat, the polygon as WKT in CSV, left out in XLSX
    header = [c.value for c in sheet[1]]
    assert "wkt" not in header and [row[header.index("lon")].value is None for row in sheet.iter_rows(min_row=2)] \
        == [True, False]
    back = pd.read_csv(write_table(frame, tmp_path / "mixed.csv"))
    assert back["wkt"].iloc[0].startswith("POLYGON") and pd.isna(back["wkt"].iloc[1])
    assert pd.isna(back["lon"].iloc[0]) and 2 < back["lon"].iloc[1] < 3  # Lambert-93 (652 km, 6862 km): Paris
    assert gpd.read_parquet(write_table(frame, tmp_path / "out.parquet"))["nom"].tolist() == ["=1+1", "-x"]
    assert gpd.read_file(write_table(frame, tmp_path / "out.gpkg"))["nom"].tolist() == ["=1+1", "-x"]


def test_refuse_same_file(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n")
    with pytest.raises(InputDataError, match=r"la sortie .*in\.csv est le fichier d'entrée .*in\.csv"):
        refuse_same_file(source, tmp_path / "other.csv", source)
    with pytest.raises(InputDataError, match="détruirait l'entrée"):
        refuse_same_file(tmp_path / "sub" / ".." / "in.csv", str(source))  # another spelling
    link = tmp_path / "hard.csv"
    os.link(source, link)
    with pytest.raises(InputDataError, match=r"la sortie .*hard\.csv est le fichier d'entrée .*in\.csv"):
        refuse_same_file(link, source)  # a hard link: same inode
    symlink = tmp_path / "soft.csv"
    symlink.symlink_to(source)
    with pytest.raises(InputDataError, match="est le fichier d'entrée"):
        refuse_same_file(symlink, source)
    refuse_same_file(tmp_path / "out.csv", source, None)  # a new file
    copy = tmp_path / "copy.csv"
    copy.write_text(source.read_text())
    refuse_same_file(copy, source)  # same content, another file


def test_inside_folder(tmp_path: Path) -> None:
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    assert inside_folder(folder, "carte.csv") == folder.resolve() / "carte.csv"
    assert inside_folder(folder, "sub/carte.csv") == folder.resolve() / "sub" / "carte.csv"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (folder / "link").symlink_to(outside)
    for name in ("../x.csv", "sub/../../x.csv", "/etc/passwd", str(tmp_path / "x.csv"), "link/x.csv", "", ".",
                 "a\x00b"):
        with pytest.raises(InputDataError, match=r"hors de|n'est pas un nom de fichier dans"):
            inside_folder(folder, name)


def test_xlsx_format_and_atomic_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl import load_workbook

    from zonage import export

    assert export.format_of("resultat.XLSX") == "xlsx" and export.format_of("x", "xlsx") == "xlsx"
    target = tmp_path / "out.xlsx"
    write_table(pd.DataFrame({"insee": ["01053"], "apl": [2.5]}), target, layer="feuille")
    before = target.read_bytes()
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 3)
    with pytest.raises(ZonageError, match="ne tiennent pas dans une feuille Excel"):
        write_table(pd.DataFrame({"insee": ["01053"] * 3}), target)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]
    book = load_workbook(target)
    assert book.sheetnames == ["feuille"] and book.active["A2"].value == "01053"


def test_format_and_extension_must_agree(tmp_path: Path) -> None:
    with pytest.raises(ZonageError, match=r"x\.xlsx : l'extension annonce du xlsx mais le format demandé est csv"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.xlsx", fmt="csv")
    assert list(tmp_path.iterdir()) == []
    assert write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.txt", fmt="csv").read_text().startswith("a")

