"""Street-level geocoding in one command, the default backend's fallback, address-only batches (issue 13).

The setup tests index the 2,000 real BANO addresses of the mirror into a real local
addok + Redis (skipped without them on a developer machine, failing under CI=true), and
download a BAN-format file from a small HTTP server on 127.0.0.1. The fallback tests
use the real communes layer. No mock of a geocoder, no real web service.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from test_geocode import _need_addok
from typer.testing import CliRunner

from zonage.cli import app
from zonage.config import Paths
from zonage.errors import ChecksumError, InputDataError, ZonageError
from zonage.geocode import FALLBACK_FLAG, address_spec, check_locatable, geocode_frame, rows_to_geocode
from zonage.geocode import local as local_module
from zonage.geocode.addok import address_documents, read_address_file
from zonage.geocode.local import (
    GeocoderUnavailableError,
    departements_of_file,
    departements_of_frame,
    find_address_file,
    normalise_departement,
    setup_hint,
)
from zonage.inputs import detect_columns
from zonage.studies.geocoding import open_geocoder

SAMPLE = "addresses/bano_correze_sample.csv"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_addok_on_default_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `zonage geocoder serve` left running on this machine must not answer in the tests' place."""
    monkeypatch.setattr(local_module, "DEFAULT_ADDOK_URL", "http://127.0.0.1:9")


def _data_folder(tmp_path: Path, built: Paths, name: str = "data") -> Path:
    """A fresh data folder reading the built layers (no geocoder index of its own)."""
    data = tmp_path / name
    data.mkdir()
    (data / "processed").symlink_to(built.processed.resolve(), target_is_directory=True)
    return data


def _documents_gz(mirror: Path, target: Path) -> bytes:
    """The mirror's BANO sample as the BAN publishes for addok (one document a line, gzip)."""
    lines = [json.dumps(doc, ensure_ascii=False) for doc in address_documents(read_address_file(mirror / SAMPLE))]
    payload = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"))
    target.write_bytes(payload)
    return payload


# -- hint, départements, columns --------------------------------------------------------------------
def test_setup_hint_text() -> None:
    assert setup_hint("pas d'index d'adresses local") == (
        "pas d'index d'adresses local : lancer `zonage geocoder setup --departement NN` ou utiliser "
        "`--backend commune`")
    assert setup_hint("x", option="--geocoder", departements=["57", "54"]) == (
        "x : lancer `zonage geocoder setup --departement 57 --departement 54` ou utiliser `--geocoder commune`")


@pytest.mark.parametrize(("given", "code"), [("57", "57"), (1, "01"), ("2a", "2A"), (" 974 ", "974")])
def test_normalise_departement(given, code) -> None:
    assert normalise_departement(given) == code


@pytest.mark.parametrize("given", ["20", "96", "977", "Moselle", ""])
def test_normalise_departement_refuses(given) -> None:
    with pytest.raises(InputDataError, match="département"):
        normalise_departement(given)


def test_address_columns_and_rows_to_geocode() -> None:
    frame = pd.DataFrame({"Nom": ["a", "b", "c", "d"], "Adresse mail": ["a@b.fr", "", "", ""],
                          "Adresse complète": ["10 Place Allègre 19240 Allassac", "", "1 rue X 57000 Metz", ""],
                          "lon": ["", "", "6,17", ""], "lat": ["", "", "49,1", ""], "finess": ["", "", "", "57000"]})
    spec = address_spec(frame, detect_columns(frame))
    assert spec.address == "Adresse complète"  # not among detect_columns' names
    assert rows_to_geocode(frame, spec).tolist() == [0]  # 1: nothing; 2: coordinates; 3: FINESS number
    assert departements_of_frame(frame, spec) == ["19", "57"]
    # a row without any postcode still names its département by its INSEE code (Corsica by its code only)
    mixed = pd.DataFrame({"adresse": ["1 rue A", "2 rue B", "3 rue C", "4 rue D"],
                          "code_postal": ["57000", "", None, "20000"],
                          "code_insee": ["57463", "29019", "29019", "2A004"]})
    spec = address_spec(mixed, detect_columns(mixed))
    assert departements_of_frame(mixed, spec) == ["29", "2A", "57"]
    with pytest.raises(InputDataError, match="aucune colonne pour placer"):
        bare = pd.DataFrame({"nom": ["a"], "truc": ["b"]})
        check_locatable(bare, detect_columns(bare), "x.csv")


def test_departements_of_mirror_sample(mirror: Path, tmp_path: Path) -> None:
    assert departements_of_file(mirror / SAMPLE) == {"19"}
    documents = tmp_path / "sans_nom.ndjson.gz"
    _documents_gz(mirror, documents)
    assert departements_of_file(documents) == {"19"}


# -- the default backend's fallback --------------------------------------------------------------------
def test_default_backend_falls_back_to_commune_with_hint(built, tmp_path: Path) -> None:
    paths = Paths(data=_data_folder(tmp_path, built))
    notes: list[str] = []
    frame = pd.DataFrame({"adresse": ["10 Place Allègre", "1 rue Serpenoise"], "cp": ["19240", "57000"],
                          "ville": ["Allassac", "Metz"]})
    with open_geocoder(paths, None, departements=["19", "57"], notice=notes.append) as geocoding:
        assert geocoding.name == "commune" and geocoding.fallback == "pas d'index d'adresses local"
        geo = geocode_frame(frame, geocoding)
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].startswith("pas d'index d'adresses local : lancer `zonage geocoder setup --departement 19 "
                               "--departement 57` ou utiliser `--backend commune`")
    assert geo["geo_citycode"].tolist() == ["19005", "57463"]
    assert geo["geo_type"].eq("municipality").all() and geo["geo_status"].eq("commune_only").all()
    assert geo["geo_flags"].str.split(";").map(lambda flags: FALLBACK_FLAG in flags).all()
    with pytest.raises(GeocoderUnavailableError, match="ou utiliser `--backend commune`"), \
            open_geocoder(paths, "addok"):
        pass  # chosen explicitly: an error, not a silent loss of precision
    with pytest.raises(GeocoderUnavailableError, match=r"addok ne répond pas à http://127\.0\.0\.1:9"), \
            open_geocoder(paths, None, url="http://127.0.0.1:9"):
        pass
    with open_geocoder(paths, "commune") as chosen:  # chosen: no fallback flag
        assert chosen.fallback is None
        assert FALLBACK_FLAG not in ";".join(geocode_frame(frame, chosen)["geo_flags"])


def test_cli_eligibility_addresses_only_without_index(built, tmp_path: Path) -> None:
    """Addresses and no coordinates, no local index: located by commune, each row flagged, exit 0."""
    data = _data_folder(tmp_path, built)
    source = tmp_path / "structures.csv"
    pd.DataFrame({"nom": ["MSP Allassac", "CDS Metz", "sans adresse"],
                  "Adresse complète": ["10 Place Allègre 19240 Allassac", "1 rue Serpenoise 57000 Metz", ""],
                  "categetab": ["603", "124", "603"]}).to_csv(source, sep=";", index=False)
    target = tmp_path / "out.csv"
    result = runner.invoke(app, ["--data", str(data), "eligibility", str(source), "-o", str(target),
                                 "--date", "2025-03-01"])
    assert result.exit_code == 0, result.output
    assert ("pas d'index d'adresses local : lancer `zonage geocoder setup --departement 19 --departement 57` ou "
            "utiliser `--geocoder commune`") in result.output
    assert "Traceback" not in result.output
    rows = pd.read_csv(target, sep=";", dtype=str, keep_default_na=False)
    assert rows["status"].tolist() == ["ok", "ok", "error"]
    assert rows["insee"].tolist()[:2] == ["19005", "57463"] and rows["geo_backend"].tolist()[:2] == ["commune"] * 2
    assert all(FALLBACK_FLAG in flags.split(";") for flags in rows["geo_flags"].iloc[:2])
    assert rows["commune_method"].tolist()[:2] == ["commune", "commune"]
    assert "géocodage (commune) de 2 lignes" in result.output
    chosen = runner.invoke(app, ["--data", str(data), "eligibility", str(source), "-o", str(target), "--geocoder",
                                 "addok"])
    assert chosen.exit_code == 2 and "ou utiliser `--geocoder commune`" in chosen.output
    bare = tmp_path / "bare.csv"
    bare.write_text("nom;remarque\nMSP;rien\n", encoding="utf-8")
    refused = runner.invoke(app, ["--data", str(data), "eligibility", str(bare), "-o", str(target)])
    assert refused.exit_code == 2 and "aucune colonne pour placer les structures" in refused.output


# -- download (a BAN-format file served on 127.0.0.1) -------------------------------------------------
@pytest.fixture
def ban_server(mirror: Path, tmp_path: Path) -> Iterator[SimpleNamespace]:
    payload = _documents_gz(mirror, tmp_path / "served.ndjson.gz")
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            hits.append(self.path)
            if self.path == "/ban/adresses-addok-23.ndjson.gz":  # cut in the middle of the body
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.close_connection = True
                return
            if self.path != "/ban/adresses-addok-19.ndjson.gz":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(template=f"http://127.0.0.1:{server.server_port}/ban/adresses-addok-{{dep}}.ndjson.gz",
                              payload=payload, hits=hits)
    finally:
        server.shutdown()
        server.server_close()


def test_download_is_checksum_recorded_and_checked(ban_server: SimpleNamespace, tmp_path: Path) -> None:
    paths = Paths(data=tmp_path / "data")
    with pytest.raises(ZonageError, match="relancer avec `--download`"):  # offline: never touches the network
        find_address_file("19", paths, url_template=ban_server.template)
    assert ban_server.hits == []
    got = find_address_file("19", paths, download=True, url_template=ban_server.template)
    assert got.origin == "téléchargé" and got.sha256 == hashlib.sha256(ban_server.payload).hexdigest()
    record = json.loads((got.path.parent / "downloads.json").read_text(encoding="utf-8"))
    assert record[got.path.name]["sha256"] == got.sha256 and record[got.path.name]["url"].endswith("-19.ndjson.gz")
    again = find_address_file("19", paths, download=True, url_template=ban_server.template)
    assert again.sha256 == got.sha256 and len(ban_server.hits) == 1  # kept, not downloaded again
    got.path.write_bytes(ban_server.payload[:-10])
    with pytest.raises(ChecksumError, match="fichier abîmé"):
        find_address_file("19", paths, url_template=ban_server.template)
    with pytest.raises(ZonageError, match="HTTP 404"):
        find_address_file("54", paths, download=True, url_template=ban_server.template)
    assert not list(got.path.parent.glob("*.part"))


def test_truncated_download_keeps_nothing(ban_server: SimpleNamespace, tmp_path: Path) -> None:
    paths = Paths(data=tmp_path / "data")
    with pytest.raises(ChecksumError, match=r"tronqué : \d+ octets sur \d+ ; rien n'est gardé"):
        find_address_file("23", paths, download=True, url_template=ban_server.template)
    folder = local_module.addresses_folder(paths.data)
    assert not folder.exists() or [p.name for p in folder.iterdir() if "23" in p.name] == []
    assert ban_server.hits == ["/ban/adresses-addok-23.ndjson.gz"]  # a cut body is not downloaded twice


# -- setup on the mirror's sample (real Redis + addok) ------------------------------------------------
@pytest.fixture(scope="module")
def set_up(built, mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """`zonage geocoder setup --departement 19` run once, offline, on a fresh data folder."""
    _need_addok()
    tmp = tmp_path_factory.mktemp("setup")
    data = _data_folder(tmp, built)
    result = runner.invoke(app, ["--data", str(data), "--mirror", str(mirror), "geocoder", "setup",
                                 "--departement", "19"])
    return SimpleNamespace(data=data, tmp=tmp, result=result, folder=data / "geocoder" / "addok")


def test_setup_on_mirror_sample_is_idempotent(set_up: SimpleNamespace, mirror: Path) -> None:
    result = set_up.result
    assert result.exit_code == 0, result.output
    assert "département 19 : indexé (miroir" in result.output
    assert "index : 2\u202f001 adresses" in result.output
    assert "contrôle : « 10 Place Allègre 19240 Allassac » → 10 Place Allègre 19240 Allassac (housenumber" in \
        result.output
    assert "`zonage geocoder serve`" in result.output
    rdb = set_up.folder / "addok.rdb"
    stamp = rdb.stat().st_mtime_ns
    again = runner.invoke(app, ["--data", str(set_up.data), "--mirror", str(mirror), "geocoder", "setup", "-d", "19"])
    assert again.exit_code == 0, again.output
    assert "département 19 : déjà indexé" in again.output and "index :" not in again.output
    assert rdb.stat().st_mtime_ns == stamp
    offline = runner.invoke(app, ["--data", str(set_up.data), "--mirror", str(mirror), "geocoder", "setup", "-d",
                                  "57"])
    assert offline.exit_code == 2 and "relancer avec `--download`" in offline.output
    wrong = runner.invoke(app, ["--data", str(set_up.data), "geocoder", "setup", "-d", "57", "--file",
                                str(mirror / SAMPLE)])
    assert wrong.exit_code == 2 and "il couvre : 19" in wrong.output
    assert rdb.stat().st_mtime_ns == stamp  # refused before touching the index


def test_cli_eligibility_addresses_only_with_index(set_up: SimpleNamespace, tmp_path: Path) -> None:
    """After setup, the default backend is the local addok, started for the time of the command."""
    assert set_up.result.exit_code == 0, set_up.result.output
    source = tmp_path / "structures.csv"
    pd.DataFrame({"nom": ["MSP", "CDS", "ville seule"],
                  "adresse": ["10 pl allegre", "BP 3 - 12 av de la gare", ""],
                  "code_postal": ["19240", "19400", "19400"], "commune": ["Allassac", "ARGENTAT CEDEX", "Argentat"],
                  "type": ["MSP", "centre de santé", "MSP"]}).to_csv(source, sep=";", index=False)
    target = tmp_path / "out.csv"
    result = runner.invoke(app, ["--data", str(set_up.data), "eligibility", str(source), "-o", str(target),
                                 "--date", "2025-03-01"])
    assert result.exit_code == 0, result.output
    assert "pas d'index" not in result.output
    rows = pd.read_csv(target, sep=";", dtype=str, keep_default_na=False)
    assert rows["status"].tolist() == ["ok", "ok", "ok"]
    assert rows["geo_backend"].tolist() == ["addok"] * 3
    assert rows["geo_type"].tolist() == ["housenumber", "street", "municipality"]
    assert rows["insee"].tolist() == ["19005", "19010", "19010"]
    assert rows["lon"].iloc[0] != "" and not any(FALLBACK_FLAG in f for f in rows["geo_flags"])
    assert not list(set_up.folder.glob("addok-*.conf"))  # the command's own configuration is removed
    geocoded = tmp_path / "geocoded.csv"
    result = runner.invoke(app, ["--data", str(set_up.data), "geocode", str(source), "-o", str(geocoded),
                                 "--no-cache"])
    assert result.exit_code == 0, result.output
    back = pd.read_csv(geocoded, dtype=str, sep=";", encoding="utf-8-sig")
    assert back["geo_type"].tolist() == ["housenumber", "street", "municipality"]


def test_setup_from_file_and_download_rebuilds(set_up: SimpleNamespace, ban_server: SimpleNamespace,
                                               mirror: Path) -> None:
    """A changed file for a département rebuilds the index; the BAN's addok format is indexed as published."""
    assert set_up.result.exit_code == 0, set_up.result.output
    given = set_up.tmp / "adresses-addok-19.ndjson.gz"
    _documents_gz(mirror, given)
    result = runner.invoke(app, ["--data", str(set_up.data), "geocoder", "setup", "--file", str(given)])
    assert result.exit_code == 0, result.output
    assert "département 19 : indexé (fichier donné" in result.output and "contrôle" in result.output
    assert "(housenumber" in result.output
    record = json.loads((set_up.folder / "setup.json").read_text(encoding="utf-8"))
    assert record["departements"]["19"]["origin"] == "fichier"
    fresh = set_up.tmp / "fresh"
    fresh.mkdir()
    (fresh / "processed").symlink_to((set_up.data / "processed").resolve(), target_is_directory=True)
    result = runner.invoke(app, ["--data", str(fresh), "geocoder", "setup", "-d", "19", "--download", "--ban-url",
                                 ban_server.template], env={"ZONAGE_MIRROR": ""})
    assert result.exit_code == 0, result.output
    assert "indexé (BAN téléchargée" in result.output and "(housenumber" in result.output
    again = runner.invoke(app, ["--data", str(fresh), "geocoder", "setup", "-d", "19", "--download", "--ban-url",
                                ban_server.template], env={"ZONAGE_MIRROR": ""})
    assert again.exit_code == 0 and "déjà indexé" in again.output and len(ban_server.hits) == 1
