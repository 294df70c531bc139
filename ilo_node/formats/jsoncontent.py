"""Message content in JSON (for the CLI and the local API): byte strings, such as the
envelope ids a retraction names, are written as ``{"$bytes": "<hex>"}``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ilo_node.errors import InputError
from ilo_node.formats.jsonfile import read_json_file

__all__ = ["content_from_file", "content_from_json", "content_to_json"]


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
            # Only a string: str() turned {"$bytes": 12} into the byte 0x12.
            text = value["$bytes"]
            try:
                if not isinstance(text, str):
                    raise ValueError(text)
                return bytes.fromhex(text)
            except ValueError:
                raise InputError('a {"$bytes": ...} value must be a string of hex') from None
        return {k: content_from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [content_from_json(v) for v in value]
    if isinstance(value, str):
        return value.replace("\r\n", "\n")
    return value


def content_from_file(path: Path) -> Any:
    """Message content from a JSON file an officer wrote (its schema is checked when
    the envelope is sealed, with the message that names the field)."""
    hint = (
        "Content files are JSON objects; 'ilo-node template KIND --json' writes one to start from."
    )
    return content_from_json(read_json_file(path, "message content (JSON)", hint=hint))
