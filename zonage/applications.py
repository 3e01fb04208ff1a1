"""Check a whole post application read from YAML or JSON.

An application names a scheme, its structures (hospital part, ambulatory part…,
each by FINESS number and/or lon/lat) and the doctor's profile. Structures are
located here (FINESS lookup, commune, QPV, class) and the rules engine lists every
failed condition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonage.config import Paths
from zonage.errors import InputDataError
from zonage.rules import ApplicationVerdict, check_application, load_schemes

#: Keys under which an application may describe a structure.
STRUCTURE_KEYS = ("hospital", "ambulatory", "employer", "partner", "university", "peripheral", "chu")


def read_application(path: str | Path) -> dict[str, Any]:
    """Parse an application file (``.yaml``/``.yml`` or ``.json``) into a mapping."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"application file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise InputDataError(f"{path.name}: cannot parse ({exc})") from exc
    if not isinstance(data, dict) or "scheme" not in data:
        raise InputDataError(f"{path.name}: an application is a mapping with at least a 'scheme' key")
    return data


def locate_structures(application: Mapping[str, Any], locator: Any, finess: pd.DataFrame | None) -> dict[str, Any]:
    """Return a copy of ``application`` whose structures carry ``located`` rows and categories."""
    result = dict(application)
    for key in STRUCTURE_KEYS:
        entry = application.get(key)
        if not isinstance(entry, Mapping) or "located" in entry:
            continue
        entry = dict(entry)
        lon, lat = entry.get("lon"), entry.get("lat")
        number = str(entry["finess"]).strip().zfill(9) if entry.get("finess") else None
        if number and finess is not None:
            hit = finess[finess["nofinesset"] == number]
            if hit.empty:
                raise InputDataError(f"{key}: FINESS number {number} not found in the FINESS layer")
            entry.setdefault("category", str(hit["categetab"].iloc[0]))
            for key_name, column in (("ape", "codeape"), ("name", "rs")):
                if column in hit and pd.notna(hit[column].iloc[0]):
                    entry.setdefault(key_name, str(hit[column].iloc[0]))
            point = hit.geometry.iloc[0]
            if lon is None and point is not None and not point.is_empty:
                lon, lat = point.x, point.y
        if lon is None or lat is None:
            raise InputDataError(f"{key}: give a FINESS number with coordinates, or lon and lat")
        located = locator.locate(np.array([float(lon)]), np.array([float(lat)]),
                                 postcodes=[entry["code_postal"]] if entry.get("code_postal") else None)
        # pd.isna takes any object (pandas' own signature ends with an ``obj: object`` overload); pandas-stubs
        # lists fewer scalar types than np.isscalar's TypeGuard admits (numpy generics, memoryview).
        row = {k: (None if pd.isna(v) else v) if np.isscalar(v) or v is None else v  # type: ignore[arg-type]
               for k, v in located.iloc[0].astype(object).to_dict().items()}
        entry["located"] = row
        result[key] = entry
    return result


def check_application_file(path: str | Path, paths: Paths, rules: str | Path | None = None,
                           deficits: pd.DataFrame | None = None) -> ApplicationVerdict:
    """Read, locate and check one application file (``deficits``: deficit zones per speciality, for ASTP)."""
    from zonage.layers.store import read_layer
    from zonage.locate import Locator

    application = read_application(path)
    finess = read_layer(paths, "finess", columns=["nofinesset", "categetab"])
    located = locate_structures(application, Locator.from_paths(paths), finess)
    return check_application(located, load_schemes(None if rules is None else Path(rules)))
