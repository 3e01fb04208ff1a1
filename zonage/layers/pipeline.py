"""Build the processed layers in dependency order, idempotently.

Each layer module exposes a :class:`LayerSpec`: which sources and other layers it
reads and a pure ``build`` function returning frames and a report. This module
fetches the sources, calls the builds, writes the frames with
:mod:`zonage.layers.store` and records in ``data/processed/manifest.json`` the
input checksums, row counts, CRS and vintages. A layer whose inputs (source
checksums, upstream layers, code) are unchanged is not rebuilt.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage import __version__
from zonage.config import Paths
from zonage.errors import MissingSourceError, ZonageError
from zonage.io import write_text_atomic
from zonage.layers import store
from zonage.sources import fetch, get_source

MANIFEST = "manifest.json"


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
            raise MissingSourceError(f"source {name} is not available")
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
    """The build manifest (empty when nothing was built)."""
    file = paths.processed / MANIFEST
    return json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}


def _frame_summary(frame: pd.DataFrame, files: list[Path]) -> dict:
    summary: dict = {"rows": len(frame), "files": [f.name for f in files]}
    if isinstance(frame, gpd.GeoDataFrame):
        by_territory = frame.groupby(store.TERRITORY).size()
        summary["territories"] = {str(k): int(v) for k, v in by_territory.items()}
        summary["crs"] = "per territory (EPSG:2154 mainland, local UTM overseas)"
        summary["empty_geometries"] = int(frame.geometry.isna().sum() + frame.geometry.is_empty.sum())
    else:
        summary["crs"] = None
    return summary


def _outputs_present(paths: Paths, entry: dict) -> bool:
    for name in entry.get("outputs", {}):
        files = [paths.processed / name, paths.processed / f"{name}.parquet", paths.processed / f"{name}.npz"]
        if not any(f.exists() for f in files):
            return False
    return bool(entry.get("outputs"))


@dataclass(frozen=True)
class LayerStatus:
    """What :func:`build` did for one layer."""

    name: str
    action: str  # "built" or "unchanged"
    seconds: float
    entry: dict


def build(
    specs: Iterable[LayerSpec],
    paths: Paths,
    *,
    only: Iterable[str] | None = None,
    force: bool = False,
    download: bool = False,
    on_step: Callable[[str], None] | None = None,
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
    """
    specs = list(specs)
    by_name = {s.name: s for s in specs}
    wanted = set(by_name) if only is None else set(only)
    unknown = wanted - set(by_name)
    if unknown:
        raise ZonageError(f"unknown layer(s) {sorted(unknown)}; known: {', '.join(by_name)}")
    stack = list(wanted)
    while stack:  # close over dependencies
        for dep in by_name[stack.pop()].depends:
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)

    manifest = read_manifest(paths)
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
        if not force and previous.get("key") == key and _outputs_present(paths, previous):
            statuses.append(LayerStatus(spec.name, "unchanged", 0.0, previous))
            continue
        start = time.perf_counter()
        result = spec.build(BuildInputs(paths, fetched))
        outputs = {}
        for out_name, frame in result.frames.items():
            files = store.write_layer(paths, out_name, frame)
            outputs[out_name] = _frame_summary(frame, files)
        for out_name, arrays in result.arrays.items():
            file = store.write_arrays(paths, out_name, arrays)
            outputs[out_name] = {"rows": len(arrays), "files": [file.name], "crs": "arrays (npz)",
                                 "bytes": file.stat().st_size}
        seconds = time.perf_counter() - start
        entry = {
            "key": key,
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
        manifest[spec.name] = entry
        write_text_atomic(paths.processed / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, default=str))
        statuses.append(LayerStatus(spec.name, "built", seconds, entry))
    return statuses
