"""Maps: interactive (folium) and static (matplotlib) maps of the zoning, APL and structures.

Python API
----------
- :func:`region_map` / :func:`write_region_map`: a région's interactive map (zoning,
  QPV, APL, structures coloured by eligibility, priority picks when given).
- :func:`write_national_map`: every commune by zoning class (≤ 20 MB of HTML).
- :func:`write_region_static`: PNG and PDF maps for reports.

Outputs never compute: verdicts come from the eligibility engine
(:func:`zonage.workflows.eligibility_of_region` when ``rows`` is not given), classes and
APL from the layers, and the display frames from :mod:`zonage.maps.data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from zonage.config import Paths
from zonage.maps import data
from zonage.maps.folium_map import REGION_LAYERS, national_map, save_map
from zonage.maps.folium_map import region_map as _region_map

__all__ = [
    "REGION_LAYERS",
    "national_map_html",
    "region_map",
    "write_national_map",
    "write_region_map",
    "write_region_static",
]


def _scheme_labels() -> dict[str, str]:
    from zonage.rules import load_schemes

    return {key: getattr(scheme, "name_fr", key) for key, scheme in load_schemes().items()}


def _rows_for(
    paths: Paths, region: str, rows: gpd.GeoDataFrame | None, layers: Sequence[str]
) -> gpd.GeoDataFrame | None:
    if rows is not None or "structures" not in layers:
        return rows
    from zonage.workflows import eligibility_of_region

    return eligibility_of_region(paths, region)[1].rows


def region_map(
    paths: Paths,
    region: str,
    rows: gpd.GeoDataFrame | None = None,
    *,
    layers: Sequence[str] = REGION_LAYERS,
    tiles: str | None = "OpenStreetMap",
    picks: gpd.GeoDataFrame | None = None,
    apl: pd.DataFrame | None = None,
    tolerance_m: float | None = None,
):
    """The folium map of INSEE région ``region`` (display it in a notebook or save it).

    Parameters
    ----------
    paths
        Data folders with the layers built.
    region
        INSEE région code (``44`` Grand Est, ``28`` Normandie…).
    rows
        ``BatchResult.rows`` of the structures to draw; ``None`` runs the batch on the
        région's FINESS centres de santé, MSP and hospitals
        (:func:`zonage.workflows.eligibility_of_region`) when ``structures`` is drawn.
    layers
        Subset of :data:`REGION_LAYERS`.
    tiles
        Base map (``None``: none, nothing fetched from tile servers).
    picks
        Priority picks of the prioritisation engine, when available (hook).
    apl
        APL table (``insee``, ``apl``) for the choropleth (hook; default DREES APL).
    tolerance_m
        Display simplification (default :data:`zonage.maps.data.REGION_TOLERANCE_M`).
    """
    name, _ = data.region_info(paths, region)
    communes = data.communes_display(paths, region, tolerance_m=tolerance_m, apl=apl)
    structures, unlocated = None, 0
    rows = _rows_for(paths, region, rows, layers)
    if rows is not None and "structures" in layers:
        structures, unlocated = data.structures_display(rows)
    return _region_map(
        communes,
        title=f"Zonage médecins et éligibilité — {name} ({region})",
        qpv=data.qpv_display(paths, region) if "qpv" in layers else None,
        departements=data.departements_display(paths, region) if "departements" in layers else None,
        structures=structures,
        unlocated=unlocated,
        picks=picks,
        scheme_labels=_scheme_labels(),
        layers=layers,
        tiles=tiles,
        note=data.sources_note(communes.attrs.get("apl_label")),
    )


def write_region_map(
    paths: Paths,
    region: str,
    rows: gpd.GeoDataFrame | None = None,
    out_dir: str | Path = "maps",
    *,
    cdn: bool = False,
    **options: object,
) -> Path:
    """Write ``<out_dir>/region_<region>.html`` and return its path.

    ``zonage run`` calls this after the batch with the batch's rows; ``options`` are
    those of :func:`region_map` (``layers``, ``tiles``, ``picks``, ``apl``…). The file is
    self-contained (Leaflet inlined) unless ``cdn``.
    """
    fmap = region_map(paths, str(region), rows, **options)  # type: ignore[arg-type]
    return save_map(fmap, Path(out_dir) / f"region_{region}.html", cdn=cdn)


def national_map_html(paths: Paths, *, tiles: str | None = "OpenStreetMap", tolerance_m: float | None = None):
    """The folium map of the national zoning (every territory)."""
    communes = data.communes_display(paths, None, tolerance_m=tolerance_m)
    return national_map(
        communes,
        qpv=data.qpv_display(paths, None),
        departements=data.departements_display(paths, None),
        tiles=tiles,
        note=data.sources_note(communes.attrs.get("apl_label")),
    )


def write_national_map(paths: Paths, out_dir: str | Path = "maps", *, cdn: bool = False,
                       **options: object) -> Path:
    """Write ``<out_dir>/zonage_national.html`` (every commune by class, self-contained unless ``cdn``)."""
    fmap = national_map_html(paths, **options)  # type: ignore[arg-type]
    return save_map(fmap, Path(out_dir) / "zonage_national.html", cdn=cdn)


def write_region_static(
    paths: Paths,
    region: str,
    rows: gpd.GeoDataFrame | None = None,
    out_dir: str | Path = "maps",
    formats: Sequence[str] = ("png", "pdf"),
    *,
    apl: pd.DataFrame | None = None,
    tolerance_m: float = data.STATIC_TOLERANCE_M,
) -> list[Path]:
    """Write the zoning, APL and structures maps of ``region`` as PNG and PDF; return the paths.

    ``rows`` as in :func:`region_map` (``None`` runs the région's batch); ``apl`` is the
    APL hook; ``tolerance_m`` the display simplification (metres).
    """
    from zonage.maps import static

    name, _ = data.region_info(paths, region)
    communes = data.communes_display(paths, region, crs=None, apl=apl, tolerance_m=tolerance_m)
    departements = data.departements_display(paths, region, crs=None, tolerance_m=tolerance_m)
    assert communes.crs is not None  # display_geometries refused frames without a CRS
    metric = communes.crs.to_string()
    qpv = data.qpv_display(paths, region, crs=metric)
    note = data.sources_note(communes.attrs.get("apl_label"))
    figures = {
        "zonage": static.zoning_figure(communes, title=f"Zonage médecins — {name}", caption=note, qpv=qpv,
                                       departements=departements),
        "apl": static.apl_figure(communes, title=f"Accessibilité aux médecins généralistes — {name}",
                                 caption=note, departements=departements),
    }
    rows = _rows_for(paths, region, rows, ("structures",))
    if rows is not None:
        structures, unlocated = data.structures_display(rows, crs=metric)
        figures["structures"] = static.structures_figure(
            communes, structures, title=f"Centres de santé, MSP et hôpitaux : éligibilité — {name}",
            caption=note, departements=departements, unlocated=unlocated)
    written = []
    for key, fig in figures.items():
        for fmt in formats:
            written.append(static.save_figure(fig, Path(out_dir) / f"region_{region}_{key}.{fmt}"))
    return written
