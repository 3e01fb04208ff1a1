"""Display data for the maps: simplified, rounded geometries joined with their classes.

Everything here prepares *what is drawn*; nothing is analysed. Geometries are
simplified in each territory's metric CRS (``preserve_topology=True``) and, for the
web, reprojected to EPSG:4326 and rounded to 5 decimals (about 1 m): a display step
only — computations always use the full layers. Zoning classes come from the
``zoning_communes`` layer, APL values from ``apl_communes`` (DREES), verdicts from the
eligibility engine's finished rows.

APL hook
--------
The APL choropleth takes any table with ``insee`` and ``apl`` columns (see
:func:`apl_values`). Today it is the DREES APL of ``apl_communes``; when the
accessibility engine lands, pass its per-commune frame (``attrs["label"]`` names it in
the legend) to :func:`communes_display` / :func:`zonage.maps.write_region_map`.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zonage.config import Paths
from zonage.crs import TERRITORY_CRS, WGS84
from zonage.errors import ZonageError
from zonage.layers.store import read_geo_layer, read_layer, territories

#: Default simplification tolerances (metres, in the territory's metric CRS).
REGION_TOLERANCE_M = 60.0
NATIONAL_TOLERANCE_M = 250.0
QPV_TOLERANCE_M = 8.0
#: Static maps of a région (about 250 m per pixel at 150 dpi on an A4 page).
STATIC_TOLERANCE_M = 250.0
#: Decimals kept in EPSG:4326 (5 decimals ≈ 1.1 m).
PRECISION = 5

#: Candidate input columns for what a popup shows (FINESS batch names first).
NAME_COLUMNS = ("nom", "name", "rs", "raison_sociale", "libelle", "structure", "id")
CATEGORY_COLUMNS = ("libcategetab", "categorie", "category", "categetab")
ADDRESS_COLUMNS = ("adresse", "address")


def round_coordinates(geoms: np.ndarray | gpd.GeoSeries, precision: int = PRECISION) -> np.ndarray:
    """Round every coordinate to ``precision`` decimals (display only; may leave slivers)."""
    values = geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms
    return shapely.transform(np.asarray(values, dtype=object), lambda xy: np.round(xy, precision))


def display_geometries(
    frame: gpd.GeoDataFrame,
    tolerance_m: float,
    *,
    crs: str | None = WGS84,
    precision: int = PRECISION,
) -> gpd.GeoDataFrame:
    """Simplify ``frame`` (in a metric CRS) for display, then reproject and round.

    Parameters
    ----------
    frame
        Polygons of one territory in its metric CRS.
    tolerance_m
        Douglas–Peucker tolerance in metres (``preserve_topology=True``: every polygon
        stays valid; shared borders may drift by up to the tolerance).
    crs
        Output CRS; ``None`` keeps the metric CRS (static maps) and skips rounding.
    precision
        Decimals kept when the output CRS is geographic.
    """
    if frame.crs is None or frame.crs.is_geographic:
        raise ZonageError("display_geometries needs a metric CRS (read one territory of the layer)")
    out = frame.copy()
    if tolerance_m > 0:
        out["geometry"] = shapely.simplify(out.geometry.values, tolerance_m, preserve_topology=True)
    out = out[~out.geometry.is_empty & out.geometry.notna()]
    if crs is not None:
        out = out.to_crs(crs)
        assert out.crs is not None  # to_crs has just set it
        if out.crs.is_geographic:
            out["geometry"] = round_coordinates(out.geometry, precision)
    return out


def region_info(paths: Paths, region: str) -> tuple[str, str]:
    """Name and territory of INSEE région ``region`` (``ZonageError`` when unknown)."""
    regions = read_layer(paths, "regions", columns=["region", "region_nom", "territory"])
    match = regions[regions["region"] == str(region)]
    if match.empty:
        known = ", ".join(f"{r} {n}" for r, n in zip(regions["region"], regions["region_nom"], strict=True))
        raise ZonageError(f"unknown région {region!r}; known: {known}")
    return str(match["region_nom"].iloc[0]), str(match["territory"].iloc[0])


def zoning_classes(paths: Paths) -> pd.DataFrame:
    """Zoning class of each commune as drawn: ``insee``, ``classe``, ``classe_detail``.

    A commune zoned per arrondissement (Paris, Lyon, Marseille) with different classes
    gets ``ARR`` and the list of arrondissements per class in ``classe_detail``.
    """
    zoning = read_layer(paths, "zoning_communes", columns=["insee", "insee_arm", "classe"])
    zoning = zoning.dropna(subset=["insee"])
    zoning["classe"] = zoning["classe"].fillna("unknown").astype(str)
    single = zoning.groupby("insee")["classe"].nunique() == 1
    first = zoning.groupby("insee")["classe"].first()
    out = pd.DataFrame({"insee": first.index.astype(str), "classe": first.to_numpy(), "classe_detail": ""})
    mixed = single.index[~single.to_numpy()]
    for insee in mixed:
        part = zoning[zoning["insee"] == insee]
        detail = " ; ".join(
            f"{cls} : {', '.join(sorted(map(str, grp['insee_arm'].dropna())))}"
            for cls, grp in part.groupby("classe", sort=True)
        )
        out.loc[out["insee"] == insee, ["classe", "classe_detail"]] = ["ARR", detail]
    return out.reset_index(drop=True)


def apl_values(paths: Paths, year: int | None = None) -> pd.DataFrame:
    """DREES APL per commune (``insee``, ``apl``, ``apl_year``), latest year by default.

    This is the APL hook's default source (see the module docstring).
    """
    apl = read_layer(paths, "apl_communes", columns=["year", "insee", "level", "apl"])
    apl = apl[apl["level"] == "commune"]
    chosen = int(apl["year"].max()) if year is None else int(year)
    if chosen not in set(apl["year"]):
        raise ZonageError(f"no DREES APL for {chosen}; years: {sorted(set(apl['year']))}")
    out = apl.loc[apl["year"] == chosen, ["insee", "apl"]].copy()
    out["insee"] = out["insee"].astype(str)
    out["apl_year"] = chosen
    out.attrs["label"] = f"APL médecins généralistes (DREES {chosen})"
    out.attrs["year"] = chosen
    return out.drop_duplicates("insee").reset_index(drop=True)


def _territories_of(paths: Paths, layer: str, region: str | None) -> list[str]:
    if region is None:
        return territories(paths, layer)
    return [region_info(paths, region)[1]]


def communes_display(
    paths: Paths,
    region: str | None = None,
    *,
    tolerance_m: float | None = None,
    crs: str | None = WGS84,
    precision: int = PRECISION,
    apl: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Communes of ``region`` (all when ``None``) with their class and APL, for display.

    Parameters
    ----------
    paths
        Data folders (layers built).
    region
        INSEE région code; ``None`` for every territory (national map).
    tolerance_m
        Simplification tolerance; default :data:`REGION_TOLERANCE_M` for a région,
        :data:`NATIONAL_TOLERANCE_M` for the whole country.
    crs
        Output CRS (``None``: the territory's metric CRS, for static maps of a région).
    precision
        Decimals kept in EPSG:4326.
    apl
        The APL hook: a table with ``insee`` and ``apl`` (default :func:`apl_values`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``insee``, ``nom``, ``departement``, ``region``, ``population``, ``bv2012``,
        ``territory``, ``classe``, ``classe_detail``, ``apl``, ``apl_year`` and geometry;
        ``attrs`` carries the APL label and the zoning vintage.
    """
    if apl is not None and not {"insee", "apl"} <= set(apl.columns):
        missing = sorted({"insee", "apl"} - set(apl.columns))
        raise ZonageError(f"the APL table needs columns insee and apl (missing {missing})")
    tolerance = tolerance_m if tolerance_m is not None else (
        REGION_TOLERANCE_M if region is not None else NATIONAL_TOLERANCE_M)
    columns = ["insee", "nom", "departement", "region", "population", "bv2012", "territory"]
    parts = []
    for territory in _territories_of(paths, "communes", region):
        frame = read_geo_layer(paths, "communes", territory=territory, columns=columns)
        if region is not None:
            frame = frame[frame["region"] == str(region)]
        if frame.empty:
            continue
        parts.append(display_geometries(frame, tolerance, crs=crs, precision=precision))
    if not parts:
        raise ZonageError(f"no commune polygon for région {region!r}")
    if crs is None and len(parts) > 1:
        raise ZonageError("communes of several territories need a common output CRS")
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
    out["insee"] = out["insee"].astype(str)
    classes = zoning_classes(paths)
    out = out.merge(classes, on="insee", how="left")
    out["classe"] = out["classe"].fillna("unknown")
    out["classe_detail"] = out["classe_detail"].fillna("")
    apl_table = apl_values(paths) if apl is None else apl
    extra = apl_table[[c for c in ("insee", "apl", "apl_year") if c in apl_table.columns]].copy()
    extra["insee"] = extra["insee"].astype(str)
    out = out.merge(extra.drop_duplicates("insee"), on="insee", how="left")
    if "apl_year" not in out.columns:
        out["apl_year"] = np.nan
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=parts[0].crs)
    out.attrs["apl_label"] = apl_table.attrs.get("label", "APL")
    return out.sort_values("insee", kind="stable").reset_index(drop=True)


def departements_display(
    paths: Paths, region: str | None = None, *, tolerance_m: float | None = None, crs: str | None = WGS84,
    precision: int = PRECISION,
) -> gpd.GeoDataFrame:
    """Département outlines of ``region`` (all when ``None``), simplified for display."""
    tolerance = tolerance_m if tolerance_m is not None else (
        REGION_TOLERANCE_M if region is not None else NATIONAL_TOLERANCE_M)
    parts = []
    for territory in _territories_of(paths, "departements", region):
        frame = read_geo_layer(paths, "departements", territory=territory,
                               columns=["departement", "departement_nom", "region", "territory"])
        if region is not None:
            frame = frame[frame["region"] == str(region)]
        if not frame.empty:
            parts.append(display_geometries(frame, tolerance, crs=crs, precision=precision))
    if not parts:
        return gpd.GeoDataFrame({"departement": [], "departement_nom": []}, geometry=[], crs=crs)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)


def qpv_display(
    paths: Paths, region: str | None = None, *, tolerance_m: float = QPV_TOLERANCE_M, crs: str | None = WGS84,
    precision: int = PRECISION,
) -> gpd.GeoDataFrame:
    """QPV polygons of ``region`` (all when ``None``): code, name, generation, own class."""
    columns = ["code_qp", "nom_qp", "generation", "insee_com", "region", "classe_qpv", "territory"]
    parts = []
    for territory in territories(paths, "qpv"):
        frame = read_geo_layer(paths, "qpv", territory=territory, columns=columns)
        if region is not None:
            frame = frame[frame["region"] == str(region)]
        if not frame.empty:
            parts.append(display_geometries(frame, tolerance_m, crs=crs, precision=precision))
    if not parts:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=crs)
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
    out["classe_qpv"] = out["classe_qpv"].astype(object).where(out["classe_qpv"].notna(), None)
    return out.sort_values("code_qp", kind="stable").reset_index(drop=True)


def _first_column(frame: pd.DataFrame, candidates: Sequence[str]) -> pd.Series:
    for name in candidates:
        if name in frame.columns:
            return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype="object")


def scheme_ids(rows: pd.DataFrame) -> list[str]:
    """Schemes assessed in a batch result (from its ``statut_<scheme>`` columns)."""
    return [c.removeprefix("statut_") for c in rows.columns if c.startswith("statut_") and c != "statut_mg"]


def structures_display(rows: gpd.GeoDataFrame, *, crs: str = WGS84) -> tuple[gpd.GeoDataFrame, int]:
    """Located structures of a batch result, with the columns a popup shows.

    Parameters
    ----------
    rows
        ``BatchResult.rows`` (one row per structure, point geometry, verdict columns).
    crs
        Output CRS.

    Returns
    -------
    tuple
        The located rows (``nom``, ``finess``, ``categorie``, ``adresse``, ``status``,
        ``classe``, ``insee``, ``commune_nom``, ``qpv``, ``statut_*``, ``raisons_*``,
        ``message_*``, geometry) and the number of rows left off (no point).
    """
    if not isinstance(rows, gpd.GeoDataFrame):
        raise ZonageError("structures_display needs the GeoDataFrame of BatchResult.rows")
    located = rows[rows.geometry.notna() & ~rows.geometry.is_empty]
    unlocated = len(rows) - len(located)
    address = _first_column(located, ADDRESS_COLUMNS).astype("string").fillna("")
    for extra in ("code_postal", "commune"):
        if extra in located.columns:
            address = (address + " " + located[extra].astype("string").fillna("")).str.strip()
    qpv = pd.Series(pd.NA, index=located.index, dtype="object")
    for column in ("qpv2015", "qpv2024"):
        if column in located.columns:
            qpv = located[column].where(located[column].notna(), qpv)
    out = pd.DataFrame({
        "nom": _first_column(located, NAME_COLUMNS),
        "finess": _first_column(located, ("finess", "nofinesset")),
        "categorie": _first_column(located, CATEGORY_COLUMNS),
        "adresse": address,
        # marker colour: the best answer over the GP schemes for the structure as the post's practice
        # site (a hospital that can only be a partner is not "eligible" there)
        "status": (located["statut_mg"].fillna("error") if "statut_mg" in located.columns
                   else located["status"] if "status" in located.columns else "eligible"),
        "classe": _first_column(located, ("classe",)),
        "insee": _first_column(located, ("insee",)),
        "commune_nom": _first_column(located, ("commune_nom",)),
        "qpv": qpv,
    }, index=located.index)
    verdict_columns = [c for c in located.columns if c.startswith(("statut_", "raisons_", "message_", "role_"))
                       and c != "statut_mg"]
    if "resume" in located.columns:
        verdict_columns.append("resume")
    out = pd.concat([out, located[verdict_columns]], axis=1)
    frame = gpd.GeoDataFrame(out, geometry=located.geometry.values, crs=rows.crs or WGS84)
    return frame.to_crs(crs).reset_index(drop=True), unlocated


def sources_note(apl_label: str | None = None) -> str:
    """Sources and vintages, for a map's caption (from the sources catalogue)."""
    from zonage.sources import CATALOGUE

    def vintage(name: str) -> str:
        source = CATALOGUE.get(name)
        return source.vintage if source is not None else "?"

    parts = [
        f"zonage médecins : {vintage('zoning_communes')}",
        f"QPV : {vintage('qpv2024_grand_est_normandie')} (ANCT)",
        apl_label or f"APL DREES : {vintage('apl_drees')}",
        f"FINESS : {vintage('finess')}",
        f"communes : {vintage('communes_polygons')} (IGN / etalab)",
    ]
    return "Sources — " + " ; ".join(parts) + ". Contours simplifiés pour l'affichage."


def territory_crs(territory: str) -> str:
    """Metric CRS of a territory (static maps are drawn in it)."""
    return TERRITORY_CRS[territory]
