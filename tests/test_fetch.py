import hashlib
import http.server
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from zonage.config import Paths
from zonage.errors import ChecksumError, MissingSourceError, ZonageError
from zonage.sources import CATALOGUE, fetch
from zonage.sources.catalogue import Source
from zonage.sources.fetch import LOCK_NAME


def _source(content: bytes, **kw) -> Source:
    base = Source(name="demo", title="demo file", mirror_path="demo/demo.csv",
                  sha256=hashlib.sha256(content).hexdigest(), url="http://127.0.0.1:1/demo.csv",
                  licence="test", vintage="2025", fmt="CSV", provenance="test", how_to_get="make it")
    return replace(base, **kw)


def test_copy_from_mirror_then_up_to_date(tmp_path: Path) -> None:
    content = b"a,b\n1,2\n"
    (tmp_path / "mirror/demo").mkdir(parents=True)
    (tmp_path / "mirror/demo/demo.csv").write_bytes(content)
    paths = Paths(tmp_path / "data", tmp_path / "mirror")
    first = fetch(_source(content), paths)
    assert first.action == "copied from mirror"
    assert (tmp_path / "data/raw/demo/demo.csv").read_bytes() == content
    assert fetch(_source(content), paths).action == "up to date"


def test_truncated_mirror_file_is_rejected_and_nothing_written(tmp_path: Path) -> None:
    content = b"a,b\n1,2\n3,4\n"
    (tmp_path / "mirror/demo").mkdir(parents=True)
    (tmp_path / "mirror/demo/demo.csv").write_bytes(content[:-4])  # truncated
    paths = Paths(tmp_path / "data", tmp_path / "mirror")
    with pytest.raises(ChecksumError) as err:
        fetch(_source(content), paths)
    message = str(err.value)
    assert "demo.csv" in message and hashlib.sha256(content).hexdigest() in message
    assert hashlib.sha256(content[:-4]).hexdigest() in message
    raw = tmp_path / "data/raw/demo"
    assert not raw.exists() or list(raw.iterdir()) == []


def test_missing_source_says_what_and_how(tmp_path: Path) -> None:
    with pytest.raises(MissingSourceError,
                       match=r"demo \(demo file\) introuvable : pas de fichier .*demo\.csv\. make it .*--download"):
        fetch(_source(b"x"), Paths(tmp_path / "data", tmp_path / "mirror"))
    with pytest.raises(MissingSourceError, match=r"aucun miroir indiqué \(--mirror ou \$ZONAGE_MIRROR\)"):
        fetch(_source(b"x"), Paths(tmp_path / "data", None))


@pytest.fixture()
def http_server(tmp_path: Path):
    folder = tmp_path / "www"
    folder.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_verified_and_pinned(tmp_path: Path, http_server) -> None:
    folder, base = http_server
    content = b"official file\n" * 1000
    (folder / "demo.csv").write_bytes(content)
    paths = Paths(tmp_path / "data", None)
    good = _source(content, url=f"{base}/demo.csv", download_sha256=hashlib.sha256(content).hexdigest())
    assert fetch(good, paths, download=True).action == "downloaded"
    # A download whose published checksum differs is refused and leaves nothing behind.
    (tmp_path / "data/raw/demo/demo.csv").unlink()
    bad = replace(good, download_sha256="0" * 64)
    with pytest.raises(ChecksumError, match=r"empreinte sha256 de .* incorrecte \([0-9a-f]{64} au lieu de 0000"):
        fetch(bad, paths, download=True)
    assert not (tmp_path / "data/raw/demo/demo.csv").exists()
    # Unknown official checksum: pinned on first download, enforced afterwards.
    unknown = replace(good, download_sha256=None, sha256="")
    fetch(unknown, paths, download=True)
    assert LOCK_NAME in {p.name for p in (tmp_path / "data/raw").iterdir()}
    (folder / "demo.csv").write_bytes(b"changed upstream\n")
    (tmp_path / "data/raw/demo/demo.csv").unlink()
    with pytest.raises(ChecksumError):
        fetch(unknown, paths, download=True)


def test_no_network_without_download_flag(tmp_path: Path) -> None:
    # The URL points at a closed port: without download=True it must not even be tried.
    with pytest.raises(MissingSourceError):
        fetch(_source(b"x", url="http://127.0.0.1:9/never"), Paths(tmp_path / "d", None))


def test_catalogue_mirror_checksums_match(mirror: Path) -> None:
    from zonage.io import sha256_file

    for source in CATALOGUE.values():
        file = mirror / source.mirror_path
        if source.optional and not file.exists():
            continue
        assert sha256_file(file) == source.sha256, source.name


@pytest.fixture()
def flaky_server(tmp_path: Path):
    """``content`` at /demo.csv after the scripted answers: a status, or ``"cut"`` (half the body, then closed)."""
    state = {"content": b"", "script": [], "hits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            state["hits"] += 1
            content = state["content"]
            step = state["script"].pop(0) if state["script"] else 200
            if step == "cut":
                self.send_response(200)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content[: len(content) // 2])
                self.close_connection = True
                return
            self.send_response(step)
            body = content if step == 200 else b"busy"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/demo.csv"
    server.shutdown()
    server.server_close()


def test_download_retried_then_verified_with_progress(tmp_path: Path, flaky_server) -> None:
    state, url = flaky_server
    content = state["content"] = b"official file\n" * 200_000  # 2.8 MB: several chunks
    state["script"] = [503, 502]
    seen: list[tuple[int, int | None]] = []
    good = _source(content, url=url, download_sha256=hashlib.sha256(content).hexdigest())
    done = fetch(good, Paths(tmp_path / "data", None), download=True, backoff_s=0,
                 progress=lambda d, t: seen.append((d, t)))
    assert done.action == "downloaded" and state["hits"] == 3
    assert (tmp_path / "data/raw/demo/demo.csv").read_bytes() == content
    assert len(seen) > 1 and seen[-1] == (len(content), len(content))


def test_truncated_download_leaves_nothing(tmp_path: Path, flaky_server) -> None:
    state, url = flaky_server
    content = state["content"] = b"official file\n" * 10_000
    state["script"] = ["cut"]
    paths = Paths(tmp_path / "data", None)
    with pytest.raises(ChecksumError, match=r"tronqué : \d+ octets sur 140000 ; rien n'est écrit"):
        fetch(_source(content, url=url), paths, download=True, backoff_s=0)
    raw = tmp_path / "data/raw/demo"
    assert not raw.exists() or list(raw.iterdir()) == []
    state["script"] = [500] * 5  # a server down for good: the retries, then a clear error
    with pytest.raises(ZonageError, match=r"demo : échec du téléchargement de .* \(HTTP 500\)"):
        fetch(_source(content, url=url), paths, download=True, retries=2, backoff_s=0)
    assert state["hits"] == 4 and (not raw.exists() or list(raw.iterdir()) == [])
