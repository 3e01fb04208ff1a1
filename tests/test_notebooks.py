"""The notebooks run top to bottom on the real data, and are committed without outputs.

Both notebooks are executed with nbclient (one kernel each, concurrently) against the
session's data folder (``ZONAGE_DATA``) and the mirror (``ZONAGE_MIRROR``); their maps go
to a temporary ``ZONAGE_MAPS_DIR``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from zonage.config import Paths

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("prioritisation_grand_est.ipynb", "batch_eligibility.ipynb")


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        message = f"{module} is not installed: pip install -e '.[test]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name: str) -> None:
    _require("nbformat")
    import nbformat

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "a notebook without code"
    for index, cell in enumerate(code):
        assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
            f"{name}: code cell {index} has outputs; strip them (jupyter nbconvert --clear-output --inplace)")
    assert "widgets" not in notebook.metadata


@pytest.fixture(scope="module")
def executed(built: Paths, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    _require("nbclient")
    _require("ipykernel")
    import nbformat
    from nbclient import NotebookClient

    work = tmp_path_factory.mktemp("notebooks")
    clients = {}
    for name in NAMES:
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        clients[name] = NotebookClient(notebook, timeout=900, kernel_name="python3",
                                       resources={"metadata": {"path": str(work)}})
    env = {"ZONAGE_DATA": str(built.data), "ZONAGE_MAPS_DIR": str(work / "maps")}
    if built.mirror is not None:
        env["ZONAGE_MIRROR"] = str(built.mirror)

    async def run_all() -> list[object]:
        return await asyncio.gather(*(c.async_execute() for c in clients.values()), return_exceptions=True)

    with pytest.MonkeyPatch.context() as patch:  # the kernels inherit this environment
        for key, value in env.items():
            patch.setenv(key, value)
        results = asyncio.run(run_all())
    return {"work": work, **dict(zip(NAMES, results, strict=True))}


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(executed: dict[str, object], name: str) -> None:
    result = executed[name]
    if isinstance(result, BaseException):
        raise result
    cells = [cell for cell in result.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in cells)
    errors = [o for cell in cells for o in cell.outputs if o.output_type == "error"]
    assert errors == []


def test_notebooks_write_their_maps(executed: dict[str, object]) -> None:
    maps = Path(executed["work"]) / "maps"
    for name in ("region_44.html", "region_44_zonage.png", "region_44_apl.png", "region_44_structures.png",
                 "batch_eligibility.html"):
        assert (maps / name).stat().st_size > 10_000, name
    prio = executed["prioritisation_grand_est.ipynb"]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for cell in prio.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "national mean" in text and "BV2012 at APL" in text
    html = [o["data"]["text/html"] for cell in prio.cells if cell.cell_type == "code" for o in cell.outputs
            if "text/html" in o.get("data", {})]
    inline = [h for h in html if "zonage.addLegend" in h]
    assert inline, "the folium map is not displayed inline"
