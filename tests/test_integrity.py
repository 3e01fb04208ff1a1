"""Damaged data folders: every read checks its files against the build manifest.

Fault injection on a small data folder built here from the mirror (the cheap layers:
``crosswalk`` (table), ``qpv`` (GeoParquet + table), ``finess`` (GeoParquet, five
territories) and a toy array bundle), copied afresh for each test.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from zonage.config import Paths
from zonage.errors import LayerMissingError, ZonageError
from zonage.layers import all_specs, store
from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec, build, read_manifest
from zonage.layers.store import LayerDamagedError, read_arrays, read_geo_layer, read_layer, territories, verify_layers


def _build_toy_arrays(inputs: BuildInputs) -> LayerResult:
    crosswalk = inputs.layer("cog_crosswalk")
    codes = np.arange(len(crosswalk), dtype=np.int64)
    return LayerResult(frames={}, arrays={"toy_arrays": {"codes": codes, "half": codes // 2}})


TOY_ARRAYS = LayerSpec("toy_arrays", "toy array bundle", (), _build_toy_arrays, depends=("crosswalk",))
SPECS = [*all_specs(), TOY_ARRAYS]
ONLY = ["crosswalk", "qpv", "finess", "toy_arrays"]


@pytest.fixture(scope="module")
def pristine(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Paths:
    paths = Paths(data=tmp_path_factory.mktemp("integrity"), mirror=mirror)
    build(SPECS, paths, only=ONLY)
    return paths


@pytest.fixture()
def folder(pristine: Paths, tmp_path: Path) -> Paths:
    """A private copy of the small data folder (sources and layers)."""
    shutil.copytree(pristine.data, tmp_path / "data", symlinks=True)
    return Paths(data=tmp_path / "data", mirror=pristine.mirror)


# ----------------------------------------------------------------------------- damages
def _delete(file: Path, folder: Paths) -> None:
    file.unlink()


def _truncate(file: Path, folder: Paths) -> None:
    os.truncate(file, file.stat().st_size // 2)


def _other_layer(file: Path, folder: Paths) -> None:
    """Replace the file by another layer's file of the same kind."""
    if file.suffix == ".npz":
        np.savez_compressed(file, other=np.arange(10))
        return
    other = "qpv_communes.parquet" if file.name != "qpv_communes.parquet" else "cog_crosswalk.parquet"
    donor = folder.processed / other
    shutil.copyfile(donor, file)


def _other_version(file: Path, folder: Paths) -> None:
    """Rewrite the file as another build would have: the same layer, one row fewer."""
    if file.suffix == ".npz":
        with np.load(file) as data:
            arrays = {key: data[key][:-1] for key in data.files}
        np.savez_compressed(file, **arrays)
        return
    frame = pd.read_parquet(file) if file.parent == folder.processed else gpd.read_parquet(file)
    frame.iloc[:-1].to_parquet(file, index=False)


DAMAGES: dict[str, Callable[[Path, Paths], None]] = {
    "deleted": _delete, "truncated": _truncate, "another layer's file": _other_layer,
    "another version": _other_version,
}

#: (layer file, read that must refuse it): one of each file kind.
READS: dict[str, tuple[str, Callable[[Paths], object]]] = {
    "geo, all territories": ("finess/974.parquet", lambda p: read_layer(p, "finess")),
    "geo, one territory": ("finess/metro.parquet", lambda p: read_layer(p, "finess", territory="metro")),
    "geo layer": ("qpv/metro.parquet", lambda p: read_geo_layer(p, "qpv")),
    "territory list": ("finess/971.parquet", lambda p: territories(p, "finess")),
    "table": ("cog_crosswalk.parquet", lambda p: read_layer(p, "cog_crosswalk")),
    "arrays": ("toy_arrays.npz", lambda p: read_arrays(p, "toy_arrays")),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("read", list(READS))
def test_damaged_file_is_refused(folder: Paths, read: str, damage: str) -> None:
    rel, reader = READS[read]
    file = folder.processed / rel
    DAMAGES[damage](file, folder)
    with pytest.raises(LayerDamagedError, match="zonage build") as caught:
        reader(folder)
    message = str(caught.value)
    assert "\n" not in message and rel.split("/")[0].removesuffix(".parquet").removesuffix(".npz") in message
    assert str(file) in message
    assert isinstance(caught.value, ZonageError) and not isinstance(caught.value, LayerMissingError)
    assert caught.value.problem.kind in {"missing", "truncated", "size", "content"}
    # The check of the whole folder finds the same file.
    assert [p.file for p in verify_layers(folder)] == [file]


def test_messages_say_what_is_wrong(folder: Paths) -> None:
    (folder.processed / "finess/974.parquet").unlink()
    _truncate(folder.processed / "cog_crosswalk.parquet", folder)
    _other_version(folder.processed / "qpv_communes.parquet", folder)
    with pytest.raises(LayerDamagedError, match=r"couche finess : .*974\.parquet est absent : lancer `zonage build` "
                                                r"\(ou `zonage build --force finess`\)"):
        read_layer(folder, "finess")
    with pytest.raises(LayerDamagedError, match=r"cog_crosswalk\.parquet est tronqué \(.* octets, .* attendus\) : "
                                                r"lancer `zonage build` \(ou `zonage build --force crosswalk`\)"):
        read_layer(folder, "cog_crosswalk")
    with pytest.raises(LayerDamagedError, match=r"couche qpv_communes : .*(une autre construction).*--force qpv`"):
        read_layer(folder, "qpv_communes")
    kinds = {p.output: p.kind for p in verify_layers(folder)}
    assert kinds == {"finess": "missing", "cog_crosswalk": "truncated", "qpv_communes": "size"}


def test_correct_folder_reads_and_verifies(folder: Paths) -> None:
    assert verify_layers(folder, full=True) == []
    assert territories(folder, "finess") == ["971", "972", "973", "974", "metro"]
    assert len(read_layer(folder, "finess")) > 50_000
    assert read_layer(folder, "finess", territory="974").crs.to_epsg() == 2975
    assert len(read_geo_layer(folder, "qpv")) > 0 and len(read_layer(folder, "cog_crosswalk")) > 0
    assert set(read_arrays(folder, "toy_arrays")) == {"codes", "half"}
    # A layer never built is still "not built", not "damaged".
    with pytest.raises(LayerMissingError, match="la couche communes n'est pas encore construite : lancer `zonage "
                                                "build`"):
        read_layer(folder, "communes")
    assert territories(folder, "communes") == []
    with pytest.raises(LayerMissingError, match="la couche finess n'a pas de territoire '976'"):
        read_layer(folder, "finess", territory="976")


def test_manifest_records_every_file(folder: Paths) -> None:
    manifest = read_manifest(folder)
    entry = manifest["finess"]
    assert entry["format"] == store.LAYER_FORMAT
    records = entry["outputs"]["finess"]["integrity"]
    assert sorted(records) == [f"finess/{t}.parquet" for t in ("971", "972", "973", "974", "metro")]
    metro = folder.processed / "finess/metro.parquet"
    assert records["finess/metro.parquet"] == {"bytes": metro.stat().st_size,
                                               "quick": store.quick_fingerprint(metro),
                                               "sha256": store.file_record(metro)["sha256"]}
    assert set(manifest["toy_arrays"]["outputs"]["toy_arrays"]["integrity"]) == {"toy_arrays.npz"}
    assert set(manifest["qpv"]["outputs"]["qpv_communes"]["integrity"]) == {"qpv_communes.parquet"}


def test_change_in_the_middle_is_found_by_the_full_check(folder: Paths) -> None:
    file = folder.processed / "finess/metro.parquet"  # > 128 KiB: the quick fingerprint skips its middle
    with open(file, "r+b") as fh:
        fh.seek(file.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert verify_layers(folder) == []
    problems = verify_layers(folder, full=True)
    assert [(p.layer, p.kind, p.file) for p in problems] == [("finess", "checksum", file)]
    assert "zonage build --force finess" in problems[0].message


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_damaged_manifest(folder: Paths, damage: str) -> None:
    manifest = folder.processed / store.MANIFEST
    if damage == "deleted":
        manifest.unlink()
    else:
        os.truncate(manifest, manifest.stat().st_size // 2)
    for reader in (lambda: read_layer(folder, "cog_crosswalk"), lambda: territories(folder, "finess"),
                   lambda: read_arrays(folder, "toy_arrays")):
        with pytest.raises(LayerDamagedError, match=r"manifeste.*(absent|illisible).*zonage build"):
            reader()
    assert [p.kind for p in verify_layers(folder)] == ["manifest"]


def test_layer_of_another_format(folder: Paths) -> None:
    manifest_file = folder.processed / store.MANIFEST
    manifest = json.loads(manifest_file.read_text())
    manifest["qpv"]["format"] = store.LAYER_FORMAT + 1
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(LayerDamagedError, match=r"couche qpv : construite par une autre version de zonage \(format de "
                                                rf"couche {store.LAYER_FORMAT + 1}.*zonage build --force qpv"):
        read_geo_layer(folder, "qpv")
    assert {p.output for p in verify_layers(folder)} == {"qpv", "qpv_communes"}
    statuses = {s.name: s for s in build(SPECS, folder, only=["qpv"])}
    assert statuses["qpv"].action == "built"
    assert verify_layers(folder, full=True) == []


def test_old_manifest_is_recorded_by_the_next_build(folder: Paths) -> None:
    """A manifest written before the file records: refused, then recorded (not rebuilt) by `zonage build`."""
    manifest_file = folder.processed / store.MANIFEST
    manifest = json.loads(manifest_file.read_text())
    for entry in manifest.values():
        del entry["format"]
        for summary in entry["outputs"].values():
            del summary["integrity"]
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(LayerDamagedError, match=r"format de couche 1, cette version lit le format 2\) : "
                                                r"lancer `zonage build`"):
        read_layer(folder, "cog_crosswalk")
    _truncate(folder.processed / "finess/972.parquet", folder)  # damaged before the upgrade: rebuilt, not recorded
    statuses = {s.name: s for s in build(SPECS, folder, only=ONLY)}
    assert {n: s.action for n, s in statuses.items()} == {
        "crosswalk": "recorded", "qpv": "recorded", "finess": "built", "toy_arrays": "recorded"}
    assert verify_layers(folder, full=True) == []
    assert len(read_layer(folder, "finess", territory="972")) > 0


@pytest.mark.parametrize(("rel", "layer"), [("cog_crosswalk.parquet", "crosswalk"), ("qpv/metro.parquet", "qpv"),
                                            ("toy_arrays.npz", "toy_arrays")])
def test_build_repairs_a_damaged_layer(folder: Paths, rel: str, layer: str) -> None:
    _truncate(folder.processed / rel, folder)
    statuses = {s.name: s for s in build(SPECS, folder, only=ONLY)}
    assert statuses[layer].action == "built" and "tronqué" in statuses[layer].reason
    assert {n for n, s in statuses.items() if s.action == "built"} == {layer}
    assert verify_layers(folder, full=True) == []


def test_symlinked_layer_is_checked_against_its_own_folder(pristine: Paths, tmp_path: Path) -> None:
    (tmp_path / "processed").mkdir()
    (tmp_path / "processed" / "qpv").symlink_to(pristine.processed / "qpv")
    assert len(read_geo_layer(Paths(tmp_path), "qpv")) > 0


def test_direct_writes_are_recorded(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    store.write_layer(paths, "table", pd.DataFrame({"a": range(1000)}))
    store.write_arrays(paths, "bundle", {"x": np.arange(5)})
    assert len(read_layer(paths, "table")) == 1000 and read_arrays(paths, "bundle")["x"].tolist() == [0, 1, 2, 3, 4]
    assert verify_layers(paths, full=True) == []
    _truncate(paths.processed / "table.parquet", paths)
    with pytest.raises(LayerDamagedError, match=r"table\.parquet est tronqué"):
        read_layer(paths, "table")


def _age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(item, (when, when))


def test_leftovers_are_removed_by_the_next_build(folder: Paths, caplog: pytest.LogCaptureFixture) -> None:
    processed, raw = folder.processed, folder.raw
    staging = processed / ".qpv.k2j4h6g8"
    staging.mkdir()
    (staging / "metro.parquet").write_bytes(b"half a file")
    trash = processed / ".finess.old.a1b2c3d4"
    (trash / "finess").mkdir(parents=True)
    (trash / "finess" / "974.parquet").write_bytes(b"old")
    parts = [processed / ".cog_crosswalk.parquet.x9y8z7w6.part", processed / ".manifest.json.abc_1234.part",
             raw / "finess" / ".finess.csv.qwertyui.part"]
    for part in parts:
        part.write_bytes(b"partial")
    old = [staging, trash, *parts]
    for path in old:
        _age(path, 3600)
    fresh = processed / ".toy_arrays.npz.fresh123.part"
    fresh.write_bytes(b"being written")
    keep = [processed / ".keep", processed / "notes.part"]  # not temporary names: never touched
    for path in keep:
        path.write_bytes(b"mine")
    assert store.leftovers(folder) == sorted([*old, fresh])
    reported: list[store.Cleanup] = []
    with caplog.at_level(logging.WARNING, logger="zonage.layers.pipeline"):
        statuses = build(SPECS, folder, only=ONLY, on_cleanup=reported.append)
    assert {s.action for s in statuses} == {"unchanged"}
    assert len(reported) == 1 and sorted(reported[0].removed) == sorted(old) and reported[0].kept == [fresh]
    assert not any(p.exists() for p in old) and fresh.exists() and all(p.exists() for p in keep)
    assert "5 reste(s) d'une construction interrompue supprimé(s)" in caplog.text and fresh.name in caplog.text
    assert verify_layers(folder) == []


# ----------------------------------------------------------------------------- eligibility
@pytest.mark.parametrize("rel", ["communes/metro.parquet", "zoning_communes.parquet", "locate_index.npz",
                                 "qpv/metro.parquet"])
def test_eligibility_on_a_damaged_folder_raises(built: Paths, tmp_path: Path, rel: str) -> None:
    """Issue: with a layer file deleted or truncated, a batch answered from what was left."""
    from zonage.eligibility import assess
    from zonage.studies.eligibility import batch_context

    processed = tmp_path / "processed"
    processed.mkdir()
    manifest = read_manifest(built)
    for entry in manifest.values():
        for output in entry["outputs"].values():
            for file in output["integrity"]:
                (processed / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(built.processed / file, processed / file)
    shutil.copyfile(built.processed / store.MANIFEST, processed / store.MANIFEST)
    paths = Paths(tmp_path, built.mirror)
    assert verify_layers(paths) == []
    target = processed / rel
    if rel.startswith("communes/"):
        target.unlink()
    else:
        _truncate(target, paths)
    frame = pd.DataFrame({"finess": ["080000110"], "lon": [4.9403], "lat": [49.7010]})
    with pytest.raises(LayerDamagedError, match="zonage build"):
        context = batch_context(paths)
        assess(frame, context["locator"], finess=context["finess"], crosswalk=context["crosswalk"])


# ----------------------------------------------------------------------------- command line
def test_info_verify_names_the_damage_and_the_command(folder: Paths) -> None:
    from typer.testing import CliRunner

    from zonage.cli import app

    runner = CliRunner()
    args = ["--data", str(folder.data), "--mirror", str(folder.mirror), "info"]
    result = runner.invoke(app, [*args, "--verify"])
    assert result.exit_code == 0, result.output
    assert "tout est conforme" in result.output
    _truncate(folder.processed / "qpv" / "metro.parquet", folder)
    result = runner.invoke(app, [*args, "--verify"])
    assert result.exit_code == 2
    assert "qpv" in result.output and "zonage build --force qpv" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, [*args, "--verify", "--full"])
    assert result.exit_code == 2 and "zonage build --force qpv" in result.output
