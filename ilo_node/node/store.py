"""The node's SQLite database: schema, migrations and the few queries the node needs.

One database per node home (``HOME/node.db``), in WAL mode with
``synchronous=FULL``: a transaction that returned is on disk, so whatever the
node acknowledged survives ``kill -9`` and power loss. ``secure_delete`` makes
SQLite overwrite erased content instead of leaving it in free pages.

Tables (schema version 1):

``envelopes``   every accepted envelope, in log order: ``idx`` is its Merkle leaf
                index; ``raw`` the exact bytes received; ``root_after`` the log
                root once it was appended, so ``log verify`` can name the first
                row that no longer matches.
``heads``       per author key: the last placed seq and id; ``held_since_ms`` set
                when the author equivocated.
``contents``    decrypted content and its content key, only for envelopes
                addressed to this node, until retention erases them.
``erasures``    what was erased, when and why (the envelope itself stays).
``quarantine``  envelopes that cannot be placed yet, with what they wait for.
``forks``       fork proofs (two envelopes at one author seq).
``checkpoints`` this node's signed checkpoints (C2SP signed notes).
``witnessed``   other nodes' checkpoints this node saw (filled by gossip).
``cosignatures`` (v2) witnesses' cosignatures of this node's checkpoints.
``split_views`` (v2) two checkpoints of one origin that cannot both be true.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from ilo_node.errors import StoreError

__all__ = ["SCHEMA_VERSION", "open_store"]

SCHEMA_VERSION = 2



def _migrate_to_1(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE envelopes (
            idx INTEGER PRIMARY KEY,
            id BLOB NOT NULL UNIQUE,
            raw BLOB NOT NULL,
            author_key BLOB NOT NULL,
            author_node TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            distribution TEXT NOT NULL,
            handling TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            received_ms INTEGER NOT NULL,
            root_after BLOB NOT NULL
        )"""
    )
    db.execute("CREATE INDEX envelopes_author ON envelopes (author_key, seq)")
    db.execute("CREATE INDEX envelopes_kind ON envelopes (kind, created_ms)")
    db.execute(
        """
        CREATE TABLE heads (
            author_key BLOB PRIMARY KEY,
            author_node TEXT NOT NULL,
            seq INTEGER NOT NULL,
            envelope_id BLOB NOT NULL,
            held_since_ms INTEGER
        )"""
    )
    db.execute(
        """
        CREATE TABLE contents (
            envelope_id BLOB PRIMARY KEY,
            content BLOB NOT NULL,
            content_key BLOB NOT NULL,
            opened_ms INTEGER NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE erasures (
            envelope_id BLOB PRIMARY KEY,
            erased_ms INTEGER NOT NULL,
            reason TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE quarantine (
            id BLOB PRIMARY KEY,
            raw BLOB NOT NULL,
            author_key BLOB NOT NULL,
            seq INTEGER NOT NULL,
            reason TEXT NOT NULL,
            waiting_for TEXT NOT NULL,
            first_seen_ms INTEGER NOT NULL,
            last_try_ms INTEGER NOT NULL,
            attempts INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX quarantine_waiting ON quarantine (waiting_for)")
    db.execute(
        """
        CREATE TABLE forks (
            author_key BLOB NOT NULL,
            seq INTEGER NOT NULL,
            proof BLOB NOT NULL,
            detected_ms INTEGER NOT NULL,
            PRIMARY KEY (author_key, seq)
        )"""
    )
    db.execute(
        """
        CREATE TABLE checkpoints (
            size INTEGER PRIMARY KEY,
            root BLOB NOT NULL,
            time_ms INTEGER NOT NULL,
            signer_key BLOB NOT NULL,
            note BLOB NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE witnessed (
            origin TEXT NOT NULL,
            size INTEGER NOT NULL,
            root BLOB NOT NULL,
            time_ms INTEGER NOT NULL,
            note BLOB NOT NULL,
            received_ms INTEGER NOT NULL,
            PRIMARY KEY (origin, size)
        )"""
    )


def _migrate_to_2(db: sqlite_utils.Database) -> None:
    """Gossip: witnesses' cosignatures of our checkpoints, and split-view evidence."""
    db.execute(
        """
        CREATE TABLE cosignatures (
            size INTEGER NOT NULL,
            witness TEXT NOT NULL,
            time_s INTEGER NOT NULL,
            note BLOB NOT NULL,
            PRIMARY KEY (size, witness)
        )"""
    )
    db.execute(
        """
        CREATE TABLE split_views (
            origin TEXT NOT NULL,
            note_a BLOB NOT NULL,
            note_b BLOB NOT NULL,
            reason TEXT NOT NULL,
            detected_ms INTEGER NOT NULL,
            PRIMARY KEY (origin, note_a, note_b)
        )"""
    )


#: Migration n takes the schema from version n-1 to n. Append, never edit.
MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
}


def _version(db: sqlite_utils.Database) -> int:
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def open_store(path: Path) -> sqlite_utils.Database:
    """Open (creating or migrating) the node database at ``path``."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the node database {path}: {exc}") from None
    db = sqlite_utils.Database(conn)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA secure_delete=ON")
        db.execute("PRAGMA foreign_keys=ON")
        current = _version(db)
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has schema version {current}, newer than this ilo-node ({SCHEMA_VERSION})",
                "Upgrade ilo-node; do not open a newer database with an older node.",
            )
        for target in range(current + 1, SCHEMA_VERSION + 1):
            with transaction(db):
                if target == 1:
                    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                MIGRATIONS[target](db)
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    [str(target)],
                )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot use the node database {path}: {exc}") from None
    return db


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """One SQLite transaction: committed on success, rolled back on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
