"""Apply the schemes' rules to located sites (vectorised) and to whole applications.

:func:`evaluate_sites` answers, for every located structure and every scheme, whether
the structure can host the scheme's post, which part of it (``role``), and why:
``status`` (``eligible`` / ``needs_review`` / ``not_eligible``), the reason codes and
a French and an English sentence such as ``"éligible : ZIP via la commune 57463
Metz"``.

How a zone answer is reached. A role's zone rule has *grounds*: the zoning class of
the point (``classe``: the QPV's own class where the order gives one, else the
commune's) and, when the rule names ``QPV``, membership of a QPV polygon of the
generation in force. The site is eligible when a ground holds *firmly*. A ground is
fragile when the data behind it may be wrong: commune found in an overlap or by the
nearest-commune fallback, point closer than ``fragile_m`` to the commune or QPV
boundary, commune code changed by a merger. Unknowns (class unknown or ``mixed``,
QPV outlines missing for the région, only the commune known, no location) and classes
the rule lists as "to review" also lead to ``needs_review``. Fragile or unknown facts
that cannot change the answer (e.g. a QPV boundary 20 m away from a point in a ZIP
commune far from the commune's limits) are still reported, in the reasons and after
"sans incidence sur la réponse" in the sentences: nothing is hidden.

:func:`check_application` checks one application (scheme, structures, doctor, shares,
dates) and lists every failed or doubtful condition, with the funding computed from
the scheme's parameters.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from zonage.errors import InputDataError
from zonage.rules.model import STATUSES, ZONE_CLASSES, Common, Condition, Role, Scheme

__all__ = [
    "OUTPUT_COLUMNS",
    "ApplicationVerdict",
    "Finding",
    "FundingResult",
    "check_application",
    "evaluate_sites",
]

#: Columns of :func:`evaluate_sites`' result.
OUTPUT_COLUMNS: tuple[str, ...] = ("row", "scheme", "role", "status", "reasons", "message_fr", "message_en")
#: ``commune_method`` values meaning the point itself was located.
POINT_METHODS: tuple[str, ...] = ("grid", "exact", "overlap", "nearest")
_CLASSES = tuple(c for c in ZONE_CLASSES if c != "QPV")

# Kinds of reason codes: positive ground, information, uncertainty (fragile or unknown fact),
# class to review, negative ground, failure. Which kinds a sentence shows depends on the status.
_POS, _INFO, _UNC, _REV, _NEG, _FAIL = "pos", "info", "unc", "rev", "neg", "fail"
_MAIN = {0: (_POS, _INFO), 1: (_UNC, _REV, _POS, _NEG, _INFO), 2: (_FAIL, _NEG, _REV, _POS, _INFO)}
_NOTES = {0: (_UNC,), 1: (), 2: (_UNC,)}
_SEP = {"fr": " ; ", "en": "; "}
_COLON = {"fr": " : ", "en": ": "}
_MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
              "octobre", "novembre", "décembre")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


# -- small helpers -----------------------------------------------------------------------------
def _as_date(value: Any, what: str = "date") -> date:
    """A date from a date, datetime, ISO or French (DD/MM/YYYY) string; today for None."""
    if value is None:
        return date.today()
    parsed = _parse_date(value, what)
    assert parsed is not None
    return parsed


def _parse_date(value: Any, what: str) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
        match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
        if match:
            try:
                return date(int(match[3]), int(match[2]), int(match[1]))
            except ValueError:
                pass
    raise InputDataError(f"{what}: expected a date (YYYY-MM-DD), got {value!r}")


def _clean(values: Any, n: int) -> np.ndarray:
    """Object array of stripped strings, None for missing/empty values."""
    if values is None:
        return np.full(n, None, dtype=object)
    s = pd.Series(np.asarray(values, dtype=object), dtype=object)
    missing = s.isna().to_numpy()
    out = s.map(_to_text).to_numpy(dtype=object)
    out[missing] = None
    out[out == ""] = None
    return out


def _to_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if value is not None else ""


def _region_codes(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for i, v in enumerate(out):
        if v is not None and v.isdigit() and len(v) < 2:
            out[i] = v.zfill(2)
    return out


def _category_codes(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for i, v in enumerate(out):
        if v is not None and v.isdigit() and len(v) < 3:
            out[i] = v.zfill(3)
    return out


def _floats(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").to_numpy(dtype=float)


def _bools(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    s = pd.Series(np.asarray(values, dtype=object), dtype=object)
    return s.map(lambda v: bool(v) if isinstance(v, bool | np.bool_ | int | float) and v == v else False).to_numpy(
        dtype=bool)


def _isin(values: np.ndarray, choices: Iterable[str]) -> np.ndarray:
    choices = list(choices)
    if not choices:
        return np.zeros(len(values), dtype=bool)
    return pd.Series(values, dtype=object).isin(choices).to_numpy()


def _number(value: float, lang: str, decimals: int = 0) -> str:
    """A number for a sentence: ``2 100`` / ``2,100``; ``4,5`` / ``4.5``."""
    whole = decimals == 0 or float(value).is_integer()
    text = f"{round(value):,}" if whole else f"{value:,.{decimals}f}"
    if lang == "fr":
        return text.replace(",", " ").replace(".", ",")
    return text


def _both(value: float, decimals: int = 1) -> dict[str, str]:
    """A number formatted for both languages."""
    return {lang: _number(value, lang, decimals) for lang in ("fr", "en")}


def _day_text(d: date, lang: str) -> str:
    if lang == "fr":
        return f"{'1er' if d.day == 1 else d.day} {_MONTHS_FR[d.month - 1]} {d.year}"
    return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"


def _month_day_text(month: int, day: int, lang: str) -> str:
    if lang == "fr":
        return f"{'1er' if day == 1 else day} {_MONTHS_FR[month - 1]}"
    return f"{day} {_MONTHS_EN[month - 1]}"


def _norm_key(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _canonical(text: str, common: Common | None) -> str:
    key = _norm_key(text)
    if common is not None:
        for canonical, synonyms in common.specialities.items():
            if key == _norm_key(canonical) or key in {_norm_key(s) for s in synonyms}:
                return canonical
    return key


def _scheme_map(schemes: Any) -> dict[str, Scheme]:
    if schemes is None:
        from zonage.rules.load import load_schemes

        return load_schemes()
    if isinstance(schemes, Scheme):
        return {schemes.id: schemes}
    if isinstance(schemes, Mapping):
        return dict(schemes)
    return {s.id: s for s in schemes}


# -- facts about the located points -------------------------------------------------------------
@dataclass
class _Facts:
    """Per-row facts derived once from the located frame (arrays of equal length)."""

    n: int
    located: np.ndarray
    commune_only: np.ndarray
    overlap: np.ndarray
    nearest: np.ndarray
    boundary: np.ndarray
    merged: np.ndarray
    classe: np.ndarray
    from_qpv: np.ndarray
    in_qpv: np.ndarray
    qpv_near: np.ndarray
    region: np.ndarray
    fields: dict[str, np.ndarray]

    def take(self, idx: np.ndarray) -> _Facts:
        """The facts of rows ``idx``."""
        arrays = {k: getattr(self, k)[idx] for k in self.__dataclass_fields__ if k not in ("n", "fields")}
        return _Facts(n=len(idx), fields={k: v[idx] for k, v in self.fields.items()}, **arrays)


def _facts(located: pd.DataFrame, region: Any, on: date, fragile_m: float, common: Common) -> _Facts:
    n = len(located)

    def col(name: str) -> Any:
        return located[name].to_numpy(dtype=object) if name in located.columns else None

    insee = _clean(col("insee"), n)
    loc = np.array([v is not None for v in insee], dtype=bool)
    if "commune_method" in located:
        method = np.array(["none" if m is None else m.lower() for m in _clean(col("commune_method"), n)], dtype=object)
    else:
        method = np.full(n, "exact", dtype=object)
    commune_only = loc & ~_isin(method, POINT_METHODS)
    point = loc & ~commune_only
    boundary_m = _floats(col("commune_boundary_m"), n)
    merged = _bools(col("commune_merged"), n) | (_clean(col("commune_relation"), n) == "merged")

    classe = _clean(col("classe"), n)
    classe = np.array([_class_name(c) for c in classe], dtype=object)
    classe_qpv = _clean(col("classe_qpv"), n)
    source = _clean(col("classe_source"), n)
    if "classe_source" not in located:
        source = np.where(pd.notna(classe_qpv), "qpv", "commune").astype(object)
    from_qpv = source == "qpv"

    if region is not None:
        regions = _region_codes(_clean(region, n))
        if len(regions) != n:
            raise InputDataError(f"region: {len(regions)} values for {n} located rows")
    elif "region" in located:
        regions = _region_codes(_clean(col("region"), n))
    else:
        dep_region = common.departement_regions()
        regions = np.array([None if c is None else dep_region.get(c[:3] if c.startswith("97") else c[:2])
                            for c in insee], dtype=object)
    overseas_codes = [r.code for r in common.regions.values() if r.overseas]
    overseas = _isin(regions, overseas_codes) | np.array([c is not None and c.startswith("97") for c in insee])
    gen_metro = common.generation_in_force(on, overseas=False)
    gen_over = common.generation_in_force(on, overseas=True)
    generation = np.where(overseas, gen_over, gen_metro).astype(object)

    qpv = np.full(n, None, dtype=object)
    qpv_nom = np.full(n, None, dtype=object)
    qpv_m = np.full(n, np.nan)
    covered = np.zeros(n, dtype=bool)
    for g in {g for g in generation if g is not None}:
        rows = generation == g
        qpv[rows] = _clean(col(f"qpv{g}"), n)[rows]
        qpv_nom[rows] = _clean(col(f"qpv{g}_nom"), n)[rows]
        qpv_m[rows] = _floats(col(f"qpv{g}_boundary_m"), n)[rows]
        covered[rows] = _bools(col(f"qpv{g}_covered"), n)[rows]
    inside = pd.notna(qpv) & loc
    in_qpv = np.where(inside, 1, np.where(point & covered, 0, -1)).astype(np.int8)
    with np.errstate(invalid="ignore"):
        qpv_near = point & (qpv_m < fragile_m)
        near_boundary = point & (boundary_m < fragile_m)

    names = {code: r.name for code, r in common.regions.items()}
    candidates = _clean(col("commune_candidates"), n)
    fields = {
        "insee": np.array([c or "?" for c in insee], dtype=object),
        "commune": np.array([c or "" for c in _clean(col("commune_nom"), n)], dtype=object),
        "classe": np.array([c or "?" for c in classe], dtype=object),
        "classe_commune": np.array([c or "?" for c in _clean(col("classe_commune"), n)], dtype=object),
        "classe_qpv": np.array([c or "" for c in classe_qpv], dtype=object),
        "qpv": np.array([c or "" for c in qpv], dtype=object),
        "qpv_nom": np.array([c or "" for c in qpv_nom], dtype=object),
        "generation": np.array(["" if g is None else str(g) for g in generation], dtype=object),
        "commune_distance": np.array(["" if math.isnan(v) else str(round(v)) for v in boundary_m], dtype=object),
        "qpv_distance": np.array(["" if math.isnan(v) else str(round(v)) for v in qpv_m], dtype=object),
        "candidates": np.array(["" if c is None else c.replace("|", ", ") for c in candidates], dtype=object),
        "region": np.array([r or "?" for r in regions], dtype=object),
        "region_name": np.array([names.get(r, r or "?") for r in regions], dtype=object),
    }
    return _Facts(
        n=n, located=loc, commune_only=commune_only, overlap=loc & (method == "overlap"),
        nearest=loc & (method == "nearest"), boundary=near_boundary, merged=loc & merged,
        classe=classe, from_qpv=from_qpv, in_qpv=in_qpv, qpv_near=qpv_near, region=regions, fields=fields,
    )


def _class_name(value: str | None) -> str | None:
    if value is None:
        return None
    upper = value.upper()
    return upper if upper in _CLASSES else value.lower()


# -- one role ----------------------------------------------------------------------------------
@dataclass
class _Code:
    code: str
    kind: str
    mask: np.ndarray


@dataclass
class _RoleResult:
    role: Role
    status: np.ndarray
    zone_status: np.ndarray
    codes: list[_Code]


def _evaluate_role(scheme: Scheme, role: Role, f: _Facts, cats: np.ndarray | None) -> _RoleResult:
    """Status and reason codes of every row for one role of one (resolved) scheme."""
    n = f.n
    codes: list[_Code] = []

    def add(code: str, kind: str, mask: np.ndarray) -> None:
        if mask.any():
            codes.append(_Code(code, kind, mask))

    zone_status = np.zeros(n, dtype=np.int8)
    if role.zones is None:
        add("ZONE_NOT_REQUIRED", _INFO, np.ones(n, dtype=bool))
    else:
        zone_status = _zone(role, f, add)

    fail = zone_status == 2
    review = zone_status == 1
    if cats is not None:
        missing = pd.isna(cats)
        add("STRUCTURE_CATEGORY_UNKNOWN", _UNC, missing)
        review = review | missing
        if role.structure_types:
            accepted = _isin(cats, role.category_codes) & ~missing
            add("STRUCTURE_TYPE_ACCEPTED", _INFO, accepted)
            refused = ~accepted & ~missing
            add("STRUCTURE_TYPE_NOT_ACCEPTED", _FAIL, refused)
            fail = fail | refused
    if scheme.regions:
        known = pd.notna(f.region)
        outside = known & ~_isin(f.region, scheme.regions)
        add("REGION_NOT_COVERED", _FAIL, outside)
        add("REGION_UNKNOWN", _UNC, ~known)
        fail = fail | outside
        review = review | ~known
    status = np.where(fail, 2, np.where(review, 1, 0)).astype(np.int8)
    return _RoleResult(role, status, zone_status, codes)


def _zone(role: Role, f: _Facts, add: Any) -> np.ndarray:
    """Zone status (0 eligible, 1 to review, 2 not eligible) and zone codes of every row."""
    rule = role.zones
    assert rule is not None
    accepted = [c for c in rule.accepted if c != "QPV"]
    review = [c for c in rule.review if c != "QPV"]
    loc = f.located
    cls = f.classe
    known = _isin(cls, _CLASSES) & loc
    cls_ok = _isin(cls, accepted) & loc
    cls_review = _isin(cls, review) & loc
    cls_unknown = loc & ~known
    cls_no = known & ~cls_ok & ~cls_review
    commune_fragile = f.overlap | f.nearest | f.boundary | f.merged
    cls_fragile = np.where(f.from_qpv, f.qpv_near, commune_fragile)

    zeros = np.zeros(f.n, dtype=bool)
    if rule.qpv_matters:
        qpv_accepted = "QPV" in rule.accepted
        q_in = f.in_qpv == 1
        q_ok = q_in & qpv_accepted
        q_review = q_in & (not qpv_accepted)
        q_no = f.in_qpv == 0
        q_unknown = (f.in_qpv == -1) & loc
        q_fragile = f.qpv_near
    else:
        q_in = q_ok = q_review = q_no = q_unknown = q_fragile = zeros
        qpv_accepted = False

    firm = (cls_ok & ~cls_fragile) | (q_ok & ~q_fragile)
    doubtful = (cls_ok | q_ok | cls_review | q_review | cls_unknown | q_unknown | ~loc
                | (cls_no & cls_fragile) | (q_no & q_fragile))
    status = np.where(firm, 0, np.where(doubtful, 1, 2)).astype(np.int8)

    for c in accepted:
        is_c = cls_ok & (cls == c)
        add(f"ZONE_{c}", _POS, is_c & ~f.from_qpv)
        add(f"ZONE_{c}_QPV", _POS, is_c & f.from_qpv)
    add("ZONE_QPV", _POS, q_ok)
    commune_ground = loc & ~f.from_qpv
    add("LOCATION_NONE", _UNC, ~loc)
    add("COMMUNE_ONLY", _UNC, q_unknown & f.commune_only)
    add("COMMUNE_OVERLAP", _UNC, f.overlap & commune_ground)
    add("COMMUNE_NEAREST", _UNC, f.nearest & commune_ground)
    add("COMMUNE_MERGED", _UNC, f.merged & commune_ground)
    add("COMMUNE_BOUNDARY_NEAR", _UNC, f.boundary & commune_ground)
    qpv_relevant = rule.qpv_matters | f.from_qpv
    add("QPV_BOUNDARY_NEAR", _UNC, f.qpv_near & (f.in_qpv == 1) & qpv_relevant)
    if rule.qpv_matters:
        add("QPV_NEARBY", _UNC, f.qpv_near & (f.in_qpv != 1))
    add("CLASS_MIXED", _UNC, cls_unknown & (cls == "mixed"))
    add("CLASS_UNKNOWN", _UNC, cls_unknown & (cls != "mixed"))
    add("QPV_NOT_COVERED", _UNC, q_unknown & ~f.commune_only)
    add(rule.review_reason, _REV, cls_review)
    add("ZONE_QPV_TO_CHECK", _REV, q_review)
    hors = _isin(cls, ["HZ", "ZV"])
    add("ZONE_NOT_PRIORITY", _NEG, cls_no & hors)
    add("ZONE_CLASS_NOT_ACCEPTED", _NEG, cls_no & ~hors)
    if qpv_accepted:
        add("ZONE_NOT_QPV", _NEG, q_no)
    return status


# -- sentences ---------------------------------------------------------------------------------
def _render(template: str, fields: Mapping[str, Any], idx: np.ndarray, lang: str) -> np.ndarray:
    """Vectorised ``template.format(**row)`` over rows ``idx`` (fields: arrays, strings or {lang: …})."""
    out = np.full(len(idx), "", dtype=object)
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name is None:
            continue
        value = fields.get(name, "")
        if isinstance(value, Mapping):
            value = value[lang]
        out = out + (value if isinstance(value, str) else value[idx])
    return out


def _append(acc: np.ndarray, mask: np.ndarray, piece: np.ndarray, sep: str) -> None:
    current = acc[mask]
    acc[mask] = np.where(current == "", piece, current + sep + piece)


def _assemble(scheme: Scheme, result: _RoleResult, rows: np.ndarray, fields: Mapping[str, Any],
              out: dict[str, np.ndarray], base: np.ndarray) -> None:
    """Write reasons and sentences of ``rows`` (positions in the group) into ``out`` at ``base[rows]``."""
    status = result.status[rows]
    for s in (0, 1, 2):
        local = np.flatnonzero(status == s)
        if not len(local):
            continue
        idx = rows[local]
        k = len(idx)
        reasons = np.full(k, "", dtype=object)
        text = {lang: np.full(k, "", dtype=object) for lang in ("fr", "en")}
        notes = {lang: np.full(k, "", dtype=object) for lang in ("fr", "en")}
        for kinds, target in ((_MAIN[s], text), (_NOTES[s], notes)):
            for kind in kinds:
                for code in result.codes:
                    if code.kind != kind:
                        continue
                    mask = code.mask[idx]
                    if not mask.any():
                        continue
                    _append(reasons, mask, np.full(int(mask.sum()), code.code, dtype=object), ";")
                    template = scheme.template(code.code)
                    for lang in ("fr", "en"):
                        piece = _render(template.text(lang), fields, idx[mask], lang)
                        _append(target[lang], mask, piece, _SEP[lang])
        where = base[idx]
        out["status"][where] = STATUSES[s]
        out["reasons"][where] = reasons
        for lang in ("fr", "en"):
            label = scheme.label(STATUSES[s], lang)
            message = np.where(text[lang] == "", label, label + _COLON[lang] + text[lang])
            has_notes = notes[lang] != ""
            note_label = scheme.label("notes", lang)
            message = np.where(has_notes, message + " — " + note_label + _COLON[lang] + notes[lang], message)
            out[f"message_{lang}"][where] = message


def _site_fields(scheme: Scheme, f: _Facts, cats: np.ndarray | None) -> dict[str, Any]:
    assert scheme.common is not None
    labels: dict[str, str] = dict(scheme.common.finess_categories)
    for role in scheme.roles.values():
        labels.update({t.code: t.label for t in role.structure_types})
    fields: dict[str, Any] = dict(f.fields)
    if cats is not None:
        fields["category"] = np.array(["?" if c is None else c for c in cats], dtype=object)
        fields["category_label"] = {
            "fr": np.array([labels.get(c, "catégorie non répertoriée") if c else "?" for c in cats], dtype=object),
            "en": np.array([labels.get(c, "unlisted category") if c else "?" for c in cats], dtype=object),
        }
    fields["scheme"] = {"fr": scheme.name_fr, "en": scheme.name_en}
    names = scheme.common.regions
    fields["regions"] = ", ".join(names[r].name if r in names else r for r in scheme.regions)
    return fields


def _role_fields(fields: dict[str, Any], role: Role) -> dict[str, Any]:
    out = dict(fields)
    out["role"] = {"fr": role.label_fr, "en": role.label_en}
    out["accepted"] = ", ".join(role.zones.accepted) if role.zones is not None else ""
    return out


# -- sites -------------------------------------------------------------------------------------
def evaluate_sites(
    located: pd.DataFrame,
    schemes: Mapping[str, Scheme] | Iterable[Scheme] | Scheme | None = None,
    *,
    categories: pd.Series | None = None,
    region: pd.Series | None = None,
    fragile_m: float = 50.0,
    date: date | datetime | str | None = None,
) -> pd.DataFrame:
    """Eligibility of every located site for every scheme, with reasons (vectorised).

    Parameters
    ----------
    located
        Output of :meth:`zonage.locate.Locator.locate` (``insee``, ``commune_nom``,
        ``commune_method``, ``commune_boundary_m``, ``qpvG``/``qpvG_nom``/
        ``qpvG_boundary_m``/``qpvG_covered`` per QPV generation G, ``classe``,
        ``classe_source``, ``classe_commune``, ``classe_qpv``). Optional columns:
        ``commune_candidates``, ``region``, ``commune_merged`` (bool, commune code
        changed by a merger) or ``commune_relation`` (``"merged"``). A
        ``commune_method`` other than grid/exact/overlap/nearest/none (e.g.
        ``"commune"``) means only the commune is known.
    schemes
        Output of :func:`~zonage.rules.load.load_schemes` (None: the packaged schemes).
    categories
        FINESS category code of each site (same order as ``located``); None to check
        the zone of each scheme's host site only (``site_role``). With categories, each
        site is checked for the parts of the scheme its category may host and the best
        answer is kept; a missing category gives ``needs_review``.
    region
        INSEE région code of each site (for région-specific rules); by default the
        ``region`` column of ``located``, else derived from the commune code.
    fragile_m
        Distance (m) to a commune or QPV boundary below which an answer is fragile.
    date
        Date of the question (QPV generation in force, dated overrides); default today.

    Returns
    -------
    pandas.DataFrame
        One row per input row and scheme, columns ``row`` (input position),
        ``scheme``, ``role``, ``status`` (eligible / needs_review / not_eligible),
        ``reasons`` (``;``-joined codes), ``message_fr``, ``message_en``.
    """
    scheme_map = _scheme_map(schemes)
    n = len(located)
    if not scheme_map or n == 0:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else object) for c in OUTPUT_COLUMNS})
    on = _as_date(date)
    common = next(iter(scheme_map.values())).common
    assert common is not None
    facts = _facts(located, None if region is None else np.asarray(region, dtype=object), on, fragile_m, common)
    cats = None
    if categories is not None:
        cats = _category_codes(_clean(np.asarray(categories, dtype=object), n))
        if len(cats) != n:
            raise InputDataError(f"categories: {len(cats)} values for {n} located rows")
    frames = []
    region_keys, region_index = pd.factorize(pd.Series(facts.region, dtype=object), use_na_sentinel=True)
    for scheme in scheme_map.values():
        out = {
            "role": np.full(n, "", dtype=object), "status": np.full(n, "", dtype=object),
            "reasons": np.full(n, "", dtype=object), "message_fr": np.full(n, "", dtype=object),
            "message_en": np.full(n, "", dtype=object),
        }
        for key in np.unique(region_keys):
            group = np.flatnonzero(region_keys == key)
            variant = scheme.resolve(None if key < 0 else str(region_index[key]), on)
            sub = facts if len(group) == n else facts.take(group)
            _evaluate_group(variant, sub, None if cats is None else cats[group], group, out)
        frames.append(pd.DataFrame({"row": np.arange(n), "scheme": scheme.id, **out}))
    return pd.concat(frames, ignore_index=True)[list(OUTPUT_COLUMNS)]


def _evaluate_group(scheme: Scheme, f: _Facts, cats: np.ndarray | None, base: np.ndarray,
                    out: dict[str, np.ndarray]) -> None:
    roles = list(scheme.roles.values())
    site_j = list(scheme.roles).index(scheme.site_role)
    if cats is None:
        results = {site_j: _evaluate_role(scheme, roles[site_j], f, None)}
        choice = np.full(f.n, site_j)
    else:
        results = {j: _evaluate_role(scheme, role, f, cats) for j, role in enumerate(roles)}
        known = pd.notna(cats)
        rank = np.full((len(roles), f.n), 10_000)
        for j, role in enumerate(roles):
            candidate = known & (_isin(cats, role.category_codes) if role.structure_types else True)
            priority = 0 if j == site_j else j + 1
            rank[j] = np.where(candidate, results[j].status.astype(int) * 100 + priority, 10_000)
        choice = rank.argmin(axis=0)
        choice[rank.min(axis=0) == 10_000] = site_j
    fields = _site_fields(scheme, f, cats)
    for j, result in results.items():
        rows = np.flatnonzero(choice == j)
        if not len(rows):
            continue
        out["role"][base[rows]] = result.role.id
        _assemble(scheme, result, rows, _role_fields(fields, result.role), out, base)


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

    def ok(self, code: str) -> None:
        if code not in self.passed:
            self.passed.append(code)


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _structure_of(application: Mapping[str, Any], role: Role) -> tuple[str | None, Mapping[str, Any] | None]:
    for key in (*role.keys, role.id):
        value = application.get(key)
        if value is not None:
            if not isinstance(value, Mapping):
                raise InputDataError(f"{key}: expected a mapping (finess, category, located…), got {value!r}")
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
        raise InputDataError(f"{key}.located: expected a mapping of located columns, got {located!r}")
    return dict(located)


def _region_of(value: Any, common: Common) -> str | None:
    if value is None:
        return None
    text = _to_text(value)
    if text.isdigit() and len(text) < 2:
        text = text.zfill(2)
    if text in common.regions:
        return text
    by_name = {_norm_key(r.name): code for code, r in common.regions.items()}
    if _norm_key(text) in by_name:
        return by_name[_norm_key(text)]
    raise InputDataError(f"region: unknown région {value!r} (INSEE codes: {', '.join(common.regions)})")


def check_application(
    application: Mapping[str, Any],
    schemes: Mapping[str, Scheme] | Iterable[Scheme] | Scheme | None = None,
    located_sites: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    fragile_m: float = 50.0,
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
        raise InputDataError(f"application: expected a mapping, got {type(application).__name__}")
    scheme_map = _scheme_map(schemes)
    scheme_id = application.get("scheme")
    if scheme_id not in scheme_map:
        raise InputDataError(f"scheme: unknown scheme {scheme_id!r} (known: {', '.join(scheme_map)})")
    base = scheme_map[scheme_id]
    common = base.common
    assert common is not None
    start_given = _parse_date(application.get("start"), "start")
    start = start_given or date.today()

    structures: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for role in base.roles.values():
        key, structure = _structure_of(application, role)
        if structure is not None and key is not None:
            structures[role.id] = (key, structure)
    region = _region_of(application.get("region"), common)
    if region is None:
        dep_region = common.departement_regions()
        for key, structure in structures.values():
            insee = _located_row(structure, key, located_sites).get("insee")
            if isinstance(insee, str) and insee:
                region = dep_region.get(insee[:3] if insee.startswith("97") else insee[:2])
                if region:
                    break
    scheme = base.resolve(region, start)
    out = _Collector(scheme)
    for i in scheme.applied:
        out_override = scheme.overrides[i]
        out.notes.append(Finding("OVERRIDE", "note", "application", out_override.note_fr, out_override.note_en))

    _check_roles(scheme, structures, region, start, located_sites, fragile_m, out)
    doctor = application.get("doctor") or {}
    if not isinstance(doctor, Mapping):
        raise InputDataError(f"doctor: expected a mapping, got {doctor!r}")
    for condition in scheme.profile:
        _check_condition(scheme, condition, doctor, start, out)
    shares = _check_shares(scheme, application, structures, out)
    _check_dates(scheme, application, start_given, out)
    funding = _funding(scheme, application, shares, start)
    status = "not_eligible" if out.failures else "needs_review" if out.reviews else "eligible"
    labels = {s: {lang: scheme.label(s, lang) for lang in ("fr", "en")} for s in STATUSES}
    return ApplicationVerdict(
        scheme=scheme.id, status=status, failures=out.failures, reviews=out.reviews, notes=out.notes,
        passed=out.passed, funding=funding, region=region,
        overrides_fr=[scheme.overrides[i].note_fr for i in scheme.applied],
        overrides_en=[scheme.overrides[i].note_en for i in scheme.applied], labels=labels,
    )


def _check_roles(scheme: Scheme, structures: Mapping[str, tuple[str, Mapping[str, Any]]], region: str | None,
                 start: date, located_sites: Mapping[str, Mapping[str, Any]] | None, fragile_m: float,
                 out: _Collector) -> None:
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
        frame = pd.DataFrame([row])
        facts = _facts(frame, None if region is None else np.array([region], dtype=object), start, fragile_m,
                       scheme.common)
        category = structure.get("category")
        cats = _category_codes(_clean(np.array([category], dtype=object), 1))
        result = _evaluate_role(scheme, role, facts, cats)
        fields = _role_fields(_site_fields(scheme, facts, cats), role)
        values = {k: _first(v) for k, v in fields.items()}
        prefix = {"fr": role.label_fr, "en": role.label_en}
        zone = int(result.zone_status[0])
        for code in result.codes:
            if not code.mask[0]:
                continue
            if code.kind == _FAIL or (code.kind == _NEG and zone == 2):
                out.add("not_eligible", code.code, role.id, values, prefix)
            elif code.kind in (_UNC, _REV):
                decisive = code.code in ("STRUCTURE_CATEGORY_UNKNOWN", "REGION_UNKNOWN") or zone == 1
                if decisive or code.kind == _UNC:
                    out.add("needs_review" if decisive else "note", code.code, role.id, values, prefix)
            elif code.kind == _NEG:
                out.add("note", code.code, role.id, values, prefix)
            else:
                out.ok(code.code)


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
    if state == "pass":
        out.ok(condition.code)
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
    if test in ("in", "not_in"):
        if not isinstance(raw, str | int):
            raise InputDataError(f"{where}: expected a text, got {raw!r}")
        actual = _canonical(str(raw), common)
        expected = {_canonical(v, common) for v in condition.value}
        ok = (actual in expected) if test == "in" else (actual not in expected)
        values.update(actual=str(raw), value=", ".join(condition.value))
        return _outcome(ok, condition), values, []
    if test == "years_since_max":
        day = _parse_date(raw, where)
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
        day = _parse_date(raw, where)
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
    raise InputDataError(f"{where}: expected true or false, got {value!r}")


def _as_number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise InputDataError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", ".").replace("%", "").strip())
        except ValueError:
            pass
    raise InputDataError(f"{where}: expected a number, got {value!r}")


def _check_shares(scheme: Scheme, application: Mapping[str, Any],
                  structures: Mapping[str, tuple[str, Mapping[str, Any]]], out: _Collector) -> dict[str, float]:
    """Check each part's share of time; return the shares used (given or default)."""
    given = application.get("shares") or {}
    if not isinstance(given, Mapping):
        raise InputDataError(f"shares: expected a mapping (part → %), got {given!r}")
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
                raise InputDataError(f"shares.{role.keys[0] if role.keys else role.id}: {value} outside 0–100")
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
            out.ok(f"SHARE_{role.id.upper()}")
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
            out.ok("DURATION")
    if start is not None and scheme.start_month_day is not None:
        month, day = (int(x) for x in scheme.start_month_day.split("-"))
        if (start.month, start.day) != (month, day):
            out.add("needs_review", "START_DATE_UNUSUAL", "application", {
                "actual": {lang: _day_text(start, lang) for lang in ("fr", "en")},
                "expected": {lang: _month_day_text(month, day, lang) for lang in ("fr", "en")},
            })
        else:
            out.ok("START_DATE")


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
            raise InputDataError(f"funding: expected a mapping, got {costs!r}")
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
