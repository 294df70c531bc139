"""Starting, stopping and watching real ``ilo-node run`` processes, as an operator does.

A network of three nodes on loopback over TLS (``COM@EU``, ``DE@TR``, ``FR@TR``);
each test runs the ones it needs and calls the CLI as separate processes:

* ``ilo-node stop`` leaves a last signed checkpoint that covers every envelope of the
  log, the process gone and the socket removed; a second ``stop`` says nothing runs;
* ``status --json`` tells what the test arranged: a peer that is down (never reached,
  failures, a backoff), an envelope in quarantine with what it waits for, then both
  resolved once the peer is back; and, with no node running, ``running: false`` with
  what the home holds;
* ``status --watch`` at a real terminal redraws until Ctrl-C, and ends cleanly;
* a node runs, gossips and stops under what its systemd unit imposes on it: no
  writable and executable memory (``PR_SET_MDWE``, what ``MemoryDenyWriteExecute=``
  does), and only the system calls of its ``SystemCallFilter=`` (seen with strace).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev.launcher import child_env, cli_argv
from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.home.home import Home
from tests.support.netproc import Cluster, free_ports, run_cli, write_daemon_config
from tests.support.pty import Terminal

pytestmark = pytest.mark.slow

PASS = b"node lifecycle test passphrase"
NODES = ["COM@EU", "DE@TR", "FR@TR"]
WAIT_S = 60.0


@pytest.fixture
def built(tmp_path: Path) -> BuiltNetwork:
    ports = dict(zip(NODES, free_ports(len(NODES)), strict=True))
    network = build_network(
        tmp_path / "net",
        NODES,
        endpoints={n: f"https://127.0.0.1:{p}" for n, p in ports.items()},
        passphrase=PASS,
    )
    for node in NODES:
        write_daemon_config(network.nodes[node].path)
    return network


@pytest.fixture
def cluster(built: BuiltNetwork) -> Iterator[Cluster]:
    running = Cluster(built)
    try:
        yield running
    finally:
        running.close()


def _cli(cluster: Cluster, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ilo-node --home H ARGS`` to its end, whatever its exit status."""
    process = cluster.cli(node, *args)
    out, err = process.communicate(timeout=120)
    assert "Traceback" not in err, err
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _status(cluster: Cluster, node: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(run_cli(cluster, node, "status", "--json"))
    return answer


def _own_envelopes(home: Path, node: str) -> list[bytes]:
    """The node's own envelopes in its log, by seq."""
    conn = sqlite3.connect(home / "node.db")
    try:
        rows = conn.execute(
            "SELECT raw FROM envelopes WHERE author_node = ? ORDER BY seq", [node]
        ).fetchall()
    finally:
        conn.close()
    return [bytes(r[0]) for r in rows]


def test_stop_leaves_a_last_checkpoint_of_every_envelope_and_the_process_gone(
    built: BuiltNetwork, cluster: Cluster
) -> None:
    # No periodic checkpoint on DE@TR: the one that covers its log is the stop's.
    write_daemon_config(built.nodes["DE@TR"].path, checkpoint_interval_s=3600)
    cluster.start("DE@TR", "COM@EU")
    cluster.wait_ready(["DE@TR", "COM@EU"])
    for kind in ("incident_alert", "route_report", "meeting_record"):
        cluster.publish("DE@TR", kind)
    cluster.publish("COM@EU", "incident_alert")
    cluster.wait_for(
        lambda: ((cluster.status("DE@TR") or {}).get("log_size") == 4, "DE@TR's log"),
        WAIT_S,
        "COM@EU's envelope to reach DE@TR",
    )
    process = cluster.launcher.nodes["DE@TR"].process
    home = cluster.home("DE@TR")

    stopped = json.loads(run_cli(cluster, "DE@TR", "stop", "--json"))
    assert stopped["stopped"] is True and stopped["node"] == "DE@TR"
    assert stopped["pid"] == process.pid
    assert stopped["log_size"] == 4 and stopped["checkpoint_size"] == 4
    # The process ended by itself, cleanly, and left no socket behind.
    assert process.wait(timeout=10) == 0
    assert not (home / "daemon.sock").exists()
    conn = sqlite3.connect(home / "node.db")
    try:
        envelopes = conn.execute("SELECT COUNT(*) FROM envelopes").fetchone()[0]
        (size, note) = conn.execute(
            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    assert size == envelopes == 4
    assert bytes(note).startswith(b"ilo-node/devnet.ilo/DE@TR\n4\n")
    log = cluster.log_tail("DE@TR", 100_000)
    assert "stop asked for through the local API" in log
    assert "DE@TR stopped: last checkpoint at log size 4" in log
    # The checkpoint is signed over the log as it is: log verify recomputes it.
    assert run_cli(cluster, "DE@TR", "log", "verify").startswith("log OK: 4 envelopes")

    again = _cli(cluster, "DE@TR", "stop")
    assert again.returncode == 5
    assert again.stderr.startswith(f"error: no node is running in {home}")
    text = run_cli(cluster, "COM@EU", "stop")
    assert text.startswith("stopped COM@EU (pid ")
    assert "last checkpoint at size 4 covers all 4 envelope(s)" in text


def test_status_tells_a_peer_down_and_what_the_quarantine_waits_for(
    built: BuiltNetwork, cluster: Cluster
) -> None:
    # FR@TR writes two envelopes while nobody else runs, then stops.
    cluster.start("FR@TR")
    cluster.wait_ready(["FR@TR"])
    cluster.publish("FR@TR", "incident_alert")
    cluster.publish("FR@TR", "route_report")
    cluster.stop("FR@TR")
    first, second = _own_envelopes(cluster.home("FR@TR"), "FR@TR")

    # DE@TR runs with FR@TR down and is handed only the second: it waits for the first.
    cluster.start("DE@TR", "COM@EU")
    cluster.wait_ready(["DE@TR", "COM@EU"])
    answer = cluster.local("DE@TR", "POST", "/local/ingest", {"envelopes": [second.hex()]})
    (result,) = answer["results"]
    assert result["status"] == "quarantined"
    held_id = result["id"]

    def fr_backed_off() -> tuple[bool, str]:
        peer = _status(cluster, "DE@TR")["peers"]["FR@TR"]
        return peer["failures"] >= 2 and peer["backoff_s"] > 0, f"FR@TR as DE@TR sees it: {peer}"

    cluster.wait_for(fr_backed_off, WAIT_S, "DE@TR to back off from FR@TR", ["DE@TR"])
    status = _status(cluster, "DE@TR")
    assert status["running"] is True
    assert status["pid"] == cluster.launcher.nodes["DE@TR"].process.pid
    fr = status["peers"]["FR@TR"]
    assert fr["last_contact_ms"] is None  # never reached since DE@TR started
    assert fr["last_failure_ms"] is not None and "unreachable" in fr["last_failure"]
    assert fr["last_sync_ms"] is None
    com = status["peers"]["COM@EU"]
    assert com["failures"] == 0 and com["backoff_s"] == 0
    assert status["checked_ms"] - com["last_contact_ms"] < 60_000
    (waiting,) = status["quarantine_waiting"]
    assert waiting["id"] == held_id
    assert (waiting["author"], waiting["seq"], waiting["kind"]) == ("FR@TR", 2, "route_report")
    assert waiting["waits_for"] == "pred"
    assert waiting["reason"] == "waiting for seq 1 of FR@TR"
    assert status["quarantine_by_wait"] == {"pred": 1}
    assert any(line.startswith("peer FR@TR: ") for line in status["attention"])
    text = run_cli(cluster, "DE@TR", "status")
    assert text.startswith("DE@TR in devnet.ilo: running, pid ")
    assert f"    {held_id[:16]} FR@TR seq 2 route_report: waiting for seq 1 of FR@TR" in text
    assert "  - peer FR@TR: " in text

    # FR@TR comes back: DE@TR reaches it, gets the first envelope and places both.
    cluster.start("FR@TR")
    cluster.wait_ready(["FR@TR"])

    def recovered() -> tuple[bool, str]:
        now = _status(cluster, "DE@TR")
        peer = now["peers"]["FR@TR"]
        done = (
            peer["failures"] == 0
            and peer["last_contact_ms"] is not None
            and peer["last_sync_ms"] is not None
            and now["quarantined"] == 0
            and now["log_size"] == 2
        )
        return done, f"FR@TR {peer}, quarantine {now['quarantine_waiting']}"

    cluster.wait_for(recovered, WAIT_S, "DE@TR to reach FR@TR and place its envelopes")
    assert _status(cluster, "DE@TR")["attention"] == []
    assert len(first) > 0

    cluster.stop(*NODES)
    stopped = _status(cluster, "DE@TR")
    assert stopped["running"] is False and stopped["pid"] is None
    assert stopped["lock_holder"] is None
    assert stopped["log_size"] == 2 and stopped["quarantined"] == 0
    assert stopped["peers"]["FR@TR"]["failures"] is None  # known only while it runs
    assert stopped["outbox"]["push_queue"] is None
    assert "transport" not in stopped
    text = run_cli(cluster, "DE@TR", "status")
    assert text.startswith("DE@TR in devnet.ilo: NOT RUNNING (read from the home)\n")


def test_status_watch_redraws_at_a_terminal_until_interrupted(
    built: BuiltNetwork, cluster: Cluster
) -> None:
    cluster.start("DE@TR")
    cluster.wait_ready(["DE@TR"])
    home = cluster.home("DE@TR")
    argv = cli_argv(home, built.passphrase_file, "status", "--watch", "0.5")
    with Terminal(argv, env=child_env(), cwd=home) as terminal:
        terminal.expect("DE@TR in devnet.ilo: running, pid")
        terminal.expect("every 0.5 s; Ctrl-C to stop")
        cluster.publish("DE@TR", "incident_alert")
        terminal.expect(r"log: 1 envelopes")  # a later frame shows the new envelope
        terminal.control("c")
        assert terminal.wait() == 0
        assert "Traceback" not in terminal.transcript
        assert "interrupted" not in terminal.transcript


# -- what the systemd unit imposes --------------------------------------------------------

_PR_SET_MDWE, _PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
#: Run as a command prefix: refuse writable-and-executable memory from here on (as
#: MemoryDenyWriteExecute= does), then exec the rest of the command line.
_MDWE = f"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({_PR_SET_MDWE}, {_PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit("PR_SET_MDWE: " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
"""


def _mdwe_supported() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", _MDWE, sys.executable, "-c", "pass"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _allowed_syscalls() -> set[str]:
    """What ``SystemCallFilter=@system-service`` then ``~@privileged @resources`` leave."""

    def expand(group: str, seen: set[str]) -> set[str]:
        listing = subprocess.run(
            ["systemd-analyze", "syscall-filter", group],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        calls: set[str] = set()
        for line in listing.splitlines()[1:]:
            word = line.strip()
            if not word or word.startswith("#"):
                continue
            if word.startswith("@"):
                if word not in seen:
                    seen.add(word)
                    calls |= expand(word, seen)
            else:
                calls.add(word)
        return calls

    unit = _unit_filter()
    allowed = set[str]()
    for group in unit["allow"]:
        allowed |= expand(group, set())
    for group in unit["deny"]:
        allowed -= expand(group, set())
    return allowed


def _unit_filter() -> dict[str, list[str]]:
    """The unit's own SystemCallFilter= lines, read from the shipped template."""
    template = Path(__file__).resolve().parents[2] / "ilo_node/client/units/ilo-node.service"
    allow: list[str] = []
    deny: list[str] = []
    for line in template.read_text().splitlines():
        if line.startswith("SystemCallFilter="):
            value = line.removeprefix("SystemCallFilter=")
            (deny if value.startswith("~") else allow).extend(value.lstrip("~").split())
    return {"allow": allow, "deny": deny}


def _syscalls_of(summary: Path) -> set[str]:
    """The system calls an ``strace -c`` summary lists."""
    calls: set[str] = set()
    for line in summary.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls.add(fields[-1])
    return calls


@pytest.mark.skipif(not shutil.which("strace"), reason="strace is not installed")
@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is missing")
def test_a_node_runs_under_the_units_memory_and_system_call_rules(
    built: BuiltNetwork, tmp_path: Path
) -> None:
    if not _mdwe_supported():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3 or later)")
    summary = tmp_path / "syscalls.txt"
    mdwe = tmp_path / "mdwe.py"
    mdwe.write_text(_MDWE)
    prefix = ["strace", "-f", "-c", "-o", str(summary), sys.executable, str(mdwe)]
    cluster = Cluster(built, prefixes={"DE@TR": prefix})
    try:
        cluster.start("DE@TR", "COM@EU")
        cluster.wait_ready(["DE@TR", "COM@EU"], timeout=180)
        cluster.publish("DE@TR", "incident_alert")
        cluster.publish("COM@EU", "route_report")
        cluster.wait_converged(["DE@TR", "COM@EU"], timeout=120)
        assert _status(cluster, "DE@TR")["running"] is True
        cluster.stop("DE@TR", timeout=120)  # clean, exit status 0
    finally:
        cluster.close()
    used = _syscalls_of(summary)
    assert {"execve", "socket", "accept4", "flock"} <= used, used  # the summary is real
    allowed = _allowed_syscalls()
    if os.geteuid() == 0:
        # SQLite gives a new WAL file its database's owner when it runs as root, and
        # ignores a refusal; the unit runs the node as its own user, where it does not.
        allowed.add("fchown")
    refused = sorted(used - allowed)
    assert refused == [], f"the unit's SystemCallFilter= would refuse {refused}"
    assert "Traceback" not in Home(built.nodes["DE@TR"].path).path.joinpath("daemon.log").read_text(
        errors="replace"
    )
