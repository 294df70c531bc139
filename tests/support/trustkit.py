"""Builders for rosters, certificates and revocations in tests (fixed, derived keys)."""

from __future__ import annotations

from typing import Any

from keys.documents import node_role
from protocol.crypto import ed25519_public
from protocol.signed import SignedDocument
from tests.support.helpers import derive

NETWORK = "test.ilo"
DAY = 86_400_000
T0 = 1_790_000_000_000  # 2026-09-21
PRESIDENCY = [
    {"half_year": "2026-H2", "party": "IE"},
    {"half_year": "2027-H1", "party": "LT"},
    {"half_year": "2027-H2", "party": "GR"},
    {"half_year": "2028-H1", "party": "IT"},
    {"half_year": "2028-H2", "party": "LV"},
]
NODES = [
    "COM@EU",
    "DE@TR",
    "EUAA@EU",
    "EUAA@MA",
    "EUROPOL@EU",
    "EUROPOL@TR",
    "FR@TR",
    "IE@TR",
    "IT@TR",
    "NL@MA",
]


def seed(name: str) -> bytes:
    return derive("trustkit " + name)


def pub(name: str) -> bytes:
    return ed25519_public(seed(name))


def roster_payload(
    version: int = 1,
    admins: tuple[str, ...] = ("alice", "bob", "carol"),
    threshold: int = 2,
    expires_ms: int = T0 + 365 * DAY,
    issued_ms: int = T0,
    **over: Any,
) -> dict[str, Any]:
    parties = sorted({n.split("@")[0] for n in NODES})
    payload: dict[str, Any] = {
        "network": NETWORK,
        "version": version,
        "issued_ms": issued_ms,
        "expires_ms": expires_ms,
        "threshold": threshold,
        "administrators": [{"name": a, "key": pub("admin " + a)} for a in admins],
        "authorities": [
            {"party": p, "key": pub("authority " + p), "valid_from_ms": T0 - 365 * DAY}
            for p in parties
        ],
        "nodes": [
            {
                "node": n,
                "endpoint": f"http://127.0.0.1:{7400 + i}",
                "role": node_role(n.split("@")[0]),
            }
            for i, n in enumerate(NODES)
        ],
        "presidency": PRESIDENCY,
    }
    payload.update(over)
    return payload


def roster(signers: tuple[str, ...] = ("alice", "bob"), **kw: Any) -> bytes:
    document = SignedDocument.create("roster", roster_payload(**kw))
    for name in signers:
        document = document.signed_by(seed("admin " + name))
    return document.to_bytes()


def certificate(
    node: str = "DE@TR",
    key_name: str = "node DE@TR",
    valid_from_ms: int = T0 - DAY,
    valid_until_ms: int = T0 + 90 * DAY,
    issued_ms: int = T0 - DAY,
    signer: str | None = None,
    role: str = "node",
    officer: str | None = None,
) -> bytes:
    payload: dict[str, Any] = {
        "network": NETWORK,
        "node": node,
        "role": role,
        "key": pub(key_name),
        "valid_from_ms": valid_from_ms,
        "valid_until_ms": valid_until_ms,
        "issued_ms": issued_ms,
    }
    if officer:
        payload["officer"] = officer
    document = SignedDocument.create("certificate", payload)
    party = node.split("@", maxsplit=1)[0]
    return document.signed_by(seed(signer or "authority " + party)).to_bytes()


def revocation(
    node: str = "DE@TR",
    key_name: str = "node DE@TR",
    compromised_at_ms: int = T0 + 10 * DAY,
    issued_ms: int = T0 + 12 * DAY,
    signer: str | None = None,
) -> bytes:
    document = SignedDocument.create(
        "revocation",
        {
            "network": NETWORK,
            "node": node,
            "key": pub(key_name),
            "compromised_at_ms": compromised_at_ms,
            "issued_ms": issued_ms,
            "reason": "laptop stolen",
        },
    )
    party = node.split("@", maxsplit=1)[0]
    return document.signed_by(seed(signer or "authority " + party)).to_bytes()
