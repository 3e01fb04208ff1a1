"""Self-hosted addok: the BAN's own geocoder, on the ARS's machine (no address leaves it).

Pieces, each usable alone:

* :func:`read_address_file` reads a BAN (``adresses-XX.csv``, ``;``, header) or BANO
  (``,``, no header: id, number, street, postcode, town, source, lat, lon) address
  file, or any CSV whose header names the fields;
* :func:`address_documents` groups the addresses into addok documents: one per street
  (its numbers as ``housenumbers``), one per lieu-dit without numbers, one per commune;
* :func:`write_config` writes an addok configuration (the France plugins
  ``addok-fr`` / ``addok-france``, as the BAN configures them);
* :class:`RedisServer` and :class:`AddokServer` run ``redis-server`` and addok's HTTP
  API as child processes; :class:`LocalAddok` puts both in one work folder;
* :func:`index_addresses` loads address files into the Redis of a configuration;
* :class:`AddokGeocoder` queries the HTTP API (threads), :class:`AddokInProcess`
  calls addok inside this Python process (no HTTP, one configuration per process).

addok is an optional dependency (``pip install zonage[geocode]``): it is imported
only by the functions that need it, and by the child processes.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonage.errors import InputDataError, ZonageError
from zonage.geocode.base import Match, Query
from zonage.http import HttpClient, HttpError
from zonage.io import atomic_path, write_text_atomic

__all__ = [
    "AddokGeocoder",
    "AddokInProcess",
    "AddokServer",
    "IndexReport",
    "LocalAddok",
    "RedisServer",
    "address_documents",
    "free_port",
    "index_addresses",
    "is_documents_file",
    "read_address_file",
    "read_documents",
    "write_config",
]

#: Columns of :func:`read_address_file`'s result.
ADDRESS_COLUMNS: tuple[str, ...] = ("id", "housenumber", "street", "postcode", "citycode", "city", "lon", "lat")
_BANO_COLUMNS = ("id", "housenumber", "street", "postcode", "city", "source", "lat", "lon")
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "cle_interop", "uid"),
    "housenumber": ("numero", "housenumber", "number", "num"),
    "rep": ("rep", "suffixe", "indice"),
    "street": ("nom_voie", "street", "voie", "name", "nom_ld", "lieudit_complement_nom"),
    "postcode": ("code_postal", "postcode", "cp"),
    "citycode": ("code_insee", "citycode", "insee", "commune_insee"),
    "city": ("nom_commune", "city", "commune", "ville"),
    "lon": ("lon", "long", "longitude", "x_wgs84"),
    "lat": ("lat", "latitude", "y_wgs84"),
}
#: The roles a header must give, as a planner reads them.
_ROLE_NAMES = {"street": "la voie", "city": "la commune", "lon": "la longitude", "lat": "la latitude"}
#: Numbers the old BAN exports give to named places without a number.
_NO_NUMBER = {"", "0", "99999", "5000"}
_HEALTH_TIMEOUT_S = 30.0
#: Run as a plain script (not ``-m``): the child then imports addok only, not zonage and its stack.
_SERVER = Path(__file__).with_name("server.py")


# -- address files → addok documents ----------------------------------------------------------
def read_address_file(path: str | Path) -> pd.DataFrame:
    """Read a BAN or BANO address CSV into :data:`ADDRESS_COLUMNS`.

    Parameters
    ----------
    path
        ``.csv`` or ``.csv.gz``. BAN files have a header (``numero``, ``rep``,
        ``nom_voie``, ``code_postal``, ``code_insee``, ``nom_commune``, ``lon``, ``lat``);
        BANO files have none (id, number, street, postcode, town, source, lat, lon; the
        INSEE code is the first five characters of the id).

    Raises
    ------
    InputDataError
        The file cannot be read or lacks a street, postcode, town or coordinate column.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"fichier d'adresses {path} introuvable : vérifier le chemin et le nom du fichier")
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        head = fh.read(8192)
    first = head.splitlines()[0] if head else ""
    sep = ";" if first.count(";") > first.count(",") else ","
    fields = [f.strip().lower() for f in first.split(sep)]
    has_header = any(name in fields for aliases in _HEADER_ALIASES.values() for name in aliases)
    try:
        if has_header:
            raw = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            raw.columns = [c.strip().lower() for c in raw.columns]
            table = _from_header(raw, path)
        else:
            raw = pd.read_csv(path, sep=sep, dtype=str, header=None, keep_default_na=False, encoding="utf-8-sig")
            if raw.shape[1] != len(_BANO_COLUMNS):
                raise InputDataError(f"{path.name} : pas de ligne d'en-tête et {raw.shape[1]} colonnes : attendu un "
                                     f"fichier d'adresses BAN (avec en-tête) ou BANO ({len(_BANO_COLUMNS)} colonnes)")
            raw.columns = list(_BANO_COLUMNS)
            table = raw
            code = table["id"].str[:5]
            table["citycode"] = code.where(code.str.fullmatch(r"\d[\dAB]\d{3}"), "")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{path.name} : lecture impossible ({' '.join(str(exc).split())}) : vérifier que c'est un "
                             "fichier d'adresses BAN ou BANO en CSV UTF-8") from exc
    out = pd.DataFrame({c: table[c].astype(str).str.strip() if c in table else "" for c in ADDRESS_COLUMNS})
    out["lon"] = pd.to_numeric(out["lon"].str.replace(",", ".", regex=False), errors="coerce")
    out["lat"] = pd.to_numeric(out["lat"].str.replace(",", ".", regex=False), errors="coerce")
    out["postcode"] = out["postcode"].str.zfill(5).where(out["postcode"] != "", "")
    keep = out["lon"].notna() & out["lat"].notna() & (out["street"] != "") & (out["city"] != "")
    return out[keep].reset_index(drop=True)


def _from_header(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    found: dict[str, str] = {}
    for role, aliases in _HEADER_ALIASES.items():
        column = next((a for a in aliases if a in raw.columns), None)
        if column is not None:
            found[role] = column
    missing = [r for r in ("street", "city", "lon", "lat") if r not in found]
    if missing:
        wanted = ", ".join(f"{_ROLE_NAMES[r]} ({'/'.join(_HEADER_ALIASES[r][:3])}…)" for r in missing)
        raise InputDataError(f"{path.name} : pas de colonne pour {wanted} (colonnes lues : "
                             f"{', '.join(map(str, raw.columns))}) : donner un fichier d'adresses BAN ou BANO")
    table = pd.DataFrame({role: raw[column] for role, column in found.items()})
    if "rep" in table:
        rep = table["rep"].fillna("").str.strip()
        number = table["housenumber"].fillna("") if "housenumber" in table else pd.Series("", index=table.index)
        table["housenumber"] = (number + np.where(rep != "", " " + rep, "")).str.strip()
        table = table.drop(columns="rep")
    if "street" in table and "nom_ld" in raw.columns and found["street"] != "nom_ld":
        table["street"] = table["street"].where(table["street"].str.strip() != "", raw["nom_ld"])
    return table


def _medoid(lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    """The point of a set closest to its mean (on the street, unlike the mean of a curved street)."""
    i = int(np.argmin((lon - lon.mean()) ** 2 + (lat - lat.mean()) ** 2))
    return float(lon[i]), float(lat[i])


def address_documents(addresses: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Addok documents from addresses (the result of :func:`read_address_file`).

    One ``street`` document per (street, postcode, commune) with its numbers, one
    ``locality`` per named place without a number, one ``municipality`` per commune
    (at its most central address, importance growing with its number of addresses).
    """
    table = addresses.copy()
    known = table[table["citycode"] != ""].drop_duplicates(["postcode", "city"]).set_index(["postcode", "city"])
    lookup = known["citycode"].to_dict()
    table["citycode"] = [c or lookup.get((p, t), "") for c, p, t in
                         zip(table["citycode"], table["postcode"], table["city"], strict=True)]
    table["commune_key"] = np.where(table["citycode"] != "", table["citycode"], table["postcode"] + " " + table["city"])
    numbered = ~table["housenumber"].str.strip().isin(_NO_NUMBER)
    sizes = table.groupby("commune_key").size()
    biggest = float(sizes.max()) if len(sizes) else 1.0
    for (street, postcode, key), part in table[numbered].groupby(["street", "postcode", "commune_key"], sort=True):
        lon, lat = _medoid(part["lon"].to_numpy(), part["lat"].to_numpy())
        numbers = {
            str(n): {"lat": float(y), "lon": float(x), "id": str(i)}
            for n, x, y, i in zip(part["housenumber"], part["lon"], part["lat"], part["id"], strict=True)
        }
        first = part.iloc[0]
        yield {
            "id": f"street:{key}:{postcode}:{street}", "type": "street", "name": street, "postcode": postcode,
            "citycode": first["citycode"], "city": first["city"], "lon": lon, "lat": lat,
            "importance": round(0.2 + 0.5 * math.log1p(len(part)) / math.log1p(biggest), 4),
            "housenumbers": numbers,
        }
    places = table[~numbered].drop_duplicates(["street", "postcode", "commune_key"])
    for row in places.to_dict("records"):
        yield {
            "id": f"locality:{row['commune_key']}:{row['postcode']}:{row['street']}", "type": "locality",
            "name": row["street"], "postcode": row["postcode"], "citycode": row["citycode"], "city": row["city"],
            "lon": float(row["lon"]), "lat": float(row["lat"]), "importance": 0.2,
        }
    for key, part in table.groupby("commune_key", sort=True):
        lon, lat = _medoid(part["lon"].to_numpy(), part["lat"].to_numpy())
        first = part.iloc[0]
        postcodes = sorted({p for p in part["postcode"] if p})
        yield {
            "id": f"municipality:{key!s}", "type": "municipality", "name": first["city"],
            "postcode": postcodes[0] if len(postcodes) == 1 else postcodes, "citycode": first["citycode"],
            "city": first["city"], "lon": lon, "lat": lat,
            "importance": round(0.3 + 0.7 * math.log1p(len(part)) / math.log1p(biggest), 4),
        }


# -- configuration ------------------------------------------------------------------------------
_CONFIG_TEMPLATE = '''\
# addok configuration written by zonage (zonage.geocode.addok.write_config).
# The France plugins are set up as the Base Adresse Nationale does.
REDIS = {{
    "host": {host!r},
    "port": {port!r},
    "unix_socket_path": None,
    "indexes": {{"db": 0}},
    "documents": {{"db": 1}},
}}
EXTRA_FIELDS = [{{"key": "citycode"}}]
FILTERS = ["type", "postcode", "citycode"]
QUERY_PROCESSORS_PYPATHS = [
    "addok.helpers.text.check_query_length",
    "addok_france.extract_address",
    "addok_france.clean_query",
    "addok_france.remove_leading_zeros",
]
PROCESSORS_PYPATHS = [
    "addok.helpers.text.tokenize",
    "addok.helpers.text.normalize",
    "addok_france.glue_ordinal",
    "addok_france.fold_ordinal",
    "addok_france.flag_housenumber",
    "addok.helpers.text.synonymize",
    "addok_fr.phonemicize",
]
SEARCH_RESULT_PROCESSORS_PYPATHS = [
    "addok.helpers.results.match_housenumber",
    "addok_france.make_labels",
    "addok.helpers.results.score_by_importance",
    "addok.helpers.results.score_by_autocomplete_distance",
    "addok.helpers.results.score_by_ngram_distance",
    "addok.helpers.results.score_by_geo_distance",
    "addok.helpers.results.adjust_scores",
]
BATCH_WORKERS = {workers!r}
LOG_DIR = {log_dir!r}
LOG_QUERIES = False
LOG_NOT_FOUND = False
ATTRIBUTION = "BAN / BANO"
LICENCE = "ETALAB-2.0 / ODbL"
'''


def write_config(path: str | Path, *, redis_host: str = "127.0.0.1", redis_port: int = 6379,
                 workers: int | None = None) -> Path:
    """Write an addok configuration file (Python syntax, as addok expects) atomically.

    Parameters
    ----------
    path
        Target file (e.g. ``<work>/addok.conf``).
    redis_host, redis_port
        The Redis server holding the index (documents in db 1, indexes in db 0).
    workers
        Processes used when indexing (default: CPUs − 1, at most 4).
    """
    path = Path(path)
    workers = workers or max(1, min(4, (os.cpu_count() or 2) - 1))
    text = _CONFIG_TEMPLATE.format(host=redis_host, port=int(redis_port), workers=int(workers),
                                   log_dir=str(path.parent.resolve()))
    write_text_atomic(path, text)
    return path


def _config_redis(config_path: Path) -> tuple[str, int]:
    """Host and port of the Redis named in a configuration written by :func:`write_config`."""
    scope: dict[str, Any] = {}
    exec(compile(Path(config_path).read_text(encoding="utf-8"), str(config_path), "exec"), scope)
    redis = scope.get("REDIS", {})
    return str(redis.get("host", "localhost")), int(redis.get("port", 6379))


# -- processes ----------------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Terminate a child process (SIGTERM, then SIGKILL after ``timeout``) and reap it."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class RedisServer:
    """A ``redis-server`` child process bound to 127.0.0.1, its data in ``folder``.

    The index is kept in ``folder/addok.rdb``: :meth:`save` writes it, a later start
    in the same folder loads it. Use as a context manager, or call :meth:`start` and
    :meth:`stop` (in a ``finally``).
    """

    folder: Path
    port: int = 0
    host: str = "127.0.0.1"
    binary: str = "redis-server"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self, timeout: float = _HEALTH_TIMEOUT_S) -> RedisServer:
        """Start the server and wait until it answers PING."""
        binary = shutil.which(self.binary) or (self.binary if Path(self.binary).exists() else None)
        if binary is None:
            raise ZonageError("redis-server introuvable : l'installer (Debian/Ubuntu : apt-get install redis-server)")
        self.folder = Path(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(self.host)
        log = self.folder / "redis.log"
        command = [binary, "--port", str(self.port), "--bind", self.host, "--dir", str(self.folder.resolve()),
                   "--dbfilename", "addok.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no",
                   "--logfile", str(log.resolve())]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ZonageError(f"redis-server s'est arrêté (code {self.process.returncode}) :\n{_log_tail(log)}")
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise ZonageError(f"redis-server ne répond pas sur {self.host}:{self.port} au bout de {timeout:.0f} s : voir "
                          f"son journal {log}")

    def client(self, db: int = 0) -> Any:
        """A ``redis.Redis`` client (the ``redis`` package comes with addok)."""
        import redis

        return redis.Redis(host=self.host, port=self.port, db=db, socket_timeout=30)

    def ping(self) -> bool:
        """Whether the server answers."""
        try:
            return bool(self.client().ping())
        except Exception:
            return False

    def save(self) -> None:
        """Write the data set to ``folder/addok.rdb`` (synchronously)."""
        self.client().save()

    def stop(self) -> None:
        """Stop the server (without saving: call :meth:`save` first to keep the index)."""
        _stop_process(self.process)  # SIGTERM: Redis exits cleanly, saving nothing ("--save ''")

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class AddokServer:
    """addok's HTTP API (``/search``, ``/reverse``, ``/health``) as a child process.

    ``workers`` single-threaded server processes share the port (addok is not safe
    for concurrent requests within one process; see :mod:`zonage.geocode.server`),
    bound to ``host``. The Redis named in ``config`` must be running.
    """

    config: Path
    port: int = 0
    host: str = "127.0.0.1"
    workers: int = field(default_factory=lambda: max(2, min(8, os.cpu_count() or 2)))
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = _HEALTH_TIMEOUT_S) -> AddokServer:
        """Start the API and wait until ``/health`` answers (from this server: a busy port is an error)."""
        if self.port:
            _check_port_free(self.host, self.port)
        self.port = self.port or free_port(self.host)
        log = self.log or Path(self.config).parent / "addok-http.log"
        command = [sys.executable, str(_SERVER), "serve", "--config", str(Path(self.config).resolve()),
                   "--host", self.host, "--port", str(self.port), "--workers", str(self.workers)]
        with open(log, "wb") as fh:
            self.process = subprocess.Popen(command, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        with HttpClient(retries=0, connect_timeout_s=2, read_timeout_s=2, budget_s=2) as probe:
            while time.monotonic() < deadline:  # waiting for the process to listen (not retrying a failure)
                if self.process.poll() is not None:
                    raise ZonageError(f"le serveur HTTP addok s'est arrêté (code {self.process.returncode}) :\n"
                                      f"{_log_tail(log)}")
                try:
                    if probe.request("GET", f"{self.url}/health").status == 200 and self.process.poll() is None:
                        return self
                except HttpError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise ZonageError(f"addok ne répond pas sur {self.url} au bout de {timeout:.0f} s :\n{_log_tail(log)}")

    def stop(self) -> None:
        """Stop the API."""
        _stop_process(self.process)

    def wait(self) -> int:
        """Block until the server exits; its exit code."""
        return self.process.wait() if self.process is not None else 0

    def __enter__(self) -> AddokServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_port_free(host: str, port: int) -> None:
    """Raise a user error when ``host:port`` is already taken (another server would answer in our place)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise ZonageError(f"port {port} déjà utilisé sur {host} : un autre serveur y tourne ; l'arrêter ou choisir "
                              "un autre --port") from None


@dataclass
class LocalAddok:
    """A complete local addok in one work folder: ``addok.conf``, ``addok.rdb``, logs.

    :meth:`start` starts Redis (loading the saved index, if any) and, with ``http``,
    the API; :meth:`stop` stops both. Ports default to free ones on 127.0.0.1.

    Examples
    --------
    >>> with LocalAddok(folder) as local:                        # doctest: +SKIP
    ...     local.index(["bano-19.csv"])
    ...     geocoder = AddokGeocoder(local.url)
    """

    folder: Path
    redis_port: int = 0
    http_port: int = 0
    http: bool = True
    config_name: str = "addok.conf"
    redis: RedisServer | None = field(default=None, init=False)
    server: AddokServer | None = field(default=None, init=False)

    @property
    def config(self) -> Path:
        """The addok configuration file (``config_name`` in the folder)."""
        return Path(self.folder) / self.config_name

    @property
    def url(self) -> str:
        """Base URL of the API (after :meth:`start`)."""
        if self.server is None:
            raise ZonageError("the addok HTTP API is not started")
        return self.server.url

    def start(self) -> LocalAddok:
        """Start Redis and (with ``http``) the API; on failure, stop whatever started."""
        try:
            self.redis = RedisServer(Path(self.folder), port=self.redis_port).start()
            write_config(self.config, redis_port=self.redis.port)
            if self.http:
                self.server = AddokServer(self.config, port=self.http_port).start()
        except BaseException:
            self.stop()
            raise
        return self

    def index(self, files: Sequence[str | Path], *, reset: bool = True) -> IndexReport:
        """Index address files (see :func:`index_addresses`) and save the data set."""
        if self.redis is None:
            raise ZonageError("start the local addok before indexing")
        report = index_addresses(files, self.config, reset=reset)
        self.redis.save()
        return report

    def stop(self) -> None:
        """Stop the API, then Redis (each even if the other fails)."""
        try:
            if self.server is not None:
                self.server.stop()
        finally:
            if self.redis is not None:
                self.redis.stop()

    def __enter__(self) -> LocalAddok:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- indexing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexReport:
    """What :func:`index_addresses` loaded."""

    addresses: int
    streets: int
    localities: int
    municipalities: int
    seconds: float


def _run_addok(config: Path, *args: str, log: Path) -> None:
    command = [sys.executable, str(_SERVER), "addok", "--config", str(config.resolve()), *args]
    with open(log, "ab") as fh:
        done = subprocess.run(command, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise ZonageError(f"addok {' '.join(args[:1])} a échoué (code {done.returncode}) :\n{_log_tail(log)}")


def index_addresses(files: Sequence[str | Path] | str | Path, config: str | Path, *, reset: bool = True
                    ) -> IndexReport:
    """Load BAN/BANO address files into the Redis named by an addok ``config``.

    Parameters
    ----------
    files
        Address CSV files (see :func:`read_address_file`) or files of addok documents
        (the BAN's ``adresses-addok-XX.ndjson.gz``, see :func:`read_documents`).
    config
        addok configuration (see :func:`write_config`); its Redis must be running.
    reset
        Delete the previous index first (otherwise documents are added or replaced).

    Notes
    -----
    Runs ``addok batch`` then ``addok ngrams`` (autocomplete prefixes) in a child
    process; the log is ``<config folder>/addok-index.log``.
    """
    start = time.perf_counter()
    config = Path(config)
    if isinstance(files, str | Path):
        files = [files]
    tables = [f for f in files if not is_documents_file(f)]
    frames = [read_address_file(f) for f in tables]
    addresses = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ADDRESS_COLUMNS))
    counts = {"street": 0, "locality": 0, "municipality": 0}
    total = len(addresses)
    documents = config.parent / "addok-documents.ndjson"
    with atomic_path(documents) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        if not addresses.empty:
            for doc in address_documents(addresses):
                counts[doc["type"]] += 1
                fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
        for path in files:
            if is_documents_file(path):
                for doc, line in read_documents(path):
                    kind = str(doc.get("type", ""))
                    counts[kind] = counts.get(kind, 0) + 1
                    total += len(doc.get("housenumbers") or {}) if kind == "street" else int(kind == "locality")
                    fh.write(line + "\n")
    if sum(counts.values()) == 0:
        raise InputDataError(f"aucune adresse utilisable dans {', '.join(str(f) for f in files) or 'aucun fichier'} : "
                             "donner des fichiers d'adresses BAN ou BANO (voie, commune, lon, lat)")
    if reset:
        import redis

        host, port = _config_redis(config)
        for db in (0, 1):
            redis.Redis(host=host, port=port, db=db).flushdb()
    log = config.parent / "addok-index.log"
    log.write_bytes(b"")
    try:
        _run_addok(config, "batch", str(documents.resolve()), log=log)
        _run_addok(config, "ngrams", log=log)
    finally:
        documents.unlink(missing_ok=True)
    return IndexReport(addresses=total, streets=counts["street"], localities=counts["locality"],
                       municipalities=counts["municipality"], seconds=time.perf_counter() - start)


#: Name endings of addok document files (the BAN's ``adresses-addok-XX.ndjson.gz``).
DOCUMENT_SUFFIXES: tuple[str, ...] = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".json.gz")


def is_documents_file(path: str | Path) -> bool:
    """Whether ``path`` is named as a file of addok documents (one JSON object a line)."""
    return Path(path).name.lower().endswith(DOCUMENT_SUFFIXES)


def read_documents(path: str | Path) -> Iterator[tuple[dict[str, Any], str]]:
    """The addok documents of an NDJSON file (``.gz`` or not), each with its line as read.

    This is the format the BAN publishes for addok (``adresses-addok-XX.ndjson.gz``):
    one ``street`` (with its ``housenumbers``), ``locality`` or ``municipality`` a line.

    Raises
    ------
    InputDataError
        A line is not a JSON object with a ``type``, a ``name`` and coordinates.
    """
    import gzip

    path = Path(path)
    if not path.exists():
        raise InputDataError(f"fichier d'adresses {path} introuvable : vérifier le chemin et le nom du fichier")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, start=1):
                line = line.strip()
                if not line:
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    doc = None
                if not isinstance(doc, dict) or not doc.get("type") or "lon" not in doc or "lat" not in doc:
                    raise InputDataError(f"{path.name} : ligne {number} : pas un document addok (un objet JSON avec "
                                         "type, name, lon et lat) : vérifier le fichier ou le télécharger à nouveau")
                yield doc, line
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{path.name} : lecture impossible ({exc}) : vérifier le fichier ou le télécharger à "
                             "nouveau") from exc


# -- querying -----------------------------------------------------------------------------------
def _match_from_feature(feature: dict[str, Any]) -> Match | None:
    props = feature.get("properties", {})
    coords = feature.get("geometry", {}).get("coordinates") or [math.nan, math.nan]
    citycode = props.get("citycode", "")
    postcode = props.get("postcode", "")
    match = Match(
        lon=float(coords[0]), lat=float(coords[1]), score=float(props.get("score", 0.0)),
        type=str(props.get("type", "")), label=str(props.get("label", "")),
        postcode=str(postcode[0] if isinstance(postcode, list) else postcode),
        citycode=str(citycode[0] if isinstance(citycode, list) else citycode), city=str(props.get("city", "")),
    )
    return match if match.valid else None


class AddokGeocoder:
    """Query an addok HTTP API (``GET /search``) with a pool of threads.

    Parameters
    ----------
    url
        Base URL, e.g. ``http://127.0.0.1:7878`` (a local server: nothing is sent elsewhere).
    workers
        Concurrent requests.
    timeout
        Seconds to connect, and to wait for each piece of an answer.
    retries
        Further attempts after a connection error, a timeout, a 429 or a 5xx answer
        (urllib3's retries, :mod:`zonage.http`).
    """

    name = "addok"

    def __init__(self, url: str = "http://127.0.0.1:7878", *, workers: int = 8, timeout: float = 30.0,
                 retries: int = 2) -> None:
        self.url = url.rstrip("/")
        self.workers = max(1, int(workers))
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.cache_key = f"addok:{self.url}"
        self._http: HttpClient | None = None

    @property
    def http(self) -> HttpClient:
        """The HTTP client (built on first use; one session per thread of the pool)."""
        if self._http is None:
            self._http = HttpClient(retries=self.retries, backoff_s=0.2, max_backoff_s=5.0,
                                    connect_timeout_s=self.timeout, read_timeout_s=self.timeout,
                                    pool_size=self.workers)
        return self._http

    def _search(self, query: Query) -> Match | None:
        params: dict[str, str | int | float] = {"q": query.text[:200], "limit": 1, "autocomplete": 0}
        try:
            answer = self.http.request("GET", f"{self.url}/search", params=params)
        except HttpError as exc:
            raise ZonageError(f"addok ne répond pas à {self.url} ({exc.reason}) : le lancer avec "
                              "`zonage geocoder serve`") from exc
        if answer.status >= 500:
            raise ZonageError(f"addok ne répond pas à {self.url} (HTTP {answer.status}) : le lancer avec "
                              "`zonage geocoder serve`")
        if answer.status != 200:
            raise ZonageError(f"addok ({self.url}) a refusé l'adresse {query.text!r} : HTTP {answer.status}")
        try:
            payload = json.loads(answer.content.decode("utf-8"))
        except ValueError as exc:
            raise ZonageError(f"addok ({self.url}) n'a pas répondu en JSON pour l'adresse {query.text!r} : vérifier "
                              "que cette adresse est celle d'une API addok") from exc
        features = (payload.get("features") or []) if isinstance(payload, dict) else []
        return _match_from_feature(features[0]) if features else None

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        """Best match (or None) for each query, in order."""
        results: list[Match | None] = [None] * len(queries)
        todo = [i for i, q in enumerate(queries) if q.text]
        if not todo:
            return results
        _ = self.http  # built here, once, before the threads share it
        with ThreadPoolExecutor(max_workers=min(self.workers, len(todo))) as pool:
            for i, match in zip(todo, pool.map(lambda i: self._search(queries[i]), todo), strict=True):
                results[i] = match
        return results


class AddokInProcess:
    """Call addok inside this process (no HTTP): the fastest way, one configuration per process.

    addok's configuration is global to a Python process: the first instance loads
    ``config``; another instance with a different file raises.
    """

    name = "addok"
    _loaded: Path | None = None
    _lock = threading.Lock()

    def __init__(self, config: str | Path) -> None:
        self.config = Path(config).resolve()
        host, port = _config_redis(self.config)
        self.cache_key = f"addok:redis://{host}:{port}"
        with self._lock:
            if AddokInProcess._loaded is None:
                os.environ["ADDOK_CONFIG_MODULE"] = str(self.config)
                from addok.config import config as addok_config

                with contextlib.redirect_stdout(io.StringIO()):
                    addok_config.load()
                AddokInProcess._loaded = self.config
            elif AddokInProcess._loaded != self.config:
                raise ZonageError(f"addok est déjà configuré dans ce processus par {AddokInProcess._loaded} : une "
                                  "seule configuration par processus ; passer par l'API HTTP (`zonage geocoder serve`) "
                                  "pour en utiliser une autre")
        from addok.core import search

        self._search = search

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        """Best match (or None) for each query, in order."""
        out: list[Match | None] = []
        for query in queries:
            if not query.text:
                out.append(None)
                continue
            results = self._search(query.text[:200], limit=1, autocomplete=False)
            out.append(_match_from_feature(results[0].format()) if results else None)
        return out

