"""Accessibility engine: floating catchment areas (2SFCA, E2SFCA, 3SFCA) on sparse costs.

Pipeline: travel costs (:mod:`~zonage.access.costs`: OD table or straight lines with a
k-d tree) → sparse weight matrix with a decay (:mod:`~zonage.access.decay`) → two
sparse matrix–vector products (:mod:`~zonage.access.methods`) → long table of
accessibility per demand unit → territories (:mod:`~zonage.access.aggregate`) or a
grid (:mod:`~zonage.access.raster`). Demand helpers (age-standardised population,
population rasters) are in :mod:`~zonage.access.demand`.

The engine writes no file, except :func:`~zonage.access.raster.write_geotiff` when asked,
and reads none: the national commune-level run that ``zonage access`` calls (reading the
layers) is the study :func:`zonage.studies.access.commune_accessibility`.
"""

from __future__ import annotations

from zonage.access.aggregate import LEVELS, aggregate, assign_points
from zonage.access.costs import StraightLine, TravelCosts, od_costs, points_xy, straight_line_costs
from zonage.access.decay import (
    Decay,
    binary,
    drees,
    exponential,
    gaussian,
    linear,
    luo_qi,
    parse_decay,
    stepped,
)
from zonage.access.demand import (
    drees_activity,
    drees_age_weights,
    raster_demand,
    standardised_population,
    supply_by_location,
)
from zonage.access.methods import METHODS, accessibility, floating_catchment, weight_matrix
from zonage.access.raster import accessibility_grid, rasterize_cells, write_geotiff

__all__ = [
    "LEVELS",
    "METHODS",
    "Decay",
    "StraightLine",
    "TravelCosts",
    "accessibility",
    "accessibility_grid",
    "aggregate",
    "assign_points",
    "binary",
    "drees",
    "drees_activity",
    "drees_age_weights",
    "exponential",
    "floating_catchment",
    "gaussian",
    "linear",
    "luo_qi",
    "od_costs",
    "parse_decay",
    "points_xy",
    "raster_demand",
    "rasterize_cells",
    "standardised_population",
    "stepped",
    "straight_line_costs",
    "supply_by_location",
    "weight_matrix",
    "write_geotiff",
]
