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

import functools
import itertools
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
# ``na``: the scheme is not open to the structure (its kind, its région).
_POS, _INFO, _UNC, _REV, _NEG, _FAIL, _NA = "pos", "info", "unc", "rev", "neg", "fail", "na"
_MAIN = {0: (_POS, _INFO), 1: (_UNC, _REV, _POS, _NEG, _INFO), 2: (_FAIL, _NEG, _REV, _POS, _INFO), 3: (_NA,)}
_NOTES = {0: (_UNC,), 1: (), 2: (_UNC,), 3: ()}
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
    array = np.asarray(values, dtype=object)
    missing = pd.isna(array)
    out = np.array([v.strip() if type(v) is str else _to_text(v) for v in array] + [None], dtype=object)[:-1]
    out[missing] = None
    out[out == ""] = None
    return out


def _to_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if value is not None else ""


def _region_code(value: str) -> str:
    return value.zfill(2) if value.isdigit() and len(value) < 2 else value


def _category_code(value: str) -> str:
    return value.zfill(3) if value.isdigit() and len(value) < 3 else value


def _category_codes(values: np.ndarray) -> np.ndarray:
    return np.array([None if v is None else _category_code(v) for v in values] + [None], dtype=object)[:-1]


def _numeric(values: Any) -> bool:
    return isinstance(values, pd.Series) and not isinstance(values.dtype, pd.CategoricalDtype) \
        and values.dtype.kind in "biuf"


def _floats(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    if _numeric(values) and values.dtype.kind != "b":
        return values.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").to_numpy(dtype=float)


def _bools(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    if _numeric(values):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        return (numbers != 0) & ~np.isnan(numbers)
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
# Every text column is coded once as integers (``_Text``): distinct values are cleaned one by
# one, rows only carry codes. Categorical columns (the output of ``Locator.locate``) give their
# codes for free; other columns are factorised once.
@dataclass
class _Text:
    """A text column as integer codes: row ``i`` is ``values[codes[i]]``, code -1 = missing."""

    codes: np.ndarray
    values: np.ndarray

    def map(self, func: Any) -> _Text:
        """The column with ``func`` applied to each distinct value (None: missing)."""
        return self.recode(np.array([func(v) for v in self.values] + [None], dtype=object)[:-1])

    def recode(self, mapped: np.ndarray) -> _Text:
        """The column with value ``i`` replaced by ``mapped[i]`` (equal results merged)."""
        codes, values = _factorize_texts(mapped)
        return _Text(np.append(codes, -1)[self.codes], values)

    def expand(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Object array of the values of rows ``idx`` (None where missing), as :func:`_clean` gives."""
        codes = self.codes if idx is None else self.codes[idx]
        return np.concatenate([self.values, np.array([None], dtype=object)])[codes]

    def flag(self, test: Any) -> np.ndarray:
        """Per-row booleans from a per-value test (False where missing)."""
        return np.array([bool(test(v)) for v in self.values] + [False], dtype=bool)[self.codes]


def _factorize_texts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _text(values: Any, n: int | None = None) -> _Text:
    """Code a text column (Series, array, list or None) as :func:`_clean` would clean it."""
    if values is None:
        return _Text(np.full(n or 0, -1, dtype=np.int64), np.empty(0, dtype=object))
    array: Any = values.array if isinstance(values, pd.Series | pd.Index) else np.asarray(values, dtype=object)
    if isinstance(array, pd.Categorical):
        codes = np.asarray(array.codes, dtype=np.int64)
        raw = np.array(array.categories, dtype=object)
    else:
        found, uniques = pd.factorize(array, use_na_sentinel=True)
        codes = np.asarray(found, dtype=np.int64)
        raw = np.array(uniques, dtype=object)
        if any(isinstance(v, bool | np.bool_) for v in raw):  # factorize merges True with 1
            return _Text(*_factorize_texts(_clean(np.asarray(array, dtype=object), len(array))))
    return _Text(codes, raw).recode(_clean(raw, len(raw)))


def _names(values: Any, key: _Text) -> _Text:
    """Code a name column that is in practice a function of the code column ``key``.

    Commune and QPV names: checked row by row with one comparison (fast on shared string
    objects), else factorised.
    """
    n = len(key.codes)
    if values is None:
        return _text(None, n)
    if isinstance(values, pd.Series) and values.dtype == object and n:
        array = values.to_numpy()
        k = len(key.values)
        slot = np.where(key.codes >= 0, key.codes, k)
        first = np.full(k + 1, -1, dtype=np.int64)
        first[slot] = np.arange(n)
        try:
            same = bool((array[first[slot]] == array).all())
        except (TypeError, ValueError):  # values whose comparison is not a bool (pd.NA…)
            same = False
        if same:
            raw = np.array(array[np.maximum(first, 0)], dtype=object)
            raw[first < 0] = None
            return _Text(slot, raw).recode(_clean(raw, len(raw)))
    return _text(values, n)


def _distances(values: np.ndarray) -> _Text:
    """Distances (m) coded by their rounded value, as sentences write them (``str(round(v))``)."""
    known = np.flatnonzero(~np.isnan(values))
    codes = np.full(len(values), -1, dtype=np.int64)
    part, uniques = pd.factorize(np.round(values[known]))
    codes[known] = part
    return _Text(codes, np.array([str(round(v)) for v in uniques] + [""], dtype=object)[:-1])


def _pick(texts: Mapping[int, _Text], which: np.ndarray) -> _Text:
    """Row ``i`` from ``texts[which[i]]`` (missing where ``which`` has no text)."""
    if len(texts) == 1 and bool((which == next(iter(texts))).all()):
        return next(iter(texts.values()))
    codes = np.full(len(which), -1, dtype=np.int64)
    values: list[Any] = []
    for key, text in texts.items():
        rows = which == key
        codes[rows] = np.where(text.codes[rows] >= 0, text.codes[rows] + len(values), -1)
        values.extend(text.values)
    table = np.array([*values, None], dtype=object)[:-1]
    return _Text(codes, table).recode(table)


#: Placeholders filled from each row's facts: placeholder → (coded fact, text when missing).
_ROW_FIELDS: dict[str, tuple[str, str]] = {
    "insee": ("insee", "?"), "commune": ("commune", ""), "classe": ("classe", "?"),
    "classe_commune": ("classe_commune", "?"), "classe_qpv": ("classe_qpv", ""), "qpv": ("qpv", ""),
    "qpv_nom": ("qpv_nom", ""), "generation": ("generation", ""), "commune_distance": ("commune_distance", ""),
    "qpv_distance": ("qpv_distance", ""), "candidates": ("candidates", ""), "region": ("region", "?"),
    "region_name": ("region", "?"),
    "type_label_fr": ("type_label_fr", "?"), "type_label_en": ("type_label_en", "?"),
    "order_fr": ("order_fr", "?"), "order_en": ("order_en", "?"),
    "order_loaded_fr": ("order_loaded_fr", "?"), "order_loaded_en": ("order_loaded_en", "?"),
}
#: Placeholders written in the sentence's language: ``{type_label}`` reads ``type_label_fr`` or ``_en``.
_BY_LANG: frozenset[str] = frozenset({"type_label", "order", "order_loaded"})
#: Boolean facts of a row (with ``in_qpv``, ``classe``, ``region``, ``kind``, ``order_state`` and
#: ``deficit`` they decide the answer).
_FLAGS: tuple[str, ...] = ("located", "commune_only", "overlap", "nearest", "boundary", "merged", "from_qpv",
                           "qpv_near", "kind_conflict")


@dataclass
class _Sites:
    """Facts of every located row, coded as integers (no per-row Python work)."""

    n: int
    flags: dict[str, np.ndarray]
    in_qpv: np.ndarray
    order_state: np.ndarray
    deficit: np.ndarray
    text: dict[str, _Text]
    region_names: Mapping[str, str]
    has_kinds: bool = False
    _tables: dict[str, np.ndarray] = field(default_factory=dict)

    def table(self, placeholder: str) -> np.ndarray:
        """Texts of a row placeholder indexed by its fact's codes (last entry: the missing text)."""
        if placeholder not in self._tables:
            fact, missing = _ROW_FIELDS[placeholder]
            values = list(self.text[fact].values)
            if placeholder == "candidates":
                values = [v.replace("|", ", ") for v in values]
            elif placeholder == "region_name":
                values = [self.region_names.get(v, v) for v in values]
            self._tables[placeholder] = np.array([*values, missing], dtype=object)
        return self._tables[placeholder]

    def facts(self, idx: np.ndarray) -> _Facts:
        """The (uncoded) facts of rows ``idx``."""
        fields = {name: self.table(name)[self.text[fact].codes[idx]] for name, (fact, _) in _ROW_FIELDS.items()}
        return _Facts(
            n=len(idx), **{k: v[idx] for k, v in self.flags.items()}, in_qpv=self.in_qpv[idx],
            order_state=self.order_state[idx], deficit=self.deficit[idx],
            classe=self.text["classe"].expand(idx), region=self.text["region"].expand(idx), fields=fields,
        )

    def kinds(self, idx: np.ndarray) -> np.ndarray | None:
        """Kinds of structure of rows ``idx`` (None where missing); None without kinds."""
        return self.text["kind"].expand(idx) if self.has_kinds else None


@dataclass
class _Facts:
    """Facts of some rows as plain arrays (what the rules of a role look at)."""

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
    kind_conflict: np.ndarray
    order_state: np.ndarray
    deficit: np.ndarray
    region: np.ndarray
    fields: dict[str, np.ndarray]


def _sites(located: pd.DataFrame, region: Any, on: date, fragile_m: float, common: Common,
           kinds: pd.DataFrame | None = None, speciality: str | None = None) -> _Sites:
    """Code the facts of every row of ``located`` (see :func:`evaluate_sites` for the columns)."""
    n = len(located)

    def col(name: str) -> pd.Series | None:
        return located[name] if name in located.columns else None

    insee = _text(col("insee"), n)
    loc = insee.codes >= 0
    if "commune_method" in located:
        method = _text(col("commune_method"), n).map(str.lower)
        point = method.flag(lambda m: m in POINT_METHODS)
        overlap, nearest = method.flag(lambda m: m == "overlap"), method.flag(lambda m: m == "nearest")
    else:
        point, overlap, nearest = np.ones(n, dtype=bool), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    commune_only = loc & ~point
    point = loc & point
    boundary_m = _floats(col("commune_boundary_m"), n)
    merged = _bools(col("commune_merged"), n) | _text(col("commune_relation"), n).flag(lambda r: r == "merged")

    classe = _text(col("classe"), n).map(_class_name)
    classe_qpv = _text(col("classe_qpv"), n)
    if "classe_source" in located:
        from_qpv = _text(col("classe_source"), n).flag(lambda s: s == "qpv")
    else:
        from_qpv = classe_qpv.codes >= 0

    if region is not None:
        regions = _text(region).map(_region_code)
        if len(regions.codes) != n:
            raise InputDataError(f"region: {len(regions.codes)} values for {n} located rows")
    elif "region" in located:
        regions = _text(col("region"), n).map(_region_code)
    else:
        dep_region = common.departement_regions()
        regions = insee.map(lambda c: dep_region.get(c[:3] if c.startswith("97") else c[:2]))
    overseas_codes = {r.code for r in common.regions.values() if r.overseas}
    overseas = regions.flag(lambda r: r in overseas_codes) | insee.flag(lambda c: c.startswith("97"))
    in_force = {False: common.generation_in_force(on, overseas=False),
                True: common.generation_in_force(on, overseas=True)}
    generations = sorted({g for g in in_force.values() if g is not None})
    gen_code = {g: i for i, g in enumerate(generations)}
    code_of = {k: -1 if g is None else gen_code.get(g, -1) for k, g in in_force.items()}
    which = np.where(overseas, code_of[True], code_of[False]).astype(np.int64)
    generation = _Text(which, np.array([str(g) for g in generations] + [""], dtype=object)[:-1])

    qpv: dict[int, _Text] = {}
    qpv_nom: dict[int, _Text] = {}
    qpv_m = np.full(n, np.nan)
    covered = np.zeros(n, dtype=bool)
    for i, g in enumerate(generations):
        rows = which == i
        qpv[i] = _text(col(f"qpv{g}"), n)
        qpv_nom[i] = _names(col(f"qpv{g}_nom"), qpv[i])
        qpv_m[rows] = _floats(col(f"qpv{g}_boundary_m"), n)[rows]
        covered[rows] = _bools(col(f"qpv{g}_covered"), n)[rows]
    qpv_text = _pick(qpv, which) if qpv else _text(None, n)
    inside = (qpv_text.codes >= 0) & loc
    in_qpv = np.where(inside, 1, np.where(point & covered, 0, -1)).astype(np.int8)
    with np.errstate(invalid="ignore"):
        qpv_near = point & (qpv_m < fragile_m)
        near_boundary = point & (boundary_m < fragile_m)

    order_state, order_texts = _orders(regions, col("zoning_vintage"), on, common)
    deficit = np.full(n, -2 if speciality is None else -1, dtype=np.int8)
    if speciality is not None and "speciality_deficit" in located:
        known = located["speciality_deficit"].notna().to_numpy(dtype=bool)
        deficit[known] = located["speciality_deficit"].to_numpy(dtype=object)[known].astype(bool).astype(np.int8)

    text = {
        **order_texts,
        "insee": insee, "commune": _names(col("commune_nom"), insee), "classe": classe,
        "classe_commune": _text(col("classe_commune"), n), "classe_qpv": classe_qpv, "qpv": qpv_text,
        "qpv_nom": _pick(qpv_nom, which) if qpv_nom else _text(None, n), "generation": generation,
        "commune_distance": _distances(boundary_m), "qpv_distance": _distances(qpv_m),
        "candidates": _text(col("commune_candidates"), n), "region": regions,
    }
    has_kinds = kinds is not None
    kind_conflict = np.zeros(n, dtype=bool)
    if kinds is not None:
        if len(kinds) != n:
            raise InputDataError(f"kinds: {len(kinds)} values for {n} located rows")
        text["kind"] = _text(kinds["type"].reset_index(drop=True), n)
        kind_conflict = _text(kinds["type_source"].reset_index(drop=True), n).flag(lambda v: v == "nom≠ape")
        for lang in ("fr", "en"):
            text[f"type_label_{lang}"] = _text(kinds[f"type_label_{lang}"].reset_index(drop=True), n)
    else:
        text["kind"] = _text(None, n)
        text["type_label_fr"] = text["type_label_en"] = _text(None, n)
    flags = {
        "located": loc, "commune_only": commune_only, "overlap": loc & overlap, "nearest": loc & nearest,
        "boundary": near_boundary, "merged": loc & merged, "from_qpv": from_qpv, "qpv_near": qpv_near,
        "kind_conflict": kind_conflict,
    }
    return _Sites(n=n, flags=flags, in_qpv=in_qpv, order_state=order_state, deficit=deficit, text=text,
                  region_names={code: r.name for code, r in common.regions.items()}, has_kinds=has_kinds)


def _orders(regions: _Text, vintages: Any, on: date, common: Common) -> tuple[np.ndarray, dict[str, _Text]]:
    """Zoning order of each row at date ``on``: state (0 loaded, 1 known not loaded, 2 none) and texts.

    ``vintages``: the zoning layer vintage of each row's classes (the locator's
    ``zoning_vintage`` column); rows without one (a zoning table without vintage, classes
    given by hand) are taken as classed by the order in force.
    """
    n = len(regions.codes)
    vintage = _text(vintages, n)
    pair, first = _group_ids([regions.codes, vintage.codes], n)
    state = np.zeros(len(first), dtype=np.int8)
    labels: dict[str, list[str | None]] = {k: [] for k in ("order_fr", "order_en", "order_loaded_fr",
                                                            "order_loaded_en")}
    for g, row in enumerate(first):
        region = regions.values[regions.codes[row]] if regions.codes[row] >= 0 else None
        loaded = vintage.values[vintage.codes[row]] if vintage.codes[row] >= 0 else None
        order = common.zoning_order(region, on)
        own = [o for o in common.zoning_orders if region is not None and region in o.regions]
        pool = own or [o for o in common.zoning_orders if not o.regions]
        holder = next((o for o in pool if loaded is not None and o.vintage == loaded), None)
        if loaded is None:  # classes given without a vintage: taken as those in force
            labels["order_fr"].append(order.label("fr") if order is not None else "classe fournie")
            labels["order_en"].append(order.label("en") if order is not None else "class given")
            for lang in ("fr", "en"):
                labels[f"order_loaded_{lang}"].append(labels[f"order_{lang}"][-1])
            continue
        if order is None:
            state[g] = 2
        elif order.vintage != loaded:
            state[g] = 1
        for lang in ("fr", "en"):
            labels[f"order_{lang}"].append(order.label(lang) if order is not None else None)
            labels[f"order_loaded_{lang}"].append(holder.label(lang) if holder is not None else None)
    texts = {k: _Text(pair, np.array([*v, None], dtype=object)[:-1]).recode(np.array([*v, None], dtype=object)[:-1])
             for k, v in labels.items()}
    return state[pair], texts


def _facts(located: pd.DataFrame, region: Any, on: date, fragile_m: float, common: Common,
           kinds: pd.DataFrame | None = None, speciality: str | None = None) -> _Facts:
    """Facts of every row of ``located`` as plain arrays."""
    sites = _sites(located, region, on, fragile_m, common, kinds, speciality)
    return sites.facts(np.arange(sites.n))


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


def _kind_state(role: Role, kinds: np.ndarray) -> np.ndarray:
    """Per row: 0 kind accepted by the role, 1 accepted subject to a check, 2 kind unknown, 4 not accepted.

    An unknown kind (a centre de santé of no known kind, or no kind at all) may be any of
    the kinds its FINESS category covers: it is a candidate for the role when the role
    accepts one of those.
    """
    from zonage.rules.kinds import kind_catalogue

    catalogue = kind_catalogue()
    state = np.full(len(kinds), 4, dtype=np.int8)
    if not role.structure_types:
        state[:] = 0
        return state
    for value in pd.unique(pd.Series(kinds, dtype=object).dropna()):
        rows = kinds == value
        kind = catalogue.get(value)
        if value in role.kinds:
            state[rows] = 0
        elif value in role.review_kinds:
            state[rows] = 1
        elif kind is not None and kind.unknown:
            covered = {k.id for k in catalogue.values() if set(k.finess) & set(kind.finess)} if kind.finess \
                else set(catalogue)
            if covered & (role.kinds | role.review_kinds):
                state[rows] = 2
    missing = pd.isna(kinds)
    state[missing] = 2
    return state


def _evaluate_role(scheme: Scheme, role: Role, f: _Facts, kinds: np.ndarray | None) -> _RoleResult:
    """Status (0 eligible … 3 not applicable) and reason codes of every row for one role of one (resolved) scheme."""
    n = f.n
    codes: list[_Code] = []

    def add(code: str, kind: str, mask: np.ndarray) -> None:
        if mask.any():
            codes.append(_Code(code, kind, mask))

    zone_status = np.zeros(n, dtype=np.int8)
    site = scheme.roles[scheme.site_role]
    if role.zones is not None:
        zone_status = _zone(role, f, add)
    elif role.id != scheme.site_role and site.zones is not None:
        add("ROLE_PARTNER", _INFO, np.ones(n, dtype=bool))
    else:
        add("ZONE_NOT_REQUIRED", _INFO, np.ones(n, dtype=bool))

    fail = zone_status == 2
    review = zone_status == 1
    na = np.zeros(n, dtype=bool)
    if kinds is not None:
        state = _kind_state(role, kinds)
        add("STRUCTURE_KIND_ACCEPTED", _INFO, (state == 0) & ~f.kind_conflict)
        add("STRUCTURE_KIND_CONFLICT", _UNC, (state <= 1) & f.kind_conflict)
        add("STRUCTURE_KIND_TO_CHECK", _REV, state == 1)
        add("STRUCTURE_KIND_UNKNOWN", _UNC, state == 2)
        add("STRUCTURE_KIND_NOT_ACCEPTED", _NA, state == 4)
        review = review | (state == 1) | (state == 2) | ((state == 0) & f.kind_conflict)
        na = na | (state == 4)
    if scheme.regions:
        known = pd.notna(f.region)
        outside = known & ~_isin(f.region, scheme.regions)
        add("REGION_NOT_COVERED", _NA, outside)
        add("REGION_UNKNOWN", _UNC, ~known)
        na = na | outside
        review = review | ~known
    status = np.where(na, 3, np.where(fail, 2, np.where(review, 1, 0))).astype(np.int8)
    return _RoleResult(role, status, zone_status, codes)


def _zone(role: Role, f: _Facts, add: Any) -> np.ndarray:
    """Zone status (0 eligible, 1 to review, 2 not eligible) and zone codes of every row.

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
        cls_fragile = np.where(f.from_qpv, f.qpv_near, commune_fragile)
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
    status = np.where(firm, 0, np.where(doubtful, 1, 2)).astype(np.int8)

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


def _group_ids(columns: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Id (0..k-1) of each row's tuple of integer codes (each >= -1), and one row of each id.

    Codes are combined in mixed radix; keys are renumbered with a lookup array while the
    radix stays within a few times ``n`` (cheap), else hashed once at the end.
    """
    limit = max(4 * n, 1 << 16)
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for column in columns:
        size = int(column.max()) + 2 if n else 1
        if 1 < radix <= limit < radix * size or radix * size >= 1 << 62:
            key, radix = _dense(key, radix, limit)
        key = key * size + (column + 1)
        radix *= size
    ids, k = _dense(key, radix, limit)
    first = np.zeros(k, dtype=np.int64)
    first[ids] = np.arange(n)
    return ids, first


def _dense(key: np.ndarray, radix: int, limit: int) -> tuple[np.ndarray, int]:
    """Dense ids (0..k-1) of integer keys in ``[0, radix)``, and k."""
    if radix <= limit:
        seen = np.zeros(radix, dtype=bool)
        seen[key] = True
        index = np.cumsum(seen, dtype=np.int32) - 1
        return index[key].astype(np.int64), int(index[-1]) + 1 if radix else 0
    ids, uniques = pd.factorize(key)
    return ids.astype(np.int64), len(uniques)


def _determines(key: np.ndarray, other: np.ndarray) -> bool:
    """Whether rows with equal ``key`` codes always have equal ``other`` codes."""
    if not len(key):
        return True
    first = np.zeros(int(key.max()) + 2, dtype=np.int64)
    first[key + 1] = np.arange(len(key))
    return bool((other[first[key + 1]] == other).all())


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
                rank[j] = np.where(statuses < 3, statuses * 100 + priority, 10_000)
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
                status = int(pattern[0])
                on = [c for c, flag in zip(result.codes, pattern[1:], strict=True) if flag]
                main = [c.code for kind in _MAIN[status] for c in on if c.kind == kind]
                notes = [c.code for kind in _NOTES[status] for c in on if c.kind == kind]
                target = idx[rows[which == p]]
                out["status"][target] = status
                out["role"][target] = role_id
                out["reasons"][target] = self.reasons.setdefault(";".join(main + notes), len(self.reasons))
                for lang in ("fr", "en"):
                    out[lang][target] = self.sentence(scheme, result.role, status, main, notes, lang)

    def sentence(self, scheme: Scheme, role: Role, status: int, main: list[str], notes: list[str],
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


def _fact_of(placeholder: str) -> str:
    return _ROW_FIELDS[placeholder][0]


def _take_facts(f: _Facts, idx: np.ndarray) -> _Facts:
    arrays = {k: getattr(f, k)[idx] for k in f.__dataclass_fields__ if k not in ("n", "fields")}
    return _Facts(n=len(idx), fields={k: v[idx] for k, v in f.fields.items()}, **arrays)


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
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    code = common.region_code(value)
    if code is None:
        raise InputDataError(f"region: unknown région {value!r} (INSEE codes: {', '.join(common.regions)}, or names)")
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
        raise InputDataError(f"doctor: expected a mapping, got {doctor!r}")
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
            if code.kind in (_FAIL, _NA) or (code.kind == _NEG and zone == 2):
                out.add("not_eligible", code.code, role.id, values, prefix)
            elif code.kind in (_UNC, _REV):
                decisive = code.code.startswith("STRUCTURE_KIND") or code.code == "REGION_UNKNOWN" or zone == 1
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
            raise InputDataError(f"{where}: expected a région (code or name), got {raw!r}")
        code = common.region_code(raw) if common is not None else str(raw)
        if code is None:
            raise InputDataError(f"{where}: unknown région {raw!r} (an INSEE code such as 28, or a name such as "
                                 "Normandie)")
        names = common.regions if common is not None else {}
        values.update(actual=names[code].name if code in names else str(raw),
                      value=", ".join(names[c].name if c in names else c for c in condition.value))
        return _outcome(code in condition.value, condition), values, []
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
