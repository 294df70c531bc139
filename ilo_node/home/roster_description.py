"""Roster descriptions: the JSON an administrator edits, and the payload it becomes.

``ilo-node roster show --json`` prints a description; editing it and passing it
to ``ilo-node roster propose`` yields the next version. Times are dates or ISO
times (UTC); keys are hex, or ``key_file`` names a public key file written by
``ilo-node keys export-public`` (relative to the description's folder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ilo_node.formats.keytext import hex_public_key
from ilo_node.formats.timefmt import format_ms, parse_time
from ilo_node.home.home import read_public_record
from keys.documents import Roster
from protocol.errors import UsageError

__all__ = ["description_from_roster", "payload_from_description", "roster_heading"]

_ROLE_BY_PARTY = {"COM": "commission", "EBCG": "agency"}


def _key(entry: dict[str, Any], base: Path, where: str) -> bytes:
    if "key_file" in entry:
        return bytes.fromhex(read_public_record(base / str(entry["key_file"]))["key"])
    if "key" not in entry:
        raise UsageError(f"{where}: give 'key' (hex) or 'key_file'")
    key = hex_public_key(entry["key"])
    if key is None:
        raise UsageError(f"{where}: 'key' must be 32 bytes of hex")
    return key


def _time(entry: dict[str, Any], name: str, now: int, where: str) -> int:
    if name not in entry:
        raise UsageError(f"{where}: '{name}' is missing")
    return parse_time(str(entry[name]), now)


def payload_from_description(path: Path, now_ms: int) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a roster description is a JSON object")
    base = path.parent
    try:
        authorities = []
        for i, a in enumerate(raw.get("authorities", [])):
            entry: dict[str, Any] = {
                "party": a["party"],
                "key": _key(a, base, f"authorities[{i}]"),
                "valid_from_ms": _time(a, "valid_from", now_ms, f"authorities[{i}]"),
            }
            if a.get("valid_until"):
                entry["valid_until_ms"] = _time(a, "valid_until", now_ms, f"authorities[{i}]")
            if a.get("compromised_at"):
                entry["compromised_at_ms"] = _time(
                    a, "compromised_at", now_ms, f"authorities[{i}]"
                )
            authorities.append(entry)
        presidency = raw.get("presidency", {})
        return {
            "network": raw["network"],
            "version": int(raw["version"]),
            "issued_ms": _time(raw, "issued", now_ms, "roster"),
            "expires_ms": _time(raw, "expires", now_ms, "roster"),
            "threshold": int(raw["threshold"]),
            "administrators": [
                {"name": a["name"], "key": _key(a, base, f"administrators[{i}]")}
                for i, a in enumerate(raw.get("administrators", []))
            ],
            "authorities": authorities,
            "nodes": [
                {
                    "node": n["node"],
                    "endpoint": n.get("endpoint", ""),
                    "role": n.get("role")
                    or _ROLE_BY_PARTY.get(str(n["node"]).split("@")[0], "member_state"),
                }
                for n in raw.get("nodes", [])
            ],
            "presidency": [
                {"half_year": h, "party": p} for h, p in sorted(dict(presidency).items())
            ],
        }
    except KeyError as exc:
        raise UsageError(f"{path}: field {exc} is missing") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: {exc}") from None


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
