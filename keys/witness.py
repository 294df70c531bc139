"""Witnessing verdicts: is another node's checkpoint consistent with what was seen of its log?

A node witnesses its peers' logs: it fetches each peer's latest signed
checkpoint with a consistency proof from the last one it accepted, and compares
the checkpoints its peers witnessed of third nodes with its own. Two signed
checkpoints of one log that cannot both be true are *split-view evidence*: the
log's node showed different histories to different nodes.

Everything here is I/O-free: the caller fetches notes and proofs, passes in
what it recorded before (:class:`Witnessed`), and stores what the verdict says.
Whether a note is signed by a key of its node at its time is decided by
:meth:`keys.trust.TrustState.verify_checkpoint` before a note gets here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protocol.checkpoint import SignedCheckpoint
from protocol.errors import ProtocolError
from protocol.merkle import verify_consistency

__all__ = [
    "ConsistencyCheck",
    "RestorePoint",
    "SplitView",
    "Witnessed",
    "consistency_to_check",
    "judge_consistency",
    "judge_evidence",
    "judge_fetched",
    "judge_own_log",
    "judge_same_size",
]


@dataclass(frozen=True, slots=True)
class Witnessed:
    """A checkpoint of a log that this node accepted earlier."""

    size: int
    root: bytes
    note: bytes

    @classmethod
    def of(cls, signed: SignedCheckpoint) -> Witnessed:
        return cls(signed.checkpoint.size, signed.checkpoint.root, signed.note)


@dataclass(frozen=True, slots=True)
class SplitView:
    """Two signed checkpoints of one origin that cannot both be true."""

    origin: str
    note_a: bytes
    note_b: bytes
    reason: str
    #: Of this node's own log: explained by a restore from a backup (the history after
    #: the backup was lost), not by a second log signed with its key.
    restored: bool = False


@dataclass(frozen=True, slots=True)
class RestorePoint:
    """This node's home was restored at ``restored_ms`` from a backup whose log had
    ``log_size`` envelopes."""

    restored_ms: int
    log_size: int


def judge_fetched(
    last: Witnessed | None, fetched: SignedCheckpoint, proof: Sequence[bytes]
) -> SplitView | None:
    """A checkpoint fetched from the log's own node, against the last one witnessed.

    ``None`` means consistent (or the first one seen): the caller records it and
    may cosign it.
    """
    if last is None:
        return None
    cp = fetched.checkpoint
    if cp.size < last.size:
        return SplitView(cp.origin, last.note, fetched.note, "the log shrank")
    if cp.size == last.size:
        if cp.root != last.root:
            return SplitView(cp.origin, last.note, fetched.note, "two roots for one size")
        return None
    try:
        verify_consistency(last.size, cp.size, last.root, cp.root, list(proof))
    except ProtocolError:
        return SplitView(cp.origin, last.note, fetched.note, "no valid consistency proof")
    return None


def judge_same_size(known_note: bytes, other: SignedCheckpoint) -> SplitView | None:
    """A checkpoint a peer witnessed, against the one of the same size witnessed here."""
    known = SignedCheckpoint.from_bytes(known_note)
    if known.checkpoint.root != other.checkpoint.root:
        return SplitView(other.checkpoint.origin, known_note, other.note, "two roots for one size")
    return None


@dataclass(frozen=True, slots=True)
class ConsistencyCheck:
    """A consistency proof to fetch from ``subject`` (the log's node) between two
    checkpoints of its log, before they can be judged (:func:`judge_consistency`)."""

    subject: str
    origin: str
    small: Witnessed
    large: Witnessed


def consistency_to_check(
    subject: str, last: Witnessed, other: SignedCheckpoint
) -> ConsistencyCheck:
    """For checkpoints of different sizes: which proof settles whether both can be true."""
    small, large = sorted([last, Witnessed.of(other)], key=lambda w: w.size)
    return ConsistencyCheck(subject, other.checkpoint.origin, small, large)


def judge_consistency(check: ConsistencyCheck, proof: Sequence[bytes]) -> SplitView | None:
    small, large = check.small, check.large
    try:
        verify_consistency(small.size, large.size, small.root, large.root, list(proof))
    except ProtocolError:
        return SplitView(check.origin, small.note, large.note, "no valid consistency proof")
    return None


def judge_evidence(
    origin: str, first: SignedCheckpoint, second: SignedCheckpoint
) -> SplitView | None:
    """Split-view evidence relayed by a peer proves itself only as one size with two
    roots, both notes of ``origin`` (their signatures checked by the caller)."""
    a, b = first.checkpoint, second.checkpoint
    if a.origin == b.origin == origin and a.size == b.size and a.root != b.root:
        return SplitView(origin, first.note, second.note, "two roots for one size (from a peer)")
    return None


def judge_own_log(
    own_size: int,
    own_root: bytes | None,
    own_note: bytes | None,
    other: SignedCheckpoint,
    restores: Sequence[RestorePoint] = (),
) -> SplitView | None:
    """A checkpoint of this node's *own* log that a peer witnessed, against the log itself.

    The caller has checked that a key of this node signed ``other``; if it is not the
    log this node holds (``own_root`` is the root at ``other``'s size, ``None`` when the
    log is smaller), someone else holds that key and signs a second log with it: the
    one sign of a stolen node key that only the victim can see. ``own_note`` is the
    node's own checkpoint at that size if it signed one (then the evidence proves
    itself to anyone), else its latest one.

    Unless this home was restored from a backup (``restores``) after ``other`` was
    signed, and ``other`` is larger than that backup's log: then it is this node's own
    history after the backup, which the restore lost (the split view is real, and its
    peers see it too, but it is no sign of a stolen key). The checkpoint's time is
    the log's own claim: a thief who back-dates a second log's checkpoints to before
    the restore is taken for the lost history.
    """
    cp = other.checkpoint
    if cp.size > own_size:
        reason = "a checkpoint of this node's log larger than the log: its key signs another log"
    elif cp.root != own_root:
        reason = "a checkpoint of this node's log with another root: its key signs another log"
    else:
        return None
    for restore in restores:
        if cp.time_ms < restore.restored_ms and cp.size > restore.log_size:
            reason = (
                "a checkpoint of this node's log signed before it was restored from a backup "
                f"of {restore.log_size} envelopes: the log after the backup was lost"
            )
            return SplitView(cp.origin, own_note or b"", other.note, reason, restored=True)
    return SplitView(cp.origin, own_note or b"", other.note, reason)
