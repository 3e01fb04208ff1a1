import bz2
import codecs
import gzip
import io
import lzma
import zipfile
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
    with pytest.raises(InputDataError, match=r"ligne 1, champ 'apl'"):
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


# --------------------------------------------------------------------------- reliability of the table reader

FRENCH = "id;nom;lon;lat\n01001;Élise;6,1757;49,1193\n02;\"a;b\nc\";6,2;49,2\n".encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "pack", "compression"),
    [
        ("in.csv.gz", gzip.compress, "gzip"),
        ("in.csv", gzip.compress, "gzip"),  # gzip whatever the name says
        ("in.zip", lambda b: _zip({"folder/in.csv": b}), "zip"),
        ("in.csv.xz", lzma.compress, "xz"),
        ("in.txt", bz2.compress, "bz2"),
        ("in.csv", lambda b: gzip.compress(_zip({"in.csv": b})), "gzip"),  # a zip inside gzip
    ],
)
def test_compression_by_content(tmp_path: Path, name: str, pack, compression: str) -> None:
    file = tmp_path / name
    file.write_bytes(pack(FRENCH))
    frame = read_french_csv(file)
    assert frame.attrs["csv_dialect"].compression == compression
    assert frame.values.tolist() == [["01001", "Élise", "6,1757", "49,1193"], ["02", "a;b\nc", "6,2", "49,2"]]
    assert sniff_csv(file.read_bytes()).sep == ";"


def test_zip_with_several_files_and_damaged_data(tmp_path: Path) -> None:
    file = tmp_path / "in.zip"
    file.write_bytes(_zip({"a.csv": FRENCH, "b.csv": FRENCH, "__MACOSX/._a.csv": b"x"}))
    with pytest.raises(InputDataError, match=r"in\.zip : l'archive zip contient 2 fichiers \(a\.csv, b\.csv\)"):
        read_french_csv(file)
    file = tmp_path / "in.csv.gz"
    file.write_bytes(gzip.compress(FRENCH)[:-12])
    with pytest.raises(InputDataError, match=r"in\.csv\.gz : données gzip endommagées .*compresser à nouveau"):
        read_french_csv(file)


def test_utf16_le_bom_tab_separated_as_excel_unicode_text(tmp_path: Path) -> None:
    file = tmp_path / "export.txt"
    file.write_bytes(codecs.BOM_UTF16_LE + "code\tnom\tapl\r\n01001\tÉpinal\t2,5\r\n".encode("utf-16-le"))
    frame = read_french_csv(file)
    dialect = frame.attrs["csv_dialect"]
    assert (dialect.encoding, dialect.sep, dialect.decimal) == ("utf-16", "\t", ",")
    assert frame.values.tolist() == [["01001", "Épinal", "2,5"]]
    file.write_bytes("code\tnom\n01001\tÉpinal\n".encode("utf-16-be"))  # no BOM: told by the NUL bytes
    assert read_french_csv(file).values.tolist() == [["01001", "Épinal"]]


def test_cp1252_semicolon_decimal_comma_bare_cr(tmp_path: Path) -> None:
    file = tmp_path / "mac.csv"
    file.write_bytes("code;nom;apl\r01001;Saint-Étienne-d’Œuf;1,89\r97411;Saint-Denis;3,5".encode("cp1252"))
    frame = read_french_csv(file)
    dialect = frame.attrs["csv_dialect"]
    assert (dialect.encoding, dialect.sep, dialect.decimal) == ("cp1252", ";", ",")
    assert frame["nom"].tolist() == ["Saint-Étienne-d’Œuf", "Saint-Denis"]
    assert parse_decimal(frame["apl"]).tolist() == [1.89, 3.5]
    file.write_bytes("code;nom\r\n01001;Crétel à Nîmes\r\n".encode("mac_roman"))  # Excel for Mac "CSV"
    assert read_french_csv(file)["nom"].tolist() == ["Crétel à Nîmes"]


def test_two_column_lon_lat_with_decimal_commas(tmp_path: Path) -> None:
    file = tmp_path / "points.csv"
    file.write_text("lon;lat\n" + "".join(f"6,{1757 + i};49,{1193 + i}\n" for i in range(60)), encoding="utf-8")
    frame = read_french_csv(file)
    assert list(frame.columns) == ["lon", "lat"] and len(frame) == 60
    assert (frame.attrs["csv_dialect"].sep, frame.attrs["csv_dialect"].decimal) == (";", ",")
    assert frame.loc[0, "lon"] == "6,1757"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'id;nom\n1;a\n2;b\n3;"c\n',
         r"bad\.csv : ligne 3 \(ligne 4 du fichier\) : une valeur entre guillemets ouverte ligne 4 du fichier "
         r"n'est jamais fermée"),
        (b'id;nom\n1;"a\n2;b\n3;c\n', r"bad\.csv : ligne 1 \(ligne 2 du fichier\) : une valeur .* jamais fermée"),
        (b'id;nom\n1;a\n2;"b"c\n', r"bad\.csv : ligne 2 \(ligne 3 du fichier\) : du texte suit un guillemet fermant"),
        (b"id;nom\n1;a\n2;b;c\n", r"bad\.csv : ligne 2 \(ligne 3 du fichier\) : 3 champs au lieu des 2 de l'en-tête"),
        (b"id;nom;lon\n1;a;6\n2\n", r"bad\.csv : ligne 2 \(ligne 3 du fichier\) : 1 champ au lieu des 3 de l'en-tête"),
        (b'id;"nom\n1;a\n', r"bad\.csv : l'en-tête \(ligne 1 du fichier\) : une valeur .* jamais fermée"),
    ],
)
def test_broken_records_name_the_row(tmp_path: Path, text: bytes, message: str) -> None:
    file = tmp_path / "bad.csv"
    file.write_bytes(text)
    with pytest.raises(InputDataError, match=message) as caught:
        read_french_csv(file)
    assert "\n" not in str(caught.value)


def test_long_quoted_values_are_not_cut(tmp_path: Path) -> None:
    file = tmp_path / "wkt.csv"
    wkt = "POLYGON ((" + ", ".join(f"6.{i:06d} 49.{i:06d}" for i in range(20_000)) + "))"  # over csv's 128 KiB
    file.write_text(f'id;wkt\n1;"{wkt}"\n2;"a;b"\n', encoding="utf-8")
    frame = read_french_csv(file)
    assert frame["wkt"].tolist() == [wkt, "a;b"]


def test_trailing_separators_do_not_shift_columns(tmp_path: Path) -> None:
    file = tmp_path / "f.csv"
    file.write_bytes(b"id;nom\n01;a;\n02;b;\n")  # pandas alone would make "id" the index
    assert read_french_csv(file).values.tolist() == [["01", "a"], ["02", "b"]]
    file.write_bytes(b"id;nom;\n01;a\n02;b\n")  # an unnamed last column may be left out
    assert read_french_csv(file, keep_default_na=False)["nom"].tolist() == ["a", "b"]


def test_blank_lines(tmp_path: Path) -> None:
    file = tmp_path / "f.csv"
    file.write_bytes(b"a;b\n1;2\n\n  \n3;4\n\n")
    assert len(read_french_csv(file)) == 2  # blank lines are not records of a two-column table
    file.write_bytes(b"finess\n010000024\n\n010000032\n\n\n")  # an empty cell of a one-column table
    frame = read_french_csv(file, keep_default_na=False)
    assert frame["finess"].tolist() == ["010000024", "", "010000032"]


def test_every_read_checks_the_row_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "f.csv"
    file.write_bytes(b"id;nom\n1;a\n2;b\n3;c\n")
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: real(*a, **k).drop(index=1).reset_index(drop=True))
    with pytest.raises(InputDataError, match=r"f\.csv : 3 lignes de données dans le fichier mais 2 lues, .*ligne 2"):
        read_french_csv(file)


def test_skiprows_counts_records_not_lines(tmp_path: Path) -> None:
    file = tmp_path / "f.csv"
    file.write_bytes(b'Titre;;\n"Note sur\ndeux lignes";;\nCode;Nom;APL\n01;"A\nB";1,5\n02;C;2\n')
    frame = read_french_csv(file, skiprows=2, keep_default_na=False)
    assert frame.values.tolist() == [["01", "A\nB", "1,5"], ["02", "C", "2"]]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("id;nom\n1;é\n".encode() + "2;è\n".encode("cp1252"),
         r"la ligne 3 du fichier n'est pas en UTF-8 .* mélange deux encodages"),
        (b"id;nom\n1;\x81\xe9\n", r"la ligne 2 du fichier n'est ni du texte UTF-8 ni du Windows-1252 \(octet 0x81\)"),
        (b"id;nom\n1;a\x00b\n", r"la ligne 2 du fichier contient un caractère NUL"),
        (b"", r"le fichier est vide"),
        (_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}), r"classeur Excel"),
        (b"PAR1xxxxPAR1", r"fichier Parquet"),
    ],
)
def test_undecodable_or_not_a_table(tmp_path: Path, raw: bytes, message: str) -> None:
    file = tmp_path / "in.csv"
    file.write_bytes(raw)
    with pytest.raises(InputDataError, match=r"in\.csv : " + message):
        read_french_csv(file)
