"""Gossip: push to a fanout, anti-entropy by per-author heads, checkpoint witnessing.

* **Push.** A new envelope goes at once to ``fanout`` random peers; a peer that
  accepts it as new relays it the same way, so each envelope reaches everyone
  in a few hops while each node receives about ``fanout`` copies, not one from
  every peer as with flooding.
* **Anti-entropy.** Every ``sync_interval`` (with jitter) a random peer is asked
  for what lies past this node's per-author heads; the answer carries the
  peer's heads, and this node pushes back what the peer lacks. Both directions
  cost bytes in proportion to the difference, plus the heads (a few dozen bytes
  per author) and a summary hash of the trust documents; documents themselves
  are compared digest by digest only when the summaries differ.
* **Witnessing.** Every ``checkpoint_interval`` the node signs a checkpoint if its
  log grew, fetches one peer's latest checkpoint with a consistency proof from
  the last one it witnessed, cosigns it if consistent, and compares the
  checkpoints its peers witnessed of third nodes with its own: two checkpoints
  of one log that cannot both be true are stored as split-view evidence.
* Peers that fail are retried with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ilo_node.net.service import NodeWorker
from ilo_node.net.transport import Transport, TransportError
from ilo_node.net.wire import decode_body, encode_body, get_bytes_list, get_pairs
from ilo_node.node.core import Node, documents_summary
from protocol.checkpoint import SignedCheckpoint, cosign
from protocol.errors import IloError, ProtocolError
from protocol.merkle import verify_consistency

__all__ = ["Gossip", "GossipConfig"]

log = logging.getLogger("ilo_node.net.gossip")


@dataclass(frozen=True)
class GossipConfig:
    fanout: int = 2
    sync_interval_s: float = 2.0
    checkpoint_interval_s: float = 5.0
    push_batch: int = 128
    push_max_bytes: int = 4 * 1024 * 1024
    push_linger_s: float = 0.02
    queue_limit: int = 10_000
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0


@dataclass
class PeerState:
    failures: int = 0
    retry_at: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)


class Gossip:
    def __init__(
        self,
        worker: NodeWorker,
        transport: Transport,
        peers: Iterable[str],
        config: GossipConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.worker = worker
        self.node: Node = worker.node
        self.transport = transport
        self.peers = sorted(p for p in peers if p != self.node.node_id)
        self.config = config or GossipConfig()
        # Peer choice only needs to be unpredictable enough to spread load, not secret.
        self.rng = rng or random.Random()  # noqa: S311
        self.state = {p: PeerState() for p in self.peers}
        self.queue: asyncio.Queue[tuple[bytes, str | None]] = asyncio.Queue(self.config.queue_limit)
        self.stats: dict[str, int] = {
            "pushed": 0,
            "push_dropped": 0,
            "synced_envelopes": 0,
            "sync_bytes": 0,
            "cosigned": 0,
            "split_views": 0,
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._witness_turn = 0

    # -- peer health ----------------------------------------------------------------

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def live_peers(self) -> list[str]:
        now = self._loop_time()
        return [p for p in self.peers if self.state[p].retry_at <= now]

    def _failed(self, peer: str, reason: str) -> None:
        state = self.state[peer]
        state.failures += 1
        delay = min(self.config.backoff_cap_s, self.config.backoff_base_s * 2**state.failures)
        state.retry_at = self._loop_time() + delay * self.rng.uniform(0.5, 1.0)
        log.info("peer %s failed (%s); retry in %.1f s", peer, reason, delay)

    def _succeeded(self, peer: str) -> None:
        state = self.state[peer]
        if state.failures:
            log.info("peer %s is back", peer)
        state.failures = 0
        state.retry_at = 0.0

    async def _call(
        self, peer: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        raw = encode_body(body) if body is not None else b""
        try:
            status, data = await self.transport.request(peer, method, path, raw)
        except TransportError as exc:
            self._failed(peer, exc.message)
            return None
        if status != 200:
            try:
                message = decode_body(data, "error").get("error", "")
            except ProtocolError:
                message = ""
            self._failed(peer, f"HTTP {status} {message}")
            return None
        self._succeeded(peer)
        self.stats["sync_bytes"] += len(raw) + len(data)
        try:
            return decode_body(data, f"{path} response")
        except ProtocolError as exc:
            self._failed(peer, exc.message)
            return None

    # -- push -----------------------------------------------------------------------

    async def push(self, envelopes: list[bytes], source: str | None) -> None:
        """Queue new envelopes for the fanout; never blocks the caller. If the queue is
        full the envelope is still stored here and anti-entropy will spread it."""
        for raw in envelopes:
            try:
                self.queue.put_nowait((raw, source))
            except asyncio.QueueFull:
                self.stats["push_dropped"] += 1

    async def _push_loop(self) -> None:
        while True:
            first = await self.queue.get()
            batch = [first]
            size = len(first[0])
            deadline = self._loop_time() + self.config.push_linger_s
            # Bounded by count and by bytes: a push must fit the receivers' body cap.
            while len(batch) < self.config.push_batch and size < self.config.push_max_bytes:
                timeout = deadline - self._loop_time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    break
                batch.append(item)
                size += len(item[0])
            await self._send_batch(batch)

    async def _send_batch(self, batch: list[tuple[bytes, str | None]]) -> None:
        sources = {source for _, source in batch}
        candidates = [p for p in self.live_peers() if p not in sources] or [
            p for p in self.live_peers()
        ]
        targets = self.rng.sample(candidates, min(self.config.fanout, len(candidates)))
        envelopes = [raw for raw, _ in batch]
        await asyncio.gather(
            *(
                self._call(peer, "POST", "/v1/envelopes", {"envelopes": envelopes})
                for peer in targets
            )
        )
        self.stats["pushed"] += len(envelopes) * len(targets)

    # -- anti-entropy ---------------------------------------------------------------

    async def sync_with(self, peer: str) -> int:
        """One anti-entropy exchange with ``peer``; returns envelopes received."""
        received = 0
        node = self.node
        while True:
            heads = await self.worker.call(node.heads)
            head_ids = await self.worker.call(node.head_ids)
            answer = await self._call(
                peer,
                "POST",
                "/v1/sync",
                {
                    "heads": [[k, v] for k, v in sorted(heads.items())],
                    "head_ids": [[k, v] for k, v in sorted(head_ids.items())],
                    "max_bytes": 4 << 20,
                },
            )
            if answer is None:
                return received
            try:
                envelopes = get_bytes_list(answer, "envelopes")
                peer_heads = dict(get_pairs(answer, "heads"))
                forks = get_bytes_list(answer, "forks", required=False)
                summary = answer.get("docs_summary")
            except ProtocolError as exc:
                self._failed(peer, exc.message)
                return received
            my_digests = sorted(await self.worker.call(node.documents))
            if summary != documents_summary(my_digests):
                await self._sync_documents(peer, my_digests)
            if envelopes:
                results = await self.worker.call(node.ingest, envelopes)
                new = [
                    raw for raw, r in zip(envelopes, results, strict=True) if r.status == "accepted"
                ]
                new += await self.worker.call(node.take_placed_from_quarantine)
                received += len(new)
                self.stats["synced_envelopes"] += len(new)
                if new:
                    await self.push(new, peer)
            for proof in forks:
                await self.worker.call(node.add_fork_proof, proof)
            await self._check_evidence(answer.get("split_views"))
            # Push back what the peer lacks, in pages.
            while True:
                missing, more = await self.worker.call(node.envelopes_beyond, peer_heads, 4 << 20)
                if not missing:
                    break
                reply = await self._call(peer, "POST", "/v1/envelopes", {"envelopes": missing})
                if reply is None or not more:
                    break
                peer_heads = await self._heads_after(peer_heads, missing)
            # Another page only if this one moved us on; a page we cannot place (an
            # author held after a fork, a full quarantine) would come back the same.
            if not answer.get("more") or not new:
                return received

    async def _heads_after(self, heads: dict[bytes, int], sent: list[bytes]) -> dict[bytes, int]:
        from protocol.envelope import Envelope

        updated = dict(heads)
        for raw in sent:
            header = Envelope.from_bytes(raw).header
            updated[header.author_key] = max(updated.get(header.author_key, 0), header.seq)
        return updated

    async def _sync_documents(self, peer: str, my_digests: list[bytes]) -> None:
        answer = await self._call(peer, "POST", "/v1/documents/diff", {"docs": my_digests})
        if answer is None:
            return
        try:
            documents = get_bytes_list(answer, "documents")
            theirs = set(get_bytes_list(answer, "docs"))
        except ProtocolError:
            return
        if documents:
            await self.worker.call(self.node.add_documents, documents)
        mine = await self.worker.call(self.node.documents)
        missing = [data for digest, data in sorted(mine.items()) if digest not in theirs]
        if missing:
            await self._call(peer, "POST", "/v1/documents", {"documents": missing})

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sync_interval_s * self.rng.uniform(0.5, 1.5))
            live = self.live_peers()
            if live:
                await self.sync_with(self.rng.choice(live))

    # -- checkpoints, cosigning, split views ------------------------------------------

    async def witness(self, peer: str) -> None:
        node = self.node
        origin = f"ilo-node/{node.network}/{peer}"
        last = await self.worker.call(node.last_witnessed, origin)
        answer = await self._call(peer, "GET", f"/v1/checkpoint?from={last[0] if last else 0}")
        if answer is None or type(answer.get("note")) is not bytes:
            return
        note: bytes = answer["note"]
        try:
            signed = await self.worker.call(node.verify_note_of, peer, note)
        except IloError as exc:
            log.warning("checkpoint from %s refused: %s", peer, exc.message)
            return
        size = signed.checkpoint.size
        if last is not None:
            if size < last[0]:
                await self._split(origin, last[2], note, "the log shrank")
                return
            if size == last[0] and signed.checkpoint.root != last[1]:
                await self._split(origin, last[2], note, "two roots for one size")
                return
            try:
                proof = get_bytes_list(answer, "consistency", required=False)
                verify_consistency(last[0], size, last[1], signed.checkpoint.root, proof)
            except ProtocolError:
                await self._split(origin, last[2], note, "no valid consistency proof")
                return
        await self.worker.call(node.record_witnessed, signed)
        if node.signing is not None:
            cosigned = cosign(note, node.node_id, node.signing.reveal(), int(node.clock() / 1000))
            reply = await self._call(peer, "POST", "/v1/cosign", {"note": cosigned})
            if reply and reply.get("stored"):
                self.stats["cosigned"] += 1
        # Compare what this peer witnessed of third nodes with what we witnessed.
        seen = await self._call(peer, "GET", "/v1/witnessed")
        if seen is not None:
            try:
                notes = get_bytes_list(seen, "notes")
            except ProtocolError:
                return
            for other in notes[:256]:
                await self._compare_witnessed(other)

    async def _compare_witnessed(self, note: bytes) -> None:
        node = self.node
        try:
            signed = SignedCheckpoint.from_bytes(note)
        except ProtocolError:
            return
        origin = signed.checkpoint.origin
        prefix = f"ilo-node/{node.network}/"
        if not origin.startswith(prefix):
            return
        subject = origin[len(prefix) :]
        try:
            await self.worker.call(node.verify_note_of, subject, note)
        except IloError:
            return
        size = signed.checkpoint.size
        same = await self.worker.call(node.witnessed_at_size, origin, size)
        if same is not None:
            if SignedCheckpoint.from_bytes(same).checkpoint.root != signed.checkpoint.root:
                await self._split(origin, same, note, "two roots for one size")
            return
        last = await self.worker.call(node.last_witnessed, origin)
        if last is None or subject == node.node_id:
            return
        old_size, old_root, old_note = last
        small, large = sorted(
            [(old_size, old_root, old_note), (size, signed.checkpoint.root, note)]
        )
        answer = await self._call(subject, "GET", f"/v1/consistency?old={small[0]}&new={large[0]}")
        if answer is None:
            return
        try:
            verify_consistency(
                small[0], large[0], small[1], large[1], get_bytes_list(answer, "proof")
            )
        except ProtocolError:
            await self._split(origin, small[2], large[2], "no valid consistency proof")

    async def _check_evidence(self, evidence: object) -> None:
        """Adopt a peer's split-view evidence only if it proves itself (one size, two
        roots, both signed by the origin)."""
        if not isinstance(evidence, list):
            return
        node = self.node
        for item in evidence[:64]:
            if not (
                isinstance(item, list)
                and len(item) == 3
                and all(type(x) is bytes for x in item[1:])
                and type(item[0]) is str
            ):
                continue
            origin, a, b = item
            subject = origin.rsplit("/", 1)[-1]
            try:
                first = await self.worker.call(node.verify_note_of, subject, a)
                second = await self.worker.call(node.verify_note_of, subject, b)
            except IloError:
                continue
            ca, cb = first.checkpoint, second.checkpoint
            if ca.size == cb.size and ca.root != cb.root:
                await self._split(origin, a, b, "two roots for one size (from a peer)")

    async def _split(self, origin: str, a: bytes, b: bytes, reason: str) -> None:
        if await self.worker.call(self.node.record_split_view, origin, a, b, reason):
            self.stats["split_views"] += 1
            log.warning("SPLIT VIEW: %s signed inconsistent checkpoints (%s)", origin, reason)

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.checkpoint_interval_s * self.rng.uniform(0.8, 1.2))
            if self.node.signing is not None:
                await self.worker.call(self.node.checkpoint)
            live = self.live_peers()
            if live:
                self._witness_turn = (self._witness_turn + 1) % len(live)
                await self.witness(live[self._witness_turn])

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        for loop_fn in (self._push_loop, self._sync_loop, self._checkpoint_loop):
            self._tasks.append(asyncio.create_task(self._guard(loop_fn)))

    async def _guard(self, loop_fn: Any) -> None:
        while True:
            try:
                await loop_fn()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one round must not stop gossip for good
                log.exception("gossip loop %s failed; restarting it", loop_fn.__name__)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
