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

The witnessing round is in :mod:`ilo_node.net.witness`. What gossip sends and
receives is counted in the node's counters, by role (``push``, ``sync``,
``witness``, ``announce``): ``requests_out``, ``bytes_out``, ``bytes_in``, and
``peer_failures`` by reason; ``gossip`` holds ``pushed`` (copies sent by the
push loop) and ``push_accepted`` (of those, the ones the peer took as new),
``pushed_back`` and ``pushed_back_accepted`` (the same for anti-entropy
push-backs), ``push_dropped``, ``synced_envelopes``, ``cosigned`` and
``split_views``. The ``*_accepted`` counters say which way an envelope first
reached a node, which the receiver cannot tell: both arrive as
``POST /v1/envelopes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ilo_node.errors import TransportError
from ilo_node.net.transport import Transport
from ilo_node.net.wire import decode_body, encode_body, get_bool, get_bytes_list, get_pairs
from ilo_node.net.witness import Witness
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from protocol.envelope import Envelope
from protocol.errors import ProtocolError

__all__ = ["Gossip", "GossipConfig", "PeerState"]

log = logging.getLogger("ilo_node.gossip")

#: Most envelope bytes asked for, or pushed back, in one anti-entropy page.
SYNC_PAGE_BYTES = 4 << 20


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
    """What gossip knows of one peer since this node started (``/local/status``)."""

    #: Failed calls in a row; one success resets it.
    failures: int = 0
    #: Loop time before which the peer is not chosen (the backoff of docs/api.md, 6.6).
    retry_at: float = 0.0
    #: Wall-clock times (ms): the last answer that succeeded, the last failure.
    last_contact_ms: int | None = None
    last_failure_ms: int | None = None
    #: Why the last call failed (``"<role>: <detail>"``; the peer's words quoted and cut).
    last_failure: str | None = None
    #: The last anti-entropy exchange with the peer that got an answer, and how far
    #: apart the two logs were then, counted from the per-author heads: envelopes the
    #: peer held that this node lacked, and the other way round.
    last_sync_ms: int | None = None
    missing_here: int | None = None
    missing_there: int | None = None

    def record(self, now_loop: float) -> dict[str, Any]:
        """As ``/local/status`` shows it (docs/api.md, section 5)."""
        return {
            "failures": self.failures,
            "backoff_s": round(max(0.0, self.retry_at - now_loop), 2),
            "last_contact_ms": self.last_contact_ms,
            "last_failure_ms": self.last_failure_ms,
            "last_failure": self.last_failure,
            "last_sync_ms": self.last_sync_ms,
            "missing_here": self.missing_here,
            "missing_there": self.missing_there,
        }


def _route(path: str) -> str:
    return path.split("?", 1)[0]


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
        self.counters = self.node.counters
        self.transport = transport
        self.peers = sorted(p for p in peers if p != self.node.node_id)
        self.config = config or GossipConfig()
        # Peer choice only needs to be unpredictable enough to spread load, not secret.
        self.rng = rng or random.Random()  # noqa: S311
        self.state = {p: PeerState() for p in self.peers}
        #: Peers a roster version removed, until one adds them back.
        self._dropped: set[str] = set()
        self.queue: asyncio.Queue[tuple[bytes, str | None]] = asyncio.Queue(self.config.queue_limit)
        self._tasks: list[asyncio.Task[None]] = []
        self.witness = Witness(self)

    def count(self, name: str, amount: int = 1) -> None:
        self.counters.add("gossip", name, amount)

    # -- peer health ----------------------------------------------------------------

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def live_peers(self) -> list[str]:
        now = self._loop_time()
        return [p for p in self.peers if self.state[p].retry_at <= now]

    def peer_status(self) -> dict[str, dict[str, Any]]:
        """Each peer's state, by node id, for ``/local/status``."""
        now = self._loop_time()
        return {p: self.state[p].record(now) for p in self.peers if p in self.state}

    def _failed(self, peer: str, role: str, reason: str, detail: str) -> None:
        self.counters.add("peer_failures", f"{role}: {reason}")
        if peer in self._dropped:
            # A call that ended after its peer was dropped (a roster version removed
            # it): not a peer any more, so no state of one.
            log.info("%s failed (%s); no longer a peer", peer, detail)
            return
        # Witnessing may call a node that is not one of the peers (the subject of a
        # checkpoint another peer relayed): it has no backoff state to update.
        state = self.state.setdefault(peer, PeerState())
        state.failures += 1
        delay = min(self.config.backoff_cap_s, self.config.backoff_base_s * 2**state.failures)
        state.retry_at = self._loop_time() + delay * self.rng.uniform(0.5, 1.0)
        state.last_failure_ms = self.node.clock()
        state.last_failure = f"{role}: {detail}"[:300]
        log.info("peer %s failed (%s); retry in %.1f s", peer, detail, delay)

    def _succeeded(self, peer: str) -> None:
        if peer in self._dropped:
            return
        state = self.state.setdefault(peer, PeerState())
        if state.failures:
            log.info("peer %s is back", peer)
        state.failures = 0
        state.retry_at = 0.0
        state.last_contact_ms = self.node.clock()

    async def call(
        self,
        peer: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        role: str,
    ) -> dict[str, Any] | None:
        """One signed request; the decoded answer, or ``None`` (counted, and the peer
        backed off) on any failure."""
        raw = encode_body(body) if body is not None else b""
        self.counters.add("requests_out", f"{role} {_route(path)}")
        self.counters.add("bytes_out", role, len(raw))
        try:
            status, data = await self.transport.request(peer, method, path, raw)
        except TransportError as exc:
            self._failed(peer, role, "unreachable", exc.message)
            return None
        self.counters.add("bytes_in", role, len(data))
        if status != 200:
            try:
                message = decode_body(data, "error").get("error", "")
            except ProtocolError:
                message = ""
            # The peer's own words go into our log: quoted and cut, so that an answer
            # cannot add lines of its own (a fake "SPLIT VIEW", say) or fill the disk.
            quoted = repr(message[:200]) if isinstance(message, str) else "(no message)"
            self._failed(peer, role, f"HTTP {status}", f"HTTP {status} {quoted}")
            return None
        self._succeeded(peer)
        try:
            return decode_body(data, f"{path} response")
        except ProtocolError as exc:
            self._failed(peer, role, "bad response", exc.message)
            return None

    async def send_documents(self, documents: list[bytes], role: str) -> int:
        """Hand trust documents to every live peer at once (new prekey announcements, the
        certificate of this node's new key); returns how many peers answered."""
        body = {"documents": documents}
        replies = await asyncio.gather(
            *(self.call(p, "POST", "/v1/documents", body, role=role) for p in self.live_peers())
        )
        return sum(reply is not None for reply in replies)

    def retry_now(self, peer: str) -> None:
        """Forget ``peer``'s backoff: what made its calls fail here has changed (its
        certificate arrived, its endpoint changed)."""
        state = self.state.get(peer)
        if state is not None and state.failures:
            state.failures, state.retry_at = 0, 0.0

    def set_peers(self, peers: Iterable[str]) -> tuple[list[str], list[str]]:
        """Gossip with ``peers`` from now on (a roster version added or removed members);
        returns ``(added, dropped)``. A dropped peer is no longer chosen for anything;
        what is queued for the fanout goes to the peers of the moment."""
        new = sorted({p for p in peers if p != self.node.node_id})
        added = [p for p in new if p not in self.peers]
        dropped = [p for p in self.peers if p not in new]
        self.peers = new
        for peer in added:
            self.state[peer] = PeerState()
            self._dropped.discard(peer)
        for peer in dropped:
            self.state.pop(peer, None)
            self._dropped.add(peer)
        return added, dropped

    # -- push -----------------------------------------------------------------------

    async def push(self, envelopes: list[bytes], source: str | None) -> None:
        """Queue new envelopes for the fanout; never blocks the caller. If the queue is
        full the envelope is still stored here and anti-entropy will spread it."""
        for raw in envelopes:
            try:
                self.queue.put_nowait((raw, source))
            except asyncio.QueueFull:
                self.count("push_dropped")

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
        replies = await asyncio.gather(
            *(
                self.call(peer, "POST", "/v1/envelopes", {"envelopes": envelopes}, role="push")
                for peer in targets
            )
        )
        self.count("pushed", len(envelopes) * len(targets))
        self.count("push_accepted", sum(_accepted(reply) for reply in replies))

    # -- anti-entropy ---------------------------------------------------------------

    async def sync_with(self, peer: str) -> int:
        """One anti-entropy exchange with ``peer``; returns envelopes received."""
        received = 0
        view = self.node.view
        first_page = True
        while True:
            heads = await self.worker.call(view.heads)
            head_ids = await self.worker.call(view.head_ids)
            answer = await self.call(
                peer,
                "POST",
                "/v1/sync",
                {
                    "heads": [[k, v] for k, v in sorted(heads.items())],
                    "head_ids": [[k, v] for k, v in sorted(head_ids.items())],
                    "max_bytes": SYNC_PAGE_BYTES,
                },
                role="sync",
            )
            if answer is None:
                return received
            try:
                envelopes = get_bytes_list(answer, "envelopes")
                peer_heads = dict(get_pairs(answer, "heads", key_size=32))
                forks = get_bytes_list(answer, "forks", required=False)
                more = get_bool(answer, "more", False)
            except ProtocolError as exc:
                self._failed(peer, "sync", "bad response", exc.message)
                return received
            if first_page:
                self._note_lag(peer, heads, peer_heads)
                first_page = False
            if answer.get("docs_summary") != await self.worker.call(self.node.docs.summary):
                await self._sync_documents(peer)
            new = await self._ingest_synced(peer, envelopes)
            received += len(new)
            await self._confirm_own_chain(peer, peer_heads)
            await self._fetch_evidence(peer)
            for proof in forks:
                await self.worker.call(self.node.ingestor.add_fork_proof, proof)
            await self.witness.adopt_evidence(answer.get("split_views"))
            await self._push_back(peer, peer_heads)
            # Another page only if this one moved us on; a page we cannot place (an
            # author held after a fork, a full quarantine) would come back the same.
            if not more or not new:
                return received

    def _note_lag(self, peer: str, ours: dict[bytes, int], theirs: dict[bytes, int]) -> None:
        """How far apart the two logs were when the peer answered (chains are contiguous,
        so seq numbers count envelopes)."""
        state = self.state.setdefault(peer, PeerState())
        state.last_sync_ms = self.node.clock()
        state.missing_here = sum(max(0, s - ours.get(k, 0)) for k, s in theirs.items())
        state.missing_there = sum(max(0, s - theirs.get(k, 0)) for k, s in ours.items())

    async def _confirm_own_chain(self, peer: str, peer_heads: dict[bytes, int]) -> None:
        """After a restore: count the peer's word on where this node's own chain stands
        (``ilo_node/node/ownchain.py``); publishing resumes once every peer has given it."""
        own = self.node.own_chain
        if own is None or not own.held:
            return
        if await self.worker.call(own.heard_from, peer, peer_heads, self.peers):
            log.info(
                "every peer has given this restored node its own chain head: it publishes again"
            )

    async def _ingest_synced(self, peer: str, envelopes: list[bytes]) -> list[bytes]:
        if not envelopes:
            return []
        node = self.node
        results = await self.worker.call(node.ingest, envelopes, None, "sync", peer)
        new = [raw for raw, r in zip(envelopes, results, strict=True) if r.status == "accepted"]
        new += await self.worker.call(node.ingestor.take_placed_from_quarantine)
        self.count("synced_envelopes", len(new))
        if new:
            await self.push(new, peer)
        return new

    async def _fetch_evidence(self, peer: str) -> None:
        """Ask ``peer`` to prove that envelopes of revoked keys waiting here were
        witnessed before the compromise (docs/api.md, /v1/evidence)."""
        node = self.node
        ids = await self.worker.call(node.ingestor.quarantine.waiting_for_evidence)
        if not ids:
            return
        answer = await self.call(peer, "POST", "/v1/evidence", {"ids": ids}, role="sync")
        try:
            items = get_bytes_list(answer or {}, "evidence", required=False)
        except ProtocolError:
            return
        if items:
            self.count("evidence_added", await self.worker.call(node.add_evidence, items))

    async def _push_back(self, peer: str, peer_heads: dict[bytes, int]) -> None:
        """Push back what the peer lacks, in pages."""
        while True:
            missing, more = await self.worker.call(
                self.node.view.envelopes_beyond, peer_heads, SYNC_PAGE_BYTES
            )
            if not missing:
                return
            reply = await self.call(
                peer, "POST", "/v1/envelopes", {"envelopes": missing}, role="sync"
            )
            self.count("pushed_back", len(missing))
            self.count("pushed_back_accepted", _accepted(reply))
            if reply is None or not more:
                return
            peer_heads = _heads_after(peer_heads, missing)

    async def _sync_documents(self, peer: str) -> None:
        docs = self.node.docs
        my_digests = sorted(await self.worker.call(docs.by_digest))
        answer = await self.call(
            peer, "POST", "/v1/documents/diff", {"docs": my_digests}, role="sync"
        )
        if answer is None:
            return
        try:
            documents = get_bytes_list(answer, "documents")
            theirs = set(get_bytes_list(answer, "docs", size=16))
        except ProtocolError as exc:
            self._failed(peer, "sync", "bad response", exc.message)
            return
        if documents:
            await self.worker.call(self.node.add_documents, documents)
        mine = await self.worker.call(docs.by_digest)
        missing = [data for digest, data in sorted(mine.items()) if digest not in theirs]
        if missing:
            await self.call(peer, "POST", "/v1/documents", {"documents": missing}, role="sync")

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sync_interval_s * self.rng.uniform(0.5, 1.5))
            live = self.live_peers()
            if live:
                await self.sync_with(self.rng.choice(live))

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.checkpoint_interval_s * self.rng.uniform(0.8, 1.2))
            if self.node.signing is not None:
                await self.worker.call(self.node.checkpoint)
            await self.witness.round()

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        for loop_fn in (self._push_loop, self._sync_loop, self._checkpoint_loop):
            self._tasks.append(asyncio.create_task(self._guard(loop_fn)))
        own = self.node.own_chain
        if own is not None and own.held:
            self._tasks.append(asyncio.create_task(self._own_chain_at_start()))

    async def _own_chain_at_start(self) -> None:
        # Peers heard from before a restart still count; a node without peers has nobody
        # to wait for.
        own = self.node.own_chain
        if own is not None and await self.worker.call(own.release_if_confirmed, self.peers):
            log.info("this restored node has heard from every peer already: it publishes again")

    async def _guard(self, loop_fn: Callable[[], Awaitable[None]]) -> None:
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


def _accepted(reply: dict[str, Any] | None) -> int:
    """How many envelopes of a push the peer accepted as new (0 if it did not answer)."""
    results = reply.get("results") if reply is not None else None
    if not isinstance(results, list):
        return 0
    return sum(1 for r in results if isinstance(r, list) and r and r[0] == "accepted")


def _heads_after(heads: dict[bytes, int], sent: list[bytes]) -> dict[bytes, int]:
    """The peer's heads once it placed ``sent`` (our own, already verified, envelopes)."""
    updated = dict(heads)
    for raw in sent:
        header = Envelope.from_bytes(raw).header
        updated[header.author_key] = max(updated.get(header.author_key, 0), header.seq)
    return updated
