"""Read the schemes' rules files and validate them with pydantic models (:mod:`zonage.settings`).

The packaged files live in ``zonage/rules/schemes``: ``_common.toml`` (sentence
templates shared by all schemes, status labels, QPV generation dates, speciality
synonyms), ``_zoning_orders.toml`` (the orders of the doctors' zoning and their
periods) and one ``<scheme>.toml`` per scheme. A planner's folder (``extra_dir``) may hold:

* ``<new>.toml``: a new scheme (its id is its ``id`` key, else the file name);
* ``<id>.toml`` with the id of a packaged scheme: replaces it entirely;
* a file with ``extends = "<id>"``: deep-merged on top of that scheme (tables merge,
  arrays and values replace), e.g. to change one zone list or one amount;
* ``_common.toml``: merged on top of the packaged one (to reword a sentence);
* ``_zoning_orders.toml``: orders of the doctors' zoning added to the packaged ones (an
  entry for a région replaces the default entries for that région).

Every file is checked before use by the models below (unknown keys forbidden, strict
types): unknown zone classes, kinds of structure, régions or tests, shares outside
0–100, unknown placeholders in sentences, application keys naming two roles, reason
codes without a French and an English sentence, overrides that would not validate once
applied. Any problem raises :class:`~zonage.rules.model.RulesError` naming the file,
the key path (``roles.ambulatoire.zones.accepted[2]``) and what is wrong; a merged
file is reported under the planner's file that changed it.

Scheme file keys (the models :class:`_Scheme` and below; see the packaged files for
complete examples)::

    id, extends, name_fr, name_en, short_fr, short_en, general_practice, source,
    description_fr, description_en, regions, duration_years, renewal_years, start_month_day, site_role, require_one_of
    [posts]            national, region_min, offered, with_candidate, note
    [roles.<id>]       label_fr, label_en, keys, required, structure_types = [{kind, review}]
    [roles.<id>.zones] accepted, review, review_reason
    [roles.<id>.share] min, max, default, strict
    [[profile]]        code, field, test, value, review_from, if_missing, on_fail, note, any_of = [{…}],
                       soften_if = {…}, soften_code
    [funding]          kind, monthly_eur, rate_percent, role, cost_key, note_fr, note_en
    [[overrides]]      regions, from, until, note_fr, note_en, [overrides.set] (a partial scheme)
    [reasons.<CODE>]   fr, en
"""

from __future__ import annotations

import copy
import string
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WrapValidator,
    field_validator,
    model_validator,
)

from zonage.regions import REGIONS
from zonage.rules.model import (
    LABELS,
    PLACEHOLDERS,
    Common,
    Condition,
    ConditionTest,
    Funding,
    FundingKind,
    Override,
    Posts,
    QpvGeneration,
    Role,
    RulesError,
    Scheme,
    ShareRule,
    StructureType,
    Template,
    ZoneClass,
    ZoneRule,
    ZoningOrder,
)
from zonage.settings import KeyPathError, StrictModel, deep_merge, read_toml, validate

__all__ = ["COMMON_FILE", "apply_overrides", "load_schemes", "packaged_dir"]

#: Name of the file of shared settings (not a scheme).
COMMON_FILE = "_common.toml"
#: Name of the file of the zoning orders and their periods (not a scheme).
ORDERS_FILE = "_zoning_orders.toml"


def packaged_dir() -> Path:
    """Folder of the packaged rules files."""
    return Path(str(resources.files("zonage.rules").joinpath("schemes")))


# -- value types -------------------------------------------------------------------------------
def _nonblank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _keep_int(value: Any, handler: Any) -> Any:
    """A number (int or float, never a boolean); an int stays an int (sentences print ``5``, not ``5.0``)."""
    number = handler(value)
    return value if isinstance(value, int) else number


def _month_day(text: str) -> str:
    month, day = (int(x) for x in text.split("-"))
    try:
        date(2024, month, day)
    except ValueError as exc:
        raise ValueError(f"invalid month-day {text!r}: {exc}") from None
    return text


def _day(value: Any) -> Any:
    """A TOML date, or a ``YYYY-MM-DD`` string; not a date with a time."""
    if isinstance(value, datetime):
        raise ValueError("expected a date without time (YYYY-MM-DD)")
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}") from None
    return value


def _region(code: str) -> str:
    if code not in REGIONS:
        raise ValueError(f"unknown value {code!r} (expected one of {', '.join(REGIONS)})")
    return code


def _structure_kind(kind: str) -> str:
    from zonage.rules.kinds import kind_catalogue

    known = [k for k, v in kind_catalogue().items() if not v.unknown]
    if kind not in known:
        raise ValueError(f"unknown value {kind!r} (expected one of {', '.join(known)})")
    return kind


def _placeholders(text: str) -> str:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"malformed template {text!r}: {exc} (write {{{{ and }}}} for braces)") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}} (known: {', '.join(sorted(PLACEHOLDERS))})")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must not carry a format spec or conversion")
    return text


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


_Text = Annotated[str, AfterValidator(_nonblank)]
_Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_Code = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]
_SchemeId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]*$")]
_Number = Annotated[float, WrapValidator(_keep_int)]
_NonNegative = Annotated[_Number, Field(ge=0)]
_Share = Annotated[_Number, Field(ge=0, le=100)]
_Years = Annotated[_Number, Field(ge=0, le=50)]
_Count = Annotated[int, Field(ge=0)]
_MonthDay = Annotated[str, StringConstraints(pattern=r"^\d{2}-\d{2}$"), AfterValidator(_month_day)]
_Day = Annotated[date, BeforeValidator(_day)]
_Region = Annotated[str, AfterValidator(_region)]
_Sentence = Annotated[_Text, AfterValidator(_placeholders)]

#: Type of ``value`` for each test that takes one (``true`` and ``false`` take none).
_VALUES: Mapping[str, TypeAdapter[Any]] = MappingProxyType({
    "in": TypeAdapter(tuple[str, ...]),
    "not_in": TypeAdapter(tuple[str, ...]),
    "years_since_max": TypeAdapter(_NonNegative),
    "on_or_before_month_day": TypeAdapter(_MonthDay),
    "min": TypeAdapter(_Number),
    "max": TypeAdapter(_Number),
    "region_in": TypeAdapter(tuple[Annotated[str, StringConstraints(pattern=r"^\d{2}$")], ...]),
})


# -- _common.toml, _zoning_orders.toml ---------------------------------------------------------
class _Template(StrictModel):
    """French and English sentence of a reason code, a label or a field."""

    fr: _Sentence
    en: _Sentence

    def build(self) -> Template:
        return Template(self.fr, self.en)


class _QpvGeneration(StrictModel):
    generation: int = Field(ge=2000, le=2100)
    start: _Day = Field(alias="from")
    start_overseas: _Day | None = Field(None, alias="from_overseas")


class _CommonFile(StrictModel):
    """``_common.toml`` (the régions are :data:`zonage.regions.REGIONS`)."""

    reasons: dict[_Code, _Template] = Field(default_factory=dict)
    labels: dict[_Ident, _Template]
    fields: dict[_Ident, _Template] = Field(default_factory=dict)
    qpv_generations: tuple[_QpvGeneration, ...]
    specialities: dict[_Ident, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _every_label(cls, labels: dict[str, _Template]) -> dict[str, _Template]:
        missing = [key for key in LABELS if key not in labels]
        if missing:
            raise KeyPathError(missing[0], "missing label (needs fr and en)")
        return labels

    @field_validator("qpv_generations")
    @classmethod
    def _some_generation(cls, generations: tuple[_QpvGeneration, ...]) -> tuple[_QpvGeneration, ...]:
        if not generations:
            raise ValueError("at least one QPV generation is required")
        return generations

    def build(self, paths: tuple[str, ...]) -> Common:
        return Common(
            reasons=MappingProxyType({k: t.build() for k, t in self.reasons.items()}),
            labels=MappingProxyType({k: t.build() for k, t in self.labels.items()}),
            qpv_generations=tuple(QpvGeneration(g.generation, g.start, g.start_overseas or g.start)
                                  for g in self.qpv_generations),
            regions=MappingProxyType(dict(REGIONS)),
            specialities=MappingProxyType(dict(self.specialities)),
            paths=paths,
            fields=MappingProxyType({k: t.build() for k, t in self.fields.items()}),
        )


class _Order(StrictModel):
    id: _Text
    label_fr: _Text
    label_en: _Text
    vintage: _Text | None = None
    regions: tuple[_Region, ...] = ()
    start: _Day | None = Field(None, alias="from")
    end: _Day | None = Field(None, alias="until")
    source: str = ""

    @model_validator(mode="after")
    def _period(self) -> Self:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise KeyPathError("until", f"period ends ({self.end}) before it starts ({self.start})")
        return self

    def build(self) -> ZoningOrder:
        return ZoningOrder(self.id, self.label_fr, self.label_en, self.vintage, self.regions, self.start, self.end,
                           self.source)


class _OrdersFile(StrictModel):
    """``_zoning_orders.toml``."""

    orders: tuple[_Order, ...] = ()


# -- scheme files ------------------------------------------------------------------------------
class _StructureType(StrictModel):
    kind: Annotated[str, AfterValidator(_structure_kind)]
    review: bool = False


class _Zones(StrictModel):
    accepted: tuple[ZoneClass, ...]
    review: tuple[ZoneClass, ...] = ()
    review_reason: _Code = "ZONE_CLASS_TO_CHECK"

    @model_validator(mode="after")
    def _classes(self) -> Self:
        if not self.accepted and not self.review:
            raise KeyPathError("accepted",
                               "no zone class accepted nor to review (drop the zones table for no condition)")
        both = set(self.accepted) & set(self.review)
        if both:
            raise KeyPathError("review", f"class {sorted(both)[0]} is both accepted and to review")
        return self


class _ShareRule(StrictModel):
    min: _Share | None = None
    max: _Share | None = None
    default: _Share | None = None
    strict: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        lo, hi, default = self.min, self.max, self.default
        if lo is not None and hi is not None and lo > hi:
            raise KeyPathError("min", f"minimum share {lo} above maximum {hi}")
        if default is not None and ((lo is not None and default < lo) or (hi is not None and default > hi)):
            raise KeyPathError("default", f"default share {default} outside [{lo}, {hi}]")
        return self


class _Role(StrictModel):
    label_fr: _Text
    label_en: _Text
    keys: tuple[_Ident, ...] = ()
    structure_types: tuple[_StructureType, ...] = ()
    zones: _Zones | None = None
    share: _ShareRule | None = None
    required: bool = True

    @model_validator(mode="after")
    def _kinds_once(self) -> Self:
        seen: set[str] = set()
        for i, item in enumerate(self.structure_types):
            if item.kind in seen:
                raise KeyPathError(("structure_types", i, "kind"), f"structure kind {item.kind} listed twice")
            seen.add(item.kind)
        return self

    def build(self, role_id: str) -> Role:
        zones, share = self.zones, self.share
        return Role(
            id=role_id, label_fr=self.label_fr, label_en=self.label_en, keys=self.keys,
            structure_types=tuple(StructureType(t.kind, t.review) for t in self.structure_types),
            zones=None if zones is None else ZoneRule(zones.accepted, zones.review, zones.review_reason),
            share=None if share is None else ShareRule(share.min, share.max, share.default, share.strict),
            required=self.required,
        )


class _ConditionBase(StrictModel):
    """What every doctor-profile condition may carry besides its code, field and test."""

    value: Any = None
    review_from: _NonNegative | None = None
    if_missing: Literal["review", "fail", "pass"] = "review"
    on_fail: Literal["fail", "review"] = "fail"
    note: str = ""
    soften_if: _Test | None = None
    soften_code: Annotated[str, StringConstraints(pattern=r"^([A-Z][A-Z0-9_]*)?$")] = ""

    def _check(self, test: str | None) -> None:
        """``value`` and ``review_from`` as ``test`` needs them; ``soften_code`` with ``soften_if``."""
        adapter = _VALUES.get(test) if test is not None else None
        if adapter is None:
            if self.value is not None:
                raise KeyPathError("value", f"test {test!r} takes no value" if test else "a condition with any_of "
                                 "takes no value")
        elif self.value is None:
            raise KeyPathError("value", f"missing required key (test {test!r} needs a value)")
        else:
            try:
                adapter.validate_python(self.value, strict=True)
            except ValidationError as exc:
                raise KeyPathError.of(exc, "value") from None
        if self.review_from is not None:
            if test != "years_since_max":
                raise KeyPathError("review_from", "only a years_since_max test takes review_from")
            if self.value is not None and self.review_from > self.value:
                raise KeyPathError("review_from", f"review_from {self.review_from} above value {self.value}")
        if self.soften_if is not None and "soften_code" not in self.model_fields_set:
            raise KeyPathError("soften_code", "missing required key (soften_if needs a soften_code)")

    def _build(self, code: str | None, field: str | None, test: str | None,
               any_of: tuple[Condition, ...] = ()) -> Condition:
        return Condition(
            code=code or "", field=field, test=test, value=self.value, review_from=self.review_from,
            if_missing=self.if_missing, on_fail=self.on_fail, any_of=any_of, note=self.note,
            soften_if=None if self.soften_if is None else self.soften_if.build(), soften_code=self.soften_code,
        )


class _Test(_ConditionBase):
    """A condition inside another (an ``any_of`` alternative, a ``soften_if``): no code needed, no ``any_of``."""

    code: _Code | None = None
    field: _Ident
    test: ConditionTest

    @model_validator(mode="after")
    def _value(self) -> Self:
        self._check(self.test)
        return self

    def build(self) -> Condition:
        return self._build(self.code, self.field, self.test)


class _Condition(_ConditionBase):
    """A ``[[profile]]`` condition: a field and a test, or ``any_of`` alternatives."""

    code: _Code
    any_of: tuple[_Test, ...] = ()
    field: _Ident | None = None
    test: ConditionTest | None = None

    @model_validator(mode="after")
    def _value(self) -> Self:
        if self.any_of and (self.field is not None or self.test is not None):
            raise KeyPathError("any_of", "a condition has either field/test or any_of, not both")
        for key in ("field", "test"):
            if not self.any_of and getattr(self, key) is None:
                raise KeyPathError(key, "missing required key")
        self._check(self.test)
        return self

    def build(self) -> Condition:
        return self._build(self.code, self.field, self.test, tuple(a.build() for a in self.any_of))


class _Funding(StrictModel):
    kind: FundingKind
    monthly_eur: _NonNegative | None = None
    rate_percent: _Share | None = None
    role: _Text | None = None
    cost_key: _Ident | None = None
    note_fr: str = ""
    note_en: str = ""

    @model_validator(mode="after")
    def _amount(self) -> Self:
        needed = {"monthly_flat": ("monthly_eur",), "share_of_cost": ("rate_percent", "role", "cost_key")}
        for key in needed.get(self.kind, ()):
            if getattr(self, key) is None:
                raise KeyPathError(key, f"missing required key (funding kind {self.kind!r})")
        return self


class _Posts(StrictModel):
    national: _Count | None = None
    region_min: _Count | None = None
    offered: _Count | None = None
    with_candidate: _Count | None = None
    note: str = ""


class _Override(StrictModel):
    regions: tuple[_Region, ...] = ()
    start: _Day | None = Field(None, alias="from")
    end: _Day | None = Field(None, alias="until")
    note_fr: str = ""
    note_en: str = ""
    patch: dict[str, Any] = Field(default_factory=dict, alias="set")  # validated once applied

    @field_validator("patch")
    @classmethod
    def _fixed_keys(cls, patch: dict[str, Any]) -> dict[str, Any]:
        for key in ("id", "extends", "overrides"):
            if key in patch:
                raise KeyPathError(key, "cannot be changed by an override")
        return patch


class _Scheme(StrictModel):
    """A ``<scheme>.toml`` file (after ``extends`` and overrides are merged)."""

    id: _SchemeId
    extends: str | None = None  # consumed by the loader
    name_fr: _Text
    name_en: _Text
    short_fr: str = ""
    short_en: str = ""
    general_practice: bool = False
    source: Annotated[tuple[str, ...], BeforeValidator(_one_or_many)]
    description_fr: str = ""
    description_en: str = ""
    regions: tuple[_Region, ...] = ()
    duration_years: _Years | None = None
    renewal_years: _Years | None = None
    start_month_day: _MonthDay | None = None
    site_role: str | None = None
    require_one_of: tuple[tuple[str, ...], ...] = ()
    roles: dict[_Ident, _Role]
    posts: _Posts = _Posts()
    funding: _Funding | None = None
    profile: tuple[_Condition, ...] = ()
    overrides: tuple[_Override, ...] = ()
    reasons: dict[_Code, _Template] = Field(default_factory=dict)

    @field_validator("roles")
    @classmethod
    def _some_role(cls, roles: dict[str, _Role]) -> dict[str, _Role]:
        if not roles:
            raise ValueError("a scheme needs at least one role")
        return roles

    @model_validator(mode="after")
    def _references(self) -> Self:
        """Application keys name one role; ``site_role``, ``require_one_of``, ``funding.role`` name roles."""
        owner: dict[str, str] = {}
        for rid, role in self.roles.items():
            for i, key in enumerate(role.keys):
                if key in owner or (key in self.roles and key != rid):
                    raise KeyPathError(("roles", rid, "keys", i),
                                     f"application key {key!r} also names role {owner.get(key, key)!r}")
                owner[key] = rid
        roles = ", ".join(self.roles)
        if self.site_role is not None and self.site_role not in self.roles:
            raise KeyPathError("site_role", f"unknown value {self.site_role!r} (expected one of {roles})")
        for i, group in enumerate(self.require_one_of):
            if len(group) < 2:
                raise KeyPathError(("require_one_of", i), "expected a list of at least two role ids")
            for j, rid in enumerate(group):
                if rid not in self.roles:
                    raise KeyPathError(("require_one_of", i, j), f"unknown role {rid!r} (roles: {roles})")
        codes = [c.code for c in self.profile]
        duplicated = sorted({c for c in codes if codes.count(c) > 1})
        if duplicated:
            raise KeyPathError("profile", f"reason code {duplicated[0]} used by two conditions")
        if self.funding is not None and self.funding.role is not None and self.funding.role not in self.roles:
            raise KeyPathError(("funding", "role"), f"unknown value {self.funding.role!r} (expected one of {roles})")
        return self

    def build(self, raw: Mapping[str, Any], file: str, common: Common) -> Scheme:
        roles = {rid: role.build(rid) for rid, role in self.roles.items()}
        site_role = self.site_role or next((r.id for r in roles.values() if r.zones is not None), next(iter(roles)))
        f, p = self.funding, self.posts
        return Scheme(
            id=self.id, name_fr=self.name_fr, name_en=self.name_en, source=self.source,
            description_fr=self.description_fr, description_en=self.description_en,
            roles=MappingProxyType(roles), site_role=site_role,
            profile=tuple(c.build() for c in self.profile),
            funding=Funding() if f is None else Funding(f.kind, f.monthly_eur, f.rate_percent, f.role, f.cost_key,
                                                        f.note_fr, f.note_en),
            posts=Posts(p.national, p.region_min, p.offered, p.with_candidate, p.note),
            regions=self.regions, duration_years=self.duration_years, renewal_years=self.renewal_years,
            start_month_day=self.start_month_day, require_one_of=self.require_one_of,
            overrides=tuple(Override(o.regions, o.start, o.end, o.note_fr, o.note_en,
                                     MappingProxyType(_plain(o.patch))) for o in self.overrides),
            reasons=MappingProxyType({**common.reasons, **{c: t.build() for c, t in self.reasons.items()}}),
            common=common, path=file, raw=MappingProxyType(copy.deepcopy(dict(raw))),
            short_fr=self.short_fr, short_en=self.short_en, general_practice=self.general_practice,
        )


# -- building ----------------------------------------------------------------------------------
def _read(path: Path | Any) -> dict[str, Any]:
    return read_toml(path, str(path), error=RulesError)


def _load_common(extra_dir: Path | None) -> Common:
    """The packaged ``_common.toml`` (a planner's merged on top) and the zoning orders."""
    packaged = packaged_dir() / COMMON_FILE
    raw, names = _read(packaged), [str(packaged)]
    if extra_dir is not None and (extra_dir / COMMON_FILE).is_file():
        raw = deep_merge(raw, _read(extra_dir / COMMON_FILE))
        names.append(str(extra_dir / COMMON_FILE))
    common = validate(_CommonFile, raw, names[-1], error=RulesError).build(tuple(names))
    orders = _zoning_orders(packaged_dir() / ORDERS_FILE)
    if extra_dir is not None and (extra_dir / ORDERS_FILE).is_file():
        own = _zoning_orders(extra_dir / ORDERS_FILE)
        replaced = {r for o in own for r in o.regions}
        orders = (*(o for o in orders if not set(o.regions) & replaced), *own)
    return replace(common, zoning_orders=orders)


def _zoning_orders(path: Path) -> tuple[ZoningOrder, ...]:
    """The orders of a ``_zoning_orders.toml`` file, validated."""
    return tuple(o.build() for o in validate(_OrdersFile, _read(path), str(path), error=RulesError).orders)


def _build_scheme(raw: dict, file: str, common: Common, *, check_overrides: bool = True) -> Scheme:
    scheme = validate(_Scheme, raw, file, error=RulesError).build(raw, file, common)
    missing = sorted(c for c in scheme.codes() if c not in scheme.reasons)
    if missing:
        also = "" if len(missing) == 1 else "; also missing: " + ", ".join(missing[1:])
        raise RulesError(f"{file}: reasons.{missing[0]}: no sentence for reason code {missing[0]} "
                         f"(add [reasons.{missing[0]}] with fr and en{also})")
    if check_overrides:
        for i in range(len(scheme.overrides)):
            apply_overrides(scheme, (i,))
    return scheme


def apply_overrides(scheme: Scheme, indices: tuple[int, ...]) -> Scheme:
    """The scheme with the overrides at ``indices`` deep-merged in order, validated."""
    raw = copy.deepcopy({k: v for k, v in scheme.raw.items() if k != "overrides"})
    for i in indices:
        raw = deep_merge(raw, scheme.overrides[i].patch)
    where = ", ".join(f"overrides[{i}].set" for i in indices)
    assert scheme.common is not None
    resolved = _build_scheme(raw, f"{scheme.path} (after {where})", scheme.common, check_overrides=False)
    return Scheme(**{**{f: getattr(resolved, f) for f in resolved.__dataclass_fields__ if f != "_variants"},
                     "overrides": scheme.overrides, "applied": indices, "path": scheme.path, "raw": scheme.raw})


def _plain(value: Any) -> Any:
    """Tables as dicts, arrays as lists (as TOML reads them)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- entry point -------------------------------------------------------------------------------
def _scheme_files(folder: Path | Any) -> list[tuple[str, Any]]:
    files = [p for p in folder.iterdir() if p.name.endswith(".toml") and not p.name.startswith("_")]
    return sorted(((p.name, p) for p in files), key=lambda item: item[0])


def load_schemes(extra_dir: Path | None = None) -> dict[str, Scheme]:
    """Read the packaged schemes plus a planner's folder of extra or overriding rules files.

    Parameters
    ----------
    extra_dir
        Folder of ``*.toml`` files (see the module docstring); None for the packaged rules only.

    Returns
    -------
    dict
        Scheme id → :class:`~zonage.rules.model.Scheme`, packaged schemes first (file order),
        then the planner's new ones.

    Raises
    ------
    RulesError
        A file is malformed (the message names the file, the key path and the problem).
    """
    if extra_dir is not None:
        extra_dir = Path(extra_dir)
        if not extra_dir.is_dir():
            raise RulesError(f"{extra_dir}: rules folder not found")
    common = _load_common(extra_dir)
    raws: dict[str, tuple[dict, str]] = {}
    for _, path in _scheme_files(packaged_dir()):
        name = str(path)
        raw = _read(path)
        raw.setdefault("id", path.name[:-5])
        if raw["id"] in raws:
            raise RulesError(f"{name}: id: scheme id {raw['id']!r} already defined by {raws[raw['id']][1]}")
        raws[raw["id"]] = (raw, name)
    if extra_dir is not None:
        pending: dict[str, tuple[dict, str]] = {}
        for _, path in _scheme_files(extra_dir):
            raw = _read(path)
            scheme_id = raw.get("id", path.name[:-5])
            if not isinstance(scheme_id, str):
                raise RulesError(f"{path}: id: expected a string, got {scheme_id!r}")
            raw["id"] = scheme_id
            if scheme_id in pending:
                raise RulesError(f"{path}: id: scheme id {scheme_id!r} already defined by {pending[scheme_id][1]}")
            pending[scheme_id] = (raw, str(path))
        _merge_extends(raws, pending)
    return {scheme_id: _build_scheme(raw, name, common) for scheme_id, (raw, name) in raws.items()}


def _merge_extends(raws: dict[str, tuple[dict, str]], pending: dict[str, tuple[dict, str]]) -> None:
    """Add the planner's files to ``raws``: replacements, new schemes, and ``extends`` merges."""
    base_raws = dict(raws)
    done: dict[str, tuple[dict, str]] = {}

    def resolve(scheme_id: str, chain: tuple[str, ...]) -> tuple[dict, str]:
        if scheme_id in done:
            return done[scheme_id]
        raw, name = pending[scheme_id]
        parent = raw.get("extends")
        if parent is None:
            done[scheme_id] = (raw, name)
            return done[scheme_id]
        if not isinstance(parent, str):
            raise RulesError(f"{name}: extends: expected a scheme id, got {parent!r}")
        if parent == scheme_id and parent in base_raws:  # a planner's edit of a packaged scheme
            base, base_name = base_raws[parent]
        elif parent in chain:
            raise RulesError(f"{name}: extends: circular extension {' → '.join((*chain, parent))}")
        elif parent in pending:
            base, base_name = resolve(parent, (*chain, parent))
        elif parent in base_raws:
            base, base_name = base_raws[parent]
        else:
            known = sorted(set(base_raws) | set(pending))
            raise RulesError(f"{name}: extends: unknown scheme {parent!r} (known: {', '.join(known)})")
        merged = deep_merge({k: v for k, v in base.items() if k != "id"}, raw)
        merged.pop("extends", None)
        done[scheme_id] = (merged, f"{name} (extends {base_name})")
        return done[scheme_id]

    for scheme_id in pending:
        raws[scheme_id] = resolve(scheme_id, (scheme_id,))


def select_schemes(schemes: Mapping[str, Scheme], ids: Iterable[str] | None) -> dict[str, Scheme]:
    """The schemes named in ``ids`` (all when None or empty), in the catalogue's order.

    Raises
    ------
    zonage.errors.InputDataError
        An id names no scheme; the message lists the known ones.
    """
    from zonage.errors import InputDataError

    wanted = list(ids or ())
    if not wanted:
        return dict(schemes)
    unknown = [s for s in wanted if s not in schemes]
    if unknown:
        raise InputDataError(f"dispositif(s) inconnu(s) {', '.join(unknown)} ; connus : {', '.join(schemes)}")
    return {k: v for k, v in schemes.items() if k in wanted}
