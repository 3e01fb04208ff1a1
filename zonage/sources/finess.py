"""Parse FINESS establishment files into one normalised table.

Two formats are read:

* the mirror's flattened CSV (``finess_et_YYYY-MM-DD.csv.gz``), one row per
  establishment with its source coordinates ``x_src``, ``y_src`` and ``crs_src``;
* the official etalab stock file (``etalab-cs1100507-stock-YYYYMMDD-HHMM.csv``):
  ``;``-separated, latin-1 or UTF-8, a first line ``finess;etalab;<n>;<date>``
  then ``structureet;…`` lines (establishments) and ``geolocalisation;…`` lines
  (coordinates, whose CRS is named at the end of ``sourcecoordet``).

Both return :data:`COLUMNS`, every code as text (leading zeros kept), the
département as an INSEE code (FINESS ``9A`` → ``971``…) and the coordinates as
floats in the CRS of ``crs_src`` (NaN when absent).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from zonage.errors import SourceFormatError

#: Columns of the normalised table, in order.
COLUMNS: tuple[str, ...] = (
    "nofinesset", "nofinessej", "siret", "rs", "adresse", "code_postal", "commune",
    "insee_com", "categetab", "libcategetab", "categagretab", "libcategagretab",
    "codeape", "codesph", "libsph", "telephone", "dateouv", "datemaj",
    "x_src", "y_src", "crs_src", "coord_source", "dep",
)

#: Fields of a ``structureet`` line after the line type, in the official order.
STRUCTURE_FIELDS: tuple[str, ...] = (
    "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib", "numvoie",
    "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement", "libdepartement",
    "ligneacheminement", "telephone", "telecopie", "categetab", "libcategetab",
    "categagretab", "libcategagretab", "siret", "codeape", "codemft", "libmft", "codesph",
    "libsph", "dateouv", "dateautor", "datemaj", "numuai",
)

#: Fields of a ``geolocalisation`` line after the line type.
GEO_FIELDS: tuple[str, ...] = ("nofinesset", "coordxet", "coordyet", "sourcecoordet", "datemaj")

#: FINESS département codes of the overseas départements and collectivities → INSEE codes.
FINESS_DEPARTEMENTS: dict[str, str] = {
    "9A": "971",  # Guadeloupe (with Saint-Barthélemy and Saint-Martin)
    "9B": "972",  # Martinique
    "9C": "973",  # Guyane
    "9D": "974",  # La Réunion
    "9E": "975",  # Saint-Pierre-et-Miquelon
    "9F": "976",  # Mayotte
    "9J": "986",  # Wallis-et-Futuna
}

#: Projection named at the end of ``sourcecoordet`` → EPSG code.
PROJECTIONS: dict[str, str] = {
    "LAMBERT_93": "EPSG:2154",
    "UTM_N20": "EPSG:5490",  # RGAF09 / UTM 20N, Antilles
    "UTM_N22": "EPSG:2972",  # RGFG95 / UTM 22N, Guyane
    "UTM_S40": "EPSG:2975",  # RGR92 / UTM 40S, La Réunion
    "UTM_S38": "EPSG:4471",  # RGM04 / UTM 38S, Mayotte
    "WGS84": "EPSG:4326",
}

_TEXT_COLUMNS = [c for c in COLUMNS if c not in ("x_src", "y_src")]


def insee_departement(dep: pd.Series) -> pd.Series:
    """Map FINESS département codes to INSEE ones.

    ``9A``…``9F`` become ``971``…``976``, single digits are zero-padded
    (``1`` → ``01``); ``2A``, ``2B`` and INSEE codes are kept.
    """
    text = dep.astype("string").str.strip().str.upper()
    text = text.replace(FINESS_DEPARTEMENTS)
    return text.where(text.str.len() != 1, text.str.zfill(2))


def crs_of_sourcecoordet(source: pd.Series) -> pd.Series:
    """EPSG code named by the last comma-separated item of ``sourcecoordet`` (NA if unknown).

    ``"1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93"`` → ``"EPSG:2154"``;
    ``"…,UTM_N20"`` → ``"EPSG:5490"``, ``"…,UTM_N22"`` → ``"EPSG:2972"``,
    ``"…,UTM_S40"`` → ``"EPSG:2975"``.
    """
    last = source.astype("string").str.strip().str.rsplit(",", n=1).str[-1].str.strip().str.upper()
    return last.map(PROJECTIONS).astype("string")


def _iso_dates(values: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text (older stock files write ``DD/MM/YYYY``)."""
    text = values.astype("string").str.strip()
    french = text.str.match(r"^\d{2}/\d{2}/\d{4}$", na=False)
    swapped = text.str[6:10] + "-" + text.str[3:5] + "-" + text.str[0:2]
    return text.where(~french, swapped)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Order and type the columns of a normalised table."""
    for column in _TEXT_COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
        text = frame[column].astype("string").str.strip()
        frame[column] = text.mask(text == "")
    for column in ("x_src", "y_src"):
        text = frame[column].astype("string").str.strip().str.replace(",", ".", regex=False)
        frame[column] = pd.to_numeric(text.mask(text == ""), errors="coerce").astype(float)
    frame["dep"] = insee_departement(frame["dep"])
    for column in ("dateouv", "datemaj"):
        frame[column] = _iso_dates(frame[column])
    return frame[list(COLUMNS)].reset_index(drop=True)


def read_finess_flat(path: str | Path) -> pd.DataFrame:
    """Read the mirror's flattened FINESS file (CSV, optionally gzipped).

    Parameters
    ----------
    path
        ``finess_et_YYYY-MM-DD.csv.gz`` with columns nofinesset, nofinessej, siret,
        rs, adresse, code_postal, commune, categetab…, x_src, y_src, dep, crs_src.

    Returns
    -------
    pandas.DataFrame
        The normalised table (:data:`COLUMNS`); ``insee_com`` and
        ``coord_source`` are missing in this format.

    Raises
    ------
    SourceFormatError
        A required column is missing.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, compression="infer")
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise SourceFormatError(f"{path.name}: cannot read as CSV ({exc})") from exc
    required = {"nofinesset", "categetab", "x_src", "y_src", "crs_src", "dep"}
    missing = required - set(frame.columns)
    if missing:
        raise SourceFormatError(f"{path.name}: missing columns {sorted(missing)}")
    return _finish(frame)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_lines(lines: list[str], fields: tuple[str, ...], kind: str, name: str) -> pd.DataFrame:
    """Parse ``;``-separated lines (type prefix included) into named text columns."""
    if not lines:
        return pd.DataFrame(columns=list(fields), dtype="string")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=";", quotechar='"'))
    width = len(fields) + 1
    short = [i for i, r in enumerate(rows) if len(r) < 3]
    if short:
        raise SourceFormatError(f"{name}: {kind} line {short[0] + 1} has only {len(rows[short[0]])} fields")
    padded = [(r + [""] * width)[:width] for r in rows]
    return pd.DataFrame(padded, columns=["_type", *fields], dtype="string").drop(columns="_type")


def read_finess_etalab(path: str | Path) -> pd.DataFrame:
    """Read the official etalab FINESS stock file (``etalab-cs1100507-stock-*.csv``).

    Parameters
    ----------
    path
        The stock file: a first line ``finess;etalab;…``, then ``structureet;``
        lines (31 establishment fields, :data:`STRUCTURE_FIELDS`) and
        ``geolocalisation;`` lines (:data:`GEO_FIELDS`). Latin-1 or UTF-8;
        gzip-compressed files (``.gz``) are accepted too.

    Returns
    -------
    pandas.DataFrame
        The normalised table (:data:`COLUMNS`), one row per ``structureet``
        line; establishments without a ``geolocalisation`` line have NaN
        coordinates. ``attrs["extraction_date"]`` holds the date of the first
        line when present.

    Raises
    ------
    SourceFormatError
        The first line is not a FINESS header, or no establishment line is found.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        import gzip

        raw = gzip.decompress(raw)
    text = _decode(raw)
    lines = text.splitlines()
    if not lines or not lines[0].lower().startswith("finess;"):
        raise SourceFormatError(f"{path.name}: not an etalab FINESS stock file (first line "
                                f"{lines[0][:40] if lines else ''!r})")
    header = lines[0].split(";")
    structures = [line for line in lines[1:] if line.startswith("structureet;")]
    geos = [line for line in lines[1:] if line.startswith("geolocalisation;")]
    if not structures:
        raise SourceFormatError(f"{path.name}: no 'structureet' line")
    et = _read_lines(structures, STRUCTURE_FIELDS, "structureet", path.name)
    geo = _read_lines(geos, GEO_FIELDS, "geolocalisation", path.name)
    geo = geo.drop_duplicates("nofinesset", keep="last").rename(columns={"datemaj": "geo_datemaj"})
    et = et.merge(geo, on="nofinesset", how="left")

    dep = insee_departement(et["departement"])
    commune = et["commune"].str.strip().str.zfill(3)
    overseas = dep.str.len() == 3
    insee = ("97" + commune).where(overseas, dep + commune)
    insee = insee.where(commune.str.fullmatch(r"\d{3}", na=False) & dep.notna())
    acheminement = et["ligneacheminement"].str.strip()
    match = acheminement.str.extract(r"^(\d{5})\s*(.*)$")
    parts = [et[c].fillna("").str.strip() for c in ("numvoie", "compvoie", "typvoie", "voie", "lieuditbp")]
    adresse = parts[0].str.cat(pd.concat(parts[1:], axis=1), sep=" ").str.replace(r"\s+", " ", regex=True).str.strip()

    frame = pd.DataFrame({
        "nofinesset": et["nofinesset"],
        "nofinessej": et["nofinessej"],
        "siret": et["siret"],
        "rs": et["rs"],
        "adresse": adresse,
        "code_postal": match[0],
        "commune": match[1].fillna(acheminement),
        "insee_com": insee,
        "categetab": et["categetab"],
        "libcategetab": et["libcategetab"],
        "categagretab": et["categagretab"],
        "libcategagretab": et["libcategagretab"],
        "codeape": et["codeape"],
        "codesph": et["codesph"],
        "libsph": et["libsph"],
        "telephone": et["telephone"],
        "dateouv": et["dateouv"],
        "datemaj": et["datemaj"],
        "x_src": et["coordxet"],
        "y_src": et["coordyet"],
        "crs_src": crs_of_sourcecoordet(et["sourcecoordet"]),
        "coord_source": et["sourcecoordet"],
        "dep": dep,
    })
    result = _finish(frame)
    if len(header) >= 4 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", header[3].strip()):
        result.attrs["extraction_date"] = header[3].strip()
    return result


def read_finess(path: str | Path) -> pd.DataFrame:
    """Read either FINESS format, recognised from the first line of the file.

    Parameters
    ----------
    path
        A flattened mirror file or an official etalab stock file.

    Returns
    -------
    pandas.DataFrame
        The normalised table (:data:`COLUMNS`).
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        import gzip

        with gzip.open(path, "rb") as fh:
            first = fh.readline()
    else:
        with open(path, "rb") as fh:
            first = fh.readline()
    if first.lstrip(b"\xef\xbb\xbf").lower().startswith(b"finess;"):
        return read_finess_etalab(path)
    return read_finess_flat(path)

