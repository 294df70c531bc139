"""What a Member State authority's home issues: certificates and revocations.

Each issued document is written where the operator asked and kept under
``HOME/issued/``, which is how the authority later knows its officers
(``certified_officers``) and which keys to revoke for one (``revoke_officer``).
The rules of what may be certified or revoked are ``keys.issuing``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ilo_node.formats.timefmt import format_ms, parse_time
from ilo_node.home.docfiles import read_input
from ilo_node.home.home import Home, HomeConfig, read_public_record, write_document
from ilo_node.home.keyfiles import PassphraseFor
from keys.documents import Certificate, Revocation, Withdrawal
from keys.issuing import (
    certificate_payload,
    certificate_subject,
    check_revocable,
    revocation_payload,
    sign_certificate,
    sign_revocation,
    sign_withdrawal,
)
from keys.roster import count_signers
from protocol.crypto import ed25519_public
from protocol.errors import IloError, ProtocolError, UsageError
from protocol.signed import SignedDocument

__all__ = [
    "CertificateOrder",
    "Countersigned",
    "IssuedRevocation",
    "OfficerRevocations",
    "RevocationOrder",
    "certified_officers",
    "countersign_revocation",
    "issue_certificate",
    "revoke_key",
    "revoke_officer",
]


@dataclass(frozen=True)
class IssuedRevocation:
    revocation: Revocation
    path: Path  # where it was written for the nodes


@dataclass
class OfficerRevocations:
    revoked: list[IssuedRevocation] = field(default_factory=list)
    failure: IloError | None = None  # stopped part-way; the revocations above were issued


def _issued_dir(home: Home, kind: str) -> Path:
    return home.issued_dir / kind


def _authority_seed(home: Home, config: HomeConfig, passphrase: PassphraseFor) -> bytes:
    return home.signing_key(passphrase(f"the {config.label} key")).reveal()


@dataclass(frozen=True)
class CertificateOrder:
    """What an authority is asked to certify: the key in ``public_file`` as a ``role``
    ("node" or "officer") key, from ``valid_from`` (as an operator types a time)."""

    public_file: Path
    role: str
    valid_from: str
    valid_days: int
    output: Path


@dataclass(frozen=True)
class RevocationOrder:
    """How a revocation is to read: compromised from ``compromised_at`` (as typed), why,
    and where to write it for the nodes."""

    compromised_at: str
    reason: str
    output: Path


def issue_certificate(
    home: Home, order: CertificateOrder, passphrase: PassphraseFor, now_ms: int
) -> Certificate:
    """Certify a key of one of this authority's nodes or officers; written to the order's
    output and kept under ``HOME/issued/``."""
    config = home.require_role("authority")
    where = str(order.public_file)
    record = read_public_record(order.public_file)
    subject = certificate_subject(config.network, config.party, record, order.role, where)
    start = parse_time(order.valid_from, now_ms)
    payload = certificate_payload(config.network, subject, start, order.valid_days, now_ms)
    seed = _authority_seed(home, config, passphrase)
    data, certificate = sign_certificate(payload, seed, where)
    home.save_document(_issued_dir(home, "certificates"), data, ".cert")
    write_document(order.output, data)
    return certificate


def _revoke(
    home: Home,
    config: HomeConfig,
    seed: Callable[[], bytes],
    target: tuple[bytes, str],
    order: RevocationOrder,
    now_ms: int,
) -> IssuedRevocation:
    key, node = target
    if config.role == "authority":  # administrators revoke any key, with a threshold
        check_revocable(config.party, node)
    compromised = parse_time(order.compromised_at, now_ms)
    payload = revocation_payload(config.network, node, key, compromised, now_ms, order.reason)
    data, revocation = sign_revocation(payload, seed())
    home.save_document(_issued_dir(home, "revocations"), data, ".rev")
    write_document(order.output, data)
    return IssuedRevocation(revocation, order.output)


def withdraw_envelope(
    home: Home,
    target: bytes,
    target_node: str,
    reason: str,
    output: Path,
    passphrase: PassphraseFor,
    now_ms: int,
) -> Withdrawal:
    """Withdraw an envelope written at one of this authority's nodes; the signed document
    is written to ``output`` (for any node to import) and kept under ``HOME/issued/``."""
    config = home.require_role("authority")
    data, withdrawal = sign_withdrawal(
        config.network,
        config.party,
        target,
        target_node,
        now_ms,
        reason,
        _authority_seed(home, config, passphrase),
    )
    home.save_document(_issued_dir(home, "withdrawals"), data, ".withdrawal")
    write_document(output, data)
    return withdrawal


def _seed_once(home: Home, config: HomeConfig, passphrase: PassphraseFor) -> Callable[[], bytes]:
    """The authority's seed, unlocked at the first use (after the checks) and only once."""
    cached: list[bytes] = []

    def seed() -> bytes:
        if not cached:
            cached.append(_authority_seed(home, config, passphrase))
        return cached[0]

    return seed


def revoke_key(
    home: Home,
    order: RevocationOrder,
    passphrase: PassphraseFor,
    now_ms: int,
    *,
    key: bytes | None,
    public_file: Path | None,
    node: str | None,
) -> IssuedRevocation:
    """Revoke a key, given as bytes or by its public key file; ``node`` defaults to the
    one the file names."""
    if public_file is not None:
        record = read_public_record(public_file)
        key = bytes.fromhex(record["key"])
        node = node or record.get("node")
    elif key is None:
        raise UsageError("give --key or --public-file")
    if not node:
        raise UsageError("give --node (the node the key belongs to)")
    config = home.require_role("authority", "admin")
    seed = _seed_once(home, config, passphrase)
    return _revoke(home, config, seed, (key, node), order, now_ms)


@dataclass(frozen=True)
class Countersigned:
    revocation: Revocation
    signatures: int  # valid signatures the document now carries
    path: Path
    already: bool = False  # this administrator had signed it before: nothing added
    #: (administrators of the home's current roster who signed, its threshold); None
    #: when the home has no roster to count them against.
    threshold: tuple[int, int] | None = None


def countersign_revocation(
    home: Home, file: Path, output: Path | None, passphrase: PassphraseFor
) -> Countersigned:
    """Add this administrator's signature to a revocation another administrator made:
    one a threshold of the roster's administrators signed counts for any key."""
    config = home.require_role("admin")
    try:
        document = SignedDocument.from_bytes(read_input(file, "revocation"), "revocation")
        revocation = Revocation.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"{file} is not a revocation: {exc.message}") from None
    if revocation.network != config.network:
        raise UsageError(f"{file} is for network {revocation.network!r}, not {config.network!r}")
    seed = _authority_seed(home, config, passphrase)
    signed = document.merged_with([]).signed_by(seed)
    already = ed25519_public(seed) in document.signed_keys()
    target = output or file
    write_document(target, signed.to_bytes())
    threshold = None
    if home.has_roster():
        roster = home.chain().current
        threshold = (count_signers(signed, roster.administrators), roster.threshold)
    return Countersigned(revocation, len(signed.valid_signatures()), target, already, threshold)


def _issued(home: Home) -> tuple[list[Certificate], list[Revocation]]:
    certificates, revocations = _issued_dir(home, "certificates"), _issued_dir(home, "revocations")
    certs = (
        [
            Certificate.from_document(SignedDocument.from_bytes(p.read_bytes()))
            for p in sorted(certificates.glob("*.cert"))
        ]
        if certificates.exists()
        else []
    )
    revs = (
        [
            Revocation.from_document(SignedDocument.from_bytes(p.read_bytes()))
            for p in sorted(revocations.glob("*.rev"))
        ]
        if revocations.exists()
        else []
    )
    return certs, revs


def revoke_officer(
    home: Home, name: str, order: RevocationOrder, passphrase: PassphraseFor, now_ms: int
) -> OfficerRevocations:
    """Revoke every key this authority certified for officer ``name``; with several
    keys, each revocation goes to ``output`` with the key's first 8 hex digits added."""
    config = home.require_role("authority")
    certs, _ = _issued(home)
    mine = [c for c in certs if c.role == "officer" and c.officer == name]
    if not mine:
        raise UsageError(
            f"this authority has certified no officer named {name!r}",
            "See 'ilo-node officer list'.",
        )
    distinct = list({c.key: c for c in mine}.values())
    seed = _seed_once(home, config, passphrase)
    result = OfficerRevocations()
    try:
        for c in distinct:
            out = order.output
            if len(distinct) > 1:
                out = out.with_name(f"{out.stem}-{c.key.hex()[:8]}{out.suffix}")
            one = RevocationOrder(order.compromised_at, order.reason, out)
            result.revoked.append(_revoke(home, config, seed, (c.key, c.node), one, now_ms))
    except IloError as exc:
        result.failure = exc
    return result


def certified_officers(home: Home) -> list[dict[str, Any]]:
    """The officers' certificates this authority issued, each marked revoked or not."""
    home.require_role("authority")
    certs, revs = _issued(home)
    revoked = {r.key: r for r in revs}
    return [
        {
            "officer": c.officer,
            "node": c.node,
            "key": c.key.hex(),
            "valid_from": format_ms(c.valid_from_ms),
            "valid_until": format_ms(c.valid_until_ms),
            "revoked": c.key in revoked,
            **(
                {"compromised_at": format_ms(revoked[c.key].compromised_at_ms)}
                if c.key in revoked
                else {}
            ),
        }
        for c in certs
        if c.role == "officer"
    ]
