"""Coordinate reference systems: Lambert-93 for the mainland, local UTM overseas.

Every geographic layer is partitioned by *territory*: ``metro`` (mainland and
Corsica) or an overseas département code. Computations use each territory's
metric CRS; exports use EPSG:4326.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

WGS84 = "EPSG:4326"
LAMBERT93 = "EPSG:2154"

#: Metric CRS of each territory (IGN's official projections).
TERRITORY_CRS: dict[str, str] = {
    "metro": LAMBERT93,
    "971": "EPSG:5490",  # RGAF09 / UTM 20N (Guadeloupe)
    "972": "EPSG:5490",  # RGAF09 / UTM 20N (Martinique)
    "973": "EPSG:2972",  # RGFG95 / UTM 22N (Guyane)
    "974": "EPSG:2975",  # RGR92 / UTM 40S (La Réunion)
    "976": "EPSG:4471",  # RGM04 / UTM 38S (Mayotte)
    # Overseas collectivities: outside the doctors' zoning, but rows of national files
    # (FINESS) located there are kept.
    "975": "EPSG:4467",  # RGSPM06 / UTM 21N (Saint-Pierre-et-Miquelon)
    "977": "EPSG:5490",  # Saint-Barthélemy
    "978": "EPSG:5490",  # Saint-Martin
    "986": "EPSG:8903",  # RGWF96 / UTM 1S (Wallis-et-Futuna)
    "987": "EPSG:3297",  # RGPF / UTM 6S (Polynésie française)
    "988": "EPSG:3163",  # RGNC91-93 / Lambert Nouvelle-Calédonie
    #: Rows whose territory cannot be told (kept, never used in computations).
    "unknown": WGS84,
}


def territory_of_departement(dep: pd.Series) -> pd.Series:
    """Map département codes (``'01'``, ``'2A'``, ``'974'``…) to territory keys."""
    dep = dep.astype("string").str.strip()
    overseas = dep.isin(list(TERRITORY_CRS)) & (dep != "metro")
    return dep.where(overseas, "metro").astype(object)


def territory_of_commune(insee: pd.Series) -> pd.Series:
    """Map INSEE commune codes to territory keys (``97xxx`` → its DOM, else ``metro``)."""
    code = insee.astype("string")
    dep = code.str[:3].where(code.str.startswith("97"), code.str[:2])
    return territory_of_departement(dep)


@lru_cache(maxsize=64)
def transformer(src: str, dst: str) -> Transformer:
    """Return a cached, always-xy pyproj Transformer from ``src`` to ``dst``."""
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def transform_xy(x: np.ndarray, y: np.ndarray, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised reprojection of coordinate arrays (NaN stays NaN)."""
    if CRS.from_user_input(src) == CRS.from_user_input(dst):
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    xx, yy = transformer(src, dst).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(xx), np.asarray(yy)
