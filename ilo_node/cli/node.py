"""CLI commands that work on a node's log: publish, read, status, log, retention.

They open the node home directly. (When the daemon runs, officers' commands go
through its local API instead; see the gossip issue.)
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.keys import _home, _passphrase
from ilo_node.formats.jsoncontent import content_from_json, content_to_json
from ilo_node.home.home import Home, now_ms
from ilo_node.net.localapi import call_local
from ilo_node.node.audit import AuditFailure, progress_printer, verify_log
from ilo_node.node.core import Node
from protocol.canonical import decode_canonical
from protocol.envelope import DISTRIBUTIONS, HANDLING_CODES
from protocol.errors import UsageError
from protocol.examples import example
from protocol.kinds import KINDS
from protocol.limits import DEFAULT_LIMITS
from protocol.merkle import leaf_hash, verify_consistency, verify_inclusion

__all__ = ["register"]


def _open(ctx: click.Context, with_keys: bool = True, writer: bool = True) -> Node:
    home = _home(ctx)
    config = home.require_role("node")
    passphrase = _passphrase(ctx, f"the {config.label} keys") if with_keys else None
    return Node(home, passphrase, writer=writer)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _envelope_id(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"{text!r} is not an envelope id (64 hex digits)") from None
    if len(value) != 32:
        raise UsageError(f"{text!r} is not an envelope id (64 hex digits)")
    return value


@click.command()
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.option(
    "--file",
    "content_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Content as JSON (see docs/protocol.md, 'Message kinds').",
)
@click.option("--example", "use_example", is_flag=True, help="Publish the kind's sample content.")
@click.option(
    "--distribution", type=click.Choice(DISTRIBUTIONS), default="local", show_default=True
)
@click.option("--state", "states", multiple=True, help="Member State, for --distribution states.")
@click.option("--handling", type=click.Choice(HANDLING_CODES), default="H1", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def publish(
    ctx: click.Context,
    kind: str,
    content_file: Path | None,
    use_example: bool,
    distribution: str,
    states: tuple[str, ...],
    handling: str,
    as_json: bool,
) -> None:
    """Sign, encrypt and log a message of KIND from this node."""
    if use_example == (content_file is not None):
        raise UsageError("give exactly one of --file or --example")
    if content_file is not None:
        try:
            content = json.loads(content_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"no such file: {content_file}") from None
        except ValueError as exc:
            raise UsageError(f"{content_file} is not valid JSON: {exc}") from None
        content = content_from_json(content)
    else:
        content = example(kind)
    home = _home(ctx)
    home.require_role("node")
    via_daemon = call_local(
        home,
        "POST",
        "/local/publish",
        {
            "kind": kind,
            "content": content_to_json(content),
            "distribution": distribution,
            "handling": handling,
            "states": list(states),
        },
    )
    if via_daemon is not None:
        text = (
            f"published {kind} {via_daemon['id']} (seq {via_daemon['seq']}) to "
            f"{', '.join(via_daemon['recipients'])}"
        )
        click.echo(json.dumps(via_daemon) if as_json else text)
        return
    node = _open(ctx)
    try:
        envelope, result = node.publish(
            kind, content, distribution=distribution, handling=handling, states=states
        )
    finally:
        node.close()
    out = {
        "id": envelope.id.hex(),
        "kind": kind,
        "seq": envelope.header.seq,
        "recipients": list(envelope.header.recipients),
        "log_index": result.log_index,
    }
    text = (
        f"published {kind} {envelope.id.hex()} (seq {envelope.header.seq}) to "
        f"{', '.join(envelope.header.recipients)}"
    )
    click.echo(json.dumps(out) if as_json else text)


@click.command()
@click.argument("envelope_id", required=False)
@click.option("--kind", type=click.Choice(sorted(KINDS)))
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def read(
    ctx: click.Context, envelope_id: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """List readable messages, or show one by id."""
    node = _open(ctx, with_keys=False, writer=False)
    try:
        if envelope_id is not None:
            wanted = _envelope_id(envelope_id)
            envelope = node.envelope(wanted)
            if envelope is None:
                raise UsageError(f"envelope {envelope_id[:16]}… is not in this node's log")
            stored = node.content(wanted)
            header = envelope.header
            record: dict[str, Any] = {
                "id": envelope.id.hex(),
                "kind": header.kind,
                "author": header.author_node,
                "seq": header.seq,
                "created_ms": header.created_ms,
                "distribution": header.distribution,
                "handling": header.handling,
                "recipients": list(header.recipients),
            }
            if stored is not None:
                record["content"] = _jsonable(
                    decode_canonical(stored[0], DEFAULT_LIMITS, len(stored[0]), "content")
                )
            else:
                erased = node.db.execute(
                    "SELECT reason FROM erasures WHERE envelope_id = ?", [wanted]
                ).fetchone()
                record["content"] = None
                record["note"] = (
                    f"erased: {erased[0]}"
                    if erased
                    else "not addressed to this node: stored encrypted"
                )
            click.echo(json.dumps(record, indent=1 if not as_json else None))
            return
        sql = (
            "SELECT e.id, e.kind, e.author_node, e.seq, e.created_ms, e.handling "
            "FROM envelopes e JOIN contents c ON c.envelope_id = e.id"
        )
        args: list[Any] = []
        if kind:
            sql += " WHERE e.kind = ?"
            args.append(kind)
        sql += " ORDER BY e.idx DESC LIMIT ?"
        args.append(limit)
        rows = node.db.execute(sql, args).fetchall()
    finally:
        node.close()
    items = [
        {
            "id": bytes(r[0]).hex(),
            "kind": r[1],
            "author": r[2],
            "seq": r[3],
            "created_ms": r[4],
            "handling": r[5],
        }
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps(items))
    else:
        for item in items:
            click.echo(
                f"{item['id'][:16]}  {item['kind']:<28} {item['author']:<8} "
                f"seq {item['seq']:<5} {item['handling']}"
            )
        if not items:
            click.echo("no readable messages")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the node's log size, quarantine, forks and roster state."""
    node = _open(ctx, with_keys=False, writer=False)
    try:
        counts = node.counts()
        roster = node.trust.chain.status(now_ms())
        latest = node.latest_checkpoint()
        waiting = node.db.execute(
            "SELECT reason, COUNT(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC LIMIT 5"
        ).fetchall()
        record: dict[str, Any] = {
            "node": node.node_id,
            "network": node.network,
            "log_size": node.size(),
            **counts,
            "latest_checkpoint": latest.checkpoint.size if latest else None,
            "split_views": [{"origin": o, "reason": r} for o, _, _, r in node.split_views()],
            "roster": {"version": roster.version, "state": roster.state, "message": roster.message},
            "quarantine_reasons": {r: n for r, n in waiting},
        }
    finally:
        node.close()
    if as_json:
        click.echo(json.dumps(record, indent=1))
        return
    click.echo(
        f"{record['node']} in {record['network']}: {record['log_size']} envelopes "
        f"({counts['readable']} readable, {counts['erased']} erased)"
    )
    click.echo(
        f"  quarantine: {counts['quarantined']}; forks: {counts['forks']}; "
        f"authors held: {counts['authors_held']}"
    )
    for reason, n in record["quarantine_reasons"].items():
        click.echo(f"    {n} x {reason}")
    click.echo(f"  latest checkpoint: size {record['latest_checkpoint']}")
    for view in record["split_views"]:
        click.echo(
            f"  SPLIT VIEW: {view['origin']} signed inconsistent checkpoints "
            f"({view['reason']}); report it to the administrators"
        )
    click.echo(f"  {roster.message}")


# -- log --------------------------------------------------------------------------------


@click.group()
def log() -> None:
    """Checkpoints, proofs and verification of the node's Merkle log."""


@log.command("checkpoint")
@click.pass_context
def log_checkpoint(ctx: click.Context) -> None:
    """Sign a checkpoint of the log now and print it (C2SP signed note)."""
    via_daemon = call_local(_home(ctx), "POST", "/local/checkpoint")
    if via_daemon is not None:
        click.echo(via_daemon["note"], nl=False)
        return
    node = _open(ctx)
    try:
        note = node.checkpoint()
    finally:
        node.close()
    click.echo(note.decode(), nl=False)


@log.command("prove")
@click.argument("envelope_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def log_prove(ctx: click.Context, envelope_id: str, as_json: bool) -> None:
    """Inclusion proof of an envelope in the latest signed checkpoint."""
    wanted = _envelope_id(envelope_id)
    node = _open(ctx, with_keys=False, writer=False)
    try:
        latest = node.latest_checkpoint()
        if latest is None:
            raise UsageError(
                "this node has signed no checkpoint yet", "Run 'ilo-node log checkpoint' first."
            )
        index = node.index_of(wanted)
        size = latest.checkpoint.size
        if index >= size:
            raise UsageError(
                f"envelope is at position {index}, after the latest checkpoint (size {size})",
                "Run 'ilo-node log checkpoint' first.",
            )
        proof = node.inclusion_proof(wanted, size)
    finally:
        node.close()
    verify_inclusion(leaf_hash(wanted), index, size, proof, latest.checkpoint.root)
    encoded = [base64.b64encode(h).decode() for h in proof]
    record = {
        "envelope_id": wanted.hex(),
        "index": index,
        "tree_size": size,
        "proof": [base64.b64encode(h).decode() for h in proof],
        "checkpoint": latest.note.decode(),
    }
    if as_json:
        click.echo(json.dumps(record, indent=1))
    else:
        click.echo(f"envelope {wanted.hex()} is leaf {index} of {size}")
        for h in encoded:
            click.echo(f"  {h}")
        click.echo(latest.note.decode(), nl=False)


@log.command("consistency")
@click.argument("old_size", type=click.IntRange(0))
@click.argument("new_size", type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def log_consistency(ctx: click.Context, old_size: int, new_size: int, as_json: bool) -> None:
    """Consistency proof between two sizes of the log."""
    node = _open(ctx, with_keys=False, writer=False)
    try:
        if new_size > node.size() or old_size > new_size:
            raise UsageError(f"sizes must satisfy 0 <= OLD <= NEW <= {node.size()}")
        proof = node.consistency_proof(old_size, new_size)
        old_root, new_root = node.tree.root(old_size), node.tree.root(new_size)
    finally:
        node.close()
    verify_consistency(old_size, new_size, old_root, new_root, proof)
    encoded = [base64.b64encode(h).decode() for h in proof]
    record = {
        "old_size": old_size,
        "new_size": new_size,
        "old_root": base64.b64encode(old_root).decode(),
        "new_root": base64.b64encode(new_root).decode(),
        "proof": [base64.b64encode(h).decode() for h in proof],
    }
    if as_json:
        click.echo(json.dumps(record, indent=1))
    else:
        click.echo(f"log of {old_size} is a prefix of log of {new_size}")
        for h in encoded:
            click.echo(f"  {h}")


def _node_keys(home: Home) -> set[bytes]:
    """Keys that may have signed this node's checkpoints: its current and retired keys,
    and every key its authority certified for it."""
    keys = {home.public_key()}
    from keys.keystore import key_file_info

    for path in home.retired_key_paths():
        keys.add(bytes.fromhex(key_file_info(path.read_bytes())["public"]))
    try:
        state = home.trust_state()
    except Exception:
        return keys
    node = home.config().node
    for key, certificates in state.certificates.items():
        if any(c.node == node and c.role == "node" for c in certificates):
            keys.add(key)
    return keys


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
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def log_verify(
    ctx: click.Context, workers: int | None, progress: bool | None, as_json: bool
) -> None:
    """Recompute the whole log from its stored bytes and check it against the checkpoints."""
    home = _home(ctx)
    config = home.require_role("node")
    db = home.path / "node.db"
    if not db.exists():
        raise UsageError(f"{home.path} has no node database yet")
    show = progress if progress is not None else sys.stderr.isatty()
    report = verify_log(
        db,
        _node_keys(home),
        str(config.node),
        workers=workers or os.cpu_count() or 1,
        progress=progress_printer() if show else None,
    )
    record = {
        "ok": report.ok,
        "size": report.size,
        "signatures_verified": report.signatures,
        "checkpoints": report.checkpoints,
        "latest_checkpoint": report.latest_checkpoint,
        "contents_checked": report.contents,
        "erasures": report.erasures,
        "problems": [{"position": p, "message": m} for p, m in report.problems],
    }
    if as_json:
        click.echo(json.dumps(record, indent=1))
    elif report.ok:
        cp = report.latest_checkpoint
        click.echo(
            f"log OK: {report.size} envelopes, {report.signatures} signatures, "
            f"{report.checkpoints} checkpoint(s)"
            + (f", latest covers {cp}" if cp is not None else ", none signed yet")
        )
    if not report.ok:
        more = len(report.problems) - 1
        raise AuditFailure(
            report.problems[0][1] + (f" (and {more} more problem(s))" if more else "")
        )


def _frames(stream: Any) -> Iterator[bytes]:
    """Length-prefixed envelopes (4-byte big-endian length, then the bytes)."""
    limit = DEFAULT_LIMITS.max_envelope_bytes
    while True:
        head = stream.read(4)
        if not head:
            return
        if len(head) < 4:
            raise UsageError("input ended inside a frame header")
        length = int.from_bytes(head, "big")
        if length > limit:
            raise UsageError(f"frame of {length} bytes is over the envelope limit {limit}")
        body = stream.read(length)
        if len(body) < length:
            raise UsageError("input ended inside a frame")
        yield body


@log.command("ingest")
@click.option("--batch", type=click.IntRange(1, 10_000), default=64, show_default=True)
@click.pass_context
def log_ingest(ctx: click.Context, batch: int) -> None:
    """Ingest length-prefixed envelopes from stdin; print one 'ack' line per stored envelope
    only after its batch is committed."""
    node = _open(ctx)
    pending: list[bytes] = []
    stdin = sys.stdin.buffer

    def flush() -> None:
        for result in node.ingest(pending):
            word = "ack" if result.stored else "nack"
            ident = result.envelope_id.hex() if result.envelope_id else "-"
            click.echo(f"{word} {ident} {result.status} {result.reason}")
        sys.stdout.flush()
        pending.clear()

    try:
        for frame in _frames(stdin):
            pending.append(frame)
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
    finally:
        node.close()


@click.group()
def retention() -> None:
    """Erase decrypted content past its retention period (crypto-shredding)."""


def _policy(home: Home) -> dict[str, int]:
    path = home.path / "retention.json"
    if not path.exists():
        return {"default": 730}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in raw.items()
    ):
        raise UsageError(f"{path} must map kinds, handling codes and 'default' to days")
    return raw


@retention.command("run")
@click.option("--now", "now_text", default="now", help="Pretend it is this time (for drills).")
@click.pass_context
def retention_run(ctx: click.Context, now_text: str) -> None:
    """Erase expired content now (the envelope and its log entry stay)."""
    from ilo_node.formats.timefmt import parse_time

    node = _open(ctx, with_keys=False)
    try:
        erased = node.apply_retention(_policy(node.home), parse_time(now_text, now_ms()))
    finally:
        node.close()
    click.echo(f"erased the content of {erased} envelope(s); the log still verifies")


@click.command()
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    hidden=True,
    help="Write a JSON line here once listening (for supervisors and tests).",
)
@click.pass_context
def run(ctx: click.Context, ready_file: Path | None) -> None:
    """Run the node: peer API, gossip with the local network, local API for the CLI."""
    from ilo_node.net.daemon import run_daemon

    home = _home(ctx)
    config = home.require_role("node")
    passphrase = _passphrase(ctx, f"the {config.label} keys")
    run_daemon(home, passphrase, ready_file)


@click.group()
def bundle() -> None:
    """Carry envelopes to and from an offline posting on removable media."""


@bundle.command("heads")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def bundle_heads(ctx: click.Context, output: Path) -> None:
    """Write where this node stands (per-author heads), for the exporting node."""
    node = _open(ctx, with_keys=False, writer=False)
    try:
        record = {
            "format": "ilo-node-heads",
            "network": node.network,
            "node": node.node_id,
            "heads": {k.hex(): v for k, v in sorted(node.heads().items())},
        }
    finally:
        node.close()
    output.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    click.echo(f"wrote {output}: {len(record['heads'])} author heads")


@bundle.command("export")
@click.option(
    "--since",
    "since_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The receiver's heads file ('ilo-node bundle heads'); default: everything.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def bundle_export(ctx: click.Context, since_file: Path | None, output: Path) -> None:
    """Write a signed bundle of the envelopes the receiver lacks, and all trust documents."""
    from ilo_node.home.bundle import MAX_BUNDLE_BYTES, make_bundle

    since: dict[bytes, int] = {}
    if since_file is not None:
        try:
            raw = json.loads(since_file.read_text(encoding="utf-8"))
            since = {bytes.fromhex(k): int(v) for k, v in raw["heads"].items()}
        except FileNotFoundError:
            raise UsageError(f"no such file: {since_file}") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UsageError(
                f"{since_file} is not a heads file ('ilo-node bundle heads')"
            ) from None
    node = _open(ctx, writer=False)
    try:
        assert node.signing is not None
        envelopes, more = node.envelopes_beyond(since, MAX_BUNDLE_BYTES // 2)
        data = make_bundle(
            network=node.network,
            exporter=node.node_id,
            seed=node.signing.reveal(),
            created_ms=node.clock(),
            since=since,
            envelopes=envelopes,
            documents=list(node.documents().values()),
        )
    finally:
        node.close()
    output.write_bytes(data)
    click.echo(
        f"wrote {output}: {len(envelopes)} envelopes, {len(data)} bytes"
        + ("; more remain, export again with the receiver's new heads" if more else "")
    )


@bundle.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def bundle_import(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Verify a bundle and feed its contents through the normal ingest path."""
    from ilo_node.home.bundle import MAX_BUNDLE_BYTES, read_bundle

    home = _home(ctx)
    home.require_role("node")
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"no such bundle file: {file}") from None
    if size > MAX_BUNDLE_BYTES:
        raise UsageError(f"{file} is {size} bytes, over the bundle limit {MAX_BUNDLE_BYTES}")
    data = file.read_bytes()
    contents = read_bundle(data, home.trust_state(), now_ms())
    counts: dict[str, int] = {}
    if call_local(home, "GET", "/local/status") is not None:
        call_local(
            home, "POST", "/local/documents", {"documents": [d.hex() for d in contents.documents]}
        )
        for start in range(0, len(contents.envelopes), 500):
            chunk = contents.envelopes[start : start + 500]
            answer = call_local(
                home, "POST", "/local/ingest", {"envelopes": [e.hex() for e in chunk]}
            )
            for result in answer["results"] if answer else []:
                counts[result["status"]] = counts.get(result["status"], 0) + 1
    else:
        node = _open(ctx)
        try:
            node.add_documents(contents.documents)
            for start in range(0, len(contents.envelopes), 500):
                for result in node.ingest(contents.envelopes[start : start + 500]):
                    counts[result.status] = counts.get(result.status, 0) + 1
        finally:
            node.close()
    summary = {"exporter": contents.exporter, "envelopes": len(contents.envelopes), **counts}
    click.echo(
        json.dumps(summary)
        if as_json
        else (
            f"bundle from {contents.exporter}: "
            + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            if counts
            else f"bundle from {contents.exporter}: nothing new"
        )
    )


def register(cli: click.Group) -> None:
    for command in (publish, read, status, log, retention, run, bundle):
        cli.add_command(command)
