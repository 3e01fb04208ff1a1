"""Parse INSEE BPE counts of general practitioners (equipment D201) per commune.

The file (``supply/bpe19_d201_commune.csv``, extracted by InseeFrLab's
DoReMIFaSolData) has one row per commune with at least one GP: ``REG, DEP,
DEPCOM, AN, nb_d201``. Codes are those of the COG of the BPE year (COG 2019 for
BPE 2019); Paris, Lyon and Marseille appear by municipal arrondissement.
Communes without a GP are absent (0).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from zonage.errors import InputDataError, SourceFormatError
from zonage.io import parse_decimal, read_french_csv

#: Columns the file must have.
BPE_COLUMNS = ("REG", "DEP", "DEPCOM", "AN", "nb_d201")

_CODE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


def read_bpe_d201(path: str | Path) -> pd.DataFrame:
    """Read the BPE count of GPs (D201) per commune.

    Returns
    -------
    pandas.DataFrame
        Columns ``depcom`` (5-char text, COG of the BPE year), ``dep``, ``reg``,
        ``year`` (int) and ``gp_count`` (int ≥ 0); one row per code.

    Raises
    ------
    SourceFormatError
        When a column is missing, a code is malformed or repeated, a count is not
        a non-negative whole number, or the file mixes several years.
    """
    path = Path(path)
    try:
        frame = read_french_csv(path, keep_default_na=False)
    except InputDataError as exc:
        raise SourceFormatError(str(exc)) from exc
    frame.columns = [str(c).lstrip("\ufeff").strip() for c in frame.columns]
    missing = [c for c in BPE_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceFormatError(
            f"{path.name}: lacks column(s) {', '.join(missing)} (has {', '.join(frame.columns)})"
        )
    codes = frame["DEPCOM"].str.strip()
    codes = codes.where(~codes.str.fullmatch(r"\d{1,4}"), codes.str.zfill(5))
    bad = ~codes.str.match(_CODE)
    if bad.any():
        first = int(bad.argmax())  # position = label: read_french_csv gives a RangeIndex
        raise SourceFormatError(
            f"{path.name}, line {first + 2}: DEPCOM {codes.iloc[first]!r} is not a commune code"
        )
    try:
        counts = parse_decimal(frame["nb_d201"], field="nb_d201")
        years = parse_decimal(frame["AN"], field="AN")
    except InputDataError as exc:
        raise SourceFormatError(f"{path.name}: {exc}") from exc
    invalid = counts.isna() | (counts < 0) | (counts % 1 != 0)
    if invalid.any():
        first = int(invalid.argmax())
        raise SourceFormatError(
            f"{path.name}, line {first + 2}: nb_d201 {frame['nb_d201'].iloc[first]!r} is not a count"
        )
    if years.isna().any() or years.nunique() != 1:
        found = sorted(years.dropna().unique())
        raise SourceFormatError(f"{path.name}: AN should hold one year, found {found}")
    repeated = codes[codes.duplicated()]
    if len(repeated):
        raise SourceFormatError(f"{path.name}: DEPCOM repeated: {sorted(set(repeated))[:10]}")
    return pd.DataFrame({
        "depcom": codes.astype("string"),
        "dep": frame["DEP"].str.strip().astype("string"),
        "reg": frame["REG"].str.strip().astype("string"),
        "year": years.astype(int),
        "gp_count": counts.astype("int64"),
    })
