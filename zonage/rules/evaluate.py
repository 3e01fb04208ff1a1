"""Apply the schemes' rules to located sites, vectorised over thousands of rows.

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

Whole applications are checked in :mod:`zonage.rules.application`; the facts of each
site are coded in :mod:`zonage.rules.facts`, the sentences' wording in
:mod:`zonage.rules.wording`, raw values coerced in :mod:`zonage.rules.coerce`.
"""

from __future__ import annotations

import functools
import itertools
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from zonage.errors import InputDataError
from zonage.rules.coerce import (
    _as_date,
    _isin,
    _scheme_map,
)
from zonage.rules.facts import (
    _BY_LANG,
    _CLASSES,
    _FLAGS,
    _ROW_FIELDS,
    _determines,
    _fact_of,
    _Facts,
    _group_ids,
    _Sites,
    _sites,
    _take_facts,
)
from zonage.rules.model import STATUSES, KindState, Role, Scheme, Status
from zonage.rules.wording import _COLON, _SEP, _day_text

__all__ = ["OUTPUT_COLUMNS", "evaluate_sites"]


#: Columns of :func:`evaluate_sites`' result.
OUTPUT_COLUMNS: tuple[str, ...] = ("row", "scheme", "role", "status", "reasons", "message_fr", "message_en")


# Kinds of reason codes: positive ground, information, uncertainty (fragile or unknown fact),
# class to review, negative ground, failure. Which kinds a sentence shows depends on the status.
# ``na``: the scheme is not open to the structure (its kind, its région).
_POS, _INFO, _UNC, _REV, _NEG, _FAIL, _NA = "pos", "info", "unc", "rev", "neg", "fail", "na"
_MAIN = {Status.ELIGIBLE: (_POS, _INFO), Status.NEEDS_REVIEW: (_UNC, _REV, _POS, _NEG, _INFO),
         Status.NOT_ELIGIBLE: (_FAIL, _NEG, _REV, _POS, _INFO), Status.NOT_APPLICABLE: (_NA,)}
_NOTES = {Status.ELIGIBLE: (_UNC,), Status.NEEDS_REVIEW: (), Status.NOT_ELIGIBLE: (_UNC,), Status.NOT_APPLICABLE: ()}


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


def _kind_state(role: Role, kinds: np.ndarray) -> np.ndarray:
    """Per row, how the role takes the structure's kind (:class:`KindState`).

    An unknown kind (a centre de santé of no known kind, or no kind at all) may be any of
    the kinds its FINESS category covers: it is a candidate for the role when the role
    accepts one of those.
    """
    from zonage.rules.kinds import kind_catalogue

    catalogue = kind_catalogue()
    state = np.full(len(kinds), KindState.REFUSED, dtype=np.int8)
    if not role.structure_types:
        state[:] = KindState.ACCEPTED
        return state
    for value in pd.unique(pd.Series(kinds, dtype=object).dropna()):
        rows = kinds == value
        kind = catalogue.get(value)
        if value in role.kinds:
            state[rows] = KindState.ACCEPTED
        elif value in role.review_kinds or (kind is not None and set(kind.review_as) & (role.kinds
                                                                                    | role.review_kinds)):
            state[rows] = KindState.TO_CHECK
        elif kind is not None and kind.unknown:
            covered = {k.id for k in catalogue.values() if set(k.finess) & set(kind.finess)} if kind.finess \
                else set(catalogue)
            if covered & (role.kinds | role.review_kinds):
                state[rows] = KindState.UNKNOWN
    missing = pd.isna(kinds)
    state[missing] = KindState.UNKNOWN
    return state


def _evaluate_role(scheme: Scheme, role: Role, f: _Facts, kinds: np.ndarray | None) -> _RoleResult:
    """Status (:class:`Status`) and reason codes of every row for one role of one (resolved) scheme."""
    n = f.n
    codes: list[_Code] = []

    def add(code: str, kind: str, mask: np.ndarray) -> None:
        if mask.any():
            codes.append(_Code(code, kind, mask))

    zone_status = np.full(n, Status.ELIGIBLE, dtype=np.int8)
    site = scheme.roles[scheme.site_role]
    if role.zones is not None:
        zone_status = _zone(role, f, add)
    elif role.id != scheme.site_role and site.zones is not None:
        add("ROLE_PARTNER", _INFO, np.ones(n, dtype=bool))
    else:
        add("ZONE_NOT_REQUIRED", _INFO, np.ones(n, dtype=bool))

    fail = zone_status == Status.NOT_ELIGIBLE
    review = zone_status == Status.NEEDS_REVIEW
    na = np.zeros(n, dtype=bool)
    if kinds is not None:
        state = _kind_state(role, kinds)
        accepted, to_check = state == KindState.ACCEPTED, state == KindState.TO_CHECK
        unknown, refused = state == KindState.UNKNOWN, state == KindState.REFUSED
        add("STRUCTURE_KIND_ACCEPTED", _INFO, accepted & ~f.kind_conflict)
        add("STRUCTURE_KIND_CONFLICT", _UNC, (accepted | to_check) & f.kind_conflict)
        add("STRUCTURE_KIND_TO_CHECK", _REV, to_check)
        add("STRUCTURE_KIND_UNKNOWN", _UNC, unknown)
        add("STRUCTURE_KIND_NOT_ACCEPTED", _NA, refused)
        review = review | to_check | unknown | (accepted & f.kind_conflict)
        na = na | refused
    if scheme.regions:
        known = pd.notna(f.region)
        outside = known & ~_isin(f.region, scheme.regions)
        add("REGION_NOT_COVERED", _NA, outside)
        add("REGION_UNKNOWN", _UNC, ~known)
        na = na | outside
        review = review | ~known
    status = np.select([na, fail, review], [Status.NOT_APPLICABLE, Status.NOT_ELIGIBLE, Status.NEEDS_REVIEW],
                       Status.ELIGIBLE).astype(np.int8)
    return _RoleResult(role, status, zone_status, codes)


def _zone(role: Role, f: _Facts, add: Any) -> np.ndarray:
    """Zone status (:class:`Status`: eligible, needs review or not eligible) and zone codes of every row.

    Grounds: the class of the doctors' zoning (only when the order in force at the date
    is loaded: ``order_state`` 0), membership of a QPV, and the speciality's deficit zones.
    """
    rule = role.zones
    assert rule is not None
    accepted = [c for c in rule.accepted if c not in ("QPV", "DEFICIT")]
    review = [c for c in rule.review if c not in ("QPV", "DEFICIT")]
    loc = f.located
    zeros = np.zeros(f.n, dtype=bool)
    commune_fragile = f.overlap | f.nearest | f.boundary | f.merged
    if rule.classes_matter:
        dated = f.order_state == 0
        cls = f.classe
        known = _isin(cls, _CLASSES) & loc
        cls_ok = _isin(cls, accepted) & loc & dated
        cls_review = _isin(cls, review) & loc & dated
        cls_unknown = loc & ~known & dated
        cls_no = known & ~cls_ok & ~cls_review & dated
        cls_undated = loc & ~dated
        cls_fragile = np.where(f.from_qpv, f.qpv_near, commune_fragile | f.from_postcode)
    else:
        cls = f.classe
        cls_ok = cls_review = cls_unknown = cls_no = cls_undated = cls_fragile = zeros

    if rule.qpv_matters:
        qpv_accepted = "QPV" in rule.accepted
        q_in = f.in_qpv == 1
        q_ok = q_in & qpv_accepted
        q_review = q_in & (not qpv_accepted)
        q_no = f.in_qpv == 0
        q_unknown = (f.in_qpv == -1) & loc
        q_fragile = f.qpv_near
    else:
        q_ok = q_review = q_no = q_unknown = q_fragile = zeros
        qpv_accepted = False

    if rule.deficit_matters:
        deficit_accepted = "DEFICIT" in rule.accepted
        d_in = (f.deficit == 1) & loc
        d_ok = d_in & deficit_accepted
        d_review = d_in & (not deficit_accepted)
        d_no = (f.deficit == 0) & loc
        d_unknown = (f.deficit < 0) & loc
    else:
        d_ok = d_review = d_no = d_unknown = zeros

    firm = (cls_ok & ~cls_fragile) | (q_ok & ~q_fragile) | (d_ok & ~commune_fragile)
    doubtful = (cls_ok | q_ok | d_ok | cls_review | q_review | cls_unknown | cls_undated | q_unknown | ~loc
                | (cls_no & cls_fragile) | (q_no & q_fragile) | (d_no & commune_fragile) | d_review | d_unknown)
    status = np.select([firm, doubtful], [Status.ELIGIBLE, Status.NEEDS_REVIEW], Status.NOT_ELIGIBLE).astype(np.int8)

    for c in accepted:
        is_c = cls_ok & (cls == c)
        add(f"ZONE_{c}", _POS, is_c & ~f.from_qpv)
        add(f"ZONE_{c}_QPV", _POS, is_c & f.from_qpv)
    add("ZONE_QPV", _POS, q_ok)
    add("SPECIALITY_DEFICIT", _POS, d_ok)
    commune_ground = loc & ~f.from_qpv & (rule.classes_matter or rule.deficit_matters)
    add("LOCATION_NONE", _UNC, ~loc)
    add("COMMUNE_ONLY", _UNC, q_unknown & f.commune_only)
    add("COMMUNE_OVERLAP", _UNC, f.overlap & commune_ground)
    add("COMMUNE_NEAREST", _UNC, f.nearest & commune_ground)
    add("COMMUNE_MERGED", _UNC, f.merged & commune_ground)
    add("CLASS_FROM_POSTCODE", _UNC, f.from_postcode & commune_ground & (f.order_state == 0))
    add("COMMUNE_BOUNDARY_NEAR", _UNC, f.boundary & commune_ground)
    qpv_relevant = rule.qpv_matters | (f.from_qpv & rule.classes_matter)
    add("QPV_BOUNDARY_NEAR", _UNC, f.qpv_near & (f.in_qpv == 1) & qpv_relevant)
    if rule.qpv_matters:
        add("QPV_NEARBY", _UNC, f.qpv_near & (f.in_qpv != 1))
    add("ZONING_ORDER_NOT_LOADED", _UNC, cls_undated & (f.order_state == 1))
    add("ZONING_DATE_NOT_COVERED", _UNC, cls_undated & (f.order_state == 2))
    add("CLASS_MIXED", _UNC, cls_unknown & (cls == "mixed"))
    add("CLASS_UNKNOWN", _UNC, cls_unknown & (cls != "mixed"))
    add("QPV_NOT_COVERED", _UNC, q_unknown & ~f.commune_only)
    add("SPECIALITY_MISSING", _UNC, (f.deficit == -2) & d_unknown)
    add("SPECIALITY_DEFICIT_UNKNOWN", _UNC, (f.deficit == -1) & d_unknown)
    add(rule.review_reason, _REV, cls_review)
    add("ZONE_QPV_TO_CHECK", _REV, q_review)
    add("ZONE_DEFICIT_TO_CHECK", _REV, d_review)
    hors = _isin(cls, ["HZ", "ZV"])
    add("ZONE_NOT_PRIORITY", _NEG, cls_no & hors)
    add("ZONE_CLASS_NOT_ACCEPTED", _NEG, cls_no & ~hors)
    if qpv_accepted:
        add("ZONE_NOT_QPV", _NEG, q_no)
    add("SPECIALITY_NO_DEFICIT", _NEG, d_no & ("DEFICIT" in rule.accepted))
    return status


# -- sentences ---------------------------------------------------------------------------------
def _fixed(scheme: Scheme, role: Role, lang: str, on: date, speciality: str | None) -> dict[str, str]:
    """Placeholders whose value is the same for every row of a scheme's role (in ``lang``)."""
    names = scheme.common.regions if scheme.common is not None else {}
    site = scheme.roles[scheme.site_role]
    return {
        "scheme": scheme.name(lang),
        "regions": ", ".join(names[r].name if r in names else r for r in scheme.regions),
        "role": role.label(lang),
        "site_role": site.label(lang),
        "accepted": ", ".join(role.zones.accepted) if role.zones is not None else "",
        "date": _day_text(on, lang),
        "speciality": speciality or "?",
    }


def _site_fields(scheme: Scheme, f: _Facts, role: Role, on: date, speciality: str | None) -> dict[str, Any]:
    """Every placeholder of a (one-row) application check: row facts, then ``{lang: text}`` fixed ones."""
    fields: dict[str, Any] = {k: v for k, v in f.fields.items() if k[:-3] not in _BY_LANG}
    for name in _BY_LANG:
        fields[name] = {lang: f.fields[f"{name}_{lang}"] for lang in ("fr", "en")}
    for lang in ("fr", "en"):
        for key, value in _fixed(scheme, role, lang, on, speciality).items():
            fields.setdefault(key, {})[lang] = value
    return fields


# -- sites -------------------------------------------------------------------------------------
def evaluate_sites(
    located: pd.DataFrame,
    schemes: Mapping[str, Scheme] | Iterable[Scheme] | Scheme | None = None,
    *,
    kinds: pd.DataFrame | None = None,
    categories: pd.Series | None = None,
    region: pd.Series | None = None,
    fragile_m: float = 50.0,
    date: date | datetime | str | None = None,
    speciality: str | None = None,
) -> pd.DataFrame:
    """Eligibility of every located site for every scheme, with reasons (vectorised).

    Parameters
    ----------
    located
        Output of :meth:`zonage.locate.Locator.locate` (``insee``, ``commune_nom``,
        ``commune_method``, ``commune_boundary_m``, ``qpvG``/``qpvG_nom``/
        ``qpvG_boundary_m``/``qpvG_covered`` per QPV generation G, ``classe``,
        ``classe_source``, ``classe_commune``, ``classe_qpv``, ``zoning_vintage``).
        Optional columns: ``commune_candidates``, ``region``, ``commune_merged`` (bool,
        commune code changed by a merger) or ``commune_relation`` (``"merged"``),
        ``speciality_deficit`` (bool: the commune is a deficit zone of ``speciality``,
        see :func:`zonage.rules.deficits.deficit_of`). A ``commune_method`` other than
        grid/exact/overlap/nearest/none (e.g. ``"commune"``) means only the commune is
        known. Without ``zoning_vintage`` the classes are taken as those of the order in
        force at ``date``.
    schemes
        Output of :func:`~zonage.rules.load.load_schemes` (None: the packaged schemes).
    kinds
        Kind of structure of each site (same order as ``located``), as
        :func:`zonage.rules.kinds.classify` returns it (``type``, ``type_source``,
        ``type_label_fr``, ``type_label_en``). Each site is then checked for the parts
        of the scheme its kind may host and the best answer is kept; a kind no part
        accepts gives ``not_applicable``, an unknown kind ``needs_review``. None (and no
        ``categories``): each scheme's host site (``site_role``) is checked, zone only.
    categories
        FINESS category code of each site, a shortcut for ``kinds=classify(categories)``.
    region
        INSEE région code of each site (région-specific rules, zoning order); by default
        the ``region`` column of ``located``, else derived from the commune code.
    fragile_m
        Distance (m) to a commune or QPV boundary below which an answer is fragile.
    date
        Date of the question: zoning order and QPV generation in force, dated overrides;
        default today.
    speciality
        Speciality of the post (schemes whose zone is the speciality's deficit zone);
        None: not given (those answers are "to check" and say so).

    Returns
    -------
    pandas.DataFrame
        One row per input row and scheme (scheme by scheme, rows in input order),
        columns ``row`` (input position), ``scheme``, ``role``, ``status`` (eligible /
        needs_review / not_eligible / not_applicable), ``reasons`` (``;``-joined codes),
        ``message_fr``, ``message_en``. The text columns are :class:`pandas.Categorical`,
        each distinct text stored once (categories of ``scheme``, ``role``, ``status`` and
        ``reasons`` in lexical order, of the messages in order of writing; ``status`` is
        ordered eligible < needs_review < not_eligible < not_applicable). They compare,
        ``map``, ``isin``, group and pivot like strings; to concatenate text or to assign
        values that are not categories yet, convert first with ``.astype(object)``.

    Notes
    -----
    The answer of a row depends only on a few facts (flags, class, région, kind, zoning
    order, deficit) and the texts its sentences quote (commune, QPV, distances rounded to
    the metre…). Rows are grouped by these facts, each scheme's rules run once per group
    of identical deciding facts, and each distinct message is written once, then broadcast
    by integer codes: no Python work per row.
    """
    scheme_map = _scheme_map(schemes)
    n = len(located)
    if not scheme_map or n == 0:
        return _result(0, [], {})
    on = _as_date(date)
    common = next(iter(scheme_map.values())).common
    assert common is not None
    if kinds is None and categories is not None:
        from zonage.rules.kinds import classify

        if len(categories) != n:
            raise InputDataError(f"categories: {len(categories)} values for {n} located rows")
        kinds = classify(category=categories)
    sites = _sites(located, region, on, fragile_m, common, kinds, speciality)
    return _Batch(sites, on, speciality).run(list(scheme_map.values()))


#: Placeholders whose value a sentence can only show where a flag holds, as long as only the
#: listed codes' sentences use them: elsewhere their value is left out of the grouping.
_GATES: dict[str, tuple[str, frozenset[str]]] = {
    "commune_distance": ("boundary", frozenset({"COMMUNE_BOUNDARY_NEAR"})),
    "qpv_distance": ("qpv_near", frozenset({"QPV_BOUNDARY_NEAR", "QPV_NEARBY"})),
    "candidates": ("overlap", frozenset({"COMMUNE_OVERLAP"})),
}


#: Facts usually determined by another one (name by code): then left out of the grouping.
_DETERMINED: dict[str, str] = {"commune": "insee", "qpv_nom": "qpv"}


#: Facts the sentences may quote besides the deciding ones, in grouping order.
_QUOTED: tuple[str, ...] = ("insee", "commune", "qpv", "qpv_nom", "generation", "commune_distance", "qpv_distance",
                            "candidates", "classe_commune", "classe_qpv", "type_label_fr", "type_label_en",
                            "order_fr", "order_en", "order_loaded_fr", "order_loaded_en")


@functools.lru_cache(maxsize=4096)
def _parse(template: str) -> tuple[tuple[str, str | None], ...]:
    """(literal, placeholder) pairs of a template, as ``str.format`` reads them."""
    return tuple((literal, name) for literal, name, _, _ in string.Formatter().parse(template))


#: A piece of sentence (one reason code's text): parts ``("L", text)`` (literal) or
#: ``("F", placeholder)`` (a fact of the row).
_Piece = tuple[tuple[Any, ...], ...]


def _piece_facts(piece: _Piece) -> tuple[str, ...]:
    """Coded facts a piece quotes."""
    return tuple(sorted({_fact_of(p[1]) for p in piece if p[0] == "F"}))


def _concat(parts: list[Any], k: int) -> list[str]:
    """``k`` texts, each the concatenation of ``parts``: strings (the same in every text) or lists."""
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    if all(isinstance(p, str) for p in merged):
        return ["".join(merged)] * k
    columns = (itertools.repeat(p) if isinstance(p, str) else p for p in merged)
    return list(map("".join, zip(*columns, strict=False)))  # repeats are endless


@dataclass(frozen=True)
class _Sentence:
    """How one status sentence is written: status label, pieces (main, notes) and separators."""

    label: str
    notes_label: str
    colon: str
    sep: str
    main: tuple[_Piece, ...]
    notes: tuple[_Piece, ...]

    def facts(self) -> tuple[str, ...]:
        """Coded facts the sentence quotes."""
        return tuple(sorted({f for piece in (*self.main, *self.notes) for f in _piece_facts(piece)}))

    def flat(self) -> list[tuple[Any, ...]] | None:
        """The sentence as literals (``("L", text)``) and pieces (``("P", piece)``).

        None when a piece may be empty (an empty piece drops its separator).
        """
        if not all(any(p[0] == "L" for p in piece) for piece in (*self.main, *self.notes)):
            return None
        out: list[tuple[Any, ...]] = [("L", self.label)]
        for i, piece in enumerate(self.main):
            out += [("L", self.colon if i == 0 else self.sep), ("P", piece)]
        for i, piece in enumerate(self.notes):
            out += [("L", " — " + self.notes_label + self.colon if i == 0 else self.sep), ("P", piece)]
        return out


class _Batch:
    """What :func:`evaluate_sites` shares between schemes for one located frame.

    Rows are grouped twice: ``sig`` groups rows with the same deciding facts (the rules
    run once per group), ``u`` groups rows whose sentences are the same for every scheme
    (``sig`` plus every fact a sentence may quote). Each distinct message is written once,
    whatever the scheme, and found again by its sentence and the codes of the facts it
    quotes.
    """

    def __init__(self, sites: _Sites, on: date, speciality: str | None = None) -> None:
        self.sites = sites
        self.on = on
        self.speciality = speciality
        self.roles: dict[str, int] = {}
        self.reasons: dict[str, int] = {}
        self.sentences: dict[_Sentence, int] = {}
        self.sentence_list: list[_Sentence] = []
        self.messages: dict[str, list[str]] = {"fr": [], "en": []}
        self.written: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.subkeys: dict[tuple[str, ...], np.ndarray] = {}
        self.determined: dict[str, str] = {}

    def run(self, schemes: list[Scheme]) -> pd.DataFrame:
        """The result frame of :func:`evaluate_sites`."""
        s = self.sites
        region_codes = np.flatnonzero(np.bincount(s.text["region"].codes + 1, minlength=1)) - 1
        region_values = s.text["region"].values
        resolved = [{int(r): scheme.resolve(None if r < 0 else str(region_values[r]), self.on) for r in region_codes}
                    for scheme in schemes]
        variants = list({id(v): v for by_region in resolved for v in by_region.values()}.values())
        self.group(variants)
        sig_facts = s.facts(self.sig_first)
        sig_kinds = s.kinds(self.sig_first)
        sig_region = s.text["region"].codes[self.sig_first]
        per_scheme = []
        for by_region in resolved:
            out = {k: np.zeros(len(self.sig_first), dtype=np.int64) for k in ("status", "role", "reasons", "fr", "en")}
            variants_used: dict[int, list[int]] = {}
            for r, variant in by_region.items():
                variants_used.setdefault(id(variant), []).append(r)
            for regions in variants_used.values():
                idx = np.flatnonzero(np.isin(sig_region, regions))
                if len(idx):
                    self.decide(by_region[regions[0]], _take_facts(sig_facts, idx),
                                None if sig_kinds is None else sig_kinds[idx], idx, out)
            for lang in ("fr", "en"):
                out[lang] = self.write(out[lang], lang)
            per_scheme.append(out)
        return self.result([scheme.id for scheme in schemes], per_scheme)

    # -- grouping rows ------------------------------------------------------------------------
    def group(self, variants: list[Scheme]) -> None:
        """Group rows by deciding facts (``sig``) and by everything their sentences may quote (``u``)."""
        s = self.sites
        n = s.n
        flags = np.zeros(n, dtype=np.int64)
        for i, name in enumerate(_FLAGS):
            flags |= s.flags[name].astype(np.int64) << i
        flags |= (s.in_qpv.astype(np.int64) + 1) << len(_FLAGS)
        flags |= s.order_state.astype(np.int64) << (len(_FLAGS) + 2)
        flags |= (s.deficit.astype(np.int64) + 2) << (len(_FLAGS) + 4)
        deciding = [flags, s.text["classe"].codes, s.text["region"].codes, s.text["kind"].codes]
        self.sig_row, self.sig_first = _group_ids(deciding, n)
        used: dict[str, set[str]] = {}
        review_reasons = {r.zones.review_reason for v in variants for r in v.roles.values() if r.zones is not None}
        for variant in variants:
            for code, template in variant.reasons.items():
                for text in (template.fr, template.en):
                    for _, placeholder in _parse(text):
                        if placeholder is None:
                            continue
                        keys = (f"{placeholder}_fr", f"{placeholder}_en") if placeholder in _BY_LANG else (placeholder,)
                        for key in keys:
                            used.setdefault(key, set()).add(code)
        codes: dict[str, np.ndarray] = {}
        for fact in _QUOTED:
            users = set().union(*(used.get(p, set()) for p, (f, _) in _ROW_FIELDS.items() if f == fact))
            if not users:
                continue
            codes[fact] = s.text[fact].codes
            gate = _GATES.get(fact)
            if gate is not None and users <= gate[1] and not review_reasons & gate[1]:
                codes[fact] = np.where(s.flags[gate[0]], codes[fact], -1)
        for fact, key in _DETERMINED.items():
            if fact in codes and key in codes and _determines(codes[key], codes[fact]):
                self.determined[fact] = key
        quoted = [c for f, c in codes.items() if f not in self.determined]
        self.u_row, u_first = _group_ids([self.sig_row, *quoted], n)
        self.u_sig = self.sig_row[u_first]
        for fact in ("classe", "region", "kind"):
            codes[fact] = s.text[fact].codes
        self.ucodes = {k: v[u_first] for k, v in codes.items()}
        self.n_u = len(u_first)

    # -- one scheme ---------------------------------------------------------------------------
    def decide(self, scheme: Scheme, f: _Facts, kinds: np.ndarray | None, idx: np.ndarray,
               out: dict[str, np.ndarray]) -> None:
        """Status, role, reasons and sentence of the ``sig`` groups ``idx`` (facts ``f``) for one scheme."""
        roles = list(scheme.roles.values())
        site_j = list(scheme.roles).index(scheme.site_role)
        if kinds is None:
            results = {site_j: _evaluate_role(scheme, roles[site_j], f, None)}
            choice = np.full(f.n, site_j)
        else:
            results = {j: _evaluate_role(scheme, role, f, kinds) for j, role in enumerate(roles)}
            rank = np.full((len(roles), f.n), 10_000)
            for j in range(len(roles)):
                priority = 0 if j == site_j else j + 1
                statuses = results[j].status.astype(int)
                rank[j] = np.where(statuses < Status.NOT_APPLICABLE, statuses * 100 + priority, 10_000)
            choice = rank.argmin(axis=0)
            choice[rank.min(axis=0) == 10_000] = site_j
        for j, result in results.items():
            rows = np.flatnonzero(choice == j)
            if not len(rows):
                continue
            shown = np.column_stack([result.status[rows], *(c.mask[rows] for c in result.codes)]).astype(np.int8)
            patterns, which = np.unique(shown, axis=0, return_inverse=True)
            which = which.ravel()
            role_id = self.roles.setdefault(result.role.id, len(self.roles))
            for p, pattern in enumerate(patterns):
                status = Status(int(pattern[0]))
                on = [c for c, flag in zip(result.codes, pattern[1:], strict=True) if flag]
                main = [c.code for kind in _MAIN[status] for c in on if c.kind == kind]
                notes = [c.code for kind in _NOTES[status] for c in on if c.kind == kind]
                target = idx[rows[which == p]]
                out["status"][target] = status
                out["role"][target] = role_id
                out["reasons"][target] = self.reasons.setdefault(";".join(main + notes), len(self.reasons))
                for lang in ("fr", "en"):
                    out[lang][target] = self.sentence(scheme, result.role, status, main, notes, lang)

    def sentence(self, scheme: Scheme, role: Role, status: Status, main: list[str], notes: list[str],
                 lang: str) -> int:
        """Id of the sentence of a status and reason codes (the rows' facts left open)."""
        fixed = _fixed(scheme, role, lang, self.on, self.speciality)

        def piece(code: str) -> _Piece:
            parts: list[tuple[Any, ...]] = []
            for literal, name in _parse(scheme.template(code).text(lang)):
                parts.append(("L", literal))
                if name in _BY_LANG:
                    parts.append(("F", f"{name}_{lang}"))
                elif name in _ROW_FIELDS:
                    parts.append(("F", name))
                elif name is not None:
                    parts.append(("L", fixed.get(name, "")))
            merged: list[tuple[Any, ...]] = []
            for part in parts:
                if part[0] == "L" and merged and merged[-1][0] == "L":
                    merged[-1] = ("L", merged[-1][1] + part[1])
                elif part != ("L", ""):
                    merged.append(part)
            return tuple(merged)

        key = _Sentence(scheme.label(STATUSES[status], lang), scheme.label("notes", lang), _COLON[lang], _SEP[lang],
                        tuple(piece(c) for c in main), tuple(piece(c) for c in notes))
        if key not in self.sentences:
            self.sentences[key] = len(self.sentence_list)
            self.sentence_list.append(key)
        return self.sentences[key]

    # -- sentences ----------------------------------------------------------------------------
    def keys(self, facts: tuple[str, ...], us: np.ndarray) -> np.ndarray:
        """Integer key of the values of ``facts`` for ``u`` groups ``us`` (equal key, equal texts)."""
        plain = tuple(f for f in facts if self.determined.get(f) not in facts)
        if plain not in self.subkeys:
            self.subkeys[plain] = _group_ids([self.ucodes[f] for f in plain], self.n_u)[0] if plain \
                else np.zeros(self.n_u, dtype=np.int64)
        return self.subkeys[plain][us]

    def write(self, sentence_of_sig: np.ndarray, lang: str) -> np.ndarray:
        """Message id of each ``u`` group, writing the messages not written yet.

        A message is known by its sentence and the key of the facts it quotes; the keys of
        all ``u`` groups are computed by groups of sentences quoting the same facts, looked
        up together, and only new ones are written.
        """
        sentence_u = sentence_of_sig[self.u_sig]
        span = max(self.n_u, 1)  # keys of any sentence are below this
        sids = np.unique(sentence_u)
        facts = [self.sentence_list[sid].facts() for sid in sids]
        groups = {f: i for i, f in enumerate(dict.fromkeys(facts))}
        group_of = np.zeros(int(sids.max()) + 1, dtype=np.int64)
        group_of[sids] = [groups[f] for f in facts]
        group_u = group_of[sentence_u]
        key = np.empty(self.n_u, dtype=np.int64)
        for f, g in groups.items():
            members = np.flatnonzero(group_u == g)
            key[members] = sentence_u[members] * span + self.keys(f, members)
        unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        known = self.written.get(lang)
        ids = _lookup(known, unique, -1)
        todo = np.flatnonzero(ids < 0)
        if len(todo):
            messages = self.messages[lang]
            ids[todo] = np.arange(len(messages), len(messages) + len(todo))
            sid_todo = unique[todo] // span
            starts = np.flatnonzero(np.r_[True, sid_todo[1:] != sid_todo[:-1]])
            for start, end in zip(starts, np.r_[starts[1:], len(todo)], strict=True):
                sentence = self.sentence_list[int(sid_todo[start])]
                messages.extend(self.render(sentence, first[todo[start:end]], lang))
            self.written[lang] = _merge(known, unique[todo], ids[todo])
        return ids[inverse.ravel()]

    def values(self, part: tuple[Any, ...], us: np.ndarray) -> np.ndarray:
        """Texts of a fact part for ``u`` groups ``us``."""
        return self.sites.table(part[1])[self.ucodes[_fact_of(part[1])][us]]

    def render(self, sentence: _Sentence, us: np.ndarray, lang: str) -> list[str]:
        """The messages of ``u`` groups ``us``, as the rules state them.

        ``status label : piece ; piece — notes label : piece``; as in the rules' texts,
        an empty piece adds no separator and an empty list no colon.
        """
        k = len(us)
        columns: dict[tuple[Any, ...], list[str]] = {}

        def text(part: tuple[Any, ...]) -> str | list[str]:
            if part[0] == "L":
                return part[1]
            if part not in columns:
                columns[part] = self.values(part, us).tolist()
            return columns[part]

        flat = sentence.flat()
        if flat is not None:
            return _concat([text(part) for kind, value in flat for part in ([("L", value)] if kind == "L" else value)],
                           k)

        def join(pieces: tuple[_Piece, ...]) -> np.ndarray:
            acc = np.full(k, "", dtype=object)
            for piece in pieces:
                words = np.array([*_concat([text(part) for part in piece], k), ""], dtype=object)[:-1]
                acc = np.where(acc == "", words, acc + sentence.sep + words)
            return acc

        main = join(sentence.main)
        message = np.where(main == "", sentence.label, sentence.label + sentence.colon + main)
        notes = join(sentence.notes)
        message = np.where(notes != "", message + " — " + sentence.notes_label + sentence.colon + notes, message)
        return message.tolist()

    # -- result -------------------------------------------------------------------------------
    def result(self, scheme_ids: list[str], per_scheme: list[dict[str, np.ndarray]]) -> pd.DataFrame:
        """One block of rows per scheme; text columns as categoricals built from codes."""
        columns = {
            "status": (list(STATUSES), "status", self.sig_row, False),
            "role": (list(self.roles), "role", self.sig_row, True),
            "reasons": (list(self.reasons), "reasons", self.sig_row, True),
            "message_fr": (self.messages["fr"], "fr", self.u_row, False),
            "message_en": (self.messages["en"], "en", self.u_row, False),
        }
        return _result(self.sites.n, scheme_ids, {
            name: (names, [p[key] for p in per_scheme], rows, lexical)
            for name, (names, key, rows, lexical) in columns.items()
        })


def _lookup(known: tuple[np.ndarray, np.ndarray] | None, keys: np.ndarray, missing: Any) -> np.ndarray:
    """Values stored for sorted distinct ``keys`` in ``known`` (sorted keys, values); ``missing`` elsewhere."""
    if known is None or not len(known[0]):
        return np.full(len(keys), missing, dtype=np.int64 if isinstance(missing, int) else object)
    stored, values = known
    at = np.minimum(np.searchsorted(stored, keys), len(stored) - 1)
    return np.where(stored[at] == keys, values[at], missing).astype(values.dtype)


def _merge(known: tuple[np.ndarray, np.ndarray] | None, keys: np.ndarray, values: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """``known`` with new (key, value) pairs added, keys kept sorted."""
    if known is not None:
        keys, values = np.concatenate([known[0], keys]), np.concatenate([known[1], values])
    order = np.argsort(keys, kind="stable")
    return keys[order], values[order]


def _result(n: int, scheme_ids: list[str],
            columns: dict[str, tuple[list[str], list[np.ndarray], np.ndarray, bool]]) -> pd.DataFrame:
    """The result frame.

    ``columns``: per text column, its distinct texts, each scheme's code of each group of
    rows, the group of each row, and whether to sort the categories.
    """
    k = len(scheme_ids)
    row = np.empty((k, n), dtype=np.int64)
    row[:] = np.arange(n)
    out: dict[str, Any] = {"row": row.reshape(-1)}
    out["scheme"] = _categorical([np.arange(k)], np.repeat(np.arange(k, dtype=np.int8), n), scheme_ids, sort=True)
    for name in ("role", "status", "reasons", "message_fr", "message_en"):
        names, codes, rows, lexical = columns.get(name, (list(STATUSES) if name == "status" else [], [], None,
                                                          name != "status"))
        out[name] = _categorical(codes, rows, names, sort=lexical, ordered=name == "status")
    return pd.DataFrame(out, copy=False)


def _categorical(parts: list[np.ndarray], rows: np.ndarray | None, names: list[str], sort: bool,
                 ordered: bool = False) -> pd.Categorical:
    """Categorical of ``names[part[rows]]`` for each part, concatenated.

    ``names`` are distinct but for rare repeated sentences (merged here). Categories are
    sorted when ``sort``, else in the order of ``names``.
    """
    table = np.array([*names, ""], dtype=object)[:-1]
    try:
        dtype = pd.CategoricalDtype(pd.Index(table, dtype=object), ordered=ordered) if not sort else None
        remap = np.arange(len(names))
    except ValueError:  # the same text written by two different sentences
        dtype = None
    if dtype is None:
        remap, uniques = pd.factorize(table)
        order = np.argsort(uniques, kind="stable") if sort else np.arange(len(uniques))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        remap = rank[remap]
        dtype = pd.CategoricalDtype(pd.Index(uniques[order], dtype=object), ordered=ordered)
    size = len(dtype.categories)
    small: type[np.signedinteger[Any]] = np.int8 if size < 1 << 7 else np.int16 if size < 1 << 15 else np.int32
    n = 0 if rows is None else len(rows)
    codes: np.ndarray[Any, np.dtype[np.signedinteger[Any]]] = np.empty(n * len(parts), dtype=small)
    if rows is not None:
        for i, part in enumerate(parts):
            np.take(remap[part].astype(small), rows, out=codes[i * n:(i + 1) * n])
    return pd.Categorical.from_codes(codes, categories=dtype.categories, ordered=ordered, validate=False)
