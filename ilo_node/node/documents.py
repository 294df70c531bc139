"""The trust documents a node holds and hands on: rosters, certificates, revocations,
prekeys, and authorities' withdrawals of envelopes.

Each document is verified by the trust layer (``keys``) before it is kept, and
kept as the exact bytes received under ``HOME/trust/``. Gossip compares two
nodes' sets by a summary hash first and by 16-byte digests only when the
summaries differ (docs/api.md, 6.3).
"""

from __future__ import annotations

from collections.abc import Iterable

from protocol.crypto import sha256
from protocol.errors import IloError, ProtocolError
from protocol.signed import SignedDocument

from .state import NodeState

__all__ = ["TrustDocuments", "document_rank", "documents_summary"]

#: Order in which documents depend on each other: a certificate vouches for the
#: prekeys and revocations of its key, and needs the roster that names its authority.
_ORDER = {"roster": 0, "certificate": 1, "revocation": 2, "prekey": 3, "withdrawal": 4}


def documents_summary(digests: Iterable[bytes]) -> bytes:
    """One hash over a sorted list of document digests: equal sets, equal summaries."""
    return sha256(b"".join(sorted(digests)))


def document_rank(data: bytes) -> tuple[int, int]:
    try:
        doc = SignedDocument.from_bytes(data)
        version = doc.payload().get("version", 0) if doc.doc_type == "roster" else 0
    except ProtocolError:
        return (9, 0)
    return (_ORDER.get(doc.doc_type, 9), version if type(version) is int else 0)


class TrustDocuments:
    def __init__(self, state: NodeState) -> None:
        self.s = state

    def by_digest(self) -> dict[bytes, bytes]:
        """Every trust document this node holds and gossips, by 16-byte digest."""
        trust = self.s.trust
        docs: dict[bytes, bytes] = {}
        for roster in trust.chain.versions:
            data = roster.document.to_bytes()
            docs[sha256(data)[:16]] = data
        for group in (trust.certificates, trust.revocations, trust.withdrawals):
            for items in group.values():
                for item in items:
                    data = item.document.to_bytes()
                    docs[sha256(data)[:16]] = data
        now = self.s.clock()
        for announcements in trust.prekeys.values():
            for announcement in announcements:
                if announcement.valid_until_ms <= now:
                    continue  # expired prekeys are of no use to anyone: not gossiped
                data = announcement.document.to_bytes()
                docs[sha256(data)[:16]] = data
        return docs

    def summary(self) -> bytes:
        return documents_summary(self.by_digest())

    def add(self, data: bytes) -> str:
        """Verify and keep one trust document; returns what happened."""
        try:
            document = SignedDocument.from_bytes(data)
        except ProtocolError as exc:
            return f"refused: {exc.message}"
        trust, home = self.s.trust, self.s.home
        try:
            if document.doc_type == "roster":
                return self.add_rosters([data])[0]
            if document.doc_type == "certificate":
                trust.add_certificate(data, self.s.clock())
                home.save_document(home.certificate_dir, data, ".cert")
            elif document.doc_type == "revocation":
                trust.add_revocation(data)
                home.save_document(home.revocation_dir, data, ".rev")
            elif document.doc_type == "prekey":
                trust.add_prekey(data, self.s.clock())
                home.save_document(home.prekey_announcement_dir, data, ".prekey")
            elif document.doc_type == "withdrawal":
                trust.add_withdrawal(data, self.s.clock())
                home.save_document(home.withdrawal_dir, data, ".withdrawal")
            else:
                return f"refused: not a gossiped document type ({document.doc_type})"
        except IloError as exc:
            return f"refused: {exc.message}"
        return "added"

    def add_rosters(self, documents: list[bytes]) -> list[str]:
        """Roster versions, in version order, applied together: versions that expired
        while this node was away are applied on the way to a current one, and an
        expired version on its own is refused (keys/roster.py)."""
        chain, home = self.s.trust.chain, self.s.home
        held = {r.document.to_bytes() for r in chain.versions}
        outcomes: dict[bytes, str] = {}
        newer: list[bytes] = []
        for data in documents:
            if data in held:
                outcomes[data] = "known"
                continue
            try:
                version = document_rank(data)[1]
                if version <= chain.current.version:
                    chain.check_next(data, None)  # raises: a rollback or a fork
                newer.append(data)
            except IloError as exc:
                outcomes[data] = f"refused: {exc.message}"
        try:
            for roster in chain.update_all(newer, self.s.clock()):
                home.save_roster(roster.document.to_bytes(), roster.version)
                outcomes[roster.document.to_bytes()] = "added"
        except IloError as exc:
            for data in newer:
                outcomes[data] = f"refused: {exc.message}"
        return [outcomes.get(d, "refused: not the next version") for d in documents]

    def add_all(self, documents: Iterable[bytes]) -> list[str]:
        """Add several documents in the order they depend on each other; results are in
        processing order."""
        ordered = sorted(documents, key=document_rank)
        rosters = [d for d in ordered if document_rank(d)[0] == _ORDER["roster"]]
        return self.add_rosters(rosters) + [self.add(d) for d in ordered[len(rosters) :]]
