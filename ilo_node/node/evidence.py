"""Evidence that envelopes were witnessed: served from this node's log, kept from peers'.

An envelope whose key was revoked as compromised from C, dated before C, is
accepted only with proof that it existed before C (:mod:`keys.decide`). This
node can give that proof for every envelope in its own log — its checkpoints,
and the cosignatures peers made of them — and keeps the proofs peers give it
for envelopes it holds in quarantine, so that a node that first hears of an
envelope after the revocation can still accept it.
"""

from __future__ import annotations

from collections.abc import Iterable

from keys.evidence import witnessed_at
from protocol.checkpoint import SignedCheckpoint
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.evidence import WitnessEvidence

from .state import NodeState
from .store import transaction

__all__ = ["MAX_EVIDENCE_ASKED", "EvidenceStore"]

#: Most envelope ids one request may ask evidence for.
MAX_EVIDENCE_ASKED = 64


class EvidenceStore:
    def __init__(self, state: NodeState) -> None:
        self.s = state

    def _from_own_log(self, envelope_id: bytes) -> bytes | None:
        db = self.s.db
        row = db.execute("SELECT idx FROM envelopes WHERE id = ?", [envelope_id]).fetchone()
        if row is None:
            return None
        index = int(row[0])
        # The earliest cosignature of a checkpoint covering it, else the first such
        # checkpoint of ours (our own word counts for envelopes we did not author).
        found = (
            db.execute(
                "SELECT size, note FROM cosignatures WHERE size > ? ORDER BY time_s LIMIT 1",
                [index],
            ).fetchone()
            or db.execute(
                "SELECT size, note FROM checkpoints WHERE size > ? ORDER BY size LIMIT 1", [index]
            ).fetchone()
        )
        if found is None:
            return None
        size, note = int(found[0]), bytes(found[1])
        proof = tuple(self.s.log.tree.inclusion_proof(index, size))
        try:
            signed = SignedCheckpoint.from_bytes(note)
            return WitnessEvidence(envelope_id, index, proof, signed).to_bytes()
        except ProtocolError:
            return None

    def for_ids(self, ids: Iterable[bytes]) -> list[bytes]:
        """Evidence for those of ``ids`` this node can prove or holds proof of."""
        out: list[bytes] = []
        for envelope_id in list(ids)[:MAX_EVIDENCE_ASKED]:
            own = self._from_own_log(envelope_id)
            if own is not None:
                out.append(own)
                continue
            row = self.s.db.execute(
                "SELECT evidence FROM evidence WHERE envelope_id = ?", [envelope_id]
            ).fetchone()
            if row is not None:
                out.append(bytes(row[0]))
        return out

    def add(self, items: Iterable[bytes], quarantined: dict[bytes, bytes]) -> int:
        """Keep the evidence that proves a time for an envelope of ``quarantined``
        (id -> raw envelope); returns how many envelopes got an earlier time."""
        improved = 0
        now = self.s.clock()
        for data in list(items)[:MAX_EVIDENCE_ASKED]:
            try:
                evidence = WitnessEvidence.from_bytes(data, self.s.limits)
                raw = quarantined.get(evidence.envelope_id)
                if raw is None:
                    continue
                author = Envelope.from_bytes(raw, self.s.limits).header.author_node
            except ProtocolError:
                continue
            time = witnessed_at(self.s.trust, evidence, author, now)
            if time is not None and self._keep(evidence.envelope_id, time, data, now):
                improved += 1
        return improved

    def _keep(self, envelope_id: bytes, time: int, data: bytes, now: int) -> bool:
        with transaction(self.s.db):
            row = self.s.db.execute(
                "SELECT witnessed_ms FROM evidence WHERE envelope_id = ?", [envelope_id]
            ).fetchone()
            if row is not None and int(row[0]) <= time:
                return False
            self.s.db.execute(
                "INSERT OR REPLACE INTO evidence (envelope_id, witnessed_ms, evidence, "
                "received_ms) VALUES (?, ?, ?, ?)",
                [envelope_id, time, data, now],
            )
        return True
