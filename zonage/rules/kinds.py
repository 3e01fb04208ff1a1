"""Kinds of structure (centre de santé médical, dentaire…, MSP, CH…) from FINESS or from the user.

FINESS files every centre de santé under one category (124), whether it employs GPs,
dentists or nurses; a scheme for GP posts must not accept a dental centre. The kind is
therefore a fact of its own, found by a documented precedence (see
``structure_kinds.toml`` beside this module): the user's word, the FINESS category,
then for category 124 the establishment's name and its APE code. Every kind carries its
basis (``type_source``) so that a verdict can say why a structure was taken for what.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from pydantic import field_validator

from zonage.errors import InputDataError
from zonage.rules.model import RulesError
from zonage.settings import KeyPathError, StrictModel, read_toml, validate

__all__ = [
    "KIND_SOURCES",
    "Kind",
    "classify",
    "kind_catalogue",
    "parse_kind",
    "parse_kinds",
]

#: Bases of a kind, most certain first (``type_source`` column).
KIND_SOURCES: tuple[str, ...] = ("saisi", "categorie", "nom+ape", "nom", "ape", "nom≠ape", "aucune")
_BASIS_FR = {
    "saisi": "type indiqué", "categorie": "catégorie FINESS {category}",
    "nom+ape": "d'après le nom et le code APE {ape}", "nom": "d'après le nom", "ape": "d'après le code APE {ape}",
    "nom≠ape": "d'après le nom, alors que le code APE {ape} indique un {ape_kind}",
    "aucune": "catégorie FINESS {category}",
}
_BASIS_EN = {
    "saisi": "kind given", "categorie": "FINESS category {category}", "nom+ape": "from the name and APE code {ape}",
    "nom": "from the name", "ape": "from APE code {ape}",
    "nom≠ape": "from the name, while APE code {ape} points to a {ape_kind}", "aucune": "FINESS category {category}",
}
#: Kinds the name may reveal for a centre de santé, besides the polyvalent one (two of them → polyvalent).
_CARE_KINDS = ("centre_sante_medical", "centre_sante_dentaire", "centre_sante_infirmier", "centre_sante_specialise")


@dataclass(frozen=True)
class Kind:
    """A kind of structure: id, labels, the FINESS categories and APE codes it comes from."""

    id: str
    label_fr: str
    label_en: str
    finess: tuple[str, ...] = ()
    ape: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    unknown: bool = False
    within: tuple[str, ...] = ()  # FINESS categories whose establishments this kind refines by name
    review_as: tuple[str, ...] = ()  # a role accepting one of these kinds takes this one "to check"

    def label(self, lang: str) -> str:
        """The kind's label in ``lang``."""
        return self.label_fr if lang == "fr" else self.label_en


def _key(text: Any) -> str:
    """Upper-case ASCII words separated by single spaces."""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().upper()
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", plain).split())


class _KindEntry(StrictModel):
    """One ``[kinds.<id>]`` table: the fields of :class:`Kind` but its id (the table's key)."""

    label_fr: str
    label_en: str
    finess: tuple[str, ...] = ()
    ape: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    unknown: bool = False
    within: tuple[str, ...] = ()
    review_as: tuple[str, ...] = ()


class _KindsFile(StrictModel):
    """``structure_kinds.toml``."""

    kinds: dict[str, _KindEntry]

    @field_validator("kinds")
    @classmethod
    def _required(cls, kinds: dict[str, _KindEntry]) -> dict[str, _KindEntry]:
        for required in ("centre_sante", "autre", "inconnu"):
            if required not in kinds:
                raise KeyPathError(required, "missing required kind")
        return kinds


@functools.lru_cache(maxsize=1)
def kind_catalogue() -> Mapping[str, Kind]:
    """Every kind of the packaged ``structure_kinds.toml``, by id (validated on load).

    Raises
    ------
    zonage.rules.model.RulesError
        The file is malformed (the message names the file, the key path and the problem).
    """
    path = resources.files("zonage.rules").joinpath("structure_kinds.toml")
    parsed = validate(_KindsFile, read_toml(path, str(path), error=RulesError), str(path), error=RulesError)
    return {kind_id: Kind(kind_id, **entry.model_dump()) for kind_id, entry in parsed.kinds.items()}


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str], dict[str, str], list[tuple[str, re.Pattern[str]]]]:
    """Lookup tables: FINESS category → kind (single-kind categories), APE → kind, word → kind, name patterns."""
    kinds = kind_catalogue()
    by_category: dict[str, list[str]] = {}
    for kind in kinds.values():
        for code in kind.finess:
            by_category.setdefault(code, []).append(kind.id)
    category = {code: ids[0] for code, ids in by_category.items() if len(ids) == 1}
    category["124"] = "centre_sante"
    ape = {code: kind.id for kind in kinds.values() for code in kind.ape}
    words = {_key(w): kind.id for kind in kinds.values() for w in (*kind.words, kind.id, kind.id.replace("_", " "))}
    patterns = [(kind.id, re.compile(r"\b(?:" + "|".join(re.escape(_key(n)) for n in kind.names) + r")\b"))
                for kind in kinds.values() if kind.names]
    return category, ape, words, patterns


def parse_kind(value: Any, where: str = "type") -> str:
    """The kind id of a user's word (kind id, everyday word, or FINESS category code).

    Raises
    ------
    zonage.errors.InputDataError
        The word names no kind; the message lists some accepted words.
    """
    category, _, words, _ = _tables()
    text = str(value).strip()
    if text.isdigit() and len(text) <= 3:
        code = text.zfill(3)
        return category.get(code, "autre")
    key = _key(text)
    if key in words:
        return words[key]
    examples = "MSP, centre de santé, centre de santé médical, centre de santé dentaire, CH, CHU, EHPAD, cabinet"
    raise InputDataError(f"{where} : type de structure inconnu « {value} » (par exemple {examples}, ou un code de "
                         "catégorie FINESS)")


def parse_kinds(values: pd.Series, field: str = "type") -> tuple[np.ndarray, np.ndarray]:
    """Kinds of a column of user words (None where empty) and the error of each row (None where fine)."""
    out = np.full(len(values), None, dtype=object)
    errors = np.full(len(values), None, dtype=object)
    text = values.astype("string").str.strip()
    for word in pd.unique(text.dropna()):
        if word == "":
            continue
        rows = np.flatnonzero((text == word).fillna(False).to_numpy(dtype=bool))
        try:
            out[rows] = parse_kind(word, field)
        except InputDataError as exc:
            errors[rows] = [f"ligne {i + 1}, champ {field!r} : {exc.args[0].split(' : ', 1)[-1]}" for i in rows]
    return out, errors


def _from_name(name: str) -> str | None:
    """Kind of a centre de santé read from its name (None when the name says nothing clear).

    Polyvalent: a polyvalent word, or medical care named with dental or nursing care.
    Specialised care named with "médical" stays specialised ("CDS médical ophtalmologique").
    Two kinds without medical care (dental and nursing…) say nothing clear.
    """
    _, _, _, patterns = _tables()
    key = _key(name)
    found = {kind_id for kind_id, pattern in patterns if pattern.search(key)}
    if "centre_sante_polyvalent" in found:
        return "centre_sante_polyvalent"
    care = found & set(_CARE_KINDS)
    if "centre_sante_medical" in care and care & {"centre_sante_dentaire", "centre_sante_infirmier"}:
        return "centre_sante_polyvalent"
    if care == {"centre_sante_medical", "centre_sante_specialise"}:
        return "centre_sante_specialise"
    return next(iter(care)) if len(care) == 1 else None


def classify(category: Any = None, ape: Any = None, name: Any = None, given: Any = None) -> pd.DataFrame:
    """Kind of each structure, its basis and a sentence fragment saying why (vectorised on distinct inputs).

    Parameters
    ----------
    category, ape, name, given
        Per structure: FINESS category code (``categetab``), APE code (``codeape``),
        establishment name (``rs``), and the kind already given by the user (a kind id
        from :func:`parse_kinds`, which wins). Sequences of one length, or None.

    Returns
    -------
    pandas.DataFrame
        ``type`` (kind id), ``type_source`` (one of :data:`KIND_SOURCES`), ``type_label_fr``,
        ``type_label_en`` (label and basis, e.g. "centre de santé dentaire (d'après le nom)").
    """
    columns = [c for c in (category, ape, name, given) if c is not None]
    n = len(columns[0]) if columns else 0
    frame = pd.DataFrame({
        "category": _column(category, n), "ape": _column(ape, n), "name": _column(name, n), "given": _column(given, n),
    })
    frame["category"] = frame["category"].map(lambda c: c.zfill(3) if isinstance(c, str) and c.isdigit() else c)
    frame["ape"] = frame["ape"].map(lambda c: c.upper().replace(".", "") if isinstance(c, str) else c)
    distinct = frame.drop_duplicates()
    rows = [_classify_one(*values) for values in distinct.itertuples(index=False, name=None)]
    answers = pd.DataFrame(rows, columns=["type", "type_source", "type_label_fr", "type_label_en"],
                           index=distinct.index)
    keys = pd.MultiIndex.from_frame(distinct.fillna("\0"))
    position = keys.get_indexer(pd.MultiIndex.from_frame(frame.fillna("\0")))
    out = answers.iloc[position].reset_index(drop=True)
    return out


def _column(values: Any, n: int) -> pd.Series:
    if values is None:
        return pd.Series([None] * n, dtype=object)
    series = pd.Series(np.asarray(values, dtype=object), dtype=object)
    cleaned = series.map(lambda v: None if v is None or (isinstance(v, float) and v != v) or v is pd.NA
                         else (str(v).strip() or None))
    return cleaned.astype(object)


def _unit_of(category: str, name: str | None) -> str | None:
    """A kind that refines ``category`` by the establishment's name (a hospital's CMP, SMUR, HAD…), or None."""
    if not name:
        return None
    _, _, _, patterns = _tables()
    key = _key(name)
    for kind_id, pattern in patterns:
        kind = kind_catalogue()[kind_id]
        if category in kind.within and pattern.search(key):
            return kind_id
    return None


def _classify_one(category: Any, ape: Any, name: Any, given: Any) -> tuple[str, str, str, str]:
    category, ape, name, given = (None if v is None or (isinstance(v, float) and v != v) else str(v)
                                  for v in (category, ape, name, given))
    kinds = kind_catalogue()
    by_category, by_ape, _, _ = _tables()
    if given is not None:
        kind, source = given, "saisi"
    elif category is None:
        kind, source = "inconnu", "aucune"
    elif category != "124" and (unit := _unit_of(category, name)) is not None:
        kind, source = unit, "nom"
    elif category != "124":
        kind, source = by_category.get(category, "autre"), "categorie"
    else:
        from_name = _from_name(name) if name else None
        from_ape = by_ape.get(ape) if ape else None
        consistent = from_name == from_ape or (from_name, from_ape) == ("centre_sante_polyvalent",
                                                                         "centre_sante_medical")
        if from_name and from_ape and not consistent:
            kind, source = from_name, "nom≠ape"
        elif from_name and from_ape:
            kind, source = from_name, "nom+ape"
        elif from_name:
            kind, source = from_name, "nom"
        elif from_ape:
            kind, source = from_ape, "ape"
        else:
            kind, source = "centre_sante", "aucune"
    values = {"category": category or "?", "ape": ape or "?",
              "ape_kind": kinds[by_ape[ape]].label_fr if ape in by_ape else "?"}
    values_en = {**values, "ape_kind": kinds[by_ape[ape]].label_en if ape in by_ape else "?"}
    label = kinds[kind]
    fr = f"{label.label_fr} ({_BASIS_FR[source].format(**values)})"
    en = f"{label.label_en} ({_BASIS_EN[source].format(**values_en)})"
    return kind, source, fr, en
