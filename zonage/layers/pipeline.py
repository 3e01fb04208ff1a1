"""Build the processed layers in dependency order, idempotently.

Each layer module exposes a :class:`LayerSpec`: which sources and other layers it
reads and a pure ``build`` function returning frames and a report. This module
fetches the sources, calls the builds, writes the frames with
:mod:`zonage.layers.store` and records in ``data/processed/manifest.json`` the
input checksums, row counts, CRS and vintages, and, for every file written, its
size, quick fingerprint and sha256 (see *Integrity* in :mod:`zonage.layers.store`). A
layer whose inputs (source checksums, upstream layers, code) are unchanged and whose
files still match the manifest is not rebuilt; one whose files are missing, truncated or
replaced is. Temporary files left by an interrupted build are removed first.

Manifest entries written before the file records existed (layer format 1) are upgraded
in place when their inputs are unchanged: each file is read through (a truncated file
fails and the layer is rebuilt) and recorded, action ``recorded``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from zonage import __version__
from zonage.config import Paths
from zonage.errors import MissingSourceError, ZonageError
from zonage.io import write_text_atomic
from zonage.layers import store
from zonage.sources import fetch, get_source

MANIFEST = store.MANIFEST
logger = logging.getLogger(__name__)


@dataclass
class LayerResult:
    """What a layer build returns: named frames (and named array bundles) to write, and a JSON-able report."""

    frames: dict[str, pd.DataFrame]
    report: dict = field(default_factory=dict)
    vintage: str = ""
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


class BuildInputs:
    """What a layer build may read: fetched source files and already-built layers."""

    def __init__(self, paths: Paths, sources: dict[str, Path | None]):
        self.paths = paths
        self._sources = sources

    def source(self, name: str) -> Path:
        """Path of a fetched source file in ``data/raw``."""
        path = self._sources.get(name)
        if path is None:
            raise MissingSourceError(f"source {name} indisponible : lancer `zonage fetch {name}` (avec --mirror ou "
                                     "--download)")
        return path

    def optional_source(self, name: str) -> Path | None:
        """Path of an optional source, or None when it could not be fetched."""
        return self._sources.get(name)

    def layer(
        self, name: str, *, territory: str | None = None, crs: str | None = None, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """Read an upstream layer (see :func:`zonage.layers.store.read_layer`)."""
        return store.read_layer(self.paths, name, territory=territory, crs=crs, columns=columns)

    def geo_layer(
        self, name: str, *, territory: str | None = None, crs: str | None = None, columns: list[str] | None = None
    ) -> gpd.GeoDataFrame:
        """Read an upstream geographic layer (see :func:`zonage.layers.store.read_geo_layer`)."""
        return store.read_geo_layer(self.paths, name, territory=territory, crs=crs, columns=columns)


@dataclass(frozen=True)
class LayerSpec:
    """A processed layer: its inputs and its pure build function."""

    name: str
    description: str
    sources: tuple[str, ...]
    build: Callable[[BuildInputs], LayerResult]
    depends: tuple[str, ...] = ()
    optional_sources: tuple[str, ...] = ()

    def code_hash(self) -> str:
        """Hash of the build function's module source, so a code change triggers a rebuild."""
        module = inspect.getmodule(self.build)
        text = inspect.getsource(module) if module else ""
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_manifest(paths: Paths) -> dict:
    """The build manifest (empty when nothing was built).

    Raises
    ------
    zonage.layers.store.LayerDamagedError
        The manifest cannot be parsed (truncated, overwritten).
    """
    file = paths.processed / MANIFEST
    if not file.exists():
        return {}
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise store.LayerDamagedError(store.LayerProblem(
            "", "", file, "manifest",
            f"le manifeste de construction {file} est illisible ({type(exc).__name__}) : lancer `zonage build`"
        )) from None
    return manifest


def _readable(file: Path) -> bool:
    """Whether a layer file reads through (used before recording files of a format-1 manifest)."""
    try:
        if file.suffix == ".npz":
            with zipfile.ZipFile(file) as bundle:
                return bundle.testzip() is None
        pq.read_table(file)
    except Exception:  # any failure to read means: rebuild
        return False
    return True


def _upgrade_entry(paths: Paths, entry: dict) -> dict | None:
    """A format-1 entry with file records added, or None when its files are not exactly as listed and readable."""
    outputs = entry.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        return None
    upgraded = {**entry, "outputs": {}, "format": store.LAYER_FORMAT}
    for name, summary in outputs.items():
        listed = sorted(summary.get("files", [])) if isinstance(summary, dict) else []
        folder = paths.processed / name
        if folder.is_dir():
            files = sorted(folder.glob("*.parquet"))
        else:
            files = [f for f in (paths.processed / f"{name}.parquet", paths.processed / f"{name}.npz") if f.exists()]
        if not listed or sorted(f.name for f in files) != listed or not all(_readable(f) for f in files):
            return None
        upgraded["outputs"][name] = {**summary, "integrity": store.output_records(paths, files)}
    return upgraded


def _write_manifest(paths: Paths, manifest: dict) -> None:
    write_text_atomic(paths.processed / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, default=str))


@dataclass(frozen=True)
class LayerStatus:
    """What :func:`build` did for one layer.

    ``action`` is ``built``, ``unchanged`` or ``recorded`` (unchanged, its files recorded
    in a manifest written by an older version); ``reason`` says why a layer was built
    (``forced``, ``inputs changed``, ``not built``, or the problem found in its files).
    """

    name: str
    action: str  # "built", "unchanged" or "recorded"
    seconds: float
    entry: dict
    reason: str = ""


def build(
    specs: Iterable[LayerSpec],
    paths: Paths,
    *,
    only: Iterable[str] | None = None,
    force: bool = False,
    download: bool = False,
    on_step: Callable[[str], None] | None = None,
    on_cleanup: Callable[[store.Cleanup], None] | None = None,
) -> list[LayerStatus]:
    """Build layers in the order given (each spec after those it depends on).

    Parameters
    ----------
    specs
        All layer specs, in dependency order.
    paths
        Data and mirror folders.
    only
        Names of layers to build (their upstream layers are built too).
    force
        Rebuild even when inputs are unchanged.
    download
        Allow source downloads when the mirror lacks a file.
    on_step
        Called with a short message as each layer starts (progress display).
    on_cleanup
        Called (before any layer) with what :func:`zonage.layers.store.clean_leftovers`
        found, when it found leftovers of an interrupted build; also logged as a warning.
    """
    specs = list(specs)
    by_name = {s.name: s for s in specs}
    wanted = set(by_name) if only is None else set(only)
    unknown = wanted - set(by_name)
    if unknown:
        raise ZonageError(f"couche(s) inconnue(s) : {', '.join(sorted(unknown))} (couches connues : "
                          f"{', '.join(by_name)})")
    stack = list(wanted)
    while stack:  # close over dependencies
        for dep in by_name[stack.pop()].depends:
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)

    cleanup = store.clean_leftovers(paths)
    if cleanup:
        logger.warning("%s", cleanup.message())
        if on_cleanup:
            on_cleanup(cleanup)
    try:
        manifest = read_manifest(paths)
    except store.LayerDamagedError:
        manifest = {}  # unreadable: every layer is rebuilt
    statuses: list[LayerStatus] = []
    for spec in specs:
        if spec.name not in wanted:
            continue
        if on_step:
            on_step(spec.name)
        fetched: dict[str, Path | None] = {}
        inputs: dict[str, str] = {}
        for source_name in spec.sources + spec.optional_sources:
            try:
                got = fetch(get_source(source_name), paths, download=download)
            except MissingSourceError:
                if source_name in spec.optional_sources:
                    fetched[source_name] = None
                    inputs[source_name] = "absent"
                    continue
                raise
            fetched[source_name] = got.path
            inputs[source_name] = got.sha256
        for dep in spec.depends:
            inputs[f"layer:{dep}"] = manifest.get(dep, {}).get("key", "missing")
        inputs["code"] = spec.code_hash()
        inputs["zonage"] = __version__
        key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:20]
        previous = manifest.get(spec.name, {})
        if force:
            reason = "forced"
        elif not previous:
            reason = "not built"
        elif previous.get("key") != key:
            reason = "inputs changed"
        else:
            problems = store.entry_problems(paths, spec.name, previous)
            if not problems and previous.get("outputs"):
                statuses.append(LayerStatus(spec.name, "unchanged", 0.0, previous))
                continue
            upgraded = _upgrade_entry(paths, previous) if "format" not in previous else None
            if upgraded is not None:
                manifest[spec.name] = upgraded
                _write_manifest(paths, manifest)
                statuses.append(LayerStatus(spec.name, "recorded", 0.0, upgraded))
                continue
            reason = problems[0].message if problems else "no outputs recorded"
        start = time.perf_counter()
        result = spec.build(BuildInputs(paths, fetched))
        outputs = {}
        for out_name, frame in result.frames.items():
            files = store.write_layer(paths, out_name, frame, record=False)
            outputs[out_name] = {**store.summarize(frame, files), "integrity": store.output_records(paths, files)}
        for out_name, arrays in result.arrays.items():
            file = store.write_arrays(paths, out_name, arrays, record=False)
            outputs[out_name] = {**store.summarize_arrays(arrays, file),
                                 "integrity": store.output_records(paths, [file])}
        seconds = time.perf_counter() - start
        entry = {
            "key": key,
            "format": store.LAYER_FORMAT,
            "description": spec.description,
            "inputs": inputs,
            "sources": {
                s: {"vintage": get_source(s).vintage, "licence": get_source(s).licence}
                for s in fetched if fetched[s] is not None
            },
            "vintage": result.vintage,
            "outputs": outputs,
            "report": result.report,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 2),
        }
        for other in [n for n, e in manifest.items() if n != spec.name and isinstance(e, dict) and "key" not in e]:
            if set(manifest[other].get("outputs", {})) & set(outputs):  # written outside a build, now replaced
                del manifest[other]
        manifest[spec.name] = entry
        _write_manifest(paths, manifest)
        statuses.append(LayerStatus(spec.name, "built", seconds, entry, reason))
    return statuses
