"""Read and strictly validate the schemes' rules files.

The packaged files live in ``zonage/rules/schemes``: ``_common.toml`` (sentence
templates shared by all schemes, status labels, QPV generation dates, régions and
their départements, speciality synonyms) and one ``<scheme>.toml`` per scheme. A
planner's folder (``extra_dir``) may hold:

* ``<new>.toml``: a new scheme (its id is its ``id`` key, else the file name);
* ``<id>.toml`` with the id of a packaged scheme: replaces it entirely;
* a file with ``extends = "<id>"``: deep-merged on top of that scheme (tables merge,
  arrays and values replace), e.g. to change one zone list or one amount;
* ``_common.toml``: merged on top of the packaged one (to reword a sentence);
* ``_zoning_orders.toml``: orders of the doctors' zoning added to the packaged ones (an
  entry for a région replaces the default entries for that région).

Everything is checked before use: unknown keys, wrong types, unknown zone classes,
shares outside 0–100, unknown placeholders in sentences, reason codes without a
French and an English sentence, overrides that would not validate once applied.
Any problem raises :class:`~zonage.rules.model.RulesError` naming the file, the key
path (``roles.ambulatoire.zones.accepted[2]``) and what is wrong.

Scheme file keys (see the packaged files for complete examples)::

    id, extends, name_fr, name_en, short_fr, short_en, general_practice, source,
    description_fr, description_en, regions, duration_years, renewal_years, start_month_day, site_role, require_one_of
    [posts]            national, region_min, offered, with_candidate, note
    [roles.<id>]       label_fr, label_en, keys, required, structure_types = [{kind, review}]
    [roles.<id>.zones] accepted, review, review_reason
    [roles.<id>.share] min, max, default, strict
    [[profile]]        code, field, test, value, review_from, if_missing, note, any_of = [{…}]
    [funding]          kind, monthly_eur, rate_percent, role, cost_key, note_fr, note_en
    [[overrides]]      regions, from, until, note_fr, note_en, [overrides.set] (a partial scheme)
    [reasons.<CODE>]   fr, en
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from zonage.regions import REGIONS
from zonage.rules.model import (
    CONDITION_TESTS,
    FUNDING_KINDS,
    LABELS,
    PLACEHOLDERS,
    ZONE_CLASSES,
    Common,
    Condition,
    Funding,
    Override,
    Posts,
    QpvGeneration,
    Role,
    RulesError,
    Scheme,
    ShareRule,
    StructureType,
    Template,
    ZoneRule,
    ZoningOrder,
)
from zonage.settings import deep_merge, read_toml

__all__ = ["COMMON_FILE", "apply_overrides", "load_schemes", "packaged_dir"]

#: Name of the file of shared settings (not a scheme).
COMMON_FILE = "_common.toml"
#: Name of the file of the zoning orders and their periods (not a scheme).
ORDERS_FILE = "_zoning_orders.toml"

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_SCHEME_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_CATEGORY = re.compile(r"^(\d{3}|[a-z][a-z0-9_]*)$")
_REGION = re.compile(r"^\d{2}$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_MISSING = ("review", "fail", "pass")
_SOFT = re.compile(r"^([A-Z][A-Z0-9_]*)?$")
_REQUIRED = object()


def packaged_dir() -> Path:
    """Folder of the packaged rules files."""
    return Path(str(resources.files("zonage.rules").joinpath("schemes")))


# -- strict reading ----------------------------------------------------------------------------
class _Table:
    """A TOML table being validated: typed getters that record the keys read, then :meth:`finish`."""

    def __init__(self, data: Any, file: str, path: str = "", *, partial: bool = False) -> None:
        self.file = file
        self.path = path
        self.partial = partial
        if not isinstance(data, dict):
            raise RulesError(f"{file}: {path or '(top level)'}: expected a table, got {_kind(data)}")
        self.data = data
        self.seen: set[str] = set()

    def key(self, key: str | int) -> str:
        """Key path of ``key`` under this table."""
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str) -> RulesError:
        """A RulesError for ``key`` of this table."""
        return RulesError(f"{self.file}: {self.key(key)}: {problem}")

    def has(self, key: str) -> bool:
        """Whether the key is present."""
        return key in self.data

    def get(self, key: str, default: Any = _REQUIRED) -> Any:
        """The raw value, or ``default``; a missing required key is an error (unless partial)."""
        self.seen.add(key)
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED and not self.partial:
            raise self.error(key, "missing required key")
        return None if default is _REQUIRED else default

    def text(self, key: str, default: Any = _REQUIRED, *, pattern: re.Pattern | None = None,
             choices: Iterable[str] | None = None, nonempty: bool = True) -> Any:
        """A string value."""
        value = self.get(key, default)
        if value is None or (value is default and key not in self.data):
            return value
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        if nonempty and not value.strip():
            raise self.error(key, "must not be empty")
        _check_choice(self, key, value, pattern, choices)
        return value

    def number(self, key: str, default: Any = _REQUIRED, *, lo: float | None = None,
               hi: float | None = None, integer: bool = False, what: str = "") -> Any:
        """A number (int or float, never a boolean), within [lo, hi]."""
        value = self.get(key, default)
        if value is None or (value is default and key not in self.data):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {_kind(value)}")
        if integer and not float(value).is_integer():
            raise self.error(key, f"expected a whole number, got {value}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"{'' if lo is None else lo}–{'' if hi is None else hi}"
            raise self.error(key, f"{what or 'value'} {value} outside {bounds}")
        return int(value) if integer else value

    def boolean(self, key: str, default: Any = _REQUIRED) -> Any:
        """A boolean."""
        value = self.get(key, default)
        if value is None or (value is default and key not in self.data):
            return value
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def day(self, key: str, default: Any = _REQUIRED) -> Any:
        """A date (TOML date or ``YYYY-MM-DD`` string)."""
        value = self.get(key, default)
        if value is None or (value is default and key not in self.data):
            return value
        if isinstance(value, datetime):
            raise self.error(key, "expected a date without time (YYYY-MM-DD)")
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.error(key, f"expected a date YYYY-MM-DD, got {value!r}")

    def texts(self, key: str, default: Any = _REQUIRED, *, pattern: re.Pattern | None = None,
              choices: Iterable[str] | None = None, single_ok: bool = False) -> Any:
        """A list of strings (or a single string when ``single_ok``)."""
        value = self.get(key, default)
        if value is None or (value is default and key not in self.data):
            return value
        if single_ok and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of strings, got {_kind(value)}")
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if not isinstance(item, str):
                raise self.error(where, f"expected a string, got {_kind(item)}")
            _check_choice(self, where, item, pattern, choices)
        return tuple(value)

    def table(self, key: str, default: Any = _REQUIRED) -> _Table | None:
        """A sub-table."""
        value = self.get(key, default)
        if value is None or (value is default and key not in self.data):
            return None
        return _Table(value, self.file, self.key(key), partial=self.partial)

    def tables(self, key: str) -> list[_Table]:
        """An array of tables (empty when absent)."""
        value = self.get(key, [])
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of tables, got {_kind(value)}")
        return [_Table(v, self.file, f"{self.key(key)}[{i}]", partial=self.partial) for i, v in enumerate(value)]

    def entries(self, key: str, default: Any = _REQUIRED, *, pattern: re.Pattern | None = None,
                what: str = "name") -> dict[str, _Table]:
        """A table of tables keyed by name (roles, reasons…), names checked against ``pattern``."""
        sub = self.table(key, default)
        if sub is None:
            return {}
        out = {}
        for name, value in sub.data.items():
            sub.seen.add(name)
            if pattern is not None and not pattern.match(name):
                raise sub.error(name, f"invalid {what} {name!r} (expected {pattern.pattern})")
            out[name] = _Table(value, self.file, sub.key(name), partial=self.partial)
        return out

    def finish(self) -> None:
        """Reject keys that were never read (unknown keys)."""
        unknown = [k for k in self.data if k not in self.seen]
        if unknown:
            allowed = ", ".join(sorted(self.seen)) or "none"
            raise self.error(unknown[0], f"unknown key (allowed here: {allowed})")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _check_choice(table: _Table, key: str, value: str, pattern: re.Pattern | None,
                  choices: Iterable[str] | None) -> None:
    if pattern is not None and not pattern.match(value):
        raise table.error(key, f"invalid value {value!r} (expected {pattern.pattern})")
    if choices is not None:
        choices = tuple(choices)
        if value not in choices:
            raise table.error(key, f"unknown value {value!r} (expected one of {', '.join(choices)})")


def _read_toml(path: Path | Any, name: str) -> dict:
    return read_toml(path, name, error=RulesError)


# -- templates ---------------------------------------------------------------------------------
def _template(table: _Table) -> Template:
    fr = table.text("fr", None)
    en = table.text("en", None)
    if not table.partial:
        if fr is None:
            raise table.error("fr", "missing French template")
        if en is None:
            raise table.error("en", "missing English template")
    for lang, text in (("fr", fr), ("en", en)):
        if text is not None:
            _check_placeholders(table, lang, text)
    table.finish()
    return Template(fr or "", en or "")


def _check_placeholders(table: _Table, key: str, text: str) -> None:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise table.error(key, f"malformed template {text!r}: {exc} (write {{{{ and }}}} for braces)") from exc
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise table.error(key, f"unknown placeholder {{{name}}} (known: {', '.join(sorted(PLACEHOLDERS))})")
        if spec or conversion:
            raise table.error(key, f"placeholder {{{name}}} must not carry a format spec or conversion")


# -- common ------------------------------------------------------------------------------------
def _build_common(raw: dict, name: str, paths: tuple[str, ...], *, partial: bool = False) -> Common:
    top = _Table(raw, name, partial=partial)
    reasons = {code: _template(t) for code, t in top.entries("reasons", {}, pattern=_CODE, what="reason code").items()}
    labels_t = top.entries("labels", {}, pattern=_IDENT, what="label")
    labels = {k: _template(t) for k, t in labels_t.items()}
    fields = {k: _template(t) for k, t in top.entries("fields", {}, pattern=_IDENT, what="field").items()}
    generations = []
    for t in top.tables("qpv_generations"):
        g = t.number("generation", integer=True, lo=2000, hi=2100)
        start = t.day("from")
        generations.append(QpvGeneration(g, start, t.day("from_overseas", start)))
        t.finish()
    regions = dict(REGIONS)  # one région table for the package: zonage.regions
    specialities_t = top.table("specialities", {})
    specialities: dict[str, tuple[str, ...]] = {}
    if specialities_t is not None:
        for key in list(specialities_t.data):
            if not _IDENT.match(key):
                raise specialities_t.error(key, f"invalid speciality id {key!r} (expected {_IDENT.pattern})")
            specialities[key] = specialities_t.texts(key)
        specialities_t.finish()
    top.finish()
    if not partial:
        for key in LABELS:
            if key not in labels:
                raise top.error(f"labels.{key}", "missing label (needs fr and en)")
        if not generations:
            raise top.error("qpv_generations", "at least one QPV generation is required")
    return Common(MappingProxyType(reasons), MappingProxyType(labels), tuple(generations),
                  MappingProxyType(regions), MappingProxyType(specialities), paths=paths,
                  fields=MappingProxyType(fields))


def _load_common(extra_dir: Path | None) -> tuple[Common, dict]:
    packaged = packaged_dir() / COMMON_FILE
    raw = _read_toml(packaged, str(packaged))
    names = [str(packaged)]
    if extra_dir is not None and (extra_dir / COMMON_FILE).is_file():
        extra_path = extra_dir / COMMON_FILE
        extra = _read_toml(extra_path, str(extra_path))
        _build_common(extra, str(extra_path), (), partial=True)
        raw = deep_merge(raw, extra)
        names.append(str(extra_path))
    common = _build_common(raw, " + ".join(names), tuple(names))
    orders = _zoning_orders(packaged_dir() / ORDERS_FILE, common)
    if extra_dir is not None and (extra_dir / ORDERS_FILE).is_file():
        own = _zoning_orders(extra_dir / ORDERS_FILE, common)
        replaced = {r for o in own for r in o.regions}
        orders = (*(o for o in orders if not set(o.regions) & replaced), *own)
    return replace(common, zoning_orders=orders), raw


def _zoning_orders(path: Path, common: Common) -> tuple[ZoningOrder, ...]:
    """The orders of a ``_zoning_orders.toml`` file, validated."""
    top = _Table(_read_toml(path, str(path)), str(path))
    orders = []
    for t in top.tables("orders"):
        order = ZoningOrder(
            id=t.text("id"),
            label_fr=t.text("label_fr"),
            label_en=t.text("label_en"),
            vintage=t.text("vintage", None),
            regions=tuple(t.texts("regions", (), choices=list(common.regions))),
            start=t.day("from", None),
            end=t.day("until", None),
            source=t.text("source", "", nonempty=False),
        )
        if order.start is not None and order.end is not None and order.start > order.end:
            raise t.error("until", f"period ends ({order.end}) before it starts ({order.start})")
        t.finish()
        orders.append(order)
    top.finish()
    return tuple(orders)


# -- schemes -----------------------------------------------------------------------------------
def _structure_types(table: _Table, key: str) -> tuple[StructureType, ...]:
    from zonage.rules.kinds import kind_catalogue

    value = table.get(key, [])
    if not isinstance(value, list):
        raise table.error(key, f"expected an array of tables {{kind, review}}, got {_kind(value)}")
    kinds = kind_catalogue()
    out = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        t = _Table(item, table.file, table.key(f"{key}[{i}]"))
        kind = t.text("kind", choices=[k for k, v in kinds.items() if not v.unknown])
        if kind in seen:
            raise t.error("kind", f"structure kind {kind} listed twice")
        seen.add(kind)
        out.append(StructureType(kind, bool(t.boolean("review", False))))
        t.finish()
    return tuple(out)


def _zones(t: _Table) -> ZoneRule:
    accepted = t.texts("accepted", choices=ZONE_CLASSES)
    review = t.texts("review", (), choices=ZONE_CLASSES)
    if accepted is not None and not accepted and not review:
        raise t.error("accepted", "no zone class accepted nor to review (drop the zones table for no condition)")
    both = set(accepted) & set(review)
    if both:
        raise t.error("review", f"class {sorted(both)[0]} is both accepted and to review")
    reason = t.text("review_reason", "ZONE_CLASS_TO_CHECK", pattern=_CODE)
    t.finish()
    return ZoneRule(tuple(accepted), tuple(review), reason)


def _share(t: _Table) -> ShareRule:
    lo = t.number("min", None, lo=0, hi=100, what="share")
    hi = t.number("max", None, lo=0, hi=100, what="share")
    default = t.number("default", None, lo=0, hi=100, what="share")
    if lo is not None and hi is not None and lo > hi:
        raise t.error("min", f"minimum share {lo} above maximum {hi}")
    if default is not None and ((lo is not None and default < lo) or (hi is not None and default > hi)):
        raise t.error("default", f"default share {default} outside [{lo}, {hi}]")
    rule = ShareRule(lo, hi, default, bool(t.boolean("strict", True)))
    t.finish()
    return rule


def _role(role_id: str, t: _Table) -> Role:
    zones_t = t.table("zones", None)
    share_t = t.table("share", None)
    role = Role(
        id=role_id,
        label_fr=t.text("label_fr"),
        label_en=t.text("label_en"),
        keys=tuple(t.texts("keys", (), pattern=_IDENT)),
        structure_types=_structure_types(t, "structure_types"),
        zones=_zones(zones_t) if zones_t is not None else None,
        share=_share(share_t) if share_t is not None else None,
        required=bool(t.boolean("required", True)),
    )
    t.finish()
    return role


def _condition(t: _Table, *, nested: bool = False) -> Condition:
    code = t.text("code", None if nested else _REQUIRED, pattern=_CODE)
    alternatives = t.tables("any_of") if not nested else []
    field = t.text("field", None if alternatives else _REQUIRED, pattern=_IDENT)
    test = t.text("test", None if alternatives else _REQUIRED, choices=CONDITION_TESTS)
    if alternatives and (field is not None or test is not None):
        raise t.error("any_of", "a condition has either field/test or any_of, not both")
    if nested and t.has("any_of"):
        raise t.error("any_of", "any_of cannot be nested")
    value: Any = None
    review_from = None
    if test in ("in", "not_in"):
        value = t.texts("value")
    elif test == "years_since_max":
        value = t.number("value", lo=0)
        review_from = t.number("review_from", None, lo=0)
        if review_from is not None and review_from > value:
            raise t.error("review_from", f"review_from {review_from} above value {value}")
    elif test == "on_or_before_month_day":
        value = t.text("value", pattern=_MONTH_DAY)
        _month_day(t, "value", value)
    elif test in ("min", "max"):
        value = t.number("value")
    elif test == "region_in":
        value = t.texts("value", pattern=_REGION)
    elif test in ("true", "false") and t.has("value"):
        raise t.error("value", f"test {test!r} takes no value")
    condition = Condition(
        code=code or "",
        field=field,
        test=test,
        value=value,
        review_from=review_from,
        if_missing=t.text("if_missing", "review", choices=_MISSING),
        on_fail=t.text("on_fail", "fail", choices=("fail", "review")),
        any_of=tuple(_condition(a, nested=True) for a in alternatives),
        note=t.text("note", "", nonempty=False),
        soften_if=_condition(soften, nested=True) if (soften := t.table("soften_if", None)) is not None else None,
        soften_code=t.text("soften_code", _REQUIRED if t.has("soften_if") else "", nonempty=False, pattern=_SOFT),
    )
    t.finish()
    return condition


def _month_day(t: _Table, key: str, value: str) -> tuple[int, int]:
    month, day = (int(x) for x in value.split("-"))
    try:
        date(2024, month, day)
    except ValueError as exc:
        raise t.error(key, f"invalid month-day {value!r}: {exc}") from exc
    return month, day


def _funding(t: _Table | None, roles: dict[str, Role]) -> Funding:
    if t is None:
        return Funding()
    kind = t.text("kind", choices=FUNDING_KINDS)
    funding = Funding(
        kind=kind,
        monthly_eur=t.number("monthly_eur", _REQUIRED if kind == "monthly_flat" else None, lo=0),
        rate_percent=t.number("rate_percent", _REQUIRED if kind == "share_of_cost" else None, lo=0, hi=100,
                              what="rate"),
        role=t.text("role", _REQUIRED if kind == "share_of_cost" else None, choices=list(roles)),
        cost_key=t.text("cost_key", _REQUIRED if kind == "share_of_cost" else None, pattern=_IDENT),
        note_fr=t.text("note_fr", "", nonempty=False),
        note_en=t.text("note_en", "", nonempty=False),
    )
    t.finish()
    return funding


def _posts(t: _Table | None) -> Posts:
    if t is None:
        return Posts()
    posts = Posts(
        national=t.number("national", None, lo=0, integer=True),
        region_min=t.number("region_min", None, lo=0, integer=True),
        offered=t.number("offered", None, lo=0, integer=True),
        with_candidate=t.number("with_candidate", None, lo=0, integer=True),
        note=t.text("note", "", nonempty=False),
    )
    t.finish()
    return posts


def _build_scheme(raw: dict, file: str, common: Common, *, check_overrides: bool = True) -> Scheme:
    top = _Table(raw, file)
    top.get("extends", None)  # consumed by the loader
    scheme_id = top.text("id", pattern=_SCHEME_ID)
    region_codes = list(common.regions)
    roles_t = top.entries("roles", pattern=_IDENT, what="role id")
    if not roles_t:
        raise top.error("roles", "a scheme needs at least one role")
    roles = {rid: _role(rid, t) for rid, t in roles_t.items()}
    owner: dict[str, str] = {}
    for rid, role in roles.items():
        for i, key in enumerate(role.keys):
            if key in owner or (key in roles and key != rid):
                other = owner.get(key, key)
                raise roles_t[rid].error(f"keys[{i}]", f"application key {key!r} also names role {other!r}")
            owner[key] = rid
    site_default = next((r.id for r in roles.values() if r.zones is not None), next(iter(roles)))
    site_role = top.text("site_role", site_default, choices=list(roles))
    groups = top.get("require_one_of", [])
    if not isinstance(groups, list):
        raise top.error("require_one_of", f"expected a list of lists of role ids, got {_kind(groups)}")
    require_one_of = []
    for i, group in enumerate(groups):
        if not isinstance(group, list) or len(group) < 2:
            raise top.error(f"require_one_of[{i}]", "expected a list of at least two role ids")
        for j, rid in enumerate(group):
            if rid not in roles:
                raise top.error(f"require_one_of[{i}][{j}]", f"unknown role {rid!r} (roles: {', '.join(roles)})")
        require_one_of.append(tuple(group))
    profile = tuple(_condition(t) for t in top.tables("profile"))
    codes = [c.code for c in profile]
    duplicated = {c for c in codes if codes.count(c) > 1}
    if duplicated:
        raise top.error("profile", f"reason code {sorted(duplicated)[0]} used by two conditions")
    start_md = top.text("start_month_day", None, pattern=_MONTH_DAY)
    if start_md is not None:
        _month_day(top, "start_month_day", start_md)
    own_reasons = {c: _template(t) for c, t in top.entries("reasons", {}, pattern=_CODE,
                                                              what="reason code").items()}
    overrides_t = top.tables("overrides")
    overrides = []
    for t in overrides_t:
        patch = t.table("set", {})
        assert patch is not None
        for forbidden in ("id", "extends", "overrides"):
            if patch.has(forbidden):
                raise patch.error(forbidden, "cannot be changed by an override")
        patch.seen |= set(patch.data)
        overrides.append(Override(
            regions=tuple(t.texts("regions", (), choices=region_codes)),
            start=t.day("from", None),
            end=t.day("until", None),
            note_fr=t.text("note_fr", "", nonempty=False),
            note_en=t.text("note_en", "", nonempty=False),
            patch=MappingProxyType(copy.deepcopy(patch.data)),
        ))
        t.finish()
    scheme = Scheme(
        id=scheme_id,
        name_fr=top.text("name_fr"),
        name_en=top.text("name_en"),
        source=tuple(top.texts("source", single_ok=True)),
        description_fr=top.text("description_fr", "", nonempty=False),
        description_en=top.text("description_en", "", nonempty=False),
        roles=MappingProxyType(roles),
        site_role=site_role,
        profile=profile,
        funding=_funding(top.table("funding", None), roles),
        posts=_posts(top.table("posts", None)),
        regions=tuple(top.texts("regions", (), choices=region_codes)),
        duration_years=top.number("duration_years", None, lo=0, hi=50),
        renewal_years=top.number("renewal_years", None, lo=0, hi=50),
        start_month_day=start_md,
        require_one_of=tuple(require_one_of),
        overrides=tuple(overrides),
        reasons=MappingProxyType({**common.reasons, **own_reasons}),
        common=common,
        path=file,
        raw=MappingProxyType(copy.deepcopy(raw)),
        short_fr=top.text("short_fr", "", nonempty=False),
        short_en=top.text("short_en", "", nonempty=False),
        general_practice=bool(top.boolean("general_practice", False)),
    )
    top.finish()
    _check_templates(scheme, top)
    if check_overrides:
        for i in range(len(overrides)):
            apply_overrides(scheme, (i,))
    return scheme


def _check_templates(scheme: Scheme, top: _Table) -> None:
    missing = sorted(c for c in scheme.codes() if c not in scheme.reasons)
    if missing:
        also = "" if len(missing) == 1 else "; also missing: " + ", ".join(missing[1:])
        raise top.error(f"reasons.{missing[0]}",
                        f"no sentence for reason code {missing[0]} (add [reasons.{missing[0]}] with fr and en{also})")


def apply_overrides(scheme: Scheme, indices: tuple[int, ...]) -> Scheme:
    """The scheme with the overrides at ``indices`` deep-merged in order, validated."""
    raw = {k: v for k, v in scheme.raw.items() if k != "overrides"}
    raw = copy.deepcopy(raw)
    for i in indices:
        raw = deep_merge(raw, _plain(scheme.overrides[i].patch))
    where = ", ".join(f"overrides[{i}].set" for i in indices)
    assert scheme.common is not None
    try:
        resolved = _build_scheme(raw, f"{scheme.path} (after {where})", scheme.common, check_overrides=False)
    except RulesError as exc:
        raise RulesError(str(exc)) from None
    return Scheme(**{**{f: getattr(resolved, f) for f in resolved.__dataclass_fields__ if f != "_variants"},
                     "overrides": scheme.overrides, "applied": indices, "path": scheme.path, "raw": scheme.raw})


def _plain(value: Any) -> Any:
    if isinstance(value, MappingProxyType | dict):
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
    common, _ = _load_common(extra_dir)
    raws: dict[str, tuple[dict, str]] = {}
    for _, path in _scheme_files(packaged_dir()):
        name = str(path)
        raw = _read_toml(path, name)
        raw.setdefault("id", path.name[:-5])
        if raw["id"] in raws:
            raise RulesError(f"{name}: id: scheme id {raw['id']!r} already defined by {raws[raw['id']][1]}")
        raws[raw["id"]] = (raw, name)
    if extra_dir is not None:
        pending: dict[str, tuple[dict, str]] = {}
        for _, path in _scheme_files(extra_dir):
            raw = _read_toml(path, str(path))
            scheme_id = raw.get("id", path.name[:-5])
            if not isinstance(scheme_id, str):
                raise RulesError(f"{path}: id: expected a string, got {_kind(scheme_id)}")
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
            raise RulesError(f"{name}: extends: expected a scheme id, got {_kind(parent)}")
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
