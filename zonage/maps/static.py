"""Static maps for reports (matplotlib, PNG and PDF): zoning, APL, eligible structures.

Figures are drawn in the territory's metric CRS (so the scale bar is true), with a
legend, a north arrow, a scale bar, and the sources and vintages in the caption. They
receive finished display frames (:mod:`zonage.maps.data`) and compute nothing. The
:class:`matplotlib.figure.Figure` API is used directly (no pyplot state, no backend
switch), so the functions are safe in scripts, servers and notebooks.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from zonage.io import atomic_path
from zonage.maps import style

FORMATS: tuple[str, ...] = ("png", "pdf")


def _new_axes(title: str, caption: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(11.0, 8.3), dpi=150, layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=13, fontweight="bold")
    engine = fig.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)  # layout="constrained" above
    engine.set(h_pad=0.1)
    fig.supxlabel("\n".join(textwrap.wrap(caption, 160)), fontsize=6.5, color="#444", x=0.02, ha="left")
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


def _finish(fig: Figure, ax: Axes, handles: Sequence[Artist], legend_title: str) -> Figure:
    legend = ax.legend(handles=list(handles), title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                       fontsize=8, title_fontsize=8.5, frameon=False, alignment="left")
    legend.set_zorder(20)
    add_scale_bar(ax)
    add_north_arrow(ax)
    return fig


def zoning_figure(
    communes: gpd.GeoDataFrame,
    *,
    title: str,
    caption: str,
    qpv: gpd.GeoDataFrame | None = None,
    departements: gpd.GeoDataFrame | None = None,
) -> Figure:
    """Communes coloured by zoning class (ZIP orange, ZAC blue…), QPV outlined.

    Parameters
    ----------
    communes
        :func:`zonage.maps.data.communes_display` output in a metric CRS (``crs=None``).
    title, caption
        Heading and small print (sources and vintages).
    qpv, departements
        Optional overlays in the same CRS.
    """
    fig, ax = _new_axes(title, caption)
    colours = communes["classe"].map(lambda k: style.CLASS_STYLE.get(k, style.CLASS_STYLE["unknown"])[0])
    communes.plot(ax=ax, color=colours, edgecolor="#8a8a8a", linewidth=0.1)
    _outline(ax, departements)
    handles: list[Artist] = [Patch(facecolor=c, edgecolor="#777", label=label)
                             for key, (c, label) in style.CLASS_STYLE.items() if key in set(communes["classe"])]
    if qpv is not None and len(qpv):
        qpv.boundary.plot(ax=ax, color=style.QPV_STYLE[None], linewidth=0.8, zorder=6)
        handles.append(Line2D([], [], color=style.QPV_STYLE[None], label="QPV (contour)"))
    return _finish(fig, ax, handles, "Zonage médecins")


def apl_figure(
    communes: gpd.GeoDataFrame,
    *,
    title: str,
    caption: str,
    departements: gpd.GeoDataFrame | None = None,
) -> Figure:
    """Communes coloured by APL class (thresholds 2.5 and 4 of the zoning method)."""
    fig, ax = _new_axes(title, caption)
    colours = communes["apl"].map(style.apl_colour)
    communes.plot(ax=ax, color=colours, edgecolor="#8a8a8a", linewidth=0.1)
    _outline(ax, departements)
    handles = [Patch(facecolor=c, edgecolor="#777", label=label)
               for c, label in zip(style.APL_COLOURS, style.apl_labels(), strict=True)]
    if communes["apl"].isna().any():
        handles.append(Patch(facecolor=style.APL_MISSING, edgecolor="#777", label="non disponible"))
    label = communes.attrs.get("apl_label", "APL")
    return _finish(fig, ax, handles, f"{label}\n(consultations/an/hab. standardisé)")


def structures_figure(
    communes: gpd.GeoDataFrame,
    structures: gpd.GeoDataFrame,
    *,
    title: str,
    caption: str,
    departements: gpd.GeoDataFrame | None = None,
    unlocated: int = 0,
) -> Figure:
    """Structures coloured by eligibility status over a faded zoning."""
    fig, ax = _new_axes(title, caption)
    colours = communes["classe"].map(lambda k: style.CLASS_STYLE.get(k, style.CLASS_STYLE["unknown"])[0])
    communes.plot(ax=ax, color=colours, alpha=0.35, edgecolor="none")
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
    handles += [Patch(facecolor=c, alpha=0.35, edgecolor="#777", label=label)
                for key, (c, label) in style.CLASS_STYLE.items() if key in set(communes["classe"])]
    return _finish(fig, ax, handles, "Structures et zonage")


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` atomically; the format follows the suffix (``.png`` or ``.pdf``)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path.name}: static maps are written as {' or '.join(FORMATS)}")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=150, metadata={"Title": fig.axes[0].get_title()} if fmt == "pdf" else None)
    return path
