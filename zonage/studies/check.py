"""One address, one answer: the eligibility of a single place, read from the few polygons around it.

``zonage check "12 rue Serpenoise 57000 Metz" --type MSP`` geocodes the address (or takes
``--lonlat``), locates the point (commune, QPV, zoning class) and gives the verdict of each
scheme with its reasons, in French. The answer is that of ``zonage eligibility`` on a
one-row file holding the same fields: :func:`check` builds that row and calls the same
engine (:func:`zonage.eligibility.assess`, the same rules and sentences). Only the reading
differs: :func:`~zonage.studies.locators.locator_near` reads the communes around the
point (GeoParquet bbox filter) and computes the lookup grid on the cells around it, instead
of every polygon of France, and :func:`~zonage.studies.locators.commune_geocoder_near`
reads the names of the communes only, the polygon of the commune found alone. The
French text of the answer is :func:`zonage.reports.check_lines`.

Geocoding never leaves the machine unless ``backend="ban"`` is chosen: by default the
local addok is used when it answers, else the ``commune`` backend (postcode + town: the
point is the commune's, and :attr:`CheckResult.notes` says how to get street level).
"""

from __future__ import annotations

import json
import re
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
    "parse_lonlat",
]

#: The local addok the default backend tries first.
DEFAULT_ADDOK_URL = "http://127.0.0.1:7878"
#: Exit code of ``zonage check`` per overall answer (as ``zonage application``): eligible to at
#: least one scheme asked (0), else to check for at least one (3), else not eligible (4).
CHECK_EXIT: dict[str, int] = {"eligible": 0, "needs_review": 3, "not_eligible": 4}
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
    from zonage.http import HttpClient, HttpError

    try:
        with HttpClient(retries=0, connect_timeout_s=timeout, read_timeout_s=timeout, budget_s=timeout) as client:
            answer = client.request("GET", f"{url.rstrip('/')}/search", params={"q": "mairie", "limit": 1})
        payload = json.loads(answer.content.decode("utf-8"))
    except (HttpError, ValueError):
        return False
    return answer.status == 200 and isinstance(payload, dict) and "features" in payload


class _Replay:
    """A geocoder answering the one query already asked (so that the batch engine does not ask again)."""

    def __init__(self, name: str, cache_key: str, answers: dict[str, Match | None]) -> None:
        self.name = name
        self.cache_key = cache_key
        self._answers = answers

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        return [self._answers.get(q.key) for q in queries]


def _geocoding(paths: Paths, backend: str | None, url: str | None, fields: Mapping[str, str], cache: bool
               ) -> tuple[Geocoding, list[str]]:
    """The backend to use and the notes to print about it."""
    from zonage.geocode import Geocoding, default_cache_path, make_geocoder
    from zonage.studies.locators import commune_geocoder_near

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
        geocoder = commune_geocoder_near(paths, department, fields.get("code_postal"))
        return Geocoding(geocoder), notes
    store = default_cache_path(paths.data) if cache else None
    return make_geocoder(chosen, url=url, cache=store), notes


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


def _row_error(message: str, code: str | None, lon: float, lat: float, tolerance_m: float) -> str:
    """A row error of the batch (its ``error_code``) as one French line for a single place."""
    where = f"({lon:.5f}, {lat:.5f})"
    if code == "outside_france":
        return (f"le point {where} est hors de France (métropole, Corse et DROM) : vérifier l'adresse ou l'ordre "
                "longitude,latitude de --lonlat")
    if code == "swapped_lonlat":
        return f"le point {where} semble avoir latitude et longitude inversées : --lonlat attend la longitude d'abord"
    if code == "no_commune_near":
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
    from zonage.rules import load_schemes, select_schemes
    from zonage.rules.kinds import parse_kind
    from zonage.studies.locators import locator_near

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
    locator = locator_near(paths, lon, lat)
    result = assess(frame, locator, chosen, on=on, geocoder=geocoder)
    row = result.rows.iloc[0]
    if row["status"] == "error":
        code = row["error_code"] if isinstance(row["error_code"], str) else None
        raise ZonageError(_row_error(str(row["error"]), code, lon, lat, locator.tolerance_m))
    names: dict[str, str] = {}
    for generation in locator.generations:
        code = row.get(f"qpv{generation}")
        if isinstance(code, str) and code:
            name = locator.qpv_name(generation, code)
            if name is not None:
                names[code] = name
    return CheckResult(rows=result.rows, verdicts=result.verdicts, schemes=chosen, on=on, query=address,
                       backend=used, notes=notes, qpv_names=names, zoning_vintage=locator.zoning_vintage)
