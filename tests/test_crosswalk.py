import pandas as pd

from zonage.layers.crosswalk import crosswalk_from_cog, to_current
from zonage.layers.pipeline import read_manifest
from zonage.layers.store import read_layer


def _entries() -> pd.DataFrame:
    rows = [
        ("01015", "Arboys en Bugey", "commune-actuelle", ("01340",), "01015"),
        ("01015", "Arbignieu", "commune-deleguee", (), "01015"),
        ("01340", "Saint-Bois", "commune-deleguee", (), "01015"),
        ("13201", "Marseille 1er", "arrondissement-municipal", (), "13055"),
        ("13055", "Marseille", "commune-actuelle", (), "13055"),
    ]
    return pd.DataFrame(rows, columns=["code", "nom", "type", "anciens_codes", "chef_lieu"])


def test_crosswalk_by_hand() -> None:
    table, _ = crosswalk_from_cog(_entries())
    lookup = table.set_index("code")
    assert lookup.loc["01340", "code_2025"] == "01015"
    assert lookup.loc["01340", "relation"] == "merged"
    assert lookup.loc["01340", "nom"] == "Saint-Bois"
    assert lookup.loc["01015", "relation"] == "current"
    assert lookup.loc["13201", "code_2025"] == "13055"
    assert table["code"].is_unique
    mapped = to_current(pd.Series(["01340", "13201", "99999"]), table)
    assert mapped.tolist()[:2] == ["01015", "13055"] and pd.isna(mapped.iloc[2])


def test_real_crosswalk_joins_old_codes(build_layers) -> None:
    paths = build_layers("crosswalk")
    table = read_layer(paths, "cog_crosswalk")
    assert table["code"].is_unique
    report = read_manifest(paths)["crosswalk"]["report"]
    assert report["by_relation"]["current"] == 34969
    assert report["by_relation"]["merged"] > 4000
    # Annecy absorbed Annecy-le-Vieux (74011) and others in 2017; Paris 1er → Paris.
    assert to_current(pd.Series(["74011", "75101"]), table).tolist() == ["74010", "75056"]
