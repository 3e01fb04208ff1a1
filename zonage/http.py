"""One HTTP layer for every network client: the BAN API, addok and the downloads.

* :func:`make_retry` and :func:`make_session` build the ``requests.Session`` every client
  uses: a ``User-Agent: zonage/<version>`` header and an adapter whose urllib3
  :class:`~urllib3.util.Retry` retries connection errors, read timeouts and the answers
  ``429``, ``500``, ``502``, ``503`` and ``504`` with exponential backoff, honouring the
  server's ``Retry-After``. The waits between attempts are urllib3's: no client keeps a
  retry loop of its own.
* :class:`HttpClient` adds connect and read timeouts, a **total time budget** per request
  (the body is streamed and a monotonic deadline checked between reads, so a server that
  sends its headers and then stalls, or trickles a byte now and then, is given up) and
  :meth:`HttpClient.download`, which streams a file through the caller's ``write`` (its
  atomic temporary file, its hash) with a ``progress(done, total | None)`` callback.

Nothing here touches the network when imported or built: a client creates its session on
its first request. Failures are :class:`HttpError` (a :class:`~zonage.errors.ZonageError`):
:class:`NetworkError` (no answer after the retries), :class:`TransferError` (an answer
whose body did not arrive whole: :class:`TruncatedError`, :class:`BudgetExceededError`)
and :class:`StatusError` (a download refused by the server).
"""

from __future__ import annotations

import math
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from zonage import __version__
from zonage.errors import ZonageError
from zonage.numbers import french_number

__all__ = [
    "RETRY_STATUSES",
    "USER_AGENT",
    "Answer",
    "BudgetExceededError",
    "HttpClient",
    "HttpError",
    "NetworkError",
    "StatusError",
    "TransferError",
    "TruncatedError",
    "check_connect",
    "make_retry",
    "make_session",
]

USER_AGENT = f"zonage/{__version__}"
#: Answers retried (after ``Retry-After`` when the server gives one, else after the backoff).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_READ_SIZE = 1 << 16

Progress = Callable[[int, int | None], None]
"""Called with (bytes done, total bytes or None) while downloading."""


# -- errors ---------------------------------------------------------------------------------------
class HttpError(ZonageError):
    """A request that gave no usable answer (after the retries).

    Attributes
    ----------
    url
        The URL asked.
    reason
        Short cause, in French (``connexion refusée``, ``HTTP 404``…), for the callers' own messages.
    attempts
        Requests sent, retries included.
    """

    def __init__(self, message: str, *, url: str, reason: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.attempts = attempts


class NetworkError(HttpError):
    """No answer: connection refused, unknown host, timed out or reset before the answer, after the retries."""


class TransferError(HttpError):
    """The answer began but its body did not arrive whole (connection cut, reset or timed out)."""

    def __init__(self, message: str, *, url: str, reason: str, attempts: int = 1, done: int = 0,
                 total: int | None = None) -> None:
        super().__init__(message, url=url, reason=reason, attempts=attempts)
        self.done = done
        self.total = total


class TruncatedError(TransferError):
    """The body ended before the length the server announced (``Content-Length``)."""


class BudgetExceededError(TransferError):
    """The whole answer did not arrive within the request's total time budget."""


class StatusError(HttpError):
    """The server answered with an error status (after the retries, for the retried ones)."""

    def __init__(self, message: str, *, url: str, status: int, attempts: int = 1) -> None:
        super().__init__(message, url=url, reason=f"HTTP {status}", attempts=attempts)
        self.status = status


def _seconds(value: float) -> str:
    """A duration as a French reader writes it: ``0,5``, ``30``."""
    return f"{value:g}".replace(".", ",")


def _bytes(value: int | None) -> str:
    """A byte count as a French reader writes it: ``12 345``."""
    return french_number(value, 0)


def _attempts(attempts: int) -> str:
    return f"{attempts} tentative{'s' * (attempts > 1)}"


# -- retries and sessions -------------------------------------------------------------------------
_attempt = threading.local()  # this thread's current request: when its last attempt started, retries made


class _Retry(Retry):
    """urllib3's :class:`~urllib3.util.Retry`, with three changes.

    * The first retry waits ``backoff_factor`` (urllib3 retries at once), then twice as
      long each time, up to ``backoff_max``: the waits are ``b, 2b, 4b…``.
    * ``Retry-After`` may be a number of seconds with decimals, and is capped at
      ``backoff_max``; an unreadable one gives way to the backoff instead of failing.
    * Each wait records when the next attempt starts (the total budget counts from there)
      and how many retries were made (:attr:`Answer.attempts`).
    """

    def get_backoff_time(self) -> float:
        errors = len(list(takewhile(lambda h: h.redirect_location is None, reversed(self.history))))
        if errors == 0:
            return 0.0
        return float(max(0.0, min(self.backoff_max, self.backoff_factor * 2 ** (errors - 1))))

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = float(retry_after)
        except ValueError:
            try:
                seconds = super().parse_retry_after(retry_after)  # an HTTP date
            except InvalidHeader:
                return 0.0  # unreadable: the backoff applies
        if not math.isfinite(seconds):
            return 0.0
        return min(max(seconds, 0.0), self.backoff_max)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        super().sleep(response)
        _attempt.started = time.monotonic()
        _attempt.retries = getattr(_attempt, "retries", 0) + 1


def make_retry(
    retries: int,
    *,
    backoff_s: float = 1.0,
    max_backoff_s: float = 60.0,
    retry_post: bool = False,
    statuses: Collection[int] = RETRY_STATUSES,
) -> Retry:
    """The retry policy of a session.

    Parameters
    ----------
    retries
        Further attempts after a failed one (connection error, read timeout, a status in
        ``statuses``); ``0``: one attempt.
    backoff_s, max_backoff_s
        First wait before a retry (doubled each time) and its ceiling; a ``Retry-After``
        header, when given, is used instead (within the ceiling).
    retry_post
        Retry ``POST`` too. Only for an idempotent endpoint (the BAN CSV endpoint is one:
        posting the same file twice gives the same answer and changes nothing).
    statuses
        Answers retried.
    """
    methods = Retry.DEFAULT_ALLOWED_METHODS | {"POST"} if retry_post else Retry.DEFAULT_ALLOWED_METHODS
    return _Retry(
        total=max(0, int(retries)),
        allowed_methods=methods,
        status_forcelist=frozenset(statuses),
        backoff_factor=max(0.0, float(backoff_s)),
        backoff_max=max(0.0, float(max_backoff_s)),
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer is returned: the caller says what its status means
    )


def make_session(retry: Retry | None = None, *, pool_size: int = 10, user_agent: str = USER_AGENT) -> requests.Session:
    """A ``requests.Session`` with ``retry`` on http and https and the ``User-Agent`` of zonage (sends nothing)."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry if retry is not None else make_retry(0),
                          pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


def check_connect(url: str, timeout_s: float) -> None:
    """Open and close a TCP connection to ``url``'s host within ``timeout_s`` (sends nothing).

    Raises
    ------
    NetworkError
        Connection refused, unknown host or no answer in time: a dead address fails in
        seconds, before any request and its retries.
    """
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname or "", port), timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        reason = _socket_reason(exc)
        raise NetworkError(f"{url} : connexion impossible en {_seconds(timeout_s)} s ({reason}) : vérifier l'adresse "
                           "et le réseau", url=url, reason=reason) from None


def _socket_reason(exc: BaseException) -> str:
    """A short cause, in French, of a failed ``socket.create_connection`` (the system's text when unknown)."""
    if isinstance(exc, socket.gaierror):
        return "hôte inconnu"
    if isinstance(exc, ConnectionRefusedError):
        return "connexion refusée"
    if isinstance(exc, TimeoutError):
        return "pas de réponse"
    if isinstance(exc, ValueError):
        return f"adresse invalide ({exc})"
    return str(exc) or type(exc).__name__


def _reason(exc: BaseException) -> str:
    """A short cause, in French, from the errors requests and urllib3 wrap one in another (else their own text)."""
    seen = exc
    for _ in range(8):
        inner: object = seen.reason if isinstance(seen, MaxRetryError) else (seen.args[0] if seen.args else None)
        if not isinstance(inner, BaseException):
            break
        seen = inner
    if isinstance(seen, NameResolutionError):
        return "hôte inconnu"
    if isinstance(seen, NewConnectionError):
        if "refused" in str(seen).lower():
            return "connexion refusée"
        return f"connexion impossible ({str(seen).split('connection: ')[-1]})"
    if isinstance(seen, ConnectTimeoutError):
        return "délai de connexion dépassé"
    if isinstance(seen, ReadTimeoutError | requests.ReadTimeout):
        return "délai d'attente de la réponse dépassé"
    if isinstance(seen, ProtocolError):
        return f"connexion coupée ({seen.args[0] if seen.args else seen})"
    return str(seen) or type(seen).__name__


# -- client ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """A complete answer (any status)."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    attempts: int

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300


class HttpClient:
    """Requests with retries, timeouts and a total time budget; streamed downloads.

    Parameters
    ----------
    retries, backoff_s, max_backoff_s, retry_post
        Retry policy (:func:`make_retry`).
    connect_timeout_s
        Seconds to open a connection.
    read_timeout_s
        Seconds to wait for each piece of the answer (never more than the budget).
    budget_s
        Total time of one attempt, from sending the request to the last byte of the
        answer (None: no limit but ``read_timeout_s`` between two pieces).
    pool_size
        Connections kept open per host (one per thread using the client at once).

    A client is cheap and sends nothing until a request; each thread gets its own
    ``requests.Session`` (sessions are not thread-safe), closed by :meth:`close`.
    """

    def __init__(
        self,
        *,
        retries: int = 3,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        retry_post: bool = False,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 60.0,
        budget_s: float | None = None,
        pool_size: int = 10,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.retries = max(0, int(retries))
        self.retry = make_retry(self.retries, backoff_s=backoff_s, max_backoff_s=max_backoff_s, retry_post=retry_post)
        self.connect_timeout_s = float(connect_timeout_s)
        self.read_timeout_s = float(read_timeout_s)
        self.budget_s = None if budget_s is None else float(budget_s)
        self.pool_size = max(1, int(pool_size))
        self.user_agent = user_agent
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """The session of the calling thread (built on first use)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = make_session(self.retry, pool_size=self.pool_size, user_agent=self.user_agent)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close the sessions (their open connections)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------
    def _open(self, method: str, url: str, budget: float | None, **kwargs: Any) -> tuple[requests.Response, float, int]:
        """Send the request (urllib3 retries and waits); the answer, when its last attempt started, attempts."""
        read = self.read_timeout_s if budget is None else min(self.read_timeout_s, budget)
        _attempt.started, _attempt.retries = time.monotonic(), 0
        try:
            response = self.session.request(method, url, stream=True, timeout=(self.connect_timeout_s, read), **kwargs)
        except (requests.RequestException, Urllib3Error) as exc:
            attempts = 1 + _attempt.retries
            reason = _reason(exc)
            raise NetworkError(f"{url} : pas de réponse après {_attempts(attempts)} ({reason}) : vérifier l'adresse "
                               "et le réseau, ou réessayer plus tard",
                               url=url, reason=reason, attempts=attempts) from exc
        return response, _attempt.started, 1 + _attempt.retries

    def _read_body(self, response: requests.Response, url: str, *, started: float, budget: float | None,
                   attempts: int, decode: bool, chunk_size: int, sink: Callable[[bytes], object]) -> int:
        """Stream the body into ``sink`` under the deadline; the bytes read."""
        deadline = None if budget is None else started + budget
        length = response.headers.get("Content-Length", "")
        encoded = decode and response.headers.get("Content-Encoding", "identity").lower() != "identity"
        total = int(length) if length.isdigit() and not encoded else None
        done = 0

        def cut(exc: BaseException | None) -> TransferError:
            if deadline is not None and budget is not None and time.monotonic() >= deadline:
                reason = f"réponse incomplète au bout de {_seconds(budget)} s"
                return BudgetExceededError(f"{url} : {reason} ({_bytes(done)} octets reçus)", url=url, reason=reason,
                                           attempts=attempts, done=done, total=total)
            if total is not None and done < total:
                reason = f"réponse coupée après {_bytes(done)} octets sur {_bytes(total)}"
                return TruncatedError(f"{url} : {reason}", url=url, reason=reason, attempts=attempts, done=done,
                                      total=total)
            reason = _reason(exc) if exc is not None else f"{_bytes(done)} octets au lieu de {_bytes(total)}"
            return TransferError(f"{url} : réponse interrompue après {_bytes(done)} octets ({reason})", url=url,
                                 reason=reason, attempts=attempts, done=done, total=total)

        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise cut(None)
            try:  # read1: whatever has arrived, so that a trickling server meets the deadline too
                part = response.raw.read1(chunk_size, decode_content=decode)
            except (requests.RequestException, Urllib3Error, OSError) as exc:
                raise cut(exc) from exc
            if not part:
                break
            done += len(part)
            sink(part)
        if total is not None and done != total:
            raise cut(None)
        return done

    # -- API ---------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int | float] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        budget_s: float | None = None,
    ) -> Answer:
        """Send a request and read its whole answer (any status: the caller decides what it means).

        Parameters
        ----------
        budget_s
            Total time of one attempt (default: the client's ``budget_s``).

        Raises
        ------
        NetworkError
            No answer after the retries.
        TransferError
            The answer's body did not arrive whole (:class:`BudgetExceededError` past the budget).
        """
        budget = self.budget_s if budget_s is None else float(budget_s)
        response, started, attempts = self._open(method, url, budget, params=params, data=data,
                                                 headers=dict(headers or {}))
        parts: list[bytes] = []
        with response:
            self._read_body(response, url, started=started, budget=budget, attempts=attempts, decode=True,
                            chunk_size=_READ_SIZE, sink=parts.append)
            return Answer(url=response.url, status=response.status_code, headers=CaseInsensitiveDict(response.headers),
                          content=b"".join(parts), attempts=attempts)

    def download(
        self,
        url: str,
        write: Callable[[bytes], object],
        *,
        progress: Progress | None = None,
        budget_s: float | None = None,
        chunk_size: int = 1 << 20,
    ) -> int:
        """Stream ``url``'s bytes, as served (no content decoding), into ``write``; the bytes written.

        ``write`` is the caller's: typically a file opened in an atomic temporary path,
        feeding a hash too. Nothing is retried once the body has begun (the caller's file
        cannot be rewound): a failure raises and the caller drops its temporary file.

        Raises
        ------
        StatusError
            Not a 2xx answer (after the retries, for the retried statuses).
        NetworkError
            No answer after the retries.
        TruncatedError
            The body ended before its announced length.
        TransferError
            The body was interrupted (:class:`BudgetExceededError` past the budget).
        """
        budget = self.budget_s if budget_s is None else float(budget_s)
        response, started, attempts = self._open("GET", url, budget, headers={"Accept-Encoding": "identity"})
        with response:
            if not 200 <= response.status_code < 300:
                raise StatusError(f"{url} : le serveur a répondu HTTP {response.status_code} {response.reason or ''}"
                                  .rstrip(), url=url, status=response.status_code, attempts=attempts)
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            done = 0

            def sink(part: bytes) -> None:
                nonlocal done
                write(part)
                done += len(part)
                if progress is not None:
                    progress(done, total)

            return self._read_body(response, url, started=started, budget=budget, attempts=attempts, decode=False,
                                   chunk_size=chunk_size, sink=sink)
