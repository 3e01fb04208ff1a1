"""Bring source files into ``data/raw``: from a mirror folder or, when asked, the web.

Every file is checksummed on the way in and written atomically: a corrupted or
truncated copy raises :class:`~zonage.errors.ChecksumError` and leaves nothing in
``data/raw``. Nothing touches the network unless ``download=True``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zonage.config import Paths
from zonage.errors import ChecksumError, MissingSourceError, ZonageError
from zonage.http import HttpClient, HttpError, TruncatedError
from zonage.io import atomic_path, sha256_file, write_text_atomic
from zonage.sources.catalogue import Source

LOCK_NAME = "CHECKSUMS.lock.json"
_CHUNK = 1 << 20

Progress = Callable[[int, int | None], None]
"""Called with (bytes done, total bytes or None) while copying or downloading."""


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` did for one source."""

    source: str
    path: Path
    sha256: str
    action: str  # "up to date", "copied from mirror", "downloaded"


def raw_path(source: Source, paths: Paths) -> Path:
    """Where ``source`` lives in ``data/raw``."""
    return paths.raw / source.mirror_path


def _read_lock(paths: Paths) -> dict[str, str]:
    lock = paths.raw / LOCK_NAME
    return json.loads(lock.read_text(encoding="utf-8")) if lock.exists() else {}


def _expected_sha(source: Source, paths: Paths, *, downloaded: bool, override: str | None) -> str | None:
    if override:
        return override.lower()
    if downloaded:
        return source.download_sha256 or _read_lock(paths).get(source.name)
    return source.sha256 or _read_lock(paths).get(source.name)


def _copy_stream(read: Callable[[int], bytes], dest: Path, total: int | None, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    with open(dest, "wb") as out:
        while block := read(_CHUNK):
            digest.update(block)
            out.write(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _check(source: Source, file_label: str, actual: str, expected: str | None) -> None:
    if expected and actual != expected:
        raise ChecksumError(
            f"{source.name} : empreinte sha256 de {file_label} incorrecte ({actual} au lieu de {expected}) : fichier "
            "abîmé, tronqué ou d'une autre version ; rien n'est écrit : récupérer une copie intacte (ou, pour une "
            "autre version voulue, donner son empreinte avec --sha256)"
        )


def _download(source: Source, tmp: Path, progress: Progress | None, timeout: float, *, retries: int = 3,
              backoff_s: float = 1.0) -> str:
    if source.url.startswith("npm:"):
        spec = source.url.removeprefix("npm:")
        if shutil.which("npm") is None:
            raise ZonageError(f"{source.name} : le téléchargement de {spec} demande le client npm, introuvable dans "
                              "le PATH : installer Node.js (npm), ou copier le fichier dans le miroir")
        with tempfile.TemporaryDirectory() as folder:
            done = subprocess.run(
                ["npm", "pack", spec, "--pack-destination", folder, "--silent"],
                capture_output=True, text=True, check=False, timeout=timeout,
            )
            packed = list(Path(folder).glob("*.tgz"))
            if done.returncode != 0 or not packed:
                detail = " ".join(done.stderr.split())[:300]
                raise ZonageError(f"{source.name} : échec de `npm pack {spec}` ({detail}) : vérifier l'accès au "
                                  "registre npm, ou copier le fichier dans le miroir")
            with open(packed[0], "rb") as fh:
                return _copy_stream(fh.read, tmp, packed[0].stat().st_size, progress)
    if not source.url.startswith(("http://", "https://")):
        raise ZonageError(f"{source.name} : téléchargement impossible depuis {source.url!r} (pas une adresse http(s) "
                          "ni npm:) : copier le fichier dans le miroir")
    digest = hashlib.sha256()
    try:
        with HttpClient(retries=retries, backoff_s=backoff_s, connect_timeout_s=min(timeout, 30.0),
                        read_timeout_s=timeout) as client, open(tmp, "wb") as out:

            def write(block: bytes) -> None:
                digest.update(block)
                out.write(block)

            client.download(source.url, write, progress=progress)
    except TruncatedError as exc:
        raise ChecksumError(
            f"{source.name} : téléchargement de {source.url} tronqué : {exc.done} octets sur {exc.total} ; rien n'est "
            "écrit : relancer le téléchargement"
        ) from exc
    except HttpError as exc:
        raise ZonageError(f"{source.name} : échec du téléchargement de {source.url} ({exc.reason}) : réessayer plus "
                          "tard, ou copier le fichier dans le miroir") from exc
    return digest.hexdigest()


def fetch(
    source: Source,
    paths: Paths,
    *,
    download: bool = False,
    sha256: str | None = None,
    progress: Progress | None = None,
    timeout: float = 120.0,
    retries: int = 3,
    backoff_s: float = 1.0,
) -> FetchResult:
    """Make ``source`` present and verified in ``data/raw``.

    Parameters
    ----------
    source
        Catalogue entry.
    paths
        Data and mirror folders.
    download
        Allow a download from ``source.url`` when the mirror has no copy.
    sha256
        Expected checksum overriding the catalogue (pins an official file whose
        checksum the catalogue cannot know).
    progress
        Optional callback for a progress bar.
    timeout
        Seconds to wait for each piece of the download (and, up to 30 s, to connect);
        failed connections and 429/5xx answers are retried (:mod:`zonage.http`).
    retries, backoff_s
        Further attempts of a download, and the first wait between two (doubled each time).

    Returns
    -------
    FetchResult

    Raises
    ------
    ChecksumError
        The copy or download does not match the expected sha256.
    MissingSourceError
        Neither a valid copy in ``data/raw``, nor a mirror copy, and no download allowed.
    """
    target = raw_path(source, paths)
    expected_local = _expected_sha(source, paths, downloaded=False, override=sha256)
    if target.exists():
        actual = sha256_file(target)
        known = {s for s in (expected_local, source.download_sha256, _read_lock(paths).get(source.name)) if s}
        if actual in known or (not known and not paths.mirror):
            return FetchResult(source.name, target, actual, "up to date")

    mirror_file = paths.mirror / source.mirror_path if paths.mirror else None
    if mirror_file is not None and mirror_file.is_file():
        with atomic_path(target) as tmp, open(mirror_file, "rb") as fh:
            actual = _copy_stream(fh.read, tmp, mirror_file.stat().st_size, progress)
            _check(source, str(mirror_file), actual, expected_local)
        return FetchResult(source.name, target, actual, "copied from mirror")

    if download:
        expected = _expected_sha(source, paths, downloaded=True, override=sha256)
        with atomic_path(target) as tmp:
            actual = _download(source, tmp, progress, timeout, retries=retries, backoff_s=backoff_s)
            _check(source, source.url, actual, expected)
        if expected is None:  # trust on first use, recorded so that later downloads are checked
            lock = _read_lock(paths)
            lock[source.name] = actual
            write_text_atomic(paths.raw / LOCK_NAME, json.dumps(lock, indent=2, sort_keys=True))
        return FetchResult(source.name, target, actual, "downloaded")

    where = f"pas de fichier {mirror_file}" if mirror_file else "aucun miroir indiqué (--mirror ou $ZONAGE_MIRROR)"
    raise MissingSourceError(
        f"{source.name} ({source.title}) introuvable : {where}. {source.how_to_get} "
        f"Ou autoriser le téléchargement depuis {source.url} avec --download."
    )
