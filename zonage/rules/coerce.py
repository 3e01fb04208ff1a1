"""Coercion of raw input values (dates, codes, numbers, booleans, texts) into the arrays the rules read."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from zonage.errors import InputDataError
from zonage.rules.model import Common, Scheme


def _as_date(value: Any, what: str = "date") -> date:
    """A date from a date, datetime, ISO or French (DD/MM/YYYY) string; today for None."""
    if value is None:
        return date.today()
    parsed = parse_date(value, what)
    assert parsed is not None
    return parsed


def parse_date(value: Any, what: str) -> date | None:
    """A date from a date, datetime, ``YYYY-MM-DD`` or ``DD/MM/YYYY`` text; None for a missing value.

    Raises
    ------
    zonage.errors.InputDataError
        Any other text, naming ``what`` (the field or option).
    """
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
    raise InputDataError(f"{what} : date attendue (AAAA-MM-JJ ou JJ/MM/AAAA), reçu {value!r}")


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
