"""Reading a node's log: envelopes, readable content, heads for gossip, counts for status.

Nothing here writes. Gossip uses the heads and the ranges past a peer's heads
(anti-entropy costs what is missing, not the size of the log: one indexed range
query per author that is ahead); the CLI and the local API use the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.envelope import Content, Envelope

from .health import health
from .quarantine import Quarantine
from .state import NodeState

__all__ = ["LogView"]

#: Most envelopes sent back at once for heads that differ from a peer's.
_MAX_DIFFERING = 64


def _blob(value: object) -> bytes:
    """A BLOB column as bytes, whatever a changed database holds there (checks then fail)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return b""


class LogView:
    def __init__(self, state: NodeState) -> None:
        self.s = state

    def envelope(self, envelope_id: bytes) -> Envelope | None:
        row = self.s.db.execute("SELECT raw FROM envelopes WHERE id = ?", [envelope_id]).fetchone()
        return Envelope.from_bytes(row[0], self.s.limits) if row else None

    def content(self, envelope_id: bytes) -> tuple[bytes, bytes] | None:
        """The decrypted content bytes and the content key, if this node holds them."""
        row = self.s.db.execute(
            "SELECT content, content_key FROM contents WHERE envelope_id = ?", [envelope_id]
        ).fetchone()
        return (_blob(row[0]), _blob(row[1])) if row else None

    def read(self, envelope_id: bytes) -> Content | None:
        """The content, decrypted from the signed envelope with the stored key: never the
        stored plaintext, which a changed database could make say anything."""
        stored = self.content(envelope_id)
        envelope = self.envelope(envelope_id)
        if stored is None or envelope is None:
            return None
        return envelope.open_with_key(stored[1], self.s.limits)

    def readable_ids(self, kind: str) -> list[bytes]:
        """Every envelope of ``kind`` this node can read, in log order (the report reads
        all the contributions; the signed kind is checked by whoever opens each)."""
        rows = self.s.db.execute(
            "SELECT e.id FROM envelopes e JOIN contents c ON c.envelope_id = e.id "
            "WHERE e.kind = ? ORDER BY e.idx",
            [kind],
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def erasure_reason(self, envelope_id: bytes) -> str | None:
        row = self.s.db.execute(
            "SELECT reason FROM erasures WHERE envelope_id = ?", [envelope_id]
        ).fetchone()
        return str(row[0]) if row else None

    def readable(self, kind: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest envelopes this node can read, newest first. What is listed comes
        from the signed headers; the columns only choose the rows."""
        sql = "SELECT e.raw FROM envelopes e JOIN contents c ON c.envelope_id = e.id"
        args: list[Any] = []
        if kind:
            sql += " WHERE e.kind = ?"
            args.append(kind)
        sql += " ORDER BY e.idx DESC LIMIT ?"
        args.append(limit)
        out: list[dict[str, Any]] = []
        for (raw,) in self.s.db.execute(sql, args).fetchall():
            envelope = Envelope.from_bytes(bytes(raw), self.s.limits)
            h = envelope.header
            if kind and h.kind != kind:
                continue  # a changed column chose the row; the signed kind says otherwise
            out.append(
                {
                    "id": envelope.id.hex(),
                    "kind": h.kind,
                    "author": h.author_node,
                    "seq": h.seq,
                    "created_ms": h.created_ms,
                    "handling": h.handling,
                }
            )
        return out

    def counts(self) -> dict[str, int]:
        def one(sql: str) -> int:
            return int(self.s.db.execute(sql).fetchone()[0])

        return {
            "envelopes": one("SELECT COUNT(*) FROM envelopes"),
            "readable": one("SELECT COUNT(*) FROM contents"),
            "erased": one("SELECT COUNT(*) FROM erasures"),
            "quarantined": one("SELECT COUNT(*) FROM quarantine"),
            "forks": one("SELECT COUNT(*) FROM forks"),
            "checkpoints": one("SELECT COUNT(*) FROM checkpoints"),
            "authors_held": one("SELECT COUNT(*) FROM heads WHERE held_since_ms IS NOT NULL"),
        }

    def status(self) -> dict[str, Any]:
        """What ``ilo-node status`` shows of the log, whether or not the node runs."""
        s = self.s
        roster = s.trust.chain.status(s.clock())
        latest = s.log.latest_checkpoint()
        splits = s.db.execute(
            "SELECT origin, reason, detected_ms FROM split_views ORDER BY detected_ms"
        ).fetchall()
        return {
            "node": s.node_id,
            "network": s.network,
            "log_size": s.log.size,
            **self.counts(),
            "latest_checkpoint": latest.checkpoint.size if latest else None,
            # What a report can be built at: the largest checkpoint a peer witnessed.
            "latest_cosigned": s.db.execute("SELECT MAX(size) FROM cosignatures").fetchone()[0],
            "split_views": [{"origin": o, "reason": r, "detected_ms": t} for o, r, t in splits],
            "roster": {"version": roster.version, "state": roster.state, "message": roster.message},
            "quarantine_reasons": Quarantine(s, s.quarantine_limits).reasons(),
            # Health beyond the counts (node/health.py): separate keys, one per subject.
            **health(s),
            # After a restore: whether the node publishes again yet, and who it heard from.
            "restore": s.own_chain.status() if s.own_chain is not None else None,
        }

    # -- for gossip -------------------------------------------------------------

    def heads(self) -> dict[bytes, int]:
        """Per author key, the highest seq placed in this log."""
        return {
            bytes(k): int(q)
            for k, q in self.s.db.execute("SELECT author_key, seq FROM heads").fetchall()
        }

    def head_ids(self) -> dict[bytes, bytes]:
        return {
            bytes(k): bytes(i)
            for k, i in self.s.db.execute("SELECT author_key, envelope_id FROM heads").fetchall()
        }

    def differing_heads(self, peer_head_ids: Mapping[bytes, tuple[int, bytes]]) -> list[bytes]:
        """Our envelopes at the seqs where a peer's head differs from what we hold there:
        sent so that an equivocation held by two nodes meets and becomes a fork proof."""
        out: list[bytes] = []
        for author, (seq, envelope_id) in peer_head_ids.items():
            row = self.s.db.execute(
                "SELECT id, raw FROM envelopes WHERE author_key = ? AND seq = ?", [author, seq]
            ).fetchone()
            if row is not None and bytes(row[0]) != envelope_id:
                out.append(bytes(row[1]))
        return out[:_MAX_DIFFERING]

    def envelopes_beyond(
        self, peer_heads: Mapping[bytes, int], max_bytes: int
    ) -> tuple[list[bytes], bool]:
        """Envelopes this log has past ``peer_heads``, in chain order, up to ``max_bytes``;
        and whether more remain."""
        out: list[bytes] = []
        size = 0
        for author, seq in sorted(self.heads().items()):
            theirs = peer_heads.get(author, 0)
            if seq <= theirs:
                continue
            rows = self.s.db.execute(
                "SELECT raw FROM envelopes WHERE author_key = ? AND seq > ? ORDER BY seq",
                [author, theirs],
            )
            for (raw,) in rows:
                if size + len(raw) > max_bytes and out:
                    return out, True
                out.append(bytes(raw))
                size += len(raw)
        return out, False

    def fork_proofs(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.s.db.execute("SELECT proof FROM forks").fetchall()]
