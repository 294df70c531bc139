"""Real ``ilo-node run`` processes for integration tests: start, wait, talk, stop, reap.

A :class:`Cluster` runs node homes made by :func:`ilo_node.dev.netbuilder.build_network`
through :class:`ilo_node.dev.launcher.Launcher`, the launcher ``ilo-node devnet``
and the gossip benchmark use too (``--ready-file`` to know when a node listens,
``POST /local/stop`` for a clean stop, SIGTERM then SIGKILL as a fallback,
optionally behind a command prefix such as ``ip netns exec NS``). On top of it,
the cluster keeps what the test published and polls for conditions with a
deadline; a timeout, or a node that exits while it should run, fails the test
with the tails of the nodes' ``daemon.log``. :meth:`Cluster.close` always ends
and reaps every child it started, whatever state the test left it in.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from ilo_node.dev.launcher import Launcher, LaunchError, free_ports
from ilo_node.dev.netbuilder import BuiltNetwork
from ilo_node.errors import ClientError
from ilo_node.formats.jsoncontent import content_to_json
from protocol.examples import example

__all__ = ["FAST_GOSSIP", "Cluster", "Published", "free_ports", "run_cli", "write_daemon_config"]

#: Seconds between two polls of a condition.
POLL_S = 0.1
#: Settings written to every node's ``daemon.json``: gossip fast enough for tests.
FAST_GOSSIP = {"fanout": 2, "sync_interval_s": 0.5, "checkpoint_interval_s": 1.0}


def write_daemon_config(home: Path, **settings: Any) -> None:
    (home / "daemon.json").write_text(json.dumps({**FAST_GOSSIP, **settings}))


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
    published: list[Published] = field(default_factory=list)
    launcher: Launcher = field(init=False)

    def __post_init__(self) -> None:
        self.launcher = Launcher(
            self.built.passphrase_file, prefixes=self.prefixes, log_level="INFO"
        )

    # -- paths and diagnostics -------------------------------------------------------

    def home(self, node: str) -> Path:
        if node not in self.built.nodes:  # a node the test set up and started itself
            return self.launcher.homes[node]
        return self.built.nodes[node].path

    def log_tail(self, node: str, chars: int = 3000) -> str:
        path = self.home(node) / "daemon.log"
        if not path.exists():
            return f"--- {node}: no daemon.log ---"
        return f"--- {node} daemon.log (tail) ---\n" + path.read_text(errors="replace")[-chars:]

    def fail(self, message: str, nodes: Iterable[str] | None = None) -> NoReturn:
        tails = "\n".join(self.log_tail(n) for n in (nodes or self.launcher.nodes))
        pytest.fail(f"{message}\n{tails}")

    # -- processes -------------------------------------------------------------------

    def running(self, node: str) -> bool:
        return self.launcher.running(node)

    def start(self, *nodes: str) -> None:
        for node in nodes:
            assert not self.running(node), f"{node} is already running"
            self.launcher.start(node, self.home(node))

    def wait_ready(self, nodes: Iterable[str], timeout: float = 120.0) -> None:
        try:
            self.launcher.wait_ready(nodes, timeout)
        except LaunchError as exc:  # its message ends with the log tails
            pytest.fail(str(exc))

    def stop(self, *nodes: str, timeout: float = 30.0) -> None:
        """Clean stop through the local API; the process must exit 0 within ``timeout``."""
        targets = list(nodes or self.launcher.nodes)
        ended = self.launcher.stop(targets, timeout)
        for node in targets:
            how = ended.get(node)
            if how is None:
                self.fail(f"{node} was not running", [node])
            if how.refused is not None:
                self.fail(f"{node}: POST /local/stop failed: {how.refused}", [node])
            if how.signalled:
                self.fail(f"{node} did not exit within {timeout} s of /local/stop", [node])
            if how.code != 0:
                self.fail(f"{node} exited with status {how.code} after /local/stop", [node])
            assert not (self.home(node) / "daemon.sock").exists(), f"{node} left its socket"

    def close(self) -> None:
        """End every process this cluster started (clean stop, SIGTERM, SIGKILL) and reap it."""
        self.launcher.close()

    # -- the local API -------------------------------------------------------------

    def local(self, node: str, method: str, path: str, body: Any = None) -> Any:
        try:
            return self.launcher.call(node, method, path, body, timeout_s=30.0)
        except ClientError as exc:
            self.fail(f"{node}: {method} {path} failed: {exc.message}", [node])

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
        return self.launcher.status(node)

    def readable(self, node: str, ids: Sequence[str]) -> set[str] | None:
        """Which of ``ids`` the node can decrypt, or None if it does not answer."""
        found: set[str] = set()
        for start in range(0, len(ids), 50):
            chunk = ids[start : start + 50]
            try:
                answer = self.launcher.call(
                    node, "GET", "/local/readable?ids=" + ",".join(chunk), timeout_s=30.0
                )
            except ClientError:
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
        watched = list(nodes if nodes is not None else self.launcher.nodes)
        start = time.monotonic()
        detail = "never checked"
        while True:
            done, detail = check()
            if done:
                return time.monotonic() - start
            for node in watched:
                started = self.launcher.nodes.get(node)
                if started is not None and not started.running():
                    self.fail(
                        f"{node} exited (status {started.process.returncode}) "
                        f"while waiting for {what}",
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
        return self.launcher.cli(home, *args)


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
