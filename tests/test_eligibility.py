import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonage.crs import LAMBERT93, transform_xy
from zonage.eligibility import ROW_STATUSES, STATUSES, assess
from zonage.inputs import ROW_ERROR_CODES
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
    assert rows["status"].tolist() == ["ok", "ok", "ok", "error", "error"]
    assert rows.loc[3, "status"] == "error" and "ligne 4" in rows.loc[3, "error"] and "'lon'" in rows.loc[3, "error"]
    assert rows.loc[4, "status"] == "error" and "identifiant en double 'zip' (déjà en ligne 1)" in rows.loc[4, "error"]
    assert rows["error_code"].tolist() == [None, None, None, "not_a_number", "duplicate_id"]
    assert rows.loc[0, "classe"] == "ZIP" and rows.loc[0, "insee"] == "57463"
    assert rows.loc[1, "qpv2024"] == "QN05701M" and rows.loc[1, "classe_commune"] == "HZ"
    # a centre de santé of unknown kind (category 124, no name): GP schemes are to check where the zone holds
    assert rows["statut_mg"].tolist()[:3] == ["needs_review", "needs_review", "not_eligible"]
    assert rows.loc[2, "statut_400mg_volet1"] == "not_eligible" and rows.loc[2, "statut_asr"] == "not_applicable"
    assert rows.loc[2, "resume"].startswith("à vérifier : ASTP ; non éligible : 400 MG volet 1")
    assert rows.loc[2, "resume"].endswith("non applicable : ASR (Normandie)")
    v2 = result.verdicts[result.verdicts["scheme"] == "400mg_volet2"].set_index("row")
    assert "ZONE_ZIP" in v2.loc[0, "reasons"] and "57463" in v2.loc[0, "message_fr"]
    assert "QN05701M" in v2.loc[1, "message_fr"]
    assert v2.loc[2, "status"] == "not_eligible"
    assert set(result.verdicts["row"]) == {0, 1, 2}
    summary = result.summary()
    assert (summary["error"] == 2).all() and summary.loc["asr", "not_applicable"] == 3
    assert result.summary_gp().sum() == 5


def test_type_column_in_everyday_words() -> None:
    zip_pt = _lonlat(5_000, 5_000)
    words = ["MSP", "centre de santé dentaire", "Centre de santé médical", "CHU", "603", "cabinet de groupe",
             "garage"]
    frame = pd.DataFrame({"lon": [zip_pt[0]] * len(words), "lat": [zip_pt[1]] * len(words), "type": words})
    result = assess(frame, LOC, SCHEMES, on=pd.Timestamp("2025-03-01").date())
    rows = result.rows
    assert rows["type_structure"].tolist()[:6] == ["msp", "centre_sante_dentaire", "centre_sante_medical", "chu",
                                                   "msp", "cabinet_liberal"]
    assert rows["statut_400mg_volet1"].tolist()[:6] == ["eligible", "not_applicable", "eligible", "eligible",
                                                        "eligible", "eligible"]
    assert rows.loc[3, "role_400mg_volet1"] == "hospitalier" and rows.loc[3, "statut_mg"] == "eligible"  # volet 2
    assert rows.loc[6, "status"] == "error" and "ligne 7, champ 'type'" in rows.loc[6, "error"]
    assert "« garage »" in rows.loc[6, "error"] and rows.loc[6, "error_code"] == "unknown_kind"


def test_date_column_takes_the_order_in_force() -> None:
    """Issue #11: one zoning answered 2019 and 2027 alike; a date outside every known order is to check."""
    zip_pt = _lonlat(5_000, 5_000)
    vintage = LOC.zoning_vintage
    LOC.zoning_vintage = "2025"
    try:
        frame = pd.DataFrame({"lon": [zip_pt[0]] * 4, "lat": [zip_pt[1]] * 4, "type": ["MSP"] * 4,
                              "date": ["2019-11-01", "01/11/2024", "2027-11-01", "hier"]})
        result = assess(frame, LOC, SCHEMES)
    finally:
        LOC.zoning_vintage = vintage
    rows = result.rows
    assert rows["statut_400mg_volet1"].tolist()[:3] == ["needs_review", "eligible", "needs_review"]
    assert "ZONING_DATE_NOT_COVERED" in rows.loc[0, "raisons_400mg_volet1"]
    assert "1er novembre 2019" in rows.loc[0, "message_400mg_volet1"]
    assert "arrêté ARS Grand Est de 2022" in rows.loc[1, "message_400mg_volet1"]
    assert rows.loc[3, "status"] == "error" and "ligne 4, champ 'date'" in rows.loc[3, "error"]
    assert rows.loc[3, "error_code"] == "bad_date" and "p. ex. 2025-11-01" in rows.loc[3, "error"]


def test_output_columns_never_overwrite_input_columns() -> None:
    zip_pt = _lonlat(5_000, 5_000)
    frame = pd.DataFrame({"lon": [zip_pt[0]], "lat": [zip_pt[1]], "row": ["mine"], "status": ["draft"],
                          "classe": ["?"], "statut_aumg": ["x"]})
    rows = assess(frame, LOC, SCHEMES).rows
    assert rows.loc[0, "entree_row"] == "mine" and rows.loc[0, "entree_status"] == "draft"
    assert rows.loc[0, "entree_classe"] == "?" and rows.loc[0, "entree_statut_aumg"] == "x"
    assert rows.loc[0, "row"] == 1 and rows.loc[0, "status"] == "ok" and rows.loc[0, "classe"] == "ZIP"


def test_input_coordinates_come_out_as_typed(tmp_path) -> None:
    """The point used is the output's lon/lat; the planner's own lon/lat stay as typed, errors included."""
    from zonage.export import write_table

    zip_pt = _lonlat(5_000, 5_000)
    typed_lon, typed_lat = f"{zip_pt[0]:.7f}".replace(".", ","), f"{zip_pt[1]:.7f}".replace(".", ",")
    frame = pd.DataFrame({"lon": [typed_lon, "652000", str(zip_pt[1])], "lat": [typed_lat, "6862000", str(zip_pt[0])]})
    rows = assess(frame, LOC, SCHEMES).rows
    back = pd.read_csv(write_table(rows, tmp_path / "out.csv", sep=";"), sep=";", dtype=str)
    assert back["entree_lon"].tolist() == [typed_lon, "652000", str(zip_pt[1])]  # as typed, errors too
    assert back["entree_lat"].tolist() == [typed_lat, "6862000", str(zip_pt[0])]
    assert float(back.loc[0, "lon"]) == pytest.approx(zip_pt[0], abs=1e-6) and back["lon"].iloc[1:].isna().all()
    assert back["error_code"].tolist()[1:] == ["lambert_in_degrees", "swapped_lonlat"]


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


def test_row_errors_carry_a_code_per_family() -> None:
    """Callers switch on ``error_code``, never on the French wording (``zonage check`` does)."""
    zip_pt = _lonlat(5_000, 5_000)
    far = _lonlat(-5_000, 5_000)  # 5 km west of the toy communes: in their territory's box, no commune near
    frame = pd.DataFrame({
        "lon": [str(zip_pt[1]), "652000", str(far[0]), "-30.5", "", str(zip_pt[0])],
        "lat": [str(zip_pt[0]), "6862000", str(far[1]), "45.1", "", str(zip_pt[1])],
    })
    rows = assess(frame, LOC, SCHEMES).rows
    assert rows["error_code"].tolist() == ["swapped_lonlat", "lambert_in_degrees", "no_commune_near",
                                           "outside_france", "empty_coordinates", None]
    assert rows.loc[2, "error"].startswith("ligne 3 : aucune commune à moins de 250 m")
    from zonage.inputs import RowError

    with pytest.raises(ValueError, match="unknown row error code"):
        RowError("ligne 1 : ?", "not_a_code")
    import pickle

    copy = pickle.loads(pickle.dumps(RowError("ligne 2 : x", "bad_date")))
    assert copy == "ligne 2 : x" and copy.code == "bad_date"


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
    assert set(out["status"]) <= set(ROW_STATUSES)
    assert set(out["statut_mg"].dropna()) <= set(STATUSES)
    assert out.loc[out["status"] == "error", "error"].notna().all()
    assert out.loc[out["status"] == "error", "error_code"].isin(list(ROW_ERROR_CODES)).all()  # every error coded
    assert out.loc[out["status"] != "error", "error_code"].isna().all()
    assert out.loc[out["status"] != "error", "error"].isna().all()
    per_row = result.verdicts.groupby("row")["scheme"].agg(["count", "nunique"])
    assert (per_row["count"] == len(SCHEMES)).all() and (per_row["nunique"] == len(SCHEMES)).all()
    assert set(per_row.index) == set(np.flatnonzero((out["status"] != "error").to_numpy()))


# --- real data -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def grand_est(built):
    from datetime import date

    from zonage.studies.eligibility import eligibility_of_region

    return eligibility_of_region(built, "44", on=date(2025, 3, 1))


def test_grand_est_structures_all_assessed(grand_est) -> None:
    structures, result = grand_est
    rows = result.rows
    assert len(rows) == len(structures) > 400
    assert (rows["finess"].to_numpy() == structures["finess"].to_numpy()).all()
    assert (rows["status"] != "error").mean() > 0.99
    assert set(rows["insee"].dropna().str[:2]) <= {"08", "10", "51", "52", "54", "55", "57", "67", "68", "88"}
    # Centres de santé and MSP in a QPV 2024 of Grand Est are found as such.
    ambulatory = rows["categetab"].isin(["124", "603"]) & rows["qpv2024"].notna()
    assert ambulatory.sum() > 0
    assert rows.loc[ambulatory, "statut_400mg_volet1"].isin(["eligible", "needs_review", "not_applicable"]).all()
    assert result.summary_gp().sum() == len(rows)


def test_grand_est_verdicts_a_planner_can_sign(grand_est) -> None:
    """Issue #11 regressions on the real Grand Est batch (FINESS 2021, zoning orders of 2022, QPV 2024)."""
    _, result = grand_est
    rows = result.rows
    # the Givet dental centre is not a host of GP posts
    givet = rows[(rows["insee"] == "08190") & rows["nom"].str.contains("DENTAIRE")]
    assert len(givet) == 1 and givet["statut_400mg_volet1"].iloc[0] == "not_applicable"
    dental = rows["type_structure"].isin(["centre_sante_dentaire", "centre_sante_infirmier"])
    assert dental.sum() > 50
    for scheme in ("400mg_volet1", "400mg_volet2", "aumg", "postes_partages_mg"):
        assert (rows.loc[dental, f"statut_{scheme}"] == "not_applicable").all(), scheme
    assert (rows.loc[dental, "statut_mg"] == "not_applicable").all()
    # ASR is a Normandie scheme: not applicable here, never "not eligible"
    assert (rows["statut_asr"] == "not_applicable").all()
    # HZ structures outside any QPV fail volets 1 and 2 (unless a kind question or a boundary keeps them open)
    hz = (rows["classe"] == "HZ") & rows["qpv2024"].isna() & rows["type_structure"].isin(["msp"])
    assert hz.sum() > 5
    assert (rows.loc[hz, "statut_400mg_volet1"].isin(["not_eligible", "needs_review"])).all()
    assert (rows.loc[hz, "statut_400mg_volet1"] == "not_eligible").mean() > 0.8
    # hospitals are never "eligible" as GP host sites because of a partner part
    hospitals = rows["type_structure"].isin(["ch", "chu", "hopital_proximite"])
    partner_only = hospitals & (rows["statut_400mg_volet2"] != "eligible")
    assert (rows.loc[partner_only, "statut_mg"] != "eligible").all()
    partner = "partenaire possible : 400 MG volet 1 (partie hospitalière)"
    assert rows.loc[hospitals, "resume"].str.contains(partner, regex=False).all()
    # every assessed row has a summary and a verdict per scheme
    assessed = rows["status"] == "ok"
    assert rows.loc[assessed, "resume"].notna().all()
    for scheme in SCHEMES:
        assert rows.loc[assessed, f"statut_{scheme}"].isin(STATUSES).all()


def test_finess_number_and_far_coordinates_are_flagged(built) -> None:
    """Issue #15: a row with a FINESS number and coordinates in another commune was judged on the coordinates."""
    from datetime import date

    from zonage.studies.eligibility import batch_context

    context = batch_context(built)
    frame = pd.DataFrame({"finess": ["080000110", "080000110", "080000110"], "lon": [4.9403, 6.17, None],
                          "lat": [49.7010, 49.12, None]})
    rows = assess(frame, context["locator"], SCHEMES, finess=context["finess"], on=date(2025, 3, 1)).rows
    assert rows["insee"].tolist() == ["08409", "57463", "08409"]
    assert rows.loc[0, "statut_400mg_volet2"] == "eligible" and rows.loc[2, "statut_400mg_volet2"] == "eligible"
    assert rows.loc[1, "statut_400mg_volet2"] == "needs_review"
    assert "FINESS_ELSEWHERE" in rows.loc[1, "raisons_400mg_volet2"]
    assert "m du point FINESS" in rows.loc[1, "message_400mg_volet2"]
