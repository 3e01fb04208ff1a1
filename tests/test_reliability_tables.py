"""Property tests of the table reader (issue "Bad input … never a silent wrong answer, never a lost row").

Whatever separator, quoting, encoding, line ends and compression a small table is
written with, :func:`zonage.inputs.read_table` and :func:`zonage.io.read_french_csv`
give back the same number of rows and the same values; a record cut inside a quoted
value is an error naming its row, never a lost row.
"""

from __future__ import annotations

import codecs
import gzip
import io
import lzma
import re
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zonage.errors import InputDataError
from zonage.inputs import read_table
from zonage.io import read_french_csv

SEPARATORS = (";", ",", "\t", "|")
LINE_ENDS = ("\n", "\r\n", "\r")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "cp1252")
COMPRESSIONS = ("none", "gzip", "zip", "xz")

#: Separators, quotes, line breaks, formula signs, accents and the Windows-1252 extras of French text.
_CELL_CHARS = list("abcXYZ019 .;,\t|\"'\n\r-=+éèêàçôùÉÈÀÇœŒ€’«»°")
_NAME_CHARS = list("abcdefxyzéèàç_0123456789 ")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")

cells = st.one_of(
    st.text(alphabet=st.sampled_from(_CELL_CHARS), max_size=8),
    st.from_regex(r"0[0-9]{1,8}", fullmatch=True),  # codes with leading zeros
    st.from_regex(r"-?[0-9]{1,3},[0-9]{1,4}", fullmatch=True),  # decimal commas
)
names = st.text(alphabet=st.sampled_from(_NAME_CHARS), min_size=1, max_size=6).filter(lambda s: s.strip() != "")


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(1, 4))
    header = draw(st.lists(names, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=6))
    return header, rows


def _field(value: str, sep: str, alone: bool, quote_all: bool) -> str:
    """Quote as spreadsheets do: when needed (or always); a lone blank cell too, else it is a blank line."""
    needed = any(c in value for c in (sep, '"', "\n", "\r")) or (alone and not value.strip(" \t"))
    return '"' + value.replace('"', '""') + '"' if quote_all or needed else value


def _csv_text(header: list[str], rows: list[list[str]], sep: str, end: str, quote_all: bool, last_end: bool) -> str:
    lines = [sep.join(_field(v, sep, len(record) == 1, quote_all) for v in record) for record in (header, *rows)]
    return end.join(lines) + (end if last_end else "")


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "cp1252":
        try:
            raw = text.encode("cp1252")
        except UnicodeEncodeError:
            raw = b""
        # Only when unambiguous: bytes that also read as UTF-8 accents are UTF-8 to any reader.
        if raw and not _UTF8_SEQUENCE.search(raw):
            return raw
        return text.encode("utf-8")
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding)


def _compress(raw: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(raw)
    if compression == "xz":
        return lzma.compress(raw)
    if compression == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("table.csv", raw)
        return buffer.getvalue()
    return raw


def _values(frame: pd.DataFrame) -> list[list[str]]:
    cells = frame.astype(object)
    return cells.where(cells.notna(), "").values.tolist()


dialects = st.fixed_dictionaries({
    "sep": st.sampled_from(SEPARATORS),
    "end": st.sampled_from(LINE_ENDS),
    "encoding": st.sampled_from(ENCODINGS),
    "compression": st.sampled_from(COMPRESSIONS),
    "quote_all": st.booleans(),
    "last_end": st.booleans(),
    "name": st.sampled_from(["table.csv", "table.txt", "table.csv.gz", "table.csv.zip"]),
})


@settings(max_examples=60, deadline=None)
@given(table=tables(), dialect=dialects)
def test_tables_read_back_row_for_row(table: tuple[list[str], list[list[str]]], dialect: dict) -> None:
    header, rows = table
    text = _csv_text(header, rows, dialect["sep"], dialect["end"], dialect["quote_all"], dialect["last_end"])
    data = _compress(_encode(text, dialect["encoding"]), dialect["compression"])
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / dialect["name"]  # the name may lie about the compression: the content decides
        file.write_bytes(data)
        frame = read_table(file)
        plain = read_french_csv(file, keep_default_na=False)
    assert len(frame) == len(rows) and len(plain) == len(rows)
    assert frame.shape[1] == len(header)
    assert _values(frame) == rows and _values(plain) == rows
    if len(set(header)) == len(header):
        assert list(frame.columns) == header
    if len(header) > 1:
        assert frame.attrs["csv_dialect"].sep == dialect["sep"]


@settings(max_examples=60, deadline=None)
@given(table=tables(), dialect=dialects, start=st.text(alphabet=st.sampled_from(_CELL_CHARS), max_size=5))
def test_an_unclosed_quote_names_its_row(table: tuple[list[str], list[list[str]]], dialect: dict, start: str) -> None:
    header, rows = table
    sep, end = dialect["sep"], dialect["end"]
    text = _csv_text(header, rows, sep, end, dialect["quote_all"], last_end=True)
    broken = [_field("x", sep, False, dialect["quote_all"])] * (len(header) - 1)
    text += sep.join([*broken, '"' + start.replace('"', '""')]) + (end if dialect["last_end"] else "")
    data = _compress(_encode(text, dialect["encoding"]), dialect["compression"])
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / dialect["name"]
        file.write_bytes(data)
        with pytest.raises(InputDataError, match=rf"{re.escape(file.name)} : ligne {len(rows) + 1} \(ligne \d+ du"):
            read_table(file)
