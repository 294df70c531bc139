"""Token buckets, per key (a peer node, a remote address), bounded in number."""

from __future__ import annotations

import time

__all__ = ["RateLimiter"]

#: Buckets kept at most; beyond, the least recently seen half is forgotten.
_MAX_BUCKETS = 10_000


class RateLimiter:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > _MAX_BUCKETS:
            ordered = sorted(self._buckets.items(), key=lambda item: item[1][1])
            self._buckets = dict(ordered[-_MAX_BUCKETS // 2 :])
        return True
