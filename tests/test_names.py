import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonage.names import (
    loose_name_key,
    loose_name_keys,
    normalise_name,
    normalise_names,
    normalise_postcode,
    normalise_postcodes,
)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Évry-Courcouronnes", "evry courcouronnes"),
        ("ÉTRÉCHY", "etrechy"),
        ("Saint-Étienne", "saint etienne"),
        ("St-Étienne", "saint etienne"),
        ("St Etienne", "saint etienne"),
        ("St. Étienne", "saint etienne"),
        ("Ste-Marie", "sainte marie"),
        ("Saintes", "saintes"),  # the town, not an abbreviation
        ("Stes-Maries-de-la-Mer", "saintes maries de la mer"),
        ("L'Abergement-Clémenciat", "l abergement clemenciat"),
        ("L’Abergement-Clémenciat", "l abergement clemenciat"),
        ("Abergement-Clémenciat (L')", "l abergement clemenciat"),
        ("ABERGEMENT CLEMENCIAT (L')", "l abergement clemenciat"),
        ("Abergement-Clémenciat, L'", "l abergement clemenciat"),
        ("Vernet (Le)", "le vernet"),
        ("Vernet, Le", "le vernet"),
        ("Mées (Les)", "les mees"),
        ("Œuilly", "oeuilly"),
        ("Cœuvres-et-Valsery", "coeuvres et valsery"),
        ("  Bourg--en   Bresse ", "bourg en bresse"),
        ("Saint–Denis", "saint denis"),  # en dash
        ("Saint-Denis CEDEX 1", "saint denis"),
        ("Paris 1er Arrondissement", "paris 1"),
        ("PARIS 01", "paris 1"),
        ("Paris 16e Arrondissement", "paris 16"),
        ("Marseille 2e Arrondissement", "marseille 2"),
        ("Lyon 3ème arr.", "lyon 3"),
        ("1er arrondissement de Paris", "paris 1"),
        ("Paris", "paris"),
        ("", ""),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_normalise_name(raw: object, key: str) -> None:
    assert normalise_name(raw) == key


def test_loose_key_drops_leading_article_and_spaces() -> None:
    assert loose_name_key("Le Vernet") == loose_name_key("Vernet") == "vernet"
    assert loose_name_key("La Ville-aux-Bois") == loose_name_key("Ville aux Bois")
    assert loose_name_key("Les") == "les"  # a lone word is kept
    assert loose_name_key("L'Étang-Salé") == "etangsale"


def test_vectorised_helpers_match_scalar() -> None:
    names = pd.Series(["St-Denis", "Saint Denis", None, "Vernet (Le)", "St-Denis"],
                      index=[5, 6, 7, 8, 9])
    keys = normalise_names(names)
    assert keys.index.tolist() == [5, 6, 7, 8, 9]
    assert keys.tolist() == [normalise_name(n) for n in names]
    assert loose_name_keys(names).tolist() == [loose_name_key(n) for n in names]
    assert loose_name_keys(keys, normalised=True).tolist() == loose_name_keys(names).tolist()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1400", "01400"),
        ("01400", "01400"),
        (1400, "01400"),
        (1400.0, "01400"),
        ("1400.0", "01400"),
        (" 75 001 ", "75001"),
        ("97411", "97411"),
        ("2000", "02000"),
        ("123", None),
        ("123456", None),
        ("00123", None),
        ("ABC", None),
        ("2A000", None),
        (14.5, None),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_normalise_postcode(raw: object, code: str | None) -> None:
    assert normalise_postcode(raw) == code


def test_normalise_postcodes_vectorised() -> None:
    values = pd.Series(["1400", "01400", 1400, "75001", "abc", None, "123", "00123", "1400.0"],
                       dtype=object)
    assert normalise_postcodes(values).tolist() == [normalise_postcode(v) for v in values]


@given(st.text(max_size=40))
def test_normalise_name_is_ascii_and_idempotent(text: str) -> None:
    key = normalise_name(text)
    assert re.fullmatch(r"([0-9a-z]+( [0-9a-z]+)*)?", key)
    assert normalise_name(key) == key


@given(st.integers(min_value=1000, max_value=99999))
def test_postcode_round_trip(number: int) -> None:
    expected = str(number).zfill(5)
    assert normalise_postcode(number) == expected
    assert normalise_postcode(str(number)) == expected
    assert normalise_postcodes(pd.Series([str(number)])).iloc[0] == expected
