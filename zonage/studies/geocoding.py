"""The geocoder a command uses on a data folder: the local addok by default, the commune fallback.

* :func:`open_geocoder` gives the backend a command uses. The default (no backend
  chosen) is the local addok: a server already running on
  :data:`~zonage.geocode.local.DEFAULT_ADDOK_URL` (``zonage geocoder serve``), else the
  index of the data folder (built by ``zonage geocoder setup``,
  :func:`zonage.geocode.local.setup_local_geocoder`), served by a private Redis and addok
  started for the time of the command. When neither is there, the default falls back to
  the ``commune`` backend (postcode + town, no network, built from the ``communes``
  layer by :func:`zonage.studies.locators.commune_geocoder`) after a one-line hint
  (:func:`~zonage.geocode.local.setup_hint`), and every row geocoded so carries the flag
  ``commune_fallback``: the batch then answers by commune, "à vérifier" wherever the
  commune is not in a single class. A backend *chosen* (``addok``) that cannot answer
  is an error carrying the same hint: the user asked for street precision.
* :func:`batch_geocoding`: the geocoder a batch needs, or None when no row needs one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from zonage.config import Paths
from zonage.errors import ZonageError
from zonage.geocode import FALLBACK_FLAG
from zonage.geocode.local import (
    DEFAULT_ADDOK_URL,
    GeocoderUnavailableError,
    departements_of_frame,
    index_key,
    local_folder,
    setup_hint,
)
from zonage.http import HttpClient, HttpError

__all__ = ["batch_geocoding", "open_geocoder"]


def _healthy(url: str, timeout: float = 1.0) -> bool:
    """Whether an addok answers ``/health`` at ``url`` within ``timeout`` seconds."""
    try:
        with HttpClient(retries=0, connect_timeout_s=timeout, read_timeout_s=timeout, budget_s=timeout) as client:
            return client.request("GET", f"{url.rstrip('/')}/health").status == 200
    except (HttpError, ValueError):
        return False


def _local_addok(paths: Paths, url: str | None, folder: Path | None, stack: contextlib.ExitStack) -> Any:
    """The addok to ask: ``url``, a server on the default port, or the data folder's index served for now."""
    from zonage.geocode.addok import AddokGeocoder, LocalAddok

    if url:
        if _healthy(url, timeout=3.0):
            return AddokGeocoder(url)
        raise GeocoderUnavailableError(f"addok ne répond pas à {url} (`zonage geocoder serve` l'y démarre)")
    if _healthy(DEFAULT_ADDOK_URL):
        return AddokGeocoder(DEFAULT_ADDOK_URL)
    work = folder or local_folder(paths.data)
    if not (work / "addok.rdb").exists():
        raise GeocoderUnavailableError("pas d'index d'adresses local")
    if shutil.which("redis-server") is None:
        raise GeocoderUnavailableError("index d'adresses présent mais redis-server absent (Debian/Ubuntu : "
                                       "apt-get install redis-server)")
    try:
        import addok  # noqa: F401
    except ImportError:
        raise GeocoderUnavailableError("index d'adresses présent mais addok absent (pip install 'zonage[geocode]')"
                                       ) from None
    config = f"addok-{os.getpid()}.conf"  # one per process: commands running together keep their own Redis
    try:
        local = stack.enter_context(LocalAddok(work, config_name=config))
    except ZonageError as exc:
        raise GeocoderUnavailableError(f"addok local non démarré ({str(exc).splitlines()[0]})") from None
    stack.callback((work / config).unlink, missing_ok=True)
    geocoder = AddokGeocoder(local.url)
    geocoder.cache_key = f"addok:local:{index_key(work)}"
    return geocoder


@contextlib.contextmanager
def open_geocoder(
    paths: Paths,
    backend: str | None = None,
    *,
    url: str | None = None,
    addok_config: str | Path | None = None,
    cache: Any = None,
    low_score: float | None = None,
    folder: str | Path | None = None,
    option: str = "--backend",
    departements: Sequence[str] = (),
    notice: Callable[[str], None] | None = None,
) -> Iterator[Any]:
    """The geocoder a command uses, with whatever it needs running for the time of the ``with`` block.

    Parameters
    ----------
    paths
        Data folder (index, communes layer) and mirror.
    backend
        ``addok``, ``ban``, ``commune``, or None for the default: the local addok, falling back
        to ``commune`` with a hint (see the module docstring).
    url, addok_config
        As in :func:`zonage.geocode.make_geocoder`; an addok ``url`` given must answer (no fallback).
    cache
        A :class:`~zonage.geocode.GeocodeCache` or its path (None: no cache).
    folder
        The local addok's work folder (default :func:`local_folder`).
    option
        The command's option naming the backend, for the hint (``--backend``, ``--geocoder``).
    departements
        Départements of the input, for the hint's setup command.
    notice
        Called with the one-line hint when the default falls back to ``commune``.

    Yields
    ------
    zonage.geocode.Geocoding
        With ``fallback`` set (the reason) when the default fell back to ``commune``.

    Raises
    ------
    GeocoderUnavailableError
        ``addok`` chosen and not available: the message is :func:`setup_hint`.
    """
    from zonage.geocode import BACKENDS, LOW_SCORE, Geocoding, make_geocoder
    from zonage.studies.locators import commune_geocoder

    threshold = LOW_SCORE if low_score is None else low_score
    if backend is not None and backend not in BACKENDS:
        raise ZonageError(f"géocodeur {backend!r} inconnu : {', '.join(BACKENDS)}")
    if backend in ("ban", "commune") or addok_config:
        communes = commune_geocoder(paths) if backend == "commune" else None
        yield make_geocoder(backend or "addok", communes=communes, url=url, addok_config=addok_config, cache=cache,
                            low_score=threshold)
        return
    with contextlib.ExitStack() as stack:
        reason = None
        try:
            geocoder = _local_addok(paths, url, Path(folder) if folder is not None else None, stack)
        except GeocoderUnavailableError as exc:
            reason = str(exc)
        if reason is None:
            from zonage.geocode.cache import GeocodeCache

            store = GeocodeCache(cache) if cache is not None and not isinstance(cache, GeocodeCache) else cache
            geocoding = Geocoding(geocoder, store, threshold)
        else:
            hint = setup_hint(reason, option=option, departements=departements)
            if backend == "addok" or url:  # a chosen addok (or its URL): an error, not a silent loss of precision
                raise GeocoderUnavailableError(hint)
            geocoding = make_geocoder("commune", communes=commune_geocoder(paths), cache=cache, low_score=threshold)
            geocoding.fallback = reason
            if notice is not None:
                notice(f"{hint} ; en attendant, géocodage à la commune seulement (chaque ligne porte "
                       f"`{FALLBACK_FLAG}` dans geo_flags)")
        yield geocoding


@contextlib.contextmanager
def batch_geocoding(
    paths: Paths,
    frame: pd.DataFrame,
    spec: Any,
    backend: str | None = None,
    *,
    url: str | None = None,
    cache: Any = None,
    option: str = "--geocoder",
    notice: Callable[[str], None] | None = None,
) -> Iterator[Any]:
    """The geocoder a batch needs, or None: what ``zonage eligibility`` does with addresses.

    With a ``backend`` chosen, that backend (an ``addok`` that cannot answer is an error
    with the hint). Without one, the default (:func:`open_geocoder`) only when some row
    has an address and neither coordinates nor a FINESS number
    (:func:`zonage.geocode.rows_to_geocode`); nothing is started otherwise.

    Parameters
    ----------
    paths
        Data folder and mirror.
    frame, spec
        The input rows and their column roles (after :func:`zonage.geocode.address_spec`).
    backend, url, cache, option, notice
        See :func:`open_geocoder`; the hint names the départements of the input's postcodes.
    """
    from zonage.geocode import rows_to_geocode

    if backend is None and not len(rows_to_geocode(frame, spec)):
        yield None
        return
    with open_geocoder(paths, backend, url=url, cache=cache, option=option,
                       departements=departements_of_frame(frame, spec), notice=notice) as geocoding:
        yield geocoding
