"""The machinery every record shares: one generic, type-checked ``to_dict`` / ``from_dict`` over dataclass fields."""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, field, fields
from typing import Any, ClassVar, TypeVar, Union

from ..contract import Contract
from ..errors import EdgekitError

R = TypeVar("R", bound="Record")

MANIFEST_FILE = "manifest.json"
PARITY_FILE = "parity.json"


def optional(default: Any = None) -> Any:
    """A field whose key is left out of the dict when its value is ``None``."""
    return field(default=default, metadata={"omit_none": True})


def malformed(where: str, problem: str, fix: str) -> EdgekitError:
    return EdgekitError(f"{where}: {problem}; {fix}")


class Record:
    """Base of every record: generic, type-checked ``to_dict`` / ``from_dict`` over the dataclass fields."""

    FILE: ClassVar[str] = MANIFEST_FILE
    FIX: ClassVar[str] = "re-create the run with 'edgekit build' (or the command that wrote it)"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_dict(cls: type[R], data: Any, where: str | None = None) -> R:
        where = where or cls.FILE
        if not isinstance(data, dict):
            raise malformed(where, f"expected an object, found {type(data).__name__}", cls.FIX)
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise malformed(where, f"'{f.name}' is missing", cls.FIX)
                continue
            kwargs[f.name] = _convert(hints[f.name], data[f.name], _at(where, f.name), cls.FIX)
        return cls(**kwargs)


def _at(where: str, key: str) -> str:
    """'run/manifest.json' + 'build' -> 'run/manifest.json: build'; then '.arena_bytes'."""
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, Contract):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _convert(hint: Any, value: Any, where: str, fix: str) -> Any:
    """``value`` checked against type ``hint`` (records built from their dicts); EdgekitError naming ``where``."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        rest = [o for o in options if o is not type(None)]
        if len(rest) == 1:  # X | None: X's own error says what is wrong
            return _convert(rest[0], value, where, fix)
        for option in rest:
            try:
                return _convert(option, value, where, fix)
            except EdgekitError:
                continue
        raise malformed(where, f"unexpected value {_short(value)}", fix)
    if hint is Any:
        return value
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value, where)
    if hint is Contract:
        if not isinstance(value, dict):
            raise malformed(where, f"expected an object, found {_short(value)}", fix)
        return Contract.from_dict(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise malformed(where, f"expected an object, found {_short(value)}", fix)
        _, item = typing.get_args(hint) or (str, Any)
        return {k: _convert(item, v, _at(where, k), fix) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise malformed(where, f"expected a list, found {_short(value)}", fix)
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, v, where, fix) for v in value]
    return _leaf(hint, value, where, fix)


def _leaf(hint: Any, value: Any, where: str, fix: str) -> Any:
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(hint, True)
    if not ok:
        raise malformed(where, f"expected {getattr(hint, '__name__', hint)}, found {_short(value)}", fix)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
