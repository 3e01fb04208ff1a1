from pathlib import Path

import pandas as pd
import pytest

from zonage.errors import InputDataError
from zonage.io import atomic_path, parse_decimal, read_french_csv, sha256_file, sniff_csv


def test_latin1_semicolon_decimal_comma(tmp_path: Path) -> None:
    text = "code;nom;apl\n01001;L'Abergement-Clémenciat;1,89\n97411;Saint-Denis;3,5\n"
    file = tmp_path / "f.csv"
    file.write_bytes(text.encode("cp1252"))
    dialect = sniff_csv(file.read_bytes())
    assert (dialect.sep, dialect.decimal) == (";", ",")
    assert dialect.encoding == "cp1252"
    frame = read_french_csv(file)
    assert frame.loc[0, "nom"] == "L'Abergement-Clémenciat"
    assert frame.loc[0, "code"] == "01001"  # leading zero kept
    assert parse_decimal(frame["apl"]).tolist() == [1.89, 3.5]


def test_utf8_bom_comma(tmp_path: Path) -> None:
    file = tmp_path / "f.csv"
    file.write_bytes("\ufeffa,b\n1.5,x\n".encode())
    frame = read_french_csv(file)
    assert list(frame.columns) == ["a", "b"]
    assert frame.attrs["csv_dialect"].encoding == "utf-8-sig"


def test_parse_decimal_names_bad_row() -> None:
    with pytest.raises(InputDataError, match=r"row 1, field 'apl'"):
        parse_decimal(pd.Series(["1,2", "abc"]), field="apl")
    parsed = parse_decimal(pd.Series(["", "N/A - résultat non disponible", "1 234,5"]))
    assert parsed.isna().tolist() == [True, True, False] and parsed.iloc[2] == 1234.5


def test_atomic_path_leaves_target_untouched_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert len(sha256_file(target)) == 64
