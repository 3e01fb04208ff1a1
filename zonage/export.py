"""Write tables and layers: CSV, Excel (XLSX), GeoJSON (RFC 7946), GeoPackage, Parquet — atomically.

Outputs never compute: they receive finished frames and only convert formats. CSV and
XLSX cells that a spreadsheet would run as a formula are neutralised; XLSX columns are
typed (numbers as numbers, dates as dates, codes as text); CSV numbers can be written
with a decimal comma. The spreadsheet formats can carry French column labels
(:data:`COLUMN_LABELS`, documented in ``docs/COLUMNS.md``). Helpers refuse an output
that would overwrite an input (:func:`refuse_same_file`) or a name that leaves its
folder (:func:`inside_folder`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from zonage.crs import WGS84
from zonage.errors import InputDataError, ZonageError
from zonage.io import atomic_path, os_reason_fr

__all__ = [
    "COLUMN_LABELS", "FORMATS", "CsvStyle", "csv_options", "csv_style", "format_of", "inside_folder", "label_columns",
    "neutralise_formulas", "refuse_same_file", "write_table",
]

_Frame = TypeVar("_Frame", bound=pd.DataFrame)

FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg",
           ".parquet": "parquet"}


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The output format named by ``fmt`` or by the file's extension."""
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise ZonageError(f"format {fmt!r} inconnu : choisir parmi {', '.join(sorted(set(FORMATS.values())))}")
        named = FORMATS.get(Path(path).suffix.lower())
        if named is not None and named != fmt:  # a CSV named .xlsx would not open in Excel
            raise ZonageError(f"{Path(path).name} : l'extension annonce du {named} mais le format demandé est {fmt} : "
                              f"accorder les deux (p. ex. -o {Path(path).with_suffix('.' + fmt).name})")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ZonageError(
            f"{Path(path).name} : impossible de reconnaître le format à l'extension {suffix!r} ; utiliser .csv, "
            ".xlsx, .geojson, .gpkg ou .parquet"
        )
    return FORMATS[suffix]


def _flat(frame: _Frame) -> _Frame:
    """Lists, tuples and dicts as ';'-joined text (CSV and GDAL formats hold scalars only)."""
    out = frame.copy()
    for column in out.columns:
        if column == getattr(out, "_geometry_column_name", None) or out[column].dtype != object:
            continue
        sample = out[column].dropna().head(50)
        if any(isinstance(v, list | tuple | np.ndarray | dict) for v in sample):
            out[column] = out[column].map(
                lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v
            )
    return out


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def _defused(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_formulas(frame: _Frame) -> _Frame:
    """Prefix with ``'`` the text cells (and column names) a spreadsheet would run as formulas.

    Cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return are
    prefixed, unless the whole text is a plain number (``-1.5``, ``+33``, ``-2,5``):
    numbers stay numbers, and numeric columns are never touched.
    """
    out = frame.copy()
    geometry = getattr(out, "_geometry_column_name", None)
    for position, column in enumerate(out.columns):
        if column == geometry:
            continue
        values = out.iloc[:, position]
        categorical = isinstance(values.dtype, pd.CategoricalDtype)
        if not (categorical or pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        cells = values.astype(object).tolist()
        if not any(isinstance(v, str) and v.startswith(FORMULA_STARTS) for v in cells):
            continue
        defused = np.array([_defused(v) for v in cells], dtype=object)
        dtype: Any = values.dtype
        keep_dtype = not categorical and not pd.api.types.is_object_dtype(dtype)  # a string dtype stays one
        out.isetitem(position, pd.array(defused, dtype=dtype) if keep_dtype else defused)
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.Index([_defused(c) if c != geometry else c for c in out.columns])
    return out


def _holds_carriage_return(frame: pd.DataFrame) -> bool:
    if any(isinstance(c, str) and "\r" in c for c in frame.columns):
        return True
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        if any(isinstance(v, str) and "\r" in v for v in values.astype(object).tolist()):
            return True
    return False


def check_writable(path: str | Path) -> None:
    """Raise :class:`ZonageError` (one French line naming ``path``) if no file can be written there.

    Creates the missing folders, then a temporary file beside ``path`` (removed at once),
    as the atomic write will.
    """
    import tempfile

    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        detail = os_reason_fr(exc)
        if isinstance(exc, FileExistsError) and exc.filename:  # a file where a folder is needed
            detail = f"{exc.filename} est un fichier, pas un dossier"
        raise ZonageError(f"impossible d'écrire {target} ({detail}) : choisir un dossier existant où l'on peut "
                          "écrire") from None


def refuse_same_file(output: str | Path, *inputs: str | Path | None) -> None:
    """Raise :class:`InputDataError` if ``output`` is one of ``inputs``.

    The same file is the same resolved path (symbolic links followed) or, when
    both exist, the same inode (a hard link, a case-insensitive file system).
    ``None`` inputs are ignored.
    """
    target = Path(output).expanduser()
    resolved = target.resolve()
    for source in inputs:
        if source is None:
            continue
        given = Path(source).expanduser()
        same = given.resolve() == resolved
        if not same and target.exists() and given.exists():
            try:
                same = os.path.samefile(target, given)
            except OSError:
                same = False
        if same:
            raise InputDataError(
                f"la sortie {target} est le fichier d'entrée {given} : l'écrire détruirait l'entrée ; "
                "choisir un autre fichier de sortie"
            )


def inside_folder(folder: str | Path, name: str | Path) -> Path:
    """The resolved path of ``name`` inside ``folder``; refuse a name that leaves it.

    Raises
    ------
    InputDataError
        ``name`` is absolute, climbs out with ``..``, goes through a symbolic link
        pointing outside, is empty or holds a NUL character.
    """
    text = str(name)
    base = Path(folder).expanduser().resolve()
    relative = Path(text)
    if not text.strip() or "\x00" in text or relative.is_absolute() or relative.anchor:
        raise InputDataError(f"{text!r} n'est pas un nom de fichier dans {base} : donner un nom de fichier relatif")
    target = (base / relative).resolve()
    if target == base or base not in target.parents:
        raise InputDataError(f"{text!r} serait écrit hors de {base} : donner un nom de fichier dans ce dossier")
    return target


#: Column names that hold codes (FINESS, INSEE, postcodes, SIREN/SIRET, départements, régions…): written
#: as text in XLSX even when a producer left them as numbers, so that no spreadsheet reads ``01053`` as 1053.
CODE_COLUMN = re.compile(
    r"^(?:code|codes?_.*|.*_code|finess|nofiness.*|.*_finess|finess_.*|insee|.*_insee|insee_.*|code_postal|"
    r"postcode|cp|siren|siret|.*_siren|.*_siret|departement|dep|region|regions|bv2012|epci|candidate|"
    r"categetab|qpv.*|code_qp|territory|id)$",
    re.IGNORECASE,
)

#: French column labels of the tables a planner opens in a spreadsheet, per table: ``{table: {machine: label}}``.
#: Applied to CSV and XLSX only (:func:`label_columns`); GeoJSON, GeoPackage and Parquet keep the machine
#: names (stable field names for QGIS and scripts). Each label is described in ``docs/COLUMNS.md``.
COLUMN_LABELS: dict[str, dict[str, str]] = {
    "access_communes": {
        "insee": "code_commune", "nom": "commune", "population": "population", "bv2012": "code_bassin_vie_2012",
        "epci_siren": "siren_epci", "departement": "departement", "region": "code_region", "region_nom": "region",
        "territory": "territoire", "gp_count": "nb_medecins_generalistes", "access": "accessibilite_mg_100k",
    },
    "access_territories": {
        "level": "niveau", "code": "code", "supply": "offre", "method": "methode", "access": "accessibilite_mg_100k",
        "weight": "population_ponderation", "units": "nb_unites",
    },
    "access_vs_drees": {
        "year": "annee_apl", "level": "niveau", "region": "code_region", "region_nom": "region", "n": "nb_unites",
        "pearson": "correlation_pearson", "spearman": "correlation_spearman",
    },
    "score": {
        "level": "niveau", "code": "code", "name": "territoire", "region": "code_region",
        "region_share": "part_population_region", "regions": "codes_regions", "departement": "departement",
        "rank": "rang", "score": "score_besoin", "n_units": "nb_communes", "population": "population",
        "pop_std": "population_standardisee", "apl": "apl", "apl_coverage": "part_population_avec_apl",
        "gp_count": "nb_medecins_generalistes", "gp_density": "densite_mg_10k", "n_qpv": "nb_qpv",
        "qpv_population": "population_qpv", "gap": "deficit_consultations_an", "gp_missing": "mg_manquants_etp",
        "weight_coverage": "part_poids_connus", "missing": "criteres_manquants", "explanation": "explication",
        **{f"{c}_{part}": f"{label}_{suffix}"
           for c, label in (("apl", "apl"), ("gp_density", "densite_mg"), ("population", "population"),
                            ("qpv_population", "population_qpv"), ("gap", "deficit"))
           for part, suffix in (("need", "besoin"), ("points", "points"))},
    },
    "score_components": {
        "level": "niveau", "code": "code", "name": "territoire", "region": "code_region", "criterion": "critere",
        "value": "valeur", "unit": "unite", "direction": "sens", "need": "besoin", "weight": "poids",
        "weight_used": "poids_utilise", "points": "points",
    },
    "priority_picks": {
        "rank": "rang", "rule": "regle", "candidate": "candidat", "finess": "finess", "nom": "structure",
        "type_structure": "type_structure", "categetab": "categorie_finess", "libcategetab": "libelle_categorie",
        "insee": "code_commune", "commune_nom": "commune", "departement": "departement", "scheme": "dispositif",
        "classe": "zonage", "qpv2024": "qpv_2024", "gain": "gain", "cumulative_gain": "gain_cumule",
        "population_helped": "population_aidee", "units_helped": "nb_communes_aidees",
        "territory": "code_bassin_vie", "territory_name": "bassin_vie", "territory_apl": "apl_bassin_vie",
        "territory_apl_after": "apl_bassin_vie_apres", "territory_apl_rank": "rang_apl_bassin_vie",
        "access_before": "accessibilite_avant", "access_after": "accessibilite_apres", "cost": "cout",
        "explanation": "justification", "lon": "longitude", "lat": "latitude",
    },
    "priority_communes": {
        "insee": "code_commune", "nom": "commune", "departement": "departement", "territory": "code_bassin_vie",
        "population": "population", "demand": "demande_standardisee", "access_before": "accessibilite_avant",
        "access_greedy": "accessibilite_apres_plan", "access_naive": "accessibilite_apres_regle_naive",
        "posts_greedy": "postes_plan", "posts_naive": "postes_regle_naive",
    },
    "priority_territories": {
        "code": "code_bassin_vie", "name": "bassin_vie", "departement": "departement", "population": "population",
        "apl": "apl", "apl_rank": "rang_apl", "apl_after_greedy": "apl_apres_plan",
        "apl_after_naive": "apl_apres_regle_naive", "posts_greedy": "postes_plan",
        "posts_naive": "postes_regle_naive", "candidates": "nb_structures_candidates",
    },
}


def label_columns(frame: _Frame, labels: Mapping[str, str] | str | None) -> _Frame:
    """``frame`` with its columns renamed by ``labels`` (a mapping or a key of :data:`COLUMN_LABELS`).

    Columns without a label keep their machine name; the geometry column is never renamed.
    """
    if labels is None:
        return frame
    mapping = COLUMN_LABELS[labels] if isinstance(labels, str) else labels
    geometry = getattr(frame, "_geometry_column_name", None)
    return frame.rename(columns={k: v for k, v in mapping.items() if k != geometry and k in frame.columns})


_DECIMAL: ContextVar[str | None] = ContextVar("zonage_csv_decimal", default=None)


@contextlib.contextmanager
def csv_options(*, decimal: str | None = None) -> Iterator[None]:
    """Within the block, CSV tables written without an explicit ``decimal`` use this one.

    For commands that write through library functions without a ``decimal`` parameter
    (``zonage export``): ``with csv_options(decimal=","): export_layer(...)``.
    """
    token = _DECIMAL.set(decimal)
    try:
        yield
    finally:
        _DECIMAL.reset(token)


def _spreadsheet_table(frame: pd.DataFrame, *, points_only: bool) -> pd.DataFrame:
    """A plain table: points as ``lon``/``lat`` (EPSG:4326), other geometries as WKT (or left out)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    points = frame.to_crs(WGS84) if frame.crs else frame
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    is_point = (points.geom_type == "Point").to_numpy()
    if is_point.any() or frame.geometry.isna().all():
        geoms = points.geometry.to_numpy()
        table["lon"] = np.full(len(table), np.nan)
        table["lat"] = np.full(len(table), np.nan)
        table.loc[is_point, "lon"] = np.round(shapely.get_x(geoms[is_point]), 6)
        table.loc[is_point, "lat"] = np.round(shapely.get_y(geoms[is_point]), 6)
        if not points_only and not is_point.all() and points.geometry.notna().any():
            wkt = points.geometry.to_wkt(rounding_precision=6).to_numpy(dtype=object)
            wkt[is_point] = None
            table["wkt"] = wkt
    elif not points_only:
        table["wkt"] = points.geometry.to_wkt(rounding_precision=6)
    return table


# --------------------------------------------------------------------------- Excel

#: Excel's limits: rows per sheet (with the header) and characters per cell.
XLSX_MAX_ROWS, XLSX_MAX_CELL = 1_048_576, 32_767
_DATE_FORMAT, _DATETIME_FORMAT = "DD/MM/YYYY", "DD/MM/YYYY HH:MM"
#: A text column whose every value is an ISO date (``2025-03-01``) is written as dates.
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
#: ... or a French date (``01/03/2025``).
_FRENCH_DATE = r"\d{2}/\d{2}/\d{4}"
#: A text column (read as text from the planner's file) whose every value is a plain number — no
#: leading zero (``01053`` is a code), at most 15 digits (exact in a double) — is written as numbers.
_TEXT_NUMBER = r"-?(?:0|[1-9]\d{0,14})(?:[.,]\d{1,14})?"


def _column_kind(name: str, values: pd.Series) -> str:
    """How a column is written in XLSX.

    One of ``code``, ``number``, ``bool``, ``date``, ``isodate``, ``frenchdate``,
    ``datetime``, ``textnumber`` (numbers read as text) or ``text``.
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = values.dropna()
        if isinstance(dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_localize(None)
        return "date" if (stamps == stamps.dt.normalize()).all() else "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "code" if CODE_COLUMN.match(str(name)) else "number"
    sample = values.dropna().head(200).tolist()
    if sample and all(isinstance(v, dt.date) for v in sample):
        return "datetime" if any(isinstance(v, dt.datetime) for v in sample) else "date"
    if sample and all(isinstance(v, str) for v in sample) and not CODE_COLUMN.match(str(name)):
        text = values.dropna().astype(str)
        text = text[text != ""]
        if len(text) and text.str.fullmatch(_ISO_DATE).all() and _dates(text, "%Y-%m-%d"):
            return "isodate"
        if len(text) and text.str.fullmatch(_FRENCH_DATE).all() and _dates(text, "%d/%m/%Y"):
            return "frenchdate"
        if len(text) and text.str.fullmatch(_TEXT_NUMBER).all():
            return "textnumber"
    return "text"


def _dates(text: pd.Series, fmt: str) -> bool:
    """Whether every value of ``text`` is a real date in ``fmt`` (``2025-02-30`` is not)."""
    return bool(pd.to_datetime(text, format=fmt, errors="coerce").notna().all())


def _cells(values: pd.Series, kind: str) -> list[Any]:
    """Python values for openpyxl: None for missing, dates as dates, codes and text as str."""
    if kind in ("isodate", "frenchdate"):
        fmt = "%Y-%m-%d" if kind == "isodate" else "%d/%m/%Y"
        return [dt.datetime.strptime(v, fmt).date() if isinstance(v, str) and v else None
                for v in values.astype(object).tolist()]
    if kind == "textnumber":
        return [None if not isinstance(v, str) or not v else float(v.replace(",", ".")) if ("." in v or "," in v)
                else int(v) for v in values.astype(object).tolist()]
    if kind in ("date", "datetime"):
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            if isinstance(values.dtype, pd.DatetimeTZDtype):
                values = values.dt.tz_localize(None)
            stamps = values.astype(object).tolist()
            return [None if pd.isna(v) else (v.date() if kind == "date" else v.to_pydatetime()) for v in stamps]
        return [None if v is None or (isinstance(v, float) and math.isnan(v))
                else v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in values.tolist()]
    cells = values.astype(object).tolist()
    if kind == "number":
        return [None if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)) else v
                for v in cells]
    if kind == "bool":
        return [None if v is None or v is pd.NA else bool(v) for v in cells]
    if kind == "code":
        return [None if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v))
                else str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in cells]
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    out: list[Any] = []
    for v in cells:
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, str):
            out.append(ILLEGAL_CHARACTERS_RE.sub("", v)[:XLSX_MAX_CELL])
        elif isinstance(v, bool | int | float | np.integer | np.floating):
            out.append(v.item() if isinstance(v, np.generic) else v)
        else:
            out.append(ILLEGAL_CHARACTERS_RE.sub("", str(v))[:XLSX_MAX_CELL])
    return out


def _width(header: str, cells: list[Any], kind: str) -> float:
    """A column width (characters) fitting the header and most values, between 8 and 60."""
    sample = cells[:500]
    if kind in ("date", "isodate", "frenchdate"):
        longest = 10
    elif kind == "datetime":
        longest = 16
    elif kind in ("number", "textnumber"):
        longest = max((len(f"{v:,.2f}") if isinstance(v, float) else len(str(v)) for v in sample if v is not None),
                      default=0)
    else:
        longest = max((len(str(v)) for v in sample if v is not None), default=0)
    return float(min(60, max(8, len(header) + 2, longest + 2)))


def _write_xlsx(table: pd.DataFrame, target: Path, sheet: str, name: str | None = None) -> None:
    """Write ``table`` to an XLSX workbook at ``target``: typed cells, bold frozen header, autofilter.

    ``name``: the file's name in messages (``target`` may be a temporary file).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if len(table) + 1 > XLSX_MAX_ROWS:
        rows, most = (f"{n:,}".replace(",", "\u202f") for n in (len(table), XLSX_MAX_ROWS - 1))
        raise ZonageError(f"{name or target.name} : {rows} lignes ne tiennent pas dans une feuille Excel "
                          f"({most} au plus) ; écrire en .csv ou en .parquet")
    book = Workbook(write_only=True)
    sheet_out = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", "_", sheet)[:31] or "table")
    headers = [str(c) for c in table.columns]
    kinds = [_column_kind(h, table.iloc[:, i]) for i, h in enumerate(headers)]
    columns = [_cells(table.iloc[:, i], kind) for i, kind in enumerate(kinds)]
    for i, (header, kind) in enumerate(zip(headers, kinds, strict=True), start=1):
        dimension = sheet_out.column_dimensions[get_column_letter(i)]
        dimension.width = _width(header, columns[i - 1], kind)
        if kind in ("code", "text"):
            dimension.number_format = "@"
    sheet_out.freeze_panes = "A2"
    last = get_column_letter(max(1, len(headers)))
    sheet_out.auto_filter.ref = f"A1:{last}{len(table) + 1}"
    bold = Font(bold=True)
    row: list[Any] = []
    for header in headers:
        cell = WriteOnlyCell(sheet_out, value=header)
        cell.font = bold
        cell.data_type = "s"  # a header is text, whatever it starts with
        row.append(cell)
    sheet_out.append(row)
    # Text and codes are string cells, never formulas: openpyxl reads a text starting with "=" as a formula,
    # so such a text gets an explicit string cell (shown as typed, not run, without any prefix). Their columns
    # are formatted "@" so that a code typed later stays text too. Dates need their format on each cell.
    dated = {i: _DATETIME_FORMAT if kind == "datetime" else _DATE_FORMAT for i, kind in enumerate(kinds)
             if kind in ("date", "isodate", "frenchdate", "datetime")}
    texts = [i for i, kind in enumerate(kinds) if kind in ("code", "text")]
    for values in zip(*columns, strict=True) if columns else ():
        cells: list[Any] = list(values)
        for i, number_format in dated.items():
            if cells[i] is not None:
                cell = WriteOnlyCell(sheet_out, value=cells[i])
                cell.number_format = number_format
                cells[i] = cell
        for i in texts:
            if isinstance(cells[i], str) and cells[i].startswith("="):
                cell = WriteOnlyCell(sheet_out, value=cells[i])
                cell.data_type = "s"
                cells[i] = cell
        sheet_out.append(cells)
    book.save(target)


class CsvStyle(TypedDict):
    """Keyword arguments of :func:`zonage.export.write_table` for CSV: separator, BOM, decimal mark."""

    sep: str
    bom: bool
    decimal: str


def check_sep(sep: str) -> None:
    """Raise :class:`ZonageError` unless ``sep`` can separate CSV fields (one character, not a quote or line end)."""
    if len(sep) != 1 or sep in '"\r\n':
        raise ZonageError(f"séparateur CSV {sep!r} : donner un seul caractère, p. ex. --sep ';' ou --sep ','")


def csv_style(sep: str, bom: bool, decimal_comma: bool) -> CsvStyle:
    """The CSV settings of a command's options; a decimal comma turns the separator ``,`` into ``;``.

    A separator that is not one character (``''``, ``';;'``) is refused (:func:`check_sep`).
    """
    check_sep(sep)
    decimal = "," if decimal_comma else "."
    return CsvStyle(sep=";" if decimal == "," and sep == "," else sep, bom=bom, decimal=decimal)


def write_table(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    fmt: str | None = None,
    layer: str | None = None,
    sep: str = ",",
    bom: bool = False,
    decimal: str | None = None,
    labels: Mapping[str, str] | str | None = None,
) -> Path:
    """Write ``frame`` to ``path`` atomically and return the path.

    Parameters
    ----------
    frame
        A DataFrame or GeoDataFrame.
    path
        Output file; the format follows its extension unless ``fmt`` is given.
    fmt
        ``csv``, ``xlsx`` (Excel), ``geojson`` (RFC 7946: EPSG:4326, counter-clockwise
        exteriors, 6 decimals), ``gpkg`` (named ``layer``, CRS kept) or ``parquet``
        (GeoParquet for geometries).
    layer
        GeoPackage layer name, or the XLSX sheet name (default: the file's stem).
    sep, bom
        CSV separator (``;`` for French spreadsheets) and UTF-8 byte-order mark.
        Text cells a spreadsheet would run as formulas are prefixed with ``'`` in CSV
        (see :func:`neutralise_formulas`); in XLSX they are typed string cells, shown as
        written and never run.
    decimal
        CSV decimal mark of numbers: ``"."`` (default) or ``","`` (``2,47``, for a
        spreadsheet set to French; needs a separator other than ``,``). Text columns
        (codes, names) are never touched. Default: the one set by :func:`csv_options`,
        else ``"."``.
    labels
        Column labels for the spreadsheet formats (CSV, XLSX): a mapping or a key of
        :data:`COLUMN_LABELS`. GeoJSON, GeoPackage and Parquet keep the machine names.

    Notes
    -----
    XLSX: one sheet; numbers as numbers (also the text columns of an input whose every
    value is a plain number without leading zero), booleans as booleans, dates as dates
    (``DD/MM/YYYY``; also text columns holding only ISO or French dates), text and code
    columns as text cells formatted ``@`` (numeric columns named like codes — FINESS,
    INSEE, postcode, SIREN… — are written as text too); a bold header row, frozen, with
    an autofilter and column widths fitted to the content. Points come out as
    ``lon``/``lat`` columns; other geometries are left out (use ``gpkg`` for polygons).
    """
    path = Path(path)
    kind = format_of(path, fmt)
    decimal = decimal if decimal is not None else (_DECIMAL.get() or ".")
    if kind == "csv" and decimal not in (".", ","):
        raise ZonageError(f"séparateur décimal {decimal!r} : utiliser '.' ou ','")
    if kind == "csv":
        check_sep(sep)
    if kind == "csv" and decimal == sep:
        raise ZonageError("virgule décimale et séparateur « , » ensemble : choisir --sep ';' (ou le point décimal)")
    check_writable(path)
    with atomic_path(path) as tmp:
        if kind in ("csv", "xlsx"):
            table = _flat(label_columns(_spreadsheet_table(frame, points_only=kind == "xlsx"), labels))
            if kind == "xlsx":  # text cells are typed as text there: nothing to neutralise, nothing prefixed
                _write_xlsx(table, tmp, layer or path.stem, name=path.name)
            else:
                table = neutralise_formulas(table)
                encoding = "utf-8-sig" if bom else "utf-8"
                # Python's csv writer quotes a cell holding "\r" only when "\r" is part of the line end:
                # without that, a carriage return inside a cell would end the row for every reader.
                ends = "\r\n" if _holds_carriage_return(table) else os.linesep
                table.to_csv(tmp, index=False, sep=sep, encoding=encoding, lineterminator=ends, decimal=decimal)
        elif kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            if not isinstance(frame, gpd.GeoDataFrame):
                raise ZonageError(f"{path.name} : le format {kind} demande des géométries ; écrire un tableau en CSV "
                                  "ou en Parquet")
            data = _flat(frame)
            if kind == "geojson":
                pyogrio.write_dataframe(data.to_crs(WGS84), tmp, driver="GeoJSON",
                                        layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "6",
                                                       "WRITE_NAME": "NO"})
            else:
                with warnings.catch_warnings():  # the temporary file's name ends in .part, not .gpkg
                    warnings.filterwarnings("ignore", "The filename extension should be", RuntimeWarning)
                    pyogrio.write_dataframe(data, tmp, driver="GPKG", layer=layer or path.stem)
    return path
