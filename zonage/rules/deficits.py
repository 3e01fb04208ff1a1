"""Deficit zones per medical speciality: the user's list, since no open data holds them.

ASTP posts need an ambulatory structure "dans des zones déficitaires dans les spécialités
médicales concernées" (ARS Grand Est). Each ARS identifies these zones per speciality;
they are not the GP zoning, and no national file of them exists. The user gives them as a
table (CSV/XLSX, read like any input table), one row per speciality and territory:

* ``specialite`` (or ``speciality``): the speciality, in any usual spelling
  (``cardiologie``, ``Cardiologie``…; the synonyms of ``_common.toml`` apply);
* one territory column: ``insee`` (a commune code, COG 2025 or older, resolved by the
  caller) or ``departement`` (the whole département).

A speciality absent from the table is "not known" (the answer says so), never "no deficit".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonage.errors import InputDataError
from zonage.rules.model import Common

__all__ = ["deficit_of", "read_deficits"]

_SPECIALITY = ("specialite", "spécialité", "speciality", "specialty")
_TERRITORY = ("insee", "code_insee", "commune", "departement", "département", "dep")


def read_deficits(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """The deficit-zone table as ``speciality`` (raw text), ``insee`` and ``departement`` columns.

    Raises
    ------
    zonage.errors.InputDataError
        Missing columns, or a row without speciality or territory (the row is named).
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        name = "deficits"
    else:
        from zonage.inputs import read_table

        frame = read_table(source)
        name = Path(source).name
    columns = {str(c).strip().lower(): c for c in frame.columns}
    speciality = next((columns[c] for c in _SPECIALITY if c in columns), None)
    territory = [columns[c] for c in _TERRITORY if c in columns]
    if speciality is None or not territory:
        raise InputDataError(f"{name}: a deficit-zone table needs a 'specialite' column and an 'insee' or "
                             f"'departement' column (found: {', '.join(map(str, frame.columns))})")
    out = pd.DataFrame({"speciality": frame[speciality].astype("string").str.strip()})
    insee_col = next((columns[c] for c in ("insee", "code_insee", "commune") if c in columns), None)
    dep_col = next((columns[c] for c in ("departement", "département", "dep") if c in columns), None)
    out["insee"] = frame[insee_col].astype("string").str.strip().str.zfill(5) if insee_col else pd.NA
    out["departement"] = frame[dep_col].astype("string").str.strip().str.zfill(2) if dep_col else pd.NA
    bad = out["speciality"].isna() | (out["speciality"] == "") | (out["insee"].isna() & out["departement"].isna())
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise InputDataError(f"{name}: row {row}: a speciality and a commune (insee) or département are needed")
    return out


def deficit_of(insee: Sequence[Any] | np.ndarray, speciality: str, table: pd.DataFrame,
               common: Common | None = None) -> np.ndarray:
    """Per commune: True (deficit zone of ``speciality``), False (not listed), None (speciality not in the table).

    ``speciality`` and the table's specialities are compared after the synonyms of
    ``_common.toml`` (``common``) and without accents or case.
    """
    from zonage.rules.coerce import _canonical

    key = _canonical(speciality, common)
    specialities = table["speciality"].map(lambda v: _canonical(str(v), common))
    rows = table[specialities == key]
    codes = pd.Series(np.asarray(insee, dtype=object), dtype="string")
    if rows.empty:
        return np.full(len(codes), None, dtype=object)
    communes = set(rows["insee"].dropna())
    departements = set(rows["departement"].dropna())
    dep = codes.str.slice(0, 2).where(~codes.str.startswith("97"), codes.str.slice(0, 3))
    found = codes.isin(communes) | dep.isin(departements)
    out = found.fillna(False).to_numpy(dtype=bool).astype(object)
    out[codes.isna().to_numpy()] = None
    return out
