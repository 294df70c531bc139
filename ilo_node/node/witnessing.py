"""What this node witnessed of other nodes' logs, the cosignatures of its own, split views.

The verdicts are the trust layer's (:mod:`keys.witness`, and
:meth:`keys.trust.TrustState.verify_checkpoint` for signatures); this module
feeds them with what was recorded before and records what they decide. Gossip
fetches the notes and proofs and calls in here; it decides nothing itself.

Tables: ``witnessed`` (other nodes' checkpoints accepted), ``cosignatures``
(witnesses' cosignatures of this node's checkpoints), ``split_views``.
"""

from __future__ import annotations

from collections.abc import Sequence

from keys.errors import WitnessError
from keys.witness import (
    ConsistencyCheck,
    RestorePoint,
    SplitView,
    Witnessed,
    consistency_to_check,
    judge_consistency,
    judge_evidence,
    judge_fetched,
    judge_own_log,
    judge_same_size,
)
from protocol.checkpoint import SignedCheckpoint, node_of_origin, origin_for
from protocol.errors import ProtocolError

from .state import NodeState
from .store import transaction

__all__ = ["Witnessing"]


class Witnessing:
    def __init__(self, state: NodeState) -> None:
        self.s = state

    def origin(self, node: str) -> str:
        return origin_for(self.s.network, node)

    # -- records ----------------------------------------------------------------

    def last(self, node: str) -> Witnessed | None:
        row = self.s.db.execute(
            "SELECT size, root, note FROM witnessed WHERE origin = ? ORDER BY size DESC LIMIT 1",
            [self.origin(node)],
        ).fetchone()
        return Witnessed(int(row[0]), bytes(row[1]), bytes(row[2])) if row else None

    def _at_size(self, origin: str, size: int) -> bytes | None:
        row = self.s.db.execute(
            "SELECT note FROM witnessed WHERE origin = ? AND size = ?", [origin, size]
        ).fetchone()
        return bytes(row[0]) if row else None

    def notes_of(self, node: str) -> list[bytes]:
        """Every checkpoint of ``node``'s log this node accepted, as received."""
        rows = self.s.db.execute(
            "SELECT note FROM witnessed WHERE origin = ? ORDER BY size", [self.origin(node)]
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def latest_notes(self) -> list[bytes]:
        """For each origin witnessed, the largest checkpoint of it accepted (as received)."""
        rows = self.s.db.execute(
            "SELECT w.note FROM witnessed w WHERE w.size = "
            "(SELECT MAX(size) FROM witnessed x WHERE x.origin = w.origin)"
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def _record_witnessed(self, signed: SignedCheckpoint) -> None:
        cp = signed.checkpoint
        with transaction(self.s.db):
            self.s.db.execute(
                "INSERT OR IGNORE INTO witnessed (origin, size, root, time_ms, note, received_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [cp.origin, cp.size, cp.root, cp.time_ms, signed.note, self.s.clock()],
            )

    def record_split(self, split: SplitView) -> bool:
        """Keep split-view evidence; True if it was new."""
        a, b = sorted([split.note_a, split.note_b])
        with transaction(self.s.db):
            cursor = self.s.db.execute(
                "INSERT OR IGNORE INTO split_views (origin, note_a, note_b, reason, detected_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                [split.origin, a, b, split.reason, self.s.clock()],
            )
        return bool(cursor.rowcount)

    def split_views(self) -> list[SplitView]:
        return [
            SplitView(r[0], bytes(r[1]), bytes(r[2]), r[3])
            for r in self.s.db.execute(
                "SELECT origin, note_a, note_b, reason FROM split_views"
            ).fetchall()
        ]

    # -- verdicts ---------------------------------------------------------------

    def judge_fetched(
        self, node: str, note: bytes, proof: Sequence[bytes]
    ) -> tuple[SignedCheckpoint, SplitView | None]:
        """A checkpoint fetched from ``node`` itself, with a consistency proof from the
        last one witnessed. Records it if consistent (the caller may then cosign it),
        or the split view if not; :class:`WitnessError` if it is not ``node``'s."""
        signed = self.s.trust.verify_checkpoint(node, note, self.s.clock())
        split = judge_fetched(self.last(node), signed, proof)
        if split is None:
            self._record_witnessed(signed)
        return signed, split

    def judge_relayed(self, note: bytes) -> SplitView | ConsistencyCheck | None:
        """A checkpoint a peer witnessed of some log, against what was witnessed here:
        a split view, a proof still to fetch, or nothing to say."""
        try:
            signed = SignedCheckpoint.from_bytes(note)
        except ProtocolError:
            return None
        origin = signed.checkpoint.origin
        subject = node_of_origin(origin, self.s.network)
        if subject is None:
            return None
        try:
            self.s.trust.verify_checkpoint(subject, note, self.s.clock())
        except WitnessError:
            return None
        if subject == self.s.node_id:
            return self._judge_own(signed)
        same = self._at_size(origin, signed.checkpoint.size)
        if same is not None:
            return judge_same_size(same, signed)
        last = self.last(subject)
        if last is None:
            return None
        return consistency_to_check(subject, last, signed)

    def _judge_own(self, signed: SignedCheckpoint) -> SplitView | None:
        log, size = self.s.log, signed.checkpoint.size
        root = log.root(size) if size <= log.size else None
        note = log.checkpoint_note_at(size) if size <= log.size else None
        record = self.s.own_chain.record if self.s.own_chain is not None else None
        restores = [
            RestorePoint(r.restored_ms, r.backup_log_size)
            for r in (record.restores if record is not None else ())
        ]
        return judge_own_log(log.size, root, note or log.checkpoint_note_at(), signed, restores)

    def judge_consistency(
        self, check: ConsistencyCheck, proof: Sequence[bytes]
    ) -> SplitView | None:
        return judge_consistency(check, proof)

    def judge_evidence(self, origin: str, note_a: bytes, note_b: bytes) -> SplitView | None:
        """Split-view evidence from a peer, adopted only if it proves itself."""
        subject = node_of_origin(origin, self.s.network)
        if subject is None:
            return None
        now = self.s.clock()
        try:
            first = self.s.trust.verify_checkpoint(subject, note_a, now)
            second = self.s.trust.verify_checkpoint(subject, note_b, now)
        except WitnessError:
            return None
        split = judge_evidence(origin, first, second)
        if split is None or subject != self.s.node_id:
            return split
        # Evidence against this node's own log: of the two, the note that is not the log
        # it holds says what happened (a restore's lost history, or a stolen key).
        for signed in (first, second):
            own = self._judge_own(signed)
            if own is not None:
                return own
        return split

    def cosigned_at(self, size: int) -> list[bytes]:
        """The cosigned notes witnesses sent of this node's checkpoint at ``size``."""
        rows = self.s.db.execute(
            "SELECT note FROM cosignatures WHERE size = ? ORDER BY witness", [size]
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def largest_cosigned(self, at_least: int) -> int | None:
        """The largest size of this node's log of at least ``at_least`` that a witness
        cosigned, if any."""
        row = self.s.db.execute(
            "SELECT MAX(size) FROM cosignatures WHERE size >= ?", [at_least]
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def record_cosignature(self, note: bytes, witness: str) -> bool:
        """Keep a witness's cosignature of one of our checkpoints, if it verifies."""
        signed = SignedCheckpoint.from_bytes(note)  # a malformed note is the caller's 400
        cp = signed.checkpoint
        ours = self.s.log.checkpoint_note_at(cp.size)
        if ours is None or SignedCheckpoint.from_bytes(ours).checkpoint != cp:
            return False
        try:
            time_s = self.s.trust.verify_cosigner(signed, witness, self.s.clock())
        except WitnessError:
            return False
        with transaction(self.s.db):
            self.s.db.execute(
                "INSERT OR REPLACE INTO cosignatures (size, witness, time_s, note) "
                "VALUES (?, ?, ?, ?)",
                [cp.size, witness, time_s, note],
            )
        return True
