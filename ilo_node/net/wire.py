"""Bodies of the peer API (docs/api.md): msgpack maps, decoded with caps and checked
field by field. Envelopes, documents and notes inside are opaque byte strings
here; they are verified by the protocol and trust layers when ingested.

Every field of every body, request or answer, is read through the ``get_*``
functions below, so each route checks types the same way: an exact type (``bool``
is not an ``int``, ``str`` is not ``bytes``), a range for integers and a size for
fixed-size byte strings. A value that fails is a :class:`FieldError` (answered
400 by the service, a bad answer by gossip), never something that reaches SQLite
or a decoder as the wrong type.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

import msgpack

from protocol.errors import DecodeError, FieldError, LimitExceededError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_INT",
    "decode_body",
    "encode_body",
    "error_body",
    "get_bool",
    "get_bytes",
    "get_bytes_list",
    "get_int",
    "get_list",
    "get_pairs",
    "get_str",
    "get_str_list",
    "query_int",
    "split_target",
]

#: Largest request or response body; also enforced while reading the HTTP body.
MAX_BODY_BYTES = 16 * 1024 * 1024
_MAX_ITEMS = 100_000
#: Largest integer any field or query parameter may hold. Sizes, sequence numbers and
#: times end up in SQLite, whose INTEGER is signed 64-bit: a larger value (msgpack
#: carries up to 2**64 - 1) would make the query raise instead of answering 400.
MAX_INT = 2**63 - 1
#: Most characters of an error message sent back; messages may quote what was sent.
_MAX_ERROR_CHARS = 512
#: Most characters of an integer query parameter: MAX_INT has 19 digits.
_MAX_DIGITS = 19


def encode_body(value: dict[str, Any]) -> bytes:
    out = msgpack.packb(value, use_bin_type=True)
    assert isinstance(out, bytes)
    return out


def error_body(message: str) -> bytes:
    """``{"error": message}``, encodable whatever the message quotes.

    aiohttp hands header values over with undecodable bytes as lone surrogates, and
    a message that quotes one cannot be encoded as UTF-8; those become ``\\udcff``
    escapes instead of an exception while answering.
    """
    text = message[:_MAX_ERROR_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")
    return encode_body({"error": text})


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


# -- fields ---------------------------------------------------------------------------
#
# A field given as nil counts as absent: msgpack encoders write optional values as nil.


def get_list(body: dict[str, Any], name: str, required: bool = True) -> list[Any]:
    value = body.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise FieldError(f"field {name!r} must be a list")
    return value


def get_bytes(body: dict[str, Any], name: str, *, size: int | None = None) -> bytes:
    value = body.get(name)
    if type(value) is not bytes or (size is not None and len(value) != size):
        raise FieldError(
            f"field {name!r} must be bytes" + (f" of length {size}" if size is not None else "")
        )
    return value


def get_int(
    body: dict[str, Any], name: str, default: int, *, lo: int = 0, hi: int = MAX_INT
) -> int:
    value = body.get(name)
    if value is None:
        return default
    if type(value) is not int or not lo <= value <= hi:
        raise FieldError(f"field {name!r} must be an integer from {lo} to {hi}")
    return value


def get_bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if type(value) is not bool:
        raise FieldError(f"field {name!r} must be true or false")
    return value


def get_str(body: dict[str, Any], name: str, *, max_chars: int = 4096) -> str | None:
    """An optional text field (nil or absent: ``None``)."""
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not str or len(value) > max_chars:
        raise FieldError(f"field {name!r} must be text of at most {max_chars} characters")
    return value


def get_str_list(
    body: dict[str, Any], name: str, form: re.Pattern[str], what: str, *, max_items: int = 64
) -> list[str]:
    """An optional list of short codes, each of the plain form ``form``."""
    value = body.get(name)
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > max_items
        or not all(type(v) is str and form.fullmatch(v) for v in value)
    ):
        raise FieldError(f"field {name!r} must be a list of at most {max_items} {what}")
    return value


def get_bytes_list(
    body: dict[str, Any], name: str, required: bool = True, *, size: int | None = None
) -> list[bytes]:
    value = body.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(
        type(v) is bytes and (size is None or len(v) == size) for v in value
    ):
        raise FieldError(
            f"field {name!r} must be a list of byte strings"
            + (f" of length {size}" if size is not None else "")
        )
    return value


def get_pairs(
    body: dict[str, Any], name: str, *, key_size: int | None = None
) -> list[tuple[bytes, int]]:
    """``[[bytes, int]]``, as heads are: the int from 0 to :data:`MAX_INT`."""
    value = body.get(name, [])
    if not isinstance(value, list):
        raise FieldError(f"field {name!r} must be a list")
    out: list[tuple[bytes, int]] = []
    for item in value:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or type(item[0]) is not bytes
            or (key_size is not None and len(item[0]) != key_size)
            or type(item[1]) is not int
            or not 0 <= item[1] <= MAX_INT
        ):
            raise FieldError(
                f"field {name!r} must hold [bytes, int from 0 to {MAX_INT}] pairs"
                + (f" with {key_size}-byte keys" if key_size is not None else "")
            )
        out.append((item[0], item[1]))
    return out


# -- the request target -----------------------------------------------------------------


def split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    """The path and the query parameters of a request target (``path?query``).

    Split by hand rather than with ``urlsplit``: a target is a path, never a URL, and
    ``urlsplit`` raises on some (``//[x``) and reads others as a host (``//host/p``).
    """
    path, _, query = target.partition("?")
    path = path.partition("#")[0]
    return path, parse_qs(query.partition("#")[0], keep_blank_values=True)


def query_int(query: dict[str, list[str]], name: str, default: int) -> int:
    """A non-negative decimal query parameter (ASCII digits only, at most
    :data:`MAX_INT`)."""
    values = query.get(name)
    if not values:
        return default
    text = values[0]
    # str.isdigit() also accepts other scripts' digits and superscripts; int() takes
    # signs, spaces and underscores. Only the plain form is a size.
    if not (0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit()):
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
            raise FieldError(f"query parameter {name!r} must not be negative")
        raise FieldError(f"query parameter {name!r} must be an integer from 0 to {MAX_INT}")
    value = int(text)
    if value > MAX_INT:
        raise FieldError(f"query parameter {name!r} must be an integer from 0 to {MAX_INT}")
    return value
