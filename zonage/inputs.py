"""Read and check a planner's list of structures (CSV, XLSX, GeoJSON, GPKG, Parquet).

Reading never drops a row: every problem becomes a per-row error message naming
the row (1-based, as in a spreadsheet, header excluded) and the field, so that a
batch can report it and go on with the other rows.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from zonage.crs import WGS84
from zonage.errors import InputDataError
from zonage.io import COMPRESSIONS, file_kind, read_french_csv

#: Column names recognised (after lower-casing and stripping accents), in order of preference.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "identifiant", "ident", "code", "num", "numero"),
    "lon": ("lon", "longitude", "lng", "long", "x_wgs84"),
    "lat": ("lat", "latitude", "y_wgs84"),
    "x": ("x", "coord_x", "coordx", "x_l93", "xl93", "coordxet"),
    "y": ("y", "coord_y", "coordy", "y_l93", "yl93", "coordyet"),
    "finess": ("finess", "nofinesset", "no_finess", "num_finess", "finess_et", "n_finess"),
    "postcode": ("code_postal", "cp", "postcode", "codepostal", "code_post"),
    "commune": ("commune", "ville", "city", "localite", "libelle_commune"),
    "insee": ("insee", "code_insee", "insee_com", "code_commune", "depcom", "citycode"),
    "address": ("adresse", "address", "adr", "rue", "voie", "adresse_postale", "adresse_complete",
                "adresse_de_la_structure", "ligne_adresse", "libelle_adresse", "full_address"),
    "name": ("nom", "name", "raison_sociale", "rs", "structure", "libelle", "denomination"),
    "category": ("categetab", "categorie", "category", "cat", "categorie_finess"),
    "kind": ("type", "type_structure", "type_de_structure", "nature", "kind", "structure_type"),
    "ape": ("codeape", "code_ape", "ape", "naf", "code_naf"),
    "date": ("date", "date_question", "date_prise_de_poste", "date_de_prise_de_poste", "date_debut", "debut"),
}

#: Bounding boxes (lon/lat) where French structures can be: mainland + Corsica and the DROM.
FRANCE_BOXES: tuple[tuple[float, float, float, float], ...] = (
    (-5.8, 41.2, 9.8, 51.2),
    (-61.9, 15.8, -60.9, 16.6),
    (-61.3, 14.3, -60.7, 15.0),
    (-54.7, 2.0, -51.5, 6.0),
    (55.1, -21.5, 55.9, -20.8),
    (44.9, -13.1, 45.4, -12.5),
)
LAMBERT93_BOX = (50_000.0, 6_000_000.0, 1_300_000.0, 7_150_000.0)

#: Codes of the row errors (the batch's ``error_code`` column), with what each means.
ROW_ERROR_CODES: dict[str, str] = {
    "no_coordinates": "no lon/lat, x/y, FINESS number or geometry given",
    "not_a_number": "a coordinate that is not a number",
    "empty_coordinates": "coordinate cells left empty",
    "lambert_in_degrees": "Lambert-93 metres in columns read as degrees",
    "not_degrees": "values out of the degree ranges in columns read as degrees",
    "swapped_lonlat": "latitude and longitude swapped",
    "outside_france": "a point outside mainland France, Corsica and the DROM",
    "no_commune_near": "no commune within the locator's tolerance (at sea, abroad)",
    "missing_geometry": "no geometry on the row",
    "empty_geometry": "an empty geometry",
    "invalid_geometry": "an invalid geometry (self-intersection…)",
    "duplicate_id": "an id already given on an earlier row",
    "bad_date": "a date that cannot be read",
    "unknown_kind": "a structure type the tool does not know",
    "finess_layer_missing": "FINESS numbers given but the FINESS layer is not built",
    "finess_unknown": "a FINESS number absent from the FINESS layer",
    "finess_no_coordinates": "a FINESS establishment without coordinates",
    "address_not_found": "an address the geocoder did not find",
}


class RowError(str):
    """One row's error: the French message (the string itself) and its machine ``code``.

    The message names the row and the field; ``code`` is a key of
    :data:`ROW_ERROR_CODES`, so that callers (``zonage check``, scripts) switch on it
    instead of on the wording.
    """

    code: str

    def __new__(cls, message: str, code: str) -> RowError:
        """The ``message`` carrying ``code`` (a key of :data:`ROW_ERROR_CODES`)."""
        if code not in ROW_ERROR_CODES:
            raise ValueError(f"unknown row error code {code!r}")
        self = super().__new__(cls, message)
        self.code = code
        return self

    def __reduce__(self) -> tuple[type[RowError], tuple[str, str]]:
        return (RowError, (str(self), self.code))


def row_errors(messages: Iterable[object], code: str) -> list[RowError]:
    """``messages`` (texts) as :class:`RowError` of ``code``."""
    return [RowError(str(m), code) for m in messages]


def error_code(error: object) -> str | None:
    """The code of a row error (None for no error or a plain text)."""
    return getattr(error, "code", None)


def _fold(name: str) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass(frozen=True)
class InputSpec:
    """Which columns of the input play which role (None = absent)."""

    id: str | None = None
    lon: str | None = None
    lat: str | None = None
    x: str | None = None
    y: str | None = None
    finess: str | None = None
    postcode: str | None = None
    commune: str | None = None
    insee: str | None = None
    address: str | None = None
    name: str | None = None
    category: str | None = None
    kind: str | None = None
    ape: str | None = None
    date: str | None = None
    geometry: bool = False

    def describe(self) -> str:
        """One line naming the columns used."""
        used = {k: v for k, v in self.__dict__.items() if v and k != "geometry"}
        return ", ".join(f"{k}={v}" for k, v in used.items()) + (", geometry" if self.geometry else "")


def detect_columns(frame: pd.DataFrame, **explicit: str | None) -> InputSpec:
    """Guess column roles from their names; ``explicit`` roles (e.g. ``lon="X"``) win.

    Raises
    ------
    InputDataError
        An explicitly named column does not exist.
    """
    folded = {_fold(c): c for c in frame.columns if c != "geometry"}
    roles: dict[str, str | None] = {}
    for role, aliases in ALIASES.items():
        given = explicit.get(role)
        if given:
            if given not in frame.columns:
                raise InputDataError(f"colonne {given!r} (donnée pour {role}) absente du fichier d'entrée ; colonnes "
                                     f"présentes : {list(frame.columns)} ; corriger le nom de la colonne")
            roles[role] = given
            continue
        roles[role] = next((folded[a] for a in aliases if a in folded), None)
    is_geo = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns
    return InputSpec(**roles, geometry=is_geo)


_TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".tab")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
_GEO_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb")
_COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zip", ".xz", ".bz2")


def _format_suffix(path: Path) -> str:
    """The extension that names the format, compression extensions aside (``in.csv.gz`` → ``.csv``)."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSED_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _zip_holds_layer(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(PurePosixPath(n).suffix.lower() in _GEO_SUFFIXES for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_table(path: str | Path, *, layer: str | None = None) -> pd.DataFrame:
    """Read an input file; text columns stay text (codes keep their leading zeros).

    CSV/TXT (French conventions detected, see :func:`zonage.io.read_french_csv`),
    XLSX/XLS, GeoJSON/GPKG/SHP (a GeoDataFrame), Parquet (GeoParquet gives a
    GeoDataFrame). The content decides before the name: a gzip, zip, xz or bz2
    file is unpacked whatever its name, a workbook saved as ``.csv`` is read as
    a workbook, a text table saved as ``.xls`` as a text table.

    Raises
    ------
    InputDataError
        A missing, unreadable or unsupported file, or a table whose rows cannot
        all be read (naming the row).
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"fichier d'entrée {path} introuvable : vérifier le chemin et le nom du fichier")
    if path.is_dir():
        raise InputDataError(f"l'entrée {path} est un dossier, pas un fichier : donner le chemin du tableau")
    suffix = _format_suffix(path)
    try:
        kind = file_kind(path)
        if kind in ("xlsx", "xls", "ods"):
            return pd.read_excel(path, dtype=str, sheet_name=layer or 0)
        if kind == "parquet":
            try:
                return gpd.read_parquet(path)
            except ValueError:
                return pd.read_parquet(path)
        if kind == "sqlite" or (kind in COMPRESSIONS and suffix in _GEO_SUFFIXES) or (
                kind == "zip" and _zip_holds_layer(path)):
            return pyogrio.read_dataframe(path, layer=layer)
        if kind is not None:  # a compressed table, or a format read_french_csv explains
            return read_french_csv(path, keep_default_na=False, na_values=[""])
        if suffix in _TEXT_SUFFIXES or suffix in _EXCEL_SUFFIXES:
            with open(path, "rb") as fh:
                head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
            if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<table")):
                raise InputDataError(f"{path.name} : page web ou fichier XML, pas un tableau : l'ouvrir dans un "
                                     "tableur et l'enregistrer en .xlsx ou en CSV")
            return read_french_csv(path, keep_default_na=False, na_values=[""])
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in _GEO_SUFFIXES:
            return pyogrio.read_dataframe(path, layer=layer)
    except InputDataError:
        raise
    except Exception as exc:
        raise InputDataError(f"{path.name} : lecture impossible ({' '.join(str(exc).split())}) ; vérifier le fichier "
                             "ou l'enregistrer à nouveau en .xlsx ou en CSV") from exc
    raise InputDataError(f"{path.name} : format d'entrée {suffix!r} non pris en charge : l'enregistrer en csv, xlsx, "
                         "geojson, gpkg ou parquet")


def _numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse text numbers (decimal comma or point); return floats and a mask of unparseable cells."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float), np.zeros(len(values), dtype=bool)
    text = values.astype("string").str.strip().str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    text = text.str.replace(",", ".", regex=False)
    parsed = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(parsed) & text.notna().to_numpy() & (text != "").fillna(False).to_numpy()
    return parsed, bad


def in_france(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether each lon/lat point (degrees) lies in one of :data:`FRANCE_BOXES` (mainland, Corsica, DROM)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    inside = np.zeros(len(lon), dtype=bool)
    for minx, miny, maxx, maxy in FRANCE_BOXES:
        inside |= (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
    return inside


#: Geometry kinds of a batch row, and how each is judged (see docs/RELIABILITY.md, family 7).
GEOMETRY_POINT, GEOMETRY_SURFACE, GEOMETRY_NOT_POINT = "point", "surface", "not_point"


@dataclass
class Points:
    """Coordinates read from an input, with one error message (or None) per row.

    ``geometry_kind`` and ``geometry_note`` are set for geometry inputs only (None
    otherwise): per row the kind of the given geometry (:data:`GEOMETRY_POINT`,
    :data:`GEOMETRY_SURFACE`, :data:`GEOMETRY_NOT_POINT`, or None for an empty or invalid
    one) and, for what is not a point, a French note saying where it was judged.
    """

    x: np.ndarray
    y: np.ndarray
    crs: str
    errors: np.ndarray
    geometry_kind: np.ndarray | None = None
    geometry_note: np.ndarray | None = None


def parse_crs(value: str, option: str = "--crs") -> CRS:
    """The CRS named by ``value`` (``EPSG:2154``, ``2154``, a WKT or PROJ string).

    Raises
    ------
    InputDataError
        An unknown or malformed CRS, naming the option and giving examples.
    """
    try:
        return CRS.from_user_input(value)
    except (CRSError, TypeError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise InputDataError(
            f"{option} {value!r} : système de coordonnées inconnu ({detail}) ; exemples : EPSG:2154 "
            "(Lambert-93, x/y en mètres), EPSG:4326 (lon/lat en degrés)") from None


def _append(errors: np.ndarray, mask: np.ndarray, messages: np.ndarray | str, code: str) -> None:
    """Set the error of the rows of ``mask`` that have none yet (first problem found wins)."""
    messages = np.broadcast_to(np.asarray(messages, dtype=object), errors.shape)
    todo = mask & pd.isna(errors)
    found = np.empty(int(todo.sum()), dtype=object)
    found[:] = row_errors(messages[todo], code)
    errors[todo] = found


def read_points(frame: pd.DataFrame, spec: InputSpec, crs: str | None = None) -> Points:
    """Coordinates of each row (lon/lat, x/y + ``crs`` or geometry), checked row by row.

    Detected per row: missing or non-numeric values, Lambert-93 metres in degree
    columns, swapped latitude/longitude, degrees outside France, invalid or empty
    geometries. Rows without any coordinates get an error unless they have a FINESS
    number (looked up later). Every row of ``frame`` has one entry in the result.

    Geometries (a GeoDataFrame read from GeoJSON, GPKG, GeoParquet…) are judged per kind:

    - a Point (or a MultiPoint / collection whose points all coincide): at that point;
    - a Polygon or MultiPolygon: at ``shapely.point_on_surface``, computed in the input's
      own CRS (where the polygon's edges are straight, so the point is guaranteed to be
      inside the polygon as drawn), with the note "géométrie surfacique : jugée en un
      point intérieur" (``geometry_note``);
    - a LineString, MultiLineString, MultiPoint of several distinct points or a
      GeometryCollection: at ``shapely.point_on_surface`` too (a point of the geometry),
      with a note; :func:`zonage.eligibility.assess` then turns every verdict but
      ``not_applicable`` into ``needs_review`` (reason ``GEOMETRY_NOT_POINT``): a
      structure is one place, the tool does not guess which;
    - an empty, missing or invalid geometry: an error row naming the row and the
      reason (``shapely.is_valid_reason``, e.g. ``Self-intersection[6.05 49.05]``).

    Raises
    ------
    InputDataError
        An unknown ``crs``; projected x/y columns without ``crs``; geometries without a
        CRS and no ``crs``.
    """
    n = len(frame)
    if crs is not None:
        parse_crs(crs)
    errors = np.full(n, None, dtype=object)
    rows = np.arange(1, n + 1).astype(str)
    if spec.geometry and isinstance(frame, gpd.GeoDataFrame):
        return _points_from_geometry(frame, crs, errors, rows)
    if spec.lon and spec.lat:
        xcol, ycol, src = spec.lon, spec.lat, crs or WGS84
    elif spec.x and spec.y:
        xcol, ycol, src = spec.x, spec.y, crs or ""
        if not src:
            # x/y holding longitude/latitude in degrees (every given pair inside France's boxes) cannot be
            # metres of any French projection: read them as degrees; anything else needs its CRS
            gx, _ = _numbers(frame[spec.x])
            gy, _ = _numbers(frame[spec.y])
            given = ~np.isnan(gx) & ~np.isnan(gy)
            if given.any() and in_france(gx[given], gy[given]).all():
                src = WGS84
            else:
                raise InputDataError(
                    f"colonnes {spec.x!r}/{spec.y!r} : coordonnées projetées ; donner leur système de coordonnées "
                    "(p. ex. --crs EPSG:2154 pour du Lambert-93)"
                )
    else:
        x = np.full(n, np.nan)
        _append(errors, np.ones(n, bool) if not spec.finess else np.zeros(n, bool),
                np.char.add(np.char.add("ligne ", rows), " : pas de coordonnées : donner lon/lat, x/y avec leur "
                            "--crs, un numéro FINESS ou une géométrie"), "no_coordinates")
        return Points(x, x.copy(), WGS84, errors)
    x, bad_x = _numbers(frame[xcol])
    y, bad_y = _numbers(frame[ycol])
    line = np.char.add("ligne ", rows)
    for column, bad in ((xcol, bad_x), (ycol, bad_y)):
        if bad.any():
            shown = np.array([repr(str(v)[:30]) for v in frame[column].to_numpy(dtype=object)], dtype=object)
            _append(errors, bad, np.char.add(np.char.add(line, f", champ {column!r} : "),
                                             np.char.add(shown.astype(str), " n'est pas un nombre")), "not_a_number")
    missing = np.isnan(x) | np.isnan(y)
    if not spec.finess:
        _append(errors, missing, np.char.add(np.char.add("ligne ", rows), f", champs {xcol!r}/{ycol!r} : vides"),
                "empty_coordinates")
    if parse_crs(src).is_geographic:
        _check_degrees(x, y, xcol, ycol, rows, errors)
    return Points(x, y, str(src), errors)


def _check_degrees(lon: np.ndarray, lat: np.ndarray, xcol: str, ycol: str, rows: np.ndarray,
                   errors: np.ndarray) -> None:
    finite = np.isfinite(lon) & np.isfinite(lat)
    metres = finite & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
    minx, miny, maxx, maxy = LAMBERT93_BOX
    lambert = metres & (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
    prefix = np.char.add(np.char.add("ligne ", rows), f", champs {xcol!r}/{ycol!r} : ")
    _append(errors, lambert, np.char.add(prefix, "valeurs qui ressemblent à des mètres Lambert-93 dans des colonnes "
                                         "en degrés (donner des colonnes x/y avec --crs EPSG:2154)"),
            "lambert_in_degrees")
    _append(errors, metres, np.char.add(prefix, "valeurs qui ne sont pas des degrés (|lon| > 180 ou |lat| > 90) : "
                                        "vérifier les colonnes et leur --crs"), "not_degrees")
    inside = in_france(lon, lat)
    swapped = finite & ~inside & in_france(lat, lon)
    _append(errors, swapped, np.char.add(prefix, "latitude et longitude semblent inversées : échanger les deux "
                                         "colonnes"), "swapped_lonlat")
    outside = finite & ~inside
    _append(errors, outside, np.char.add(prefix, "point hors de France (métropole, Corse et DROM) : vérifier les "
                                         "coordonnées"), "outside_france")


def _geometry_kinds(geoms: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Kind of each valid, non-empty geometry: a point, a surface, or something else (None where not ``ok``).

    A MultiPoint or GeometryCollection made of points that all coincide is a point.
    """
    kinds = np.full(len(geoms), None, dtype=object)
    type_ids = shapely.get_type_id(geoms)
    kinds[ok & (type_ids == 0)] = GEOMETRY_POINT
    kinds[ok & np.isin(type_ids, (3, 6))] = GEOMETRY_SURFACE
    for i in np.flatnonzero(ok & pd.isna(kinds)):
        parts = shapely.get_parts(geoms[i])
        only_points = bool(len(parts)) and bool((shapely.get_type_id(parts) == 0).all())
        distinct = len(np.unique(shapely.get_coordinates(geoms[i]), axis=0))
        kinds[i] = GEOMETRY_POINT if only_points and distinct == 1 else GEOMETRY_NOT_POINT
    return kinds


def _points_from_geometry(frame: gpd.GeoDataFrame, crs: str | None, errors: np.ndarray,
                          rows: np.ndarray) -> Points:
    """Judged point of each geometry row (see :func:`read_points`)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if frame.crs is None and crs is None:
        raise InputDataError("les géométries du fichier n'ont pas de système de coordonnées (CRS) : le donner avec "
                             "--crs (p. ex. --crs EPSG:2154 pour du Lambert-93, EPSG:4326 pour des degrés)")
    src = str(crs or frame.crs)
    prefix = np.char.add(np.char.add("ligne ", rows), ", champ 'geometry' : ")
    missing = shapely.is_missing(geoms)
    empty = missing | shapely.is_empty(geoms)
    invalid = ~empty & ~shapely.is_valid(geoms)
    _append(errors, missing, np.char.add(prefix, "géométrie vide (aucune géométrie sur cette ligne)"),
            "missing_geometry")
    _append(errors, empty, np.char.add(prefix, "géométrie vide"), "empty_geometry")
    if invalid.any():
        reasons = np.full(len(geoms), "", dtype=object)
        reasons[invalid] = shapely.is_valid_reason(geoms[invalid])
        _append(errors, invalid, np.array([
            f"{p}géométrie invalide ({r}) : la réparer (QGIS « Réparer les géométries ») ou donner un point"
            for p, r in zip(prefix, reasons, strict=True)], dtype=object), "invalid_geometry")
    ok = ~empty & ~invalid
    kinds = _geometry_kinds(geoms, ok)
    point = np.full(len(frame), None, dtype=object)
    point[ok] = shapely.point_on_surface(geoms[ok])
    x = np.full(len(frame), np.nan)
    y = np.full(len(frame), np.nan)
    x[ok], y[ok] = shapely.get_x(point[ok].astype(object)), shapely.get_y(point[ok].astype(object))
    notes = np.full(len(frame), None, dtype=object)
    for i in np.flatnonzero(ok & (kinds != GEOMETRY_POINT)):
        notes[i] = geometry_note(kinds[i], shapely.get_type_id(geoms[i]), geoms[i])
    if parse_crs(src).is_geographic:
        _check_degrees(x, y, "geometry", "geometry", rows, errors)
    return Points(x, y, src, errors, geometry_kind=kinds, geometry_note=notes)


_TYPE_NAMES_FR = {1: "ligne", 2: "anneau", 4: "multipoint", 5: "multiligne", 7: "collection de géométries",
                  3: "polygone", 6: "multipolygone"}


def geometry_note(kind: str, type_id: int, geom: shapely.Geometry) -> str:
    """The French note of a geometry that is not a point (where it was judged, and what to do)."""
    name = _TYPE_NAMES_FR.get(int(type_id), "géométrie")
    if kind == GEOMETRY_SURFACE:
        return f"géométrie surfacique ({name}) : jugée en un point intérieur"
    distinct = len(np.unique(shapely.get_coordinates(geom), axis=0))
    return (f"géométrie non ponctuelle ({name}, {distinct} points distincts) : une structure est un lieu ; "
            "jugée en un de ses points, à vérifier (donner un point ou des coordonnées lon/lat)")


def duplicate_id_errors(ids: pd.Series, field: str = "id") -> np.ndarray:
    """Error message for the second and later rows carrying an id already seen (None elsewhere)."""
    errors = np.full(len(ids), None, dtype=object)
    text = ids.astype("string").str.strip()
    dup = text.duplicated(keep="first") & text.notna() & (text != "")
    if dup.any():
        first: dict[str, int] = {}
        for i, value in enumerate(text):
            if pd.notna(value) and value != "":
                first.setdefault(value, i + 1)
        for pos in np.flatnonzero(dup.to_numpy()):
            value = text.iloc[pos]
            errors[pos] = RowError(f"ligne {pos + 1}, champ {field!r} : identifiant en double {value!r} (déjà en "
                                   f"ligne {first[value]}) : donner un identifiant unique à chaque ligne",
                                   "duplicate_id")
    return errors
