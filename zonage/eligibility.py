"""Batch eligibility: input rows → points → commune/QPV/class → each scheme's rule → verdicts.

:func:`assess` is pure (no file is written): it returns one row per input row, in
input order, with ``status`` ``ok`` (assessed: one verdict per scheme in the
``statut_<scheme>`` columns, a readable ``resume``) or ``error`` with a message naming
the row and field, plus the long table of verdicts per scheme with reason codes.

Per scheme, a structure is ``eligible`` (as the part named in ``role_<scheme>``),
``needs_review``, ``not_eligible`` or ``not_applicable`` (the scheme is not open in its
région or to its kind of structure). ``statut_mg`` is the best answer over the GP
schemes for the structure as the *host site* of the post (the part the zone condition
bears on): a hospital that can only be the hospital partner of a shared post is not
counted eligible there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage.crs import WGS84, transform_xy
from zonage.inputs import (
    GEOMETRY_NOT_POINT,
    GEOMETRY_SURFACE,
    InputSpec,
    RowError,
    detect_columns,
    duplicate_id_errors,
    error_code,
    read_points,
    row_errors,
)
from zonage.locate import Locator

if TYPE_CHECKING:
    from zonage.geocode import Geocoder, Geocoding
    from zonage.rules import Scheme

#: Row statuses: assessed, or an error naming the row and field.
ROW_STATUSES: tuple[str, ...] = ("ok", "error")
#: Verdict statuses of one scheme, best first.
STATUSES: tuple[str, ...] = ("eligible", "needs_review", "not_eligible", "not_applicable")
#: Columns of the located frame copied into the per-row result.
LOCATED_COLUMNS: tuple[str, ...] = (
    "insee", "commune_nom", "insee_arm", "commune_method", "commune_boundary_m", "classe", "classe_source",
    "classe_commune", "classe_qpv",
)
#: Coordinates given beside a FINESS number farther than this (m) from the FINESS point are flagged.
FINESS_DISTANCE_M = 1000.0
#: Per-row note of a geometry input that is not a point (where it was judged), French.
GEOMETRY_NOTE_COLUMN = "note_geometrie"
#: Columns the batch writes (an input column of the same name is kept as ``entree_<name>``).
OUTPUT_PREFIXES: tuple[str, ...] = ("statut_", "role_", "raisons_", "message_")


@dataclass
class BatchResult:
    """Outcome of a batch: per-row table (input order) and long verdict table."""

    rows: gpd.GeoDataFrame
    verdicts: pd.DataFrame
    spec: InputSpec

    def summary(self, site_roles: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Counts of verdicts per scheme and status, and the rows in error.

        With ``site_roles`` (scheme → the role that hosts the post), an "eligible" answer for
        another role (a hospital as the hospital part of a shared post) is counted apart, in
        ``partner``, not as ``eligible``.
        """
        status = self.verdicts["status"].astype(str) if len(self.verdicts) else pd.Series(dtype=str)
        if site_roles and len(self.verdicts):
            host = self.verdicts["scheme"].astype(str).map(dict(site_roles))
            partner = (status == "eligible") & host.notna() & (self.verdicts["role"].astype(str) != host)
            status = status.where(~partner.to_numpy(), "partner")
        table = pd.crosstab(self.verdicts["scheme"].astype(str), status) if len(self.verdicts) else pd.DataFrame()
        columns = [*STATUSES[:1], *(["partner"] if site_roles else []), *STATUSES[1:]]
        table = table.reindex(columns=columns, fill_value=0)
        errors = int((self.rows["status"] == "error").sum())
        table["error"] = errors
        return table.fillna(0).astype(int)

    def summary_gp(self) -> pd.Series:
        """Rows per ``statut_mg`` (best answer over the GP schemes as host site), errors included."""
        values = self.rows["statut_mg"].where(self.rows["status"] != "error", "error")
        return values.value_counts().reindex([*STATUSES, "error"], fill_value=0)

    def summary_by_class(self) -> pd.DataFrame:
        """``statut_mg`` per zoning class (assessed rows)."""
        located = self.rows[self.rows["status"] != "error"]
        if located.empty:
            return pd.DataFrame()
        return pd.crosstab(located["classe"].astype(str), located["statut_mg"])


def _finess_numbers(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.replace(r"\s+", "", regex=True)
    return text.where(text != "").str.upper().str.zfill(9)


def assess(
    frame: pd.DataFrame,
    locator: Locator,
    schemes: Mapping[str, Scheme] | None = None,
    *,
    spec: InputSpec | None = None,
    crs: str | None = None,
    finess: gpd.GeoDataFrame | None = None,
    crosswalk: pd.DataFrame | None = None,
    fragile_m: float = 50.0,
    on: date | None = None,
    speciality: str | None = None,
    deficits: pd.DataFrame | None = None,
    chunk_size: int = 200_000,
    progress: Callable[[int, int], None] | None = None,
    geocoder: Geocoder | Geocoding | None = None,
) -> BatchResult:
    """Assess every row of ``frame`` for every scheme.

    Parameters
    ----------
    frame
        The input rows (see :func:`zonage.inputs.read_table`).
    locator
        A :class:`~zonage.locate.Locator` (built once, reused across batches).
    schemes
        Schemes from :func:`zonage.rules.load_schemes` (None: all packaged schemes).
    spec
        Column roles; detected from the column names when None. A ``type`` column gives
        the kind of structure in everyday words ("MSP", "centre de santé dentaire", a
        FINESS category code…; an unknown word is an error naming the row); a ``date``
        column the date of each row's question.
    crs
        CRS of x/y columns or of geometries without one (an unknown one raises
        :class:`~zonage.errors.InputDataError`).
    finess
        The ``finess`` layer: rows with a FINESS number and no coordinates take the
        establishment's point, and every such row its category, APE code and name (which
        give the kind of structure, see :func:`zonage.rules.kinds.classify`).
    crosswalk
        The ``cog_crosswalk`` table: a given commune code changed by a merger, or
        different from the commune found, makes the answer ``needs_review``.
    fragile_m
        Boundary distance (m) under which an answer is flagged fragile.
    on
        Date of the questions without a date of their own (zoning order, QPV generation,
        dated rules); default today.
    speciality, deficits
        Speciality of the posts and the user's table of deficit zones per speciality
        (:func:`zonage.rules.deficits.read_deficits`), for the schemes whose zone is the
        speciality's deficit zone (ASTP); without them those answers are "to check".
    chunk_size, progress
        Rows per chunk and a callback ``(rows done, total)`` for a progress bar.
    geocoder
        A :class:`~zonage.geocode.Geocoder` or :class:`~zonage.geocode.Geocoding`
        (None: no geocoding). Rows without usable coordinates and without a FINESS
        number but with address fields (``adresse``, ``code_postal``, ``commune``…)
        are geocoded first; their ``geo_*`` columns (score, type, label, flags) are
        kept. A result that only gives the commune is located by commune
        (``commune_method`` = ``commune``: "needs review: only the commune is known",
        unless the whole commune is in one class and the rule ignores QPV, which the
        message then says); a doubtful result (low score, postcode or commune
        disagreeing with the input) makes the answer ``needs_review``.

    Notes
    -----
    Geometry inputs (see :func:`zonage.inputs.read_points`): a polygon is judged at an
    interior point, its verdicts keep their status with the reason ``GEOMETRY_SURFACE``;
    a line, several distinct points or a collection is judged at one of its points and
    every verdict but ``not_applicable`` becomes ``needs_review`` (``GEOMETRY_NOT_POINT``);
    both carry a French note in the ``note_geometrie`` column. Empty or invalid
    geometries are error rows naming the reason.
    """
    from zonage.rules import evaluate_sites, load_schemes

    schemes = load_schemes() if schemes is None else schemes
    spec = spec or detect_columns(frame)
    n = len(frame)
    points = read_points(frame, spec, crs)
    errors = points.errors.copy()
    x, y, src = points.x.copy(), points.y.copy(), points.crs
    geo = None
    if geocoder is not None:
        x, y, src, geo = _geocode_rows(frame, spec, geocoder, x, y, src, errors)
    facts = _structure_facts(frame, spec, errors)
    if spec.id:
        dup = duplicate_id_errors(frame[spec.id].reset_index(drop=True), field=spec.id)
        errors = np.where(pd.isna(errors), dup, errors)
    if spec.finess:
        x, y, src = _use_finess(frame, spec, finess, x, y, src, facts, errors)
    dates = _row_dates(frame, spec, on, errors)
    postcodes = frame[spec.postcode].reset_index(drop=True) if spec.postcode else None

    located_parts = []
    todo = np.flatnonzero(pd.isna(errors))
    for start in range(0, max(len(todo), 1), chunk_size):
        chunk = todo[start:start + chunk_size]
        located_parts.append(locator.locate(x[chunk], y[chunk], crs=src,
                                            postcodes=None if postcodes is None else postcodes.iloc[chunk]))
        if progress:
            progress(min(start + chunk_size, len(todo)), len(todo))
    located = pd.concat(located_parts, ignore_index=True) if located_parts else locator.locate(np.array([]),
                                                                                                np.array([]))
    located.index = todo
    outside = located["territory"].isna().to_numpy()
    no_commune = ~outside & located["insee"].isna().to_numpy()
    row_labels = (todo + 1).astype(str)
    errors[todo[outside]] = row_errors((f"ligne {r} : point hors de France (métropole, Corse et DROM)"
                                        for r in row_labels[outside]), "outside_france")
    errors[todo[no_commune]] = row_errors((
        f"ligne {r} : aucune commune à moins de {locator.tolerance_m:.0f} m du point (en mer ou hors de France ?)"
        for r in row_labels[no_commune]), "no_commune_near")
    ok = todo[~outside & ~no_commune]
    located = located.loc[ok]
    _commune_checks(frame, spec, crosswalk, located)
    if geo is not None:
        _commune_only(located, geo, locator)
    if speciality is not None and deficits is not None:
        from zonage.rules.deficits import deficit_of

        common = next(iter(schemes.values())).common
        located["speciality_deficit"] = deficit_of(located["insee"].astype(object).to_numpy(), speciality, deficits,
                                                   common)

    from zonage.rules.kinds import classify

    kinds = classify(category=facts["category"][ok], ape=facts["ape"][ok], name=facts["name"][ok],
                     given=facts["given"][ok])
    days = pd.unique(dates[ok]) if len(ok) else np.array([on or date.today()], dtype=object)
    parts = []
    for day in days:
        members = np.flatnonzero(dates[ok] == day)
        part = evaluate_sites(located.iloc[members].reset_index(drop=True), schemes,
                              kinds=kinds.iloc[members].reset_index(drop=True), fragile_m=fragile_m, date=day,
                              speciality=speciality)
        part["row"] = members[part["row"].to_numpy()]
        parts.append(part)
    if len(parts) == 1:
        verdicts = parts[0]
    else:  # categories differ between parts: plain text
        text = ("scheme", "role", "status", "reasons", "message_fr", "message_en")
        verdicts = pd.concat([p.astype(dict.fromkeys(text, object)) for p in parts], ignore_index=True)
    located["finess_distance_m"] = facts["finess_distance_m"][ok]
    _flag_commune_mismatch(verdicts, located)
    _flag_finess_elsewhere(verdicts, located)
    if geo is not None:
        _flag_geocoding(verdicts, located, geo)
    if points.geometry_kind is not None and points.geometry_note is not None:
        _flag_geometry(verdicts, points.geometry_kind[ok], points.geometry_note[ok])
    verdicts["row"] = ok[verdicts["row"].to_numpy()]
    rows_out = _per_row(frame, n, errors, located, verdicts, x, y, src, schemes, kinds, ok)
    if points.geometry_note is not None:
        rows_out[GEOMETRY_NOTE_COLUMN] = pd.Series(points.geometry_note, index=rows_out.index, dtype=object)
    if geo is not None:
        rows_out = _with_geocoding(rows_out, geo)
    verdicts = verdicts.sort_values(["row", "scheme"], kind="stable").reset_index(drop=True)
    return BatchResult(rows=rows_out, verdicts=verdicts, spec=spec)


def _structure_facts(frame: pd.DataFrame, spec: InputSpec, errors: np.ndarray) -> dict[str, np.ndarray]:
    """What the input says of each structure's kind: category, APE code, name, and the kind given (``type``)."""
    from zonage.rules.kinds import parse_kinds

    n = len(frame)

    def column(name: str | None) -> np.ndarray:
        if not name:
            return np.full(n, None, dtype=object)
        values = frame[name].reset_index(drop=True).astype("string").str.strip()
        return np.array(values.where(values != "").astype(object).where(values.notna(), None), dtype=object)

    category = column(spec.category)
    given = np.full(n, None, dtype=object)
    if spec.kind:
        words = column(spec.kind)
        digits = np.array([isinstance(w, str) and w.isdigit() for w in words], dtype=bool)
        category = np.where(digits & pd.isna(category), words, category)  # a FINESS category given as the type
        plain = words.copy()
        plain[digits] = None
        kinds, bad = parse_kinds(pd.Series(plain), field=spec.kind)
        given = np.array(kinds, dtype=object)
        wrong = pd.notna(bad) & pd.isna(errors)
        errors[wrong] = row_errors(bad[wrong], "unknown_kind")
    return {"category": category, "ape": column(spec.ape), "name": column(spec.name), "given": given,
            "finess_distance_m": np.full(n, np.nan)}


def _row_dates(frame: pd.DataFrame, spec: InputSpec, on: date | None, errors: np.ndarray) -> np.ndarray:
    """Date of each row's question: its own (``date`` column), else ``on``, else today."""
    from zonage.errors import InputDataError
    from zonage.rules.coerce import parse_date

    default = on or date.today()
    out = np.full(len(frame), default, dtype=object)
    if not spec.date:
        return out
    values = frame[spec.date].reset_index(drop=True)
    for i, value in enumerate(values):
        if value is None or (isinstance(value, str) and not value.strip()) or (not isinstance(value, str)
                                                                                 and pd.isna(value)):
            continue
        try:
            parsed = parse_date(value, f"ligne {i + 1}, champ {spec.date!r}")
        except InputDataError as exc:
            if pd.isna(errors[i]):
                errors[i] = RowError(f"{exc} (p. ex. 2025-11-01 ou 01/11/2025)", "bad_date")
            continue
        if parsed is not None:
            out[i] = parsed
    return out


def _metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distances (m) between points in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _use_finess(frame: pd.DataFrame, spec: InputSpec, finess: gpd.GeoDataFrame | None, x: np.ndarray,
                y: np.ndarray, src: str, facts: dict[str, np.ndarray], errors: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, str]:
    """Fill coordinates (where none were given) from FINESS; take category, APE code and name from its record."""
    numbers = _finess_numbers(frame[spec.finess].reset_index(drop=True))
    if finess is None:
        missing = np.isnan(x) & pd.isna(errors)
        errors[missing] = row_errors((f"ligne {i + 1}, champ {spec.finess!r} : couche FINESS absente (lancer "
                                      "`zonage build`)" for i in np.flatnonzero(missing)), "finess_layer_missing")
        return x, y, src
    table = finess.drop_duplicates("nofinesset").set_index("nofinesset")
    found = numbers.isin(table.index).to_numpy()
    given = numbers.notna().to_numpy()
    if src != WGS84:  # bring given coordinates to degrees so that FINESS points can join them
        x, y = transform_xy(x, y, src, WGS84)
        src = WGS84
    need = np.isnan(x) & pd.isna(errors)
    bad = need & given & ~found
    errors[bad] = row_errors((f"ligne {i + 1}, champ {spec.finess!r} : numéro FINESS {numbers.iloc[i]} absent de la "
                              "couche FINESS" for i in np.flatnonzero(bad)), "finess_unknown")
    none = need & ~given
    errors[none] = row_errors((f"ligne {i + 1} : ni coordonnées ni numéro FINESS" for i in np.flatnonzero(none)),
                              "no_coordinates")
    both = ~np.isnan(x) & pd.isna(errors) & found  # coordinates given beside a known FINESS number
    if both.any():
        rows_both = np.flatnonzero(both)
        pts = table.loc[numbers[both]].geometry
        pts = pts.to_crs(WGS84) if pts.crs and str(pts.crs) != WGS84 else pts
        ok_pts = (~pts.isna() & ~pts.is_empty).to_numpy()
        fx = np.where(ok_pts, pts.x.where(ok_pts).to_numpy(dtype=float), np.nan)
        fy = np.where(ok_pts, pts.y.where(ok_pts).to_numpy(dtype=float), np.nan)
        distance = _metres(x[rows_both], y[rows_both], fx, fy)
        far = np.isfinite(distance) & (distance > FINESS_DISTANCE_M)
        facts["finess_distance_m"][rows_both[far]] = np.round(distance[far])
    take = need & found
    hits = table.loc[numbers[take]]
    geom = hits.geometry.to_crs(WGS84) if hits.crs and str(hits.crs) != WGS84 else hits.geometry
    has = (~geom.isna() & ~geom.is_empty).to_numpy()
    rows = np.flatnonzero(take)
    x[rows[has]] = geom[has].x.to_numpy()
    y[rows[has]] = geom[has].y.to_numpy()
    errors[rows[~has]] = row_errors((f"ligne {i + 1}, champ {spec.finess!r} : le FINESS {numbers.iloc[i]} n'a pas "
                                     "de coordonnées" for i in rows[~has]), "finess_no_coordinates")
    # one FINESS number, one answer: its record's category, APE code and name decide the kind, whatever
    # label the planner typed beside it (the `type` column, when given, still comes first)
    for fact, column in (("category", "categetab"), ("ape", "codeape"), ("name", "rs")):
        if column not in table.columns:
            continue
        fill = found.copy()
        values = table.loc[numbers[fill], column].astype("string")
        facts[fact][fill] = values.where(values.notna(), None).to_numpy(dtype=object)
    return x, y, src


def _geocode_rows(
    frame: pd.DataFrame, spec: InputSpec, geocoder: Geocoder | Geocoding, x: np.ndarray, y: np.ndarray, src: str,
    errors: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, str, pd.DataFrame | None]:
    """Geocode rows without coordinates nor FINESS number but with an address; their point in degrees."""
    from zonage.geocode import geocode_frame

    roles = [c for c in (spec.address, spec.postcode, spec.commune) if c]
    if not roles:
        return x, y, src, None
    table = frame.drop(columns=[frame.geometry.name]) if isinstance(frame, gpd.GeoDataFrame) else frame
    table = pd.DataFrame(table).reset_index(drop=True)
    filled = np.zeros(len(table), dtype=bool)
    for column in roles:
        text = table[column].astype("string").str.strip()
        filled |= (text.notna() & (text != "")).to_numpy(dtype=bool)
    need = (np.isnan(x) | np.isnan(y)) & filled
    if spec.finess:
        need &= _finess_numbers(table[spec.finess]).isna().to_numpy(dtype=bool)
    rows = np.flatnonzero(need)
    if not len(rows):
        return x, y, src, None
    x, y = x.copy(), y.copy()
    if src != WGS84:  # geocoded points are in degrees: bring the given ones there too
        finite = np.isfinite(x) & np.isfinite(y)
        if finite.any():
            x[finite], y[finite] = transform_xy(x[finite], y[finite], src, WGS84)
        src = WGS84
    geo = geocode_frame(table, geocoder, spec=spec, rows=rows)
    geo.index = pd.RangeIndex(len(table))
    lon, lat = geo["geo_lon"].to_numpy(dtype=float), geo["geo_lat"].to_numpy(dtype=float)
    found = rows[np.isfinite(lon[rows]) & np.isfinite(lat[rows])]
    x[found], y[found] = lon[found], lat[found]
    errors[found] = None
    missing = np.setdiff1d(rows, found)
    backend = geo["geo_backend"].to_numpy(dtype=object)
    query = geo["geo_query"].to_numpy(dtype=object)
    errors[missing] = row_errors((f"ligne {i + 1} : adresse introuvable par le géocodeur {backend[i]} ({query[i]!r})"
                                  for i in missing), "address_not_found")
    return x, y, src, geo


def _commune_only(located: pd.DataFrame, geo: pd.DataFrame, locator: Locator) -> None:
    """Rows geocoded to a commune only: located by commune (no point, no QPV, the commune's class)."""
    status = geo["geo_status"].to_numpy(dtype=object)[located.index.to_numpy()]
    mask = status == "commune_only"
    located["geo_commune_only"] = mask
    if not mask.any():
        return
    for column in located.columns:
        if isinstance(located[column].dtype, pd.CategoricalDtype):
            located[column] = located[column].astype(object)
    located.loc[mask, "commune_method"] = "commune"
    located.loc[mask, ["commune_boundary_m", "nearest_commune_m"]] = np.nan
    located.loc[mask, "commune_candidates"] = None
    for column in located.columns:
        if column.startswith("qpv") and column.endswith("_covered"):
            located.loc[mask, column] = False
        elif column.startswith("qpv") and column.endswith("_boundary_m"):
            located.loc[mask, column] = np.nan
        elif column.startswith("qpv"):
            located.loc[mask, column] = None
    located.loc[mask, "classe_qpv"] = None
    located.loc[mask, "classe"] = located.loc[mask, "classe_commune"]
    source = located["classe_source"].to_numpy(dtype=object)
    located.loc[mask & (source == "qpv"), "classe_source"] = "commune"
    codes = located.loc[mask, "insee"].astype(str)
    inside = locator.qpv_classes_in(codes.unique())
    other = [";".join(sorted(inside.get(code, set()) - {str(cls)}))
             for code, cls in zip(codes, located.loc[mask, "classe_commune"], strict=True)]
    located["geo_commune_qpv_classes"] = None
    located.loc[mask, "geo_commune_qpv_classes"] = other


def _flag_geocoding(verdicts: pd.DataFrame, located: pd.DataFrame, geo: pd.DataFrame) -> None:
    """Doubtful geocoding → ``needs_review``; answers decided from the commune alone say so."""
    if verdicts.empty:
        return
    position = verdicts["row"].to_numpy()
    row = located.index.to_numpy()[position]
    status = verdicts["status"].to_numpy(dtype=object).copy()
    reasons = verdicts["reasons"].to_numpy(dtype=object).copy()
    fr_text = verdicts["message_fr"].to_numpy(dtype=object).copy()
    en_text = verdicts["message_en"].to_numpy(dtype=object).copy()
    low = geo["geo_low_score"].fillna(False).to_numpy(dtype=bool)[row]
    pc = geo["geo_postcode_mismatch"].fillna(False).to_numpy(dtype=bool)[row]
    cm = geo["geo_commune_mismatch"].fillna(False).to_numpy(dtype=bool)[row]
    score = geo["geo_score"].to_numpy(dtype=float)[row]
    found_pc = geo["geo_postcode"].to_numpy(dtype=object)[row]
    found_city = geo["geo_city"].to_numpy(dtype=object)[row]
    doubtful = (low | pc | cm) & (status != "not_applicable")
    for i in np.flatnonzero(doubtful):
        fr, en = [], []
        if low[i]:
            fr.append(f"score {score[i]:.2f}")
            en.append(f"score {score[i]:.2f}")
        if pc[i]:
            fr.append(f"code postal trouvé {found_pc[i]} différent de celui indiqué")
            en.append(f"postcode found {found_pc[i]} differs from the one given")
        if cm[i]:
            fr.append(f"commune trouvée {found_city[i]} différente de celle indiquée")
            en.append(f"commune found {found_city[i]} differs from the one given")
        status[i] = "needs_review"
        reasons[i] = f"{reasons[i]};GEOCODE_DOUBTFUL"
        fr_text[i] = f"à vérifier : géocodage incertain ({', '.join(fr)}) — sinon {fr_text[i]}"
        en_text[i] = f"to check: uncertain geocoding ({', '.join(en)}) — otherwise {en_text[i]}"
    if "geo_commune_only" in located and located["geo_commune_only"].any():
        only = located["geo_commune_only"].to_numpy(dtype=bool)[position] & ~doubtful
        other = located["geo_commune_qpv_classes"].to_numpy(dtype=object)[position]
        insee = located["insee"].astype(str).to_numpy(dtype=object)[position]
        classe = located["classe"].astype(str).to_numpy(dtype=object)[position]
        for i in np.flatnonzero(only):
            said = "COMMUNE_ONLY" in str(reasons[i]).split(";")
            if not said:
                reasons[i] = f"{reasons[i]};COMMUNE_ONLY"
            if other[i]:
                status[i] = "needs_review"
                classes = str(other[i]).split(";")
                fr_classes = " ou ".join(classes)
                plural = len(classes) > 1
                fr_text[i] = (f"à vérifier : seule la commune {insee[i]} est connue et elle contient "
                              f"{'des QPV de classes' if plural else 'un QPV de classe'} {fr_classes} — sinon "
                              f"{fr_text[i]}")
                en_text[i] = (f"to check: only the commune {insee[i]} is known and it contains "
                              f"{'QPV of classes' if plural else 'a QPV of class'} {' or '.join(classes)} — "
                              f"otherwise {en_text[i]}")
            elif status[i] in ("eligible", "not_eligible"):
                fr_text[i] = (f"{fr_text[i]}{'' if said else ' — seule la commune est connue'} — la commune {insee[i]}"
                              f" est entièrement en {classe[i]} : la réponse vaut pour toute adresse de la commune")
                en_text[i] = (f"{en_text[i]}{'' if said else ' — only the commune is known'} — the whole commune "
                              f"{insee[i]} is in {classe[i]}: the answer holds for any address in it")
    verdicts["status"] = status
    verdicts["reasons"] = reasons
    verdicts["message_fr"] = fr_text
    verdicts["message_en"] = en_text


def _with_geocoding(rows: gpd.GeoDataFrame, geo: pd.DataFrame) -> gpd.GeoDataFrame:
    """The per-row table with the ``geo_*`` columns; rows known by commune only have no point."""
    from zonage.geocode import GEO_COLUMNS

    out = rows.copy()
    for column in GEO_COLUMNS:
        out[column] = geo[column].to_numpy()
    commune_only = (geo["geo_status"] == "commune_only").to_numpy(dtype=bool)
    out.loc[commune_only, out.geometry.name] = None
    return out


def _commune_checks(frame: pd.DataFrame, spec: InputSpec, crosswalk: pd.DataFrame | None,
                    located: pd.DataFrame) -> None:
    """Flag rows whose given commune code was changed by a merger or differs from the one found."""
    if not spec.insee or crosswalk is None or located.empty:
        return
    from zonage.layers.crosswalk import to_current

    given = frame[spec.insee].reset_index(drop=True).iloc[located.index].astype("string").str.strip().str.zfill(5)
    current = to_current(given, crosswalk)
    found = located["insee"].astype("string")
    merged = (current.notna() & (current != given)).to_numpy()
    located["commune_merged"] = merged
    parent = found.to_numpy()
    differs = given.notna().to_numpy() & (current.fillna(given).to_numpy() != parent)
    located["commune_given"] = given.to_numpy()
    located["commune_mismatch"] = differs


def _flag_commune_mismatch(verdicts: pd.DataFrame, located: pd.DataFrame) -> None:
    """Turn answers for rows whose given commune differs from the one found into ``needs_review``."""
    if "commune_mismatch" not in located or not located["commune_mismatch"].any():
        return
    position = np.flatnonzero(located["commune_mismatch"].to_numpy())
    hit = verdicts["row"].isin(position).to_numpy() & (verdicts["status"].astype(str) != "not_applicable").to_numpy()
    for column in ("status", "reasons", "message_fr", "message_en"):  # categoricals cannot take new texts
        verdicts[column] = verdicts[column].astype(object)
    given = located["commune_given"].to_numpy()[verdicts.loc[hit, "row"].to_numpy()]
    found = located["insee"].astype(str).to_numpy()[verdicts.loc[hit, "row"].to_numpy()]
    verdicts.loc[hit, "status"] = "needs_review"
    verdicts.loc[hit, "reasons"] = verdicts.loc[hit, "reasons"].astype(object) + ";COMMUNE_MISMATCH"
    pairs = list(zip(given, found, strict=True))
    verdicts.loc[hit, "message_fr"] = [
        f"à vérifier : commune indiquée {g}, commune trouvée {f} — sinon {m}"
        for (g, f), m in zip(pairs, verdicts.loc[hit, "message_fr"].astype(object), strict=True)
    ]
    verdicts.loc[hit, "message_en"] = [
        f"to check: commune given {g}, commune found {f} — otherwise {m}"
        for (g, f), m in zip(pairs, verdicts.loc[hit, "message_en"].astype(object), strict=True)
    ]


def _flag_finess_elsewhere(verdicts: pd.DataFrame, located: pd.DataFrame) -> None:
    """Coordinates given beside a FINESS number farther than FINESS_DISTANCE_M from its point → ``needs_review``."""
    distance = located["finess_distance_m"].to_numpy(dtype=float)
    if not np.isfinite(distance).any() or verdicts.empty:
        return
    position = verdicts["row"].to_numpy()
    far = np.isfinite(distance[position]) & (verdicts["status"].astype(str) != "not_applicable").to_numpy()
    if not far.any():
        return
    for column in ("status", "reasons", "message_fr", "message_en"):
        verdicts[column] = verdicts[column].astype(object)
    metres = distance[position]
    hit = np.flatnonzero(far)
    verdicts.loc[verdicts.index[hit], "status"] = "needs_review"
    verdicts.loc[verdicts.index[hit], "reasons"] = verdicts["reasons"].to_numpy(dtype=object)[hit] + ";FINESS_ELSEWHERE"
    verdicts.loc[verdicts.index[hit], "message_fr"] = [
        f"à vérifier : coordonnées données à {f'{m:,.0f}'.replace(',', ' ')} m du point FINESS de la structure "
        f"— sinon {t}" for m, t in zip(metres[hit], verdicts["message_fr"].to_numpy(dtype=object)[hit], strict=True)]
    verdicts.loc[verdicts.index[hit], "message_en"] = [
        f"to check: coordinates given {m:,.0f} m from the structure's FINESS point — otherwise {t}"
        for m, t in zip(metres[hit], verdicts["message_en"].to_numpy(dtype=object)[hit], strict=True)]


def _flag_geometry(verdicts: pd.DataFrame, kinds: np.ndarray, notes: np.ndarray) -> None:
    """Geometry inputs that are not points: say where they were judged; lines and multi-points → ``needs_review``.

    ``kinds`` and ``notes`` are per located row (the positions in ``verdicts["row"]``).
    A polygon keeps its verdict (reason ``GEOMETRY_SURFACE``, the note appended to the
    message); a line, several points or a collection cannot be one structure's place:
    every verdict but ``not_applicable`` becomes ``needs_review`` (``GEOMETRY_NOT_POINT``).
    """
    if verdicts.empty:
        return
    position = verdicts["row"].to_numpy()
    kind = kinds[position]
    surface = kind == GEOMETRY_SURFACE
    other = kind == GEOMETRY_NOT_POINT
    if not (surface.any() or other.any()):
        return
    status = verdicts["status"].to_numpy(dtype=object).copy()
    reasons = verdicts["reasons"].to_numpy(dtype=object).copy()
    fr_text = verdicts["message_fr"].to_numpy(dtype=object).copy()
    en_text = verdicts["message_en"].to_numpy(dtype=object).copy()
    note = notes[position]
    for i in np.flatnonzero(surface):
        reasons[i] = f"{reasons[i]};GEOMETRY_SURFACE"
        fr_text[i] = f"{fr_text[i]} ({note[i]})"
        en_text[i] = f"{en_text[i]} (surface geometry: judged at an interior point)"
    review = other & (status != "not_applicable")
    for i in np.flatnonzero(other):
        reasons[i] = f"{reasons[i]};GEOMETRY_NOT_POINT"
        if review[i]:
            status[i] = "needs_review"
            fr_text[i] = f"à vérifier : {note[i]} — sinon {fr_text[i]}"
            en_text[i] = (f"to check: the geometry is not a point (a line, several points or a collection): judged "
                          f"at one of its points — otherwise {en_text[i]}")
    verdicts["status"] = status
    verdicts["reasons"] = reasons
    verdicts["message_fr"] = fr_text
    verdicts["message_en"] = en_text


def _per_row(frame: pd.DataFrame, n: int, errors: np.ndarray, located: pd.DataFrame, verdicts: pd.DataFrame,
             x: np.ndarray, y: np.ndarray, src: str, schemes: Mapping[str, Scheme], kinds: pd.DataFrame,
             ok: np.ndarray) -> gpd.GeoDataFrame:
    """One row per input row: the input's columns, then ``row``, ``status``, kind, place, summary, per scheme."""
    out = pd.DataFrame(frame.drop(columns=[frame.geometry.name]) if isinstance(frame, gpd.GeoDataFrame)
                       else frame).reset_index(drop=True)
    written = {"row", "status", "error", "error_code", "type_structure", "type_source", "type_libelle", "statut_mg",
               "resume", "summary_en", GEOMETRY_NOTE_COLUMN, *LOCATED_COLUMNS}
    # the point used comes out as the geometry (``lon``/``lat`` columns in CSV/XLSX): an input's own lon/lat
    # are kept as typed, beside it, as entree_lon/entree_lat
    written |= {"lon", "lat", "wkt"}
    written |= {c for c in out.columns if str(c).startswith(OUTPUT_PREFIXES) or str(c).startswith("qpv")}
    clash = [c for c in out.columns if c in written]
    out = out.rename(columns={c: f"entree_{c}" for c in clash})
    out.insert(0, "row", np.arange(1, n + 1))
    out["status"] = np.where(pd.isna(errors), "ok", "error")
    out["error"] = pd.Series(errors, dtype=object)
    out["error_code"] = pd.Series([error_code(e) for e in errors], dtype=object)
    for column, source in (("type_structure", "type"), ("type_source", "type_source"),
                           ("type_libelle", "type_label_fr")):
        values = pd.Series(pd.NA, index=out.index, dtype=object)
        values.iloc[ok] = kinds[source].to_numpy(dtype=object)
        out[column] = values
    lon, lat = transform_xy(x, y, src, WGS84) if len(x) else (x, y)
    for column in LOCATED_COLUMNS:
        if column in located:
            values = pd.Series(pd.NA, index=out.index, dtype=object)
            values.iloc[located.index.to_numpy()] = located[column].astype(object).to_numpy()
            out[column] = values
    qpv_columns = [c for c in located.columns if c.startswith("qpv") and not c.endswith(("_covered", "_nom"))]
    for column in qpv_columns:
        values = pd.Series(pd.NA, index=out.index, dtype=object)
        values.iloc[located.index.to_numpy()] = located[column].astype(object).to_numpy()
        out[column] = values
    out["statut_mg"] = pd.Series(pd.NA, index=out.index, dtype=object)
    out["resume"] = pd.Series(pd.NA, index=out.index, dtype=object)
    out["summary_en"] = pd.Series(pd.NA, index=out.index, dtype=object)
    if len(verdicts):
        _summaries(out, verdicts, schemes)
        wide = verdicts.pivot(index="row", columns="scheme", values=["status", "role", "reasons", "message_fr"])
        for scheme in verdicts["scheme"].astype(str).unique():
            for field, prefix in (("status", "statut"), ("role", "role"), ("reasons", "raisons"),
                                  ("message_fr", "message")):
                values = pd.Series(pd.NA, index=out.index, dtype=object)
                values.iloc[wide.index.to_numpy()] = wide[(field, scheme)].astype(object).to_numpy()
                out[f"{prefix}_{scheme}"] = values
    assessed = (out["status"] != "error").to_numpy()
    fine = np.isfinite(lon) & np.isfinite(lat) & assessed
    geometry = gpd.GeoSeries.from_xy(np.where(fine, lon, np.nan), np.where(fine, lat, np.nan), crs=WGS84)
    geometry[~fine] = None
    return gpd.GeoDataFrame(out, geometry=geometry, crs=WGS84)


def _summaries(out: pd.DataFrame, verdicts: pd.DataFrame, schemes: Mapping[str, Scheme]) -> None:
    """``statut_mg`` and the readable summaries (FR ``resume``, EN ``summary_en``) of every assessed row.

    A structure eligible only as a partner part (a hospital for the hospital part of a
    shared post) is listed as a possible partner, with the part, not as eligible.
    """
    table = pd.DataFrame({
        "row": verdicts["row"].to_numpy(), "scheme": verdicts["scheme"].astype(str).to_numpy(),
        "role": verdicts["role"].astype(str).to_numpy(), "status": verdicts["status"].astype(str).to_numpy(),
    })
    site = {sid: sc.site_role for sid, sc in schemes.items()}
    host = table["role"].to_numpy() == table["scheme"].map(site).to_numpy()
    group = np.where((table["status"] == "eligible").to_numpy() & ~host, "partner", table["status"].to_numpy())
    table["group"] = group
    rank = {s: i for i, s in enumerate(STATUSES)}
    gp_rows = table["scheme"].map(lambda sid: schemes[sid].general_practice if sid in schemes else False).to_numpy()
    gp = table[gp_rows]
    # statut_mg answers "can it host a GP post?": a partner part (eligible or to check) is not a host
    gp_status = np.where(~host[gp_rows], "not_eligible", gp["status"])
    best = pd.Series(gp_status, index=gp["row"].to_numpy()).map(rank).groupby(level=0).min()
    out.loc[best.index.to_numpy(), "statut_mg"] = np.array(STATUSES, dtype=object)[best.to_numpy()]
    order = ("eligible", "partner", "needs_review", "not_eligible", "not_applicable")
    words = {
        "fr": {"eligible": "éligible", "partner": "partenaire possible", "needs_review": "à vérifier",
               "not_eligible": "non éligible", "not_applicable": "non applicable"},
        "en": {"eligible": "eligible", "partner": "possible partner", "needs_review": "to check",
               "not_eligible": "not eligible", "not_applicable": "not applicable"},
    }
    names = {lang: {sid: sc.short(lang) for sid, sc in schemes.items()} for lang in ("fr", "en")}
    roles = {lang: {(sid, rid): r.label(lang) for sid, sc in schemes.items() for rid, r in sc.roles.items()}
             for lang in ("fr", "en")}
    table["group_rank"] = table["group"].map({g: i for i, g in enumerate(order)})
    combos = table[["scheme", "role", "group"]].drop_duplicates()
    for lang, column in (("fr", "resume"), ("en", "summary_en")):
        labels = {}
        for sid, rid, grp in combos.itertuples(index=False):
            name = names[lang].get(sid, sid)
            labels[(sid, rid, grp)] = f"{name} ({roles[lang].get((sid, rid), rid)})" if grp == "partner" else name
        keys = pd.MultiIndex.from_frame(table[["scheme", "role", "group"]])
        table["label"] = pd.Series(labels).reindex(keys).to_numpy()
        texts = (table.sort_values(["row", "group_rank"], kind="stable")
                 .groupby(["row", "group"], sort=False)["label"].agg(", ".join).reset_index())
        texts["part"] = texts["group"].map(words[lang]) + (" : " if lang == "fr" else ": ") + texts["label"]
        joined = texts.groupby("row", sort=False)["part"].agg(" ; ".join if lang == "fr" else "; ".join)
        out.loc[joined.index.to_numpy(), column] = joined.to_numpy()
