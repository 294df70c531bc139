"""Trust decisions: may this key speak for this node, for this envelope, now?

:func:`decide_key` is the one pure function that makes the decision; the clock
(``now_ms``) and the evidence (roster, certificates, revocations, and when the
envelope was first witnessed in a checkpoint) are passed in. :class:`TrustState`
is an I/O-free holder for that evidence: it verifies certificates, revocations
and prekey announcements against the roster chain as they arrive, and asks
:func:`decide_key` about envelopes.

Revocation rule. A revocation names the time the key was compromised. Nothing
the key signed is accepted if it is dated at or after that time. Something dated
*before* it is accepted only if it had been witnessed in a checkpoint before the
revocation was issued: a thief holding the key can write any date, but cannot
make an envelope appear in a checkpoint that was signed before it existed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from protocol.checkpoint import SignedCheckpoint, node_of_origin, verify_cosignature
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.limits import DEFAULT_LIMITS, Limits
from protocol.signed import SignedDocument

from .distribution import distribution_problem
from .documents import Certificate, PrekeyAnnouncement, Revocation, Roster, when
from .errors import (
    CertificateError,
    PrekeyError,
    RevocationError,
    WitnessError,
)
from .prekeys import select_prekey
from .roster import RosterChain

__all__ = ["KeyDecision", "Outcome", "TrustState", "decide_key", "when"]


class Outcome(Enum):
    ACCEPT = "accept"
    #: Cannot be decided yet (unknown key, roster expired, dated in the future):
    #: keep the envelope and try again when evidence arrives.
    RETRY = "retry"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class KeyDecision:
    outcome: Outcome
    reason: str
    certificate: Certificate | None = None

    def __bool__(self) -> bool:
        return self.outcome is Outcome.ACCEPT



def decide_key(
    *,
    roster: Roster,
    key: bytes,
    node: str,
    created_ms: int,
    now_ms: int,
    certificates: Iterable[Certificate],
    revocations: Iterable[Revocation],
    witnessed_ms: int | None,
    limits: Limits = DEFAULT_LIMITS,
) -> KeyDecision:
    """Decide whether ``key`` may sign for ``node`` something dated ``created_ms``.

    ``certificates`` and ``revocations`` must already be verified against the
    roster chain (``TrustState`` does this); only those about ``key`` matter.
    ``witnessed_ms`` is the time of the earliest checkpoint that included the
    envelope, or ``None`` if none did yet.
    """
    short = key.hex()[:16]
    if created_ms > now_ms + limits.max_future_skew_ms:
        return KeyDecision(
            Outcome.RETRY, f"dated {(created_ms - now_ms) // 1000} s in the future; check clocks"
        )
    if node not in roster.nodes:
        return KeyDecision(
            Outcome.REJECT, f"{node} is not a member of the network in roster v{roster.version}"
        )
    if created_ms >= roster.expires_ms:
        return KeyDecision(
            Outcome.RETRY,
            f"dated after roster v{roster.version} expired; held until a new roster arrives",
        )
    for revocation in revocations:
        if revocation.key != key:
            continue
        if created_ms >= revocation.compromised_at_ms:
            return KeyDecision(
                Outcome.REJECT,
                f"key {short}… was revoked as compromised from "
                f"{when(revocation.compromised_at_ms)} and the envelope is dated "
                f"{when(created_ms)}",
            )
        if witnessed_ms is None or witnessed_ms >= revocation.issued_ms:
            return KeyDecision(
                Outcome.REJECT,
                f"key {short}… is revoked; the envelope is dated before the compromise but "
                "was not witnessed in a checkpoint before the revocation, so it may be back-dated",
            )
    matching = [c for c in certificates if c.key == key and c.node == node]
    if not matching:
        return KeyDecision(
            Outcome.RETRY, f"no certificate for key {short}… of {node} yet; held until one arrives"
        )
    for certificate in matching:
        if certificate.valid_at(created_ms):
            return KeyDecision(Outcome.ACCEPT, "certified and not revoked", certificate)
    return KeyDecision(
        Outcome.REJECT,
        f"key {short}… of {node} was not certified at the envelope's time {when(created_ms)}",
    )


@dataclass
class TrustState:
    """The evidence a node holds, each piece verified when it was added."""

    chain: RosterChain
    certificates: dict[bytes, list[Certificate]] = field(default_factory=dict)
    revocations: dict[bytes, list[Revocation]] = field(default_factory=dict)
    prekeys: dict[str, list[PrekeyAnnouncement]] = field(default_factory=dict)

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

    def add_certificate(self, data: bytes) -> Certificate:
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
        return certificate

    def add_revocation(self, data: bytes) -> Revocation:
        try:
            revocation = Revocation.from_document(SignedDocument.from_bytes(data, "revocation"))
        except ProtocolError as exc:
            raise RevocationError(f"revocation is malformed: {exc.message}") from None
        if revocation.network != self.roster.network:
            raise RevocationError(f"revocation is for network {revocation.network!r}")
        if not self._authority_signed(revocation.document, revocation.party, revocation.issued_ms):
            raise RevocationError(
                f"revocation of a {revocation.node} key is not signed by a {revocation.party} "
                "authority key"
            )
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
    ) -> KeyDecision:
        certificates = [c for c in self.certificates.get(key, []) if role is None or c.role == role]
        return decide_key(
            roster=self.roster,
            key=key,
            node=node,
            created_ms=created_ms,
            now_ms=now_ms,
            certificates=certificates,
            revocations=self.revocations.get(key, []),
            witnessed_ms=witnessed_ms,
        )

    def decide_node_key(self, key: bytes, node: str, at_ms: int, now_ms: int) -> KeyDecision:
        """May ``key`` speak as node ``node`` (its node key, not an officer's) at ``at_ms``?"""
        return self.decide(
            key=key, node=node, created_ms=at_ms, now_ms=now_ms, witnessed_ms=None, role="node"
        )

    def decide_node_statement(
        self, key: bytes, node: str, at_ms: int, now_ms: int
    ) -> KeyDecision:
        """:meth:`decide_node_key` for what nodes say to each other about the present
        (peer requests, checkpoints, cosignatures).

        Once the roster has expired these are judged just before its expiry: the
        expiry holds back new envelopes, but nodes must go on talking so that the
        next roster version can reach them by gossip.
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

    def decide_envelope(
        self, envelope: Envelope, now_ms: int, witnessed_ms: int | None = None
    ) -> KeyDecision:
        header = envelope.header
        if header.network != self.roster.network:
            return KeyDecision(Outcome.REJECT, f"envelope is for network {header.network!r}")
        decision = self.decide(
            key=header.author_key,
            node=header.author_node,
            created_ms=header.created_ms,
            now_ms=now_ms,
            witnessed_ms=witnessed_ms,
        )
        if not decision:
            return decision
        problem = distribution_problem(
            self.roster, header.author_node, header.distribution, header.created_ms,
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
