"""Fuzz target: C2SP checkpoint notes and their cosignature lines
(``SignedCheckpoint.from_bytes``). Only a ProtocolError may come out."""

from __future__ import annotations

import contextlib

from _harness import fuzz, instrumented

with instrumented():
    from protocol.checkpoint import SignedCheckpoint
    from protocol.errors import ProtocolError


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        SignedCheckpoint.from_bytes(data)


if __name__ == "__main__":
    fuzz(test_one_input)
