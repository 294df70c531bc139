"""``ilo-node status`` of a node's home: everything it shows, gathered in one record.

From the running node's local API when it answers (its peers, queues and counters
live only in its memory), else from the home itself, read-only and without the
writer lock, as ``report build`` reads the log; then, either way, what only the
home's files tell: disk use and free space. :func:`attention` lists what an
operator should look at, each as one line. docs/api.md, section 5, names every
field of the record.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from ilo_node.client.local import LocalApiClient, node_running
from ilo_node.errors import ClientError
from ilo_node.formats.timefmt import format_duration
from ilo_node.home.home import Home, now_ms
from ilo_node.net.config import DaemonConfig, load_config
from ilo_node.net.peers import peers_for
from ilo_node.node.core import Node
from ilo_node.node.health import WAITS_FOR
from ilo_node.node.lock import writer_pid
from protocol.errors import IloError

__all__ = [
    "LOW_SPACE_BYTES",
    "STALE_QUARANTINE_MS",
    "ago",
    "attention",
    "gather_status",
    "home_disk",
]

#: Free space below this (or below 5 % of the file system) is low.
LOW_SPACE_BYTES = 1 << 30
#: An envelope in quarantine longer than this is worth a look (most wait seconds).
STALE_QUARANTINE_MS = 10 * 60 * 1000
#: A running node that has not heard from a peer for this long says so.
SILENT_PEER_MS = 5 * 60 * 1000
#: Seconds a status call to the running node may take.
STATUS_TIMEOUT_S = 30.0

#: Runtime fields of a peer that only a running node knows (None when it does not run).
_PEER_RUNTIME = (
    "failures",
    "backoff_s",
    "last_contact_ms",
    "last_failure_ms",
    "last_failure",
    "last_sync_ms",
    "missing_here",
    "missing_there",
)


def gather_status(home: Home) -> dict[str, Any]:
    """The whole status record of the node in ``home``, running or not."""
    home.require_role("node")
    record: dict[str, Any] | None = None
    if node_running(home):
        try:
            record = LocalApiClient(home, timeout_s=STATUS_TIMEOUT_S).status()
        except ClientError:
            if node_running(home):  # it answers, and refused or failed: say so
                raise
            # It stopped between the two looks: read the home as for a stopped node.
    if record is None:
        record = _stopped(home)
    record["checked_ms"] = now_ms()
    config, problem = _config(home)
    record["daemon_json"] = {"problem": problem}
    record["disk"] = home_disk(home, config)
    record["attention"] = attention(record)
    return record


def _config(home: Home) -> tuple[DaemonConfig, str | None]:
    try:
        return load_config(home), None
    except IloError as exc:
        return DaemonConfig(), exc.message


def _stopped(home: Home) -> dict[str, Any]:
    """What a home tells with no node running: the log, read without the lock."""
    node = Node(home, None, writer=False)
    try:
        record = node.view.status()
        peers = peers_for(node.trust.roster, node.node_id)
    finally:
        node.close()
    record["running"] = False
    record["pid"] = None
    # A process holding the home's lock that does not answer on its socket: a node
    # starting up, or hung, or another command writing.
    record["lock_holder"] = writer_pid(home)
    record["started_ms"] = None
    record["peers"] = {p: dict.fromkeys(_PEER_RUNTIME) for p in peers}
    record["outbox"]["push_queue"] = None
    return record


def _allocated(path: Path) -> int:
    """Bytes a file or directory tree takes on disk (not following links)."""
    try:
        st = path.lstat()
    except OSError:
        return 0
    total = st.st_blocks * 512
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    continue
    return total


def home_disk(home: Home, config: DaemonConfig) -> dict[str, Any]:
    """Disk use of the home, of its database and of the daemon's log file, and the free
    space of the file system the home is on."""
    database = sum(_allocated(home.path / f"node.db{s}") for s in ("", "-wal", "-shm"))
    log_path = config.log_path(home)
    logs = 0
    if log_path is not None:
        logs = sum(
            _allocated(log_path.with_name(f"{log_path.name}{s}"))
            for s in ("", *(f".{i}" for i in range(1, config.log_backups + 1)))
        )
    usage = shutil.disk_usage(home.path)
    low = usage.free < LOW_SPACE_BYTES or usage.free < usage.total // 20
    return {
        "home_bytes": _allocated(home.path),
        "database_bytes": database,
        "log_file": str(log_path) if log_path is not None else None,
        "log_bytes": logs if log_path is not None else None,
        "free_bytes": usage.free,
        "filesystem_bytes": usage.total,
        "low_space": low,
    }


def ago(then_ms: int | None, now: int) -> str:
    """``"12 s ago"``, ``"5 min ago"``, ``"3 h ago"``, ``"4 days ago"``, or ``"never"``."""
    if then_ms is None:
        return "never"
    return format_duration((now - then_ms) // 1000) + " ago"


def attention(record: dict[str, Any]) -> list[str]:
    """What needs an operator's look, one line each (empty: nothing)."""
    now = int(record.get("checked_ms") or now_ms())
    out: list[str] = []
    running = bool(record.get("running"))
    if not running and record.get("lock_holder"):
        out.append(
            f"process {record['lock_holder']} holds this home but does not answer on "
            "daemon.sock: a node starting up, or hung"
        )
    problem = (record.get("daemon_json") or {}).get("problem")
    if problem:
        out.append(f"daemon.json: {problem}")
    restore = record.get("restore")
    if restore is not None and restore.get("publishing") == "held":
        out.append(
            "restored from a backup: publishing is held until every peer has said where "
            "this node's own chain stands ('ilo-node restore --resume-publishing' lifts it)"
        )
    started = record.get("started_ms")
    for peer, state in sorted((record.get("peers") or {}).items()):
        if not running:
            break
        if state.get("failures"):
            out.append(
                f"peer {peer}: {state['failures']} failed call(s) in a row, next try in "
                f"{state.get('backoff_s', 0):.0f} s ({state.get('last_failure') or '?'})"
            )
        elif state.get("last_contact_ms") is None and started and now - started > SILENT_PEER_MS:
            out.append(f"peer {peer}: not reached since this node started")
        elif (contact := state.get("last_contact_ms")) and now - contact > SILENT_PEER_MS:
            out.append(f"peer {peer}: last answer {ago(contact, now)}")
    stale = [
        q
        for q in record.get("quarantine_waiting") or []
        if now - q["since_ms"] > STALE_QUARANTINE_MS
    ]
    if stale:
        kinds = sorted({q["waits_for"] for q in stale})
        out.append(
            f"{len(stale)} envelope(s) in quarantine for over 10 min, waiting for "
            + "; ".join(WAITS_FOR.get(k, k) for k in kinds)
        )
    if record.get("forks"):
        out.append(
            f"{record['forks']} fork proof(s): their authors' envelopes are held until an "
            "administrator acts"
        )
    for view in record.get("split_views") or []:
        out.append(f"SPLIT VIEW of {view['origin']} ({view['reason']}): tell the administrators")
    certificate = record.get("certificate") or {}
    if certificate.get("state") not in (None, "ok"):
        out.append(f"certificate of this node's key: {_certificate_words(certificate)}")
    roster = record.get("roster") or {}
    if roster.get("state") not in (None, "ok"):
        out.append(str(roster.get("message")))
    prekeys = record.get("prekeys") or {}
    if prekeys.get("state") == "none_announced":
        out.append("no prekey of this node is announced for now: nobody can seal to it")
    elif prekeys.get("state") == "secret_missing":
        out.append(
            f"the announced prekey of epoch {prekeys.get('epoch')} has no secret here: "
            "what is sealed to it cannot be opened"
        )
    owed = ((record.get("outbox") or {}).get("key_shares") or {}).get("recipients") or {}
    for recipient, item in sorted(owed.items()):
        out.append(
            f"{item['envelopes']} content key(s) owed to {recipient} since "
            f"{ago(item['since_ms'], now)}: its prekey has not arrived"
        )
    disk = record.get("disk") or {}
    if disk.get("low_space"):
        out.append(f"low disk space: {disk['free_bytes'] // (1 << 20)} MiB free")
    return out


def _certificate_words(certificate: dict[str, Any]) -> str:
    state = certificate.get("state")
    days = certificate.get("days_left")
    if state == "expiring":
        return f"ends in {days} day(s); ask the authority for a new one"
    if state == "expired":
        return "expired: peers refuse this node; ask the authority for a new one"
    if state == "uncertified":
        return "none for the key in use: peers refuse this node until it is imported"
    if state == "revoked":
        return "the key in use is revoked: re-key the node (operator guide, 3.4)"
    return str(certificate.get("reason") or state)
