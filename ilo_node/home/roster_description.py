"""Roster descriptions: the JSON an administrator edits, and the payload it becomes.

``ilo-node roster show --json`` prints a description; editing it and passing it
to ``ilo-node roster propose`` yields the next version. Times are dates or ISO
times (UTC); keys are hex, or ``key_file`` names a public key file written by
``ilo-node keys export-public`` (relative to the description's folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ilo_node.errors import InputError
from ilo_node.formats.jsonfile import (
    get_int,
    get_list,
    get_object,
    get_str,
    json_object,
    read_json_file,
)
from ilo_node.formats.keytext import hex_public_key
from ilo_node.formats.timefmt import format_ms, parse_time
from ilo_node.home.home import read_public_record
from keys.documents import Roster, node_role

__all__ = ["description_from_roster", "payload_from_description", "roster_heading"]

_HINT = "'ilo-node roster show --json' prints a description to start from."


def _key(entry: dict[str, Any], base: Path, where: str) -> bytes:
    if "key_file" in entry:
        name = get_str(entry, "key_file", where)
        return bytes.fromhex(read_public_record(base / name)["key"])
    if "key" not in entry:
        raise InputError(f"{where}: give 'key' (hex) or 'key_file'", _HINT)
    # Only a string: hex_public_key reads str(value), and str() of a 64-digit integer
    # is valid hex.
    value = entry["key"]
    key = hex_public_key(value) if isinstance(value, str) else None
    if key is None:
        raise InputError(f"{where}: 'key' must be 32 bytes of hex", _HINT)
    return key


def _time(entry: dict[str, Any], name: str, now: int, where: str) -> int:
    if name not in entry:
        raise InputError(f"{where}: '{name}' is missing", _HINT)
    value = entry[name]
    if type(value) is int and value >= 0:
        value = str(value)  # milliseconds since 1970, as parse_time reads them
    if not isinstance(value, str):
        raise InputError(f"{where}: '{name}' must be a date, an ISO time or milliseconds")
    return parse_time(value, now)


def _entries(raw: dict[str, Any], name: str, what: str) -> list[dict[str, Any]]:
    items = get_list(raw, name, what, [])
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"{what}: {name}[{i}] must be an object", _HINT)
    return items


def payload_from_description(path: Path, now_ms: int) -> dict[str, Any]:
    """The roster payload a description file describes. Every field is checked for its
    type here, with a message naming it: ``int()`` and ``dict()`` used to take strings,
    floats and ``true`` for numbers, and to fail with ``OverflowError`` on ``1e400``."""
    what = str(path)
    raw = json_object(read_json_file(path, "a roster description", hint=_HINT), what, hint=_HINT)
    base = path.parent
    authorities = []
    for i, a in enumerate(_entries(raw, "authorities", what)):
        where = f"{what}: authorities[{i}]"
        entry: dict[str, Any] = {
            "party": get_str(a, "party", where),
            "key": _key(a, base, where),
            "valid_from_ms": _time(a, "valid_from", now_ms, where),
        }
        if a.get("valid_until"):
            entry["valid_until_ms"] = _time(a, "valid_until", now_ms, where)
        if a.get("compromised_at"):
            entry["compromised_at_ms"] = _time(a, "compromised_at", now_ms, where)
        authorities.append(entry)
    administrators = [
        {"name": get_str(a, "name", where), "key": _key(a, base, where)}
        for i, a in enumerate(_entries(raw, "administrators", what))
        for where in [f"{what}: administrators[{i}]"]
    ]
    nodes = []
    for i, n in enumerate(_entries(raw, "nodes", what)):
        where = f"{what}: nodes[{i}]"
        node = get_str(n, "node", where)
        nodes.append(
            {
                "node": node,
                "endpoint": get_str(n, "endpoint", where, ""),
                "role": get_str(n, "role", where, "") or node_role(node.split("@")[0]),
            }
        )
    presidency = get_object(raw, "presidency", what, {})
    return {
        "network": get_str(raw, "network", what),
        "version": get_int(raw, "version", what),
        "issued_ms": _time(raw, "issued", now_ms, what),
        "expires_ms": _time(raw, "expires", now_ms, what),
        "threshold": get_int(raw, "threshold", what),
        "administrators": administrators,
        "authorities": authorities,
        "nodes": nodes,
        "presidency": [
            {"half_year": h, "party": get_str(presidency, h, f"{what}: presidency")}
            for h in sorted(presidency)
        ],
    }


def roster_heading(roster: Roster) -> dict[str, Any]:
    """The fields every operator-facing view of a roster starts with."""
    return {
        "network": roster.network,
        "version": roster.version,
        "issued": format_ms(roster.issued_ms),
        "expires": format_ms(roster.expires_ms),
        "threshold": roster.threshold,
    }


def description_from_roster(roster: Roster) -> dict[str, Any]:
    return {
        **roster_heading(roster),
        "administrators": [
            {"name": name, "key": key.hex()} for key, name in roster.administrators.items()
        ],
        "authorities": [
            {
                "party": a.party,
                "key": a.key.hex(),
                "valid_from": format_ms(a.valid_from_ms),
                **({"valid_until": format_ms(a.valid_until_ms)} if a.valid_until_ms else {}),
                **(
                    {"compromised_at": format_ms(a.compromised_at_ms)}
                    if a.compromised_at_ms is not None
                    else {}
                ),
            }
            for a in roster.authorities
        ],
        "nodes": [
            {"node": n.node, "endpoint": n.endpoint, "role": n.role} for n in roster.nodes.values()
        ],
        "presidency": dict(sorted(roster.presidency.items())),
    }
