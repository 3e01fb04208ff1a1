"""Check one whole application (scheme, structures, doctor, shares, dates) and compute its funding.

:func:`check_application` lists every condition met, failed or to check, each with the
seed sentence behind it, and the funding from the scheme's parameters.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from zonage.errors import InputDataError
from zonage.rules.coerce import _canonical, _norm_key, _scheme_map, parse_date
from zonage.rules.evaluate import _FAIL, _NA, _NEG, _REV, _UNC, _evaluate_role, _site_fields
from zonage.rules.facts import _facts
from zonage.rules.model import STATUSES, Common, Condition, Role, Scheme, Status
from zonage.rules.wording import _COLON, _SEP, _both, _day_text, _month_day_text

__all__ = ["ApplicationVerdict", "Finding", "FundingResult", "check_application"]


# -- applications ------------------------------------------------------------------------------
@dataclass
class Finding:
    """One checked condition of an application that failed or needs review.

    ``part`` is a role id, ``"doctor"``, ``"shares"`` or ``"application"``;
    ``condition`` the rule's code when the finding is about a missing input.
    """

    code: str
    status: str
    part: str
    message_fr: str
    message_en: str
    condition: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain dict (for JSON/YAML export)."""
        return {"code": self.code, "status": self.status, "part": self.part, "condition": self.condition,
                "message_fr": self.message_fr, "message_en": self.message_en}


@dataclass
class FundingResult:
    """Funding computed from the scheme's parameters (``amount_eur`` None when not computable)."""

    kind: str
    amount_eur: float | None
    message_fr: str
    message_en: str
    months: int | None = None
    monthly_eur: float | None = None
    rate_percent: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON/YAML export)."""
        return {"kind": self.kind, "amount_eur": self.amount_eur, "months": self.months,
                "monthly_eur": self.monthly_eur, "rate_percent": self.rate_percent,
                "message_fr": self.message_fr, "message_en": self.message_en}


@dataclass
class ApplicationVerdict:
    """Verdict on one application: every failure, every point to check, and the funding."""

    scheme: str
    status: str
    failures: list[Finding] = field(default_factory=list)
    reviews: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    met: list[Finding] = field(default_factory=list)
    funding: FundingResult | None = None
    region: str | None = None
    overrides_fr: list[str] = field(default_factory=list)
    overrides_en: list[str] = field(default_factory=list)
    labels: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    @property
    def issues(self) -> list[Finding]:
        """Failures then points to check."""
        return [*self.failures, *self.reviews]

    @property
    def codes(self) -> list[str]:
        """Codes of the failures and points to check."""
        return [f.code for f in self.issues]

    def message(self, lang: str = "fr") -> str:
        """One sentence: status, then every failure and point to check."""
        label = self.labels.get(self.status, {}).get(lang, self.status)
        parts = [f.message_fr if lang == "fr" else f.message_en for f in self.issues]
        return label + (_COLON[lang] + _SEP[lang].join(parts) if parts else "")

    @property
    def message_fr(self) -> str:
        """The verdict in French."""
        return self.message("fr")

    @property
    def message_en(self) -> str:
        """The verdict in English."""
        return self.message("en")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON/YAML export)."""
        return {
            "scheme": self.scheme, "status": self.status, "region": self.region,
            "failures": [f.to_dict() for f in self.failures], "reviews": [f.to_dict() for f in self.reviews],
            "notes": [f.to_dict() for f in self.notes], "passed": list(self.passed),
            "met": [f.to_dict() for f in self.met],
            "funding": None if self.funding is None else self.funding.to_dict(),
            "overrides_fr": self.overrides_fr, "overrides_en": self.overrides_en,
            "message_fr": self.message_fr, "message_en": self.message_en,
        }


class _Collector:
    """Accumulates findings while an application is checked."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.failures: list[Finding] = []
        self.reviews: list[Finding] = []
        self.notes: list[Finding] = []
        self.passed: list[str] = []
        self.met: list[Finding] = []
        self._seen: set[tuple[str, str, str]] = set()

    def sentence(self, code: str, values: Mapping[str, Any], lang: str) -> str:
        template = self.scheme.template(code).text(lang)
        flat = {k: (v[lang] if isinstance(v, Mapping) else v) for k, v in values.items()}
        return string.Formatter().vformat(template, (), _Defaults(flat))

    def add(self, status: str, code: str, part: str, values: Mapping[str, Any], prefix: Mapping[str, str] | None = None,
            condition: str = "") -> None:
        fr = self.sentence(code, values, "fr")
        en = self.sentence(code, values, "en")
        if prefix:
            fr = prefix["fr"] + _COLON["fr"] + fr
            en = prefix["en"] + _COLON["en"] + en
        key = (code, part if code not in ("REGION_NOT_COVERED", "REGION_UNKNOWN") else "", fr)
        if key in self._seen:
            return
        self._seen.add(key)
        finding = Finding(code, status, part, fr, en, condition)
        {"not_eligible": self.failures, "needs_review": self.reviews, "note": self.notes}[status].append(finding)

    def ok(self, code: str, part: str = "", fr: str = "", en: str = "") -> None:
        """A condition met (``fr``/``en``: what was checked, for the planner)."""
        if code not in self.passed:
            self.passed.append(code)
        if fr and all(f.message_fr != fr for f in self.met):
            self.met.append(Finding(code, "met", part, fr, en or fr))


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _structure_of(application: Mapping[str, Any], role: Role) -> tuple[str | None, Mapping[str, Any] | None]:
    for key in (*role.keys, role.id):
        value = application.get(key)
        if value is not None:
            if not isinstance(value, Mapping):
                raise InputDataError(f"{key} : ensemble de clés attendu (finess, category, type, lon, lat…), reçu "
                                     f"{value!r} : décrire la structure clé par clé")
            return key, value
    return None, None


def _located_row(structure: Mapping[str, Any], key: str,
                 located_sites: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    located = structure.get("located")
    if located is None and located_sites is not None:
        finess = structure.get("finess")
        located = located_sites.get(str(finess)) if finess is not None else None
        if located is None:
            located = located_sites.get(key)
    if located is None:
        return {"insee": None, "commune_method": "none"}
    if isinstance(located, pd.Series):
        located = located.to_dict()
    if not isinstance(located, Mapping):
        raise InputDataError(f"{key}.located : ensemble de colonnes de localisation attendu (une ligne de "
                             f"Locator.locate), reçu {located!r}")
    return dict(located)


def _region_of(value: Any, common: Common) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    code = common.region_code(value)
    if code is None:
        raise InputDataError(f"region : région {value!r} inconnue : donner son code INSEE "
                             f"({', '.join(common.regions)}) ou son nom")
    return code


def _speciality_of(value: Any, common: Common) -> str | None:
    """Canonical speciality key (``medecine_generale``, ``cardiologie``…) or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _canonical(str(value), common)


def check_application(
    application: Mapping[str, Any],
    schemes: Mapping[str, Scheme] | Iterable[Scheme] | Scheme | None = None,
    located_sites: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    fragile_m: float = 50.0,
    deficits: pd.DataFrame | None = None,
) -> ApplicationVerdict:
    """Check one application against its scheme; list every failed or doubtful condition.

    Parameters
    ----------
    application
        Mapping (from YAML/JSON): ``scheme``; one entry per part of the scheme under
        one of the part's keys (``hospital``, ``ambulatory``, ``partner``,
        ``university``, ``peripheral``, ``chu``), each ``{finess, category, located}``
        where ``located`` is one row of :meth:`~zonage.locate.Locator.locate` as a
        mapping; ``doctor`` (``diploma_mg``, ``thesis``, ``speciality``, ``installed``,
        ``practising_in_priority_zone``, ``internship_end``, ``ordre_registration``,
        ``internship_region``…); ``shares`` (part key → % of working time);
        ``start`` (date), ``duration_years``, ``renewal`` (bool), ``region`` (INSEE
        code or name); ``funding`` (costs such as ``assistant_annual_cost_eur``).
    schemes
        Output of :func:`~zonage.rules.load.load_schemes` (None: the packaged schemes).
    located_sites
        FINESS number (or part key) → located row, for structures given without ``located``.
    fragile_m
        Distance (m) to a boundary below which a zone answer needs review.

    Returns
    -------
    ApplicationVerdict
        ``status``, ``failures`` and ``reviews`` (every one, with codes and FR/EN
        sentences), ``passed`` codes and the ``funding``.

    Raises
    ------
    zonage.errors.InputDataError
        The application is malformed (unknown scheme, a date or number that does not parse…).
    """
    if not isinstance(application, Mapping):
        raise InputDataError(f"candidature : ensemble de clés (clé: valeur) attendu, reçu "
                             f"{type(application).__name__}")
    scheme_map = _scheme_map(schemes)
    scheme_id = application.get("scheme")
    if scheme_id not in scheme_map:
        raise InputDataError(f"scheme : dispositif {scheme_id!r} inconnu (dispositifs connus : "
                             f"{', '.join(scheme_map)}) : corriger la clé scheme")
    base = scheme_map[scheme_id]
    common = base.common
    assert common is not None
    start_given = parse_date(application.get("start"), "start")
    start = start_given or date.today()

    structures: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for role in base.roles.values():
        key, structure = _structure_of(application, role)
        if structure is not None and key is not None:
            structures[role.id] = (key, structure)
    declared = _region_of(application.get("region"), common)
    found = None
    dep_region = common.departement_regions()
    for key, structure in structures.values():
        insee = _located_row(structure, key, located_sites).get("insee")
        if isinstance(insee, str) and insee:
            found = dep_region.get(insee[:3] if insee.startswith("97") else insee[:2])
            if found:
                break
    region = found or declared  # the located région wins: a declaration is a fact to check, not an answer
    scheme = base.resolve(region, start)
    out = _Collector(scheme)
    if declared is not None and found is not None and declared != found:
        names = common.regions
        out.add("needs_review", "REGION_DECLARED_DIFFERS", "application",
                {"declared": names[declared].name if declared in names else declared,
                 "region_name": names[found].name if found in names else found})
    for i in scheme.applied:
        out_override = scheme.overrides[i]
        out.notes.append(Finding("OVERRIDE", "note", "application", out_override.note_fr, out_override.note_en))

    doctor = application.get("doctor") or {}
    if not isinstance(doctor, Mapping):
        raise InputDataError(f"doctor : ensemble de clés attendu (diploma_mg, thesis, speciality…), reçu {doctor!r}")
    speciality = _speciality_of(doctor.get("speciality"), common)
    _check_roles(scheme, structures, region, start, located_sites, fragile_m, out, speciality, deficits)
    for condition in scheme.profile:
        _check_condition(scheme, condition, doctor, start, out)
    shares = _check_shares(scheme, application, structures, out)
    _check_dates(scheme, application, start_given, out)
    funding = _funding(scheme, application, shares, start)
    status = "not_eligible" if out.failures else "needs_review" if out.reviews else "eligible"
    labels = {s: {lang: scheme.label(s, lang) for lang in ("fr", "en")} for s in STATUSES}
    return ApplicationVerdict(
        scheme=scheme.id, status=status, failures=out.failures, reviews=out.reviews, notes=out.notes,
        passed=out.passed, met=out.met, funding=funding, region=region,
        overrides_fr=[scheme.overrides[i].note_fr for i in scheme.applied],
        overrides_en=[scheme.overrides[i].note_en for i in scheme.applied], labels=labels,
    )


def _check_roles(scheme: Scheme, structures: Mapping[str, tuple[str, Mapping[str, Any]]], region: str | None,
                 start: date, located_sites: Mapping[str, Mapping[str, Any]] | None, fragile_m: float,
                 out: _Collector, speciality: str | None = None, deficits: pd.DataFrame | None = None) -> None:
    grouped = {r for group in scheme.require_one_of for r in group}
    for role in scheme.roles.values():
        if role.id not in structures and role.required and role.id not in grouped:
            out.add("not_eligible", "ROLE_MISSING", role.id, {"role": {"fr": role.label_fr, "en": role.label_en}})
    for group in scheme.require_one_of:
        if not any(r in structures for r in group):
            labels = {lang: (" ou " if lang == "fr" else " or ").join(scheme.roles[r].label(lang) for r in group)
                      for lang in ("fr", "en")}
            out.add("not_eligible", "ROLE_MISSING_ONE_OF", "|".join(group), {"role": labels})
    assert scheme.common is not None
    for role_id, (key, structure) in structures.items():
        role = scheme.roles[role_id]
        row = _located_row(structure, key, located_sites)
        if speciality is not None and deficits is not None and role.zones is not None \
                and role.zones.deficit_matters:
            from zonage.rules.deficits import deficit_of

            row["speciality_deficit"] = deficit_of([row.get("insee")], speciality, deficits, scheme.common)[0]
        frame = pd.DataFrame([row])
        kinds = _structure_kind(structure, key)
        facts = _facts(frame, None if region is None else np.array([region], dtype=object), start, fragile_m,
                       scheme.common, kinds, speciality)
        result = _evaluate_role(scheme, role, facts, kinds["type"].to_numpy(dtype=object))
        fields = _site_fields(scheme, facts, role, start, speciality)
        values = {k: _first(v) for k, v in fields.items()}
        prefix = {"fr": role.label_fr, "en": role.label_en}
        if row.get("finess_insee") is not None or row.get("finess_distance_m") is not None:
            out.add("needs_review", "FINESS_ELSEWHERE", role.id,
                    {**values, "distance": str(row.get("finess_distance_m", "?")),
                     "finess_insee": str(row.get("finess_insee") or "?")}, prefix)
        zone = int(result.zone_status[0])
        for code in result.codes:
            if not code.mask[0]:
                continue
            if code.kind in (_FAIL, _NA) or (code.kind == _NEG and zone == Status.NOT_ELIGIBLE):
                out.add("not_eligible", code.code, role.id, values, prefix)
            elif code.kind in (_UNC, _REV):
                decisive = code.code.startswith("STRUCTURE_KIND") or code.code == "REGION_UNKNOWN" \
                    or zone == Status.NEEDS_REVIEW
                if decisive or code.kind == _UNC:
                    out.add("needs_review" if decisive else "note", code.code, role.id, values, prefix)
            elif code.kind == _NEG:
                out.add("note", code.code, role.id, values, prefix)
            else:
                said = "ZONE_NOT_REQUIRED" if code.code == "ROLE_PARTNER" else code.code  # the partner is given
                fr = prefix["fr"] + _COLON["fr"] + out.sentence(said, values, "fr")
                en = prefix["en"] + _COLON["en"] + out.sentence(said, values, "en")
                out.ok(code.code, role.id, fr, en)


def _structure_kind(structure: Mapping[str, Any], key: str) -> pd.DataFrame:
    """Kind of an application's structure: its ``type`` (a word), else FINESS category, name and APE code."""
    from zonage.rules.kinds import classify, parse_kind

    given = structure.get("type")
    category = structure.get("category")
    if given is not None and str(given).strip().isdigit():  # a FINESS category code given as the type
        category, given = given, None
    kind = parse_kind(given, f"{key}.type") if given is not None and str(given).strip() else None
    name = structure.get("name", structure.get("nom", structure.get("rs")))
    return classify(category=[category], ape=[structure.get("ape", structure.get("codeape"))], name=[name],
                    given=[kind])


def _first(value: Any) -> Any:
    """The single row of a one-row field (array, string, or {lang: …})."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {k: _first(v) for k, v in value.items()}
    return value[0]


def _check_condition(scheme: Scheme, condition: Condition, doctor: Mapping[str, Any], start: date,
                     out: _Collector) -> None:
    state, values, missing = _condition_state(condition, doctor, start, scheme.common)
    if state == "fail" and condition.soften_if is not None:
        soft, _, _ = _condition_state(condition.soften_if, doctor, start, scheme.common)
        if soft == "pass":
            out.add("needs_review", f"{condition.code}_{condition.soften_code}", "doctor", values)
            return
    if state == "pass" and missing:  # not given, and a missing value has no effect
        fr, en = _met_sentences(condition, values, scheme.common)
        out.notes.append(Finding(condition.code, "note", "doctor", f"{fr} : non renseigné", f"{en}: not given"))
        out.ok(condition.code)
    elif state == "pass":
        fr, en = _met_sentences(condition, values, scheme.common)
        out.ok(condition.code, "doctor", fr, en)
    elif state == "missing":
        for name in missing:
            out.add("needs_review", "PROFILE_INFO_MISSING", "doctor", {"field": f"doctor.{name}"},
                    condition=condition.code)
    else:
        status = "not_eligible" if state == "fail" else "needs_review"
        out.add(status, condition.code, "doctor", values)


def _condition_state(condition: Condition, doctor: Mapping[str, Any], start: date,
                     common: Common | None) -> tuple[str, dict[str, Any], list[str]]:
    """``pass``/``fail``/``review``/``missing``, the sentence values, the missing fields."""
    if condition.any_of:
        states = [_condition_state(alt, doctor, start, common) for alt in condition.any_of]
        values: dict[str, Any] = {}
        for _, v, _ in states:
            values.update(v)
        kinds = [s for s, _, _ in states]
        if "pass" in kinds:
            return "pass", values, []
        if "review" in kinds:
            return "review", values, []
        if "missing" in kinds:
            return "missing", values, [m for _, _, ms in states for m in ms]
        return ("fail" if condition.on_fail == "fail" else "review"), values, []
    name = condition.field
    assert name is not None
    raw = doctor.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, float) and math.isnan(raw)):
        return {"review": "missing", "fail": "fail", "pass": "pass"}[condition.if_missing], {"field": name}, [name]
    test = condition.test
    values = {"field": name}
    where = f"doctor.{name}"
    if test in ("true", "false"):
        flag = _as_bool(raw, where)
        ok = flag if test == "true" else not flag
        values["actual"] = {"fr": "oui" if flag else "non", "en": "yes" if flag else "no"}
        return _outcome(ok, condition), values, []
    if test == "region_in":
        if not isinstance(raw, str | int):
            raise InputDataError(f"{where} : région attendue (code INSEE ou nom), reçu {raw!r}")
        code = common.region_code(raw) if common is not None else str(raw)
        if code is None:
            raise InputDataError(f"{where} : région {raw!r} inconnue : donner son code INSEE (p. ex. 28) ou son nom "
                                 "(p. ex. Normandie)")
        names = common.regions if common is not None else {}
        values.update(actual=names[code].name if code in names else str(raw),
                      value=", ".join(names[c].name if c in names else c for c in condition.value))
        return _outcome(code in condition.value, condition), values, []
    if test in ("in", "not_in"):
        if not isinstance(raw, str | int):
            raise InputDataError(f"{where} : texte attendu, reçu {raw!r}")
        actual = _canonical(str(raw), common)
        expected = {_canonical(v, common) for v in condition.value}
        ok = (actual in expected) if test == "in" else (actual not in expected)
        values.update(actual=str(raw), value=", ".join(condition.value))
        return _outcome(ok, condition), values, []
    if test == "years_since_max":
        day = parse_date(raw, where)
        assert day is not None
        years = (start - day).days / 365.25
        values.update(years=_both(years),
                      limit=_both(condition.value),
                      actual={lang: _day_text(day, lang) for lang in ("fr", "en")})
        if years <= (condition.review_from if condition.review_from is not None else condition.value):
            return "pass", values, []
        if years <= condition.value:
            return "review", values, []
        return _outcome(False, condition), values, []
    if test == "on_or_before_month_day":
        day = parse_date(raw, where)
        assert day is not None
        month, dom = (int(x) for x in condition.value.split("-"))
        deadline = date(start.year, month, dom)
        values.update(actual={lang: _day_text(day, lang) for lang in ("fr", "en")},
                      deadline={lang: _day_text(deadline, lang) for lang in ("fr", "en")})
        return _outcome(day <= deadline, condition), values, []
    number = _as_number(raw, where)
    values.update(actual=str(raw), value=str(condition.value), limit=str(condition.value))
    ok = number >= condition.value if test == "min" else number <= condition.value
    return _outcome(ok, condition), values, []


def _met_sentences(condition: Condition, values: Mapping[str, Any], common: Common | None) -> tuple[str, str]:
    """What a met doctor condition checked, e.g. "diplôme de médecine générale : oui"."""
    out = []
    for lang in ("fr", "en"):
        name = str(values.get("field", condition.field or condition.code))
        label = common.fields[name].text(lang) if common is not None and name in common.fields else name
        actual = values.get("actual")
        actual = actual[lang] if isinstance(actual, Mapping) else actual
        text = f"{label}{_COLON[lang]}{actual}" if actual not in (None, "") else label
        years = values.get("years")
        if years is not None:
            years_text = years[lang] if isinstance(years, Mapping) else years
            text += (f" ({years_text} ans avant la prise de poste)" if lang == "fr"
                     else f" ({years_text} years before the start)")
        out.append(text)
    return out[0], out[1]


def _outcome(ok: bool, condition: Condition) -> str:
    if ok:
        return "pass"
    return "fail" if condition.on_fail == "fail" else "review"


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        key = _norm_key(value)
        if key in ("true", "oui", "yes", "vrai", "1", "o", "y"):
            return True
        if key in ("false", "non", "no", "faux", "0", "n"):
            return False
    raise InputDataError(f"{where} : oui ou non attendu (true/false), reçu {value!r}")


def _as_number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise InputDataError(f"{where} : nombre attendu, reçu {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", ".").replace("%", "").strip())
        except ValueError:
            pass
    raise InputDataError(f"{where} : nombre attendu, reçu {value!r}")


def _check_shares(scheme: Scheme, application: Mapping[str, Any],
                  structures: Mapping[str, tuple[str, Mapping[str, Any]]], out: _Collector) -> dict[str, float]:
    """Check each part's share of time; return the shares used (given or default)."""
    given = application.get("shares") or {}
    if not isinstance(given, Mapping):
        raise InputDataError(f"shares : ensemble de clés attendu (partie → % du temps de travail), reçu {given!r}")
    used: dict[str, float] = {}
    explicit: dict[str, float] = {}
    for role in scheme.roles.values():
        value = None
        for key in (*role.keys, role.id):
            if key in given:
                value = _as_number(given[key], f"shares.{key}")
                break
        if value is None and role.id in structures and "share" in structures[role.id][1]:
            key = structures[role.id][0]
            value = _as_number(structures[role.id][1]["share"], f"{key}.share")
        if value is not None:
            if not 0 <= value <= 100:
                raise InputDataError(f"shares.{role.keys[0] if role.keys else role.id} : {value} hors de 0–100 : "
                                     "donner un pourcentage du temps de travail entre 0 et 100")
            explicit[role.id] = value
            used[role.id] = value
        rule = role.share
        if rule is None:
            continue
        label = {"fr": role.label_fr, "en": role.label_en}
        if value is None:
            if rule.default is not None:
                used[role.id] = rule.default
            elif role.id in structures or role.required:
                out.add("needs_review", "SHARE_MISSING", role.id, {"role": label})
            continue
        status = "not_eligible" if rule.strict else "needs_review"
        share = _both(value)
        if rule.min is not None and value < rule.min:
            out.add(status, "SHARE_BELOW_MIN", role.id, {"role": label, "share": share, "min": _both(rule.min)})
        elif rule.max is not None and value > rule.max:
            out.add(status, "SHARE_ABOVE_MAX", role.id, {"role": label, "share": share, "max": _both(rule.max)})
        else:
            out.ok(f"SHARE_{role.id.upper()}", role.id, f"{role.label_fr} : {share['fr']} % du temps",
                   f"{role.label_en}: {share['en']} % of working time")
    total = sum(explicit.values())
    if total > 100:
        out.add("not_eligible", "SHARES_ABOVE_100", "shares",
                {"total": _both(total)})
    return used


def _check_dates(scheme: Scheme, application: Mapping[str, Any], start: date | None, out: _Collector) -> None:
    duration = application.get("duration_years")
    if duration is not None and scheme.duration_years is not None:
        years = _as_number(duration, "duration_years")
        limit = scheme.duration_years + (scheme.renewal_years or 0)
        values = {"duration": _both(years),
                  "limit": _both(limit),
                  "expected": _both(scheme.duration_years)}
        if years > limit:
            out.add("not_eligible", "DURATION_TOO_LONG", "application", values)
        elif years < scheme.duration_years:
            out.add("needs_review", "DURATION_TOO_SHORT", "application", values)
        else:
            out.ok("DURATION", "application", f"durée de {values['duration']['fr']} ans",
                   f"duration of {values['duration']['en']} years")
    if start is not None and scheme.start_month_day is not None:
        month, day = (int(x) for x in scheme.start_month_day.split("-"))
        if (start.month, start.day) != (month, day):
            out.add("needs_review", "START_DATE_UNUSUAL", "application", {
                "actual": {lang: _day_text(start, lang) for lang in ("fr", "en")},
                "expected": {lang: _month_day_text(month, day, lang) for lang in ("fr", "en")},
            })
        else:
            out.ok("START_DATE", "application", f"prise de poste le {_day_text(start, 'fr')}",
                   f"start on {_day_text(start, 'en')}")


def _funding(scheme: Scheme, application: Mapping[str, Any], shares: Mapping[str, float],
             start: date) -> FundingResult:
    rule = scheme.funding
    renewal = _as_bool(application.get("renewal", False), "renewal")
    duration = application.get("duration_years")
    years = _as_number(duration, "duration_years") if duration is not None else scheme.duration_years
    if renewal and duration is None and scheme.renewal_years:
        years = (years or 0) + scheme.renewal_years

    def say(code: str, values: Mapping[str, Any]) -> tuple[str, str]:
        flat = [{k: (v[lang] if isinstance(v, Mapping) else v) for k, v in values.items()} for lang in ("fr", "en")]
        return tuple(string.Formatter().vformat(scheme.template(code).text(lang), (), _Defaults(f))  # type: ignore[return-value]
                     for lang, f in zip(("fr", "en"), flat, strict=True))

    if rule.kind == "monthly_flat" and years is not None:
        assert rule.monthly_eur is not None
        months = round(years * 12)
        amount = rule.monthly_eur * months
        fr, en = say("FUNDING_MONTHLY", {
            "monthly": _both(rule.monthly_eur, 2),
            "months": str(months), "amount": _both(amount, 2)})
        return FundingResult(rule.kind, amount, fr, en, months=months, monthly_eur=rule.monthly_eur)
    if rule.kind == "share_of_cost":
        assert rule.role is not None and rule.rate_percent is not None
        role = scheme.roles[rule.role]
        share = shares.get(rule.role)
        costs = application.get("funding") or {}
        if not isinstance(costs, Mapping):
            raise InputDataError(f"funding : ensemble de clés attendu (coût → montant en euros), reçu {costs!r}")
        cost = costs.get(rule.cost_key)
        values: dict[str, Any] = {
            "rate": _both(rule.rate_percent), "role": {"fr": role.label_fr, "en": role.label_en},
            "share": "?" if share is None else _both(share), "cost_key": rule.cost_key or "",
        }
        if cost is None or share is None or years is None:
            fr, en = say("FUNDING_COST_MISSING", values)
            return FundingResult(rule.kind, None, fr, en, rate_percent=rule.rate_percent)
        annual = [_as_number(c, f"funding.{rule.cost_key}") for c in cost] if isinstance(cost, list) else None
        total_cost = sum(annual) if annual else _as_number(cost, f"funding.{rule.cost_key}") * years
        per_year = total_cost / (len(annual) if annual else years)
        amount = total_cost * share / 100 * rule.rate_percent / 100
        values.update(cost=_both(per_year, 2),
                      duration=_both(len(annual) if annual else years),
                      amount=_both(amount, 2))
        fr, en = say("FUNDING_SHARE_OF_COST", values)
        return FundingResult(rule.kind, amount, fr, en, rate_percent=rule.rate_percent)
    fr, en = say("FUNDING_NOT_SPECIFIED", {"note": {"fr": rule.note_fr or "—", "en": rule.note_en or "—"}})
    return FundingResult(rule.kind, None, fr, en)
