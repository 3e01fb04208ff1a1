"""The national address API (BAN, ``/search/csv/``): batch geocoding over the Internet.

Only used when the user chooses the ``ban`` backend: building a
:class:`BanGeocoder` sends nothing; :meth:`BanGeocoder.geocode` posts the addresses.

The service documents a limit of 50 requests per second and per IP address (beyond
it, requests are refused for a few seconds) and CSV files of at most 50 MB. This
client stays well inside: files are cut into chunks of ``chunk_rows`` rows and
``chunk_bytes`` bytes, posted one at a time, at most ``requests_per_second`` per
second. ``429 Too Many Requests`` and ``5xx`` answers (and network errors) are
retried with exponential backoff (``Retry-After`` honoured), and rows missing from an
answer (a truncated file) are sent again.
"""

from __future__ import annotations

import csv
import io
import math
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from email.message import Message

from zonage.errors import ZonageError
from zonage.geocode.base import Match, Query

__all__ = ["BAN_URL", "BanGeocoder"]

#: The official API (the IGN Géoplateforme serves the same API at https://data.geopf.fr/geocodage).
BAN_URL = "https://api-adresse.data.gouv.fr"
#: Published rate limit of the API (requests per second and per IP address).
PUBLISHED_RATE_LIMIT = 50.0
#: Largest CSV file the API accepts (bytes).
PUBLISHED_MAX_BYTES = 50_000_000
_RESULT = ("latitude", "longitude", "result_label", "result_score", "result_type", "result_postcode",
           "result_citycode", "result_city")


class BanGeocoder:
    """Client of the BAN CSV endpoint.

    Parameters
    ----------
    base_url
        API root (default :data:`BAN_URL`); the endpoint is ``base_url + path``.
    path
        Endpoint path, ``/search/csv/``.
    chunk_rows, chunk_bytes
        Largest chunk posted at once (rows, bytes of CSV).
    requests_per_second
        Upper bound on the request rate (kept far below the published 50/s: each
        request geocodes a whole chunk).
    max_retries
        Further attempts per chunk after a 429, a 5xx, a network error or a truncated answer.
    backoff_s, max_backoff_s
        First wait before a retry (doubled each time) and its ceiling; a
        ``Retry-After`` header, when given, is used instead (within the ceiling).
    timeout_s
        Total budget of one request, in seconds: sending the chunk, waiting for the answer
        and reading it (a server that accepts the connection and then stalls, or sends a
        byte now and then, is given up after this time, then retried as a network error).
    connect_timeout_s
        Seconds to open a connection before anything is sent: a dead address or a refused
        connection is reported at once, not after the retries.
    sleep
        Function used to wait (tests may record the waits).
    """

    name = "ban"

    def __init__(
        self,
        base_url: str = BAN_URL,
        *,
        path: str = "/search/csv/",
        chunk_rows: int = 5_000,
        chunk_bytes: int = 5_000_000,
        requests_per_second: float = 1.0,
        max_retries: int = 6,
        backoff_s: float = 2.0,
        max_backoff_s: float = 60.0,
        timeout_s: float = 600.0,
        connect_timeout_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < requests_per_second <= PUBLISHED_RATE_LIMIT:
            raise ZonageError(f"requests_per_second must be in (0, {PUBLISHED_RATE_LIMIT:g}] (the API's limit)")
        if not 0 < chunk_bytes <= PUBLISHED_MAX_BYTES:
            raise ZonageError(f"chunk_bytes must be in (0, {PUBLISHED_MAX_BYTES}] (the API's limit)")
        self.endpoint = base_url.rstrip("/") + "/" + path.lstrip("/")
        self.chunk_rows = max(1, int(chunk_rows))
        self.chunk_bytes = int(chunk_bytes)
        self.interval_s = 1.0 / float(requests_per_second)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.sleep = sleep
        self.cache_key = f"ban:{self.endpoint}"
        self.batch_size = self.chunk_rows
        self.requests = 0
        self._last = -math.inf

    # -- chunks ------------------------------------------------------------------------------
    def _chunks(self, queries: Sequence[Query], rows: Sequence[int]) -> list[list[int]]:
        """Rows grouped into chunks under ``chunk_rows`` and ``chunk_bytes``."""
        chunks: list[list[int]] = []
        current: list[int] = []
        size = len("zid,q\r\n")
        for i in rows:
            line = len(_csv_line([str(i), queries[i].text]).encode("utf-8"))
            if current and (len(current) >= self.chunk_rows or size + line > self.chunk_bytes):
                chunks.append(current)
                current, size = [], len("zid,q\r\n")
            current.append(i)
            size += line
        if current:
            chunks.append(current)
        return chunks

    # -- HTTP --------------------------------------------------------------------------------
    def _wait_turn(self) -> None:
        delay = self._last + self.interval_s - time.monotonic()
        if delay > 0:
            self.sleep(delay)
        self._last = time.monotonic()

    def _post(self, body: bytes, boundary: str) -> tuple[int, Message | None, bytes]:
        request = urllib.request.Request(self.endpoint, data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "User-Agent": "zonage (batch eligibility of health structures)",
            "Accept": "text/csv",
        })
        self._wait_turn()
        self.requests += 1
        deadline = time.monotonic() + self.timeout_s
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                parts = []
                while True:  # read under the total budget, not one socket timeout per read
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"no complete answer within {self.timeout_s:g} s")
                    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
                    if sock is not None:
                        sock.settimeout(max(min(left, self.timeout_s), 0.01))
                    part = response.read1(1 << 16) if hasattr(response, "read1") else response.read()
                    if not part:
                        break
                    parts.append(part)
                return response.status, response.headers, b"".join(parts)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read() if exc.fp else b""

    def _delay(self, attempt: int, headers: Message | None) -> float:
        retry_after = headers.get("Retry-After") if headers is not None else None
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff_s)
            except ValueError:
                pass
        return min(self.backoff_s * 2 ** attempt, self.max_backoff_s)

    def _send(self, queries: Sequence[Query], chunk: list[int]) -> dict[int, Match | None]:
        """Post one chunk, retrying; the answers of the rows the server returned."""
        body, boundary = _multipart(chunk, queries)
        problem = ""
        for attempt in range(self.max_retries + 1):
            try:
                status, headers, payload = self._post(body, boundary)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                if isinstance(reason, ConnectionRefusedError | socket.gaierror):  # no server there: say so now
                    raise ZonageError(f"BAN API {self.endpoint}: connection refused or unknown host ({reason}); "
                                      "check the address and the network, or use --geocoder addok or commune") from None
                status, headers, payload, problem = 0, None, b"", f"network error: {exc}"
            if status == 200:
                return _parse(payload)
            if status == 429 or status >= 500 or status == 0:
                problem = problem if status == 0 else f"HTTP {status}"
                if attempt < self.max_retries:
                    self.sleep(self._delay(attempt, headers))
                continue
            text = payload[:300].decode("utf-8", errors="replace")
            raise ZonageError(f"BAN API {self.endpoint} refused the file: HTTP {status} {text}")
        raise ZonageError(f"BAN API {self.endpoint}: gave up after {self.max_retries + 1} attempts ({problem})")

    def _reachable(self) -> None:
        """Open (and close) a TCP connection within ``connect_timeout_s``: a dead address fails in seconds."""
        parsed = urllib.parse.urlsplit(self.endpoint)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname or "", port), timeout=self.connect_timeout_s).close()
        except OSError as exc:
            raise ZonageError(f"BAN API {self.endpoint}: cannot connect within {self.connect_timeout_s:g} s ({exc}); "
                              "check the address and the network, or use --geocoder addok or commune") from None

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        """Best match (or None) for each query, in order (posts the addresses to the API)."""
        if any(q.text for q in queries):
            self._reachable()
        results: list[Match | None] = [None] * len(queries)
        todo = [i for i, q in enumerate(queries) if q.text]
        for chunk in self._chunks(queries, todo):
            missing = chunk
            for _ in range(self.max_retries + 1):
                answers = self._send(queries, missing)
                for i in missing:
                    if i in answers:
                        results[i] = answers[i]
                missing = [i for i in missing if i not in answers]
                if not missing:
                    break
            if missing:
                raise ZonageError(f"BAN API {self.endpoint}: {len(missing)} rows still missing from its answers "
                                  f"after {self.max_retries + 1} attempts")
        return results


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def _multipart(chunk: list[int], queries: Sequence[Query]) -> tuple[bytes, str]:
    """``multipart/form-data`` body: ``columns=q`` and the CSV file (``zid``, ``q``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["zid", "q"])
    for i in chunk:
        writer.writerow([str(i), queries[i].text])
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="columns"\r\n\r\nq\r\n'.encode(),
        (f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="addresses.csv"\r\n'
         "Content-Type: text/csv; charset=utf-8\r\n\r\n").encode(),
        buffer.getvalue().encode("utf-8"),
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), boundary


def _float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _parse(payload: bytes) -> dict[int, Match | None]:
    """Answers by ``zid`` from the CSV the API returns (input columns + ``latitude``… ``result_*``)."""
    text = payload.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "zid" not in reader.fieldnames:
        raise ZonageError(f"BAN API answer is not the expected CSV (columns: {reader.fieldnames})")
    missing = [c for c in ("latitude", "longitude") if c not in reader.fieldnames]
    if missing:
        raise ZonageError(f"BAN API answer lacks the columns {missing}")
    answers: dict[int, Match | None] = {}
    for row in reader:
        try:
            zid = int(row["zid"])
        except (TypeError, ValueError):
            continue
        lat, lon = _float(row.get("latitude")), _float(row.get("longitude"))
        status = (row.get("result_status") or "ok").strip()
        if math.isnan(lat) or math.isnan(lon) or status not in ("ok", ""):
            answers[zid] = None
            continue
        match = Match(lon=lon, lat=lat, score=_float(row.get("result_score")) if row.get("result_score") else 0.0,
                      type=(row.get("result_type") or "").strip(), label=(row.get("result_label") or "").strip(),
                      postcode=(row.get("result_postcode") or "").strip(),
                      citycode=(row.get("result_citycode") or "").strip(), city=(row.get("result_city") or "").strip())
        answers[zid] = match if match.valid else None
    return answers
