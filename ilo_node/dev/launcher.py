"""Real ``ilo-node run`` processes: start them, wait until they listen, call them, stop them.

``ilo-node devnet``, the integration tests (``tests/support/netproc.py``) and the gossip
benchmark (``bench/gossip_bench.py``) all run node homes as child processes
through this one :class:`Launcher`:

* each node is ``python -m ilo_node --home H --passphrase-file F run
  --ready-file R``, optionally behind a command prefix (``ip netns exec NS`` to
  run it in a network namespace), started in its home with its output appended
  to ``HOME/daemon.log``, in an environment without ``ILO_NODE_PASSPHRASE`` or
  ``ILO_NODE_DEBUG``;
* the node writes the ready file once both its APIs listen:
  :meth:`Launcher.wait_ready` polls for it with a deadline, and fails with the
  tail of the log if the child exits first;
* calls go to the node's local API through :class:`ilo_node.client.LocalApiClient`,
  the CLI's own client;
* a clean stop is ``POST /local/stop`` (the node signs a last checkpoint); a
  node that does not exit in time gets SIGTERM, then SIGKILL;
* :meth:`Launcher.close` ends and reaps every child it ever started, nodes and
  CLI runs alike, whatever state the caller left them in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import ilo_node
from ilo_node.client.local import LocalApiClient
from ilo_node.errors import ClientError
from ilo_node.home.home import Home

__all__ = [
    "LaunchError",
    "Launcher",
    "NodeProcess",
    "Stopped",
    "child_env",
    "cli_argv",
    "free_ports",
]

#: Seconds between two looks at a ready file.
POLL_S = 0.05
#: Seconds a local API call may take (a publish waits for its batch to commit).
CALL_TIMEOUT_S = 60.0
#: Seconds nodes get to exit after ``POST /local/stop``: a last checkpoint, then close.
STOP_TIMEOUT_S = 30.0
#: Seconds a node gets to exit after SIGTERM before it is killed.
TERM_TIMEOUT_S = 5.0

# The directory holding the ilo_node package this process runs: children put it first
# on their path, so that they run the same code, installed or from a checkout.
_PACKAGE_ROOT = Path(ilo_node.__file__).resolve().parents[1]


class LaunchError(Exception):
    """A node did not start or stop as it should; the message ends with its log tail."""


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports free on ``host`` right now (another process may take one
    before use)."""
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


def child_env(log_level: str | None = None) -> dict[str, str]:
    """The environment of a child ``ilo-node`` process."""
    env = dict(os.environ)
    # Every child gets --passphrase-file; a passphrase or a debug switch inherited from
    # the caller's shell would silently change what runs.
    env.pop("ILO_NODE_PASSPHRASE", None)
    env.pop("ILO_NODE_DEBUG", None)
    path = [str(_PACKAGE_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(path)
    if log_level is not None:
        env["ILO_NODE_LOG"] = log_level
    return env


def cli_argv(home: Path, passphrase_file: Path, *args: str) -> list[str]:
    """``ilo-node --home HOME --passphrase-file FILE ARGS`` with this interpreter.

    ``-P``: the child runs in the node's home, whose ``keys/`` directory must never be
    taken for the ``keys`` package.
    """
    return [
        sys.executable,
        "-P",
        "-m",
        "ilo_node",
        "--home",
        str(home),
        "--passphrase-file",
        str(passphrase_file),
        *args,
    ]


@dataclass
class NodeProcess:
    """One started ``ilo-node run``."""

    name: str
    home: Path
    process: subprocess.Popen[bytes]

    @property
    def ready_file(self) -> Path:
        return self.home / "ready.json"

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return log_tail(self.name, self.home, chars)


def log_tail(name: str, home: Path, chars: int = 3000) -> str:
    """The end of ``HOME/daemon.log``, headed by the node's name."""
    path = home / "daemon.log"
    if not path.exists():
        return f"--- {name}: no daemon.log ---"
    return f"--- {name} daemon.log (tail) ---\n" + path.read_text(errors="replace")[-chars:]


@dataclass(frozen=True)
class Stopped:
    """How a node ended under :meth:`Launcher.stop`."""

    code: int
    #: Why ``POST /local/stop`` failed (the node did not answer, or refused), or None:
    #: accepted, or not sent because the node had exited already (see ``code``).
    refused: str | None
    #: Whether it took a signal (it did not exit by itself in time, or refused the stop).
    signalled: bool

    @property
    def clean(self) -> bool:
        return self.refused is None and not self.signalled and self.code == 0


def _wait(process: subprocess.Popen[Any], timeout_s: float) -> int | None:
    try:
        return process.wait(timeout=max(0.0, timeout_s))
    except subprocess.TimeoutExpired:
        return None


def _end(process: subprocess.Popen[Any], terminated: bool = False) -> int:
    """SIGTERM (unless sent already), then SIGKILL if that is not enough; reaps it."""
    if not terminated:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        code = _wait(process, TERM_TIMEOUT_S)
        if code is not None:
            return code
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    return process.wait()


class Launcher:
    """Node processes of homes that share one passphrase file.

    ``prefixes`` maps node names to a command put before the node's argv;
    ``log_level`` sets ``ILO_NODE_LOG`` for the children (None: inherited).
    """

    def __init__(
        self,
        passphrase_file: Path,
        *,
        prefixes: Mapping[str, Sequence[str]] | None = None,
        log_level: str | None = None,
    ) -> None:
        self.passphrase_file = passphrase_file
        self.prefixes = {name: list(prefix) for name, prefix in (prefixes or {}).items()}
        self.log_level = log_level
        #: Nodes started and not stopped since, by name.
        self.nodes: dict[str, NodeProcess] = {}
        #: The home of every node ever started, by name.
        self.homes: dict[str, Path] = {}
        # Every child ever started (nodes, restarted nodes, CLI runs): close() reaps them.
        self._children: list[subprocess.Popen[Any]] = []

    def __enter__(self) -> Launcher:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- processes -------------------------------------------------------------------

    def running(self, name: str) -> bool:
        node = self.nodes.get(name)
        return node is not None and node.running()

    def start(self, name: str, home: Path) -> NodeProcess:
        """Start ``ilo-node run`` on ``home``; :meth:`wait_ready` says when it listens."""
        if self.running(name):
            raise LaunchError(f"{name} is already running")
        ready = home / "ready.json"
        # A ready file left by an earlier run would announce this one before it listens.
        with contextlib.suppress(FileNotFoundError):
            ready.unlink()
        argv = [
            *self.prefixes.get(name, ()),
            *cli_argv(home, self.passphrase_file, "run", "--ready-file", str(ready)),
        ]
        with (home / "daemon.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, our module, our prefix
                argv,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                cwd=home,
                env=child_env(self.log_level),
            )
        self._children.append(process)
        node = NodeProcess(name, home, process)
        self.nodes[name] = node
        self.homes[name] = home
        return node

    def wait_ready(self, names: Iterable[str], timeout_s: float = 120.0) -> float:
        """Poll until every one of ``names`` wrote its ready file; returns the seconds it
        took. Raises :class:`LaunchError` at once if one exits, or after ``timeout_s``."""
        start = time.monotonic()
        pending = list(dict.fromkeys(names))
        while True:
            for name in list(pending):
                node = self.nodes[name]
                if node.ready_file.exists():
                    pending.remove(name)
                elif not node.running():
                    raise LaunchError(
                        f"{name} exited with status {node.process.returncode} while starting\n"
                        + node.log_tail()
                    )
            if not pending:
                return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                tails = "\n".join(self.nodes[n].log_tail() for n in pending)
                raise LaunchError(f"not ready after {timeout_s:.0f} s: {pending}\n{tails}")
            time.sleep(POLL_S)

    def stop(
        self, names: Iterable[str] | None = None, timeout_s: float = STOP_TIMEOUT_S
    ) -> dict[str, Stopped]:
        """Stop nodes (all of them by default) and reap them: ``POST /local/stop`` to each
        first, so that they stop in parallel, then up to ``timeout_s`` for them to exit;
        a node still running then, or that refused the stop, gets SIGTERM, then SIGKILL.
        Stopped nodes are no longer in :attr:`nodes`."""
        wanted = list(self.nodes) if names is None else list(dict.fromkeys(names))
        targets = [self.nodes[n] for n in wanted if n in self.nodes]
        refused: dict[str, str | None] = {}
        for node in targets:
            refused[node.name] = None
            if not node.running():
                continue  # ended already: its exit status says how
            try:
                self.call(node.name, "POST", "/local/stop", timeout_s=10.0)
            except ClientError as exc:
                refused[node.name] = exc.message
                # It will not stop by itself: SIGTERM is its other clean stop.
                with contextlib.suppress(ProcessLookupError):
                    node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        out: dict[str, Stopped] = {}
        for node in targets:
            reason = refused[node.name]
            terminated = reason is not None
            code = _wait(node.process, deadline - time.monotonic())
            signalled = terminated or code is None
            if code is None:
                code = _end(node.process, terminated)
            out[node.name] = Stopped(code, reason, signalled)
            del self.nodes[node.name]
        return out

    def cli(self, home: Path, *args: str) -> subprocess.Popen[str]:
        """Start ``ilo-node --home HOME --passphrase-file FILE ARGS`` with its output
        piped (text); the caller waits for it, :meth:`close` reaps it in any case."""
        process = subprocess.Popen(  # noqa: S603 - this interpreter and our module
            cli_argv(home, self.passphrase_file, *args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=home,
            env=child_env(self.log_level),
        )
        self._children.append(process)
        return process

    def close(self) -> None:
        """Stop every node, end every other child still running, and reap them all."""
        try:
            self.stop(timeout_s=15.0)
        finally:
            for process in self._children:
                if process.poll() is None:
                    _end(process)
                # Reaps it and closes its pipes, if it has any.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.communicate(timeout=10)
            self._children.clear()

    # -- the local API -------------------------------------------------------------

    def call(
        self,
        name: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout_s: float = CALL_TIMEOUT_S,
    ) -> Any:
        """One call to the node's local API: the decoded JSON answer. Raises
        :class:`~ilo_node.errors.ClientError` if it does not answer or refuses."""
        client = LocalApiClient(Home(self.homes[name]), timeout_s=timeout_s)
        return client.call(method, path, body)

    def status(self, name: str) -> dict[str, Any] | None:
        """``GET /local/status``, or None if the node does not answer (stopped, starting)."""
        try:
            answer = self.call(name, "GET", "/local/status")
        except ClientError:
            return None
        return answer if isinstance(answer, dict) else None
