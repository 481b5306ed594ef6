"""Frozen dataclass configs to JSON-safe dicts and back, generically: a field added to any
config (nested ones included) is saved and read without listing it anywhere."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from shoprec.exceptions import ParameterError

__all__ = ["config_from_dict", "config_to_dict"]

T = TypeVar("T")


def config_to_dict(config: Any) -> dict[str, Any]:
    """Every field of the dataclass ``config``, nested dataclasses as dicts, tuples and sets
    as lists."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def config_from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """The ``cls`` instance that :func:`config_to_dict` wrote; missing fields take their
    defaults.

    Raises
    ------
    ParameterError
        For a key ``cls`` has no field for (naming it and the known ones).
    """
    if not isinstance(data, Mapping):
        raise ParameterError(f"{cls.__name__} must be an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ParameterError(f"{cls.__name__} has no field {unknown}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {name: _typed(hints[name], value) for name, value in data.items()}
    return cls(**values)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _typed(hint: Any, value: Any) -> Any:
    """``value`` as the field type ``hint`` wants: nested dataclasses rebuilt, lists back into
    tuples or frozensets."""
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    for option in options:
        if dataclasses.is_dataclass(option) and isinstance(value, Mapping):
            return config_from_dict(option, value)
        origin = typing.get_origin(option)
        if origin in (tuple, frozenset) and isinstance(value, list):
            return origin(value)
    return value


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)
