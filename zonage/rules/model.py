"""Typed model of a recruitment scheme (dispositif), as read from its TOML rules file.

A :class:`Scheme` is pure data: which zone classes its host site may be in, which
FINESS categories each part (:class:`Role`) accepts, which doctor profile it asks
for (:class:`Condition`), which shares of time, which duration and which funding.
Every condition carries a stable machine-readable reason code; the French and
English sentences of each code are :class:`Template` objects (``str.format``
placeholders from :data:`PLACEHOLDERS`). The engine (:mod:`zonage.rules.evaluate`)
interprets these objects; :mod:`zonage.rules.load` builds and validates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from types import MappingProxyType
from typing import Any, Literal, get_args

from zonage.errors import ZonageError
from zonage.regions import Region, region_code

__all__ = [
    "APPLICATION_CODES",
    "CONDITION_TESTS",
    "FUNDING_KINDS",
    "PLACEHOLDERS",
    "SITE_CODES",
    "STATUSES",
    "ZONE_CLASSES",
    "Common",
    "Condition",
    "ConditionTest",
    "Funding",
    "FundingKind",
    "Override",
    "Posts",
    "QpvGeneration",
    "Region",
    "Role",
    "RulesError",
    "Scheme",
    "ShareRule",
    "StructureType",
    "Template",
    "ZoneClass",
    "ZoneRule",
    "ZoningOrder",
]


class RulesError(ZonageError):
    """A rules file is malformed; the message names the file, the key path and the problem."""


#: Zone classes a rule may name. ``QPV`` means "inside a QPV polygon of the generation in
#: force" (whatever the QPV's own class); the others are classes of the doctors' zoning
#: (``ZV`` = zone de vigilance, ``ZAR`` = regional class, ``HZ`` = hors zonage). ``DEFICIT``
#: means "in a zone where the post's speciality is in deficit", read from a list of deficit
#: zones the user gives (the ARS's, per speciality): not the GP zoning.
ZoneClass = Literal["ZIP", "ZAC", "ZAR", "ZV", "HZ", "QPV", "DEFICIT"]
ZONE_CLASSES: tuple[str, ...] = get_args(ZoneClass)

#: Statuses of an answer, best first. ``not_applicable``: the scheme is not open in the
#: structure's région, or to its kind of structure (no part of the scheme may be hosted there).
STATUSES: tuple[str, ...] = ("eligible", "needs_review", "not_eligible", "not_applicable")


class Status(IntEnum):
    """An answer's status as the engine codes it in arrays (best first); ``code`` is the text of :data:`STATUSES`."""

    ELIGIBLE = 0
    NEEDS_REVIEW = 1
    NOT_ELIGIBLE = 2
    NOT_APPLICABLE = 3

    @property
    def code(self) -> str:
        """Machine name (``eligible``, ``needs_review``, ``not_eligible``, ``not_applicable``)."""
        return STATUSES[self.value]


class KindState(IntEnum):
    """How a role takes a structure's kind (see :func:`zonage.rules.evaluate._kind_state`)."""

    ACCEPTED = 0
    TO_CHECK = 1  # accepted subject to a check the seeds ask for
    UNKNOWN = 2  # the kind is not known: may be one the role accepts
    REFUSED = 4

#: Tests a doctor-profile condition may use (see :class:`Condition`).
ConditionTest = Literal[
    "true", "false", "in", "not_in", "region_in", "years_since_max", "on_or_before_month_day", "min", "max",
]
CONDITION_TESTS: tuple[str, ...] = get_args(ConditionTest)

#: Funding kinds (see :class:`Funding`).
FundingKind = Literal["monthly_flat", "share_of_cost", "not_specified"]
FUNDING_KINDS: tuple[str, ...] = get_args(FundingKind)

#: Placeholders a sentence template may use. Site-level ones are filled by
#: :func:`~zonage.rules.evaluate.evaluate_sites`, the others by ``check_application``.
PLACEHOLDERS: Mapping[str, str] = MappingProxyType({
    # site
    "insee": "commune code (COG) of the point",
    "commune": "commune name",
    "classe": "zoning class used for the answer (ZIP, ZAC, ZAR, HZ, unknown, mixed)",
    "classe_commune": "zoning class of the commune",
    "classe_qpv": "zoning class of the QPV (when the order classes QPV on their own)",
    "qpv": "QPV code (generation in force) containing the point",
    "qpv_nom": "QPV name",
    "generation": "QPV generation in force (2015 or 2024)",
    "commune_distance": "distance (m) to the commune boundary",
    "qpv_distance": "distance (m) to the nearest QPV boundary",
    "candidates": "communes whose polygons overlap at the point",
    "type_label": "kind of structure and its basis (centre de santé dentaire (d'après le nom))",
    "order": "zoning order used for the answer (or in force at the date)",
    "order_loaded": "zoning order whose classes are loaded for the région",
    "date": "date of the question",
    "speciality": "speciality of the post",
    "role": "label of the scheme's part (partie ambulatoire…)",
    "site_role": "label of the scheme's part that carries the zone condition",
    "region": "INSEE région code",
    "region_name": "région name",
    "regions": "régions the scheme is limited to",
    "scheme": "scheme name",
    "accepted": "zone classes the rule accepts",
    # application
    "field": "name of the application field",
    "actual": "value given in the application",
    "value": "value the condition expects",
    "limit": "limit of the condition",
    "years": "years elapsed",
    "deadline": "deadline date",
    "share": "share of time (%)",
    "min": "minimum share (%)",
    "max": "maximum share (%)",
    "total": "sum of the shares (%)",
    "duration": "duration asked (years)",
    "expected": "value the scheme provides",
    "monthly": "monthly amount (€)",
    "months": "number of months",
    "amount": "total amount (€)",
    "rate": "rate (%)",
    "cost": "annual cost (€)",
    "cost_key": "application key holding the cost",
    "note": "free note of the scheme",
    "declared": "value declared by the application",
    "distance": "distance (m)",
    "finess_insee": "commune of the FINESS point",
})

#: Reason codes the site engine may emit for any scheme (templates required).
SITE_CODES: tuple[str, ...] = (
    "ZONE_QPV", "ZONE_NOT_PRIORITY", "ZONE_CLASS_NOT_ACCEPTED", "ZONE_NOT_QPV", "ZONE_NOT_REQUIRED",
    "ZONE_QPV_TO_CHECK",
    "LOCATION_NONE", "CLASS_UNKNOWN", "CLASS_MIXED", "QPV_NOT_COVERED", "COMMUNE_ONLY",
    "COMMUNE_OVERLAP", "COMMUNE_NEAREST", "COMMUNE_BOUNDARY_NEAR", "COMMUNE_MERGED",
    "QPV_BOUNDARY_NEAR", "QPV_NEARBY",
    "STRUCTURE_KIND_ACCEPTED", "STRUCTURE_KIND_TO_CHECK", "STRUCTURE_KIND_UNKNOWN", "STRUCTURE_KIND_CONFLICT",
    "STRUCTURE_KIND_NOT_ACCEPTED", "REGION_NOT_COVERED", "REGION_UNKNOWN", "ROLE_PARTNER",
    "ZONING_ORDER_NOT_LOADED", "ZONING_DATE_NOT_COVERED", "SPECIALITY_MISSING", "SPECIALITY_DEFICIT",
    "SPECIALITY_NO_DEFICIT", "SPECIALITY_DEFICIT_UNKNOWN", "ZONE_DEFICIT_TO_CHECK",
)

#: Codes used by :func:`~zonage.rules.evaluate.check_application` for any scheme.
APPLICATION_CODES: tuple[str, ...] = (
    "ROLE_MISSING", "ROLE_MISSING_ONE_OF", "PROFILE_INFO_MISSING",
    "SHARE_BELOW_MIN", "SHARE_ABOVE_MAX", "SHARE_MISSING", "SHARES_ABOVE_100",
    "DURATION_TOO_LONG", "DURATION_TOO_SHORT", "START_DATE_UNUSUAL",
    "FUNDING_MONTHLY", "FUNDING_SHARE_OF_COST", "FUNDING_COST_MISSING", "FUNDING_NOT_SPECIFIED",
    "REGION_DECLARED_DIFFERS", "FINESS_ELSEWHERE",
)

#: Labels every rules set defines (status words and the "no effect" prefix of notes).
LABELS: tuple[str, ...] = ("eligible", "needs_review", "not_eligible", "not_applicable", "partner", "notes")


@dataclass(frozen=True)
class Template:
    """French and English sentence of a reason code (``str.format`` placeholders)."""

    fr: str
    en: str

    def text(self, lang: str) -> str:
        """The sentence in ``lang`` (``"fr"`` or ``"en"``)."""
        return self.fr if lang == "fr" else self.en


@dataclass(frozen=True)
class StructureType:
    """A kind of structure a role accepts (see ``structure_kinds.toml``).

    ``review``: the texts do not name this kind for the role, or only by assumption: a
    structure of this kind gets "to check" (the reason is in the scheme file's comments).
    """

    kind: str
    review: bool = False

@dataclass(frozen=True)
class ZoneRule:
    """Zone classes accepted for a role's site.

    ``accepted`` classes make the site eligible; ``review`` classes make the answer
    ``needs_review`` with reason ``review_reason`` (e.g. a regional class the seeds do
    not mention); any other class is not eligible.
    """

    accepted: tuple[str, ...]
    review: tuple[str, ...] = ()
    review_reason: str = "ZONE_CLASS_TO_CHECK"

    @property
    def qpv_matters(self) -> bool:
        """True when being inside a QPV can change the answer."""
        return "QPV" in self.accepted or "QPV" in self.review

    @property
    def deficit_matters(self) -> bool:
        """True when the speciality's deficit zones can change the answer."""
        return "DEFICIT" in self.accepted or "DEFICIT" in self.review

    @property
    def classes_matter(self) -> bool:
        """True when the class of the doctors' zoning can change the answer."""
        return any(c not in ("QPV", "DEFICIT") for c in (*self.accepted, *self.review))

    def codes(self) -> set[str]:
        """Reason codes this rule may emit besides the engine's common ones."""
        codes = {f"ZONE_{c}" for c in self.accepted if c not in ("QPV", "DEFICIT")}
        codes |= {f"ZONE_{c}_QPV" for c in self.accepted if c not in ("QPV", "DEFICIT")}
        if self.review:
            codes.add(self.review_reason)
        return codes


@dataclass(frozen=True)
class ShareRule:
    """Share of working time (%) in one role: bounds, default, and whether a miss is a failure."""

    min: float | None = None
    max: float | None = None
    default: float | None = None
    strict: bool = True


@dataclass(frozen=True)
class Role:
    """One part of a scheme (``ambulatoire``, ``hospitalier``…) and the structure hosting it.

    ``keys`` are the application keys naming this part's structure and share
    (``"ambulatory"``, ``"hospital"``…). An empty ``structure_types`` accepts any
    kind of structure; ``zones`` None means no zone condition for this part.
    """

    id: str
    label_fr: str
    label_en: str
    keys: tuple[str, ...]
    structure_types: tuple[StructureType, ...] = ()
    zones: ZoneRule | None = None
    share: ShareRule | None = None
    required: bool = True

    def label(self, lang: str) -> str:
        """The part's label in ``lang``."""
        return self.label_fr if lang == "fr" else self.label_en

    @property
    def kinds(self) -> frozenset[str]:
        """Kinds accepted outright."""
        return frozenset(t.kind for t in self.structure_types if not t.review)

    @property
    def review_kinds(self) -> frozenset[str]:
        """Kinds accepted subject to a check."""
        return frozenset(t.kind for t in self.structure_types if t.review)


@dataclass(frozen=True)
class Condition:
    """A doctor-profile condition: ``test`` applied to ``doctor[field]``.

    Tests: ``true``/``false`` (booleans), ``in``/``not_in`` (``value`` a list;
    specialities are compared after normalisation), ``years_since_max`` (years
    from the date ``field`` to the post's start ≤ ``value``; between
    ``review_from`` and ``value`` → needs review), ``on_or_before_month_day``
    (date ≤ ``value`` = ``"MM-DD"`` of the start year), ``min``/``max`` (numbers).
    ``any_of`` holds alternatives: the condition holds when one of them does.
    ``if_missing`` says what a missing field gives: ``review``, ``fail`` or ``pass``;
    ``on_fail`` what a failed test gives: ``fail`` (not eligible) or ``review``.
    ``soften_if``: a condition that, when it holds, turns a failure into ``review``
    (reason code ``<code>_<SOFTEN_CODE>``, e.g. AUMG beyond 5 years but holding the DES).
    """

    code: str
    field: str | None = None
    test: str | None = None
    value: Any = None
    review_from: float | None = None
    if_missing: str = "review"
    on_fail: str = "fail"
    any_of: tuple[Condition, ...] = ()
    note: str = ""
    soften_if: Condition | None = None
    soften_code: str = ""


@dataclass(frozen=True)
class Funding:
    """What the ARS pays.

    ``monthly_flat``: ``monthly_eur`` per month over the duration (AUMG).
    ``share_of_cost``: ``rate_percent`` of a reference annual cost (given by the
    application under ``funding.<cost_key>``) applied to ``role``'s share of time
    (shared posts). ``not_specified``: the seeds give no amount (``note_*`` says what
    they say).
    """

    kind: str = "not_specified"
    monthly_eur: float | None = None
    rate_percent: float | None = None
    role: str | None = None
    cost_key: str | None = None
    note_fr: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class Posts:
    """Numbers of posts the texts announce (informative)."""

    national: int | None = None
    region_min: int | None = None
    offered: int | None = None
    with_candidate: int | None = None
    note: str = ""


@dataclass(frozen=True)
class Override:
    """A region- and/or date-specific patch of a scheme (deep-merged on its rules)."""

    regions: tuple[str, ...]
    start: date | None
    end: date | None
    note_fr: str
    note_en: str
    patch: Mapping[str, Any]

    def applies(self, region: str | None, on: date) -> bool:
        """Whether the override applies to a site of ``region`` on date ``on``."""
        if self.regions and region not in self.regions:
            return False
        if self.start is not None and on < self.start:
            return False
        return not (self.end is not None and on > self.end)


@dataclass(frozen=True)
class QpvGeneration:
    """A QPV generation and the dates from which it is in force."""

    generation: int
    start: date
    start_overseas: date


@dataclass(frozen=True)
class ZoningOrder:
    """An order (arrêté) of the doctors' zoning and the period it is in force in some régions.

    ``vintage`` is the value of the zoning layer's ``vintage`` column that holds the
    order's classes; None when the order is known but its classes are not loaded (a
    question in its period is then "to check"). ``regions`` empty: every région without
    an entry of its own (see :meth:`Common.zoning_order`).
    """

    id: str
    label_fr: str
    label_en: str
    vintage: str | None
    regions: tuple[str, ...]
    start: date | None
    end: date | None
    source: str = ""

    def label(self, lang: str) -> str:
        """The order's name in ``lang``."""
        return self.label_fr if lang == "fr" else self.label_en

    def covers(self, on: date) -> bool:
        """Whether ``on`` lies in the order's period."""
        return (self.start is None or on >= self.start) and (self.end is None or on <= self.end)


@dataclass(frozen=True)
class Common:
    """Settings shared by all schemes (``_common.toml``): templates, labels, QPV dates, régions."""

    reasons: Mapping[str, Template]
    labels: Mapping[str, Template]
    qpv_generations: tuple[QpvGeneration, ...]
    regions: Mapping[str, Region]
    specialities: Mapping[str, tuple[str, ...]]
    finess_categories: Mapping[str, str] = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    zoning_orders: tuple[ZoningOrder, ...] = ()
    fields: Mapping[str, Template] = field(default_factory=dict)

    def zoning_order(self, region: str | None, on: date) -> ZoningOrder | None:
        """The zoning order in force in ``region`` on ``on`` (None: no known order).

        A région with entries of its own is answered by them only; other régions by
        the entries without régions.
        """
        own = [o for o in self.zoning_orders if region is not None and region in o.regions]
        pool = own or [o for o in self.zoning_orders if not o.regions]
        found = [o for o in pool if o.covers(on)]
        return found[-1] if found else None

    def region_code(self, value: object) -> str | None:
        """INSEE code of a région given by code (``28``, ``"2"`` → ``"02"``) or by name; None if unknown."""
        code = region_code(value)
        return code if code in self.regions else None

    def departement_regions(self) -> dict[str, str]:
        """Département code → région code."""
        return {d: r.code for r in self.regions.values() for d in r.departements}

    def generation_in_force(self, on: date, overseas: bool) -> int | None:
        """The newest QPV generation in force on ``on`` (None before the first)."""
        best = None
        for g in sorted(self.qpv_generations, key=lambda g: g.generation):
            if on >= (g.start_overseas if overseas else g.start):
                best = g.generation
        return best


@dataclass(frozen=True)
class Scheme:
    """A recruitment scheme as read from its rules file.

    Use :meth:`resolve` to get the rules in force for a région and a date (the
    overrides applied); the unresolved scheme is the national/default wording.
    """

    id: str
    name_fr: str
    name_en: str
    source: tuple[str, ...]
    description_fr: str
    description_en: str
    roles: Mapping[str, Role]
    site_role: str
    profile: tuple[Condition, ...] = ()
    funding: Funding = Funding()
    posts: Posts = Posts()
    regions: tuple[str, ...] = ()
    duration_years: float | None = None
    renewal_years: float | None = None
    start_month_day: str | None = None
    require_one_of: tuple[tuple[str, ...], ...] = ()
    overrides: tuple[Override, ...] = ()
    reasons: Mapping[str, Template] = field(default_factory=dict)
    common: Common | None = field(default=None, compare=False, repr=False)
    path: str = ""
    applied: tuple[int, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    short_fr: str = ""
    short_en: str = ""
    general_practice: bool = False
    _variants: dict[tuple[int, ...], Scheme] = field(default_factory=dict, compare=False, repr=False)

    def name(self, lang: str) -> str:
        """The scheme's name in ``lang``."""
        return self.name_fr if lang == "fr" else self.name_en

    def short(self, lang: str) -> str:
        """The scheme's short name in ``lang`` (for summaries), its name when none."""
        text = self.short_fr if lang == "fr" else self.short_en
        return text or self.name(lang)

    def template(self, code: str) -> Template:
        """The sentences of a reason code (KeyError when the rules define none)."""
        return self.reasons[code]

    def label(self, key: str, lang: str) -> str:
        """A common label (status word…) in ``lang``."""
        assert self.common is not None
        return self.common.labels[key].text(lang)

    def codes(self) -> set[str]:
        """Every reason code this scheme may emit (each must have a template)."""
        codes = set(SITE_CODES) | set(APPLICATION_CODES)
        for role in self.roles.values():
            if role.zones is not None:
                codes |= role.zones.codes()
        codes |= {c.code for c in self.profile}
        codes |= {f"{c.code}_{c.soften_code}" for c in self.profile if c.soften_if is not None}
        return codes

    def resolve(self, region: str | None, on: date) -> Scheme:
        """The scheme with the overrides applying to ``region`` on ``on`` merged in."""
        applied = tuple(i for i, o in enumerate(self.overrides) if o.applies(region, on))
        if not applied:
            return self
        if applied not in self._variants:
            from zonage.rules.load import apply_overrides

            self._variants[applied] = apply_overrides(self, applied)
        return self._variants[applied]
