"""``ilo-node stop``: a clean stop of the running node, waited for until it is over.

The node is asked through its local API (``POST /local/stop``): it stops gossip and
both servers, signs a last checkpoint of its log and closes its database, then
removes its socket and exits. This waits, with a deadline, until the process has
ended, its writer lock is free and its socket is gone, then reads the home to say
what the last checkpoint covers.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from ilo_node.client.local import LocalApiClient, node_running
from ilo_node.errors import ClientError, NodeError, NodeNotRunningError
from ilo_node.home.home import Home
from ilo_node.node.core import Node
from ilo_node.node.lock import writer_pid

__all__ = ["STOP_TIMEOUT_S", "Stopped", "process_ended", "stop_node"]

#: Seconds the node gets to exit after the stop is asked for (its last checkpoint is
#: one fsync; closing gossip waits at most for requests under way).
STOP_TIMEOUT_S = 60.0
#: Seconds between two looks.
POLL_S = 0.1


@dataclass(frozen=True)
class Stopped:
    node: str
    pid: int | None
    seconds: float
    log_size: int
    #: The size of the newest checkpoint the node signed (None: it has signed none).
    checkpoint_size: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"stopped": True, **asdict(self)}


def process_ended(pid: int, proc: Path = Path("/proc")) -> bool:
    """Whether process ``pid`` has ended (a zombie that its parent has not reaped yet
    has: it holds nothing any more)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        stat = ""
    if stat:
        # "pid (comm) S ...": the state follows the last ')' (comm may hold any text).
        state = stat.rpartition(")")[2].split()[:1]
        return state in (["Z"], ["X"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, as another user
    return False


def stop_node(home: Home, timeout_s: float = STOP_TIMEOUT_S) -> Stopped:
    """Stop the node running in ``home`` and wait until it has exited."""
    config = home.require_role("node")
    socket_path = home.path / "daemon.sock"
    if not node_running(home):
        _not_running(home)
    started = time.monotonic()
    try:
        answer = LocalApiClient(home, timeout_s=10.0).call("POST", "/local/stop")
    except ClientError:
        if not node_running(home):  # it ended between the two looks
            _not_running(home)
        raise
    pid = answer.get("pid") if isinstance(answer, dict) else None
    pid = pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None
    deadline = started + timeout_s
    while True:
        ended = (pid is None or process_ended(pid)) and writer_pid(home) is None
        if ended and not node_running(home):
            break
        if time.monotonic() > deadline:
            which = f" (pid {pid})" if pid else ""
            raise NodeError(
                f"the node in {home.path}{which} did not exit within {timeout_s:.0f} s of "
                "being asked to stop",
                "It may still be finishing on a slow disk: wait, and look at its log. If it "
                f"hangs, end it with 'kill -TERM {pid or 'PID'}' (it stops cleanly on "
                "SIGTERM too); nothing it acknowledged is lost even to SIGKILL.",
            )
        time.sleep(POLL_S)
    if socket_path.exists():
        raise NodeError(
            f"the node in {home.path} exited but left {socket_path} behind: it did not "
            "finish its clean stop",
            "Look at the end of its log for why; the next 'ilo-node run' replaces the file.",
        )
    seconds = round(time.monotonic() - started, 1)
    node = Node(home, None, writer=False)
    try:
        latest = node.log.latest_checkpoint()
        size = node.size()
    finally:
        node.close()
    return Stopped(str(config.node), pid, seconds, size, latest.checkpoint.size if latest else None)


def _not_running(home: Home) -> NoReturn:
    holder = writer_pid(home)
    if holder is not None:
        raise NodeError(
            f"process {holder} holds {home.path} but does not answer on its socket",
            f"A node may be starting (try again in a moment) or hung: 'kill -TERM {holder}' "
            "stops it cleanly. Or another command is writing to the home: let it finish.",
        )
    raise NodeNotRunningError(
        f"no node is running in {home.path}",
        "Nothing was stopped. 'ilo-node status' shows what the home holds; start the node "
        "with 'ilo-node run' (or its service).",
    )
