"""``ilo-node log``: checkpoints, proofs, verification and raw ingest of the Merkle log."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from ilo_node.cli.common import emit, home_of, json_option, node_client
from ilo_node.client import AuditReport
from ilo_node.errors import AuditFailure, IncompleteError
from ilo_node.formats.frames import read_frames
from ilo_node.formats.timefmt import format_ms
from protocol.checkpoint import Checkpoint, split_note

__all__ = ["audit_failure", "audit_line", "audit_record", "log"]


def _progress_printer() -> Callable[[int, int], None]:
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or done == total:
            last[0] = now
            click.echo(f"verified {done}/{total} signatures", err=True)

    return show


def _show_proof(record: dict[str, Any], as_json: bool, heading: str, tail: str) -> None:
    """A proof as JSON, or as its heading, one base64 hash a line, and ``tail``."""
    if as_json:
        click.echo(json.dumps(record, indent=1))
        return
    click.echo("\n".join([heading, *(f"  {h}" for h in record["proof"])]))
    click.echo(tail, nl=False)


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in values]


@click.group()
def log() -> None:
    """Checkpoints, proofs and verification of the node's Merkle log.

    Run in a node's home. See 'ilo-node log COMMAND --help' for each command's
    examples.
    """


@log.command("checkpoint")
@json_option
@click.pass_context
def log_checkpoint(ctx: click.Context, as_json: bool) -> None:
    """Sign a checkpoint of the log now and print it (C2SP signed note).

    With --json: its origin, size, root and time, and the note itself.

    \b
    Examples:
      ilo-node --home node-DE log checkpoint > checkpoint-DE.txt
      ilo-node --home node-DE log checkpoint --json
    """
    client = node_client(ctx)
    try:
        note = client.checkpoint()
    finally:
        client.close()
    if not as_json:
        click.echo(note, nl=False)
        return
    checkpoint = Checkpoint.from_body(split_note(note.encode())[0])
    record = {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": _b64([checkpoint.root])[0],
        "time": format_ms(checkpoint.time_ms),
        "note": note,
    }
    emit(record, True, "")


@log.command("prove")
@click.argument("envelope")
@json_option
@click.pass_context
def log_prove(ctx: click.Context, envelope: str, as_json: bool) -> None:
    """Inclusion proof of an envelope in the latest signed checkpoint.

    ENVELOPE is the id, or its first 8 or more hex digits.

    \b
    Examples:
      ilo-node --home node-DE log prove 5e1f0a9d
      ilo-node --home node-DE log prove --json 5e1f0a9d3c7b24e6
    """
    client = node_client(ctx)
    try:
        wanted = client.resolve(envelope)
        proof = client.prove(wanted)
    finally:
        client.close()
    record: dict[str, Any] = {
        "envelope_id": wanted.hex(),
        "index": proof["index"],
        "tree_size": proof["tree_size"],
        "proof": _b64(proof["proof"]),
        "checkpoint": proof["note"].decode(),
    }
    heading = f"envelope {wanted.hex()} is leaf {record['index']} of {record['tree_size']}"
    _show_proof(record, as_json, heading, record["checkpoint"])


@log.command("consistency")
@click.argument("old_size", type=click.IntRange(0))
@click.argument("new_size", type=click.IntRange(0))
@json_option
@click.pass_context
def log_consistency(ctx: click.Context, old_size: int, new_size: int, as_json: bool) -> None:
    """Consistency proof between two sizes of the log.

    \b
    Examples:
      ilo-node --home node-DE log consistency 1024 1401
      ilo-node --home node-DE log consistency 1024 1401 --json > proof.json
    """
    client = node_client(ctx)
    try:
        result = client.consistency(old_size, new_size)
    finally:
        client.close()
    record: dict[str, Any] = {
        "old_size": old_size,
        "new_size": new_size,
        "old_root": _b64([result["old_root"]])[0],
        "new_root": _b64([result["new_root"]])[0],
        "proof": _b64(result["proof"]),
    }
    _show_proof(record, as_json, f"log of {old_size} is a prefix of log of {new_size}", "")


@log.command("verify")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes for signature checks [default: all cores].",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress [default: when stderr is a terminal].",
)
@json_option
@click.pass_context
def log_verify(
    ctx: click.Context, workers: int | None, progress: bool | None, as_json: bool
) -> None:
    """Recompute the whole log from its stored bytes and check it against the checkpoints.

    Exits 1 if any problem is found.

    \b
    Examples:
      ilo-node --home node-DE log verify
      ilo-node --home node-DE log verify --workers 2 --no-progress --json
    """
    home_of(ctx).require_role("node")
    show = progress if progress is not None else sys.stderr.isatty()
    client = node_client(ctx)
    try:
        report = client.verify_log(
            workers or os.cpu_count() or 1, _progress_printer() if show else None
        )
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(audit_record(report), indent=1))
    elif report.ok:
        click.echo(audit_line(report))
    if not report.ok:
        raise audit_failure(report)


def audit_record(report: AuditReport) -> dict[str, Any]:
    """What ``log verify --json`` prints (and ``restore --json`` under ``log_verify``)."""
    return {
        "ok": report.ok,
        "size": report.size,
        "signatures_verified": report.signatures,
        "checkpoints": report.checkpoints,
        "latest_checkpoint": report.latest_checkpoint,
        "contents_checked": report.contents,
        "erasures": report.erasures,
        "problems": [{"position": p, "message": m} for p, m in report.problems],
    }


def audit_line(report: AuditReport) -> str:
    cp = report.latest_checkpoint
    return (
        f"log OK: {report.size} envelopes, {report.signatures} signatures, "
        f"{report.checkpoints} checkpoint(s)"
        + (f", latest covers {cp}" if cp is not None else ", none signed yet")
    )


def audit_failure(report: AuditReport) -> AuditFailure:
    more = len(report.problems) - 1
    return AuditFailure(report.problems[0][1] + (f" (and {more} more problem(s))" if more else ""))


@log.command("ingest")
@click.option("--batch", type=click.IntRange(1, 10_000), default=64, show_default=True)
@json_option
@click.pass_context
def log_ingest(ctx: click.Context, batch: int, as_json: bool) -> None:
    """Ingest length-prefixed envelopes from stdin; print one 'ack' line per stored envelope
    only after its batch is committed, a 'nack' line per envelope not stored.

    With --json, one JSON object a line instead (status, stored, reason, id, log_index).
    Exits 1 at the end if any envelope was not stored.

    \b
    Examples:
      ilo-node --home node-DE log ingest --batch 256 < envelopes.bin > acks.txt
      ilo-node --home node-DE log ingest --json < envelopes.bin
    """
    client = node_client(ctx)
    pending: list[bytes] = []
    seen = [0, 0]  # envelopes read, and those not stored

    def flush() -> None:
        for result in client.ingest(pending):
            stored = result["stored"]
            seen[0] += 1
            seen[1] += not stored
            if as_json:
                click.echo(json.dumps(result, sort_keys=True))
                continue
            ident = result["id"] or "-"
            click.echo(
                f"{'ack' if stored else 'nack'} {ident} {result['status']} {result['reason']}"
            )
        sys.stdout.flush()
        pending.clear()

    try:
        client.require_keys()
        for frame in read_frames(sys.stdin.buffer):
            pending.append(frame)
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
    finally:
        client.close()
    if seen[1]:
        raise IncompleteError(
            f"{seen[1]} of the {seen[0]} envelope(s) read were not stored (listed above)",
            "Each one's line gives the reason; the envelopes acknowledged are stored. Send "
            "the deferred ones again later; a rejected one will be refused again.",
        )
