import bz2
import gzip
import io
import lzma
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from zonage.errors import InputDataError
from zonage.inputs import detect_columns, duplicate_id_errors, read_points, read_table


def test_latin1_semicolon_decimal_comma_csv(tmp_path: Path) -> None:
    file = tmp_path / "structures.csv"
    text = "Identifiant;Nom;Longitude;Latitude;Code postal\nA1;Centre de santé Élise;6,1757;49,1193;57000\n"
    file.write_bytes(text.encode("cp1252"))
    frame = read_table(file)
    spec = detect_columns(frame)
    assert (spec.id, spec.lon, spec.lat, spec.postcode, spec.name) == (
        "Identifiant", "Longitude", "Latitude", "Code postal", "Nom")
    points = read_points(frame, spec)
    assert points.x[0] == pytest.approx(6.1757) and points.y[0] == pytest.approx(49.1193)
    assert points.errors[0] is None
    assert frame.loc[0, "Nom"] == "Centre de santé Élise"


def test_per_row_coordinate_errors_name_row_and_field() -> None:
    frame = pd.DataFrame({
        "lon": ["6.17", "49.12", "652000", "abc", "", "-40", "2,35"],
        "lat": ["49.12", "6.17", "6862000", "49", "", "10", "48,85"],
    })
    points = read_points(frame, detect_columns(frame))
    e = points.errors
    assert e[0] is None and e[6] is None
    assert "ligne 2" in e[1] and "inversées" in e[1]
    assert "ligne 3" in e[2] and "Lambert-93" in e[2]
    assert e[3] == "ligne 4, champ 'lon' : 'abc' n'est pas un nombre" and e[3].code == "not_a_number"
    assert "ligne 5" in e[4] and "vides" in e[4]
    assert "ligne 6" in e[5] and "hors de France" in e[5]
    assert len(e) == len(frame)


def test_projected_columns_need_a_crs() -> None:
    frame = pd.DataFrame({"x": ["652000"], "y": ["6862000"]})
    with pytest.raises(InputDataError, match="--crs"):
        read_points(frame, detect_columns(frame))
    points = read_points(frame, detect_columns(frame), crs="EPSG:2154")
    assert points.errors[0] is None and points.crs == "EPSG:2154"


def test_geometry_input_invalid_and_empty(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(6.0, 49.0), (6.1, 49.1), (6.1, 49.0), (6.0, 49.1)])
    frame = gpd.GeoDataFrame({"id": [1, 2, 3]}, geometry=[shapely.Point(6.17, 49.12), bowtie, None], crs=4326)
    file = tmp_path / "s.gpkg"
    frame.to_file(file)
    back = read_table(file)
    points = read_points(back, detect_columns(back))
    assert points.errors[0] is None
    assert "géométrie invalide" in points.errors[1] and "géométrie vide" in points.errors[2]
    assert "ligne 2" in points.errors[1] and "(Self-intersection[" in points.errors[1]  # the reason, from GEOS
    assert points.geometry_kind is not None and points.geometry_kind.tolist() == ["point", None, None]


def test_wrong_crs_declared_on_geometries() -> None:
    frame = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.Point(652000, 6862000)], crs=4326)
    points = read_points(frame, detect_columns(frame))
    assert "Lambert-93" in points.errors[0]


def test_duplicate_ids() -> None:
    errors = duplicate_id_errors(pd.Series(["a", "b", "a", None, "a"]))
    assert errors[0] is None and errors[1] is None and errors[3] is None
    assert errors[2] == ("ligne 3, champ 'id' : identifiant en double 'a' (déjà en ligne 1) : donner un identifiant "
                         "unique à chaque ligne")
    assert "ligne 5" in errors[4]


def test_explicit_column_must_exist() -> None:
    with pytest.raises(InputDataError, match="'LON'"):
        detect_columns(pd.DataFrame({"a": [1]}), lon="LON")


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="introuvable"):
        read_table(tmp_path / "none.csv")
    (tmp_path / "x.doc").write_text("x")
    with pytest.raises(InputDataError, match="non pris en charge"):
        read_table(tmp_path / "x.doc")


def test_excel_keeps_codes_as_text(tmp_path: Path) -> None:
    file = tmp_path / "s.xlsx"
    pd.DataFrame({"finess": ["010000024"], "cp": ["01440"]}).to_excel(file, index=False)
    frame = read_table(file)
    assert frame.loc[0, "finess"] == "010000024" and frame.loc[0, "cp"] == "01440"
    assert np.isnan(read_points(frame, detect_columns(frame)).x[0])


STRUCTURES = "Identifiant;Nom;Longitude;Latitude\nA1;Centre Élise;6,1757;49,1193\nA2;\"Maison; santé\";6,2;49,2\n"


@pytest.mark.parametrize(
    ("name", "pack"),
    [
        ("in.csv.gz", gzip.compress),
        ("in.csv", gzip.compress),  # used to give garbage, or 0 rows without an error
        ("in.gz", gzip.compress),
        ("in.csv.xz", lzma.compress),
        ("in.csv.bz2", bz2.compress),
        ("in.zip", None),
    ],
)
def test_compressed_tables_by_content(tmp_path: Path, name: str, pack) -> None:
    raw = STRUCTURES.encode("cp1252")
    if pack is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("structures.csv", raw)
        data = buffer.getvalue()
    else:
        data = pack(raw)
    file = tmp_path / name
    file.write_bytes(data)
    frame = read_table(file)
    assert len(frame) == 2 and frame.loc[1, "Nom"] == "Maison; santé"
    points = read_points(frame, detect_columns(frame))
    assert points.x.tolist() == [6.1757, 6.2] and list(points.errors) == [None, None]


def test_lon_lat_two_columns_french(tmp_path: Path) -> None:
    file = tmp_path / "points.csv"
    file.write_bytes(b"lon;lat\r\n6,1757;49,1193\r\n6,18;49,12\r\n")
    frame = read_table(file)
    assert list(frame.columns) == ["lon", "lat"]
    points = read_points(frame, detect_columns(frame))
    assert points.y.tolist() == [49.1193, 49.12] and list(points.errors) == [None, None]


def test_broken_last_record_is_an_error_not_a_lost_row(tmp_path: Path) -> None:
    file = tmp_path / "structures.csv"
    file.write_text(STRUCTURES + 'A3;"Cabinet;6,3;49,3\n', encoding="utf-8")
    with pytest.raises(InputDataError, match=r"structures\.csv : ligne 3 \(ligne 4 du fichier\) : .* jamais fermée"):
        read_table(file)


def test_content_decides_over_the_name(tmp_path: Path) -> None:
    workbook = tmp_path / "really_a_workbook.csv"
    pd.DataFrame({"finess": ["010000024"]}).to_excel(workbook, index=False, engine="openpyxl")
    assert read_table(workbook).loc[0, "finess"] == "010000024"
    text = tmp_path / "export.xls"  # what many applications call "Excel export"
    text.write_bytes("finess\tnom\n010000024\tÉlise\n".encode("cp1252"))
    assert read_table(text).values.tolist() == [["010000024", "Élise"]]
    html = tmp_path / "page.xls"
    html.write_text("<html><table><tr><td>1</td></tr></table></html>")
    with pytest.raises(InputDataError, match=r"page\.xls : page web"):
        read_table(html)


def test_x_y_columns_holding_degrees_are_read_as_degrees() -> None:
    """Review: an XLSX with X/Y columns in degrees was refused as "projected coordinates"."""
    frame = pd.DataFrame({"X": ["4,824", "6.17"], "Y": ["50,138", "49.12"]})
    spec = detect_columns(frame)
    points = read_points(frame, spec)
    assert points.crs == "EPSG:4326" and np.allclose(points.x, [4.824, 6.17])
    metres = pd.DataFrame({"X": ["931000"], "Y": ["6900000"]})
    with pytest.raises(InputDataError, match="--crs"):
        read_points(metres, detect_columns(metres))
