"""Log lines nobody outside can multiply.

What a peer or a stranger sends (a refused request, a malformed body, a
connection attempt when descriptors run out) must not turn into one log line
per attempt: a flood would fill the disk and drown what an operator needs to
see. :class:`QuietLog` lets through the first few lines of each kind per
period and then one summary line saying how many were left out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import RequestPayloadError

__all__ = ["QuietLog", "quiet_server_log"]


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

    def log(
        self, level: int, kind: str, message: str, *args: object, exc_info: bool = False
    ) -> bool:
        """Log ``message % args`` (with the current exception's traceback if
        ``exc_info``) unless ``kind`` used up its burst; True if logged."""
        if not self.allow(kind, level):
            return False
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True

    def allow(self, kind: str, level: int = logging.INFO) -> bool:
        """Count one line of ``kind``: True if it may be written now. When a new period
        begins, first say (at ``level``) how many lines the last one left out."""
        now = self.clock()
        with self._lock:
            start, logged, dropped = self._kinds.get(kind, (now, 0, 0))
            if now - start >= self.period_s:
                if dropped:
                    self.logger.log(
                        level,
                        "%d more line(s) of kind %r left out in the last %.0f s",
                        dropped,
                        kind,
                        now - start,
                    )
                start, logged, dropped = now, 0, 0
            if logged >= self.burst:
                self._kinds[kind] = (start, logged, dropped + 1)
                return False
            self._kinds[kind] = (start, logged + 1, dropped)
            if len(self._kinds) > 1_000:  # kinds are ours, but stay bounded anyway
                self._kinds.pop(next(iter(self._kinds)))
        return True

    def info(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.INFO, kind, message, *args)

    def warning(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, message, *args)


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
