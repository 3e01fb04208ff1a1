"""Street-level geocoding in one command: the local addok of a data folder, set up from BAN address files.

* :func:`setup_local_geocoder` (``zonage geocoder setup --departement 57``) finds the
  address file of each département — a file given (``--file``), one downloaded before,
  the mirror's ``addresses/`` folder, or, only with ``download=True``, the official BAN
  export for addok (:data:`BAN_ADDOK_URL`) — records its sha256, indexes it in the local
  addok of the data folder (``<data>/geocoder/addok``) and checks one address. Run again
  with the same files, it does nothing and says so ("déjà indexé"); a new département is
  added to the index, a changed file rebuilds it.
* :func:`setup_hint` is the one-line hint a command prints when street-level geocoding
  is not available; :func:`zonage.studies.geocoding.open_geocoder` chooses the backend a
  command uses (the local addok set up here, else the commune fallback).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonage.config import Paths
from zonage.errors import ChecksumError, InputDataError, ZonageError
from zonage.geocode import FALLBACK_FLAG
from zonage.geocode.base import Match, Query
from zonage.http import HttpClient, HttpError, StatusError, TruncatedError
from zonage.io import atomic_path, sha256_file, write_text_atomic
from zonage.numbers import count_fr

__all__ = [
    "BAN_ADDOK_URL",
    "DEFAULT_ADDOK_URL",
    "AddressFile",
    "GeocoderUnavailableError",
    "SetupReport",
    "addresses_folder",
    "departements_of_file",
    "departements_of_frame",
    "departements_of_postcodes",
    "find_address_file",
    "geocoding_summary",
    "index_key",
    "local_folder",
    "normalise_departement",
    "setup_hint",
    "setup_local_geocoder",
]

#: The BAN's export for addok, one file per département (``{dep}``: ``57``, ``2A``, ``974``).
BAN_ADDOK_URL = "https://adresse.data.gouv.fr/data/ban/adresses/latest/addok/adresses-addok-{dep}.ndjson.gz"
#: Where ``zonage geocoder serve`` answers by default.
DEFAULT_ADDOK_URL = "http://127.0.0.1:7878"
_RECORD = "setup.json"
_DOWNLOADS = "downloads.json"
_DEPARTEMENT = re.compile(r"0[1-9]|[1-8]\d|9[0-5]|2[AB]|97[1-6]")
_NAMED = re.compile(r"(?:adresses-addok|adresses|bano)[-_](0[1-9]|[1-8]\d|9[0-5]|2[ab]|97[1-6])\b", re.IGNORECASE)


class GeocoderUnavailableError(ZonageError):
    """The geocoder asked for cannot answer (no local index, server down, Redis missing…)."""


# -- départements ---------------------------------------------------------------------------------
def normalise_departement(value: object) -> str:
    """A département code as the BAN names its files: ``57``, ``01``, ``2A``, ``974``.

    Raises
    ------
    InputDataError
        Not a département code (``20`` is refused: Corsica is ``2A`` and ``2B``).
    """
    text = str(value).strip().upper()
    if text.isdigit() and len(text) == 1:
        text = f"0{text}"
    if text == "20":
        raise InputDataError("département 20 : la Corse a deux départements, 2A et 2B")
    if not _DEPARTEMENT.fullmatch(text):
        raise InputDataError(f"département {value!r} inconnu : donner un code comme 57, 01, 2A ou 974")
    return text


def _departement_of_code(citycode: str, postcode: str = "") -> str | None:
    code = (citycode or "").strip().upper()
    if len(code) == 5:
        return code[:3] if code.startswith("97") else code[:2]
    post = (postcode or "").strip()
    if len(post) == 4 and post.isdigit():
        post = f"0{post}"
    if len(post) == 5 and post.isdigit():
        if post.startswith("97"):
            return post[:3]
        return None if post.startswith("20") else post[:2]
    return None


def departements_of_postcodes(postcodes: Sequence[object] | pd.Series) -> list[str]:
    """The départements named by postcodes (for the hint), most frequent first; Corsica left out."""
    counts: dict[str, int] = {}
    for value in postcodes:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        found = _departement_of_code("", re.sub(r"\D", "", str(value))[:5])
        if found:
            counts[found] = counts.get(found, 0) + 1
    return sorted(counts, key=lambda d: (-counts[d], d))


def departements_of_file(path: str | Path) -> set[str]:
    """The départements of an address file: from its name (``adresses-addok-57…``, ``bano-19…``), else its content."""
    from zonage.geocode.addok import is_documents_file, read_address_file, read_documents

    path = Path(path)
    named = _NAMED.search(path.name)
    if named:
        return {named.group(1).upper()}
    found: set[str] = set()
    if is_documents_file(path):
        for doc, _ in read_documents(path):
            citycode = doc.get("citycode") or ""
            postcode = doc.get("postcode") or ""
            dep = _departement_of_code(str(citycode[0] if isinstance(citycode, list) else citycode),
                                       str(postcode[0] if isinstance(postcode, list) and postcode else postcode))
            if dep:
                found.add(dep)
        return found
    table = read_address_file(path)
    for citycode, postcode in set(zip(table["citycode"], table["postcode"], strict=True)):
        dep = _departement_of_code(citycode, postcode)
        if dep:
            found.add(dep)
    return found


# -- folders and files ----------------------------------------------------------------------------
def local_folder(data: str | Path) -> Path:
    """Work folder of the local addok of a data folder: ``<data>/geocoder/addok``."""
    return Path(data) / "geocoder" / "addok"


def addresses_folder(data: str | Path) -> Path:
    """Where downloaded BAN files are kept: ``<data>/geocoder/ban``."""
    return Path(data) / "geocoder" / "ban"


@dataclass(frozen=True)
class AddressFile:
    """One address file and where it comes from.

    Attributes
    ----------
    departements
        Départements it is used for.
    path
        The file (BAN/BANO CSV, or addok documents ``.ndjson[.gz]``).
    sha256
        Its checksum, recorded in the index's ``setup.json``.
    origin
        ``fichier`` (given), ``téléchargé`` (BAN, now or before) or ``miroir``.
    url
        Official URL of a downloaded file.
    """

    departements: tuple[str, ...]
    path: Path
    sha256: str
    origin: str
    url: str | None = None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _download(url: str, target: Path, *, timeout: float, progress: Callable[[int, int | None], None] | None) -> str:
    """Stream ``url`` into ``target`` atomically; its sha256 (a short or non-gzip answer is refused)."""
    digest = hashlib.sha256()
    with atomic_path(target) as tmp:
        try:
            with HttpClient(connect_timeout_s=min(timeout, 30.0), read_timeout_s=timeout) as client, \
                    open(tmp, "wb") as fh:

                def write(block: bytes) -> None:
                    digest.update(block)
                    fh.write(block)

                client.download(url, write, progress=progress)
        except StatusError as exc:
            hint = " (département inconnu de la BAN ?)" if exc.status in (404, 410) else ""
            raise ZonageError(f"téléchargement de {url} refusé : HTTP {exc.status}{hint}") from exc
        except TruncatedError as exc:
            raise ChecksumError(f"téléchargement de {url} tronqué : {exc.done} octets sur {exc.total} ; "
                                "rien n'est gardé") from exc
        except HttpError as exc:
            raise ZonageError(f"téléchargement de {url} impossible : {exc.reason}") from exc
        with open(tmp, "rb") as head:
            if head.read(2) != b"\x1f\x8b":
                raise ZonageError(f"{url} n'a pas renvoyé un fichier .gz (page d'erreur ?) ; rien n'est gardé")
    return digest.hexdigest()


def find_address_file(
    departement: str,
    paths: Paths,
    *,
    download: bool = False,
    refresh: bool = False,
    url_template: str = BAN_ADDOK_URL,
    timeout: float = 600.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> AddressFile:
    """The address file of one département.

    Looked for, in order: a BAN file downloaded before (``<data>/geocoder/ban``, its
    sha256 checked against the one recorded at download), the mirror's ``addresses/``
    folder (a file named for the département, else one whose addresses are in it), then,
    only with ``download``, the official BAN export (``url_template``), whose sha256 is
    recorded in ``<data>/geocoder/ban/downloads.json``.

    Raises
    ------
    ZonageError
        Nothing found offline (the message says how to get the file), a download failed,
        or a file downloaded before no longer has its recorded checksum.
    """
    dep = normalise_departement(departement)
    url = url_template.format(dep=dep)
    folder = addresses_folder(paths.data)
    target = folder / Path(urllib.parse.urlparse(url).path).name
    record_path = folder / _DOWNLOADS
    record = _read_json(record_path)
    if target.exists() and not refresh:
        expected = (record.get(target.name) or {}).get("sha256")
        actual = sha256_file(target)
        if expected and actual != expected:
            raise ChecksumError(f"{target} : sha256 {actual[:12]}… différent de celui enregistré au téléchargement "
                                f"({expected[:12]}…) : fichier abîmé ; relancer avec `--download --refresh`")
        return AddressFile((dep,), target, actual, "téléchargé", (record.get(target.name) or {}).get("url"))
    if not refresh and paths.mirror is not None and (paths.mirror / "addresses").is_dir():
        candidates = sorted(p for p in (paths.mirror / "addresses").iterdir()
                            if p.is_file() and not p.name.startswith("."))
        named = [p for p in candidates if (m := _NAMED.search(p.name)) and m.group(1).upper() == dep]
        unnamed = [p for p in candidates if not _NAMED.search(p.name) and p.stat().st_size < 200_000_000]
        for path in named + [p for p in unnamed if dep in _safe_departements(p)]:
            return AddressFile((dep,), path, sha256_file(path), "miroir")
    if not download:
        raise ZonageError(f"pas de fichier d'adresses pour le département {dep} hors ligne : relancer avec "
                          f"`--download` (BAN, {url}) ou donner le fichier avec `--file CHEMIN`")
    sha = _download(url, target, timeout=timeout, progress=progress)
    record[target.name] = {"url": url, "sha256": sha, "bytes": target.stat().st_size,
                           "downloaded_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    write_text_atomic(record_path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return AddressFile((dep,), target, sha, "téléchargé", url)


def _safe_departements(path: Path) -> set[str]:
    try:
        return departements_of_file(path)
    except ZonageError:
        return set()


# -- setup --------------------------------------------------------------------------------------------
@dataclass
class SetupReport:
    """What :func:`setup_local_geocoder` did.

    Attributes
    ----------
    folder
        The local addok's work folder.
    indexed
        Files indexed by this run.
    already
        Files found already indexed with the same checksum (nothing done for them).
    kept
        Files indexed before and indexed again because the index was rebuilt.
    dropped
        Départements indexed before whose file is gone or changed (left out of the rebuilt index).
    index
        The indexing report (None when nothing was indexed).
    check_query, check
        The address looked up after indexing and what the index answered.
    """

    folder: Path
    indexed: list[AddressFile] = field(default_factory=list)
    already: list[AddressFile] = field(default_factory=list)
    kept: list[AddressFile] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    index: Any = None
    check_query: str | None = None
    check: Match | None = None

    def lines(self) -> list[str]:
        """The report in French, one line a fact, ending with what to run next."""
        out = []
        for item in self.already:
            out.append(f"département {', '.join(item.departements)} : déjà indexé ({item.path.name}, sha256 "
                       f"{item.sha256[:12]}) : rien à faire")
        for item in self.indexed:
            source = {"fichier": "fichier donné", "miroir": "miroir", "téléchargé": "BAN téléchargée"}[item.origin]
            out.append(f"département {', '.join(item.departements)} : indexé ({source} : {item.path}, sha256 "
                       f"{item.sha256[:12]})")
        for item in self.kept:
            out.append(f"département {', '.join(item.departements)} : ré-indexé (index reconstruit)")
        for dep in self.dropped:
            out.append(f"département {dep} : retiré de l'index (son fichier a disparu ou changé : relancer "
                       f"`zonage geocoder setup --departement {dep}`)")
        if self.index is not None:
            r = self.index
            seconds = f"{r.seconds:.1f}".replace(".", ",")
            out.append(f"index : {_n(r.addresses)} adresses ({_n(r.streets)} voies, {_n(r.localities)} lieux-dits, "
                       f"{_n(r.municipalities)} communes) en {seconds} s dans {self.folder}")
        if self.check_query is not None:
            if self.check is None:
                out.append(f"contrôle : « {self.check_query} » non trouvé dans l'index (à signaler)")
            else:
                score = f"{self.check.score:.2f}".replace(".", ",")
                out.append(f"contrôle : « {self.check_query} » → {self.check.label} ({self.check.type}, score "
                           f"{score})")
        out.append("prêt : `zonage eligibility FICHIER -o SORTIE` et `zonage geocode FICHIER -o SORTIE` géocodent à "
                   "l'adresse (Redis et addok démarrés le temps de la commande) ; pour un service permanent, plus "
                   "rapide sur de nombreux appels : `zonage geocoder serve`")
        return out


def _n(value: int) -> str:
    """An integer as French text writes it (thin space between thousands)."""
    return f"{int(value):,}".replace(",", "\u202f")


def index_key(folder: Path) -> str:
    """Identity of the saved index (size and time of ``addok.rdb``), for the answers' cache."""
    rdb = Path(folder) / "addok.rdb"
    stat = rdb.stat()
    return hashlib.sha256(f"{rdb.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def _sample_query(path: Path) -> str | None:
    """A numbered address of a file, as a person would type it (to check the index)."""
    from zonage.geocode.addok import _NO_NUMBER, is_documents_file, read_address_file, read_documents

    if is_documents_file(path):
        for doc, _ in read_documents(path):
            numbers = doc.get("housenumbers") or {}
            if doc.get("type") == "street" and numbers:
                postcode = doc.get("postcode")
                postcode = postcode[0] if isinstance(postcode, list) and postcode else postcode
                return f"{next(iter(numbers))} {doc.get('name', '')} {postcode or ''} {doc.get('city', '')}".strip()
        return None
    table = read_address_file(path)
    numbered = table[~table["housenumber"].str.strip().isin(_NO_NUMBER)]
    if numbered.empty:
        return None
    row = numbered.iloc[0]
    return f"{row['housenumber']} {row['street']} {row['postcode']} {row['city']}".strip()


def setup_local_geocoder(
    paths: Paths,
    departements: Sequence[str] = (),
    *,
    files: Sequence[str | Path] = (),
    download: bool = False,
    refresh: bool = False,
    folder: str | Path | None = None,
    url_template: str = BAN_ADDOK_URL,
    check: bool = True,
    timeout: float = 600.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> SetupReport:
    """Make street-level geocoding work: address files of the départements → the local addok index.

    Parameters
    ----------
    paths
        Data folder (the index goes to ``<data>/geocoder/addok``) and mirror.
    departements
        Départements wanted (``57``, ``2A``, ``974``); with ``files`` only, those the files cover.
    files
        Address files to use (BAN ``adresses-XX.csv[.gz]``, BAN addok ``adresses-addok-XX.ndjson.gz``
        or BANO CSV) instead of looking for them (see :func:`find_address_file`).
    download
        Download the BAN file of a département not found offline (:data:`BAN_ADDOK_URL`).
    refresh
        With ``download``: download again even if a file was downloaded before.
    folder
        Work folder of the local addok (default :func:`local_folder`).
    check
        After indexing, look up one address of the files through the addok HTTP API.

    Returns
    -------
    SetupReport
        Nothing is done for files already indexed with the same sha256 (``already``).

    Raises
    ------
    ZonageError
        Bad département code, no file for a département (with how to get one), a file
        without addresses of the département asked, Redis or addok missing.
    """
    from zonage.geocode.addok import LocalAddok

    wanted = list(dict.fromkeys(normalise_departement(d) for d in departements))
    if not wanted and not files:
        raise ZonageError("donner au moins un département (`--departement 57`) ou un fichier (`--file CHEMIN`)")
    sources: list[AddressFile] = []
    covered: set[str] = set()
    for given in files:
        path = Path(given)
        if not path.is_file():
            raise InputDataError(f"fichier d'adresses {path} introuvable")
        deps = departements_of_file(path)
        use = sorted(deps & set(wanted)) if wanted else sorted(deps)
        if not use:
            raise InputDataError(f"{path.name} : aucune adresse des départements {', '.join(wanted)} (il couvre : "
                                 f"{', '.join(sorted(deps)) or 'aucun département reconnu'})")
        sources.append(AddressFile(tuple(use), path.resolve(), sha256_file(path), "fichier"))
        covered.update(use)
    for dep in wanted:
        if dep not in covered:
            sources.append(find_address_file(dep, paths, download=download, refresh=refresh, url_template=url_template,
                                             timeout=timeout, progress=progress))
    work = Path(folder) if folder is not None else local_folder(paths.data)
    report = SetupReport(folder=work)
    record = _read_json(work / _RECORD)
    indexed_before: dict[str, dict[str, Any]] = record.get("departements", {}) if isinstance(record, dict) else {}
    rdb = work / "addok.rdb"
    intact = rdb.exists() and record.get("index_key") == index_key(work)
    if not intact:
        indexed_before = {}

    def same(item: AddressFile) -> bool:
        return all(indexed_before.get(d, {}).get("sha256") == item.sha256 for d in item.departements)

    todo = [s for s in sources if not same(s)]
    report.already = [s for s in sources if same(s)]
    if not todo:
        return report
    asked = {d for s in sources for d in s.departements}
    changed = any(d in indexed_before for s in todo for d in s.departements)
    reset = changed or not intact
    if reset and intact:  # rebuild: keep the other départements whose file is still the same
        for dep, entry in sorted(indexed_before.items()):
            if dep in asked:
                continue
            path = Path(entry.get("path", ""))
            if path.is_file() and sha256_file(path) == entry.get("sha256"):
                report.kept.append(AddressFile((dep,), path, entry["sha256"], entry.get("origin", "fichier"),
                                               entry.get("url")))
            else:
                report.dropped.append(dep)
    to_index = todo + report.kept
    unique_files = list(dict.fromkeys(str(s.path) for s in to_index))
    with LocalAddok(work, http=check) as local:
        report.index = local.index(unique_files, reset=reset)
        if check:
            from zonage.geocode.addok import AddokGeocoder

            report.check_query = _sample_query(todo[0].path)
            if report.check_query:
                report.check = AddokGeocoder(local.url, workers=1).geocode([Query(street=report.check_query)])[0]
    report.indexed = todo
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entries = {} if reset else dict(indexed_before)
    for item in to_index + report.already:
        for dep in item.departements:
            entries[dep] = {"path": str(item.path), "sha256": item.sha256, "origin": item.origin, "url": item.url,
                            "indexed_at": now if item in to_index else indexed_before.get(dep, {}).get("indexed_at")}
    write_text_atomic(work / _RECORD, json.dumps({"departements": entries, "index_key": index_key(work),
                                                  "addresses": report.index.addresses}, indent=2,
                                                 ensure_ascii=False) + "\n")
    _clear_addok_answers(paths.data)
    return report


def forget_setup(folder: str | Path) -> None:
    """Remove the record of :func:`setup_local_geocoder` (the index was changed by other means)."""
    (Path(folder) / _RECORD).unlink(missing_ok=True)


def _clear_addok_answers(data: Path) -> int:
    from zonage.geocode import GeocodeCache, default_cache_path

    cache = default_cache_path(data)
    if not cache.exists():
        return 0
    with GeocodeCache(cache) as store:
        return store.clear("addok:")


# -- the backend a command uses -----------------------------------------------------------------------
def setup_hint(reason: str, *, option: str = "--backend", departements: Sequence[str] = ()) -> str:
    """The one-line hint: why street-level geocoding is not available and the two ways out.

    >>> setup_hint("pas d'index d'adresses local", departements=["57"])
    "pas d'index d'adresses local : lancer `zonage geocoder setup --departement 57` ou utiliser `--backend commune`"
    """
    deps = " ".join(f"--departement {d}" for d in list(departements)[:4]) or "--departement NN"
    return f"{reason} : lancer `zonage geocoder setup {deps}` ou utiliser `{option} commune`"


_POSTCODE_IN_TEXT = re.compile(r"(?<!\d)(\d{5})(?!\d)")


def departements_of_frame(frame: pd.DataFrame, spec: Any) -> list[str]:
    """Départements of the input's addresses, most frequent first, for the hint.

    Per row: its postcode column, else a postcode written in its address or commune
    column, else its INSEE commune code: a row without a postcode still names its
    département when the file gives its commune code.
    """
    codes = pd.Series(pd.NA, index=frame.index, dtype="string")
    if spec.postcode:
        codes = frame[spec.postcode].astype("string").str.replace(r"\D", "", regex=True)
        codes = codes.where(codes.str.len() >= 4)
    for column in (spec.address, spec.commune):
        if column:
            found = frame[column].astype("string").str.extract(_POSTCODE_IN_TEXT, expand=False)
            codes = codes.fillna(found)
    counts: dict[str, int] = {}
    insee = frame[spec.insee].astype("string").str.strip() if getattr(spec, "insee", None) else None
    for i, postcode in enumerate(codes.to_numpy(dtype=object)):
        citycode = "" if insee is None or pd.isna(insee.iloc[i]) else str(insee.iloc[i])
        found_dep = _departement_of_code("", "" if pd.isna(postcode) else str(postcode)[:5]) or \
            _departement_of_code(citycode if len(citycode) == 5 else "")
        if found_dep:
            counts[found_dep] = counts.get(found_dep, 0) + 1
    return sorted(counts, key=lambda d: (-counts[d], d))


def geocoding_summary(rows: pd.DataFrame) -> str | None:
    """One French line counting the geocoded rows of a batch by quality (None when nothing was geocoded)."""
    if "geo_status" not in rows:
        return None
    status = rows["geo_status"].dropna()
    if status.empty:
        return None
    counts = status.value_counts()
    backends = ", ".join(sorted(str(b) for b in rows["geo_backend"].dropna().unique()))
    words = {"ok": "à l'adresse", "review": "à vérifier", "commune_only": "à la commune seulement",
             "not_found": "non trouvées", "no_address": "sans adresse"}
    parts = [f"{int(counts[k])} {w}" for k, w in words.items() if counts.get(k, 0)]
    fallback = rows["geo_flags"].fillna("").astype(str).str.contains(FALLBACK_FLAG).sum()
    tail = f" ; {int(fallback)} par repli sur la commune ({FALLBACK_FLAG})" if fallback else ""
    return f"géocodage ({backends}) de {count_fr(len(status), 'ligne')} : {', '.join(parts)}{tail}"
