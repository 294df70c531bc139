"""The node's Merkle log: the tree over accepted envelopes, signed checkpoints, proofs.

The leaves are the envelope ids in log order (``envelopes.idx``); the tree is
kept in memory, rebuilt from the ids at start and after a rolled-back batch,
and every row stores the root right after it was appended, which is what lets
``log verify`` name the first row that was changed. Checkpoints are C2SP signed
notes (ADR 0007) signed with the node key under the node id.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from ilo_node.errors import NodeError
from keys.keystore import SecretKey
from protocol.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from protocol.merkle import MerkleTree, leaf_hash

from .store import transaction

__all__ = ["MerkleLog"]


class MerkleLog:
    def __init__(
        self, db: sqlite_utils.Database, origin: str, name: str, clock: Callable[[], int]
    ) -> None:
        self.db = db
        self.origin = origin
        self.name = name
        self.clock = clock
        self.tree = MerkleTree()
        self.rebuild()

    def rebuild(self) -> None:
        """Rebuild the tree from the stored ids (at start, and after a rollback)."""
        self.tree = MerkleTree(
            leaf_hash(row[0]) for row in self.db.execute("SELECT id FROM envelopes ORDER BY idx")
        )

    @property
    def size(self) -> int:
        return self.tree.size

    def append(self, envelope_id: bytes) -> tuple[int, bytes]:
        """Add a leaf; returns its index and the root after it."""
        index = self.tree.size
        self.tree.append(leaf_hash(envelope_id))
        return index, self.tree.root()

    def root(self, size: int | None = None) -> bytes:
        return self.tree.root(size)

    # -- checkpoints ----------------------------------------------------------------

    def checkpoint(self, signing: SecretKey | None) -> bytes:
        """Sign and store a checkpoint of the log as it is now (or return the latest
        if nothing was appended since)."""
        if signing is None:
            raise NodeError("this node was opened without its passphrase; cannot sign")
        size = self.tree.size
        latest = self.checkpoint_note_at(size)
        if latest is not None:
            return latest
        checkpoint = Checkpoint(self.origin, size, self.tree.root(), self.clock())
        note = sign_checkpoint(checkpoint, self.name, signing.reveal())
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO checkpoints (size, root, time_ms, signer_key, note) "
                "VALUES (?, ?, ?, ?, ?)",
                [size, checkpoint.root, checkpoint.time_ms, signing.public, note],
            )
        return note

    def checkpoint_note_at(self, size: int | None = None) -> bytes | None:
        """This node's checkpoint note at ``size``, or its latest one."""
        if size is None:
            row = self.db.execute(
                "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        else:
            row = self.db.execute("SELECT note FROM checkpoints WHERE size = ?", [size]).fetchone()
        return bytes(row[0]) if row else None

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        note = self.checkpoint_note_at()
        return SignedCheckpoint.from_bytes(note) if note is not None else None

    # -- proofs ---------------------------------------------------------------------

    def index_of(self, envelope_id: bytes) -> int:
        row = self.db.execute("SELECT idx FROM envelopes WHERE id = ?", [envelope_id]).fetchone()
        if row is None:
            raise NodeError(f"envelope {envelope_id.hex()[:16]}… is not in this node's log")
        return int(row[0])

    def inclusion_proof(self, envelope_id: bytes, size: int | None = None) -> list[bytes]:
        return self.tree.inclusion_proof(self.index_of(envelope_id), size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return self.tree.consistency_proof(old_size, new_size)
