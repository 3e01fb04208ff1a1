"""What an application file may say, checked before anything is computed from it.

An application states *facts* (the scheme, where each structure is, what it is, the
doctor's profile, shares, dates, costs); everything the tool *computes* (the commune, the
QPV, the zoning class, a status) is refused: a file cannot carry its own answer. Every
number is bounded (finite; money and shares non-negative; shares within 0–100; a
duration of more than 0 and at most 10 years) and every unknown key is an error naming
the key and its line.

YAML is read with :func:`load_yaml`: anchors and aliases are refused before they are
expanded (a 1 KB "billion laughs" file would otherwise take gigabytes) and so are files
over :data:`MAX_BYTES`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from zonage.errors import InputDataError

__all__ = ["COMPUTED_KEYS", "MAX_BYTES", "STRUCTURE_KEYS", "ApplicationModel", "load_yaml", "parse_application"]

#: Largest application file read (bytes).
MAX_BYTES = 256 * 1024
#: Keys under which an application describes a structure.
STRUCTURE_KEYS: tuple[str, ...] = ("hospital", "ambulatory", "employer", "partner", "university", "peripheral", "chu")
#: Keys the tool computes: an application giving one is refused.
COMPUTED_KEYS: frozenset[str] = frozenset({
    "located", "insee", "commune_insee", "classe", "class", "zone", "zonage", "qpv", "qpv2024", "qpv2015", "status",
    "statut", "verdict", "eligible", "result", "resultat",
})

_TRUE = {"true", "oui", "yes", "vrai", "1", "o", "y"}
_FALSE = {"false", "non", "no", "faux", "0", "n"}


def _boolean(value: Any) -> Any:
    """``oui``/``non``, ``true``/``false``, 1/0 → bool; anything else is left for the type check to refuse."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def _day(value: Any) -> Any:
    """ISO or French (DD/MM/YYYY) date text → date."""
    if isinstance(value, str):
        text = value.strip()
        parts = text.split("/")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            try:
                return date(int(parts[2]), int(parts[1]), int(parts[0]))
            except (ValueError, OverflowError):  # 31/02/2024, 01/01/99999999999999999999
                return value
    return value


Flag = Annotated[bool | None, BeforeValidator(_boolean)]
Day = Annotated[date | None, BeforeValidator(_day)]
Share = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
#: A région code (``"44"``, ``44``, ``"01"``): text, or a whole number of at most three digits.
RegionCode = str | Annotated[int, Field(ge=0, le=999)]


#: French wording of pydantic's error types (``{gt}``… are filled from the error's context).
_PYDANTIC_FR: dict[str, str] = {
    "greater_than": "doit être strictement supérieur à {gt}",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than": "doit être strictement inférieur à {lt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "string_pattern_mismatch": "format invalide (motif attendu {pattern})",
    "missing": "clé obligatoire absente : l'ajouter",
    "extra_forbidden": "clé inconnue (voir docs/examples/ pour les clés qu'une candidature peut contenir)",
    "bool_parsing": "doit valoir oui ou non (true/false)",
    "bool_type": "doit valoir oui ou non (true/false)",
    "int_parsing": "doit être un nombre entier",
    "int_type": "doit être un nombre entier",
    "int_from_float": "doit être un nombre entier (sans partie décimale)",
    "float_parsing": "doit être un nombre",
    "float_type": "doit être un nombre",
    "finite_number": "doit être un nombre fini",
    "date_parsing": "doit être une date (AAAA-MM-JJ ou JJ/MM/AAAA)",
    "date_type": "doit être une date (AAAA-MM-JJ ou JJ/MM/AAAA)",
    "date_from_datetime_parsing": "doit être une date (AAAA-MM-JJ ou JJ/MM/AAAA)",
    "date_from_datetime_inexact": "doit être une date sans heure (AAAA-MM-JJ ou JJ/MM/AAAA)",
    "string_type": "doit être du texte",
    "dict_type": "doit être un ensemble de clés (clé: valeur)",
    "model_type": "doit être un ensemble de clés (clé: valeur)",
    "list_type": "doit être une liste",
}
#: Patterns of :class:`StructureModel`, described for a planner.
_PATTERNS_FR: dict[str, str] = {
    r"^[0-9A-Za-z]{9}$": "9 chiffres ou lettres, p. ex. 570000158",
    r"^\d{1,3}$": "un code de catégorie FINESS de 1 à 3 chiffres, p. ex. 603",
}


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def pydantic_message_fr(error: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) in French; pydantic's text if not mapped."""
    template = _PYDANTIC_FR.get(str(error.get("type")))
    if template is None:
        return str(error.get("msg", ""))
    context = {key: _number(value) for key, value in (error.get("ctx") or {}).items()}
    if error.get("type") == "string_pattern_mismatch":
        pattern = context.get("pattern", "")
        if pattern in _PATTERNS_FR:
            return f"format invalide : {_PATTERNS_FR[pattern]}"
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return str(error.get("msg", ""))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _decimal_comma(value: Any) -> Any:
    """``"4,9403"`` (a French decimal comma, as a batch file accepts it) → ``4.9403``; anything else unchanged."""
    if isinstance(value, str) and value.strip().count(",") == 1 and "." not in value:
        return value.strip().replace(",", ".")
    return value


class StructureModel(_Strict):
    """One structure of an application: where it is and what it is (never what the tool computes)."""

    finess: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]{9}$")
    type: str | None = None
    category: str | None = Field(default=None, pattern=r"^\d{1,3}$")
    name: str | None = None
    nom: str | None = None
    ape: str | None = None
    lon: Annotated[float | None, BeforeValidator(_decimal_comma)] = Field(default=None, ge=-180, le=180,
                                                                          allow_inf_nan=False)
    lat: Annotated[float | None, BeforeValidator(_decimal_comma)] = Field(default=None, ge=-90, le=90,
                                                                          allow_inf_nan=False)
    adresse: str | None = None
    code_postal: str | None = None
    commune: str | None = None
    share: Share | None = None

    @field_validator("finess", "category", "code_postal", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class DoctorModel(_Strict):
    """The doctor's profile (every field optional; a missing one is reported where a condition needs it)."""

    diploma_mg: Flag = None
    thesis: Flag = None
    installed: Flag = None
    practising_in_priority_zone: Flag = None
    speciality: str | None = None
    internship_end: Day = None
    internship_region: RegionCode | None = None
    ordre_registration: Day = None


class ApplicationModel(_Strict):
    """A whole application."""

    scheme: str
    start: Day = None
    duration_years: float | None = Field(default=None, gt=0, le=10, allow_inf_nan=False)
    renewal: Flag = None
    region: RegionCode | None = None
    doctor: DoctorModel | None = None
    shares: dict[str, Share] | None = None
    funding: dict[str, Money | list[Money]] | None = None
    hospital: StructureModel | None = None
    ambulatory: StructureModel | None = None
    employer: StructureModel | None = None
    partner: StructureModel | None = None
    university: StructureModel | None = None
    peripheral: StructureModel | None = None
    chu: StructureModel | None = None

    def plain(self) -> dict[str, Any]:
        """The application as plain values (dates as ISO text), without the keys not given."""
        return json.loads(self.model_dump_json(exclude_none=True))


def load_yaml(text: str, name: str) -> Any:
    """Parse YAML refusing anchors, aliases and oversized input (errors name the file and line)."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise InputDataError(f"{name} : fichier de plus de {MAX_BYTES // 1024} Ko : ce n'est pas une candidature")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise InputDataError(f"{name} : ligne {line} : les ancres et alias YAML (& et *) ne sont pas "
                                     "acceptés dans une candidature : écrire chaque valeur en entier")
        return yaml.safe_load(text)
    except (ValueError, OverflowError) as exc:  # a value YAML's resolver took for a date: 2024-13-45
        bad = _bad_scalar_line(text)
        where = f"ligne {bad} : " if bad else ""
        raise InputDataError(f"{name} : {where}date invalide ({exc}) : l'écrire AAAA-MM-JJ ou JJ/MM/AAAA, "
                             "ou la mettre entre guillemets") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"ligne {mark.line + 1} : " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputDataError(f"{name} : {where}YAML invalide ({problem}) : vérifier l'indentation, les deux-points "
                             "et les guillemets") from None


def _bad_scalar_line(text: str) -> int | None:
    """Line of the first scalar that PyYAML's safe constructor cannot build (an impossible date)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    constructor = yaml.SafeLoader("")
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop(0)
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node, deep=True)
            except (ValueError, OverflowError):
                return int(node.start_mark.line) + 1
            except yaml.YAMLError:
                continue
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                todo.extend((key, value))
    return None


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of a pydantic error location that indexes ``data``.

    Union member tags such as ``constrained-float`` are left out.
    """
    path: list[Any] = []
    node = data
    for key in loc:
        in_dict = isinstance(node, dict) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        if not (in_dict or in_list):
            continue
        node = node[key]
        path.append(key)
    return tuple(path)


def _line_of(text: str, loc: tuple[Any, ...], yaml_file: bool) -> int | None:
    """Line of the value at path ``loc`` in the YAML text (None when not found or not YAML)."""
    if not yaml_file:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if found is None:
                return line
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_application(text: str, name: str, *, yaml_file: bool = True) -> dict[str, Any]:
    """Read and validate an application (YAML or JSON text) into plain values.

    Raises
    ------
    zonage.errors.InputDataError
        Unparseable text, anchors/aliases, a computed key (``located``, ``classe``…),
        an unknown key, a value of the wrong type or out of bounds: one line naming the
        file, the line (YAML) and the key path.
    """
    if yaml_file:
        data = load_yaml(text, name)
    else:
        if len(text.encode("utf-8")) > MAX_BYTES:
            raise InputDataError(f"{name} : fichier de plus de {MAX_BYTES // 1024} Ko : ce n'est pas une "
                                 "candidature")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputDataError(f"{name} : ligne {exc.lineno} : JSON invalide ({exc.msg}) : corriger la syntaxe à "
                                 "cette ligne") from None
    return validate_application(data, name, text=text, yaml_file=yaml_file)


def validate_application(data: Any, name: str = "application", *, text: str = "",
                         yaml_file: bool = False) -> dict[str, Any]:
    """Validate an application already parsed (a mapping) into plain values.

    Same checks and messages as :func:`parse_application`; ``text`` (the source, when
    there is one) lets the messages name the line.
    """
    if not isinstance(data, dict) or "scheme" not in data:
        raise InputDataError(f"{name} : une candidature est un ensemble de clés (clé: valeur) avec au moins la "
                             "clé 'scheme'")
    _refuse_computed(data, name, text, yaml_file)
    try:
        model = ApplicationModel.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a union (``str | int``, ``amount | [amounts]``) reports one error per member: for the first
        # value in error, the bound broken says more than "should be a valid string"
        head = _data_path(data, tuple(errors[0]["loc"]))
        first = next((e for e in errors if not e["type"].endswith("_type")
                      and _data_path(data, tuple(e["loc"]))[:len(head)] == head), errors[0])
        loc = _data_path(data, tuple(first["loc"])) or tuple(first["loc"])
        path = ".".join(str(p) for p in loc)
        line = _line_of(text, loc, yaml_file)
        where = f"ligne {line}, " if line else ""
        raise InputDataError(f"{name} : {where}clé {path} : {pydantic_message_fr(first)}") from None
    plain = model.plain()
    for key, value in plain.get("funding", {}).items():
        values = value if isinstance(value, list) else [value]
        if any(not math.isfinite(v) for v in values):  # pragma: no cover - refused by the model already
            raise InputDataError(f"{name} : clé funding.{key} : montant non fini")
    return plain


def _refuse_computed(data: dict[str, Any], name: str, text: str, yaml_file: bool) -> None:
    """Refuse the keys the tool computes (top level and in structures)."""
    places: list[tuple[tuple[Any, ...], str]] = [((key,), key) for key in data if key in COMPUTED_KEYS]
    for part in STRUCTURE_KEYS:
        entry = data.get(part)
        if isinstance(entry, dict):
            places += [((part, key), key) for key in entry if key in COMPUTED_KEYS]
    if places:
        loc, key = places[0]
        line = _line_of(text, loc, yaml_file)
        where = f"ligne {line}, " if line else ""
        raise InputDataError(
            f"{name} : {where}clé {'.'.join(map(str, loc))} : '{key}' est calculé par l'outil à partir des "
            "coordonnées ou du numéro FINESS, pas lu dans la candidature : retirer cette clé")


def read_application_file(path: str | Path) -> dict[str, Any]:
    """Read and validate an application file (``.yaml``/``.yml``/``.json``)."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"fichier de candidature {path} introuvable : vérifier le chemin et le nom du fichier")
    if path.stat().st_size > MAX_BYTES:
        raise InputDataError(f"{path.name} : fichier de plus de {MAX_BYTES // 1024} Ko : ce n'est pas une "
                             "candidature")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{path.name} : pas du texte UTF-8 ({exc.reason}, octet {exc.start}) : enregistrer le "
                             "fichier en UTF-8") from None
    return parse_application(text, path.name, yaml_file=path.suffix.lower() != ".json")
