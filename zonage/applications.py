"""Check a whole post application read from YAML or JSON.

An application names a scheme, its structures (hospital part, ambulatory part…, each by
FINESS number and/or lon/lat) and the doctor's profile; it is validated first
(:mod:`zonage.application_schema`: no computed key, bounded numbers, no YAML aliases).
Structures are located here (FINESS lookup, commune, QPV, class) and the rules engine
lists every condition met, failed or to check (the study reading the layers for one file is
:func:`zonage.studies.eligibility.check_application_file`). Two kinds of disagreement are flagged,
never resolved silently: a structure given both a FINESS number and coordinates more than
:data:`FINESS_DISTANCE_M` apart (or in other communes), and a declared région that is not
where the structures are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonage.application_schema import STRUCTURE_KEYS, read_application_file
from zonage.errors import InputDataError
from zonage.inputs import in_france

__all__ = ["FINESS_DISTANCE_M", "STRUCTURE_KEYS", "locate_structures", "read_application"]

#: Coordinates given beside a FINESS number farther than this from the FINESS point are flagged.
FINESS_DISTANCE_M = 1000.0


def read_application(path: str | Path) -> dict[str, Any]:
    """Parse and validate an application file (``.yaml``/``.yml`` or ``.json``) into a mapping."""
    return read_application_file(path)


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _missing(value: Any) -> bool:
    """True for None, NaN, NA and NaT (scalars only)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _row(located: pd.DataFrame) -> dict[str, Any]:
    """The first located row as plain Python values (None where missing)."""
    return {str(k): None if _missing(v) else v for k, v in located.iloc[0].astype(object).to_dict().items()}


def locate_structures(application: Mapping[str, Any], locator: Any, finess: pd.DataFrame | None) -> dict[str, Any]:
    """Return a copy of ``application`` whose structures carry ``located`` rows (computed, never read)."""
    result = dict(application)
    for key in STRUCTURE_KEYS:
        entry = application.get(key)
        if not isinstance(entry, Mapping):
            continue
        if "located" in entry:
            raise InputDataError(f"clé {key}.located : calculée par l'outil, pas lue dans la candidature : retirer "
                                 "cette clé")
        entry = dict(entry)
        lon, lat = entry.get("lon"), entry.get("lat")
        number = str(entry["finess"]).strip().zfill(9) if entry.get("finess") else None
        finess_point = None
        if number and finess is not None:
            hit = finess[finess["nofinesset"] == number]
            if hit.empty:
                raise InputDataError(f"clé {key}.finess : numéro FINESS {number} absent de la couche FINESS : vérifier "
                                     "le numéro, ou donner lon et lat")
            entry.setdefault("category", str(hit["categetab"].iloc[0]))
            for key_name, column in (("ape", "codeape"), ("name", "rs")):
                if column in hit and pd.notna(hit[column].iloc[0]):
                    entry.setdefault(key_name, str(hit[column].iloc[0]))
            point = hit.geometry.iloc[0]
            if point is not None and not point.is_empty:
                finess_point = (float(point.x), float(point.y))
                if lon is None:
                    lon, lat = finess_point
        if lon is None or lat is None:  # not located: a part with a zone condition says so ("à vérifier")
            entry["located"] = {"insee": None, "commune_method": "none"}
            result[key] = entry
            continue
        if not in_france(np.array([float(lon)]), np.array([float(lat)]))[0]:
            if in_france(np.array([float(lat)]), np.array([float(lon)]))[0]:
                raise InputDataError(f"clé {key} : lon {lon} / lat {lat} : latitude et longitude semblent inversées : "
                                     "échanger les deux valeurs")
            raise InputDataError(f"clé {key} : lon {lon} / lat {lat} : point hors de France (métropole, Corse et "
                                 "DROM) : vérifier les coordonnées")
        postcodes = [entry["code_postal"]] if entry.get("code_postal") else None
        located = locator.locate(np.array([float(lon)]), np.array([float(lat)]), postcodes=postcodes)
        row = _row(located)
        if finess_point is not None and (lon, lat) != finess_point:
            at_finess = _row(locator.locate(np.array([finess_point[0]]), np.array([finess_point[1]])))
            distance = _metres(float(lon), float(lat), *finess_point)
            if distance > FINESS_DISTANCE_M or at_finess.get("insee") != row.get("insee"):
                row["finess_insee"] = at_finess.get("insee")
                row["finess_distance_m"] = round(distance)
        entry["located"] = row
        result[key] = entry
    return result

