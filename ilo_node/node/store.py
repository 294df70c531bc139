"""The node's SQLite database: schema, migrations and the few queries the node needs.

One database per node home (``HOME/node.db``), in WAL mode with
``synchronous=FULL``: a transaction that returned is on disk, so whatever the
node acknowledged survives ``kill -9`` and power loss. ``secure_delete`` makes
SQLite overwrite erased content instead of leaving it in free pages.

Tables (created with sqlite-utils; schema version 2):

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



def _table(
    db: sqlite_utils.Database,
    name: str,
    columns: dict[str, type],
    pk: str | tuple[str, ...],
    nullable: tuple[str, ...] = (),
) -> None:
    db.table(name).create(columns, pk=pk, not_null={c for c in columns if c not in nullable})


def _migrate_to_1(db: sqlite_utils.Database) -> None:
    _table(
        db,
        "envelopes",
        {
            "idx": int,
            "id": bytes,
            "raw": bytes,
            "author_key": bytes,
            "author_node": str,
            "seq": int,
            "kind": str,
            "distribution": str,
            "handling": str,
            "created_ms": int,
            "received_ms": int,
            "root_after": bytes,
        },
        pk="idx",
    )
    envelopes = db.table("envelopes")
    envelopes.create_index(["id"], index_name="envelopes_id", unique=True)
    envelopes.create_index(["author_key", "seq"], index_name="envelopes_author")
    envelopes.create_index(["kind", "created_ms"], index_name="envelopes_kind")
    _table(
        db,
        "heads",
        {
            "author_key": bytes,
            "author_node": str,
            "seq": int,
            "envelope_id": bytes,
            "held_since_ms": int,
        },
        pk="author_key",
        nullable=("held_since_ms",),
    )
    _table(
        db,
        "contents",
        {"envelope_id": bytes, "content": bytes, "content_key": bytes, "opened_ms": int},
        pk="envelope_id",
    )
    _table(
        db, "erasures", {"envelope_id": bytes, "erased_ms": int, "reason": str}, pk="envelope_id"
    )
    _table(
        db,
        "quarantine",
        {
            "id": bytes,
            "raw": bytes,
            "author_key": bytes,
            "seq": int,
            "reason": str,
            "waiting_for": str,
            "first_seen_ms": int,
            "last_try_ms": int,
            "attempts": int,
        },
        pk="id",
    )
    db.table("quarantine").create_index(["waiting_for"], index_name="quarantine_waiting")
    _table(
        db,
        "forks",
        {"author_key": bytes, "seq": int, "proof": bytes, "detected_ms": int},
        pk=("author_key", "seq"),
    )
    _table(
        db,
        "checkpoints",
        {"size": int, "root": bytes, "time_ms": int, "signer_key": bytes, "note": bytes},
        pk="size",
    )
    _table(
        db,
        "witnessed",
        {
            "origin": str,
            "size": int,
            "root": bytes,
            "time_ms": int,
            "note": bytes,
            "received_ms": int,
        },
        pk=("origin", "size"),
    )


def _migrate_to_2(db: sqlite_utils.Database) -> None:
    """Gossip: witnesses' cosignatures of our checkpoints, and split-view evidence."""
    _table(
        db,
        "cosignatures",
        {"size": int, "witness": str, "time_s": int, "note": bytes},
        pk=("size", "witness"),
    )
    _table(
        db,
        "split_views",
        {"origin": str, "note_a": bytes, "note_b": bytes, "reason": str, "detected_ms": int},
        pk=("origin", "note_a", "note_b"),
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
                    _table(db, "meta", {"key": str, "value": str}, pk="key")
                MIGRATIONS[target](db)
                db.table("meta").upsert({"key": "schema_version", "value": str(target)}, pk="key")
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
