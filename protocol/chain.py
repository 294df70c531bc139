"""Per-author hash chains and fork proofs.

Each author key's envelopes form a chain: the first has ``seq`` 1 and no
``prev``; envelope ``n + 1`` names envelope ``n`` by id in ``prev``. Two
different envelopes by one author key at one ``seq`` are an equivocation, and
the pair is a :class:`ForkProof` that anyone can verify with nothing but the two
signed envelopes: both signatures are checked against the author key they carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from .canonical import decode_canonical, encode_canonical
from .envelope import Envelope
from .errors import (
    DecodeError,
    EquivocationError,
    ForkProofError,
    PrevHashError,
    ProtocolError,
    SequenceError,
    UnsupportedVersionError,
)
from .limits import DEFAULT_LIMITS, Limits

__all__ = ["FORK_PROOF_VERSION", "ForkProof", "check_link", "detect_fork"]

FORK_PROOF_VERSION = 1


def check_link(previous: Envelope | None, envelope: Envelope) -> None:
    """Check that ``envelope`` directly follows ``previous`` in its author's chain.

    ``previous`` is ``None`` when ``envelope`` claims to start the chain. Raises
    :class:`SequenceError`, :class:`PrevHashError` or :class:`EquivocationError`.
    """
    header = envelope.header
    if previous is None:
        if header.seq != 1:
            raise SequenceError(
                f"envelope {envelope.id.hex()[:16]}… has seq {header.seq} but its author's "
                "chain is empty here; its predecessors are missing"
            )
        return
    before = previous.header
    if before.author_key != header.author_key:
        raise SequenceError("envelopes of different authors are not one chain")
    if header.seq == before.seq and envelope.id != previous.id:
        raise EquivocationError(
            f"author {header.author_node} signed two different envelopes at seq {header.seq}"
        )
    if header.seq != before.seq + 1:
        raise SequenceError(
            f"envelope {envelope.id.hex()[:16]}… has seq {header.seq}, expected "
            f"{before.seq + 1} after the author's head"
        )
    if header.prev != previous.id:
        raise PrevHashError(
            f"envelope {envelope.id.hex()[:16]}… at seq {header.seq} does not name the "
            f"author's envelope at seq {before.seq} as its predecessor"
        )
    if header.created_ms < before.created_ms:
        raise SequenceError(f"envelope {envelope.id.hex()[:16]}… is dated before its predecessor")


@dataclass(frozen=True, slots=True)
class ForkProof:
    """Two validly signed, different envelopes by one author key at one seq."""

    first: Envelope
    second: Envelope

    def __post_init__(self) -> None:
        a, b = self.first.header, self.second.header
        if a.author_key != b.author_key:
            raise ForkProofError("fork proof envelopes are by different author keys")
        if a.seq != b.seq:
            raise ForkProofError(f"fork proof envelopes have different seq ({a.seq}, {b.seq})")
        if self.first.id == self.second.id:
            raise ForkProofError("fork proof envelopes are the same envelope")
        if self.first.id > self.second.id:
            raise ForkProofError("fork proof envelopes must be ordered by id")
        if a.network != b.network:
            raise ForkProofError("fork proof envelopes are from different networks")
        # Two signatures over the same signed bytes are not two statements: only
        # different signed content is an equivocation (this also keeps a lenient
        # Ed25519 verifier elsewhere from turning one envelope into a "fork").
        if self.first.to_bytes()[:-66] == self.second.to_bytes()[:-66]:
            raise ForkProofError("fork proof envelopes differ only in their signatures")

    @property
    def author_key(self) -> bytes:
        return self.first.header.author_key

    @property
    def seq(self) -> int:
        return self.first.header.seq

    def to_bytes(self) -> bytes:
        return encode_canonical([FORK_PROOF_VERSION, self.first.to_bytes(), self.second.to_bytes()])

    @classmethod
    def from_bytes(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> ForkProof:
        """Decode and verify a fork proof; raise :class:`ForkProofError` if it proves nothing."""
        try:
            value = decode_canonical(data, limits, 2 * limits.max_envelope_bytes + 16, "fork proof")
        except DecodeError as exc:
            raise ForkProofError(exc.message) from None
        if type(value) is not list or len(value) != 3:
            raise ForkProofError("fork proof is not [version, envelope, envelope]")
        version, first, second = value
        if version != FORK_PROOF_VERSION or type(version) is not int:
            raise UnsupportedVersionError(f"fork proof version {version!r} is not supported")
        if type(first) is not bytes or type(second) is not bytes:
            raise ForkProofError("fork proof envelopes must be byte strings")
        try:
            a = Envelope.from_bytes(first, limits)
            b = Envelope.from_bytes(second, limits)
        except ProtocolError as exc:
            raise ForkProofError(f"fork proof holds an invalid envelope: {exc.message}") from None
        return cls(a, b)


def detect_fork(a: Envelope, b: Envelope) -> ForkProof | None:
    """The fork proof for ``a`` and ``b`` if they equivocate, else ``None``."""
    if (
        a.header.author_key != b.header.author_key
        or a.header.seq != b.header.seq
        or a.header.network != b.header.network
        or a.to_bytes()[:-66] == b.to_bytes()[:-66]
    ):
        return None
    first, second = (a, b) if a.id < b.id else (b, a)
    return ForkProof(first, second)
