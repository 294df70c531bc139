"""Fields marked personal in a kind's schema, left out of what is not for people.

Personal fields (names, document numbers, contact details) are shown to officers
at their terminal; JSON for scripts and the node operator's ``read`` leave them out
unless asked, and name the paths they left out so that nothing is withheld silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocol.kinds import kind_spec
from protocol.schema import Field, FieldType, List, Struct

__all__ = ["personal_removed"]


def personal_removed(kind: str, content: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``content`` without its personal fields, and the paths of those removed."""
    removed: list[str] = []
    out = _strip(kind_spec(kind).fields, content, "", removed)
    return out, removed


def _strip(fields: Sequence[Field], value: dict[str, Any], at: str, removed: list[str]) -> Any:
    out: dict[str, Any] = {}
    by_name = {f.name: f for f in fields}
    for name, item in value.items():
        f = by_name.get(name)
        path = f"{at}.{name}" if at else name
        if f is not None and f.personal:
            removed.append(path)
            continue
        out[name] = _strip_value(f.type, item, path, removed) if f is not None else item
    return out


def _strip_value(field_type: FieldType, value: Any, path: str, removed: list[str]) -> Any:
    if isinstance(field_type, Struct) and isinstance(value, dict):
        return _strip(field_type.fields, value, path, removed)
    if isinstance(field_type, List) and isinstance(value, list):
        return [
            _strip_value(field_type.item, v, f"{path}[{i}]", removed) for i, v in enumerate(value)
        ]
    return value
