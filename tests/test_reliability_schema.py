"""Reliability (issue #15, family 1–3): property tests of the application schema.

Random applications — random keys (the schema's own, the computed ones such as ``located``,
``classe``, ``zone``, made-up and non-text ones), random value types (nested lists and
mappings, huge, NaN, infinite and negative numbers, dates, impossible dates, strings) — given
as mappings, as YAML text and as JSON text: the schema either returns plain values or raises
one :class:`~zonage.errors.InputDataError` line; never another exception, and a mapping that
holds a computed key never validates.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zonage.application_schema import (
    COMPUTED_KEYS,
    STRUCTURE_KEYS,
    ApplicationModel,
    StructureModel,
    parse_application,
    validate_application,
)
from zonage.errors import InputDataError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_numbers = st.one_of(
    st.integers(),  # unbounded: 10**400 included
    st.integers(-10, 400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, -1, 1e308, -1e308, 1e-320, 10**400, float("nan"), float("inf"), float("-inf")]),
)
_texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["oui", "non", "maybe", "", " ", "ZIP", "67482", "2024-11-01", "31/02/2024", "01/01/99999999999",
                     "00/00/0000", "1e999", "NaN", "-5", "msp", "~", "null", "*a", "&a", "{", "[", "é\u00a0ü"]),
)
_scalars = st.one_of(st.none(), st.booleans(), _numbers, _texts, st.dates(), st.datetimes())
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                       max_leaves=10)
_structure_fields = [*StructureModel.model_fields, "located", "classe", "zone", "insee", "qpv2024", "status"]
_structures = st.dictionaries(st.sampled_from(_structure_fields), _values, max_size=5)
_top_keys = st.one_of(
    st.sampled_from([*ApplicationModel.model_fields, *sorted(COMPUTED_KEYS), "other", "région"]),
    st.text(max_size=6),
)


@st.composite
def applications(draw: st.DrawFn) -> dict[Any, Any]:
    """A random application mapping: top-level keys, structures, doctor, shares, funding."""
    data: dict[Any, Any] = draw(st.dictionaries(_top_keys, _values, max_size=5))
    for part in draw(st.lists(st.sampled_from(STRUCTURE_KEYS), max_size=2, unique=True)):
        data[part] = draw(_structures)
    if draw(st.booleans()):
        data["scheme"] = draw(st.one_of(st.sampled_from(["aumg", "400mg_volet1", "asr", "nope"]), _values))
    if draw(st.booleans()):
        data["funding"] = draw(st.dictionaries(st.text(max_size=6), st.one_of(_numbers, st.lists(_numbers, max_size=3)),
                                               max_size=3))
    if draw(st.booleans()):
        data["shares"] = draw(st.dictionaries(st.sampled_from([*STRUCTURE_KEYS, "x"]), _numbers, max_size=3))
    return data


def _holds_computed_key(data: Any) -> bool:
    """A computed key at the top level, in a structure or in the doctor's profile."""
    if not isinstance(data, dict):
        return False
    if COMPUTED_KEYS & set(data):
        return True
    return any(isinstance(data.get(part), dict) and COMPUTED_KEYS & set(data[part])
               for part in (*STRUCTURE_KEYS, "doctor"))


def _plain(value: Any) -> bool:
    """JSON-like plain values only: text, finite numbers, booleans, None, lists, text-keyed mappings."""
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _check(call: Any, data: Any) -> None:
    """The property: plain values without any computed key, or one InputDataError line."""
    try:
        parsed = call()
    except InputDataError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        return
    assert not _holds_computed_key(data), f"a computed key validated: {data!r}"
    assert isinstance(parsed, dict) and _plain(parsed), parsed
    assert not _holds_computed_key(parsed)
    for value in parsed.get("funding", {}).values():
        for amount in value if isinstance(value, list) else [value]:
            assert math.isfinite(amount) and amount >= 0
    for share in parsed.get("shares", {}).values():
        assert 0 <= share <= 100
    if "duration_years" in parsed:
        assert 0 < parsed["duration_years"] <= 10


@SETTINGS
@given(applications())
@example({"scheme": "aumg", "start": "01/01/99999999999999999999"})  # OverflowError in date(): was exit 70
@example({"scheme": "aumg", "region": 10**400})  # an implausible région code
@example({"scheme": "aumg", "ambulatory": {"lon": 6.1, "lat": 49.1, "located": {"insee": "67482", "classe": "ZIP"}}})
@example({"scheme": "aumg", 1: 2, (1, 2): 3})
def test_random_mappings_validate_or_fail_in_one_line(data: dict[Any, Any]) -> None:
    _check(lambda: validate_application(data, "random"), data)


def _yaml_text(data: dict[Any, Any]) -> str:
    """The mapping as YAML (tuples and other non-YAML keys as text)."""
    return yaml.safe_dump(json.loads(json.dumps(data, default=str, allow_nan=True)), allow_unicode=True)


@SETTINGS
@given(applications(), st.booleans())
def test_random_yaml_and_json_texts(data: dict[Any, Any], as_yaml: bool) -> None:
    plain = json.loads(json.dumps(data, default=str, allow_nan=True))
    text = _yaml_text(data) if as_yaml else json.dumps(plain, allow_nan=True)
    _check(lambda: parse_application(text, "r.yaml" if as_yaml else "r.json", yaml_file=as_yaml), plain)


GOOD = "scheme: aumg\nstart: 2024-11-01\nambulatory:\n  type: msp\n  lon: 6.17\n  lat: 49.12\nduration_years: 3\n"


@SETTINGS
@given(st.integers(0, len(GOOD)), st.text(min_size=1, max_size=20), st.integers(0, 5))
@example(GOOD.index("2024"), "2024-13-45 #", 0)  # YAML's own date reader raised ValueError (was exit 70)
@example(GOOD.index("2024"), "2024-02-30 25:99:99 #", 0)
@example(len(GOOD), "? [a, b]\n: 1\n", 0)
@example(0, "\x00", 0)
def test_mangled_yaml_texts(at: int, insert: str, cut: int) -> None:
    """A valid application with random text inserted and some characters cut: never a traceback."""
    text = GOOD[:at] + insert + GOOD[at + cut:]
    try:
        parsed = parse_application(text, "m.yaml")
    except InputDataError as exc:
        assert "\n" not in str(exc)
        return
    assert _plain(parsed) and not _holds_computed_key(parsed)


@pytest.mark.parametrize("key", sorted(COMPUTED_KEYS))
@pytest.mark.parametrize("where", ["top", *STRUCTURE_KEYS])
def test_every_computed_key_is_refused_everywhere(key: str, where: str) -> None:
    data: dict[str, Any] = {"scheme": "aumg"}
    if where == "top":
        data[key] = "ZIP"
    else:
        data[where] = {"lon": 6.17, "lat": 49.12, key: "ZIP"}
    with pytest.raises(InputDataError, match=rf"'{key}' est calculé par l'outil"):
        validate_application(data, "a.yaml")


def test_impossible_yaml_date_names_its_line() -> None:
    with pytest.raises(InputDataError, match=r"m\.yaml : ligne 3 : date invalide \(month must be in 1\.\.12\)"):
        parse_application("scheme: aumg\ndoctor:\n  internship_end: 2024-13-45\n", "m.yaml")
    with pytest.raises(InputDataError, match=r"ligne 2, clé start : .*date"):
        parse_application("scheme: aumg\nstart: 01/01/99999999999999999999\n", "m.yaml")


def test_union_errors_name_the_broken_bound() -> None:
    """A value of a union (``str | int``, ``amount | [amounts]``) says which bound it breaks, at its own path."""
    with pytest.raises(InputDataError, match=r"ligne 2, clé region : doit être inférieur ou égal à 999"):
        parse_application("scheme: aumg\nregion: 99999\n", "u.yaml")
    with pytest.raises(InputDataError, match=r"ligne 2, clé funding\.a\.1 : doit être un nombre fini"):
        parse_application("scheme: aumg\nfunding: {a: [1, .nan]}\n", "u.yaml")
    assert parse_application("scheme: aumg\nregion: 44\n", "u.yaml")["region"] == 44
    assert validate_application({"scheme": "aumg", "start": dt.date(2024, 11, 1)})["start"] == "2024-11-01"
