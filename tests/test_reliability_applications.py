"""Reliability (issue #15): applications cannot carry their own answer, numbers are bounded, YAML is
safe, every foreseeable mistake is one line and exit 2, a defect is exit 70 with a log, network
refusals are fast."""

from __future__ import annotations

import json
import math
import resource
import socket
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonage.application_schema import COMPUTED_KEYS, load_yaml, parse_application
from zonage.errors import InputDataError, ZonageError

GOOD = """\
scheme: aumg
start: 2024-11-01
ambulatory:
  type: msp
  lon: 6.17
  lat: 49.12
doctor:
  speciality: médecine générale
  diploma_mg: oui
  internship_end: 31/10/2022
"""


def test_a_good_application_parses_to_plain_values():
    data = parse_application(GOOD, "a.yaml")
    assert data["ambulatory"] == {"type": "msp", "lon": 6.17, "lat": 49.12}
    assert data["doctor"]["diploma_mg"] is True and data["doctor"]["internship_end"] == "2022-10-31"
    assert data["start"] == "2024-11-01"


@pytest.mark.parametrize("key", ["located", "classe", "status", "insee", "qpv2024"])
def test_computed_fields_are_refused_with_their_line(key):
    text = GOOD.replace("  lat: 49.12\n", f"  lat: 49.12\n  {key}: ZIP\n")
    with pytest.raises(InputDataError, match=rf"a\.yaml : ligne 7, clé ambulatory\.{key} : '{key}' est calculé"):
        parse_application(text, "a.yaml")


@pytest.mark.parametrize(("text", "message"), [
    ("scheme: postes_partages\nfunding: {assistant_annual_cost_eur: -5}\n", "supérieur ou égal à 0"),
    ("scheme: postes_partages\nfunding: {assistant_annual_cost_eur: .nan}\n", "fini"),
    ("scheme: postes_partages\nfunding: {assistant_annual_cost_eur: .inf}\n", "fini"),
    ("scheme: aumg\nduration_years: 0\n", "strictement supérieur à 0"),
    ("scheme: aumg\nduration_years: 400\n", "inférieur ou égal à 10"),
    ("scheme: aumg\nshares: {ambulatory: 140}\n", "inférieur ou égal à 100"),
    ("scheme: aumg\nambulatory: {lon: 600, lat: 49}\n", "inférieur ou égal à 180"),
    ("scheme: aumg\ndoctor: {diploma_mg: maybe}\n", "oui ou non"),
    ("scheme: aumg\ndoctor: {internship_end: last year}\n", "date"),
    ("scheme: aumg\ncolour: blue\n", "clé inconnue"),
    ("scheme: aumg\nambulatory: [1, 2]\n", "ambulatory"),
    ("- a\n- b\n", "avec au moins la clé 'scheme'"),
    ("scheme: [unclosed\n", "YAML invalide"),
])
def test_numbers_and_types_are_bounded(text, message):
    with pytest.raises(InputDataError, match=message):
        parse_application(text, "x.yaml")


def test_billion_laughs_is_refused_before_expansion():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        lines.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    lines.append("scheme: aumg")
    text = "\n".join(lines) + "\n"
    assert len(text) < 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(InputDataError, match="ligne 1 : les ancres et alias YAML"):
        load_yaml(text, "laughs.yaml")
    assert time.perf_counter() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB: nothing was expanded


def test_oversized_files_are_refused():
    with pytest.raises(InputDataError, match="fichier de plus de"):
        parse_application("scheme: aumg\n" + "# x\n" * 100_000, "big.yaml")


def test_json_applications_are_validated_too():
    with pytest.raises(InputDataError, match="classe"):
        parse_application(json.dumps({"scheme": "aumg", "classe": "ZIP"}), "a.json", yaml_file=False)
    with pytest.raises(InputDataError, match="ligne 1 : JSON invalide"):
        parse_application("{scheme: aumg", "a.json", yaml_file=False)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=8), st.dates().map(str))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                       max_leaves=8)
_keys = st.sampled_from(["scheme", "start", "duration_years", "renewal", "region", "doctor", "shares", "funding",
                         "hospital", "ambulatory", "partner", *sorted(COMPUTED_KEYS)[:4], "other"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=6), st.booleans())
def test_random_applications_never_crash(data, as_yaml):
    """Any mapping: a validated application or one InputDataError line; never another exception."""
    import yaml

    data.setdefault("scheme", "aumg")
    text = yaml.safe_dump(data, allow_unicode=True) if as_yaml else json.dumps(data, default=str)
    try:
        parsed = parse_application(text, "r.yaml" if as_yaml else "r.json", yaml_file=as_yaml)
    except InputDataError as exc:
        assert "\n" not in str(exc)
        return
    assert not COMPUTED_KEYS & set(parsed)
    for value in parsed.get("funding", {}).values():
        for amount in value if isinstance(value, list) else [value]:
            assert math.isfinite(amount) and amount >= 0


# -- the error policy -----------------------------------------------------------------------------
def test_exit_codes_user_error_and_defect(tmp_path, monkeypatch, capsys):
    from zonage import cli

    monkeypatch.setenv("ZONAGE_LOG_DIR", str(tmp_path / "logs"))
    assert cli.main(["application", str(tmp_path / "nope.yaml")]) == 2
    assert "erreur : fichier de candidature" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheme: aumg\nambulatory:\n  located: {insee: '67482', classe: ZIP}\n", encoding="utf-8")
    assert cli.main(["application", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "ligne 3" in err and "located" in err and "Traceback" not in err
    assert cli.main(["--no-such-option"]) == 2

    def broken(*args, **kwargs):
        raise RuntimeError("a defect")

    monkeypatch.setattr("zonage.studies.eligibility.check_application_file", broken)
    assert cli.main(["application", str(bad)]) == 70
    err = capsys.readouterr().err
    assert "erreur interne" in err and "Traceback" not in err
    logs = list((tmp_path / "logs").glob("erreur-*.log"))
    assert len(logs) == 1 and "RuntimeError: a defect" in logs[0].read_text(encoding="utf-8")
    assert str(logs[0]) in err.replace("\n", "")


def test_busy_port_is_a_user_error():
    from zonage.geocode.addok import _check_port_free

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ZonageError, match=f"port {port} déjà utilisé"):
            _check_port_free("127.0.0.1", port)


def test_refused_ban_connection_fails_fast():
    from zonage.geocode import Query
    from zonage.geocode.ban import BanGeocoder

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(ZonageError, match=rf"http://127\.0\.0\.1:{port}/search/csv/ : connexion impossible en 5 s"):
        BanGeocoder(f"http://127.0.0.1:{port}").geocode([Query("1 rue X", "57000", "Metz")])
    assert time.perf_counter() - started < 6


def test_example_application_still_reads(tmp_path):
    example = Path(__file__).resolve().parent.parent / "docs/examples/application_400mg_volet1.yaml"
    data = parse_application(example.read_text(encoding="utf-8"), example.name)
    assert data["scheme"] == "400mg_volet1"


def test_stalled_ban_server_is_given_up_within_the_budget():
    """A server that accepts the connection and never answers: the request's total budget ends it."""
    import threading

    from zonage.geocode import Query
    from zonage.geocode.ban import BanGeocoder

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            accepted.append(connection)  # kept open, never answered

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    started = time.perf_counter()
    try:
        with pytest.raises(ZonageError, match="abandon après 2 tentatives"):
            BanGeocoder(f"http://127.0.0.1:{port}", timeout_s=1.0, max_retries=1, backoff_s=0.1,
                        sleep=lambda s: None).geocode([Query("1 rue X", "57000", "Metz")])
    finally:
        server.close()
        for connection in accepted:
            connection.close()
    assert time.perf_counter() - started < 6
