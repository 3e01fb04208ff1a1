import hashlib
import http.server
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from zonage.config import Paths
from zonage.errors import ChecksumError, MissingSourceError
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
    with pytest.raises(MissingSourceError, match=r"demo file.*make it.*--download"):
        fetch(_source(b"x"), Paths(tmp_path / "data", tmp_path / "mirror"))
    with pytest.raises(MissingSourceError, match="no mirror set"):
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
    with pytest.raises(ChecksumError, match="expected sha256 0000"):
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
