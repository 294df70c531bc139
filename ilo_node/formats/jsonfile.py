"""JSON from outside the program: the files people give the CLI and the bodies of the
local API, read by one parser with one set of errors.

``json.loads`` alone accepts more than JSON and fails in ways that are not errors
of ours: ``NaN`` and ``Infinity`` (and ``1e400``, read as infinity), integers of
thousands of digits that nothing downstream can hold, duplicate keys (the last one
silently wins), and nesting deep enough to raise ``RecursionError`` in it or in the
code that walks the result. :func:`parse_json` refuses all of these with an
:class:`~ilo_node.errors.InputError` that names the file or body and says what is
wrong; :func:`read_json_file` adds the file's own problems (missing, a directory,
unreadable, too large, not UTF-8). The ``get_*`` functions check the fields of a
parsed object with the same care: an exact type (``true`` is not a number), a
range, a message that names the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

from ilo_node.errors import InputError

__all__ = [
    "MAX_INT",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "get_int",
    "get_list",
    "get_number",
    "get_object",
    "get_str",
    "json_object",
    "parse_json",
    "read_json_file",
    "read_limited",
    "settings_from_json",
]

#: Largest file or body read as JSON (the local API's body cap too).
MAX_JSON_BYTES = 16 * 1024 * 1024
#: Deepest nesting accepted: message content goes 8 deep, files far less.
MAX_JSON_DEPTH = 64
#: Largest integer a field may hold: SQLite's INTEGER, where times and counts end up.
MAX_INT = 2**63 - 1
#: Integers outside msgpack's range cannot be carried anywhere, whatever the field.
_INT_RANGE = (-(2**63), 2**64 - 1)
#: Characters of a value quoted in an error message.
_QUOTE = 60

T = TypeVar("T")


class _Missing:
    """The default of a required field (``None`` is a default some fields take)."""


_MISSING = _Missing()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:_QUOTE]} is too large")
    return value


def _int(text: str) -> int:
    # Python refuses to convert more than 4300 digits (ValueError, caught below); the
    # range keeps what is accepted to what can be stored or signed.
    value = int(text)
    if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise ValueError(f"integer {text[:20]}… does not fit in 64 bits")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key[:_QUOTE]!r} appears twice in one object")
        out[key] = value
    return out


def _depth_at_most(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(data: bytes | str, what: str, *, hint: str | None = None) -> Any:
    """The JSON value in ``data`` (UTF-8, a leading byte-order mark allowed), or an
    :class:`InputError` naming ``what``."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{what} is not UTF-8 text (byte {exc.start})", hint) from None
    else:
        text = data
    text = text.removeprefix("\ufeff")  # what some editors put first
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_float,
            parse_int=_int,
            object_pairs_hook=_unique,
        )
    except RecursionError:
        raise InputError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels", hint) from None
    except ValueError as exc:  # json.JSONDecodeError is one, with the line and column
        raise InputError(f"{what} is not valid JSON: {_one_line(exc)}", hint) from None
    if not _depth_at_most(value, MAX_JSON_DEPTH):
        raise InputError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels", hint)
    return value


def _one_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def read_limited(path: Path, what: str, max_bytes: int, *, hint: str | None = None) -> bytes:
    """The bytes of the file at ``path``, at most ``max_bytes``; an :class:`InputError`
    that says why not otherwise."""
    try:
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}", hint) from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not {what}", hint) from None
    except PermissionError:
        raise InputError(f"cannot read {path}: permission denied", hint) from None
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or type(exc).__name__}", hint
        ) from None
    if len(data) > max_bytes:
        raise InputError(f"{path} is larger than {max_bytes} bytes; is it {what}?", hint)
    return data


def read_json_file(
    path: Path, what: str, *, max_bytes: int = MAX_JSON_BYTES, hint: str | None = None
) -> Any:
    """The JSON value in the file at ``path`` (``what`` it should be, for messages)."""
    return parse_json(read_limited(path, what, max_bytes, hint=hint), str(path), hint=hint)


# -- fields -----------------------------------------------------------------------------


def json_object(value: Any, what: str, *, hint: str | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object", hint)
    return value


def _field(obj: Mapping[str, Any], name: str, what: str, default: object) -> tuple[bool, Any]:
    """(present, value): the value, or ``default`` if absent and one is given."""
    if name in obj:
        return True, obj[name]
    if isinstance(default, _Missing):
        raise InputError(f"{what}: field {name!r} is missing")
    return False, default


@overload
def get_str(obj: Mapping[str, Any], name: str, what: str) -> str: ...
@overload
def get_str(obj: Mapping[str, Any], name: str, what: str, default: T) -> str | T: ...
def get_str(obj: Mapping[str, Any], name: str, what: str, default: object = _MISSING) -> object:
    """A string field (``default`` if absent)."""
    present, value = _field(obj, name, what, default)
    if present and not isinstance(value, str):
        raise InputError(f"{what}: field {name!r} must be a string")
    return value


@overload
def get_int(
    obj: Mapping[str, Any], name: str, what: str, *, lo: int = 0, hi: int = MAX_INT
) -> int: ...
@overload
def get_int(
    obj: Mapping[str, Any], name: str, what: str, default: T, *, lo: int = 0, hi: int = MAX_INT
) -> int | T: ...
def get_int(
    obj: Mapping[str, Any],
    name: str,
    what: str,
    default: object = _MISSING,
    *,
    lo: int = 0,
    hi: int = MAX_INT,
) -> object:
    """An integer field from ``lo`` to ``hi`` (``true`` and ``1.0`` are not integers)."""
    present, value = _field(obj, name, what, default)
    if present and (type(value) is not int or not lo <= value <= hi):
        raise InputError(f"{what}: field {name!r} must be an integer from {lo} to {hi}")
    return value


@overload
def get_number(
    obj: Mapping[str, Any], name: str, what: str, *, lo: float = 0.0, hi: float = 1e12
) -> float: ...
@overload
def get_number(
    obj: Mapping[str, Any],
    name: str,
    what: str,
    default: T,
    *,
    lo: float = 0.0,
    hi: float = 1e12,
) -> float | T: ...
def get_number(
    obj: Mapping[str, Any],
    name: str,
    what: str,
    default: object = _MISSING,
    *,
    lo: float = 0.0,
    hi: float = 1e12,
) -> object:
    """A number field (integer or decimal, finite, not ``true``) from ``lo`` to ``hi``."""
    present, value = _field(obj, name, what, default)
    if present and (type(value) not in (int, float) or not lo <= value <= hi):
        raise InputError(f"{what}: field {name!r} must be a number from {lo:g} to {hi:g}")
    return value


@overload
def get_list(obj: Mapping[str, Any], name: str, what: str) -> list[Any]: ...
@overload
def get_list(obj: Mapping[str, Any], name: str, what: str, default: T) -> list[Any] | T: ...
def get_list(obj: Mapping[str, Any], name: str, what: str, default: object = _MISSING) -> object:
    present, value = _field(obj, name, what, default)
    if present and not isinstance(value, list):
        raise InputError(f"{what}: field {name!r} must be a list")
    return value


@overload
def get_object(obj: Mapping[str, Any], name: str, what: str) -> dict[str, Any]: ...
@overload
def get_object(obj: Mapping[str, Any], name: str, what: str, default: T) -> dict[str, Any] | T: ...
def get_object(obj: Mapping[str, Any], name: str, what: str, default: object = _MISSING) -> object:
    present, value = _field(obj, name, what, default)
    if present and not isinstance(value, dict):
        raise InputError(f"{what}: field {name!r} must be an object")
    return value


# -- settings files -----------------------------------------------------------------------


def settings_from_json(cls: type[T], raw: Any, what: str) -> T:
    """An instance of the dataclass ``cls`` from a JSON object of some of its fields,
    each checked against the field's annotation (``int``, ``float``, ``str``, ``bool``
    and ``X | None``; numbers finite and not negative). Unknown keys are refused.

    Used for ``daemon.json``: a setting of the wrong type used to be taken as it was
    and fail later, inside the running daemon.
    """
    obj = json_object(raw, what)
    assert dataclasses.is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(obj) - known)
    if unknown:
        raise InputError(f"{what}: unknown settings {', '.join(unknown)}")
    for name, value in obj.items():
        if not _fits(value, hints[name]):
            raise InputError(f"{what}: setting {name!r} must be {_describe(hints[name])}")
    return cls(**obj)


def _alternatives(hint: Any) -> tuple[Any, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def _fits(value: Any, hint: Any) -> bool:
    for kind in _alternatives(hint):
        if kind is type(None) and value is None:
            return True
        if kind is bool and type(value) is bool:
            return True
        if kind is int and type(value) is int and 0 <= value <= MAX_INT:
            return True
        if kind is float and type(value) in (int, float) and 0 <= value <= 1e12:
            return True
        if kind is str and isinstance(value, str):
            return True
        if kind not in (type(None), bool, int, float, str):
            return True  # a type this reader does not know: the dataclass decides
    return False


def _describe(hint: Any) -> str:
    names = {
        type(None): "null",
        bool: "true or false",
        int: f"an integer from 0 to {MAX_INT}",
        float: "a number from 0 to 1e12",
        str: "a string",
    }
    return " or ".join(names.get(kind, str(kind)) for kind in _alternatives(hint))
