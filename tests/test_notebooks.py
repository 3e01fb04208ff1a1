"""The notebooks run top to bottom on the real data, read as studies, and are committed without outputs.

Both notebooks are executed with nbclient (one kernel each, concurrently) in a temporary working
folder, against the session's data folder (``ZONAGE_DATA``) and the mirror (``ZONAGE_MIRROR``);
they write their files to ``outputs/`` under that folder. The checks stay light: French headings,
charts, an inline map that loads nothing from a CDN, the files a planner is handed.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
from pathlib import Path
from typing import Any

import pytest

from zonage.config import Paths

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("prioritisation_grand_est.ipynb", "batch_eligibility.ipynb")

#: Headings every study has (markdown cells), and a sentence of its computed conclusion (outputs).
HEADINGS = {
    "prioritisation_grand_est.ipynb": ("# Où financer 40 postes", "Les données et leur millésime",
                                       "Les 40 postes proposés", "règle « APL la plus basse d'abord »",
                                       "Limites", "Conclusion"),
    "batch_eligibility.ipynb": ("# Éligibilité d'une liste de projets", "Les données et leur millésime",
                                "Pourquoi une date", "Ce qui est à vérifier", "Limites", "Conclusion"),
}
CONCLUSIONS = {
    "prioritisation_grand_est.ipynb": "Face à la règle « APL la plus basse d'abord », le plan",
    "batch_eligibility.ipynb": "projets reçus, au 01/03/2025",
}
OUTPUTS = {
    "prioritisation_grand_est.ipynb": ("postes_proposes_grand_est.csv", "postes_proposes_grand_est.xlsx",
                                       "carte_postes_grand_est.png", "carte_postes_grand_est.html"),
    "batch_eligibility.ipynb": ("projets_recus.xlsx", "eligibilite_projets.csv", "eligibilite_projets.xlsx",
                                "carte_projets_grand_est.html"),
}
CDN = re.compile(r"cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|code\.jquery\.com|bootstrapcdn|"
                 r"<script[^>]+src=[\"']https?:|<link[^>]+href=[\"']https?:")


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
def executed(built: Paths, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
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
    env = {"ZONAGE_DATA": str(built.data)}
    if built.mirror is not None:
        env["ZONAGE_MIRROR"] = str(built.mirror)

    async def run_all() -> list[object]:
        return await asyncio.gather(*(c.async_execute() for c in clients.values()), return_exceptions=True)

    with pytest.MonkeyPatch.context() as patch:  # the kernels inherit this environment
        for key, value in env.items():
            patch.setenv(key, value)
        results = asyncio.run(run_all())
    return {"work": work, **dict(zip(NAMES, results, strict=True))}


def _notebook(executed: dict[str, Any], name: str) -> Any:
    result = executed[name]
    if isinstance(result, BaseException):
        raise result
    return result


def _outputs(notebook: Any) -> list[dict[str, Any]]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(executed: dict[str, Any], name: str) -> None:
    notebook = _notebook(executed, name)
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in cells)
    errors = [o for o in _outputs(notebook) if o.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("name", NAMES)
def test_notebook_reads_as_a_study(executed: dict[str, Any], name: str) -> None:
    """French headings and conclusion, charts, and the map inline without any CDN."""
    notebook = _notebook(executed, name)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    missing = [h for h in HEADINGS[name] if h not in text]
    assert not missing, f"{name}: headings missing: {missing}"
    outputs = _outputs(notebook)
    printed = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert CONCLUSIONS[name] in printed
    assert "Traceback" not in printed and "Warning" not in printed, f"{name}: warnings in the outputs"
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{name}: no chart"
    maps = [html.unescape(o["data"]["text/html"]) for o in outputs
            if "zonage.addLegend" in o.get("data", {}).get("text/html", "")]
    assert len(maps) == 1, f"{name}: the folium map is not displayed inline"
    assert "Leaflet 1.9" in maps[0] and "L.map(" in maps[0], "Leaflet is not inlined in the map"
    assert not CDN.findall(maps[0]), f"{name}: the inline map loads from a CDN: {CDN.findall(maps[0])[:3]}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_writes_its_files_to_outputs(executed: dict[str, Any], name: str) -> None:
    _notebook(executed, name)
    folder = Path(executed["work"]) / "outputs"
    for file in OUTPUTS[name]:
        assert (folder / file).stat().st_size > 1_000, file
    for file in OUTPUTS[name]:
        if file.endswith(".csv"):  # for a French spreadsheet: BOM and semicolons
            head = (folder / file).read_bytes()[:400]
            assert head.startswith(b"\xef\xbb\xbf") and b";" in head.split(b"\n")[0], file
        if file.endswith(".html"):
            assert not CDN.findall((folder / file).read_text(encoding="utf-8")), file
