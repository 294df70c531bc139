"""A real node with few file descriptors, flooded with connections: it refuses the
excess quietly (a line or two in its log, not one per attempt) and keeps gossiping
with its peer through the descriptors it keeps in reserve. Its log goes to the file
``daemon.json`` names, private; no secret is in its log, arguments or environment.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import stat
import sys
import time
from pathlib import Path

import pytest

from ilo_node.dev.netbuilder import build_network
from ilo_node.home.home import Home
from tests.support.netproc import Cluster, free_ports, write_daemon_config

pytestmark = pytest.mark.slow

PASS = b"resources test passphrase"
FLOODED, PEER = "DE@TR", "FR@TR"
#: RLIMIT_NOFILE of the flooded node: room for its own files, its reserve and a few
#: dozen inbound connections, far fewer than the flood.
NOFILE = 160
FLOOD = 400
CONVERGE_S = 60.0
#: Runs the node with a low descriptor limit: sets it, then becomes the node's argv.
LIMITED = (
    "import os, resource, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); os.execv(sys.argv[2], sys.argv[2:])"
)
ABOUT_IT = re.compile(r"refusing peer connections|cannot accept peer connections|left unfinished")


def _flood(port: int, count: int, within_s: float = 30.0) -> list[socket.socket]:
    """Open up to ``count`` connections that never speak (for at most ``within_s``), and
    hold them: the node resets those over its cap at once."""
    held: list[socket.socket] = []
    deadline = time.monotonic() + within_s
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            continue  # the backlog was full for a moment: part of the flood all the same
    return held


def test_out_of_descriptors_the_node_refuses_quietly_and_keeps_gossiping(tmp_path: Path) -> None:
    nodes = [FLOODED, PEER]
    ports = dict(zip(nodes, free_ports(2), strict=True))
    built = build_network(
        tmp_path / "net",
        nodes,
        endpoints={n: f"https://127.0.0.1:{p}" for n, p in ports.items()},
        passphrase=PASS,
    )
    write_daemon_config(
        built.nodes[FLOODED].path,
        # Only the descriptor budget caps it: the flood comes from one address.
        max_connections_per_address=100_000,
        max_connections=100_000,
        # Flood connections stay in their handshake for the whole test.
        header_timeout_s=120.0,
        log_file="node.log",
    )
    write_daemon_config(built.nodes[PEER].path)
    prefix = (sys.executable, "-c", LIMITED, str(NOFILE))
    cluster = Cluster(built, prefixes={FLOODED: prefix})
    held: list[socket.socket] = []
    try:
        cluster.start(*nodes)
        cluster.wait_ready(nodes)
        status = cluster.status(FLOODED)
        assert status is not None
        budget = status["transport"]["connections"]["max"]
        assert 8 <= budget < NOFILE - 64, budget  # lowered to fit the descriptor limit

        held = _flood(ports[FLOODED], FLOOD)

        def refusing() -> tuple[bool, str]:
            connections = (cluster.status(FLOODED) or {}).get("transport", {}).get("connections")
            done = bool(connections) and connections["open"] == budget and connections["refused"]
            return bool(done), f"connections {connections}"

        cluster.wait_for(refusing, CONVERGE_S, "the flooded node to be full and refusing")
        # Full of connections that never speak, it still gossips with its peer both
        # ways: it pulls what the peer publishes, and pushes what it publishes.
        from_peer = cluster.publish(PEER, "incident_alert")
        from_flooded = cluster.publish(FLOODED, "route_report")
        assert FLOODED in from_peer.recipients and PEER in from_flooded.recipients
        cluster.wait_converged(nodes, CONVERGE_S)
        still = cluster.status(FLOODED)
        assert still is not None and still["transport"]["connections"]["refused"] > 0
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
        try:
            pid = cluster.launcher.nodes[FLOODED].process.pid
            process_files = _process_files(pid)
        finally:
            cluster.close()

    home = Home(built.nodes[FLOODED].path)
    log_file = home.path / "node.log"
    log = log_file.read_text(errors="replace")
    # The log went to its file, created private; standard error got none of it.
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert "listening on" in log
    assert "listening on" not in (home.path / "daemon.log").read_text(errors="replace")
    # A line or two about the flood, not one per connection (summaries, which only a
    # period of more than a minute could bring, say how many were left out).
    about = [line for line in log.splitlines() if ABOUT_IT.search(line)]
    summaries = [line for line in about if "left out" in line]
    assert len(about) - len(summaries) <= 2, about
    assert len(summaries) <= 2, about
    assert "Traceback" not in log
    # No secret in the log, the node's arguments or environment, nor a key file open.
    seed = home.signing_key(PASS).reveal()
    cmdline, environ, open_files = process_files
    for text in (log, cmdline, environ):
        assert PASS.decode() not in text
        assert seed.hex() not in text
    assert not [f for f in open_files if "ilo-node-tls" in f], open_files


def _process_files(pid: int) -> tuple[str, str, list[str]]:
    """A running process's arguments, environment and open files, as text."""
    proc = Path(f"/proc/{pid}")
    cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    environ = (proc / "environ").read_bytes().replace(b"\0", b"\n").decode(errors="replace")
    files = []
    for fd in (proc / "fd").iterdir():
        with contextlib.suppress(OSError):
            files.append(os.readlink(fd))
    return cmdline, environ, files
