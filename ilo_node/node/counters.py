"""Counters a node keeps of its own behaviour, for ``status`` and benchmarks.

Monotonic integers in named groups, such as ``ingest`` (envelopes by where they
came from and what became of them) or ``bytes_out`` (peer request bytes by
gossip role). The node, the peer service and gossip add to them; ``GET
/local/status`` and ``ilo-node status --json`` show a snapshot, so a benchmark
reads what the node counted instead of wrapping its code.

Adding is thread-safe: the node's worker thread and the event loop both count.
"""

from __future__ import annotations

import threading

__all__ = ["Counters"]


class Counters:
    def __init__(self) -> None:
        self._groups: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def add(self, group: str, key: str, amount: int = 1) -> None:
        with self._lock:
            values = self._groups.setdefault(group, {})
            values[key] = values.get(key, 0) + amount

    def get(self, group: str, key: str) -> int:
        with self._lock:
            return self._groups.get(group, {}).get(key, 0)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A copy of every group, keys sorted."""
        with self._lock:
            return {g: dict(sorted(v.items())) for g, v in sorted(self._groups.items())}
