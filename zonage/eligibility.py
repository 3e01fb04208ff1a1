"""Batch eligibility: input rows → points → commune/QPV/class → each scheme's rule → verdicts.

:func:`assess` is pure (no file is written): it returns one row per input row, in
input order, with a status — ``eligible`` (for at least one scheme),
``needs_review``, ``not_eligible`` or ``error`` with a message naming the row and
field — plus the long table of verdicts per scheme with reason codes.
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
from zonage.inputs import InputSpec, detect_columns, duplicate_id_errors, read_points
from zonage.locate import Locator

if TYPE_CHECKING:
    from zonage.geocode import Geocoder, Geocoding

STATUSES: tuple[str, ...] = ("eligible", "needs_review", "not_eligible", "error")
#: Columns of the located frame copied into the per-row result.
LOCATED_COLUMNS: tuple[str, ...] = (
    "insee", "commune_nom", "insee_arm", "commune_method", "commune_boundary_m", "classe", "classe_source",
    "classe_commune", "classe_qpv",
)


@dataclass
class BatchResult:
    """Outcome of a batch: per-row table (input order) and long verdict table."""

    rows: gpd.GeoDataFrame
    verdicts: pd.DataFrame
    spec: InputSpec

    def summary(self) -> pd.DataFrame:
        """Counts of verdicts per scheme and status, plus the row-level statuses."""
        per_scheme = pd.crosstab(self.verdicts["scheme"], self.verdicts["status"]) if len(self.verdicts) else None
        overall = self.rows["status"].value_counts().reindex(STATUSES, fill_value=0).rename("rows")
        table = pd.DataFrame(overall).T
        table.index = ["(rows)"]
        if per_scheme is not None:
            table = pd.concat([per_scheme, table])
        return table.reindex(columns=STATUSES, fill_value=0).fillna(0).astype(int)

    def summary_by_class(self) -> pd.DataFrame:
        """Row statuses per zoning class (rows without a class: error rows)."""
        located = self.rows[self.rows["status"] != "error"]
        if located.empty:
            return pd.DataFrame()
        return pd.crosstab(located["classe"].astype(str), located["status"])


def _finess_numbers(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.replace(r"\s+", "", regex=True)
    return text.where(text != "").str.upper().str.zfill(9)


def assess(
    frame: pd.DataFrame,
    locator: Locator,
    schemes: Mapping[str, object] | None = None,
    *,
    spec: InputSpec | None = None,
    crs: str | None = None,
    finess: gpd.GeoDataFrame | None = None,
    crosswalk: pd.DataFrame | None = None,
    fragile_m: float = 50.0,
    on: date | None = None,
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
        Column roles; detected from the column names when None.
    crs
        CRS of x/y columns or of geometries without one.
    finess
        The ``finess`` layer: rows with a FINESS number and no coordinates take the
        establishment's point, and every such row its category.
    crosswalk
        The ``cog_crosswalk`` table: a given commune code changed by a merger, or
        different from the commune found, makes the answer ``needs_review``.
    fragile_m
        Boundary distance (m) under which an answer is flagged fragile.
    on
        Date of the question (QPV generation, dated rules); default today.
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
    category = frame[spec.category].astype("string") if spec.category else pd.Series(pd.NA, index=frame.index,
                                                                                     dtype="string")
    category = category.reset_index(drop=True)
    if spec.id:
        dup = duplicate_id_errors(frame[spec.id].reset_index(drop=True), field=spec.id)
        errors = np.where(pd.isna(errors), dup, errors)
    if spec.finess:
        x, y, src, category = _use_finess(frame, spec, finess, x, y, src, category, errors)
    postcodes = frame[spec.postcode].reset_index(drop=True) if spec.postcode else None

    located_parts = []
    todo = np.flatnonzero(pd.isna(errors))
    for start in range(0, max(len(todo), 1), chunk_size):
        part = todo[start:start + chunk_size]
        located_parts.append(locator.locate(x[part], y[part], crs=src,
                                            postcodes=None if postcodes is None else postcodes.iloc[part]))
        if progress:
            progress(min(start + chunk_size, len(todo)), len(todo))
    located = pd.concat(located_parts, ignore_index=True) if located_parts else locator.locate([], [])
    located.index = todo
    outside = located["territory"].isna().to_numpy()
    no_commune = ~outside & located["insee"].isna().to_numpy()
    row_labels = (todo + 1).astype(str)
    errors[todo[outside]] = [f"row {r}: point outside France (mainland, Corsica and DROM)" for r in row_labels[outside]]
    errors[todo[no_commune]] = [
        f"row {r}: no commune within {locator.tolerance_m:.0f} m of the point (at sea or abroad?)"
        for r in row_labels[no_commune]
    ]
    ok = todo[~outside & ~no_commune]
    located = located.loc[ok]
    _commune_checks(frame, spec, crosswalk, located)
    if geo is not None:
        _commune_only(located, geo, locator)

    verdicts = evaluate_sites(
        located.reset_index(drop=True), schemes, categories=category.iloc[ok].reset_index(drop=True),
        fragile_m=fragile_m, date=on,
    )
    _flag_commune_mismatch(verdicts, located)
    if geo is not None:
        _flag_geocoding(verdicts, located, geo)
    verdicts["row"] = ok[verdicts["row"].to_numpy()]
    rows = _per_row(frame, n, errors, located, verdicts, x, y, src)
    if geo is not None:
        rows = _with_geocoding(rows, geo)
    verdicts = verdicts.sort_values(["row", "scheme"], kind="stable").reset_index(drop=True)
    return BatchResult(rows=rows, verdicts=verdicts, spec=spec)


def _use_finess(frame: pd.DataFrame, spec: InputSpec, finess: gpd.GeoDataFrame | None, x: np.ndarray,
                y: np.ndarray, src: str, category: pd.Series, errors: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, str, pd.Series]:
    """Fill coordinates (where none were given) and categories from the FINESS layer."""
    numbers = _finess_numbers(frame[spec.finess].reset_index(drop=True))
    if finess is None:
        missing = np.isnan(x) & pd.isna(errors)
        errors[missing] = [f"row {i + 1}, field {spec.finess!r}: FINESS layer not available"
                           for i in np.flatnonzero(missing)]
        return x, y, src, category
    table = finess.drop_duplicates("nofinesset").set_index("nofinesset")
    found = numbers.isin(table.index).to_numpy()
    given = numbers.notna().to_numpy()
    if src != WGS84:  # bring given coordinates to degrees so that FINESS points can join them
        x, y = transform_xy(x, y, src, WGS84)
        src = WGS84
    need = np.isnan(x) & pd.isna(errors)
    bad = need & given & ~found
    errors[bad] = [f"row {i + 1}, field {spec.finess!r}: FINESS number {numbers.iloc[i]} not found in the FINESS layer"
                   for i in np.flatnonzero(bad)]
    none = need & ~given
    errors[none] = [f"row {i + 1}: no coordinates and no FINESS number" for i in np.flatnonzero(none)]
    take = need & found
    hits = table.loc[numbers[take]]
    geom = hits.geometry.to_crs(WGS84) if hits.crs and str(hits.crs) != WGS84 else hits.geometry
    has = (~geom.isna() & ~geom.is_empty).to_numpy()
    rows = np.flatnonzero(take)
    x[rows[has]] = geom[has].x.to_numpy()
    y[rows[has]] = geom[has].y.to_numpy()
    errors[rows[~has]] = [f"row {i + 1}, field {spec.finess!r}: FINESS {numbers.iloc[i]} has no coordinates"
                          for i in rows[~has]]
    fill = category.isna().to_numpy() & found
    category = category.copy()
    category[fill] = table.loc[numbers[fill], "categetab"].astype("string").to_numpy()
    return x, y, src, category


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
    errors[missing] = [f"row {i + 1}: address not found by the {backend[i]} geocoder ({query[i]!r})" for i in missing]
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
    for column in ("status", "reasons", "message_fr", "message_en"):
        verdicts[column] = verdicts[column].astype(object)
    low = geo["geo_low_score"].fillna(False).to_numpy(dtype=bool)[row]
    pc = geo["geo_postcode_mismatch"].fillna(False).to_numpy(dtype=bool)[row]
    cm = geo["geo_commune_mismatch"].fillna(False).to_numpy(dtype=bool)[row]
    score = geo["geo_score"].to_numpy(dtype=float)[row]
    found_pc = geo["geo_postcode"].to_numpy(dtype=object)[row]
    found_city = geo["geo_city"].to_numpy(dtype=object)[row]
    doubtful = low | pc | cm
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
        verdicts.iat[i, verdicts.columns.get_loc("status")] = "needs_review"
        verdicts.iat[i, verdicts.columns.get_loc("reasons")] += ";GEOCODE_DOUBTFUL"
        verdicts.iat[i, verdicts.columns.get_loc("message_fr")] = (
            f"à vérifier : géocodage incertain ({', '.join(fr)}) — sinon {verdicts['message_fr'].iat[i]}")
        verdicts.iat[i, verdicts.columns.get_loc("message_en")] = (
            f"to check: uncertain geocoding ({', '.join(en)}) — otherwise {verdicts['message_en'].iat[i]}")
    if "geo_commune_only" not in located or not located["geo_commune_only"].any():
        return
    only = located["geo_commune_only"].to_numpy(dtype=bool)[position] & ~doubtful
    other = located["geo_commune_qpv_classes"].to_numpy(dtype=object)[position]
    insee = located["insee"].astype(str).to_numpy(dtype=object)[position]
    classe = located["classe"].astype(str).to_numpy(dtype=object)[position]
    status = verdicts["status"].to_numpy(dtype=object)
    for i in np.flatnonzero(only):
        said = "COMMUNE_ONLY" in str(verdicts["reasons"].iat[i]).split(";")
        if not said:
            verdicts.iat[i, verdicts.columns.get_loc("reasons")] += ";COMMUNE_ONLY"
        if other[i]:
            verdicts.iat[i, verdicts.columns.get_loc("status")] = "needs_review"
            verdicts.iat[i, verdicts.columns.get_loc("message_fr")] = (
                f"à vérifier : seule la commune {insee[i]} est connue et elle contient un QPV de classe {other[i]}"
                f" — sinon {verdicts['message_fr'].iat[i]}")
            verdicts.iat[i, verdicts.columns.get_loc("message_en")] = (
                f"to check: only the commune {insee[i]} is known and it contains a QPV of class {other[i]}"
                f" — otherwise {verdicts['message_en'].iat[i]}")
        elif status[i] in ("eligible", "not_eligible"):
            verdicts.iat[i, verdicts.columns.get_loc("message_fr")] += (
                ("" if said else " — seule la commune est connue")
                + f" — la commune {insee[i]} est entièrement en {classe[i]} : la réponse vaut pour toute adresse"
                " de la commune")
            verdicts.iat[i, verdicts.columns.get_loc("message_en")] += (
                ("" if said else " — only the commune is known")
                + f" — the whole commune {insee[i]} is in {classe[i]}: the answer holds for any address in it")


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
    hit = verdicts["row"].isin(position).to_numpy()
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


def _per_row(frame: pd.DataFrame, n: int, errors: np.ndarray, located: pd.DataFrame, verdicts: pd.DataFrame,
             x: np.ndarray, y: np.ndarray, src: str) -> gpd.GeoDataFrame:
    out = pd.DataFrame(frame.drop(columns=[frame.geometry.name]) if isinstance(frame, gpd.GeoDataFrame)
                       else frame).reset_index(drop=True)
    out.insert(0, "row", np.arange(1, n + 1))
    status = pd.Series("error", index=out.index, dtype=object)
    if len(verdicts):
        rank = verdicts["status"].map({"eligible": 0, "needs_review": 1, "not_eligible": 2})
        best = rank.groupby(verdicts["row"]).min()
        status.iloc[best.index.to_numpy()] = np.array(["eligible", "needs_review", "not_eligible"])[best.to_numpy()]
    out["status"] = status
    out["error"] = pd.Series(errors, dtype=object)
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
    if len(verdicts):
        wide = verdicts.pivot(index="row", columns="scheme", values=["status", "reasons", "message_fr"])
        for scheme in verdicts["scheme"].unique():
            for field, prefix in (("status", "statut"), ("reasons", "raisons"), ("message_fr", "message")):
                values = pd.Series("error" if field == "status" else pd.NA, index=out.index, dtype=object)
                values.iloc[wide.index.to_numpy()] = wide[(field, scheme)].to_numpy()
                out[f"{prefix}_{scheme}"] = values
    ok = np.isfinite(lon) & np.isfinite(lat) & (out["status"] != "error").to_numpy()
    geometry = gpd.GeoSeries.from_xy(np.where(ok, lon, np.nan), np.where(ok, lat, np.nan), crs=WGS84)
    geometry[~ok] = None
    return gpd.GeoDataFrame(out, geometry=geometry, crs=WGS84)
