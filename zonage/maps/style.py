"""Colours, labels and legends shared by the interactive and static maps.

The zoning follows the usual convention of the ARS maps: ZIP orange, ZAC blue,
zone de vigilance green, hors zonage (HZ) grey, and a commune without a known class
hatched (:data:`HATCHED_CLASSES`: white with grey diagonal lines, so that "no data" is
never read as a class). Every text that reaches HTML goes
through :func:`esc` (structure names, addresses and any user text are data, never
markup).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from zonage.numbers import french_number

#: Zoning classes: fill colour and French label, in legend order.
CLASS_STYLE: dict[str, tuple[str, str]] = {
    "ZIP": ("#f28e2b", "ZIP — zone d'intervention prioritaire"),
    "ZAC": ("#4e79a7", "ZAC — zone d'action complémentaire"),
    "ZV": ("#59a14f", "Zone de vigilance"),
    "ZAR": ("#b07aa1", "ZAR — classe régionale"),
    "HZ": ("#c8c8c8", "Hors zonage (HZ)"),
    "ARR": ("#e6d3a3", "Selon l'arrondissement (Paris, Lyon, Marseille)"),
    "unknown": ("#ffffff", "Classe non renseignée (hachuré)"),
}

#: Classes drawn hatched (diagonal lines over their fill colour): "no class" is not a class.
HATCHED_CLASSES: frozenset[str] = frozenset({"unknown"})
#: Colour of the hatching lines.
HATCH_COLOUR = "#7a7a7a"

#: Marker colour and label of a structure: its best answer over the GP schemes as the post's
#: practice site (``statut_mg`` of the batch; a hospital that can only be a partner is not
#: "eligible" there; the popup gives every scheme's answer).
STATUS_STYLE: dict[str, tuple[str, str]] = {
    "eligible": ("#1b7837", "Éligible à un dispositif MG (lieu d'exercice)"),
    "needs_review": ("#762a83", "À vérifier"),
    "not_eligible": ("#b2182b", "Non éligible (dispositifs MG)"),
    "not_applicable": ("#bababa", "Non applicable (type de structure)"),
    "error": ("#525252", "Erreur de localisation"),
}

#: French words for a verdict of one scheme.
VERDICT_FR: dict[str, str] = {
    "eligible": "éligible",
    "needs_review": "à vérifier",
    "not_eligible": "non éligible",
    "not_applicable": "non applicable",
    "error": "erreur",
}

#: Outline colour of QPV polygons by their own zoning class (``None``: no class of their own).
QPV_STYLE: dict[str | None, str] = {"ZIP": "#d35400", "ZAC": "#1f4e79", None: "#6a1b9a"}

#: Colour of the priority picks (prioritisation engine, when available).
PICK_COLOUR = "#111111"

#: Upper bounds (consultations per year per standardised inhabitant) of the APL classes.
#: 2.5 and 4 are the thresholds of the 2017–2024 zoning method (DREES/DGOS FAQ).
APL_BREAKS: tuple[float, ...] = (2.5, 3.0, 4.0, 5.0, math.inf)
APL_COLOURS: tuple[str, ...] = ("#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf")
APL_MISSING = "#d9d9d9"


@dataclass(frozen=True)
class LegendItem:
    """One line of a legend: a swatch and its (plain-text) label."""

    colour: str
    label: str
    shape: str = "square"  # square | hatched | circle | outline | star


@dataclass(frozen=True)
class LegendSection:
    """A titled group of legend lines (plain text, escaped when rendered)."""

    title: str
    items: tuple[LegendItem, ...]
    #: Key of the map layer the section describes (``""``: always shown); the interactive legend
    #: shows a section only while its layer is on the map.
    layer: str = ""


def esc(value: object) -> str:
    """HTML-escape any value for a popup, tooltip or legend (missing values give ``""``).

    Examples
    --------
    >>> esc("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    """
    if value is None:
        return ""
    try:
        if value != value:  # NaN, pd.NA raises TypeError
            return ""
    except (TypeError, ValueError):
        return ""
    return html.escape(str(value), quote=True)



def apl_labels(breaks: Sequence[float] = APL_BREAKS) -> list[str]:
    """French labels of the APL classes (``≤ 2,5``, ``2,5 – 3``… ``> 5``)."""
    labels = []
    low = None
    for high in breaks:
        if low is None:
            labels.append(f"≤ {french_number(high, 1)}")
        elif math.isinf(high):
            labels.append(f"> {french_number(low, 1)}")
        else:
            labels.append(f"{french_number(low, 1)} – {french_number(high, 1)}")
        low = high
    return labels


def apl_colour(value: float) -> str:
    """Fill colour of an APL value (grey when missing)."""
    if value is None or value != value:
        return APL_MISSING
    for high, colour in zip(APL_BREAKS, APL_COLOURS, strict=True):
        if value <= high:
            return colour
    return APL_COLOURS[-1]  # pragma: no cover - inf is the last break


def zoning_section(classes: Iterable[str]) -> LegendSection:
    """Legend of the zoning classes present (in the conventional order; "unknown" hatched)."""
    present = set(classes)
    items = tuple(LegendItem(colour, label, "hatched" if key in HATCHED_CLASSES else "square")
                  for key, (colour, label) in CLASS_STYLE.items() if key in present)
    return LegendSection("Zonage médecins (classe de la commune)", items, layer="zoning")


def apl_section(title: str, has_missing: bool = True) -> LegendSection:
    """Legend of the APL choropleth."""
    items = [LegendItem(c, label) for c, label in zip(APL_COLOURS, apl_labels(), strict=True)]
    if has_missing:
        items.append(LegendItem(APL_MISSING, "non disponible"))
    return LegendSection(title, tuple(items), layer="apl")


def qpv_section(classes: Iterable[str | None]) -> LegendSection:
    """Legend of the QPV outlines (by the QPV's own class, where the order gives one)."""
    present = set(classes)
    labels = {"ZIP": "QPV classé ZIP", "ZAC": "QPV classé ZAC", None: "QPV (contour)"}
    items = tuple(LegendItem(QPV_STYLE[k], labels[k], "outline") for k in (None, "ZIP", "ZAC") if k in present)
    return LegendSection("Quartiers prioritaires (QPV)", items, layer="qpv")


def departements_section() -> LegendSection:
    """Legend of the département outlines."""
    return LegendSection("Limites", (LegendItem("#222222", "Limite départementale", "line"),), layer="departements")


def status_section(counts: dict[str, int], unlocated: int = 0) -> LegendSection:
    """Legend of the structure markers, with the count of each status."""
    items = [
        LegendItem(colour, f"{label} ({counts.get(key, 0):,})".replace(",", "\u202f"), "circle")
        for key, (colour, label) in STATUS_STYLE.items() if key != "error" and counts.get(key, 0)
    ]
    if unlocated:
        items.append(LegendItem(STATUS_STYLE["error"][0], f"Non localisées, absentes de la carte ({unlocated})",
                                "circle"))
    return LegendSection("Structures (FINESS)", tuple(items), layer="structures")


def picks_section(count: int) -> LegendSection:
    """Legend of the priority picks layer."""
    return LegendSection("Priorisation", (LegendItem(PICK_COLOUR, f"Poste proposé ({count})", "star"),),
                         layer="picks")


def _swatch(item: LegendItem) -> str:
    colour = esc(item.colour)
    if item.shape == "circle":
        style = f"background:{colour};border-radius:50%;border:1px solid #222"
    elif item.shape == "hatched":
        style = (f"background:repeating-linear-gradient(45deg,{esc(HATCH_COLOUR)} 0 1.5px,{colour} 1.5px 4.5px);"
                 "border:1px solid #777")
    elif item.shape == "line":
        style = f"background:transparent;border-top:2px solid {colour};height:0;margin-top:6px"
    elif item.shape == "outline":
        style = f"background:transparent;border:2px dashed {colour}"
    elif item.shape == "star":
        return f'<span class="zl-star" style="color:{colour}">★</span>'
    else:
        style = f"background:{colour};border:1px solid #777"
    return f'<span class="zl-sw" style="{style}"></span>'


def legend_html(title: str, sections: Sequence[LegendSection], note: str = "",
                notes: Sequence[tuple[str, str]] = ()) -> str:
    """The legend as an HTML fragment; every text is escaped.

    Parameters
    ----------
    title
        Heading (e.g. the région's name).
    sections
        Groups of swatches; empty sections are skipped.
    note
        Small print under the legend (sources and vintages).
    notes
        Further small print, ``(layer key, text)``: tied to a layer like a section (``""``:
        always shown).

    A section tied to a layer carries ``data-layer``: the interactive map hides it while
    that layer is off (``zonage.updateLegend``).
    """
    parts = [f'<div class="zl-title">{esc(title)}</div>']
    for section in sections:
        if not section.items:
            continue
        layer = f' data-layer="{esc(section.layer)}"' if section.layer else ""
        parts.append(f'<div class="zl-section"{layer}><div class="zl-head">{esc(section.title)}</div>')
        parts.extend(f'<div class="zl-item">{_swatch(item)}<span>{esc(item.label)}</span></div>'
                     for item in section.items)
        parts.append("</div>")
    for layer, text in notes:
        tied = f' data-layer="{esc(layer)}"' if layer else ""
        parts.append(f'<div class="zl-note zl-warn"{tied}>{esc(text)}</div>')
    if note:
        parts.append(f'<div class="zl-note">{esc(note)}</div>')
    return "".join(parts)


#: CSS of the legend and search controls (no external resource).
CONTROL_CSS = """
.zonage-legend{background:rgba(255,255,255,.94);padding:8px 10px;border-radius:6px;box-shadow:0 1px 5px rgba(0,0,0,.4);
 font:12px/1.35 system-ui,sans-serif;max-width:290px;max-height:70vh;overflow:auto}
.zonage-legend .zl-title{font-weight:700;font-size:13px;margin-bottom:4px}
.zonage-legend .zl-head{font-weight:600;margin:6px 0 2px}
.zonage-legend .zl-item{display:flex;align-items:center;gap:6px;margin:1px 0}
.zonage-legend .zl-sw{display:inline-block;width:14px;height:12px;flex:none}
.zonage-legend .zl-star{display:inline-block;width:14px;text-align:center;font-size:14px;flex:none}
.zonage-legend .zl-note{margin-top:6px;color:#555;font-size:10.5px}
.zonage-legend .zl-warn{color:#5a3d00}
.zonage-views{background:#fff;padding:4px 6px;border-radius:4px;box-shadow:0 1px 5px rgba(0,0,0,.4);
 font:12px system-ui,sans-serif;display:flex;flex-wrap:wrap;gap:3px;align-items:center;max-width:330px}
.zonage-views .zv-head{font-weight:600;margin-right:2px}
.zonage-views button{font:12px system-ui,sans-serif;padding:2px 6px;border:1px solid #999;border-radius:3px;
 background:#f4f4f4;cursor:pointer}
.zonage-views button:hover{background:#e8eef7}
.zonage-scheme{background:#fff;padding:4px 6px;border-radius:4px;box-shadow:0 1px 5px rgba(0,0,0,.4);
font:12px sans-serif}
.zonage-scheme select{max-width:260px}
.zonage-search{background:#fff;padding:4px;border-radius:4px;box-shadow:0 1px 5px rgba(0,0,0,.4);
 font:13px system-ui,sans-serif}
.zonage-search input{width:220px;padding:3px 5px;border:1px solid #aaa;border-radius:3px}
.zonage-search ul{list-style:none;margin:2px 0 0;padding:0;max-height:240px;overflow:auto}
.zonage-search li{padding:2px 5px;cursor:pointer}
.zonage-search li:hover,.zonage-search li.zs-active{background:#e8eef7}
.zonage-popup table{border-collapse:collapse;font-size:12px}
.zonage-popup td,.zonage-popup th{border-top:1px solid #ddd;padding:2px 4px;vertical-align:top;text-align:left}
.zonage-popup .zp-eligible{color:#1b7837;font-weight:600}
.zonage-popup .zp-needs_review{color:#762a83;font-weight:600}
.zonage-popup .zp-not_eligible{color:#b2182b;font-weight:600}
.zonage-pick{color:#111;font-size:22px;line-height:22px;text-align:center;text-shadow:0 0 3px #fff}
"""
