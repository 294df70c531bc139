"""Retention: erase decrypted content past its period (crypto-shredding).

The envelope and its place in the log stay, so the log still verifies; the
decrypted copy and its content key go, with the search index's text of it
(``node/search.py``), and an erasure record says when and why.
What keeps erased content unreadable afterwards is the deletion of the prekey
secrets it was sealed to (keys/prekeys.py), not this table.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol.envelope import Envelope

from .search import SearchIndex
from .state import NodeState
from .store import transaction

__all__ = ["DAY_MS", "apply_retention"]

DAY_MS = 86_400_000


def apply_retention(
    state: NodeState, search: SearchIndex, policy: Mapping[str, int], now_ms: int
) -> int:
    """Erase content older than its retention; returns how many were erased.

    ``policy`` maps ``kind``, ``handling`` codes and ``"default"`` to days; the
    shortest applicable period wins.
    """
    rows = state.db.execute(
        "SELECT e.raw FROM contents c JOIN envelopes e ON e.id = c.envelope_id"
    ).fetchall()
    expired: list[tuple[bytes, str]] = []
    for (raw,) in rows:
        # Kind, handling and time from the signed header: a changed column must not
        # keep content longer (or erase it sooner) than its author's labels say.
        envelope = Envelope.from_bytes(bytes(raw), state.limits)
        envelope_id, h = envelope.id, envelope.header
        kind, handling, created = h.kind, h.handling, h.created_ms
        periods = [policy[k] for k in (kind, handling, "default") if k in policy]
        if not periods:
            continue
        days = min(periods)
        if created + days * DAY_MS <= now_ms:
            expired.append((envelope_id, f"retention {days} days ({kind}, {handling})"))
    if not expired:
        return 0
    with transaction(state.db):
        for envelope_id, reason in expired:
            state.db.execute("DELETE FROM contents WHERE envelope_id = ?", [envelope_id])
            search.remove(envelope_id)
            state.db.execute(
                "INSERT OR REPLACE INTO erasures (envelope_id, erased_ms, reason) VALUES (?, ?, ?)",
                [envelope_id, now_ms, reason],
            )
        # Same transaction: no commit has the content gone but its words still indexed.
        search.scrub()
    return len(expired)
