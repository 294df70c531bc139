"""What a running node takes from a new roster version (ilo_node/net/live.py), in process:
the peers gossip works with, the endpoints, the TLS anchors, and the peers' backoff.

The node is served in memory (tests/support/servicekit.py); roster version 2 is signed
by two of the built network's administrators, adding IT@TR and removing DE@TR.
tests/net/test_live_changes.py checks the same between real processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ilo_node.net.config import DaemonConfig
from ilo_node.net.gossip import Gossip
from ilo_node.net.live import LiveNetwork, network_view
from ilo_node.net.peers import peers_for
from ilo_node.net.tls import NodeTls, trusted_keys
from ilo_node.net.transport import MemoryTransport
from keys.keystore import generate_signing_key
from protocol.signed import SignedDocument
from tests.support.memkeys import Built, build_in_memory
from tests.support.servicekit import ServedNode, serve_node

ME, DE, COM, IT = "FR@TR", "DE@TR", "COM@EU", "IT@TR"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_in_memory(tmp_path_factory.mktemp("live") / "net", [COM, DE, ME])


@pytest.fixture
def fr(built: Built, tmp_path: Path) -> Iterator[ServedNode]:
    served = serve_node(built, tmp_path, ME)
    yield served
    served.close()


def _version_2(built: Built) -> bytes:
    """Roster v2: IT@TR joins the Türkiye network at a new endpoint, DE@TR leaves."""
    root = SignedDocument.from_bytes(built.network.root_roster.read_bytes())
    payload = dict(root.payload())
    payload["version"] = 2
    payload["nodes"] = [n for n in payload["nodes"] if n["node"] != DE] + [
        {"node": IT, "endpoint": "https://127.0.0.1:7999", "role": "member_state"}
    ]
    start = payload["authorities"][0]["valid_from_ms"]
    payload["authorities"] = [
        *payload["authorities"],
        {"party": "IT", "key": generate_signing_key().public, "valid_from_ms": start},
    ]
    document = SignedDocument.create("roster", payload)
    for admin in ("admin-a", "admin-b"):
        path = built.network.base / "administrators" / admin / "keys" / "signing.key"
        document = document.signed_by(built.keys[path].reveal())
    return document.to_bytes()


def _live(fr: ServedNode) -> tuple[LiveNetwork, Gossip, NodeTls]:
    node = fr.node
    assert node.signing is not None
    tls = NodeTls(
        node.network,
        node.node_id,
        node.signing.reveal(),
        trusted_keys(node.trust, node.clock(), node.node_id),
    )
    transport = MemoryTransport(fr.transport.identity, node.clock, {})
    gossip = Gossip(fr.worker, transport, peers_for(node.trust.roster, node.node_id))
    live = LiveNetwork(fr.worker, tls, transport, gossip, DaemonConfig(), first=network_view(node))
    return live, gossip, tls


def test_a_new_roster_version_changes_peers_endpoints_and_tls_at_once(
    fr: ServedNode, built: Built
) -> None:
    async def scenario() -> None:
        live, gossip, tls = _live(fr)
        assert gossip.peers == [COM, DE]
        assert tls.keys.of(DE)
        outcomes = await fr.worker.call(fr.node.add_documents, [_version_2(built)])
        assert outcomes == ["added"]
        view = await live.refresh()
        assert view.roster_version == 2
        assert gossip.peers == [COM, IT]
        assert set(gossip.state) == {COM, IT}
        assert view.endpoints[IT] == "https://127.0.0.1:7999" and DE not in view.endpoints
        # DE@TR is no longer a member: TLS accepts none of its keys for new connections.
        assert not tls.keys.of(DE)
        assert live.status()["peers"] == [COM, IT]
        counters = fr.node.counters
        assert counters.get("live", "peers_added") == 1
        assert counters.get("live", "peers_dropped") == 1
        # The new member was synced with at once (it does not answer here: a failure,
        # counted, with backoff); a dropped peer's late failure leaves no state behind.
        for _ in range(100):
            if gossip.state[IT].failures:
                break
            await asyncio.sleep(0.01)
        assert gossip.state[IT].failures == 1
        gossip._failed(DE, "sync", "unreachable", "a call that ended after the drop")
        assert DE not in gossip.state
        await live.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_peer_is_retried_at_once_when_what_failed_its_calls_changed(fr: ServedNode) -> None:
    async def scenario() -> None:
        _, gossip, _ = _live(fr)
        gossip._failed(COM, "push", "unreachable", "down")
        assert COM not in gossip.live_peers()
        gossip.retry_now(COM)
        assert COM in gossip.live_peers() and gossip.state[COM].failures == 0
        gossip.retry_now("XX@TR")  # not a peer: nothing to forget

    asyncio.run(scenario())
