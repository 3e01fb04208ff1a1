from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from zonage.errors import SourceFormatError
from zonage.layers.crosswalk import to_current
from zonage.layers.gp_supply import gp_supply_to_cog2025
from zonage.layers.pipeline import read_manifest
from zonage.layers.store import read_layer
from zonage.sources.bpe import read_bpe_d201


def _csv(tmp_path: Path, body: str, name: str = "bpe.csv") -> Path:
    path = tmp_path / name
    path.write_text("REG,DEP,DEPCOM,AN,nb_d201\n" + body, encoding="utf-8")
    return path


def test_read_bpe(tmp_path: Path) -> None:
    frame = read_bpe_d201(_csv(tmp_path, "84,01,1001,2019,3\n94,2A,2A004,2019,12\n"))
    assert frame["depcom"].tolist() == ["01001", "2A004"]  # lost leading zero restored
    assert frame["gp_count"].tolist() == [3, 12] and frame["year"].eq(2019).all()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("84,01,01001,2019,-1\n", "not a count"),
        ("84,01,01001,2019,1.5\n", "not a count"),
        ("84,01,ABCDE,2019,1\n", "not a commune code"),
        ("84,01,01001,2019,1\n84,01,01001,2019,2\n", "repeated"),
        ("84,01,01001,2019,1\n84,01,01002,2018,2\n", "one year"),
    ],
)
def test_read_bpe_rejects(tmp_path: Path, body: str, match: str) -> None:
    with pytest.raises(SourceFormatError, match=match):
        read_bpe_d201(_csv(tmp_path, body))


def test_read_bpe_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "bpe.csv"
    path.write_text("REG,DEP,DEPCOM,AN\n84,01,01001,2019\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"bpe.csv.*nb_d201"):
        read_bpe_d201(path)


def test_counts_move_to_2025_communes() -> None:
    crosswalk = pd.DataFrame(
        [
            ("01001", "01001", "current"),
            ("01002", "01002", "current"),
            ("01003", "01002", "merged"),
            ("01005", "01005", "current"),
            ("75056", "75056", "current"),
            ("75101", "75056", "arrondissement"),
            ("75102", "75056", "arrondissement"),
            ("97611", "97611", "current"),
            ("98735", "98735", "current"),  # Polynésie: outside the BPE field
        ],
        columns=["code", "code_2025", "relation"],
    )
    bpe = pd.DataFrame({
        "depcom": ["01001", "01003", "01002", "75101", "75102", "99999"],
        "year": 2019,
        "gp_count": [2, 3, 4, 10, 20, 7],
    })
    table, report = gp_supply_to_cog2025(bpe, crosswalk)
    counts = table.set_index("insee")["gp_count"].to_dict()
    assert counts == {"01001": 2, "01002": 7, "01005": 0, "75056": 30, "97611": 0}
    assert table.set_index("insee").loc["01002", "source_codes"] == "01002;01003"
    assert table["year"].eq(2019).all()
    assert report["gp_total_in"] == 46 and report["gp_total_out"] == 39
    assert report["gp_unmapped"] == 7 and not report["conserved"]
    assert report["unmapped_codes"] == ["99999 (7 GP)"]
    assert report["communes_with_gp"] == 3


# --- real data -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gp_built(build_layers):
    paths = build_layers("gp_supply")
    return read_layer(paths, "gp_supply"), read_manifest(paths)["gp_supply"]["report"], paths


def test_real_gp_total_is_conserved(gp_built) -> None:
    table, report, _ = gp_built
    assert report["gp_total_in"] == 61_429
    assert report["gp_total_out"] == 61_429 == int(table["gp_count"].sum())
    assert report["conserved"] and report["unmapped_codes"] == []
    assert table["insee"].is_unique
    assert 9_000 < report["communes_with_gp"] < 9_434


def test_real_every_current_commune_is_present(gp_built) -> None:
    table, _, paths = gp_built
    crosswalk = read_layer(paths, "cog_crosswalk")
    current = crosswalk.loc[crosswalk["relation"] == "current", "code"]
    in_field = current[~current.str[:3].isin(["975", "977", "978", "984", "986", "987", "988", "989"])]
    assert set(table["insee"]) == set(in_field)
    assert 34_800 < len(table) < 35_000
    assert (table["gp_count"] >= 0).all()


def test_real_crosswalked_codes_join(gp_built, mirror: Path) -> None:
    table, _, paths = gp_built
    bpe = read_bpe_d201(mirror / "supply" / "bpe19_d201_commune.csv").set_index("depcom")["gp_count"]
    counts = table.set_index("insee")["gp_count"]
    # Pierrefitte-sur-Seine (93059) merged into Saint-Denis (93066) on 1 January 2025.
    crosswalk = read_layer(paths, "cog_crosswalk")
    assert to_current(pd.Series(["93059"]), crosswalk).iloc[0] == "93066"
    assert counts["93066"] == bpe["93059"] + bpe["93066"]
    # Paris is the sum of its 20 arrondissements.
    assert counts["75056"] == bpe[bpe.index.str.startswith("751")].sum()
    assert bpe.index.str.startswith("751").sum() == 20
