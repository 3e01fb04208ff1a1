"""The facts of every located site (commune, QPV, class, order in force, fragility flags), coded as arrays.

Internal to :mod:`zonage.rules`; :func:`zonage.rules.evaluate.evaluate_sites` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from zonage.errors import InputDataError
from zonage.rules.coerce import _bools, _floats, _region_code
from zonage.rules.model import ZONE_CLASSES, Common
from zonage.rules.wording import _distances, _names, _pick, _Text, _text

#: ``commune_method`` values meaning the point itself was located.
POINT_METHODS: tuple[str, ...] = ("grid", "exact", "overlap", "nearest")


_CLASSES = tuple(c for c in ZONE_CLASSES if c != "QPV")


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
                           "from_postcode", "qpv_near", "kind_conflict")


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
    from_postcode: np.ndarray
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
        source = _text(col("classe_source"), n)
        from_qpv = source.flag(lambda s: s == "qpv")
        # Paris, Lyon, Marseille: the arrondissement (and its class) is the one the postcode names; the
        # point is not checked against arrondissement outlines (the locator has none)
        from_postcode = source.flag(lambda s: s == "arrondissement")
    else:
        from_qpv = classe_qpv.codes >= 0
        from_postcode = np.zeros(n, dtype=bool)

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
        "boundary": near_boundary, "merged": loc & merged, "from_qpv": from_qpv,
        "from_postcode": loc & from_postcode & ~from_qpv, "qpv_near": qpv_near,
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


def _fact_of(placeholder: str) -> str:
    return _ROW_FIELDS[placeholder][0]


def _take_facts(f: _Facts, idx: np.ndarray) -> _Facts:
    arrays = {k: getattr(f, k)[idx] for k in f.__dataclass_fields__ if k not in ("n", "fields")}
    return _Facts(n=len(idx), fields={k: v[idx] for k, v in f.fields.items()}, **arrays)
