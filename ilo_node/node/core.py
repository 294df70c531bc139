"""A node home opened for work: the parts of a node, wired together.

:class:`Node` owns the database, the Merkle log and the trust state of one
home, and hands them to its parts: :class:`~ilo_node.node.ingest.Ingestor` (the
one ingest path), :class:`~ilo_node.node.log.MerkleLog` (tree, checkpoints,
proofs), :class:`~ilo_node.node.documents.TrustDocuments`,
:class:`~ilo_node.node.witnessing.Witnessing`,
:class:`~ilo_node.node.queries.LogView` and
:class:`~ilo_node.node.search.SearchIndex`. It is not thread-safe: inside the
daemon one worker thread owns it (ADR 0008).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ilo_node.errors import NodeError
from ilo_node.home.home import Home, now_ms
from ilo_node.home.keyfiles import read_private_key
from ilo_node.home.ownkeys import OwnKeys
from keys.ownkey import OwnKeyChoice
from protocol.checkpoint import origin_for
from protocol.envelope import Envelope
from protocol.errors import IloError
from protocol.limits import DEFAULT_LIMITS, Limits

from .counters import Counters
from .documents import TrustDocuments
from .evidence import MAX_EVIDENCE_ASKED, EvidenceStore
from .ingest import Ingestor, IngestResult
from .lock import release_writer_lock, take_writer_lock
from .log import MerkleLog
from .officers import OfficerDesk
from .ownchain import OwnChain
from .publish import Publication, publish
from .queries import LogView
from .retention import apply_retention
from .search import SearchIndex
from .state import NodeState, QuarantineLimits
from .store import open_store
from .witnessing import Witnessing

__all__ = ["Node"]


class Node(NodeState):
    """The shared state of the parts (it is a :class:`NodeState`), and the parts."""

    def __init__(
        self,
        home: Home,
        passphrase: bytes | None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], int] = now_ms,
        writer: bool = True,
        counters: Counters | None = None,
        quarantine_limits: QuarantineLimits | None = None,
    ) -> None:
        config = home.require_role("node")
        assert config.node is not None
        self._lock_fd = take_writer_lock(home) if writer else None
        db = open_store(home.path / "node.db")
        origin = origin_for(config.network, config.node)
        super().__init__(
            home=home,
            node_id=config.node,
            network=config.network,
            limits=limits,
            clock=clock,
            db=db,
            log=MerkleLog(db, origin, config.node, clock),
            trust=home.trust_state(),
            counters=counters or Counters(),
            quarantine_limits=quarantine_limits or QuarantineLimits(),
        )
        #: The node's signing keys on disk, with a passphrase; None when opened without.
        self.own_keys: OwnKeys | None = None
        #: Why ``signing`` is the key it is (None until chosen, or set from outside).
        self.signing_choice: OwnKeyChoice | None = None
        if passphrase is not None:
            self.own_keys = OwnKeys(home, passphrase)
            self.choose_signing_key()
            self._load_prekeys(passphrase)
        self.own_chain = OwnChain(self)
        self.search = SearchIndex(self)
        self.ingestor = Ingestor(self, self.search)
        self.docs = TrustDocuments(self)
        self.witnessing = Witnessing(self)
        self.evidence = EvidenceStore(self)
        self.view = LogView(self)
        self.officers = OfficerDesk(self, self.ingestor, self.log)
        if writer:
            # The search index: FTS5 secure-delete on where SQLite has it, and content
            # held before the index existed indexed (once, after the migration).
            self.search.start()
            # A kill between a batch's commit and the quarantine retry that follows it
            # would otherwise leave placeable envelopes waiting: retry on every start.
            self.ingestor.retry_quarantine()

    def __repr__(self) -> str:
        return f"Node({self.node_id} in {self.network}, {self.log.size} envelopes)"

    def _load_prekeys(self, passphrase: bytes) -> None:
        directory = self.home.prekey_dir
        if not directory.exists():
            return
        for path in sorted(directory.glob("*.key")):
            key = read_private_key(path, passphrase)
            self.prekey_secrets[key.public] = key.reveal()

    def choose_signing_key(self) -> bool:
        """Sign from now on with the newest of the node's keys that may speak for it now
        (``keys/ownkey.py``): after a rotation, the retired key until the new one's
        certificate is here, then the new one at once. True if that changed the key, or
        whether it may speak."""
        if self.own_keys is None:
            return False
        key, choice = self.own_keys.choose(self.trust, self.node_id, self.clock())
        before = self.signing_choice
        self.signing, self.signing_choice = key, choice
        if before is not None and before.key != choice.key:
            self.counters.add("keys", "signing_switches")
        return before is None or (before.key, before.may_speak) != (choice.key, choice.may_speak)

    def reload_keys(self) -> bool:
        """Look at the key files again (after ``keys rotate``) and choose the signing key;
        True if the key in use, or whether it may speak, changed."""
        if self.own_keys is None:
            raise NodeError(
                "this node was opened without its passphrase; it holds no keys to reload"
            )
        self.own_keys.reload()
        self.counters.add("keys", "reloads")
        return self.choose_signing_key()

    def close(self) -> None:
        self.db.conn.close()
        if self._lock_fd is not None:
            release_writer_lock(self._lock_fd)
            self._lock_fd = None

    def size(self) -> int:
        return self.log.size

    # -- the operations that combine parts ------------------------------------------

    def ingest(
        self,
        batch: Sequence[bytes],
        received_ms: int | None = None,
        source: str = "local",
        sender: str = "",
    ) -> list[IngestResult]:
        return self.ingestor.ingest(batch, received_ms, source, sender)

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
        request = Publication(kind, content, distribution, handling, tuple(states))
        return publish(self, self.ingestor, request)

    def checkpoint(self) -> bytes:
        """Sign a checkpoint of the log now (or return the latest if it did not grow)."""
        return self.log.checkpoint(self.signing)

    def add_documents(self, documents: Iterable[bytes]) -> list[str]:
        """Verify and keep trust documents, then retry the quarantine if any was new."""
        outcomes = self.docs.add_all(documents)
        if "added" in outcomes:
            # First the key: a certificate of this node's new key makes it sign with it
            # from here on, before anything else is written. A key file that cannot be
            # opened leaves the key in use as it was; the documents are kept all the same
            # (the daemon's next look at its keys reports the file).
            with contextlib.suppress(IloError):
                self.choose_signing_key()
            self.ingestor.retry_quarantine(everything=True)
        return outcomes

    def add_evidence(self, items: Iterable[bytes]) -> int:
        """Keep peers' evidence that quarantined envelopes were witnessed, and retry those
        it proves; returns how many envelopes got an earlier witnessed time."""
        quarantine = self.ingestor.quarantine
        waiting = {
            envelope_id: raw
            for envelope_id in quarantine.waiting_for_evidence(MAX_EVIDENCE_ASKED)
            if (raw := quarantine.raw(envelope_id)) is not None
        }
        improved = self.evidence.add(items, waiting)
        if improved:
            self.ingestor.retry_quarantine(first=list(waiting.values()))
        return improved

    def apply_retention(self, policy: Mapping[str, int], now: int | None = None) -> int:
        return apply_retention(self, self.search, policy, now if now is not None else self.clock())
