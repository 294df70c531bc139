"""Bodies of the peer API (docs/api.md): msgpack maps, decoded with caps and checked
field by field. Envelopes, documents and notes inside are opaque byte strings
here; they are verified by the protocol and trust layers when ingested."""

from __future__ import annotations

from typing import Any

import msgpack

from protocol.errors import DecodeError, FieldError, LimitExceededError

__all__ = ["MAX_BODY_BYTES", "decode_body", "encode_body", "get_bytes_list", "get_pairs"]

#: Largest request or response body; also enforced while reading the HTTP body.
MAX_BODY_BYTES = 16 * 1024 * 1024
_MAX_ITEMS = 100_000


def encode_body(value: dict[str, Any]) -> bytes:
    out = msgpack.packb(value, use_bin_type=True)
    assert isinstance(out, bytes)
    return out


def decode_body(data: bytes, what: str) -> dict[str, Any]:
    if len(data) > MAX_BODY_BYTES:
        raise LimitExceededError(f"{what} body is {len(data)} bytes, over {MAX_BODY_BYTES}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_array_len=_MAX_ITEMS,
            max_map_len=64,
            max_str_len=4096,
            max_bin_len=MAX_BODY_BYTES,
            max_ext_len=0,
        )
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise DecodeError(f"{what} body is not valid msgpack: {type(exc).__name__}") from None
    except (TypeError, UnicodeDecodeError) as exc:
        raise DecodeError(f"{what} body is not valid msgpack: {type(exc).__name__}") from None
    if not isinstance(value, dict):
        raise DecodeError(f"{what} body is not a map")
    return value


def get_bytes_list(body: dict[str, Any], name: str, required: bool = True) -> list[bytes]:
    value = body.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(type(v) is bytes for v in value):
        raise FieldError(f"field {name!r} must be a list of byte strings")
    return value


def get_pairs(body: dict[str, Any], name: str) -> list[tuple[bytes, int]]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise FieldError(f"field {name!r} must be a list")
    out: list[tuple[bytes, int]] = []
    for item in value:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or type(item[0]) is not bytes
            or type(item[1]) is not int
            or item[1] < 0
        ):
            raise FieldError(f"field {name!r} must hold [bytes, non-negative int] pairs")
        out.append((item[0], item[1]))
    return out
