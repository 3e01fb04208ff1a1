"""The 18 régions of France (INSEE codes of the 2016 map), their départements and territory.

One lookup for the whole package: the rules (a scheme open to one région), the QPV
reader (département → région), the maps and the studies (a région given by code or by
name) all read :data:`REGIONS`. Source: INSEE, Code officiel géographique (régions and
départements since 1 January 2016; Mayotte is région 06).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from zonage.errors import InputDataError

__all__ = ["DEPARTEMENT_REGION", "REGIONS", "Region", "region_code", "require_region"]


@dataclass(frozen=True)
class Region:
    """An INSEE région: code, name, départements and territory (``metro`` or the overseas département)."""

    code: str
    name: str
    departements: tuple[str, ...]
    overseas: bool = False

    @property
    def territory(self) -> str:
        """``metro`` for mainland France and Corsica, else the overseas département (971…976)."""
        return self.departements[0] if self.overseas else "metro"


_TABLE: tuple[Region, ...] = (
    Region("01", "Guadeloupe", ("971",), overseas=True),
    Region("02", "Martinique", ("972",), overseas=True),
    Region("03", "Guyane", ("973",), overseas=True),
    Region("04", "La Réunion", ("974",), overseas=True),
    Region("06", "Mayotte", ("976",), overseas=True),
    Region("11", "Île-de-France", ("75", "77", "78", "91", "92", "93", "94", "95")),
    Region("24", "Centre-Val de Loire", ("18", "28", "36", "37", "41", "45")),
    Region("27", "Bourgogne-Franche-Comté", ("21", "25", "39", "58", "70", "71", "89", "90")),
    Region("28", "Normandie", ("14", "27", "50", "61", "76")),
    Region("32", "Hauts-de-France", ("02", "59", "60", "62", "80")),
    Region("44", "Grand Est", ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88")),
    Region("52", "Pays de la Loire", ("44", "49", "53", "72", "85")),
    Region("53", "Bretagne", ("22", "29", "35", "56")),
    Region("75", "Nouvelle-Aquitaine", ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87")),
    Region("76", "Occitanie", ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82")),
    Region("84", "Auvergne-Rhône-Alpes", ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")),
    Region("93", "Provence-Alpes-Côte d'Azur", ("04", "05", "06", "13", "83", "84")),
    Region("94", "Corse", ("2A", "2B")),
)

#: Région code → :class:`Region`.
REGIONS: Mapping[str, Region] = MappingProxyType({r.code: r for r in _TABLE})

#: Département code → région code.
DEPARTEMENT_REGION: Mapping[str, str] = MappingProxyType({d: r.code for r in _TABLE for d in r.departements})


def _key(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "", plain)


_BY_NAME: Mapping[str, str] = MappingProxyType({_key(r.name): r.code for r in _TABLE})


def region_code(value: object) -> str | None:
    """INSEE code of a région given by code or name; None when unknown.

    Codes: ``28``, ``2`` or ``2.0`` → ``02``; names: accents, case and punctuation are
    ignored (``"grand-est"`` → ``44``).
    """
    if value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    text = str(value).strip()
    if text.isdigit() and len(text) < 2:
        text = text.zfill(2)
    if text in REGIONS:
        return text
    return _BY_NAME.get(_key(text))


def require_region(value: object, what: str = "région") -> Region:
    """The :class:`Region` of ``value`` (code or name); an ``InputDataError`` listing the known ones."""
    code = region_code(value)
    if code is None:
        known = ", ".join(f"{r.code} {r.name}" for r in _TABLE)
        raise InputDataError(f"{what} {value!r} inconnue ; régions connues : {known}")
    return REGIONS[code]
