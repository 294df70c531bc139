"""A consistent copy of a node database while its node may be writing to it.

SQLite's online backup API (``sqlite3.Connection.backup``) copies the database
from a read-only connection in one step: one read transaction, so the copy is
the database as of one committed transaction, whatever commits meanwhile. The
node's database is in WAL mode, where a reader does not block the writer: the
running node goes on ingesting while the copy is made, and only the checkpointing
of its WAL file waits until the copy is done (the WAL grows meanwhile). The copy
is switched to a rollback journal, so it is one self-contained file; the node puts
it back in WAL mode when it opens it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ilo_node.errors import StoreError
from ilo_node.home.backup import DatabaseState

__all__ = ["check_database", "copy_database", "database_state"]


def copy_database(source: Path, target: Path, own_key: bytes | None) -> DatabaseState:
    """Copy the node database at ``source`` to ``target`` (a new file, 0600), check the
    copy, and return what it holds; ``own_key`` is the node's signing key, whose chain
    head is noted."""
    try:
        # Created 0600 before SQLite opens it (as the node's own database is).
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        os.chmod(target, 0o600)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot read the node database {source}: {exc}") from None
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # one step, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")
            dst.commit()
            problem = _quick_check(dst)
            if problem is not None:
                raise StoreError(
                    f"the copy of {source} is damaged: {problem}",
                    "The node's database itself may be damaged: run 'ilo-node log verify' "
                    "on the node and keep its earlier backups.",
                )
            return database_state(dst, own_key)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot copy the node database {source}: {exc}") from None
    finally:
        src.close()


def _quick_check(conn: sqlite3.Connection) -> str | None:
    rows = conn.execute("PRAGMA quick_check").fetchall()
    result = "; ".join(str(r[0]) for r in rows[:3])
    return None if result == "ok" else result


def check_database(path: Path) -> str | None:
    """What is wrong with the SQLite file at ``path`` (``None``: SQLite reads it whole)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        return _quick_check(conn)
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()


def database_state(conn: sqlite3.Connection, own_key: bytes | None) -> DatabaseState:
    """Schema version, log size, latest checkpoint and own chain head of an open copy."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables:
        return DatabaseState(schema_version=0, log_size=0)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    size = conn.execute("SELECT COUNT(*) FROM envelopes").fetchone()[0]
    checkpoint = conn.execute(
        "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1"
    ).fetchone()
    head = (
        conn.execute(
            "SELECT seq, envelope_id FROM heads WHERE author_key = ?", [own_key]
        ).fetchone()
        if own_key is not None
        else None
    )
    return DatabaseState(
        schema_version=version,
        log_size=int(size),
        checkpoint_size=None if checkpoint is None else int(checkpoint[0]),
        checkpoint_note=None
        if checkpoint is None
        else bytes(checkpoint[1]).decode("utf-8", "replace"),
        own_key=None if own_key is None or head is None else own_key.hex(),
        own_seq=None if head is None else int(head[0]),
        own_id=None if head is None else bytes(head[1]).hex(),
    )
