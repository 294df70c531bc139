"""One node served in this process: its PeerService, its local API app and its gossip,
for tests that send it requests (tests/net/test_peer_inputs.py,
tests/net/test_generated_requests.py).

The node's home is a copy of a built network's (keys in memory, see ``memkeys``);
``signed`` makes the headers another node of that network would send, so that a
request reaches the route logic behind authentication. ``fingerprint`` sums up
everything the node keeps (every table of its database, its trust documents) so a
test can check that a refused request changed nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ilo_node.home.home import Home
from ilo_node.net.gossip import Gossip
from ilo_node.net.localapi import local_app
from ilo_node.net.peerauth import PeerIdentity, sign_request
from ilo_node.net.service import PeerService
from ilo_node.net.transport import MemoryTransport
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from tests.support.memkeys import Built

__all__ = ["ServedNode", "http_server", "serve_node"]


@dataclass
class ServedNode:
    built: Built
    name: str
    node: Node
    worker: NodeWorker
    service: PeerService
    gossip: Gossip
    transport: MemoryTransport
    stop: asyncio.Event

    def identity(self, sender: str) -> PeerIdentity:
        return PeerIdentity(sender, self.built.signing(sender).reveal())

    def signed(self, sender: str, method: str, target: str, body: bytes) -> dict[str, str]:
        """Headers of a correctly signed request from ``sender`` to this node."""
        return sign_request(
            self.identity(sender), method, target, body, self.name, self.node.clock()
        )

    def local_app(self) -> web.Application:
        return local_app(self.worker, self.gossip, self.stop)

    async def fingerprint(self) -> str:
        """A digest of everything the node stores: every table, every trust document."""
        return await self.worker.call(self._fingerprint)

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        db = self.node.db
        # Virtual tables (the search index) are left to their shadow tables, which hold
        # what they store; rows are sorted, since some of those have no rowid.
        for (table,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        ).fetchall():
            digest.update(table.encode())
            for row in sorted(repr(r) for r in db.execute(f"SELECT * FROM [{table}]").fetchall()):
                digest.update(row.encode())
        for key in sorted(self.node.docs.by_digest()):
            digest.update(key)
        digest.update(str(self.node.trust.chain.current.version).encode())
        return digest.hexdigest()

    def close(self) -> None:
        self.worker.close()
        self.node.close()


def serve_node(built: Built, base: Path, name: str) -> ServedNode:
    """``name``'s home copied under ``base`` with an empty log, served in-process."""
    target = base / name
    shutil.copytree(
        built.network.nodes[name].path, target, ignore=shutil.ignore_patterns("node.db*")
    )
    node = Node(Home(target), None)
    node.signing = built.signing(name)
    worker = NodeWorker(node)
    services: dict[str, PeerService] = {}
    transport = MemoryTransport(PeerIdentity(name, node.signing.reveal()), node.clock, services)
    # No peers: what the node would push on goes to its queue and stays there.
    gossip = Gossip(worker, transport, [])
    service = PeerService(worker, gossip.push)
    services[name] = service
    return ServedNode(built, name, node, worker, service, gossip, transport, asyncio.Event())


@contextlib.asynccontextmanager
async def http_server(app: web.Application) -> AsyncIterator[int]:
    """``app`` on a free loopback port, run as the daemon runs its servers (no access
    log; aiohttp's test server differs, e.g. it cancels handlers on disconnect)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
