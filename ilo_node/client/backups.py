"""Backing up a node home while its node runs, and restoring one: the steps in order.

``take_backup`` copies the database through SQLite's backup API
(``ilo_node/node/snapshot.py``), then the home's other files, then writes the
manifest (``ilo_node/home/backup.py``); the database comes first so that the
trust documents copied after it are at least as new as what it holds.

``restore_backup`` checks before it changes anything: the manifest and every
file's size and SHA-256, the node of the target home (not running), then copies
the backup into a new directory beside the home, checks every file again as it
is copied, runs ``log verify`` on the copy, writes the restore record that holds
the node's own publishing (``ilo_node/home/restored.py``), and only then puts
the copy in place, moving a home that was there aside.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ilo_node import __version__
from ilo_node.client.local import LocalApiClient, node_running
from ilo_node.errors import BackupError, NodeError
from ilo_node.home.backup import (
    DATABASE,
    BackupFile,
    DatabaseState,
    Manifest,
    check_backup,
    copy_home_files,
    file_digest,
    files_dir,
    is_empty_dir,
    move_into_place,
    prepare_target,
    read_manifest,
    remove_partial,
    stage_files,
    staging_path,
    write_manifest,
)
from ilo_node.home.home import Home
from ilo_node.home.restored import Restore, RestoreRecord, read_restore_record, write_restore_record
from ilo_node.net.config import load_config
from ilo_node.net.peers import peers_for
from ilo_node.node.audit import AuditReport, verify_log
from ilo_node.node.core import Node
from ilo_node.node.lock import release_writer_lock, take_writer_lock
from ilo_node.node.snapshot import check_database, copy_database
from ilo_node.node.store import SCHEMA_VERSION
from keys.roster import fingerprint_of
from protocol.errors import IloError

__all__ = [
    "BackupResult",
    "RestoreResult",
    "restore_backup",
    "resume_publishing",
    "take_backup",
]

#: Free space asked for beyond the bytes to write (file system overhead, the WAL).
_SPACE_MARGIN = 16 << 20


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    #: Entries of the home that are not regular files (links, sockets), not copied.
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RestoreResult:
    home: Path
    manifest: Manifest
    #: ``log verify`` on the restored database (``None``: the backup holds none).
    verify: AuditReport | None
    #: Whether the restored copy is now the home (not if ``verify`` found problems).
    placed: bool
    #: Where the home that was there went (``None``: there was none, or it was empty).
    moved_aside: Path | None = None
    #: The fingerprint of the restored home's pinned root roster, to compare with the
    #: one read out when the node was set up.
    root_fingerprint: str | None = None


def _log_files(home: Home) -> list[str]:
    """The daemon's log file as ``daemon.json`` names it (not part of a backup)."""
    try:
        name = load_config(home).log_file
    except IloError:
        return []  # a daemon.json the node cannot read is copied, and its log too
    return [] if name is None else [Path(name).as_posix()]


def _check_space(where: Path, needed: int) -> None:
    free = shutil.disk_usage(where).free
    if free < needed + _SPACE_MARGIN:
        raise BackupError(
            f"{where} has {free // (1 << 20)} MiB free; this needs about "
            f"{(needed + _SPACE_MARGIN) // (1 << 20)} MiB",
            "Free some space there, or choose another place.",
        )


def _database_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / DATABASE, home / f"{DATABASE}-wal") if p.exists())


def take_backup(home: Home, target: Path, now_ms: int) -> BackupResult:
    """A consistent copy of the node home ``home`` in the new (or empty) directory
    ``target``, while its node runs or not; private keys stay as encrypted as they are."""
    config = home.require_role("node")
    running = node_running(home)
    created = prepare_target(target, home.path)
    try:
        _check_space(target, _database_bytes(home.path))
        top = files_dir(target)
        top.mkdir(mode=0o700)
        entries: list[BackupFile] = []
        database: DatabaseState | None = None
        if (home.path / DATABASE).exists():
            database = copy_database(home.path / DATABASE, top / DATABASE, home.public_key())
            size, digest = file_digest(top / DATABASE)
            entries.append(BackupFile(DATABASE, size, digest))
        copied, skipped = copy_home_files(home.path, target, _log_files(home))
        manifest = Manifest(
            node=str(config.node),
            network=config.network,
            created_ms=now_ms,
            tool_version=__version__,
            node_running=running,
            database=database,
            files=tuple(entries + copied),
        )
        write_manifest(target, manifest)
    except BaseException:
        remove_partial(target, created)
        raise
    return BackupResult(target, manifest, skipped)


def _refuse_if_running(home: Home) -> None:
    if node_running(home):
        raise BackupError(
            f"the node of {home.path} is running: a restore would replace its files under it",
            "Stop the node first (its service, or 'ilo-node stop'), then restore again.",
        )


@contextlib.contextmanager
def _no_writer(home: Home) -> Iterator[None]:
    """Hold the writer lock of the home that is there (if it is a node's) while it is
    moved aside, so that no node starts in it meanwhile."""
    if not (home.path / "config.json").exists():
        yield
        return
    try:
        fd = take_writer_lock(home)
    except NodeError:
        raise BackupError(
            f"{home.path} is in use by a running node (or another command)",
            "Stop the node first (its service, or 'ilo-node stop'), then restore again.",
        ) from None
    try:
        yield
    finally:
        release_writer_lock(fd)


def _existing_node(home: Home) -> str | None:
    try:
        config = home.config()
    except IloError:
        return None
    return config.node if config.role == "node" else None


def _refuse_target(home: Home, manifest: Manifest, force: bool) -> None:
    path = home.path
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise BackupError(f"{path} is not a directory", "Give the node's home directory.")
    if not path.exists() or is_empty_dir(path):
        return
    other = _existing_node(home)
    if other is not None and other != manifest.node:
        raise BackupError(
            f"{path} is the home of {other}; the backup is of {manifest.node}",
            "Restore into the home of the node the backup was taken of, or into a new directory.",
        )
    if not force:
        raise BackupError(
            f"{path} is not empty",
            "Restore into a new or empty directory, or give --force to replace it: the "
            "home that is there is then moved aside (HOME.before-restore-TIME), not deleted.",
        )


def restore_backup(
    backup: Path,
    home: Home,
    *,
    force: bool,
    now_ms: int,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> RestoreResult:
    """Check ``backup`` whole, then make it the node home ``home``; see the module."""
    manifest = read_manifest(backup)
    problems = check_backup(backup, manifest)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise BackupError(
            f"{backup} is not whole: {problems[0]}{more}",
            "Nothing was changed. Restore another backup; this one was damaged or "
            "changed after it was written.",
        )
    database = manifest.database
    if database is not None and database.schema_version > SCHEMA_VERSION:
        raise BackupError(
            f"the backup's database has schema version {database.schema_version}, newer "
            f"than this ilo-node's ({SCHEMA_VERSION})",
            f"Restore it with ilo-node {manifest.tool_version} or newer.",
        )
    _refuse_if_running(home)
    _refuse_target(home, manifest, force)
    home.path.parent.mkdir(parents=True, exist_ok=True)
    _check_space(home.path.parent, manifest.total_bytes)
    staging = staging_path(home.path)
    if staging.exists():
        shutil.rmtree(staging)  # a restore by this process id that did not finish
    try:
        stage_files(backup, manifest, staging)
        staged = Home(staging)
        config = staged.require_role("node")
        if config.node != manifest.node or config.network != manifest.network:
            raise BackupError(
                f"the backup's config.json is of {config.node} in {config.network}, its "
                f"manifest says {manifest.node} in {manifest.network}",
                "Restore another backup; this one was changed after it was written.",
            )
        report = None
        if database is not None:
            damaged = check_database(staging / DATABASE)
            if damaged is not None:
                raise BackupError(
                    f"the backup's database cannot be read whole: {damaged}",
                    "Nothing was changed. Restore another backup.",
                )
            report = verify_log(
                staging / DATABASE,
                staged.checkpoint_keys(),
                manifest.node,
                workers=workers,
                progress=progress,
            )
            if not report.ok:
                shutil.rmtree(staging, ignore_errors=True)
                return RestoreResult(home.path, manifest, report, placed=False)
        roster = staged.roster_files()
        fingerprint = fingerprint_of(roster[0].read_bytes()) if roster else None
        # Held even without a database: the node may have published since the backup.
        before = read_restore_record(staged) or RestoreRecord((), None)
        record = before.after_restore(
            Restore(now_ms, manifest.created_ms, database.log_size if database else 0),
            staged.public_key().hex(),
        )
        write_restore_record(staging, record)
        with _no_writer(home):
            _refuse_if_running(home)
            aside = move_into_place(staging, home.path, now_ms)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreResult(home.path, manifest, report, True, aside, fingerprint)


def resume_publishing(home: Home) -> list[str] | None:
    """The operator lets a restored node publish before every peer has answered; returns
    the peers it had not heard from (``None``: its publishing was not held)."""
    home.require_role("node")
    if node_running(home):
        answer = LocalApiClient(home).call("POST", "/local/resume-publishing", {})
        if not isinstance(answer, dict) or not answer.get("resumed"):
            return None
        missing = answer.get("not_heard_from")
        return [str(p) for p in missing] if isinstance(missing, list) else []
    node = Node(home, None)
    try:
        own = node.own_chain
        assert own is not None  # every opened node has one
        return own.resume(peers_for(node.trust.roster, node.node_id))
    finally:
        node.close()
