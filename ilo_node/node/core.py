"""The node: one ingest path for everything that arrives, the Merkle log, checkpoints.

Every envelope, whether pushed by a peer, pulled, read from a bundle or
published locally, goes through :meth:`Node.ingest`: decode and verify the
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

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ilo_node.home.home import Home, now_ms
from ilo_node.home.keyfiles import read_private_key
from ilo_node.node.store import open_store, transaction
from keys.errors import PrekeyError
from keys.keystore import SecretKey
from keys.trust import Outcome, TrustState
from protocol.chain import ForkProof, detect_fork
from protocol.checkpoint import (
    Checkpoint,
    SignedCheckpoint,
    sign_checkpoint,
    verify_cosignature,
)
from protocol.crypto import sha256
from protocol.envelope import Content, Envelope, parse_content, seal
from protocol.errors import IloError, ProtocolError, UsageError
from protocol.identifiers import split_node_id
from protocol.limits import DEFAULT_LIMITS, Limits
from protocol.merkle import MerkleTree, leaf_hash
from protocol.signed import SignedDocument

__all__ = ["IngestResult", "Node", "NodeError", "documents_summary"]

#: Quarantine capacity; beyond it new unplaceable envelopes are refused (the
#: sender keeps them and retries), never dropped once acknowledged.
MAX_QUARANTINE = 20_000


def documents_summary(digests: list[bytes]) -> bytes:
    """One hash over a sorted list of document digests: equal sets, equal summaries."""
    return sha256(b"".join(digests))


class NodeError(IloError):
    default_advice = "See 'ilo-node status' and docs/operator-guide.md."


def _take_writer_lock(home: Home) -> int:
    """One writer per node home: the log's in-memory tree must see every append."""
    import fcntl

    fd = os.open(home.path / "node.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise NodeError(
            f"{home.path} is in use by a running node (or another command)",
            "Stop it first, or use the commands that go through the running node "
            "('ilo-node publish', 'ilo-node status', 'ilo-node log checkpoint').",
        ) from None
    return fd


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to one envelope. Every status but ``rejected`` and ``deferred``
    means the envelope is stored durably."""

    status: str  # accepted | duplicate | quarantined | fork | rejected | deferred
    reason: str
    envelope_id: bytes | None = None
    log_index: int | None = None

    @property
    def stored(self) -> bool:
        return self.status in ("accepted", "duplicate", "quarantined", "fork")

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "id": self.envelope_id.hex() if self.envelope_id else None,
            "log_index": self.log_index,
        }


@dataclass(slots=True)
class _Head:
    seq: int
    envelope_id: bytes
    created_ms: int
    held: bool


class Node:
    """A node home opened for work. Not thread-safe: one owner at a time."""

    def __init__(
        self,
        home: Home,
        passphrase: bytes | None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Any = now_ms,
        writer: bool = True,
    ) -> None:
        config = home.require_role("node")
        assert config.node is not None
        self.home = home
        self._lock_fd: int | None = None
        # Ids of the batch being ingested already logged / quarantined (one query each).
        self._known: tuple[set[bytes], set[bytes]] = (set(), set())
        self.placed_from_quarantine: list[bytes] = []
        if writer:
            self._lock_fd = _take_writer_lock(home)
        self.node_id: str = config.node
        self.network = config.network
        self.origin = f"ilo-node/{config.network}/{config.node}"
        self.limits = limits
        self.clock = clock
        self.trust: TrustState = home.trust_state()
        self.signing: SecretKey | None = None
        self.prekey_secrets: dict[bytes, bytes] = {}
        if passphrase is not None:
            self.signing = home.signing_key(passphrase)
            self._load_prekeys(passphrase)
        self.db: sqlite_utils.Database = open_store(home.path / "node.db")
        self.tree = MerkleTree(
            leaf_hash(row[0]) for row in self.db.execute("SELECT id FROM envelopes ORDER BY idx")
        )
        if writer:
            # A kill between a batch's commit and the quarantine retry that follows it
            # would otherwise leave placeable envelopes waiting: retry on every start.
            self.retry_quarantine()

    def _load_prekeys(self, passphrase: bytes) -> None:
        directory = self.home.prekey_dir
        if not directory.exists():
            return
        for path in sorted(directory.glob("*.key")):
            key = read_private_key(path, passphrase)
            self.prekey_secrets[key.public] = key.reveal()

    def close(self) -> None:
        self.db.conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # -- reading state ------------------------------------------------------------

    def _head(self, author_key: bytes) -> _Head | None:
        row = self.db.execute(
            "SELECT seq, envelope_id, held_since_ms, "
            "(SELECT created_ms FROM envelopes WHERE id = heads.envelope_id) "
            "FROM heads WHERE author_key = ?",
            [author_key],
        ).fetchone()
        if row is None:
            return None
        return _Head(row[0], row[1], row[3] or 0, row[2] is not None)

    def size(self) -> int:
        return self.tree.size

    def envelope(self, envelope_id: bytes) -> Envelope | None:
        row = self.db.execute("SELECT raw FROM envelopes WHERE id = ?", [envelope_id]).fetchone()
        return Envelope.from_bytes(row[0], self.limits) if row else None

    def content(self, envelope_id: bytes) -> tuple[bytes, bytes] | None:
        row = self.db.execute(
            "SELECT content, content_key FROM contents WHERE envelope_id = ?", [envelope_id]
        ).fetchone()
        return (row[0], row[1]) if row else None

    def counts(self) -> dict[str, int]:
        def one(sql: str) -> int:
            return int(self.db.execute(sql).fetchone()[0])

        return {
            "envelopes": one("SELECT COUNT(*) FROM envelopes"),
            "readable": one("SELECT COUNT(*) FROM contents"),
            "erased": one("SELECT COUNT(*) FROM erasures"),
            "quarantined": one("SELECT COUNT(*) FROM quarantine"),
            "forks": one("SELECT COUNT(*) FROM forks"),
            "checkpoints": one("SELECT COUNT(*) FROM checkpoints"),
            "authors_held": one("SELECT COUNT(*) FROM heads WHERE held_since_ms IS NOT NULL"),
        }

    # -- ingest -------------------------------------------------------------------

    def ingest(self, batch: Sequence[bytes], received_ms: int | None = None) -> list[IngestResult]:
        """Ingest a batch in one transaction; then retry what it may have unblocked."""
        results = self._ingest_batch(batch, received_ms, from_quarantine=False)
        placed = [r for r in results if r.status == "accepted"]
        if placed:
            self.retry_quarantine()
        return results

    def _ingest_batch(
        self, batch: Sequence[bytes], received_ms: int | None, from_quarantine: bool
    ) -> list[IngestResult]:
        now = self.clock()
        received = received_ms if received_ms is not None else now
        size_before = self.tree.size
        results: list[IngestResult] = []
        heads: dict[bytes, _Head | None] = {}
        try:
            with transaction(self.db):
                self._known = self._known_ids(batch)
                for raw in batch:
                    results.append(self._ingest_one(raw, now, received, heads, from_quarantine))
        except BaseException:
            # The transaction rolled back: bring the in-memory tree back in line.
            if self.tree.size != size_before:
                self.tree = MerkleTree(
                    leaf_hash(r[0])
                    for r in self.db.execute("SELECT id FROM envelopes ORDER BY idx")
                )
            raise
        return results

    def _known_ids(self, batch: Sequence[bytes]) -> tuple[set[bytes], set[bytes]]:
        """Which ids of a batch are already logged or quarantined: one query each."""
        ids = [sha256(raw) for raw in batch]
        logged: set[bytes] = set()
        held: set[bytes] = set()
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            logged.update(
                bytes(r[0])
                for r in self.db.execute(f"SELECT id FROM envelopes WHERE id IN ({marks})", part)  # noqa: S608
            )
            held.update(
                bytes(r[0])
                for r in self.db.execute(f"SELECT id FROM quarantine WHERE id IN ({marks})", part)  # noqa: S608
            )
        return logged, held

    def _quarantine(
        self,
        envelope: Envelope,
        reason: str,
        waiting_for: str,
        now: int,
        from_quarantine: bool,
    ) -> IngestResult:
        if from_quarantine:
            self.db.execute(
                "UPDATE quarantine SET reason = ?, waiting_for = ?, last_try_ms = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                [reason, waiting_for, now, envelope.id],
            )
            return IngestResult("quarantined", reason, envelope.id)
        count = self.db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
        if count >= MAX_QUARANTINE:
            return IngestResult(
                "deferred", f"quarantine is full ({count}); send again later", envelope.id
            )
        self.db.execute(
            "INSERT OR IGNORE INTO quarantine (id, raw, author_key, seq, reason, waiting_for, "
            "first_seen_ms, last_try_ms, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
            [
                envelope.id,
                envelope.to_bytes(),
                envelope.header.author_key,
                envelope.header.seq,
                reason,
                waiting_for,
                now,
                now,
            ],
        )
        self._known[1].add(envelope.id)
        return IngestResult("quarantined", reason, envelope.id)

    def _ingest_one(
        self,
        raw: bytes,
        now: int,
        received: int,
        heads: dict[bytes, _Head | None],
        from_quarantine: bool,
    ) -> IngestResult:
        logged, held_ids = self._known
        # A copy of something already stored is the common case in gossip: answer it
        # before paying for a decode and a signature check.
        envelope_id = sha256(raw) if isinstance(raw, bytes) else b""
        if envelope_id in logged:
            if from_quarantine:
                self.db.execute("DELETE FROM quarantine WHERE id = ?", [envelope_id])
            return IngestResult("duplicate", "already in the log", envelope_id)
        if envelope_id in held_ids and not from_quarantine:
            return IngestResult("duplicate", "already in quarantine", envelope_id)
        try:
            envelope = Envelope.from_bytes(raw, self.limits)
        except ProtocolError as exc:
            return IngestResult("rejected", exc.message)
        header = envelope.header

        decision = self.trust.decide_envelope(envelope, now)
        if decision.outcome is Outcome.REJECT:
            if from_quarantine:
                self.db.execute("DELETE FROM quarantine WHERE id = ?", [envelope.id])
            return IngestResult("rejected", decision.reason, envelope.id)
        if decision.outcome is Outcome.RETRY:
            return self._quarantine(
                envelope,
                decision.reason,
                f"trust:{header.author_key.hex()}",
                now,
                from_quarantine,
            )

        if header.author_key not in heads:
            heads[header.author_key] = self._head(header.author_key)
        head = heads[header.author_key]
        held = head.held if head is not None else False
        if not held and head is None:
            # A fork proof may arrive (by gossip) before any envelope of its author:
            # what comes after the forked seq is held as if we had seen the fork.
            held = bool(
                self.db.execute(
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
                now,
                from_quarantine,
            )
        expected = 1 if head is None else head.seq + 1
        if head is not None and header.seq <= head.seq:
            return self._fork_or_duplicate(envelope, now, heads, from_quarantine)
        if header.seq > expected:
            return self._quarantine(
                envelope,
                f"waiting for seq {header.seq - 1} of {header.author_node}",
                f"pred:{header.author_key.hex()}:{header.seq - 1}",
                now,
                from_quarantine,
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
                now,
                from_quarantine,
            )

        index = self.tree.size
        self.tree.append(leaf_hash(envelope.id))
        self.db.execute(
            "INSERT INTO envelopes (idx, id, raw, author_key, author_node, seq, kind, "
            "distribution, handling, created_ms, received_ms, root_after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                received,
                self.tree.root(),
            ],
        )
        forked = head is None and bool(
            self.db.execute(
                "SELECT 1 FROM forks WHERE author_key = ? LIMIT 1", [header.author_key]
            ).fetchone()
        )
        self.db.execute(
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
        heads[header.author_key] = _Head(header.seq, envelope.id, header.created_ms, forked)
        self._known[0].add(envelope.id)
        if from_quarantine:
            self.db.execute("DELETE FROM quarantine WHERE id = ?", [envelope.id])
        note = self._store_content(envelope, now)
        return IngestResult("accepted", note, envelope.id, index)

    def _store_content(self, envelope: Envelope, now: int) -> str:
        if self.node_id not in envelope.header.recipients:
            return "relayed (not addressed to this node)"
        if not self.prekey_secrets:
            return "addressed to this node; stored encrypted (node opened without keys)"
        try:
            content_key = envelope.unwrap_content_key(self.node_id, self.prekey_secrets)
            plaintext = envelope.decrypt(content_key)
            # Parsed only to validate: the canonical bytes are stored as they came.
            parse_content(envelope.header.kind, plaintext, self.limits)
        except ProtocolError as exc:
            return f"addressed to this node but unreadable: {exc.message}"
        self.db.execute(
            "INSERT OR REPLACE INTO contents (envelope_id, content, content_key, opened_ms) "
            "VALUES (?, ?, ?, ?)",
            [envelope.id, plaintext, content_key, now],
        )
        return "accepted and decrypted"

    def _fork_or_duplicate(
        self,
        envelope: Envelope,
        now: int,
        heads: dict[bytes, _Head | None],
        from_quarantine: bool,
    ) -> IngestResult:
        header = envelope.header
        row = self.db.execute(
            "SELECT raw FROM envelopes WHERE author_key = ? AND seq = ?",
            [header.author_key, header.seq],
        ).fetchone()
        if row is None:
            return self._quarantine(
                envelope, "seq below the head but not in the log", "never", now, from_quarantine
            )
        stored = Envelope.from_bytes(row[0], self.limits)
        proof = detect_fork(stored, envelope)
        if proof is None:
            return IngestResult("duplicate", "same statement already in the log", envelope.id)
        self.db.execute(
            "INSERT OR IGNORE INTO forks (author_key, seq, proof, detected_ms) VALUES (?, ?, ?, ?)",
            [header.author_key, header.seq, proof.to_bytes(), now],
        )
        self.db.execute(
            "UPDATE heads SET held_since_ms = ? WHERE author_key = ? AND held_since_ms IS NULL",
            [now, header.author_key],
        )
        head = heads.get(header.author_key)
        if head is not None:
            head.held = True
        if from_quarantine:
            self.db.execute("DELETE FROM quarantine WHERE id = ?", [envelope.id])
        return IngestResult(
            "fork",
            f"{header.author_node} signed two different envelopes at seq {header.seq}: fork "
            "proof stored, later envelopes held",
            envelope.id,
        )

    def take_placed_from_quarantine(self) -> list[bytes]:
        taken, self.placed_from_quarantine = self.placed_from_quarantine, []
        return taken

    def retry_quarantine(self, everything: bool = False) -> int:
        """Retry quarantined envelopes whose missing piece may have arrived; returns how
        many were placed. ``everything`` retries all (after a trust update)."""
        placed_total = 0
        while True:
            if everything:
                rows = self.db.execute(
                    "SELECT raw FROM quarantine WHERE waiting_for != 'never' "
                    "ORDER BY author_key, seq"
                ).fetchall()
            else:
                rows = self.db.execute(
                    "SELECT q.raw FROM quarantine q JOIN heads h ON q.author_key = h.author_key "
                    "WHERE q.waiting_for LIKE 'pred:%' AND q.seq = h.seq + 1 "
                    "AND h.held_since_ms IS NULL ORDER BY q.author_key, q.seq"
                ).fetchall()
            if not rows:
                return placed_total
            raws = [bytes(r[0]) for r in rows]
            results = self._ingest_batch(raws, None, from_quarantine=True)
            newly = [raw for raw, r in zip(raws, results, strict=True) if r.status == "accepted"]
            # Kept for the gossip layer, which relays them like any new envelope.
            self.placed_from_quarantine.extend(newly[: 10_000 - len(self.placed_from_quarantine)])
            placed = len(newly)
            placed_total += placed
            everything = False
            if placed == 0:
                return placed_total

    # -- publishing ---------------------------------------------------------------

    def recipients_for(self, distribution: str, states: Iterable[str] = ()) -> list[str]:
        roster = self.trust.roster
        parsed = split_node_id(self.node_id)
        assert parsed is not None
        if distribution == "local":
            nodes = set(roster.local_network(parsed[1]))
        elif distribution == "network":
            nodes = set(roster.nodes)
        elif distribution == "presidency":
            presidency = roster.presidency_at(self.clock())
            nodes = {n for n in roster.nodes if n.split("@")[0] in {"COM", presidency or ""}}
        elif distribution == "states":
            wanted = set(states)
            if not wanted:
                raise UsageError("distribution 'states' needs at least one Member State")
            nodes = {n for n in roster.nodes if n.split("@")[0] in wanted}
        else:
            raise UsageError(f"unknown distribution {distribution!r}")
        nodes.add(self.node_id)
        return sorted(nodes)

    def publish(
        self,
        kind: str,
        content: Mapping[str, Any],
        *,
        distribution: str = "local",
        handling: str = "H1",
        states: Iterable[str] = (),
    ) -> tuple[Envelope, IngestResult]:
        """Seal content as this node and ingest it through the one ingest path."""
        if self.signing is None:
            raise NodeError("this node was opened without its passphrase; cannot sign")
        now = self.clock()
        recipients = self.recipients_for(distribution, states)
        missing: list[str] = []
        keys: dict[str, list[bytes]] = {}
        for node in recipients:
            try:
                keys[node] = [self.trust.current_prekey(node, now).key]
            except PrekeyError:
                missing.append(node)
        if missing:
            raise NodeError(
                f"no current prekey known for {', '.join(missing)}",
                "Their prekey announcements have not reached this node yet; import them "
                "('ilo-node cert import') or wait for gossip.",
            )
        head = self._head(self.signing.public)
        envelope = seal(
            signing_seed=self.signing.reveal(),
            network=self.network,
            kind=kind,
            author_node=self.node_id,
            seq=1 if head is None else head.seq + 1,
            prev=None if head is None else head.envelope_id,
            created_ms=max(now, head.created_ms if head else 0),
            distribution=distribution,
            recipient_keys=keys,
            handling=handling,
            content=content,
            limits=self.limits,
        )
        result = self.ingest([envelope.to_bytes()])[0]
        if result.status != "accepted":
            raise NodeError(f"own envelope not accepted: {result.reason}")
        return envelope, result

    def read(self, envelope_id: bytes) -> Content | None:
        stored = self.content(envelope_id)
        envelope = self.envelope(envelope_id)
        if stored is None or envelope is None:
            return None
        return envelope.open_with_key(stored[1], self.limits)

    # -- checkpoints and proofs ---------------------------------------------------

    def checkpoint(self) -> bytes:
        """Sign and store a checkpoint of the log as it is now (or return the latest
        if nothing was appended since)."""
        if self.signing is None:
            raise NodeError("this node was opened without its passphrase; cannot sign")
        size = self.tree.size
        latest = self.db.execute("SELECT note FROM checkpoints WHERE size = ?", [size]).fetchone()
        if latest is not None:
            return bytes(latest[0])
        checkpoint = Checkpoint(self.origin, size, self.tree.root(), self.clock())
        note = sign_checkpoint(checkpoint, self.node_id, self.signing.reveal())
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO checkpoints (size, root, time_ms, signer_key, note) "
                "VALUES (?, ?, ?, ?, ?)",
                [size, checkpoint.root, checkpoint.time_ms, self.signing.public, note],
            )
        return note

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        row = self.db.execute("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return SignedCheckpoint.from_bytes(bytes(row[0])) if row else None

    def index_of(self, envelope_id: bytes) -> int:
        row = self.db.execute("SELECT idx FROM envelopes WHERE id = ?", [envelope_id]).fetchone()
        if row is None:
            raise NodeError(f"envelope {envelope_id.hex()[:16]}… is not in this node's log")
        return int(row[0])

    def inclusion_proof(self, envelope_id: bytes, size: int | None = None) -> list[bytes]:
        return self.tree.inclusion_proof(self.index_of(envelope_id), size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return self.tree.consistency_proof(old_size, new_size)

    # -- gossip: heads, differences, documents, forks, witnessing ----------------

    def heads(self) -> dict[bytes, int]:
        """Per author key, the highest seq placed in this log."""
        return {
            bytes(k): int(q)
            for k, q in self.db.execute("SELECT author_key, seq FROM heads").fetchall()
        }

    def head_ids(self) -> dict[bytes, bytes]:
        return {
            bytes(k): bytes(i)
            for k, i in self.db.execute("SELECT author_key, envelope_id FROM heads").fetchall()
        }

    def differing_heads(self, peer_head_ids: Mapping[bytes, tuple[int, bytes]]) -> list[bytes]:
        """Our envelopes at the seqs where a peer's head differs from what we hold there:
        sent so that an equivocation held by two nodes meets and becomes a fork proof."""
        out: list[bytes] = []
        for author, (seq, envelope_id) in peer_head_ids.items():
            row = self.db.execute(
                "SELECT id, raw FROM envelopes WHERE author_key = ? AND seq = ?", [author, seq]
            ).fetchone()
            if row is not None and bytes(row[0]) != envelope_id:
                out.append(bytes(row[1]))
        return out[:64]

    def envelopes_beyond(
        self, peer_heads: Mapping[bytes, int], max_bytes: int
    ) -> tuple[list[bytes], bool]:
        """Envelopes this log has past ``peer_heads``, in chain order, up to ``max_bytes``.

        The cost grows with the difference, not with the log: one indexed range
        query per author that is ahead.
        """
        out: list[bytes] = []
        size = 0
        for author, seq in sorted(self.heads().items()):
            theirs = peer_heads.get(author, 0)
            if seq <= theirs:
                continue
            rows = self.db.execute(
                "SELECT raw FROM envelopes WHERE author_key = ? AND seq > ? ORDER BY seq",
                [author, theirs],
            )
            for (raw,) in rows:
                if size + len(raw) > max_bytes and out:
                    return out, True
                out.append(bytes(raw))
                size += len(raw)
        return out, False

    def documents(self) -> dict[bytes, bytes]:
        """Every trust document this node holds, by digest (for gossip)."""
        docs: dict[bytes, bytes] = {}
        for roster in self.trust.chain.versions:
            data = roster.document.to_bytes()
            docs[sha256(data)[:16]] = data
        for group in (self.trust.certificates, self.trust.revocations):
            for items in group.values():
                for item in items:
                    data = item.document.to_bytes()
                    docs[sha256(data)[:16]] = data
        now = self.clock()
        for announcements in self.trust.prekeys.values():
            for announcement in announcements:
                if announcement.valid_until_ms <= now:
                    continue  # expired prekeys are of no use to anyone: not gossiped
                data = announcement.document.to_bytes()
                docs[sha256(data)[:16]] = data
        return docs

    def add_document(self, data: bytes) -> str:
        """Verify and keep a trust document from a peer; returns what happened."""
        try:
            document = SignedDocument.from_bytes(data)
        except ProtocolError as exc:
            return f"refused: {exc.message}"
        home = self.home
        try:
            if document.doc_type == "roster":
                before = self.trust.chain.current.version
                roster = self.trust.chain.update(data, self.clock())
                if roster.version == before:
                    return "known"
                home.save_roster(data, roster.version)
            elif document.doc_type == "certificate":
                self.trust.add_certificate(data)
                home.save_document(home.certificate_dir, data, ".cert")
            elif document.doc_type == "revocation":
                self.trust.add_revocation(data)
                home.save_document(home.revocation_dir, data, ".rev")
            elif document.doc_type == "prekey":
                self.trust.add_prekey(data, self.clock())
                home.save_document(home.prekey_announcement_dir, data, ".prekey")
            else:
                return f"refused: not a gossiped document type ({document.doc_type})"
        except IloError as exc:
            return f"refused: {exc.message}"
        return "added"

    def add_documents(self, documents: list[bytes]) -> list[str]:
        """Add several documents, in the order they depend on each other (rosters by
        version, certificates before the prekeys and revocations they vouch for), then
        retry the quarantine if anything was new. Results are in processing order."""
        order = {"roster": 0, "certificate": 1, "revocation": 2, "prekey": 3}

        def rank(data: bytes) -> tuple[int, int]:
            try:
                doc = SignedDocument.from_bytes(data)
                version = int(doc.payload().get("version", 0)) if doc.doc_type == "roster" else 0
            except ProtocolError:
                return (9, 0)
            return (order.get(doc.doc_type, 9), version)

        outcomes = [self.add_document(d) for d in sorted(documents, key=rank)]
        if "added" in outcomes:
            self.retry_quarantine(everything=True)
        return outcomes

    def fork_proofs(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.db.execute("SELECT proof FROM forks").fetchall()]

    def add_fork_proof(self, data: bytes) -> bool:
        """Store a peer's fork proof (verified from the two envelopes alone); hold the author."""
        try:
            proof = ForkProof.from_bytes(data, self.limits)
        except ProtocolError:
            return False
        now = self.clock()
        with transaction(self.db):
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO forks (author_key, seq, proof, detected_ms) "
                "VALUES (?, ?, ?, ?)",
                [proof.author_key, proof.seq, data, now],
            )
            self.db.execute(
                "UPDATE heads SET held_since_ms = ? WHERE author_key = ? AND held_since_ms IS NULL",
                [now, proof.author_key],
            )
        return bool(cursor.rowcount)

    def node_keys(self, node: str) -> dict[str, bytes]:
        """Signing keys certified for ``node`` (by name, for checkpoint note checks)."""
        return {
            node + "#" + key.hex()[:8]: key
            for key, certs in self.trust.certificates.items()
            if any(c.node == node and c.role == "node" for c in certs)
        }

    def verify_note_of(self, node: str, note: bytes) -> SignedCheckpoint:
        """Parse a checkpoint note and check it is signed by a certified key of ``node``."""
        signed = SignedCheckpoint.from_bytes(note)
        if signed.checkpoint.origin != f"ilo-node/{self.network}/{node}":
            raise NodeError(f"checkpoint origin {signed.checkpoint.origin!r} is not {node}'s log")
        for key in self.node_keys(node).values():
            try:
                signed.verify(node, key)
            except ProtocolError:
                continue
            if self.trust.decide(
                key=key,
                node=node,
                created_ms=min(signed.checkpoint.time_ms, self.trust.roster.expires_ms - 1),
                now_ms=self.clock(),
                witnessed_ms=None,
                role="node",
            ):
                return signed
        raise NodeError(
            f"checkpoint is not signed by a key of {node} that was valid when it was signed"
        )

    def last_witnessed(self, origin: str) -> tuple[int, bytes, bytes] | None:
        row = self.db.execute(
            "SELECT size, root, note FROM witnessed WHERE origin = ? ORDER BY size DESC LIMIT 1",
            [origin],
        ).fetchone()
        return (int(row[0]), bytes(row[1]), bytes(row[2])) if row else None

    def witnessed_at_size(self, origin: str, size: int) -> bytes | None:
        row = self.db.execute(
            "SELECT note FROM witnessed WHERE origin = ? AND size = ?", [origin, size]
        ).fetchone()
        return bytes(row[0]) if row else None

    def record_witnessed(self, signed: SignedCheckpoint) -> None:
        cp = signed.checkpoint
        with transaction(self.db):
            self.db.execute(
                "INSERT OR IGNORE INTO witnessed (origin, size, root, time_ms, note, received_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [cp.origin, cp.size, cp.root, cp.time_ms, signed.note, self.clock()],
            )

    def record_split_view(self, origin: str, note_a: bytes, note_b: bytes, reason: str) -> bool:
        a, b = sorted([note_a, note_b])
        with transaction(self.db):
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO split_views (origin, note_a, note_b, reason, detected_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                [origin, a, b, reason, self.clock()],
            )
        return bool(cursor.rowcount)

    def split_views(self) -> list[tuple[str, bytes, bytes, str]]:
        return [
            (r[0], bytes(r[1]), bytes(r[2]), r[3])
            for r in self.db.execute(
                "SELECT origin, note_a, note_b, reason FROM split_views"
            ).fetchall()
        ]

    def record_cosignature(self, note: bytes, witness: str) -> bool:
        """Keep a witness's cosignature of one of our checkpoints, if it verifies."""
        signed = SignedCheckpoint.from_bytes(note)
        cp = signed.checkpoint
        ours = self.db.execute("SELECT note FROM checkpoints WHERE size = ?", [cp.size]).fetchone()
        if ours is None or SignedCheckpoint.from_bytes(bytes(ours[0])).checkpoint != cp:
            return False
        for key in self.node_keys(witness).values():
            try:
                time_s = verify_cosignature(signed, witness, key)
            except ProtocolError:
                continue
            if not self.trust.decide(
                key=key,
                node=witness,
                created_ms=min(time_s * 1000, self.trust.roster.expires_ms - 1),
                now_ms=self.clock(),
                witnessed_ms=None,
                role="node",
            ):
                continue
            with transaction(self.db):
                self.db.execute(
                    "INSERT OR REPLACE INTO cosignatures (size, witness, time_s, note) "
                    "VALUES (?, ?, ?, ?)",
                    [cp.size, witness, time_s, note],
                )
            return True
        return False

    def checkpoint_note_at(self, size: int | None = None) -> bytes | None:
        if size is None:
            row = self.db.execute(
                "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        else:
            row = self.db.execute("SELECT note FROM checkpoints WHERE size = ?", [size]).fetchone()
        return bytes(row[0]) if row else None

    # -- retention ----------------------------------------------------------------

    def apply_retention(self, policy: Mapping[str, int], now: int | None = None) -> int:
        """Erase (crypto-shred) content older than its retention; returns how many.

        ``policy`` maps ``kind``, ``handling`` codes and ``"default"`` to days; the
        shortest applicable period wins.
        """
        moment = now if now is not None else self.clock()
        rows = self.db.execute(
            "SELECT e.id, e.kind, e.handling, e.created_ms FROM contents c "
            "JOIN envelopes e ON e.id = c.envelope_id"
        ).fetchall()
        expired: list[tuple[bytes, str]] = []
        for envelope_id, kind, handling, created in rows:
            periods = [policy[k] for k in (kind, handling, "default") if k in policy]
            if not periods:
                continue
            days = min(periods)
            if created + days * 86_400_000 <= moment:
                expired.append((envelope_id, f"retention {days} days ({kind}, {handling})"))
        if not expired:
            return 0
        with transaction(self.db):
            for envelope_id, reason in expired:
                self.db.execute("DELETE FROM contents WHERE envelope_id = ?", [envelope_id])
                self.db.execute(
                    "INSERT OR REPLACE INTO erasures (envelope_id, erased_ms, reason) "
                    "VALUES (?, ?, ?)",
                    [envelope_id, moment, reason],
                )
        return len(expired)
