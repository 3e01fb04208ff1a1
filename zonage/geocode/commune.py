"""Commune fallback: postcode + town → the commune (never a location inside it).

Uses the ``communes`` layer (``insee``, ``nom``, ``codes_postaux``, ``population``)
and, when built, the ``cog_crosswalk`` (names of former communes merged since, and
of the arrondissements of Paris, Lyon and Marseille). Names are compared with
:func:`zonage.names.normalise_name` and :func:`~zonage.names.loose_name_key`.

The answer has type ``municipality``: its point (a point inside the commune's
polygon, so that the commune can be looked up) says nothing about where the
structure is. The batch marks such rows "needs review: only the commune is known",
unless the whole commune is in one zoning class and the rule does not depend on
QPV, in which case the answer can be given and says so.

Scores: 1.0 postcode and name agree; 0.9 name unique in the postcode's
département, or postcode of a single commune; 0.8 name unique in France, or the
start of a single commune's name (``Argentat`` → ``Argentat-sur-Dordogne``);
0.7 name found in the département but the postcode belongs to other communes;
0.6 close spelling; 0.5 postcode of a single commune whose name differs.
Ambiguous answers (homonyms without a département, postcode shared by several
communes without a name) are "not found" rather than a guess.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zonage.crs import WGS84, transform_xy
from zonage.geocode import postal_department
from zonage.geocode.base import Match, Query
from zonage.names import loose_name_key, normalise_name

__all__ = ["CommuneGeocoder"]


class CommuneGeocoder:
    """Postcode + town → commune (type ``municipality``).

    Parameters
    ----------
    communes
        The ``communes`` layer (all territories in one frame, any CRS each), or a dict
        territory → that territory's communes.
    crosswalk
        The ``cog_crosswalk`` table (``code``, ``code_2025``, ``relation``, ``nom``):
        former and arrondissement names become aliases. Optional.
    version
        Identity of the data (e.g. the layer's build key), part of :attr:`cache_key`.
    """

    name = "commune"

    def __init__(self, communes: gpd.GeoDataFrame | dict[str, gpd.GeoDataFrame],
                 crosswalk: pd.DataFrame | None = None, *, version: str = "") -> None:
        parts = communes.values() if isinstance(communes, dict) else [communes]
        self._geoms: dict[str, tuple[Any, str]] = {}
        records = []
        for part in parts:
            crs = str(part.crs)
            for insee, nom, postcodes, population, geom in zip(
                part["insee"].astype(str), part["nom"].astype(str), part["codes_postaux"],
                part["population"] if "population" in part else np.zeros(len(part)), part.geometry, strict=True,
            ):
                codes = [str(c) for c in (postcodes if postcodes is not None else [])]
                records.append((insee, nom, codes, float(population) if pd.notna(population) else 0.0))
                self._geoms[insee] = (geom, crs)
        self._nom = {r[0]: r[1] for r in records}
        self._postcodes = {r[0]: r[2] for r in records}
        self._population = {r[0]: r[3] for r in records}
        self._by_postcode: dict[str, set[str]] = defaultdict(set)
        self._by_name: dict[str, set[str]] = defaultdict(set)
        self._by_department: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for insee, nom, codes, _ in records:
            for code in codes:
                self._by_postcode[code].add(insee)
            self._add_name(nom, insee)
        if crosswalk is not None:
            aliases = crosswalk[(crosswalk["relation"] != "current") & crosswalk["nom"].notna()]
            for name, code in zip(aliases["nom"].astype(str), aliases["code_2025"].astype(str), strict=True):
                if code in self._nom:
                    self._add_name(name, code)
        self._points: dict[str, tuple[float, float]] = {}
        self.cache_key = f"commune:{version}" if version else "commune"

    def _add_name(self, name: str, insee: str) -> None:
        key = normalise_name(name)
        if not key:
            return
        self._by_name[key].add(insee)
        self._by_name[loose_name_key(key)].add(insee)
        self._by_department[postal_department(insee)].append((key, insee))

    # -- matching ----------------------------------------------------------------------------
    def _names(self, city: str) -> set[str]:
        key = normalise_name(city)
        if not key:
            return set()
        return set(self._by_name.get(key, set())) | set(self._by_name.get(loose_name_key(key), set()))

    def _close(self, city: str, pool: Iterable[tuple[str, str]], cutoff: float) -> set[str]:
        key = normalise_name(city)
        pool = list(pool)
        if not key or not pool:
            return set()
        best = difflib.get_close_matches(key, [k for k, _ in pool], n=1, cutoff=cutoff)
        return {code for k, code in pool if best and k == best[0]}

    def _prefixed(self, city: str, codes: Iterable[str]) -> set[str]:
        """Communes whose name starts with the given one (``Argentat`` → ``Argentat-sur-Dordogne``)."""
        key = normalise_name(city)
        if not key:
            return set()
        return {c for c in codes if normalise_name(self._nom[c]).startswith(key + " ")}

    def _pick(self, codes: set[str]) -> str:
        """The most populous of several communes (then the lowest code)."""
        return sorted(codes, key=lambda c: (-self._population.get(c, 0.0), c))[0]

    def resolve(self, query: Query) -> tuple[str, float] | None:
        """Commune code and score for one query (None: not found or ambiguous)."""
        postcode, city, department = query.postcode, query.city, query.department
        by_pc = set(self._by_postcode.get(postcode, set())) if postcode else set()
        named = self._names(city)
        in_dep = {c for c in named if postal_department(c) == department} if department else set()
        if postcode and city:
            both = by_pc & named
            if both:
                return self._pick(both), 1.0 if len(both) == 1 else 0.9
            if len(in_dep) == 1:
                return next(iter(in_dep)), 0.7
            longer = self._prefixed(city, by_pc)
            if len(longer) == 1:
                return next(iter(longer)), 0.8
            close = self._close(city, [(normalise_name(self._nom[c]), c) for c in by_pc], 0.75)
            if len(close) == 1:
                return next(iter(close)), 0.6
            if len(by_pc) == 1:
                return next(iter(by_pc)), 0.5
            return None
        if city:
            if department:
                if len(in_dep) == 1:
                    return next(iter(in_dep)), 0.9
                if not in_dep:
                    pool = self._by_department.get(department, [])
                    longer = self._prefixed(city, {code for _, code in pool})
                    if len(longer) == 1:
                        return next(iter(longer)), 0.8
                    close = self._close(city, pool, 0.85)
                    if len(close) == 1:
                        return next(iter(close)), 0.6
                return None
            return (next(iter(named)), 0.8) if len(named) == 1 else None
        if postcode and len(by_pc) == 1:
            return next(iter(by_pc)), 0.9
        return None

    def point(self, insee: str) -> tuple[float, float]:
        """A point inside the commune (lon, lat), only used to look the commune up again."""
        if insee not in self._points:
            geom, crs = self._geoms[insee]
            inside = shapely.point_on_surface(geom)
            lon, lat = transform_xy(np.array([inside.x]), np.array([inside.y]), crs, WGS84)
            self._points[insee] = (float(lon[0]), float(lat[0]))
        return self._points[insee]

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        """The commune (type ``municipality``) or None for each query."""
        out: list[Match | None] = []
        for query in queries:
            found = self.resolve(query)
            if found is None:
                out.append(None)
                continue
            insee, score = found
            lon, lat = self.point(insee)
            codes = self._postcodes.get(insee, [])
            postcode = query.postcode if query.postcode in codes else (codes[0] if codes else "")
            nom = self._nom[insee]
            out.append(Match(lon=lon, lat=lat, score=score, type="municipality", label=f"{postcode} {nom}".strip(),
                             postcode=postcode, citycode=insee, city=nom))
        return out
