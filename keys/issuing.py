"""What an authority may certify and revoke, and the documents it signs for it.

The rules, with no I/O: an authority speaks only for its own party's nodes and
officers (the roster makes every other node's authority the only one that
counts, so a certificate for another party's node could never verify anyway,
and refusing it here tells the operator why); a certificate names the role its
public key file was exported for; a document is built and re-read through its
schema before anyone can be given it, so what is handed out is what a node
will accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keys.documents import Certificate, Revocation, Withdrawal
from protocol.errors import ProtocolError, UsageError
from protocol.identifiers import split_node_id
from protocol.signed import SignedDocument

__all__ = [
    "CERTIFIED_ROLES",
    "DAY_MS",
    "Subject",
    "certificate_payload",
    "certificate_subject",
    "check_revocable",
    "revocation_payload",
    "sign_certificate",
    "sign_revocation",
    "sign_withdrawal",
]

DAY_MS = 86_400_000
#: The roles of the keys an authority certifies (administrators and authorities are
#: listed in the roster instead).
CERTIFIED_ROLES = ("node", "officer")


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose key a certificate is for, as taken from that key's public record."""

    node: str
    role: str
    key: bytes
    officer: str | None


def _own_party(party: str | None, node: str) -> bool:
    parsed = split_node_id(node)
    return parsed is not None and parsed[0] == party


def certificate_subject(
    network: str, party: str | None, record: Mapping[str, Any], role: str, source: str
) -> Subject:
    """The subject of a certificate by the ``party`` authority of ``network`` for the
    public key ``record`` (read from ``source``, named in errors)."""
    if role not in CERTIFIED_ROLES:
        raise UsageError(f"an authority certifies nodes and officers, not {role!r}")
    if record.get("network") != network:
        raise UsageError(f"{source} is for network {record.get('network')!r}")
    if record.get("role") != role:
        raise UsageError(f"{source} is the key of a {record.get('role')}, not of a {role}")
    node = str(record.get("node"))
    if not _own_party(party, node):
        raise UsageError(
            f"{source} is for {node}; the {party} authority certifies only "
            f"{party} nodes and officers"
        )
    officer = record.get("name") if role == "officer" else None
    return Subject(node, role, bytes.fromhex(str(record["key"])), officer)


def certificate_payload(
    network: str, subject: Subject, valid_from_ms: int, valid_days: int, issued_ms: int
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "network": network,
        "node": subject.node,
        "role": subject.role,
        "key": subject.key,
        "valid_from_ms": valid_from_ms,
        "valid_until_ms": valid_from_ms + valid_days * DAY_MS,
        "issued_ms": issued_ms,
    }
    if subject.role == "officer":
        # Even when the record names no officer: the schema then refuses the
        # certificate with its own message, as a node would.
        payload["officer"] = subject.officer
    return payload


def sign_certificate(
    payload: Mapping[str, Any], signing_seed: bytes, source: str
) -> tuple[bytes, Certificate]:
    """The signed certificate's bytes and what a node will read from them."""
    try:
        document = SignedDocument.create("certificate", payload).signed_by(signing_seed)
        certificate = Certificate.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"cannot certify {source}: {exc.message}") from None
    return document.to_bytes(), certificate


def check_revocable(party: str | None, node: str) -> None:
    """An authority revokes only keys of its own party's nodes and officers."""
    if not _own_party(party, node):
        raise UsageError(f"the {party} authority can only revoke {party} keys")


def revocation_payload(
    network: str, node: str, key: bytes, compromised_at_ms: int, issued_ms: int, reason: str
) -> dict[str, Any]:
    return {
        "network": network,
        "node": node,
        "key": key,
        "compromised_at_ms": compromised_at_ms,
        "issued_ms": issued_ms,
        "reason": reason,
    }


def sign_revocation(payload: Mapping[str, Any], signing_seed: bytes) -> tuple[bytes, Revocation]:
    """The signed revocation's bytes and what a node will read from them."""
    try:
        document = SignedDocument.create("revocation", payload).signed_by(signing_seed)
        revocation = Revocation.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"cannot build the revocation: {exc.message}") from None
    return document.to_bytes(), revocation


def sign_withdrawal(
    network: str,
    party: str | None,
    target: bytes,
    target_node: str,
    issued_ms: int,
    reason: str,
    signing_seed: bytes,
) -> tuple[bytes, Withdrawal]:
    """An authority's signed withdrawal of an envelope one of its nodes' officers (or the
    node) wrote; only for its own party's nodes."""
    if not _own_party(party, target_node):
        raise UsageError(f"the {party} authority can only withdraw envelopes of {party} nodes")
    payload = {
        "network": network,
        "party": party,
        "target": target,
        "target_node": target_node,
        "issued_ms": issued_ms,
        "reason": reason,
    }
    try:
        document = SignedDocument.create("withdrawal", payload).signed_by(signing_seed)
        withdrawal = Withdrawal.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"cannot build the withdrawal: {exc.message}") from None
    return document.to_bytes(), withdrawal
