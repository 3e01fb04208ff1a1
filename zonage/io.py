"""Small I/O helpers shared by sources, layers and outputs.

Checksums, atomic writes (temp file in the same folder + ``os.replace``) and a
reader for French-style CSV files (``;`` separator, decimal comma, latin-1/cp1252,
BOM).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from zonage.errors import InputDataError

if TYPE_CHECKING:
    from pandas._typing import DtypeArg

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    If the block raises, the temporary file is removed and ``target`` is left
    untouched, so a reader never sees a half-written file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600 files; published outputs follow the umask
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(target: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class CsvDialect:
    """What :func:`sniff_csv` found out about a delimited text file."""

    encoding: str
    sep: str
    decimal: str


def _decode(raw: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def sniff_csv(raw: bytes) -> CsvDialect:
    r"""Detect encoding, separator and decimal mark of CSV bytes.

    UTF-8 (with or without BOM) is tried first, then cp1252. The separator is
    the one of ``; , \\t |`` that splits the first lines into the most constant
    number of fields; a decimal comma is assumed when the separator is not a
    comma and numbers like ``12,5`` appear.
    """
    text, encoding = _decode(raw)
    if encoding == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8"
    sample = "\n".join(text.splitlines()[:50])
    best, best_score = ",", -1.0
    for sep in (";", ",", "\t", "|"):
        rows = list(csv.reader(io.StringIO(sample), delimiter=sep))
        counts = [len(r) for r in rows if r]
        if not counts or max(counts) < 2:
            continue
        modal = max(set(counts), key=counts.count)
        score = counts.count(modal) / len(counts) * min(modal, 50)
        if score > best_score:
            best, best_score = sep, score
    decimal = "."
    if best != ",":
        import re

        if re.search(r"(^|[" + re.escape(best) + r"])-?\d+,\d+([" + re.escape(best) + r"]|$)", sample, re.M):
            decimal = ","
    return CsvDialect(encoding=encoding, sep=best, decimal=decimal)


def read_french_csv(
    path: str | Path, *, dtype: DtypeArg | Mapping[Hashable, DtypeArg] | None = str, **kwargs: Any
) -> pd.DataFrame:
    """Read a delimited text file whatever its French conventions.

    Parameters
    ----------
    path
        The file.
    dtype
        Passed to :func:`pandas.read_csv`; text by default so that codes keep
        their leading zeros. Use :func:`parse_decimal` on numeric columns.
    **kwargs
        Further :func:`pandas.read_csv` options (``skiprows``…).

    Raises
    ------
    InputDataError
        If the file cannot be parsed, with the file name and pandas' reason.
    """
    path = Path(path)
    raw = path.read_bytes()
    dialect = sniff_csv(raw)
    text, _ = _decode(raw)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=dialect.sep, dtype=dtype, **kwargs)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputDataError(f"{path.name}: cannot parse as CSV ({exc})") from exc
    frame.attrs["csv_dialect"] = dialect
    return frame


def parse_decimal(values: pd.Series, *, field: str = "value") -> pd.Series:
    """Convert text numbers with ``,`` or ``.`` decimal marks to floats.

    Empty cells and ``N/A``-like markers become NaN; anything else that is not a
    number raises :class:`InputDataError` naming the first bad row.
    """
    text = values.astype("string").str.strip().str.replace("\u00a0", "", regex=False)
    text = text.str.replace(" ", "", regex=False).str.replace(",", ".", regex=False)
    missing = text.isna() | (text == "") | text.str.upper().str.startswith("N/A")
    numbers = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = numbers.isna() & ~missing
    if bad.any():
        first = int(bad.argmax())
        raise InputDataError(f"row {bad.index[first]}, field {field!r}: {values.iloc[first]!r} is not a number")
    return numbers.astype(float)
