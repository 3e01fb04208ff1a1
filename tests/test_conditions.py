"""Table-driven: every condition of every scheme file passes once and fails once (issue #11).

For each packaged scheme, resolved in a région where it is open, an application is built
from the scheme's own data so that it meets every condition (accepted kinds, a ZIP point or
a QPV or a deficit zone, shares, duration, a doctor meeting each profile test). Then each
condition in turn is broken and the verdict must name that condition's reason code, as a
failure (or a point to check where the scheme says so). Nothing is hard-coded per scheme:
a condition added to a TOML file is tested here without a new line of test.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest

from zonage.rules import check_application, load_schemes
from zonage.rules.deficits import read_deficits
from zonage.rules.model import Condition, Scheme

SCHEMES = load_schemes()
START = date(2024, 11, 1)  # inside the 2022 zoning orders' period
REGION = {"asr": "28"}  # a scheme limited to régions is tested in its first one
POOL = ["cardiologie", "pneumologie", "medecine_generale", "chirurgie_dentaire", "dermatologie"]
DEFICITS = read_deficits(pd.DataFrame({"specialite": POOL, "insee": ["57463"] * len(POOL)}))


def _point(region: str, classe: str = "ZIP", qpv: str | None = None) -> dict[str, Any]:
    insee, name = {"44": ("57463", "Metz"), "28": ("14118", "Caen")}[region]
    return {"insee": insee, "commune_nom": name, "commune_method": "grid", "commune_boundary_m": 500.0,
            "qpv2024": qpv, "qpv2024_nom": "Q" if qpv else None, "qpv2024_boundary_m": 500.0, "qpv2024_covered": True,
            "qpv2015": None, "qpv2015_nom": None, "qpv2015_boundary_m": float("nan"), "qpv2015_covered": True,
            "classe_commune": classe, "classe_qpv": None, "classe": classe, "classe_source": "commune",
            "zoning_vintage": "2025"}


def _good(condition: Condition) -> Any:
    """A value of ``condition.field`` that meets the test."""
    test, value = condition.test, condition.value
    if test == "true":
        return True
    if test == "false":
        return False
    if test in ("in", "region_in"):
        return value[0]
    if test == "not_in":
        return next(v for v in POOL if v not in value)
    if test == "years_since_max":
        return (START - timedelta(days=200)).isoformat()
    if test == "on_or_before_month_day":
        month, day = (int(x) for x in value.split("-"))
        return (date(START.year, month, day) - timedelta(days=10)).isoformat()
    if test in ("min", "max"):
        return value
    raise AssertionError(test)


def _bad(condition: Condition) -> Any:
    """A value of ``condition.field`` that fails the test."""
    test, value = condition.test, condition.value
    if test == "true":
        return False
    if test == "false":
        return True
    if test == "in":
        return next(v for v in POOL if v not in value)
    if test == "region_in":
        return "44" if "44" not in value else "28"
    if test == "not_in":
        return value[0]
    if test == "years_since_max":
        return (START - timedelta(days=round(365.25 * (value + 3)))).isoformat()
    if test == "on_or_before_month_day":
        month, day = (int(x) for x in value.split("-"))
        return (date(START.year, month, day) + timedelta(days=10)).isoformat()
    if test == "min":
        return value - 1
    if test == "max":
        return value + 1
    raise AssertionError(test)


def _resolved(scheme_id: str) -> tuple[Scheme, str]:
    region = REGION.get(scheme_id, "44")
    return SCHEMES[scheme_id].resolve(region, START), region


def _application(scheme_id: str) -> dict[str, Any]:
    scheme, region = _resolved(scheme_id)
    app: dict[str, Any] = {"scheme": scheme_id, "start": START.isoformat(), "region": region}
    if scheme.duration_years is not None:
        app["duration_years"] = scheme.duration_years
    if scheme.start_month_day is None:
        app["start"] = START.isoformat()
    else:
        month, day = (int(x) for x in scheme.start_month_day.split("-"))
        app["start"] = date(START.year, month, day).isoformat()
    shares = {}
    for role in scheme.roles.values():
        kind = next((t.kind for t in role.structure_types if not t.review), None)
        zones = role.zones
        if zones is not None and not zones.classes_matter and "QPV" in zones.accepted:
            located = _point(region, "HZ", qpv="QN05701M")
        else:
            located = _point(region)
        app[role.keys[0]] = {"type": kind, "located": located}
        if role.share is not None:
            shares[role.keys[0]] = role.share.default if role.share.default is not None else (
                role.share.min if role.share.min is not None else role.share.max)
    if shares:
        app["shares"] = shares
    app["doctor"] = {c.field: _good(c) for c in scheme.profile if c.field}
    if scheme.funding.kind == "share_of_cost":
        app["funding"] = {scheme.funding.cost_key: 60000}
    return app


def test_every_scheme_has_a_passing_application() -> None:
    for scheme_id in SCHEMES:
        verdict = check_application(_application(scheme_id), SCHEMES, deficits=DEFICITS)
        assert verdict.status == "eligible", (scheme_id, verdict.message_fr)
        assert verdict.met, scheme_id


def _conditions() -> list[tuple[str, str]]:
    out = []
    for scheme_id in SCHEMES:
        scheme, _ = _resolved(scheme_id)
        out += [(scheme_id, c.code) for c in scheme.profile]
    return out


@pytest.mark.parametrize(("scheme_id", "code"), _conditions())
def test_each_doctor_condition_passes_then_fails(scheme_id: str, code: str) -> None:
    scheme, _ = _resolved(scheme_id)
    condition = next(c for c in scheme.profile if c.code == code)
    app = _application(scheme_id)
    ok = check_application(app, SCHEMES, deficits=DEFICITS)
    assert code in ok.passed and code not in ok.codes
    broken = {**app, "doctor": {**app["doctor"], condition.field: _bad(condition)}}
    verdict = check_application(broken, SCHEMES, deficits=DEFICITS)
    expected = "not_eligible" if condition.on_fail == "fail" else "needs_review"
    found = [f for f in verdict.issues if f.code.startswith(code)]
    assert found, (scheme_id, code, verdict.message_fr)
    assert found[0].status == expected, (scheme_id, code, found[0].status)
    assert found[0].message_fr and found[0].message_en
    missing = {**app, "doctor": {k: v for k, v in app["doctor"].items() if k != condition.field}}
    absent = check_application(missing, SCHEMES, deficits=DEFICITS)
    if condition.if_missing == "review":
        assert any(f.condition == code for f in absent.reviews), (scheme_id, code)
    elif condition.if_missing == "pass":
        assert code not in absent.codes


def _roles() -> list[tuple[str, str]]:
    return [(sid, rid) for sid in SCHEMES for rid, role in _resolved(sid)[0].roles.items() if role.structure_types]


@pytest.mark.parametrize(("scheme_id", "role_id"), _roles())
def test_each_part_accepts_its_kinds_and_refuses_others(scheme_id: str, role_id: str) -> None:
    scheme, _ = _resolved(scheme_id)
    role = scheme.roles[role_id]
    app = _application(scheme_id)
    key = role.keys[0]
    for kind in sorted(role.kinds):
        verdict = check_application({**app, key: {**app[key], "type": kind}}, SCHEMES, deficits=DEFICITS)
        assert verdict.status == "eligible", (scheme_id, role_id, kind, verdict.message_fr)
    for kind in sorted(role.review_kinds):
        verdict = check_application({**app, key: {**app[key], "type": kind}}, SCHEMES, deficits=DEFICITS)
        assert "STRUCTURE_KIND_TO_CHECK" in verdict.codes, (scheme_id, role_id, kind)
    refused = check_application({**app, key: {**app[key], "type": "autre"}}, SCHEMES, deficits=DEFICITS)
    assert refused.status == "not_eligible" and "STRUCTURE_KIND_NOT_ACCEPTED" in refused.codes
    unknown = check_application({**app, key: {**app[key], "type": None, "category": "124"}}, SCHEMES,
                                deficits=DEFICITS)
    covered = role.kinds | role.review_kinds
    if any(k.startswith("centre_sante") for k in covered):
        assert unknown.status == "needs_review" and "STRUCTURE_KIND_UNKNOWN" in unknown.codes


def _zoned() -> list[str]:
    return [sid for sid in SCHEMES if _resolved(sid)[0].roles[_resolved(sid)[0].site_role].zones is not None]


@pytest.mark.parametrize("scheme_id", _zoned())
def test_each_zone_rule_passes_then_fails(scheme_id: str) -> None:
    scheme, region = _resolved(scheme_id)
    site = scheme.roles[scheme.site_role]
    app = _application(scheme_id)
    key = site.keys[0]
    outside = {**app, key: {**app[key], "located": _point(region, "HZ")}}
    if site.zones is not None and site.zones.deficit_matters:
        outside["doctor"] = {**outside["doctor"], "speciality": "cardiologie"}
        table = read_deficits(pd.DataFrame({"specialite": ["cardiologie"], "insee": ["99999"]}))
        verdict = check_application(outside, SCHEMES, deficits=table)
        assert verdict.status == "not_eligible" and "SPECIALITY_NO_DEFICIT" in verdict.codes
        return
    verdict = check_application(outside, SCHEMES, deficits=DEFICITS)
    assert verdict.status == "not_eligible" and "ZONE_NOT_PRIORITY" in verdict.codes, verdict.message_fr
    for review in site.zones.review if site.zones else ():
        if review in ("QPV", "DEFICIT"):
            continue
        verdict = check_application({**app, key: {**app[key], "located": _point(region, review)}}, SCHEMES,
                                    deficits=DEFICITS)
        assert verdict.status == "needs_review" and site.zones.review_reason in verdict.codes


def _shared() -> list[tuple[str, str]]:
    return [(sid, rid) for sid in SCHEMES for rid, role in _resolved(sid)[0].roles.items() if role.share is not None]


@pytest.mark.parametrize(("scheme_id", "role_id"), _shared())
def test_each_share_rule_passes_then_fails(scheme_id: str, role_id: str) -> None:
    scheme, _ = _resolved(scheme_id)
    role = scheme.roles[role_id]
    app = _application(scheme_id)
    key = role.keys[0]
    rule = role.share
    assert rule is not None
    wrong = rule.min - 5 if rule.min is not None else rule.max + 5
    verdict = check_application({**app, "shares": {**app["shares"], key: wrong}}, SCHEMES, deficits=DEFICITS)
    code = "SHARE_BELOW_MIN" if rule.min is not None else "SHARE_ABOVE_MAX"
    finding = next(f for f in verdict.issues if f.code == code)
    assert finding.status == ("not_eligible" if rule.strict else "needs_review")


@pytest.mark.parametrize("scheme_id", [s for s in SCHEMES if SCHEMES[s].duration_years])
def test_each_duration_passes_then_fails(scheme_id: str) -> None:
    scheme, _ = _resolved(scheme_id)
    app = _application(scheme_id)
    assert "DURATION" in check_application(app, SCHEMES, deficits=DEFICITS).passed
    too_long = scheme.duration_years + (scheme.renewal_years or 0) + 1
    verdict = check_application({**app, "duration_years": too_long}, SCHEMES, deficits=DEFICITS)
    assert "DURATION_TOO_LONG" in [f.code for f in verdict.failures]


@pytest.mark.parametrize("scheme_id", [s for s in SCHEMES if SCHEMES[s].regions])
def test_each_region_limit_passes_then_fails(scheme_id: str) -> None:
    app = _application(scheme_id)
    key = next(k for k in app if isinstance(app[k], dict) and "located" in app[k])
    elsewhere = {**app, "region": "44", key: {**app[key], "located": _point("44")}}
    verdict = check_application(elsewhere, SCHEMES, deficits=DEFICITS)
    assert "REGION_NOT_COVERED" in [f.code for f in verdict.failures]


@pytest.mark.parametrize(("name", "kind"), [
    ("CMP CATTP HJ ENF DU CH BRIEY A LONGWY", "unite_hospitaliere_specialisee"),
    ("ANTENNE DE SMUR - CH CHARLEVILLE", "unite_hospitaliere_specialisee"),
    ("HAD GHAM", "unite_hospitaliere_specialisee"),
    ("CENTRE HOSPITALIER DE FUMAY", "ch"),
    ("HOPITAL DE THANN", "ch"),
])
def test_hospital_units_are_told_from_hospitals(name: str, kind: str) -> None:
    """A CMP or SMUR antenna filed under FINESS 355 is no consultation site by itself: to check."""
    from zonage.rules.kinds import classify

    assert classify(["355"], [None], [name])["type"].iloc[0] == kind
