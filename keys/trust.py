"""The evidence a node holds, and the trust decisions it feeds.

:class:`TrustState` is an I/O-free holder of verified evidence: the roster
chain, certificates (with when this holder first saw each), revocations and
prekey announcements. It checks each document as it is added, and asks the
pure :func:`keys.decide.decide_key` about keys, choosing what evidence counts:

* **Revocation scope.** A revocation counts only for keys of the revoking
  authority's own Member State (it names one of that state's nodes, and only
  for that node's key), or when a threshold of the roster's administrators
  signed it. A Member State authority cannot silence another state.
* **Stolen authority keys.** When a roster version declares an authority key
  compromised from a time C, what the key certified is honoured only by a
  holder that had the certificate before C: a certificate's issue time is the
  signer's word, and a thief can write any. Everyone else needs the authority
  to certify the key again with its new key.
* **Roster expiry.** With the current roster expired, statements dated after
  the expiry wait for the next version, and peer requests are refused
  (:meth:`TrustState.decide_peer`); nodes still pull the next version from
  peers that have it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from protocol.checkpoint import SignedCheckpoint, node_of_origin, verify_cosignature
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.identifiers import split_node_id
from protocol.signed import SignedDocument

from .decide import KeyDecision, Outcome, decide_key
from .distribution import distribution_problem
from .documents import Certificate, PrekeyAnnouncement, Revocation, Roster, Withdrawal, when
from .errors import (
    CertificateError,
    PrekeyError,
    RevocationError,
    WitnessError,
)
from .prekeys import select_prekey
from .roster import RosterChain, count_signers

__all__ = ["KeyDecision", "Outcome", "TrustState", "decide_key", "when"]


def _party(node: str) -> str:
    parsed = split_node_id(node)
    return parsed[0] if parsed is not None else ""


@dataclass
class TrustState:
    """The evidence a node holds, each piece verified when it was added."""

    chain: RosterChain
    certificates: dict[bytes, list[Certificate]] = field(default_factory=dict)
    revocations: dict[bytes, list[Revocation]] = field(default_factory=dict)
    prekeys: dict[str, list[PrekeyAnnouncement]] = field(default_factory=dict)
    #: When this holder first had each certificate (by document digest).
    first_seen: dict[bytes, int] = field(default_factory=dict)
    #: Revocations signed by a threshold of administrators (by document digest).
    root_revocations: set[bytes] = field(default_factory=set)
    #: Authorities' withdrawals of envelopes, by the withdrawn envelope's id.
    withdrawals: dict[bytes, list[Withdrawal]] = field(default_factory=dict)

    @property
    def roster(self) -> Roster:
        return self.chain.current

    # -- evidence -----------------------------------------------------------------

    def _authority_signed(self, document: SignedDocument, party: str, at_ms: int) -> bool:
        for key in document.signed_keys():
            window = self.chain.authority_window(party, key)
            if window is None:
                continue
            start, end = window
            if start <= at_ms and (end is None or at_ms < end):
                return True
        return False

    def add_certificate(self, data: bytes, seen_ms: int | None = None) -> Certificate:
        """Verify and keep a certificate; ``seen_ms`` is when this holder first had it
        (default: it has it now, which only matters once its signer is declared stolen)."""
        try:
            certificate = Certificate.from_document(SignedDocument.from_bytes(data, "certificate"))
        except ProtocolError as exc:
            raise CertificateError(f"certificate is malformed: {exc.message}") from None
        if certificate.network != self.roster.network:
            raise CertificateError(f"certificate is for network {certificate.network!r}")
        if certificate.node not in self.roster.nodes:
            raise CertificateError(f"certificate names {certificate.node}, not in the roster")
        if not self._authority_signed(
            certificate.document, certificate.party, certificate.issued_ms
        ):
            raise CertificateError(
                f"certificate for {certificate.node} is not signed by a {certificate.party} "
                f"authority key valid at its issue time in roster v{self.roster.version}"
            )
        existing = self.certificates.setdefault(certificate.key, [])
        if certificate not in existing:
            existing.append(certificate)
        digest = certificate.document.digest
        if seen_ms is not None:
            self.first_seen[digest] = min(seen_ms, self.first_seen.get(digest, seen_ms))
        else:
            self.first_seen.setdefault(digest, 1 << 62)
        return certificate

    def honoured(self, certificate: Certificate) -> bool:
        """Whether a verified certificate still counts: not if every authority key that
        signed it (valid at its issue time) was declared stolen before this holder had it."""
        seen = self.first_seen.get(certificate.document.digest, 1 << 62)
        for key in certificate.document.signed_keys():
            window = self.chain.authority_window(certificate.party, key)
            if window is None:
                continue
            start, end = window
            if not (
                start <= certificate.issued_ms and (end is None or certificate.issued_ms < end)
            ):
                continue
            stolen = self.chain.authority_compromised_at(certificate.party, key)
            if stolen is None or seen < stolen:
                return True
        return False

    def add_revocation(self, data: bytes) -> Revocation:
        try:
            revocation = Revocation.from_document(SignedDocument.from_bytes(data, "revocation"))
        except ProtocolError as exc:
            raise RevocationError(f"revocation is malformed: {exc.message}") from None
        if revocation.network != self.roster.network:
            raise RevocationError(f"revocation is for network {revocation.network!r}")
        roster = self.roster
        by_root = count_signers(revocation.document, roster.administrators) >= roster.threshold
        if not by_root and not self._authority_signed(
            revocation.document, revocation.party, revocation.issued_ms
        ):
            raise RevocationError(
                f"revocation of a {revocation.node} key is not signed by a {revocation.party} "
                "authority key, nor by a threshold of the administrators"
            )
        if by_root:
            self.root_revocations.add(revocation.document.digest)
        existing = self.revocations.setdefault(revocation.key, [])
        if revocation not in existing:
            existing.append(revocation)
        # A thief could have announced prekeys between the compromise and now, and
        # senders would encrypt to them: forget every prekey the revoked key signed.
        announcements = self.prekeys.get(revocation.node, [])
        self.prekeys[revocation.node] = [
            a for a in announcements if revocation.key not in a.document.signed_keys()
        ]
        return revocation

    def add_withdrawal(self, data: bytes, seen_ms: int | None = None) -> Withdrawal:
        """Verify and keep an authority's withdrawal of an envelope of its party's nodes.

        Signed by an authority key of that party valid at its issue time; like a
        certificate, one signed by a key later declared stolen counts only if this
        holder had it before the theft."""
        try:
            withdrawal = Withdrawal.from_document(SignedDocument.from_bytes(data, "withdrawal"))
        except ProtocolError as exc:
            raise RevocationError(f"withdrawal is malformed: {exc.message}") from None
        if withdrawal.network != self.roster.network:
            raise RevocationError(f"withdrawal is for network {withdrawal.network!r}")
        if not self._authority_signed(withdrawal.document, withdrawal.party, withdrawal.issued_ms):
            raise RevocationError(
                f"withdrawal of an envelope of {withdrawal.target_node} is not signed by a "
                f"{withdrawal.party} authority key valid at its issue time"
            )
        digest = withdrawal.document.digest
        if seen_ms is not None:
            self.first_seen[digest] = min(seen_ms, self.first_seen.get(digest, seen_ms))
        else:
            self.first_seen.setdefault(digest, 1 << 62)
        existing = self.withdrawals.setdefault(withdrawal.target, [])
        if withdrawal not in existing:
            existing.append(withdrawal)
        return withdrawal

    def withdrawals_of(self, envelope: Envelope) -> list[Withdrawal]:
        """The withdrawals that count for ``envelope``: by its author node's authority,
        for that node, and not signed only by a key stolen before this holder had them."""
        out = []
        for withdrawal in self.withdrawals.get(envelope.id, []):
            if withdrawal.target_node != envelope.header.author_node:
                continue
            seen = self.first_seen.get(withdrawal.document.digest, 1 << 62)
            for key in withdrawal.document.signed_keys():
                stolen = self.chain.authority_compromised_at(withdrawal.party, key)
                window = self.chain.authority_window(withdrawal.party, key)
                if window is not None and (stolen is None or seen < stolen):
                    out.append(withdrawal)
                    break
        return out

    def add_prekey(self, data: bytes, now_ms: int) -> PrekeyAnnouncement:
        """Accept a prekey announcement signed by a currently valid key of its node."""
        try:
            announcement = PrekeyAnnouncement.from_document(
                SignedDocument.from_bytes(data, "prekey")
            )
        except ProtocolError as exc:
            raise PrekeyError(f"prekey announcement is malformed: {exc.message}") from None
        if announcement.network != self.roster.network:
            raise PrekeyError(f"prekey is for network {announcement.network!r}")
        signers = announcement.document.signed_keys()
        ok = any(
            self.decide(
                key=k,
                node=announcement.node,
                created_ms=announcement.issued_ms,
                now_ms=now_ms,
                witnessed_ms=None,
                role="node",
            )
            for k in signers
        )
        if not ok:
            raise PrekeyError(
                f"prekey announcement for {announcement.node} is not signed by a certified, "
                "unrevoked key of that node"
            )
        existing = self.prekeys.setdefault(announcement.node, [])
        if all(a.key != announcement.key for a in existing):
            existing.append(announcement)
        return announcement

    # -- decisions ----------------------------------------------------------------

    def decide(
        self,
        *,
        key: bytes,
        node: str,
        created_ms: int,
        now_ms: int,
        witnessed_ms: int | None,
        role: str | None = None,
        officer: str | None = None,
    ) -> KeyDecision:
        return decide_key(
            roster=self.roster,
            key=key,
            node=node,
            created_ms=created_ms,
            now_ms=now_ms,
            certificates=[c for c in self.certificates.get(key, []) if self.honoured(c)],
            revocations=self.revocations_of(key, node),
            witnessed_ms=witnessed_ms,
            role=role,
            officer=officer,
        )

    def revocations_of(self, key: bytes, node: str) -> list[Revocation]:
        """The revocations of ``key`` that count for ``node``: by its own state's
        authority for its own key, or by the administrators."""
        return [
            r
            for r in self.revocations.get(key, [])
            if r.document.digest in self.root_revocations
            or (r.party == _party(node) and r.node == node)
        ]

    def is_revoked(self, key: bytes) -> bool:
        return bool(self.revocations.get(key))

    def decide_node_key(self, key: bytes, node: str, at_ms: int, now_ms: int) -> KeyDecision:
        """May ``key`` speak as node ``node`` (its node key, not an officer's) at ``at_ms``?"""
        return self.decide(
            key=key, node=node, created_ms=at_ms, now_ms=now_ms, witnessed_ms=None, role="node"
        )

    def decide_officer(self, key: bytes, node: str, officer: str, now_ms: int) -> KeyDecision:
        """May ``key`` act now as officer ``officer`` of ``node`` (to publish and read
        through that node)? Like peers, not while this holder's roster has expired."""
        expired = self._roster_expired(now_ms)
        if expired is not None:
            return expired
        return self.decide(
            key=key,
            node=node,
            created_ms=now_ms,
            now_ms=now_ms,
            witnessed_ms=None,
            role="officer",
            officer=officer,
        )

    def _roster_expired(self, now_ms: int) -> KeyDecision | None:
        roster = self.roster
        if roster.expires_ms <= now_ms:
            return KeyDecision(
                Outcome.REJECT,
                f"this node's roster v{roster.version} expired on {when(roster.expires_ms)}; "
                "it refuses requests until it has the next version",
            )
        return None

    def decide_peer(self, key: bytes, node: str, now_ms: int) -> KeyDecision:
        """May ``node`` make requests of this node now with ``key``? Not while this
        node's roster has expired: it cannot tell who is still a member."""
        roster = self.roster
        if roster.expires_ms <= now_ms:
            return KeyDecision(
                Outcome.REJECT,
                f"this node's roster v{roster.version} expired on {when(roster.expires_ms)}; "
                "it refuses peer requests until it has the next version",
            )
        return self.decide_node_key(key, node, now_ms, now_ms)

    def decide_node_statement(self, key: bytes, node: str, at_ms: int, now_ms: int) -> KeyDecision:
        """:meth:`decide_node_key` for what nodes say to each other about the present
        (peer requests, checkpoints, cosignatures).

        Once the roster has expired these are judged just before its expiry: the
        expiry holds back new envelopes, but what a node fetched from its peers
        (checkpoints, cosignatures) stays usable while the next version travels.
        """
        return self.decide_node_key(key, node, min(at_ms, self.roster.expires_ms - 1), now_ms)

    # -- checkpoints and cosignatures ------------------------------------------

    def node_keys(self, node: str) -> dict[str, bytes]:
        """Signing keys certified for ``node`` as a node, by a name for messages."""
        return {
            node + "#" + key.hex()[:8]: key
            for key, certs in self.certificates.items()
            if any(c.node == node and c.role == "node" for c in certs)
        }

    def officer_keys(self, node: str) -> list[tuple[str, bytes]]:
        """(officer, key) for every key certified for an officer of ``node``."""
        return sorted(
            {
                (c.officer, key)
                for key, certs in self.certificates.items()
                for c in certs
                if c.node == node and c.role == "officer" and c.officer is not None
            }
        )

    def verify_checkpoint(self, node: str, note: bytes, now_ms: int) -> SignedCheckpoint:
        """The checkpoint note of ``node``'s log, if signed by a key of ``node`` that was
        valid when the checkpoint was signed; :class:`WitnessError` otherwise."""
        try:
            signed = SignedCheckpoint.from_bytes(note)
        except ProtocolError as exc:
            raise WitnessError(f"checkpoint of {node} is malformed: {exc.message}") from None
        if node_of_origin(signed.checkpoint.origin, self.roster.network) != node:
            raise WitnessError(
                f"checkpoint origin {signed.checkpoint.origin[:80]!r} is not {node}'s log"
            )
        for key in self.node_keys(node).values():
            try:
                signed.verify(node, key)
            except ProtocolError:
                continue
            if self.decide_node_statement(key, node, signed.checkpoint.time_ms, now_ms):
                return signed
        raise WitnessError(
            f"checkpoint is not signed by a key of {node} that was valid when it was signed"
        )

    def verify_cosigner(self, signed: SignedCheckpoint, witness: str, now_ms: int) -> int:
        """The time (seconds) of ``witness``'s valid cosignature on ``signed``, made with a
        key of ``witness`` valid at that time; :class:`WitnessError` if there is none."""
        for key in self.node_keys(witness).values():
            try:
                time_s = verify_cosignature(signed, witness, key)
            except ProtocolError:
                continue
            if self.decide_node_statement(key, witness, time_s * 1000, now_ms):
                return time_s
        raise WitnessError(f"no valid cosignature by a key of {witness}")

    def cosigners_of(
        self, signed: SignedCheckpoint, subject: str, now_ms: int
    ) -> tuple[dict[str, int], list[str]]:
        """Who witnessed ``subject``'s checkpoint ``signed``: witness -> cosignature time
        (seconds) for every line by another node of the roster that verifies with a key
        valid then, and, apart, a reason for every other line that names itself a
        cosignature (an unknown name, a key not that node's, a broken signature). The
        log's own signature line is neither."""
        valid: dict[str, int] = {}
        invalid: list[str] = []
        for line in signed.signatures:
            name = line.name
            if name == subject or name in valid:
                continue
            if name not in self.roster.nodes:
                invalid.append(f"{name[:64]!r} is not a node of the roster")
                continue
            try:
                valid[name] = self.verify_cosigner(signed, name, now_ms)
            except WitnessError:
                invalid.append(f"{name}'s cosignature does not verify with a key of {name}")
        return valid, invalid

    def decide_envelope(
        self, envelope: Envelope, now_ms: int, witnessed_ms: int | None = None
    ) -> KeyDecision:
        header = envelope.header
        if header.network != self.roster.network:
            return KeyDecision(Outcome.REJECT, f"envelope is for network {header.network!r}")
        # Who wrote it decides which certificate must vouch for the key: an officer's
        # envelope needs that officer's certificate, and what a node writes by itself
        # its node key; so a node key cannot pass for an officer, nor the reverse.
        officer = header.author_officer
        decision = self.decide(
            key=header.author_key,
            node=header.author_node,
            created_ms=header.created_ms,
            now_ms=now_ms,
            witnessed_ms=witnessed_ms,
            role="node" if officer is None else "officer",
            officer=officer,
        )
        if not decision:
            return decision
        problem = distribution_problem(
            self.roster,
            header.author_node,
            header.distribution,
            header.created_ms,
            header.recipients,
        )
        if problem:
            return KeyDecision(Outcome.REJECT, problem)
        return decision

    # -- prekeys ------------------------------------------------------------------

    def current_prekey(self, node: str, now_ms: int) -> PrekeyAnnouncement:
        if not self.prekeys.get(node):
            raise PrekeyError(f"no prekey known for {node}")
        return select_prekey(self.prekeys[node], now_ms)

    def recipient_keys(self, nodes: Iterable[str], now_ms: int) -> Mapping[str, list[bytes]]:
        return {n: [self.current_prekey(n, now_ms).key] for n in nodes}
