"""Parse the COG lists of the etalab ``decoupage-administratif`` npm package.

The tarball holds ``package/data/communes.json`` with four entry types:
``commune-actuelle`` (current communes, with ``codesPostaux``, ``population``,
``anciensCodes``), ``commune-deleguee`` and ``commune-associee`` (old communes
inside a merged one, ``chefLieu`` = current code) and ``arrondissement-municipal``
(Paris, Lyon, Marseille; ``commune`` = parent code).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pandas as pd

from zonage.errors import SourceFormatError

CURRENT = "commune-actuelle"
DELEGATED = "commune-deleguee"
ASSOCIATED = "commune-associee"
ARRONDISSEMENT = "arrondissement-municipal"


def read_json_member(tgz: str | Path, member: str) -> list[dict]:
    """Return one JSON file (``communes``, ``epci``, ``departements``, ``regions``…) of the tarball."""
    name = f"package/data/{member}.json"
    try:
        with tarfile.open(tgz, "r:gz") as archive:
            fh = archive.extractfile(name)
            if fh is None:
                raise KeyError(name)
            return json.load(fh)
    except (KeyError, tarfile.TarError, json.JSONDecodeError) as exc:
        raise SourceFormatError(f"{Path(tgz).name}: cannot read {name} ({exc})") from exc


def read_cog_entries(tgz: str | Path) -> pd.DataFrame:
    """Every entry of ``communes.json`` as a table (one row per entry, all types).

    Columns: ``code, nom, type, departement, region, arrondissement, zone,
    population, codes_postaux`` (tuple), ``anciens_codes`` (tuple), ``chef_lieu``
    (parent current commune for delegated/associated communes and arrondissements),
    ``siren``.
    """
    entries = read_json_member(tgz, "communes")
    frame = pd.DataFrame.from_records(entries)
    required = {"code", "nom", "type", "departement", "region"}
    if not required <= set(frame.columns):
        raise SourceFormatError(f"{Path(tgz).name}: communes.json lacks {required - set(frame.columns)}")
    for column in ("codesPostaux", "anciensCodes", "chefLieu", "commune", "population", "siren",
                   "arrondissement", "zone"):
        if column not in frame:
            frame[column] = None
    parent = frame["chefLieu"].where(frame["type"] != ARRONDISSEMENT, frame["commune"])
    parent = parent.where(frame["type"] != CURRENT, frame["code"])
    return pd.DataFrame({
        "code": frame["code"].astype(str),
        "nom": frame["nom"].astype(str),
        "type": frame["type"].astype(str),
        "departement": frame["departement"].astype(str),
        "region": frame["region"].astype(str),
        "arrondissement": frame["arrondissement"],
        "zone": frame["zone"],
        "population": pd.to_numeric(frame["population"], errors="coerce"),
        "codes_postaux": frame["codesPostaux"].map(lambda v: tuple(v) if isinstance(v, list) else ()),
        "anciens_codes": frame["anciensCodes"].map(lambda v: tuple(v) if isinstance(v, list) else ()),
        "chef_lieu": parent,
        "siren": frame["siren"],
    })


def read_current_communes(tgz: str | Path) -> pd.DataFrame:
    """Current communes (``commune-actuelle``) with their EPCI and names of département/région."""
    entries = read_cog_entries(tgz)
    current = entries[entries["type"] == CURRENT].drop(columns=["type", "chef_lieu"]).copy()
    epci_rows = [
        {"code": member["code"], "epci_siren": e["code"], "epci_nom": e["nom"], "epci_type": e.get("type")}
        for e in read_json_member(tgz, "epci")
        for member in e.get("membres", [])
    ]
    epci = pd.DataFrame(epci_rows, columns=["code", "epci_siren", "epci_nom", "epci_type"])
    deps = pd.DataFrame(read_json_member(tgz, "departements"))[["code", "nom"]]
    regs = pd.DataFrame(read_json_member(tgz, "regions"))[["code", "nom"]]
    current = current.merge(epci.drop_duplicates("code"), on="code", how="left")
    current = current.merge(deps.rename(columns={"code": "departement", "nom": "departement_nom"}),
                            on="departement", how="left")
    current = current.merge(regs.rename(columns={"code": "region", "nom": "region_nom"}),
                            on="region", how="left")
    if current["code"].duplicated().any():
        dup = current.loc[current["code"].duplicated(), "code"].iloc[0]
        raise SourceFormatError(f"communes.json: commune code {dup} appears twice")
    return current.reset_index(drop=True)
