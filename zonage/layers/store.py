"""Read and write processed layers (GeoParquet) in ``data/processed``, and check them.

A geographic layer is a folder with one GeoParquet file per territory
(``communes/metro.parquet`` in EPSG:2154, ``communes/974.parquet`` in EPSG:2975…);
a table is a single Parquet file; an array bundle is one ``.npz`` file. Writes are
atomic: a layer is written to a temporary folder (``.<name>.XXXXXXXX``) that replaces
the old one in one rename, a file to a temporary ``.<file>.XXXXXXXX.part`` renamed onto it.

Integrity
---------
The build manifest (``data/processed/manifest.json``, written by
:mod:`zonage.layers.pipeline`) records every file of every layer: in the entry of the
layer that built it (``manifest[layer]``), under ``outputs[<output>]["integrity"]``,
keyed by the file's path relative to ``data/processed``::

    {"communes/metro.parquet": {"bytes": 26642528, "quick": "<hex>", "sha256": "<hex>"}}

``quick`` is :func:`quick_fingerprint` (sha256 of the size, the first and the last
64 KiB), ``sha256`` that of the whole file; the entry carries ``"format":``
:data:`LAYER_FORMAT`. Every read (:func:`read_layer`, :func:`read_geo_layer`,
:func:`read_arrays`, :func:`territories`) checks the files it reads against these
records (presence, size, quick fingerprint: one ``stat`` per read, the fingerprint
once per file and process, again only if the file changes) and raises
:class:`LayerDamagedError` on any mismatch, so that no command answers from a damaged
folder. :func:`verify_layers` checks every recorded file (``full=True``: whole sha256).

Manifests written before these records existed (no ``format`` in an entry: layer format
1) are not trusted by readers, which ask for ``zonage build``; the build then records
the files of a layer whose inputs are unchanged after reading each one through (a
truncated Parquet or npz file fails), without rebuilding it — seconds, not minutes.

A layer found only through a symbolic link (``processed/communes`` → another data
folder's layer) is checked against the manifest of the folder it really lives in.
Files written by :func:`write_layer` / :func:`write_arrays` outside a build are recorded
in the manifest too (in the entry that owns the output, or an entry of their own).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage.config import Paths
from zonage.crs import TERRITORY_CRS, WGS84
from zonage.errors import LayerMissingError, ZonageError
from zonage.io import atomic_path, sha256_file, write_text_atomic
from zonage.numbers import french_number

TERRITORY = "territory"
#: The build manifest, in ``data/processed``.
MANIFEST = "manifest.json"
#: Version of the layout of ``data/processed`` and of the manifest's file records. Readers
#: accept only layers whose manifest entry has this ``format``; 1 = entries without one
#: (written before file records existed). Bump it when files are laid out differently.
LAYER_FORMAT = 2
#: Rows per Parquet row group of a geographic layer's files. Rows keep their order (communes by
#: code, so by département): each group covers a small area, and a ``bbox`` read
#: (:func:`read_layer`) skips the groups whose bbox statistics are elsewhere without decoding them.
GEO_ROW_GROUP_ROWS = 1000
#: Bytes read at each end of a file by :func:`quick_fingerprint`.
QUICK_BYTES = 64 * 1024
#: A leftover temporary file or folder modified more recently than this (seconds) may
#: belong to a write in progress (an export, another process): the build keeps it.
LEFTOVER_AGE_S = 60.0

_MKTEMP = r"[a-z0-9_]{8}"  # the random part of tempfile.mkstemp / mkdtemp names
_STAGING_DIR = re.compile(rf"^\..+\.{_MKTEMP}$")  # write_layer: .<name>.XXXXXXXX, .<name>.old.XXXXXXXX
_PART_FILE = re.compile(rf"^\..+\.{_MKTEMP}\.part$")  # zonage.io.atomic_path: .<file>.XXXXXXXX.part


class LayerDamagedError(ZonageError):
    """A built layer's files no longer match the build manifest (missing, truncated, replaced…).

    The message names the layer and the file, says what is wrong and what to run;
    :attr:`problem` holds the same as a record.
    """

    def __init__(self, problem: LayerProblem):
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class LayerProblem:
    """One thing wrong with a data folder, as found by a read or by :func:`verify_layers`.

    Attributes
    ----------
    layer
        The manifest entry (the layer to pass to ``zonage build --force``); "" when unknown.
    output
        The output read (``communes``, ``departements``, ``locate_index``…); "" for the manifest.
    file
        The file concerned (the manifest itself for ``manifest`` problems).
    kind
        ``manifest`` (missing or unreadable), ``unrecorded`` (a layer the manifest does not
        list), ``format`` (built by another version), ``missing``, ``truncated``, ``size``,
        ``content`` (quick fingerprint differs), ``checksum`` (full sha256 differs).
    message
        One line for the user, ending with the command that repairs it.
    """

    layer: str
    output: str
    file: Path | None
    kind: str
    message: str


# --------------------------------------------------------------------------- fingerprints
def quick_fingerprint(path: str | Path, size: int | None = None) -> str:
    """sha256 of the size (decimal), the first and the last :data:`QUICK_BYTES` of a file."""
    size = os.stat(path).st_size if size is None else size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(QUICK_BYTES))
        if size > QUICK_BYTES:
            fh.seek(max(QUICK_BYTES, size - QUICK_BYTES))
            digest.update(fh.read(QUICK_BYTES))
    return digest.hexdigest()


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


#: Resolved file → (stat signature, quick fingerprint): each file is fingerprinted once per process.
_QUICK_CACHE: dict[Path, tuple[tuple[int, int, int, int], str]] = {}
#: Manifest file → (stat signature, parsed manifest).
_MANIFEST_CACHE: dict[Path, tuple[tuple[int, int, int, int], dict]] = {}


def _cached_quick(path: Path, st: os.stat_result) -> str:
    key = path.resolve()
    sig = _signature(st)
    hit = _QUICK_CACHE.get(key)
    if hit is not None and hit[0] == sig:
        return hit[1]
    value = quick_fingerprint(path, st.st_size)
    _QUICK_CACHE[key] = (sig, value)
    return value


def clear_integrity_cache() -> None:
    """Forget every cached fingerprint and manifest (the next reads check their files again)."""
    _QUICK_CACHE.clear()
    _MANIFEST_CACHE.clear()


def file_record(path: str | Path) -> dict[str, Any]:
    """What the manifest records of one file: ``bytes``, ``quick`` and ``sha256``."""
    path = Path(path)
    st = path.stat()
    return {"bytes": st.st_size, "quick": _cached_quick(path, st), "sha256": sha256_file(path)}


def output_records(paths: Paths, files: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """File records of one output, keyed by path relative to ``data/processed`` (POSIX separators)."""
    return {Path(f).relative_to(paths.processed).as_posix(): file_record(f) for f in sorted(files)}


def summarize(frame: pd.DataFrame, files: list[Path]) -> dict[str, Any]:
    """The manifest's summary of a written frame (rows, files, territories, CRS), without records."""
    summary: dict[str, Any] = {"rows": len(frame), "files": [f.name for f in files]}
    if isinstance(frame, gpd.GeoDataFrame):
        by_territory = frame.groupby(TERRITORY).size()
        summary["territories"] = {str(k): int(v) for k, v in by_territory.items()}
        summary["crs"] = "per territory (EPSG:2154 mainland, local UTM overseas)"
        summary["empty_geometries"] = int(frame.geometry.isna().sum() + frame.geometry.is_empty.sum())
    else:
        summary["crs"] = None
    return summary


def summarize_arrays(arrays: dict[str, np.ndarray], file: Path) -> dict[str, Any]:
    """The manifest's summary of a written array bundle, without records."""
    return {"rows": len(arrays), "files": [file.name], "crs": "arrays (npz)", "bytes": file.stat().st_size}


# --------------------------------------------------------------------------- manifest lookup
def _load_manifest(file: Path) -> dict | None:
    """The parsed manifest (cached while the file is unchanged); None when absent.

    Raises LayerDamagedError when it cannot be parsed.
    """
    try:
        st = file.stat()
    except FileNotFoundError:
        return None
    key = file.resolve()
    hit = _MANIFEST_CACHE.get(key)
    if hit is not None and hit[0] == _signature(st):
        return hit[1]
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise LayerDamagedError(LayerProblem(
            "", "", file, "manifest",
            f"le manifeste de construction {file} est illisible ({type(exc).__name__}) : lancer `zonage build`"
        )) from None
    _MANIFEST_CACHE[key] = (_signature(st), manifest)
    return manifest


def _owner(manifest: dict, output: str) -> tuple[str, dict, dict] | None:
    """(layer, entry, output summary) of the manifest entry that wrote ``output``."""
    for layer, entry in manifest.items():
        if isinstance(entry, dict) and isinstance(entry.get("outputs"), dict):
            summary = entry["outputs"].get(output)
            if isinstance(summary, dict):
                return layer, entry, summary
    return None


def _not_built(name: str) -> str:
    """What a reader says of a layer never built."""
    return f"la couche {name} n'est pas encore construite : lancer `zonage build`"


def _bytes(count: int) -> str:
    """A byte count as a French reader writes it (``26 642 528``)."""
    return french_number(count, 0)


def _rebuild(layer: str) -> str:
    return f"lancer `zonage build` (ou `zonage build --force {layer}`)" if layer else "lancer `zonage build`"


@dataclass(frozen=True)
class _Output:
    """A recorded output: where its files are and what they should be."""

    name: str
    layer: str
    base: Path  # the data/processed folder its paths are relative to
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def geo_files(self) -> list[str]:
        return sorted(r for r in self.records if r.startswith(f"{self.name}/") and r.endswith(".parquet"))


def _present(paths: Paths, name: str) -> Path | None:
    """Whatever of layer ``name`` is on disk (folder, table or arrays), or None."""
    for candidate in (paths.processed / name, paths.processed / f"{name}.parquet", paths.processed / f"{name}.npz"):
        if candidate.exists():
            return candidate
    return None


def _format_problem(layer: str, output: str, entry: dict, summary: dict, manifest_file: Path) -> LayerProblem | None:
    version = entry.get("format", 1)
    if version == LAYER_FORMAT and isinstance(summary.get("integrity"), dict):
        return None
    return LayerProblem(
        layer, output, manifest_file, "format",
        f"couche {output} : construite par une autre version de zonage (format de couche {version}, cette version "
        f"lit le format {LAYER_FORMAT}) : {_rebuild(layer)}")


def _output(paths: Paths, name: str) -> _Output | None:
    """The manifest's record of output ``name``; None when it was never built.

    Raises
    ------
    LayerDamagedError
        Files of the layer are present but the manifest is missing, unreadable, does not
        record them, or was written by another version.
    """
    present = _present(paths, name)
    base = present.resolve().parent if present is not None else paths.processed
    manifest_file = base / MANIFEST
    manifest = _load_manifest(manifest_file)
    found = None if manifest is None else _owner(manifest, name)
    if found is None:
        if present is None:
            return None
        if manifest is None:
            raise LayerDamagedError(LayerProblem(
                "", name, manifest_file, "manifest",
                f"couche {name} : le manifeste de construction {manifest_file} est absent, {present} ne peut donc pas "
                "être vérifié : lancer `zonage build` (il reconstruit toutes les couches)"))
        raise LayerDamagedError(LayerProblem(
            "", name, present, "unrecorded",
            f"couche {name} : {present} n'est pas enregistré dans le manifeste de construction {manifest_file} : "
            "lancer `zonage build`"))
    layer, entry, summary = found
    problem = _format_problem(layer, name, entry, summary, manifest_file)
    if problem is not None:
        raise LayerDamagedError(problem)
    return _Output(name, layer, base, summary["integrity"])


def _file_problem(out: _Output, rel: str, *, full: bool = False) -> LayerProblem | None:
    """What is wrong with one recorded file (None when it matches its record)."""
    record = out.records[rel]
    path = out.base / rel
    head = f"couche {out.name} : {path}"
    tail = _rebuild(out.layer)
    try:
        st = path.stat()
    except FileNotFoundError:
        return LayerProblem(out.layer, out.name, path, "missing", f"{head} est absent : {tail}")
    expected = int(record.get("bytes", -1))
    if st.st_size < expected and not _ends_whole(path):
        return LayerProblem(out.layer, out.name, path, "truncated",
                            f"{head} est tronqué ({_bytes(st.st_size)} octets, {_bytes(expected)} attendus) : {tail}")
    if st.st_size != expected:
        return LayerProblem(out.layer, out.name, path, "size",
                            f"{head} fait {_bytes(st.st_size)} octets, {_bytes(expected)} attendus (remplacé par un "
                            f"autre fichier ou par une autre construction) : {tail}")
    if _cached_quick(path, st) != record.get("quick"):
        return LayerProblem(out.layer, out.name, path, "content",
                            f"{head} n'est pas le fichier écrit par la construction (remplacé par un autre fichier "
                            f"ou par une autre construction) : {tail}")
    if full and sha256_file(path) != record.get("sha256"):
        return LayerProblem(out.layer, out.name, path, "checksum",
                            f"{head} est corrompu (son sha256 diffère de celui enregistré à la construction) : {tail}")
    return None


def _ends_whole(path: Path) -> bool:
    """Whether a Parquet / npz file ends with its format's end marker (a truncated one does not)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 1024))
            tail = fh.read()
    except OSError:
        return False
    if path.suffix == ".parquet":
        return tail.endswith(b"PAR1")
    if path.suffix == ".npz":
        return b"PK\x05\x06" in tail[-1024:]  # zip end of central directory
    return False


def _check(out: _Output, rels: Iterable[str]) -> None:
    for rel in rels:
        problem = _file_problem(out, rel)
        if problem is not None:
            raise LayerDamagedError(problem)


def _record_direct_write(paths: Paths, name: str, summary: dict[str, Any]) -> None:
    """Record files written outside a build in the manifest, so that readers accept them."""
    file = paths.processed / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
    except ValueError:
        manifest = {}
    found = _owner(manifest, name) if isinstance(manifest, dict) else None
    if not isinstance(manifest, dict):
        manifest = {}
    if found is not None:
        found[1]["outputs"][name] = summary
    else:
        manifest[name] = {
            "format": LAYER_FORMAT,
            "description": "written by zonage.layers.store outside `zonage build`",
            "outputs": {name: summary},
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    write_text_atomic(file, json.dumps(manifest, indent=2, ensure_ascii=False, default=str))


# --------------------------------------------------------------------------- write
def layer_location(paths: Paths, name: str) -> Path:
    """The folder (geographic layer) or file (table) of layer ``name``; may not exist."""
    folder = paths.processed / name
    return folder if folder.is_dir() else paths.processed / f"{name}.parquet"


def write_layer(paths: Paths, name: str, frame: pd.DataFrame, *, record: bool = True) -> list[Path]:
    """Write ``frame`` as layer ``name`` and return the files written.

    A GeoDataFrame must carry a ``territory`` column; each territory is reprojected
    to its metric CRS (:data:`zonage.crs.TERRITORY_CRS`) and written to its own file.
    Rows with no geometry keep their territory. A plain DataFrame becomes one file.

    With ``record`` (default) the files are also recorded in the manifest, so that
    :func:`read_layer` accepts them; the build passes False and records them itself.
    """
    paths.processed.mkdir(parents=True, exist_ok=True)
    if not isinstance(frame, gpd.GeoDataFrame):
        target = paths.processed / f"{name}.parquet"
        with atomic_path(target) as tmp:
            frame.to_parquet(tmp, index=False)
        files = [target]
    else:
        files = _write_geo(paths, name, frame)
    if record:
        _record_direct_write(paths, name, {**summarize(frame, files), "integrity": output_records(paths, files)})
    return files


def _write_geo(paths: Paths, name: str, frame: gpd.GeoDataFrame) -> list[Path]:
    if TERRITORY not in frame.columns:
        raise ValueError(f"layer {name}: a GeoDataFrame needs a {TERRITORY!r} column")
    unknown = set(frame[TERRITORY].dropna()) - set(TERRITORY_CRS)
    if unknown or frame[TERRITORY].isna().any():
        raise ValueError(f"layer {name}: unknown territories {sorted(map(str, unknown))} or missing ones")
    final = paths.processed / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=paths.processed))
    try:
        for territory, part in frame.groupby(TERRITORY, sort=True):
            assert isinstance(part, gpd.GeoDataFrame)  # groups of a GeoDataFrame keep their geometry
            part.to_crs(TERRITORY_CRS[str(territory)]).to_parquet(
                staging / f"{territory}.parquet", index=False, write_covering_bbox=True,
                row_group_size=GEO_ROW_GROUP_ROWS,
            )
        trash = None
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=paths.processed))
            os.replace(final, trash / name)
        os.replace(staging, final)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        stale = paths.processed / f"{name}.parquet"
        if stale.exists():
            stale.unlink()
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return sorted(final.glob("*.parquet"))


def write_arrays(paths: Paths, name: str, arrays: dict[str, np.ndarray], *, record: bool = True) -> Path:
    """Write named arrays as ``processed/<name>.npz`` (compressed, atomic; recorded as :func:`write_layer`)."""
    target = paths.processed / f"{name}.npz"
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        # allow_pickle=True is numpy's default, spelled out so that the type checker does not match **arrays to it.
        np.savez_compressed(fh, allow_pickle=True, **arrays)
    if record:
        _record_direct_write(paths, name, {**summarize_arrays(arrays, target),
                                           "integrity": output_records(paths, [target])})
    return target


# --------------------------------------------------------------------------- read
def territories(paths: Paths, name: str) -> list[str]:
    """Territories of geographic layer ``name`` as built ([] for a table or a layer never built).

    Raises
    ------
    LayerDamagedError
        A file of the layer is missing or does not match the build manifest.
    """
    out = _output(paths, name)
    if out is None:
        return []
    rels = out.geo_files()
    _check(out, rels)
    return [Path(rel).stem for rel in rels]


def read_layer(
    paths: Paths,
    name: str,
    *,
    territory: str | None = None,
    crs: str | None = None,
    columns: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    filters: list[tuple[str, str, Any]] | None = None,
    geometry: bool = True,
) -> pd.DataFrame:
    """Read layer ``name``, after checking its files against the build manifest.

    Parameters
    ----------
    paths
        Data folders.
    name
        Layer name (``communes``, ``qpv``, ``finess``, ``zoning``…).
    territory
        For a geographic layer, read only this territory, in its own metric CRS
        unless ``crs`` is given.
    crs
        Output CRS when several territories are read together (default EPSG:4326).
    columns
        Subset of columns (the geometry is always read for geographic layers, unless
        ``geometry`` is False).
    bbox
        For one ``territory`` of a geographic layer, read only the rows whose bounding
        box intersects ``(xmin, ymin, xmax, ymax)``, given in the territory's CRS (the
        files carry a bbox covering column: the other geometries are never decoded).
    filters
        Row filters passed to :func:`pyarrow.parquet.read_table`, e.g.
        ``[("insee", "==", "57463")]``.
    geometry
        False: read the attributes of a geographic layer only (a plain DataFrame,
        much faster when the polygons are not needed).

    Raises
    ------
    LayerMissingError
        The layer has not been built (or has no such territory).
    LayerDamagedError
        A file it reads is missing, truncated or replaced, the manifest is missing, or
        the layer was built by another version (see the module's *Integrity*).
    """
    out = _output(paths, name)
    if out is None:
        raise LayerMissingError(_not_built(name))
    geo = out.geo_files()
    if bbox is not None and not (geo and territory):
        raise ValueError("bbox needs a geographic layer and one territory (the bbox is in its CRS)")
    if geo:
        have = [Path(rel).stem for rel in geo]
        if territory and territory not in have:
            raise LayerMissingError(f"la couche {name} n'a pas de territoire {territory!r} (territoires construits : "
                                    f"{', '.join(have)}) : choisir l'un de ceux-là")
        rels = [f"{name}/{territory}.parquet"] if territory else geo
        _check(out, rels)
        frames = []
        if not geometry:
            parts = [pd.read_parquet(out.base / rel, columns=columns, filters=filters) for rel in rels]
            return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        box = None if bbox is None else tuple(float(v) for v in bbox)
        for rel in rels:
            cols = None if columns is None else [*columns, "geometry"]
            frame = gpd.read_parquet(out.base / rel, columns=cols, bbox=box, filters=filters)
            if territory is None or crs:
                frame = frame.to_crs(crs or WGS84)
            frames.append(frame)
        if len(frames) == 1:
            return frames[0]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    table = f"{name}.parquet"
    if table not in out.records:
        raise LayerMissingError(f"la couche {name} n'est ni une table ni une couche géographique (fichiers : "
                                f"{', '.join(out.records) or 'aucun'}) : {_rebuild(out.layer)}")
    _check(out, [table])
    return pd.read_parquet(out.base / table, columns=columns, filters=filters)


def read_geo_layer(
    paths: Paths,
    name: str,
    *,
    territory: str | None = None,
    crs: str | None = None,
    columns: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    filters: list[tuple[str, str, Any]] | None = None,
) -> gpd.GeoDataFrame:
    """Read geographic layer ``name``: :func:`read_layer` for a layer known to hold geometries.

    ``bbox`` and ``filters`` read a subset of one territory's rows (see :func:`read_layer`).

    Raises
    ------
    LayerMissingError
        The layer has not been built, or was built as a table without geometries.
    LayerDamagedError
        As :func:`read_layer`.
    """
    frame = read_layer(paths, name, territory=territory, crs=crs, columns=columns, bbox=bbox, filters=filters)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise LayerMissingError(f"la couche {name} est une table, pas une couche géographique : lancer `zonage build`")
    return frame


def layer_bounds(paths: Paths, name: str) -> dict[str, tuple[tuple[float, float, float, float], str]]:
    """Bounds of each territory of geographic layer ``name``, read from the files' GeoParquet metadata.

    No geometry is read: this is what a reader needs to decide which territory a point
    is in before reading any polygon.

    Returns
    -------
    dict
        Territory → ((xmin, ymin, xmax, ymax) in the territory's CRS, that CRS as
        ``EPSG:…``), territories sorted by name; {} for a layer never built.

    Raises
    ------
    LayerDamagedError
        As :func:`read_layer`.
    """
    import pyarrow.parquet as pq

    out = _output(paths, name)
    if out is None:
        return {}
    rels = out.geo_files()
    _check(out, rels)
    bounds = {}
    for rel in rels:
        metadata = pq.read_metadata(out.base / rel).metadata or {}
        geo = json.loads(metadata.get(b"geo", b"{}"))
        column = geo.get("columns", {}).get(geo.get("primary_column", "geometry"), {})
        box = column.get("bbox")
        if not box or len(box) != 4:  # not written by geopandas: measure the polygons
            box = read_layer(paths, name, territory=Path(rel).stem, columns=[]).total_bounds.tolist()
        territory = Path(rel).stem
        bounds[territory] = (tuple(float(v) for v in box), TERRITORY_CRS[territory])
    return dict(sorted(bounds.items()))  # type: ignore[arg-type]


def read_arrays(paths: Paths, name: str) -> dict[str, np.ndarray]:
    """Read the arrays written by :func:`write_arrays`, after checking the file against the manifest.

    Raises
    ------
    LayerMissingError
        The arrays have not been built.
    LayerDamagedError
        As :func:`read_layer`.
    """
    out = _output(paths, name)
    rel = f"{name}.npz"
    if out is None or rel not in out.records:
        raise LayerMissingError(_not_built(name))
    _check(out, [rel])
    with np.load(out.base / rel, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


# --------------------------------------------------------------------------- verify
def entry_problems(paths: Paths, layer: str, entry: dict, *, full: bool = False) -> list[LayerProblem]:
    """Problems of the files of one manifest entry (``manifest[layer]``), checked in ``paths.processed``."""
    manifest_file = paths.processed / MANIFEST
    problems: list[LayerProblem] = []
    outputs = entry.get("outputs") if isinstance(entry, dict) else None
    if not isinstance(outputs, dict):
        return problems
    for output, summary in outputs.items():
        if not isinstance(summary, dict):
            continue
        problem = _format_problem(layer, output, entry, summary, manifest_file)
        if problem is not None:
            problems.append(problem)
            continue
        out = _Output(output, layer, paths.processed, summary["integrity"])
        for rel in out.records:
            found = _file_problem(out, rel, full=full)
            if found is not None:
                problems.append(found)
    return problems


def layer_key(paths: Paths, layer: str) -> str:
    """The build key the manifest records for ``layer`` ("" when not built): a version for caches."""
    manifest = _load_manifest(paths.processed / MANIFEST) or {}
    entry = manifest.get(layer)
    return str(entry.get("key", "")) if isinstance(entry, dict) else ""


def verify_layers(paths: Paths, full: bool = False) -> list[LayerProblem]:
    """Check every file of every layer the build manifest records; [] when all match.

    Parameters
    ----------
    paths
        Data folders.
    full
        Also recompute each file's whole sha256 (reads every byte; by default only the
        presence, size and quick fingerprint are checked, as every read does).

    Returns
    -------
    list of LayerProblem
        One per damaged file (or per layer built by another version); a single
        ``manifest`` problem when the manifest is missing or unreadable.
    """
    manifest_file = paths.processed / MANIFEST
    try:
        manifest = _load_manifest(manifest_file)
    except LayerDamagedError as exc:
        return [exc.problem]
    if manifest is None:
        return [LayerProblem("", "", manifest_file, "manifest",
                             f"le manifeste de construction {manifest_file} est absent : lancer `zonage build`")]
    problems: list[LayerProblem] = []
    for layer, entry in manifest.items():
        problems.extend(entry_problems(paths, layer, entry, full=full))
    return problems


# --------------------------------------------------------------------------- leftovers
@dataclass(frozen=True)
class Cleanup:
    """Temporary files and folders left by interrupted writes, found by :func:`clean_leftovers`."""

    removed: list[Path]
    kept: list[Path]  # modified less than LEFTOVER_AGE_S ago: may belong to a write in progress

    def __bool__(self) -> bool:
        return bool(self.removed or self.kept)

    def message(self) -> str:
        """One line for the user ("" when nothing was found)."""
        parts = []
        if self.removed:
            parts.append(f"{len(self.removed)} reste(s) d'une construction interrompue supprimé(s) : "
                         + ", ".join(p.name for p in self.removed))
        if self.kept:
            parts.append(f"{len(self.kept)} fichier(s) temporaire(s) récent(s) gardé(s), peut-être en cours "
                         "d'écriture : " + ", ".join(p.name for p in self.kept))
        return "; ".join(parts)


def leftovers(paths: Paths) -> list[Path]:
    """Temporary files and folders of interrupted writes in ``data/processed`` and ``data/raw``.

    These are the staging folders of :func:`write_layer` (``.<name>.XXXXXXXX``,
    ``.<name>.old.XXXXXXXX``) and the ``.<file>.XXXXXXXX.part`` files of
    :func:`zonage.io.atomic_path`. Readers never look at them.
    """
    found: list[Path] = []
    if paths.processed.is_dir():
        for entry in paths.processed.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                if _STAGING_DIR.match(entry.name):
                    found.append(entry)
                else:
                    found.extend(p for p in entry.iterdir() if p.is_file() and _PART_FILE.match(p.name))
            elif entry.is_file() and _PART_FILE.match(entry.name):
                found.append(entry)
    if paths.raw.is_dir():
        found.extend(p for p in paths.raw.rglob("*.part") if p.is_file() and _PART_FILE.match(p.name))
    return sorted(found)


def _last_modified(path: Path) -> float:
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for child in path.rglob("*"):
            try:
                newest = max(newest, child.lstat().st_mtime)
            except FileNotFoundError:
                continue
    return newest


def clean_leftovers(paths: Paths, *, min_age_s: float = LEFTOVER_AGE_S) -> Cleanup:
    """Remove the :func:`leftovers` not modified for ``min_age_s`` seconds; report what was found.

    :func:`zonage.layers.pipeline.build` calls it first. Younger ones are kept (and
    reported): they may belong to a write in progress in another process.
    """
    removed: list[Path] = []
    kept: list[Path] = []
    now = time.time()
    for path in leftovers(paths):
        try:
            if now - _last_modified(path) < min_age_s:
                kept.append(path)
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue  # removed meanwhile by the write it belonged to
        removed.append(path)
    return Cleanup(removed, kept)
