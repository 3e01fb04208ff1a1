"""Read QPV (quartiers prioritaires de la politique de la ville) files into one schema.

The polygon files come with different property names:

* ANCT national file and its regional extracts: ``code_qp, lib_qp, insee_reg,
  insee_dep, insee_com…`` (:func:`read_qpv_anct`);
* the PACA zoning application: terse ``q`` (code), ``n`` (name), ``z`` (the
  QPV's own GP zoning class, ZIP/ZAC), ``d`` (département), ``com`` (list of
  commune codes) (:func:`read_qpv_paca`);
* the 2015 generation as published by CGET: ``code_qp, nom_qp, code_commune,
  code_departement`` (:func:`read_qpv_2015`).

Each reader returns :data:`QPV_COLUMNS` in EPSG:4326, geometry as read (see
:mod:`zonage.layers.qpv` for validity repairs). :func:`read_qpv_communes` reads
the ANCT code → commune table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from zonage.crs import TERRITORY_CRS, WGS84
from zonage.errors import SourceFormatError
from zonage.regions import DEPARTEMENT_REGION

#: Columns of every QPV reader's output.
QPV_COLUMNS: tuple[str, ...] = (
    "code_qp", "nom_qp", "generation", "insee_com", "communes", "departement", "region",
    "classe_qpv", "source", "territory", "geometry",
)

#: Columns of the QPV → commune table.
QPV_COMMUNES_COLUMNS: tuple[str, ...] = ("code_qp", "lib_qp", "insee_com", "lib_com", "dep")

#: Code prefix of each QPV generation (``QP`` 2015, ``QN`` 2024).
GENERATION_PREFIX: dict[str, int] = {"QP": 2015, "QN": 2024}

#: Accepted spellings of the ANCT schema's fields (lower case) → harmonised name.
_ANCT_ALIASES: dict[str, tuple[str, ...]] = {
    "code_qp": ("code_qp", "code_quartier", "cod_qp", "qp_code"),
    "lib_qp": ("lib_qp", "nom_qp", "libelle_qp", "nom_quartier"),
    "insee_com": ("insee_com", "code_insee", "insee_commune", "code_commune", "com_code"),
    "insee_dep": ("insee_dep", "code_dep", "dep", "code_departement", "departement"),
    "insee_reg": ("insee_reg", "code_reg", "reg", "code_region", "region"),
}


def generation_of_code(codes: pd.Series) -> pd.Series:
    """QPV generation from the code prefix: ``QP…`` → 2015, ``QN…`` → 2024 (NA otherwise)."""
    prefix = codes.astype("string").str.strip().str[:2].str.upper()
    return prefix.map(GENERATION_PREFIX).astype("Int64")


def departement_of_code(codes: pd.Series) -> pd.Series:
    """Département embedded in a QPV code (``QN00801M`` → ``08``, ``QP971001`` → ``971``)."""
    part = codes.astype("string").str.strip().str[2:5].str.upper()
    overseas = part.str.startswith("97", na=False)
    return part.where(overseas, part.str[1:]).astype("string")


def territory_of_qpv(dep: pd.Series) -> pd.Series:
    """Territory of each QPV from its département.

    Overseas départements map to themselves, Saint-Barthélemy and Saint-Martin
    (977, 978) to ``971`` (same CRS), other overseas collectivities to NA (no
    territory in :data:`zonage.crs.TERRITORY_CRS`), everything else to ``metro``.
    """
    code = dep.astype("string").str.strip()
    overseas = code.str.match(r"^9[78]\d$", na=False)
    mapped = code.replace({"977": "971", "978": "971"})
    known = mapped.where(mapped.isin([t for t in TERRITORY_CRS if t != "metro"]))
    return pd.Series("metro", index=dep.index, dtype="string").mask(overseas, known)


def normalise_departement(dep: pd.Series) -> pd.Series:
    """Département codes as text: ``8`` → ``08``, ``2a`` → ``2A``, ``971`` kept."""
    text = dep.astype("string").str.strip().str.upper()
    text = text.str.replace(r"\.0$", "", regex=True)
    return text.where(text.str.len() != 1, text.str.zfill(2))


def normalise_commune(codes: pd.Series) -> pd.Series:
    """INSEE commune codes as 5-character text (``1004`` → ``01004``)."""
    text = codes.astype("string").str.strip().str.upper().str.replace(r"\.0$", "", regex=True)
    return text.where(text.str.len() != 4, text.str.zfill(5))


def _as_code_list(value: object) -> list[str]:
    """A commune list as published: a JSON array, a numpy array, or ``;``/``,``-joined text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        items: Iterable[object] = value
    else:
        text = str(value).strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                items = re.findall(r"[0-9AB]{4,5}", text)
        else:
            items = re.split(r"[;,|\s]+", text)
    codes = [str(v).strip() for v in items if v is not None and str(v).strip()]
    return [c.zfill(5) if len(c) == 4 else c for c in codes]


def join_codes(lists: Iterable[Iterable[str]]) -> str | None:
    """Sorted, de-duplicated, ``;``-joined codes (None when empty)."""
    codes = sorted({c for lst in lists for c in lst if c})
    return ";".join(codes) if codes else None


def _read_polygons(path: str | Path) -> gpd.GeoDataFrame:
    """Read a polygon file with pyogrio (first layer), in EPSG:4326."""
    path = Path(path)
    try:
        layers = pyogrio.list_layers(path)
        layer = layers[0][0] if len(layers) else None
        frame = gpd.read_file(path, engine="pyogrio", layer=layer)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise SourceFormatError(f"{path.name}: cannot read as a vector file ({exc})") from exc
    if frame.crs is None:
        frame = frame.set_crs(WGS84)
    elif not frame.crs.equals(WGS84):
        frame = frame.to_crs(WGS84)
    frame.columns = [c if c == frame.geometry.name else str(c).lower() for c in frame.columns]
    return frame


def _harmonise(
    frame: gpd.GeoDataFrame,
    *,
    code: pd.Series,
    name: pd.Series,
    communes: list[list[str]],
    departement: pd.Series | None,
    region: pd.Series | None,
    classe: pd.Series | None,
    source: str,
    generation: int | None,
) -> gpd.GeoDataFrame:
    code = code.astype("string").str.strip().str.upper()
    gen = generation_of_code(code)
    if generation is not None:
        gen = gen.fillna(generation)
    dep = normalise_departement(departement) if departement is not None else None
    dep = departement_of_code(code) if dep is None else dep.fillna(departement_of_code(code))
    reg = region.astype("string").str.strip() if region is not None else None
    reg_from_dep = dep.map(dict(DEPARTEMENT_REGION)).astype("string")
    reg = reg_from_dep if reg is None else reg.str.zfill(2).fillna(reg_from_dep)
    out = gpd.GeoDataFrame({
        "code_qp": code,
        "nom_qp": name.astype("string").str.strip(),
        "generation": gen.astype("Int64"),
        "insee_com": pd.Series([c[0] if c else None for c in communes], index=frame.index,
                               dtype="string"),
        "communes": pd.Series([join_codes([c]) for c in communes], index=frame.index, dtype="string"),
        "departement": dep,
        "region": reg,
        "classe_qpv": classe.astype("string").str.strip().str.upper() if classe is not None
        else pd.Series(pd.NA, index=frame.index, dtype="string"),
        "source": source,
        "territory": territory_of_qpv(dep),
    }, geometry=frame.geometry.values, crs=WGS84)
    out.attrs["expected_generation"] = generation
    return out.reset_index(drop=True)


def _column(frame: pd.DataFrame, field: str) -> pd.Series | None:
    for alias in _ANCT_ALIASES[field]:
        if alias in frame.columns:
            return frame[alias]
    return None


def read_qpv_anct(path: str | Path, *, source: str, generation: int | None = 2024) -> gpd.GeoDataFrame:
    """Read a QPV file in the ANCT schema (national file or a regional extract).

    Parameters
    ----------
    path
        GeoJSON or GeoPackage with ``code_qp, lib_qp, insee_reg, insee_dep,
        insee_com`` (upper-case names and a few common aliases are accepted).
    source
        Source name recorded in the ``source`` column.
    generation
        Generation of the file, used where a code has no QP/QN prefix.

    Raises
    ------
    SourceFormatError
        No QPV code column.
    """
    frame = _read_polygons(path)
    code = _column(frame, "code_qp")
    if code is None:
        raise SourceFormatError(f"{Path(path).name}: no QPV code column (have {list(frame.columns)})")
    name = _column(frame, "lib_qp")
    commune = _column(frame, "insee_com")
    communes = ([] if commune is None else [_as_code_list(v) for v in commune])
    return _harmonise(
        frame,
        code=code,
        name=name if name is not None else pd.Series(pd.NA, index=frame.index),
        communes=communes or [[] for _ in range(len(frame))],
        departement=_column(frame, "insee_dep"),
        region=_column(frame, "insee_reg"),
        classe=None,
        source=source,
        generation=generation,
    )


def read_qpv_paca(path: str | Path, *, source: str, generation: int | None = 2024) -> gpd.GeoDataFrame:
    """Read the PACA zoning application's QPV file (terse ``q, n, z, d, com`` properties).

    ``z`` (ZIP/ZAC, the QPV's own GP zoning class) becomes ``classe_qpv``; the
    first code of ``com`` is the main commune.
    """
    frame = _read_polygons(path)
    missing = {"q", "n", "com"} - set(frame.columns)
    if missing:
        raise SourceFormatError(f"{Path(path).name}: PACA QPV file lacks {sorted(missing)}")
    return _harmonise(
        frame,
        code=frame["q"],
        name=frame["n"],
        communes=[_as_code_list(v) for v in frame["com"]],
        departement=frame.get("d"),
        region=None,
        classe=frame.get("z"),
        source=source,
        generation=generation,
    )


def read_qpv_2015(path: str | Path, *, source: str, generation: int | None = 2015) -> gpd.GeoDataFrame:
    """Read a 2015-generation QPV file (``code_qp, nom_qp, code_commune, code_departement``)."""
    frame = _read_polygons(path)
    missing = {"code_qp", "nom_qp"} - set(frame.columns)
    if missing:
        raise SourceFormatError(f"{Path(path).name}: QPV 2015 file lacks {sorted(missing)}")
    commune = frame.get("code_commune")
    return _harmonise(
        frame,
        code=frame["code_qp"],
        name=frame["nom_qp"],
        communes=[_as_code_list(v) for v in commune] if commune is not None
        else [[] for _ in range(len(frame))],
        departement=frame.get("code_departement"),
        region=frame.get("code_region"),
        classe=None,
        source=source,
        generation=generation,
    )


def read_qpv(path: str | Path, *, source: str, generation: int | None = None) -> gpd.GeoDataFrame:
    """Read any of the three QPV schemas, recognised from the property names."""
    columns = {c.lower() for c in pyogrio.read_info(path)["fields"]}
    if {"q", "n", "com"} <= columns:
        return read_qpv_paca(path, source=source, generation=generation or 2024)
    if "code_commune" in columns and "lib_qp" not in columns:
        return read_qpv_2015(path, source=source, generation=generation or 2015)
    return read_qpv_anct(path, source=source, generation=generation)


def read_qpv_communes(path: str | Path) -> pd.DataFrame:
    """Read the ANCT QPV 2024 → commune table (one row per QPV and commune).

    Returns
    -------
    pandas.DataFrame
        :data:`QPV_COMMUNES_COLUMNS`, codes as text with leading zeros.

    Raises
    ------
    SourceFormatError
        A required column is missing.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SourceFormatError(f"{path.name}: cannot read as CSV ({exc})") from exc
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = {"code_qp", "insee_com"} - set(frame.columns)
    if missing:
        raise SourceFormatError(f"{path.name}: missing columns {sorted(missing)}")
    out = pd.DataFrame({
        "code_qp": frame["code_qp"].str.strip().str.upper(),
        "lib_qp": frame.get("lib_qp", pd.Series("", index=frame.index)).str.strip(),
        "insee_com": normalise_commune(frame["insee_com"]),
        "lib_com": frame.get("lib_com", pd.Series("", index=frame.index)).str.strip(),
        "dep": normalise_departement(frame.get("dep", pd.Series("", index=frame.index))),
    }).astype("string")
    out = out.replace("", pd.NA)
    out["dep"] = out["dep"].fillna(departement_of_code(out["code_qp"]))
    return out.drop_duplicates(["code_qp", "insee_com"]).reset_index(drop=True)
