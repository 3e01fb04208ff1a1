import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from zonage.errors import ZonageError
from zonage.export import write_table


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
    with pytest.raises(ZonageError, match="needs geometries"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.geojson")
    with pytest.raises(ZonageError, match="cannot tell the format"):
        write_table(frame, tmp_path / "out.xyz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]
