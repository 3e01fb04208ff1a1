"""One address, one answer: the eligibility of a single place, read from the few polygons around it.

``zonage check "12 rue Serpenoise 57000 Metz" --type MSP`` geocodes the address (or takes
``--lonlat``), locates the point (commune, QPV, zoning class) and gives the verdict of each
scheme with its reasons, in French. The answer is that of ``zonage eligibility`` on a
one-row file holding the same fields: :func:`check` builds that row and calls the same
engine (:func:`zonage.eligibility.assess`, the same rules and sentences). Only the reading
differs: a :meth:`~zonage.locate.Locator.near` locator reads the communes around the
point (GeoParquet bbox filter) and computes the lookup grid on the cells around it, instead
of every polygon of France, and the commune geocoder reads the names of the communes
only, the polygon of the commune found alone.

Geocoding never leaves the machine unless ``backend="ban"`` is chosen: by default the
local addok is used when it answers, else the ``commune`` backend (postcode + town: the
point is the commune's, and :attr:`CheckResult.notes` says how to get street level).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from zonage.config import Paths
from zonage.errors import InputDataError, ZonageError
from zonage.geocode.base import Match, Query

if TYPE_CHECKING:
    import geopandas as gpd

    from zonage.geocode import Geocoding
    from zonage.rules import Scheme

__all__ = [
    "CHECK_EXIT",
    "DEFAULT_ADDOK_URL",
    "CheckResult",
    "addok_reachable",
    "address_fields",
    "check",
    "check_lines",
    "parse_lonlat",
]

#: The local addok the default backend tries first.
DEFAULT_ADDOK_URL = "http://127.0.0.1:7878"
#: Exit code of ``zonage check`` per overall answer (as ``zonage application``): eligible to at
#: least one scheme asked (0), else to check for at least one (3), else not eligible (4).
CHECK_EXIT: dict[str, int] = {"eligible": 0, "needs_review": 3, "not_eligible": 4}
_STATUS_FR = {"eligible": "éligible", "needs_review": "à vérifier", "not_eligible": "non éligible",
              "not_applicable": "non applicable"}
_TRAILING_PLACE = re.compile(r"^(?P<street>.*?)[\s,]*\b(?P<postcode>\d{5})\s+(?P<city>[^\d\s,][^,]*?)\s*$")


# --------------------------------------------------------------------------- inputs
def parse_lonlat(text: str) -> tuple[float, float]:
    """``"6.17,49.12"`` (or ``"6.17 49.12"``, ``"6,17;49,12"``) → (longitude, latitude) in degrees.

    Raises
    ------
    InputDataError
        Not two numbers, or out of the longitude / latitude ranges (the message says
        which comes first).
    """
    raw = str(text).strip()
    parts = [p for p in re.split(r"\s*;\s*|\s+", raw) if p] if ";" in raw or " " in raw.strip(", ") else None
    if parts is None or len(parts) != 2:
        parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 2:
        raise InputDataError(f"--lonlat {text!r} : attendu « longitude,latitude » en degrés, par exemple 6.17,49.12")
    try:
        lon, lat = (float(p.replace(",", ".")) for p in parts)
    except ValueError:
        raise InputDataError(f"--lonlat {text!r} : attendu deux nombres « longitude,latitude », par exemple "
                             "6.17,49.12") from None
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputDataError(f"--lonlat {text!r} : longitude entre -180 et 180 puis latitude entre -90 et 90, "
                             "par exemple 6.17,49.12")
    return lon, lat


def address_fields(text: str) -> dict[str, str]:
    """A one-line address split as a planner's table holds it: ``adresse``, ``code_postal``, ``commune``.

    ``"12 rue Serpenoise 57000 Metz"`` → street, postcode and town; ``"57000 Metz"`` →
    postcode and town; text without a postcode stays whole in ``adresse``. The
    postcode also picks the arrondissement (and its class) in Paris, Lyon and Marseille.
    """
    line = " ".join(str(text).replace("\n", " ").split()).strip(" ,;")
    found = _TRAILING_PLACE.match(line)
    if not found:
        return {"adresse": line}
    fields = {"adresse": found.group("street").strip(" ,;-"), "code_postal": found.group("postcode"),
              "commune": found.group("city").strip(" ,;-")}
    return {k: v for k, v in fields.items() if v}


def _department_of(fields: Mapping[str, str]) -> str | None:
    code = fields.get("code_postal")
    if not code:
        return None
    return code[:3] if code.startswith("97") else code[:2]


# --------------------------------------------------------------------------- geocoding
def addok_reachable(url: str = DEFAULT_ADDOK_URL, timeout: float = 0.5) -> bool:
    """Whether an addok API answers a search at ``url`` within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/search?q=mairie&limit=1", timeout=timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(payload, dict) and "features" in payload


class _Replay:
    """A geocoder answering the one query already asked (so that the batch engine does not ask again)."""

    def __init__(self, name: str, cache_key: str, answers: dict[str, Match | None]) -> None:
        self.name = name
        self.cache_key = cache_key
        self._answers = answers

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        return [self._answers.get(q.key) for q in queries]


def _commune_geocoder_near(paths: Paths, department: str | None, postcode: str | None) -> Any:
    """The ``commune`` backend reading only what one query needs; same answers as ``CommuneGeocoder.from_paths``.

    With a postcode (or a CEDEX département), the communes of its département and those
    sharing the postcode decide the answer (see :meth:`CommuneGeocoder.resolve`): only
    their names are indexed, and only the polygon of the commune found is read.
    """
    import geopandas as gpd

    from zonage.crs import TERRITORY_CRS
    from zonage.errors import LayerMissingError
    from zonage.geocode import _department
    from zonage.geocode.commune import CommuneGeocoder
    from zonage.layers.store import layer_key, read_geo_layer, read_layer

    attributes = read_layer(paths, "communes", columns=["insee", "nom", "codes_postaux", "population", "territory"],
                            geometry=False)
    if department:
        departments = attributes["insee"].astype(str).map(_department)
        keep = np.array(departments == department, dtype=bool)
        if postcode:
            keep |= attributes["codes_postaux"].map(
                lambda codes: codes is not None and postcode in list(codes)).to_numpy(dtype=bool)
        attributes = attributes[keep]
    try:
        crosswalk = read_layer(paths, "cog_crosswalk", columns=["code", "code_2025", "relation", "nom"])
        crosswalk = crosswalk[crosswalk["code_2025"].isin(set(attributes["insee"].astype(str)))]
    except LayerMissingError:
        crosswalk = None
    version = layer_key(paths, "communes")
    parts = {}
    territory_of: dict[str, str] = {}
    for territory, part in attributes.groupby("territory", sort=True):
        name = str(territory)
        parts[name] = gpd.GeoDataFrame(part.reset_index(drop=True),
                                       geometry=gpd.GeoSeries(np.full(len(part), None, dtype=object),
                                                              crs=TERRITORY_CRS[name]))
        territory_of.update(dict.fromkeys(part["insee"].astype(str), name))

    class _Near(CommuneGeocoder):
        def point(self, insee: str) -> tuple[float, float]:
            if insee not in self._points and self._geoms.get(insee, (None, ""))[0] is None:
                frame = read_geo_layer(paths, "communes", territory=territory_of[insee], columns=["insee"],
                                       filters=[("insee", "==", insee)])
                self._geoms[insee] = (frame.geometry.iloc[0], str(frame.crs))
            return super().point(insee)

    return _Near(parts, crosswalk, version=version)


def _geocoding(paths: Paths, backend: str | None, url: str | None, fields: Mapping[str, str], cache: bool
               ) -> tuple[Geocoding, list[str]]:
    """The backend to use and the notes to print about it."""
    from zonage.geocode import Geocoding, default_cache_path, make_geocoder

    department = _department_of(fields)
    setup = f"zonage geocoder setup --departement {department or 'NN'}"
    notes: list[str] = []
    chosen = backend
    if chosen is None:
        chosen = "addok" if addok_reachable(url or DEFAULT_ADDOK_URL) else "commune"
        if chosen == "commune":
            notes.append(f"note : aucun géocodeur d'adresses local ne répond ({url or DEFAULT_ADDOK_URL}) : le point "
                         f"est celui de la commune (code postal + nom) ; pour l'adresse exacte, lancer `{setup}` "
                         "puis relancer, ou utiliser `--backend ban` (l'adresse est alors envoyée à l'API nationale)")
    elif chosen == "commune":
        notes.append("note : géocodeur « commune » : le point est celui de la commune (code postal + nom), pas de "
                     f"l'adresse ; pour l'adresse exacte : `{setup}` ou `--backend ban`")
    elif chosen == "addok":
        if not addok_reachable(url or DEFAULT_ADDOK_URL, timeout=2.0):
            raise ZonageError(f"le géocodeur local addok ne répond pas à {url or DEFAULT_ADDOK_URL} : lancer "
                              f"`{setup}` (ou `zonage geocoder serve`), ou choisir `--backend commune`")
    elif chosen == "ban":
        notes.append(f"note : l'adresse est envoyée à {url or 'l’API Adresse nationale (BAN)'}")
    else:
        raise ZonageError(f"géocodeur inconnu {backend!r} : addok, ban ou commune")
    if chosen == "commune":
        geocoder = _commune_geocoder_near(paths, department, fields.get("code_postal"))
        return Geocoding(geocoder), notes
    store = default_cache_path(paths.data) if cache else None
    return make_geocoder(chosen, paths=paths, url=url, cache=store), notes


# --------------------------------------------------------------------------- the answer
@dataclass
class CheckResult:
    """The answer for one place.

    Attributes
    ----------
    rows
        The one row ``zonage eligibility`` writes for it (``statut_<scheme>``,
        ``raisons_<scheme>``, ``message_<scheme>``, ``resume``, commune, QPV, class…).
    verdicts
        The long table of verdicts (one per scheme), as the batch returns it.
    schemes
        The schemes assessed.
    on
        Date of the question.
    query
        The address asked (None with coordinates).
    backend
        The geocoder used (None with coordinates).
    notes
        Lines to print before the answer (geocoder used, how to get street level).
    qpv_names
        QPV code → name, for the QPV the point lies in.
    zoning_vintage
        Vintage of the zoning classes loaded.
    """

    rows: gpd.GeoDataFrame
    verdicts: pd.DataFrame
    schemes: Mapping[str, Scheme]
    on: date
    query: str | None = None
    backend: str | None = None
    notes: list[str] = field(default_factory=list)
    qpv_names: dict[str, str] = field(default_factory=dict)
    zoning_vintage: str | None = None

    @property
    def row(self) -> pd.Series:
        """The answer's row."""
        return self.rows.iloc[0]

    def statuses(self) -> dict[str, str]:
        """Scheme id → status (``eligible``, ``needs_review``, ``not_eligible``, ``not_applicable``)."""
        return {sid: str(self.row[f"statut_{sid}"]) for sid in self.schemes if f"statut_{sid}" in self.row}

    @property
    def status(self) -> str:
        """``eligible`` to at least one scheme asked, else ``needs_review`` for one, else ``not_eligible``."""
        found = set(self.statuses().values())
        for status in ("eligible", "needs_review"):
            if status in found:
                return status
        return "not_eligible"

    @property
    def exit_code(self) -> int:
        """The command's exit code (:data:`CHECK_EXIT`)."""
        return CHECK_EXIT[self.status]


def _row_error(message: str, lon: float, lat: float, tolerance_m: float) -> str:
    """A row error of the batch as one French line for a single place."""
    where = f"({lon:.5f}, {lat:.5f})"
    if "hors de France" in message and "aucune commune" not in message:
        return (f"le point {where} est hors de France (métropole, Corse et DROM) : vérifier l'adresse ou l'ordre "
                "longitude,latitude de --lonlat")
    if "inversées" in message:
        return f"le point {where} semble avoir latitude et longitude inversées : --lonlat attend la longitude d'abord"
    if "aucune commune à moins" in message:
        return f"aucune commune à moins de {tolerance_m:.0f} m du point {where} : en mer ou hors de France ?"
    return f"le point {where} n'a pas pu être évalué : {message}"


def check(
    paths: Paths,
    address: str | None = None,
    *,
    lonlat: tuple[float, float] | None = None,
    kind: str | None = None,
    schemes: Sequence[str] | None = None,
    on: date | None = None,
    backend: str | None = None,
    url: str | None = None,
    rules: str | Path | None = None,
    cache: bool = True,
) -> CheckResult:
    """The eligibility of one place for each scheme: what ``zonage eligibility`` answers for that row.

    Parameters
    ----------
    paths
        Data folders (the layers must be built).
    address
        A postal address on one line (``"12 rue Serpenoise 57000 Metz"``). With
        ``lonlat`` it is kept as the row's address but not geocoded.
    lonlat
        The point (longitude, latitude in degrees): no geocoding.
    kind
        The kind of structure in everyday words ("MSP", "centre de santé dentaire", a
        FINESS category…), as the ``type`` column of a batch.
    schemes
        Scheme ids to assess (default: all).
    on
        Date of the question (default today).
    backend
        ``addok``, ``ban`` (the national API: the address leaves the machine) or
        ``commune``; None: the local addok when it answers, else ``commune``.
    url
        URL of the addok API or of the BAN API.
    rules
        Folder of extra or overriding scheme files.
    cache
        Keep addok / BAN answers in the data folder's geocoding cache.

    Raises
    ------
    ZonageError
        Unknown scheme or structure type, address not found, point outside France or
        far from any commune (one French line).
    """
    from zonage.eligibility import assess
    from zonage.geocode.clean import clean_address
    from zonage.locate import Locator
    from zonage.rules import load_schemes, select_schemes
    from zonage.rules.kinds import parse_kind

    if address is None and lonlat is None:
        raise InputDataError("donner une adresse (\"12 rue Serpenoise 57000 Metz\") ou --lonlat 6.17,49.12")
    chosen = select_schemes(load_schemes(None if rules is None else Path(rules)), schemes)
    if kind is not None and kind.strip():
        try:
            parse_kind(kind, "--type")
        except InputDataError:
            raise InputDataError(
                f"--type : type de structure inconnu « {kind} » (par exemple MSP, centre de santé, centre de santé "
                "médical, centre de santé dentaire, CH, CHU, EHPAD, cabinet, ou un code de catégorie FINESS)"
            ) from None
    on = on or date.today()
    record: dict[str, Any] = {}
    notes: list[str] = []
    geocoder = None
    used = None
    if lonlat is not None:
        lon, lat = lonlat
        record.update({"lon": lon, "lat": lat})
        if address:
            record.update(address_fields(address))
    else:
        assert address is not None
        fields = address_fields(address)
        if not any(fields.values()):
            raise InputDataError("adresse vide : donner par exemple \"12 rue Serpenoise 57000 Metz\"")
        record.update(fields)
        geocoding, notes = _geocoding(paths, backend, url, fields, cache)
        query = clean_address(fields.get("adresse"), fields.get("code_postal"), fields.get("commune")).query
        match = geocoding.geocode([query])[0]
        used = geocoding.name
        if match is None:
            hint = (" ; le géocodeur « commune » ne lit que le code postal et la commune : les vérifier"
                    if used == "commune" else "")
            raise ZonageError(f"adresse introuvable par le géocodeur {used} : « {query.text} »{hint}")
        geocoder = _Replay(used, geocoding.cache_key, {query.key: match})
        lon, lat = match.lon, match.lat
    if kind is not None and kind.strip():
        record["type"] = kind
    frame = pd.DataFrame([record])
    locator = Locator.near(paths, lon, lat)
    result = assess(frame, locator, chosen, on=on, geocoder=geocoder)
    row = result.rows.iloc[0]
    if row["status"] == "error":
        raise ZonageError(_row_error(str(row["error"]), lon, lat, locator.tolerance_m))
    names: dict[str, str] = {}
    for generation in locator.generations:
        code = row.get(f"qpv{generation}")
        if isinstance(code, str) and code:
            found = locator._qpv_codes[generation] == code
            if found.any():
                names[code] = str(locator._qpv_names[generation][np.flatnonzero(found)[0]])
    return CheckResult(rows=result.rows, verdicts=result.verdicts, schemes=chosen, on=on, query=address,
                       backend=used, notes=notes, qpv_names=names, zoning_vintage=locator.zoning_vintage)


# --------------------------------------------------------------------------- text
def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return ""
    return str(value)


def _region(result: CheckResult, insee: str) -> tuple[str | None, str]:
    common = next(iter(result.schemes.values())).common if result.schemes else None
    if common is None or not insee:
        return None, ""
    department = insee[:3] if insee.startswith("97") else insee[:2]
    code = common.departement_regions().get(department)
    region = common.regions.get(code) if code else None
    return code, region.name if region is not None else (code or "")


def _degrees(value: float) -> str:
    return f"{value:.5f}".replace(".", ",")


def check_lines(result: CheckResult) -> list[str]:
    """The answer as French lines: where the point is (commune, QPV, zoning class and order), then each scheme."""
    row = result.row
    lines = list(result.notes)
    if result.query:
        lines.append(f"Adresse : {result.query}")
    point = row.geometry
    where = f"{_degrees(point.x)} E, {_degrees(point.y)} N" if point is not None and not point.is_empty else ""
    if result.backend:
        label = _text(row.get("geo_label"))
        kind = {"housenumber": "numéro", "street": "rue", "locality": "lieu-dit",
                "municipality": "commune seulement"}.get(_text(row.get("geo_type")), _text(row.get("geo_type")))
        score = row.get("geo_score")
        score_text = f", score {float(score):.2f}".replace(".", ",") if score is not None and pd.notna(score) else ""
        lines.append(f"Trouvé : {label} (géocodeur {result.backend} : {kind}{score_text})"
                     + (f" — {where}" if where and kind != "commune seulement" else ""))
    elif where:
        lines.append(f"Point : {where}")
    insee = _text(row.get("insee"))
    region_code, region_name = _region(result, insee)
    arm = _text(row.get("insee_arm"))
    commune = f"Commune : {_text(row.get('commune_nom'))} ({insee})"
    if arm:
        commune += f", arrondissement {arm}"
    if region_name:
        commune += f", région {region_name}"
    method = _text(row.get("commune_method"))
    if method == "overlap":
        commune += " (point sur un chevauchement de deux contours : commune où il est le plus profond)"
    elif method == "nearest":
        commune += " (point hors de tout contour : commune la plus proche, à moins de 250 m)"
    boundary = row.get("commune_boundary_m")
    if boundary is not None and pd.notna(boundary):
        commune += f" — à {float(boundary):.0f} m de la limite communale"
    lines.append(commune)
    common = next(iter(result.schemes.values())).common if result.schemes else None
    in_force = common.generation_in_force(result.on, overseas=_text(row.get("territory")) not in ("", "metro")) \
        if common is not None else None
    qpv_parts: list[str] = []
    other_parts: list[str] = []
    for column in sorted((c for c in row.index if re.fullmatch(r"qpv\d{4}", str(c))), reverse=True):
        code = _text(row.get(column))
        if code:
            text = f"{code} {result.qpv_names.get(code, '')} (QPV {column[3:]})".replace("  ", " ")
            (qpv_parts if in_force is None or column == f"qpv{in_force}" else other_parts).append(text)
    reasons = " ".join(_text(row.get(f"raisons_{sid}")) for sid in result.schemes)
    generation = f" {in_force}" if in_force else ""
    if method == "commune":
        lines.append("QPV : inconnu (seule la commune est connue)")
    elif "QPV_NOT_COVERED" in reasons:
        lines.append(f"QPV{generation} : inconnu (contours non disponibles pour cette région dans l'outil)")
    elif qpv_parts:
        lines.append(f"QPV en vigueur{generation} : " + " ; ".join(qpv_parts))
    else:
        lines.append(f"QPV en vigueur{generation} : aucun")
    if other_parts:
        lines.append("  (autre génération, pas en vigueur à cette date : " + " ; ".join(other_parts) + ")")
    classe = _text(row.get("classe"))
    source = {"commune": "classe de la commune", "arrondissement": "classe de l'arrondissement",
              "qpv": "classe propre du QPV"}.get(_text(row.get("classe_source")), _text(row.get("classe_source")))
    common = next(iter(result.schemes.values())).common if result.schemes else None
    order = common.zoning_order(region_code, result.on) if common is not None else None
    loaded = None
    if common is not None and result.zoning_vintage is not None:
        own = [o for o in common.zoning_orders if region_code is not None and region_code in o.regions]
        pool = own or [o for o in common.zoning_orders if not o.regions]
        loaded = next((o for o in pool if o.vintage == result.zoning_vintage), None)
    day = result.on.strftime("%d/%m/%Y")
    zoning = f"Zonage des médecins : {classe} ({source}"
    if loaded is not None:
        zoning += f" ; {loaded.label('fr')}"
    elif result.zoning_vintage:
        zoning += f" ; classes du millésime {result.zoning_vintage}"
    if order is None:
        zoning += f", alors qu'aucun arrêté connu de l'outil n'est en vigueur le {day} : réponses à vérifier)"
    elif loaded is not None and order.id != loaded.id:
        zoning += f", alors que l'arrêté en vigueur le {day} est : {order.label('fr')}, dont les classes ne sont pas " \
                  "chargées)"
    else:
        zoning += f", en vigueur le {day})"
    lines.append(zoning)
    kind = _text(row.get("type_libelle"))
    if kind:
        lines.append(f"Type de structure : {kind}")
    lines.append(f"Réponse par dispositif (date de la question : {day}) :")
    for sid, scheme in result.schemes.items():
        status = _text(row.get(f"statut_{sid}"))
        if not status:
            continue
        message = _text(row.get(f"message_{sid}"))
        word = _STATUS_FR.get(status, status)
        if message.startswith(f"{word} : "):  # the sentence starts with the status, printed in capitals here
            message = message[len(word) + 3:]
        role_id = _text(row.get(f"role_{sid}"))
        if status == "eligible" and role_id and role_id != scheme.site_role and role_id in scheme.roles:
            word = f"{word} comme {scheme.roles[role_id].label('fr')}"
        lead = f"  {scheme.short('fr')} : {word.upper()}"
        lines.append(f"{lead} — {message}" if message else lead)
    summary = _text(row.get("resume"))
    if summary:
        lines.append(f"En bref : {summary}")
    if order is None or (loaded is not None and order.id != loaded.id):
        lines.append("Pour une réponse ferme, donner une date où les classes chargées sont en vigueur (--date "
                     "2025-05-01) ou ajouter l'arrêté en vigueur (_zoning_orders.toml, voir docs/CONDITIONS.md).")
    return lines
