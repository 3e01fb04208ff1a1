"""One validation layer for the TOML parameter files: read, deep-merge, validate (pydantic v2).

The rules (``zonage/rules/*.toml``) and the prioritisation parameters
(``zonage/priority/config/default.toml``) are TOML files that a planner overrides with a
file holding only the keys it changes. Both read the files with :func:`read_toml`, merge
them with :func:`deep_merge` and report problems the same way: the file, the key path
(``allocation.costs.schemes.aumg``) and what is wrong.

:class:`StrictModel` is the base of the pydantic models: unknown keys forbidden, no
silent coercion (``"yes"`` is not ``true``, ``"2"`` is not ``2``), no NaN or infinity,
frozen.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from zonage.errors import ZonageError

__all__ = ["StrictModel", "deep_merge", "read_toml", "validate"]

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


def _message(item: Mapping[str, Any]) -> str:
    kind, text = item["type"], str(item["msg"])
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing value"
    if kind.startswith("literal_error") or kind == "enum":
        expected = item.get("ctx", {}).get("expected", "")
        return f"{item.get('input')!r} is not one of {expected}" if expected else text
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{item.get('input')!r}: {text[0].lower()}{text[1:]}"
    if kind == "value_error":
        return text.removeprefix("Value error, ")
    return f"{text[0].lower()}{text[1:]} (got {item.get('input')!r})"


def validate(model: type[M], data: Mapping[str, Any], where: str, *, prefix: str = "",
             error: type[ZonageError] = ZonageError) -> M:
    """Validate ``data`` with ``model``; the first problem raises ``error`` as ``where: key.path: problem``.

    ``prefix`` is the key path of ``data`` in its file (for a table validated on its own).
    """
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        parts = [str(p) for p in first["loc"] if p != "[key]"]
        path = ".".join([prefix, *parts] if prefix else parts)
        if first["type"] == "extra_forbidden" and first["loc"]:
            allowed = _allowed(model, first["loc"][:-1])
            message = f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
        elif first["loc"] and first["loc"][-1] == "[key]":
            message = f"unknown name: {_message(first)}"
        else:
            message = _message(first)
        raise error(f"{where}: {path or '(top)'}: {message}") from None


def _allowed(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the sub-model at ``loc`` (empty when it is not a model)."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        current = fields[part].annotation
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []
