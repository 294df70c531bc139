"""Fuzz target: envelopes and fork proofs from bytes (``Envelope.from_bytes``,
``ForkProof.from_bytes``). Only a ProtocolError may come out; an envelope that
decodes must re-encode to exactly the input."""

from __future__ import annotations

import contextlib

from _harness import fuzz, instrumented

with instrumented():
    from protocol.chain import ForkProof
    from protocol.envelope import Envelope
    from protocol.errors import ProtocolError


def test_one_input(data: bytes) -> None:
    try:
        envelope = Envelope.from_bytes(data)
    except ProtocolError:
        pass
    else:
        assert envelope.to_bytes() == data
    with contextlib.suppress(ProtocolError):
        ForkProof.from_bytes(data)


if __name__ == "__main__":
    fuzz(test_one_input)
