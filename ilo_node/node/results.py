"""What became of one envelope handed to the node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["IngestResult"]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Every status but ``rejected`` and ``deferred`` means the envelope is stored durably."""

    status: str  # accepted | duplicate | quarantined | fork | rejected | deferred
    reason: str
    envelope_id: bytes | None = None
    log_index: int | None = None

    @property
    def stored(self) -> bool:
        return self.status in ("accepted", "duplicate", "quarantined", "fork")

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "stored": self.stored,
            "reason": self.reason,
            "id": self.envelope_id.hex() if self.envelope_id else None,
            "log_index": self.log_index,
        }
