import json
from pathlib import Path

import pandas as pd
import pytest

from zonage.errors import SourceFormatError
from zonage.layers.pipeline import read_manifest
from zonage.layers.store import read_layer
from zonage.layers.zoning import (
    COMMUNE_COLUMNS,
    candidate_names,
    match_rows,
    zoning_communes_table,
    zoning_qpv_table,
)
from zonage.sources.zoning import map_classes, read_zoning_communes, read_zoning_qpv

# --- a hand-built COG: the columns of zonage.sources.cog.read_cog_entries -------------

_CUR, _DEL, _ARR = "commune-actuelle", "commune-deleguee", "arrondissement-municipal"
_COG = [
    # code, nom, type, departement, region, population, codes_postaux, chef_lieu
    ("01001", "L'Abergement-Clémenciat", _CUR, "01", "84", 800, ("01400",), "01001"),
    ("01015", "Arboys en Bugey", _CUR, "01", "84", 700, ("01300",), "01015"),
    ("01015", "Arbignieu", _DEL, "01", "84", None, (), "01015"),
    ("01340", "Saint-Bois", _DEL, "01", "84", None, (), "01015"),
    ("01053", "Bourg-en-Bresse", _CUR, "01", "84", 41000, ("01000",), "01053"),
    ("24177", "Faux-en-Périgord", _CUR, "24", "75", 600, ("24560",), "24177"),
    ("24178", "Saint-Agne", _CUR, "24", "75", 400, ("24520",), "24178"),
    ("15141", "Neussargues-Moissac", _CUR, "15", "84", 800, ("15170",), "15141"),
    ("15031", "Celles", _CUR, "15", "84", 200, ("15170",), "15031"),
    ("75056", "Paris", _CUR, "75", "11", 2_100_000, ("75001", "75016", "75116"), "75056"),
    ("75101", "Paris 1er Arrondissement", _ARR, "75", "11", 16000, ("75001",), "75056"),
    ("75116", "Paris 16e Arrondissement", _ARR, "75", "11", 160000, ("75016", "75116"), "75056"),
    ("97411", "Saint-Denis", _CUR, "974", "04", 150000, ("97400", "97490"), "97411"),
    ("2A004", "Ajaccio", _CUR, "2A", "94", 70000, ("20000",), "2A004"),
]


def _entries() -> pd.DataFrame:
    frame = pd.DataFrame(_COG, columns=["code", "nom", "type", "departement", "region",
                                        "population", "codes_postaux", "chef_lieu"])
    frame["zone"] = frame["departement"].map(lambda d: "drom" if d.startswith("97") else "metro")
    frame["arrondissement"] = None
    frame["anciens_codes"] = [()] * len(frame)
    frame["siren"] = None
    frame["population"] = frame["population"].astype(float)
    return frame


_CSV = """Code_postal,Nom_commune,Zonage
1400,Abergement-Clémenciat (L'),2_ZAC
1300,Arboys en Bugey,1_ZIP
1300,Arbignieu,1_ZIP
1300,Saint-Bois,1_ZIP
1000,Bourg en Bresse,3_HZ
24560,Faux,1_ZIP
24520,St-Agne,4_ZAR
15170,Neussargues en Pinatelle,1_ZIP
75001,Paris 1er Arrondissement,3_HZ
75016,Paris 16e Arrondissement,2_ZAC
75116,Paris 16e Arrondissement,2_ZAC
97400,Saint-Denis,N/A - résultat non disponible
97490,Saint-Denis,N/A - résultat non disponible
20000,Ajacio,2_ZAC
99999,Nulle-Part,1_ZIP
abc,Invalide,2_ZAC
"""


def _write(tmp_path: Path, text: str, name: str = "zonage.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_read_zoning_communes_restores_postcodes_and_classes(tmp_path: Path) -> None:
    rows = read_zoning_communes(_write(tmp_path, _CSV))
    assert list(rows.columns) == ["line", "postcode_source", "postcode", "name", "classe_source",
                                  "classe"]
    first = rows.iloc[0]
    assert (first["postcode"], first["classe"], first["classe_source"]) == ("01400", "ZAC", "2_ZAC")
    assert rows.set_index("name").loc["St-Agne", "classe"] == "ZAR"
    assert rows.set_index("name").loc["Bourg en Bresse", "classe"] == "HZ"
    assert (rows.loc[rows["postcode"] == "97400", "classe"] == "unknown").all()
    assert rows.set_index("name").loc["Invalide", "postcode"] is None


def test_read_zoning_communes_latin1_semicolon(tmp_path: Path) -> None:
    text = ("Code postal;Nom commune;ZONAGE\n"
            "1400;L'Abergement-Clémenciat;2_ZAC\n2000;Étouvelles;ZIP\n")
    rows = read_zoning_communes(_write(tmp_path, text, encoding="latin-1"))
    assert rows["name"].tolist() == ["L'Abergement-Clémenciat", "Étouvelles"]
    assert rows["postcode"].tolist() == ["01400", "02000"]
    assert rows["classe"].tolist() == ["ZAC", "ZIP"]


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "Code_postal,Commune_x,Zonage\n1400,X,1_ZIP\n", name="bad.csv")
    with pytest.raises(SourceFormatError, match=r"bad\.csv.*nom_commune"):
        read_zoning_communes(path)
    path = _write(tmp_path, "code_qp,lib_qp,insee_com\nQN00401M,A,04070\n", name="badqpv.csv")
    with pytest.raises(SourceFormatError, match=r"badqpv\.csv.*zonage_qpv"):
        read_zoning_qpv(path)


def test_unrecognised_class_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "Code_postal,Nom_commune,Zonage\n1400,X,5_ZZZ\n", name="new.csv")
    with pytest.raises(SourceFormatError, match="5_ZZZ"):
        read_zoning_communes(path)


def test_map_classes_variants() -> None:
    raw = pd.Series(["1_ZIP", "ZAC", "Hors zonage", "4_ZAR", "N/A - résultat non disponible", "",
                     None, "3_HZ", "zone d'intervention prioritaire"])
    assert map_classes(raw).tolist() == ["ZIP", "ZAC", "HZ", "ZAR", "unknown", "unknown",
                                         "unknown", "HZ", "ZIP"]


def test_read_zoning_qpv(tmp_path: Path) -> None:
    text = ("code_qp,lib_qp,zonage_qpv,insee_com\nQN00401M,Centre Ville,ZIP,4070\n"
            "QN00603M,Ranguin,ZAC,06029\nQN00603M,Ranguin,ZAC,06030\n")
    qpv = read_zoning_qpv(_write(tmp_path, text))
    assert qpv["insee_com"].tolist() == ["04070", "06029", "06030"]
    assert qpv["classe"].tolist() == ["ZIP", "ZAC", "ZAC"]
    entries = _entries()
    table, report = zoning_qpv_table(qpv, entries)
    assert report["qpv"] == 2 and report["by_class"] == {"ZAC": 1, "ZIP": 1}
    assert report["qpv_spanning_several_communes"] == 1
    assert set(table["region"]) == {"93"} and set(table["vintage"]) == {"2025"}
    bad = _write(tmp_path, "code_qp,lib_qp,zonage_qpv,insee_com\nXX1,A,ZIP,04070\n", name="q.csv")
    with pytest.raises(SourceFormatError, match="code_qp"):
        read_zoning_qpv(bad)


def test_match_rows_by_hand(tmp_path: Path) -> None:
    rows = read_zoning_communes(_write(tmp_path, _CSV))
    matched = match_rows(rows, candidate_names(_entries())).set_index("name")
    assert matched.loc["Abergement-Clémenciat (L')", "insee"] == "01001"
    assert matched.loc["Abergement-Clémenciat (L')", "match_method"] == "exact"
    assert matched.loc["Arbignieu", ["insee", "match_relation"]].tolist() == ["01015", "deleguee"]
    assert matched.loc["Bourg en Bresse", "insee"] == "01053"
    assert matched.loc["St-Agne", "insee"] == "24178"
    assert matched.loc["Faux", ["insee", "match_method"]].tolist() == ["24177", "postcode_prefix"]
    assert matched.loc["Neussargues en Pinatelle", "insee"] == "15141"
    assert matched.loc["Neussargues en Pinatelle", "match_method"] == "postcode_word"
    assert matched.loc["Paris 1er Arrondissement", ["insee", "insee_arm"]].tolist() == [
        "75056", "75101"]
    assert matched.loc["Ajacio", ["insee", "match_method"]].tolist() == ["2A004", "fuzzy"]
    assert pd.isna(matched.loc["Nulle-Part", "match_method"])
    assert matched.loc["Nulle-Part", "unmatched_reason"] == "no candidate"
    assert matched.loc["Invalide", "unmatched_reason"] == "invalid postcode"


def test_table_by_hand(tmp_path: Path) -> None:
    rows = read_zoning_communes(_write(tmp_path, _CSV))
    table, report = zoning_communes_table(rows, _entries())
    assert list(table.columns) == list(COMMUNE_COLUMNS)
    assert table["code"].is_unique
    by_code = table.set_index("code")
    # One row for a commune named three ways (new name + two déléguées), same class.
    assert by_code.loc["01015", "classe"] == "ZIP"
    assert by_code.loc["01015", "n_source_rows"] == 3
    assert not by_code.loc["01015", "conflict"]
    # Two postcodes, same class: one row.
    paris16 = by_code.loc["75116", ["insee", "insee_arm", "classe"]].tolist()
    assert paris16 == ["75056", "75116", "ZAC"]
    assert by_code.loc["75116", "postcodes"] == "75016;75116"
    assert "75056" not in by_code.index  # Paris is covered by its arrondissements
    assert by_code.loc["97411", "classe"] == "unknown"
    assert by_code.loc["97411", "classe_source"] == "N/A - résultat non disponible"
    # Re-created in 2025 out of Neussargues en Pinatelle: inherits its class.
    celles = by_code.loc["15031", ["classe", "match_method"]].tolist()
    assert celles == ["ZIP", "restored_from_parent"]
    assert report["rows_in"] == 16 and report["rows_matched"] == 14
    assert report["unmatched_count"] == 2
    assert {(u["postcode"], u["name"]) for u in report["unmatched"]} == {
        ("99999", "Nulle-Part"), ("abc", "Invalide")}
    assert report["conflict_count"] == 0
    assert report["communes_without_zoning_row"]["count"] == 0
    assert report["classes"]["ZIP"] == 4  # 01015, 24177, 15141, 15031
    json.dumps(report)  # JSON-able


def test_conflicting_classes_are_flagged(tmp_path: Path) -> None:
    text = ("Code_postal,Nom_commune,Zonage\n1300,Arboys en Bugey,2_ZAC\n1300,Arbignieu,1_ZIP\n"
            "1300,Saint-Bois,N/A - résultat non disponible\n")
    table, report = zoning_communes_table(read_zoning_communes(_write(tmp_path, text)), _entries())
    row = table.set_index("code").loc["01015"]
    assert row["conflict"] and row["classe"] == "ZIP"  # the most favourable class wins
    assert row["classes_seen"] == "ZAC;ZIP;unknown"
    assert report["conflict_count"] == 1
    assert report["conflicts"][0]["code"] == "01015"
    assert {r["classe"] for r in report["conflicts"][0]["rows"]} == {"ZIP", "ZAC", "unknown"}
    # Communes of the COG absent from the file are kept with class "unknown".
    missing = table.set_index("code").loc["01001"]
    assert (missing["classe"], missing["match_method"]) == ("unknown", "no_source_row")
    assert report["communes_without_zoning_row"]["by_region"]["84"] >= 1


# --- real data ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zoning_built(build_layers):
    paths = build_layers("zoning")
    return (read_layer(paths, "zoning_communes"), read_layer(paths, "zoning_qpv"),
            read_manifest(paths)["zoning"])


def test_real_match_rate_and_conflicts(zoning_built) -> None:
    _, _, entry = zoning_built
    report = entry["report"]
    assert report["rows_in"] == 38907
    assert report["match_rate"] >= 0.995
    assert report["conflict_count"] == 0
    assert report["unmatched_count"] == len(report["unmatched"]) <= 0.005 * 38907
    assert report["rows_by_method"]["exact"] > 38_500
    # Only the three communes nouvelles the export omits have no row.
    assert report["communes_without_zoning_row"]["count"] <= 10
    assert entry["seconds"] < 60


def test_real_table_shape(zoning_built) -> None:
    table, _, _ = zoning_built
    assert table["code"].is_unique
    assert set(COMMUNE_COLUMNS) <= set(table.columns)
    assert set(table["classe"]) <= {"ZIP", "ZAC", "HZ", "ZAR", "unknown"}
    # Every COG 2025 commune of metropolitan France and the DROM (34,875 with the 4
    # Cantal communes re-created in 2025) minus Paris/Lyon/Marseille plus 45 arrondissements.
    covered = table[~table["region"].isin(["975", "977", "978"])]
    assert len(covered) == 34_875 - 3 + 45
    assert set(table["vintage"]) == {"2025"}


def test_real_arrondissements(zoning_built) -> None:
    table, _, _ = zoning_built
    arr = table[table["insee_arm"].notna()]
    parents = arr.groupby("insee")["insee_arm"].agg(set)
    assert parents["75056"] == {f"751{i:02d}" for i in range(1, 21)}
    assert parents["69123"] == {f"6938{i}" for i in range(1, 10)}
    assert parents["13055"] == {f"132{i:02d}" for i in range(1, 17)}
    by_code = table.set_index("code")
    assert by_code.loc["75119", ["insee", "classe"]].tolist() == ["75056", "ZIP"]
    assert by_code.loc["13215", ["insee", "classe"]].tolist() == ["13055", "ZIP"]
    assert by_code.loc["69381", "classe"] == "ZAC"
    assert not {"75056", "69123", "13055"} & set(by_code.index)


def test_real_known_classes(zoning_built) -> None:
    table, _, _ = zoning_built
    by_code = table.set_index("code")
    # "1400,L'Abergement-Clémenciat,2_ZAC"
    assert by_code.loc["01001", ["classe", "classe_source", "match_method"]].tolist() == [
        "ZAC", "2_ZAC", "exact"]
    # "24560,Faux,1_ZIP": the commune is now Faux-en-Périgord.
    assert by_code.loc["24177", ["classe", "match_method"]].tolist() == ["ZIP", "postcode_prefix"]
    # Mayotte is all ZIP; La Réunion is "N/A - résultat non disponible" in the export.
    assert (table.loc[table["departement"] == "976", "classe"] == "ZIP").all()
    assert (table.loc[table["departement"] == "974", "classe"] == "unknown").all()


def test_real_qpv(zoning_built) -> None:
    _, qpv, entry = zoning_built
    report = entry["report"]["qpv"]
    per_qpv = qpv.drop_duplicates("code_qp")
    assert len(per_qpv) == report["qpv"] == 135
    assert per_qpv["classe"].value_counts().to_dict() == {"ZAC": 68, "ZIP": 67}
    assert qpv["insee_known"].all()
    assert set(qpv["region"]) == {"93"}
    assert set(qpv["departement"]) <= {"04", "05", "06", "13", "83", "84"}
