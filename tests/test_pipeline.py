import hashlib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from zonage.config import Paths
from zonage.errors import LayerMissingError
from zonage.layers import store
from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec, build, read_manifest
from zonage.sources import catalogue
from zonage.sources.catalogue import Source

CALLS: list[str] = []


def _build_points(inputs: BuildInputs) -> LayerResult:
    CALLS.append("points")
    table = pd.read_csv(inputs.source("toy"), dtype={"dep": str})
    frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.lon, table.lat), crs=4326)
    frame["territory"] = frame["dep"].where(frame["dep"].str.startswith("97"), "metro")
    return LayerResult(frames={"points": frame}, report={"rows": len(frame)}, vintage="test")


def _build_count(inputs: BuildInputs) -> LayerResult:
    CALLS.append("count")
    points = inputs.layer("points")
    return LayerResult(frames={"count": pd.DataFrame({"n": [len(points)]})})


SPECS = [
    LayerSpec("points", "toy points", ("toy",), _build_points),
    LayerSpec("count", "count of points", (), _build_count, depends=("points",)),
]


@pytest.fixture()
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    content = b"id,lon,lat,dep\n1,2.35,48.85,75\n2,55.45,-20.88,974\n"
    (tmp_path / "mirror/toy").mkdir(parents=True)
    (tmp_path / "mirror/toy/toy.csv").write_bytes(content)
    source = Source("toy", "toy", "toy/toy.csv", hashlib.sha256(content).hexdigest(), "http://127.0.0.1:9/",
                    "test", "2025", "CSV", "test")
    monkeypatch.setitem(catalogue.CATALOGUE, "toy", source)
    CALLS.clear()
    return Paths(tmp_path / "data", tmp_path / "mirror")


def test_build_is_idempotent_and_tracks_inputs(toy: Paths) -> None:
    first = build(SPECS, toy)
    assert [s.action for s in first] == ["built", "built"]
    again = build(SPECS, toy)
    assert [s.action for s in again] == ["unchanged", "unchanged"] and CALLS == ["points", "count"]
    manifest = read_manifest(toy)
    assert manifest["points"]["outputs"]["points"]["territories"] == {"974": 1, "metro": 1}
    assert manifest["points"]["inputs"]["toy"] == catalogue.CATALOGUE["toy"].sha256
    # Each territory is stored in its own metric CRS; reading all gives EPSG:4326 back.
    assert store.read_layer(toy, "points", territory="metro").crs.to_epsg() == 2154
    assert store.read_layer(toy, "points", territory="974").crs.to_epsg() == 2975
    both = store.read_layer(toy, "points")
    assert both.crs.to_epsg() == 4326
    paris = both.set_index("id").geometry.loc[1]
    assert shapely.equals_exact(paris, shapely.Point(2.35, 48.85), tolerance=1e-9)
    # A deleted output is rebuilt; so is everything downstream of a forced layer.
    (toy.processed / "count.parquet").unlink()
    assert [s.action for s in build(SPECS, toy)] == ["unchanged", "built"]
    assert [s.action for s in build(SPECS, toy, only=["count"], force=True)] == ["built", "built"]


def test_missing_layer_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LayerMissingError, match="zonage build"):
        store.read_layer(Paths(tmp_path), "communes")


def test_geo_layer_needs_territory(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=4326)
    with pytest.raises(ValueError, match="territory"):
        store.write_layer(Paths(tmp_path), "bad", frame)
