"""Canonical msgpack: one byte form per value, caps applied while reading."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.canonical import decode_canonical, encode_canonical
from protocol.errors import (
    DecodeError,
    LimitExceededError,
    NonCanonicalError,
    TrailingBytesError,
    UsageError,
)
from protocol.limits import DEFAULT_LIMITS, Limits

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.text(max_size=40)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@given(values)
def test_round_trip_is_identity(value: object) -> None:
    data = encode_canonical(value)
    assert decode_canonical(data, DEFAULT_LIMITS, len(data), "value") == value
    assert encode_canonical(decode_canonical(data, DEFAULT_LIMITS, len(data), "value")) == data


@given(
    st.dictionaries(
        st.text(max_size=5), st.integers(-(1 << 63), (1 << 64) - 1), min_size=2, max_size=6
    )
)
def test_map_order_does_not_change_bytes(value: dict[str, int]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert encode_canonical(value) == encode_canonical(reordered)


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("int_not_shortest", b"\xcc\x01", NonCanonicalError),
        ("uint16_for_small", b"\xcd\x00\x05", NonCanonicalError),
        ("str8_for_short_string", b"\xd9\x01a", NonCanonicalError),
        ("map_keys_unsorted", b"\x82\xa1b\x01\xa1a\x02", NonCanonicalError),
        ("duplicate_map_key", b"\x82\xa1a\x01\xa1a\x02", NonCanonicalError),
        ("array16_for_short_array", b"\xdc\x00\x01\x01", NonCanonicalError),
        ("trailing_byte", b"\x01\x01", TrailingBytesError),
        ("truncated", b"\x92\x01", DecodeError),
        ("reserved_byte", b"\xc1", DecodeError),
        ("float32", b"\xca\x00\x00\x00\x00", DecodeError),
        ("float64", b"\xcb" + b"\x00" * 8, DecodeError),
        ("ext_type", b"\xd4\x01\x00", DecodeError),
        ("int_map_key", b"\x81\x01\x01", DecodeError),
        ("bin_map_key", b"\x81\xc4\x01a\x01", DecodeError),
        ("invalid_utf8", b"\xa1\xff", DecodeError),
        ("empty", b"", DecodeError),
    ],
)
def test_refusals(name: str, data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_canonical(data, DEFAULT_LIMITS, 1024, name)


def test_caps_apply_while_reading() -> None:
    limits = Limits(max_str_bytes=8, max_container_len=4, max_depth=3)
    with pytest.raises(LimitExceededError):
        decode_canonical(encode_canonical("x" * 9), limits, 100, "s")
    with pytest.raises(LimitExceededError):
        decode_canonical(encode_canonical([1, 2, 3, 4, 5]), limits, 100, "a")
    with pytest.raises(LimitExceededError):
        decode_canonical(encode_canonical([[[[[1]]]]]), limits, 100, "d")
    # A container length over the cap is refused on reading the length alone.
    with pytest.raises(LimitExceededError):
        decode_canonical(b"\xdd\x00\x01\x00\x00", limits, 100, "a")
    # A byte-string length beyond the (already capped) input is truncation.
    with pytest.raises(DecodeError, match="truncated"):
        decode_canonical(b"\xc6\x7f\xff\xff\xff", limits, 100, "b")
    with pytest.raises(LimitExceededError):
        decode_canonical(b"\x01" * 101, limits, 100, "too long")


def test_unencodable_values_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        encode_canonical(1 << 64)
    with pytest.raises(UsageError):
        encode_canonical({"a": object()})


def test_decoded_values_keep_types() -> None:
    data = msgpack.packb([True, 1, b"x", "x", None], use_bin_type=True)
    assert decode_canonical(data, DEFAULT_LIMITS, 100, "v") == [True, 1, b"x", "x", None]
