import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from zonage.crs import LAMBERT93, transform_xy
from zonage.layers.store import read_layer
from zonage.locate import Locator
from zonage.studies import locators

X0, Y0 = 600_000.0, 6_800_000.0


def _toy() -> Locator:
    polygons = [
        shapely.box(X0, Y0, X0 + 10_000, Y0 + 10_000),  # A
        shapely.box(X0 + 10_000 - 50, Y0, X0 + 20_000, Y0 + 10_000),  # B overlaps A on a 50 m strip
        shapely.box(X0 + 20_030, Y0, X0 + 30_000, Y0 + 10_000),  # C, 30 m gap after B
        shapely.Polygon([(X0, Y0 + 10_000), (X0 + 30_000, Y0 + 10_000), (X0 + 15_000, Y0 + 25_000)]),  # D
    ]
    communes = gpd.GeoDataFrame(
        {"insee": ["A0001", "B0002", "C0003", "D0004"], "nom": ["A", "B", "C", "D"],
         "region": "44", "territory": "metro"},
        geometry=polygons, crs=LAMBERT93,
    )
    qpv = gpd.GeoDataFrame(
        {"code_qp": ["QN00001M"], "nom_qp": ["Quartier"], "generation": [2024], "classe_qpv": [None],
         "region": ["44"], "territory": ["metro"]},
        geometry=[shapely.box(X0 + 2_000, Y0 + 2_000, X0 + 3_000, Y0 + 3_000)], crs=LAMBERT93,
    )
    zoning = pd.DataFrame({"insee": ["A0001", "B0002", "C0003", "D0004", "D0004"],
                           "insee_arm": [None, None, None, "D0101", "D0102"],
                           "postcodes": ["1", "2", "3", "75001", "75002;75102"],
                           "classe": ["ZAC", "HZ", "ZIP", "ZIP", "ZAC"]})
    zoning_qpv = pd.DataFrame({"code_qp": ["QN00001M"], "classe": ["ZIP"]})
    return Locator(communes, qpv, zoning, zoning_qpv, cell_m=100, tolerance_m=250)


def test_hand_checked_points() -> None:
    loc = _toy()
    pts = {
        "deep in A": (X0 + 5_000, Y0 + 7_000),
        "overlap strip, deeper in B": (X0 + 9_990, Y0 + 5_000),
        "gap between B and C": (X0 + 20_010, Y0 + 5_000),
        "inside the QPV": (X0 + 2_500, Y0 + 2_500),
        "20 m outside the QPV": (X0 + 3_020, Y0 + 2_500),
        "300 m east of C": (X0 + 30_300, Y0 + 5_000),
        "D, mixed arrondissements": (X0 + 15_000, Y0 + 15_000),
        "12 m inside A from its west edge": (X0 + 12, Y0 + 5_000),
    }
    x, y = np.array(list(pts.values())).T
    r = loc.locate(x, y, crs=LAMBERT93).set_index(pd.Index(list(pts)))
    assert len(r) == len(pts)
    a = r.loc["deep in A"]
    assert (a.insee, a.commune_method, a.classe, a.classe_source) == ("A0001", "grid", "ZAC", "commune")
    assert np.isnan(a.commune_boundary_m) and pd.isna(a.qpv2024) and a.qpv2024_covered
    o = r.loc["overlap strip, deeper in B"]
    assert (o.insee, o.commune_method, o.commune_candidates) == ("B0002", "overlap", "A0001|B0002")
    g = r.loc["gap between B and C"]
    assert (g.insee, g.commune_method) == ("B0002", "nearest")
    assert g.nearest_commune_m == pytest.approx(10.0)
    q = r.loc["inside the QPV"]
    assert (q.qpv2024, q.classe_commune, q.classe, q.classe_source) == ("QN00001M", "ZAC", "ZIP", "qpv")
    assert q.qpv2024_boundary_m == pytest.approx(500.0) or np.isnan(q.qpv2024_boundary_m)
    near = r.loc["20 m outside the QPV"]
    assert pd.isna(near.qpv2024) and near.qpv2024_boundary_m == pytest.approx(20.0)
    assert near.classe == "ZAC"
    far = r.loc["300 m east of C"]
    assert pd.isna(far.insee) and far.commune_method == "none" and pd.isna(far.classe)
    assert r.loc["D, mixed arrondissements"].classe == "mixed"
    edge = r.loc["12 m inside A from its west edge"]
    assert edge.insee == "A0001" and edge.commune_boundary_m == pytest.approx(12.0)


def test_arrondissement_class_from_postcode() -> None:
    loc = _toy()
    x, y = np.full(3, X0 + 15_000), np.full(3, Y0 + 15_000)
    r = loc.locate(x, y, crs=LAMBERT93, postcodes=["75102", "75001", "99999"])
    assert r["insee_arm"].tolist()[:2] == ["D0102", "D0101"] and pd.isna(r.loc[2, "insee_arm"])
    assert r["classe"].tolist() == ["ZAC", "ZIP", "mixed"]
    assert r["classe_source"].tolist() == ["arrondissement", "arrondissement", "commune"]


def test_input_in_degrees_and_outside_france() -> None:
    loc = _toy()
    lon, lat = transform_xy(np.array([X0 + 5_000]), np.array([Y0 + 7_000]), LAMBERT93, "EPSG:4326")
    r = loc.locate(np.r_[lon, -40.0], np.r_[lat, 10.0])
    assert r.loc[0, "insee"] == "A0001" and r.loc[0, "territory"] == "metro"
    assert pd.isna(r.loc[1, "territory"]) and pd.isna(r.loc[1, "insee"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-500, 30_500), st.floats(-500, 25_500)), min_size=1, max_size=60))
def test_grid_agrees_with_brute_force(points: list[tuple[float, float]]) -> None:
    loc = _LOC
    x = np.array([p[0] for p in points]) + X0
    y = np.array([p[1] for p in points]) + Y0
    r = loc.locate(x, y, crs=LAMBERT93)
    assert len(r) == len(points)
    geoms = loc.territory("metro").communes.geoms
    codes = loc.codes[loc.territory("metro").communes.index]
    for i, (px, py) in enumerate(zip(x, y, strict=True)):
        hits = [codes[j] for j, g in enumerate(geoms) if g.intersects(shapely.Point(px, py))]
        if len(hits) == 1:
            assert r.loc[i, "insee"] == hits[0]
        elif len(hits) > 1:
            assert r.loc[i, "insee"] in hits and r.loc[i, "commune_method"] == "overlap"
        else:
            assert r.loc[i, "commune_method"] in {"nearest", "none"}


_LOC = _toy()


# --- real data -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def locator(built) -> Locator:
    return locators.locator(built)


@pytest.fixture(scope="module")
def finess_located(built, locator):
    finess = read_layer(built, "finess")
    finess = finess[finess["has_coords"]].reset_index(drop=True)
    return finess, locator.locate(finess.geometry.x.to_numpy(), finess.geometry.y.to_numpy())


def test_all_finess_establishments_located(finess_located) -> None:
    finess, r = finess_located
    assert len(r) == len(finess)
    found = r["insee"].notna()
    # Saint-Martin and Saint-Barthélemy have no commune polygon: the only points expected outside.
    collectivities = finess["code_postal"].isin(["97133", "97150"])
    assert found.mean() >= 0.995
    assert found[~collectivities].mean() >= 0.9995
    assert set(r.loc[~found, "commune_method"]) == {"none"}


def test_finess_in_qpv_2024_of_grand_est_normandie_paca(finess_located) -> None:
    _, r = finess_located
    in_qpv = r["qpv2024"].notna()
    qpv_dep = r.loc[in_qpv, "qpv2024"].str[2:5].str.lstrip("0").str.zfill(2)
    commune_dep = r.loc[in_qpv, "insee"].str[:2]
    # Grand Est (44), Normandie (28) and PACA (93) are the régions with 2024 polygons offline.
    assert in_qpv.sum() >= 1500
    assert (qpv_dep == commune_dep).mean() > 0.99
    ge_norm = qpv_dep.isin(["08", "10", "51", "52", "54", "55", "57", "67", "68", "88", "14", "27", "50", "61", "76"])
    assert ge_norm.sum() >= 250
    # QPV answers are only 'covered' where polygons exist.
    assert r.loc[r["insee"].str.startswith("75", na=False), "qpv2024_covered"].eq(False).all()
    assert r.loc[r["insee"].str.startswith("57", na=False), "qpv2024_covered"].all()


def test_paca_qpv_override_in_a_non_zip_commune(built, locator) -> None:
    qpv = read_layer(built, "qpv")
    zip_class = (qpv["classe_qpv"] == "ZIP").fillna(False).astype(bool)
    paca = qpv[(qpv["generation"] == 2024) & zip_class & (qpv["region"] == "93")]
    points = paca.to_crs(LAMBERT93).geometry.representative_point()
    r = locator.locate(points.x.to_numpy(), points.y.to_numpy(), crs=LAMBERT93)
    assert (r["qpv2024"].astype(str).to_numpy() == paca["code_qp"].to_numpy()).all()
    assert (r["classe"] == "ZIP").all() and (r["classe_source"] == "qpv").all()
    overridden = r[r["classe_commune"] != "ZIP"]
    assert len(overridden) > 0  # a QPV classed ZIP in a commune that is not


def test_occitanie_qpv_2015_points(built, locator) -> None:
    qpv = read_layer(built, "qpv")
    occ = qpv[qpv["generation"] == 2015]
    points = occ.to_crs(LAMBERT93).geometry.representative_point()
    r = locator.locate(points.x.to_numpy(), points.y.to_numpy(), crs=LAMBERT93)
    assert (r["qpv2015"].astype(str).to_numpy() == occ["code_qp"].to_numpy()).mean() == 1.0
    assert r["qpv2015_covered"].all()
    assert (r["insee"].str[:2] == occ["departement"].str[:2].to_numpy()).mean() > 0.98


def test_random_points_match_plain_sjoin_exactly_once(built, locator) -> None:
    communes = read_layer(built, "communes", territory="metro")
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = communes.total_bounds
    n = 200_000
    x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    r = locator.locate(x, y, crs=LAMBERT93)
    assert len(r) == n
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=communes.crs)
    joined = gpd.sjoin(pts, communes[["insee", "geometry"]], predicate="intersects", how="inner")
    counts = joined.index.value_counts()
    single = joined[joined.index.isin(counts[counts == 1].index)]
    assert (r.loc[single.index, "insee"].to_numpy() == single["insee"].to_numpy()).all()
    double = counts[counts > 1].index
    assert (r.loc[double, "commune_method"] == "overlap").all()
    gap = r.index.difference(joined.index)
    assert set(r.loc[gap, "commune_method"]) <= {"nearest", "none"}


def test_stored_grid_used_only_when_fingerprint_matches() -> None:
    from zonage.grid import grids_from_arrays, territory_grids

    loc = _toy()
    arrays = territory_grids(loc._communes, read_qpv_toy(), loc.cell_m)
    grids = grids_from_arrays(arrays)
    assert grids["metro"][1] == loc.fingerprint("metro")
    reused = Locator(loc._communes, read_qpv_toy(), grids=grids, cell_m=100)
    assert reused.territory("metro").grid is grids["metro"][0]
    stale = {"metro": (grids["metro"][0], "0" * 64)}
    rebuilt = Locator(loc._communes, read_qpv_toy(), grids=stale, cell_m=100)
    assert rebuilt.territory("metro").grid is not grids["metro"][0]
    assert np.array_equal(rebuilt.territory("metro").grid.ids, grids["metro"][0].ids)


def read_qpv_toy() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code_qp": ["QN00001M"], "nom_qp": ["Quartier"], "generation": [2024], "classe_qpv": [None],
         "region": ["44"], "territory": ["metro"]},
        geometry=[shapely.box(X0 + 2_000, Y0 + 2_000, X0 + 3_000, Y0 + 3_000)], crs=LAMBERT93,
    )


def test_locator_loads_the_built_index(built) -> None:
    from zonage.layers.store import read_arrays

    arrays = read_arrays(built, "locate_index")
    assert {"metro__ids", "metro__flags", "metro__fingerprint", "974__ids"} <= set(arrays)
    loc = locators.locator(built)
    assert loc.territory("metro").grid is loc._grids["metro"][0]
