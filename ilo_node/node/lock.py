"""One writer per node home: the log's in-memory tree must see every append (ADR 0008)."""

from __future__ import annotations

import fcntl
import os

from ilo_node.errors import NodeError
from ilo_node.home.home import Home

__all__ = ["release_writer_lock", "take_writer_lock"]


def take_writer_lock(home: Home) -> int:
    """An exclusive, non-blocking ``flock`` on ``HOME/node.lock``; returns its descriptor."""
    fd = os.open(home.path / "node.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise NodeError(
            f"{home.path} is in use by a running node (or another command)",
            "Stop it first, or use the commands that go through the running node "
            "('ilo-node publish', 'ilo-node status', 'ilo-node log checkpoint').",
        ) from None
    return fd


def release_writer_lock(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases the flock
