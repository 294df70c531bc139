"""What a node does for its own officers: takes their signed envelopes, and shows them
what it can read.

Officers sign on their own side (``ilo_node/client/officer.py``); the node never
holds their keys. :class:`OfficerDesk` only

* reports the head of an officer key's chain, so an officer's home that lost
  track learns where its chain stands;
* takes envelopes an officer signed, checked to be that officer's at this node,
  through the one ingest path, and remembers recipients still to be given the
  content key once their prekey arrives (:meth:`share_pending`);
* lists and shows what this node can read, each with the raw envelope and its
  content key, so the officer's side opens and checks it against the author's
  signed key commitment itself, plus the envelopes that refer to it;
* keeps, per officer, which envelopes they have read.

Who the officer is was decided before any of this is called (the request's
signature, :func:`ilo_node.net.peerauth.verify_officer_request`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ilo_node.errors import InputError, NodeError
from keys.distribution import distribution_problem
from keys.errors import PrekeyError
from protocol.checkpoint import SignedCheckpoint
from protocol.envelope import Envelope, seal
from protocol.errors import ProtocolError

from .ingest import Ingestor
from .log import MerkleLog
from .results import IngestResult
from .state import NodeState
from .store import transaction

__all__ = ["MessageQuery", "OfficerDesk"]

#: Most messages one listing returns.
MAX_MESSAGES = 500
#: Most envelopes referring to one message that are returned with it.
_MAX_REFS = 64


@dataclass(frozen=True)
class MessageQuery:
    """Which readable messages an officer asks for; every filter is optional."""

    kinds: tuple[str, ...] = ()
    #: Author parties (``DE``), host countries (``TR``) and officers.
    parties: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    officers: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    unread_only: bool = False
    #: Leave out what the asking officer wrote.
    others_only: bool = False
    #: Ids (full) to return whatever the other filters say.
    ids: tuple[bytes, ...] = ()
    limit: int = 50
    #: Ids found by a text search first, in their order (None: no search).
    found: tuple[bytes, ...] | None = field(default=None)


class OfficerDesk:
    def __init__(self, state: NodeState, ingestor: Ingestor, log: MerkleLog) -> None:
        self.s = state
        self.ingestor = ingestor
        self.log = log

    # -- publishing -----------------------------------------------------------------

    def head(self, key: bytes) -> dict[str, Any]:
        head = self.ingestor.head(key)
        if head is None:
            return {"seq": 0, "id": None, "created_ms": 0}
        return {"seq": head.seq, "id": head.envelope_id, "created_ms": head.created_ms}

    def submit(
        self,
        officer: str,
        envelopes: Sequence[bytes],
        awaiting: dict[bytes, tuple[str, ...]],
    ) -> list[IngestResult]:
        """Ingest envelopes an officer of this node signed. Envelopes that do not name
        this officer at this node are refused before ingest: an officer hands over only
        their own words. ``awaiting``: per envelope id, the recipients it could not be
        sealed to yet."""
        results: list[IngestResult] = []
        for raw in envelopes:
            try:
                envelope = Envelope.from_bytes(raw, self.s.limits)
            except ProtocolError as exc:
                results.append(IngestResult("rejected", exc.message))
                continue
            header = envelope.header
            if header.author_node != self.s.node_id or header.author_officer != officer:
                results.append(
                    IngestResult(
                        "rejected",
                        f"officer {officer} may hand over only their own envelopes at "
                        f"{self.s.node_id}",
                        envelope.id,
                    )
                )
                continue
            result = self.ingestor.ingest([raw], source="officer")[0]
            late = awaiting.get(envelope.id, ())
            if late and result.status in ("accepted", "quarantined", "duplicate"):
                problem = self._await_prekeys(envelope, late)
                if problem is not None:
                    # Stored all the same: refusing the request now would leave an
                    # envelope the node holds in the officer's outbox, sent again forever.
                    result = replace(result, reason=f"{result.reason}; {problem}".lstrip("; "))
            results.append(result)
        return results

    def _await_prekeys(self, envelope: Envelope, nodes: Iterable[str]) -> str | None:
        """Note the recipients to share the key with later; what stands in the way of
        that, if anything (they are outside the envelope's distribution)."""
        header = envelope.header
        wanted = sorted(set(nodes) - set(header.recipients))
        if not wanted:
            return None
        problem = distribution_problem(
            self.s.trust.roster, header.author_node, header.distribution, header.created_ms, wanted
        )
        if problem is not None:
            return f"its key will not be given to {', '.join(wanted)}: {problem}"
        now = self.s.clock()
        with transaction(self.s.db):
            for node in wanted:
                self.s.db.execute(
                    "INSERT OR IGNORE INTO pending_shares (envelope_id, recipient, since_ms) "
                    "VALUES (?, ?, ?)",
                    [envelope.id, node, now],
                )
        return None

    def share_pending(self) -> list[bytes]:
        """Give the content key of waiting envelopes to the recipients whose prekey has
        now arrived, in one node-signed key share per envelope; returns the new shares
        (for gossip to push). Needs the envelope in the log and readable here."""
        s = self.s
        if s.signing is None or (s.own_chain is not None and s.own_chain.held):
            return []  # the shares wait: after a restore, the node's own chain is held
        rows = s.db.execute(
            "SELECT p.envelope_id, p.recipient, e.raw, c.content_key FROM pending_shares p "
            "JOIN envelopes e ON e.id = p.envelope_id "
            "JOIN contents c ON c.envelope_id = p.envelope_id ORDER BY p.since_ms"
        ).fetchall()
        now = s.clock()
        ready: dict[bytes, tuple[bytes, bytes, dict[str, list[bytes]]]] = {}
        for envelope_id, recipient, raw, key in rows:
            try:
                prekey = s.trust.current_prekey(recipient, now).key
            except PrekeyError:
                continue
            entry = ready.setdefault(bytes(envelope_id), (bytes(raw), bytes(key), {}))
            entry[2][recipient] = [prekey]
        shares: list[bytes] = []
        for envelope_id, (raw, key, recipients) in ready.items():
            target = Envelope.from_bytes(raw, s.limits).header
            head = self.ingestor.head(s.signing.public)
            share = seal(
                signing_seed=s.signing.reveal(),
                network=s.network,
                kind="key_share",
                author_node=s.node_id,
                seq=1 if head is None else head.seq + 1,
                prev=None if head is None else head.envelope_id,
                created_ms=max(now, head.created_ms if head else 0, target.created_ms),
                distribution=target.distribution,
                recipient_keys=recipients,
                handling=target.handling,
                content={"content_key": key},
                refers_to=("shares", envelope_id),
                limits=s.limits,
            )
            result = self.ingestor.ingest([share.to_bytes()], source="local")[0]
            if result.status != "accepted":
                raise NodeError(f"own key share not accepted: {result.reason}")
            with transaction(s.db):
                for node in recipients:
                    s.db.execute(
                        "DELETE FROM pending_shares WHERE envelope_id = ? AND recipient = ?",
                        [envelope_id, node],
                    )
            shares.append(share.to_bytes())
        return shares

    def pending(self) -> dict[str, list[str]]:
        """Envelope id (hex) → recipients still waiting for its content key."""
        out: dict[str, list[str]] = {}
        for envelope_id, recipient in self.s.db.execute(
            "SELECT envelope_id, recipient FROM pending_shares ORDER BY envelope_id, recipient"
        ).fetchall():
            out.setdefault(bytes(envelope_id).hex(), []).append(str(recipient))
        return out

    # -- reading --------------------------------------------------------------------

    def resolve(self, prefix: str) -> list[bytes]:
        """Ids in the log starting with ``prefix`` (hex, at least 8 digits); at most 10."""
        text = prefix.strip().lower()
        if len(text) < 8 or len(text) > 64 or any(c not in "0123456789abcdef" for c in text):
            raise InputError(
                f"{prefix[:80]!r} is not an envelope id or a prefix of one",
                "Give at least 8 hex digits of the id, as listed by 'ilo-node inbox'.",
            )
        # An id prefix is a range of BLOB values: indexed, no scan of the log.
        low = bytes.fromhex(text + "0" * (len(text) % 2))
        high = bytes.fromhex((text + "f" * (len(text) % 2)).ljust(64, "f"))
        rows = self.s.db.execute(
            "SELECT id FROM envelopes WHERE id >= ? AND id <= ? ORDER BY id LIMIT 10",
            [low, high],
        ).fetchall()
        return [bytes(r[0]) for r in rows if bytes(r[0]).hex().startswith(text)]

    def messages(self, officer: str, query: MessageQuery) -> list[dict[str, Any]]:
        """Readable messages, newest first, each as the officer's side needs it to check
        what it shows (docs/api.md, officer API)."""
        where = ["1 = 1"]
        args: list[Any] = []
        if query.ids:
            where.append(f"e.id IN ({','.join('?' * len(query.ids))})")
            args += list(query.ids)
        if query.found is not None:
            if not query.found:
                return []
            where.append(f"e.id IN ({','.join('?' * len(query.found))})")
            args += list(query.found)
        if query.kinds:
            where.append(f"e.kind IN ({','.join('?' * len(query.kinds))})")
            args += list(query.kinds)
        for column, values in (("party", query.parties), ("host", query.hosts)):
            if values:
                like = " OR ".join("e.author_node LIKE ?" for _ in values)
                where.append(f"({like})")
                args += [f"{v}@%" if column == "party" else f"%@{v}" for v in values]
        if query.officers:
            where.append(f"e.author_officer IN ({','.join('?' * len(query.officers))})")
            args += list(query.officers)
        if query.since_ms is not None:
            where.append("e.created_ms >= ?")
            args.append(query.since_ms)
        if query.until_ms is not None:
            where.append("e.created_ms < ?")
            args.append(query.until_ms)
        if query.unread_only:
            where.append(
                "NOT EXISTS (SELECT 1 FROM officer_reads r WHERE r.officer = ? "
                "AND r.envelope_id = e.id)"
            )
            args.append(officer)
        if query.others_only:
            where.append("NOT (e.author_node = ? AND e.author_officer IS ?)")
            args += [self.s.node_id, officer]
        # The key shares a node makes for others are plumbing, not messages.
        where.append("e.kind != 'key_share'")
        limit = max(1, min(query.limit, MAX_MESSAGES))
        rows = self.s.db.execute(
            "SELECT e.id, e.raw, e.idx, e.received_ms, c.content_key, "  # noqa: S608
            "(SELECT read_ms FROM officer_reads r WHERE r.officer = ? AND r.envelope_id = e.id) "
            "FROM envelopes e JOIN contents c ON c.envelope_id = e.id "
            f"WHERE {' AND '.join(where)} ORDER BY e.created_ms DESC, e.idx DESC LIMIT ?",
            [officer, *args, limit],
        ).fetchall()
        # One query per listing: the counters say how officers use the node.
        self.s.counters.add("officers", "listings")
        return [
            {
                "id": bytes(envelope_id),
                "raw": bytes(raw),
                "key": bytes(key),
                "index": int(idx),
                "received_ms": int(received),
                "read_ms": None if read_ms is None else int(read_ms),
                "refs": self.refs(bytes(envelope_id)),
            }
            for envelope_id, raw, idx, received, key, read_ms in rows
        ]

    def refs(self, envelope_id: bytes) -> list[dict[str, Any]]:
        """Envelopes in the log that retract, correct or share ``envelope_id``, with their
        content keys where this node holds them."""
        rows = self.s.db.execute(
            "SELECT e.raw, c.content_key FROM envelopes e "
            "LEFT JOIN contents c ON c.envelope_id = e.id "
            "WHERE e.ref_target = ? ORDER BY e.idx LIMIT ?",
            [envelope_id, _MAX_REFS],
        ).fetchall()
        return [
            {"raw": bytes(raw), "key": None if key is None else bytes(key)} for raw, key in rows
        ]

    def proof(self, envelope_id: bytes) -> dict[str, Any]:
        """Where an envelope is in the log: its index, the latest signed checkpoint, and
        the inclusion proof against it (empty if the checkpoint is older than it)."""
        index = self.log.index_of(envelope_id)
        note = self.log.checkpoint_note_at()
        if note is None:
            return {"index": index, "checkpoint": None, "proof": []}
        size = SignedCheckpoint.from_bytes(note).checkpoint.size
        proof = self.log.inclusion_proof(envelope_id, size) if index < size else []
        return {"index": index, "checkpoint": note, "proof": proof}

    def mark_read(self, officer: str, ids: Iterable[bytes]) -> int:
        now = self.s.clock()
        count = 0
        with transaction(self.s.db):
            for envelope_id in ids:
                cursor = self.s.db.execute(
                    "INSERT OR IGNORE INTO officer_reads (officer, envelope_id, read_ms) "
                    "SELECT ?, id, ? FROM envelopes WHERE id = ?",
                    [officer, now, envelope_id],
                )
                count += cursor.rowcount
        return count

    def unread_count(self, officer: str) -> int:
        row = self.s.db.execute(
            "SELECT COUNT(*) FROM envelopes e JOIN contents c ON c.envelope_id = e.id "
            "WHERE e.kind != 'key_share' AND NOT (e.author_node = ? AND e.author_officer IS ?) "
            "AND NOT EXISTS (SELECT 1 FROM officer_reads r WHERE r.officer = ? "
            "AND r.envelope_id = e.id)",
            [self.s.node_id, officer, officer],
        ).fetchone()
        return int(row[0])
