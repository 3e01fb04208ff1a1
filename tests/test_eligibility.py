import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonage.crs import LAMBERT93, transform_xy
from zonage.eligibility import STATUSES, assess
from zonage.locate import Locator
from zonage.rules import load_schemes

X0, Y0 = 900_000.0, 6_900_000.0  # Lorraine, in Lambert-93


def _toy_locator() -> Locator:
    a = shapely.box(X0, Y0, X0 + 10_000, Y0 + 10_000)
    b = shapely.box(X0 + 10_000, Y0, X0 + 20_000, Y0 + 10_000)
    communes = gpd.GeoDataFrame({"insee": ["57463", "57001"], "nom": ["Metz", "Aboncourt"], "region": "44",
                                 "territory": "metro"}, geometry=[a, b], crs=LAMBERT93)
    qpv = gpd.GeoDataFrame({"code_qp": ["QN05701M"], "nom_qp": ["Borny"], "generation": [2024],
                            "classe_qpv": [None], "region": ["44"], "territory": ["metro"]},
                           geometry=[shapely.box(X0 + 12_000, Y0 + 2_000, X0 + 13_000, Y0 + 3_000)], crs=LAMBERT93)
    zoning = pd.DataFrame({"insee": ["57463", "57001"], "classe": ["ZIP", "HZ"]})
    return Locator(communes, qpv, zoning, None)


LOC = _toy_locator()
SCHEMES = load_schemes()


def _lonlat(dx: float, dy: float) -> tuple[float, float]:
    lon, lat = transform_xy(np.array([X0 + dx]), np.array([Y0 + dy]), LAMBERT93, "EPSG:4326")
    return float(lon[0]), float(lat[0])


def test_hand_built_batch() -> None:
    zip_pt = _lonlat(5_000, 5_000)
    qpv_pt = _lonlat(12_500, 2_500)
    hz_pt = _lonlat(17_000, 8_000)
    frame = pd.DataFrame({
        "id": ["zip", "qpv", "hz", "bad", "zip"],
        "lon": [f"{zip_pt[0]}".replace(".", ","), str(qpv_pt[0]), str(hz_pt[0]), "abc", str(zip_pt[0])],
        "lat": [f"{zip_pt[1]}".replace(".", ","), str(qpv_pt[1]), str(hz_pt[1]), "49", str(zip_pt[1])],
        "categetab": ["124", "124", "124", "124", "124"],
    })
    result = assess(frame, LOC, SCHEMES)
    rows = result.rows
    assert rows["row"].tolist() == [1, 2, 3, 4, 5]
    # HZ: not eligible for the zoned schemes; ASTP (speciality deficit zone unknown) still needs review.
    assert rows["status"].tolist()[:3] == ["eligible", "eligible", "needs_review"]
    assert rows.loc[3, "status"] == "error" and "row 4" in rows.loc[3, "error"] and "'lon'" in rows.loc[3, "error"]
    assert rows.loc[4, "status"] == "error" and "duplicate id 'zip' (first at row 1)" in rows.loc[4, "error"]
    assert rows.loc[0, "classe"] == "ZIP" and rows.loc[0, "insee"] == "57463"
    assert rows.loc[1, "qpv2024"] == "QN05701M" and rows.loc[1, "classe_commune"] == "HZ"
    v2 = result.verdicts[result.verdicts["scheme"] == "400mg_volet2"].set_index("row")
    assert "ZONE_ZIP" in v2.loc[0, "reasons"] and "57463" in v2.loc[0, "message_fr"]
    assert "QN05701M" in v2.loc[1, "message_fr"]
    assert v2.loc[2, "status"] == "not_eligible"
    assert set(result.verdicts["row"]) == {0, 1, 2}
    summary = result.summary()
    assert summary.loc["(rows)", "error"] == 2 and summary.loc["(rows)"].sum() == 5


def test_commune_code_changed_by_merger_needs_review() -> None:
    pt = _lonlat(5_000, 5_000)
    frame = pd.DataFrame({"lon": [pt[0], pt[0]], "lat": [pt[1], pt[1]], "code_insee": ["57999", "57001"],
                          "categetab": ["124", "124"]})
    crosswalk = pd.DataFrame({"code": ["57463", "57999", "57001"], "code_2025": ["57463", "57463", "57001"],
                              "relation": ["current", "merged", "current"]})
    result = assess(frame, LOC, SCHEMES, crosswalk=crosswalk)
    v2 = result.verdicts[result.verdicts["scheme"] == "400mg_volet2"].set_index("row")
    assert v2.loc[0, "status"] == "needs_review"
    assert v2.loc[1, "status"] == "needs_review"  # commune given (57001) differs from the one found


MESSY = st.one_of(
    st.just(""), st.just("abc"), st.just("652000"), st.just("6862000"), st.just("49,1"), st.just("6.17"),
    st.floats(allow_nan=True, allow_infinity=True).map(str), st.text(max_size=6),
    st.builds(lambda d: str(_lonlat(d, 4_000)[0]), st.floats(-2_000, 22_000)),
    st.builds(lambda d: str(_lonlat(4_000, d)[1]), st.floats(-2_000, 12_000)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(MESSY, MESSY, st.sampled_from(["a", "b", "c", "", "d"]),
                          st.sampled_from(["124", "603", "355", "", "999"])), min_size=1, max_size=25))
def test_no_row_lost_or_duplicated(rows: list[tuple[str, str, str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["lon", "lat", "id", "categetab"])
    result = assess(frame, LOC, SCHEMES)
    out = result.rows
    assert len(out) == len(frame) and out["row"].tolist() == list(range(1, len(frame) + 1))
    assert set(out["status"]) <= set(STATUSES)
    assert out.loc[out["status"] == "error", "error"].notna().all()
    assert out.loc[out["status"] != "error", "error"].isna().all()
    per_row = result.verdicts.groupby("row")["scheme"].agg(["count", "nunique"])
    assert (per_row["count"] == len(SCHEMES)).all() and (per_row["nunique"] == len(SCHEMES)).all()
    assert set(per_row.index) == set(np.flatnonzero((out["status"] != "error").to_numpy()))


# --- real data -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def grand_est(built):
    from zonage.workflows import eligibility_of_region

    return eligibility_of_region(built, "44")


def test_grand_est_structures_all_assessed(grand_est) -> None:
    structures, result = grand_est
    rows = result.rows
    assert len(rows) == len(structures) > 400
    assert (rows["finess"].to_numpy() == structures["finess"].to_numpy()).all()
    assert (rows["status"] != "error").mean() > 0.99
    assert set(rows["insee"].dropna().str[:2]) <= {"08", "10", "51", "52", "54", "55", "57", "67", "68", "88"}
    # Centres de santé and MSP in a QPV 2024 of Grand Est are found as such and eligible for volet 2.
    ambulatory = rows["categetab"].isin(["124", "603"]) & rows["qpv2024"].notna()
    assert ambulatory.sum() > 0
    assert rows.loc[ambulatory, "statut_400mg_volet1"].isin(["eligible", "needs_review"]).all()
    summary = result.summary()
    assert summary.loc["(rows)"].sum() == len(rows)
