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

import re
from collections.abc import Sequence
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zonage.config import Paths
from zonage.crs import TERRITORY_CRS, WGS84
from zonage.errors import ZonageError
from zonage.layers.store import read_geo_layer, read_layer, territories
from zonage.regions import require_region
from zonage.sources.arrondissements import PLM_COMMUNES

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
    arms = read_layer(paths, "apl_communes", columns=["year", "level", "insee_arm", "apl"])
    arms = arms[(arms["level"] == "arrondissement") & (arms["year"] == chosen) & arms["insee_arm"].notna()]
    if len(arms):  # Paris, Lyon, Marseille by arrondissement (used when they are drawn so)
        out = pd.concat([out, pd.DataFrame({"insee": arms["insee_arm"].astype(str), "apl": arms["apl"]})],
                        ignore_index=True)
    out["apl_year"] = chosen
    out.attrs["label"] = f"APL médecins généralistes (DREES {chosen})"
    out.attrs["year"] = chosen
    return out.drop_duplicates("insee").reset_index(drop=True)


def _territories_of(paths: Paths, layer: str, region: str | None) -> list[str]:
    if region is None:
        return territories(paths, layer)
    return [require_region(region).territory]


def communes_display(
    paths: Paths,
    region: str | None = None,
    *,
    tolerance_m: float | None = None,
    crs: str | None = WGS84,
    precision: int = PRECISION,
    apl: pd.DataFrame | None = None,
    arrondissements: bool = True,
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
    arrondissements
        Draw Paris, Lyon and Marseille by municipal arrondissement, each with its own
        class, when the arrondissement polygons are present
        (:func:`arrondissement_polygons`); otherwise (or ``False``) they are drawn whole,
        class ``ARR`` with the classes per arrondissement in ``classe_detail``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``insee`` (the arrondissement code for an arrondissement), ``commune`` (the
        commune's code), ``nom``, ``departement``, ``region``, ``population``, ``bv2012``,
        ``territory``, ``classe``, ``classe_detail``, ``apl``, ``apl_year`` and geometry;
        ``attrs``: ``apl_label``, and ``arrondissements``: ``"drawn"`` (by arrondissement),
        ``"whole"`` (a city drawn whole, its class depending on the arrondissement) or
        ``"absent"`` (none of the three cities).
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
    out["commune"] = out["insee"]
    plm, whole = "absent", []
    if out["classe"].eq("ARR").any() or out["insee"].isin(list(PLM_COMMUNES)).any():
        polygons = arrondissement_polygons(paths) if arrondissements else None
        if polygons is not None:
            out = _split_plm(paths, out, polygons, tolerance, crs, precision)
            plm = "drawn"
        else:
            plm = "whole"
            whole = out[out["insee"].isin(list(PLM_COMMUNES))].sort_values("insee")["nom"].astype(str).tolist()
    apl_table = apl_values(paths) if apl is None else apl
    extra = apl_table[[c for c in ("insee", "apl", "apl_year") if c in apl_table.columns]].copy()
    extra["insee"] = extra["insee"].astype(str)
    out = out.merge(extra.drop_duplicates("insee"), on="insee", how="left")
    if "apl_year" not in out.columns:
        out["apl_year"] = np.nan
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=parts[0].crs)
    out.attrs["apl_label"] = apl_table.attrs.get("label", "APL")
    out.attrs["arrondissements"] = plm
    out.attrs["drawn_whole"] = whole
    return out.sort_values("insee", kind="stable").reset_index(drop=True)


def arrondissement_polygons(paths: Paths) -> gpd.GeoDataFrame | None:
    """The municipal arrondissements of Paris, Lyon and Marseille when their source is present, else None.

    The source (``arrondissements_municipaux``, IGN ADMIN EXPRESS) is never downloaded
    here: it is used when ``zonage fetch arrondissements_municipaux --download`` brought it
    into ``data/raw`` (checksum recorded) or when the mirror holds it.
    """
    from zonage.sources import get_source
    from zonage.sources.arrondissements import read_arrondissements
    from zonage.sources.fetch import fetch

    try:
        result = fetch(get_source("arrondissements_municipaux"), paths, download=False)
    except ZonageError:
        return None
    return read_arrondissements(result.path)


def _split_plm(paths: Paths, communes: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame, tolerance: float,
               crs: str | None, precision: int) -> gpd.GeoDataFrame:
    """Replace Paris, Lyon and Marseille by their arrondissements, each with its own class (and APL)."""
    parents = communes[communes["insee"].isin(polygons["insee_com"])]
    if parents.empty:
        return communes
    zoning = read_layer(paths, "zoning_communes", columns=["insee_arm", "classe"]).dropna(subset=["insee_arm"])
    classes = dict(zip(zoning["insee_arm"].astype(str), zoning["classe"].fillna("unknown").astype(str),
                       strict=True))
    arms = polygons[polygons["insee_com"].isin(parents["insee"])]
    metric = TERRITORY_CRS["metro"]
    frame = gpd.GeoDataFrame({"insee": arms["insee_arm"].to_numpy(), "nom": arms["nom"].to_numpy(),
                              "commune": arms["insee_com"].to_numpy()},
                             geometry=arms.geometry.values, crs=arms.crs).to_crs(metric)
    frame = display_geometries(frame, tolerance, crs=crs, precision=precision)  # as the communes (metro)
    parent = parents.set_index("insee")
    for column in ("departement", "region", "bv2012", "territory"):
        frame[column] = frame["commune"].map(parent[column])
    frame["population"] = np.nan
    frame["classe"] = frame["insee"].map(classes).fillna("unknown")
    frame["classe_detail"] = ""
    kept = communes[~communes["insee"].isin(frame["commune"])]
    return gpd.GeoDataFrame(pd.concat([kept, frame], ignore_index=True), geometry="geometry", crs=communes.crs)


def place_names(paths: Paths, region: str, count: int = 20, *, crs: str | None = None) -> gpd.GeoDataFrame:
    """The ``count`` most populous communes of ``region``: ``nom``, ``population`` and a label point.

    Parameters
    ----------
    paths
        Data folders (layers built).
    region
        INSEE région code.
    count
        How many places (largest population first).
    crs
        Output CRS (``None``: the territory's metric CRS, as static maps).
    """
    territory = require_region(region).territory
    frame = read_geo_layer(paths, "communes", territory=territory, columns=["insee", "nom", "population", "region"])
    frame = frame[(frame["region"] == str(region)) & frame["population"].notna()]
    frame = frame.nlargest(count, "population")
    points = gpd.GeoDataFrame({"insee": frame["insee"].astype(str).to_numpy(), "nom": frame["nom"].to_numpy(),
                               "population": frame["population"].to_numpy()},
                              geometry=frame.geometry.representative_point().values, crs=frame.crs)
    return (points if crs is None else points.to_crs(crs)).reset_index(drop=True)


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


#: French wording of the sources a map may draw (the catalogue's vintages are in English).
SOURCE_LABELS_FR: dict[str, str] = {
    "communes_polygons": "contours des communes : COG 2025 (IGN ADMIN EXPRESS, etalab)",
    "arrondissements_municipaux": "arrondissements municipaux de Paris, Lyon et Marseille : IGN ADMIN EXPRESS COG",
    "qpv2024": "QPV 2024 : contours ANCT",
    "qpv2015": "QPV 2015 : contours CGET (Occitanie)",
    "zoning_qpv_paca": "classes propres des QPV : arrêté de l'ARS PACA (2025)",
}

def plm_whole_note(cities: Sequence[str]) -> str:
    """What a map says when Paris, Lyon or Marseille is drawn whole (arrondissement polygons absent).

    Examples
    --------
    >>> plm_whole_note(["Paris"])[:58]
    "Paris est dessinée d'un seul tenant : sa classe dépend de"
    """
    names = list(cities) or ["Paris", "Lyon", "Marseille"]
    several = len(names) > 1
    who = ", ".join(names[:-1]) + " et " + names[-1] if several else names[0]
    return (f"{who} {'sont dessinées' if several else 'est dessinée'} d'un seul tenant : "
            f"{'leur' if several else 'sa'} classe dépend de l'arrondissement (détail au survol). "
            "Pour un dessin par arrondissement, télécharger les contours IGN ADMIN EXPRESS : "
            "zonage fetch arrondissements_municipaux --download.")

_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")


def french_date(value: date) -> str:
    """``date(2021, 1, 8)`` → ``"8 janvier 2021"`` (``1er`` for the first day)."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {_MONTHS[value.month - 1]} {value.year}"


def _zoning_label() -> str:
    """The zoning source: the loaded order and its end as ``_zoning_orders.toml`` gives them."""
    from zonage.reports import loaded_default_order

    order = loaded_default_order()
    if order is None:
        return "zonage des médecins généralistes (export CartoSanté de mai 2025)"
    until = f"en vigueur jusqu'au {french_date(order.end)} d'après l'outil, " if order.end is not None else ""
    return (f"zonage des médecins généralistes : {order.label_fr} ({until}voir _zoning_orders.toml ; "
            "export CartoSanté de mai 2025)")


def _finess_label() -> str:
    from zonage.sources import CATALOGUE

    source = CATALOGUE.get("finess")
    found = re.search(r"(\d{4})-(\d{2})-(\d{2})", source.vintage if source is not None else "")
    if not found:
        return "établissements : FINESS"
    return f"établissements : FINESS, extraction du {french_date(date(*map(int, found.groups())))}"


def sources_note(
    apl_label: str | None = None,
    *,
    layers: Sequence[str] = ("zoning", "apl", "qpv", "structures"),
    qpv: pd.DataFrame | None = None,
    arrondissements: str = "absent",
) -> str:
    """The sources line of a map, in French, naming only what the map draws.

    Parameters
    ----------
    apl_label
        Label of the APL drawn (e.g. ``APL médecins généralistes (DREES 2023)``).
    layers
        Layers drawn (keys of :data:`zonage.maps.REGION_LAYERS`; ``structures`` adds FINESS,
        ``picks`` the prioritisation).
    qpv
        The QPV polygons drawn (``generation``, ``classe_qpv``): their generations and
        sources are named; with ``"qpv"`` in ``layers`` but no polygon, the line says that
        no QPV contour is available for the région. ``None`` with ``"qpv"`` in
        ``layers``: the QPV 2024 source is named (caller without the frame).
    arrondissements
        ``communes_display(...).attrs["arrondissements"]``: ``"drawn"`` names the
        arrondissement source.
    """
    parts = []
    if "zoning" in layers:
        parts.append(_zoning_label())
    if "qpv" in layers:
        if qpv is None:
            parts.append(SOURCE_LABELS_FR["qpv2024"])
        elif len(qpv) == 0:
            parts.append("QPV : aucun contour disponible pour cette région, non dessinés")
        else:
            generations = sorted({str(g) for g in qpv["generation"].dropna()}, reverse=True)
            parts.extend(SOURCE_LABELS_FR.get(f"qpv{g}", f"QPV {g}") for g in generations)
            if "classe_qpv" in qpv.columns and qpv["classe_qpv"].notna().any():
                parts.append(SOURCE_LABELS_FR["zoning_qpv_paca"])
    if "apl" in layers:
        parts.append(apl_label or "APL des médecins généralistes (DREES)")
    if "structures" in layers:
        parts.append(_finess_label())
    if "picks" in layers:
        parts.append("postes proposés : priorisation (zonage prioritise)")
    parts.append(SOURCE_LABELS_FR["communes_polygons"])
    if arrondissements == "drawn":
        parts.append(SOURCE_LABELS_FR["arrondissements_municipaux"])
    return "Sources : " + " ; ".join(parts) + ". Contours simplifiés pour l'affichage."


def territory_crs(territory: str) -> str:
    """Metric CRS of a territory (static maps are drawn in it)."""
    return TERRITORY_CRS[territory]
