"""Message content in JSON (for the CLI and the local API): byte strings, such as the
envelope ids a retraction names, are written as ``{"$bytes": "<hex>"}``."""

from __future__ import annotations

from typing import Any

from protocol.errors import UsageError

__all__ = ["content_from_json", "content_to_json"]


def content_to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {k: content_to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [content_to_json(v) for v in value]
    return value


def content_from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            try:
                return bytes.fromhex(str(value["$bytes"]))
            except ValueError:
                raise UsageError('a {"$bytes": ...} value must be hex') from None
        return {k: content_from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [content_from_json(v) for v in value]
    if isinstance(value, str):
        return value.replace("\r\n", "\n")
    return value
