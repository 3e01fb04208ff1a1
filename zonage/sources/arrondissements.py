"""Parse the municipal arrondissements of Paris, Lyon and Marseille (IGN ADMIN EXPRESS).

The 45 *arrondissements municipaux* (Paris 75101–75120, Marseille 13201–13216, Lyon
69381–69389) are published by IGN in ADMIN EXPRESS (COG), layer
``ARRONDISSEMENT_MUNICIPAL``, and re-published by etalab (*contours administratifs*,
generalised GeoJSON). The doctors' zoning gives a class per arrondissement, so a map can
draw the three cities by arrondissement when these polygons are present.

Three schemas are read, whatever the container (GeoPackage, shapefile, GeoJSON, gzip):

- ADMIN EXPRESS 3.x: ``INSEE_ARM``, ``INSEE_COM``, ``NOM`` (layer ``ARRONDISSEMENT_MUNICIPAL``);
- ADMIN EXPRESS 4.x (lower-case long names): ``code_insee``,
  ``code_insee_de_la_commune_de_rattachement``, ``nom_officiel``;
- etalab contours administratifs: ``code``, ``commune``, ``nom``.

Nothing here downloads: the catalogue entry ``arrondissements_municipaux`` says where
the file comes from, and :func:`zonage.sources.fetch` brings it (``--download``).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import geopandas as gpd
import pyogrio

from zonage.errors import SourceFormatError

#: Layer name in ADMIN EXPRESS.
LAYER = "ARRONDISSEMENT_MUNICIPAL"

#: The three communes split into municipal arrondissements, with their arrondissement codes.
PLM_COMMUNES: dict[str, tuple[str, ...]] = {
    "75056": tuple(f"751{i:02d}" for i in range(1, 21)),
    "13055": tuple(f"132{i:02d}" for i in range(1, 17)),
    "69123": tuple(f"6938{i}" for i in range(1, 10)),
}

#: Accepted column names, per field, first match wins (ADMIN EXPRESS 3.x, 4.x, etalab).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "insee_arm": ("INSEE_ARM", "code_insee", "insee_arm", "code"),
    "insee_com": ("INSEE_COM", "code_insee_de_la_commune_de_rattachement", "insee_com", "commune"),
    "nom": ("NOM", "nom_officiel", "NOM_M", "nom"),
}

_ARM_CODE = re.compile(r"^(751(0[1-9]|1\d|20)|132(0[1-9]|1[0-6])|6938[1-9])$")


def _layer_of(path: Path) -> str | None:
    """The ``ARRONDISSEMENT_MUNICIPAL`` layer of a multi-layer file (case-insensitive), else None."""
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception:  # not a multi-layer container: read the default layer
        return None
    return next((n for n in names if n.upper() == LAYER), None)


def read_arrondissements(path: str | Path) -> gpd.GeoDataFrame:
    """Municipal arrondissement polygons as ``insee_arm``, ``insee_com``, ``nom``, geometry (EPSG:4326).

    Parameters
    ----------
    path
        ADMIN EXPRESS GeoPackage or shapefile (layer ``ARRONDISSEMENT_MUNICIPAL`` when the
        file holds several), or the etalab GeoJSON, optionally gzip-compressed.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per arrondissement of Paris, Lyon and Marseille, sorted by code; rows of
        other codes (none in the published files) are left out.

    Raises
    ------
    SourceFormatError
        Unreadable file, no CRS, a missing column (named with the accepted spellings), or
        an arrondissement code whose parent commune is not Paris, Lyon or Marseille.
    """
    path = Path(path)
    try:
        if path.read_bytes()[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                frame = pyogrio.read_dataframe(fh.read())
        else:
            layer = _layer_of(path)
            frame = pyogrio.read_dataframe(path, layer=layer) if layer else pyogrio.read_dataframe(path)
    except (OSError, EOFError) as exc:
        raise SourceFormatError(f"{path.name}: cannot read the arrondissement polygons ({exc})") from exc
    except Exception as exc:  # pyogrio raises several DataSourceError flavours
        raise SourceFormatError(f"{path.name}: cannot read the arrondissement polygons ({exc})") from exc
    chosen: dict[str, str] = {}
    for field, candidates in _COLUMNS.items():
        found = next((c for c in candidates if c in frame.columns), None)
        if found is None:
            raise SourceFormatError(f"{path.name}: no column {field} (one of {', '.join(candidates)})")
        chosen[field] = found
    if frame.crs is None:
        raise SourceFormatError(f"{path.name}: the arrondissement polygons have no CRS")
    out = gpd.GeoDataFrame(
        {field: frame[column].astype(str).str.strip() for field, column in chosen.items()},
        geometry=frame.geometry.values, crs=frame.crs,
    )
    out = out[out["insee_arm"].str.match(_ARM_CODE)]
    wrong = out[[arm not in PLM_COMMUNES.get(com, ()) for arm, com in zip(out["insee_arm"], out["insee_com"],
                                                                           strict=True)]]
    if len(wrong):
        first = wrong.iloc[0]
        raise SourceFormatError(f"{path.name}: arrondissement {first['insee_arm']} attached to commune "
                                f"{first['insee_com']} (expected Paris 75056, Marseille 13055 or Lyon 69123)")
    out = out[out.geometry.notna() & ~out.geometry.is_empty]
    return out.to_crs("EPSG:4326").sort_values("insee_arm", kind="stable").reset_index(drop=True)
