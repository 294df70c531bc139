"""Typed payloads of the signed documents the trust layer works with.

Each is carried in a :class:`protocol.signed.SignedDocument` of its type and
validated field by field with the same schema machinery as message content.
Constructing one of these objects does not mean it is trusted: that is decided
by :mod:`keys.roster` (rosters) and :mod:`keys.trust` (everything else).
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from protocol.crypto import sha256
from protocol.errors import ContentError
from protocol.identifiers import (
    EU_INSTITUTIONS,
    EU_MEMBER_STATES,
    OFFICER_NAME_PATTERN,
    is_node_id,
    split_node_id,
)
from protocol.periods import half_year_of
from protocol.schema import (
    Country,
    Enum,
    EnvelopeId,
    Field,
    HalfYear,
    Int,
    KindSpec,
    List,
    PublicKey,
    Str,
    Struct,
)
from protocol.signed import SignedDocument

__all__ = [
    "INSTITUTION_ROLES",
    "Authority",
    "Certificate",
    "NodeEntry",
    "PrekeyAnnouncement",
    "Revocation",
    "Roster",
    "Withdrawal",
    "half_year_of",
    "node_role",
    "when",
]

_MAX_TIME = (1 << 62) - 1
_TIME = Int(0, _MAX_TIME)
_PARTY = Country(extra=tuple(sorted(EU_INSTITUTIONS)))
_NETWORK = Str(64, pattern=r"[a-z0-9][a-z0-9.-]{0,63}", sample="example.ilo")
_NODE = Str(12, pattern=r"[A-Z]{2,7}@[A-Z]{2}", sample="DE@TR")
INSTITUTION_ROLES: Mapping[str, str] = MappingProxyType(
    {"COM": "commission", "EBCG": "agency", "EUROPOL": "europol", "EUAA": "asylum_agency"}
)
"""The roster role of each EU body's nodes; every other party's nodes are ``member_state``."""
_ROLES = ("member_state", *INSTITUTION_ROLES.values())


def when(time_ms: int) -> str:
    """A UTC time for messages an operator reads (milliseconds mean nothing to people)."""
    moment = _dt.datetime.fromtimestamp(time_ms / 1000, tz=_dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _half_year_number(half_year: str) -> int:
    """'2026-H2' -> a number that grows by one from each half-year to the next."""
    year, half = half_year.split("-H")
    return int(year) * 2 + int(half) - 1


def node_role(party: str) -> str:
    """The role a roster must give the nodes of ``party``."""
    return INSTITUTION_ROLES.get(party, "member_state")


def _check_nodes(content: Mapping[str, Any], path: str) -> None:
    for i, entry in enumerate(content.get("nodes", [])):
        if not is_node_id(entry["node"]):
            raise ContentError(f"{path}.nodes[{i}].node: {entry['node']!r} is not a node id")


def _check_roster(content: Mapping[str, Any], path: str) -> None:
    admins = content["administrators"]
    keys = [a["key"] for a in admins]
    if len(set(keys)) != len(keys):
        raise ContentError(f"{path}.administrators: a key is listed twice")
    if content["threshold"] > len(admins):
        raise ContentError(
            f"{path}.threshold: {content['threshold']} is more than the "
            f"{len(admins)} administrators"
        )
    if content["expires_ms"] <= content["issued_ms"]:
        raise ContentError(f"{path}.expires_ms: must be after issued_ms")
    _check_nodes(content, path)
    parties = {a["party"] for a in content["authorities"]}
    seen: set[str] = set()
    for i, entry in enumerate(content["nodes"]):
        node = entry["node"]
        if node in seen:
            raise ContentError(f"{path}.nodes[{i}].node: {node} is listed twice")
        seen.add(node)
        parsed = split_node_id(node)
        assert parsed is not None
        party = parsed[0]
        if party not in parties:
            raise ContentError(f"{path}.nodes[{i}]: no authority is listed for party {party}")
        expected = node_role(party)
        if entry["role"] != expected:
            raise ContentError(f"{path}.nodes[{i}].role: a {party} node has role {expected}")
    for i, entry in enumerate(content["presidency"]):
        if entry["party"] not in EU_MEMBER_STATES:
            raise ContentError(
                f"{path}.presidency[{i}].party: {entry['party']} is not an EU Member State, "
                "so it cannot hold the Council Presidency"
            )
    half_years = [p["half_year"] for p in content["presidency"]]
    if len(set(half_years)) != len(half_years):
        twice = sorted({h for h in half_years if half_years.count(h) > 1})
        raise ContentError(
            f"{path}.presidency: {', '.join(twice)} listed twice; expected one Member State "
            "per half-year"
        )
    # A gap would leave a half-year with nobody to report to: the schedule runs without
    # one from its first half-year to its last.
    ordered = sorted(half_years, key=_half_year_number)
    for earlier, later in itertools.pairwise(ordered):
        if _half_year_number(later) != _half_year_number(earlier) + 1:
            raise ContentError(
                f"{path}.presidency: no Member State holds the Presidency between {earlier} "
                f"and {later}; expected consecutive half-years without a gap"
            )
    for i, entry in enumerate(content["authorities"]):
        until = entry.get("valid_until_ms")
        if until is not None and until <= entry["valid_from_ms"]:
            raise ContentError(f"{path}.authorities[{i}].valid_until_ms: must be after valid_from")
        compromised = entry.get("compromised_at_ms")
        if compromised is not None and until is not None and compromised > until:
            raise ContentError(
                f"{path}.authorities[{i}].compromised_at_ms: after valid_until_ms; a key that "
                "was stolen must end no later than the theft"
            )


ROSTER_SCHEMA = KindSpec(
    "roster",
    (
        Field("network", _NETWORK),
        Field("version", Int(1, (1 << 31) - 1)),
        Field("issued_ms", _TIME),
        Field("expires_ms", _TIME),
        Field("threshold", Int(1, 32)),
        Field(
            "administrators",
            List(Struct((Field("name", Str(100)), Field("key", PublicKey()))), 32, min_items=1),
        ),
        Field(
            "authorities",
            List(
                Struct(
                    (
                        Field("party", _PARTY),
                        Field("key", PublicKey()),
                        Field("valid_from_ms", _TIME),
                        Field("valid_until_ms", _TIME, required=False),
                        # Set when the key was stolen: what it certified is honoured only
                        # by nodes that held it before this time (keys/trust.py).
                        Field("compromised_at_ms", _TIME, required=False),
                    )
                ),
                200,
                min_items=1,
            ),
        ),
        Field(
            "nodes",
            List(
                Struct(
                    (
                        Field("node", _NODE),
                        Field("endpoint", Str(200)),
                        Field("role", Enum(_ROLES)),
                    )
                ),
                400,
            ),
        ),
        Field(
            "presidency",
            List(Struct((Field("half_year", HalfYear()), Field("party", Country()))), 64),
        ),
    ),
    "The network's membership, signed by a threshold of its administrators.",
    check=_check_roster,
)


def _check_window(content: Mapping[str, Any], path: str) -> None:
    if content["valid_until_ms"] <= content["valid_from_ms"]:
        raise ContentError(f"{path}.valid_until_ms: must be after valid_from_ms")
    if "node" in content and not is_node_id(content["node"]):
        raise ContentError(f"{path}.node: {content['node']!r} is not a node id")


def _check_certificate(content: Mapping[str, Any], path: str) -> None:
    _check_window(content, path)
    if content["role"] == "officer" and "officer" not in content:
        raise ContentError(f"{path}.officer: an officer certificate names the officer")
    if content["role"] == "node" and "officer" in content:
        raise ContentError(f"{path}.officer: a node certificate names no officer")


def _check_prekey(content: Mapping[str, Any], path: str) -> None:
    _check_window(content, path)
    if content["issued_ms"] >= content["valid_until_ms"]:
        raise ContentError(f"{path}.issued_ms: announced after its window ended")


CERTIFICATE_SCHEMA = KindSpec(
    "certificate",
    (
        Field("network", _NETWORK),
        Field("node", _NODE),
        Field("role", Enum(("node", "officer"))),
        Field(
            "officer", Str(100, pattern=OFFICER_NAME_PATTERN, sample="k.beispiel"), required=False
        ),
        Field("key", PublicKey()),
        Field("valid_from_ms", _TIME),
        Field("valid_until_ms", _TIME),
        Field("issued_ms", _TIME),
    ),
    "An authority's statement that a signing key speaks for one of its nodes or officers.",
    check=_check_certificate,
)

REVOCATION_SCHEMA = KindSpec(
    "revocation",
    (
        Field("network", _NETWORK),
        Field("node", _NODE),
        Field("key", PublicKey()),
        Field("compromised_at_ms", _TIME),
        Field("issued_ms", _TIME),
        Field("reason", Str(300)),
    ),
    "An authority's statement that a key is compromised from a given time on.",
    check=lambda c, p: _check_nodes({"nodes": [{"node": c["node"]}]}, p),
)

PREKEY_SCHEMA = KindSpec(
    "prekey",
    (
        Field("network", _NETWORK),
        Field("node", _NODE),
        Field("epoch", Int(0, (1 << 31) - 1)),
        Field("key", PublicKey()),
        Field("valid_from_ms", _TIME),
        Field("valid_until_ms", _TIME),
        Field("issued_ms", _TIME),
    ),
    "A node's X25519 encryption prekey for one epoch, signed by the node's key.",
    check=_check_prekey,
)


def _check_withdrawal(content: Mapping[str, Any], path: str) -> None:
    parsed = split_node_id(content["target_node"])
    if parsed is None or parsed[0] != content["party"]:
        raise ContentError(
            f"{path}.target_node: an authority withdraws only its own nodes' envelopes"
        )


WITHDRAWAL_SCHEMA = KindSpec(
    "withdrawal",
    (
        Field("network", _NETWORK),
        Field("party", _PARTY),
        Field("target", EnvelopeId()),
        Field("target_node", _NODE),
        Field("issued_ms", _TIME),
        Field("reason", Str(300)),
    ),
    "A Member State authority withdraws an envelope written at one of its nodes (by an "
    "officer or by the node): the envelope stays in every log, shown as withdrawn. The "
    "reason travels in clear, as every document does.",
    check=_check_withdrawal,
)


def _payload(document: SignedDocument, schema: KindSpec) -> dict[str, Any]:
    if document.doc_type != schema.name:
        raise ContentError(f"expected a {schema.name} document, got {document.doc_type}")
    return schema.validate(document.payload())


@dataclass(frozen=True, slots=True)
class Authority:
    party: str
    key: bytes
    valid_from_ms: int
    valid_until_ms: int | None
    compromised_at_ms: int | None = None

    def valid_at(self, time_ms: int) -> bool:
        return self.valid_from_ms <= time_ms and (
            self.valid_until_ms is None or time_ms < self.valid_until_ms
        )


@dataclass(frozen=True, slots=True)
class NodeEntry:
    node: str
    endpoint: str
    role: str


@dataclass(frozen=True, slots=True)
class Roster:
    """One version of the network's membership. Immutable; built only from a document."""

    document: SignedDocument
    network: str
    version: int
    issued_ms: int
    expires_ms: int
    threshold: int
    administrators: Mapping[bytes, str]  # key -> name
    authorities: tuple[Authority, ...]
    nodes: Mapping[str, NodeEntry]
    presidency: Mapping[str, str]  # half-year -> party

    @classmethod
    def from_document(cls, document: SignedDocument) -> Roster:
        p = _payload(document, ROSTER_SCHEMA)
        return cls(
            document=document,
            network=p["network"],
            version=p["version"],
            issued_ms=p["issued_ms"],
            expires_ms=p["expires_ms"],
            threshold=p["threshold"],
            administrators={a["key"]: a["name"] for a in p["administrators"]},
            authorities=tuple(
                Authority(
                    a["party"],
                    a["key"],
                    a["valid_from_ms"],
                    a.get("valid_until_ms"),
                    a.get("compromised_at_ms"),
                )
                for a in p["authorities"]
            ),
            nodes={n["node"]: NodeEntry(n["node"], n["endpoint"], n["role"]) for n in p["nodes"]},
            presidency={e["half_year"]: e["party"] for e in p["presidency"]},
        )

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the whole signed document, as administrators read it out."""
        digest = sha256(self.document.to_bytes()).hex()
        return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))

    def presidency_at(self, time_ms: int) -> str | None:
        return self.presidency.get(half_year_of(time_ms))

    def local_network(self, host: str) -> list[str]:
        """Peers of a host country's local network: its nodes and every EU body's nodes."""
        out = []
        for node in self.nodes:
            parsed = split_node_id(node)
            assert parsed is not None
            if parsed[1] == host or parsed[0] in EU_INSTITUTIONS:
                out.append(node)
        return sorted(out)


@dataclass(frozen=True, slots=True)
class Certificate:
    document: SignedDocument
    network: str
    node: str
    role: str
    officer: str | None
    key: bytes
    valid_from_ms: int
    valid_until_ms: int
    issued_ms: int

    @classmethod
    def from_document(cls, document: SignedDocument) -> Certificate:
        p = _payload(document, CERTIFICATE_SCHEMA)
        return cls(
            document,
            p["network"],
            p["node"],
            p["role"],
            p.get("officer"),
            p["key"],
            p["valid_from_ms"],
            p["valid_until_ms"],
            p["issued_ms"],
        )

    @property
    def party(self) -> str:
        return self.node.split("@", 1)[0]

    def valid_at(self, time_ms: int) -> bool:
        return self.valid_from_ms <= time_ms < self.valid_until_ms


@dataclass(frozen=True, slots=True)
class Revocation:
    document: SignedDocument
    network: str
    node: str
    key: bytes
    compromised_at_ms: int
    issued_ms: int
    reason: str

    @classmethod
    def from_document(cls, document: SignedDocument) -> Revocation:
        p = _payload(document, REVOCATION_SCHEMA)
        return cls(
            document,
            p["network"],
            p["node"],
            p["key"],
            p["compromised_at_ms"],
            p["issued_ms"],
            p["reason"],
        )

    @property
    def party(self) -> str:
        return self.node.split("@", 1)[0]


@dataclass(frozen=True, slots=True)
class Withdrawal:
    document: SignedDocument
    network: str
    party: str
    target: bytes
    target_node: str
    issued_ms: int
    reason: str

    @classmethod
    def from_document(cls, document: SignedDocument) -> Withdrawal:
        p = _payload(document, WITHDRAWAL_SCHEMA)
        return cls(
            document,
            p["network"],
            p["party"],
            p["target"],
            p["target_node"],
            p["issued_ms"],
            p["reason"],
        )


@dataclass(frozen=True, slots=True)
class PrekeyAnnouncement:
    document: SignedDocument
    network: str
    node: str
    epoch: int
    key: bytes
    valid_from_ms: int
    valid_until_ms: int
    issued_ms: int

    @classmethod
    def from_document(cls, document: SignedDocument) -> PrekeyAnnouncement:
        p = _payload(document, PREKEY_SCHEMA)
        return cls(
            document,
            p["network"],
            p["node"],
            p["epoch"],
            p["key"],
            p["valid_from_ms"],
            p["valid_until_ms"],
            p["issued_ms"],
        )

    def valid_at(self, time_ms: int) -> bool:
        return self.valid_from_ms <= time_ms < self.valid_until_ms
