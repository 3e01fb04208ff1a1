import io
import json
import tarfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from zonage.errors import SourceFormatError
from zonage.layers.communes import gap_report, overlap_report
from zonage.layers.pipeline import read_manifest
from zonage.layers.store import read_layer, territories
from zonage.sources.cog import read_current_communes


def _tgz(tmp_path: Path, communes: list[dict]) -> Path:
    file = tmp_path / "dec.tgz"
    members = {"communes": communes, "epci": [], "departements": [{"code": "01", "nom": "Ain"}],
               "regions": [{"code": "84", "nom": "ARA"}]}
    with tarfile.open(file, "w:gz") as archive:
        for name, payload in members.items():
            data = json.dumps(payload).encode()
            info = tarfile.TarInfo(f"package/data/{name}.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return file


def test_duplicate_commune_code_is_a_clear_error(tmp_path: Path) -> None:
    row = {"code": "01001", "nom": "A", "type": "commune-actuelle", "departement": "01", "region": "84"}
    with pytest.raises(SourceFormatError, match="01001 appears twice"):
        read_current_communes(_tgz(tmp_path, [row, dict(row, nom="B")]))


def test_overlap_and_gap_measured_by_hand() -> None:
    # Two 10x10 squares overlapping on a 1x10 strip, a third leaving a 1x1 hole.
    a = shapely.box(0, 0, 10, 10)
    b = shapely.box(9, 0, 19, 10)
    frame = gpd.GeoDataFrame({"insee": ["1", "2"], "departement": ["01", "02"]}, geometry=[a, b], crs=2154)
    report = overlap_report(frame)
    assert report["pairs"] == 1 and report["pairs_across_departements"] == 1
    assert report["largest"][0]["area_m2"] == pytest.approx(10.0)
    ring = shapely.box(0, 0, 30, 30).difference(shapely.box(10, 10, 12, 12))
    gaps = gap_report(gpd.GeoDataFrame(geometry=[ring], crs=2154))
    assert gaps["holes"] == 1 and gaps["largest"][0]["area_m2"] == pytest.approx(4.0)


def test_real_communes_layer(build_layers) -> None:
    paths = build_layers("communes")
    report = read_manifest(paths)["communes"]["report"]
    assert report["communes"] == 34871
    assert report["cog_communes_without_polygon"]["count"] == 98  # 4 Cantal re-created + COM
    overseas_collectivities = {"975", "977", "978", "984", "986", "987", "988", "989"}
    assert set(report["cog_communes_without_polygon"]["by_departement"]) <= {"15"} | overseas_collectivities
    assert territories(paths, "communes") == ["971", "972", "973", "974", "976", "metro"]
    metro = read_layer(paths, "communes", territory="metro")
    assert metro.crs.to_epsg() == 2154
    assert read_layer(paths, "communes", territory="974").crs.to_epsg() == 2975
    assert metro.geometry.is_valid.all()
    paris = metro.set_index("insee").loc["75056"]
    assert "75001" in list(paris["codes_postaux"]) and paris["region"] == "11"
    metz = metro.set_index("insee").loc["57463"]
    assert metz["nom"] == "Metz" and metz["epci_siren"] and metz["bv2012"]
    assert metro["population"].sum() > 60e6
    deps = read_layer(paths, "departements")
    regs = read_layer(paths, "regions")
    assert len(deps) == 101 and len(regs) == 18 and deps.crs.to_epsg() == 4326
    # Slivers of the per-département simplification are measured, not hidden.
    topo = report["topology"]["metro"]
    overlaps = topo["overlaps"]
    assert overlaps["pairs"] > 0 and overlaps["pairs_across_departements"] / overlaps["pairs"] > 0.95
    assert topo["gaps"]["holes"] > 0
