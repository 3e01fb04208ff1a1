"""Lookup grids of the locate engine, precomputed once per build.

Rasterising the ~35,000 mainland communes at 100 m takes seconds; storing the grids
(``locate_index.npz``, compressed) lets every later batch load them instead. Each grid
carries a fingerprint of the polygons it was made from; the locator rebuilds any grid
whose fingerprint does not match the layers it reads.
"""

from __future__ import annotations

from zonage.grid import territory_grids
from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec
from zonage.layers.store import territories

#: Cell size (m) of the stored grids: the locator's default.
CELL_M = 100.0


def _build(inputs: BuildInputs) -> LayerResult:
    communes = {t: inputs.geo_layer("communes", territory=t, columns=["insee"])
                for t in territories(inputs.paths, "communes")}
    arrays = territory_grids(communes, inputs.geo_layer("qpv"), CELL_M)
    cells = {key.split("__")[0]: int(value.size) for key, value in arrays.items() if key.endswith("__ids")}
    return LayerResult(frames={}, arrays={"locate_index": arrays},
                       report={"cell_m": CELL_M, "cells_per_territory": cells}, vintage="COG 2025")


SPEC = LayerSpec(
    name="locate_index",
    description="raster lookup grids (100 m) of communes and QPV neighbourhoods for the locate engine",
    sources=(),
    build=_build,
    depends=("communes", "qpv"),
)
