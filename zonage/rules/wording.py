"""Wording of the verdict sentences: French/English numbers and dates, coded texts (:class:`_Text`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from zonage.rules.coerce import _clean

_SEP = {"fr": " ; ", "en": "; "}


_COLON = {"fr": " : ", "en": ": "}


_MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
              "octobre", "novembre", "décembre")


_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


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
