"""Reliability (issue #15, family 7): geometry inputs of the batch.

A Point is judged as given; a Polygon/MultiPolygon at an interior point, flagged; a line,
several distinct points or a collection at one of its points and "to check" (never a silent
"eligible"); an empty, missing or invalid geometry is an error row naming the reason; a
file without a CRS, or an unknown ``--crs``, is one clear error. Every input row comes out
exactly once, in input order.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_eligibility import _toy_locator

from zonage.crs import LAMBERT93, WGS84
from zonage.eligibility import GEOMETRY_NOTE_COLUMN, assess
from zonage.errors import InputDataError
from zonage.inputs import (
    GEOMETRY_NOT_POINT,
    GEOMETRY_POINT,
    GEOMETRY_SURFACE,
    detect_columns,
    parse_crs,
    read_points,
    read_table,
)
from zonage.rules import load_schemes

X0, Y0 = 900_000.0, 6_900_000.0  # Lorraine, in Lambert-93, as test_eligibility._toy_locator
ON = pd.Timestamp("2025-03-01").date()


LOC = _toy_locator()
SCHEMES = load_schemes()


def _p(dx: float, dy: float) -> tuple[float, float]:
    return X0 + dx, Y0 + dy


#: A U-shaped building in the ZIP commune: its centroid falls in the notch, outside the polygon.
U_SHAPE = shapely.Polygon([_p(1_000, 1_000), _p(4_000, 1_000), _p(4_000, 4_000), _p(3_500, 4_000), _p(3_500, 1_500),
                           _p(1_500, 1_500), _p(1_500, 4_000), _p(1_000, 4_000)])
BOWTIE = shapely.Polygon([_p(1_000, 1_000), _p(2_000, 2_000), _p(2_000, 1_000), _p(1_000, 2_000)])

CASES: list[tuple[str, shapely.Geometry | None]] = [
    ("point", shapely.Point(_p(5_000, 5_000))),
    ("polygon", U_SHAPE),
    ("multipolygon", shapely.MultiPolygon([shapely.box(*_p(2_000, 2_000), *_p(2_500, 2_500)),
                                           shapely.box(*_p(6_000, 6_000), *_p(6_500, 6_500))])),
    ("line", shapely.LineString([_p(5_000, 5_000), _p(15_000, 5_000)])),  # from the ZIP commune to the HZ one
    ("multiline", shapely.MultiLineString([[_p(1_000, 1_000), _p(2_000, 1_000)],
                                           [_p(3_000, 3_000), _p(4_000, 3_000)]])),
    ("multipoint", shapely.MultiPoint([_p(5_000, 5_000), _p(5_100, 5_000)])),
    ("same points", shapely.MultiPoint([_p(5_000, 5_000), _p(5_000, 5_000)])),
    ("collection", shapely.GeometryCollection([shapely.Point(_p(5_000, 5_000)), U_SHAPE])),
    ("empty", shapely.Polygon()),
    ("missing", None),
    ("bowtie", BOWTIE),
    ("nan point", shapely.Point(np.nan, np.nan)),
]


def _frame(crs: str | None = LAMBERT93) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"nom": [name for name, _ in CASES], "type": "MSP"},
                            geometry=[g for _, g in CASES], crs=crs)


def test_read_points_kinds_notes_and_errors() -> None:
    frame = _frame()
    points = read_points(frame, detect_columns(frame))
    kinds = dict(zip(frame["nom"], points.geometry_kind, strict=True))
    notes = dict(zip(frame["nom"], points.geometry_note, strict=True))
    errors = dict(zip(frame["nom"], points.errors, strict=True))
    assert kinds["point"] == kinds["same points"] == GEOMETRY_POINT
    assert kinds["polygon"] == kinds["multipolygon"] == GEOMETRY_SURFACE
    assert {kinds[k] for k in ("line", "multiline", "multipoint", "collection")} == {GEOMETRY_NOT_POINT}
    assert notes["point"] is None and notes["same points"] is None
    assert notes["polygon"] == "géométrie surfacique (polygone) : jugée en un point intérieur"
    assert notes["multipolygon"] == "géométrie surfacique (multipolygone) : jugée en un point intérieur"
    assert notes["line"].startswith("géométrie non ponctuelle (ligne, 2 points distincts)")
    assert "multipoint, 2 points distincts" in notes["multipoint"]
    assert "collection de géométries" in notes["collection"]
    # the U's interior point is inside the U, not at its centroid (which is in the notch)
    assert not U_SHAPE.contains(U_SHAPE.centroid)
    i = CASES.index(("polygon", U_SHAPE))
    assert U_SHAPE.contains(shapely.Point(points.x[i], points.y[i]))
    # errors: one per bad row, naming the row and the reason
    assert errors["empty"] == "ligne 9, champ 'geometry' : géométrie vide"
    assert errors["missing"].startswith("ligne 10, champ 'geometry' : géométrie vide")
    assert errors["bowtie"].startswith("ligne 11, champ 'geometry' : géométrie invalide (Self-intersection[")
    assert "Réparer les géométries" in errors["bowtie"]
    assert errors["nan point"].startswith(
        "ligne 12, champ 'geometry' : géométrie invalide (Invalid Coordinate[nan nan])")
    good = [name for name, _ in CASES if name not in ("empty", "missing", "bowtie", "nan point")]
    assert all(errors[name] is None for name in good)
    assert len(points.x) == len(points.errors) == len(CASES)


def test_batch_geometry_verdicts() -> None:
    """Points and polygons are answered; lines and multi-points are never a silent "eligible"."""
    result = assess(_frame(), LOC, SCHEMES, on=ON)
    rows = result.rows.set_index("nom")
    assert result.rows["row"].tolist() == list(range(1, len(CASES) + 1))  # every row once, in input order
    assert result.rows["nom"].tolist() == [name for name, _ in CASES]
    errors = {"empty", "missing", "bowtie", "nan point"}
    assert set(rows.index[rows["status"] == "error"]) == errors
    assert rows.loc["point", "statut_400mg_volet1"] == "eligible"  # an MSP in the ZIP commune
    assert pd.isna(rows.loc["point", GEOMETRY_NOTE_COLUMN])
    for name in ("polygon", "multipolygon"):
        assert rows.loc[name, "statut_400mg_volet1"] == "eligible", name  # judged inside the ZIP commune
        assert "GEOMETRY_SURFACE" in rows.loc[name, "raisons_400mg_volet1"]
        assert "géométrie surfacique" in rows.loc[name, "message_400mg_volet1"]
        assert "jugée en un point intérieur" in rows.loc[name, GEOMETRY_NOTE_COLUMN]
    for name in ("line", "multiline", "multipoint", "collection"):
        statuses = rows.loc[name, [c for c in rows.columns if c.startswith("statut_")]].tolist()
        assert "eligible" not in statuses, (name, statuses)
        assert rows.loc[name, "statut_400mg_volet1"] == "needs_review"
        assert rows.loc[name, "statut_mg"] == "needs_review"
        assert "GEOMETRY_NOT_POINT" in rows.loc[name, "raisons_400mg_volet1"]
        assert rows.loc[name, "message_400mg_volet1"].startswith("à vérifier : géométrie non ponctuelle")
        assert "géométrie non ponctuelle" in rows.loc[name, GEOMETRY_NOTE_COLUMN]
    not_point = result.verdicts[result.verdicts["reasons"].astype(str).str.contains("GEOMETRY_NOT_POINT")]
    assert set(not_point["status"].astype(str)) <= {"needs_review", "not_applicable"}
    assert rows.loc["same points", "statut_400mg_volet1"] == "eligible"  # two copies of one point: a point
    # the output geometry is the point judged, in degrees
    judged = result.rows.geometry.iloc[1]
    assert judged.geom_type == "Point"
    assert gpd.GeoSeries([U_SHAPE], crs=LAMBERT93).to_crs(WGS84).iloc[0].contains(judged)


def test_geometry_files_keep_every_row(tmp_path: Path) -> None:
    """GeoPackage (mixed geometry types) and GeoJSON (degrees): read, judged, every row once."""
    frame = _frame()
    keep = [i for i, (name, _) in enumerate(CASES) if name != "nan point"]  # GDAL writes NaN points as empty
    frame = frame.iloc[keep].reset_index(drop=True)
    for name in ("s.gpkg", "s.geojson"):
        file = tmp_path / name
        (frame.to_crs(WGS84) if name.endswith("json") else frame).to_file(file)
        back = read_table(file)
        result = assess(back, LOC, SCHEMES, on=ON)
        assert result.rows["nom"].tolist() == frame["nom"].tolist(), name
        statuses = dict(zip(result.rows["nom"], result.rows["status"], strict=True))
        assert statuses["point"] == statuses["polygon"] == statuses["line"] == "ok"
        assert statuses["bowtie"] == statuses["empty"] == statuses["missing"] == "error"
        line = result.rows.set_index("nom").loc["line"]
        assert line["statut_400mg_volet1"] == "needs_review", name


def test_missing_crs_and_unknown_crs() -> None:
    frame = _frame(crs=None)
    with pytest.raises(InputDataError, match=r"pas de système de coordonnées \(CRS\) : le donner avec --crs"):
        read_points(frame, detect_columns(frame))
    points = read_points(frame, detect_columns(frame), crs="EPSG:2154")
    assert points.errors[0] is None and points.crs == "EPSG:2154"
    for bad in ("EPSG:99999", "nonsense", "lambert 93"):
        with pytest.raises(InputDataError, match=rf"--crs '{bad}' : système de coordonnées inconnu .* EPSG:2154"):
            read_points(frame, detect_columns(frame), crs=bad)
        with pytest.raises(InputDataError, match="--crs"):
            assess(pd.DataFrame({"x": ["930000"], "y": ["6890000"]}), LOC, SCHEMES, crs=bad)
    assert parse_crs("2154").to_epsg() == 2154


def test_note_column_does_not_overwrite_an_input_column() -> None:
    frame = _frame().iloc[:2].assign(note_geometrie=["mine", "also mine"])
    rows = assess(frame, LOC, SCHEMES, on=ON).rows
    assert rows["entree_note_geometrie"].tolist() == ["mine", "also mine"]
    assert pd.isna(rows.loc[0, GEOMETRY_NOTE_COLUMN]) and "surfacique" in rows.loc[1, GEOMETRY_NOTE_COLUMN]


_geometries = st.sampled_from([g for _, g in CASES])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_geometries, min_size=1, max_size=15))
def test_random_geometry_mixes_keep_every_row(geoms: list[shapely.Geometry | None]) -> None:
    frame = gpd.GeoDataFrame({"id": [f"s{i}" for i in range(len(geoms))], "type": "MSP"}, geometry=geoms,
                             crs=LAMBERT93)
    result = assess(frame, LOC, SCHEMES, on=ON)
    assert result.rows["id"].tolist() == frame["id"].tolist()
    kinds = read_points(frame, detect_columns(frame)).geometry_kind
    for i, kind in enumerate(kinds):
        row = result.rows.iloc[i]
        if kind is None:
            assert row["status"] == "error" and row["error"].startswith(f"ligne {i + 1}, champ 'geometry'")
        elif kind == GEOMETRY_NOT_POINT:
            assert row["status"] == "ok" and row["statut_mg"] == "needs_review"
            assert "eligible" not in {row[c] for c in result.rows.columns if c.startswith("statut_")}
