"""The one HTTP layer (zonage.http), against real HTTP servers on 127.0.0.1.

Each test scripts a small ``ThreadingHTTPServer``: failing answers before the normal one,
a ``Retry-After``, a body cut short, a body that stalls or trickles after its headers.
Backoffs are zero or a few tenths of a second; no test waits more than about a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zonage import __version__
from zonage.errors import ZonageError
from zonage.http import (
    USER_AGENT,
    BudgetExceededError,
    HttpClient,
    HttpError,
    NetworkError,
    StatusError,
    TransferError,
    TruncatedError,
    check_connect,
    make_retry,
    make_session,
)
from zonage.numbers import french_number

Action = Callable[[BaseHTTPRequestHandler], None]
BODY = b"0123456789" * 5_000


def answer(status: int = 200, body: bytes = BODY, headers: dict[str, str] | None = None) -> Action:
    def act(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return act


class _Server:
    """A scripted HTTP server: ``script`` answers first, then ``default``; ``hits`` records each request."""

    def __init__(self) -> None:
        self.script: list[Action] = []
        self.default: Action = answer()
        self.hits: list[dict] = []
        self.release = threading.Event()  # ends the stalled answers at teardown
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.hits.append({"method": self.command, "path": self.path, "time": time.monotonic(),
                                    "agent": self.headers.get("User-Agent"), "body": body,
                                    "encoding": self.headers.get("Accept-Encoding")})
                action = server.script.pop(0) if server.script else server.default
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    action(self)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stall(self, announce: int, send: int) -> Action:
        """Headers announcing ``announce`` bytes, ``send`` of them, then nothing until the test ends."""

        def act(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Length", str(announce))
            handler.end_headers()
            handler.wfile.write(BODY[:send])
            handler.wfile.flush()
            self.release.wait(10)

        return act

    def trickle(self, every_s: float) -> Action:
        """Headers, then one byte every ``every_s`` seconds (never idle long enough for a read timeout)."""

        def act(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            for _ in range(1000):
                if self.release.wait(every_s):
                    return
                handler.wfile.write(b"x")
                handler.wfile.flush()

        return act

    def silent(self) -> Action:
        """Accept the request and never answer."""
        return lambda handler: self.release.wait(10) and None

    def cut(self, announce: int, send: int) -> Action:
        """Headers announcing ``announce`` bytes, ``send`` of them, then the connection closed."""

        def act(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Length", str(announce))
            handler.end_headers()
            handler.wfile.write(BODY[:send])
            handler.close_connection = True

        return act


@pytest.fixture
def server() -> Iterator[_Server]:
    fake = _Server()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        fake.httpd.shutdown()
        fake.httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- sessions and retry policy ----------------------------------------------------------------------
def test_nothing_is_built_or_sent_until_a_request(server: _Server) -> None:
    client = HttpClient()
    assert client._sessions == [] and server.hits == []
    session = make_session(make_retry(2))
    assert session.headers["User-Agent"] == USER_AGENT == f"zonage/{__version__}"
    adapter = session.get_adapter("https://example.org")
    retry = adapter.max_retries  # type: ignore[attr-defined]
    assert retry.total == 2 and retry.respect_retry_after_header and "POST" not in retry.allowed_methods
    assert {429, 500, 502, 503, 504} <= set(retry.status_forcelist)
    assert "POST" in make_retry(1, retry_post=True).allowed_methods
    session.close()


def test_retry_on_503_then_success(server: _Server) -> None:
    server.script = [answer(503, b"busy"), answer(502, b"bad gateway")]
    with HttpClient(retries=3, backoff_s=0) as client:
        got = client.request("GET", f"{server.url}/data")
    assert got.ok and got.content == BODY and got.attempts == 3 and len(server.hits) == 3
    assert {hit["agent"] for hit in server.hits} == {USER_AGENT}


def test_429_retry_after_is_honoured(server: _Server) -> None:
    server.script = [answer(429, b"slow down", {"Retry-After": "1"})]
    started = time.monotonic()
    with HttpClient(retries=2, backoff_s=0) as client:
        got = client.request("GET", f"{server.url}/data")
    assert got.status == 200 and got.attempts == 2
    assert server.hits[1]["time"] - server.hits[0]["time"] >= 0.95  # the server's wait, not the backoff (0)
    assert time.monotonic() - started < 5


def test_backoff_doubles_and_odd_retry_after_falls_back(server: _Server) -> None:
    server.script = [answer(500, b"oops"), answer(503, b"oops", {"Retry-After": "bientôt"}),
                     answer(503, b"oops", {"Retry-After": "0.1"})]
    with HttpClient(retries=3, backoff_s=0.15, max_backoff_s=1.0) as client:
        got = client.request("GET", f"{server.url}/data")
    assert got.status == 200 and got.attempts == 4
    gaps = [b["time"] - a["time"] for a, b in zip(server.hits, server.hits[1:], strict=False)]
    assert gaps[0] >= 0.14 and gaps[1] >= 0.29  # 0.15 then 0.30 (an unreadable Retry-After gives way)
    assert 0.09 <= gaps[2] < 0.5  # a decimal Retry-After is read as seconds


def test_gives_up_after_n_retries(server: _Server) -> None:
    server.default = answer(502, b"down")
    with HttpClient(retries=2, backoff_s=0) as client:
        got = client.request("GET", f"{server.url}/data")
        assert got.status == 502 and got.attempts == 3 and len(server.hits) == 3  # the last answer, to the caller
        server.hits.clear()
        posted = client.request("POST", f"{server.url}/data", data=b"x")  # POST: not retried unless asked
        assert posted.status == 502 and posted.attempts == 1 and len(server.hits) == 1
    with HttpClient(retries=2, backoff_s=0, retry_post=True) as client:
        server.hits.clear()
        assert client.request("POST", f"{server.url}/data", data=b"x").attempts == 3 and len(server.hits) == 3
        assert server.hits[-1]["body"] == b"x"


def test_refused_connection_is_a_network_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/data"
    started = time.monotonic()
    with HttpClient(retries=2, backoff_s=0) as client, pytest.raises(NetworkError) as err:
        client.request("GET", url)
    assert err.value.attempts == 3 and err.value.reason == "connexion refusée"
    assert isinstance(err.value, ZonageError)
    assert f"{url} : pas de réponse après 3 tentatives (connexion refusée)" in str(err.value)
    with pytest.raises(NetworkError, match=r"connexion impossible en 1 s \(connexion refusée\)") as refused:
        check_connect(url, 1.0)
    assert refused.value.reason == "connexion refusée"
    assert time.monotonic() - started < 3


def test_no_answer_at_all_times_out_then_gives_up(server: _Server) -> None:
    server.default = server.silent()
    started = time.monotonic()
    with HttpClient(retries=1, backoff_s=0, read_timeout_s=0.3) as client, pytest.raises(NetworkError) as err:
        client.request("GET", f"{server.url}/data")
    assert err.value.attempts == 2 and len(server.hits) == 2 and "délai" in err.value.reason
    assert "pas de réponse après 2 tentatives (délai" in str(err.value)
    assert time.monotonic() - started < 3


# -- total budget ---------------------------------------------------------------------------------------
def test_stalled_body_hits_the_budget(server: _Server) -> None:
    server.default = server.stall(announce=len(BODY), send=100)
    started = time.monotonic()
    stalled = r"réponse incomplète au bout de 0,5 s \(100 octets reçus\)"
    with HttpClient(retries=3, backoff_s=0, read_timeout_s=30, budget_s=0.5) as client, \
            pytest.raises(BudgetExceededError, match=stalled) as err:
        client.request("GET", f"{server.url}/data")
    assert time.monotonic() - started < 2.5 and len(server.hits) == 1  # a body is not retried
    assert err.value.done == 100 and isinstance(err.value, TransferError)


def test_trickling_body_hits_the_budget(server: _Server) -> None:
    server.default = server.trickle(0.05)
    started = time.monotonic()
    with HttpClient(read_timeout_s=30, budget_s=0.6) as client, pytest.raises(BudgetExceededError):
        client.request("GET", f"{server.url}/data")
    assert time.monotonic() - started < 2


def test_budget_counts_from_the_last_attempt(server: _Server) -> None:
    """Retry waits do not eat the budget of the attempt that answers."""
    server.script = [answer(503, b"busy", {"Retry-After": "0.6"})]
    with HttpClient(retries=1, backoff_s=0, budget_s=0.4) as client:
        got = client.request("GET", f"{server.url}/data")
    assert got.status == 200 and got.attempts == 2


# -- downloads ------------------------------------------------------------------------------------------
def test_download_streams_through_the_writer_with_progress(server: _Server) -> None:
    server.script = [answer(503, b"busy")]
    digest, seen, written = hashlib.sha256(), [], bytearray()

    def write(block: bytes) -> None:
        digest.update(block)
        written.extend(block)

    with HttpClient(retries=2, backoff_s=0) as client:
        done = client.download(f"{server.url}/file.gz", write, progress=lambda d, t: seen.append((d, t)),
                               chunk_size=8192)
    assert done == len(BODY) and bytes(written) == BODY and digest.hexdigest() == hashlib.sha256(BODY).hexdigest()
    assert seen[-1] == (len(BODY), len(BODY)) and len(seen) > 1 and all(t == len(BODY) for _, t in seen)
    assert server.hits[-1]["encoding"] == "identity"  # the bytes as served (what the checksum is of)


def test_download_truncated_and_refused(server: _Server) -> None:
    server.script = [server.cut(announce=len(BODY), send=1000)]
    written = bytearray()
    with HttpClient(retries=2, backoff_s=0) as client:
        with pytest.raises(TruncatedError) as err:
            client.download(f"{server.url}/file.gz", written.extend)
        assert err.value.total == len(BODY) and err.value.done == len(written) <= 1000
        done, total = french_number(err.value.done, 0), french_number(len(BODY), 0)
        assert f"réponse coupée après {done} octets sur {total}" in str(err.value)
        server.hits.clear()
        server.script = [answer(404, b"not here")]
        with pytest.raises(StatusError, match="le serveur a répondu HTTP 404") as refused:
            client.download(f"{server.url}/missing.gz", written.extend)
        assert refused.value.status == 404 and len(server.hits) == 1  # a 404 is not retried
        assert isinstance(refused.value, HttpError)
