"""Sealing an envelope as this node, and ingesting it through the one ingest path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ilo_node.errors import NodeError
from keys.distribution import recipients_for
from keys.errors import PrekeyError
from protocol.envelope import Envelope, seal

from .ingest import Ingestor, IngestResult
from .state import NodeState

__all__ = ["Publication", "publish"]


@dataclass(frozen=True)
class Publication:
    """What an author asks to publish: content of a kind, to a distribution level."""

    kind: str
    content: Mapping[str, Any]
    distribution: str = "local"
    handling: str = "H1"
    #: The Member States named for distribution ``states``.
    states: tuple[str, ...] = field(default=())


def publish(
    state: NodeState, ingestor: Ingestor, publication: Publication
) -> tuple[Envelope, IngestResult]:
    """Seal content signed by the node key, to every node its distribution reaches."""
    distribution = publication.distribution
    if state.signing is None:
        raise NodeError("this node was opened without its passphrase; cannot sign")
    if state.own_chain is not None:
        state.own_chain.check()
    now = state.clock()
    trust = state.trust
    recipients = recipients_for(trust.roster, state.node_id, distribution, now, publication.states)
    missing: list[str] = []
    keys: dict[str, list[bytes]] = {}
    for node in recipients:
        try:
            keys[node] = [trust.current_prekey(node, now).key]
        except PrekeyError:
            missing.append(node)
    if missing:
        raise NodeError(
            f"no current prekey known for {', '.join(missing)}",
            "Their prekey announcements have not reached this node yet; import them "
            "('ilo-node cert import') or wait for gossip.",
        )
    head = ingestor.head(state.signing.public)
    envelope = seal(
        signing_seed=state.signing.reveal(),
        network=state.network,
        kind=publication.kind,
        author_node=state.node_id,
        seq=1 if head is None else head.seq + 1,
        prev=None if head is None else head.envelope_id,
        created_ms=max(now, head.created_ms if head else 0),
        distribution=distribution,
        recipient_keys=keys,
        handling=publication.handling,
        content=publication.content,
        limits=state.limits,
    )
    result = ingestor.ingest([envelope.to_bytes()], source="local")[0]
    if result.status != "accepted":
        raise NodeError(f"own envelope not accepted: {result.reason}")
    return envelope, result
