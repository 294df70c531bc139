"""The node's SQLite database: schema, migrations and the few queries the node needs.

One database per node home (``HOME/node.db``), in WAL mode with
``synchronous=FULL``: a transaction that returned is on disk, so whatever the
node acknowledged survives ``kill -9`` and power loss. ``secure_delete`` makes
SQLite overwrite erased content instead of leaving it in free pages.

Tables (created with sqlite-utils; schema version 4):

``envelopes``   every accepted envelope, in log order: ``idx`` is its Merkle leaf
                index; ``raw`` the exact bytes received; ``root_after`` the log
                root once it was appended, so ``log verify`` can name the first
                row that no longer matches.
``heads``       per author key: the last placed seq and id; ``held_since_ms`` set
                when the author equivocated.
``contents``    decrypted content and its content key, only for envelopes
                addressed to this node, until retention erases them.
``erasures``    what was erased, when and why (the envelope itself stays).
``quarantine``  envelopes that cannot be placed yet, with what they wait for and
                (v3) the peer that sent them.
``forks``       fork proofs (two envelopes at one author seq).
``checkpoints`` this node's signed checkpoints (C2SP signed notes).
``witnessed``   other nodes' checkpoints this node saw (filled by gossip).
``cosignatures`` (v2) witnesses' cosignatures of this node's checkpoints.
``split_views`` (v2) two checkpoints of one origin that cannot both be true.
``evidence``    (v3) per envelope, the earliest proof that it was witnessed: a
                cosigned checkpoint of some node's log with an inclusion proof.
``search_docs`` (v5) per readable envelope, the text that search finds it by
                (``node/search.py``), with its FTS5 index ``search_docs_fts`` and
                that index's shadow tables (``search_docs_fts_data`` and others);
                rows leave with the content they were built from.
``officer_reads`` (v4) which officer of this node read which envelope, and when.
``pending_shares`` (v4) recipients an officer's or this node's envelope could not
                be sealed to yet (no prekey): the node shares its content key with
                them once their prekey arrives.

(v4) ``envelopes`` also holds ``author_officer`` and ``ref_relation``/``ref_target``
(the header's ``refers_to``); ``quarantine.target`` is the envelope a retraction,
correction or share waits for.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from ilo_node.errors import StoreError

__all__ = ["SCHEMA_VERSION", "open_store"]


_TYPES: dict[str, type] = {"text": str, "int": int, "blob": bytes}


@dataclass(frozen=True)
class _Table:
    """A table as ``"name:type ..."`` columns (text, int, blob); ``*`` after a type marks
    the primary key, ``?`` a column that may be null (every other one is NOT NULL)."""

    name: str
    columns: str
    indexes: tuple[tuple[str, str, bool], ...] = ()  # (name, "col col", unique)

    def create(self, db: sqlite_utils.Database) -> None:
        columns: dict[str, type] = {}
        pk: list[str] = []
        not_null: set[str] = set()
        for column in self.columns.split():
            name, kind = column.split(":")
            columns[name] = _TYPES[kind.rstrip("*?")]
            if kind.endswith("*"):
                pk.append(name)
            if not kind.endswith("?"):
                not_null.add(name)
        table = db.table(self.name)
        table.create(columns, pk=pk[0] if len(pk) == 1 else tuple(pk), not_null=not_null)
        for index, indexed, unique in self.indexes:
            table.create_index(indexed.split(), index_name=index, unique=unique)


@dataclass(frozen=True)
class _Column:
    """A column added to an existing table; existing rows get ``default`` (``None``: a
    column that may be null)."""

    table: str
    name: str
    kind: str
    default: str | int | None

    def create(self, db: sqlite_utils.Database) -> None:
        if self.default is None:
            db.table(self.table).add_column(self.name, _TYPES[self.kind])
        else:
            db.table(self.table).add_column(
                self.name, _TYPES[self.kind], not_null_default=self.default
            )


@dataclass(frozen=True)
class _Index:
    table: str
    name: str
    columns: str

    def create(self, db: sqlite_utils.Database) -> None:
        db.table(self.table).create_index(self.columns.split(), index_name=self.name)


@dataclass(frozen=True)
class _FullText:
    """An FTS5 index of ``columns`` of ``table``, named ``<table>_fts``.

    sqlite-utils makes it an external-content index (the text is kept once, in
    ``table``) and adds triggers that update it in the same statement as the row, so
    no code path can change a row and forget its index entry: an external-content
    FTS5 index told to delete values other than those it indexed is silently
    corrupted, and the triggers always hand it the stored ones. Rows of such a table
    are replaced by a DELETE then an INSERT, never by ``INSERT OR REPLACE``, whose
    implicit delete fires no trigger unless recursive triggers are on.
    """

    table: str
    columns: str
    tokenize: str

    def create(self, db: sqlite_utils.Database) -> None:
        db.table(self.table).enable_fts(
            self.columns.split(), fts_version="FTS5", create_triggers=True, tokenize=self.tokenize
        )


@dataclass(frozen=True)
class _Setting:
    """A row of ``meta``, for what a migration leaves for the node to do at its start."""

    key: str
    value: str

    def create(self, db: sqlite_utils.Database) -> None:
        db.table("meta").upsert({"key": self.key, "value": self.value}, pk="key")


_META = _Table("meta", "key:text* value:text")

#: The tables each schema version adds. Append a version, never edit one.
SCHEMA: dict[int, tuple[_Table | _Column | _Index | _FullText | _Setting, ...]] = {
    1: (
        _Table(
            "envelopes",
            "idx:int* id:blob raw:blob author_key:blob author_node:text seq:int kind:text "
            "distribution:text handling:text created_ms:int received_ms:int root_after:blob",
            (
                ("envelopes_id", "id", True),
                ("envelopes_author", "author_key seq", False),
                ("envelopes_kind", "kind created_ms", False),
            ),
        ),
        _Table(
            "heads",
            "author_key:blob* author_node:text seq:int envelope_id:blob held_since_ms:int?",
        ),
        _Table("contents", "envelope_id:blob* content:blob content_key:blob opened_ms:int"),
        _Table("erasures", "envelope_id:blob* erased_ms:int reason:text"),
        _Table(
            "quarantine",
            "id:blob* raw:blob author_key:blob seq:int reason:text waiting_for:text "
            "first_seen_ms:int last_try_ms:int attempts:int",
            (("quarantine_waiting", "waiting_for", False),),
        ),
        _Table("forks", "author_key:blob* seq:int* proof:blob detected_ms:int"),
        _Table("checkpoints", "size:int* root:blob time_ms:int signer_key:blob note:blob"),
        _Table(
            "witnessed", "origin:text* size:int* root:blob time_ms:int note:blob received_ms:int"
        ),
    ),
    # Gossip: witnesses' cosignatures of our checkpoints, and split-view evidence.
    2: (
        _Table("cosignatures", "size:int* witness:text* time_s:int note:blob"),
        _Table("split_views", "origin:text* note_a:blob* note_b:blob* reason:text detected_ms:int"),
    ),
    # Hardening: who sent what waits (quarantine bounded per sender), and evidence
    # that an envelope was witnessed (cosigned checkpoints of any node's log).
    3: (
        _Column("quarantine", "sender", "text", ""),
        _Index("quarantine", "quarantine_author", "author_key seq"),
        _Index("quarantine", "quarantine_sender", "sender"),
        _Table("evidence", "envelope_id:blob* witnessed_ms:int evidence:blob received_ms:int"),
    ),
    # Officers as authors: who wrote an envelope and what it refers to (from the signed
    # header, checked by log verify), what waits for its target, which officer read
    # what, and recipients still to be given a content key once their prekey arrives.
    4: (
        _Column("envelopes", "author_officer", "text", None),
        _Column("envelopes", "ref_relation", "text", None),
        _Column("envelopes", "ref_target", "blob", None),
        _Index("envelopes", "envelopes_ref", "ref_target"),
        _Index("envelopes", "envelopes_officer", "author_officer"),
        _Column("quarantine", "target", "blob", None),
        _Index("quarantine", "quarantine_target", "target"),
        _Table("officer_reads", "officer:text* envelope_id:blob* read_ms:int"),
        _Table("pending_shares", "envelope_id:blob* recipient:text* since_ms:int"),
    ),
    5: (
        # Search over readable content (node/search.py). ``idx`` is the envelope's log
        # index, an INTEGER PRIMARY KEY and so the rowid the FTS index refers to: a rowid
        # that is not a declared key may change on VACUUM. Content stored before this
        # version is indexed once, at the next start of a writer, as the setting asks.
        _Table(
            "search_docs",
            "idx:int* envelope_id:blob kind:text body:text fields:text",
            (("search_docs_envelope", "envelope_id", True),),
        ),
        _FullText("search_docs", "body fields", "unicode61 remove_diacritics 2"),
        _Setting("search_rebuild", "pending"),
    ),
}
SCHEMA_VERSION = max(SCHEMA)
#: The first schema of protocol version 2 (officers as authors): older databases hold
#: version-1 envelopes, which this code cannot decode.
_PROTOCOL_2_SCHEMA = 4


def _version(db: sqlite_utils.Database) -> int:
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def open_store(path: Path) -> sqlite_utils.Database:
    """Open (creating or migrating) the node database at ``path``."""
    try:
        # Created 0600 before SQLite opens it: SQLite gives its WAL and shared-memory
        # files the database file's mode, so all three stay the owner's alone.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the node database {path}: {exc}") from None
    # A TEXT value that is not UTF-8 (a changed database) must read as something, not
    # raise from deep inside a query: log verify then names it.
    conn.text_factory = _lenient_text
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
        if (
            0 < current < _PROTOCOL_2_SCHEMA
            and db.execute("SELECT 1 FROM envelopes LIMIT 1").fetchone()
        ):
            raise StoreError(
                f"{path} holds envelopes of protocol version 1, which this ilo-node (protocol "
                "version 2) cannot read or verify",
                "Protocol version 2 is adopted by the whole network at once: keep this "
                "database as the record of the old log (move it aside with its -wal file), "
                "and start the node with a new one.",
            )
        for target in range(current + 1, SCHEMA_VERSION + 1):
            with transaction(db):
                for table in ((_META,) if target == 1 else ()) + SCHEMA[target]:
                    table.create(db)
                db.table("meta").upsert({"key": "schema_version", "value": str(target)}, pk="key")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot use the node database {path}: {exc}") from None
    return db


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


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
