"""The public facade: each main task in a few lines, on the real data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import zonage
from zonage import Workspace
from zonage.config import Paths

ON = "2025-03-01"


@pytest.fixture(scope="module")
def ws(built: Paths) -> Workspace:
    return Workspace(built.data, mirror=built.mirror, build=False)


def test_public_names() -> None:
    assert zonage.__all__ == ["Workspace", "__version__"]
    assert "Workspace(" in repr(Workspace("/nonexistent-data", mirror="/nonexistent-mirror", build=False))


def test_layer_filtered_by_region_and_departement(ws: Workspace) -> None:
    region = ws.layer("communes", region="28")
    assert len(region) > 2000 and set(region["region"].astype(str)) == {"28"}
    dep = ws.layer("communes", departement="57")
    assert len(dep) > 700 and set(dep["departement"].astype(str)) == {"57"}
    assert dep.crs.to_epsg() == 4326  # every territory together: degrees
    assert ws.layer("communes", departement="57", crs="EPSG:2154").crs.to_epsg() == 2154


def test_assess_a_dataframe_keeps_every_row(ws: Workspace) -> None:
    frame = pd.DataFrame({"nom": ["MSP de Givet", "hors de France", "sans coordonnées"],
                          "type": ["MSP", "MSP", "MSP"],
                          "lon": [4.8240, -30.0, None], "lat": [50.1380, 40.0, None]})
    result = ws.assess(frame, on=ON)
    rows = result.rows
    assert list(rows["nom"]) == list(frame["nom"])
    assert list(rows["status"]) == ["ok", "error", "error"]
    assert rows.loc[0, "insee"] == "08190"  # Givet
    assert rows.loc[0, "statut_mg"] in {"eligible", "not_eligible", "to_check"}
    # the same answer as the batch engine called by hand
    from zonage.eligibility import assess
    from zonage.studies.eligibility import batch_context

    context = batch_context(ws.paths)
    direct = assess(frame, context["locator"], finess=context["finess"], crosswalk=context["crosswalk"],
                    on=pd.Timestamp(ON).date())
    pd.testing.assert_frame_equal(rows, direct.rows)


def test_check_application_from_a_mapping(ws: Workspace) -> None:
    from zonage.errors import InputDataError

    application = {
        "scheme": "400mg_volet1", "start": "2024-11-01",
        "hospital": {"finess": "080000110"},
        "ambulatory": {"name": "MSP (exemple)", "category": "603", "lon": 4.9403, "lat": 49.7010},
        "doctor": {"diploma_mg": True, "thesis": True, "installed": False, "practising_in_priority_zone": False},
    }
    verdict = ws.check_application(application)
    from_file = ws.check_application(Path(__file__).parents[1] / "docs/examples/application_400mg_volet1.yaml")
    assert verdict.status == from_file.status
    assert verdict.status in {"eligible", "not_eligible", "to_check"}
    forged = {**application, "ambulatory": {**application["ambulatory"], "located": {"zone": "ZIP"}}}
    with pytest.raises(InputDataError, match=r"calculée? par l'outil"):
        ws.check_application(forged)
    # the same mistakes a batch refuses: swapped coordinates, a point abroad; a decimal comma is read as the batch does
    swapped = {**application, "ambulatory": {**application["ambulatory"], "lon": 49.7010, "lat": 4.9403}}
    with pytest.raises(InputDataError, match=r"ambulatory : lon 49\.701 / lat 4\.9403 : latitude et longitude"):
        ws.check_application(swapped)
    abroad = {**application, "ambulatory": {**application["ambulatory"], "lon": 13.4, "lat": 52.5}}
    with pytest.raises(InputDataError, match="point hors de France"):
        ws.check_application(abroad)
    comma = {**application, "ambulatory": {**application["ambulatory"], "lon": "4,9403", "lat": "49,7010"}}
    assert ws.check_application(comma).status == verdict.status


def test_map_and_export(ws: Workspace, tmp_path: Path) -> None:
    fmap = ws.map("28")
    path = ws.save_map(fmap, tmp_path / "normandie.html")
    assert path.stat().st_size > 100_000 and "leaflet" in path.read_text(encoding="utf-8").lower()
    written = ws.export("zoning", tmp_path / "zonage_57.gpkg", departement="57")
    assert written[0].exists()


def test_access_and_prioritise_of_a_region(ws: Workspace) -> None:
    run = ws.access(region="28")
    assert len(run.communes) > 2000 and set(run.communes["region"].astype(str)) == {"28"}
    assert run.communes["access"].notna().all()
    plan = ws.prioritise("28", 5, on=ON, max_per_structure=1)
    assert len(plan.picks) == 5
    assert plan.picks.groupby(plan.picks.columns[0]).size().max() >= 1


def test_a_hospital_unit_is_to_check_where_a_hospital_is_eligible(ws: Workspace) -> None:
    frame = pd.DataFrame({"nom": ["CH de Givet", "CMP de Givet"], "type": ["CH", "CMP"],
                          "lon": [4.8240, 4.8240], "lat": [50.1380, 50.1380]})
    rows = ws.assess(frame, on=ON).rows
    assert rows.loc[0, "statut_400mg_volet2"] == "eligible"
    assert rows.loc[1, "statut_400mg_volet2"] == "needs_review"
    assert "STRUCTURE_KIND_TO_CHECK" in rows.loc[1, "raisons_400mg_volet2"]


def test_addresses_only_are_geocoded_offline_with_a_hint(ws: Workspace) -> None:
    """No local address index here: the postcode and town place the rows, flagged, with one hint."""
    notes: list[str] = []
    frame = pd.DataFrame({"nom": ["MSP"], "type": ["MSP"], "adresse": ["2 rue de la Gare"],
                          "code_postal": ["08600"], "commune": ["Givet"]})
    rows = ws.assess(frame, on=ON, notice=notes.append).rows
    assert rows.loc[0, "status"] == "ok" and rows.loc[0, "insee"] == "08190"
    assert "commune_fallback" in str(rows.loc[0, "geo_flags"])
    assert len(notes) == 1 and "zonage geocoder setup" in notes[0]


def test_vintages_write_and_show(ws: Workspace, tmp_path: Path) -> None:
    vintages = ws.vintages()
    assert {"communes", "qpv", "apl"} <= set(vintages["couche"])
    written = ws.write(pd.DataFrame({"insee": ["01053"], "apl": [2.5]}), tmp_path / "out" / "t.csv")
    raw = written.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"01053;2.5" in raw
    html = ws.show(ws.map("28"))._repr_html_()
    assert html.startswith("<iframe srcdoc=") and "unpkg.com" not in html and "cdn.jsdelivr" not in html


def test_one_finess_number_one_kind_whatever_the_name_typed(ws: Workspace) -> None:
    """Review: FINESS 080002173 (centre de santé polyvalent de Sedan) typed "Sedan" came out dental."""
    frame = pd.DataFrame({"finess": ["080002173", "080002173", "080002173"],
                          "nom": ["Sedan", "Centre dentaire de Sedan", None]})
    rows = ws.assess(frame, on=ON).rows
    assert rows["type_structure"].nunique() == 1 and rows["statut_mg"].nunique() == 1
    assert rows.loc[0, "type_structure"] != "centre_sante_dentaire"


def test_check_one_place_in_french(ws: Workspace) -> None:
    from zonage.reports import check_lines

    result = ws.check(lonlat=(6.1757, 49.1193), kind="MSP", on=ON, schemes=["400mg_volet2"])
    assert result.statuses() == {"400mg_volet2": "not_eligible"} and result.row["insee"] == "57463"
    text = "\n".join(check_lines(result))
    assert "Commune : Metz (57463), région Grand Est" in text and "400 MG volet 2 : NON ÉLIGIBLE" in text
    offline = ws.check("12 rue Serpenoise 57000 Metz", kind="MSP", on=ON, backend="commune")
    assert offline.row["insee"] == "57463" and offline.backend == "commune"

