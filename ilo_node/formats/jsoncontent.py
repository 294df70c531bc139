"""Message content in JSON (for the CLI and the local API): byte strings, such as the
envelope ids a retraction names, are written as ``{"$bytes": "<hex>"}``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol.errors import UsageError

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


def content_from_file(path: Path) -> Any:
    """Message content from a JSON file an officer wrote."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    return content_from_json(raw)
