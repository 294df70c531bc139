"""Log lines nobody outside can multiply, and the daemon's log file.

What a peer or a stranger sends (a refused request, a malformed body, a
connection attempt when descriptors run out) must not turn into one log line
per attempt: a flood would fill the disk and drown what an operator needs to
see. :class:`QuietLog` lets through the first few lines of each kind per
period and then one summary line saying how many were left out;
:class:`QuietFilter` does the same for a library's logger. The daemon's log
file, when ``daemon.json`` names one, is capped and rotated, and every file of
it is created mode 0600 (:func:`private_log_handler`).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import RequestPayloadError

__all__ = ["QuietFilter", "QuietLog", "private_log_handler", "quiet_server_log"]


class QuietLog:
    """At most ``burst`` lines per ``kind`` every ``period_s`` seconds; the rest are
    counted and reported in one line when the next period begins."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = 5,
        period_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.period_s = period_s
        self.clock = clock
        self._lock = threading.Lock()
        # kind -> (period start, lines logged in it, lines left out in it)
        self._kinds: dict[str, tuple[float, int, int]] = {}

    def admit(self, kind: str) -> tuple[bool, int, float]:
        """Count one line of ``kind``: whether it may be logged, and how many lines of
        the kind were left out in the period that just ended (with its length in
        seconds) if this line starts a new one, else ``(…, 0, 0.0)``."""
        now = self.clock()
        with self._lock:
            start, logged, dropped = self._kinds.get(kind, (now, 0, 0))
            report, length = 0, 0.0
            if now - start >= self.period_s:
                report, length = dropped, now - start
                start, logged, dropped = now, 0, 0
            if logged >= self.burst:
                self._kinds[kind] = (start, logged, dropped + 1)
                return False, report, length
            self._kinds[kind] = (start, logged + 1, dropped)
            if len(self._kinds) > 1_000:  # kinds are ours, but stay bounded anyway
                self._kinds.pop(next(iter(self._kinds)))
        return True, report, length

    def allow(self, kind: str, level: int = logging.INFO) -> bool:
        """Count one line of ``kind``: True if it may be written now. When a new period
        begins, first say (at ``level``) how many lines the last one left out."""
        allowed, dropped, length = self.admit(kind)
        if dropped:
            self.logger.log(
                level,
                "%d more line(s) of kind %r left out in the last %.0f s",
                dropped,
                kind,
                length,
            )
        return allowed

    def log(
        self, level: int, kind: str, message: str, *args: object, exc_info: bool = False
    ) -> bool:
        """Log ``message % args`` (with the current exception's traceback if
        ``exc_info``) unless ``kind`` used up its burst; True if logged."""
        if not self.allow(kind, level):
            return False
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True

    def info(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.INFO, kind, message, *args)

    def warning(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, message, *args)


class QuietFilter(logging.Filter):
    """:class:`QuietLog`'s limits for a logger we do not call ourselves (aiohttp's
    server logger, which logs every malformed request with a traceback). Records of
    one message template are one kind; a record let through loses its traceback,
    which an outsider chose, and says how many like it were left out."""

    def __init__(self, quiet: QuietLog) -> None:
        super().__init__()
        self.quiet = quiet

    def filter(self, record: logging.LogRecord) -> bool:
        allowed, dropped, length = self.quiet.admit(str(record.msg)[:200])
        if not allowed:
            return False
        if record.exc_info and record.exc_info[0] is not None:
            record.msg = f"{record.getMessage()} ({record.exc_info[0].__name__})"
            record.args = None
        record.exc_info = None
        record.exc_text = None
        if dropped:
            record.msg = (
                f"{record.getMessage()} [{dropped} more like it left out in {length:.0f} s]"
            )
            record.args = None
        return True


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    def _open(self) -> Any:
        # Every file of the log, the first and each one a rollover starts, is created
        # 0600 whatever the umask, and one found wider is narrowed: the log names peers
        # and addresses, which is nobody else's business on the machine.
        fd = os.open(
            self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
        )
        os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def private_log_handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    """A log file capped at ``max_bytes``, rotated through ``backups`` older files
    (``path.1`` …), each created mode 0600."""
    return _PrivateRotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )


class _QuietServerFilter(logging.Filter):
    """On aiohttp's server logger: what a client's malformed HTTP makes aiohttp log.

    aiohttp logs every request it cannot parse (a header with a control character,
    a bad Content-Length, a URL that is not one…) at ERROR with a traceback, and
    every exception a handler lets out the same way: one multi-line record per bad
    request, which anyone who can open a connection can repeat. This filter turns
    the first kind into one INFO line without traceback and lets through a few of
    each kind a minute (:class:`QuietLog`), with a count of the rest.
    """

    def __init__(self) -> None:
        super().__init__()
        self.quiet = QuietLog(logging.getLogger("ilo_node.http"))

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is None or record.levelno < logging.WARNING:
            return True
        cause = _client_fault(record.exc_info[1])
        if cause is not None:
            if not self.quiet.allow("malformed HTTP request"):
                return False
            # The exception's text quotes the request bytes: only its type is logged.
            record.msg = "malformed or cut-off HTTP request refused (%s)"
            record.args = (type(cause).__name__,)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
            return True
        return self.quiet.allow("HTTP handler error", logging.ERROR)


def _client_fault(exc: BaseException | None) -> BaseException | None:
    """The exception in ``exc``'s chain that says the client sent bad HTTP or went away
    mid-request, if there is one. aiohttp re-raises a body it could not decode as a
    RequestPayloadError caused by the parser's error, once in the handler and once
    more while it drains the rest of the body."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, HttpProcessingError | RequestPayloadError | ConnectionResetError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def quiet_server_log(logger: logging.Logger | None = None) -> None:
    """Install the filter above on ``logger`` (default ``aiohttp.server``), once."""
    target = logger or logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _QuietServerFilter) for f in target.filters):
        target.addFilter(_QuietServerFilter())
