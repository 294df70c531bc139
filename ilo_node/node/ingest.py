"""The one ingest path: verify, decide, place in the author's chain, decrypt, log, commit.

Every envelope, whether pushed by a peer, pulled, read from a bundle or
published locally, goes through :meth:`Ingestor.ingest`: decode and verify the
signature (``protocol``), decide whether the author key may speak for its node
at the envelope's time (``keys``), place it in the author's hash chain, decrypt
it if it is addressed to this node, append it to the Merkle log, and commit —
all in one SQLite transaction per batch. A result is returned only after the
commit, so whatever the caller acknowledges is on disk.

An envelope that cannot be placed yet (unknown key, missing predecessor, roster
expired, author held after an equivocation) is kept in the quarantine with what
it waits for, and retried when that arrives. Nothing that could become valid is
dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from keys.authorship import reference_problem
from keys.trust import Outcome
from protocol.chain import ForkProof, detect_fork
from protocol.crypto import sha256
from protocol.envelope import Envelope, Header, parse_content
from protocol.errors import ProtocolError

from .quarantine import Quarantine
from .results import IngestResult
from .search import SearchIndex
from .state import NodeState
from .store import transaction

__all__ = ["IngestResult", "Ingestor"]

#: Most envelopes placed from the quarantine kept for gossip to relay.
_MAX_PLACED_KEPT = 10_000


@dataclass(slots=True)
class _Head:
    seq: int
    envelope_id: bytes
    created_ms: int
    held: bool


@dataclass(slots=True)
class _Batch:
    """What every envelope of one batch is judged with."""

    now: int
    received: int
    from_quarantine: bool
    #: The peer that sent the batch ("" for this node's own), for the quarantine bounds.
    sender: str = ""
    #: Heads of the authors met in the batch, as they stand after its earlier envelopes.
    heads: dict[bytes, _Head | None] = field(default_factory=dict)


class Ingestor:
    def __init__(self, state: NodeState, search: SearchIndex) -> None:
        self.s = state
        self.search = search
        self.quarantine = Quarantine(state, state.quarantine_limits)
        # Ids of the batch being ingested already logged / quarantined (one query each).
        self._known: tuple[set[bytes], set[bytes]] = (set(), set())
        self.placed_from_quarantine: list[bytes] = []

    def head(self, author_key: bytes) -> _Head | None:
        row = self.s.db.execute(
            "SELECT seq, envelope_id, held_since_ms, "
            "(SELECT created_ms FROM envelopes WHERE id = heads.envelope_id) "
            "FROM heads WHERE author_key = ?",
            [author_key],
        ).fetchone()
        if row is None:
            return None
        return _Head(row[0], row[1], row[3] or 0, row[2] is not None)

    def ingest(
        self,
        batch: Sequence[bytes],
        received_ms: int | None = None,
        source: str = "local",
        sender: str = "",
    ) -> list[IngestResult]:
        """Ingest a batch in one transaction; then retry what it may have unblocked.

        ``source`` (push, sync, bundle, local…) labels the counters; ``sender`` is the
        peer that sent the batch, whose share of the quarantine is bounded.
        """
        results = self._ingest_batch(batch, received_ms, from_quarantine=False, sender=sender)
        for result in results:
            self.s.counters.add("ingest", f"{source}.{result.status}")
        if any(r.status == "accepted" for r in results):
            self.retry_quarantine()
        return results

    def _ingest_batch(
        self,
        batch: Sequence[bytes],
        received_ms: int | None,
        from_quarantine: bool,
        sender: str = "",
    ) -> list[IngestResult]:
        now = self.s.clock()
        received = received_ms if received_ms is not None else now
        judged = _Batch(now, received, from_quarantine, sender)
        size_before = self.s.log.size
        results: list[IngestResult] = []
        try:
            with transaction(self.s.db):
                self._known = self._known_ids(batch)
                for raw in batch:
                    results.append(self._ingest_one(raw, judged))
        except BaseException:
            # The transaction rolled back: bring the in-memory tree back in line.
            if self.s.log.size != size_before:
                self.s.log.rebuild()
            raise
        return results

    def _known_ids(self, batch: Sequence[bytes]) -> tuple[set[bytes], set[bytes]]:
        """Which ids of a batch are already logged or quarantined: one query each."""
        ids = [sha256(raw) for raw in batch if isinstance(raw, bytes)]
        logged: set[bytes] = set()
        held: set[bytes] = set()
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            logged.update(
                bytes(r[0])
                for r in self.s.db.execute(f"SELECT id FROM envelopes WHERE id IN ({marks})", part)  # noqa: S608
            )
            held.update(
                bytes(r[0])
                for r in self.s.db.execute(f"SELECT id FROM quarantine WHERE id IN ({marks})", part)  # noqa: S608
            )
        return logged, held

    def _quarantine(
        self, envelope: Envelope, reason: str, waiting_for: str, batch: _Batch
    ) -> IngestResult:
        if batch.from_quarantine:
            return self.quarantine.still_waiting(envelope, reason, waiting_for, batch.now)
        result = self.quarantine.hold(envelope, reason, waiting_for, batch.now, batch.sender)
        if result.stored:
            self._known[1].add(envelope.id)
        return result

    def _witnessed(self, envelope: Envelope) -> int | None:
        """The earliest time this envelope is proven witnessed, if its key is revoked
        (the only case where it matters; a lookup per envelope otherwise saved)."""
        if not self.s.trust.is_revoked(envelope.header.author_key):
            return None
        row = self.s.db.execute(
            "SELECT witnessed_ms FROM evidence WHERE envelope_id = ?", [envelope.id]
        ).fetchone()
        return int(row[0]) if row else None

    def _logged_header(self, envelope_id: bytes) -> Header | None:
        row = self.s.db.execute("SELECT raw FROM envelopes WHERE id = ?", [envelope_id]).fetchone()
        if row is None:
            return None
        return Envelope.from_bytes(bytes(row[0]), self.s.limits).header

    def _ingest_one(self, raw: bytes, batch: _Batch) -> IngestResult:
        db, heads, from_quarantine = self.s.db, batch.heads, batch.from_quarantine
        logged, held_ids = self._known
        # A copy of something already stored is the common case in gossip: answer it
        # before paying for a decode and a signature check.
        envelope_id = sha256(raw) if isinstance(raw, bytes) else b""
        if envelope_id in logged:
            if from_quarantine:
                self.quarantine.remove(envelope_id)
            return IngestResult("duplicate", "already in the log", envelope_id)
        if envelope_id in held_ids and not from_quarantine:
            return IngestResult("duplicate", "already in quarantine", envelope_id)
        try:
            envelope = Envelope.from_bytes(raw, self.s.limits)
        except ProtocolError as exc:
            return IngestResult("rejected", exc.message)
        header = envelope.header

        decision = self.s.trust.decide_envelope(envelope, batch.now, self._witnessed(envelope))
        if decision.outcome is Outcome.REJECT:
            if from_quarantine:
                self.quarantine.remove(envelope.id)
            return IngestResult("rejected", decision.reason, envelope.id)
        if decision.outcome is Outcome.RETRY:
            waiting = (
                f"witness:{envelope.id.hex()}"
                if decision.needs_evidence
                else f"trust:{header.author_key.hex()}"
            )
            return self._quarantine(envelope, decision.reason, waiting, batch)
        if header.refers_to is not None:
            relation, target_id = header.refers_to
            target = self._logged_header(target_id)
            if target is None:
                return self._quarantine(
                    envelope,
                    f"{relation} envelope {target_id.hex()[:16]}…, which has not arrived yet",
                    f"target:{target_id.hex()}",
                    batch,
                )
            problem = reference_problem(header, target)
            if problem is not None:
                if from_quarantine:
                    self.quarantine.remove(envelope.id)
                return IngestResult(
                    "rejected", f"{relation} {target_id.hex()[:16]}…: {problem}", envelope.id
                )

        if header.author_key not in heads:
            heads[header.author_key] = self.head(header.author_key)
        head = heads[header.author_key]
        held = head.held if head is not None else False
        if not held and head is None:
            # A fork proof may arrive (by gossip) before any envelope of its author:
            # what comes after the forked seq is held as if we had seen the fork.
            held = bool(
                db.execute(
                    "SELECT 1 FROM forks WHERE author_key = ? AND seq < ? LIMIT 1",
                    [header.author_key, header.seq],
                ).fetchone()
            )
        if held:
            return self._quarantine(
                envelope,
                f"{header.author_node} equivocated; its envelopes are held until an "
                "administrator acts",
                f"held:{header.author_key.hex()}",
                batch,
            )
        expected = 1 if head is None else head.seq + 1
        if head is not None and header.seq <= head.seq:
            return self._fork_or_duplicate(envelope, batch)
        if header.seq > expected:
            return self._quarantine(
                envelope,
                f"waiting for seq {header.seq - 1} of {header.author_node}",
                f"pred:{header.author_key.hex()}:{header.seq - 1}",
                batch,
            )
        if head is not None and (
            header.prev != head.envelope_id or header.created_ms < head.created_ms
        ):
            # A signed envelope naming a predecessor we do not have at that seq is
            # evidence of a fork we cannot prove yet: keep it.
            return self._quarantine(
                envelope,
                f"names a different predecessor at seq {head.seq} than the one in the log",
                f"fork-evidence:{header.author_key.hex()}:{head.seq}",
                batch,
            )
        return self._append(envelope, raw, head, batch)

    def _append(
        self, envelope: Envelope, raw: bytes, head: _Head | None, batch: _Batch
    ) -> IngestResult:
        db, now = self.s.db, batch.now
        header = envelope.header
        index, root_after = self.s.log.append(envelope.id)
        db.execute(
            "INSERT INTO envelopes (idx, id, raw, author_key, author_node, seq, kind, "
            "distribution, handling, created_ms, received_ms, root_after, author_officer, "
            "ref_relation, ref_target) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                index,
                envelope.id,
                raw,
                header.author_key,
                header.author_node,
                header.seq,
                header.kind,
                header.distribution,
                header.handling,
                header.created_ms,
                batch.received,
                root_after,
                header.author_officer,
                None if header.refers_to is None else header.refers_to[0],
                None if header.refers_to is None else header.refers_to[1],
            ],
        )
        forked = head is None and bool(
            db.execute(
                "SELECT 1 FROM forks WHERE author_key = ? LIMIT 1", [header.author_key]
            ).fetchone()
        )
        db.execute(
            "INSERT OR REPLACE INTO heads (author_key, author_node, seq, envelope_id, "
            "held_since_ms) VALUES (?, ?, ?, ?, ?)",
            [
                header.author_key,
                header.author_node,
                header.seq,
                envelope.id,
                now if forked else None,
            ],
        )
        batch.heads[header.author_key] = _Head(header.seq, envelope.id, header.created_ms, forked)
        self._known[0].add(envelope.id)
        if batch.from_quarantine:
            self.quarantine.remove(envelope.id)
        note = self._store_content(envelope, now)
        return IngestResult("accepted", note, envelope.id, index)

    def _store_content(self, envelope: Envelope, now: int) -> str:
        if self.s.node_id not in envelope.header.recipients:
            return "relayed (not addressed to this node)"
        if not self.s.prekey_secrets:
            return "addressed to this node; stored encrypted (node opened without keys)"
        try:
            content_key = envelope.unwrap_content_key(self.s.node_id, self.s.prekey_secrets)
            plaintext = envelope.decrypt(content_key)
            # Parsed to validate and to index: the canonical bytes are stored as they came.
            content = parse_content(envelope.header.kind, plaintext, self.s.limits)
        except ProtocolError as exc:
            return f"addressed to this node but unreadable: {exc.message}"
        self._keep_content(envelope.id, plaintext, content_key, now)
        if envelope.header.kind == "key_share":
            # A key share is plumbing, and what it holds is a key: never searchable.
            return self._open_shared(envelope, plaintext, now)
        # In the batch's transaction: readable content is searchable from its commit on.
        self.search.index(envelope.id, content.kind, content.fields)
        return "accepted and decrypted"

    def _keep_content(self, envelope_id: bytes, plaintext: bytes, key: bytes, now: int) -> None:
        self.s.db.execute(
            "INSERT OR REPLACE INTO contents (envelope_id, content, content_key, opened_ms) "
            "VALUES (?, ?, ?, ?)",
            [envelope_id, plaintext, key, now],
        )

    def _open_shared(self, share: Envelope, plaintext: bytes, now: int) -> str:
        """A content key shared with this node: open the envelope it belongs to (in the
        log: the reference was checked) with it, against that envelope's own signed key
        commitment, so the key can only open what its author signed."""
        assert share.header.refers_to is not None
        target_id = share.header.refers_to[1]
        shared_key = parse_content("key_share", plaintext, self.s.limits).fields["content_key"]
        row = self.s.db.execute("SELECT raw FROM envelopes WHERE id = ?", [target_id]).fetchone()
        already = self.s.db.execute(
            "SELECT 1 FROM contents WHERE envelope_id = ?", [target_id]
        ).fetchone()
        if row is None or already is not None:
            return "accepted and decrypted (a content key this node already had)"
        target = Envelope.from_bytes(bytes(row[0]), self.s.limits)
        try:
            content = target.decrypt(shared_key)
            fields = parse_content(target.header.kind, content, self.s.limits)
        except ProtocolError as exc:
            short = target_id.hex()[:16]
            return f"accepted, but the shared key does not open {short}…: {exc.message}"
        self._keep_content(target_id, content, shared_key, now)
        self.search.index(target_id, fields.kind, fields.fields)
        return f"accepted; the shared key opened {target_id.hex()[:16]}…"

    def _fork_or_duplicate(self, envelope: Envelope, batch: _Batch) -> IngestResult:
        db, header = self.s.db, envelope.header
        row = db.execute(
            "SELECT raw FROM envelopes WHERE author_key = ? AND seq = ?",
            [header.author_key, header.seq],
        ).fetchone()
        if row is None:
            return self._quarantine(
                envelope, "seq below the head but not in the log", "never", batch
            )
        stored = Envelope.from_bytes(row[0], self.s.limits)
        proof = detect_fork(stored, envelope)
        if proof is None:
            return IngestResult("duplicate", "same statement already in the log", envelope.id)
        self._hold(proof.author_key, proof.seq, proof.to_bytes(), batch.now)
        head = batch.heads.get(header.author_key)
        if head is not None:
            head.held = True
        if batch.from_quarantine:
            self.quarantine.remove(envelope.id)
        return IngestResult(
            "fork",
            f"{header.author_node} signed two different envelopes at seq {header.seq}: fork "
            "proof stored, later envelopes held",
            envelope.id,
        )

    def _hold(self, author_key: bytes, seq: int, proof: bytes, now: int) -> bool:
        """Store a fork proof and hold its author; True if the proof was new."""
        cursor = self.s.db.execute(
            "INSERT OR IGNORE INTO forks (author_key, seq, proof, detected_ms) VALUES (?, ?, ?, ?)",
            [author_key, seq, proof, now],
        )
        self.s.db.execute(
            "UPDATE heads SET held_since_ms = ? WHERE author_key = ? AND held_since_ms IS NULL",
            [now, author_key],
        )
        return bool(cursor.rowcount)

    def add_fork_proof(self, data: bytes) -> bool:
        """Store a peer's fork proof (verified from the two envelopes alone); hold the author."""
        try:
            proof = ForkProof.from_bytes(data, self.s.limits)
        except ProtocolError:
            return False
        with transaction(self.s.db):
            return self._hold(proof.author_key, proof.seq, data, self.s.clock())

    def take_placed_from_quarantine(self) -> list[bytes]:
        taken, self.placed_from_quarantine = self.placed_from_quarantine, []
        return taken

    def retry_quarantine(self, everything: bool = False, first: Sequence[bytes] = ()) -> int:
        """Retry quarantined envelopes whose missing piece may have arrived; returns how
        many were placed. ``everything`` retries all (after a trust update); ``first``
        retries those (after their evidence arrived), then what they unblock."""
        placed_total = 0
        while True:
            raws = list(first) or self.quarantine.ready(everything)
            first = ()
            if not raws:
                return placed_total
            results = self._ingest_batch(raws, None, from_quarantine=True)
            newly = [raw for raw, r in zip(raws, results, strict=True) if r.status == "accepted"]
            self.s.counters.add("ingest", "quarantine.accepted", len(newly))
            # Kept for the gossip layer, which relays them like any new envelope.
            room = _MAX_PLACED_KEPT - len(self.placed_from_quarantine)
            self.placed_from_quarantine.extend(newly[:room])
            placed_total += len(newly)
            everything = False
            if not newly:
                return placed_total
