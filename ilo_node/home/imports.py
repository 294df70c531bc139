"""Trust document files taken into a home: certificates, revocations, prekeys, rosters.

The one place that verifies such files and stores them under ``HOME/trust/``
for a home without a running node (the node has its own path for documents
that arrive by gossip: ``ilo_node.node.documents``). Documents are taken in
the order given, each verified against what the home trusts so far, so a
certificate can be followed by the prekeys it vouches for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ilo_node.home.docfiles import read_input
from ilo_node.home.home import Home
from keys.documents import Certificate, PrekeyAnnouncement, Revocation, Roster, Withdrawal
from keys.trust import TrustState
from protocol.errors import IloError, ProtocolError, UsageError
from protocol.signed import SignedDocument

__all__ = [
    "OWN_KEY_REVOKED",
    "PREKEYS_TO_ANNOUNCE",
    "HomeImport",
    "Imported",
    "TrustDocument",
    "import_document",
    "import_files",
    "own_key_state",
]

#: ``own_key_state`` values: the node must re-key, or may now announce its prekeys.
OWN_KEY_REVOKED = "revoked"
PREKEYS_TO_ANNOUNCE = "prekeys to announce"

TrustDocument = Certificate | Revocation | PrekeyAnnouncement | Roster | Withdrawal


@dataclass(frozen=True)
class Imported:
    file: Path
    document: TrustDocument
    new: bool = True  # False: the home held this very document already, nothing was added


@dataclass
class HomeImport:
    state: TrustState  # the home's trust, with what was imported
    imported: list[Imported] = field(default_factory=list)
    documents: list[bytes] = field(default_factory=list)  # as read, to hand on to a node
    failure: IloError | None = None  # stopped at a file; the files above were imported


def import_document(
    home: Home, state: TrustState, data: bytes, name: str, now_ms: int, *, store: bool = True
) -> TrustDocument:
    """Verify one document against ``state``, add it there and (with ``store``) store it
    in ``home``; ``name`` (the file) is used in errors."""
    if data.lstrip().startswith(b"{"):
        raise UsageError(
            f"{name} is a JSON file, not a signed document",
            "Public key files are certified with 'ilo-node cert issue' (authority), not "
            "imported; import the certificate the authority sends back.",
        )
    try:
        doc_type = SignedDocument.from_bytes(data).doc_type
    except ProtocolError as exc:
        raise UsageError(f"{name} is not a signed document: {exc.message}") from None
    if doc_type == "certificate":
        certificate = state.add_certificate(data, now_ms)
        if store:
            home.save_document(home.certificate_dir, data, ".cert")
        return certificate
    if doc_type == "revocation":
        revocation = state.add_revocation(data)
        if store:
            home.save_document(home.revocation_dir, data, ".rev")
        return revocation
    if doc_type == "prekey":
        announcement = state.add_prekey(data, now_ms)
        if store:
            home.save_document(home.prekey_announcement_dir, data, ".prekey")
        return announcement
    if doc_type == "withdrawal":
        withdrawal = state.add_withdrawal(data, now_ms)
        if store:
            home.save_document(home.withdrawal_dir, data, ".withdrawal")
        return withdrawal
    if doc_type == "roster":
        roster = state.chain.update(data, now_ms)
        if store:
            home.save_roster(data, roster.version)
        return roster
    raise UsageError(f"{name}: cannot import a {doc_type} document here")


def import_files(
    home: Home, files: Sequence[Path], now_ms: int, *, store: bool = True
) -> HomeImport:
    """Import ``files`` in order; stops at the first that is refused. Without ``store``
    they are only checked, against the home's trust, to be handed to its running node,
    which keeps them (one writer of the home's trust documents)."""
    result = HomeImport(home.trust_state())
    try:
        for file in files:
            data = read_input(file, "document")
            held = home.holds_document(data)
            document = import_document(home, result.state, data, str(file), now_ms, store=store)
            result.documents.append(data)
            result.imported.append(Imported(file, document, new=not held))
    except IloError as exc:
        result.failure = exc
    return result


def own_key_state(home: Home, state: TrustState) -> str | None:
    """For a node's home: whether its own signing key is revoked, or certified with no
    prekey announced yet (``OWN_KEY_REVOKED``, ``PREKEYS_TO_ANNOUNCE``, else None)."""
    config = home.config()
    if config.role != "node":
        return None
    own = state.certificates.get(home.public_key(), [])
    revoked = state.revocations.get(home.public_key(), [])
    announced = {a.key for a in state.prekeys.get(str(config.node), [])}
    if revoked:
        return OWN_KEY_REVOKED
    if own and not announced:
        return PREKEYS_TO_ANNOUNCE
    return None
