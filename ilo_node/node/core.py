"""A node home opened for work: the parts of a node, wired together.

:class:`Node` owns the database, the Merkle log and the trust state of one
home, and hands them to its parts: :class:`~ilo_node.node.ingest.Ingestor` (the
one ingest path), :class:`~ilo_node.node.log.MerkleLog` (tree, checkpoints,
proofs), :class:`~ilo_node.node.documents.TrustDocuments`,
:class:`~ilo_node.node.witnessing.Witnessing` and
:class:`~ilo_node.node.queries.LogView`. It is not thread-safe: inside the
daemon one worker thread owns it (ADR 0008).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlite_utils

from ilo_node.home.home import Home, now_ms
from ilo_node.home.keyfiles import read_private_key
from keys.keystore import SecretKey
from keys.trust import TrustState
from protocol.checkpoint import origin_for
from protocol.envelope import Envelope
from protocol.limits import DEFAULT_LIMITS, Limits

from .counters import Counters
from .documents import TrustDocuments
from .ingest import Ingestor, IngestResult
from .lock import release_writer_lock, take_writer_lock
from .log import MerkleLog
from .publish import publish
from .queries import LogView
from .retention import apply_retention
from .state import NodeState
from .store import open_store
from .witnessing import Witnessing

__all__ = ["Node"]


class Node:
    def __init__(
        self,
        home: Home,
        passphrase: bytes | None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], int] = now_ms,
        writer: bool = True,
        counters: Counters | None = None,
    ) -> None:
        config = home.require_role("node")
        assert config.node is not None
        self._lock_fd = take_writer_lock(home) if writer else None
        db = open_store(home.path / "node.db")
        origin = origin_for(config.network, config.node)
        self.state = NodeState(
            home=home,
            node_id=config.node,
            network=config.network,
            limits=limits,
            clock=clock,
            db=db,
            log=MerkleLog(db, origin, config.node, clock),
            trust=home.trust_state(),
            counters=counters or Counters(),
        )
        if passphrase is not None:
            self.state.signing = home.signing_key(passphrase)
            self._load_prekeys(passphrase)
        self.log = self.state.log
        self.ingestor = Ingestor(self.state)
        self.docs = TrustDocuments(self.state)
        self.witnessing = Witnessing(self.state)
        self.view = LogView(self.state)
        if writer:
            # A kill between a batch's commit and the quarantine retry that follows it
            # would otherwise leave placeable envelopes waiting: retry on every start.
            self.ingestor.retry_quarantine()

    def _load_prekeys(self, passphrase: bytes) -> None:
        directory = self.home.prekey_dir
        if not directory.exists():
            return
        for path in sorted(directory.glob("*.key")):
            key = read_private_key(path, passphrase)
            self.state.prekey_secrets[key.public] = key.reveal()

    def close(self) -> None:
        self.state.db.conn.close()
        if self._lock_fd is not None:
            release_writer_lock(self._lock_fd)
            self._lock_fd = None

    # -- what the parts share, for callers ----------------------------------------

    @property
    def home(self) -> Home:
        return self.state.home

    @property
    def node_id(self) -> str:
        return self.state.node_id

    @property
    def network(self) -> str:
        return self.state.network

    @property
    def clock(self) -> Callable[[], int]:
        return self.state.clock

    @property
    def counters(self) -> Counters:
        return self.state.counters

    @property
    def trust(self) -> TrustState:
        return self.state.trust

    @trust.setter
    def trust(self, trust: TrustState) -> None:
        self.state.trust = trust

    @property
    def signing(self) -> SecretKey | None:
        return self.state.signing

    @signing.setter
    def signing(self, key: SecretKey | None) -> None:
        self.state.signing = key

    @property
    def prekey_secrets(self) -> dict[bytes, bytes]:
        return self.state.prekey_secrets

    @property
    def db(self) -> sqlite_utils.Database:
        return self.state.db

    def size(self) -> int:
        return self.log.size

    # -- the operations that combine parts ------------------------------------------

    def ingest(
        self, batch: Sequence[bytes], received_ms: int | None = None, source: str = "local"
    ) -> list[IngestResult]:
        return self.ingestor.ingest(batch, received_ms, source)

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
        return publish(
            self.state,
            self.ingestor,
            kind,
            content,
            distribution=distribution,
            handling=handling,
            states=states,
        )

    def checkpoint(self) -> bytes:
        """Sign a checkpoint of the log now (or return the latest if it did not grow)."""
        return self.log.checkpoint(self.state.signing)

    def add_documents(self, documents: Iterable[bytes]) -> list[str]:
        """Verify and keep trust documents, then retry the quarantine if any was new."""
        outcomes = self.docs.add_all(documents)
        if "added" in outcomes:
            self.ingestor.retry_quarantine(everything=True)
        return outcomes

    def apply_retention(self, policy: Mapping[str, int], now: int | None = None) -> int:
        return apply_retention(self.state, policy, now if now is not None else self.clock())
