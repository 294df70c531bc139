"""Gossip over in-memory networks: real nodes on temporary homes, each with a
PeerService and a Gossip, joined by MemoryTransport.

Most tests drive gossip by hand (``sync_with``, ``witness``, ``_send_batch`` on
what the push queues hold) so that every run does the same thing; one test runs
the real loops with tiny intervals. pytest-asyncio is not used: each test is a
sync function around ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ilo_node.home.home import Home, now_ms
from ilo_node.net.gossip import Gossip, GossipConfig
from ilo_node.net.peerauth import PeerIdentity
from ilo_node.net.ratelimit import RateLimiter
from ilo_node.net.service import PeerService
from ilo_node.net.transport import MemoryTransport
from ilo_node.net.wire import MAX_BODY_BYTES, decode_body, encode_body
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from ilo_node.node.state import QuarantineLimits
from keys.keystore import generate_encryption_key
from keys.prekeys import PrekeySchedule, announce_prekey
from protocol.checkpoint import (
    Checkpoint,
    SignedCheckpoint,
    sign_checkpoint,
    verify_cosignature,
)
from protocol.crypto import sha256
from protocol.envelope import Envelope, seal
from protocol.examples import example
from protocol.signed import SignedDocument
from tests.support.memkeys import Built, build_in_memory

T = TypeVar("T")

NODES = ["COM@EU", "DE@TR", "FR@TR", "IT@TR", "NL@TR", "ES@TR"]
DE, FR, IT, NL, COM = "DE@TR", "FR@TR", "IT@TR", "NL@TR", "COM@EU"


# -- an in-memory network -----------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One built network for the module, private keys in memory (see memkeys)."""
    return build_in_memory(tmp_path_factory.mktemp("gossip") / "net", NODES)


class Mesh:
    """Nodes (fresh, empty logs) each with a worker, a PeerService and a Gossip; every
    node has every other node in the mesh as a peer."""

    def __init__(
        self,
        built: Built,
        base: Path,
        names: list[str],
        config: GossipConfig | None = None,
        *,
        rate: float = 200.0,
        burst: float = 400.0,
    ) -> None:
        self.built = built
        self.names = names
        self.services: dict[str, PeerService] = {}
        self.nodes: dict[str, Node] = {}
        self.workers: dict[str, NodeWorker] = {}
        self.gossips: dict[str, Gossip] = {}
        self.transports: dict[str, MemoryTransport] = {}
        for i, name in enumerate(names):
            target = base / name
            shutil.copytree(
                built.network.nodes[name].path, target, ignore=shutil.ignore_patterns("node.db*")
            )
            node = Node(Home(target), None)
            node.signing = built.signing(name)
            worker = NodeWorker(node)
            transport = MemoryTransport(
                PeerIdentity(name, node.signing.reveal()), node.clock, self.services
            )
            gossip = Gossip(
                worker,
                transport,
                [p for p in names if p != name],
                config,
                random.Random(1000 + i),
            )
            self.services[name] = PeerService(worker, gossip.push, rate=rate, burst=burst)
            self.nodes[name] = node
            self.workers[name] = worker
            self.gossips[name] = gossip
            self.transports[name] = transport

    def close(self) -> None:
        for name in self.names:
            self.workers[name].close()
            self.nodes[name].close()

    # Every call into a node goes through its worker thread, as in the daemon.
    async def on(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        return await self.workers[name].call(fn, *args)

    async def publish(self, name: str, count: int = 1, *, push: bool = True) -> list[bytes]:
        node = self.nodes[name]

        def many() -> list[bytes]:
            return [
                node.publish("incident_alert", example("incident_alert"))[0].to_bytes()
                for _ in range(count)
            ]

        sent = await self.on(name, many)
        if push:
            await self.gossips[name].push(sent, None)
        return sent

    async def drain(self) -> int:
        """Send what the push queues hold, one envelope per batch, until nothing is
        relayed any more; returns how many batches were sent."""
        batches = 0
        while True:
            busy = False
            for gossip in self.gossips.values():
                while not gossip.queue.empty():
                    await gossip._send_batch([gossip.queue.get_nowait()])
                    batches += 1
                    busy = True
            if not busy:
                return batches

    def down(self, name: str) -> None:
        for transport in self.transports.values():
            transport.down.add(name)

    def heal(self, name: str) -> None:
        for transport in self.transports.values():
            transport.down.discard(name)

    async def ids(self, name: str) -> set[bytes]:
        rows = await self.on(name, lambda: self.nodes[name].db.execute("SELECT id FROM envelopes"))
        return {bytes(r[0]) for r in rows}

    async def counts(self, name: str) -> dict[str, int]:
        return await self.on(name, self.nodes[name].view.counts)

    async def request(
        self, sender: str, to: str, method: str, path: str, body: bytes = b""
    ) -> tuple[int, dict[str, Any]]:
        """A request signed by ``sender``, handed straight to ``to``'s service."""
        headers = self.transports[sender].headers(method, path, body, to)
        status, data = await self.services[to].handle(method, path, headers, body)
        return status, decode_body(data, "response")


@pytest.fixture
def mesh(built: Built, tmp_path: Path) -> Iterator[Callable[..., Mesh]]:
    made: list[Mesh] = []

    def make(names: list[str] | None = None, config: GossipConfig | None = None, **kw: Any) -> Mesh:
        m = Mesh(built, tmp_path / f"mesh{len(made)}", names or NODES, config, **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


def _exchanged_bytes(gossip: Gossip) -> int:
    """Body bytes of every peer request this node's gossip made, both ways."""
    snapshot = gossip.counters.snapshot()
    return sum(snapshot.get("bytes_out", {}).values()) + sum(snapshot.get("bytes_in", {}).values())


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    """Run one test scenario; a gossip exchange that never ends fails the test instead
    of hanging the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


# -- push -----------------------------------------------------------------------------------


def test_push_reaches_every_node_with_about_fanout_copies_each(mesh: Callable[..., Mesh]) -> None:
    fanout, rounds = 3, 12
    m = mesh(config=GossipConfig(fanout=fanout))

    async def scenario() -> None:
        authors = [DE, FR, COM]
        for i in range(rounds):
            await m.publish(authors[i % len(authors)])
            await m.drain()
        for name in NODES:
            assert m.nodes[name].size() == rounds, name
        # Every node relays each envelope once, to `fanout` peers: fanout copies per node
        # on average (flooding would deliver len(NODES) - 1 = 5).
        received = {n: m.nodes[n].counters.get("push_copies", "received") for n in NODES}
        assert sum(received.values()) == fanout * len(NODES) * rounds
        pushed = sum(g.counters.get("gossip", "pushed") for g in m.gossips.values())
        assert pushed == fanout * len(NODES) * rounds
        for name, copies in received.items():
            assert 0.5 * fanout <= copies / rounds <= 1.5 * fanout, (name, copies)
        for name in NODES:
            assert (await m.counts(name))["quarantined"] == 0

    run(scenario())


def test_push_is_not_sent_back_to_its_source(mesh: Callable[..., Mesh]) -> None:
    m = mesh([DE, FR, IT], GossipConfig(fanout=1))

    async def scenario() -> None:
        await m.publish(DE)
        await m.drain()
        # DE → one peer → the third; nobody sends it back the way it came.
        assert all(m.nodes[n].size() == 1 for n in (DE, FR, IT))
        assert m.nodes[DE].counters.get("push_copies", "received") <= 1
        assert sum(s.counters.get("push_copies", "received") for s in m.nodes.values()) == 3

    run(scenario())


def test_running_loops_converge_push_sync_and_witnessing(mesh: Callable[..., Mesh]) -> None:
    config = GossipConfig(
        fanout=2, sync_interval_s=0.05, checkpoint_interval_s=0.1, push_linger_s=0.005
    )
    m = mesh([COM, DE, FR, IT, NL], config)

    async def scenario() -> None:
        for gossip in m.gossips.values():
            gossip.start()
        try:
            for author in (DE, NL, COM):
                await m.publish(author, 4)

            async def converged() -> bool:
                sizes = {m.nodes[n].size() for n in m.names}
                cosigned = all(g.counters.get("gossip", "cosigned") > 0 for g in m.gossips.values())
                return sizes == {12} and cosigned

            await eventually(converged)
        finally:
            for gossip in m.gossips.values():
                await gossip.stop()
        reference = await m.ids(DE)
        for name in m.names:
            assert await m.ids(name) == reference
            counts = await m.counts(name)
            assert counts["quarantined"] == counts["forks"] == 0
            assert m.gossips[name].counters.get("gossip", "split_views") == 0

    run(scenario())


# -- anti-entropy -----------------------------------------------------------------------------


def test_one_sync_heals_a_partition_both_ways(mesh: Callable[..., Mesh]) -> None:
    m = mesh([COM, DE, FR, IT])

    async def scenario() -> None:
        m.down(FR)
        from_de = await m.publish(DE, 30)
        from_fr = await m.publish(FR, 7)
        await m.drain()
        assert m.nodes[FR].size() == 7
        assert all(m.nodes[n].size() == 30 for n in (COM, DE, IT))
        m.heal(FR)
        assert m.gossips[FR].peer_status()[DE]["last_sync_ms"] is None
        assert await m.gossips[FR].sync_with(DE) == 30
        # How far apart the two logs were, as /local/status shows it.
        seen = m.gossips[FR].peer_status()[DE]
        assert (seen["missing_here"], seen["missing_there"]) == (30, 7)
        assert seen["last_sync_ms"] is not None and seen["last_contact_ms"] is not None
        want = {Envelope.from_bytes(r).id for r in from_de + from_fr}
        assert await m.ids(FR) == want
        # FR pushed back what DE lacked in the same exchange.
        assert await m.ids(DE) == want
        assert m.gossips[FR].counters.get("gossip", "synced_envelopes") == 30
        # A second sync finds nothing to do, and nothing apart.
        assert await m.gossips[FR].sync_with(DE) == 0
        seen = m.gossips[FR].peer_status()[DE]
        assert (seen["missing_here"], seen["missing_there"]) == (0, 0)

    run(scenario())


def test_counters_say_which_copies_peers_accepted_from_push_and_push_back(
    mesh: Callable[..., Mesh],
) -> None:
    m = mesh([DE, FR, IT], GossipConfig(fanout=1))

    def total(name: str) -> int:
        return sum(m.gossips[n].counters.get("gossip", name) for n in (DE, FR, IT))

    async def scenario() -> None:
        await m.publish(DE)
        await m.drain()
        # DE → one peer → the third → back to DE: three copies, new to two of them.
        assert total("pushed") == 3
        assert total("push_accepted") == 2
        # Envelopes only FR holds reach DE as FR's push-back in FR's sync with DE.
        await m.publish(FR, 5, push=False)
        assert await m.gossips[FR].sync_with(DE) == 0
        assert m.gossips[FR].counters.get("gossip", "pushed_back") == 5
        assert m.gossips[FR].counters.get("gossip", "pushed_back_accepted") == 5
        assert m.nodes[DE].counters.get("ingest", "push.accepted") == 5

    run(scenario())


def test_sync_bytes_grow_with_the_difference_not_the_log(mesh: Callable[..., Mesh]) -> None:
    m = mesh([DE, FR, IT])

    async def scenario() -> None:
        log = await m.publish(DE, 300, push=False)
        total = sum(map(len, log))
        await m.on(FR, m.nodes[FR].ingest, log[:-1])  # FR misses 1
        await m.on(IT, m.nodes[IT].ingest, log[:-50])  # IT misses 50
        exchanged = {}
        for name, missing in ((FR, log[-1:]), (IT, log[-50:])):
            gossip = m.gossips[name]
            assert await gossip.sync_with(DE) == len(missing)
            exchanged[name] = _exchanged_bytes(gossip)
            missing_bytes = sum(map(len, missing))
            assert missing_bytes <= exchanged[name] <= 1.1 * missing_bytes + 4096, (
                name,
                exchanged[name],
                missing_bytes,
            )
        assert exchanged[FR] < 0.02 * total
        # The 49 extra envelopes account for the extra bytes, nearly byte for byte.
        extra = sum(map(len, log[-50:-1]))
        assert extra <= exchanged[IT] - exchanged[FR] <= 1.05 * extra

    run(scenario())


# -- trust documents ----------------------------------------------------------------------------


def test_new_prekey_announcement_spreads_and_takes_effect(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    m = mesh([DE, FR, IT])
    now = now_ms()
    schedule = PrekeySchedule()
    epoch = schedule.epoch_at(now)
    prekey = generate_encryption_key()
    announcement = announce_prekey(
        network=built.network.network,
        node=DE,
        epoch=epoch,
        public=prekey.public,
        schedule=schedule,
        signing_seed=built.signing(DE).reveal(),
        issued_ms=now,
    )

    async def scenario() -> None:
        de = m.nodes[DE]
        assert await m.on(DE, de.docs.add, announcement) == "added"
        de.prekey_secrets[prekey.public] = prekey.reveal()
        before = await m.on(FR, m.nodes[FR].trust.current_prekey, DE, now_ms())
        assert before.key != prekey.public
        await m.gossips[FR].sync_with(DE)
        await m.gossips[IT].sync_with(FR)  # second hand
        for name in (FR, IT):
            current = await m.on(name, m.nodes[name].trust.current_prekey, DE, now_ms())
            assert current.key == prekey.public, name
            assert sha256(announcement)[:16] in await m.on(name, m.nodes[name].docs.by_digest)
        # It takes effect: what FR now seals for DE, DE opens with the new prekey.
        (raw,) = await m.publish(FR, push=False)
        (result,) = await m.on(DE, de.ingest, [raw])
        assert result.status == "accepted" and "decrypted" in result.reason
        assert await m.on(DE, de.view.read, Envelope.from_bytes(raw).id) is not None

    run(scenario())


def _revocation(built: Built, node: str, compromised_at_ms: int) -> bytes:
    return (
        SignedDocument.create(
            "revocation",
            {
                "network": built.network.network,
                "node": node,
                "key": built.signing(node).public,
                "compromised_at_ms": compromised_at_ms,
                "issued_ms": compromised_at_ms + 1,
                "reason": "laptop stolen",
            },
        )
        .signed_by(built.authority(node.split("@", maxsplit=1)[0]).reveal())
        .to_bytes()
    )


def test_revocation_spreads_and_refuses_the_authors_later_envelopes(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    m = mesh([COM, DE, FR, IT, NL])

    async def scenario() -> None:
        before = await m.publish(DE, 2, push=False)
        for name in (COM, FR, IT, NL):
            await m.on(name, m.nodes[name].ingest, before)
        revocation = _revocation(built, DE, now_ms())
        assert await m.on(COM, m.nodes[COM].docs.add, revocation) == "added"
        await m.gossips[FR].sync_with(COM)
        await m.gossips[IT].sync_with(FR)
        for name in (FR, IT):
            assert built.signing(DE).public in m.nodes[name].trust.revocations, name
            assert list(m.nodes[name].home.revocation_dir.glob("*.rev")), name
        # DE (which does not know) writes again; NL has not synced yet and takes it.
        (after,) = await m.publish(DE, push=False)
        await m.on(NL, m.nodes[NL].ingest, [after])
        # NL relays it: FR and IT refuse it as written with a revoked key.
        for name in (FR, IT):
            status, body = await m.request(NL, name, "POST", "/v1/envelopes", _push(after))
            assert status == 200
            assert body["results"][0][0] == "rejected" and "revoked" in body["results"][0][1]
            assert await m.ids(name) == {Envelope.from_bytes(r).id for r in before}
        # DE itself can no longer talk to its peers: its key is refused at the door.
        status, body = await m.request(DE, FR, "POST", "/v1/envelopes", _push(after))
        assert status == 403 and "revoked" in body["error"]
        assert await m.gossips[DE].sync_with(FR) == 0
        assert m.gossips[DE].state[FR].failures == 1
        # Everyone ends with the same documents.
        await m.gossips[NL].sync_with(IT)
        docs = {n: set(await m.on(n, m.nodes[n].docs.by_digest)) for n in (COM, FR, IT, NL)}
        assert len({frozenset(d) for d in docs.values()}) == 1

    run(scenario())


def test_envelope_first_seen_after_its_keys_revocation_passes_with_evidence(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    """FR's key is stolen. IT, offline meanwhile, hears of FR's earlier envelope only
    after the revocation: it holds it until DE proves (its checkpoint, signed before
    the compromise) that the envelope existed before; the thief's back-dated one has
    no such proof and is never accepted."""
    m = mesh([DE, FR, IT])

    async def scenario() -> None:
        m.down(IT)
        (before,) = await m.publish(FR)
        await m.drain()
        before_id = Envelope.from_bytes(before).id
        assert before_id in await m.ids(DE)
        await m.on(DE, m.nodes[DE].checkpoint)
        compromised = now_ms() + 1_000
        # The thief, holding FR's key after the theft, writes as if before it.
        fr = m.nodes[FR]
        assert fr.signing is not None
        back_dated = seal(
            signing_seed=fr.signing.reveal(),
            network=fr.network,
            kind="incident_alert",
            author_node=FR,
            seq=2,
            prev=before_id,
            created_ms=Envelope.from_bytes(before).header.created_ms + 1,
            distribution="local",
            recipient_keys={FR: [fr.trust.current_prekey(FR, fr.clock()).key]},
            handling="H1",
            content=example("incident_alert"),
        ).to_bytes()
        revocation = _revocation(built, FR, compromised)
        for name in (DE, IT):
            assert await m.on(name, m.nodes[name].docs.add, revocation) == "added"
        m.heal(IT)
        results = await m.on(DE, m.nodes[DE].ingest, [back_dated])
        assert results[0].status == "quarantined" and "witnessed" in results[0].reason
        await m.gossips[IT].sync_with(DE)
        assert before_id in await m.ids(IT)
        assert m.gossips[IT].counters.get("gossip", "evidence_added") == 1
        assert Envelope.from_bytes(back_dated).id not in await m.ids(DE) | await m.ids(IT)
        # What IT kept proves the time with DE's word, not FR's.
        row = await m.on(
            IT,
            lambda: (
                m.nodes[IT]
                .db.execute("SELECT witnessed_ms FROM evidence WHERE envelope_id = ?", [before_id])
                .fetchone()
            ),
        )
        assert row is not None and row[0] < compromised

    run(scenario())


def test_quarantine_is_bounded_per_author_and_per_sender(built: Built, tmp_path: Path) -> None:
    """A flood from one author or one peer cannot fill the quarantine for the others;
    what does not fit is not stored (the sender keeps it) and is counted."""
    base = tmp_path / "node"
    shutil.copytree(built.network.nodes[IT].path, base, ignore=shutil.ignore_patterns("node.db*"))
    limits = QuarantineLimits(total=100, per_author=3, per_sender=5)
    node = Node(Home(base), None, quarantine_limits=limits)
    try:
        author = built.signing(DE)
        # Out-of-order envelopes (seq 2, 3, ...) of one author wait for seq 1.
        chain = _chain(built, DE, 8)
        results = node.ingest(chain[1:], sender=NL)
        statuses = [r.status for r in results]
        assert statuses == ["quarantined"] * 3 + ["deferred"] * 4, statuses
        assert node.counters.get("quarantine_refused", "author") == 4
        # Another author from the same peer fits until the sender's share is used.
        other = _chain(built, FR, 6)
        results = node.ingest(other[1:], sender=NL)
        assert [r.status for r in results] == ["quarantined"] * 2 + ["deferred"] * 3
        assert node.counters.get("quarantine_refused", "sender") == 3
        # A different peer is not blocked by NL's share.
        assert node.ingest([other[3]], sender=COM)[0].status == "quarantined"
        assert author.public in {
            bytes(r[0]) for r in node.db.execute("SELECT author_key FROM quarantine")
        }
    finally:
        node.close()


def _chain(built: Built, author: str, count: int) -> list[bytes]:
    """``count`` envelopes of one chain by ``author``, to IT, sealed offline."""
    signing = built.signing(author)
    node = Node(built.network.nodes[author], None, writer=False)
    try:
        key = node.trust.current_prekey(IT, now_ms()).key
    finally:
        node.close()
    out: list[bytes] = []
    prev: bytes | None = None
    for seq in range(1, count + 1):
        envelope = seal(
            signing_seed=signing.reveal(),
            network=built.network.network,
            kind="incident_alert",
            author_node=author,
            seq=seq,
            prev=prev,
            created_ms=now_ms(),
            distribution="local",
            recipient_keys={IT: [key]},
            handling="H1",
            content=example("incident_alert"),
        )
        prev = envelope.id
        out.append(envelope.to_bytes())
    return out


def _push(*envelopes: bytes) -> bytes:
    return encode_body({"envelopes": list(envelopes)})


def _large_alert() -> dict[str, Any]:
    """A smuggling_network_alert filled to its schema's limits: about 200 KB sealed
    (random CJK text, three bytes a character, does not compress)."""
    rnd = random.Random(7)

    def text(n: int) -> str:
        return "".join(chr(rnd.randrange(0x4E00, 0x9FFF)) for _ in range(n))

    content = example("smuggling_network_alert")
    content["modus_operandi"] = text(20_000)
    content["routes"] = [text(300) for _ in range(50)]
    content["linked_networks"] = [text(200) for _ in range(50)]
    content["known_members"] = [text(200) for _ in range(100)]
    return content


async def _publish_large(m: Mesh, name: str, count: int) -> list[bytes]:
    content = _large_alert()
    node = m.nodes[name]
    return await m.on(
        name,
        lambda: [
            node.publish("smuggling_network_alert", content)[0].to_bytes() for _ in range(count)
        ],
    )


def test_a_burst_of_large_envelopes_is_pushed_within_the_body_limit(
    mesh: Callable[..., Mesh],
) -> None:
    m = mesh([DE, FR], GossipConfig(sync_interval_s=1000, checkpoint_interval_s=1000))

    async def scenario() -> None:
        sent = await _publish_large(m, DE, 88)
        assert sum(map(len, sent)) > MAX_BODY_BYTES
        gossip = m.gossips[DE]
        await gossip.push(sent, None)  # as a sync that brought them in would
        gossip.start()
        try:
            await eventually(lambda: _push_settled(m, DE, FR, len(sent)))
        finally:
            await gossip.stop()
        assert gossip.state[FR].failures == 0
        assert m.nodes[FR].size() == len(sent)

    run(scenario())


async def _push_settled(m: Mesh, sender: str, receiver: str, size: int) -> bool:
    """The sender's queue is empty and the receiver either has everything or failed."""
    gossip = m.gossips[sender]
    done = m.nodes[receiver].size() == size or gossip.state[receiver].failures > 0
    return gossip.queue.empty() and done


# -- fork proofs ----------------------------------------------------------------------------------


def _twin(m: Mesh, first: bytes) -> bytes:
    """A second envelope DE signs at the seq of ``first``: an equivocation."""
    de, header = m.nodes[DE], Envelope.from_bytes(first).header
    assert de.signing is not None
    return seal(
        signing_seed=de.signing.reveal(),
        network=de.network,
        kind="incident_alert",
        author_node=DE,
        seq=header.seq,
        prev=header.prev,
        created_ms=header.created_ms,
        distribution="local",
        recipient_keys={FR: [de.trust.current_prekey(FR, de.clock()).key]},
        handling="H3",
        content=example("incident_alert"),
    ).to_bytes()


def test_fork_proof_spreads_and_holds_the_author(mesh: Callable[..., Mesh]) -> None:
    m = mesh([DE, FR, IT, NL])

    async def scenario() -> None:
        (first,) = await m.publish(DE, push=False)
        twin = _twin(m, first)
        (later,) = await m.publish(DE, push=False)
        statuses = [r.status for r in await m.on(FR, m.nodes[FR].ingest, [first, twin])]
        assert statuses == ["accepted", "fork"]
        await m.on(IT, m.nodes[IT].ingest, [first])  # IT has DE's envelope, not the proof
        await m.gossips[IT].sync_with(FR)
        await m.gossips[NL].sync_with(IT)  # NL has nothing of DE: learns both from IT
        for name in (IT, NL):
            counts = await m.counts(name)
            assert counts["forks"] == 1 and counts["authors_held"] == 1, (name, counts)
            (result,) = await m.on(name, m.nodes[name].ingest, [later])
            assert result.status == "quarantined" and "equivocated" in result.reason

    run(scenario())


def test_equivocation_split_between_two_nodes_meets_in_a_sync(mesh: Callable[..., Mesh]) -> None:
    """FR holds one of DE's two envelopes at seq 1, IT the other; neither knows of a fork
    until a sync brings the two together."""
    m = mesh([DE, FR, IT])

    async def scenario() -> None:
        (first,) = await m.publish(DE, push=False)
        twin = _twin(m, first)
        assert (await m.on(FR, m.nodes[FR].ingest, [first]))[0].status == "accepted"
        assert (await m.on(IT, m.nodes[IT].ingest, [twin]))[0].status == "accepted"
        await m.gossips[IT].sync_with(FR)
        assert (await m.counts(IT))["forks"] == 1
        assert (await m.counts(IT))["authors_held"] == 1
        await m.gossips[FR].sync_with(IT)  # FR learns it from IT's proof
        assert (await m.counts(FR))["forks"] == 1
        assert (await m.counts(FR))["authors_held"] == 1

    run(scenario())


def test_fork_proof_received_before_the_authors_envelopes_still_holds_them(
    mesh: Callable[..., Mesh],
) -> None:
    m = mesh([DE, FR, IT])

    async def scenario() -> None:
        (first,) = await m.publish(DE, push=False)
        twin = _twin(m, first)
        (later,) = await m.publish(DE, push=False)
        await m.on(FR, m.nodes[FR].ingest, [first, twin])
        (proof,) = await m.on(FR, m.nodes[FR].view.fork_proofs)
        # IT gets the proof first (say from a peer whose copies of DE's envelopes are
        # still in quarantine), then DE's envelopes.
        assert await m.on(IT, m.nodes[IT].ingestor.add_fork_proof, proof)
        results = await m.on(IT, m.nodes[IT].ingest, [first, later])
        assert [r.status for r in results][1] == "quarantined"
        assert (await m.counts(IT))["authors_held"] == 1

    run(scenario())


def test_sync_returns_when_a_full_page_cannot_be_placed(mesh: Callable[..., Mesh]) -> None:
    """A full page ('more': true) of envelopes this node cannot place (an author held
    after equivocating) leaves its heads where they were: asking again would bring the
    same page back forever."""
    m = mesh([DE, FR, NL])

    async def scenario() -> None:
        log = await _publish_large(m, DE, 24)  # a little over one 4 MiB page after seq 1
        await m.on(FR, m.nodes[FR].ingest, log)
        # NL saw DE equivocate at seq 1: it holds everything DE writes after that.
        results = await m.on(NL, m.nodes[NL].ingest, [log[0], _twin(m, log[0])])
        assert [r.status for r in results] == ["accepted", "fork"]
        gossip = m.gossips[NL]
        received = await asyncio.wait_for(gossip.sync_with(FR), timeout=3.0)
        assert received == 0
        assert _exchanged_bytes(gossip) < 2 * sum(map(len, log))

    run(scenario())


def test_push_back_larger_than_a_page_goes_in_pages(mesh: Callable[..., Mesh]) -> None:
    m = mesh([DE, FR])

    async def scenario() -> None:
        log = await _publish_large(m, DE, 24)  # over 4 MiB: two pages
        posts = sum(m.nodes[FR].counters.snapshot().get("served_requests", {}).values())
        assert await m.gossips[DE].sync_with(FR) == 0
        assert await m.ids(FR) == {Envelope.from_bytes(r).id for r in log}
        # one /v1/sync, then the push-back in two /v1/envelopes requests
        assert sum(m.nodes[FR].counters.snapshot().get("served_requests", {}).values()) - posts == 3
        assert m.nodes[FR].counters.get("push_copies", "received") == 24

    run(scenario())


def test_full_push_queue_drops_and_counts(mesh: Callable[..., Mesh]) -> None:
    m = mesh([DE, FR], GossipConfig(queue_limit=2))

    async def scenario() -> None:
        await m.publish(DE, 5)
        gossip = m.gossips[DE]
        assert gossip.queue.qsize() == 2 and gossip.counters.get("gossip", "push_dropped") == 3
        # What was dropped is still stored, and anti-entropy spreads it.
        await m.drain()
        await m.gossips[FR].sync_with(DE)
        assert m.nodes[FR].size() == 5

    run(scenario())


# -- backoff --------------------------------------------------------------------------------------


def test_down_peer_backs_off_then_is_used_again(mesh: Callable[..., Mesh]) -> None:
    config = GossipConfig(fanout=1, backoff_base_s=0.05, backoff_cap_s=0.6)
    m = mesh([DE, FR], config)

    async def scenario() -> None:
        de, loop = m.gossips[DE], asyncio.get_running_loop()
        m.down(FR)
        for failures in range(1, 6):
            before = loop.time()
            assert await de.sync_with(FR) == 0
            state = de.state[FR]
            assert state.failures == failures
            # Exponential, capped, with jitter between half and all of the delay.
            nominal = min(config.backoff_cap_s, config.backoff_base_s * 2**failures)
            assert before + 0.5 * nominal <= state.retry_at <= loop.time() + nominal
            shown = de.peer_status()[FR]
            assert shown["failures"] == failures and 0 <= shown["backoff_s"] <= nominal
            if failures >= 3:  # long enough not to have run out by now
                assert shown["backoff_s"] > 0
            assert shown["last_failure"].startswith("sync: ") and shown["last_failure_ms"]
            assert shown["last_contact_ms"] is None and shown["last_sync_ms"] is None
        assert de.live_peers() == []
        # Back, but still inside its backoff: pushes skip it.
        m.heal(FR)
        await m.publish(DE)
        await m.drain()
        assert sum(m.nodes[FR].counters.snapshot().get("served_requests", {}).values()) == 0
        assert m.nodes[FR].size() == 0
        await asyncio.sleep(max(0.0, de.state[FR].retry_at - loop.time()) + 0.01)
        assert de.live_peers() == [FR]
        await m.publish(DE)
        await m.drain()
        assert m.nodes[FR].counters.get("push_copies", "received") == 1
        assert de.state[FR].failures == 0 and de.state[FR].retry_at == 0.0
        shown = de.peer_status()[FR]
        assert shown["backoff_s"] == 0 and shown["last_contact_ms"] is not None
        assert await de.sync_with(FR) == 0
        assert m.nodes[FR].size() == 2  # the first one came with the sync push-back

    run(scenario())


# -- witnessing ----------------------------------------------------------------------------------


async def _cosignatures(m: Mesh, name: str) -> set[tuple[int, str]]:
    rows = await m.on(
        name, lambda: m.nodes[name].db.execute("SELECT size, witness FROM cosignatures")
    )
    return {(int(r[0]), r[1]) for r in rows}


async def _witnessed(m: Mesh, name: str, origin_node: str) -> list[int]:
    origin = m.nodes[origin_node].log.origin
    rows = await m.on(
        name,
        lambda: m.nodes[name].db.execute(
            "SELECT size FROM witnessed WHERE origin = ? ORDER BY size", [origin]
        ),
    )
    return [int(r[0]) for r in rows]


def test_witness_stores_checkpoints_and_cosignatures_reach_the_origin(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    m = mesh([DE, FR, IT])

    async def scenario() -> None:
        de = m.nodes[DE]
        await m.gossips[FR].witness.witness(DE)  # no checkpoint yet: nothing happens
        assert await _witnessed(m, FR, DE) == []
        await m.publish(DE, 5, push=False)
        await m.on(DE, de.checkpoint)
        await m.gossips[FR].witness.witness(DE)
        assert await _witnessed(m, FR, DE) == [5]
        assert await _cosignatures(m, DE) == {(5, FR)}
        assert m.gossips[FR].counters.get("gossip", "cosigned") == 1
        # The log grows: the next checkpoint is checked for consistency, then cosigned.
        await m.publish(DE, 3, push=False)
        await m.on(DE, de.checkpoint)
        await m.gossips[FR].witness.witness(DE)
        await m.gossips[IT].witness.witness(DE)
        assert await _witnessed(m, FR, DE) == [5, 8]
        assert await _witnessed(m, IT, DE) == [8]
        assert await _cosignatures(m, DE) == {(5, FR), (8, FR), (8, IT)}
        # A stored cosignature verifies with the witness's key.
        note = await m.on(
            DE,
            lambda: de.db.execute(
                "SELECT note FROM cosignatures WHERE size = 8 AND witness = ?", [IT]
            ).fetchone()[0],
        )
        verify_cosignature(SignedCheckpoint.from_bytes(bytes(note)), IT, built.signing(IT).public)
        # Witnessing again without growth stores nothing new and finds no split view.
        await m.gossips[FR].witness.witness(DE)
        assert await _witnessed(m, FR, DE) == [5, 8]
        assert all(g.counters.get("gossip", "split_views") == 0 for g in m.gossips.values())

    run(scenario())


async def _serve(m: Mesh, name: str, *notes: bytes) -> None:
    """Make ``name`` serve exactly these (signed) checkpoints: a lying origin."""
    node = m.nodes[name]
    assert node.signing is not None
    signer_key = node.signing.public

    def replace() -> None:
        with node.db.conn:
            node.db.execute("DELETE FROM checkpoints")
            for note in notes:
                cp = SignedCheckpoint.from_bytes(note).checkpoint
                node.db.execute(
                    "INSERT INTO checkpoints (size, root, time_ms, signer_key, note) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [cp.size, cp.root, cp.time_ms, signer_key, note],
                )

    await m.on(name, replace)


def test_witness_catches_an_origin_that_rewrites_its_log(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    m = mesh([DE, FR])

    async def scenario() -> None:
        de, fr = m.nodes[DE], m.gossips[FR]
        seed = built.signing(DE).reveal()
        await m.publish(DE, 4, push=False)
        honest = await m.on(DE, de.checkpoint)
        await fr.witness.witness(DE)

        def lie(size: int, label: bytes) -> bytes:
            checkpoint = Checkpoint(de.log.origin, size, sha256(label), now_ms())
            return sign_checkpoint(checkpoint, DE, seed)

        async def reasons() -> list[str]:
            return sorted(v.reason for v in await m.on(FR, m.nodes[FR].witnessing.split_views))

        # Not signed by DE (FR's key under DE's name), or another node's log: refused.
        fake = Checkpoint(de.log.origin, 4, sha256(b"a"), now_ms())
        await _serve(m, DE, sign_checkpoint(fake, DE, built.signing(FR).reveal()))
        await fr.witness.witness(DE)
        other = Checkpoint(m.nodes[FR].log.origin, 4, sha256(b"b"), now_ms())
        await _serve(m, DE, sign_checkpoint(other, FR, built.signing(FR).reveal()))
        await fr.witness.witness(DE)
        assert await _witnessed(m, FR, DE) == [4] and await reasons() == []
        # Another root at the size FR witnessed.
        await _serve(m, DE, lie(4, b"same size"))
        await fr.witness.witness(DE)
        assert await reasons() == ["two roots for one size"]
        # A smaller log than FR witnessed.
        await _serve(m, DE, lie(2, b"shorter"))
        await fr.witness.witness(DE)
        assert await reasons() == ["the log shrank", "two roots for one size"]
        # A larger log that does not extend the one FR witnessed.
        await m.publish(DE, 2, push=False)
        await _serve(m, DE, honest, lie(6, b"rewritten"))
        await fr.witness.witness(DE)
        assert await reasons() == [
            "no valid consistency proof",
            "the log shrank",
            "two roots for one size",
        ]
        assert await _witnessed(m, FR, DE) == [4]  # none of the lies was accepted
        assert m.gossips[FR].counters.get("gossip", "cosigned") == 1

    run(scenario())


def test_split_view_is_found_when_two_witnesses_compare(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    m = mesh([DE, FR, IT, NL])

    async def scenario() -> None:
        de = m.nodes[DE]
        await m.publish(DE, 4, push=False)
        honest = await m.on(DE, de.checkpoint)
        await m.gossips[FR].witness.witness(DE)
        # DE now shows IT another log of the same size: a second root, signed by DE.
        real = SignedCheckpoint.from_bytes(honest).checkpoint
        other = Checkpoint(real.origin, real.size, sha256(b"another history"), real.time_ms + 1)
        forged = sign_checkpoint(other, DE, built.signing(DE).reveal())

        def serve_forged() -> None:
            with de.db.conn:
                de.db.execute(
                    "UPDATE checkpoints SET root = ?, note = ? WHERE size = ?",
                    [other.root, forged, other.size],
                )

        await m.on(DE, serve_forged)
        await m.gossips[IT].witness.witness(DE)
        assert await _witnessed(m, IT, DE) == [4]
        assert all(g.counters.get("gossip", "split_views") == 0 for g in m.gossips.values())
        # The witnesses witness each other and compare what they saw of third logs.
        await m.on(FR, m.nodes[FR].checkpoint)
        await m.on(IT, m.nodes[IT].checkpoint)
        await m.gossips[FR].witness.witness(IT)
        await m.gossips[IT].witness.witness(FR)
        for name in (FR, IT):
            views = await m.on(name, m.nodes[name].witnessing.split_views)
            assert len(views) == 1, name
            view = views[0]
            origin, a, b, reason = view.origin, view.note_a, view.note_b, view.reason
            assert origin == de.log.origin and {a, b} == {honest, forged}
            assert "two roots" in reason
            assert m.gossips[name].counters.get("gossip", "split_views") == 1
        # The evidence proves itself, so a third node adopts it from a sync.
        await m.gossips[NL].sync_with(FR)
        assert len(await m.on(NL, m.nodes[NL].witnessing.split_views)) == 1
        # And FR, asking DE again, is now served the other root at the same size:
        # the same evidence, not recorded twice.
        await m.gossips[FR].witness.witness(DE)
        assert len(await m.on(FR, m.nodes[FR].witnessing.split_views)) == 1

    run(scenario())


def test_inconsistent_checkpoints_of_different_sizes_are_a_split_view(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    """FR witnessed DE at size 4; IT is shown a size-6 checkpoint that does not extend it.
    Comparing with IT, FR asks DE for a consistency proof, which cannot match."""
    m = mesh([DE, FR, IT])

    async def scenario() -> None:
        de = m.nodes[DE]
        await m.publish(DE, 4, push=False)
        small = await m.on(DE, de.checkpoint)
        await m.gossips[FR].witness.witness(DE)
        await m.publish(DE, 2, push=False)
        bogus = Checkpoint(de.log.origin, 6, sha256(b"rewritten history"), now_ms())
        forged = sign_checkpoint(bogus, DE, built.signing(DE).reveal())
        assert de.signing is not None
        signer_key = de.signing.public

        def serve_forged() -> None:
            with de.db.conn:
                de.db.execute(
                    "INSERT INTO checkpoints (size, root, time_ms, signer_key, note) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [6, bogus.root, bogus.time_ms, signer_key, forged],
                )

        await m.on(DE, serve_forged)
        await m.gossips[IT].witness.witness(DE)
        assert await _witnessed(m, IT, DE) == [6]
        await m.on(IT, m.nodes[IT].checkpoint)
        await m.gossips[FR].witness.witness(IT)
        views = await m.on(FR, m.nodes[FR].witnessing.split_views)
        assert len(views) == 1
        origin, a, b, reason = views[0].origin, views[0].note_a, views[0].note_b, views[0].reason
        assert origin == de.log.origin and {a, b} == {small, forged}
        assert "consistency" in reason

    run(scenario())


def test_split_view_evidence_that_does_not_prove_itself_is_ignored(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    m = mesh([DE, FR])

    async def scenario() -> None:
        de = m.nodes[DE]
        await m.publish(DE, 2, push=False)
        honest = await m.on(DE, de.checkpoint)
        real = SignedCheckpoint.from_bytes(honest).checkpoint
        other = Checkpoint(real.origin, real.size, sha256(b"x"), real.time_ms)
        by_fr = sign_checkpoint(other, DE, built.signing(FR).reveal())  # not DE's key
        bigger = Checkpoint(real.origin, real.size + 1, sha256(b"y"), real.time_ms)
        larger = sign_checkpoint(bigger, DE, built.signing(DE).reveal())
        await m.gossips[FR].witness.adopt_evidence(
            [
                [de.log.origin, honest, honest],  # one checkpoint twice
                [de.log.origin, honest, by_fr],  # second one not signed by DE
                [de.log.origin, honest, larger],  # two sizes: not a contradiction by itself
                [de.log.origin, honest],  # malformed
                "garbage",
            ]
        )
        await m.gossips[FR].witness.adopt_evidence("not a list")
        assert await m.on(FR, m.nodes[FR].witnessing.split_views) == []

    run(scenario())


def test_a_second_log_signed_with_this_nodes_key_is_seen_by_the_node_itself(
    built: Built, mesh: Callable[..., Mesh]
) -> None:
    """A thief with DE's key shows FR another DE log. Only DE can tell that log from
    its own: it does when it reads what FR witnessed, and the same-size case is
    evidence that proves itself to a third node."""
    m = mesh([DE, FR, IT])

    async def scenario() -> None:
        de, fr = m.nodes[DE], m.nodes[FR]
        await m.publish(DE, 4, push=False)
        honest = SignedCheckpoint.from_bytes(await m.on(DE, de.checkpoint)).checkpoint
        seed = built.signing(DE).reveal()
        same_size = sign_checkpoint(
            Checkpoint(honest.origin, 4, sha256(b"thief"), honest.time_ms + 1), DE, seed
        )
        larger = sign_checkpoint(
            Checkpoint(honest.origin, 9, sha256(b"thief, later"), honest.time_ms + 2), DE, seed
        )

        def shown_to_fr(note: bytes) -> None:
            cp = SignedCheckpoint.from_bytes(note).checkpoint
            with fr.db.conn:
                fr.db.execute("DELETE FROM witnessed WHERE origin = ?", [cp.origin])
                fr.db.execute(
                    "INSERT INTO witnessed (origin, size, root, time_ms, note, received_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [cp.origin, cp.size, cp.root, cp.time_ms, note, now_ms()],
                )

        async def reasons(name: str) -> list[str]:
            return sorted(v.reason for v in await m.on(name, m.nodes[name].witnessing.split_views))

        await m.on(FR, fr.checkpoint)
        # FR witnessed DE's real log: nothing to say.
        await m.gossips[FR].witness.witness(DE)
        await m.gossips[DE].witness.witness(FR)
        assert await reasons(DE) == []
        # FR was shown the thief's log at DE's size, then a larger one.
        await m.on(FR, shown_to_fr, same_size)
        await m.gossips[DE].witness.witness(FR)
        assert await reasons(DE) == [
            "a checkpoint of this node's log with another root: its key signs another log"
        ]
        await m.on(FR, shown_to_fr, larger)
        await m.gossips[DE].witness.witness(FR)
        assert len(await reasons(DE)) == 2
        assert m.gossips[DE].counters.get("gossip", "split_views") == 2
        # The same-size case holds DE's own signed note at that size: IT adopts it.
        await m.gossips[IT].sync_with(DE)
        assert await reasons(IT) == ["two roots for one size (from a peer)"]

    run(scenario())


# -- the peer service: statuses -------------------------------------------------------------------


def test_peer_service_answers_bad_requests_with_the_right_status(
    mesh: Callable[..., Mesh],
) -> None:
    m = mesh([DE, FR, IT])

    async def scenario() -> None:
        fr = m.services[FR]
        status, data = await fr.handle("GET", "/v1/health", {}, b"")
        assert status == 200 and decode_body(data, "health")["node"] == FR
        # Unauthenticated: no headers, or headers of another request.
        for method, path in (("POST", "/v1/envelopes"), ("GET", "/v1/witnessed")):
            status, data = await fr.handle(method, path, {}, b"")
            assert status == 401, path
        headers = m.transports[DE].headers("POST", "/v1/sync", b"", FR)
        status, _ = await fr.handle("POST", "/v1/envelopes", headers, b"")
        assert status == 401
        # Signed for another node.
        headers = m.transports[DE].headers("GET", "/v1/witnessed", b"", IT)
        status, _ = await fr.handle("GET", "/v1/witnessed", headers, b"")
        assert status == 421
        # Replayed.
        headers = m.transports[DE].headers("GET", "/v1/witnessed", b"", FR)
        assert (await fr.handle("GET", "/v1/witnessed", headers, b""))[0] == 200
        assert (await fr.handle("GET", "/v1/witnessed", headers, b""))[0] == 409
        # Authenticated but malformed.
        cases: list[tuple[str, str, bytes, int]] = [
            ("POST", "/v1/envelopes", b"\xc1", 400),
            ("POST", "/v1/envelopes", b"", 400),
            ("POST", "/v1/envelopes", encode_body({"envelopes": "nope"}), 400),
            ("POST", "/v1/sync", encode_body({"heads": [[b"k", -1]]}), 400),
            ("POST", "/v1/sync", b"\x93\x01\x02\x03", 400),  # a list, not a map
            ("POST", "/v1/cosign", encode_body({"note": "text"}), 400),
            ("POST", "/v1/cosign", encode_body({"note": b"not a note"}), 400),
            ("POST", "/v1/documents", encode_body({"documents": [1, 2]}), 400),
            ("GET", "/v1/checkpoint?from=-1", b"", 400),
            ("GET", "/v1/checkpoint?from=x", b"", 400),
            ("GET", "/v1/consistency?old=5&new=1", b"", 416),
            ("GET", "/v1/nothing-here", b"", 404),
            ("DELETE", "/v1/envelopes", b"", 404),
            ("POST", "/v1/envelopes", b"\x00" * (MAX_BODY_BYTES + 1), 413),
            ("POST", "/v1/sync", encode_body({"heads": [], "x" * 5000: 1}), 400),
        ]
        for method, path, body, expected in cases:
            status, answer = await m.request(DE, FR, method, path, body)
            assert status == expected, (method, path, body[:20], status, answer)
            assert answer["error"]
        # Garbage envelopes in a well-formed push are refused one by one, not as a request.
        status, answer = await m.request(DE, FR, "POST", "/v1/envelopes", _push(b"junk"))
        assert status == 200 and answer["results"][0][0] == "rejected"
        assert m.nodes[FR].size() == 0

    run(scenario())


def test_rate_limit_answers_429_per_peer(mesh: Callable[..., Mesh]) -> None:
    m = mesh([DE, FR, IT], rate=0.001, burst=3)

    async def scenario() -> None:
        fr = m.services[FR]
        for _ in range(3):
            assert (await m.request(DE, FR, "GET", "/v1/witnessed"))[0] == 200
        status, answer = await m.request(DE, FR, "GET", "/v1/witnessed")
        assert status == 429 and DE in answer["error"]
        # Another peer has its own bucket; health checks are not limited.
        assert (await m.request(IT, FR, "GET", "/v1/witnessed"))[0] == 200
        assert (await fr.handle("GET", "/v1/health", {}, b""))[0] == 200
        # Gossip treats 429 as a failure and backs off.
        assert await m.gossips[DE].sync_with(FR) == 0
        assert m.gossips[DE].state[FR].failures == 1
        assert FR not in m.gossips[DE].live_peers()
        assert sum(fr.counters.snapshot()["served_refused"].values()) == 2

    run(scenario())


def test_rate_limiter_bucket_refills_at_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("ilo_node.net.ratelimit.time.monotonic", lambda: clock[0])
    limiter = RateLimiter(rate=10.0, burst=2.0)
    assert limiter.allow("a") and limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")  # buckets are per key
    clock[0] += 0.05  # half a token
    assert not limiter.allow("a")
    clock[0] += 0.06
    assert limiter.allow("a")
    assert not limiter.allow("a")
    clock[0] += 60  # refills to the burst, not beyond
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
