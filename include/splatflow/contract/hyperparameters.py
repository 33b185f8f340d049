"""Typed settings to and from SageMaker's string-to-string ``HyperParameters``.

SageMaker passes every hyperparameter as a string (``hyperparameters.json`` holds
``{"max_steps": "30000"}``), so each stage describes its settings as a flat dataclass and this
module converts in both directions using the field types. It is part of the contract both sides
import: the pipeline builds and checks the job requests with it, the stages read them back.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

T = TypeVar("T")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class HyperparameterError(ValueError):
    """A hyperparameter is unknown or its value does not fit the field's type."""


def _parse_value(name: str, raw: str, annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if raw.strip().lower() in {"", "none", "null"} and len(options) < len(get_args(annotation)):
            return None
        if len(options) == 1:
            return _parse_value(name, raw, options[0])
        raise HyperparameterError(f"{name}: unsupported union type {annotation}")
    if origin is Literal:
        allowed = get_args(annotation)
        for option in allowed:
            if raw == str(option):
                return option
        raise HyperparameterError(f"{name}={raw!r} is not one of {', '.join(map(str, allowed))}")
    if annotation is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise HyperparameterError(f"{name}={raw!r} is not a boolean (true/false)")
    if annotation is int:
        try:
            return int(raw)
        except ValueError:
            raise HyperparameterError(f"{name}={raw!r} is not an integer") from None
    if annotation is float:
        try:
            return float(raw)
        except ValueError:
            raise HyperparameterError(f"{name}={raw!r} is not a number") from None
    if annotation is str:
        return raw
    raise HyperparameterError(f"{name}: unsupported field type {annotation}")


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return str(value)


def from_hyperparameters(settings_type: type[T], values: Mapping[str, str]) -> T:
    """Build ``settings_type`` from string values; unknown names are an error, not ignored.

    A misspelt hyperparameter silently falling back to its default is the kind of mistake that
    costs a GPU-hour, so every key must name a field.
    """
    if not dataclasses.is_dataclass(settings_type):
        raise TypeError(f"{settings_type!r} is not a dataclass")
    hints = typing.get_type_hints(settings_type)
    fields = {f.name: f for f in dataclasses.fields(settings_type) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise HyperparameterError(
            f"unknown hyperparameter(s): {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
        )
    kwargs = {name: _parse_value(name, str(raw), hints[name]) for name, raw in values.items()}
    return settings_type(**kwargs)


def to_hyperparameters(settings: Any) -> dict[str, str]:
    """The string-to-string form SageMaker's ``HyperParameters`` field takes."""
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        raise TypeError(f"{settings!r} is not a dataclass instance")
    return {f.name: _format_value(getattr(settings, f.name)) for f in dataclasses.fields(settings)}


def read_hyperparameters_file(settings_type: type[T], path: Path) -> T:
    """Read SageMaker's ``hyperparameters.json``; a missing file means all defaults."""
    if not path.exists():
        return from_hyperparameters(settings_type, {})
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise HyperparameterError(f"{path.name} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise HyperparameterError(f"{path.name} must hold a JSON object")
    # SageMaker's own containers sometimes receive JSON-encoded strings ("\"abc\""); accept both.
    values = {str(k): _unquote(v) for k, v in raw.items()}
    return from_hyperparameters(settings_type, values)


def _unquote(value: Any) -> str:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return value
        return str(decoded)
    return value if isinstance(value, str) else json.dumps(value)


def to_container_arguments(settings: Any) -> list[str]:
    """``["--name", "value", …]`` for a Processing job's ``AppSpecification.ContainerArguments``.

    Processing jobs have no hyperparameters file, so their settings travel on the command line
    in the same string form.
    """
    arguments: list[str] = []
    for name, value in to_hyperparameters(settings).items():
        arguments += [f"--{name.replace('_', '-')}", value]
    return arguments


def from_container_arguments(settings_type: type[T], arguments: list[str]) -> T:
    """Parse what ``to_container_arguments`` produced (``--name value`` pairs, any order)."""
    if len(arguments) % 2:
        raise HyperparameterError(f"arguments must come in '--name value' pairs: {arguments}")
    values: dict[str, str] = {}
    for flag, value in zip(arguments[::2], arguments[1::2], strict=True):
        if not flag.startswith("--"):
            raise HyperparameterError(f"expected an option like --name, got {flag!r}")
        values[flag[2:].replace("-", "_")] = value
    return from_hyperparameters(settings_type, values)
