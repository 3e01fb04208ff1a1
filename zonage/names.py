"""Normalise French place names and postcodes so that lists keyed by name can be matched.

Official lists spell the same commune in many ways: ``"L'Abergement-Clémenciat"``,
``"ABERGEMENT CLEMENCIAT (L')"``, ``"Abergement-Clémenciat, L'"``; ``"St-Étienne"``
and ``"Saint-Etienne"``; ``"Paris 1er Arrondissement"`` and ``"PARIS 01"``. The
functions here reduce each spelling to one comparable key:

* accents are stripped (Unicode decomposition), ``œ``/``æ`` become ``oe``/``ae``;
* case is folded;
* hyphens, apostrophes and other punctuation become spaces, runs of spaces collapse;
* the abbreviations ``St``/``Ste``/``Sts``/``Stes`` become ``saint``/``sainte``/…;
* a leading article written at the end (``"(L')"``, ``", Le"``) is moved to the front,
  and :func:`loose_name_key` drops the leading article altogether;
* names of municipal arrondissements become ``"<city> <number>"``
  (``"Marseille 2e Arrondissement"`` → ``"marseille 2"``);
* a trailing ``CEDEX`` (postal labels) is dropped.

:func:`normalise_postcode` restores the leading zero that spreadsheets remove
(``"1400"`` → ``"01400"``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable

import pandas as pd

__all__ = [
    "loose_name_key",
    "loose_name_keys",
    "normalise_name",
    "normalise_names",
    "normalise_postcode",
    "normalise_postcodes",
]

#: Articles that may start a French commune name (after normalisation).
ARTICLES: tuple[str, ...] = ("les", "le", "la", "l")

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
# "Abergement-Clémenciat (L')", "Abergement-Clémenciat (Le)", "Abergement, L'", "Vernet, Le".
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.*?)[\s,]*\(\s*(?P<art>les|le|la|l)\s*'?\s*\)\s*$"
                               r"|^(?P<body2>.*?)\s*,\s*(?P<art2>les|le|la|l)\s*'?\s*$")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_CEDEX = re.compile(r"(\s+cedex(\s+\d+)?)+$")
_CITIES = "paris|lyon|marseille"
# "paris 1er arrondissement", "paris 01", "marseille 2e", "lyon 3eme arr", "paris i" is not handled.
_ARRONDISSEMENT = re.compile(
    rf"^(?P<city>{_CITIES})\s+(?P<num>\d{{1,2}})\s*(?:er|e|eme|em|ere|nd|d)?"
    r"(?:\s+(?:arrondissement|arrondt|arrdt|ardt|arr|ar))?$"
)
# "1er arrondissement de paris", "2e arrondissement marseille".
_ARRONDISSEMENT_FIRST = re.compile(
    r"^(?P<num>\d{1,2})\s*(?:er|e|eme|em|ere|nd|d)?\s+(?:arrondissement|arrondt|arrdt|ardt|arr)"
    rf"(?:\s+(?:de|d))?\s+(?P<city>{_CITIES})$"
)


_COMBINING = re.compile("[\u0300-\u036f]")
_APOSTROPHES = re.compile("[\u2019\u2018\u02bc\u00b4`]")


def _fold(text: str) -> str:
    """Lower-case transcription: ligatures expanded, accents removed, case folded.

    Other non-ASCII characters (dashes, exotic quotes) are later treated as separators.
    """
    text = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    text = _APOSTROPHES.sub("'", _COMBINING.sub("", text))
    return text.casefold()


def normalise_name(name: object) -> str:
    """Return the comparison key of a French place name.

    Parameters
    ----------
    name
        A commune, commune déléguée or arrondissement name as written in any list.
        ``None``/NaN give ``""``.

    Returns
    -------
    str
        Lower-case ASCII words separated by single spaces, abbreviations of *saint*
        expanded, a trailing article moved to the front, arrondissements as
        ``"<city> <number>"``.

    Examples
    --------
    >>> normalise_name("L'Abergement-Clémenciat")
    'l abergement clemenciat'
    >>> normalise_name("ABERGEMENT CLEMENCIAT (L')")
    'l abergement clemenciat'
    >>> normalise_name("St-Étienne-du-Rouvray")
    'saint etienne du rouvray'
    >>> normalise_name("Paris 1er Arrondissement")
    'paris 1'
    """
    if name is None or (isinstance(name, float) and name != name):
        return ""
    text = _fold(str(name)).strip()
    match = _TRAILING_ARTICLE.match(text)
    if match:
        body = match.group("body") if match.group("body") is not None else match.group("body2")
        article = match.group("art") or match.group("art2")
        text = f"{article} {body}"
    words = _NON_ALNUM.sub(" ", text).split()
    words = [_ABBREVIATIONS.get(word, word) for word in words]
    key = _CEDEX.sub("", " ".join(words))
    for pattern in (_ARRONDISSEMENT, _ARRONDISSEMENT_FIRST):
        found = pattern.match(key)
        if found:
            return f"{found.group('city')} {int(found.group('num'))}"
    return key


def loose_name_key(name: object) -> str:
    """Like :func:`normalise_name` without a leading article and without spaces.

    Used as a second matching pass, for lists that drop or misplace the article
    (``"Vernet"`` for ``"Le Vernet"``) or split or glue words differently
    (``"Lacanau"`` / ``"La Canau"``).

    Examples
    --------
    >>> loose_name_key("Le Vernet")
    'vernet'
    >>> loose_name_key("L'Étang-Salé")
    'etangsale'
    """
    return _loosen(normalise_name(name))


def _loosen(key: str) -> str:
    words = key.split()
    if len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    return "".join(words)


def _map_unique(values: pd.Series, func: Callable[[object], object]) -> pd.Series:
    """Apply ``func`` once per distinct value of ``values`` (names repeat a lot)."""
    uniques = pd.unique(values.astype(object))
    lookup: dict[Hashable, object] = {value: func(value) for value in uniques}
    return values.astype(object).map(lookup)


def normalise_names(names: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_name` (computed once per distinct name).

    Parameters
    ----------
    names
        Place names; missing values give ``""``.

    Returns
    -------
    pandas.Series
        The keys, same index, dtype ``object``.
    """
    return _map_unique(names, normalise_name)


def loose_name_keys(names: pd.Series, *, normalised: bool = False) -> pd.Series:
    """Vectorised :func:`loose_name_key` (computed once per distinct name).

    Parameters
    ----------
    names
        Place names, or keys already produced by :func:`normalise_names` when
        ``normalised`` is True (saves normalising twice).
    normalised
        Whether ``names`` are already keys.
    """
    keys = names if normalised else normalise_names(names)
    return _map_unique(keys, lambda key: _loosen(str(key)))


_DIGITS = re.compile(r"^\d{4,5}$")


def normalise_postcode(value: object) -> str | None:
    """Return a 5-digit French postcode, restoring a lost leading zero.

    Parameters
    ----------
    value
        A postcode as text or number: ``"01400"``, ``"1400"``, ``1400``, ``1400.0``,
        ``" 01 400 "``.

    Returns
    -------
    str or None
        Five digits, or None when the value is missing or cannot be a postcode
        (wrong length, letters, ``"00xxx"``).

    Examples
    --------
    >>> normalise_postcode("1400")
    '01400'
    >>> normalise_postcode(75001)
    '75001'
    >>> normalise_postcode("ABC") is None
    True
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    if text.endswith(".0"):
        text = text[:-2]
    if not _DIGITS.match(text):
        return None
    text = text.zfill(5)
    return None if text.startswith("00") else text


def normalise_postcodes(values: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_postcode`; invalid values become ``None``.

    Parameters
    ----------
    values
        Postcodes as text or numbers.

    Returns
    -------
    pandas.Series
        Five-digit strings or None, same index, dtype ``object``.
    """
    text = values.astype("string").str.strip().str.replace(r"[\s\u00a0]", "", regex=True)
    text = text.str.replace(r"\.0$", "", regex=True)
    valid = text.str.fullmatch(r"\d{4,5}").fillna(False).astype(bool)
    padded = text.where(valid).str.zfill(5)
    padded = padded.where(~padded.str.startswith("00").fillna(True).astype(bool))
    return padded.astype(object).where(padded.notna(), None)
