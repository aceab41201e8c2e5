"""Config dataclasses: overrides from Python or from `--set key=value` strings, each checked
against its field's declared choices (a Literal) or range (field metadata from `at_least` or
`above`) when set."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from genzoo.core.errors import GenzooError, UnknownNameError, did_you_mean


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


def at_least(low: float) -> dict:
    """Field metadata: the value (or each element of a tuple) is >= low (None is allowed
    where the type allows it)."""
    return {"low": low, "open": False}


def above(low: float) -> dict:
    """Field metadata: the value is > low."""
    return {"low": low, "open": True}


def below(high: float) -> dict:
    """Field metadata: the value (or each element) is < high; combine with `|`."""
    return {"high": high}


def length(n: int) -> dict:
    """Field metadata: a tuple of exactly n values; combine with `|`."""
    return {"length": n}


def odd() -> dict:
    """Field metadata: an odd integer (a centred kernel); combine with `|`."""
    return {"odd": True}


def validate(config) -> None:
    """A one-line GenzooError for the first field outside its declared range or choices."""
    if not dataclasses.is_dataclass(config):  # a model of one's own may take anything
        return
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        values = value if isinstance(value, tuple) else (value,)
        if "length" in f.metadata and isinstance(value, tuple) and len(value) != f.metadata[
                "length"]:  # fmt: skip
            raise GenzooError(f"{f.name}={','.join(map(str, value))}: give exactly "
                              f"{f.metadata['length']} values")  # fmt: skip
        choices = _choices(hints[f.name])
        for v in values:
            if v is None:
                continue
            if choices is not None and v not in choices:
                raise GenzooError(f"{f.name}={v!r}: expected one of {', '.join(map(str, choices))}")
            if "low" in f.metadata and isinstance(v, int | float) and not isinstance(v, bool):
                low, strict = f.metadata["low"], f.metadata["open"]
                if v < low or (strict and v == low):
                    what = "above" if strict else "at least"
                    raise GenzooError(f"{f.name}={v}: must be {what} {low}")
            if "high" in f.metadata and isinstance(v, int | float) and v >= f.metadata["high"]:
                raise GenzooError(f"{f.name}={v}: must be below {f.metadata['high']}")
            if f.metadata.get("odd") and isinstance(v, int) and v % 2 == 0:
                raise GenzooError(f"{f.name}={v}: must be odd (a kernel centred on its pixel)")


def _choices(annotation) -> tuple | None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return args
    if origin in (typing.Union, types.UnionType):
        for a in args:
            if typing.get_origin(a) is typing.Literal:
                return typing.get_args(a)
    return None


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
                f"unknown setting {key!r} for {type(config).__name__}"
                f"{did_you_mean(key, fields)}; "
                f"known: {', '.join(sorted(fields))}"
            )
        changes[key] = _parse(value, hints[key], key) if isinstance(value, str) else value
    config = dataclasses.replace(config, **changes)
    validate(config)
    return config


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
    config = cls(**out)
    validate(config)
    return config


@dataclasses.dataclass(frozen=True)
class FieldNote:
    """One setting as `genzoo train MODEL --help` lists it."""

    name: str
    default: Any
    allowed: str  # "", "one of a, b", "at least 1", "above 0", ...
    comment: str  # the config's comment on the field: its meaning, often a paper reference


def _allowed(f: dataclasses.Field, annotation) -> str:
    parts = []
    choices = _choices(annotation)
    if choices is not None:
        parts.append("one of " + ", ".join(map(str, choices)))
    if "low" in f.metadata:
        parts.append(f"{'above' if f.metadata['open'] else 'at least'} {f.metadata['low']}")
    if "high" in f.metadata:
        parts.append(f"below {f.metadata['high']}")
    if "length" in f.metadata:
        parts.append(f"{f.metadata['length']} values")
    if f.metadata.get("odd"):
        parts.append("odd")
    return ", ".join(parts)


def _field_comments(cls) -> dict[str, str]:
    """The comments written on each field of a config class and its bases: the lines
    above it and the one at its end, joined."""
    import inspect
    import io
    import tokenize

    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        local: dict[str, str] = {}  # a field redeclared here replaces the base's comment
        pending: list[str] = []
        line_of: dict[int, str] = {}  # a field's line -> its name
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                text = tok.string.lstrip("#").strip()
                if text.startswith(("fmt:", "---")):  # formatter pragmas, section headers
                    continue
                if tok.start[0] in line_of:  # at the end of a field's line
                    name = line_of[tok.start[0]]
                    local[name] = " ".join(filter(None, [local.get(name, ""), text]))
                else:
                    pending.append(text)
            elif tok.type == tokenize.NAME and tok.start[1] == 4 and tok.start[0] not in line_of:
                line_of[tok.start[0]] = tok.string
                local[tok.string] = " ".join(pending)
                pending = []
        comments.update({k: v for k, v in local.items() if v})
    return {k: v for k, v in comments.items() if v}


def describe_fields(config) -> list[FieldNote]:
    """Every field of a config dataclass instance: its value, what it allows, its comment."""
    hints = typing.get_type_hints(type(config))
    comments = _field_comments(type(config))
    return [
        FieldNote(
            f.name, getattr(config, f.name), _allowed(f, hints[f.name]), comments.get(f.name, "")
        )  # fmt: skip
        for f in dataclasses.fields(config)
    ]
