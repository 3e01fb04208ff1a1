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
from types import MappingProxyType
from typing import Any

from zonage.errors import ZonageError

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
    "Funding",
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
    "ZoneRule",
]


class RulesError(ZonageError):
    """A rules file is malformed; the message names the file, the key path and the problem."""


#: Zone classes a rule may name. ``QPV`` means "inside a QPV polygon of the generation in
#: force" (whatever the QPV's own class); the others are classes of the doctors' zoning
#: (``ZV`` = zone de vigilance, ``ZAR`` = regional class, ``HZ`` = hors zonage).
ZONE_CLASSES: tuple[str, ...] = ("ZIP", "ZAC", "ZAR", "ZV", "HZ", "QPV")

#: Statuses of an answer, best first.
STATUSES: tuple[str, ...] = ("eligible", "needs_review", "not_eligible")

#: Tests a doctor-profile condition may use (see :class:`Condition`).
CONDITION_TESTS: tuple[str, ...] = (
    "true", "false", "in", "not_in", "years_since_max", "on_or_before_month_day", "min", "max",
)

#: Funding kinds (see :class:`Funding`).
FUNDING_KINDS: tuple[str, ...] = ("monthly_flat", "share_of_cost", "not_specified")

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
    "category": "FINESS category code of the structure",
    "category_label": "label of that category",
    "role": "label of the scheme's part (partie ambulatoire…)",
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
})

#: Reason codes the site engine may emit for any scheme (templates required).
SITE_CODES: tuple[str, ...] = (
    "ZONE_QPV", "ZONE_NOT_PRIORITY", "ZONE_CLASS_NOT_ACCEPTED", "ZONE_NOT_QPV", "ZONE_NOT_REQUIRED",
    "ZONE_QPV_TO_CHECK",
    "LOCATION_NONE", "CLASS_UNKNOWN", "CLASS_MIXED", "QPV_NOT_COVERED", "COMMUNE_ONLY",
    "COMMUNE_OVERLAP", "COMMUNE_NEAREST", "COMMUNE_BOUNDARY_NEAR", "COMMUNE_MERGED",
    "QPV_BOUNDARY_NEAR", "QPV_NEARBY",
    "STRUCTURE_CATEGORY_UNKNOWN", "STRUCTURE_TYPE_ACCEPTED", "STRUCTURE_TYPE_NOT_ACCEPTED",
    "REGION_NOT_COVERED", "REGION_UNKNOWN",
)

#: Codes used by :func:`~zonage.rules.evaluate.check_application` for any scheme.
APPLICATION_CODES: tuple[str, ...] = (
    "ROLE_MISSING", "ROLE_MISSING_ONE_OF", "PROFILE_INFO_MISSING",
    "SHARE_BELOW_MIN", "SHARE_ABOVE_MAX", "SHARE_MISSING", "SHARES_ABOVE_100",
    "DURATION_TOO_LONG", "DURATION_TOO_SHORT", "START_DATE_UNUSUAL",
    "FUNDING_MONTHLY", "FUNDING_SHARE_OF_COST", "FUNDING_COST_MISSING", "FUNDING_NOT_SPECIFIED",
)

#: Labels every rules set defines (status words and the "no effect" prefix of notes).
LABELS: tuple[str, ...] = ("eligible", "needs_review", "not_eligible", "notes")


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
    """A structure type a role accepts: a FINESS category code, or a keyword for non-FINESS types.

    ``cabinet_liberal`` (individual or group practices) and ``universite`` (a
    university department) have no FINESS category.
    """

    code: str
    label: str
    note: str = ""

    @property
    def finess(self) -> bool:
        """True when the code is a FINESS category (digits)."""
        return self.code.isdigit()


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

    def codes(self) -> set[str]:
        """Reason codes this rule may emit besides the engine's common ones."""
        codes = {f"ZONE_{c}" for c in self.accepted if c != "QPV"}
        codes |= {f"ZONE_{c}_QPV" for c in self.accepted if c != "QPV"}
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
    structure; ``zones`` None means no zone condition for this part.
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
    def category_codes(self) -> frozenset[str]:
        """Codes of the accepted structure types."""
        return frozenset(t.code for t in self.structure_types)

    def accepts(self, category: str) -> bool:
        """Whether a structure of this category may host this part."""
        return not self.structure_types or category in self.category_codes


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
class Region:
    """An INSEE région: code, name and départements."""

    code: str
    name: str
    departements: tuple[str, ...]
    overseas: bool = False


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
    _variants: dict[tuple[int, ...], Scheme] = field(default_factory=dict, compare=False, repr=False)

    def name(self, lang: str) -> str:
        """The scheme's name in ``lang``."""
        return self.name_fr if lang == "fr" else self.name_en

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
