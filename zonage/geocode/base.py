"""What every geocoder backend shares: the query sent, the match returned, the protocol."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

#: Result types, most precise first (the BAN's vocabulary).
RESULT_TYPES: tuple[str, ...] = ("housenumber", "street", "locality", "municipality")


@dataclass(frozen=True)
class Query:
    """One cleaned address, as sent to a backend.

    Attributes
    ----------
    street
        Street line (house number, street type and name), cleaned of CEDEX, BP and
        building details; may be empty.
    postcode
        Five-digit postcode, or None (missing, invalid, or a CEDEX code that names a
        sorting office rather than a commune).
    city
        Town name without ``CEDEX``; may be empty.
    department
        Département hint (from the postcode, even a CEDEX one); not part of :attr:`text`.
    """

    street: str = ""
    postcode: str | None = None
    city: str = ""
    department: str | None = None

    @property
    def text(self) -> str:
        """The free-text query: ``street postcode city`` (what a person would type)."""
        return " ".join(part for part in (self.street, self.postcode or "", self.city) if part).strip()

    @property
    def key(self) -> str:
        """Stable text identifying the query (for the cache)."""
        return "\x1f".join((self.street.casefold(), self.postcode or "", self.city.casefold(), self.department or ""))


@dataclass(frozen=True)
class Match:
    """The best answer of a backend for one query.

    Attributes
    ----------
    lon, lat
        WGS84 degrees.
    score
        Backend's confidence in [0, 1] (addok / BAN score; 1.0 for an exact commune match).
    type
        ``housenumber``, ``street``, ``locality`` or ``municipality`` (only the commune).
    label
        The address found, as the backend writes it.
    postcode, citycode, city
        Postcode, INSEE code and name of the commune found (may be empty).
    """

    lon: float
    lat: float
    score: float
    type: str
    label: str
    postcode: str = ""
    citycode: str = ""
    city: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Match:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    @property
    def valid(self) -> bool:
        """Finite coordinates within lon/lat bounds."""
        return (math.isfinite(self.lon) and math.isfinite(self.lat) and abs(self.lon) <= 180
                and abs(self.lat) <= 90)


@runtime_checkable
class Geocoder(Protocol):
    """A geocoding backend.

    Attributes
    ----------
    name
        Backend id (``addok``, ``ban``, ``commune``), written in the output.
    cache_key
        Identity of the backend *and* of its data source (e.g. ``ban:<url>``): two
        geocoders with different keys never share cache entries.
    """

    name: str
    cache_key: str

    def geocode(self, queries: Sequence[Query]) -> list[Match | None]:
        """Best match (or None) for each query, in order."""
        ...  # pragma: no cover
