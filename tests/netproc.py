"""Real ``ilo-node run`` processes for integration tests: start, wait, talk, stop, reap.

A :class:`Cluster` runs node homes made by :func:`ilo_node.dev.netbuilder.build_network`
as child processes (optionally through a command prefix such as
``ip netns exec NS``), talks to each one over its local JSON API on the Unix socket
``HOME/daemon.sock``, and polls for conditions with a deadline; a timeout fails the
test with the tails of the nodes' ``daemon.log``. :meth:`Cluster.close` always
ends and reaps every child it started, whatever state the test left it in.

The approach is that of ``ilo-node devnet`` (ilo_node/devnet.py): ``--ready-file``
to know when a node listens, ``POST /local/stop`` for a clean stop (the node signs
a last checkpoint), SIGTERM then SIGKILL as a fallback.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork
from ilo_node.formats.jsoncontent import content_to_json
from protocol.examples import example

REPO = Path(__file__).resolve().parents[1]
#: Seconds between two polls of a condition.
POLL_S = 0.1
#: Settings written to every node's ``daemon.json``: gossip fast enough for tests.
FAST_GOSSIP = {"fanout": 2, "sync_interval_s": 0.5, "checkpoint_interval_s": 1.0}


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports that were free on ``host`` a moment ago."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def child_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ILO_NODE_LOG": "INFO"}
    env.pop("ILO_NODE_PASSPHRASE", None)  # every process gets --passphrase-file
    env.pop("ILO_NODE_DEBUG", None)
    return env


def write_daemon_config(home: Path, **settings: Any) -> None:
    (home / "daemon.json").write_text(json.dumps({**FAST_GOSSIP, **settings}))


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("node", timeout=timeout)
        self.socket_path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class LocalApiError(Exception):
    """The local API answered with an error status."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


def local_call(home: Path, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
    """One JSON request to the node's local API; raises OSError if it is not running."""
    conn = _UnixConnection(home / "daemon.sock", timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = json.loads(response.read() or b"null")
        if response.status != 200:
            raise LocalApiError(response.status, data)
        return data
    finally:
        conn.close()


@dataclass(frozen=True)
class Published:
    id: str
    author: str
    kind: str
    recipients: tuple[str, ...]


@dataclass
class Cluster:
    """Node processes of one built network, and what the test published through them."""

    built: BuiltNetwork
    prefixes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    #: Every process ever started (nodes, restarted nodes, CLI runs): close() reaps them.
    _all: list[subprocess.Popen[Any]] = field(default_factory=list)

    # -- paths and diagnostics -------------------------------------------------------

    def home(self, node: str) -> Path:
        return self.built.nodes[node].path

    def log_tail(self, node: str, chars: int = 3000) -> str:
        path = self.home(node) / "daemon.log"
        if not path.exists():
            return f"--- {node}: no daemon.log ---"
        return f"--- {node} daemon.log (tail) ---\n" + path.read_text(errors="replace")[-chars:]

    def fail(self, message: str, nodes: Iterable[str] | None = None) -> NoReturn:
        tails = "\n".join(self.log_tail(n) for n in (nodes or self.processes))
        pytest.fail(f"{message}\n{tails}")

    # -- processes -------------------------------------------------------------------

    def running(self, node: str) -> bool:
        process = self.processes.get(node)
        return process is not None and process.poll() is None

    def start(self, *nodes: str) -> None:
        for node in nodes:
            assert not self.running(node), f"{node} is already running"
            home = self.home(node)
            ready = home / "ready.json"
            with contextlib.suppress(FileNotFoundError):
                ready.unlink()
            argv = [
                *self.prefixes.get(node, ()),
                sys.executable,
                "-m",
                "ilo_node",
                "--home",
                str(home),
                "--passphrase-file",
                str(self.built.passphrase_file),
                "run",
                "--ready-file",
                str(ready),
            ]
            with (home / "daemon.log").open("ab") as log:
                process = subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    cwd=home,
                    env=child_env(),
                )
            self.processes[node] = process
            self._all.append(process)

    def wait_ready(self, nodes: Iterable[str], timeout: float = 120.0) -> None:
        pending = set(nodes)

        def check() -> tuple[bool, str]:
            for node in list(pending):
                if (self.home(node) / "ready.json").exists():
                    pending.discard(node)
                elif self.processes[node].poll() is not None:
                    self.fail(f"{node} exited while starting", [node])
            return not pending, f"not ready: {sorted(pending)}"

        self.wait_for(check, timeout, "nodes to start", list(pending))

    def stop(self, *nodes: str, timeout: float = 30.0) -> None:
        """Clean stop through the local API; the process must exit 0 within ``timeout``."""
        targets = list(nodes or self.processes)
        for node in targets:
            if self.running(node):
                try:
                    local_call(self.home(node), "POST", "/local/stop", timeout=10)
                except (OSError, LocalApiError) as exc:
                    self.fail(f"{node}: POST /local/stop failed: {exc!r}", [node])
        deadline = time.monotonic() + timeout
        for node in targets:
            process = self.processes[node]
            try:
                code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.fail(f"{node} did not exit within {timeout} s of /local/stop", [node])
            if code != 0:
                self.fail(f"{node} exited with status {code} after /local/stop", [node])
            del self.processes[node]  # stopped on purpose: no longer watched
            assert not (self.home(node) / "daemon.sock").exists(), f"{node} left its socket"

    def close(self) -> None:
        """End every process this cluster started (clean stop, SIGTERM, SIGKILL) and reap it."""
        for node, process in self.processes.items():
            if process.poll() is None:
                with contextlib.suppress(OSError, LocalApiError, ValueError):
                    local_call(self.home(node), "POST", "/local/stop", timeout=5)
        deadline = time.monotonic() + 15
        for process in self._all:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)  # reaps it and closes its pipes, if any
        self.processes.clear()

    # -- the local API -------------------------------------------------------------

    def local(self, node: str, method: str, path: str, body: Any = None) -> Any:
        try:
            return local_call(self.home(node), method, path, body)
        except (OSError, LocalApiError) as exc:
            self.fail(f"{node}: {method} {path} failed: {exc!r}", [node])

    def publish(
        self,
        author: str,
        kind: str,
        distribution: str = "local",
        states: Sequence[str] = (),
    ) -> Published:
        body = {
            "kind": kind,
            "content": content_to_json(example(kind)),
            "distribution": distribution,
            "handling": "H1",
            "states": list(states),
        }
        answer = self.local(author, "POST", "/local/publish", body)
        published = Published(answer["id"], author, kind, tuple(answer["recipients"]))
        assert author in published.recipients
        self.published.append(published)
        return published

    def status(self, node: str) -> dict[str, Any] | None:
        """``/local/status``, or None if the node does not answer (stopped, starting)."""
        try:
            result: dict[str, Any] = local_call(self.home(node), "GET", "/local/status")
        except (OSError, LocalApiError):
            return None
        return result

    def readable(self, node: str, ids: Sequence[str]) -> set[str] | None:
        """Which of ``ids`` the node can decrypt, or None if it does not answer."""
        found: set[str] = set()
        for start in range(0, len(ids), 50):
            chunk = ids[start : start + 50]
            try:
                answer = local_call(
                    self.home(node), "GET", "/local/readable?ids=" + ",".join(chunk)
                )
            except (OSError, LocalApiError):
                return None
            found.update(answer["readable"])
        return found

    # -- waiting -------------------------------------------------------------------

    def wait_for(
        self,
        check: Callable[[], tuple[bool, str]],
        timeout: float,
        what: str,
        nodes: Iterable[str] | None = None,
    ) -> float:
        """Poll ``check`` (→ (done, how things stand)) until done; returns the seconds
        it took. Fails with the last state and the logs of ``nodes`` after ``timeout``,
        or at once if one of the nodes expected to run has exited."""
        watched = list(nodes if nodes is not None else self.processes)
        start = time.monotonic()
        detail = "never checked"
        while True:
            done, detail = check()
            if done:
                return time.monotonic() - start
            for node in watched:
                process = self.processes.get(node)
                if process is not None and process.poll() is not None:
                    self.fail(
                        f"{node} exited (status {process.returncode}) while waiting for {what}",
                        [node],
                    )
            if time.monotonic() - start > timeout:
                self.fail(f"timed out after {timeout:.0f} s waiting for {what}: {detail}", watched)
            time.sleep(POLL_S)

    def delivery_gaps(
        self, nodes: Iterable[str], published: Sequence[Published] | None = None
    ) -> dict[str, list[str]]:
        """For each of ``nodes``: the envelope ids addressed to it that it cannot read
        yet (all of them if it does not answer)."""
        items = self.published if published is None else published
        gaps: dict[str, list[str]] = {}
        for node in nodes:
            wanted = [p.id for p in items if node in p.recipients]
            if not wanted:
                continue
            got = self.readable(node, wanted)
            missing = [i for i in wanted if got is None or i not in got]
            if missing:
                gaps[node] = missing
        return gaps

    def wait_converged(self, nodes: Sequence[str], timeout: float = 60.0) -> float:
        """Every envelope published so far reaches every running recipient among
        ``nodes``, and every one of ``nodes`` holds all of them in its log."""
        total = len(self.published)

        def check() -> tuple[bool, str]:
            sizes = {n: (self.status(n) or {}).get("log_size") for n in nodes}
            if any(size != total for size in sizes.values()):
                return False, f"log sizes {sizes}, want {total} everywhere"
            gaps = self.delivery_gaps(nodes)
            if gaps:
                return False, "not yet readable: " + json.dumps(
                    {n: [i[:12] for i in ids] for n, ids in gaps.items()}
                )
            return True, "converged"

        return self.wait_for(check, timeout, "convergence", nodes)

    def cli(self, node_or_home: str | Path, *args: str) -> subprocess.Popen[str]:
        """Start ``ilo-node --home H ARGS`` (a short-lived CLI process); the caller waits."""
        home = self.home(node_or_home) if isinstance(node_or_home, str) else node_or_home
        argv = [sys.executable, "-m", "ilo_node", "--home", str(home)]
        argv += ["--passphrase-file", str(self.built.passphrase_file), *args]
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=home,
            env=child_env(),
        )
        self._all.append(process)
        return process


def run_cli(cluster: Cluster, home: str | Path, *args: str, timeout: float = 120) -> str:
    """Run one CLI command to completion; fail on a non-zero exit or a traceback."""
    process = cluster.cli(home, *args)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"ilo-node {' '.join(args)} hung for {timeout} s")
    assert "Traceback" not in err, err
    assert process.returncode == 0, f"ilo-node {' '.join(args)}: {out}\n{err}"
    return out
