"""Backups of a node home on disk: what is copied, the manifest, and putting a copy back.

::

    BACKUP/manifest.json   what was copied (every file with its size and SHA-256) and the
                           state of the log at backup time; written last, so a backup
                           without it did not finish
    BACKUP/home/...        the home's files as they are at rest (private keys encrypted
                           with the passphrase, node.db a consistent SQLite copy), 0600
                           in 0700 directories

The database is copied by the node layer (``ilo_node/node/snapshot.py``, SQLite's
backup API); this module copies the other files, writes and checks the manifest,
and places a checked copy where a home was, moving an existing home aside, never
deleting it. The client layer (``ilo_node/client/backups.py``) runs the steps in order.

The manifest proves a backup *whole* (nothing missing, truncated or changed by
accident since it was written), not authentic: whoever can change the backup can
change its manifest too. What proves the log is ``log verify`` on the restored
database; what proves the trust documents is the root roster's fingerprint,
which the restore prints for the operator to compare with the one pinned.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ilo_node.errors import BackupError, InputError
from ilo_node.formats.jsonfile import (
    get_int,
    get_list,
    get_object,
    get_str,
    json_object,
    read_json_file,
)

__all__ = [
    "BACKUP_FORMAT",
    "DATABASE",
    "FILES_DIR",
    "MANIFEST",
    "BackupFile",
    "DatabaseState",
    "Manifest",
    "aside_path",
    "check_backup",
    "copy_home_files",
    "copy_private",
    "file_digest",
    "files_dir",
    "is_empty_dir",
    "move_into_place",
    "prepare_target",
    "read_manifest",
    "remove_partial",
    "stage_files",
    "staging_path",
    "write_manifest",
]

BACKUP_FORMAT = "ilo-node-backup"
BACKUP_VERSION = 1
MANIFEST = "manifest.json"
FILES_DIR = "home"
#: The database, copied through SQLite (its -wal and -shm are part of the live file).
DATABASE = "node.db"
_DATABASE_FILES = frozenset({DATABASE, "node.db-wal", "node.db-shm", "node.db-journal"})
#: What a node makes anew each time it runs, or an officer's command while it runs.
_RUNTIME_FILES = frozenset({"node.lock", "daemon.sock", "ready.json", "officer.lock"})
#: The daemon's log when ``ilo-node run`` writes to the home (the launcher's default).
_DEFAULT_LOG = "daemon.log"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BackupFile:
    """One file of a backup: its path under ``home/`` (POSIX), size and SHA-256."""

    path: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class DatabaseState:
    """The node database as it was copied: what a restore compares and reports."""

    schema_version: int
    log_size: int
    #: The latest checkpoint the node had signed (its size and C2SP note), if any.
    checkpoint_size: int | None = None
    checkpoint_note: str | None = None
    #: The head of the node's own chain (its signing key at backup time), if any.
    own_key: str | None = None
    own_seq: int | None = None
    own_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": DATABASE,
            "schema_version": self.schema_version,
            "log_size": self.log_size,
            "latest_checkpoint": None
            if self.checkpoint_size is None
            else {"size": self.checkpoint_size, "note": self.checkpoint_note},
            "own_head": None
            if self.own_key is None
            else {"key": self.own_key, "seq": self.own_seq, "id": self.own_id},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any], what: str) -> DatabaseState:
        checkpoint = raw.get("latest_checkpoint")
        head = raw.get("own_head")
        if checkpoint is not None:
            checkpoint = json_object(checkpoint, f"{what}: latest_checkpoint")
        if head is not None:
            head = json_object(head, f"{what}: own_head")
        return cls(
            schema_version=get_int(raw, "schema_version", what),
            log_size=get_int(raw, "log_size", what),
            checkpoint_size=None if checkpoint is None else get_int(checkpoint, "size", what),
            checkpoint_note=None if checkpoint is None else get_str(checkpoint, "note", what),
            own_key=None if head is None else get_str(head, "key", what),
            own_seq=None if head is None else get_int(head, "seq", what),
            own_id=None if head is None else get_str(head, "id", what),
        )


@dataclass(frozen=True)
class Manifest:
    node: str
    network: str
    created_ms: int
    tool_version: str
    #: Whether a node was running in the home while it was copied.
    node_running: bool
    database: DatabaseState | None
    files: tuple[BackupFile, ...] = field(default=())

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": BACKUP_FORMAT,
            "version": BACKUP_VERSION,
            "tool_version": self.tool_version,
            "created_ms": self.created_ms,
            "node": self.node,
            "network": self.network,
            "node_running": self.node_running,
            "database": None if self.database is None else self.database.to_json(),
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, raw: Any, what: str) -> Manifest:
        obj = json_object(raw, what)
        if obj.get("format") != BACKUP_FORMAT:
            raise InputError(f"{what} is not an ilo-node backup manifest")
        version = get_int(obj, "version", what)
        if version > BACKUP_VERSION:
            raise InputError(
                f"{what} is of backup format version {version}; this ilo-node reads "
                f"version {BACKUP_VERSION}",
                "Restore it with the ilo-node version that made it, or a newer one.",
            )
        running = obj.get("node_running")
        if type(running) is not bool:
            raise InputError(f"{what}: field 'node_running' must be true or false")
        database = obj.get("database")
        files: list[BackupFile] = []
        for item in get_list(obj, "files", what):
            entry = json_object(item, f"{what}: an entry of 'files'")
            digest = get_str(entry, "sha256", what)
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise InputError(f"{what}: a file's sha256 is not 64 lowercase hex digits")
            path = _safe_path(get_str(entry, "path", what), what)
            files.append(BackupFile(path, get_int(entry, "size", what), digest))
        if len({f.path for f in files}) != len(files):
            raise InputError(f"{what} lists a file twice")
        return cls(
            node=get_str(obj, "node", what),
            network=get_str(obj, "network", what),
            created_ms=get_int(obj, "created_ms", what),
            tool_version=get_str(obj, "tool_version", what),
            node_running=running,
            database=None
            if database is None
            else DatabaseState.from_json(get_object(obj, "database", what), f"{what}: database"),
            files=tuple(files),
        )


def _safe_path(text: str, what: str) -> str:
    """A relative path inside the backup's ``home/``, in one spelling: a manifest must not
    be able to name a file outside the home it restores."""
    path = PurePosixPath(text)
    if (
        not text
        or path.is_absolute()
        or str(path) != text
        or any(part in ("", ".", "..") for part in path.parts)
        or "\\" in text
        or "\0" in text
    ):
        raise InputError(f"{what}: {text[:80]!r} is not a plain relative path")
    return text


# -- taking a backup --------------------------------------------------------------------


def files_dir(backup: Path) -> Path:
    return backup / FILES_DIR


def is_empty_dir(path: Path) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except NotADirectoryError:
        return False


def prepare_target(target: Path, home: Path) -> bool:
    """Make ``target`` ready for a backup of ``home``: a new or empty directory, 0700,
    not inside the home. True if it was created here (so a failed backup removes it)."""
    resolved, home_resolved = target.resolve(), home.resolve()
    if resolved == home_resolved or home_resolved in resolved.parents:
        raise BackupError(
            f"{target} is inside the home it would back up ({home})",
            "Keep backups outside the home, preferably on another disk or machine.",
        )
    created = False
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise BackupError(f"{target} exists and is not a directory", "Give a new directory.")
    if target.exists():
        if not is_empty_dir(target):
            raise BackupError(
                f"{target} is not empty: a backup is only written into a new or empty directory",
                "Give a new directory for each backup (for example one named by the date: "
                "backups/2026-11-28); remove old backups yourself when you no longer need them.",
            )
    else:
        try:
            # Directories made for it are the owner's alone too (backups/DE@TR/…).
            for parent in reversed([p for p in target.parents if not p.exists()]):
                parent.mkdir(mode=0o700)
                os.chmod(parent, 0o700)
            target.mkdir(mode=0o700)
        except OSError as exc:
            raise BackupError(
                f"cannot create {target}: {exc.strerror or type(exc).__name__}",
                "Check the path and that this user may write there.",
            ) from None
        created = True
    os.chmod(target, 0o700)
    return created


def remove_partial(target: Path, created: bool) -> None:
    """Remove what a backup that failed wrote (it holds keys and readable content); a
    directory that was there before stays, empty."""
    if created:
        shutil.rmtree(target, ignore_errors=True)
        return
    for entry in list(target.iterdir()) if target.exists() else []:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def _private_parents(path: Path, top: Path) -> None:
    """Create the directories from ``top`` (existing) down to ``path``'s parent, 0700."""
    missing: list[Path] = []
    for parent in path.parents:
        if parent == top or parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(parent, 0o700)


def copy_private(source: Path, target: Path, top: Path) -> tuple[int, str]:
    """Copy one file to ``target`` (new, 0600; its directories under ``top`` 0700),
    synced to disk; returns its size and SHA-256 as it was read."""
    _private_parents(target, top)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as stream:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode is filtered by the umask
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    return size, digest.hexdigest()


def file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _is_log(rel: str, logs: Iterable[str]) -> bool:
    for log in logs:
        if rel == log:
            return True
        rest = rel[len(log) + 1 :] if rel.startswith(log + ".") else ""
        if rest.isdigit():  # a rotated log: daemon.log.1, daemon.log.2, ...
            return True
    return False


def _home_entries(home: Path, logs: Iterable[str]) -> Iterator[tuple[Path, str]]:
    """(path, relative POSIX path) of what a backup of ``home`` holds, sorted; symbolic
    links and other non-regular files come with a relative path starting with ``!``.
    ``logs``: the daemon's log files, relative to the home."""
    all_logs = {_DEFAULT_LOG, *logs}
    for directory, dirs, files in os.walk(home):
        dirs.sort()
        here = Path(directory)
        relative = here.relative_to(home)
        for name in sorted(files) + sorted(d for d in dirs if (here / d).is_symlink()):
            path = here / name
            rel = (relative / name).as_posix()
            at_top = relative == Path(".")
            if at_top and (name in _DATABASE_FILES or name in _RUNTIME_FILES):
                continue
            if _is_log(rel, all_logs):
                continue
            if name.startswith(".") and ".tmp" in name:
                continue  # an atomic write in progress (or one a crash left behind)
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                continue  # removed while the backup ran (a prekey deleted, say)
            yield path, rel if stat.S_ISREG(mode) else "!" + rel


def copy_home_files(
    home: Path, backup: Path, logs: Iterable[str] = ()
) -> tuple[list[BackupFile], list[str]]:
    """Copy the files of ``home`` (not its database, lock, socket or ``logs``, relative
    to the home) into the backup; returns what was copied and what was skipped (links,
    sockets and the like).

    Each file is written whole by the node (replaced atomically), so each copy is a
    version of it that existed; a file removed while the backup runs is left out.
    """
    target_top = files_dir(backup)
    copied: list[BackupFile] = []
    skipped: list[str] = []
    for path, rel in _home_entries(home, logs):
        if rel.startswith("!"):
            skipped.append(rel[1:])
            continue
        try:
            size, digest = copy_private(path, target_top / rel, backup)
        except FileNotFoundError:
            continue
        copied.append(BackupFile(rel, size, digest))
    return copied, skipped


def write_manifest(backup: Path, manifest: Manifest) -> None:
    """Written last, atomically: a backup directory with a manifest is complete."""
    data = json.dumps(manifest.to_json(), indent=1, sort_keys=True).encode() + b"\n"
    tmp = backup / f".{MANIFEST}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, backup / MANIFEST)
    _sync_dir(backup)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- checking and restoring ---------------------------------------------------------------


def read_manifest(backup: Path) -> Manifest:
    if not backup.is_dir():
        raise BackupError(
            f"no backup directory at {backup}",
            "Give the directory 'ilo-node backup DIR' wrote (it holds manifest.json and home/).",
        )
    path = backup / MANIFEST
    if not path.exists():
        raise BackupError(
            f"{backup} has no {MANIFEST}: it is not a backup, or one that did not finish",
            "Restore a backup that finished (its 'ilo-node backup' run reported success).",
        )
    try:
        return Manifest.from_json(read_json_file(path, "a backup manifest"), str(path))
    except InputError as exc:
        raise BackupError(exc.message, exc.advice) from None


def check_backup(backup: Path, manifest: Manifest) -> list[str]:
    """Every way the files of ``backup`` differ from its manifest (empty: it is whole)."""
    top = files_dir(backup)
    problems: list[str] = []
    listed = {f.path for f in manifest.files}
    for entry in manifest.files:
        path = top / entry.path
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            problems.append(f"{entry.path} is missing")
            continue
        if not stat.S_ISREG(mode):
            problems.append(f"{entry.path} is not a regular file")
            continue
        size, digest = file_digest(path)
        if size != entry.size:
            problems.append(f"{entry.path} has {size} bytes, the manifest says {entry.size}")
        elif digest != entry.sha256:
            problems.append(f"{entry.path} does not have the SHA-256 the manifest gives")
    if top.exists():
        for directory, dirs, files in os.walk(top):
            here = Path(directory)
            # Directories are walked into; a link to one is an entry like a file.
            entries = sorted(files) + sorted(d for d in dirs if (here / d).is_symlink())
            for name in entries:
                rel = (here / name).relative_to(top).as_posix()
                if rel not in listed:
                    problems.append(f"{rel} is in the backup but not in its manifest")
    elif manifest.files:
        problems.append(f"{FILES_DIR}/ is missing")
    if manifest.database is not None and DATABASE not in listed:
        problems.append(f"the manifest describes a database but does not list {DATABASE}")
    return problems


def stage_files(backup: Path, manifest: Manifest, staging: Path) -> None:
    """Copy the backup's files into ``staging`` (a new directory beside the home), each
    checked against the manifest again as it is copied."""
    staging.mkdir(mode=0o700)
    os.chmod(staging, 0o700)
    top = files_dir(backup)
    for entry in manifest.files:
        size, digest = copy_private(top / entry.path, staging / entry.path, staging)
        if (size, digest) != (entry.size, entry.sha256):
            raise BackupError(
                f"{entry.path} changed while it was being restored",
                "Something writes to the backup: stop it, then restore again. Nothing "
                "was changed in the home.",
            )
    _sync_dir(staging)


def staging_path(home: Path) -> Path:
    return home.parent / f".{home.name}.restoring-{os.getpid()}"


def aside_path(home: Path, now_ms: int) -> Path:
    """Where a home that a restore replaces is kept: beside it, named by the time."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_ms / 1000))
    candidate = home.with_name(f"{home.name}.before-restore-{stamp}")
    n = 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = home.with_name(f"{home.name}.before-restore-{stamp}-{n}")
    return candidate


def move_into_place(staging: Path, home: Path, now_ms: int) -> Path | None:
    """Put the restored copy where ``home`` is; an existing home (not empty) is renamed
    beside it, never deleted. Returns where it went, if anywhere."""
    aside: Path | None = None
    if home.is_symlink() or home.exists():
        if home.is_dir() and not home.is_symlink() and is_empty_dir(home):
            home.rmdir()
        else:
            aside = aside_path(home, now_ms)
            os.rename(home, aside)
    os.rename(staging, home)
    _sync_dir(home.parent)
    return aside
