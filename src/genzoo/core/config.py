"""Config dataclasses: overrides from Python or from `--set key=value` strings."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from genzoo.core.errors import GenzooError, UnknownNameError


def _parse(value: str, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null") and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse(value, inner[0], key)
    if origin is typing.Literal:
        if value not in args:
            raise GenzooError(f"{key} must be one of {', '.join(map(str, args))}, not {value!r}")
        return value
    try:
        if annotation is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if annotation in (int, float, str):
            return annotation(value)
        if origin is tuple:
            return tuple(_parse(v.strip(), args[0], key) for v in value.split(",") if v.strip())
    except ValueError:
        raise GenzooError(f"{key}={value!r} is not a valid {annotation.__name__}") from None
    raise GenzooError(f"{key} cannot be set from the command line")


def apply_overrides(config, overrides: dict[str, Any]):
    """A copy of the dataclass `config` with `overrides`; strings are parsed by field type."""
    if not overrides:
        return config
    hints = typing.get_type_hints(type(config))
    fields = {f.name for f in dataclasses.fields(config)}
    changes = {}
    for key, value in overrides.items():
        if key not in fields:
            raise UnknownNameError(
                f"unknown setting {key!r} for {type(config).__name__}; "
                f"known: {', '.join(sorted(fields))}"
            )
        changes[key] = _parse(value, hints[key], key) if isinstance(value, str) else value
    return dataclasses.replace(config, **changes)


def config_to_json(config) -> dict:
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def config_from_json(cls, d: dict):
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - fields
    if unknown:
        raise GenzooError(f"config has unknown fields for {cls.__name__}: {sorted(unknown)}")
    out = {}
    for k, v in d.items():
        out[k] = tuple(v) if typing.get_origin(hints[k]) is tuple and v is not None else v
    return cls(**out)
