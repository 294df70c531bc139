"""Shared test helpers: a small in-memory set of node identities."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from protocol.crypto import ed25519_public, x25519_public
from protocol.envelope import Envelope, seal
from protocol.examples import example

NETWORK = "test.ilo"
NOW_MS = 1_790_000_000_000


def derive(label: str) -> bytes:
    return hashlib.sha256(b"ilo-node tests: " + label.encode()).digest()


@dataclass
class Node:
    node_id: str
    seed: bytes = field(repr=False, default=b"")
    prekey_secret: bytes = field(repr=False, default=b"")

    def __post_init__(self) -> None:
        self.seed = self.seed or derive("seed " + self.node_id)
        self.prekey_secret = self.prekey_secret or derive("prekey " + self.node_id)

    @property
    def public(self) -> bytes:
        return ed25519_public(self.seed)

    @property
    def prekey(self) -> bytes:
        return x25519_public(self.prekey_secret)

    @property
    def secrets(self) -> dict[bytes, bytes]:
        return {self.prekey: self.prekey_secret}


NODES = {n: Node(n) for n in ("COM@EU", "DE@TR", "FR@TR", "IT@TR", "NL@MA")}


def make(
    author: str = "DE@TR",
    kind: str = "incident_alert",
    recipients: tuple[str, ...] = ("DE@TR", "FR@TR", "COM@EU"),
    seq: int = 1,
    prev: bytes | None = None,
    **over: Any,
) -> Envelope:
    args: dict[str, Any] = {
        "signing_seed": NODES[author].seed if author in NODES else derive("seed " + author),
        "network": NETWORK,
        "kind": kind,
        "author_node": author,
        "seq": seq,
        "prev": prev,
        "created_ms": NOW_MS + seq,
        "distribution": "local",
        "recipient_keys": {r: [NODES[r].prekey] for r in recipients},
        "handling": "H1",
        "content": example(kind),
    }
    # Retractions and key shares always name an envelope: the predecessor, or a
    # stand-in id, unless the test names one.
    relation = {"retraction": "retracts", "key_share": "shares"}.get(kind)
    if relation is not None:
        args["refers_to"] = (relation, prev or b"\x5e" * 32)
    args.update(over)
    return seal(**args)
