"""One validation layer for the TOML parameter files: read, deep-merge, validate (pydantic v2).

The rules (``zonage/rules/*.toml``) and the prioritisation parameters
(``zonage/priority/config/default.toml``) are TOML files that a planner overrides with a
file holding only the keys it changes. Both read the files with :func:`read_toml`, merge
them with :func:`deep_merge`, check them with :func:`validate` and report problems the
same way: the file, the key path (``allocation.costs.schemes.aumg``,
``roles.ambulatoire.zones.accepted[2]``) and what is wrong.

:class:`StrictModel` is the base of the pydantic models: unknown keys forbidden, no
silent coercion (``"yes"`` is not ``true``, ``"2"`` is not ``2``), no NaN or infinity,
frozen (TOML arrays are validated as tuples). A model's validator that checks several
keys at once raises :class:`KeyPathError` to name the key at fault.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from zonage.errors import ZonageError

__all__ = ["KeyPathError", "StrictModel", "deep_merge", "read_toml", "validate"]

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of the parameter models: unknown keys forbidden, strict types, finite numbers, frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def read_toml(path: Path | Any, name: str | None = None, *,
              error: type[ZonageError] = ZonageError) -> dict[str, Any]:
    """Parse a TOML file (a path or an ``importlib.resources`` traversable).

    Raises ``error`` naming the file when it is missing, unreadable or not valid TOML.
    """
    name = name or str(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise error(f"{name}: no such parameter file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{name}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise error(f"{name}: cannot read: {exc}") from None


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``patch`` merged into a copy of ``base``: tables merge recursively, other values (arrays too) replace."""
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class KeyPathError(ValueError):
    """A problem a model's validator finds at a key below the model (``at``: the key path from the model).

    :func:`validate` adds ``at`` to the key path of the error, so that a cross-field rule
    names the key at fault (``roles.hospitalier.keys[0]``) rather than the table holding it.
    """

    def __init__(self, at: str | int | tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.at: tuple[str | int, ...] = at if isinstance(at, tuple) else (at,)

    @classmethod
    def of(cls, exc: ValidationError, *at: str | int) -> KeyPathError:
        """The first problem of a validation run inside a validator (a ``TypeAdapter``), at key path ``at``."""
        first = exc.errors()[0]
        return cls((*at, *(p for p in first["loc"] if p != "[key]")), _message(first))


def _kind(value: Any) -> str:
    """What a TOML value is, for a message (``a boolean (true)``, ``a table``, ``str 'two'``)."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{type(value).__name__} {value!r}"


#: pydantic error types → what was expected.
_EXPECTED = {
    "string_type": "a string", "float_type": "a number", "int_type": "a whole number",
    "bool_type": "true or false", "tuple_type": "a list", "list_type": "a list", "dict_type": "a table",
    "model_type": "a table", "model_attributes_type": "a table", "date_type": "a date YYYY-MM-DD",
}


def _message(item: Mapping[str, Any]) -> str:
    kind, text = item["type"], str(item["msg"])
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_kind(item.get('input'))}"
    if kind.startswith("literal_error") or kind == "enum":
        expected = item.get("ctx", {}).get("expected", "")
        return f"unknown value {item.get('input')!r} (expected {expected})" if expected else text
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{item.get('input')!r}: {text[0].lower()}{text[1:]}"
    if kind == "value_error":
        return text.removeprefix("Value error, ")
    return f"{text[0].lower()}{text[1:]} (got {item.get('input')!r})"


def _path(parts: Iterable[Any]) -> str:
    """``roles``, ``ambulatoire``, ``keys``, 0 → ``roles.ambulatoire.keys[0]``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lists_as_tuples(value: Any) -> Any:
    """TOML arrays as tuples (strict pydantic takes a tuple field from a tuple only; the models are frozen)."""
    if isinstance(value, Mapping):
        return {k: _lists_as_tuples(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(_lists_as_tuples(v) for v in value)
    return value


def validate(model: type[M], data: Mapping[str, Any], where: str, *, prefix: str = "",
             error: type[ZonageError] = ZonageError) -> M:
    """Validate ``data`` with ``model``; the first problem raises ``error`` as ``where: key.path: problem``.

    TOML arrays are validated as tuples. ``prefix`` is the key path of ``data`` in its file
    (for a table validated on its own). A validator raising :class:`KeyPathError` names the
    key below the table it checks.
    """
    if not isinstance(data, Mapping):
        raise error(f"{where}: {prefix or '(top)'}: expected a table, got {_kind(data)}")
    try:
        return model.model_validate(_lists_as_tuples(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [p for p in first["loc"] if p != "[key]"]
        problem = first.get("ctx", {}).get("error")
        if isinstance(problem, KeyPathError):
            loc.extend(problem.at)
        path = _path([prefix, *loc] if prefix else loc)
        if first["type"] == "extra_forbidden" and first["loc"]:
            allowed = _allowed(model, first["loc"][:-1])
            message = f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
        elif first["loc"] and first["loc"][-1] == "[key]":
            expected = first.get("ctx", {}).get("expected")
            message = (f"unknown name {first.get('input')!r} (expected {expected})" if expected
                       else f"invalid name: {_message(first)}")
        else:
            message = _message(first)
        raise error(f"{where}: {path or '(top)'}: {message}") from None


def _below(annotation: Any, part: Any) -> Any:
    """The type of key or item ``part`` of a value of type ``annotation`` (None: not known)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _below(get_args(annotation)[0], part)
    if origin in (Union, UnionType):
        found = [_below(a, part) for a in get_args(annotation) if a is not type(None)]
        return next((f for f in found if f is not None), None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return next((f.annotation for name, f in annotation.model_fields.items() if (f.alias or name) == part), None)
    if origin in (dict, Mapping):
        return get_args(annotation)[1]
    if origin in (list, tuple):
        return get_args(annotation)[0]
    return None


def _keys(annotation: Any) -> list[str]:
    """Keys (aliases where set) of the model ``annotation`` is, or holds as an option (empty: no model)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _keys(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return next((k for a in get_args(annotation) if (k := _keys(a))), [])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sorted(f.alias or name for name, f in annotation.model_fields.items())
    return []


def _allowed(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Keys of the table at ``loc`` (empty when it is not a model)."""
    current: Any = model
    for part in loc:
        current = _below(current, part)
        if current is None:
            return []
    return _keys(current)
