"""Interactive maps (folium / Leaflet): a région's zoning, QPV, APL and structures; the national zoning.

The functions here receive finished display frames (:mod:`zonage.maps.data`) and only
draw them. The commune polygons are embedded once and shared by the zoning and APL
layers; properties use short keys to keep the HTML small. All text that comes from data
(structure names, addresses, verdict messages) is HTML-escaped in Python before it
reaches a popup or tooltip, and the embedded JSON escapes ``<``, ``>`` and ``&`` so no
value can close the ``<script>`` element. The data and scripts are added to the page
verbatim (:class:`_Raw`), never through Jinja: branca re-parses rendered scripts as
templates, and a structure named ``{{ … }}`` must stay text. Leaflet is the only library
(no jQuery, Bootstrap or icon fonts) and is inlined from the package's copy when the map is
saved (:func:`save_map`): with ``tiles=None`` the file needs nothing from the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.map import Layer

from zonage.io import atomic_path
from zonage.maps import style
from zonage.maps.style import esc

LEAFLET_VERSION = "1.9.4"
LEAFLET_JS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.js"
LEAFLET_CSS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.css"

#: Layers of a regional map, in drawing order.
REGION_LAYERS: tuple[str, ...] = ("zoning", "apl", "departements", "qpv", "structures", "picks")

#: Base maps offered when ``tiles`` is not None (first one shown). CARTO's light tiles now
#: ask for an API key (folium warns), so OpenStreetMap is the only default.
BASE_TILES: tuple[tuple[str, str], ...] = (("OpenStreetMap", "Fond OpenStreetMap"),)


def js_literal(value: object) -> str:
    """Compact JSON usable inside ``<script>``: ``<``, ``>``, ``&`` and line separators escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _script_safe(text)


def _script_safe(text: str) -> str:
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _clean(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    try:
        # pd.isna takes any object (pandas' own signature ends with an ``obj: object`` overload that
        # pandas-stubs drops); for a container its array answer makes the ``if`` raise and the value is kept.
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    return value


def encode_polygons(geometries: np.ndarray, precision: int = 5) -> list[list[list[str]]]:
    """Encode (multi)polygons as nested lists of encoded-polyline strings, one per ring.

    The encoded polyline algorithm (lat, lon deltas as base-64 varints, 10^-precision
    degree steps) takes about a third of the bytes of GeoJSON text; each ring's closing
    point is dropped (Leaflet closes rings). ``zonage.decode`` in the page restores the
    GeoJSON. Result: feature → polygons → rings.
    """
    out: list[list[list[str]]] = [[] for _ in range(len(geometries))]
    parts, part_of = shapely.get_parts(geometries, return_index=True)
    if len(parts) == 0:
        return out
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    last = np.r_[coord_of[1:] != coord_of[:-1], True]
    coords, coord_of = coords[~last], coord_of[~last]  # drop closing points
    steps = np.round(coords[:, ::-1] * 10**precision).astype(np.int64)  # lat, lon
    first = np.r_[True, coord_of[1:] != coord_of[:-1]]
    deltas = steps.copy()
    deltas[1:] -= steps[:-1]
    deltas[first] = steps[first]
    values = deltas.ravel()
    shifted = values << 1
    shifted = np.where(values < 0, ~shifted, shifted)
    width = 7
    chunks = (shifted[:, None] >> (5 * np.arange(width))) & 31
    n_chunks = 1 + (shifted[:, None] >= (1 << (5 * np.arange(1, width)))[None, :]).sum(axis=1)
    position = np.arange(width)[None, :]
    chunks = chunks + np.where(position < n_chunks[:, None] - 1, 32, 0) + 63
    text = chunks[position < n_chunks[:, None]].astype(np.uint8).tobytes().decode("ascii")
    chars_per_ring = np.bincount(np.repeat(coord_of, 2), weights=n_chunks, minlength=len(rings)).astype(np.int64)
    ends = np.cumsum(chars_per_ring)
    starts = ends - chars_per_ring
    polygons: list[list[str]] = [[] for _ in range(len(parts))]
    for r in range(len(rings)):
        polygons[ring_of[r]].append(text[starts[r]:ends[r]])
    for p in range(len(parts)):
        out[part_of[p]].append(polygons[p])
    return out


def feature_collection(frame: gpd.GeoDataFrame, properties: dict[str, Sequence[object]], *,
                       encode: bool = False) -> str:
    """A GeoJSON FeatureCollection as compact, script-safe JSON text.

    Parameters
    ----------
    frame
        Geometries in EPSG:4326 (already simplified and rounded for display).
    properties
        Short property key → values (one per row). ``None``/NaN/empty values are left out.
    encode
        Polygons as encoded polylines (member ``g``, ``geometry`` null) for
        ``zonage.decode``: about a third of the size.
    """
    if encode:
        encoded = encode_polygons(np.asarray(frame.geometry.values))
        geometries = ['null,"g":' + json.dumps(g, separators=(",", ":")) for g in encoded]
    else:
        geometries = shapely.to_geojson(frame.geometry.values).tolist()
    keys = list(properties)
    columns = [list(properties[k]) for k in keys]
    features = []
    for i, geometry in enumerate(geometries):
        props = {}
        for key, column in zip(keys, columns, strict=True):
            value = _clean(column[i])
            if value is not None and value != "":
                props[key] = value
        features.append('{"type":"Feature","properties":' + json.dumps(props, ensure_ascii=False,
                                                                        separators=(",", ":"))
                        + ',"geometry":' + geometry + "}")
    return _script_safe('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}")


class _Raw(Element):
    """Text inserted verbatim.

    branca re-parses rendered scripts as Jinja templates; data (encoded polylines, user
    text with ``{{``) must never become template source.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: object) -> str:
        """Return the text unchanged."""
        return self.text


class _Script(MacroElement):
    """Raw JavaScript (and optional CSS) placed in the page's script, in order."""

    def __init__(self, code: str, css: str = "", name: str = "zonage_script") -> None:
        super().__init__()
        self._name = name
        self.code = code
        self.css = css

    def render(self, **kwargs: object) -> str:
        """Add the code (and CSS) to the figure without templating; nothing is rendered in place."""
        figure = self.get_root()
        assert isinstance(figure, Figure), "a script is rendered inside a figure"  # as branca's MacroElement.render
        if self.css:
            figure.header.add_child(_Raw(f"<style>{self.css}</style>"), name=self.get_name() + "_css")
        figure.script.add_child(_Raw(self.code), name=self.get_name())
        return ""


class _JsLayer(Layer):
    """A Leaflet layer created by JavaScript code, listed in the layer control."""

    def __init__(self, key: str, name: str, code: str, *, show: bool = True, control: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = f"zonage_{key}"
        self.key = key
        self.code = code

    def render(self, **kwargs: object) -> str:
        """Add the layer's code (and its ``addTo`` when shown) to the figure without templating; nothing in place."""
        figure = self.get_root()
        assert isinstance(figure, Figure), "a layer is rendered inside a figure"  # as folium's Layer.render
        var = self.get_name()
        figure.script.add_child(_Raw(f"var {var} = {self.code};\nzonage.layers[{js_literal(self.key)}] = {var};\n"),
                                name=var)
        if self.show:
            assert self._parent is not None, "a layer in a figure has a parent"
            figure.script.add_child(_Raw(f"{var}.addTo({self._parent.get_name()});\n"), name=var + "_add")
        return ""


def _runtime(map_name: str) -> str:
    """Helpers shared by the layers: escaping, tooltips, search, layer order."""
    classes = {k: {"c": c, "l": label} for k, (c, label) in style.CLASS_STYLE.items()}
    apl = {"b": [b if np.isfinite(b) else None for b in style.APL_BREAKS], "c": list(style.APL_COLOURS),
           "m": style.APL_MISSING}
    return f"""
var zonage = window.zonage = {{map: {map_name}, layers: {{}}, classes: {js_literal(classes)},
  apl: {js_literal(apl)}, front: [], strokeWeight: 0.35, colourBy: -1,
  hatched: {js_literal(sorted(style.HATCHED_CLASSES))}, hatchColour: {js_literal(style.HATCH_COLOUR)}}};
// "no class" is hatched, never a flat colour: an SVG pattern for the SVG renderer, a canvas pattern for
// the canvas renderer (national map); both made here, nothing loaded.
zonage.hatchSvg = function () {{
  if (!document.getElementById('zonage-hatch')) {{
    var ns = 'http://www.w3.org/2000/svg', svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', '0'); svg.setAttribute('height', '0');
    svg.setAttribute('aria-hidden', 'true');
    svg.style.position = 'absolute';
    var pattern = document.createElementNS(ns, 'pattern');
    pattern.setAttribute('id', 'zonage-hatch');
    pattern.setAttribute('patternUnits', 'userSpaceOnUse');
    pattern.setAttribute('width', '6'); pattern.setAttribute('height', '6');
    pattern.setAttribute('patternTransform', 'rotate(45)');
    var back = document.createElementNS(ns, 'rect');
    back.setAttribute('width', '6'); back.setAttribute('height', '6');
    back.setAttribute('fill', zonage.classes.unknown.c);
    var line = document.createElementNS(ns, 'rect');
    line.setAttribute('width', '1.6'); line.setAttribute('height', '6'); line.setAttribute('fill', zonage.hatchColour);
    pattern.appendChild(back); pattern.appendChild(line);
    var defs = document.createElementNS(ns, 'defs');
    defs.appendChild(pattern); svg.appendChild(defs);
    document.body.appendChild(svg);
  }}
  return 'url(#zonage-hatch)';
}};
zonage.hatchCanvas = function () {{
  if (!zonage._hatchPattern) {{
    var tile = document.createElement('canvas');
    tile.width = 6; tile.height = 6;
    var c = tile.getContext('2d');
    c.fillStyle = zonage.classes.unknown.c; c.fillRect(0, 0, 6, 6);
    c.strokeStyle = zonage.hatchColour; c.lineWidth = 1.4;
    c.beginPath(); c.moveTo(0, 6); c.lineTo(6, 0); c.moveTo(-1, 1); c.lineTo(1, -1); c.moveTo(5, 7); c.lineTo(7, 5);
    c.stroke();
    zonage._hatchPattern = c.createPattern(tile, 'repeat');
  }}
  return zonage._hatchPattern;
}};
zonage.classFill = function (k) {{
  var key = zonage.classes[k] ? k : 'unknown';
  if (zonage.hatched.indexOf(key) >= 0) {{
    return zonage.map.options.preferCanvas ? zonage.hatchCanvas() : zonage.hatchSvg();
  }}
  return zonage.classes[key].c;
}};
zonage.esc = function (s) {{
  return String(s === undefined || s === null ? '' : s).replace(/[&<>"']/g, function (c) {{
    return {{'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}}[c];
  }});
}};
zonage.decodeRing = function (s) {{
  var pts = [], lat = 0, lon = 0, i = 0;
  function next() {{
    var r = 0, shift = 0, b;
    do {{ b = s.charCodeAt(i++) - 63; r |= (b & 31) << shift; shift += 5; }} while (b >= 32);
    return (r & 1) ? ~(r >> 1) : (r >> 1);
  }}
  while (i < s.length) {{ lat += next(); lon += next(); pts.push([lon / 1e5, lat / 1e5]); }}
  if (pts.length) {{ pts.push(pts[0]); }}
  return pts;
}};
zonage.decode = function (fc) {{
  fc.features.forEach(function (f) {{
    if (f.g) {{
      f.geometry = {{type: 'MultiPolygon', coordinates: f.g.map(function (p) {{ return p.map(zonage.decodeRing); }})}};
      delete f.g;
    }}
  }});
  return fc;
}};
zonage.structurePopup = function (p) {{
  var d = zonage.dict, html = p.h + '<table>';
  (p.v || []).forEach(function (x) {{
    var role = x[3] >= 0 ? '<br><small>comme ' + d.roles[x[3]] + '</small>' : '';
    html += '<tr><th>' + d.schemes[x[0]] + role + '</th><td><span class="zp-' + d.statuses[x[1]] + '">'
      + d.verdicts[x[1]] + '</span> — ' + d.messages[x[2]] + '</td></tr>';
  }});
  return html + '</table></div>';
}};
zonage.statusOf = function (p) {{
  if (zonage.colourBy < 0) {{ return p.s; }}
  var found = (p.v || []).filter(function (x) {{ return x[0] === zonage.colourBy; }})[0];
  return found ? zonage.dict.statuses[found[1]] : 'error';
}};
zonage.addSchemeSelector = function (layer, colours) {{
  zonage.colourBy = -1;
  var control = L.control({{position: 'topleft'}});
  control.onAdd = function () {{
    var div = L.DomUtil.create('div', 'zonage-scheme');
    var label = L.DomUtil.create('label', '', div);
    label.textContent = 'Couleur des structures : ';
    var select = L.DomUtil.create('select', '', label);
    select.setAttribute('aria-label', 'Dispositif qui colore les structures');
    var first = L.DomUtil.create('option', '', select);
    first.value = '-1';
    first.textContent = 'dispositifs MG (lieu d’exercice)';
    zonage.dict.schemes.forEach(function (name, i) {{
      var o = L.DomUtil.create('option', '', select);
      o.value = String(i);
      o.innerHTML = name;
    }});
    L.DomEvent.disableClickPropagation(div);
    select.addEventListener('change', function () {{
      zonage.colourBy = parseInt(select.value, 10);
      layer.eachLayer(function (l) {{
        l.setStyle({{fillColor: colours[zonage.statusOf(l.feature.properties)] || '#525252'}});
      }});
    }});
    zonage.schemeSelect = select;
    return div;
  }};
  control.addTo(zonage.map);
}};
zonage.num = function (v, d) {{ return (v === undefined || v === null) ? 'n.d.' : v.toFixed(d).replace('.', ','); }};
zonage.fold = function (s) {{
  return String(s).normalize('NFD').replace(/[\\u0300-\\u036f]/g, '').toLowerCase().replace(/[-'’]/g, ' ');
}};
zonage.aplColour = function (v) {{
  if (v === undefined || v === null) {{ return zonage.apl.m; }}
  for (var i = 0; i < zonage.apl.b.length; i++) {{
    if (zonage.apl.b[i] === null || v <= zonage.apl.b[i]) {{ return zonage.apl.c[i]; }}
  }}
  return zonage.apl.c[zonage.apl.c.length - 1];
}};
zonage.communeTip = function (p) {{
  var cls = zonage.classes[p.k] || zonage.classes.unknown;
  var html = '<b>' + zonage.esc(p.n) + '</b> (' + zonage.esc(p.i) + ')<br>Zonage : ' + zonage.esc(cls.l);
  if (p.d) {{ html += '<br><small>' + zonage.esc(p.d) + '</small>'; }}
  html += '<br>' + zonage.esc(zonage.aplLabel || 'APL') + ' : ' + zonage.num(p.a, 2);
  return html;
}};
zonage.keepInFront = function () {{
  zonage.front.forEach(function (k) {{
    var l = zonage.layers[k];
    if (l && zonage.map.hasLayer(l) && l.bringToFront) {{ l.bringToFront(); }}
  }});
}};
{map_name}.on('overlayadd', zonage.keepInFront);
L.control.scale({{imperial: false, position: 'bottomleft'}}).addTo({map_name});
zonage.goTo = function (f) {{
  if (zonage.highlight) {{ zonage.map.removeLayer(zonage.highlight); }}
  zonage.highlight = L.geoJSON(f, {{style: {{color: '#000', weight: 3, fill: false}}, interactive: false}})
    .addTo(zonage.map);
  var bounds = zonage.highlight.getBounds();
  zonage.map.fitBounds(bounds, {{maxZoom: 12}});
  L.popup().setLatLng(bounds.getCenter()).setContent(zonage.communeTip(f.properties)).openOn(zonage.map);
  zonage.keepInFront();
}};
zonage.addSearch = function (features) {{
  var entries = features.map(function (f) {{ return [zonage.fold(f.properties.n), f]; }});
  var control = L.control({{position: 'topleft'}});
  control.onAdd = function () {{
    var div = L.DomUtil.create('div', 'zonage-search');
    var input = L.DomUtil.create('input', '', div);
    input.type = 'search';
    input.placeholder = 'Rechercher une commune…';
    input.setAttribute('aria-label', 'Rechercher une commune (nom ou code INSEE)');
    var list = L.DomUtil.create('ul', '', div);
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    function show(q) {{
      list.innerHTML = '';
      var fq = zonage.fold(q.trim());
      if (!fq) {{ return; }}
      var exact = [], starts = [], contains = [];
      for (var i = 0; i < entries.length; i++) {{
        var e = entries[i];
        if (e[0] === fq || e[1].properties.i === fq) {{ exact.push(e[1]); }}
        else if (e[0].indexOf(fq) === 0 || e[1].properties.i.indexOf(fq) === 0) {{ starts.push(e[1]); }}
        else if (e[0].indexOf(fq) > 0) {{ contains.push(e[1]); }}
      }}
      exact.concat(starts, contains).slice(0, 12).forEach(function (f) {{
        var li = L.DomUtil.create('li', '', list);
        var code = f.properties.i, dep = code.indexOf('97') === 0 ? code.slice(0, 3) : code.slice(0, 2);
        li.textContent = f.properties.n + ' — ' + dep + ' (' + code + ')';
        li.addEventListener('click', function (e) {{
          L.DomEvent.stop(e);  // the list is emptied: the click must not reach the map (it would close the popup)
          input.value = li.textContent;
          list.innerHTML = '';
          zonage.goTo(f);
        }});
      }});
    }}
    input.addEventListener('input', function () {{ show(input.value); }});
    input.addEventListener('keydown', function (e) {{
      if (e.key === 'Enter') {{ var first = list.querySelector('li'); if (first) {{ first.click(); }} }}
    }});
    return div;
  }};
  control.addTo(zonage.map);
  zonage.search = control;
}};
zonage.addLegend = function (html) {{
  var control = L.control({{position: 'bottomright'}});
  control.onAdd = function () {{
    var div = L.DomUtil.create('div', 'zonage-legend');
    div.innerHTML = html;
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  }};
  control.addTo(zonage.map);
  zonage.legend = control;
  zonage.updateLegend();
}};
// the legend shows only the layers on the map: its parts tied to a layer follow the layer control
zonage.updateLegend = function () {{
  if (!zonage.legend) {{ return; }}
  var parts = zonage.legend.getContainer().querySelectorAll('[data-layer]');
  Array.prototype.forEach.call(parts, function (el) {{
    var layer = zonage.layers[el.getAttribute('data-layer')];
    el.style.display = layer && zonage.map.hasLayer(layer) ? '' : 'none';
  }});
}};
{map_name}.on('overlayadd overlayremove', function () {{ zonage.updateLegend(); }});
// buttons that fly to each territory (national map: mainland and the overseas régions)
zonage.addViews = function (views) {{
  var control = L.control({{position: 'topleft'}});
  control.onAdd = function () {{
    var div = L.DomUtil.create('div', 'zonage-views');
    div.setAttribute('role', 'group');
    div.setAttribute('aria-label', 'Aller à un territoire');
    var head = L.DomUtil.create('span', 'zv-head', div);
    head.textContent = 'Aller à :';
    views.forEach(function (v) {{
      var b = L.DomUtil.create('button', '', div);
      b.type = 'button';
      b.textContent = v.n;
      b.setAttribute('data-territory', v.k);
      b.addEventListener('click', function (e) {{
        L.DomEvent.stop(e);
        zonage.map.fitBounds([[v.b[1], v.b[0]], [v.b[3], v.b[2]]], {{animate: false}});
      }});
    }});
    L.DomEvent.disableClickPropagation(div);
    return div;
  }};
  control.addTo(zonage.map);
  zonage.views = control;
}};
"""


def _commune_properties(communes: gpd.GeoDataFrame) -> dict[str, Sequence[object]]:
    apl = communes["apl"].astype(float).round(2) if "apl" in communes.columns else [None] * len(communes)
    return {
        "i": communes["insee"].astype(str).tolist(),
        "n": communes["nom"].astype(str).tolist(),
        "k": communes["classe"].astype(str).tolist(),
        "d": communes.get("classe_detail", pd.Series("", index=communes.index)).fillna("").tolist(),
        "a": list(apl),
    }


def _zoning_layer_code(data_var: str) -> str:
    return f"""L.geoJSON({data_var}, {{
  style: function (f) {{
    return {{fillColor: zonage.classFill(f.properties.k), fillOpacity: 0.62, color: '#5b5b5b',
      weight: zonage.strokeWeight}};
  }},
  onEachFeature: function (f, l) {{
    l.bindTooltip(function () {{ return zonage.communeTip(f.properties); }}, {{sticky: true}});
  }}
}})"""


def _apl_layer_code(data_var: str) -> str:
    return f"""L.geoJSON({data_var}, {{
  style: function (f) {{
    return {{fillColor: zonage.aplColour(f.properties.a), fillOpacity: 0.75, color: '#5b5b5b',
      weight: zonage.strokeWeight}};
  }},
  onEachFeature: function (f, l) {{
    l.bindTooltip(function () {{ return zonage.communeTip(f.properties); }}, {{sticky: true}});
  }}
}})"""


def _qpv_data(qpv: gpd.GeoDataFrame) -> str:
    tips = []
    for row in qpv.itertuples(index=False):
        classe = getattr(row, "classe_qpv", None)
        own = f"classé {classe} par l'arrêté" if isinstance(classe, str) and classe else "pas de classe propre"
        tips.append(f"<b>QPV {esc(row.code_qp)}</b> — {esc(row.nom_qp)}<br>Génération {esc(row.generation)}"
                    f" ; commune {esc(row.insee_com)}<br>Zonage : {esc(own)}")
    outline = [style.QPV_STYLE.get(c if isinstance(c, str) else None, style.QPV_STYLE[None])
               for c in qpv.get("classe_qpv", pd.Series(None, index=qpv.index))]
    return "zonage.decode(" + feature_collection(qpv, {"t": tips, "o": outline}, encode=True) + ")"


def _qpv_layer_code(data: str) -> str:
    return f"""L.geoJSON({data}, {{
  style: function (f) {{
    return {{color: f.properties.o, weight: 2, dashArray: '4 3', fillColor: f.properties.o, fillOpacity: 0.08}};
  }},
  onEachFeature: function (f, l) {{ l.bindTooltip(f.properties.t, {{sticky: true}}); }}
}})"""


def _departements_layer_code(departements: gpd.GeoDataFrame) -> str:
    data = "zonage.decode(" + feature_collection(departements, {"n": [f"{c} {n}" for c, n in zip(
        departements["departement"], departements["departement_nom"], strict=True)]}, encode=True) + ")"
    return f"""L.geoJSON({data}, {{
  style: {{color: '#222', weight: 1.6, fill: false}},
  interactive: false
}})"""


def structure_header(row: pd.Series) -> str:
    """Popup head of one structure: name, FINESS number, category, address, commune, status (escaped)."""
    status = str(row.get("status", ""))
    insee = _clean(row.get("insee"))
    place = esc(row.get("commune_nom")) + (f" ({esc(insee)})" if insee else "")
    qpv = f"QPV {esc(row.get('qpv'))}" if _clean(row.get("qpv")) else "hors QPV"
    return (
        f'<div class="zonage-popup"><b>{esc(row.get("nom"))}</b><br>'
        f"N° FINESS : {esc(row.get('finess')) or 'n.d.'}<br>"
        f"Catégorie : {esc(row.get('categorie')) or 'n.d.'}<br>"
        f"Adresse : {esc(row.get('adresse')) or 'n.d.'}<br>"
        f"Commune : {place or 'n.d.'} — zonage {esc(row.get('classe')) or 'n.d.'} — {qpv}<br>"
        f'Dispositifs MG : <span class="zp-{esc(status)}">{esc(style.STATUS_STYLE.get(status, ("", status))[1])}'
        "</span>" + (f"<br><small>{esc(row.get('resume'))}</small>" if _clean(row.get("resume")) else "")
    )


class _Dictionary:
    """Distinct escaped strings, referred to by index (verdict messages repeat a lot)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, value: object) -> int:
        text = esc(value)
        return self.index.setdefault(text, len(self.index))

    def values(self) -> list[str]:
        return list(self.index)


def _structures_data(structures: gpd.GeoDataFrame, schemes: Sequence[str],
                     labels: dict[str, str]) -> tuple[str, str]:
    """Marker features (short keys) and the dictionary their verdicts refer to, as JS literals."""
    statuses = list(style.VERDICT_FR)
    messages, roles = _Dictionary(), _Dictionary()
    site, labels_of_role = _role_labels()
    verdicts = []
    for _, row in structures.iterrows():
        items = []
        for i, scheme in enumerate(schemes):
            status = row.get(f"statut_{scheme}")
            if not isinstance(status, str):
                continue
            if status not in statuses:
                statuses.append(status)
            role = row.get(f"role_{scheme}")
            shown = -1
            if isinstance(role, str) and role != site.get(scheme, role):  # a partner part: say which
                shown = roles(labels_of_role.get((scheme, role), role))
            items.append([i, statuses.index(status), messages(row.get(f"message_{scheme}")), shown])
        verdicts.append(items)
    headers = [structure_header(row) for _, row in structures.iterrows()]
    tips = [f"{esc(n)} — {esc(style.STATUS_STYLE.get(s, ('', s))[1])}"
            for n, s in zip(structures["nom"], structures["status"], strict=True)]
    data = feature_collection(structures, {"h": headers, "v": verdicts, "t": tips,
                                           "s": structures["status"].astype(str).tolist(),
                                           "f": structures["finess"].tolist()})
    dictionary = {
        "schemes": [esc(labels.get(s, s)) for s in schemes],
        "statuses": [esc(s) for s in statuses],
        "verdicts": [esc(style.VERDICT_FR.get(s, s)) for s in statuses],
        "messages": messages.values(),
        "roles": roles.values(),
    }
    return data, js_literal(dictionary)


def _role_labels() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Each scheme's site role and the French label of every (scheme, role)."""
    from zonage.rules import load_schemes

    schemes = load_schemes()
    return ({sid: sc.site_role for sid, sc in schemes.items()},
            {(sid, rid): r.label_fr for sid, sc in schemes.items() for rid, r in sc.roles.items()})


def _structures_layer_code(data: str) -> str:
    colours = {k: c for k, (c, _) in style.STATUS_STYLE.items()}
    return f"""L.geoJSON({data}, {{
  pointToLayer: function (f, latlng) {{
    return L.circleMarker(latlng, {{radius: 5, weight: 1.2, color: '#1a1a1a', fillOpacity: 0.92,
      fillColor: {js_literal(colours)}[zonage.statusOf(f.properties)] || '#525252', className: 'zonage-structure'}});
  }},
  onEachFeature: function (f, l) {{
    l.bindPopup(function () {{ return zonage.structurePopup(f.properties); }}, {{maxWidth: 460, maxHeight: 360}});
    l.bindTooltip(f.properties.t);
  }}
}})"""


def _picks_layer_code(picks: gpd.GeoDataFrame) -> str:
    points = picks.copy()
    points["geometry"] = points.geometry.representative_point()
    shown = [c for c in points.columns if c != points.geometry.name]
    popups = ["<div class=\"zonage-popup\"><b>Poste proposé</b><table>" + "".join(
        f"<tr><th>{esc(c)}</th><td>{esc(row[c])}</td></tr>" for c in shown) + "</table></div>"
        for _, row in points.iterrows()]
    data = feature_collection(points, {"p": popups})
    return f"""L.geoJSON({data}, {{
  pointToLayer: function (f, latlng) {{
    return L.marker(latlng, {{icon: L.divIcon({{className: 'zonage-pick', html: '★', iconSize: [22, 22]}})}});
  }},
  onEachFeature: function (f, l) {{ l.bindPopup(f.properties.p, {{maxWidth: 400}}); }}
}})"""


def _base_map(bounds: Iterable[float], tiles: str | None, prefer_canvas: bool) -> folium.Map:
    west, south, east, north = bounds
    fmap = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=7, tiles=None,
                      control_scale=False, prefer_canvas=prefer_canvas)
    # Leaflet only: no jQuery/Bootstrap/icon fonts (nothing here uses them).
    fmap.default_js = [("leaflet", LEAFLET_JS)]
    fmap.default_css = [("leaflet_css", LEAFLET_CSS)]
    if tiles is not None:
        known = dict(BASE_TILES)
        names = [(tiles, known.get(tiles, tiles))] + [t for t in BASE_TILES if t[0] != tiles]
        for i, (tile, label) in enumerate(names):
            folium.TileLayer(tile, name=label, show=i == 0).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap


def region_map(
    communes: gpd.GeoDataFrame,
    *,
    title: str,
    qpv: gpd.GeoDataFrame | None = None,
    departements: gpd.GeoDataFrame | None = None,
    structures: gpd.GeoDataFrame | None = None,
    unlocated: int = 0,
    picks: gpd.GeoDataFrame | None = None,
    scheme_labels: dict[str, str] | None = None,
    layers: Sequence[str] = REGION_LAYERS,
    tiles: str | None = "OpenStreetMap",
    note: str = "",
    prefer_canvas: bool = False,
    bounds: Iterable[float] | None = None,
    stroke_weight: float = 0.35,
    views: Sequence[tuple[str, str, Sequence[float]]] = (),
    notes: Sequence[tuple[str, str]] = (),
) -> folium.Map:
    """Build the interactive map of a région (or any set of communes).

    Parameters
    ----------
    communes
        :func:`zonage.maps.data.communes_display` output in EPSG:4326.
    title
        Legend heading.
    qpv, departements
        QPV polygons and département outlines (display frames).
    structures
        :func:`zonage.maps.data.structures_display` output (markers coloured by status).
    unlocated
        Structures left off the map (no point), said in the legend.
    picks
        Priority picks of the prioritisation engine, when available: any geometries,
        every other column shown in the popup.
    scheme_labels
        Scheme id → French name for the popups.
    layers
        Which of :data:`REGION_LAYERS` to draw.
    tiles
        First base map (``None``: no tiles at all, nothing fetched but Leaflet).
    note
        Sources and vintages under the legend.
    prefer_canvas
        Draw vectors on a canvas (faster for tens of thousands of polygons).
    bounds
        Initial view (west, south, east, north); default: all communes.
    stroke_weight
        Commune outline width in pixels.
    views
        Buttons that fly to a territory: ``(key, French name, (west, south, east, north))``
        (the national map's overseas régions).
    notes
        Extra notes in the legend, ``(layer key, text)``: shown while the layer is on the map
        (``""``: always).
    """
    unknown = set(layers) - set(REGION_LAYERS)
    if unknown:
        raise ValueError(f"unknown map layers {sorted(unknown)}; choose among {', '.join(REGION_LAYERS)}")
    fmap = _base_map(communes.total_bounds if bounds is None else bounds, tiles, prefer_canvas)
    root = fmap.get_root()
    assert isinstance(root, Figure)  # folium.Map puts itself in a Figure
    root.header.add_child(_Raw(f"<title>{esc(title)}</title>"), name="zonage_title")
    map_name = fmap.get_name()
    apl_label = communes.attrs.get("apl_label", "APL")
    fmap.add_child(_Script(_runtime(map_name) + f"zonage.aplLabel = {js_literal(apl_label)};\n"
                           f"zonage.strokeWeight = {float(stroke_weight)};",
                           css=style.CONTROL_CSS, name="zonage_runtime"))
    fmap.add_child(_Script("var zonage_communes = zonage.decode("
                           f"{feature_collection(communes, _commune_properties(communes), encode=True)});",
                           name="zonage_communes_data"))
    sections = []
    if "zoning" in layers:
        fmap.add_child(_JsLayer("zoning", "Zonage médecins (ZIP, ZAC…)", _zoning_layer_code("zonage_communes")))
        sections.append(style.zoning_section(communes["classe"]))
    if "apl" in layers:
        fmap.add_child(_JsLayer("apl", apl_label, _apl_layer_code("zonage_communes"), show=False))
        sections.append(style.apl_section(f"{apl_label} — consultations/an/habitant standardisé",
                                          bool(communes["apl"].isna().any())))
    if "departements" in layers and departements is not None and len(departements):
        fmap.add_child(_JsLayer("departements", "Limites départementales", _departements_layer_code(departements)))
        sections.append(style.departements_section())
    if "qpv" in layers and qpv is not None and len(qpv):
        fmap.add_child(_JsLayer("qpv", "Quartiers prioritaires (QPV)", _qpv_layer_code(_qpv_data(qpv))))
        sections.append(style.qpv_section(qpv["classe_qpv"]))
    if "structures" in layers and structures is not None:
        schemes = [c.removeprefix("statut_") for c in structures.columns
                   if c.startswith("statut_") and c != "statut_mg"]
        data, dictionary = _structures_data(structures, schemes, scheme_labels or {})
        fmap.add_child(_Script(f"zonage.dict = {dictionary};", name="zonage_structures_dict"))
        fmap.add_child(_JsLayer("structures", "Structures (éligibilité)", _structures_layer_code(data)))
        colours = {k: c for k, (c, _) in style.STATUS_STYLE.items()}
        fmap.add_child(_Script(f"zonage.addSchemeSelector(zonage.layers.structures, {js_literal(colours)});",
                               name="zonage_scheme_selector"))
        counts = {str(status): int(n) for status, n in structures["status"].value_counts().items()}
        sections.append(style.status_section(counts, unlocated))
    if "picks" in layers and picks is not None and len(picks):
        fmap.add_child(_JsLayer("picks", "Postes proposés (priorisation)", _picks_layer_code(picks)))
        sections.append(style.picks_section(len(picks)))
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    legend = style.legend_html(title, sections, note, notes=notes)
    shown_views = [{"k": key, "n": name, "b": [round(float(v), 4) for v in box]} for key, name, box in views]
    fmap.add_child(_Script(
        "zonage.front = ['departements', 'qpv', 'structures']; zonage.keepInFront();\n"
        f"zonage.addSearch(zonage_communes.features);\nzonage.addLegend({js_literal(legend)});\n"
        + (f"zonage.addViews({js_literal(shown_views)});\n" if shown_views else "")
        + "window.zonageReady = true;",
        name="zonage_controls"))
    return fmap


#: Territories of the national map's "Aller à" buttons, in order, with their French names.
TERRITORY_NAMES: tuple[tuple[str, str], ...] = (
    ("metro", "Métropole"), ("971", "Guadeloupe"), ("972", "Martinique"), ("973", "Guyane"),
    ("974", "La Réunion"), ("976", "Mayotte"),
)


def territory_views(communes: gpd.GeoDataFrame) -> list[tuple[str, str, tuple[float, ...]]]:
    """``(key, name, (west, south, east, north))`` of each territory present, for the "Aller à" buttons."""
    if "territory" not in communes.columns:
        return []
    views = []
    for key, name in TERRITORY_NAMES:
        part = communes[communes["territory"] == key]
        if len(part):
            views.append((key, name, tuple(float(v) for v in part.total_bounds)))
    return views


def national_map(
    communes: gpd.GeoDataFrame,
    *,
    title: str = "Zonage médecins — France",
    qpv: gpd.GeoDataFrame | None = None,
    departements: gpd.GeoDataFrame | None = None,
    tiles: str | None = "OpenStreetMap",
    note: str = "",
    notes: Sequence[tuple[str, str]] = (),
) -> folium.Map:
    """The national zoning map: every commune by class and by APL (canvas), départements, QPV outlines.

    The commune polygons are embedded once; the APL layer reuses them (no size cost). The
    view opens on mainland France, with buttons ("Aller à : Métropole, Guadeloupe,
    Martinique, Guyane, La Réunion, Mayotte") that bring each overseas région into view.
    """
    mainland = communes[communes["territory"] == "metro"] if "territory" in communes.columns else communes
    return region_map(communes, title=title, qpv=qpv, departements=departements,
                      layers=("zoning", "apl", "departements", "qpv"), tiles=tiles, note=note, prefer_canvas=True,
                      bounds=(mainland if len(mainland) else communes).total_bounds, stroke_weight=0.15,
                      views=territory_views(communes), notes=notes)


#: Leaflet shipped with the package (npm ``leaflet@1.9.4``, BSD-2-Clause, ``vendor/LEAFLET-LICENSE``); the
#: CSS has its three images inlined as data URIs.
VENDOR = Path(__file__).resolve().parent / "vendor"


def html_of(fmap: folium.Map, *, cdn: bool = False) -> str:
    """The map's HTML, self-contained by default.

    Leaflet is inlined (the file opens offline, from an e-mail attachment, on an intranet),
    or loaded from its CDN with ``cdn=True`` (a smaller file that needs the Internet).
    """
    html = fmap.get_root().render()
    if cdn:
        return html
    script = f'<script src="{LEAFLET_JS}"></script>'
    sheet = f'<link rel="stylesheet" href="{LEAFLET_CSS}"/>'
    if script not in html or sheet not in html:
        raise RuntimeError("the Leaflet links of the folium template changed: cannot inline Leaflet")
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    html = html.replace(script, f"<script>/* Leaflet {LEAFLET_VERSION}, BSD-2-Clause */\n{js}\n</script>", 1)
    return html.replace(sheet, f"<style>/* Leaflet {LEAFLET_VERSION} */\n{css}\n</style>", 1)


def save_map(fmap: folium.Map, path: str | Path, *, cdn: bool = False) -> Path:
    """Write the map's HTML atomically (see :func:`html_of`) and return the path."""
    path = Path(path)
    html = html_of(fmap, cdn=cdn)
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return path
