"""Evidence of witnessing: an envelope proven to be in a checkpoint that witnesses cosigned.

When a key is revoked as compromised from a time C, an envelope it signed dated
before C is accepted only if it provably existed before C. A node's log proves
it: the envelope's leaf is in a checkpoint of the log, and another node
cosigned that checkpoint at a time before C. The object that carries this from
one node to another::

    evidence = [1, envelope_id: bin(32), index: int, proof: [bin(32)], note: bin]

``note`` is the log's checkpoint note with its cosignature lines, exactly as
signed; ``index`` and ``proof`` the RFC 9162 inclusion proof of the envelope's
leaf (``SHA-256(00 || id)``) in that checkpoint. Everything here checks form and
the Merkle proof only; whose signatures and cosignatures count, and so what
time the evidence proves, is decided in ``keys/evidence.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .canonical import decode_canonical, encode_canonical
from .checkpoint import SignedCheckpoint
from .errors import DecodeError, FieldError, ProtocolError
from .limits import DEFAULT_LIMITS, Limits
from .merkle import leaf_hash, verify_inclusion

__all__ = ["MAX_EVIDENCE_BYTES", "WitnessEvidence"]

#: A note (16 KiB at most) and 64 proof hashes fit well under this.
MAX_EVIDENCE_BYTES = 32 * 1024
_MAX_PROOF = 64


@dataclass(frozen=True, slots=True)
class WitnessEvidence:
    """An envelope's inclusion in a signed, possibly cosigned, checkpoint.

    Existing means "well-formed, and the proof holds against the note's root";
    not that the note is signed by anyone in particular.
    """

    envelope_id: bytes
    index: int
    proof: tuple[bytes, ...]
    checkpoint: SignedCheckpoint

    def __post_init__(self) -> None:
        cp = self.checkpoint.checkpoint
        verify_inclusion(
            leaf_hash(self.envelope_id), self.index, cp.size, list(self.proof), cp.root
        )

    def to_bytes(self) -> bytes:
        return encode_canonical(
            [1, self.envelope_id, self.index, list(self.proof), self.checkpoint.note]
        )

    @classmethod
    def from_bytes(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> WitnessEvidence:
        if type(data) is not bytes:
            raise DecodeError("witness evidence is decoded from bytes")
        value = decode_canonical(data, limits, MAX_EVIDENCE_BYTES, "witness evidence")
        if type(value) is not list or len(value) != 5 or value[0] != 1:
            raise DecodeError("witness evidence is not [1, id, index, proof, note]")
        _, envelope_id, index, proof, note = value
        if type(envelope_id) is not bytes or len(envelope_id) != 32:
            raise FieldError("witness evidence: the envelope id is not 32 bytes")
        if type(index) is not int or index < 0:
            raise FieldError("witness evidence: the index is not a non-negative integer")
        if (
            type(proof) is not list
            or len(proof) > _MAX_PROOF
            or not all(type(h) is bytes and len(h) == 32 for h in proof)
        ):
            raise FieldError("witness evidence: the proof is not a list of 32-byte hashes")
        if type(note) is not bytes:
            raise FieldError("witness evidence: the note is not bytes")
        try:
            return cls(envelope_id, index, tuple(proof), SignedCheckpoint.from_bytes(note))
        except ProtocolError as exc:
            raise FieldError(f"witness evidence: {exc.message}") from None
