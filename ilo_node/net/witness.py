"""The witnessing round of gossip: fetch a peer's checkpoint, judge it, cosign it, compare.

Every ``checkpoint_interval`` one live peer, in turn, is asked for its latest
checkpoint with a consistency proof from the last one witnessed of it. If the
node's witnessing records judge it consistent (:mod:`ilo_node.node.witnessing`,
with the verdicts of :mod:`keys.witness`), it is cosigned and the cosignature
handed back; then the checkpoints that peer witnessed of third nodes are
compared with this node's. Split-view evidence that peers relay in sync
answers is adopted only if it proves itself. This module only moves bytes
between the network and the node; the node decides.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ilo_node.net.wire import get_bytes_list
from keys.errors import WitnessError
from keys.witness import ConsistencyCheck, SplitView
from protocol.checkpoint import cosign
from protocol.errors import ProtocolError

if TYPE_CHECKING:  # gossip owns a Witness; the reverse is a type only
    from ilo_node.net.gossip import Gossip

__all__ = ["Witness"]

log = logging.getLogger("ilo_node.gossip")

#: Most relayed checkpoints (or pieces of evidence) compared per answer.
_MAX_RELAYED = 256
_MAX_EVIDENCE = 64


class Witness:
    def __init__(self, gossip: Gossip) -> None:
        self.gossip = gossip
        self._turn = 0

    async def round(self) -> None:
        live = self.gossip.live_peers()
        if live:
            self._turn = (self._turn + 1) % len(live)
            await self.witness(live[self._turn])

    async def witness(self, peer: str) -> None:
        gossip, node = self.gossip, self.gossip.node
        witnessing = node.witnessing
        last = await gossip.worker.call(witnessing.last, peer)
        answer = await gossip.call(
            peer, "GET", f"/v1/checkpoint?from={last.size if last else 0}", role="witness"
        )
        if answer is None or type(answer.get("note")) is not bytes:
            return
        note: bytes = answer["note"]
        try:
            proof = get_bytes_list(answer, "consistency", required=False)
        except ProtocolError:
            proof = [b""]  # not a proof: judged as "no valid consistency proof"
        try:
            _, split = await gossip.worker.call(witnessing.judge_fetched, peer, note, proof)
        except WitnessError as exc:
            log.warning("checkpoint from %s refused: %s", peer, exc.message)
            return
        if split is not None:
            await self._split(split)
            return
        if node.signing is not None:
            cosigned = cosign(note, node.node_id, node.signing.reveal(), int(node.clock() / 1000))
            reply = await gossip.call(
                peer, "POST", "/v1/cosign", {"note": cosigned}, role="witness"
            )
            if reply and reply.get("stored"):
                gossip.count("cosigned")
        seen = await gossip.call(peer, "GET", "/v1/witnessed", role="witness")
        if seen is None:
            return
        try:
            notes = get_bytes_list(seen, "notes")
        except ProtocolError:
            return
        for other in notes[:_MAX_RELAYED]:
            await self._compare(other)

    async def _compare(self, note: bytes) -> None:
        gossip = self.gossip
        verdict = await gossip.worker.call(gossip.node.witnessing.judge_relayed, note)
        if isinstance(verdict, SplitView):
            await self._split(verdict)
        if not isinstance(verdict, ConsistencyCheck):
            return
        answer = await gossip.call(
            verdict.subject,
            "GET",
            f"/v1/consistency?old={verdict.small.size}&new={verdict.large.size}",
            role="witness",
        )
        if answer is None:
            return
        try:
            proof = get_bytes_list(answer, "proof")
        except ProtocolError:
            proof = [b""]
        split = await gossip.worker.call(gossip.node.witnessing.judge_consistency, verdict, proof)
        if split is not None:
            await self._split(split)

    async def adopt_evidence(self, evidence: object) -> None:
        """Adopt a peer's split-view evidence only if it proves itself (one size, two
        roots, both signed by the origin)."""
        if not isinstance(evidence, list):
            return
        witnessing = self.gossip.node.witnessing
        for item in evidence[:_MAX_EVIDENCE]:
            if not (
                isinstance(item, list)
                and len(item) == 3
                and type(item[0]) is str
                and all(type(x) is bytes for x in item[1:])
            ):
                continue
            split = await self.gossip.worker.call(witnessing.judge_evidence, *item)
            if split is not None:
                await self._split(split)

    async def _split(self, split: SplitView) -> None:
        if await self.gossip.worker.call(self.gossip.node.witnessing.record_split, split):
            self.gossip.count("split_views")
            if split.restored:
                log.warning(
                    "a peer holds %s; expected after a restore: the peers that witnessed "
                    "this log after the backup see it split (docs/operator-guide.md, "
                    "'Backups and restore')",
                    split.reason,
                )
                return
            log.warning(
                "SPLIT VIEW: %s signed inconsistent checkpoints (%s)", split.origin, split.reason
            )
            if split.origin == self.gossip.node.log.origin:
                log.warning(
                    "this node's signing key is in other hands: have the authority revoke "
                    "it (ilo-node revoke --compromised-at ...), then 'ilo-node keys rotate' "
                    "and certify the new key"
                )
