"""``zonage check``: one address or point → commune, QPV, class and each scheme's verdict, in French.

The answer must be the batch's (``zonage eligibility`` on the same row): checked on real
points (Metz, a ZIP commune, QPV of Grand Est and PACA, Guadeloupe, Réunion, Normandie)
against :func:`zonage.eligibility.assess` with the full locator (:func:`zonage.studies.locators.locator`),
and once against the ``eligibility`` command itself. The light locator (``locator_near``) is
compared with the full one on random points and its grid cells with the stored grid.
"""

from __future__ import annotations

import socket
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zonage.cli import app
from zonage.errors import InputDataError, ZonageError
from zonage.studies.check import CHECK_EXIT, address_fields, check, parse_lonlat

runner = CliRunner()
ON = date(2025, 3, 1)  # inside the period of the loaded zoning orders
#: Real points: (lon, lat, type, commune expected).
POINTS = [
    (6.1757, 49.1193, "MSP", "57463"),  # Metz, HZ
    (4.945556, 48.632015, "centre de santé", "52448"),  # Saint-Dizier, ZIP
    (4.689856, 49.763569, "MSP", "08105"),  # QPV 2024 QN00801M Manchester (Charleville-Mézières)
    (6.235936, 44.0924, "centre de santé médical", "04070"),  # QPV QN00401M with its own class (PACA order)
    (-61.657415, 16.170853, "MSP", "97118"),  # Petit-Bourg, Guadeloupe
    (55.447463, -20.943347, "CH", "97411"),  # Saint-Denis, La Réunion
    (-0.39591, 49.192185, "centre de santé dentaire", "14118"),  # Caen, a QPV of Normandie
]
ADDRESSES = ["12 rue Serpenoise 57000 Metz", "52100 Saint-Dizier", "97170 Petit-Bourg", "14000 Caen", "75011 Paris"]


def _free_url() -> str:
    """An addok URL where nothing listens (so that the default backend falls back to ``commune``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _invoke(built, *args: str):
    return runner.invoke(app, ["--data", str(built.data), "check", *args])


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
    return table.astype(object).where(table.notna(), None)


@pytest.fixture(scope="module")
def context(built):
    from zonage.studies.eligibility import batch_context

    return batch_context(built)


# --------------------------------------------------------------------------- no data needed
def test_parse_lonlat() -> None:
    assert parse_lonlat("6.17,49.12") == (6.17, 49.12)
    assert parse_lonlat(" 6.17 49.12 ") == (6.17, 49.12)
    assert parse_lonlat("6,17;49,12") == (6.17, 49.12)
    for bad in ("6.17", "a,b", "200,49", "6.17,49.12,3"):
        with pytest.raises(InputDataError, match="longitude"):
            parse_lonlat(bad)


def test_address_fields() -> None:
    assert address_fields("12 rue Serpenoise 57000 Metz") == {
        "adresse": "12 rue Serpenoise", "code_postal": "57000", "commune": "Metz"}
    assert address_fields("57000 Metz") == {"code_postal": "57000", "commune": "Metz"}
    assert address_fields("3 av. Foch, 19000  Tulle CEDEX") == {
        "adresse": "3 av. Foch", "code_postal": "19000", "commune": "Tulle CEDEX"}
    assert address_fields("rue Serpenoise, Metz") == {"adresse": "rue Serpenoise, Metz"}
    assert address_fields("BP 12, 19012 Tulle CEDEX 2") == {
        "adresse": "BP 12", "code_postal": "19012", "commune": "Tulle CEDEX 2"}


def test_exit_codes_are_those_of_application() -> None:
    from zonage.cli import VERDICT_EXIT

    for status, code in CHECK_EXIT.items():
        assert VERDICT_EXIT[status] == code


# --------------------------------------------------------------------------- same answer as the batch
@pytest.mark.parametrize(("lon", "lat", "kind", "insee"), POINTS)
def test_point_answer_is_the_batch_answer(built, context, lon, lat, kind, insee) -> None:
    from zonage.eligibility import assess

    result = check(built, lonlat=(lon, lat), kind=kind, on=ON)
    batch = assess(pd.DataFrame([{"lon": lon, "lat": lat, "type": kind}]), context["locator"], result.schemes,
                   on=ON, finess=context["finess"], crosswalk=context["crosswalk"])
    assert result.row["insee"] == insee
    mine, theirs = _plain(result.rows), _plain(batch.rows)
    assert list(mine.columns) == list(theirs.columns)
    assert mine.iloc[0].to_dict() == theirs.iloc[0].to_dict()
    assert any(c.startswith("message_") for c in mine.columns) and mine.loc[0, "resume"]


@pytest.mark.parametrize("address", ADDRESSES)
def test_address_answer_is_the_batch_answer(built, context, address) -> None:
    from zonage.eligibility import assess
    from zonage.geocode import make_geocoder
    from zonage.studies.locators import commune_geocoder

    result = check(built, address, kind="MSP", on=ON, backend="commune")
    batch = assess(pd.DataFrame([{**address_fields(address), "type": "MSP"}]), context["locator"], result.schemes,
                   on=ON, finess=context["finess"], crosswalk=context["crosswalk"],
                   geocoder=make_geocoder("commune", communes=commune_geocoder(built)))
    assert _plain(result.rows).iloc[0].to_dict() == _plain(batch.rows).iloc[0].to_dict()
    assert result.row["commune_method"] == "commune"  # the commune backend knows the commune only


def test_command_answer_is_the_eligibility_command_answer(built, tmp_path: Path) -> None:
    source = tmp_path / "one.csv"
    source.write_text("lon,lat,type\n4.689856,49.763569,MSP\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    batch = runner.invoke(app, ["--data", str(built.data), "eligibility", str(source), "-o", str(output),
                                "--date", "2025-03-01"])
    assert batch.exit_code == 0, batch.output
    written = pd.read_csv(output, sep=";", dtype=str, keep_default_na=False).iloc[0]
    result = check(built, lonlat=(4.689856, 49.763569), kind="MSP", on=ON)
    compared = [c for c in written.index if c.startswith(("statut_", "raisons_", "message_", "role_"))]
    assert len(compared) == 4 * len(result.schemes) + 1  # and statut_mg
    for column in [*compared, "resume", "insee", "classe", "qpv2024", "type_structure"]:
        assert written[column] == ("" if pd.isna(result.row[column]) else str(result.row[column])), column
    shown = _invoke(built, "--lonlat", "4.689856,49.763569", "--type", "MSP", "--date", "2025-03-01")
    for sid, scheme in result.schemes.items():
        message = str(written[f"message_{sid}"]).split(" : ", 1)[-1]
        assert f"{scheme.short('fr')} : " in shown.output and message in shown.output


# --------------------------------------------------------------------------- the command on real places
def test_metz_point(built) -> None:
    result = _invoke(built, "--lonlat", "6.1757,49.1193", "--type", "MSP", "--date", "2025-03-01")
    assert result.exit_code == 3, result.output  # HZ: not eligible to 400 MG, ASTP to check (no speciality)
    out = result.output
    assert "Commune : Metz (57463), région Grand Est" in out
    assert "QPV en vigueur 2024 : aucun" in out
    assert "Zonage des médecins : HZ (classe de la commune ; arrêté ARS Grand Est de 2022, en vigueur le 01/03/2025)" \
        in out
    assert "400 MG volet 2 : NON ÉLIGIBLE — hors zonage (commune 57463 Metz, HZ" in out
    assert "ASTP : À VÉRIFIER" in out and "ASR (Normandie) : NON APPLICABLE" in out
    assert "Type de structure : maison de santé pluriprofessionnelle (type indiqué)" in out
    assert "Traceback" not in out


def test_zip_commune_with_the_commune_backend_and_its_hint(built, monkeypatch) -> None:
    from zonage.geocode.ban import BanGeocoder

    def no_network(*args, **kwargs):
        raise AssertionError("the national API must not be called without --backend ban")

    monkeypatch.setattr(BanGeocoder, "geocode", no_network)
    result = _invoke(built, "52100 Saint-Dizier", "--type", "MSP", "--date", "2025-03-01", "--url", _free_url())
    out = result.output
    assert result.exit_code == 0, out
    assert "note : aucun géocodeur d'adresses local ne répond" in out
    assert "zonage geocoder setup --departement 52" in out and "--backend ban" in out
    assert "Trouvé : 52100 Saint-Dizier (géocodeur commune : commune seulement, score 1,00)" in out
    assert "Commune : Saint-Dizier (52448)" in out and "Zonage des médecins : ZIP" in out
    assert "QPV : inconnu (seule la commune est connue)" in out
    assert "400 MG volet 2 : ÉLIGIBLE" in out


def test_qpv_points(built) -> None:
    grand_est = _invoke(built, "--lonlat", "4.689856,49.763569", "--type", "MSP", "--date", "2025-03-01")
    assert grand_est.exit_code == 0, grand_est.output
    assert "QPV en vigueur 2024 : QN00801M Manchester (QPV 2024)" in grand_est.output
    assert "400 MG volet 1 : ÉLIGIBLE — QPV QN00801M (Manchester)" in grand_est.output
    paca = _invoke(built, "--lonlat", "6.235936,44.0924", "--type", "centre de santé médical", "--date",
                   "2025-03-01")
    assert "QN00401M" in paca.output and "ZIP (classe propre du QPV" in paca.output


def test_overseas_points(built) -> None:
    guadeloupe = _invoke(built, "--lonlat", "-61.657415,16.170853", "--type", "MSP", "--date", "2025-03-01")
    assert guadeloupe.exit_code == 0, guadeloupe.output
    assert "Commune : Petit-Bourg (97118), région Guadeloupe" in guadeloupe.output
    assert "Zonage des médecins : ZIP" in guadeloupe.output
    reunion = _invoke(built, "--lonlat", "55.447463,-20.943347", "--type", "CH", "--date", "2025-03-01")
    assert "Commune : Saint-Denis (97411), région La Réunion" in reunion.output, reunion.output


def test_outside_france_is_a_user_error(built) -> None:
    berlin = _invoke(built, "--lonlat", "13.4,52.5")
    assert berlin.exit_code == 2
    assert "erreur :" in berlin.output and "hors de France" in berlin.output and "Traceback" not in berlin.output
    sea = _invoke(built, "--lonlat", "-4.8,45.0")
    assert sea.exit_code == 2 and "aucune commune à moins de 250 m" in sea.output
    swapped = _invoke(built, "--lonlat", "49.12,6.17")
    assert swapped.exit_code == 2 and "inversées" in swapped.output
    with pytest.raises(ZonageError, match="hors de France"):
        check(built, lonlat=(13.4, 52.5))


def test_type_words(built) -> None:
    dental = check(built, lonlat=(4.945556, 48.632015), kind="centre de santé dentaire", on=ON)
    assert dental.row["type_structure"] == "centre_sante_dentaire"
    assert "dentaire" in dental.row["type_libelle"]
    assert dental.statuses()["400mg_volet2"] in ("not_eligible", "not_applicable")
    msp = check(built, lonlat=(4.945556, 48.632015), kind="MSP", on=ON)
    assert msp.row["type_structure"] == "msp" and msp.statuses()["400mg_volet2"] == "eligible"
    unknown = _invoke(built, "--lonlat", "4.945556,48.632015", "--type", "boulangerie")
    assert unknown.exit_code == 2 and "type de structure inconnu « boulangerie »" in unknown.output


def test_scheme_filter(built) -> None:
    result = _invoke(built, "--lonlat", "6.1757,49.1193", "--type", "MSP", "--date", "2025-03-01", "--scheme",
                     "400mg_volet2")
    assert result.exit_code == 4, result.output  # HZ, outside any QPV: not eligible to the one scheme asked
    assert "400 MG volet 2 : NON ÉLIGIBLE" in result.output
    assert "400 MG volet 1" not in result.output and "ASTP" not in result.output
    two = check(built, lonlat=(6.1757, 49.1193), kind="MSP", on=ON, schemes=["400mg_volet2", "astp"])
    assert set(two.statuses()) == {"400mg_volet2", "astp"} and two.exit_code == 3
    unknown = _invoke(built, "--lonlat", "6.1757,49.1193", "--scheme", "nope")
    assert unknown.exit_code == 2 and "dispositif(s) inconnu(s) nope" in unknown.output


def test_undated_question_says_why(built) -> None:
    result = _invoke(built, "--lonlat", "6.1757,49.1193", "--type", "MSP", "--date", "2026-12-01")
    assert result.exit_code == 3
    assert "aucun arrêté connu de l'outil n'est en vigueur le 01/12/2026" in result.output
    assert "--date 2025-05-31" in result.output  # the last day of the loaded orders (_zoning_orders.toml)
    covered = _invoke(built, "--lonlat", "6.1757,49.1193", "--type", "MSP", "--date", "2025-05-31")
    assert "aucun arrêté connu" not in covered.output and "en vigueur le 31/05/2025)" in covered.output


def test_address_not_found_and_missing_input(built) -> None:
    result = _invoke(built, "99999 Nulle-Part-Sur-Mer", "--backend", "commune")
    assert result.exit_code == 2 and "adresse introuvable par le géocodeur commune" in result.output
    assert _invoke(built).exit_code == 2
    down = _invoke(built, "57000 Metz", "--backend", "addok", "--url", _free_url())
    assert down.exit_code == 2 and "ne répond pas" in down.output and "zonage geocoder setup" in down.output


# --------------------------------------------------------------------------- the light reading
def test_near_locator_answers_as_the_full_one(built, context) -> None:
    from zonage.studies.locators import locator_near

    full = context["locator"]
    rng = np.random.default_rng(13)
    qpv = full._qpv[2024].to_crs("EPSG:4326").geometry.representative_point()
    chosen = rng.choice(len(qpv), 25, replace=False)
    points = [(lon, lat) for lon, lat, _, _ in POINTS]
    points += [(qpv.x.iloc[i] + rng.normal(0, 0.003), qpv.y.iloc[i] + rng.normal(0, 0.003)) for i in chosen]
    points += [(rng.uniform(-4.5, 7.5), rng.uniform(42.5, 50.8)) for _ in range(25)]
    points += [(13.4, 52.5), (-4.8, 45.0)]
    methods = set()
    for lon, lat in points:
        expected = full.locate(np.array([lon]), np.array([lat]))
        near = locator_near(built, lon, lat)
        got = near.locate(np.array([lon]), np.array([lat]))
        assert list(got.columns) == list(expected.columns)
        plain = got.astype(object).where(got.notna(), None).iloc[0].to_dict()
        assert plain == expected.astype(object).where(expected.notna(), None).iloc[0].to_dict(), (lon, lat)
        methods.add(plain["commune_method"])
        if plain["territory"] is not None:
            name = plain["territory"]
            x, y = near.territory(name).grid.x0, near.territory(name).grid.y0
            stored = full.territory(name).grid
            assert (x - stored.x0) % stored.cell == 0 and (stored.y0 - y) % stored.cell == 0
            px, py = np.array([lon]), np.array([lat])
            from zonage.crs import transform_xy

            mx, my = transform_xy(px, py, "EPSG:4326", near.territory(name).crs)
            cells = [(mx + dx, my + dy) for dx in (-100, 0, 100) for dy in (-100, 0, 100)]
            for cx, cy in cells:
                ids_n, flags_n = near.territory(name).grid.read(cx, cy)
                ids_f, flags_f = stored.read(cx, cy)
                assert flags_n.tolist() == flags_f.tolist()
                local = near.territory(name).communes.index
                found = near.codes[local[ids_n]] if ids_n[0] >= 0 else None
                assert (found[0] if found is not None else None) == (
                    full.codes[full.territory(name).communes.index[ids_f[0]]] if ids_f[0] >= 0 else None)
    assert {"grid", "exact", "none"} <= methods


def test_read_layer_subsets(built) -> None:
    import shapely

    from zonage.layers.store import layer_bounds, read_layer

    bounds = layer_bounds(built, "communes")
    assert set(bounds) >= {"metro", "971", "974"} and bounds["metro"][1] == "EPSG:2154"
    whole = read_layer(built, "communes", territory="metro", columns=["insee"])
    assert tuple(whole.total_bounds) == pytest.approx(bounds["metro"][0])
    box = (930000.0, 6890000.0, 935000.0, 6895000.0)
    part = read_layer(built, "communes", territory="metro", columns=["insee"], bbox=box)
    expected = whole[shapely.intersects(shapely.box(*whole.geometry.bounds.T.to_numpy()), shapely.box(*box))]
    assert sorted(part["insee"]) == sorted(expected["insee"]) and "57463" in set(part["insee"])
    one = read_layer(built, "communes", territory="metro", columns=["insee"], filters=[("insee", "==", "57463")])
    assert one["insee"].tolist() == ["57463"] and one.geometry.iloc[0].equals(
        whole.loc[whole["insee"] == "57463"].geometry.iloc[0])
    names = read_layer(built, "communes", columns=["insee", "nom"], geometry=False)
    assert len(names) == 34871 and not hasattr(names, "geometry")
    with pytest.raises(ValueError, match="bbox"):
        read_layer(built, "communes", bbox=box)


@pytest.fixture()
def fake_addok():
    """A local HTTP server answering addok's ``/search`` with one street-level result (Metz)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [6.1757, 49.1193]},
                       "properties": {"score": 0.95, "type": "housenumber", "label": "12 Rue Serpenoise 57000 Metz",
                                      "postcode": "57000", "citycode": "57463", "city": "Metz"}}
            body = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_local_addok_is_the_default_when_it_answers(built, context, fake_addok) -> None:
    from zonage.eligibility import assess
    from zonage.geocode import make_geocoder

    url, asked = fake_addok
    address = "12 rue Serpenoise 57000 Metz"
    result = check(built, address, kind="MSP", on=ON, url=url, cache=False)
    assert result.backend == "addok" and not result.notes
    assert result.row["geo_type"] == "housenumber" and result.row["commune_method"] in ("grid", "exact")
    assert any("Serpenoise" in path for path in asked)
    batch = assess(pd.DataFrame([{**address_fields(address), "type": "MSP"}]), context["locator"], result.schemes,
                   on=ON, finess=context["finess"], crosswalk=context["crosswalk"],
                   geocoder=make_geocoder("addok", url=url))
    mine, theirs = _plain(result.rows).iloc[0].to_dict(), _plain(batch.rows).iloc[0].to_dict()
    assert mine == theirs
    shown = _invoke(built, address, "--type", "MSP", "--date", "2025-03-01", "--url", url, "--no-cache")
    assert shown.exit_code == 3, shown.output
    assert "note :" not in shown.output
    assert "Trouvé : 12 Rue Serpenoise 57000 Metz (géocodeur addok : numéro, score 0,95) — 6,17570 E, 49,11930 N" \
        in shown.output


def test_ban_only_when_chosen_and_said(built, monkeypatch) -> None:
    from zonage.geocode.ban import BanGeocoder
    from zonage.geocode.base import Match

    asked: list[str] = []

    def answer(self, queries):
        asked.extend(q.text for q in queries)
        return [Match(lon=6.1757, lat=49.1193, score=0.97, type="housenumber", label="12 Rue Serpenoise 57000 Metz",
                      postcode="57000", citycode="57463", city="Metz") for _ in queries]

    monkeypatch.setattr(BanGeocoder, "geocode", answer)
    result = _invoke(built, "12 rue Serpenoise 57000 Metz", "--backend", "ban", "--no-cache", "--date", "2025-03-01")
    assert result.exit_code == 3, result.output
    assert asked == ["12 rue Serpenoise 57000 Metz"]
    assert "note : l'adresse est envoyée à" in result.output
    assert "Trouvé : 12 Rue Serpenoise 57000 Metz (géocodeur ban : numéro, score 0,97)" in result.output


def test_qpv_header_says_unknown_where_outlines_are_missing(built) -> None:
    """Review: Clichy-sous-Bois (Île-de-France, no QPV outlines in the tool) was shown "QPV : aucun"."""
    result = runner.invoke(app, ["--data", str(built.data), "check", "--lonlat", "2.5467,48.9106",
                                 "--date", "2025-03-01"])
    assert "QPV 2024 : inconnu (contours non disponibles" in result.output
    assert "QPV en vigueur 2024 : aucun" not in result.output
    borny = runner.invoke(app, ["--data", str(built.data), "check", "--lonlat", "6.2186,49.1093",
                                "--date", "2023-06-01"])
    assert "autre génération, pas en vigueur à cette date : QN05720M" in borny.output


def test_addok_probe(fake_addok) -> None:
    """The probe says yes to an addok answering a search, no at once to a refused connection."""
    from zonage.studies.check import addok_reachable

    url, asked = fake_addok
    assert addok_reachable(url) and asked == ["/search?q=mairie&limit=1"]
    started = time.monotonic()
    assert not addok_reachable(_free_url())
    assert time.monotonic() - started < 1.5  # refused: no retry


def test_arrondissement_class_from_the_postcode_is_to_check(built) -> None:
    """Paris: the postcode names the arrondissement (no outlines to check the point against): never a firm answer."""
    named = check(built, "10 rue de Meaux 75019 Paris", lonlat=(2.3826, 48.8836), kind="MSP", on=ON,
                  schemes=["400mg_volet1"])
    row = named.row
    assert row["classe_source"] == "arrondissement" and row["insee_arm"] == "75119"
    assert row["statut_400mg_volet1"] == "needs_review" and "CLASS_FROM_POSTCODE" in row["raisons_400mg_volet1"]
    assert "vérifier le code postal" in row["message_400mg_volet1"]
    typo = check(built, "10 rue de Meaux 75001 Paris", lonlat=(2.3826, 48.8836), kind="MSP", on=ON,
                 schemes=["400mg_volet1"])  # the same point, another arrondissement's postcode: to check too
    assert typo.row["insee_arm"] == "75101" and typo.row["statut_400mg_volet1"] == "needs_review"
