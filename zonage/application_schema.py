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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StructureModel(_Strict):
    """One structure of an application: where it is and what it is (never what the tool computes)."""

    finess: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]{9}$")
    type: str | None = None
    category: str | None = Field(default=None, pattern=r"^\d{1,3}$")
    name: str | None = None
    nom: str | None = None
    ape: str | None = None
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
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
        raise InputDataError(f"{name}: file larger than {MAX_BYTES // 1024} KB: not an application")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise InputDataError(f"{name}: line {line}: YAML anchors and aliases (& and *) are not accepted "
                                     "in an application: write each value out")
        return yaml.safe_load(text)
    except (ValueError, OverflowError) as exc:  # a value YAML's resolver took for a date: 2024-13-45
        bad = _bad_scalar_line(text)
        where = f"line {bad}: " if bad else ""
        raise InputDataError(f"{name}: {where}not a valid date ({exc}): write it as YYYY-MM-DD or DD/MM/YYYY, "
                             "or quote it") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputDataError(f"{name}: {where}not valid YAML ({problem})") from None


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
            raise InputDataError(f"{name}: file larger than {MAX_BYTES // 1024} KB: not an application")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputDataError(f"{name}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    return validate_application(data, name, text=text, yaml_file=yaml_file)


def validate_application(data: Any, name: str = "application", *, text: str = "",
                         yaml_file: bool = False) -> dict[str, Any]:
    """Validate an application already parsed (a mapping) into plain values.

    Same checks and messages as :func:`parse_application`; ``text`` (the source, when
    there is one) lets the messages name the line.
    """
    if not isinstance(data, dict) or "scheme" not in data:
        raise InputDataError(f"{name}: an application is a mapping with at least a 'scheme' key")
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
        where = f"line {line}: " if line else ""
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key (see docs/examples/ for the keys an application may hold)"
        raise InputDataError(f"{name}: {where}{path}: {message}") from None
    plain = model.plain()
    for key, value in plain.get("funding", {}).items():
        values = value if isinstance(value, list) else [value]
        if any(not math.isfinite(v) for v in values):  # pragma: no cover - refused by the model already
            raise InputDataError(f"{name}: funding.{key}: not a finite amount")
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
        where = f"line {line}: " if line else ""
        raise InputDataError(
            f"{name}: {where}{'.'.join(map(str, loc))}: '{key}' is computed by the tool from the coordinates or the "
            "FINESS number, not read from the application: remove it")


def read_application_file(path: str | Path) -> dict[str, Any]:
    """Read and validate an application file (``.yaml``/``.yml``/``.json``)."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"application file {path} does not exist")
    if path.stat().st_size > MAX_BYTES:
        raise InputDataError(f"{path.name}: file larger than {MAX_BYTES // 1024} KB: not an application")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_application(text, path.name, yaml_file=path.suffix.lower() != ".json")
