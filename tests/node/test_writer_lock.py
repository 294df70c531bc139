"""Who holds a home's writer lock, read from the kernel's lock table without trying the
lock, and whether a process has ended: what ``status`` and ``stop`` rely on."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ilo_node.client.stop import process_ended
from ilo_node.home.home import Home
from ilo_node.node.lock import writer_pid


def _device_inode(path: Path) -> str:
    st = path.stat()
    return f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"


def test_writer_pid_reads_the_holder_of_the_lock_from_proc_locks(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert writer_pid(home) is None  # no lock file yet
    fd = os.open(tmp_path / "node.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        assert writer_pid(home) is None  # the file, nobody holding it
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert writer_pid(home) == os.getpid()
    finally:
        os.close(fd)
    assert writer_pid(home) is None


def test_writer_pid_skips_waiters_and_other_files(tmp_path: Path) -> None:
    home = Home(tmp_path)
    (tmp_path / "node.lock").touch()
    ours = _device_inode(tmp_path / "node.lock")
    table = tmp_path / "locks"
    table.write_text(
        "1: POSIX  ADVISORY  WRITE 11 00:00:1 0 EOF\n"
        f"2: -> FLOCK  ADVISORY  WRITE 22 {ours} 0 EOF\n"
        f"3: FLOCK  ADVISORY  WRITE 33 {ours} 0 EOF\n"
    )
    assert writer_pid(home, table) == 33
    table.write_text(f"1: -> FLOCK  ADVISORY  WRITE 22 {ours} 0 EOF\n")
    assert writer_pid(home, table) is None
    assert writer_pid(home, tmp_path / "no-such-table") is None


def test_process_ended_counts_zombies_as_ended(tmp_path: Path) -> None:
    assert process_ended(os.getpid()) is False
    for state, ended in (("S", False), ("R", False), ("Z", True), ("X", True)):
        (tmp_path / "4242").mkdir(exist_ok=True)
        # The command name may hold spaces and parentheses: the state follows the last ')'.
        (tmp_path / "4242" / "stat").write_text(f"4242 (python (x) y) {state} 1 4242 4242 0")
        assert process_ended(4242, tmp_path) is ended, state
    assert process_ended(4343, tmp_path) is True  # no such process
