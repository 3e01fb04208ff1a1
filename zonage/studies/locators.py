"""Locators and the commune geocoder, built from the layers of a data folder.

The engines (:class:`~zonage.locate.Locator`, :class:`~zonage.geocode.commune.CommuneGeocoder`)
take frames; these functions read the frames they need:

* :func:`locator`: every commune of France, the QPV, the zoning tables and the stored
  lookup grids (about a second and close to 1 GB): batches, applications, maps;
* :func:`locator_near`: only the communes around a few points (``zonage check``), same
  answers for these points;
* :func:`commune_geocoder`: the offline fallback geocoder (commune centres);
  :func:`commune_geocoder_near` the same for one query (its département only).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from zonage.config import Paths
from zonage.crs import TERRITORY_CRS, WGS84, transform_xy, transformer
from zonage.errors import LayerMissingError
from zonage.geocode.commune import CommuneGeocoder
from zonage.grid import LookupGrid, grids_from_arrays
from zonage.layers.store import layer_bounds, layer_key, read_arrays, read_geo_layer, read_layer, territories
from zonage.locate import Locator, territory_index, zoning_vintage

#: Columns of the communes layer a locator reads.
_LOCATOR_COLUMNS = ["insee", "nom", "departement", "region", "territory"]


def _optional(paths: Paths, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
    """Layer ``name`` (only ``columns`` when given), or None when it is not built."""
    try:
        return read_layer(paths, name, columns=columns)
    except LayerMissingError:
        return None
    except (KeyError, ValueError):  # an older table without some column: read it whole
        return read_layer(paths, name)


def _qpv(paths: Paths) -> gpd.GeoDataFrame | None:
    try:
        return read_geo_layer(paths, "qpv")
    except LayerMissingError:
        return None


def locator(paths: Paths, *, cell_m: float = 100.0, tolerance_m: float = 250.0) -> Locator:
    """A locator on every commune of the ``communes`` layer of ``paths``, with the stored lookup grids."""
    built = territories(paths, "communes")
    if not built:
        read_layer(paths, "communes")  # raises LayerMissingError: "… pas encore construite : lancer `zonage build`"
    communes = {t: read_geo_layer(paths, "communes", territory=t, columns=_LOCATOR_COLUMNS) for t in built}
    try:
        grids: dict[str, tuple[LookupGrid, str]] | None = grids_from_arrays(read_arrays(paths, "locate_index"))
    except LayerMissingError:
        grids = None
    return Locator(communes, _qpv(paths), _optional(paths, "zoning_communes"), _optional(paths, "zoning_qpv"),
                   grids=grids, cell_m=cell_m, tolerance_m=tolerance_m)


def locator_near(
    paths: Paths,
    lon: float | np.ndarray,
    lat: float | np.ndarray,
    *,
    margin_m: float = 1000.0,
    cell_m: float = 100.0,
    tolerance_m: float = 250.0,
) -> Locator:
    """A locator reading only the polygons around a few points (one address: ``zonage check``).

    :func:`locator` reads every commune of France and the lookup grids of every
    territory; this reads the territory bounds from the files' metadata, then only the
    communes whose bounding box lies within ``margin_m`` of the points (GeoParquet bbox
    filter: with row groups, the rest of the file is not even decompressed), and
    rasterises the lookup grid on the few cells around the points, aligned as
    :meth:`LookupGrid.build` aligns the whole territory's grid
    (:meth:`Locator.add_window_grids`). The QPV layer and the zoning tables are read
    whole (they are small), so that QPV coverage, classes and the zoning vintage are
    those of :func:`locator`.

    :meth:`Locator.locate` then gives, for these points, the rows :func:`locator` gives
    (``tests/test_check.py`` compares them on real points, and the grid cells with the
    stored grid). Territories without any of the points are not loaded: locating a
    point there raises ``ValueError``.

    Parameters
    ----------
    paths
        Data folders.
    lon, lat
        The points (WGS84 degrees).
    margin_m
        Distance around the points within which communes are read (at least the
        nearest-commune ``tolerance_m`` plus three grid cells).
    cell_m, tolerance_m
        As for :class:`Locator` (``cell_m`` must be that of the stored grids, 100 m).
    """
    if margin_m < tolerance_m + 3 * cell_m:
        raise ValueError(f"margin_m must be at least tolerance_m + 3 cells ({tolerance_m + 3 * cell_m:g} m)")
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    bounds = layer_bounds(paths, "communes")
    if not bounds:
        raise LayerMissingError("la couche communes n'est pas encore construite : lancer `zonage build`")
    extents = {name: transformer(crs, WGS84).transform_bounds(*box) for name, (box, crs) in sorted(bounds.items())}
    which = territory_index(extents, lon, lat)
    names = list(extents)
    communes: dict[str, gpd.GeoDataFrame] = {}
    for index in np.unique(which[which >= 0]):
        name = names[int(index)]
        crs = bounds[name][1]
        x, y = transform_xy(lon[which == index], lat[which == index], WGS84, crs)
        box = (float(x.min()) - margin_m, float(y.min()) - margin_m, float(x.max()) + margin_m,
               float(y.max()) + margin_m)
        communes[name] = read_geo_layer(paths, "communes", territory=name, columns=_LOCATOR_COLUMNS, bbox=box)
    if not sum(len(part) for part in communes.values()):  # points far from any commune (abroad, at sea):
        # one small territory read whole keeps the locator well formed; its answers are those of locator()
        communes[names[0]] = read_geo_layer(paths, "communes", territory=names[0], columns=_LOCATOR_COLUMNS)
    codes = sorted({str(c) for part in communes.values() for c in part["insee"]})
    zoning = _optional(paths, "zoning_communes", ["insee", "classe", "insee_arm", "postcodes", "vintage"])
    if zoning is not None:
        zoning_vintage(zoning.drop_duplicates("vintage") if "vintage" in zoning else zoning)  # one vintage only
        zoning = zoning[zoning["insee"].isin(codes)]  # the classes of the communes read, nothing else
    near = Locator(communes, _qpv(paths), zoning, _optional(paths, "zoning_qpv", ["code_qp", "classe"]),
                   cell_m=cell_m, tolerance_m=tolerance_m, extents=extents)
    near.add_window_grids({name: box for name, (box, _) in bounds.items()}, lon, lat)
    return near


def commune_geocoder(paths: Paths) -> CommuneGeocoder:
    """The commune-centre geocoder on the ``communes`` layer (and ``cog_crosswalk`` when built) of ``paths``."""
    columns = ["insee", "nom", "codes_postaux", "population", "territory"]
    built = territories(paths, "communes")
    if not built:
        read_layer(paths, "communes")  # raises LayerMissingError naming `zonage build`
    communes = {t: read_geo_layer(paths, "communes", territory=t, columns=columns) for t in built}
    return CommuneGeocoder(communes, _optional(paths, "cog_crosswalk"), version=layer_key(paths, "communes"))


def commune_geocoder_near(paths: Paths, department: str | None, postcode: str | None) -> CommuneGeocoder:
    """The ``commune`` backend reading only what one query needs; same answers as :func:`commune_geocoder`.

    With a postcode (or a CEDEX département), the communes of its département and those
    sharing the postcode decide the answer (see :meth:`CommuneGeocoder.resolve`): only
    their names are indexed, and only the polygon of the commune found is read.
    """
    from zonage.geocode import postal_department

    attributes = read_layer(paths, "communes", columns=["insee", "nom", "codes_postaux", "population", "territory"],
                            geometry=False)
    if department:
        departments = attributes["insee"].astype(str).map(postal_department)
        keep = np.array(departments == department, dtype=bool)
        if postcode:
            keep |= attributes["codes_postaux"].map(
                lambda codes: codes is not None and postcode in list(codes)).to_numpy(dtype=bool)
        attributes = attributes[keep]
    try:
        crosswalk = read_layer(paths, "cog_crosswalk", columns=["code", "code_2025", "relation", "nom"])
        crosswalk = crosswalk[crosswalk["code_2025"].isin(set(attributes["insee"].astype(str)))]
    except LayerMissingError:
        crosswalk = None
    version = layer_key(paths, "communes")
    parts = {}
    territory_of: dict[str, str] = {}
    for territory, part in attributes.groupby("territory", sort=True):
        name = str(territory)
        parts[name] = gpd.GeoDataFrame(part.reset_index(drop=True),
                                       geometry=gpd.GeoSeries(np.full(len(part), None, dtype=object),
                                                              crs=TERRITORY_CRS[name]))
        territory_of.update(dict.fromkeys(part["insee"].astype(str), name))

    class _Near(CommuneGeocoder):
        def point(self, insee: str) -> tuple[float, float]:
            if insee not in self._points and self._geoms.get(insee, (None, ""))[0] is None:
                frame = read_geo_layer(paths, "communes", territory=territory_of[insee], columns=["insee"],
                                       filters=[("insee", "==", insee)])
                self._geoms[insee] = (frame.geometry.iloc[0], str(frame.crs))
            return super().point(insee)

    return _Near(parts, crosswalk, version=version)
