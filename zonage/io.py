"""Small I/O helpers shared by sources, layers and outputs.

Checksums, atomic writes (temp file in the same folder + ``os.replace``) and a
reader for French-style CSV files: compression recognised by content (gzip, zip,
xz, bz2), encoding (BOM, UTF-8, UTF-16, Windows-1252), separator (``;`` ``,`` tab
``|``, decimal commas understood), any line ends, and a check on every read that
no record was lost or split.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import errno
import gzip
import hashlib
import io
import itertools
import lzma
import os
import re
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

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


#: French reasons of the operating system's errors a planner meets (``errno`` code → reason).
_OS_REASONS_FR: dict[int, str] = {
    errno.ENOENT: "fichier ou dossier inexistant",
    errno.EACCES: "accès refusé",
    errno.EPERM: "opération non permise",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EEXIST: "existe déjà",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EROFS: "support en lecture seule",
    errno.ENAMETOOLONG: "nom de fichier trop long",
    errno.EBUSY: "fichier occupé par un autre programme",
    errno.ETXTBSY: "fichier occupé par un autre programme",
    errno.EIO: "erreur de lecture ou d'écriture sur le disque",
    errno.EMFILE: "trop de fichiers ouverts",
    errno.ELOOP: "trop de liens symboliques dans le chemin",
    errno.EINVAL: "nom ou argument invalide",
}
_EDQUOT = getattr(errno, "EDQUOT", None)
if _EDQUOT is not None:
    _OS_REASONS_FR[_EDQUOT] = "quota disque dépassé"


def os_reason_fr(exc: OSError) -> str:
    """The reason of an operating-system error in French (``accès refusé``, ``dossier inexistant``…).

    Falls back to the system's own text (``strerror``) for an error code not listed.
    """
    if exc.errno in _OS_REASONS_FR:
        return _OS_REASONS_FR[exc.errno]
    return exc.strerror or " ".join(str(exc).split())


# --------------------------------------------------------------------------- what a file is

#: Leading bytes of the containers and binary formats recognised whatever the file's name.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"%PDF-", "pdf"),
)
#: Compressions undone by :func:`decompress` (detected by content, not by name).
COMPRESSIONS = ("gzip", "zip", "xz", "bz2")
_NOT_TEXT = {
    "zstd": "fichier compressé en zstd (non pris en charge) : le décompresser, ou le compresser en gzip, zip, xz "
            "ou bz2",
    "xls": "classeur Excel 97-2003, pas un tableau texte : le nommer .xls, ou l'enregistrer en CSV",
    "xlsx": "classeur Excel, pas un tableau texte : le nommer .xlsx, ou l'enregistrer en CSV",
    "ods": "classeur OpenDocument, pas un tableau texte : l'enregistrer en .xlsx ou en CSV",
    "parquet": "fichier Parquet, pas un tableau texte : le nommer .parquet",
    "sqlite": "base GeoPackage/SQLite, pas un tableau texte : la nommer .gpkg",
    "pdf": "document PDF, pas un tableau : exporter le tableau en CSV",
}


def _zip_kind(source: str | Path | IO[bytes]) -> str:
    """``xlsx``/``ods`` for a spreadsheet package, ``zip`` for any other archive (even a damaged one)."""
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names or any(n.startswith("xl/worksheets/") for n in names):
                return "xlsx"
            if "mimetype" in names and b"opendocument.spreadsheet" in archive.read("mimetype"):
                return "ods"
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, NotImplementedError):
        pass
    return "zip"


def _kind_of(head: bytes, tail: bytes) -> str | None:
    if head.startswith(b"BZh"):
        return "bz2" if head[3:4] in b"123456789" and len(head) > 3 else None
    if head.startswith(b"PAR1"):
        return "parquet" if tail.endswith(b"PAR1") else None
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def content_kind(raw: bytes) -> str | None:
    """What bytes are by their content: a compression, a binary format, or None (plain text).

    One of ``gzip``, ``zip``, ``xz``, ``bz2``, ``zstd``, ``xlsx``, ``ods``, ``xls``,
    ``parquet``, ``sqlite``, ``pdf`` or None.
    """
    kind = _kind_of(raw[:16], raw[-4:])
    return _zip_kind(io.BytesIO(raw)) if kind == "zip" else kind


def file_kind(path: str | Path) -> str | None:
    """:func:`content_kind` of a file, reading only what it needs."""
    with open(path, "rb") as fh:
        head = fh.read(16)
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 4))
        tail = fh.read()
    kind = _kind_of(head, tail)
    return _zip_kind(path) if kind == "zip" else kind


def _unpack(raw: bytes, kind: str, name: str) -> bytes:
    try:
        if kind == "gzip":
            return gzip.decompress(raw)
        if kind == "xz":
            return lzma.decompress(raw)
        if kind == "bz2":
            return bz2.decompress(raw)
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = [
                m for m in archive.infolist()
                if not m.is_dir() and not m.filename.startswith("__MACOSX/")
                and PurePosixPath(m.filename).name not in (".DS_Store", "Thumbs.db", "desktop.ini")
            ]
            if len(members) != 1:
                listed = ", ".join(m.filename for m in members[:5]) + (", …" if len(members) > 5 else "")
                raise InputDataError(
                    f"{name} : l'archive zip contient {len(members)} fichiers ({listed or 'aucun'}), pas un seul "
                    "tableau : en extraire le tableau, ou le compresser seul"
                )
            return archive.read(members[0])
    except InputDataError:
        raise
    except (OSError, EOFError, lzma.LZMAError, zlib.error, zipfile.BadZipFile, RuntimeError,
            NotImplementedError) as exc:
        raise InputDataError(f"{name} : données {kind} endommagées ou illisibles ({_one_line(exc)}) ; "
                             "télécharger ou compresser à nouveau le fichier") from exc


def decompress(raw: bytes, name: str = "input") -> tuple[bytes, str | None]:
    """Undo gzip, zip (one member), xz or bz2 compression recognised by content, whatever the name.

    Returns the plain bytes and the (outermost) compression found, None for plain
    bytes. A compressed file inside a compressed file (``.csv.gz`` in a zip) is
    unpacked too.

    Raises
    ------
    InputDataError
        Damaged data, or a zip archive that does not hold exactly one file.
    """
    found: str | None = None
    for _ in range(3):
        kind = content_kind(raw)
        if kind not in COMPRESSIONS:
            return raw, found
        found = found or kind
        raw = _unpack(raw, kind, name)
    raise InputDataError(f"{name} : compressé plus de trois fois de suite : le décompresser d'abord")


# --------------------------------------------------------------------------- text

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: same first two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
#: Mac Roman codes of é è ê à ç ù (and a few more) that Windows-1252 leaves undefined or uses for rare signs.
_MAC_ROMAN_ACCENTS = re.compile(rb"[\x81\x88\x8d\x8e\x8f\x90\x9d]")
_CP1252_LOWER_ACCENTS = re.compile(rb"[\xe0-\xff]")


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())


def _line_at(raw: bytes, offset: int) -> int:
    before = raw[:offset]
    return (before.count(b"\n") or before.count(b"\r")) + 1


def _utf16_without_bom(raw: bytes) -> str | None:
    sample = raw[:4096]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0 : 2 * half : 2].count(0), sample[1 : 2 * half : 2].count(0)
    if odd > 0.3 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.3 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _decode_as(raw: bytes, encoding: str, name: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputDataError(
            f"{name} : la ligne {_line_at(raw, exc.start)} du fichier n'est pas du texte {encoding} valide "
            f"({exc.reason}) : enregistrer à nouveau le fichier en CSV UTF-8"
        ) from exc


def decode_text(raw: bytes, name: str = "input") -> tuple[str, str]:
    """Decode the bytes of a text table; return the text (without BOM) and the encoding used.

    In order: a byte-order mark (UTF-8, UTF-16 and UTF-32, as Excel's "Texte Unicode"
    writes), UTF-16 without BOM, UTF-8, Mac Roman (Excel for Mac "CSV"), Windows-1252
    (Excel's "CSV (séparateur: point-virgule)", which also covers latin-1 text).

    Raises
    ------
    InputDataError
        Bytes that are none of these, a file mixing UTF-8 with another encoding,
        or NUL characters (binary data), naming the line.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            text = _decode_as(raw, encoding, name)
            break
    else:
        encoding = _utf16_without_bom(raw) or "utf-8"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            if encoding != "utf-8":
                raise InputDataError(f"{name} : la ligne {_line_at(raw, exc.start)} du fichier n'est pas du texte "
                                     f"{encoding} valide ({exc.reason}) : enregistrer à nouveau le fichier en CSV "
                                     "UTF-8") from exc
            valid = len(_UTF8_SEQUENCE.findall(raw))
            invalid = len(_HIGH_BYTE.findall(_UTF8_SEQUENCE.sub(b"", raw)))
            if valid >= invalid:
                raise InputDataError(
                    f"{name} : la ligne {_line_at(raw, exc.start)} du fichier n'est pas en UTF-8 (octet "
                    f"0x{raw[exc.start]:02x}) alors que le reste du fichier l'est : le fichier mélange deux "
                    "encodages ; corriger cette ligne ou enregistrer à nouveau le fichier en CSV UTF-8"
                ) from exc
            if _MAC_ROMAN_ACCENTS.search(raw) and not _CP1252_LOWER_ACCENTS.search(raw):
                encoding = "mac_roman"
            else:
                encoding = "cp1252"
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as bad:
                raise InputDataError(
                    f"{name} : la ligne {_line_at(raw, bad.start)} du fichier n'est ni du texte UTF-8 ni du "
                    f"Windows-1252 (octet 0x{raw[bad.start]:02x}) : enregistrer à nouveau le fichier en CSV UTF-8"
                ) from bad
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise InputDataError(f"{name} : la ligne {line} du fichier contient un caractère NUL : ce n'est pas un "
                             "tableau texte (données binaires ?) ; l'enregistrer en CSV UTF-8")
    return text, encoding


# --------------------------------------------------------------------------- dialect

@dataclass(frozen=True)
class CsvDialect:
    """What :func:`sniff_csv` found out about a delimited text file."""

    encoding: str
    sep: str
    decimal: str
    compression: str | None = None


_SEPARATORS = (";", ",", "\t", "|")
_SAMPLE_CHARS = 1 << 16
_SAMPLE_RECORDS = 200
_DECIMAL_COMMA = re.compile(r"\s*[-+]?\d+,\d+\s*")


def _sample_rows(text: str, sep: str) -> tuple[list[list[str]], bool]:
    """The first non-blank records split on ``sep``; True if quoting broke before the sample's end."""
    truncated = len(text) > _SAMPLE_CHARS
    sample = text[:_SAMPLE_CHARS]
    if truncated:
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        sample = sample[: cut + 1] if cut > 0 else sample
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=sep, strict=True)
    try:
        for row in itertools.islice(reader, _SAMPLE_RECORDS):
            if row and not (len(row) == 1 and not row[0].strip(" \t")):
                rows.append(row)
    except csv.Error:
        if not truncated:
            return rows, True
        rows = rows[:-1]  # the sample may end inside a quoted value
    return rows, False


def _fits(row: list[str], header: list[str]) -> bool:
    """Whether ``row`` reads cleanly under ``header``: same width, or only empty cells/names beyond."""
    width = len(row)
    if width >= len(header):
        return not any(row[len(header):])
    return not any(h.strip() for h in header[width:])


def sniff_dialect(text: str) -> tuple[str, str]:
    r"""Separator and decimal mark of a decoded table.

    The separator is the one of ``; , \t |`` under which every record fits the
    header line, of two or more columns: ``lon;lat`` over ``6,1757;49,1193`` is two
    columns separated by ``;`` (the commas are decimal marks). Failing that (a
    broken row, title lines above the header), the one under which most records fit
    a header of two or more columns, then the most regular one. A decimal comma is
    assumed when the separator is not a comma and numbers like ``12,5`` appear.
    """
    best: tuple[tuple[bool, float, bool, float, bool, int, int], str, list[list[str]]] | None = None
    first_line = io.StringIO(text, newline="").readline()
    broken_columns: list[str] = []  # separators of the first line under which quoting breaks
    for rank, sep in enumerate(_SEPARATORS):
        rows, broken = _sample_rows(text, sep)
        if broken and sep in first_line:
            broken_columns.append(sep)
        if not rows:
            continue
        header, counts = rows[0], [len(r) for r in rows]
        fitting = sum(_fits(r, header) for r in rows[1:]) / (len(rows) - 1) if len(rows) > 1 else 1.0
        columns = len(header) >= 2
        perfect = not broken and fitting == 1
        modal = max(set(counts), key=lambda c: (counts.count(c), c))
        share = counts.count(modal) / len(counts)
        # one-column files: a comma, as before, unless a comma splits some lines
        preference = -rank if columns else -(_SEPARATORS.index(",") if sep == "," else rank + 1)
        key = (perfect and columns, fitting if columns else 0.0, perfect, share, not broken, min(modal, 50),
               preference)
        if best is None or key > best[0]:
            best = (key, sep, rows)
    if broken_columns and (best is None or len(best[2][0]) < 2):
        # Read as one column only because quoting breaks under the first line's separator: keep that
        # separator, so that reading stops on the broken row instead of returning one wrong column.
        return broken_columns[0], "."
    if best is None:
        return ",", "."
    _, sep, rows = best
    decimal = "."
    if sep != "," and any(_DECIMAL_COMMA.fullmatch(v) for row in rows[1:] for v in row):
        decimal = ","
    return sep, decimal


def load_csv_text(raw: bytes, name: str = "input") -> tuple[str, CsvDialect]:
    """Decompress (by content), decode and sniff the bytes of a delimited text file.

    Raises
    ------
    InputDataError
        The bytes are a workbook, a database or another binary format, damaged
        compressed data, or text in an unknown encoding.
    """
    plain, compression = decompress(raw, name)
    kind = content_kind(plain)
    if kind in _NOT_TEXT:
        raise InputDataError(f"{name} : {_NOT_TEXT[kind]}")
    text, encoding = decode_text(plain, name)
    sep, decimal = sniff_dialect(text)
    return text, CsvDialect(encoding=encoding, sep=sep, decimal=decimal, compression=compression)


def sniff_csv(raw: bytes) -> CsvDialect:
    r"""Detect compression, encoding, separator and decimal mark of CSV bytes.

    ``raw.decode(dialect.encoding)`` gives the text of uncompressed bytes; see
    :func:`decompress`, :func:`decode_text` and :func:`sniff_dialect` for the rules.
    """
    return load_csv_text(raw)[1]


# --------------------------------------------------------------------------- records

class _BrokenRecordError(Exception):
    def __init__(self, index: int, line: int, problem: str) -> None:
        super().__init__(problem)
        self.index, self.line, self.problem = index, line, problem


class _Lines:
    """The lines of a text, any line ends kept, remembering the last one read."""

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self.last = ""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        self.last = next(self._lines)
        return self.last


@contextlib.contextmanager
def _no_field_limit() -> Iterator[None]:
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, 1 << 30))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _records(text: str, sep: str) -> Iterator[tuple[int, int, list[str], bool]]:
    """Every record of the text (index from 0, first line from 1, fields, blank?), as pandas' C parser splits them.

    A blank record is an empty line or one of spaces/tabs only (pandas skips them).
    Raises :class:`_BrokenRecordError` for a quoted value never closed or followed by text.
    """
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=sep, strict=True)
    blank_chars = {" ", "\t"} - {sep}
    index = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                problem = (f"une valeur entre guillemets ouverte ligne {start} du fichier n'est jamais fermée "
                           "(un caractère \" en trop ?)")
            elif "expected after" in str(exc):
                problem = "du texte suit un guillemet fermant (une valeur qui commence par \" doit finir par \")"
            else:
                problem = _one_line(exc)
            raise _BrokenRecordError(index, start, problem) from exc
        single = reader.line_num == start
        blank = not row or (single and len(row) == 1 and set(lines.last.rstrip("\r\n")) <= blank_chars)
        yield index, start, row, blank
        index += 1


@dataclass
class _Layout:
    """Where the header and the data records are, as :func:`pandas.read_csv` will read them."""

    header_line: int | None
    header: list[str] | None
    rows: list[tuple[int, int, str]]  # (line, number of fields, first field) of each data record
    filled: list[int]  # blank lines of a one-column table that hold an empty cell (pandas would skip them)


#: ``read_csv`` options that change which records become rows in ways :func:`_layout` does not model.
_UNMODELLED = {"comment", "chunksize", "iterator", "on_bad_lines", "lineterminator", "quotechar", "quoting",
               "doublequote", "escapechar", "skipinitialspace", "delim_whitespace", "engine", "dialect"}


def _where(layout_rows: int, header_done: bool) -> str:
    return f"ligne {layout_rows + 1}" if header_done else "l'en-tête"


def _layout(text: str, sep: str, name: str, options: Mapping[str, Any]) -> _Layout | None:
    """Walk the records as pandas will; raise for a broken one; None when ``options`` are not modelled."""
    if _UNMODELLED & options.keys():
        return None
    names = options.get("names")
    header = options.get("header", "infer")
    if header == "infer":
        header = None if names is not None else 0
    if header is not None and (not isinstance(header, int) or isinstance(header, bool)):
        return None
    skipped = _skipper(options.get("skiprows"))
    skip_blank = bool(options.get("skip_blank_lines", True))
    layout = _Layout(header_line=None, header=None, rows=[], filled=[])
    width: int | None = len(names) if header is None and names is not None else None
    pending: list[int] = []  # blank lines inside a one-column table: empty cells, unless they end the file
    seen = 0
    with _no_field_limit():
        try:
            for index, line, row, blank in _records(text, sep):
                if skipped(index):
                    continue
                if blank and skip_blank:
                    if width == 1:
                        pending.append(line)
                    continue
                if header is not None and seen <= header:
                    if seen == header:
                        layout.header_line, layout.header, width = line, row, len(row)
                    seen += 1
                    continue
                seen += 1
                for blank_line in pending:
                    layout.rows.append((blank_line, 1, ""))
                    layout.filled.append(blank_line)
                pending.clear()
                if width is None:
                    width = len(row)
                _check_width(name, layout, row, line, width, blank)
                layout.rows.append((line, len(row), row[0] if row else ""))
        except _BrokenRecordError as exc:
            where = _where(len(layout.rows), header is None or layout.header is not None)
            raise InputDataError(f"{name} : {where} (ligne {exc.line} du fichier) : {exc.problem} ; corriger puis "
                                 "enregistrer à nouveau le fichier") from exc
    nrows, skipfooter = options.get("nrows"), options.get("skipfooter") or 0
    if skipfooter:
        layout.rows = layout.rows[: max(0, len(layout.rows) - int(skipfooter))]
    if nrows is not None:
        layout.rows = layout.rows[: int(nrows)]
    return layout


def _fill_blank_lines(text: str, lines: list[int]) -> str:
    """Quote the blank lines of a one-column table (numbered from 1) so that pandas keeps them as empty cells."""
    split = io.StringIO(text, newline="").readlines()
    for number in lines:
        content = split[number - 1]
        value = content.rstrip("\r\n")
        split[number - 1] = f'"{value}"{content[len(value):]}'
    return "".join(split)


def _skipper(skiprows: Any) -> Callable[[int], bool]:
    """``read_csv``'s ``skiprows`` (a count, indices or a function of the record index) as a function."""
    if skiprows is None:
        return range(0).__contains__
    if isinstance(skiprows, int) and not isinstance(skiprows, bool):
        return range(skiprows).__contains__
    if callable(skiprows):
        return skiprows
    return frozenset(int(i) for i in skiprows).__contains__


def _check_width(name: str, layout: _Layout, row: list[str], line: int, width: int, blank: bool) -> None:
    """A record must have the header's number of fields (trailing empty ones aside)."""
    if blank or len(row) == width:
        return
    where = f"{name} : ligne {len(layout.rows) + 1} (ligne {line} du fichier) : {_fields(len(row))}"
    if len(row) > width:
        if any(v != "" for v in row[width:]):
            raise InputDataError(
                f"{where} au lieu des {width} de l'en-tête : un séparateur dans une valeur sans guillemets, ou une "
                "ligne de titre au-dessus des noms de colonnes ? Mettre cette valeur entre guillemets ou supprimer "
                "la ligne en trop"
            )
        return
    header = layout.header or []
    if any(h.strip() for h in header[len(row):]):
        raise InputDataError(
            f"{where} au lieu des {width} de l'en-tête : un séparateur manquant ou une valeur coupée par un "
            "retour à la ligne ? Corriger cette ligne"
        )


def _fields(count: int) -> str:
    return f"{count} champ" + ("" if count == 1 else "s")


def _first_difference(frame: pd.DataFrame, layout: _Layout) -> int:
    """0-based index of the first data record the frame does not hold (best effort)."""
    if len(frame.columns):
        for i, (value, (_, _, first)) in enumerate(zip(frame.iloc[:, 0], layout.rows, strict=False)):
            if isinstance(value, str) and value != first:
                return i
    return min(len(frame), len(layout.rows))


def read_french_csv(
    path: str | Path, *, dtype: DtypeArg | Mapping[Hashable, DtypeArg] | None = str, **kwargs: Any
) -> pd.DataFrame:
    """Read a delimited text file whatever its French conventions.

    Compression (gzip, zip, xz, bz2) is recognised by content, whatever the file's
    name; then the encoding (BOM, UTF-8, UTF-16, Windows-1252…), the separator
    (``;``, ``,``, tab or ``|``, decimal commas understood) and any line ends.
    Every read checks that the frame has one row per data record of the file.

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
        If the file cannot be read or parsed: a quoted value never closed, a row
        with more fields than the header, a row count that differs from the file's
        records… naming the file and the row (1-based, header excluded) and the line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputDataError(f"{path.name} : lecture impossible ({os_reason_fr(exc)})") from exc
    text, dialect = load_csv_text(raw, path.name)
    options = dict(kwargs)
    sep = options.pop("sep", None) or options.pop("delimiter", None) or dialect.sep
    if sep != dialect.sep:
        dialect = replace(dialect, sep=sep)
    if not text.strip():
        raise InputDataError(f"{path.name} : le fichier est vide (pas de ligne d'en-tête) : vérifier le fichier")
    layout = _layout(text, sep, path.name, options) if len(sep) == 1 else None
    if layout is not None and layout.filled:
        text = _fill_blank_lines(text, layout.filled)
    options.setdefault("index_col", False)  # trailing separators never turn the first column into an index
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Length of header or names does not match", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=dtype, **options)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputDataError(f"{path.name} : illisible comme CSV ({_one_line(exc)}) ; vérifier les guillemets et "
                             "les séparateurs, ou enregistrer à nouveau le fichier en CSV") from exc
    if layout is not None and isinstance(frame, pd.DataFrame) and len(frame) != len(layout.rows):
        first = _first_difference(frame, layout)
        line = layout.rows[first][0] if first < len(layout.rows) else None
        at = f"ligne {first + 1}" + (f" (ligne {line} du fichier)" if line else "")
        raise InputDataError(
            f"{path.name} : {len(layout.rows)} lignes de données dans le fichier mais {len(frame)} lues, première "
            f"différence en {at} : vérifier les guillemets et les séparateurs à cet endroit et enregistrer à nouveau "
            "le fichier en CSV"
        )
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
        raise InputDataError(f"ligne {bad.index[first]}, champ {field!r} : {values.iloc[first]!r} n'est pas un "
                             "nombre")
    return numbers.astype(float)
