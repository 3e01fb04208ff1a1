"""Maps: interactive (folium) and static (matplotlib) maps of the zoning, APL and structures.

Python API
----------
- :func:`region_map` / :func:`write_region_map`: a région's interactive map (zoning,
  QPV, APL, structures coloured by eligibility, priority picks when given).
- :func:`write_national_map`: every commune by zoning class (≤ 20 MB of HTML), with
  buttons to the overseas régions and progress messages (``on_step``).
- :func:`write_region_static`: A4 PNG (300 dpi) and PDF maps for reports, portrait or
  landscape, with the main place names and the proposed posts when given.

Conventions: ZIP orange, ZAC blue, HZ grey, no class hatched; the interactive legend
shows only the layers on the map; the sources line (French) names only what the map
draws. Paris, Lyon and Marseille are drawn by arrondissement, each with its class, when
the IGN ADMIN EXPRESS arrondissements were fetched (``zonage fetch
arrondissements_municipaux --download``); otherwise whole, and the legend says so.

Outputs never compute: verdicts come from the eligibility engine (the caller passes its
``rows``: without them no structures are drawn), classes and APL from the layers, and the
display frames from :mod:`zonage.maps.data`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd

from zonage.config import Paths
from zonage.maps import data
from zonage.maps.folium_map import REGION_LAYERS, national_map, save_map
from zonage.maps.folium_map import region_map as _region_map
from zonage.regions import require_region

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
        ``BatchResult.rows`` of the structures to draw (the eligibility engine's answer,
        e.g. :func:`zonage.studies.eligibility.eligibility_of_region`); ``None``: no structures layer.
        A map never computes verdicts itself.
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
    name = require_region(region).name
    communes = data.communes_display(paths, region, tolerance_m=tolerance_m, apl=apl)
    structures, unlocated = None, 0
    if rows is not None and "structures" in layers:
        structures, unlocated = data.structures_display(rows)
    qpv = data.qpv_display(paths, region) if "qpv" in layers else None
    drawn = [layer for layer in layers if (layer != "structures" or structures is not None)
             and (layer != "picks" or (picks is not None and len(picks)))]
    return _region_map(
        communes,
        title=f"Zonage médecins et éligibilité — {name} ({region})",
        qpv=qpv,
        departements=data.departements_display(paths, region) if "departements" in layers else None,
        structures=structures,
        unlocated=unlocated,
        picks=picks,
        scheme_labels=_scheme_labels(),
        layers=layers,
        tiles=tiles,
        note=data.sources_note(communes.attrs.get("apl_label"), layers=drawn, qpv=qpv,
                               arrondissements=communes.attrs.get("arrondissements", "absent")),
        notes=_plm_notes(communes),
    )


def _plm_notes(communes: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    """The legend note when Paris, Lyon or Marseille is drawn whole (no arrondissement polygons)."""
    if communes.attrs.get("arrondissements") != "whole":
        return []
    return [("zoning", data.plm_whole_note(communes.attrs.get("drawn_whole", [])))]


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


#: Progress callback of the long map builds: called with a French sentence per step.
OnStep = Callable[[str], None]


def _step(on_step: OnStep | None, message: str) -> None:
    if on_step is not None:
        on_step(message)


def national_map_html(paths: Paths, *, tiles: str | None = "OpenStreetMap", tolerance_m: float | None = None,
                      on_step: OnStep | None = None):
    """The folium map of the national zoning (every territory).

    Parameters
    ----------
    paths
        Data folders with the layers built.
    tiles
        Base map (``None``: none).
    tolerance_m
        Display simplification (default :data:`zonage.maps.data.NATIONAL_TOLERANCE_M`).
    on_step
        Called with a French sentence at each step (reading and simplifying about 35,000
        communes takes a while): the command line prints them.
    """
    _step(on_step, "communes : lecture, classes du zonage et APL, simplification des contours (≈ 35 000 communes)")
    communes = data.communes_display(paths, None, tolerance_m=tolerance_m)
    _step(on_step, f"communes : {len(communes):,} prêtes".replace(",", "\u202f"))
    _step(on_step, "quartiers prioritaires (QPV) et limites départementales")
    qpv = data.qpv_display(paths, None)
    departements = data.departements_display(paths, None)
    _step(on_step, "carte : encodage des contours et des commandes (recherche, légende, outre-mer)")
    return national_map(
        communes,
        qpv=qpv,
        departements=departements,
        tiles=tiles,
        note=data.sources_note(communes.attrs.get("apl_label"), layers=("zoning", "apl", "qpv"), qpv=qpv,
                               arrondissements=communes.attrs.get("arrondissements", "absent")),
        notes=_plm_notes(communes),
    )


def write_national_map(paths: Paths, out_dir: str | Path = "maps", *, cdn: bool = False,
                       on_step: OnStep | None = None, **options: object) -> Path:
    """Write ``<out_dir>/zonage_national.html`` (every commune by class, self-contained unless ``cdn``).

    ``on_step`` receives a French sentence per step (see :func:`national_map_html`).
    """
    fmap = national_map_html(paths, on_step=on_step, **options)  # type: ignore[arg-type]
    _step(on_step, "écriture du fichier HTML" + ("" if cdn else " (Leaflet inclus, lisible hors ligne)"))
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
    orientation: str = "landscape",
    picks: gpd.GeoDataFrame | None = None,
    places: int = 20,
    on: date | None = None,
) -> list[Path]:
    """Write the zoning, APL and structures maps of ``region`` as A4 PNG (300 dpi) and PDF; return the paths.

    Parameters
    ----------
    paths, region, rows
        As in :func:`region_map` (``rows=None`` runs the région's batch).
    out_dir
        Folder of the files ``region_<code>_{zonage,apl,structures}.{png,pdf}``.
    formats
        ``png`` and/or ``pdf``.
    apl
        The APL hook (see :func:`region_map`).
    tolerance_m
        Display simplification (metres).
    orientation
        ``landscape`` / ``paysage`` or ``portrait`` (A4).
    picks
        Proposed posts to draw (:func:`zonage.maps.static.read_picks` of a ``zonage
        prioritise`` CSV); ``None``: none.
    places
        How many of the largest communes are named (labels that would overlap are skipped).
    on
        Date written on the maps (default today).
    """
    from zonage.maps import static

    orientation = static.orientation_of(orientation)
    name = require_region(region).name
    communes = data.communes_display(paths, region, crs=None, apl=apl, tolerance_m=tolerance_m)
    departements = data.departements_display(paths, region, crs=None, tolerance_m=tolerance_m)
    assert communes.crs is not None  # display_geometries refused frames without a CRS
    metric = communes.crs.to_string()
    qpv = data.qpv_display(paths, region, crs=metric)
    towns = data.place_names(paths, region, places, crs=metric) if places else None
    plm = communes.attrs.get("arrondissements", "absent")
    notes = " ".join(text for _, text in _plm_notes(communes))

    def caption(*layers: str) -> str:
        drawn = (*layers, *(("picks",) if picks is not None and len(picks) else ()))
        note = data.sources_note(communes.attrs.get("apl_label"), layers=drawn, qpv=qpv, arrondissements=plm)
        return note + (f" {notes}" if notes and "zoning" in layers else "")

    common = {"places": towns, "picks": picks, "orientation": orientation, "on": on}
    figures = {
        "zonage": static.zoning_figure(communes, title=f"Zonage des médecins généralistes — {name}",
                                       caption=caption("zoning", "qpv"), qpv=qpv, departements=departements,
                                       **common),  # type: ignore[arg-type]
        "apl": static.apl_figure(communes, title=f"Accessibilité aux médecins généralistes — {name}",
                                 caption=caption("apl"), departements=departements,
                                 **common),  # type: ignore[arg-type]
    }
    if rows is not None:
        structures, unlocated = data.structures_display(rows, crs=metric)
        figures["structures"] = static.structures_figure(
            communes, structures, title=f"Centres de santé, MSP et hôpitaux : éligibilité — {name}",
            caption=caption("zoning", "structures"), departements=departements, unlocated=unlocated,
            **common)  # type: ignore[arg-type]
    written = []
    for key, fig in figures.items():
        for fmt in formats:
            written.append(static.save_figure(fig, Path(out_dir) / f"region_{region}_{key}.{fmt}"))
    return written
