"""Demand for GP care: population, age-standardised population, population grids.

- :func:`standardised_population`: population by age band × consumption weight by
  age band, whatever the two sets of bands (census bands, Filosofi grid bands, the
  DREES 5-year bands, the DAMIR 10-year bands): each population band takes the
  average weight over its ages (ages assumed evenly spread within a band).
- :func:`raster_demand`: the cells of a population raster (GeoTIFF…) read with
  rasterio, as demand points at the cell centres (empty and nodata cells left out).
- :func:`supply_by_location`: doctors (one row each) → supply per location, counts or
  activity, with an optional age cap (the APL "≤ 65" variant).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage.errors import InputDataError

if TYPE_CHECKING:
    from affine import Affine
    from rasterio.crs import CRS

#: DREES APL age weights (average GP consumption of the band / national average),
#: from the "Paramètres" sheet of the DREES APL workbook 2022–2023
#: (DCIR 2020 and 2021, Cnam; populations municipales, Insee). Bands of 5 years,
#: ``[age_min, age_max)``, the last one open.
DREES_AGE_WEIGHTS: dict[int, tuple[float, ...]] = {
    2022: (0.93, 0.59, 0.55, 0.59, 0.73, 0.78, 0.84, 0.88, 0.90, 0.97, 1.06, 1.14, 1.16, 1.19, 1.52, 1.53, 1.72,
           1.99, 2.39),
    2023: (1.12, 0.58, 0.51, 0.60, 0.75, 0.79, 0.82, 0.85, 0.89, 0.93, 1.03, 1.15, 1.18, 1.23, 1.46, 1.57, 1.63,
           1.89, 2.26),
}


def drees_age_weights(year: int = 2023) -> pd.DataFrame:
    """The DREES APL age weights of ``year`` as a table ``age_min, age_max, weight``."""
    if year not in DREES_AGE_WEIGHTS:
        raise ValueError(f"DREES age weights are known for {sorted(DREES_AGE_WEIGHTS)}, not {year}")
    weights = DREES_AGE_WEIGHTS[year]
    lower = np.arange(len(weights)) * 5.0
    upper = np.append(lower[1:], math.inf)
    return pd.DataFrame({"age_min": lower, "age_max": upper, "weight": weights})


def age_weights_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Check an age-weight table: columns ``age_min, age_max, weight``; bands contiguous from 0.

    ``age_max`` may be missing or ``inf`` for the last, open band.

    Raises
    ------
    InputDataError
        Missing columns, gaps or overlaps between bands, negative weights.
    """
    missing = {"age_min", "age_max", "weight"} - set(frame.columns)
    if missing:
        raise InputDataError(f"age weights: missing columns {sorted(missing)}")
    table = frame[["age_min", "age_max", "weight"]].astype("float64").sort_values("age_min", ignore_index=True)
    table["age_max"] = table["age_max"].fillna(math.inf)
    lo, hi, w = (table[c].to_numpy() for c in ("age_min", "age_max", "weight"))
    if lo[0] != 0 or (hi <= lo).any() or (lo[1:] != hi[:-1]).any() or (w < 0).any() or not np.isfinite(w).all():
        raise InputDataError("age weights: bands must start at 0, be contiguous, and weights be ≥ 0")
    return table


def band_weights(
    bands: Mapping[str, tuple[float, float | None]], weights: pd.DataFrame, *, open_until: float = 100.0
) -> pd.Series:
    """Weight of each population band: the average of the age weights over its ages.

    Parameters
    ----------
    bands
        ``{column: (age_min, age_max)}``, ``age_max`` exclusive; ``None`` or ``inf``
        for an open last band (``80+``).
    weights
        Age-weight table (:func:`age_weights_table`).
    open_until
        Ages of an open band are taken as spread up to this age.

    Examples
    --------
    >>> w = pd.DataFrame({"age_min": [0, 20], "age_max": [20, None], "weight": [0.5, 1.5]})
    >>> band_weights({"p0_9": (0, 10), "p15_24": (15, 25), "p80p": (80, None)}, w).tolist()
    [0.5, 1.0, 1.5]
    """
    table = age_weights_table(weights)
    lo, hi, w = (table[c].to_numpy() for c in ("age_min", "age_max", "weight"))
    out = {}
    for column, (a, b) in bands.items():
        b = open_until if b is None or b == math.inf else b
        if not (0 <= a < b):
            raise InputDataError(f"age band {column}: ({a}, {b}) is not a valid band")
        overlap = np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0.0, None)
        out[column] = float((overlap * w).sum() / (b - a))
    return pd.Series(out, name="weight")


def standardised_population(
    population: pd.DataFrame,
    bands: Mapping[str, tuple[float, float | None]],
    weights: pd.DataFrame,
    *,
    open_until: float = 100.0,
) -> pd.Series:
    """Age-standardised population: Σ over bands of population × band weight.

    Parameters
    ----------
    population
        One row per unit (commune, IRIS, grid cell), one column per age band.
    bands
        ``{column: (age_min, age_max)}`` of the age-band columns to use.
    weights
        Consumption weight by age (``age_min, age_max, weight``), e.g.
        :func:`drees_age_weights` or the DAMIR weights of the Alpes-Maritimes set.
    open_until
        Upper age of an open band.
    """
    missing = [c for c in bands if c not in population.columns]
    if missing:
        raise InputDataError(f"population: no age-band columns {missing}")
    per_band = band_weights(bands, weights, open_until=open_until)
    values = population[list(bands)].apply(pd.to_numeric, errors="coerce").astype("float64")
    if values.isna().to_numpy().any() or (values.to_numpy() < 0).any():
        raise InputDataError("population: age-band counts must be numbers ≥ 0")
    return pd.Series(values.to_numpy() @ per_band.to_numpy(), index=population.index, name="pop_std")


@dataclass(frozen=True)
class GridTemplate:
    """Shape, transform and CRS of a raster grid (to write results back on it)."""

    height: int
    width: int
    transform: Affine
    crs: CRS  # rasterio's


def raster_demand(source: str | Path, band: int = 1) -> tuple[gpd.GeoDataFrame, GridTemplate]:
    """Demand points from a population raster: one point per populated cell, at its centre.

    Parameters
    ----------
    source
        Raster file readable by rasterio (GeoTIFF…), in a metric CRS.
    band
        Band holding the population.

    Returns
    -------
    cells, template
        ``cells``: GeoDataFrame with ``id`` (``row × width + col``, also the index),
        ``row``, ``col``, ``population``; ``template``: the grid, for
        :func:`zonage.access.raster.accessibility_grid`.
    """
    import rasterio
    from rasterio.transform import xy

    with rasterio.open(source) as dataset:
        values = dataset.read(band, masked=True).astype("float64")
        template = GridTemplate(dataset.height, dataset.width, dataset.transform, dataset.crs)
    data = values.filled(0.0)
    data[~np.isfinite(data)] = 0.0
    if (data < 0).any():
        raise InputDataError(f"{source}: negative population in the raster")
    rows, cols = np.nonzero(data > 0)
    x, y = xy(template.transform, rows, cols, offset="center")
    ids = pd.Index(rows.astype(np.int64) * template.width + cols, name="id")
    cells = gpd.GeoDataFrame(
        {"id": ids, "row": rows, "col": cols, "population": data[rows, cols]},
        geometry=gpd.points_from_xy(np.asarray(x), np.asarray(y)),
        crs=template.crs,
        index=ids,
    )
    return cells, template


def supply_by_location(
    doctors: pd.DataFrame,
    location: str,
    *,
    value: str | None = None,
    age: str | None = None,
    max_age: float | None = None,
) -> pd.Series:
    """Supply per location from one row per doctor (or practice).

    Parameters
    ----------
    doctors
        One row per doctor.
    location
        Column of the location identifier (commune, IRIS, point id).
    value
        Column of activity (consultations, FTE); default: count the rows.
    age, max_age
        Keep only doctors with ``age <= max_age`` (e.g. 65 for the APL "≤ 65" variant);
        doctors of unknown age are kept.
    """
    table = doctors
    if max_age is not None:
        if age is None or age not in table.columns:
            raise InputDataError("an age cap needs the doctors' age column")
        ages = pd.to_numeric(table[age], errors="coerce")
        table = table[~(ages > max_age)]
    if value is None:
        amount = pd.Series(1.0, index=table.index)
    else:
        amount = pd.to_numeric(table[value], errors="coerce")
        if amount.isna().any() or (amount < 0).any():
            raise InputDataError(f"supply: {value} must be a number ≥ 0 on every row")
    return amount.groupby(table[location].to_numpy()).sum().rename("supply")


def drees_activity(consultations: pd.Series | np.ndarray) -> np.ndarray:
    """Activity counted by the DREES APL for each GP from their yearly consultations and visits.

    Below 250: 0; 250–3,600: 3,600; 3,600–6,000: as is; above 6,000: 6,000 (DREES
    "Paramètres" sheet; the exceptions — 5,400 imputed to new GPs, no bounds for
    health centres — are left to the caller).
    """
    acts = np.asarray(consultations, dtype="float64")
    out = np.clip(acts, 3600.0, 6000.0)
    out[acts < 250] = 0.0
    return out
