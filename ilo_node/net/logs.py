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

__all__ = ["QuietLog"]


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

    def log(self, level: int, kind: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless ``kind`` used up its burst; True if logged."""
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
        self.logger.log(level, message, *args)
        return True

    def info(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.INFO, kind, message, *args)

    def warning(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, message, *args)
