"""Canonical msgpack: the one byte form every signed or hashed object has.

Rules (docs/protocol.md, "Canonical encoding"):

* integers in the shortest msgpack form; no floats, no extension types, no nil
  except where a field allows it;
* text as msgpack ``str`` (valid UTF-8), bytes as msgpack ``bin``, both in the
  shortest length form;
* maps have ``str`` keys, unique, sorted by their UTF-8 bytes;
* exactly one top-level object, no trailing bytes.

The decoder checks canonicality by re-encoding what it read and comparing the
bytes: the re-encoding is never what gets verified, only a test that the input
already was the single canonical form.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import (
    DecodeError,
    LimitExceededError,
    NonCanonicalError,
    TrailingBytesError,
    UsageError,
)
from .limits import Limits

__all__ = ["decode_canonical", "encode_canonical"]

Value = Any  # msgpack-decoded value: None | bool | int | str | bytes | list | dict


def _refuse_ext(code: int, data: bytes) -> object:
    raise DecodeError(f"msgpack extension type {code} is not allowed")


def _unpack_options(limits: Limits, max_bytes: int) -> dict[str, Any]:
    return {
        "raw": False,
        "use_list": True,
        "strict_map_key": True,
        "max_str_len": limits.max_str_bytes,
        "max_bin_len": max_bytes,
        "max_array_len": limits.max_container_len,
        "max_map_len": limits.max_container_len,
        "max_ext_len": max_bytes,
        "ext_hook": _refuse_ext,
        "unicode_errors": "strict",
    }


def _check_value(value: Value, depth: int, limits: Limits) -> Value:
    if depth > limits.max_depth:
        raise LimitExceededError(f"nesting deeper than {limits.max_depth} levels")
    if isinstance(value, float):
        raise DecodeError("floating-point numbers are not allowed")
    if isinstance(value, msgpack.Timestamp | msgpack.ExtType):
        # msgpack-python decodes the timestamp extension without calling ext_hook.
        raise DecodeError("msgpack extension types (timestamps included) are not allowed")
    if isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1, limits)
    elif isinstance(value, dict):
        previous: bytes | None = None
        for key, item in value.items():
            if not isinstance(key, str):
                raise DecodeError("map keys must be strings")
            encoded = key.encode()
            # Sorted, unique keys are part of the canonical form; checking it here
            # lets the re-encoding below skip sorting.
            if previous is not None and encoded <= previous:
                raise NonCanonicalError("map keys are not sorted and unique")
            previous = encoded
            _check_value(item, depth + 1, limits)
    return value


def _sorted_maps(value: Value) -> Value:
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise UsageError("canonical msgpack maps have string keys only")
        return {k: _sorted_maps(value[k]) for k in sorted(value, key=lambda s: s.encode())}
    if isinstance(value, list | tuple):
        return [_sorted_maps(v) for v in value]
    if isinstance(value, float):
        raise UsageError("floating-point numbers are not allowed in canonical msgpack")
    return value


def encode_canonical(value: Value) -> bytes:
    """Encode ``value`` in canonical msgpack (maps sorted, shortest forms)."""
    try:
        out = msgpack.packb(_sorted_maps(value), use_bin_type=True, strict_types=False)
    except (OverflowError, TypeError, ValueError) as exc:
        raise UsageError(f"value cannot be encoded as canonical msgpack: {exc}") from None
    assert isinstance(out, bytes)
    return out


def decode_canonical(
    data: bytes, limits: Limits, max_bytes: int, what: str, *, typed_by_caller: bool = False
) -> Value:
    """Decode exactly one canonical msgpack object from ``data``.

    Raises a :class:`DecodeError` subclass naming ``what`` on any failure.
    ``typed_by_caller`` skips the walk over every value (floats, extension
    types, map keys, depth): only for callers that check the exact type of every
    element themselves right after, as the envelope parser does.
    """
    if len(data) > max_bytes:
        raise LimitExceededError(f"{what} is {len(data)} bytes, over the limit of {max_bytes}")
    try:
        value = msgpack.unpackb(data, **_unpack_options(limits, max_bytes))
    except msgpack.ExtraData as exc:
        raise TrailingBytesError(f"{what} has {len(exc.extra)} trailing bytes") from None
    except ValueError as exc:
        # msgpack signals a declared count over a cap with ValueError, on reading it.
        message = str(exc)
        if "exceeds max" in message:
            raise LimitExceededError(f"{what}: {message}") from None
        if "incomplete" in message:
            raise DecodeError(f"{what} is truncated") from None
        raise DecodeError(f"{what} is not valid msgpack: {message}") from None
    except (msgpack.FormatError, msgpack.StackError) as exc:
        raise DecodeError(f"{what} is not valid msgpack: {type(exc).__name__}") from None
    except (UnicodeDecodeError, TypeError) as exc:
        raise DecodeError(f"{what} is not valid msgpack: {type(exc).__name__}") from None
    if not typed_by_caller:
        try:
            _check_value(value, 0, limits)
        except NonCanonicalError as exc:
            raise NonCanonicalError(f"{what}: {exc.message}") from None
    # Maps were checked to be in canonical order, so packing as decoded suffices.
    try:
        again = msgpack.packb(value, use_bin_type=True)
    except (OverflowError, TypeError, ValueError):
        raise DecodeError(f"{what} holds values that cannot be re-encoded") from None
    if again != data:
        raise NonCanonicalError(f"{what} is not in canonical msgpack form")
    return value
