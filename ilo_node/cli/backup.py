"""``ilo-node backup`` and ``ilo-node restore``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import home_of
from ilo_node.cli.log import audit_failure, audit_line, audit_record
from ilo_node.client.backups import (
    BackupResult,
    RestoreResult,
    restore_backup,
    resume_publishing,
    take_backup,
)
from ilo_node.formats.timefmt import format_ms
from ilo_node.home.home import Home, now_ms

__all__ = ["backup", "restore"]

_DIRECTORY = click.Path(file_okay=False, path_type=Path)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def _backup_record(result: BackupResult) -> dict[str, Any]:
    manifest = result.manifest
    return {
        "backup": str(result.path),
        "manifest": str(result.path / "manifest.json"),
        "node": manifest.node,
        "network": manifest.network,
        "created_ms": manifest.created_ms,
        "node_running": manifest.node_running,
        "files": len(manifest.files),
        "bytes": manifest.total_bytes,
        "database": None if manifest.database is None else manifest.database.to_json(),
        "skipped": result.skipped,
    }


@click.command()
@click.argument("directory", type=_DIRECTORY)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def backup(ctx: click.Context, directory: Path, as_json: bool) -> None:
    """Copy the node's home into DIRECTORY (new or empty), while the node runs or not.

    The database is copied with SQLite's online backup API, as of one moment, while
    the node goes on working; then the keys, trust documents and settings. Private
    keys stay encrypted with the passphrase, as they are at rest (no passphrase is
    asked for). Every file is written 0600 in 0700 directories, and DIRECTORY/
    manifest.json, written last, lists each with its size and SHA-256, with the
    log's size and latest checkpoint. Logs, the lock and the socket are left out.

    A backup holds the node's keys and every message it can read: keep it as you
    keep the home (docs/operator-guide.md, "Backups and restore").

    \b
    Examples:
      ilo-node --home /srv/ilo/node-DE backup /srv/backups/node-DE/2026-11-28
      ilo-node --home node-DE backup backups/node-DE-1 --json
    """
    result = take_backup(home_of(ctx), directory, now_ms())
    if as_json:
        click.echo(json.dumps(_backup_record(result), indent=1, sort_keys=True))
        return
    manifest = result.manifest
    click.echo(
        f"backup of {manifest.node} written to {result.path}: {len(manifest.files)} files, "
        f"{_mib(manifest.total_bytes)}"
        + (" (the node was running)" if manifest.node_running else "")
    )
    database = manifest.database
    if database is None:
        click.echo("  no node database yet: the home's files only")
    else:
        checkpoint = database.checkpoint_size
        click.echo(
            f"  log: {database.log_size} envelopes, latest checkpoint "
            + (f"at {checkpoint}" if checkpoint is not None else "none")
            + f", schema version {database.schema_version}"
        )
    for name in result.skipped:
        click.echo(f"  not copied (not a regular file): {name}")


def _restore_record(result: RestoreResult, backup_dir: Path) -> dict[str, Any]:
    manifest = result.manifest
    publishing = "held" if result.placed else None
    return {
        "restored": result.placed,
        "home": str(result.home),
        "backup": str(backup_dir),
        "node": manifest.node,
        "network": manifest.network,
        "backup_created_ms": manifest.created_ms,
        "node_running_at_backup": manifest.node_running,
        "files_checked": len(manifest.files),
        "bytes": manifest.total_bytes,
        "log_verify": None if result.verify is None else audit_record(result.verify),
        "moved_aside": None if result.moved_aside is None else str(result.moved_aside),
        "root_fingerprint": result.root_fingerprint,
        "publishing": publishing,
    }


def _print_restore(result: RestoreResult, backup_dir: Path) -> None:
    manifest = result.manifest
    click.echo(
        f"restored {manifest.node} into {result.home} from {backup_dir} "
        f"(taken {format_ms(manifest.created_ms)}"
        + (", the node running)" if manifest.node_running else ")")
    )
    click.echo(f"  {len(manifest.files)} files checked against the manifest")
    if result.verify is not None:
        click.echo(f"  {audit_line(result.verify)}")
    if result.moved_aside is not None:
        click.echo(f"  the home that was there is now {result.moved_aside} (nothing was deleted)")
    if result.root_fingerprint is not None:
        click.echo(
            f"  root roster fingerprint {result.root_fingerprint}: compare it with the one "
            "you pinned"
        )
    click.echo(
        "  publishing as the node is held until every peer has answered it: start the "
        "node; it catches up from its peers and then publishes again by itself"
    )


@click.command()
@click.argument("backup_dir", metavar="BACKUP", type=_DIRECTORY, required=False)
@click.option(
    "--home",
    "target",
    type=_DIRECTORY,
    default=None,
    help="The home to restore into [default: ilo-node's --home].",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a home that is not empty: it is moved aside (HOME.before-restore-TIME), "
    "never deleted.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes for log verify's signature checks [default: all cores].",
)
@click.option(
    "--resume-publishing",
    "resume",
    is_flag=True,
    help="Instead of restoring: let a restored node publish before every peer has "
    "answered it (for a peer gone for good).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def restore(
    ctx: click.Context,
    backup_dir: Path | None,
    target: Path | None,
    force: bool,
    workers: int | None,
    resume: bool,
    as_json: bool,
) -> None:
    """Restore a node home from BACKUP (a directory 'ilo-node backup' wrote).

    Refused while the node of the home runs, and into a home that is not empty
    unless --force. Before anything is changed: every file is checked against the
    manifest, then 'log verify' runs on the restored copy; only then does the copy
    become the home. Exits 1 if the log does not verify (nothing changed).

    The restored node catches up from its peers when it runs. It does not publish
    as itself (its own chain) until every peer has told it where that chain
    stands: what it signed after the backup is with them. With
    --resume-publishing (and no BACKUP) the operator lifts that hold early.

    \b
    Examples:
      ilo-node restore /srv/backups/node-DE/2026-11-28 --home /srv/ilo/node-DE
      ilo-node --home /srv/ilo/node-DE restore /srv/backups/node-DE/2026-11-28 --force --json
      ilo-node --home /srv/ilo/node-DE restore --resume-publishing
    """
    home = Home(target) if target is not None else home_of(ctx)
    if resume:
        if backup_dir is not None:
            raise click.UsageError("--resume-publishing takes no BACKUP")
        _resume(home, as_json)
        return
    if backup_dir is None:
        raise click.UsageError("give the BACKUP directory to restore")
    result = restore_backup(
        backup_dir, home, force=force, now_ms=now_ms(), workers=workers or os.cpu_count() or 1
    )
    if as_json:
        click.echo(json.dumps(_restore_record(result, backup_dir), indent=1, sort_keys=True))
    elif result.placed:
        _print_restore(result, backup_dir)
    if not result.placed:
        assert result.verify is not None
        raise audit_failure(result.verify)


def _resume(home: Home, as_json: bool) -> None:
    missing = resume_publishing(home)
    if as_json:
        record = {"resumed": missing is not None, "not_heard_from": missing or []}
        click.echo(json.dumps(record, indent=1))
        return
    if missing is None:
        click.echo("this node's publishing is not held: nothing to resume")
        return
    click.echo("the node publishes again as itself")
    if missing:
        click.echo(
            "  not heard from: "
            + ", ".join(missing)
            + " (if one of them holds an envelope this node signed after the backup, the "
            "next one it publishes forks its chain)"
        )
