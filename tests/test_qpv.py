import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from zonage.config import Paths
from zonage.crs import TERRITORY_CRS
from zonage.errors import SourceFormatError
from zonage.layers.pipeline import read_manifest
from zonage.layers.qpv import combine_qpv, make_valid_polygons
from zonage.layers.store import read_layer, territories
from zonage.sources.qpv import (
    QPV_COLUMNS,
    departement_of_code,
    generation_of_code,
    read_qpv,
    read_qpv_2015,
    read_qpv_anct,
    read_qpv_communes,
    read_qpv_paca,
    territory_of_qpv,
)


def _feature(props: dict, geom: shapely.Geometry) -> dict:
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}


def _geojson(path: Path, features: list[dict], **top: object) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", **top, "features": features}))
    return path


NICE = shapely.box(7.25, 43.70, 7.26, 43.71)
MARSEILLE = shapely.box(5.40, 43.30, 5.41, 43.31)
TOULOUSE = shapely.box(1.44, 43.60, 1.45, 43.61)
# A bow-tie: the ring crosses itself at (1.405, 43.605).
BOWTIE = shapely.Polygon([(1.40, 43.60), (1.41, 43.61), (1.41, 43.60), (1.40, 43.61), (1.40, 43.60)])


def _paca(tmp_path: Path) -> Path:
    return _geojson(tmp_path / "paca.geojson", [
        _feature({"q": "QN00612M", "n": "Ariane", "z": "ZAC", "d": "06",
                  "com": ["06088", "06114", "06149"]}, shapely.MultiPolygon([NICE])),
        _feature({"q": "QN01341I", "n": "Les Escourtines", "z": "zip", "d": "13",
                  "com": ["13055"]}, MARSEILLE),
    ], millesime="2025")


def _occitanie(tmp_path: Path) -> Path:
    return _geojson(tmp_path / "occ.geojson", [
        _feature({"code_qp": "QP031001", "nom_qp": "Bowtie", "commune_qp": "Toulouse",
                  "code_commune": "31555", "nom_commune": "Toulouse", "code_departement": "31"},
                 BOWTIE),
        _feature({"code_qp": "QP031002", "nom_qp": "Square", "commune_qp": "Toulouse",
                  "code_commune": "31555", "nom_commune": "Toulouse", "code_departement": "31"},
                 TOULOUSE),
    ])


def _anct_frame(codes: dict[str, shapely.Geometry], source: str = "national") -> gpd.GeoDataFrame:
    rows = []
    for code, geom in codes.items():
        dep = departement_of_code(pd.Series([code])).iloc[0]
        rows.append({"code_qp": code, "lib_qp": f"Q {code}", "insee_reg": "93", "lib_reg": "PACA",
                     "insee_dep": dep, "insee_com": "06088" if dep == "06" else "97411",
                     "geometry": geom})
    return gpd.GeoDataFrame(rows, crs=4326)


def _communes_table(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"code_qp": [r[0] for r in rows], "lib_qp": "x",
                         "insee_com": [r[1] for r in rows], "lib_com": "y",
                         "dep": [departement_of_code(pd.Series([r[0]])).iloc[0] for r in rows]}
                        ).astype("string")


def test_codes_give_generation_and_departement() -> None:
    codes = pd.Series(["QN00801M", "QP066007", "QN02A01M", "QP971001", "QN97401I", "XX"])
    assert generation_of_code(codes).tolist()[:5] == [2024, 2015, 2024, 2015, 2024]
    assert pd.isna(generation_of_code(codes).iloc[5])
    assert departement_of_code(codes).tolist()[:5] == ["08", "66", "2A", "971", "974"]
    deps = pd.Series(["08", "2A", "971", "976", "978", "975"])
    # Saint-Martin's QPV go with Guadeloupe's territory (same CRS, no commune polygons of its own);
    # Saint-Pierre-et-Miquelon is a territory of its own.
    assert territory_of_qpv(deps).tolist() == ["metro", "metro", "971", "976", "971", "975"]


def test_paca_terse_schema_is_harmonised(tmp_path: Path) -> None:
    frame = read_qpv_paca(_paca(tmp_path), source="qpv2024_paca")
    assert list(frame.columns) == list(QPV_COLUMNS)
    assert frame.crs.to_epsg() == 4326
    ariane = frame.iloc[0]
    assert ariane["code_qp"] == "QN00612M" and ariane["nom_qp"] == "Ariane"
    assert ariane["generation"] == 2024
    assert ariane["insee_com"] == "06088"
    assert ariane["communes"] == "06088;06114;06149"
    assert ariane["departement"] == "06" and ariane["region"] == "93"
    assert ariane["classe_qpv"] == "ZAC" and ariane["territory"] == "metro"
    assert frame["classe_qpv"].tolist() == ["ZAC", "ZIP"]
    assert frame["source"].tolist() == ["qpv2024_paca"] * 2
    assert read_qpv(_paca(tmp_path), source="qpv2024_paca").drop(columns="geometry").equals(
        frame.drop(columns="geometry"))


def test_paca_commune_list_as_text_is_accepted(tmp_path: Path) -> None:
    path = _geojson(tmp_path / "p.geojson", [
        _feature({"q": "QN00603M", "n": "R", "z": "ZIP", "d": "6", "com": "6029;06030"}, NICE)])
    frame = read_qpv_paca(path, source="p")
    assert frame["communes"].iloc[0] == "06029;06030" and frame["departement"].iloc[0] == "06"


def test_self_intersecting_polygon_is_fixed_and_counted(tmp_path: Path) -> None:
    occ = read_qpv_2015(_occitanie(tmp_path), source="qpv2015_occitanie")
    assert not occ.geometry.iloc[0].is_valid
    fixed, fix = make_valid_polygons(occ)
    assert fix["invalid"] == 1 and fix["codes"] == ["QP031001"]
    assert "Self-intersection" in fix["reasons"][0]
    assert fixed.geometry.is_valid.all()
    assert (fixed.geom_type == "MultiPolygon").all()
    # The bow-tie becomes its two triangles: half the bounding box.
    assert fixed.geometry.iloc[0].area == pytest.approx(BOWTIE.envelope.area / 2)
    layer, report = combine_qpv([occ], None, _communes_table([]))
    assert report["invalid_fixed"] == 1
    assert report["invalid_fixed_per_source"] == {"qpv2015_occitanie": 1}
    assert report["all_valid"] and layer.geometry.is_valid.all()
    assert layer["generation"].tolist() == [2015, 2015]
    assert layer["region"].tolist() == ["76", "76"]
    assert layer["classe_qpv"].isna().all()


def test_national_file_supersedes_regional_extract(tmp_path: Path) -> None:
    paca = read_qpv_paca(_paca(tmp_path), source="qpv2024_paca")
    # The national file as a GeoPackage with upper-case ANCT names, one code shared with PACA.
    national_path = tmp_path / "QP2024_France_Hexagonale_Outre_Mer_WGS84.gpkg"
    national_frame = _anct_frame({"QN00612M": NICE.buffer(0.001), "QN97401I":
                                  shapely.box(55.45, -20.90, 55.46, -20.89)})
    national_frame.columns = [c.upper() if c != "geometry" else c for c in national_frame.columns]
    national_frame.to_file(national_path, driver="GPKG", engine="pyogrio")
    national = read_qpv_anct(national_path, source="qpv2024_national")
    assert national["code_qp"].tolist() == ["QN00612M", "QN97401I"]
    assert national["territory"].tolist() == ["metro", "974"]
    table = _communes_table([("QN00612M", "06088"), ("QN00612M", "06200"), ("QN99999X", "75056")])
    layer, report = combine_qpv([paca], national, table)
    assert len(layer) == 3
    ariane = layer.set_index("code_qp").loc["QN00612M"]
    assert ariane["source"] == "qpv2024_national"
    assert ariane["geometry"].equals(shapely.MultiPolygon([NICE.buffer(0.001)]))
    assert ariane["classe_qpv"] == "ZAC"  # PACA's class joined on by code
    assert ariane["communes"] == "06088;06114;06149;06200"
    escourtines = layer.set_index("code_qp").loc["QN01341I"]
    assert escourtines["source"] == "qpv2024_paca"  # not in the national file: kept
    assert report["superseded_by_national"] == 1 and report["duplicates_dropped"] == 1
    assert report["national_file"] is True
    assert report["polygons_2024_not_in_anct_table"] == ["QN01341I", "QN97401I"]
    assert report["anct_table_not_in_polygons"] == 1


def test_deduplication_is_deterministic(tmp_path: Path) -> None:
    a = read_qpv_paca(_paca(tmp_path), source="a")
    b = a.copy()
    b["source"] = "b"
    b["nom_qp"] = "other name"
    first, report = combine_qpv([a, b], None, _communes_table([]))
    second, _ = combine_qpv([a.iloc[::-1], b.iloc[::-1]], None, _communes_table([]))
    assert report["duplicates_dropped"] == 2
    assert first["code_qp"].is_unique and len(first) == 2
    assert first["source"].tolist() == ["a", "a"]
    pd.testing.assert_frame_equal(first.drop(columns="geometry"), second.drop(columns="geometry"))
    assert first.geometry.equals(second.geometry)


def test_qpv_communes_table(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("code_qp,lib_qp,insee_com,lib_com,lib_qp_list_raw,dep\n"
                    "QN00103M,Les Courbes,1004,Ambérieu,,1\n"
                    "QN00103M,Les Courbes,1004,Ambérieu,,1\n"
                    "QN97401I,X,97411,St-Denis,,974\n", encoding="utf-8")
    table = read_qpv_communes(path)
    assert list(table.columns) == ["code_qp", "lib_qp", "insee_com", "lib_com", "dep"]
    assert table["insee_com"].tolist() == ["01004", "97411"]
    assert table["dep"].tolist() == ["01", "974"]
    bad = tmp_path / "b.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(SourceFormatError, match="missing columns"):
        read_qpv_communes(bad)


# --- real data -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_qpv(build_layers) -> Paths:
    return build_layers("finess", "qpv")


def test_real_qpv_layer(built_qpv: Paths) -> None:
    qpv = read_layer(built_qpv, "qpv")
    assert qpv.crs.to_epsg() == 4326
    assert len(qpv) == 123 + 63 + 135 + 105
    assert not qpv.duplicated(["generation", "code_qp"]).any()
    gen2024 = qpv[qpv["generation"] == 2024]
    assert gen2024["region"].value_counts().to_dict() == {"93": 135, "44": 123, "28": 63}
    paca = gen2024[gen2024["region"] == "93"]
    assert paca["classe_qpv"].value_counts().to_dict() == {"ZAC": 68, "ZIP": 67}
    assert gen2024.loc[gen2024["region"] != "93", "classe_qpv"].isna().all()
    assert gen2024["code_qp"].str.startswith("QN").all()
    occ = qpv[qpv["generation"] == 2015]
    assert len(occ) == 105 and set(occ["region"]) == {"76"}
    assert occ["code_qp"].str.startswith("QP").all()
    assert qpv["insee_com"].str.fullmatch(r"\d{5}|2[AB]\d{3}").all()
    assert (qpv["communes"].str.split(";").str[0].notna()).all()
    # Every geometry is valid, read back in EPSG:4326 and in each territory's metric CRS.
    assert qpv.geometry.is_valid.all() and not qpv.geometry.is_empty.any()
    for territory in territories(built_qpv, "qpv"):
        part = read_layer(built_qpv, "qpv", territory=territory)
        assert part.crs.equals(TERRITORY_CRS[territory])
        assert part.geometry.is_valid.all()
    report = read_manifest(built_qpv)["qpv"]["report"]
    assert report["per_generation"] == {"2015": 105, "2024": 321}
    assert report["invalid_fixed"] == report["invalid_fixed_per_source"]["qpv2015_occitanie"] > 0
    assert report["polygons_2024_not_in_anct_table"] == []
    assert report["anct_table_not_in_polygons_in_covered_departements"] == []
    assert report["national_file"] is False


def test_real_qpv_communes_table(built_qpv: Paths) -> None:
    table = read_layer(built_qpv, "qpv_communes")
    assert list(table.columns) == ["code_qp", "lib_qp", "insee_com", "lib_com", "dep"]
    assert len(table) == 1_684 and table["code_qp"].nunique() == 1_493
    assert table["insee_com"].str.len().eq(5).all()
    qpv = read_layer(built_qpv, "qpv")
    multi = qpv.set_index("code_qp").loc["QN01003M", "communes"]
    assert multi.split(";") == sorted(
        set(table.loc[table["code_qp"] == "QN01003M", "insee_com"]) | {"10081"})
