"""The national address API (BAN, ``/search/csv/``): batch geocoding over the Internet.

Only used when the user chooses the ``ban`` backend: building a
:class:`BanGeocoder` sends nothing; :meth:`BanGeocoder.geocode` posts the addresses.

The service documents a limit of 50 requests per second and per IP address (beyond
it, requests are refused for a few seconds) and CSV files of at most 50 MB. This
client stays well inside: files are cut into chunks of ``chunk_rows`` rows and
``chunk_bytes`` bytes, posted one at a time, at most ``requests_per_second`` per
second. The transport is :mod:`zonage.http`: ``429 Too Many Requests`` and ``5xx``
answers (and network errors) are retried by urllib3 with exponential backoff
(``Retry-After`` honoured), each attempt within a total time budget; rows missing
from an answer (a truncated file, or a body cut or stalled) are sent again.
"""

from __future__ import annotations

import csv
import io
import math
import time
import uuid
from collections.abc import Callable, Sequence

from zonage.errors import ZonageError
from zonage.geocode.base import Match, Query
from zonage.http import RETRY_STATUSES, Answer, HttpClient, HttpError, NetworkError, TransferError, check_connect
from zonage.numbers import french_number

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
        request geocodes a whole chunk). Retries are no faster: their first wait is
        at least ``1 / requests_per_second``.
    max_retries
        Further attempts per chunk after a 429, a 5xx, a network error or a truncated answer.
    backoff_s, max_backoff_s
        First wait before a retry (doubled each time) and its ceiling; a
        ``Retry-After`` header, when given, is used instead (within the ceiling).
    timeout_s
        Total budget of one request, in seconds: sending the chunk, waiting for the answer
        and reading it (a server that accepts the connection and then stalls, or sends a
        byte now and then, is given up after this time, then retried).
    connect_timeout_s
        Seconds to open a connection before anything is sent: a dead address or a refused
        connection is reported at once, not after the retries.
    sleep
        Function used to wait between two requests for the rate limit (the waits between
        retries are urllib3's: ``backoff_s`` and ``Retry-After``).
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
            raise ZonageError(f"requests_per_second = {_number(requests_per_second)} : doit être supérieur à 0 et au "
                              f"plus {_number(PUBLISHED_RATE_LIMIT)} (la limite publiée de l'API BAN)")
        if not 0 < chunk_bytes <= PUBLISHED_MAX_BYTES:
            raise ZonageError(f"chunk_bytes = {french_number(chunk_bytes, 0)} : doit être supérieur à 0 et au plus "
                              f"{french_number(PUBLISHED_MAX_BYTES, 0)} octets (la limite publiée de l'API BAN)")
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
        self._http: HttpClient | None = None

    @property
    def http(self) -> HttpClient:
        """The HTTP client (built on first use)."""
        if self._http is None:
            # POST is retried like GET: the CSV endpoint is idempotent (posting the same file
            # again geocodes it again, with the same answer, and changes nothing on the server).
            self._http = HttpClient(
                retries=self.max_retries, backoff_s=max(self.backoff_s, self.interval_s),
                max_backoff_s=max(self.max_backoff_s, self.interval_s), retry_post=True,
                connect_timeout_s=self.connect_timeout_s, read_timeout_s=self.timeout_s, budget_s=self.timeout_s,
                pool_size=1,
            )
        return self._http

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

    def _post(self, body: bytes, boundary: str) -> Answer:
        """Post one chunk (urllib3 retries it); the final answer."""
        self._wait_turn()
        try:
            answer = self.http.request("POST", self.endpoint, data=body, headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Accept": "text/csv",
            })
        except HttpError as exc:
            self.requests += exc.attempts
            raise
        self.requests += answer.attempts
        if answer.attempts > 1:  # the rate counts from the last retry
            self._last = time.monotonic()
        return answer

    def _send(self, queries: Sequence[Query], chunk: list[int]) -> dict[int, Match | None]:
        """Post one chunk; the answers of the rows the server returned."""
        body, boundary = _multipart(chunk, queries)
        try:
            answer = self._post(body, boundary)
        except NetworkError as exc:
            raise ZonageError(f"API BAN {self.endpoint} : abandon après {_attempts(exc.attempts)} "
                              f"(erreur réseau : {exc.reason}) : réessayer plus tard") from None
        if answer.status == 200:
            return _parse(answer.content)
        if answer.status in RETRY_STATUSES:
            raise ZonageError(f"API BAN {self.endpoint} : abandon après {_attempts(answer.attempts)} "
                              f"(HTTP {answer.status}) : service saturé ou indisponible, réessayer plus tard")
        text = " ".join(answer.content[:300].decode("utf-8", errors="replace").split())
        raise ZonageError(f"API BAN {self.endpoint} : fichier refusé : HTTP {answer.status} {text}".rstrip())

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        """Best match (or None) for each query, in order (posts the addresses to the API)."""
        if any(q.text for q in queries):
            try:  # a dead address fails in seconds, not after the retries
                check_connect(self.endpoint, self.connect_timeout_s)
            except NetworkError as exc:
                raise ZonageError(f"API BAN {self.endpoint} : connexion impossible en "
                                  f"{_number(self.connect_timeout_s)} s ({exc.reason}) : vérifier l'adresse et le "
                                  "réseau, ou choisir le géocodeur addok (local) ou commune") from None
        results: list[Match | None] = [None] * len(queries)
        todo = [i for i, q in enumerate(queries) if q.text]
        for chunk in self._chunks(queries, todo):
            missing, problem = chunk, ""
            for _ in range(self.max_retries + 1):
                try:
                    answers, problem = self._send(queries, missing), ""
                except TransferError as exc:  # an answer cut or stalled: like a truncated file, its rows go again
                    answers, problem = {}, exc.reason
                for i in missing:
                    if i in answers:
                        results[i] = answers[i]
                missing = [i for i in missing if i not in answers]
                if not missing:
                    break
            if missing and problem:
                raise ZonageError(f"API BAN {self.endpoint} : abandon après {_attempts(self.max_retries + 1)} "
                                  f"(erreur réseau : {problem}) : réessayer plus tard")
            if missing:
                raise ZonageError(f"API BAN {self.endpoint} : {french_number(len(missing), 0)} adresse"
                                  f"{'s' * (len(missing) > 1)} toujours absente{'s' * (len(missing) > 1)} de ses "
                                  f"réponses après {_attempts(self.max_retries + 1)} : réessayer plus tard")
        return results


def _number(value: float) -> str:
    """A number as a French reader writes it (``0,5``, ``50``)."""
    return f"{value:g}".replace(".", ",")


def _attempts(attempts: int) -> str:
    return f"{attempts} tentative{'s' * (attempts > 1)}"


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
        columns = ", ".join(reader.fieldnames or []) or "aucune"
        raise ZonageError(f"API BAN : la réponse n'est pas le CSV attendu (colonnes : {columns}) : vérifier l'adresse "
                          "de l'API")
    missing = [c for c in ("latitude", "longitude") if c not in reader.fieldnames]
    if missing:
        raise ZonageError(f"API BAN : colonnes {', '.join(missing)} absentes de la réponse : vérifier l'adresse de "
                          "l'API")
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
