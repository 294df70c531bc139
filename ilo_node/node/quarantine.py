"""The quarantine: envelopes that cannot be placed yet, kept with what they wait for.

An envelope waits for a certificate or a roster (``trust:``), its predecessor
(``pred:``), an administrator after its author equivocated (``held:``), proof
that it was witnessed before its key's compromise (``witness:``), or evidence
of a fork (``fork-evidence:``). It is retried when what it waits for arrives.

The quarantine is bounded three ways, so that no author and no sending peer
can fill it for the others: in all, per author key, and per sending peer. What
does not fit is not stored (``deferred``: the sender keeps it and sends again)
and is counted in the node's counters (``quarantine_refused``, by bound).
"""

from __future__ import annotations

from protocol.envelope import Envelope

from .results import IngestResult
from .state import NodeState, QuarantineLimits

__all__ = ["Quarantine"]

_BY_AUTHOR = "SELECT COUNT(*) FROM quarantine WHERE author_key = ?"
_BY_SENDER = "SELECT COUNT(*) FROM quarantine WHERE sender = ?"


class Quarantine:
    def __init__(self, state: NodeState, limits: QuarantineLimits | None = None) -> None:
        self.s = state
        self.limits = limits or QuarantineLimits()

    def _count(self, sql: str, *args: object) -> int:
        return int(self.s.db.execute(sql, list(args)).fetchone()[0])

    def _refused(self, bound: str, envelope: Envelope, detail: str) -> IngestResult:
        self.s.counters.add("quarantine_refused", bound)
        return IngestResult("deferred", f"{detail}; send again later", envelope.id)

    def hold(
        self, envelope: Envelope, reason: str, waiting_for: str, now: int, sender: str
    ) -> IngestResult:
        """Keep a new envelope, if the bounds allow."""
        limits = self.limits
        if (total := self._count("SELECT COUNT(*) FROM quarantine")) >= limits.total:
            return self._refused("full", envelope, f"quarantine is full ({total})")
        author = envelope.header.author_key
        if self._count(_BY_AUTHOR, author) >= limits.per_author:
            return self._refused(
                "author",
                envelope,
                f"{limits.per_author} envelopes of this author key already wait in quarantine",
            )
        if sender and self._count(_BY_SENDER, sender) >= limits.per_sender:
            return self._refused(
                "sender", envelope, f"{limits.per_sender} envelopes from {sender} already wait"
            )
        self.s.db.execute(
            "INSERT OR IGNORE INTO quarantine (id, raw, author_key, seq, reason, waiting_for, "
            "first_seen_ms, last_try_ms, attempts, sender, target) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            [
                envelope.id,
                envelope.to_bytes(),
                author,
                envelope.header.seq,
                reason,
                waiting_for,
                now,
                now,
                sender,
                _target(waiting_for),
            ],
        )
        return IngestResult("quarantined", reason, envelope.id)

    def still_waiting(
        self, envelope: Envelope, reason: str, waiting_for: str, now: int
    ) -> IngestResult:
        """A retried envelope that still cannot be placed."""
        self.s.db.execute(
            "UPDATE quarantine SET reason = ?, waiting_for = ?, last_try_ms = ?, "
            "attempts = attempts + 1, target = ? WHERE id = ?",
            [reason, waiting_for, now, _target(waiting_for), envelope.id],
        )
        return IngestResult("quarantined", reason, envelope.id)

    def remove(self, envelope_id: bytes) -> None:
        self.s.db.execute("DELETE FROM quarantine WHERE id = ?", [envelope_id])

    def ready(self, everything: bool) -> list[bytes]:
        """What to retry: envelopes whose predecessor is now the head, or (after trust
        documents or evidence arrived) everything that may still become valid."""
        if everything:
            sql = "SELECT raw FROM quarantine WHERE waiting_for != 'never' ORDER BY author_key, seq"
        else:
            # Envelopes whose predecessor is now the head, and retractions, corrections
            # and shares whose target is now in the log.
            sql = (
                "SELECT raw FROM (SELECT q.raw, q.author_key, q.seq FROM quarantine q "
                "JOIN heads h ON q.author_key = h.author_key "
                "WHERE q.waiting_for LIKE 'pred:%' AND q.seq = h.seq + 1 "
                "AND h.held_since_ms IS NULL "
                "UNION ALL SELECT q.raw, q.author_key, q.seq FROM quarantine q "
                "JOIN envelopes e ON e.id = q.target WHERE q.waiting_for LIKE 'target:%') "
                "ORDER BY author_key, seq"
            )
        return [bytes(r[0]) for r in self.s.db.execute(sql).fetchall()]

    def waiting_for_evidence(self, limit: int = 64) -> list[bytes]:
        """Ids of envelopes that wait for proof they were witnessed before a compromise."""
        rows = self.s.db.execute(
            "SELECT id FROM quarantine WHERE waiting_for LIKE 'witness:%' "
            "ORDER BY last_try_ms LIMIT ?",
            [limit],
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def raw(self, envelope_id: bytes) -> bytes | None:
        row = self.s.db.execute("SELECT raw FROM quarantine WHERE id = ?", [envelope_id]).fetchone()
        return bytes(row[0]) if row else None

    def reasons(self, limit: int = 5) -> dict[str, int]:
        rows = self.s.db.execute(
            "SELECT reason, COUNT(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC LIMIT ?",
            [limit],
        ).fetchall()
        return {str(r): int(n) for r, n in rows}


def _target(waiting_for: str) -> bytes | None:
    """The envelope a quarantined envelope waits for, if it waits for one (indexed, so
    that its arrival finds the waiting envelopes without a scan)."""
    if not waiting_for.startswith("target:"):
        return None
    return bytes.fromhex(waiting_for.removeprefix("target:"))
