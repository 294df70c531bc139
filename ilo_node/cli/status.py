"""``ilo-node status``: the node at a glance (``--json`` for scripts, ``--watch`` at a
terminal). The record is gathered by :mod:`ilo_node.client.status`; this only lays it out."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from ilo_node.cli.common import home_of
from ilo_node.cli.desk import officer_status
from ilo_node.cli.tables import at_terminal, print_table, rich_table
from ilo_node.client.status import ago as _ago
from ilo_node.client.status import gather_status
from ilo_node.formats.timefmt import format_duration, format_ms
from protocol.errors import UsageError

__all__ = ["render", "status"]


#: What a quarantined envelope waits for, in a few words (node/health.py says it whole).
_WAITS = {
    "trust": "a certificate or roster",
    "pred": "its predecessor",
    "target": "the envelope it refers to",
    "witness": "proof it was witnessed",
    "held": "an administrator",
    "fork-evidence": "fork evidence",
    "never": "nothing (kept for the record)",
}


@dataclass(frozen=True)
class Rows:
    """A table in the status, drawn by rich at a terminal and as plain columns elsewhere."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    empty: str
    indent: int = 4


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (docs/api.md, 5).")
@click.option(
    "--watch",
    type=click.FloatRange(0.5, 3600),
    is_flag=False,
    flag_value=2.0,
    default=None,
    metavar="[SECONDS]",
    help="At a terminal: show it again every SECONDS (2) until Ctrl-C.",
)
@click.pass_context
def status(ctx: click.Context, as_json: bool, watch: float | None) -> None:
    """Show whether the node runs, its peers, quarantine, forks, certificate, roster and
    prekeys, what it still owes, and disk use; in an officer's home, the outbox (signed,
    not yet handed over), refused drafts and unread messages.

    Where the node does not run, what the home holds is read without disturbing it
    and the status says so.

    \b
    Examples:
      ilo-node --home node-DE status
      ilo-node --home node-DE status --watch 5
      ilo-node --home officer-hans status --json
    """
    home = home_of(ctx)
    if home.config().role == "officer":
        if watch is not None:
            raise UsageError("--watch is for a node's home")
        officer_status(ctx, as_json)
        return
    if watch is not None:
        if as_json:
            raise UsageError(
                "--watch and --json do not go together",
                "Scripts call 'ilo-node status --json' as often as they need.",
            )
        if not at_terminal():
            raise UsageError(
                "--watch needs a terminal",
                "Without one, call 'ilo-node status' (or 'status --json') as often as needed.",
            )
        _watch(lambda: render(gather_status(home)), watch)
        return
    record = gather_status(home)
    if as_json:
        click.echo(json.dumps(record, indent=1, sort_keys=True))
        return
    for block in render(record):
        if isinstance(block, Rows):
            print_table(block.headers, block.rows, empty=block.empty, indent=block.indent)
        else:
            click.echo(block)


def _watch(blocks: Any, every_s: float) -> None:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.padding import Padding
    from rich.text import Text

    def frame() -> Group:
        # The hint first: a frame taller than the terminal is cut at the bottom.
        parts: list[Any] = [Text(f"every {every_s:g} s; Ctrl-C to stop", style="dim")]
        for block in blocks():
            if isinstance(block, Rows):
                if block.rows:
                    table = rich_table(block.headers, block.rows)
                    parts.append(Padding(table, (0, 0, 0, block.indent)))
                else:
                    parts.append(Text(" " * block.indent + block.empty))
            else:
                parts.append(Text(block))
        return Group(*parts)

    console = Console(highlight=False)
    try:
        with Live(frame(), console=console, auto_refresh=False, screen=False) as live:
            while True:
                time.sleep(every_s)
                live.update(frame(), refresh=True)
    except KeyboardInterrupt:
        return  # the way to end a watch, not an error


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _uptime(started_ms: int | None, now: int) -> str:
    if started_ms is None:
        return ""
    return ", up " + format_duration((now - started_ms) // 1000)


def render(record: dict[str, Any]) -> list[str | Rows]:
    """The status as lines and tables, in the order shown."""
    now = int(record.get("checked_ms") or 0)
    running = bool(record.get("running"))
    out: list[str | Rows] = []
    if running:
        state = f"running, pid {record.get('pid')}{_uptime(record.get('started_ms'), now)}"
    else:
        state = "NOT RUNNING (read from the home)"
    out.append(f"{record['node']} in {record['network']}: {state}")
    out.append(
        f"  log: {record['log_size']} envelopes ({record['readable']} readable, "
        f"{record['erased']} erased); " + _checkpoints(record)
    )
    out += _peers(record, running, now)
    out += _quarantine(record, now)
    out.append("  " + _forks_and_splits(record))
    out.append("  " + _certificate(record.get("certificate") or {}))
    out.append(f"  {record['roster']['message']}")
    out.append("  " + _prekeys(record.get("prekeys") or {}))
    out.append("  " + _outbox(record.get("outbox") or {}, now))
    restore = record.get("restore")
    if restore is not None and restore.get("publishing") == "held":
        heard = ", ".join(restore.get("peers_confirmed") or []) or "none yet"
        out.append(
            f"  restored from a backup of {restore.get('backup_log_size')} envelopes: "
            f"publishing as the node is held until every peer has answered (heard from: {heard})"
        )
    transport = record.get("transport")  # only a running node says how it talks
    if transport is not None:
        out.append(f"  transport: {_transport_line(transport)}")
    out.append("  " + _disk(record.get("disk") or {}))
    notes = record.get("attention") or []
    if notes:
        out.append(f"attention ({len(notes)}):")
        out += [f"  - {line}" for line in notes]
    else:
        out.append("nothing needs attention")
    return out


def _checkpoints(record: dict[str, Any]) -> str:
    latest = record["latest_checkpoint"]
    if latest is None:
        return "no checkpoint signed yet (the running node signs one as the log grows)"
    cosigned = record.get("latest_cosigned")
    witnessed = f", cosigned up to size {cosigned}" if cosigned is not None else ", not cosigned"
    return f"latest checkpoint size {latest}{witnessed}"


def _peers(record: dict[str, Any], running: bool, now: int) -> list[str | Rows]:
    peers: dict[str, dict[str, Any]] = record.get("peers") or {}
    witnessed: dict[str, dict[str, Any]] = record.get("witnessed") or {}
    rows: list[list[str]] = []
    for peer, state in sorted(peers.items()):
        seen = witnessed.get(peer)
        checkpoint = f"size {seen['size']}, {_ago(seen['received_ms'], now)}" if seen else "none"
        if not running:
            rows.append([peer, checkpoint])
            continue
        failures = state.get("failures") or 0
        backoff = state.get("backoff_s") or 0
        if failures:
            health = f"{failures} failures, retry {backoff:.0f} s"
        else:
            health = "ok" if state.get("last_contact_ms") is not None else "not reached"
        here, there = state.get("missing_here"), state.get("missing_there")
        if here is None or there is None:
            lag = "-"
        else:
            lag = "none" if here == there == 0 else f"here {here}, there {there}"
        rows.append([peer, _ago(state.get("last_contact_ms"), now), health, lag, checkpoint])
    if not running:
        return [
            f"  peers ({len(rows)}; contact and backoff are known only while the node runs):",
            Rows(["PEER", "CHECKPOINT WITNESSED"], rows, "none in the roster"),
        ]
    headers = ["PEER", "CONTACT", "STATE", "MISSING", "CHECKPOINT WITNESSED"]
    return [f"  peers ({len(rows)}):", Rows(headers, rows, "none in the roster")]


def _quarantine(record: dict[str, Any], now: int) -> list[str | Rows]:
    count = record["quarantined"]
    if not count:
        line = "  quarantine: empty"
    else:
        by_wait = record.get("quarantine_by_wait") or {}
        parts = ", ".join(f"{n} waiting for {_WAITS.get(k, k)}" for k, n in by_wait.items())
        line = f"  quarantine: {count} envelope(s)" + (f" ({parts})" if parts else "")
    out: list[str | Rows] = [line]
    waiting = record.get("quarantine_waiting") or []
    for item in waiting:
        who = f"{item['author'] or '?'} seq {item['seq']} {item['kind'] or '?'}"
        out.append(
            f"    {item['id'][:16]} {who}: {item['reason']} (since "
            f"{_ago(item['since_ms'], now)}, {item['attempts']} tries)"
        )
    if count > len(waiting):
        out.append(f"    … and {count - len(waiting)} more ('status --json' lists the oldest)")
    refused = (record.get("counters") or {}).get("quarantine_refused", {})
    if refused:
        out.append(
            "  not kept, the quarantine being full for them (their senders retry): "
            + ", ".join(f"{n} by bound {bound}" for bound, n in sorted(refused.items()))
        )
    return out


def _forks_and_splits(record: dict[str, Any]) -> str:
    forks = record.get("fork_proofs") or []
    splits = record.get("split_views") or []
    fork_text = (
        "forks: none"
        if not forks
        else "FORKS: "
        + ", ".join(f"{f['author'] or f['author_key'][:16]} at seq {f['seq']}" for f in forks)
        + " (held until an administrator acts)"
    )
    split_text = (
        "split views: none"
        if not splits
        else "SPLIT VIEWS: "
        + "; ".join(f"{v['origin']} ({v['reason']})" for v in splits)
        + " (report them to the administrators)"
    )
    return f"{fork_text}; {split_text}"


def _certificate(certificate: dict[str, Any]) -> str:
    key = certificate.get("key")
    if key is None:
        return "certificate: no signing key in this home"
    state = certificate.get("state")
    until = certificate.get("valid_until_ms")
    head = f"certificate: key {key[:16]}…"
    if until is None:
        return f"{head} NOT CERTIFIED ({certificate.get('reason')}): peers refuse it"
    window = f"valid until {format_ms(until)}"
    if state == "ok":
        return f"{head} {window} ({certificate.get('days_left')} days; its TLS identity too)"
    if state == "expiring":
        return f"{head} {window}: ENDS IN {certificate.get('days_left')} DAY(S)"
    return f"{head} {state.upper() if state else '?'} ({certificate.get('reason')})"


def _prekeys(prekeys: dict[str, Any]) -> str:
    held = ", ".join(str(e) for e in prekeys.get("held") or []) or "none"
    if prekeys.get("epoch") is None:
        return f"prekeys: NONE ANNOUNCED FOR NOW (secrets held for epochs: {held})"
    line = f"prekeys: epoch {prekeys['epoch']} until {format_ms(prekeys['valid_until_ms'])}"
    if prekeys.get("next_epoch") is not None:
        line += f", next {prekeys['next_epoch']} announced"
    line += f"; secrets held for {held}"
    if prekeys.get("state") == "secret_missing":
        line += f" (NOT FOR {prekeys['epoch']})"
    return line


def _outbox(outbox: dict[str, Any], now: int) -> str:
    queue = outbox.get("push_queue")
    pushed = "" if queue is None else f"{queue} envelope(s) queued for push; "
    shares = outbox.get("key_shares") or {}
    owed = shares.get("recipients") or {}
    if not owed:
        return f"outbox: {pushed}no content keys owed"
    listed = ", ".join(
        f"{node} ({item['envelopes']}, since {_ago(item['since_ms'], now)})"
        for node, item in sorted(owed.items())
    )
    return (
        f"outbox: {pushed}content keys of {shares.get('envelopes')} envelope(s) owed to "
        f"{listed}, until their prekeys arrive"
    )


def _disk(disk: dict[str, Any]) -> str:
    if disk.get("log_file") is None:
        log = "log to standard error"
    else:
        log = f"log {_size(disk.get('log_bytes'))} in {disk['log_file']}"
    line = (
        f"disk: home {_size(disk.get('home_bytes'))} (database "
        f"{_size(disk.get('database_bytes'))}; {log}); {_size(disk.get('free_bytes'))} free "
        f"of {_size(disk.get('filesystem_bytes'))}"
    )
    return line + (" (LOW)" if disk.get("low_space") else "")


def _transport_line(transport: dict[str, Any]) -> str:
    connections = transport.get("connections", {})
    open_now = f"{connections.get('open', '?')}/{connections.get('max', '?')} connections open"
    if transport.get("tls"):
        line = (
            f"{transport.get('version')} with every peer, pinned to "
            f"{transport.get('trusted_keys')} certified node keys; {open_now}"
        )
        if transport.get("plain_http"):
            line += '; "plain_http": true allows http:// peers (test networks only)'
        return line
    return f'PLAIN HTTP ("plain_http": true in daemon.json): a test network only; {open_now}'
