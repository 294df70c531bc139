"""One writer per node home: the log's in-memory tree must see every append (ADR 0008)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ilo_node.errors import NodeError
from ilo_node.home.home import Home

__all__ = ["release_writer_lock", "take_writer_lock", "writer_pid"]


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


def writer_pid(home: Home, locks: Path = Path("/proc/locks")) -> int | None:
    """The pid of the process holding the home's writer lock, or None (free, or not
    known: no ``/proc/locks`` here). Read from the kernel's table, never by trying
    the lock: a try could make a node that starts at that moment fail."""
    try:
        st = os.stat(home.path / "node.lock")
        table = locks.read_text()
    except OSError:
        return None
    # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF": device in hex, inode in decimal.
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        if "->" in fields:  # a waiter, not the holder
            continue
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            try:
                return int(fields[4])
            except ValueError:
                return None
    return None
