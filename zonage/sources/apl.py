"""Parse the DREES APL (accessibilité potentielle localisée) to general practitioners.

Two files:

* the DREES workbook ``drees_apl_mg_2022_2023.xlsx``: one sheet per year
  (``APL 2022``, ``APL 2023``), a few title lines, a header row (``Code commune
  INSEE``, ``Commune``, ``APL aux médecins généralistes``, ``APL aux médecins
  généralistes de moins de 65 ans``, ``Population standardisée 20xx pour la
  médecine générale``, ``Population totale 20xx``), a units row under it, then one
  row per commune of the COG of the data year (Paris, Lyon and Marseille by
  municipal arrondissement; no Mayotte);
* the CartoSanté export of the APL 2023 by territoire de vie-santé (TVS): ``;``
  separated, two title lines before the header ``Code;Libellé;APL Médecins
  généralistes 2023``, ``N/A - résultat non disponible`` for missing values.

The header row is found by its content, so extra or missing title lines do not
matter. The population columns name the population year (2020 for the APL 2022),
kept as ``pop_year``.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd

from zonage.errors import InputDataError, SourceFormatError
from zonage.io import parse_decimal, read_french_csv, sniff_csv

#: Canonical column → how its header reads (accents, case and spaces ignored).
#: ``exact`` headers must match entirely, ``prefix`` ones start with the text
#: (the population headers carry a year).
APL_COLUMNS: dict[str, tuple[str, str]] = {
    "code": ("exact", "code commune insee"),
    "commune": ("exact", "commune"),
    "apl": ("exact", "apl aux medecins generalistes"),
    "apl_65": ("exact", "apl aux medecins generalistes de moins de 65 ans"),
    "pop_std": ("prefix", "population standardisee"),
    "pop_total": ("prefix", "population totale"),
}

#: Numeric columns of the APL sheets.
APL_VALUES = ("apl", "apl_65", "pop_std", "pop_total")

_SHEET_YEAR = re.compile(r"^\s*APL\s+(\d{4})\s*$", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
_CODE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
#: How many rows are scanned for the header row.
_HEADER_SCAN = 40


def normalise_header(value: object) -> str:
    """Lower-case ``value`` without accents and with single spaces (``''`` for empty cells)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).strip().lower()


def _match_columns(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, (how, text) in APL_COLUMNS.items():
        for index, cell in enumerate(header):
            if (how == "exact" and cell == text) or (how == "prefix" and cell.startswith(text)):
                found[name] = index
                break
    return found


def _code_text(value: object) -> str | None:
    """Commune code as 5-character text (Excel may store ``1001`` for ``01001``)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:05d}"
    text = str(value).strip()
    if not text:
        return None
    return text.zfill(5) if text.isdigit() else text.upper()


def _open_workbook(path: str | Path):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        message = f"{Path(path).name}: cannot open as an Excel workbook ({exc})"
        raise SourceFormatError(message) from exc


def _read_sheet_rows(worksheet, where: str) -> tuple[int, list, list[tuple]]:
    rows = worksheet.iter_rows(values_only=True)
    preamble: list[tuple] = []
    for number, row in enumerate(rows, start=1):
        cells = [normalise_header(v) for v in row]
        if "code commune insee" in cells:
            return number, [*preamble, row], list(rows)
        preamble.append(row)
        if number >= _HEADER_SCAN:
            break
    raise SourceFormatError(
        f"{where}: no header row with 'Code commune INSEE' in the first {_HEADER_SCAN} rows"
    )


def _sheet_year(sheet: str, preamble: list[tuple], where: str) -> int:
    match = _SHEET_YEAR.match(sheet)
    year = int(match.group(1)) if match else None
    for row in preamble[:-1]:  # title lines, e.g. 'Millésime : 2022'
        for cell in row:
            text = normalise_header(cell)
            if text.startswith("millesime"):
                found = _YEAR.search(text)
                if found:
                    if year is not None and int(found.group(1)) != year:
                        raise SourceFormatError(
                            f"{where}: sheet name says {year} but the title says "
                            f"millésime {found.group(1)}"
                        )
                    year = int(found.group(1))
    if year is None:
        raise SourceFormatError(f"{where}: cannot tell the APL year (sheet name or 'Millésime')")
    return year


def _numbers(values: pd.Series, column: str, where: str) -> pd.Series:
    """Cells of a numeric column as floats; text cells go through :func:`parse_decimal`."""
    is_number = values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    result = pd.Series(float("nan"), index=values.index, dtype=float)
    result[is_number] = values[is_number].astype(float)
    if (~is_number).any():
        try:
            result[~is_number] = parse_decimal(values[~is_number], field=column)
        except InputDataError as exc:  # its message names the Excel row
            raise SourceFormatError(f"{where}: {exc}") from exc
    return result


def read_apl_sheet(path: str | Path, sheet: str, *, _workbook=None) -> pd.DataFrame:
    """Read one ``APL yyyy`` sheet of the DREES workbook.

    Parameters
    ----------
    path
        The workbook.
    sheet
        Sheet name, e.g. ``"APL 2022"``.

    Returns
    -------
    pandas.DataFrame
        One row per commune code of the data year's COG, columns ``code`` (5-char
        text), ``commune``, ``year``, ``apl``, ``apl_65``, ``pop_std``, ``pop_total``
        (floats, NaN where the sheet has no value) and ``pop_year`` (year of the
        populations, read from their header; may be missing).

    Raises
    ------
    SourceFormatError
        When the sheet, the header row or a column is missing, a code is not a
        commune code, a code appears twice or a value is not a number; the message
        names the file and sheet.
    """
    name = Path(path).name
    where = f"{name}, sheet {sheet!r}"
    workbook = _workbook or _open_workbook(path)
    try:
        if sheet not in workbook.sheetnames:
            sheets = ", ".join(workbook.sheetnames)
            raise SourceFormatError(f"{name}: no sheet {sheet!r} (sheets: {sheets})")
        header_row, preamble, data = _read_sheet_rows(workbook[sheet], where)
    finally:
        if _workbook is None:
            workbook.close()
    header = [normalise_header(v) for v in preamble[-1]]
    columns = _match_columns(header)
    missing = [APL_COLUMNS[c][1] for c in APL_COLUMNS if c not in columns]
    if missing:
        raise SourceFormatError(
            f"{where}: header row {header_row} lacks column(s) "
            + ", ".join(repr(m) for m in missing)
            + " (accents and case ignored)"
        )
    year = _sheet_year(sheet, preamble, where)
    pop_matches = [_YEAR.search(header[columns[c]]) for c in ("pop_std", "pop_total")]
    pop_year = next((int(m.group(1)) for m in pop_matches if m), None)

    records = []
    for offset, row in enumerate(data, start=header_row + 1):
        cells = [row[columns[c]] if columns[c] < len(row) else None for c in APL_COLUMNS]
        code = _code_text(cells[0])
        if code is None:  # units row under the header, blank rows
            continue
        if not _CODE.match(code):
            raise SourceFormatError(f"{where}, row {offset}: {cells[0]!r} is not a commune code")
        records.append((offset, code, cells[1], *cells[2:]))
    frame = pd.DataFrame.from_records(records, columns=["row", "code", "commune", *APL_VALUES])
    if frame.empty:
        raise SourceFormatError(f"{where}: no data row under the header (row {header_row})")
    frame.index = pd.Index(frame.pop("row"), name="row")  # Excel row numbers, for messages
    for column in APL_VALUES:
        frame[column] = _numbers(frame[column], column, where)
    duplicated = frame["code"][frame["code"].duplicated()]
    if len(duplicated):
        raise SourceFormatError(f"{where}: code(s) appear twice: {sorted(set(duplicated))[:10]}")
    frame["commune"] = frame["commune"].astype("string")
    frame["code"] = frame["code"].astype("string")
    frame.insert(2, "year", year)
    frame["pop_year"] = pd.array([pop_year] * len(frame), dtype="Int64")
    return frame.reset_index(drop=True)


def read_apl_workbook(path: str | Path, years: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Every ``APL yyyy`` sheet (or those of ``years``) as one long table.

    Columns as :func:`read_apl_sheet`; sorted by year then code.

    Raises
    ------
    SourceFormatError
        When the workbook has no ``APL yyyy`` sheet or lacks a requested year.
    """
    name = Path(path).name
    workbook = _open_workbook(path)
    try:
        available = {}
        for sheet in workbook.sheetnames:
            match = _SHEET_YEAR.match(sheet)
            if match:
                available[int(match.group(1))] = sheet
        if not available:
            raise SourceFormatError(
                f"{name}: no sheet named 'APL yyyy' (sheets: {', '.join(workbook.sheetnames)})"
            )
        wanted = sorted(available) if years is None else list(years)
        lacking = [y for y in wanted if y not in available]
        if lacking:
            raise SourceFormatError(
                f"{name}: no sheet for year(s) {lacking}; has {sorted(available)}"
            )
        frames = [read_apl_sheet(path, available[y], _workbook=workbook) for y in wanted]
    finally:
        workbook.close()
    return pd.concat(frames, ignore_index=True)


def read_apl_tvs(path: str | Path) -> pd.DataFrame:
    """Read the CartoSanté export of the APL by territoire de vie-santé.

    The header line (first field ``Code``) is found among the first lines; the
    year comes from the APL column's header (``APL Médecins généralistes 2023``).

    Returns
    -------
    pandas.DataFrame
        Columns ``code_tvs`` (text as published: 5-character bassin de vie codes,
        4-character canton-ville codes, ``976ZZ``-like codes for territories
        without a value), ``libelle``, ``year``, ``apl`` (NaN for "N/A - résultat
        non disponible").

    Raises
    ------
    SourceFormatError
        When the header line or a column is missing or a value is not a number.
    """
    path = Path(path)
    raw = path.read_bytes()
    dialect = sniff_csv(raw)
    text = raw.decode(dialect.encoding)
    lines = text.splitlines()
    header_line = None
    for index, line in enumerate(lines[:_HEADER_SCAN]):
        first = normalise_header(line.lstrip("\ufeff").split(dialect.sep)[0].strip('"'))
        if first == "code":
            header_line = index
            break
    if header_line is None:
        raise SourceFormatError(
            f"{path.name}: no header line starting with 'Code' in the first {_HEADER_SCAN} lines"
        )
    frame = read_french_csv(path, skiprows=header_line, keep_default_na=False)
    frame.columns = [str(c).lstrip("\ufeff").strip() for c in frame.columns]
    normalised = {normalise_header(c): c for c in frame.columns}
    apl_columns = [c for n, c in normalised.items() if n.startswith("apl")]
    expected = (("Code", "code"), ("Libellé", "libelle"))
    missing = [label for label, key in expected if key not in normalised]
    if not apl_columns:
        missing.append("APL Médecins généralistes yyyy")
    if missing:
        raise SourceFormatError(
            f"{path.name}: header line {header_line + 1} lacks column(s) {', '.join(missing)}"
        )
    apl_column = apl_columns[0]
    year_match = _YEAR.search(apl_column)
    if year_match is None:
        raise SourceFormatError(f"{path.name}: no year in the APL column header {apl_column!r}")
    try:
        apl = parse_decimal(frame[apl_column], field=apl_column)
    except InputDataError as exc:
        raise SourceFormatError(f"{path.name}: {exc}") from exc
    result = pd.DataFrame({
        "code_tvs": frame[normalised["code"]].astype("string").str.strip(),
        "libelle": frame[normalised["libelle"]].astype("string").str.strip(),
        "year": int(year_match.group(1)),
        "apl": apl,
    })
    result = result[result["code_tvs"].notna() & (result["code_tvs"] != "")]
    duplicated = result["code_tvs"][result["code_tvs"].duplicated()]
    if len(duplicated):
        twice = sorted(set(duplicated))[:10]
        raise SourceFormatError(f"{path.name}: TVS code(s) appear twice: {twice}")
    return result.reset_index(drop=True)
