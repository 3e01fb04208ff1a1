"""Shared fixtures: the real data mirror and a built data folder.

Tests that need the mirror use the ``mirror`` fixture. When the mirror is absent
they are skipped on a developer machine but FAIL when ``CI=true``, so CI can never
pass by skipping the real-data tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zonage.config import Paths

HERE = Path(__file__).resolve().parent


def _find_mirror() -> Path | None:
    env = os.environ.get("ZONAGE_MIRROR")
    candidates = [Path(env)] if env else []
    candidates.append(HERE.parent.parent / "shared" / "data")
    for candidate in candidates:
        if (candidate / "MANIFEST.md").exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The real data mirror (fails under CI=true when absent)."""
    found = _find_mirror()
    if found is None:
        message = "data mirror not found: set ZONAGE_MIRROR or put shared/data beside the repo"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def data_paths(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """One data folder per test session, reading the real mirror.

    Set ``ZONAGE_TEST_DATA`` to reuse a folder across runs while developing.
    """
    reuse = os.environ.get("ZONAGE_TEST_DATA")
    data = Path(reuse) if reuse else tmp_path_factory.mktemp("data")
    return Paths(data=data, mirror=mirror)


@pytest.fixture(scope="session")
def build_layers(data_paths: Paths):
    """Build the named layers (and what they depend on) into the session folder."""
    from zonage.layers import all_specs
    from zonage.layers.pipeline import build

    def _build(*names: str) -> Paths:
        build(all_specs(), data_paths, only=names or None)
        return data_paths

    return _build


@pytest.fixture(scope="session")
def built(build_layers) -> Paths:
    """A data folder with every layer built from the real mirror."""
    return build_layers()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs the mirror (directly or through a fixture) with ``mirror``.

    ``pytest -m "not mirror"`` is then the fast suite: hand-built fixtures only.
    """
    for item in items:
        if "mirror" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mirror)
