"""Per-author hash chains and fork proofs."""

from __future__ import annotations

import itertools

import pytest

from protocol.chain import ForkProof, check_link, detect_fork
from protocol.envelope import Envelope
from protocol.errors import (
    EquivocationError,
    ForkProofError,
    PrevHashError,
    SequenceError,
)
from tests.support.helpers import NODES, make


def _chain(n: int) -> list[Envelope]:
    out = []
    prev = None
    for seq in range(1, n + 1):
        envelope = make(seq=seq, prev=prev)
        out.append(envelope)
        prev = envelope.id
    return out


def test_valid_chain_links() -> None:
    chain = _chain(5)
    check_link(None, chain[0])
    for before, after in itertools.pairwise(chain):
        check_link(before, after)


def test_chain_must_start_at_seq_1() -> None:
    chain = _chain(2)
    with pytest.raises(SequenceError, match="predecessors are missing"):
        check_link(None, chain[1])


def test_gap_in_sequence() -> None:
    chain = _chain(3)
    with pytest.raises(SequenceError):
        check_link(chain[0], chain[2])


def test_prev_must_name_predecessor() -> None:
    chain = _chain(2)
    stray = make(seq=2, prev=b"\x07" * 32)
    with pytest.raises(PrevHashError):
        check_link(chain[0], stray)


def test_other_author_is_not_a_successor() -> None:
    first = make()
    other = make(author="FR@TR", seq=2, prev=first.id)
    with pytest.raises(SequenceError):
        check_link(first, other)


def test_time_cannot_go_backwards() -> None:
    first = make(created_ms=2_000_000)
    second = make(seq=2, prev=first.id, created_ms=1_000_000)
    with pytest.raises(SequenceError, match="dated before"):
        check_link(first, second)


def test_equivocation_detected_and_proven() -> None:
    a = make(handling="H0")
    b = make(handling="H3")
    with pytest.raises(EquivocationError):
        check_link(a, b)
    proof = detect_fork(a, b)
    assert proof is not None
    decoded = ForkProof.from_bytes(proof.to_bytes())
    assert decoded == proof
    assert decoded.seq == 1
    assert decoded.author_key == NODES["DE@TR"].public
    assert detect_fork(b, a) == proof  # order-independent


def test_no_fork_for_same_envelope_or_different_seq() -> None:
    a = make()
    assert detect_fork(a, a) is None
    assert detect_fork(a, make(seq=2, prev=a.id)) is None
    assert detect_fork(a, make(author="FR@TR")) is None


def test_fork_proof_constructor_validates() -> None:
    a, b = sorted([make(handling="H0"), make(handling="H3")], key=lambda e: e.id)
    with pytest.raises(ForkProofError):
        ForkProof(b, a)
    with pytest.raises(ForkProofError):
        ForkProof(a, a)


def test_fork_proof_garbage() -> None:
    for data in (b"", b"\x93", b"\x00" * 40, b"\x93\x01\xc4\x00\xc4\x00"):
        with pytest.raises(ForkProofError):
            ForkProof.from_bytes(data)
