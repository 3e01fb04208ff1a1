"""Maps and exports (issue 7): display data, folium maps, static maps, `zonage map` and `zonage export`."""

from __future__ import annotations

import functools
import itertools
import json
import re
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from zonage.cli import app
from zonage.cli.maps import parse_layers, register
from zonage.config import Paths
from zonage.errors import ZonageError
from zonage.maps import data, style
from zonage.maps.folium_map import encode_polygons, feature_collection, js_literal, region_map, save_map

XSS = "<img src=x onerror=alert(1)>"
TEMPLATE = "{{ 7 * 7 }} {% if true %}jinja{% endif %}"
if not any(c.name == "map" for c in app.registered_commands):
    register(app)
runner = CliRunner()


@functools.lru_cache(maxsize=4)
def region_rows(paths: Paths, region: str) -> gpd.GeoDataFrame:
    """Batch rows of a région, computed once per test session (shared with test_browser)."""
    from zonage.studies.eligibility import eligibility_of_region

    return eligibility_of_region(paths, region, on=date(2025, 3, 1))[1].rows


def hostile_rows(rows: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The batch rows with an XSS name and a Jinja-looking name, as a planner's file could hold."""
    rows = rows.copy()
    located = np.flatnonzero(rows.geometry.notna().to_numpy())
    rows.loc[rows.index[located[0]], "nom"] = XSS
    rows.loc[rows.index[located[1]], "nom"] = TEMPLATE
    rows.loc[rows.index[located[1]], "adresse"] = "</script><script>alert(2)</script>"
    return rows


def decode_ring(text: str) -> list[tuple[float, float]]:
    """Python twin of zonage.decodeRing (encoded polyline, lat/lon deltas)."""
    values, shift, result, points = [], 0, 0, []
    for char in text:
        b = ord(char) - 63
        result |= (b & 31) << shift
        shift += 5
        if b < 32:
            values.append(~(result >> 1) if result & 1 else result >> 1)
            result, shift = 0, 0
    lat = lon = 0
    for dlat, dlon in zip(values[::2], values[1::2], strict=True):
        lat, lon = lat + dlat, lon + dlon
        points.append((lon / 1e5, lat / 1e5))
    return points


# -- pure functions ------------------------------------------------------------------------


def test_escaping_of_user_text() -> None:
    assert style.esc(XSS) == "&lt;img src=x onerror=alert(1)&gt;"
    assert style.esc(None) == "" and style.esc(float("nan")) == "" and style.esc(pd.NA) == ""
    html = style.legend_html(XSS, [style.LegendSection(XSS, (style.LegendItem("#fff", XSS),))], note=XSS)
    assert "<img" not in html and html.count("&lt;img") == 4
    literal = js_literal({"a": "</script><b>&"})
    assert "</script" not in literal and "<" not in literal and json.loads(literal) == {"a": "</script><b>&"}


def test_encoded_polygons_round_trip() -> None:
    shell = [(5.12345, 48.5), (5.2, 48.5), (5.2, 48.61234), (5.12345, 48.6)]
    hole = [(5.15, 48.55), (5.16, 48.55), (5.16, 48.56)]
    reunion = shapely.box(55.2, -21.3, 55.5, -21)
    geoms = np.array([shapely.Polygon(shell, [hole]),
                      shapely.MultiPolygon([shapely.box(-61.5, 16.0, -61.4, 16.1), reunion])], dtype=object)
    encoded = encode_polygons(geoms)
    assert [len(p) for p in encoded] == [1, 2] and len(encoded[0][0]) == 2
    np.testing.assert_allclose(decode_ring(encoded[0][0][0]), shell, atol=1e-5)
    np.testing.assert_allclose(decode_ring(encoded[0][0][1]), hole, atol=1e-5)
    np.testing.assert_allclose(decode_ring(encoded[1][1][0]), list(reunion.exterior.coords)[:-1], atol=1e-5)
    text = feature_collection(gpd.GeoDataFrame({"n": [TEMPLATE, XSS]}, geometry=list(geoms), crs=4326),
                              {"n": [TEMPLATE, XSS]}, encode=True)
    parsed = json.loads(text)
    assert parsed["features"][1]["properties"]["n"] == XSS and parsed["features"][0]["geometry"] is None
    assert "<" not in text


def test_layer_names_are_checked() -> None:
    assert parse_layers(None)[0] == "zoning"
    assert parse_layers(["zoning,qpv", "apl", "qpv"]) == ("zoning", "qpv", "apl")
    with pytest.raises(ZonageError, match="couche\\(s\\) de carte inconnue\\(s\\) : roads"):
        parse_layers(["zoning,roads"])


def test_apl_classes_follow_the_zoning_thresholds() -> None:
    assert style.apl_colour(2.5) == style.APL_COLOURS[0] and style.apl_colour(2.51) == style.APL_COLOURS[1]
    assert style.apl_colour(9) == style.APL_COLOURS[-1] and style.apl_colour(float("nan")) == style.APL_MISSING
    assert style.apl_labels()[0] == "≤ 2,5" and style.apl_labels()[-1] == "> 5,0"


# -- display data on the real layers ------------------------------------------------------------


@pytest.fixture(scope="module")
def ge_communes(built: Paths) -> gpd.GeoDataFrame:
    return data.communes_display(built, "44")


def test_display_communes_are_simplified_rounded_and_classed(built: Paths, ge_communes: gpd.GeoDataFrame) -> None:
    communes = ge_communes
    full = data.communes_display(built, "44", tolerance_m=0, crs=None)
    assert len(communes) == len(full) == 5115 and communes.crs.to_epsg() == 4326
    coords = shapely.get_coordinates(communes.geometry.values)
    assert np.allclose(coords * 1e5, np.round(coords * 1e5), atol=1e-6)  # 5 decimals
    assert len(coords) < len(shapely.get_coordinates(full.geometry.values))
    assert set(communes["classe"]) <= set(style.CLASS_STYLE) and {"ZIP", "ZAC"} <= set(communes["classe"])
    assert communes["apl"].notna().mean() > 0.99 and communes.attrs["apl_label"].startswith("APL")
    metz = communes.set_index("insee").loc["57463"]
    assert metz["nom"] == "Metz" and metz["classe"] in {"ZIP", "ZAC", "HZ", "ZAR"}


def test_arrondissement_classes_are_not_hidden(built: Paths) -> None:
    classes = data.zoning_classes(built).set_index("insee")
    assert classes.loc["75056", "classe"] == "ARR" and "75119" in classes.loc["75056", "classe_detail"]
    assert classes.index.is_unique


def test_apl_hook_accepts_another_table(built: Paths) -> None:
    own = pd.DataFrame({"insee": ["57463"], "apl": [1.0]})
    own.attrs["label"] = "APL (moteur d'accessibilité)"
    communes = data.communes_display(built, "44", apl=own)
    assert communes.attrs["apl_label"] == "APL (moteur d'accessibilité)"
    assert communes["apl"].notna().sum() == 1
    with pytest.raises(ZonageError, match="insee and apl"):
        data.communes_display(built, "44", apl=pd.DataFrame({"insee": ["57463"]}))
    with pytest.raises(ZonageError, match=r"région .99. inconnue"):
        data.communes_display(built, "99")


# -- interactive maps --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grand_est_map(built: Paths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zonage.maps import write_region_map

    rows = hostile_rows(region_rows(built, "44"))
    return write_region_map(built, "44", rows, tmp_path_factory.mktemp("maps"), tiles=None)


def test_grand_est_map_size_layers_and_escaping(grand_est_map: Path, built: Paths) -> None:
    html = grand_est_map.read_text(encoding="utf-8")
    assert grand_est_map.name == "region_44.html" and grand_est_map.stat().st_size <= 5_000_000
    for needle in ("zonage.layers[\"zoning\"]", "zonage.layers[\"apl\"]", "zonage.layers[\"qpv\"]",
                   "zonage.layers[\"structures\"]", "L.control.layers", "zonage.addSearch", "zonage.addLegend",
                   "L.control.scale", "Leaflet 1.9.4, BSD-2-Clause"):
        assert needle in html, needle
    assert "cdn.jsdelivr.net" not in html  # self-contained: Leaflet inlined
    assert "jquery" not in html.lower() and "bootstrap" not in html.lower()  # Leaflet only
    assert XSS not in html and "onerror=alert(1)>" not in html
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html  # escaped text inside escaped JSON
    assert "</script><script>alert(2)" not in html
    assert "{{ 7 * 7 }}" in html and "49 jinja" not in html  # data is never template source
    assert "Rechercher une commune" in html and "ZIP — zone d" in html
    assert "<title>Zonage médecins et éligibilité — Grand Est (44)</title>" in html


def test_normandie_and_layer_subset(built: Paths, tmp_path: Path) -> None:
    from zonage.maps import write_region_map

    path = write_region_map(built, "28", None, tmp_path, layers=("zoning", "qpv", "apl"), tiles=None, cdn=True)
    html = path.read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net/npm/leaflet@1.9.4" in html  # --cdn: the small file
    assert path.stat().st_size <= 5_000_000 and 'zonage.layers["structures"]' not in html
    assert "Normandie" in html and 'zonage.layers["qpv"]' in html


def test_picks_hook_draws_given_picks(ge_communes: gpd.GeoDataFrame) -> None:
    picks = gpd.GeoDataFrame({"rang": [1], "territoire": [XSS]}, geometry=[shapely.Point(6.17, 49.12)], crs=4326)
    communes = ge_communes
    fmap = region_map(communes, title="t", picks=picks, layers=("zoning", "picks"), tiles=None)
    html = fmap.get_root().render()
    assert 'zonage.layers["picks"]' in html and "Poste proposé (1)" in html and XSS not in html


def test_national_map_within_budget(built: Paths, tmp_path: Path) -> None:
    from zonage.maps import write_national_map

    path = write_national_map(built, tmp_path, tiles=None)
    assert path.stat().st_size <= 20_000_000
    html = path.read_text(encoding="utf-8")
    assert "preferCanvas" in html and html.count('"i":"') >= 34_800


def test_map_is_written_atomically(ge_communes: gpd.GeoDataFrame, tmp_path: Path) -> None:
    fmap = region_map(ge_communes, title="t", layers=("zoning",), tiles=None)
    target = tmp_path / "m.html"
    target.write_text("old")
    fmap.get_root().render = lambda: (_ for _ in ()).throw(RuntimeError("boom"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        save_map(fmap, target)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["m.html"]


# -- static maps ---------------------------------------------------------------------------


def test_static_maps_png_and_pdf(built: Paths, tmp_path: Path) -> None:
    from zonage.maps import static, write_region_static

    rows = region_rows(built, "44")
    written = write_region_static(built, "44", rows, tmp_path)
    assert sorted(p.name for p in written) == sorted(
        f"region_44_{k}.{f}" for k in ("zonage", "apl", "structures") for f in ("png", "pdf"))
    for path in written:
        head = path.read_bytes()[:8]
        assert head.startswith(b"\x89PNG" if path.suffix == ".png" else b"%PDF")
    communes = data.communes_display(built, "44", crs=None, tolerance_m=1000)
    fig = static.zoning_figure(communes, title="Zonage", caption=data.sources_note())
    texts = [t.get_text() for t in fig.axes[0].texts] + [fig._supxlabel.get_text()]
    assert any(t.endswith("km") for t in texts) and "N" in texts
    assert "Sources" in fig._supxlabel.get_text() and "2025" in fig._supxlabel.get_text()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "ZIP — zone d'intervention prioritaire" in legend


# -- command line: map and export ------------------------------------------------------------


def test_map_command(built: Paths, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data", str(built.data), "map", "--region", "28", "--layers", "zoning,qpv",
                                 "--no-tiles", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert re.search(r"écrit : .*region_28\.html \(\d+,\d Mo\)", result.output.replace("\n", ""))
    bad = runner.invoke(app, ["--data", str(built.data), "map", "--region", "99", "--layers", "zoning",
                              "--out-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "inconnue" in bad.output


def _export(built: Paths, *args: str) -> None:
    result = runner.invoke(app, ["--data", str(built.data), "export", *args])
    assert result.exit_code == 0, result.output


def test_export_geojson_is_rfc7946(built: Paths, tmp_path: Path) -> None:
    target = tmp_path / "qpv.geojson"
    _export(built, "qpv", "--format", "geojson", "-o", str(target))
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert "crs" not in doc and doc["type"] == "FeatureCollection"
    layer = data.qpv_display(built, None, tolerance_m=0)
    assert len(doc["features"]) == len(layer)
    for feature in doc["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        for polygon in polygons:
            assert shapely.LinearRing(polygon[0]).is_ccw  # exterior counter-clockwise
            assert all(not shapely.LinearRing(hole).is_ccw for hole in polygon[1:])  # holes clockwise
            for lon, lat in polygon[0]:
                assert -180 <= lon <= 180 and -90 <= lat <= 90
                assert len(repr(lon).split(".")[-1]) <= 6 and len(repr(lat).split(".")[-1]) <= 6
    back = gpd.read_file(target)
    assert back.crs.to_epsg() == 4326 and set(back["code_qp"]) == set(layer["code_qp"])


def test_export_gpkg_layers_and_crs_for_qgis(built: Paths, tmp_path: Path) -> None:
    target = tmp_path / "departements.gpkg"
    _export(built, "departements", "--format", "gpkg", "-o", str(target))
    layers = dict(pyogrio.list_layers(target))
    assert set(layers) == {"departements_metro", "departements_971", "departements_972", "departements_973",
                           "departements_974", "departements_976"}
    metro = gpd.read_file(target, layer="departements_metro")
    assert metro.crs.to_epsg() == 2154 and len(metro) == 96
    assert gpd.read_file(target, layer="departements_974").crs.to_epsg() == 2975
    one = tmp_path / "qpv.gpkg"
    _export(built, "qpv", "--format", "gpkg", "-o", str(one))
    assert [n for n, _ in pyogrio.list_layers(one)] == ["qpv"] and gpd.read_file(one).crs.to_epsg() == 2154


def test_export_csv_for_spreadsheets_and_parquet(built: Paths, tmp_path: Path) -> None:
    target = tmp_path / "zoning.csv"
    _export(built, "zoning_communes", "--format", "csv", "--sep", ";", "--bom", "-o", str(target))
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.split(b"\n")[0].count(b";") >= 5
    back = pd.read_csv(target, sep=";", encoding="utf-8-sig", dtype=str)
    assert len(back) == 34_919 and back.loc[back["insee"] == "01001", "classe"].iloc[0] == "ZAC"
    points = tmp_path / "finess_972.csv"
    _export(built, "finess", "--format", "csv", "--territory", "972", "-o", str(points))
    table = pd.read_csv(points, dtype={"nofinesset": str}, sep=";", encoding="utf-8-sig")  # the defaults
    assert {"lon", "lat"} <= set(table.columns) and table["lon"].between(-61.3, -60.7).mean() > 0.95
    parquet = tmp_path / "communes_974.parquet"
    _export(built, "communes", "--format", "parquet", "--territory", "974", "-o", str(parquet))
    frame = gpd.read_parquet(parquet)
    assert frame.crs.to_epsg() == 2975 and len(frame) == 24
    table_parquet = tmp_path / "apl.parquet"
    _export(built, "apl_communes", "--format", "parquet", "-o", str(table_parquet))
    assert len(pd.read_parquet(table_parquet)) == 69_783


def test_export_errors_are_one_line(built: Paths, tmp_path: Path) -> None:
    for args, name, message in (
        (["zoning_communes", "--format", "geojson"], "x.geojson", "table sans géométries"),
        (["communes", "--format", "xls"], "x.csv", "format 'xls' inconnu"),
        (["communes", "--format", "csv", "--territory", "999"], "x.csv", "n'a pas de territoire '999'"),
        (["nope", "--format", "csv"], "x.csv", "couche 'nope' inconnue : couches construites : "),
        (["communes", "--format", "csv", "--territory", "974"], "x.xlsx",
         "x.xlsx : l'extension annonce du xlsx mais le format demandé est csv"),
    ):
        result = runner.invoke(app, ["--data", str(built.data), "export", *args, "-o", str(tmp_path / name)])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert list(tmp_path.iterdir()) == []


def test_export_zoning_with_polygons_and_qgis_style(built: Paths, tmp_path: Path) -> None:
    """Issue #13: `zonage export zoning --format gpkg --region 28`, a QGIS style, filters by région/département."""
    import sqlite3

    target = tmp_path / "zonage_28.gpkg"
    result = CliRunner().invoke(app, ["--data", str(built.data), "export", "zoning", "--format", "gpkg",
                                      "--region", "28", "-o", str(target)])
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(target, layer="zonage_28")
    assert len(frame) == 2644 and set(frame["departement"]) == {"14", "27", "50", "61", "76"}
    assert frame.crs.to_epsg() == 2154  # one région: Lambert-93, as a GIS user expects
    assert set(frame["classe"]) <= {"ZIP", "ZAC", "HZ", "ZAR", "ZV", "mixed", "unknown"}
    assert frame["libelle"].str.len().min() > 0 and frame.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    with sqlite3.connect(target) as db:
        (qml,) = db.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'zonage_28'").fetchone()
    assert 'attr="classe"' in qml and "ZIP — zone d" in qml and "242,142,43" in qml  # the map's ZIP orange
    assert (tmp_path / "zonage_28.qml").read_text(encoding="utf-8") == qml
    csv = tmp_path / "finess_57.csv"
    result = CliRunner().invoke(app, ["--data", str(built.data), "export", "finess", "--format", "csv",
                                      "--departement", "57", "-o", str(csv)])
    assert result.exit_code == 0, result.output
    raw = csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.split(b"\n")[0]  # French spreadsheet defaults
    rows = pd.read_csv(csv, sep=";", dtype=str, encoding="utf-8-sig")
    assert len(rows) > 500 and set(rows["dep"]) == {"57"}


# -- issue 13: conventions, sources line, national map, arrondissements, static A4 -------------


def test_conventions_hz_grey_unknown_hatched_legend_per_layer() -> None:
    hz = style.CLASS_STYLE["HZ"][0]
    red, green, blue = (int(hz[i:i + 2], 16) for i in (1, 3, 5))
    assert red == green == blue and 150 < red < 240  # grey, neither white nor the APL "missing" grey
    assert hz != style.APL_MISSING and "unknown" in style.HATCHED_CLASSES
    section = style.zoning_section(["ZIP", "HZ", "unknown"])
    assert [i.shape for i in section.items] == ["square", "square", "hatched"] and section.layer == "zoning"
    html = style.legend_html("t", [section, style.apl_section("APL"), style.LegendSection("x", ())],
                             note="n", notes=[("zoning", XSS)])
    assert 'data-layer="zoning"' in html and 'data-layer="apl"' in html and "repeating-linear-gradient" in html
    assert html.count('class="zl-section"') == 2 and "&lt;img" in html and "<img" not in html
    from zonage.maps.gis import qml_style

    qml = qml_style()  # QGIS gets the same conventions: HZ grey, "unknown" hatched
    assert f'value="{red},{green},{blue},255"' in qml and qml.count('value="b_diagonal"') == 1


def _toy_communes() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame({"insee": ["57001", "57002", "97101"], "nom": ["A", "B", "C"],
                              "classe": ["HZ", "unknown", "ZIP"], "classe_detail": ["", "", ""],
                              "apl": [3.0, np.nan, 2.0], "territory": ["metro", "metro", "971"]},
                             geometry=[shapely.box(6, 49, 6.1, 49.1), shapely.box(6.1, 49, 6.2, 49.1),
                                       shapely.box(-61.6, 16.0, -61.5, 16.1)], crs=4326)
    frame.attrs["apl_label"] = "APL test"
    return frame


def test_region_map_hatches_unknown_and_updates_the_legend() -> None:
    html = region_map(_toy_communes(), title="t", layers=("zoning", "apl"), tiles=None).get_root().render()
    assert "zonage.classFill(f.properties.k)" in html and "zonage-hatch" in html and "createPattern" in html
    assert "overlayadd overlayremove" in html and "zonage.updateLegend" in html
    assert "zonage.addViews([" not in html  # a région map has no territory buttons


def test_national_map_has_overseas_buttons_and_progress(built: Paths, tmp_path: Path) -> None:
    from zonage.maps import write_national_map
    from zonage.maps.folium_map import national_map, territory_views

    views = territory_views(_toy_communes())
    assert [v[:2] for v in views] == [("metro", "Métropole"), ("971", "Guadeloupe")]
    assert views[1][2] == pytest.approx((-61.6, 16.0, -61.5, 16.1))
    html = national_map(_toy_communes(), tiles=None).get_root().render()
    assert "zonage.addViews(" in html and "Guadeloupe" in html and "preferCanvas" in html
    steps: list[str] = []
    path = write_national_map(built, tmp_path, tiles=None, on_step=steps.append)
    text = path.read_text(encoding="utf-8")
    assert len(steps) == 5 and steps[0].startswith("communes") and steps[-1].startswith("écriture")
    for name in ("Métropole", "Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"):
        assert f'"n":"{name}"' in text, name
    assert "Marseille, Lyon et Paris sont dessinées d" in text  # offline: the three cities drawn whole, said
    assert "QPV 2024 : contours ANCT" in text and "QPV 2015 : contours CGET" in text


def test_sources_line_is_french_and_true_to_the_layers(built: Paths) -> None:
    ge_qpv = data.qpv_display(built, "44")
    idf_qpv = data.qpv_display(built, "11")
    assert len(ge_qpv) > 100 and idf_qpv.empty
    ge = data.sources_note("APL médecins généralistes (DREES 2023)", layers=("zoning", "qpv", "apl", "structures"),
                           qpv=ge_qpv)
    idf = data.sources_note(None, layers=("zoning", "qpv"), qpv=idf_qpv)
    assert ge.startswith("Sources : ") and "QPV 2024 : contours ANCT" in ge and "8 janvier 2021" in ge
    assert "QPV 2024" not in idf and "aucun contour disponible pour cette région" in idf
    assert "FINESS" not in idf and "APL" not in idf  # layers not drawn are not cited
    assert "postes proposés : priorisation" in data.sources_note(None, layers=("zoning", "picks"))
    paca = data.sources_note(None, layers=("qpv",), qpv=data.qpv_display(built, "93"))
    assert "arrêté de l'ARS PACA" in paca
    for english in ("export of", "extraction of", "in force", "regional zonings", "derived", "(ANCT)"):
        assert english not in ge + idf, english


def test_paris_drawn_whole_is_said_on_the_map(built: Paths, tmp_path: Path) -> None:
    from zonage.maps import write_region_map

    path = write_region_map(built, "11", None, tmp_path, layers=("zoning", "qpv"), tiles=None)
    html = path.read_text(encoding="utf-8")
    assert "Paris est dessinée d\\u0026#x27;un seul tenant" in html and "zonage fetch arrondissements_municipaux" \
        in html
    assert "QPV 2024 : contours" not in html and 'zonage.layers["qpv"]' not in html


def _arrondissement_fixture(crs: int = 2154) -> gpd.GeoDataFrame:
    """Three arrondissements and a stray code, with the ADMIN EXPRESS 3.x column names (built here)."""
    frame = gpd.GeoDataFrame(
        {"ID": ["ARM_1", "ARM_2", "ARM_3", "ARM_4"], "NOM": ["Paris 19e Arrondissement", "Lyon 1er Arrondissement",
                                                              "Marseille 15e Arrondissement", "Ailleurs"],
         "NOM_M": ["PARIS 19E ARRONDISSEMENT", "LYON 1ER ARRONDISSEMENT", "MARSEILLE 15E ARRONDISSEMENT", "X"],
         "INSEE_ARM": ["75119", "69381", "13215", "99999"], "INSEE_COM": ["75056", "69123", "13055", "99999"],
         "POPULATION": [180000, 30000, 90000, 0]},
        geometry=[shapely.box(2.37, 48.87, 2.41, 48.9), shapely.box(4.82, 45.76, 4.84, 45.775),
                  shapely.box(5.34, 43.33, 5.38, 43.37), shapely.box(0, 0, 1, 1)], crs=4326)
    return frame.to_crs(crs)


def test_arrondissement_loader_reads_admin_express_and_etalab(tmp_path: Path) -> None:
    import gzip

    from zonage.errors import SourceFormatError
    from zonage.sources.arrondissements import read_arrondissements

    gpkg = tmp_path / "ADMIN-EXPRESS-COG.gpkg"
    communes = gpd.GeoDataFrame({"INSEE_COM": ["75056"]}, geometry=[shapely.box(2.2, 48.8, 2.5, 48.9)], crs=2154)
    communes.to_file(gpkg, layer="COMMUNE", driver="GPKG")
    _arrondissement_fixture().to_file(gpkg, layer="ARRONDISSEMENT_MUNICIPAL", driver="GPKG")
    read = read_arrondissements(gpkg)
    assert read["insee_arm"].tolist() == ["13215", "69381", "75119"]  # the stray code left out, sorted
    assert read["insee_com"].tolist() == ["13055", "69123", "75056"] and read.crs.to_epsg() == 4326
    assert read["nom"].iloc[2] == "Paris 19e Arrondissement"
    assert read.geometry.iloc[2].bounds == pytest.approx((2.37, 48.87, 2.41, 48.9), abs=1e-6)
    # etalab contours administratifs: code, commune, nom, gzip GeoJSON
    etalab = _arrondissement_fixture(4326).rename(columns={"INSEE_ARM": "code", "INSEE_COM": "commune",
                                                           "NOM": "nom"})[["code", "commune", "nom", "geometry"]]
    gz = tmp_path / "arrondissements-municipaux-50m.geojson.gz"
    gz.write_bytes(gzip.compress(etalab.to_json().encode()))
    assert read_arrondissements(gz)["insee_arm"].tolist() == ["13215", "69381", "75119"]
    wrong = _arrondissement_fixture().assign(INSEE_COM=["75056", "75056", "13055", "99999"])
    wrong.to_file(tmp_path / "wrong.gpkg", layer="ARRONDISSEMENT_MUNICIPAL", driver="GPKG")
    with pytest.raises(SourceFormatError, match="69381 attached to commune 75056"):
        read_arrondissements(tmp_path / "wrong.gpkg")
    _arrondissement_fixture().drop(columns=["INSEE_ARM"]).to_file(tmp_path / "nocode.gpkg", driver="GPKG")
    with pytest.raises(SourceFormatError, match="no column insee_arm"):
        read_arrondissements(tmp_path / "nocode.gpkg")
    (tmp_path / "broken.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(SourceFormatError, match="cannot read"):
        read_arrondissements(tmp_path / "broken.gpkg")


def test_arrondissements_used_when_present(built: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from zonage.sources import get_source

    # Paris cut into its 20 arrondissements (vertical strips of the commune polygon, built here)
    paris = data.communes_display(built, "11", tolerance_m=0).set_index("insee").loc["75056", "geometry"]
    west, south, east, north = paris.bounds
    edges = np.linspace(west, east, 21)
    strips = [paris.intersection(shapely.box(a, south, b, north)) for a, b in itertools.pairwise(edges)]
    codes = [f"751{i:02d}" for i in range(1, 21)]
    fixture = gpd.GeoDataFrame({"code": codes, "commune": "75056", "nom": [f"Paris {i}e" for i in range(1, 21)]},
                               geometry=strips, crs=4326)
    mirror = tmp_path / "mirror"
    target = mirror / get_source("arrondissements_municipaux").mirror_path
    target.parent.mkdir(parents=True)
    target.write_bytes(gzip.compress(fixture.to_json().encode()))
    own = Paths(data=tmp_path / "data", mirror=mirror)
    assert data.arrondissement_polygons(Paths(data=tmp_path / "empty")) is None  # absent: nothing downloaded
    polygons = data.arrondissement_polygons(own)
    assert polygons is not None and len(polygons) == 20 and (own.raw / target.relative_to(mirror)).exists()
    monkeypatch.setattr(data, "arrondissement_polygons", lambda paths: polygons)
    communes = data.communes_display(built, "11").set_index("insee")
    assert communes.attrs["arrondissements"] == "drawn" and "75056" not in communes.index
    assert communes.loc["75119", "classe"] == "ZIP" and communes.loc["75101", "classe"] == "HZ"
    assert communes.loc["75110", "classe"] == "ZAC" and (communes.loc[codes, "commune"] == "75056").all()
    assert communes.loc[codes, "apl"].notna().all()  # DREES APL by arrondissement
    note = data.sources_note(None, layers=("zoning",), arrondissements="drawn")
    assert "arrondissements municipaux de Paris, Lyon et Marseille : IGN ADMIN EXPRESS" in note


def test_static_a4_place_names_picks_and_date(built: Paths, tmp_path: Path) -> None:
    from datetime import date as day

    from matplotlib.text import Annotation
    from PIL import Image

    from zonage.maps import static, write_region_static

    picks_csv = tmp_path / "picks.csv"
    picks_csv.write_text("\ufeffrang;structure;commune;longitude;latitude;justification\n"
                         "1;MSP <b>Test</b>;Caen;-0,3707;49,1829;APL basse\n2;CDS;Rouen;1,0993;49,4432;x\n",
                         encoding="utf-8")
    picks = static.read_picks(picks_csv)
    assert picks["rang"].tolist() == ["1", "2"] and picks.geometry.x.iloc[0] == pytest.approx(-0.3707)
    written = write_region_static(built, "28", None, tmp_path, ("png", "pdf"), orientation="portrait",
                                  picks=picks, on=day(2026, 12, 4))
    png = next(p for p in written if p.name == "region_28_zonage.png")
    with Image.open(png) as image:
        assert image.size == pytest.approx((2481, 3507), abs=3)  # A4 portrait at 300 dpi
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.5)
    pdf = next(p for p in written if p.name == "region_28_zonage.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"/Subtype /Image" not in pdf  # vectors, not a raster
    communes = data.communes_display(built, "28", crs=None, tolerance_m=1000)
    metric = communes.crs.to_string()
    places = data.place_names(built, "28", 25, crs=metric)
    assert places["nom"].iloc[0] == "Le Havre" and len(places) == 25
    fig = static.zoning_figure(communes, title="Zonage — Normandie", caption=data.sources_note(), places=places,
                               picks=picks, orientation="landscape", on=day(2026, 12, 4))
    assert tuple(fig.get_size_inches()) == pytest.approx((11.69, 8.27))
    ax = fig.axes[0]
    labels = [t for t in ax.texts if isinstance(t, Annotation) and t.get_text() in set(places["nom"])]
    names = [t.get_text() for t in labels]
    assert {"Le Havre", "Rouen", "Caen"} <= set(names) and len(names) >= 8
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])  # no overlap
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Poste proposé (2)" in legend and "Hors zonage (HZ)" in legend
    assert "Carte établie le 4 décembre 2026" in fig._supxlabel.get_text()
    with pytest.raises(ZonageError, match="portrait ou paysage"):
        static.orientation_of("carré")
    bad = tmp_path / "bad.csv"
    bad.write_text("rang;structure\n1;x\n", encoding="utf-8")
    with pytest.raises(ZonageError, match="longitude et latitude"):
        static.read_picks(bad)


def test_map_command_static_portrait_with_picks_and_national_steps(built: Paths, tmp_path: Path) -> None:
    picks_csv = tmp_path / "picks.csv"
    picks_csv.write_text("rank;nom;lon;lat\n1;MSP;-0.3707;49.1829\n", encoding="utf-8")
    result = runner.invoke(app, ["--data", str(built.data), "map", "--region", "28", "--layers", "zoning,picks",
                                 "--no-tiles", "--static", "--orientation", "portrait", "--picks", str(picks_csv),
                                 "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "region_28_zonage.pdf").exists() and "Poste proposé (1)" in (
        tmp_path / "region_28.html").read_text(encoding="utf-8")
    result = runner.invoke(app, ["--data", str(built.data), "map", "--national", "--no-tiles",
                                 "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "carte nationale, étape 1 : communes" in result.output and "étape 5 : écriture" in result.output
    bad = runner.invoke(app, ["--data", str(built.data), "map", "--region", "28", "--orientation", "carré",
                              "--out-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "portrait ou paysage" in bad.output


def test_map_command_takes_the_date_of_the_question(built, tmp_path) -> None:
    """Review: `zonage map` judged the structures today, silently (every answer "à vérifier")."""
    from typer.testing import CliRunner

    runner = CliRunner()
    args = ["--data", str(built.data), "map", "--region", "28", "--layers", "zoning,structures", "--no-tiles",
            "--out-dir", str(tmp_path)]
    dated = runner.invoke(app, [*args, "--date", "2025-03-01"])
    assert dated.exit_code == 0, dated.output
    assert "Attention" not in dated.output and "écrit :" in dated.output
    today = runner.invoke(app, [*args, "--date", "2026-12-04"])
    assert today.exit_code == 0 and "aucun arrêté de zonage chargé n'est en vigueur le 04/12/2026" in today.output
