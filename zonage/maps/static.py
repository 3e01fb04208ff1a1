"""Static maps for reports (matplotlib, PNG and PDF): zoning, APL, eligible structures.

Figures are A4 pages (portrait or landscape), drawn in the territory's metric CRS (so the
scale bar is true), with a French title, a legend, a north arrow, a scale bar, the main
place names (the largest communes, labelled without overlaps), the proposed posts when
given (:func:`read_picks`, the CSV of ``zonage prioritise``), and the sources, vintages
and date of the map in the caption. PNG at 300 dpi, PDF as vectors. They receive
finished display frames (:mod:`zonage.maps.data`) and compute nothing. The
:class:`matplotlib.figure.Figure` API is used directly (no pyplot state, no backend
switch), so the functions are safe in scripts, servers and notebooks.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox

from zonage.errors import ZonageError
from zonage.io import atomic_path
from zonage.maps import style

FORMATS: tuple[str, ...] = ("png", "pdf")
#: Page sizes in inches (A4).
A4: dict[str, tuple[float, float]] = {"landscape": (11.69, 8.27), "portrait": (8.27, 11.69)}
#: French spellings accepted for the orientation.
ORIENTATIONS: dict[str, str] = {"landscape": "landscape", "paysage": "landscape", "portrait": "portrait"}
#: Resolution of the PNG files.
PNG_DPI = 300


def orientation_of(value: str) -> str:
    """``portrait`` or ``landscape`` from ``portrait`` / ``paysage`` / ``landscape`` (``ZonageError`` else)."""
    key = ORIENTATIONS.get(str(value).strip().lower())
    if key is None:
        raise ZonageError(f"orientation {value!r} inconnue : portrait ou paysage")
    return key


def map_date_line(on: date | None = None) -> str:
    """The date line of a map: ``Carte établie le 4 décembre 2026 (zonage).``."""
    from zonage.maps.data import french_date

    return f"Carte établie le {french_date(on or date.today())} (zonage)."


def _new_axes(title: str, caption: str, orientation: str = "landscape", on: date | None = None) -> tuple[Figure, Axes]:
    width, height = A4[orientation_of(orientation)]
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # a canvas to measure the labels (no pyplot, no backend switch)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title("\n".join(textwrap.wrap(title, 70 if orientation_of(orientation) == "portrait" else 100)),
                 fontsize=13, fontweight="bold")
    engine = fig.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)  # layout="constrained" above
    engine.set(h_pad=0.1)
    width_chars = 115 if orientation_of(orientation) == "portrait" else 165
    text = "\n".join([*textwrap.wrap(caption, width_chars), map_date_line(on)])
    fig.supxlabel(text, fontsize=6.5, color="#444", x=0.02, ha="left")
    return fig, ax


def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^n metres) near a fifth of the span."""
    target = span_m / 5
    power = 10 ** math.floor(math.log10(target))
    return max(m * power for m in (1, 2, 5) if m * power <= target)


def add_scale_bar(ax: Axes, *, location: tuple[float, float] = (0.05, 0.04)) -> None:
    """Draw a black-and-white scale bar (axes in metres) with its length in km."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    height = (y1 - y0) * 0.008
    bx = x0 + location[0] * (x1 - x0)
    by = y0 + location[1] * (y1 - y0)
    for i in range(4):
        ax.add_patch(Rectangle((bx + i * length / 4, by), length / 4, height, facecolor="black" if i % 2 == 0 else
                               "white", edgecolor="black", linewidth=0.6, zorder=10))
    label = f"{length / 1000:g} km".replace(".", ",")
    ax.text(bx + length / 2, by + height * 1.8, label, ha="center", va="bottom", fontsize=8, zorder=10)
    ax.text(bx, by + height * 1.8, "0", ha="center", va="bottom", fontsize=8, zorder=10)


def add_north_arrow(ax: Axes, *, location: tuple[float, float] = (0.94, 0.90)) -> None:
    """Draw a north arrow (grid north of the metric CRS, close to true north in France)."""
    ax.annotate("N", xy=(location[0], location[1] + 0.07), xytext=(location[0], location[1]),
                xycoords="axes fraction", ha="center", va="center", fontsize=11, fontweight="bold",
                arrowprops={"facecolor": "black", "width": 4, "headwidth": 11, "headlength": 10}, zorder=10)


def _outline(ax: Axes, departements: gpd.GeoDataFrame | None) -> None:
    if departements is not None and len(departements):
        departements.boundary.plot(ax=ax, color="#222222", linewidth=0.7, zorder=5)


def _hatch_unknown(ax: Axes, communes: gpd.GeoDataFrame, alpha: float = 1.0) -> None:
    """Draw the communes without a class hatched (white with grey diagonals), as the interactive map."""
    unknown = communes[communes["classe"].isin(style.HATCHED_CLASSES)]
    if len(unknown):
        unknown.plot(ax=ax, facecolor=style.CLASS_STYLE["unknown"][0], edgecolor=style.HATCH_COLOUR, hatch="////",
                     linewidth=0.0, alpha=alpha, zorder=2)


def _class_handles(classes: set[str], alpha: float = 1.0) -> list[Artist]:
    return [Patch(facecolor=c, edgecolor=style.HATCH_COLOUR if key in style.HATCHED_CLASSES else "#777",
                  hatch="////" if key in style.HATCHED_CLASSES else None, alpha=alpha, label=label)
            for key, (c, label) in style.CLASS_STYLE.items() if key in classes]


def add_place_names(ax: Axes, places: gpd.GeoDataFrame | None, *, fontsize: float = 7.5) -> list[str]:
    """Label the largest places first, skipping a name that would overlap one already written.

    Parameters
    ----------
    ax
        Axes in the places' CRS (limits already set).
    places
        :func:`zonage.maps.data.place_names` output (``nom``, ``population``, points).
    fontsize
        Size of the largest names (the others are one point smaller).

    Returns
    -------
    list of str
        The names written, largest first.
    """
    if places is None or places.empty:
        return []
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    fig.draw_without_rendering()  # settle the layout: label boxes are measured where they will be drawn
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    taken: list[Bbox] = []
    written: list[str] = []
    order = places.sort_values("population", ascending=False, kind="stable")
    xs, ys = order.geometry.x.to_numpy(), order.geometry.y.to_numpy()
    for i, (name, x, y) in enumerate(zip(order["nom"].astype(str), xs, ys, strict=True)):
        size = fontsize if i < 5 else fontsize - 1
        dot = ax.plot(x, y, marker="o", markersize=2.2, color="#111", zorder=11)[0]
        text = ax.annotate(name, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=size,
                           fontweight="bold" if i < 5 else "normal", color="#111", zorder=12,
                           bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.6,
                                 "edgecolor": "none"})
        box = text.get_window_extent(renderer).expanded(1.05, 1.15)
        inside = ax.get_window_extent(renderer).contains(box.x0, box.y0) and \
            ax.get_window_extent(renderer).contains(box.x1, box.y1)
        if not inside or any(box.overlaps(other) for other in taken):
            text.remove()
            dot.remove()
            continue
        taken.append(box)
        written.append(name)
    return written


def _picks_points(picks: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    points = picks.to_crs(crs) if picks.crs is not None and crs is not None else picks
    return points.assign(geometry=points.geometry.representative_point())


def add_picks(ax: Axes, picks: gpd.GeoDataFrame | None, crs: Any) -> list[Artist]:
    """Draw the proposed posts (stars, with their rank when known); return their legend handle."""
    if picks is None or picks.empty:
        return []
    points = _picks_points(picks, crs)
    ax.scatter(points.geometry.x, points.geometry.y, marker="*", s=110, color=style.PICK_COLOUR,
               edgecolors="white", linewidths=0.6, zorder=13)
    if "rang" in points.columns:
        for rank, x, y in zip(points["rang"], points.geometry.x, points.geometry.y, strict=True):
            if pd.notna(rank):
                ax.annotate(str(rank), (x, y), xytext=(0, -9), textcoords="offset points", ha="center",
                            fontsize=6, color=style.PICK_COLOUR, zorder=13)
    return [Line2D([], [], marker="*", markersize=10, linestyle="", color=style.PICK_COLOUR,
                   label=f"Poste proposé ({len(points)})")]


def _finish(fig: Figure, ax: Axes, handles: Sequence[Artist], legend_title: str, *,
            places: gpd.GeoDataFrame | None = None, orientation: str = "landscape") -> Figure:
    if orientation_of(orientation) == "portrait":
        legend = ax.legend(handles=list(handles), title=legend_title, loc="upper center",
                           bbox_to_anchor=(0.5, -0.01), ncols=2, fontsize=7.5, title_fontsize=8.5, frameon=False)
    else:
        legend = ax.legend(handles=list(handles), title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                           fontsize=8, title_fontsize=8.5, frameon=False, alignment="left")
    legend.set_zorder(20)
    add_scale_bar(ax)
    add_north_arrow(ax)
    add_place_names(ax, places)
    return fig


def zoning_figure(
    communes: gpd.GeoDataFrame,
    *,
    title: str,
    caption: str,
    qpv: gpd.GeoDataFrame | None = None,
    departements: gpd.GeoDataFrame | None = None,
    places: gpd.GeoDataFrame | None = None,
    picks: gpd.GeoDataFrame | None = None,
    orientation: str = "landscape",
    on: date | None = None,
) -> Figure:
    """Communes coloured by zoning class (ZIP orange, ZAC blue, HZ grey, no class hatched), QPV outlined.

    Parameters
    ----------
    communes
        :func:`zonage.maps.data.communes_display` output in a metric CRS (``crs=None``).
    title, caption
        Heading and small print (sources and vintages); the date of the map is added.
    qpv, departements
        Optional overlays in the same CRS.
    places
        Place names to write (:func:`zonage.maps.data.place_names`).
    picks
        Proposed posts (:func:`read_picks`), drawn as stars.
    orientation
        ``landscape`` (``paysage``) or ``portrait``: the A4 page.
    on
        Date written under the map (default today).
    """
    fig, ax = _new_axes(title, caption, orientation, on)
    colours = communes["classe"].map(lambda k: style.CLASS_STYLE.get(k, style.CLASS_STYLE["unknown"])[0])
    communes.plot(ax=ax, color=colours, edgecolor="#8a8a8a", linewidth=0.1)
    _hatch_unknown(ax, communes)
    _outline(ax, departements)
    handles = _class_handles(set(communes["classe"]))
    if qpv is not None and len(qpv):
        qpv.boundary.plot(ax=ax, color=style.QPV_STYLE[None], linewidth=0.8, zorder=6)
        handles.append(Line2D([], [], color=style.QPV_STYLE[None], label="QPV (contour)"))
    handles += add_picks(ax, picks, communes.crs)
    return _finish(fig, ax, handles, "Zonage médecins", places=places, orientation=orientation)


def apl_figure(
    communes: gpd.GeoDataFrame,
    *,
    title: str,
    caption: str,
    departements: gpd.GeoDataFrame | None = None,
    places: gpd.GeoDataFrame | None = None,
    picks: gpd.GeoDataFrame | None = None,
    orientation: str = "landscape",
    on: date | None = None,
) -> Figure:
    """Communes coloured by APL class (thresholds 2.5 and 4 of the zoning method); options as :func:`zoning_figure`."""
    fig, ax = _new_axes(title, caption, orientation, on)
    colours = communes["apl"].map(style.apl_colour)
    communes.plot(ax=ax, color=colours, edgecolor="#8a8a8a", linewidth=0.1)
    _outline(ax, departements)
    handles: list[Artist] = [Patch(facecolor=c, edgecolor="#777", label=label)
                             for c, label in zip(style.APL_COLOURS, style.apl_labels(), strict=True)]
    if communes["apl"].isna().any():
        handles.append(Patch(facecolor=style.APL_MISSING, edgecolor="#777", label="non disponible"))
    handles += add_picks(ax, picks, communes.crs)
    label = communes.attrs.get("apl_label", "APL")
    return _finish(fig, ax, handles, f"{label}\n(consultations/an/hab. standardisé)", places=places,
                   orientation=orientation)


def structures_figure(
    communes: gpd.GeoDataFrame,
    structures: gpd.GeoDataFrame,
    *,
    title: str,
    caption: str,
    departements: gpd.GeoDataFrame | None = None,
    unlocated: int = 0,
    places: gpd.GeoDataFrame | None = None,
    picks: gpd.GeoDataFrame | None = None,
    orientation: str = "landscape",
    on: date | None = None,
) -> Figure:
    """Structures coloured by eligibility status over a faded zoning; options as :func:`zoning_figure`."""
    fig, ax = _new_axes(title, caption, orientation, on)
    colours = communes["classe"].map(lambda k: style.CLASS_STYLE.get(k, style.CLASS_STYLE["unknown"])[0])
    communes.plot(ax=ax, color=colours, alpha=0.35, edgecolor="none")
    _hatch_unknown(ax, communes, alpha=0.35)
    _outline(ax, departements)
    handles: list[Artist] = []
    counts = structures["status"].value_counts()
    for key, (colour, label) in style.STATUS_STYLE.items():
        part = structures[structures["status"] == key]
        if part.empty:
            continue
        part.plot(ax=ax, color=colour, markersize=14, edgecolor="black", linewidth=0.4, zorder=8)
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=colour, markeredgecolor="black",
                              label=f"{label} ({int(counts[key])})"))
    if unlocated:
        handles.append(Line2D([], [], linestyle="", label=f"{unlocated} structure(s) non localisée(s)"))
    handles += add_picks(ax, picks, communes.crs)
    handles += _class_handles(set(communes["classe"]), alpha=0.35)
    return _finish(fig, ax, handles, "Structures et zonage", places=places, orientation=orientation)


#: Column spellings of a picks table (``zonage prioritise`` writes French labels, or the machine
#: names with ``--raw-columns``).
PICK_COLUMNS: dict[str, tuple[str, ...]] = {
    "lon": ("longitude", "lon", "x"),
    "lat": ("latitude", "lat", "y"),
    "rang": ("rang", "rank"),
    "structure": ("structure", "nom", "name"),
    "commune": ("commune", "commune_nom"),
    "dispositif": ("dispositif", "scheme"),
    "justification": ("justification", "explanation"),
}


def read_picks(path: str | Path) -> gpd.GeoDataFrame:
    """The proposed posts of a ``zonage prioritise`` output (CSV or XLSX) as points (EPSG:4326).

    Reads the French column labels (``rang``, ``structure``, ``commune``, ``longitude``,
    ``latitude``…) or the machine names (``rank``, ``nom``, ``lon``, ``lat``), with a
    decimal point or comma.

    Raises
    ------
    ZonageError
        No longitude/latitude columns, or a coordinate that is not a number.
    """
    from zonage.inputs import read_table
    from zonage.io import parse_decimal

    table = read_table(path)
    out: dict[str, pd.Series] = {}
    for field, candidates in PICK_COLUMNS.items():
        found = next((c for c in candidates if c in table.columns), None)
        if found is not None:
            out[field] = table[found]
    if "lon" not in out or "lat" not in out:
        raise ZonageError(f"{Path(path).name} : colonnes longitude et latitude introuvables "
                          f"(colonnes : {', '.join(map(str, table.columns))})")
    lon = parse_decimal(out.pop("lon").astype("string"), field="longitude")
    lat = parse_decimal(out.pop("lat").astype("string"), field="latitude")
    if lon.isna().any() or lat.isna().any():
        row = int(np.flatnonzero((lon.isna() | lat.isna()).to_numpy())[0]) + 2
        raise ZonageError(f"{Path(path).name}, ligne {row} : longitude ou latitude manquante")
    frame = pd.DataFrame({k: v.to_numpy() for k, v in out.items()})
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon.astype(float), lat.astype(float)), crs=4326)


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` atomically; the format follows the suffix (``.png`` or ``.pdf``)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path.name}: static maps are written as {' or '.join(FORMATS)}")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=PNG_DPI,
                    metadata={"Title": fig.axes[0].get_title()} if fmt == "pdf" else None)
    return path
