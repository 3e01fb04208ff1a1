"""Parse the doctors' (GP) zoning lists: by commune (postcode + name) and by QPV.

Two files are read:

* the national commune-level export (``zonage_mg_communes_2025.csv``): columns
  ``Code_postal`` (leading zero often lost), ``Nom_commune`` and ``Zonage`` with
  values ``1_ZIP``, ``2_ZAC``, ``3_HZ``, ``4_ZAR`` or ``"N/A - résultat non
  disponible"``. It has **no INSEE code**; :mod:`zonage.layers.zoning` matches
  the rows to communes.
* the QPV-level list of the ARS PACA order (``zonage_mg_qpv_paca_2025.csv``):
  ``code_qp, lib_qp, zonage_qpv, insee_com`` (one row per QPV and commune).

Both parsers accept the usual variants of French CSV files (``,`` or ``;``,
UTF-8 or latin-1/cp1252, BOM) through :func:`zonage.io.read_french_csv`, and
column names in any case/accents (``"Code postal"``, ``"CODE_POSTAL"``…).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd

from zonage.errors import InputDataError, SourceFormatError
from zonage.io import read_french_csv
from zonage.names import normalise_postcodes

#: Harmonised zoning classes, most favourable to doctors' installation aid first.
#: ZIP = zone d'intervention prioritaire, ZAC = zone d'action complémentaire,
#: ZAR = zone d'accompagnement régional (used by some ARS), HZ = hors zonage.
CLASSES: tuple[str, ...] = ("ZIP", "ZAC", "ZAR", "HZ", "unknown")
UNKNOWN = "unknown"

_CLASS_ALIASES: dict[str, str] = {
    "zip": "ZIP",
    "zone d intervention prioritaire": "ZIP",
    "zac": "ZAC",
    "zone d action complementaire": "ZAC",
    "hz": "HZ",
    "hors zonage": "HZ",
    "hors zone": "HZ",
    "zar": "ZAR",
    "zone d accompagnement regional": "ZAR",
    "zone d accompagnement regionale": "ZAR",
}

COMMUNE_COLUMNS: dict[str, tuple[str, ...]] = {
    "postcode": ("code_postal", "cp", "codepostal", "code_post"),
    "name": ("nom_commune", "commune", "libelle_commune", "nom"),
    "classe_source": ("zonage", "zonage_mg", "classe"),
}
QPV_COLUMNS: dict[str, tuple[str, ...]] = {
    "code_qp": ("code_qp", "code_qpv", "codeqp"),
    "lib_qp": ("lib_qp", "nom_qp", "libelle_qp", "lib_qpv"),
    "classe_source": ("zonage_qpv", "zonage", "classe"),
    "insee_com": ("insee_com", "code_insee", "code_commune", "insee"),
}


def _column_key(name: object) -> str:
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def _select_columns(frame: pd.DataFrame, wanted: dict[str, tuple[str, ...]],
                    path: Path) -> pd.DataFrame:
    """Rename the columns found under any accepted alias; raise naming the missing ones."""
    keys = {_column_key(c): c for c in frame.columns}
    found: dict[str, str] = {}
    missing: list[str] = []
    for target, aliases in wanted.items():
        column = next((keys[a] for a in aliases if a in keys), None)
        if column is None:
            missing.append(f"{aliases[0]} (or {', '.join(aliases[1:])})" if len(aliases) > 1
                           else aliases[0])
        else:
            found[target] = column
    if missing:
        raise SourceFormatError(
            f"{path.name}: missing column(s) {'; '.join(missing)}; "
            f"columns found: {', '.join(map(str, frame.columns))}"
        )
    return pd.DataFrame({target: frame[column] for target, column in found.items()})


def _class_key(value: str) -> str:
    text = _column_key(value).replace("_", " ")
    return re.sub(r"^\d+\s*", "", text)  # "1_ZIP" -> "zip", "3_HZ" -> "hz"


def map_classes(raw: pd.Series, *, path: str | Path = "zoning file") -> pd.Series:
    """Map raw zoning values to :data:`CLASSES`.

    Parameters
    ----------
    raw
        Values such as ``"1_ZIP"``, ``"2_ZAC"``, ``"3_HZ"``, ``"4_ZAR"``, ``"ZIP"``,
        ``"Hors zonage"``, ``"N/A - résultat non disponible"`` or empty.
    path
        File name used in the error message.

    Returns
    -------
    pandas.Series
        ``ZIP``, ``ZAC``, ``ZAR``, ``HZ`` or ``unknown`` (missing, ``N/A``…).

    Raises
    ------
    SourceFormatError
        If a value is neither a known class nor a "not available" marker, so that a
        new class in a future export is noticed instead of silently lost.
    """
    text = raw.astype("string").str.strip()
    uniques = pd.unique(text.dropna())
    lookup: dict[str, str] = {}
    bad: list[str] = []
    for value in uniques:
        key = _class_key(value)
        if key in _CLASS_ALIASES:
            lookup[value] = _CLASS_ALIASES[key]
        elif key == "" or key.startswith(("n a", "na ", "nd", "non ")) or key in {"na", "nc"}:
            lookup[value] = UNKNOWN
        else:
            bad.append(value)
    if bad:
        raise SourceFormatError(
            f"{Path(path).name}: unrecognised zoning value(s) {sorted(bad)[:10]}; "
            f"expected 1_ZIP, 2_ZAC, 3_HZ, 4_ZAR or N/A"
        )
    return text.map(lookup).fillna(UNKNOWN).astype(object)


def _read(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    try:
        return read_french_csv(path, keep_default_na=False)
    except InputDataError as exc:
        raise SourceFormatError(str(exc)) from exc


def read_zoning_communes(path: str | Path) -> pd.DataFrame:
    """Read the commune-level zoning export.

    Parameters
    ----------
    path
        ``zonage_mg_communes_2025.csv`` or a file with the same columns
        (``Code_postal, Nom_commune, Zonage``), any French CSV dialect.

    Returns
    -------
    pandas.DataFrame
        One row per source row, in file order: ``line`` (1-based data row number),
        ``postcode_source`` (as written), ``postcode`` (5 digits or None when
        invalid), ``name``, ``classe_source`` (raw value) and ``classe``
        (:data:`CLASSES`).

    Raises
    ------
    SourceFormatError
        If a column is missing (the message names the file and the columns) or a
        zoning value is not recognised.
    """
    path = Path(path)
    frame = _select_columns(_read(path), COMMUNE_COLUMNS, path)
    postcode_source = frame["postcode"].astype("string").str.strip()
    out = pd.DataFrame({
        "line": range(1, len(frame) + 1),
        "postcode_source": postcode_source.astype(object),
        "postcode": normalise_postcodes(postcode_source),
        "name": frame["name"].astype("string").str.strip().astype(object),
        "classe_source": frame["classe_source"].astype("string").str.strip().astype(object),
    })
    out["classe"] = map_classes(out["classe_source"], path=path)
    return out


def read_zoning_qpv(path: str | Path) -> pd.DataFrame:
    """Read a QPV-level zoning list (the ARS PACA order's annex).

    Parameters
    ----------
    path
        ``zonage_mg_qpv_paca_2025.csv`` or a file with columns
        ``code_qp, lib_qp, zonage_qpv, insee_com``.

    Returns
    -------
    pandas.DataFrame
        ``code_qp, lib_qp, classe_source, classe, insee_com`` (5-character INSEE
        code, leading zero restored), one row per QPV and commune.

    Raises
    ------
    SourceFormatError
        If a column is missing, a zoning value is not recognised or a QPV code or
        commune code is malformed.
    """
    path = Path(path)
    frame = _select_columns(_read(path), QPV_COLUMNS, path)
    out = pd.DataFrame({
        "code_qp": frame["code_qp"].astype("string").str.strip().str.upper(),
        "lib_qp": frame["lib_qp"].astype("string").str.strip(),
        "classe_source": frame["classe_source"].astype("string").str.strip(),
        "insee_com": frame["insee_com"].astype("string").str.strip().str.upper(),
    })
    # A spreadsheet may have dropped the leading zero of "04070".
    short = out["insee_com"].str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    out.loc[short, "insee_com"] = out.loc[short, "insee_com"].str.zfill(5)
    bad_code = ~out["code_qp"].str.fullmatch(r"Q[NPV]\d{5,6}[A-Z]?").fillna(False).astype(bool)
    bad_insee = ~out["insee_com"].str.fullmatch(r"\d[\dAB]\d{3}").fillna(False).astype(bool)
    for mask, field in ((bad_code, "code_qp"), (bad_insee, "insee_com")):
        if mask.any():
            row = int(mask.to_numpy().nonzero()[0][0])
            raise SourceFormatError(
                f"{path.name}: data row {row + 1}: malformed {field} {out.loc[row, field]!r}"
            )
    out["classe"] = map_classes(out["classe_source"], path=path)
    return out.astype(object)
