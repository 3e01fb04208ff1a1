"""Rules engine: packaged schemes, strict loading, site evaluation, application checks.

``located`` frames are built by hand with the columns of ``zonage.locate.Locator.locate``.
"""

from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonage.errors import InputDataError, ZonageError
from zonage.rules import (
    OUTPUT_COLUMNS,
    RulesError,
    check_application,
    evaluate_sites,
    load_schemes,
    packaged_dir,
)
from zonage.rules.model import ZONE_CLASSES

SEEDS = {
    "400_postes_medecins_salaries_zone_sous_dotee.txt",
    "ars_grand_est_400_medecins_generalistes.txt",
    "ars_grand_est_dispositifs_recrutement.txt",
    "ars_normandie_post_internat_2022.txt",
    "ars_postes_partages_aumg.txt",
}
SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "seeds"
SCHEME_IDS = {"400mg_volet1", "400mg_volet2", "astp", "postes_partages", "postes_partages_mg", "aumg", "asr"}
#: Schemes whose host site must be in ZIP/ZAC (and their own QPV rule).
ZONED = ["400mg_volet1", "400mg_volet2", "postes_partages", "postes_partages_mg", "aumg"]
DAY = "2025-03-01"
GE = "arrêté ARS Grand Est de 2022"
GE_EN = "ARS Grand Est order of 2022"


@pytest.fixture(scope="module")
def schemes():
    return load_schemes()


def loc(**kw) -> dict:
    """One located row: a point well inside Metz (ZIP), outside any QPV, QPV outlines available."""
    row = {
        "insee": "57463", "commune_nom": "Metz", "commune_method": "grid", "commune_boundary_m": np.nan,
        "qpv2024": None, "qpv2024_nom": None, "qpv2024_boundary_m": np.nan, "qpv2024_covered": True,
        "qpv2015": None, "qpv2015_nom": None, "qpv2015_boundary_m": np.nan, "qpv2015_covered": True,
        "classe_commune": "ZIP", "classe_qpv": None, "classe": "ZIP", "classe_source": "commune",
        "zoning_vintage": "2025",
    }
    row.update(kw)
    return row


def hz(**kw) -> dict:
    """Strasbourg, hors zonage."""
    return loc(**{"insee": "67482", "commune_nom": "Strasbourg", "classe": "HZ", "classe_commune": "HZ", **kw})


def in_qpv(**kw) -> dict:
    """A point inside QPV QN05701M (Borny) in a commune classed HZ."""
    return loc(**{"classe": "HZ", "classe_commune": "HZ", "qpv2024": "QN05701M", "qpv2024_nom": "Borny", **kw})


def caen(**kw) -> dict:
    """Caen (Normandie)."""
    return loc(**{"insee": "14118", "commune_nom": "Caen", **kw})


def one(schemes, scheme_id, row, category=None, region=None, day=DAY, **kw) -> dict:
    cats = None if category is None else pd.Series([str(category)], dtype=object)
    regions = None if region is None else pd.Series([region])
    out = evaluate_sites(pd.DataFrame([row]), {scheme_id: schemes[scheme_id]}, categories=cats, region=regions,
                         date=day, **kw)
    assert len(out) == 1
    return out.iloc[0].to_dict()


def codes(result: dict) -> list[str]:
    return result["reasons"].split(";") if result["reasons"] else []


# -- packaged rules ----------------------------------------------------------------------------
def test_packaged_schemes_load(schemes):
    assert set(schemes) == SCHEME_IDS
    for scheme in schemes.values():
        assert scheme.source and set(scheme.source) <= SEEDS, scheme.id
        assert scheme.name_fr and scheme.name_en
        assert scheme.site_role in scheme.roles
    assert (packaged_dir() / "_common.toml").is_file()


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="reference seeds not beside the repo")
def test_sources_cite_existing_seed_files(schemes):
    for scheme in schemes.values():
        for source in scheme.source:
            assert (SEEDS_DIR / source).is_file(), (scheme.id, source)


def test_every_reason_code_has_french_and_english_sentences(schemes):
    for scheme in schemes.values():
        for code in scheme.codes():
            template = scheme.template(code)
            assert template.fr.strip() and template.en.strip(), (scheme.id, code)


def test_structure_types_are_kinds(schemes):
    from zonage.rules.kinds import kind_catalogue

    v1 = schemes["400mg_volet1"]
    assert {"centre_sante_medical", "centre_sante_polyvalent", "msp", "cabinet_liberal"} <= \
        v1.roles["ambulatoire"].kinds
    assert not {"centre_sante_dentaire", "centre_sante_infirmier"} & (v1.roles["ambulatoire"].kinds
                                                                       | v1.roles["ambulatoire"].review_kinds)
    assert {"ch", "chu", "hopital_proximite", "ehpad", "pmi"} <= v1.roles["hospitalier"].kinds
    pp = schemes["postes_partages"].roles["hospitalier"].kinds
    assert {"ch", "chu", "usmp", "clat", "centre_vaccination"} <= pp
    assert "centre_sante_dentaire" in schemes["postes_partages"].roles["ambulatoire"].review_kinds
    assert schemes["asr"].roles["chu"].kinds == {"chu"}
    catalogue = kind_catalogue()
    for scheme in schemes.values():
        for role in scheme.roles.values():
            for t in role.structure_types:
                assert t.kind in catalogue and not catalogue[t.kind].unknown


def test_scheme_parameters(schemes):
    pp = schemes["postes_partages"]
    assert pp.roles["hospitalier"].share.default == 40
    assert pp.funding.kind == "share_of_cost" and pp.funding.rate_percent == 60
    assert pp.duration_years == 2 and pp.start_month_day == "11-01"
    assert pp.roles["ambulatoire"].zones.accepted == ("ZIP", "ZAC", "QPV")
    assert schemes["postes_partages_mg"].roles["ambulatoire"].zones.accepted == ("ZIP", "ZAC", "QPV")
    aumg = schemes["aumg"]
    assert aumg.funding.monthly_eur == 2100 and aumg.duration_years == 2 and aumg.renewal_years == 1
    asr = schemes["asr"]
    assert asr.regions == ("28",)
    assert asr.roles["peripherique"].share.min == 60 and asr.roles["chu"].share.max == 40
    assert schemes["400mg_volet1"].posts.national == 200


def test_grand_est_overrides(schemes):
    on = date(2025, 6, 1)
    v2 = schemes["400mg_volet2"]
    assert v2.roles["ambulatoire"].zones.accepted == ("ZIP", "ZAC", "QPV")
    ge = v2.resolve("44", on)
    assert ge.roles["ambulatoire"].zones.accepted == ("ZIP", "ZAC")
    assert "QPV" in ge.roles["ambulatoire"].zones.review
    assert ge.posts.region_min == 20
    assert v2.resolve("11", on) is v2
    assert schemes["400mg_volet1"].resolve("44", on).posts.region_min == 20
    assert v2.resolve("44", on) is ge  # cached


def test_dated_override(schemes):
    astp = schemes["astp"]
    assert astp.resolve("44", date(2019, 6, 1)).posts.offered == 217
    assert astp.resolve("44", date(2021, 6, 1)).posts.offered is None


# -- sites: zone branches ----------------------------------------------------------------------
@pytest.mark.parametrize("scheme_id", ZONED)
def test_zip_is_eligible(schemes, scheme_id):
    r = one(schemes, scheme_id, loc())
    assert r["status"] == "eligible"
    assert codes(r) == ["ZONE_ZIP"]
    assert r["message_fr"] == f"éligible : ZIP via la commune 57463 Metz ({GE})"
    assert r["message_en"] == f"eligible: ZIP through commune 57463 Metz ({GE_EN})"
    assert r["role"] == "ambulatoire"


@pytest.mark.parametrize("scheme_id", ZONED)
def test_zac_is_eligible(schemes, scheme_id):
    r = one(schemes, scheme_id, loc(classe="ZAC", classe_commune="ZAC"))
    assert r["status"] == "eligible" and "ZONE_ZAC" in codes(r)


@pytest.mark.parametrize("scheme_id", ["400mg_volet1", "postes_partages", "postes_partages_mg", "astp"])
def test_qpv_is_eligible(schemes, scheme_id):
    r = one(schemes, scheme_id, in_qpv())
    assert r["status"] == "eligible"
    assert codes(r)[0] == "ZONE_QPV"
    assert codes(r) == ["ZONE_QPV"] or (scheme_id == "astp" and codes(r) == ["ZONE_QPV", "SPECIALITY_MISSING"])
    assert r["message_fr"].startswith("éligible : QPV QN05701M (Borny)")


def test_volet2_qpv_depends_on_region_wording(schemes):
    normandie = one(schemes, "400mg_volet2", caen(classe="HZ", qpv2024="QN01401M", qpv2024_nom="Guérinière"))
    assert normandie["status"] == "eligible" and codes(normandie) == ["ZONE_QPV"]
    grand_est = one(schemes, "400mg_volet2", in_qpv())
    assert grand_est["status"] == "needs_review"
    assert "ZONE_QPV_TO_CHECK" in codes(grand_est)
    # the région given explicitly wins over the one derived from the commune code
    assert one(schemes, "400mg_volet2", in_qpv(), region="28")["status"] == "eligible"


def test_aumg_qpv_alone_is_to_check(schemes):
    r = one(schemes, "aumg", in_qpv())
    assert r["status"] == "needs_review" and "ZONE_QPV_TO_CHECK" in codes(r)


@pytest.mark.parametrize("scheme_id", ZONED)
def test_hors_zonage_is_not_eligible(schemes, scheme_id):
    r = one(schemes, scheme_id, hz())
    assert r["status"] == "not_eligible"
    assert "ZONE_NOT_PRIORITY" in codes(r)
    assert r["message_fr"].startswith(f"non éligible : hors zonage (commune 67482 Strasbourg, HZ ; {GE})")
    assert r["message_en"].startswith(
        f"not eligible: outside the priority zones (commune 67482 Strasbourg, HZ; {GE_EN})")


@pytest.mark.parametrize("scheme_id", ZONED)
def test_zar_is_to_check(schemes, scheme_id):
    r = one(schemes, scheme_id, caen(classe="ZAR", classe_commune="ZAR"))
    assert r["status"] == "needs_review" and "ZONE_CLASS_TO_CHECK" in codes(r)


def test_qpv_level_class(schemes):
    """A QPV classed on its own (ARS PACA order) gives the class even where QPV alone is not accepted."""
    row = loc(insee="13055", commune_nom="Marseille", classe_commune="HZ", classe_qpv="ZIP", classe="ZIP",
              classe_source="qpv", qpv2024="QN01301M", qpv2024_nom="Noailles")
    r = one(schemes, "aumg", row)
    assert r["status"] == "eligible"
    assert codes(r)[0] == "ZONE_ZIP_QPV"
    assert r["message_fr"].startswith("éligible : ZIP via le QPV QN01301M (Noailles ; arrêté régional de zonage")
    near = one(schemes, "aumg", {**row, "qpv2024_boundary_m": 10.0})
    assert near["status"] == "needs_review" and "QPV_BOUNDARY_NEAR" in codes(near)


def test_astp_zone_rules(schemes):
    assert one(schemes, "astp", in_qpv())["status"] == "eligible"
    r = one(schemes, "astp", hz())
    assert r["status"] == "needs_review" and "SPECIALITY_MISSING" in codes(r)
    assert "spécialité du poste non indiquée" in r["message_fr"]
    normandie = one(schemes, "astp", caen(classe="HZ", qpv2024="QN01401M", qpv2024_nom="Guérinière"))
    assert normandie["status"] == "needs_review" and "ZONE_QPV_TO_CHECK" in codes(normandie)
    # with the speciality: a listed deficit zone is eligible, an unlisted commune is not, no list is to check
    assert one(schemes, "astp", hz(speciality_deficit=True), speciality="cardiologie")["status"] == "eligible"
    no = one(schemes, "astp", hz(speciality_deficit=False), speciality="cardiologie")
    assert no["status"] == "not_eligible" and "SPECIALITY_NO_DEFICIT" in codes(no)
    assert "absente de la liste des zones déficitaires en cardiologie" in no["message_fr"]
    unknown = one(schemes, "astp", hz(speciality_deficit=None), speciality="cardiologie")
    assert unknown["status"] == "needs_review" and "SPECIALITY_DEFICIT_UNKNOWN" in codes(unknown)


def test_asr_region_and_roles(schemes):
    r = one(schemes, "asr", caen(), category="355")
    assert (r["status"], r["role"]) == ("eligible", "peripherique")
    assert "ZONE_NOT_REQUIRED" in codes(r)
    assert one(schemes, "asr", caen(), category="101")["role"] == "chu"
    outside = one(schemes, "asr", loc(), category="355")
    assert outside["status"] == "not_applicable" and "REGION_NOT_COVERED" in codes(outside)
    assert "Normandie" in outside["message_fr"] and "Grand Est" in outside["message_fr"]
    assert outside["message_fr"].startswith("non applicable")
    unknown = one(schemes, "asr", loc(insee=None, commune_method="none", classe=None), category="355")
    assert unknown["status"] == "needs_review" and "REGION_UNKNOWN" in codes(unknown)
    wrong = one(schemes, "asr", caen(), category="603")
    assert wrong["status"] == "not_applicable" and "STRUCTURE_KIND_NOT_ACCEPTED" in codes(wrong)


# -- sites: structure types --------------------------------------------------------------------
@pytest.mark.parametrize("scheme_id", sorted(SCHEME_IDS - {"asr"}))
def test_wrong_structure_kind_is_not_applicable(schemes, scheme_id):
    r = one(schemes, scheme_id, in_qpv(classe="ZIP", classe_commune="ZIP"), category="620")
    assert r["status"] == "not_applicable"
    assert codes(r) == ["STRUCTURE_KIND_NOT_ACCEPTED"]
    assert r["role"] == schemes[scheme_id].site_role
    assert "catégorie FINESS 620" in r["message_fr"] and r["message_fr"].startswith("non applicable")


def test_category_picks_the_part(schemes):
    hospital = one(schemes, "400mg_volet1", hz(), category="355")
    assert (hospital["role"], hospital["status"]) == ("hospitalier", "eligible")
    assert codes(hospital) == ["ROLE_PARTNER", "STRUCTURE_KIND_ACCEPTED"]
    assert "la condition de zone porte sur le rôle « partie ambulatoire »" in hospital["message_fr"]
    ambulatory = one(schemes, "400mg_volet1", hz(), category=603)
    assert (ambulatory["role"], ambulatory["status"]) == ("ambulatoire", "not_eligible")
    ok = one(schemes, "400mg_volet1", loc(), category="603")
    assert ok["message_fr"] == (f"éligible : ZIP via la commune 57463 Metz ({GE}) ; "
                                "maison de santé pluriprofessionnelle (catégorie FINESS 603)")


def test_dental_and_nursing_centres_cannot_host_gp_posts(schemes):
    """Issue #11: the Givet "CENTRE DE SANTE DENTAIRE" (FINESS 124) was eligible for 400 MG volet 1."""
    from zonage.rules.kinds import classify

    kinds = classify(category=["124", "124", "124", "124"], ape=["8623Z", None, "8690D", "8621Z"],
                     name=["CENTRE DE SANTE DENTAIRE", "CENTRE DE SOINS INFIRMIERS", "CDS", "CDS MUNICIPAL"])
    assert kinds["type"].tolist() == ["centre_sante_dentaire", "centre_sante_infirmier", "centre_sante_infirmier",
                                      "centre_sante_medical"]
    givet = loc(insee="08190", commune_nom="Givet")
    frame = pd.DataFrame([givet] * 4)
    for scheme_id in ("400mg_volet1", "400mg_volet2", "aumg", "postes_partages_mg"):
        out = evaluate_sites(frame, {scheme_id: schemes[scheme_id]}, kinds=kinds, date=DAY)
        assert out["status"].astype(str).tolist() == ["not_applicable", "not_applicable", "not_applicable",
                                                      "eligible"], scheme_id
        assert "centre de santé dentaire (d'après le nom et le code APE 8623Z)" in out["message_fr"].iloc[0]
    # a specialists' shared post in a dental centre: the dedicated dental call, to check
    out = evaluate_sites(frame.iloc[:1], {"postes_partages": schemes["postes_partages"]}, kinds=kinds.iloc[:1],
                         date=DAY)
    assert out["status"].iloc[0] == "needs_review" and "STRUCTURE_KIND_TO_CHECK" in out["reasons"].iloc[0]


def test_unknown_kind_of_centre_needs_review(schemes):
    out = evaluate_sites(pd.DataFrame([loc()]), {"400mg_volet1": schemes["400mg_volet1"]},
                         categories=pd.Series(["124"], dtype=object), date=DAY)
    r = out.iloc[0]
    assert r["status"] == "needs_review" and "STRUCTURE_KIND_UNKNOWN" in r["reasons"]
    assert "type non connu" in r["message_fr"]
    # a firm zone failure stays a failure, the unknown kind of centre de santé is reported
    out = evaluate_sites(pd.DataFrame([hz()]), {"400mg_volet1": schemes["400mg_volet1"]},
                         categories=pd.Series(["124"]), date=DAY)
    assert out.iloc[0]["status"] == "not_eligible" and "STRUCTURE_KIND_UNKNOWN" in out.iloc[0]["reasons"]
    # no category at all: it may be a hospital, which has no zone condition here: to check
    out = evaluate_sites(pd.DataFrame([hz()]), {"400mg_volet1": schemes["400mg_volet1"]},
                         categories=pd.Series([np.nan]), date=DAY)
    assert out.iloc[0]["status"] == "needs_review" and "STRUCTURE_KIND_UNKNOWN" in out.iloc[0]["reasons"]


def test_name_against_ape_code_needs_review(schemes):
    from zonage.rules.kinds import classify

    kinds = classify(category=["124"], ape=["8623Z"], name=["CENTRE DE SANTE MEDICAL"])
    assert (kinds["type"].iloc[0], kinds["type_source"].iloc[0]) == ("centre_sante_medical", "nom≠ape")
    out = evaluate_sites(pd.DataFrame([loc()]), {"aumg": schemes["aumg"]}, kinds=kinds, date=DAY)
    assert out["status"].iloc[0] == "needs_review" and "STRUCTURE_KIND_CONFLICT" in out["reasons"].iloc[0]
    assert "le code APE 8623Z indique un centre de santé dentaire" in out["message_fr"].iloc[0]


# -- sites: fragile answers --------------------------------------------------------------------
def test_near_commune_boundary(schemes):
    r = one(schemes, "400mg_volet1", loc(commune_boundary_m=20.0))
    assert r["status"] == "needs_review"
    assert codes(r)[0] == "COMMUNE_BOUNDARY_NEAR"
    assert r["message_fr"].startswith("à vérifier : à 20 m de la limite de la commune 57463 Metz")
    assert one(schemes, "400mg_volet1", loc(commune_boundary_m=80.0))["status"] == "eligible"
    assert one(schemes, "400mg_volet1", loc(commune_boundary_m=80.0), fragile_m=100)["status"] == "needs_review"


def test_near_qpv_boundary(schemes):
    r = one(schemes, "400mg_volet1", in_qpv(qpv2024_boundary_m=18.0))
    assert r["status"] == "needs_review"
    assert r["message_fr"].startswith("à vérifier : à 18 m de la limite du QPV QN05701M")
    outside = one(schemes, "400mg_volet1", hz(qpv2024_boundary_m=30.0))
    assert outside["status"] == "needs_review" and "QPV_NEARBY" in codes(outside)


def test_fragility_without_effect_is_reported_not_flagged(schemes):
    r = one(schemes, "400mg_volet1", loc(qpv2024_boundary_m=12.0))
    assert r["status"] == "eligible"
    assert codes(r) == ["ZONE_ZIP", "QPV_NEARBY"]
    assert "sans incidence sur la réponse : à 12 m de la limite d'un QPV 2024" in r["message_fr"]
    assert "no effect on the answer" in r["message_en"]


@pytest.mark.parametrize(("method", "code"), [("overlap", "COMMUNE_OVERLAP"), ("nearest", "COMMUNE_NEAREST")])
def test_uncertain_commune(schemes, method, code):
    r = one(schemes, "postes_partages", loc(commune_method=method, commune_candidates="57463|57672"))
    assert r["status"] == "needs_review" and codes(r)[0] == code
    if method == "overlap":
        assert "57463, 57672" in r["message_fr"]


def test_mixed_class(schemes):
    paris = loc(insee="75056", commune_nom="Paris", classe="mixed", classe_commune="mixed")
    r = one(schemes, "postes_partages", paris)
    assert r["status"] == "needs_review" and "CLASS_MIXED" in codes(r)
    firm_qpv = one(schemes, "postes_partages", {**paris, "qpv2024": "QN07501M", "qpv2024_nom": "X"})
    assert firm_qpv["status"] == "eligible"


def test_unknown_class(schemes):
    r = one(schemes, "aumg", loc(classe="unknown", classe_commune="unknown"))
    assert r["status"] == "needs_review" and "CLASS_UNKNOWN" in codes(r)


def test_qpv_not_covered(schemes):
    r = one(schemes, "400mg_volet1", hz(qpv2024_covered=False))
    assert r["status"] == "needs_review" and codes(r)[0] == "QPV_NOT_COVERED"
    # the commune is priority: the missing QPV outlines cannot change the answer
    assert one(schemes, "400mg_volet1", loc(qpv2024_covered=False))["status"] == "eligible"
    # the QPV rule plays no part for AUMG's ZIP/ZAC (QPV only "to check")
    assert one(schemes, "aumg", hz(qpv2024_covered=False))["status"] == "needs_review"


def test_commune_only(schemes):
    r = one(schemes, "400mg_volet1", hz(commune_method="commune"))
    assert r["status"] == "needs_review"
    assert r["message_fr"].startswith("à vérifier : seule la commune est connue")
    assert one(schemes, "400mg_volet1", loc(commune_method="commune"))["status"] == "eligible"


def test_merged_commune_code(schemes):
    r = one(schemes, "400mg_volet1", loc(commune_merged=True))
    assert r["status"] == "needs_review"
    assert r["message_fr"].startswith("à vérifier : code commune modifié par une fusion")


def test_not_located(schemes):
    r = one(schemes, "aumg", loc(insee=None, commune_nom=None, commune_method="none", classe=None))
    assert r["status"] == "needs_review" and codes(r) == ["LOCATION_NONE"]


def test_qpv_generation_in_force(schemes):
    row = hz(qpv2015="QP057010", qpv2015_nom="Borny 2015")
    before = one(schemes, "400mg_volet1", row, day="2023-06-01")
    assert before["status"] == "eligible" and "QP057010" in before["message_fr"]
    after = one(schemes, "400mg_volet1", row, day="2025-03-01")
    assert after["status"] == "not_eligible" and "hors QPV 2024" in after["message_fr"]


def test_overseas_generation_date(schemes):
    row = loc(insee="97411", commune_nom="Saint-Denis", classe="HZ", qpv2015="QP974001", qpv2015_nom="A")
    assert one(schemes, "400mg_volet1", row, day="2024-06-01")["status"] == "eligible"
    assert one(schemes, "400mg_volet1", row, day="2025-03-01")["status"] == "not_eligible"


def test_output_shape_and_positions(schemes):
    frame = pd.DataFrame([loc(), hz(), in_qpv()], index=[10, 20, 30])
    out = evaluate_sites(frame, schemes, date=DAY)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert len(out) == 3 * len(schemes)
    assert sorted(out["row"].unique()) == [0, 1, 2]
    assert set(out["status"]) <= {"eligible", "needs_review", "not_eligible", "not_applicable"}
    empty = evaluate_sites(frame.iloc[:0], schemes)
    assert list(empty.columns) == list(OUTPUT_COLUMNS) and len(empty) == 0


def test_default_schemes_and_input_errors(schemes):
    out = evaluate_sites(pd.DataFrame([loc()]), date=DAY)
    assert set(out["scheme"]) == SCHEME_IDS
    with pytest.raises(InputDataError, match="categories"):
        evaluate_sites(pd.DataFrame([loc()]), schemes, categories=pd.Series(["124", "355"]))
    with pytest.raises(InputDataError, match="kinds"):
        from zonage.rules.kinds import classify

        evaluate_sites(pd.DataFrame([loc()]), schemes, kinds=classify(category=["124", "355"]))


# -- property ----------------------------------------------------------------------------------
_rows = st.fixed_dictionaries({
    "insee": st.sampled_from(["57463", "67482", "14118", "75056", "97411", "2A004", None]),
    "commune_nom": st.sampled_from(["Metz", "", None]),
    "commune_method": st.sampled_from(["grid", "exact", "overlap", "nearest", "none", "commune", None]),
    "commune_boundary_m": st.one_of(st.just(math.nan), st.floats(0, 200)),
    "qpv2024": st.sampled_from([None, "QN05701M"]),
    "qpv2024_nom": st.sampled_from([None, "Borny"]),
    "qpv2024_boundary_m": st.one_of(st.just(math.nan), st.floats(0, 200)),
    "qpv2024_covered": st.booleans(),
    "qpv2015": st.sampled_from([None, "QP057010"]),
    "qpv2015_nom": st.just(None),
    "qpv2015_boundary_m": st.just(math.nan),
    "qpv2015_covered": st.booleans(),
    "classe": st.sampled_from(["ZIP", "ZAC", "ZAR", "HZ", "unknown", "mixed", None]),
    "classe_commune": st.sampled_from(["ZIP", "HZ", None]),
    "classe_qpv": st.sampled_from([None, "ZIP"]),
    "classe_source": st.sampled_from(["commune", "qpv", "none"]),
    "zoning_vintage": st.sampled_from(["2025", "2026", None]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_rows, max_size=25), cats=st.lists(st.sampled_from(["124", "355", "620", None]), max_size=25),
       day=st.dates(date(2016, 1, 1), date(2030, 12, 31)))
def test_one_row_per_input_row_and_scheme(schemes, rows, cats, day):
    frame = pd.DataFrame(rows, columns=list(loc()))
    categories = None if len(cats) < len(rows) or not rows else pd.Series(cats[: len(rows)], dtype=object)
    out = evaluate_sites(frame, schemes, categories=categories, date=day)
    assert len(out) == len(frame) * len(schemes)
    for _, part in out.groupby("scheme"):
        assert sorted(part["row"]) == list(range(len(frame)))
    labels = {"eligible": "éligible", "needs_review": "à vérifier", "not_eligible": "non éligible",
              "not_applicable": "non applicable"}
    for status, message, reasons in zip(out["status"], out["message_fr"], out["reasons"], strict=True):
        assert message.startswith(labels[status])
        assert reasons


def _synthetic(n: int, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    """``n`` located rows mixing every kind of fact (names follow codes, as ``locate`` gives them)."""
    rng = np.random.default_rng(seed)

    def pick(values, p=None):
        return np.array(values, dtype=object)[rng.choice(len(values), n, p=p)]

    communes = {"57463": "Metz", "67482": "Strasbourg", "14118": "Caen", "75056": "Paris", "97411": "Saint-Denis",
                "2A004": "Ajaccio", "57672": "Thionville", "13055": "Marseille", "28001": "X", None: None}
    insee = pick(list(communes))
    qpv = pick([None, None, None, "QN05701M", "QN01401M", "QN07501M"])
    qpv_names = {None: None, "QN05701M": "Borny", "QN01401M": "Guérinière", "QN07501M": "Goutte d'Or"}
    qpv15 = pick([None, None, "QP057010"])

    def distances(share):
        return np.where(rng.random(n) < share, np.round(rng.uniform(0, 150, n), 1), np.nan)

    frame = pd.DataFrame({
        "insee": insee, "commune_nom": [communes[c] for c in insee],
        "commune_method": pick(["grid", "grid", "exact", "overlap", "nearest", "none", "commune", None]),
        "commune_candidates": pick([None, None, "57463|57672", "14118|14001"]),
        "commune_boundary_m": distances(0.4),
        "qpv2024": qpv, "qpv2024_nom": [qpv_names[q] for q in qpv], "qpv2024_boundary_m": distances(0.3),
        "qpv2024_covered": rng.random(n) < 0.7,
        "qpv2015": qpv15, "qpv2015_nom": np.where(pd.isna(qpv15), None, "Borny 2015"),
        "qpv2015_boundary_m": distances(0.1), "qpv2015_covered": rng.random(n) < 0.9,
        "classe": pick(["ZIP", "ZAC", "ZAR", "HZ", "unknown", "mixed", "zip", None]),
        "classe_commune": pick(["ZIP", "HZ", "mixed", None]), "classe_qpv": pick([None, None, "ZIP", "ZAC"]),
        "classe_source": pick(["commune", "commune", "qpv", "none"]),
        "commune_merged": rng.random(n) < 0.05,
        "zoning_vintage": pick(["2025", "2025", "2025", "2024"]),
    })
    categories = pd.Series(pick(["124", "603", "355", "101", "620", "999", None, 124]), dtype=object)
    return frame, categories


def _frame_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for column in a.columns:
        assert a[column].astype(object).tolist() == b[column].astype(object).tolist(), column


def test_batch_matches_rows_evaluated_alone(schemes):
    """Rows are grouped and each sentence written once: the answers must still be each row's own."""
    n = 3000
    frame, categories = _synthetic(n)
    out = evaluate_sites(frame, schemes, categories=categories, date=DAY)
    assert len(out) == n * len(schemes)
    by_row = out.set_index(["row", "scheme"])
    # the same rows in another order (other groups, other first rows of each group)
    order = np.random.default_rng(1).permutation(n)
    shuffled = evaluate_sites(frame.iloc[order], schemes, categories=categories.iloc[order], date=DAY)
    shuffled["row"] = order[shuffled["row"].to_numpy()]
    _frame_equal(by_row.reset_index(), shuffled.set_index(["row", "scheme"]).loc[by_row.index].reset_index())
    # each row alone (a sample: one call per row)
    for i in np.random.default_rng(2).choice(n, 40, replace=False):
        alone = evaluate_sites(frame.iloc[[i]], schemes, categories=categories.iloc[[i]], date=DAY)
        alone["row"] = i
        _frame_equal(alone, by_row.loc[[(i, s) for s in alone["scheme"].astype(object)]].reset_index())
    # without categories, and with the text columns as categoricals (as Locator.locate gives them)
    plain = evaluate_sites(frame, schemes, date=DAY)
    coded = frame.astype({c: "category" for c in ("insee", "commune_method", "qpv2024", "qpv2015", "classe",
                                                    "classe_commune", "classe_qpv", "classe_source")})
    _frame_equal(plain, evaluate_sites(coded, schemes, date=DAY))
    for i in np.random.default_rng(3).choice(n, 25, replace=False):
        alone = evaluate_sites(coded.iloc[[i]], schemes, date=DAY)
        alone["row"] = i
        _frame_equal(alone, plain[plain["row"] == i].reset_index(drop=True))


def test_result_text_columns_are_categorical(schemes):
    frame = pd.DataFrame([loc(), hz(), in_qpv(), loc(commune_boundary_m=20.0)])
    out = evaluate_sites(frame, schemes, date=DAY)
    for column in ("scheme", "role", "status", "reasons", "message_fr", "message_en"):
        assert isinstance(out[column].dtype, pd.CategoricalDtype), column
        categories = list(out[column].cat.categories)
        assert len(set(categories)) == len(categories)
    assert list(out["status"].cat.categories) == ["eligible", "needs_review", "not_eligible", "not_applicable"]
    assert out["status"].cat.ordered
    assert list(out["scheme"].cat.categories) == sorted(schemes)
    # scheme by scheme, rows in input order
    assert out["scheme"].astype(object).tolist() == [s for s in schemes for _ in range(len(frame))]
    assert out["row"].tolist() == list(range(len(frame))) * len(schemes)
    # strings compare, map and concatenate (after astype(object)) as before
    assert (out["status"] == "eligible").any() and out["status"].isin(["not_eligible"]).any()
    assert out["status"].map({"eligible": 0, "needs_review": 1, "not_eligible": 2,
                              "not_applicable": 3}).astype(int).max() == 3
    text = out["reasons"].astype(object) + ";X"
    assert text.str.endswith(";X").all()
    empty = evaluate_sites(frame.iloc[:0], schemes, date=DAY)
    assert list(empty.columns) == list(OUTPUT_COLUMNS) and len(empty) == 0
    assert isinstance(empty["status"].dtype, pd.CategoricalDtype)


# -- applications ------------------------------------------------------------------------------
def aumg_application(**kw) -> dict:
    app = {
        "scheme": "aumg", "start": "2024-11-01",
        "ambulatory": {"finess": "570000001", "category": "603", "located": loc()},
        "university": {"type": "universite"},
        "doctor": {"speciality": "Médecine générale", "diploma_mg": True, "thesis": True,
                   "internship_end": "2022-10-31", "ordre_registration": "2024-10-15"},
        "shares": {"ambulatory": 50, "university": 50},
    }
    app.update(kw)
    return app


def test_aumg_eligible_with_funding(schemes):
    verdict = check_application(aumg_application(), schemes)
    assert verdict.status == "eligible", verdict.message_fr
    assert verdict.failures == [] and verdict.reviews == []
    assert verdict.funding.amount_eur == 2100 * 24
    assert verdict.funding.message_fr == "2 100 € × 24 mois = 50 400 €"
    assert verdict.funding.message_en == "€2,100 × 24 months = €50,400"
    renewed = check_application(aumg_application(renewal=True), schemes)
    assert renewed.funding.amount_eur == 2100 * 36


def test_aumg_lists_every_failure(schemes):
    app = aumg_application(
        ambulatory={"category": "603", "located": hz()},
        doctor={"speciality": "cardiologie", "diploma_mg": False, "internship_end": "2016-10-31",
                "ordre_registration": "2024-12-01"},
        shares={"ambulatory": 30, "university": 90},
        duration_years=4,
    )
    verdict = check_application(app, schemes)
    assert verdict.status == "not_eligible"
    failed = {f.code for f in verdict.failures}
    assert failed == {"ZONE_NOT_PRIORITY", "PROFILE_SPECIALITY_NOT_MG", "PROFILE_AUMG_STATUS",
                      "PROFILE_ORDRE_REGISTRATION_LATE", "SHARES_ABOVE_100", "DURATION_TOO_LONG"}
    assert {f.code for f in verdict.reviews} == {"SHARE_BELOW_MIN", "SHARE_ABOVE_MAX"}
    late = next(f for f in verdict.failures if f.code == "PROFILE_ORDRE_REGISTRATION_LATE")
    assert late.message_fr == "inscription à l'Ordre des médecins le 1er décembre 2024, après le 1er novembre 2024"
    zone = next(f for f in verdict.failures if f.code == "ZONE_NOT_PRIORITY")
    assert zone.part == "ambulatoire" and "67482 Strasbourg" in zone.message_fr
    for finding in verdict.issues:
        assert finding.message_fr and finding.message_en
    assert verdict.message_fr.startswith("non éligible : ")


def test_aumg_years_after_internship(schemes):
    between = aumg_application(doctor={**aumg_application()["doctor"], "diploma_mg": False,
                                       "internship_end": "2020-05-01"})
    verdict = check_application(between, schemes)
    assert verdict.status == "needs_review" and verdict.codes == ["PROFILE_AUMG_STATUS"]
    # issue #11: a GP whose internship ended in 2005 is not eligible because he holds the diploma
    holder = check_application(aumg_application(doctor={**aumg_application()["doctor"],
                                                        "internship_end": "2005-10-31"}), schemes)
    assert holder.status == "needs_review" and holder.codes == ["PROFILE_AUMG_STATUS_DES"]
    assert "19" in holder.reviews[0].message_fr and "jeunes médecins" in holder.reviews[0].message_fr
    without = check_application(aumg_application(doctor={**aumg_application()["doctor"], "diploma_mg": False,
                                                         "internship_end": "2005-10-31"}), schemes)
    assert without.status == "not_eligible" and without.codes == ["PROFILE_AUMG_STATUS"]
    unknown = check_application(aumg_application(doctor={k: v for k, v in aumg_application()["doctor"].items()
                                                         if k != "internship_end"}), schemes)
    assert unknown.status == "needs_review" and unknown.reviews[0].condition == "PROFILE_AUMG_STATUS"


def test_missing_doctor_information_needs_review(schemes):
    doctor = {k: v for k, v in aumg_application()["doctor"].items() if k != "ordre_registration"}
    verdict = check_application(aumg_application(doctor=doctor), schemes)
    assert verdict.status == "needs_review"
    finding = verdict.reviews[0]
    assert (finding.code, finding.condition) == ("PROFILE_INFO_MISSING", "PROFILE_ORDRE_REGISTRATION_LATE")
    assert "doctor.ordre_registration" in finding.message_fr


def volet_application(scheme: str, **kw) -> dict:
    app = {
        "scheme": scheme, "start": "2024-11-01",
        "hospital": {"finess": "570000002", "category": "355", "located": hz()},
        "ambulatory": {"finess": "570000001", "type": "centre de santé médical", "located": loc()},
        "doctor": {"diploma_mg": True, "thesis": True, "installed": False, "practising_in_priority_zone": False,
                   "speciality": "mg"},
    }
    app.update(kw)
    return app


def test_volet1(schemes):
    ok = check_application(volet_application("400mg_volet1"), schemes)
    assert ok.status == "eligible", ok.message_fr
    assert ok.funding.amount_eur is None and "MIGAC" in ok.funding.message_fr
    assert any("Grand Est" in note for note in ok.overrides_fr)
    bad = check_application(volet_application(
        "400mg_volet1", doctor={"diploma_mg": False, "thesis": "non"},
        hospital={"category": "620", "located": loc()}), schemes)
    assert {f.code for f in bad.failures} == {"PROFILE_DIPLOMA_MG_MISSING", "PROFILE_THESIS_MISSING",
                                              "STRUCTURE_KIND_NOT_ACCEPTED"}
    missing = check_application({k: v for k, v in volet_application("400mg_volet1").items() if k != "hospital"},
                                schemes)
    assert "ROLE_MISSING" in missing.codes


def test_volet2_profile(schemes):
    doctor = {"diploma_mg": True, "thesis": True, "installed": True, "practising_in_priority_zone": True}
    national = check_application(volet_application("400mg_volet2", doctor=doctor, region="11",
                                                    ambulatory={"type": "msp",
                                                                "located": loc(insee="93066", commune_nom="X")}),
                                 schemes)
    assert {f.code for f in national.failures} == {"PROFILE_ALREADY_INSTALLED", "PROFILE_ALREADY_IN_PRIORITY_ZONE"}
    # Grand Est opens volet 2 to "médecins isolés souhaitant améliorer leur confort d'exercice": to check
    grand_est = check_application(volet_application("400mg_volet2", doctor=doctor), schemes)
    assert grand_est.status == "needs_review"
    assert {f.code for f in grand_est.reviews} == {"PROFILE_ALREADY_INSTALLED", "PROFILE_ALREADY_IN_PRIORITY_ZONE"}
    # Normandie: "ne souhaitent pas ou plus exercer en libéral": installed is to check, priority zone fails
    normandie = check_application(volet_application("400mg_volet2", doctor=doctor,
                                                    ambulatory={"type": "msp", "located": caen()}), schemes)
    assert [f.code for f in normandie.failures] == ["PROFILE_ALREADY_IN_PRIORITY_ZONE"]
    assert [f.code for f in normandie.reviews] == ["PROFILE_ALREADY_INSTALLED"]
    qpv_grand_est = check_application(volet_application("400mg_volet2", ambulatory={"type": "msp",
                                                                                     "located": in_qpv()}), schemes)
    assert qpv_grand_est.status == "needs_review" and "ZONE_QPV_TO_CHECK" in qpv_grand_est.codes


def test_postes_partages(schemes):
    app = volet_application("postes_partages", doctor={"speciality": "Cardiologie"},
                            funding={"assistant_annual_cost_eur": 60000})
    verdict = check_application(app, schemes)
    assert verdict.status == "eligible", verdict.message_fr
    assert verdict.funding.amount_eur == pytest.approx(0.6 * 0.4 * 60000 * 2)
    per_year = check_application({**app, "funding": {"assistant_annual_cost_eur": [55000, 58000]}}, schemes)
    assert per_year.funding.amount_eur == pytest.approx(0.6 * 0.4 * (55000 + 58000))
    no_cost = check_application({**app, "funding": {}}, schemes)
    assert no_cost.funding.amount_eur is None and "assistant_annual_cost_eur" in no_cost.funding.message_fr
    gp = check_application({**app, "doctor": {"speciality": "Médecine Générale"}}, schemes)
    assert gp.codes == ["PROFILE_SPECIALITY_MG_EXCLUDED"] and gp.status == "not_eligible"
    dental = check_application({**app, "doctor": {"speciality": "chirurgie dentaire"}}, schemes)
    assert dental.status == "needs_review" and dental.codes == ["PROFILE_DENTAL_SPECIFIC_CALL"]
    share = check_application({**app, "shares": {"hospital": 50}}, schemes)
    assert share.status == "needs_review" and share.codes == ["SHARE_ABOVE_MAX"]
    assert share.funding.amount_eur == pytest.approx(0.6 * 0.5 * 60000 * 2)
    start = check_application({**app, "start": "2024-10-01"}, schemes)
    assert start.codes == ["START_DATE_UNUSUAL"] and "1er novembre" in start.reviews[0].message_fr
    fragile = check_application({**app, "ambulatory": {"type": "msp", "located": loc(commune_boundary_m=5.0)}},
                                schemes)
    assert fragile.status == "needs_review" and "COMMUNE_BOUNDARY_NEAR" in fragile.codes


def test_postes_partages_mg(schemes):
    app = volet_application("postes_partages_mg", doctor={"speciality": "pneumologie"})
    verdict = check_application(app, schemes)
    assert verdict.codes == ["PROFILE_SPECIALITY_NOT_MG"]
    assert check_application(volet_application("postes_partages_mg"), schemes).status == "eligible"


def test_asr_shares(schemes):
    base = {"scheme": "asr", "start": "2024-11-01",
            "peripheral": {"category": "355", "located": caen(insee="50129", commune_nom="Cherbourg")},
            "chu": {"category": "101", "located": caen()},
            "doctor": {"internship_region": "28", "internship_end": "2024-10-31"},
            "shares": {"peripheral": 60, "chu": 40}}
    assert check_application(base, schemes).status == "eligible"
    low = check_application({**base, "shares": {"peripheral": 50, "chu": 50}}, schemes)
    assert {f.code for f in low.failures} == {"SHARE_BELOW_MIN", "SHARE_ABOVE_MAX"}
    over = check_application({**base, "shares": {"peripheral": 80, "chu": 40}}, schemes)
    assert [f.code for f in over.failures] == ["SHARES_ABOVE_100"]
    other_intern = check_application({**base, "doctor": {"internship_region": 44, "internship_end": "2024-10-31"}},
                                     schemes)
    assert {f.code for f in other_intern.failures} == {"PROFILE_NOT_REGION_INTERN"}
    # issue #15: a declared région is a fact to check, never an answer: structures in Grand Est declaring
    # Normandie stay outside ASR's région; structures in Normandie declaring Grand Est stay in Normandie
    in_grand_est = {**base, "region": "28", "peripheral": {"category": "355", "located": loc()},
                    "chu": {"category": "101", "located": loc()}}
    forged = check_application(in_grand_est, schemes)
    assert forged.status == "not_eligible" and "REGION_NOT_COVERED" in {f.code for f in forged.failures}
    assert "REGION_DECLARED_DIFFERS" in {f.code for f in forged.reviews}
    declared = check_application({**base, "region": "Grand Est"}, schemes)
    assert declared.status == "needs_review" and declared.codes == ["REGION_DECLARED_DIFFERS"]
    assert "Grand Est" in declared.reviews[0].message_fr and "Normandie" in declared.reviews[0].message_fr


@pytest.mark.parametrize("region", ["28", 28, "Normandie", "normandie", " NORMANDIE "])
def test_region_given_by_code_or_name(schemes, region):
    """Issue #11: internship_region 'Normandie' was rejected where '28' passed."""
    app = {"scheme": "asr", "start": "2024-11-01", "peripheral": {"category": "355", "located": caen()},
           "chu": {"category": "101", "located": caen()},
           "doctor": {"internship_region": region, "internship_end": "2024-10-31"},
           "shares": {"peripheral": 60, "chu": 40}}
    verdict = check_application(app, schemes)
    assert verdict.status == "eligible", verdict.message_fr
    with pytest.raises(InputDataError, match=r"doctor\.internship_region : région 'Normandy-sur-Mer' inconnue"):
        check_application({**app, "doctor": {"internship_region": "Normandy-sur-Mer"}}, schemes)


def test_astp_needs_a_second_structure(schemes):
    base = {"scheme": "astp", "start": "2024-11-01", "hospital": {"category": "101", "located": loc()},
            "doctor": {"internship_end": "2024-10-31", "speciality": "cardiologie"}}
    verdict = check_application(base, schemes)
    assert verdict.codes == ["ROLE_MISSING_ONE_OF"]
    assert "partie ambulatoire ou établissement partenaire" in verdict.failures[0].message_fr
    partner = check_application({**base, "partner": {"category": "355", "located": hz()}}, schemes)
    assert partner.status == "eligible"


def test_astp_doctor_profile(schemes):
    """Issue #11: ASTP checked no doctor profile (a doctor 27 years past internship and installed passed)."""
    base = {"scheme": "astp", "start": "2024-11-01", "hospital": {"category": "101", "located": loc()},
            "partner": {"category": "355", "located": hz()}}
    old = check_application({**base, "doctor": {"internship_end": "1997-10-31", "installed": True,
                                                "speciality": "cardiologie"}}, schemes)
    assert old.status == "not_eligible" and "PROFILE_NOT_POST_INTERNSHIP" in old.codes
    assert "PROFILE_INSTALLED_POST_INTERNSHIP" in old.codes
    missing = check_application({**base, "doctor": {}}, schemes)
    assert missing.status == "needs_review"
    assert {f.condition for f in missing.reviews} == {"PROFILE_NOT_POST_INTERNSHIP", "PROFILE_SPECIALITY_MG_EXCLUDED"}


def test_astp_with_speciality_and_deficit_list(schemes):
    table = pd.DataFrame({"specialite": ["Cardiologie", "pneumologie"], "insee": ["67482", "57463"]})
    from zonage.rules.deficits import read_deficits

    deficits = read_deficits(table)
    app = {"scheme": "astp", "start": "2024-11-01", "hospital": {"category": "101", "located": loc()},
           "ambulatory": {"type": "msp", "located": hz()},
           "doctor": {"internship_end": "2024-10-31", "speciality": "cardiologie"}}
    assert check_application(app, schemes, deficits=deficits).status == "eligible"
    other = check_application({**app, "doctor": {**app["doctor"], "speciality": "pneumologie"}}, schemes,
                              deficits=deficits)
    assert other.status == "not_eligible" and "SPECIALITY_NO_DEFICIT" in other.codes
    unlisted = check_application({**app, "doctor": {**app["doctor"], "speciality": "dermatologie"}}, schemes,
                                 deficits=deficits)
    assert unlisted.status == "needs_review" and "SPECIALITY_DEFICIT_UNKNOWN" in unlisted.codes
    no_list = check_application(app, schemes)
    assert no_list.status == "needs_review" and "SPECIALITY_DEFICIT_UNKNOWN" in no_list.codes


def test_located_sites_lookup(schemes):
    app = aumg_application(ambulatory={"finess": "570000001", "category": "603"})
    verdict = check_application(app, schemes, located_sites={"570000001": loc()})
    assert verdict.status == "eligible"
    unlocated = check_application(app, schemes)
    assert unlocated.status == "needs_review" and "LOCATION_NONE" in unlocated.codes


def test_application_input_errors(schemes):
    with pytest.raises(InputDataError, match=r"scheme : dispositif 'nope' inconnu"):
        check_application({"scheme": "nope"}, schemes)
    with pytest.raises(InputDataError, match="internship_end"):
        check_application(aumg_application(doctor={"speciality": "mg", "internship_end": "last year"}), schemes)
    with pytest.raises(InputDataError, match=r"doctor\.thesis : oui ou non attendu"):
        check_application(volet_application("400mg_volet1", doctor={"diploma_mg": True, "thesis": "maybe"}), schemes)


def test_verdict_to_dict(schemes):
    data = check_application(aumg_application(), schemes).to_dict()
    assert data["status"] == "eligible" and data["funding"]["amount_eur"] == 50400
    assert data["message_fr"] == "éligible"
    assert data["met"] and all(m["message_fr"] for m in data["met"])


# -- malformed rules files ---------------------------------------------------------------------
MINIMAL = """\
id = "test_scheme"
name_fr = "Test"
name_en = "Test"
source = "seed.txt"

[roles.ambulatoire]
label_fr = "partie ambulatoire"
label_en = "ambulatory part"
keys = ["ambulatory"]
structure_types = [{ kind = "centre_sante_medical" }]

[roles.ambulatoire.zones]
accepted = ["ZIP"]
"""


def write(folder: Path, text: str, name: str = "test_scheme.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_planner_scheme_is_valid(tmp_path):
    write(tmp_path, MINIMAL)
    schemes = load_schemes(tmp_path)
    assert "test_scheme" in schemes and len(schemes) == len(SCHEME_IDS) + 1
    r = one(schemes, "test_scheme", loc(classe="ZAC"))
    assert r["status"] == "not_eligible" and "ZONE_CLASS_NOT_ACCEPTED" in codes(r)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("colour = 'blue'\n" + MINIMAL, "colour", "unknown key"),
        ("duration_years = 'two'\n" + MINIMAL, "duration_years", "expected a number"),
        ("duration_years = true\n" + MINIMAL, "duration_years", "expected a number"),
        ("name_fr = 3\n" + MINIMAL.replace('name_fr = "Test"\n', ""), "name_fr", "expected a string"),
        (MINIMAL.replace('name_en = "Test"\n', ""), "name_en", "missing required key"),
        (MINIMAL.replace('accepted = ["ZIP"]', 'accepted = ["ZIP", "ZUP"]'), "roles.ambulatoire.zones.accepted[1]",
         "unknown value 'ZUP'"),
        (MINIMAL.replace('accepted = ["ZIP"]', 'accepted = ["ZIP"]\nmaybe = ["ZAC"]'),
         "roles.ambulatoire.zones.maybe", "unknown key"),
        (MINIMAL + "\n[roles.ambulatoire.share]\nmin = 140\n", "roles.ambulatoire.share.min",
         "140: input should be less than or equal to 100"),
        (MINIMAL + "\n[roles.ambulatoire.share]\nmax = -5\n", "roles.ambulatoire.share.max",
         "-5: input should be greater than or equal to 0"),
        (MINIMAL + "\n[[profile]]\ncode = 'PROFILE_NEW'\nfield = 'thesis'\ntest = 'true'\n",
         "reasons.PROFILE_NEW", "no sentence for reason code PROFILE_NEW"),
        (MINIMAL + "\n[[profile]]\ncode = 'PROFILE_NEW'\nfield = 'thesis'\ntest = 'is_true'\n",
         "profile[0].test", "unknown value 'is_true'"),
        (MINIMAL + "\n[reasons.PROFILE_NEW]\nfr = 'nouveau'\n", "reasons.PROFILE_NEW.en", "missing required key"),
        (MINIMAL + "\n[reasons.PROFILE_NEW]\nfr = 'nouveau {foo}'\nen = 'new'\n", "reasons.PROFILE_NEW.fr",
         "unknown placeholder {foo}"),
        ("site_role = 'hospitalier'\n" + MINIMAL, "site_role", "unknown value 'hospitalier'"),
        ("regions = ['99']\n" + MINIMAL, "regions[0]", "unknown value '99'"),
        (MINIMAL + "\n[roles.hospitalier]\nlabel_fr = 'h'\nlabel_en = 'h'\nkeys = ['ambulatory']\n",
         "roles.hospitalier.keys[0]", "also names role 'ambulatoire'"),
        (MINIMAL.replace('accepted = ["ZIP"]', 'accepted = ["ZIP"]\nreview = ["ZIP"]'),
         "roles.ambulatoire.zones.review", "both accepted and to review"),
        (MINIMAL.replace('kind = "centre_sante_medical"', 'kind = "Centre"'),
         "roles.ambulatoire.structure_types[0].kind", "unknown value 'Centre'"),
        (MINIMAL.replace('kind = "centre_sante_medical"', 'kind = "centre_sante"'),
         "roles.ambulatoire.structure_types[0].kind", "unknown value 'centre_sante'"),
        (MINIMAL + "\n[funding]\nkind = 'monthly_flat'\n", "funding.monthly_eur", "missing required key"),
        (MINIMAL + "\n[[overrides]]\nregions = ['44']\n[overrides.set.roles.ambulatoire.zones]\naccepted = ['ZZZ']\n",
         "roles.ambulatoire.zones.accepted[0]", "overrides[0].set"),
    ],
)
def test_malformed_rules_name_file_and_key(tmp_path, text, key, problem):
    write(tmp_path, text)
    with pytest.raises(RulesError) as info:
        load_schemes(tmp_path)
    message = str(info.value)
    assert "test_scheme.toml" in message
    assert f": {key}:" in message or key in message
    assert problem in message
    assert isinstance(info.value, ZonageError)


@pytest.mark.parametrize(
    ("text", "key", "allowed"),
    [
        (MINIMAL + "\n[roles.ambulatoire.share]\nminimum = 10\n", "roles.ambulatoire.share.minimum",
         "default, max, min, strict"),
        (MINIMAL.replace('{ kind = "centre_sante_medical" }', '{ kind = "msp", reviewed = true }'),
         "roles.ambulatoire.structure_types[0].reviewed", "kind, review"),
        (MINIMAL + "\n[[profile]]\ncode = 'PROFILE_SPECIALITY_NOT_MG'\nfield = 'speciality'\ntest = 'in'\n"
         "value = ['medecine_generale']\nif_absent = 'pass'\n", "profile[0].if_absent", "if_missing"),
        (MINIMAL + "\n[[profile]]\ncode = 'PROFILE_SPECIALITY_NOT_MG'\n[[profile.any_of]]\nfield = 'thesis'\n"
         "test = 'true'\nany_of = []\n", "profile[0].any_of[0].any_of", "soften_if"),
        (MINIMAL + "\n[funding]\nkind = 'monthly_flat'\nmonthly_eur = 100\nmonthly = 100\n", "funding.monthly",
         "monthly_eur"),
        (MINIMAL + "\n[posts]\nnational = 400\nregional = 20\n", "posts.regional", "region_min"),
        (MINIMAL + "\n[[overrides]]\nregion = ['44']\n", "overrides[0].region", "regions"),
        (MINIMAL + "\n[reasons.ZONE_ZIP]\nfr = 'ZIP'\nen = 'ZIP'\nde = 'ZIP'\n", "reasons.ZONE_ZIP.de", "en, fr"),
    ],
)
def test_unknown_key_in_a_scheme_table_names_the_key_path(tmp_path, text, key, allowed):
    write(tmp_path, text)
    with pytest.raises(RulesError) as info:
        load_schemes(tmp_path)
    message = str(info.value)
    assert f"test_scheme.toml: {key}: unknown key (allowed: " in message
    assert allowed in message.split("(allowed: ")[1]


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("general_practice = 1\n" + MINIMAL, "general_practice", "expected true or false, got int 1"),
        ("regions = '44'\n" + MINIMAL, "regions", "expected a list, got str '44'"),
        (MINIMAL.replace('keys = ["ambulatory"]', 'keys = "ambulatory"'), "roles.ambulatoire.keys",
         "expected a list, got str 'ambulatory'"),
        (MINIMAL.replace('accepted = ["ZIP"]', 'accepted = ["ZIP"]\nreview_reason = 3'),
         "roles.ambulatoire.zones.review_reason", "expected a string, got int 3"),
        (MINIMAL.replace("[roles.ambulatoire.zones]\naccepted = [\"ZIP\"]", "zones = ['ZIP']"),
         "roles.ambulatoire.zones", "expected a table, got a list"),
        (MINIMAL + "\n[roles.ambulatoire.share]\nstrict = 'no'\n", "roles.ambulatoire.share.strict",
         "expected true or false, got str 'no'"),
        (MINIMAL + "\n[posts]\nnational = '400'\n", "posts.national", "expected a whole number, got str '400'"),
        (MINIMAL + "\n[funding]\nkind = 'monthly_flat'\nmonthly_eur = '2100'\n", "funding.monthly_eur",
         "expected a number, got str '2100'"),
        (MINIMAL + "\n[[profile]]\ncode = 'PROFILE_SPECIALITY_NOT_MG'\nfield = 'speciality'\ntest = 'in'\n"
         "value = ['medecine_generale', 3]\n", "profile[0].value[1]", "expected a string, got int 3"),
        (MINIMAL + "\n[[profile]]\ncode = 'PROFILE_AUMG_STATUS'\nfield = 'internship_end'\n"
         "test = 'years_since_max'\nvalue = '5'\n", "profile[0].value", "expected a number, got str '5'"),
        (MINIMAL + "\n[[overrides]]\nregions = ['44']\nfrom = 2024\n", "overrides[0].from",
         "expected a date YYYY-MM-DD, got int 2024"),
        (MINIMAL + "\n[[overrides]]\nregions = ['44']\nuntil = 2024-01-01T08:00:00\n", "overrides[0].until",
         "expected a date without time"),
        (MINIMAL + "\n[[overrides]]\nset = 'x'\n", "overrides[0].set", "expected a table, got str 'x'"),
    ],
)
def test_wrong_type_names_file_and_key_path(tmp_path, text, key, problem):
    write(tmp_path, text)
    with pytest.raises(RulesError) as info:
        load_schemes(tmp_path)
    assert f"test_scheme.toml: {key}: {problem}" in str(info.value)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("_zoning_orders.toml", "[[orders]]\nid = '2026'\nlabel_fr = 'a'\nlabel_en = 'a'\nregions = ['44']\n"
         "form = 2026-01-01\n", "_zoning_orders.toml: orders[0].form: unknown key (allowed: from, id, label_en, "
         "label_fr, regions, source, until, vintage)"),
        ("_zoning_orders.toml", "[[orders]]\nid = '2026'\nlabel_fr = 'a'\nlabel_en = 'a'\nregions = ['44']\n"
         "from = 2026-01-01\nuntil = 2025-01-01\n", "_zoning_orders.toml: orders[0].until: period ends (2025-01-01) "
         "before it starts (2026-01-01)"),
        ("_common.toml", "[labels.eligible]\nfr = 'oui'\nes = 'si'\n", "_common.toml: labels.eligible.es: unknown key"),
        ("_common.toml", "[specialities]\nmedecine_generale = 'mg'\n",
         "_common.toml: specialities.medecine_generale: expected a list, got str 'mg'"),
    ],
)
def test_planner_shared_files_errors_name_file_and_key_path(tmp_path, name, text, expected):
    write(tmp_path, text, name)
    with pytest.raises(RulesError) as info:
        load_schemes(tmp_path)
    assert str(info.value).startswith(str(tmp_path / name) + ":")
    assert expected in str(info.value)


def test_every_shipped_toml_file_validates():
    """Each packaged rules file has its model and validates as shipped (an override once applied, too)."""
    from importlib import resources

    from zonage.rules.kinds import _KindsFile
    from zonage.rules.load import _CommonFile, _OrdersFile, _Scheme
    from zonage.settings import read_toml, validate

    models = {"_common.toml": _CommonFile, "_zoning_orders.toml": _OrdersFile}
    files = sorted(packaged_dir().glob("*.toml"))
    assert {p.name for p in files} == {"_common.toml", "_zoning_orders.toml"} | {f"{s}.toml" for s in SCHEME_IDS}
    for path in files:
        raw = read_toml(path, error=RulesError)
        model = models.get(path.name, _Scheme)
        assert path.name in models or raw.get("id") == path.stem
        validate(model, raw, str(path), error=RulesError)
    kinds = resources.files("zonage.rules").joinpath("structure_kinds.toml")
    parsed = validate(_KindsFile, read_toml(kinds, error=RulesError), str(kinds), error=RulesError)
    assert {"centre_sante", "autre", "inconnu"} <= set(parsed.kinds)
    loaded = load_schemes()
    for scheme in loaded.values():
        for i in range(len(scheme.overrides)):
            assert scheme.resolve(*_override_point(scheme, i)).applied  # the override applies and validates


def _override_point(scheme, i):
    """A région and a date where override ``i`` applies."""
    o = scheme.overrides[i]
    return (o.regions[0] if o.regions else "44"), (o.start or o.end or date(2025, 3, 1))


def test_structure_kinds_model_rejects_unknown_key_and_missing_kind():
    from zonage.rules.kinds import _KindsFile
    from zonage.settings import validate

    entry = {"label_fr": "a", "label_en": "a"}
    with pytest.raises(RulesError, match=r"^structure_kinds\.toml: kinds\.msp\.colour: unknown key \(allowed: ape, "):
        validate(_KindsFile, {"kinds": {"msp": {**entry, "colour": "red"}}}, "structure_kinds.toml", error=RulesError)
    with pytest.raises(RulesError, match=r"^structure_kinds\.toml: kinds\.msp\.finess: expected a list, got str '124'"):
        validate(_KindsFile, {"kinds": {"msp": {**entry, "finess": "124"}}}, "structure_kinds.toml",
                 error=RulesError)
    with pytest.raises(RulesError, match=r"kinds\.centre_sante: missing required kind"):
        validate(_KindsFile, {"kinds": {"msp": entry}}, "structure_kinds.toml", error=RulesError)


def test_invalid_toml_syntax(tmp_path):
    write(tmp_path, MINIMAL + "\n[roles.ambulatoire\n")
    with pytest.raises(RulesError, match=r"test_scheme\.toml: not valid TOML"):
        load_schemes(tmp_path)


def test_missing_extra_folder(tmp_path):
    with pytest.raises(RulesError, match="rules folder not found"):
        load_schemes(tmp_path / "nowhere")


def test_extends_unknown_scheme(tmp_path):
    write(tmp_path, 'extends = "aumgg"\n', "aumg_ge.toml")
    with pytest.raises(RulesError, match=r"aumg_ge\.toml: extends: unknown scheme 'aumgg'"):
        load_schemes(tmp_path)


def test_malformed_planner_common(tmp_path):
    write(tmp_path, "[reasons.ZONE_ZIP]\nfr = 'ZIP {nope}'\n", "_common.toml")
    with pytest.raises(RulesError, match=r"_common\.toml: reasons\.ZONE_ZIP\.fr: unknown placeholder"):
        load_schemes(tmp_path)


# -- planner's folder --------------------------------------------------------------------------
def test_planner_adds_extends_and_replaces(tmp_path, schemes):
    # a new scheme extending a packaged one
    write(tmp_path, 'extends = "aumg"\nname_fr = "AUMG Grand Est"\nregions = ["44"]\n'
                    '[funding]\nmonthly_eur = 2500\n', "aumg_grand_est.toml")
    # a partial override of a packaged scheme (same id)
    write(tmp_path, 'extends = "postes_partages"\n[roles.ambulatoire.zones]\naccepted = ["ZIP"]\nreview = []\n',
          "postes_partages.toml")
    # a full replacement of a packaged scheme
    text = (packaged_dir() / "400mg_volet1.toml").read_text(encoding="utf-8")
    write(tmp_path, text.replace('accepted = ["ZIP", "ZAC", "QPV"]', 'accepted = ["ZIP", "ZAC", "QPV", "ZAR"]\n'
                                 '# planner: ZAR accepted').replace('review = ["ZAR"]\n', ""), "400mg_volet1.toml")
    loaded = load_schemes(tmp_path)
    assert set(loaded) == SCHEME_IDS | {"aumg_grand_est"}
    ge = loaded["aumg_grand_est"]
    assert ge.name_fr == "AUMG Grand Est" and ge.regions == ("44",) and ge.funding.monthly_eur == 2500
    assert ge.funding.kind == "monthly_flat"  # inherited
    assert check_application(aumg_application(scheme="aumg_grand_est"), loaded).funding.amount_eur == 2500 * 24
    assert loaded["postes_partages"].roles["ambulatoire"].zones.accepted == ("ZIP",)
    assert loaded["postes_partages"].roles["hospitalier"].share.default == 40  # untouched parts kept
    assert one(loaded, "postes_partages", in_qpv())["status"] == "not_eligible"
    assert one(loaded, "400mg_volet1", caen(classe="ZAR"))["status"] == "eligible"
    assert one(schemes, "400mg_volet1", caen(classe="ZAR"))["status"] == "needs_review"  # packaged unchanged


def test_planner_rewords_a_sentence(tmp_path):
    write(tmp_path, '[reasons.ZONE_ZIP]\nfr = "ZIP (commune {insee})"\n', "_common.toml")
    loaded = load_schemes(tmp_path)
    r = one(loaded, "aumg", loc())
    assert r["message_fr"] == "éligible : ZIP (commune 57463)"
    assert r["message_en"] == f"eligible: ZIP through commune 57463 Metz ({GE_EN})"


def test_packaged_files_copied_to_a_folder_load_identically(tmp_path):
    for path in packaged_dir().glob("*.toml"):
        if not path.name.startswith("_"):
            shutil.copy(path, tmp_path / path.name)
    assert set(load_schemes(tmp_path)) == SCHEME_IDS


def test_zone_classes_constant():
    assert set(ZONE_CLASSES) == {"ZIP", "ZAC", "ZAR", "ZV", "HZ", "QPV", "DEFICIT"}


def test_everyday_words_of_group_practices():
    """"pôle de santé" is an MSP (multi-site); "maison médicale" a group practice (see structure_kinds.toml)."""
    from zonage.rules.kinds import parse_kind

    assert parse_kind("Pôle de santé") == "msp" and parse_kind("pole de sante") == "msp"
    assert parse_kind("Maison médicale") == "cabinet_liberal" and parse_kind("MAISON MEDICALE") == "cabinet_liberal"
    with pytest.raises(InputDataError, match="type : type de structure inconnu « garage »"):
        parse_kind("garage")
