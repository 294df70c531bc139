"""Public keys as people and files write them: 64 hex digits."""

from __future__ import annotations

__all__ = ["hex_public_key"]


def hex_public_key(value: object) -> bytes | None:
    """The 32-byte key ``value`` spells in hex, or ``None`` if it spells none."""
    try:
        key = bytes.fromhex(str(value))
    except ValueError:
        return None
    return key if len(key) == 32 else None
