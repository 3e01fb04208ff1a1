"""Geocoding (issue 4): cleaning, commune fallback, a real local addok + Redis, the BAN CSV client.

The addok tests start a real ``redis-server`` and addok's HTTP API on free ports of
127.0.0.1, index the 2,000 real BANO addresses of the mirror, and stop both servers
at the end even when a test fails. The BAN client is tested against a small HTTP
server on 127.0.0.1 speaking the ``/search/csv/`` format. No mock of a geocoder, no
real web service.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import typer
from typer.testing import CliRunner

from zonage.crs import LAMBERT93
from zonage.eligibility import assess
from zonage.errors import InputDataError, ZonageError
from zonage.geocode import (
    GEO_COLUMNS,
    GeocodeCache,
    Geocoding,
    Query,
    clean_address,
    geocode_frame,
    make_geocoder,
)
from zonage.geocode.ban import BanGeocoder
from zonage.geocode.commune import CommuneGeocoder
from zonage.locate import Locator
from zonage.rules import load_schemes

SAMPLE = "addresses/bano_correze_sample.csv"
BANO = ["id", "housenumber", "street", "postcode", "city", "source", "lat", "lon"]
SCHEMES = load_schemes()


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * np.arcsin(np.sqrt(h))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


@pytest.fixture(scope="module")
def bano(mirror: Path) -> pd.DataFrame:
    """The 2,000 real BANO addresses (read in place from the mirror, never copied)."""
    return pd.read_csv(mirror / SAMPLE, header=None, names=BANO, dtype=str, keep_default_na=False)


def _need_addok() -> None:
    """Skip without addok or redis-server on a developer machine; fail under CI=true."""
    missing = []
    try:
        import addok  # noqa: F401
    except ImportError:
        missing.append("addok (pip install -e '.[geocode]')")
    if shutil.which("redis-server") is None:
        missing.append("redis-server (apt-get install redis-server)")
    if missing:
        message = "not installed: " + ", ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


# -- servers ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def addok(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A real redis-server + addok HTTP API on free ports of 127.0.0.1, the BANO sample indexed.

    Both processes are stopped in ``finally``, whatever happens in the tests.
    """
    _need_addok()
    from zonage.geocode.addok import AddokServer, RedisServer, index_addresses, write_config

    folder = tmp_path_factory.mktemp("addok")
    redis = RedisServer(folder)
    server = None
    try:
        redis.start()
        config = write_config(folder / "addok.conf", redis_port=redis.port)
        report = index_addresses([mirror / SAMPLE], config)
        assert report.addresses == 2001 and report.municipalities == 3
        server = AddokServer(config).start()
        assert server.host == "127.0.0.1"
        yield SimpleNamespace(url=server.url, config=config)
    finally:
        if server is not None:
            server.stop()
        redis.stop()
    assert server is not None and server.process is not None and server.process.poll() is not None
    assert redis.process is not None and redis.process.poll() is not None


# -- cleaning --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "street", "postcode", "city", "cedex", "bp"), [
    (("BP 45 - 12 av. Victor Hugo", "19012", "Tulle CEDEX"), "12 avenue Victor Hugo", None, "Tulle", True, True),
    (("3 rue Foch 19000 Tulle", None, None), "3 rue Foch", "19000", "Tulle", False, False),
    (("Bât. B, 2e étage, 4 bd Gambetta", "19100", "BRIVE CEDEX 2"), "4 boulevard Gambetta", None, "BRIVE", True,
     False),
    (("CS 30012, 10 PL ALLEGRE", 19240, "ALLASSAC"), "10 PLACE ALLEGRE", "19240", "ALLASSAC", False, True),
    (("1 rue X 19100 BRIVE CEDEX 2", None, None), "1 rue X", None, "BRIVE", True, False),
    (("", "1400", "Ambérieu"), "", "01400", "Ambérieu", False, False),
    ((None, None, "19240 Allassac"), "", "19240", "Allassac", False, False),
    ((None, "13001", "Marseille 1er arrondissement"), "", "13001", "Marseille 1er arrondissement", False, False),
    (("lieu-dit Le Bourg", "19230", None), "Le Bourg", "19230", "", False, False),
])
def test_clean_address(given, street, postcode, city, cedex, bp) -> None:
    cleaned = clean_address(*given)
    assert cleaned.query.street == street
    assert cleaned.query.postcode == postcode
    assert cleaned.query.city == city
    assert (cleaned.cedex, cleaned.bp) == (cedex, bp)
    if cedex and given[1]:  # a CEDEX code is not sent, but still names the département
        assert cleaned.given_postcode and cleaned.query.department == cleaned.given_postcode[:2]


def test_cache_key_includes_backend(tmp_path: Path) -> None:
    from zonage.geocode.base import Match

    match = Match(lon=1.5, lat=45.2, score=0.9, type="housenumber", label="x")
    with GeocodeCache(tmp_path / "c.sqlite") as cache:
        cache.put_many("addok:http://a", [("k1", match), ("k2", None)])
        got = cache.get_many("addok:http://a", ["k1", "k2", "k3"])
        assert got[0] == match and got[1] is None and got[2] is not None and not isinstance(got[2], type(match))
        assert all(v is not match for v in cache.get_many("ban:https://b", ["k1"]))
        assert cache.clear("addok:") == 2 and len(cache) == 0


def test_geocode_frame_needs_address_columns() -> None:
    with pytest.raises(InputDataError, match=r"aucune colonne d'adresse à géocoder \(colonnes lues : a\)"):
        geocode_frame(pd.DataFrame({"a": [1]}), BanGeocoder("http://127.0.0.1:9"))


# -- commune fallback --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def commune_geocoder(build_layers) -> CommuneGeocoder:
    from zonage.studies.locators import commune_geocoder as from_layers

    return from_layers(build_layers("communes", "crosswalk"))


@pytest.mark.parametrize(("address", "insee", "score"), [
    ((None, "19240", "Allassac"), "19005", 1.0),
    ((None, "19012", "TULLE CEDEX"), "19272", 0.9),  # CEDEX code not used, name unique in the département
    ((None, "19400", "Argentat"), "19010", 0.8),  # renamed Argentat-sur-Dordogne in 2019
    ((None, "19400", "Allassac"), "19005", 0.7),  # wrong postcode, name found in the département
    ((None, "19000", "Tule"), "19272", 0.6),  # misspelt
    ((None, "75011", "PARIS"), "75056", 1.0),
    ((None, "20000", "Ajaccio"), "2A004", 1.0),
    ((None, None, "Saint-Martin"), None, None),  # homonyms, no département: not a guess
    ((None, "19230", None), None, None),  # postcode shared by several communes
])
def test_commune_fallback(commune_geocoder: CommuneGeocoder, address, insee, score) -> None:
    match = commune_geocoder.geocode([clean_address(*address).query])[0]
    if insee is None:
        assert match is None
        return
    assert match is not None and match.type == "municipality"
    assert (match.citycode, match.score) == (insee, score)


def test_commune_fallback_frame_flags(commune_geocoder: CommuneGeocoder) -> None:
    frame = pd.DataFrame({"adresse": ["", "", "x", ""], "cp": ["19240", "19400", "", ""],
                          "ville": ["Allassac", "Allassac", "", ""]})
    geo = geocode_frame(frame, commune_geocoder)
    assert len(geo) == 4 and list(geo.columns) == list(GEO_COLUMNS)
    assert geo["geo_status"].tolist() == ["commune_only", "commune_only", "not_found", "no_address"]
    assert "postcode_mismatch" in geo.loc[1, "geo_flags"] and "commune_only" in geo.loc[0, "geo_flags"]
    assert not geo.loc[0, "geo_postcode_mismatch"] and geo.loc[1, "geo_postcode_mismatch"]


# -- local addok -------------------------------------------------------------------------------------
def test_addok_intact_addresses_cold_and_cached(addok: SimpleNamespace, bano: pd.DataFrame, tmp_path: Path) -> None:
    from zonage.geocode.addok import AddokGeocoder

    frame = pd.DataFrame({"adresse": bano["housenumber"] + " " + bano["street"], "code_postal": bano["postcode"],
                          "ville": bano["city"]})

    class Counting(AddokGeocoder):  # the real client, counting what it sends
        sent = 0

        def geocode(self, queries):
            Counting.sent += len(queries)
            return super().geocode(queries)

    with GeocodeCache(tmp_path / "geocode.sqlite") as cache:
        geocoding = Geocoding(Counting(addok.url), cache)
        geo = geocode_frame(frame, geocoding)
        again = geocode_frame(frame, geocoding)
    distance = _metres(geo["geo_lon"], geo["geo_lat"], bano["lon"], bano["lat"])
    share = float(np.mean(distance < 50))
    assert share >= 0.95
    assert (geo["geo_type"] == "housenumber").mean() >= 0.95
    assert (geo["geo_status"] == "ok").mean() >= 0.95
    assert geo["geo_score"].min() > 0.5 and not geo["geo_cached"].any()
    # the re-run asked nothing: every answer from the cache, identical
    assert Counting.sent == geo["geo_query"].nunique()
    assert again["geo_cached"].all()
    pd.testing.assert_frame_equal(again.drop(columns="geo_cached"), geo.drop(columns="geo_cached"))


DAMAGES = {
    "no_accents": lambda r: (_ascii(f"{r.housenumber} {r.street}").upper(), r.postcode, _ascii(r.city).upper()),
    "abbreviations": lambda r: (f"{r.housenumber} {_abbreviate(r.street)}", r.postcode, r.city),
    "both": lambda r: (_ascii(f"{r.housenumber} {_abbreviate(r.street)}").lower(), r.postcode, _ascii(r.city)),
    "wrong_postcode": lambda r: (f"{r.housenumber} {r.street}", {"19240": "19400", "19400": "19230",
                                                                  "19230": "19240"}[r.postcode], r.city),
    "cedex": lambda r: (f"BP 12 {r.housenumber} {r.street}", r.postcode[:2] + "0" + r.postcode[3:],
                        f"{r.city.upper()} CEDEX 1"),
    "no_number": lambda r: (r.street, r.postcode, r.city),
}
_SHORT = {"Avenue": "av", "Place": "pl", "Boulevard": "bd", "Rue": "r", "Impasse": "imp", "Route": "rte",
          "Allée": "all"}


def _abbreviate(street: str) -> str:
    first, _, rest = street.partition(" ")
    return f"{_SHORT.get(first, first)} {rest}" if rest else street


@pytest.fixture(scope="module")
def damaged_sample(bano: pd.DataFrame) -> pd.DataFrame:
    real = bano[bano["id"].str.match(r"^19\d{3}")]  # one row of the sample has no BANO id
    shortened = real[real["street"].str.split().str[0].isin(_SHORT)]
    return shortened.sample(120, random_state=7).reset_index(drop=True)


def test_addok_damaged_addresses(addok: SimpleNamespace, damaged_sample: pd.DataFrame) -> None:
    from zonage.geocode.addok import AddokGeocoder

    geocoder = AddokGeocoder(addok.url)
    sample = damaged_sample
    intact = geocode_frame(pd.DataFrame({"adresse": sample["housenumber"] + " " + sample["street"],
                                         "cp": sample["postcode"], "commune": sample["city"]}), geocoder)
    results = {}
    for name, damage in DAMAGES.items():
        frame = pd.DataFrame([damage(r) for r in sample.itertuples()], columns=["adresse", "cp", "commune"])
        geo = geocode_frame(frame, geocoder)
        within = float(np.mean(_metres(geo["geo_lon"], geo["geo_lat"], sample["lon"], sample["lat"]) < 50))
        results[name] = (within, geo)
    for name in ("no_accents", "abbreviations", "both", "wrong_postcode", "cedex"):
        assert results[name][0] >= 0.95, name
    for name in ("no_accents", "abbreviations", "both"):
        assert (results[name][1]["geo_status"] == "ok").mean() >= 0.95, name
    wrong = results["wrong_postcode"][1]
    assert wrong["geo_postcode_mismatch"].all() and (wrong["geo_status"] == "review").all()
    assert (wrong["geo_score"] < intact["geo_score"]).all()  # ranked below the intact address
    cedex = results["cedex"][1]
    assert cedex["geo_cedex_cleaned"].all() and cedex["geo_bp_cleaned"].all()
    assert not cedex["geo_postcode_mismatch"].any() and (cedex["geo_status"] == "ok").mean() >= 0.95
    no_number = results["no_number"][1]
    assert (no_number["geo_type"] == "street").all()
    found_street = [s.lower() in str(label).lower() for s, label in zip(sample["street"], no_number["geo_label"],
                                                                        strict=True)]
    assert np.mean(found_street) >= 0.95
    assert not no_number["geo_flags"].str.contains("housenumber_not_found").any()


def test_addok_handles_raw_abbreviations_and_nonsense(addok: SimpleNamespace) -> None:
    from zonage.geocode.addok import AddokGeocoder

    geocoder = AddokGeocoder(addok.url)
    exact, raw, number_unknown, nonsense, town = geocoder.geocode([
        Query("10 Place Allègre", "19240", "Allassac"),
        Query("10 pl allegre", "19240", "allassac"),  # not cleaned: addok-fr synonyms
        Query("999 Place Allègre", "19240", "Allassac"),
        Query("12 chemin des nuages", "99999", "Nullepart"),
        Query("", "19240", "Allassac"),
    ])
    assert exact.type == raw.type == "housenumber" and raw.score < exact.score
    assert _metres(raw.lon, raw.lat, exact.lon, exact.lat) < 1
    assert number_unknown.type == "street" and number_unknown.score <= exact.score
    assert town.type == "municipality" and town.citycode == "19005"
    frame = pd.DataFrame({"adresse": ["999 Place Allègre", "12 chemin des nuages"], "cp": ["19240", "99999"],
                          "ville": ["Allassac", "Nullepart"]})
    geo = geocode_frame(frame, geocoder)
    assert "housenumber_not_found" in geo.loc[0, "geo_flags"]
    assert nonsense is None or (geo.loc[1, "geo_low_score"] and geo.loc[1, "geo_status"] == "review")


def test_addok_in_process(addok: SimpleNamespace, bano: pd.DataFrame) -> None:
    from zonage.geocode.addok import AddokGeocoder, AddokInProcess

    sample = bano.head(200)
    frame = pd.DataFrame({"adresse": sample["housenumber"] + " " + sample["street"], "cp": sample["postcode"],
                          "ville": sample["city"]})
    local = AddokInProcess(addok.config)  # same Redis as the HTTP server, no HTTP
    direct = geocode_frame(frame, local)
    over_http = geocode_frame(frame, AddokGeocoder(addok.url))
    pd.testing.assert_frame_equal(direct.drop(columns="geo_cached"), over_http.drop(columns="geo_cached"))
    assert local.cache_key != AddokGeocoder(addok.url).cache_key


# -- BAN API client ----------------------------------------------------------------------------------
class _FakeBan:
    """A local HTTP server speaking the BAN ``/search/csv/`` format, with scripted failures."""

    HEADER = ("latitude", "longitude", "result_label", "result_score", "result_score_next", "result_type",
              "result_id", "result_housenumber", "result_name", "result_street", "result_postcode", "result_city",
              "result_context", "result_citycode", "result_oldcitycode", "result_oldcity", "result_district",
              "result_status")

    def __init__(self, known: dict[str, tuple[float, float, str]]) -> None:
        self.known = known
        self.script: list[tuple[int, dict[str, str]]] = []  # answers before the normal ones
        self.truncate_once = 0
        self.stall = 0  # answers that send their headers and a few bytes, then nothing
        self.release = threading.Event()
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = BytesParser(policy=HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body)
                fields = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                          for part in message.iter_parts()}
                rows = list(csv.DictReader(io.StringIO(fields["data"].decode("utf-8"))))
                fake.requests.append({"time": time.monotonic(), "path": self.path, "rows": len(rows),
                                      "columns": fields.get("columns", b"").decode(), "bytes": len(fields["data"])})
                if fake.stall:
                    fake.stall -= 1
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b"zid,q,latitude")
                    self.wfile.flush()
                    fake.release.wait(10)
                    return
                if fake.script:
                    status, headers = fake.script.pop(0)
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(b"error")
                    return
                if fake.truncate_once:
                    rows = rows[:fake.truncate_once]
                    fake.truncate_once = 0
                out = io.StringIO()
                writer = csv.writer(out)
                writer.writerow(["zid", "q", *self.server.header])
                for row in rows:
                    hit = fake.known.get(row["q"].casefold())
                    if hit:
                        lat, lon, label = hit
                        result = [lat, lon, label, "0.95", "", "housenumber", "id", "", "", "", "19240",
                                  "Allassac", "19, Corrèze", "19005", "", "", "", "ok"]
                    else:
                        result = ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "not-found"]
                    writer.writerow([row["zid"], row["q"], *result])
                data = out.getvalue().encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.header = self.HEADER
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> _FakeBan:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_ban(bano: pd.DataFrame) -> Iterator[_FakeBan]:
    known = {}
    for r in bano.head(300).itertuples():
        text = clean_address(f"{r.housenumber} {r.street}", r.postcode, r.city).query.text
        known[text.casefold()] = (r.lat, r.lon, f"{r.housenumber} {r.street} {r.postcode} {r.city}")
    with _FakeBan(known) as server:
        yield server


def _queries(bano: pd.DataFrame, n: int) -> list[Query]:
    return [clean_address(f"{r.housenumber} {r.street}", r.postcode, r.city).query for r in bano.head(n).itertuples()]


def test_ban_client_429_then_success(fake_ban: _FakeBan, bano: pd.DataFrame) -> None:
    fake_ban.script = [(429, {"Retry-After": "1"})]
    client = BanGeocoder(fake_ban.url, backoff_s=0.01, requests_per_second=50.0)
    found = client.geocode(_queries(bano, 20))
    assert all(m is not None and m.type == "housenumber" for m in found)
    assert len(fake_ban.requests) == 2 and client.requests == 2
    assert fake_ban.requests[1]["time"] - fake_ban.requests[0]["time"] >= 0.95  # Retry-After honoured
    assert fake_ban.requests[0]["path"] == "/search/csv/" and fake_ban.requests[0]["columns"] == "q"
    first = bano.iloc[0]
    assert abs(found[0].lat - float(first["lat"])) < 1e-9 and found[0].postcode == "19240"


def test_ban_client_500_then_success_and_gives_up(fake_ban: _FakeBan, bano: pd.DataFrame) -> None:
    fake_ban.script = [(500, {}), (503, {})]
    client = BanGeocoder(fake_ban.url, backoff_s=0.1, requests_per_second=50.0)
    assert all(m is not None for m in client.geocode(_queries(bano, 5)))
    times = [r["time"] for r in fake_ban.requests]
    assert len(times) == 3 and client.requests == 3
    assert times[1] - times[0] >= 0.09 and times[2] - times[1] >= 0.19  # exponential backoff: 0.1 s, 0.2 s
    fake_ban.script = [(502, {})] * 3
    stubborn = BanGeocoder(fake_ban.url, backoff_s=0, max_retries=2, requests_per_second=50.0)
    with pytest.raises(ZonageError, match=r"abandon après 3 tentatives \(HTTP 502\)"):
        stubborn.geocode(_queries(bano, 5))
    fake_ban.requests.clear()
    fake_ban.script = [(400, {})]
    with pytest.raises(ZonageError, match="fichier refusé : HTTP 400"):
        BanGeocoder(fake_ban.url, requests_per_second=50.0).geocode(_queries(bano, 5))
    assert len(fake_ban.requests) == 1  # a refusal is not retried


def test_ban_client_stalled_answer_is_sent_again_then_given_up(fake_ban: _FakeBan, bano: pd.DataFrame) -> None:
    """An answer whose body stalls after its headers ends at the total budget (timeout_s); its rows go again."""
    fake_ban.stall = 1
    started = time.monotonic()
    found = BanGeocoder(fake_ban.url, timeout_s=0.5, backoff_s=0, requests_per_second=50.0).geocode(_queries(bano, 5))
    assert all(m is not None for m in found) and len(fake_ban.requests) == 2
    assert time.monotonic() - started < 3
    fake_ban.stall = 10
    started = time.monotonic()
    given_up = r"abandon après 2 tentatives \(erreur réseau : réponse incomplète au bout de 0,5 s"
    with pytest.raises(ZonageError, match=given_up):
        BanGeocoder(fake_ban.url, timeout_s=0.5, max_retries=1, backoff_s=0,
                    requests_per_second=50.0).geocode(_queries(bano, 5))
    assert time.monotonic() - started < 3


def test_ban_client_chunks_rate_and_truncation(fake_ban: _FakeBan, bano: pd.DataFrame) -> None:
    queries = [*_queries(bano, 250), Query("1 rue de nulle part", "19240", "Allassac")]
    client = BanGeocoder(fake_ban.url, chunk_rows=100, requests_per_second=5.0)
    found = client.geocode(queries)
    assert [r["rows"] for r in fake_ban.requests] == [100, 100, 51]
    gaps = np.diff([r["time"] for r in fake_ban.requests])
    assert (gaps >= 0.15).all()  # at most 5 requests per second (0.2 s apart, less the server's jitter)
    assert sum(m is not None for m in found) == 250 and found[-1] is None
    by_bytes = BanGeocoder(fake_ban.url, chunk_bytes=2_000, requests_per_second=50.0)
    fake_ban.requests.clear()
    by_bytes.geocode(queries[:60])
    assert len(fake_ban.requests) > 1 and all(r["bytes"] <= 2_000 for r in fake_ban.requests)
    fake_ban.requests.clear()
    fake_ban.truncate_once = 7  # a truncated answer: the missing rows are sent again
    again = BanGeocoder(fake_ban.url, requests_per_second=50.0).geocode(queries[:30])
    assert [r["rows"] for r in fake_ban.requests] == [30, 23] and all(m is not None for m in again)


def test_ban_sends_nothing_until_asked() -> None:
    geocoding = make_geocoder("ban")
    assert geocoding.geocoder.requests == 0 and geocoding.cache_key.startswith("ban:https://api-adresse")
    with pytest.raises(ZonageError, match=r"requests_per_second = 100 : doit être supérieur à 0 et au plus 50 "):
        BanGeocoder(requests_per_second=100)


# -- batch eligibility from addresses ------------------------------------------------------------------
X0, Y0 = 900_000.0, 6_900_000.0


def _toy(qpv_class: str | None) -> tuple[Locator, CommuneGeocoder]:
    a = shapely.box(X0, Y0, X0 + 10_000, Y0 + 10_000)
    b = shapely.box(X0 + 10_000, Y0, X0 + 20_000, Y0 + 10_000)
    communes = gpd.GeoDataFrame({"insee": ["57463", "57001"], "nom": ["Metz", "Aboncourt"], "region": "44",
                                 "territory": "metro", "codes_postaux": [["57000"], ["57220"]],
                                 "population": [120_000.0, 300.0]}, geometry=[a, b], crs=LAMBERT93)
    qpv = gpd.GeoDataFrame({"code_qp": ["QN05701M"], "nom_qp": ["Borny"], "generation": [2024],
                            "classe_qpv": [qpv_class], "region": ["44"], "territory": ["metro"]},
                           geometry=[shapely.box(X0 + 12_000, Y0 + 2_000, X0 + 13_000, Y0 + 3_000)], crs=LAMBERT93)
    zoning = pd.DataFrame({"insee": ["57463", "57001"], "classe": ["ZIP", "HZ"]})
    return Locator(communes, qpv, zoning, None), CommuneGeocoder(communes)


def test_assess_commune_only_rows() -> None:
    locator, geocoder = _toy(None)
    frame = pd.DataFrame({"nom": ["a", "b", "c", "d"], "adresse": ["", "1 rue X", "", ""],
                          "code_postal": ["57000", "57220", "99999", ""], "ville": ["Metz", "Aboncourt", "Nulle", ""],
                          "categetab": ["603"] * 4})
    result = assess(frame, locator, SCHEMES, geocoder=geocoder)
    rows = result.rows
    assert rows["row"].tolist() == [1, 2, 3, 4] and len(rows) == 4
    assert rows["commune_method"].tolist()[:2] == ["commune", "commune"]
    assert rows["geo_status"].fillna("-").tolist() == ["commune_only", "commune_only", "not_found", "-"]
    assert rows.geometry.isna().all()  # a commune's inside point is not the structure's location
    assert rows.loc[2, "status"] == "error" and "adresse introuvable par le géocodeur commune" in rows.loc[2, "error"]
    assert rows.loc[3, "status"] == "error" and "pas de coordonnées" in rows.loc[3, "error"]
    verdicts = result.verdicts.set_index(["row", "scheme"])
    metz = verdicts.loc[(0, "400mg_volet2")]
    assert metz["status"] == "eligible" and "COMMUNE_ONLY" in metz["reasons"]
    assert "entièrement en ZIP" in metz["message_fr"] and "the whole commune 57463 is in ZIP" in metz["message_en"]
    hz = verdicts.loc[(1, "400mg_volet2")]  # the HZ commune contains a QPV: the point decides, not known
    assert hz["status"] == "needs_review" and "COMMUNE_ONLY" in hz["reasons"]
    assert "seule la commune est connue" in hz["message_fr"]


def test_assess_commune_with_qpv_of_its_own_class_needs_review() -> None:
    locator, geocoder = _toy("ZAC")
    frame = pd.DataFrame({"cp": ["57220"], "commune": ["Aboncourt"], "categetab": ["603"]})
    result = assess(frame, locator, SCHEMES, geocoder=geocoder)
    assert (result.verdicts["status"] != "eligible").all()
    hit = result.verdicts[result.verdicts["message_fr"].str.contains("contient un QPV de classe ZAC")]
    assert len(hit) and (hit["status"] == "needs_review").all()


# -- command line --------------------------------------------------------------------------------------
def _app() -> typer.Typer:
    from zonage.cli.geocode import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test application."""

    register(app)
    return app


def test_cli_geocode_commune_and_index(build_layers, mirror: Path, tmp_path: Path) -> None:
    paths = build_layers("communes", "crosswalk")
    source = tmp_path / "in.csv"
    pd.DataFrame({"nom": ["a", "b", "c"], "adresse": ["", "", ""], "cp": ["19240", "19012", ""],
                  "ville": ["Allassac", "Tulle Cedex", ""]}).to_csv(source, index=False, sep=";")
    runner = CliRunner()
    env = {"ZONAGE_DATA": str(paths.data)}
    target = tmp_path / "out.csv"
    result = runner.invoke(_app(), ["geocode", str(source), "-o", str(target), "--backend", "commune",
                                    "--no-cache"], env=env)
    assert result.exit_code == 0, result.output
    out = pd.read_csv(target, dtype=str, sep=";", encoding="utf-8-sig")
    assert len(out) == 3 and out["geo_citycode"].tolist()[:2] == ["19005", "19272"]
    assert out["geo_status"].tolist() == ["commune_only", "commune_only", "no_address"]
    _need_addok()
    folder = tmp_path / "addok"
    result = runner.invoke(_app(), ["geocoder", "index", str(mirror / SAMPLE), "--folder", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    assert "2\u202f001 adresses indexées" in result.output and (folder / "addok.rdb").stat().st_size > 0
    result = runner.invoke(_app(), ["geocoder", "serve", "--folder", str(tmp_path / "none")], env=env)
    assert result.exit_code == 2 and "zonage geocoder index" in result.output


def test_cli_eligibility_with_local_addok(addok: SimpleNamespace, built, tmp_path: Path) -> None:
    """The batch runs straight from an address list: real layers, real addok, every row once."""
    from zonage.cli import app

    source = tmp_path / "structures.csv"
    pd.DataFrame({
        "nom": ["MSP", "CDS", "ville seule", "mauvais cp", "coordonnées", "finess", "rien"],
        "adresse": ["10 pl allegre", "BP 3 - 12 av de la gare", "", "10 Place Allègre", "", "", ""],
        "code_postal": ["19240", "19400", "19400", "19400", "", "", ""],
        "commune": ["Allassac", "ARGENTAT CEDEX", "Argentat", "Allassac", "", "", ""],
        "lon": ["", "", "", "", "1.7665", "", ""], "lat": ["", "", "", "", "45.269", "", ""],
        "finess": ["", "", "", "", "", "190000042", ""],
        "categetab": ["603"] * 7,
    }).to_csv(source, index=False, sep=";")
    target, verdicts = tmp_path / "out.csv", tmp_path / "verdicts.csv"
    result = CliRunner().invoke(app, ["--data", str(built.data), "eligibility", str(source), "-o", str(target),
                                      "--verdicts", str(verdicts), "--geocoder", "addok",
                                      "--geocoder-url", addok.url, "--date", "2025-03-01"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(target, sep=";", dtype=str, keep_default_na=False)
    assert len(rows) == 7 and rows["row"].tolist() == [str(i) for i in range(1, 8)]
    assert set(GEO_COLUMNS) <= set(rows.columns)
    assert rows["geo_status"].tolist() == ["ok", "ok", "commune_only", "review", "", "", ""]
    assert rows["geo_type"].tolist()[:4] == ["housenumber", "street", "municipality", "housenumber"]
    assert rows["insee"].tolist()[:5] == ["19005", "19010", "19010", "19005", "19272"]
    assert rows["commune_method"].tolist()[2] == "commune"
    assert rows["lon"].iloc[2] == "" and rows["lon"].iloc[0] != ""  # commune only: no point
    assert rows["geo_flags"].iloc[1] == "cedex_cleaned;bp_cleaned;housenumber_not_found"
    assert rows["statut_mg"].tolist()[0] == "eligible" and rows["statut_mg"].iloc[3] == "needs_review"
    assert rows["status"].iloc[6] == "error" and "ni coordonnées" in rows["error"].iloc[6]
    long = pd.read_csv(verdicts, sep=";", dtype=str)
    doubtful = long[long["row"] == "3"]
    doubtful = doubtful[doubtful["status"] != "not_applicable"]  # ASR (Normandie only) stays not applicable
    assert (doubtful["status"] == "needs_review").all() and doubtful["reasons"].str.contains("GEOCODE_DOUBTFUL").all()
    assert doubtful["message_fr"].str.startswith("à vérifier : géocodage incertain").all()
    town = long[long["row"] == "2"]
    assert town["reasons"].str.contains("COMMUNE_ONLY").all()
    assert (built.data / "cache" / "geocode.sqlite").exists()

