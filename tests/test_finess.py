import gzip
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod, Transformer

import zonage.layers.finess as finess_layer
from zonage.config import Paths
from zonage.errors import SourceFormatError
from zonage.layers.finess import finess_points
from zonage.layers.pipeline import read_manifest
from zonage.layers.store import read_layer, write_layer
from zonage.sources.finess import (
    COLUMNS,
    crs_of_sourcecoordet,
    insee_departement,
    read_finess,
    read_finess_etalab,
    read_finess_flat,
)

GEOD = Geod(ellps="WGS84")

# Hand-written lines in the official etalab stock layout (31 fields after the type,
# trailing ';' as published), not copied from any file.
STOCK_LINES = [
    "finess;etalab;95;2021-01-08",
    "structureet;010000024;010780054;CH TEST BOURG;CENTRE HOSPITALIER TEST;;;900;RTE;DE PARIS;;;451;01;"
    "AIN;01440 VIRIAT;0474000000;;355;Centre Hospitalier (C.H.);1102;Centres Hospitaliers;"
    "26010004500012;8610Z;03;ARS;1;Etablissement public de santé;1979-02-13;1979-02-13;2020-02-04;",
    "structureet;2A0000011;2A0000003;\"CDS \"\"LE PORT\"\"\";;;;2;QUAI;DU PORT;B;;004;2A;CORSE-DU-SUD;"
    "20000 AJACCIO;;;124;Centre de Santé;1104;Centres de Santé;;;;;;;01/02/2003;;15/03/2020;",
    "structureet;970100012;970100103;POLYCLINIQUE TEST;;;;;;MORNE;;;101;9A;GUADELOUPE;97139 LES ABYMES;"
    "0590000000;;365;Etablissement de Soins Pluridisciplinaire;1110;Soins;31328539700011;8610Z;07;"
    "ARS;0;Non concerné;1980-01-01;1980-01-01;2019-01-01;",
    "structureet;970400024;970408589;CHU TEST;;;;;ALL;DES TOPAZES;;;411;9D;LA REUNION;"
    "97405 ST DENIS CEDEX;;;101;Centre Hospitalier Régional (C.H.R.);1101;CHR;;;;;;;"
    "1957-07-01;1957-07-01;2020-11-13;",
    "structureet;750000001;750000002;SANS COORDONNEES;;;;;;;;;118;75;PARIS;75018 PARIS;;;603;"
    "Maison de santé (L.6223-3);1104;Centres de Santé;;;;;;;2015-01-01;2015-01-01;2020-01-01;",
    "geolocalisation;010000024;870215.7;6571590.5;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2020-02-04",
    "geolocalisation;2A0000011;1177000.0;6103000.0;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2020-03-15",
    "geolocalisation;970100012;657000.0;1800000.0;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_N20;2019-01-01",
    "geolocalisation;970400024;338000.0;7690000.0;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_S40;2020-11-13",
]


def _stock_file(tmp_path: Path, encoding: str = "latin-1") -> Path:
    file = tmp_path / "etalab-cs1100507-stock-20210108-0336.csv"
    file.write_bytes(("\n".join(STOCK_LINES) + "\n").encode(encoding))
    return file


def _table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    frame["x_src"] = frame["x_src"].astype(float)
    frame["y_src"] = frame["y_src"].astype(float)
    return frame[list(COLUMNS)]


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
def test_official_stock_format_is_parsed(tmp_path: Path, encoding: str) -> None:
    table = read_finess_etalab(_stock_file(tmp_path, encoding))
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 5
    by_id = table.set_index("nofinesset")
    bourg = by_id.loc["010000024"]
    assert bourg["nofinessej"] == "010780054"
    assert bourg["code_postal"] == "01440" and bourg["commune"] == "VIRIAT"
    assert bourg["insee_com"] == "01451"
    assert bourg["adresse"] == "900 RTE DE PARIS"
    assert bourg["crs_src"] == "EPSG:2154"
    assert bourg["x_src"] == pytest.approx(870215.7) and bourg["y_src"] == pytest.approx(6571590.5)
    assert bourg["libsph"] == "Etablissement public de santé"
    assert bourg["categetab"] == "355" and bourg["categagretab"] == "1102"
    corse = by_id.loc["2A0000011"]
    assert corse["rs"] == 'CDS "LE PORT"'  # quoted field with doubled quotes
    assert corse["dep"] == "2A" and corse["insee_com"] == "2A004"
    assert corse["dateouv"] == "2003-02-01" and corse["datemaj"] == "2020-03-15"
    assert corse["adresse"] == "2 B QUAI DU PORT"
    guad = by_id.loc["970100012"]
    assert guad["dep"] == "971" and guad["insee_com"] == "97101" and guad["crs_src"] == "EPSG:5490"
    reunion = by_id.loc["970400024"]
    assert reunion["dep"] == "974" and reunion["crs_src"] == "EPSG:2975"
    assert reunion["commune"] == "ST DENIS CEDEX"
    missing = by_id.loc["750000001"]
    assert math.isnan(missing["x_src"]) and pd.isna(missing["crs_src"])
    assert table.attrs["extraction_date"] == "2021-01-08"
    assert read_finess(_stock_file(tmp_path, encoding)).equals(table)


def test_stock_format_rejects_other_files(tmp_path: Path) -> None:
    file = tmp_path / "x.csv"
    file.write_text("a;b;c\n1;2;3\n")
    with pytest.raises(SourceFormatError, match="not an etalab FINESS stock file"):
        read_finess_etalab(file)


def test_flat_format_keeps_codes_as_text(tmp_path: Path) -> None:
    file = tmp_path / "finess_et_2021-01-08.csv.gz"
    text = (
        "id,nofinesset,siret,nofinessej,rs,adresse,code_postal,commune,categetab,libcategetab,"
        "categagretab,libcategagretab,codeape,codesph,libsph,telephone,dateouv,datemaj,x_src,y_src,"
        "dep,crs_src\n"
        "a,010000024,,010780054,CH,1 R X,01440,VIRIAT,124,Centre de Santé,1104,CDS,,,,0474000000,"
        "1979-02-13,2020-02-04,870215.7,6571590.5,01,EPSG:2154\n"
        "b,750000001,,750000002,MSP,,75018,PARIS,603,MSP,1104,CDS,,,,,2015-01-01,2020-01-01,,,75,EPSG:2154\n"
    )
    file.write_bytes(gzip.compress(text.encode()))
    table = read_finess(file)
    assert list(table.columns) == list(COLUMNS)
    assert table["nofinesset"].tolist() == ["010000024", "750000001"]
    assert table["code_postal"].tolist() == ["01440", "75018"]
    assert table["telephone"].iloc[0] == "0474000000"
    assert pd.isna(table["siret"].iloc[0]) and np.isnan(table["x_src"].iloc[1])
    assert read_finess_flat(file).equals(table)


def test_departement_and_projection_codes() -> None:
    deps = pd.Series(["9A", "9B", "9C", "9D", "9F", "2A", "2B", "1", "01", "974"])
    assert insee_departement(deps).tolist() == ["971", "972", "973", "974", "976", "2A", "2B",
                                                 "01", "01", "974"]
    source = pd.Series(["1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93", "x,UTM_N20", "x,UTM_N22",
                        "x, UTM_S40", "x,UNKNOWN", None])
    assert crs_of_sourcecoordet(source).tolist()[:4] == ["EPSG:2154", "EPSG:5490", "EPSG:2972",
                                                          "EPSG:2975"]
    assert crs_of_sourcecoordet(source).isna().tolist()[4:] == [True, True]


def test_lambert93_point_reprojected_within_one_metre() -> None:
    # (700000, 6600000) is the Lambert-93 false origin: lon 3°E, lat 46.5°N by definition.
    x, y = 652469.0, 6862035.0  # a point in Paris
    ref_lon, ref_lat = Transformer.from_crs(2154, 4326, always_xy=True).transform(x, y)
    table = _table([
        {"nofinesset": "750000011", "dep": "75", "crs_src": "EPSG:2154", "x_src": x, "y_src": y},
        {"nofinesset": "460000011", "dep": "46", "crs_src": "EPSG:2154", "x_src": 700000.0,
         "y_src": 6600000.0},
    ])
    layer, report = finess_points(table)
    assert layer.crs.to_epsg() == 4326
    paris, origin = layer.geometry.iloc[0], layer.geometry.iloc[1]
    assert GEOD.inv(paris.x, paris.y, ref_lon, ref_lat)[2] < 1.0
    assert GEOD.inv(origin.x, origin.y, 3.0, 46.5)[2] < 1.0
    assert report["coord_issue"] == 0


def test_rows_without_coordinates_are_kept_and_flagged(tmp_path: Path) -> None:
    table = _table([
        {"nofinesset": "010000024", "dep": "01", "crs_src": "EPSG:2154", "x_src": 870215.7,
         "y_src": 6571590.5, "categetab": "124", "libcategetab": "Centre de Santé"},
        {"nofinesset": "750000001", "dep": "75", "crs_src": "EPSG:2154", "x_src": np.nan,
         "y_src": np.nan, "categetab": "603"},
        {"nofinesset": "970400024", "dep": "9D", "crs_src": "EPSG:2975", "x_src": np.nan,
         "y_src": np.nan},
    ])
    layer, report = finess_points(table)
    assert len(layer) == 3
    assert layer["has_coords"].tolist() == [True, False, False]
    assert layer.geometry.isna().tolist() == [False, True, True]
    assert layer["territory"].tolist() == ["metro", "metro", "974"]
    assert layer["categetab"].tolist()[:2] == ["124", "603"]
    assert report["rows_without_coords"] == 2
    assert set(report["without_coords"]) == {"750000001", "970400024"}
    # The store keeps them too, each in its territory's file.
    paths = Paths(data=tmp_path)
    write_layer(paths, "finess", layer)
    back = read_layer(paths, "finess")
    assert len(back) == 3 and (~back["has_coords"]).sum() == 2
    assert read_layer(paths, "finess", territory="974").crs.to_epsg() == 2975


def test_implausible_coordinates_are_flagged_not_dropped() -> None:
    table = _table([
        {"nofinesset": "1", "dep": "01", "crs_src": "EPSG:2154", "x_src": 870215.7, "y_src": 6571590.5},
        {"nofinesset": "2", "dep": "01", "crs_src": "EPSG:2154", "x_src": 6571590.5, "y_src": 870215.7},
        {"nofinesset": "3", "dep": "01", "crs_src": "EPSG:2154", "x_src": 0.0, "y_src": 0.0},
        {"nofinesset": "4", "dep": "971", "crs_src": "EPSG:2975", "x_src": 338000.0, "y_src": 7690000.0},
        {"nofinesset": "5", "dep": "9B", "crs_src": "EPSG:5490", "x_src": 657000.0, "y_src": 1800000.0},
    ])
    layer, report = finess_points(table)
    assert len(layer) == 5
    assert layer["coord_issue"].tolist() == [False, True, True, True, True]
    assert layer["crs_territory_mismatch"].tolist() == [False, False, False, True, False]
    assert report["coord_issue"] == 4
    assert report["coord_issue_outside_territory_extent"] >= 3  # 5 is Guadeloupe, filed as 972


def test_one_transform_per_source_crs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = finess_layer.transform_xy

    def counting(x, y, src, dst):
        calls.append((src, len(x)))
        return original(x, y, src, dst)

    monkeypatch.setattr(finess_layer, "transform_xy", counting)
    n = 1000
    rng = np.random.default_rng(0)
    table = _table(
        [{"nofinesset": f"{i:09d}", "dep": "13", "crs_src": "EPSG:2154",
          "x_src": rng.uniform(8e5, 9e5), "y_src": rng.uniform(6.25e6, 6.3e6)} for i in range(n)]
        + [{"nofinesset": f"97{i:07d}", "dep": "9D", "crs_src": "EPSG:2975",
            "x_src": 340000.0, "y_src": 7670000.0} for i in range(10)]
    )
    layer, _ = finess_points(table)
    assert sorted(calls) == [("EPSG:2154", n), ("EPSG:2975", 10)]
    assert layer["has_coords"].all()


def test_collectivities_and_unknown_territories_are_kept() -> None:
    table = _table([
        {"nofinesset": "1", "dep": "01", "crs_src": "EPSG:2154", "x_src": 870215.7, "y_src": 6571590.5},
        {"nofinesset": "2", "dep": "9E", "crs_src": pd.NA, "x_src": np.nan, "y_src": np.nan},
        {"nofinesset": "3", "dep": pd.NA, "crs_src": pd.NA, "x_src": np.nan, "y_src": np.nan},
    ])
    layer, report = finess_points(table)
    assert report["rows_read"] == 3 and report["rows"] == 3 and report["rows_without_territory"] == 1
    assert layer["nofinesset"].tolist() == ["1", "2", "3"]
    assert layer["territory"].tolist() == ["metro", "975", "unknown"]


# --- real data -------------------------------------------------------------------------------

EXPECTED_PER_CRS = {"EPSG:2154": 93_288, "EPSG:5490": 1_142, "EPSG:2972": 221, "EPSG:2975": 682}


@pytest.fixture(scope="module")
def built_finess(build_layers) -> Paths:
    return build_layers("finess", "qpv")


def test_real_finess_layer(built_finess: Paths) -> None:
    layer = read_layer(built_finess, "finess")
    assert layer.crs.to_epsg() == 4326
    assert len(layer) == 95_333
    assert layer["nofinesset"].is_unique
    assert layer.groupby("crs_src").size().to_dict() == EXPECTED_PER_CRS
    assert layer["territory"].value_counts().to_dict() == {
        "metro": 93_288, "971": 601, "972": 541, "974": 682, "973": 221}
    assert (~layer["has_coords"]).sum() == 9
    assert layer.geometry.isna().sum() == 9
    assert layer["nofinesset"].str.fullmatch(r"[0-9AB]{9}").all()
    assert set(layer.loc[layer["categetab"] == "603", "libcategetab"]) != set()
    report = read_manifest(built_finess)["finess"]["report"]
    assert report["rows"] == 95_333
    assert report["rows_with_coords"] == 95_324
    assert report["rows_per_crs"] == EXPECTED_PER_CRS
    assert report["coord_issue"] == int(layer["coord_issue"].sum())
    assert report["crs_territory_mismatch"] == 0
    assert report["saint_martin_saint_barthelemy"] == 47
    assert read_manifest(built_finess)["finess"]["vintage"] == "FINESS extraction of 2021-01-08"


# Saint-Barthélemy (97133) and Saint-Martin (97150) left département 971 in 2007 (collectivités
# 977, 978) but FINESS still files them under Guadeloupe (9A); the départements layer has no
# polygon for them, so they are counted apart.
COM_POSTCODES = {"97133", "97150"}


def test_real_finess_points_fall_in_their_own_departement(build_layers) -> None:
    paths = build_layers("communes", "finess")
    rates, outliers, collectivities = {}, [], 0
    for territory in ("metro", "971", "972", "973", "974"):
        points = read_layer(paths, "finess", territory=territory)
        points = points[points["has_coords"]]
        com = points["code_postal"].isin(COM_POSTCODES)
        collectivities += int(com.sum())
        points = points[~com]
        deps = read_layer(paths, "departements", territory=territory)[["departement", "geometry"]]
        joined = gpd.sjoin(points[["nofinesset", "rs", "dep", "commune", "geometry"]], deps,
                           how="left", predicate="within")
        joined = joined[~joined.index.duplicated(keep="first")]
        ok = (joined["dep"] == joined["departement"]).fillna(False).astype(bool)
        assert len(ok) == len(points)
        rates[territory] = float(ok.mean())
        bad = joined.loc[~ok, ["nofinesset", "rs", "commune", "dep", "departement"]]
        outliers.extend(bad.assign(territory=territory).astype(str).to_dict("records"))
    print("rate in own département per territory:", rates)
    print(f"{collectivities} points in Saint-Martin / Saint-Barthélemy (no département polygon)")
    print(f"{len(outliers)} outliers:")
    for row in outliers:
        print("  ", row)
    assert collectivities == 47
    for territory, rate in rates.items():
        assert rate >= 0.99, (territory, rate)
