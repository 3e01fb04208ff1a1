"""Ready-made studies chaining layers and engines (no file is written here).

The CLI and notebooks call these; the outputs modules write what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from zonage.config import Paths
from zonage.eligibility import BatchResult, assess
from zonage.layers.store import read_layer
from zonage.regions import require_region
from zonage.rules import ApplicationVerdict, Scheme
from zonage.studies.locators import locator

#: FINESS categories of the structures that host posts: centres de santé, MSP, hospitals.
HOST_CATEGORIES: dict[str, str] = {
    "124": "Centre de santé",
    "603": "Maison de santé pluriprofessionnelle",
    "355": "Centre hospitalier",
    "101": "Centre hospitalier régional",
    "106": "Centre hospitalier, ex-hôpital local",
}


def region_structures(paths: Paths, region: str, categories: Sequence[str] = tuple(HOST_CATEGORIES)) -> pd.DataFrame:
    """FINESS establishments of ``categories`` in the départements of ``region`` (an input table).

    Returns a plain table with ``finess``, ``nom``, ``adresse``, ``code_postal``,
    ``commune``, ``categetab``, ``libcategetab``: the batch then looks each FINESS
    number up, as it would for a planner's own list.
    """
    wanted = set(require_region(region).departements)
    finess = read_layer(paths, "finess", columns=["nofinesset", "rs", "adresse", "code_postal", "commune",
                                                  "categetab", "libcategetab", "dep"])
    chosen = finess[finess["dep"].isin(wanted) & finess["categetab"].isin(list(categories))]
    return pd.DataFrame({
        "finess": chosen["nofinesset"].to_numpy(),
        "nom": chosen["rs"].to_numpy(),
        "adresse": chosen["adresse"].to_numpy(),
        "code_postal": chosen["code_postal"].to_numpy(),
        "commune": chosen["commune"].to_numpy(),
        "categetab": chosen["categetab"].to_numpy(),
        "libcategetab": chosen["libcategetab"].to_numpy(),
    }).sort_values("finess", kind="stable").reset_index(drop=True)


def batch_context(paths: Paths) -> dict:
    """Layers a batch needs, read once: the locator, FINESS points and the COG crosswalk."""
    return {
        "locator": locator(paths),
        "finess": read_layer(paths, "finess", columns=["nofinesset", "categetab", "codeape", "rs"]),
        "crosswalk": read_layer(paths, "cog_crosswalk"),
    }


def eligibility_of_region(
    paths: Paths,
    region: str,
    *,
    schemes: Mapping[str, Scheme] | None = None,
    progress: Callable[[int, int], None] | None = None,
    on: date | None = None,
) -> tuple[pd.DataFrame, BatchResult]:
    """Batch eligibility of every centre de santé, MSP and hospital of ``region`` on date ``on`` (default today)."""
    structures = region_structures(paths, region)
    context = batch_context(paths)
    result = assess(structures, context["locator"], schemes, finess=context["finess"],
                    crosswalk=context["crosswalk"], progress=progress, on=on)
    return structures, result



def check_application_file(path: str | Path, paths: Paths, rules: str | Path | None = None,
                           deficits: pd.DataFrame | None = None) -> ApplicationVerdict:
    """Read, validate, locate and check one application file (``deficits``: per speciality, for ASTP)."""
    from zonage.applications import locate_structures, read_application
    from zonage.rules import check_application, load_schemes

    application = read_application(path)
    finess = read_layer(paths, "finess", columns=["nofinesset", "categetab", "codeape", "rs"])
    located = locate_structures(application, locator(paths), finess)
    return check_application(located, load_schemes(Path(rules) if rules is not None else None), deficits=deficits)

@dataclass
class RegionJob:
    """What the main job (``zonage run``) computed: layer statuses, the région's structures, their verdicts."""

    statuses: list[Any]
    structures: pd.DataFrame
    result: BatchResult


def region_job(paths: Paths, region: str, *, on: date | None = None, download: bool = False,
               on_layer: Callable[[str], None] | None = None,
               progress: Callable[[int, int], None] | None = None) -> RegionJob:
    """Build the missing layers, then assess the région's FINESS centres de santé, MSP and hospitals.

    Nothing is written here: ``zonage run`` writes the tables and the map of the result.
    """
    from zonage.layers import all_specs
    from zonage.layers.pipeline import build

    statuses = build(all_specs(), paths, download=download, on_step=on_layer)
    structures, result = eligibility_of_region(paths, region, progress=progress, on=on)
    return RegionJob(statuses, structures, result)
