"""The one région table of the package, checked against the real COG communes."""

from __future__ import annotations

import pytest

from zonage.errors import InputDataError
from zonage.regions import DEPARTEMENT_REGION, REGIONS, region_code, require_region


def test_table_shape() -> None:
    assert len(REGIONS) == 18 and len(DEPARTEMENT_REGION) == 101
    assert REGIONS["06"].name == "Mayotte" and REGIONS["06"].territory == "976"
    assert REGIONS["94"].territory == "metro" and DEPARTEMENT_REGION["2A"] == "94"


@pytest.mark.parametrize(("value", "code"), [
    ("44", "44"), (44, "44"), ("2", "02"), (2.0, "02"), ("grand-est", "44"), ("GRAND EST", "44"),
    ("Provence-Alpes-Côte d’Azur", "93"), ("ile de france", "11"), ("la reunion", "04"),
    ("99", None), ("Atlantis", None), (2.5, None), (None, None),
])
def test_region_code(value: object, code: str | None) -> None:
    assert region_code(value) == code


def test_require_region_names_the_known_ones() -> None:
    assert require_region("Normandie").code == "28"
    with pytest.raises(InputDataError, match="Grand Est"):
        require_region("Lotharingie")


def test_every_commune_departement_maps_to_its_region(built) -> None:
    from zonage.layers.store import read_layer

    communes = read_layer(built, "communes", columns=["departement", "region"])
    pairs = communes[["departement", "region"]].astype(str).drop_duplicates()
    assert set(pairs["departement"]) == set(DEPARTEMENT_REGION)
    assert (pairs["departement"].map(dict(DEPARTEMENT_REGION)) == pairs["region"]).all()
