"""The one error hierarchy of ilo-node.

Every error the project raises on purpose derives from :class:`IloError`. Each
carries a one-line ``message`` (what is wrong) and ``advice`` (what an operator
can do about it); the CLI prints both and never a traceback. Messages never
contain secret material: they name fields, sizes and key ids, not contents.

::

    IloError
    ├── ProtocolError                 untrusted bytes were refused
    │   ├── DecodeError               the bytes are not a well-formed object
    │   │   ├── LimitExceededError    a size or count cap was hit while reading
    │   │   ├── NonCanonicalError     valid msgpack, but not the one canonical form
    │   │   ├── TrailingBytesError    bytes after the end of the object
    │   │   ├── UnsupportedVersionError
    │   │   ├── UnknownKindError
    │   │   └── FieldError            a field has the wrong type or an invalid value
    │   ├── SignatureError            the signature does not verify over the bytes
    │   ├── DecryptionError           cannot open the content
    │   │   ├── NotARecipientError    no wrapped key for any key we hold
    │   │   └── KeyCommitmentError    the content key does not match the signed commitment
    │   ├── ContentError              decrypted content violates the kind's schema
    │   ├── ChainError                an author's hash chain is broken
    │   │   ├── SequenceError         seq is not previous seq + 1
    │   │   ├── PrevHashError         prev does not name the previous envelope
    │   │   └── EquivocationError     two envelopes at one (author, seq)
    │   ├── ForkProofError            a claimed fork proof does not prove a fork
    │   ├── CheckpointError           a checkpoint or signed note was refused
    │   └── ProofError                a Merkle inclusion or consistency proof fails
    ├── TimeError                     an envelope's time is outside the accepted window
    └── UsageError                    a caller passed arguments that cannot work

Later layers (``keys/``, ``ilo_node/``) add their own subclasses of
:class:`IloError`; nothing else may escape a decoder.
"""

from __future__ import annotations

__all__ = [
    "ChainError",
    "CheckpointError",
    "ContentError",
    "DecodeError",
    "DecryptionError",
    "EquivocationError",
    "FieldError",
    "ForkProofError",
    "IloError",
    "KeyCommitmentError",
    "LimitExceededError",
    "NonCanonicalError",
    "NotARecipientError",
    "PrevHashError",
    "ProofError",
    "ProtocolError",
    "SequenceError",
    "SignatureError",
    "TimeError",
    "TrailingBytesError",
    "UnknownKindError",
    "UnsupportedVersionError",
    "UsageError",
]


class IloError(Exception):
    """Base of every error ilo-node raises on purpose."""

    default_advice = "See docs/operator-guide.md or report the problem with this message."
    #: The CLI's exit status for this error (docs/officer-guide.md lists them).
    exit_code = 1

    def __init__(self, message: str, advice: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice if advice is not None else self.default_advice

    def diagnostics(self) -> str:
        """The text the CLI shows: what went wrong, then what to do."""
        return f"error: {self.message}\nhint: {self.advice}"


class ProtocolError(IloError):
    default_advice = (
        "The input was refused and nothing was stored from it; if it came from a peer, "
        "the peer is running an incompatible or faulty implementation."
    )


class DecodeError(ProtocolError):
    pass


class LimitExceededError(DecodeError):
    default_advice = (
        "The input is larger than this node accepts; if it is legitimate, raise the "
        "limit in the node configuration on every node of the network."
    )


class NonCanonicalError(DecodeError):
    default_advice = (
        "The sender's encoder is not canonical (see docs/protocol.md, 'Canonical "
        "encoding'); the bytes were refused because their signature would be ambiguous."
    )


class TrailingBytesError(DecodeError):
    pass


class UnsupportedVersionError(DecodeError):
    default_advice = "Upgrade this node, or ask the sender to use a protocol version both support."


class UnknownKindError(DecodeError):
    default_advice = "The sender uses a message kind this node does not know; upgrade this node."


class FieldError(DecodeError):
    pass


class SignatureError(ProtocolError):
    default_advice = (
        "The bytes were altered in transit or signed by a different key; the envelope "
        "was refused. Repeated failures from one peer point to tampering."
    )


class DecryptionError(ProtocolError):
    pass


class NotARecipientError(DecryptionError):
    default_advice = (
        "This node holds no key the envelope was encrypted to: it can verify and relay "
        "it but not read it. If it should, check that its current prekey is published."
    )


class KeyCommitmentError(DecryptionError):
    default_advice = (
        "The author's envelope does not commit to the key it gave this recipient: treat "
        "the author as misbehaving and report it to the administrators."
    )


class ContentError(ProtocolError):
    pass


class ChainError(ProtocolError):
    pass


class SequenceError(ChainError):
    pass


class PrevHashError(ChainError):
    pass


class EquivocationError(ChainError):
    default_advice = (
        "The author signed two different envelopes with the same sequence number: keep "
        "the fork proof and alert the administrators; the author's key may be stolen."
    )


class ForkProofError(ProtocolError):
    pass


class ProofError(ProtocolError):
    default_advice = (
        "The log does not prove what was claimed: do not trust the node that produced "
        "this proof until the discrepancy is explained."
    )


class TimeError(IloError):
    default_advice = (
        "Check this machine's clock (it must be synchronised) and the sender's; the "
        "envelope is kept for retry if it may become valid later."
    )


class UsageError(IloError):
    """The command, its options or an input file were given wrongly (exit status 2,
    as for click's own usage errors)."""

    default_advice = "Check the arguments of the call."
    exit_code = 2


class CheckpointError(ProtocolError):
    """A checkpoint, signed note or cosignature was refused."""

    default_advice = (
        "The checkpoint was refused and nothing was recorded from it. If a peer sent "
        "it, that peer's log or signing code is faulty or the note was altered in "
        "transit; if it recurs, compare the note with the one the origin node publishes."
    )
