"""What an officer reads, checked on the officer's side: nothing is taken on the node's word.

The node hands over, for each message, the envelope's bytes and its content key.
:func:`check_message` verifies the signature over those bytes, opens the content
with the key against the author's signed key commitment (so the key can only
open what the author signed), decides the author's key with the officer's own
trust state (roster, certificates, revocations synced and verified in the
officer's home), and reads the envelopes that refer to it under the same rules
every node applies (:func:`keys.authorship.reference_problem`). Where the log
position comes with a checkpoint, the checkpoint's signature and the inclusion
proof are checked too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keys.authorship import reference_problem
from keys.errors import WitnessError
from keys.trust import KeyDecision, Outcome, TrustState
from protocol.envelope import Envelope, Header
from protocol.errors import ProtocolError
from protocol.merkle import leaf_hash, verify_inclusion

__all__ = ["ReadMessage", "Reference", "check_message", "check_position"]


@dataclass(frozen=True)
class Reference:
    """An envelope that retracts, corrects or shares the one read, checked."""

    envelope_id: bytes
    relation: str
    author: str
    created_ms: int
    #: Nodes a share adds to the readers.
    recipients: tuple[str, ...] = ()
    #: A retraction's reason, if this node can read it.
    reason: str | None = None


@dataclass
class ReadMessage:
    envelope_id: bytes
    header: Header
    content: dict[str, Any] | None
    #: Why the content could not be shown (the node's key did not open what was signed).
    problem: str | None
    author: KeyDecision
    index: int
    received_ms: int
    read_ms: int | None
    retractions: list[Reference] = field(default_factory=list)
    corrections: list[Reference] = field(default_factory=list)
    shares: list[Reference] = field(default_factory=list)
    #: Withdrawals by the author's Member State authority (signed documents).
    withdrawals: list[Reference] = field(default_factory=list)
    #: Set by :func:`check_position`.
    position: str | None = None

    @property
    def author_label(self) -> str:
        return author_label(self.header)

    @property
    def readers(self) -> tuple[str, ...]:
        """Every node that can read it: its recipients and those a share added."""
        added = {n for share in self.shares for n in share.recipients}
        return tuple(sorted(set(self.header.recipients) | added))

    @property
    def retracted(self) -> bool:
        return bool(self.retractions or self.withdrawals)


def author_label(header: Header) -> str:
    if header.author_officer is None:
        return f"node {header.author_node}"
    return f"{header.author_officer} ({header.author_node})"


def _decide(trust: TrustState, envelope: Envelope, now_ms: int) -> KeyDecision:
    decision = trust.decide_envelope(envelope, now_ms)
    if decision.outcome is Outcome.RETRY and decision.needs_evidence:
        # The node accepted it on evidence of witnessing, which this home does not hold.
        return KeyDecision(
            Outcome.ACCEPT,
            f"{decision.reason}; the node accepted it on evidence that it was witnessed "
            "before the compromise",
            decision.certificate,
        )
    return decision


def check_message(trust: TrustState, entry: dict[str, Any], now_ms: int) -> ReadMessage:
    """One message as the node sent it (``raw``, ``key``, ``refs``…), verified.

    A signature that does not verify is a :class:`ProtocolError`: the node sent
    bytes nobody signed. A content key that does not open what was signed is
    reported in ``problem``, the header still shown.
    """
    envelope = Envelope.from_bytes(entry["raw"])
    if envelope.id != entry.get("id", envelope.id):
        raise ProtocolError("the node named another id than the envelope's")
    content: dict[str, Any] | None = None
    problem: str | None = None
    try:
        content = dict(envelope.open_with_key(entry["key"]).fields)
    except ProtocolError as exc:
        problem = exc.message
    message = ReadMessage(
        envelope_id=envelope.id,
        header=envelope.header,
        content=content,
        problem=problem,
        author=_decide(trust, envelope, now_ms),
        index=int(entry.get("index", -1)),
        received_ms=int(entry.get("received_ms", 0)),
        read_ms=entry.get("read_ms"),
    )
    for ref in entry.get("refs", []):
        _add_reference(trust, message, envelope, ref, now_ms)
    for withdrawal in trust.withdrawals_of(envelope):
        message.withdrawals.append(
            Reference(
                withdrawal.document.digest,
                "withdraws",
                f"the {withdrawal.party} authority",
                withdrawal.issued_ms,
                reason=withdrawal.reason,
            )
        )
    return message


def _add_reference(
    trust: TrustState, message: ReadMessage, target: Envelope, ref: dict[str, Any], now_ms: int
) -> None:
    try:
        envelope = Envelope.from_bytes(ref["raw"])
    except (ProtocolError, KeyError, TypeError):
        return  # what nobody signed refers to nothing
    header = envelope.header
    if header.refers_to is None or header.refers_to[1] != target.id:
        return
    if reference_problem(header, target.header) is not None or not _decide(trust, envelope, now_ms):
        return
    relation = header.refers_to[0]
    reason: str | None = None
    if relation == "retracts" and ref.get("key") is not None:
        try:
            reason = str(envelope.open_with_key(ref["key"]).fields.get("reason"))
        except ProtocolError:
            reason = None
    found = Reference(
        envelope.id,
        relation,
        author_label(header),
        header.created_ms,
        header.recipients if relation == "shares" else (),
        reason,
    )
    {"retracts": message.retractions, "corrects": message.corrections, "shares": message.shares}[
        relation
    ].append(found)


def check_position(
    trust: TrustState, node: str, message: ReadMessage, proof: dict[str, Any], now_ms: int
) -> str:
    """Check ``node``'s log position of a message against its signed checkpoint; the
    result says what was proven (also kept in ``message.position``)."""
    note = proof.get("checkpoint")
    index = int(proof.get("index", message.index))
    if note is None:
        text = f"position {index} in the log of {node}; no checkpoint signed yet"
    else:
        try:
            signed = trust.verify_checkpoint(node, note, now_ms)
        except WitnessError as exc:
            text = f"position {index}; the checkpoint does not verify: {exc.message}"
        else:
            cp = signed.checkpoint
            if index >= cp.size:
                text = f"position {index}; after the latest checkpoint (size {cp.size})"
            else:
                try:
                    leaf = leaf_hash(message.envelope_id)
                    verify_inclusion(leaf, index, cp.size, proof.get("proof", []), cp.root)
                    text = (
                        f"position {index}, proven included in the signed checkpoint of size "
                        f"{cp.size}"
                    )
                except ProtocolError as exc:
                    text = f"position {index}; the inclusion proof does not verify: {exc.message}"
    message.position = text
    return text
