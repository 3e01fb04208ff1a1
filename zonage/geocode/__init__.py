"""Postal addresses → points with a known quality.

Backends (all implement :class:`Geocoder`):

* ``addok`` (:mod:`zonage.geocode.addok`): a self-hosted addok (the BAN's own
  geocoder) fed with BAN/BANO address files — private, offline;
* ``ban`` (:mod:`zonage.geocode.ban`): the national address API's CSV endpoint —
  sends the addresses over the Internet, so only when the user chooses it;
* ``commune`` (:mod:`zonage.geocode.commune`): postcode + town → the commune only.

:func:`geocode_frame` cleans each row's address (:mod:`zonage.geocode.clean`),
asks the backend once per distinct address (answers kept in a
:class:`~zonage.geocode.cache.GeocodeCache`), and returns, for every row, the point
and its quality: score, result type, label found, and flags — low score, postcode
or commune disagreeing with the input, CEDEX / post-office box removed.
A result of type ``municipality`` is not a location of the structure: only its
commune is known (``geo_status`` = ``commune_only``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zonage.errors import InputDataError, ZonageError
from zonage.geocode.base import RESULT_TYPES, Geocoder, Match, Query
from zonage.geocode.cache import MISSING, GeocodeCache
from zonage.geocode.clean import Cleaned, clean_address
from zonage.inputs import InputSpec, detect_columns
from zonage.names import loose_name_key

__all__ = [
    "BACKENDS",
    "FALLBACK_FLAG",
    "GEO_COLUMNS",
    "LOW_SCORE",
    "RESULT_TYPES",
    "GeocodeCache",
    "Geocoder",
    "Geocoding",
    "Match",
    "Query",
    "address_spec",
    "check_locatable",
    "clean_address",
    "default_cache_path",
    "geocode_frame",
    "make_geocoder",
    "rows_to_geocode",
    "setup_hint",
]

#: Backends :func:`make_geocoder` knows.
BACKENDS: tuple[str, ...] = ("addok", "ban", "commune")
#: Flag written in ``geo_flags`` of every row geocoded by the automatic commune fallback.
FALLBACK_FLAG = "commune_fallback"
#: Default score under which a result is flagged ``low_score``.
LOW_SCORE = 0.6
#: Columns added by :func:`geocode_frame`, in order.
GEO_COLUMNS: tuple[str, ...] = (
    "geo_status", "geo_lon", "geo_lat", "geo_score", "geo_type", "geo_label", "geo_postcode", "geo_citycode",
    "geo_city", "geo_flags", "geo_low_score", "geo_postcode_mismatch", "geo_commune_mismatch", "geo_cedex_cleaned",
    "geo_bp_cleaned", "geo_query", "geo_backend", "geo_cached",
)
#: ``geo_status`` values: point found (``ok``, or ``review`` when flagged), commune only,
#: nothing found, nothing to look for.
GEO_STATUSES: tuple[str, ...] = ("ok", "review", "commune_only", "not_found", "no_address")
_REVIEW_FLAGS = ("low_score", "postcode_mismatch", "commune_mismatch")


@dataclass
class Geocoding:
    """A backend with its cache and low-score threshold (what a batch needs to geocode).

    Parameters
    ----------
    geocoder
        The backend.
    cache
        Answers already received (None: no cache).
    low_score
        Results scoring below this are flagged ``low_score``.
    fallback
        Why the default backend was replaced by this one (see
        :func:`zonage.studies.geocoding.open_geocoder`); None when it was chosen. Every row
        it geocodes then carries the flag ``commune_fallback``.
    """

    geocoder: Geocoder
    cache: GeocodeCache | None = None
    low_score: float = LOW_SCORE
    fallback: str | None = None

    @property
    def name(self) -> str:
        """The backend's name."""
        return self.geocoder.name

    @property
    def cache_key(self) -> str:
        """The backend's cache key."""
        return self.geocoder.cache_key

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        """Answers for ``queries``, from the cache when known (so a :class:`Geocoding` is a :class:`Geocoder`)."""
        return _ask(self.geocoder, self.cache, list(queries))[0]


def default_cache_path(data: str | Path) -> Path:
    """The cache file of a data folder: ``<data>/cache/geocode.sqlite``."""
    return Path(data) / "cache" / "geocode.sqlite"


def _ask(geocoder: Geocoder, cache: GeocodeCache | None, queries: list[Query],
         progress: Callable[[int, int], None] | None = None, batch: int | None = None
         ) -> tuple[list[Match | None], list[bool]]:
    """Answers for distinct ``queries`` and whether each came from the cache.

    Queries are sent in batches (the backend's ``batch_size``, default 1,000), each
    batch's answers stored in the cache at once: an interrupted run keeps what it got.
    """
    batch = batch or int(getattr(geocoder, "batch_size", 1000))
    keys = [q.key for q in queries]
    known = cache.get_many(geocoder.cache_key, keys) if cache is not None else [MISSING] * len(keys)
    answers: list[Match | None] = [None if k is MISSING else k for k in known]  # type: ignore[misc]
    cached = [k is not MISSING for k in known]
    todo = [i for i, hit in enumerate(cached) if not hit and queries[i].text]
    for start in range(0, len(todo), batch):
        part = todo[start:start + batch]
        found = geocoder.geocode([queries[i] for i in part])
        if len(found) != len(part):
            raise ZonageError(f"géocodeur {geocoder.name} : {len(found)} réponses pour {len(part)} adresses (une "
                              "par adresse attendue)")
        for i, match in zip(part, found, strict=True):
            answers[i] = match if match is None or match.valid else None
        if cache is not None:
            cache.put_many(geocoder.cache_key, [(keys[i], answers[i]) for i in part])
        if progress:
            progress(min(start + batch, len(todo)), len(todo))
    return answers, cached


def _same_place(given: str, found: str) -> bool:
    """Whether two town names designate the same place (``Brive`` ~ ``Brive-la-Gaillarde``)."""
    a, b = loose_name_key(given), loose_name_key(found)
    return not a or not b or a == b or a.startswith(b) or b.startswith(a)


def postal_department(citycode: str) -> str:
    """Département of a commune code, written as postcodes start (Corsica ``2A``/``2B`` → ``20``)."""
    if citycode.startswith("97"):
        return citycode[:3]
    return "20" if citycode[:2] in ("2A", "2B") else citycode[:2]


def _address_columns(spec: InputSpec) -> list[str]:
    return [c for c in (spec.address, spec.postcode, spec.commune) if c]


def geocode_frame(
    frame: pd.DataFrame,
    geocoder: Geocoder | Geocoding,
    *,
    spec: InputSpec | None = None,
    rows: Sequence[int] | np.ndarray | None = None,
    cache: GeocodeCache | None = None,
    low_score: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Geocode the address columns of ``frame``.

    Parameters
    ----------
    frame
        Input rows; the address is read from the ``address`` (street line),
        ``postcode`` and ``commune`` roles of ``spec`` (detected from column names such
        as ``adresse``/``address``, ``code_postal``/``cp``, ``commune``/``ville``).
    geocoder
        A backend, or a :class:`Geocoding` (backend + cache + threshold).
    spec
        Column roles (detected when None).
    rows
        Positions of the rows to geocode (default: all); the others get empty columns.
    cache
        Answers already received (overrides the one of a :class:`Geocoding`).
    low_score
        Score under which a result is flagged (default :data:`LOW_SCORE`).
    progress
        Callback ``(addresses done, addresses to ask)``.

    Returns
    -------
    pandas.DataFrame
        Same index and length as ``frame``, the :data:`GEO_COLUMNS`. ``geo_flags``
        lists, ``;``-separated: ``commune_fallback`` (the default backend fell back
        to the commune one), ``low_score``, ``postcode_mismatch``, ``commune_mismatch``,
        ``cedex_cleaned``, ``bp_cleaned``, ``housenumber_not_found``, ``commune_only``.

    Raises
    ------
    InputDataError
        No address, postcode or town column.
    """
    fallback = False
    if isinstance(geocoder, Geocoding):
        cache = cache if cache is not None else geocoder.cache
        low_score = geocoder.low_score if low_score is None else low_score
        fallback = geocoder.fallback is not None
        geocoder = geocoder.geocoder
    low_score = LOW_SCORE if low_score is None else float(low_score)
    spec = spec or detect_columns(frame)
    columns = _address_columns(spec)
    if not columns:
        raise InputDataError(
            f"aucune colonne d'adresse à géocoder (colonnes lues : {', '.join(map(str, frame.columns))}) : attendu "
            "adresse/address, code_postal/cp ou commune/ville"
        )
    n = len(frame)
    positions = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    table = frame.reset_index(drop=True)

    def column(role: str | None) -> list[object]:
        return [None] * len(positions) if role is None else table[role].iloc[positions].tolist()

    cleaned = [clean_address(a, p, c) for a, p, c in
               zip(column(spec.address), column(spec.postcode), column(spec.commune), strict=True)]
    distinct: dict[str, int] = {}
    queries: list[Query] = []
    for item in cleaned:
        if item.query.key not in distinct:
            distinct[item.query.key] = len(queries)
            queries.append(item.query)
    answers, cached = _ask(geocoder, cache, queries, progress)
    out = _empty(n)
    values = [_row(item, answers[distinct[item.query.key]], cached[distinct[item.query.key]], geocoder.name,
                   low_score, fallback) for item in cleaned]
    if values:
        filled = pd.DataFrame(values, columns=list(GEO_COLUMNS), index=positions)
        for name in GEO_COLUMNS:
            out[name] = out[name].astype(object)
            out.loc[positions, name] = filled[name].to_numpy(dtype=object)
    out = _typed(out)
    out.index = frame.index
    return out


def _empty(n: int) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([None] * n, dtype=object) for name in GEO_COLUMNS})


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    for name in ("geo_lon", "geo_lat", "geo_score"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
    for name in ("geo_low_score", "geo_postcode_mismatch", "geo_commune_mismatch", "geo_cedex_cleaned",
                 "geo_bp_cleaned", "geo_cached"):
        out[name] = out[name].astype("boolean")
    return out


def _row(item: Cleaned, match: Match | None, cached: bool, backend: str, low_score: float,
         fallback: bool = False) -> list[object]:
    query = item.query
    flags: list[str] = [FALLBACK_FLAG] if fallback else []
    if item.cedex:
        flags.append("cedex_cleaned")
    if item.bp:
        flags.append("bp_cleaned")
    base = {"geo_query": query.text, "geo_backend": backend, "geo_cached": cached,
            "geo_cedex_cleaned": item.cedex, "geo_bp_cleaned": item.bp}
    if match is None:
        status = "no_address" if not query.text else "not_found"
        record = {**base, "geo_status": status, "geo_flags": ";".join([*flags, status]),
                  "geo_low_score": None, "geo_postcode_mismatch": None, "geo_commune_mismatch": None}
        return [record.get(name) for name in GEO_COLUMNS]
    low = match.score < low_score
    given_code = None if item.cedex else item.given_postcode
    postcode_mismatch = bool(given_code and match.postcode and given_code != match.postcode)
    commune_mismatch = bool(item.given_city and match.city and not _same_place(item.given_city, match.city))
    if item.cedex and query.department and match.citycode:  # a CEDEX code still names the département
        commune_mismatch = commune_mismatch or postal_department(match.citycode) != query.department
    if low:
        flags.insert(0, "low_score")
    if postcode_mismatch:
        flags.append("postcode_mismatch")
    if commune_mismatch:
        flags.append("commune_mismatch")
    has_number = bool(query.street[:1].isdigit())
    if has_number and match.type in ("street", "locality"):
        flags.append("housenumber_not_found")
    if match.type == "municipality":
        status = "commune_only"
        flags.append("commune_only")
    elif low or postcode_mismatch or commune_mismatch:
        status = "review"
    else:
        status = "ok"
    record = {
        **base, "geo_status": status, "geo_lon": match.lon, "geo_lat": match.lat, "geo_score": round(match.score, 4),
        "geo_type": match.type, "geo_label": match.label, "geo_postcode": match.postcode or None,
        "geo_citycode": match.citycode or None, "geo_city": match.city or None, "geo_flags": ";".join(flags),
        "geo_low_score": low, "geo_postcode_mismatch": postcode_mismatch, "geo_commune_mismatch": commune_mismatch,
    }
    return [record.get(name) for name in GEO_COLUMNS]


#: Column names (folded) taken for a whole address line when no usual address column is found.
_ADDRESS_PREFIXES: tuple[str, ...] = ("adresse", "address", "adr_", "ligne_adresse", "libelle_adresse", "full_address",
                                      "rue_")

#: Words naming an address that is not a postal one (``adresse mail``, ``adresse du site web``).
_NOT_POSTAL = re.compile(r"(?:^|_)(?:e?mail|courriel|electronique|web|site|url|ip|messagerie)(?:_|$)")


def _fold_name(name: object) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def address_spec(frame: pd.DataFrame, spec: InputSpec) -> InputSpec:
    """``spec`` with an address column found by a looser rule when the usual names gave none.

    A column whose name starts with ``adresse``/``address`` (``adresse complète``,
    ``Adresse de la structure``, ``adresse_1``) or is ``ligne_adresse``,
    ``libelle_adresse``, ``full_address`` is taken as the address line (it may hold the
    postcode and town too: ``"12 rue X 57000 Metz"``, see :func:`clean_address`); an
    e-mail or web address (``adresse mail``, ``adresse du site web``) is not.
    """
    if spec.address:
        return spec
    taken = {c for c in spec.__dict__.values() if isinstance(c, str)}
    for column in frame.columns:
        if column in taken or column == "geometry":
            continue
        folded = _fold_name(column)
        if folded.startswith(_ADDRESS_PREFIXES) and not _NOT_POSTAL.search(folded):
            from dataclasses import replace

            return replace(spec, address=str(column))
    return spec


def _filled(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip()
    return (text.notna() & (text != "")).to_numpy(dtype=bool)


def rows_to_geocode(frame: pd.DataFrame, spec: InputSpec) -> np.ndarray:
    """Positions of the rows a batch must geocode: no usable coordinates, no FINESS number, an address.

    Parameters
    ----------
    frame
        The input rows.
    spec
        Column roles (:func:`zonage.inputs.detect_columns`, then :func:`address_spec`).
    """
    n = len(frame)
    roles = [c for c in (spec.address, spec.postcode, spec.commune) if c]
    if not roles or not n:
        return np.array([], dtype=np.int64)
    table = frame.reset_index(drop=True)
    address = np.zeros(n, dtype=bool)
    for column in roles:
        address |= _filled(table[column])
    located = np.zeros(n, dtype=bool)
    if spec.geometry and hasattr(table, "geometry"):
        located |= ~(table.geometry.isna() | table.geometry.is_empty).to_numpy(dtype=bool)
    for a, b in ((spec.lon, spec.lat), (spec.x, spec.y)):
        if a and b:
            x = pd.to_numeric(table[a].astype("string").str.replace(",", ".", regex=False), errors="coerce")
            y = pd.to_numeric(table[b].astype("string").str.replace(",", ".", regex=False), errors="coerce")
            located |= (x.notna() & y.notna()).to_numpy(dtype=bool)
    if spec.finess:
        located |= _filled(table[spec.finess])
    return np.flatnonzero(address & ~located)


def check_locatable(frame: pd.DataFrame, spec: InputSpec, name: str = "l'entrée") -> None:
    """Refuse an input no row of which can be placed: no coordinates, geometry, FINESS number nor address.

    Raises
    ------
    InputDataError
        Naming the columns read and the ones looked for.
    """
    if spec.geometry or (spec.lon and spec.lat) or (spec.x and spec.y) or spec.finess:
        return
    if spec.address or spec.postcode or spec.commune:
        return
    raise InputDataError(
        f"{name} : aucune colonne pour placer les structures (colonnes lues : {', '.join(map(str, frame.columns))}) ; "
        "attendu lon/lat, x/y avec --crs, finess, ou une adresse (adresse, code_postal, commune)")


def make_geocoder(
    backend: str,
    *,
    communes: Geocoder | None = None,
    url: str | None = None,
    addok_config: str | Path | None = None,
    cache: GeocodeCache | str | Path | None = None,
    low_score: float = LOW_SCORE,
    **options: object,
) -> Geocoding:
    """Build the chosen backend with its cache.

    Parameters
    ----------
    backend
        ``addok`` (a local addok: ``url`` of its HTTP API, default ``http://127.0.0.1:7878``,
        or ``addok_config`` to call it in this process), ``ban`` (the national API at
        ``url``, default the official one — addresses leave the machine) or ``commune``
        (the ``communes`` geocoder given).
    communes
        The commune-centre geocoder, for ``commune``: built from a data folder by
        :func:`zonage.studies.locators.commune_geocoder` (this module reads no layer).
    cache
        A cache, or the path of its SQLite file (None: no cache).
    low_score
        Score under which a result is flagged.
    options
        Passed to the backend's constructor.
    """
    geocoder: Geocoder
    if backend == "addok":
        from zonage.geocode.addok import AddokGeocoder, AddokInProcess

        geocoder = AddokInProcess(addok_config) if addok_config else AddokGeocoder(url or "http://127.0.0.1:7878",
                                                                                   **options)  # type: ignore[arg-type]
    elif backend == "ban":
        from zonage.geocode.ban import BAN_URL, BanGeocoder

        geocoder = BanGeocoder(url or BAN_URL, **options)  # type: ignore[arg-type]
    elif backend == "commune":
        if communes is None:
            raise ZonageError("le géocodeur « commune » demande la couche des communes : "
                              "zonage.studies.locators.commune_geocoder(paths)")
        geocoder = communes
    else:
        raise ZonageError(f"géocodeur {backend!r} inconnu : choisir parmi {', '.join(BACKENDS)}")
    if cache is not None and not isinstance(cache, GeocodeCache):
        cache = GeocodeCache(cache)
    return Geocoding(geocoder, cache, low_score)


def __getattr__(name: str) -> object:
    """``setup_hint`` lives in :mod:`zonage.geocode.local` (imported on first use)."""
    if name == "setup_hint":
        from zonage.geocode import local

        return local.setup_hint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
