"""Clean postal addresses before geocoding: CEDEX, BP/CS/TSA, building details, abbreviations.

Planners' lists hold postal addresses, written for the mail rather than for a map:
``"Centre de santé, BP 12, 3 av. Foch"``, ``"19012 TULLE CEDEX"``. A CEDEX postcode
names a sorting office, not a commune, so it is not sent (its département is kept as
a hint); the post-office box, ``CS``, ``TSA`` or ``CIDEX`` number and the building,
staircase or flat are removed; common street-type abbreviations are spelled out.
Every cleaning that changed the meaning of the input is reported (``cedex``, ``bp``)
so that the output can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zonage.geocode.base import Query
from zonage.names import normalise_postcode

__all__ = ["ABBREVIATIONS", "Cleaned", "clean_address"]

#: Street-type and title abbreviations spelled out (lower case, without the trailing dot).
ABBREVIATIONS: dict[str, str] = {
    "av": "avenue", "ave": "avenue", "aven": "avenue",
    "bd": "boulevard", "bld": "boulevard", "bvd": "boulevard", "boul": "boulevard",
    "pl": "place", "r": "rue", "rte": "route", "che": "chemin", "chem": "chemin", "imp": "impasse",
    "fg": "faubourg", "fbg": "faubourg", "sq": "square", "crs": "cours", "res": "résidence",
    "all": "allée", "st": "saint", "ste": "sainte", "gal": "général",
    "gen": "général", "mal": "maréchal", "pdt": "président", "dr": "docteur", "prom": "promenade",
}
_SPACES = re.compile(r"\s+")
_CEDEX = re.compile(r"\bc[eé]dex\b(?:\s*\d{1,2}\b)?", re.IGNORECASE)
_BOX = re.compile(
    r"\b(?:b\.?\s?p\.?|bo[iî]te\s+postale|case\s+postale|cs|tsa|cidex|c\.?s\.?)\s*(?:n\s?[°o]\.?\s*)?\d+\b",
    re.IGNORECASE,
)
_BUILDING = re.compile(
    r"\b(?:b[aâ]t(?:iment)?\.?|appt?\.?|appartement|esc(?:alier)?\.?)\s*(?:n\s?[°o]\.?\s*)?[0-9a-z]{1,3}\b"
    r"|\b\d{1,2}\s*(?:e|er|eme|ème|è)\s+[ée]tage\b|\brez[- ]de[- ]chauss[ée]e\b",
    re.IGNORECASE,
)
_LIEU_DIT = re.compile(r"^\s*(?:lieu[- ]?dit|ld)\b\.?\s*", re.IGNORECASE)
_TRAILING_PLACE = re.compile(r"^(?P<street>.*?)[\s,]+(?P<postcode>\d{5})\s+(?P<city>[^\d,]+?)\s*$")
_CODE_IN_TOWN = re.compile(r"^(?P<postcode>\d{5})\s+(?P<city>\D+?)$")
_WORD = re.compile(r"\b([A-Za-z]{1,5})\.?(?=\s+[^\W\d_])")


@dataclass(frozen=True)
class Cleaned:
    """A cleaned address and what the cleaning did.

    Attributes
    ----------
    query
        What is sent to the geocoder.
    cedex
        A ``CEDEX`` mention was removed (the postcode given is then not sent).
    bp
        A post-office box (``BP``, ``CS``, ``TSA``, ``CIDEX``) was removed.
    given_postcode, given_city
        The postcode (five digits, CEDEX or not) and town read from the input, used
        to check what the geocoder found.
    """

    query: Query
    cedex: bool
    bp: bool
    given_postcode: str | None
    given_city: str


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    return "" if text.strip().lower() in ("nan", "<na>", "none") else text


def _expand(street: str) -> str:
    def replace(match: re.Match[str]) -> str:
        word = match.group(1)
        full = ABBREVIATIONS.get(word.lower())
        if full is None:
            return match.group(0)
        return full.upper() if word.isupper() and len(word) > 1 else full

    return _WORD.sub(replace, street)


def clean_address(address: object = None, postcode: object = None, city: object = None) -> Cleaned:
    """Clean one postal address.

    Parameters
    ----------
    address
        Street line(s); may also end with ``postcode town`` when there is no separate
        column (``"3 rue Foch 19000 Tulle"``).
    postcode, city
        Postcode and town columns, when the input has them.

    Returns
    -------
    Cleaned
        The query and flags.

    Examples
    --------
    >>> c = clean_address("BP 45 - 12 av. Victor Hugo", "19012", "Tulle CEDEX")
    >>> c.query.text, c.cedex, c.bp
    ('12 avenue Victor Hugo Tulle', True, True)
    """
    street = _SPACES.sub(" ", _text(address).replace("\n", " ")).strip()
    town = _SPACES.sub(" ", _text(city)).strip()
    code_text = _text(postcode).strip()
    cedex = bool(_CEDEX.search(town) or _CEDEX.search(street) or _CEDEX.search(code_text))
    town = _SPACES.sub(" ", _CEDEX.sub(" ", town)).strip(" ,;-")
    street = _SPACES.sub(" ", _CEDEX.sub(" ", street)).strip(" ,;-")
    if not code_text:  # "19240 Allassac" in the town column
        found = _CODE_IN_TOWN.match(town)
        if found:
            code_text, town = found.group("postcode"), found.group("city")
    if not code_text or not town:  # "3 rue Foch 19000 Tulle" in the street column
        found = _TRAILING_PLACE.match(street)
        if found:
            street = found.group("street")
            code_text = code_text or found.group("postcode")
            town = town or found.group("city")
    bp = bool(_BOX.search(street))
    street = _BOX.sub(" ", street)
    street = _BUILDING.sub(" ", street)
    street = _LIEU_DIT.sub("", street)
    street = _expand(street)
    street = _SPACES.sub(" ", re.sub(r"(?:\s*[,;/-]\s*){2,}|^\s*[,;/-]+|[,;/-]+\s*$", " ", street)).strip(" ,;-")
    town = _SPACES.sub(" ", re.sub(r"^\s*\d{5}\s+|\s+\d{5}\s*$", " ", town)).strip(" ,;-")
    given = normalise_postcode(code_text.replace(" ", "")) if code_text else None
    department = None
    if given:
        department = given[:3] if given.startswith("97") else given[:2]
    query = Query(street=street, postcode=None if cedex else given, city=town, department=department)
    return Cleaned(query=query, cedex=cedex, bp=bp, given_postcode=given, given_city=town)
