"""A program run on a real pseudo-terminal and driven as a person at the keyboard would.

The child gets the terminal's slave side as its standard input, output and error and as
its controlling terminal, so ``isatty()`` is true, the line discipline echoes what is
typed, and Ctrl-C and Ctrl-D act as they do for an officer. :meth:`Terminal.expect`
reads until the output holds a text (or matches a pattern) and fails with the whole
transcript after a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import codecs
import fcntl
import os
import re
import select
import signal
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["Terminal"]

#: Seconds an expectation may take: generous, since two shared cores start a Python
#: process that imports the CLI in a second or more.
DEFAULT_TIMEOUT = 30.0

_CONTROL = {"c": b"\x03", "d": b"\x04"}


def _take_terminal() -> None:
    # Run in the child between fork and exec, after setsid (start_new_session): make
    # the pty its controlling terminal, so that Ctrl-C typed there sends SIGINT.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``argv`` running on a new pseudo-terminal; use as a context manager."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.timeout = timeout
        master, slave = os.openpty()
        try:
            self.process = subprocess.Popen(
                list(argv),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_take_terminal,  # noqa: PLW1509 (no threads to deadlock on here)
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            # The child holds its own copy; ours would keep the terminal open after
            # the child ends, and reading would block instead of seeing the end.
            os.close(slave)
        self._master = master
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._raw = ""
        self._pos = 0
        self._eof = False

    # -- output ---------------------------------------------------------------------------

    @property
    def transcript(self) -> str:
        """Everything the terminal showed so far, with its ``\\r\\n`` read as ``\\n``."""
        return self._raw.replace("\r\n", "\n")

    def _read_some(self, deadline: float) -> bool:
        """Read what is there, waiting until ``deadline``; False at the end of output
        or when the deadline passed."""
        if self._eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self._master], [], [], remaining)
        if not ready:
            return False
        try:
            data = os.read(self._master, 65536)
        except OSError:  # EIO on Linux once every slave descriptor is closed
            data = b""
        if not data:
            self._eof = True
            self._raw += self._decoder.decode(b"", final=True)
            return False
        self._raw += self._decoder.decode(data)
        return True

    def expect(self, pattern: str | re.Pattern[str], timeout: float | None = None) -> re.Match[str]:
        """Wait until the output after the last expectation holds ``pattern`` (a plain
        string is matched literally) and return the match; what it matched is consumed."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            found = regex.search(self.transcript, self._pos)
            if found is not None:
                self._pos = found.end()
                return found
            if not self._read_some(deadline):
                raise AssertionError(
                    f"{regex.pattern!r} did not appear "
                    f"({'the program ended' if self._eof else 'timed out'}); after the last "
                    f"expectation the terminal showed:\n{self.transcript[self._pos :]}\n"
                    f"--- whole transcript ---\n{self.transcript}"
                )

    # -- input ----------------------------------------------------------------------------

    def send(self, line: str) -> None:
        """Type ``line`` and Enter."""
        os.write(self._master, line.encode() + b"\n")

    def control(self, key: str) -> None:
        """Type Ctrl-``key`` (``"c"`` interrupts, ``"d"`` at the start of a line is EOF)."""
        os.write(self._master, _CONTROL[key])

    # -- the end --------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> int:
        """Read the output to its end and return the exit status."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self._read_some(deadline):
            pass
        remaining = max(0.0, deadline - time.monotonic())
        try:
            return self.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the program did not end in time; the terminal showed:\n{self.transcript}"
            ) from None

    def close(self) -> None:
        if self.process.poll() is None:
            # The child leads its own session, so its group is only what it started.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self._master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
