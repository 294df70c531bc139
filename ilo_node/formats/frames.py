"""Length-prefixed envelopes on a stream (``ilo-node log ingest``): 4 bytes big-endian, bytes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from protocol.errors import UsageError
from protocol.limits import DEFAULT_LIMITS

__all__ = ["read_frames"]


def read_frames(
    stream: BinaryIO, limit: int = DEFAULT_LIMITS.max_envelope_bytes
) -> Iterator[bytes]:
    """Each frame's bytes; a frame over ``limit`` is refused before it is read."""
    while True:
        head = stream.read(4)
        if not head:
            return
        if len(head) < 4:
            raise UsageError("input ended inside a frame header")
        length = int.from_bytes(head, "big")
        if length > limit:
            raise UsageError(f"frame of {length} bytes is over the envelope limit {limit}")
        body = stream.read(length)
        if len(body) < length:
            raise UsageError("input ended inside a frame")
        yield body
