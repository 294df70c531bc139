"""Officers and their nodes in one process: the officer API without sockets.

:class:`MemoryOfficerTransport` signs each request as the HTTP transport does and
hands it to a node's :class:`~ilo_node.net.service.PeerService` (the service that
serves the officer routes on the real listener), so officer clients are tested
fast against real nodes. :class:`Posting` is a small network built with officers:
nodes with their prekey secrets (they read what is sent to them), a way to sync
them with each other, and an :class:`OfficerClient` per officer.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ilo_node.client.officer import OfficerClient
from ilo_node.client.officer_transport import OfficerTransport, refusal
from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.errors import NodeUnreachableError
from ilo_node.home.home import Home
from ilo_node.net.gossip import Gossip
from ilo_node.net.peerauth import OfficerIdentity, PeerIdentity, sign_officer_request
from ilo_node.net.service import PeerService
from ilo_node.net.transport import MemoryTransport
from ilo_node.net.wire import decode_body, encode_body
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from keys.keystore import SecretKey

__all__ = ["MemoryOfficerTransport", "Posting", "build_posting"]


class MemoryOfficerTransport(OfficerTransport):
    def __init__(self, service: PeerService, identity: OfficerIdentity) -> None:
        self.service = service
        self.identity = identity
        self.down = False
        self.calls: list[str] = []

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, pinned: bool = True
    ) -> dict[str, Any]:
        if self.down:
            raise NodeUnreachableError(f"{self.identity.node} is down (test)")
        self.calls.append(path)
        data = encode_body(body) if body is not None else b""
        headers = sign_officer_request(self.identity, method, path, data, self.service.node.clock())
        status, out = asyncio.run(self.service.handle(method, path, headers, data))
        answer = decode_body(out, "answer")
        if status != 200:
            raise refusal(status, answer)
        return answer


@dataclass
class Posting:
    built: BuiltNetwork
    keys: dict[Path, SecretKey]
    base: Path
    nodes: dict[str, Node] = field(default_factory=dict)
    workers: dict[str, NodeWorker] = field(default_factory=dict)
    services: dict[str, PeerService] = field(default_factory=dict)
    gossips: dict[str, Gossip] = field(default_factory=dict)
    clients: list[OfficerClient] = field(default_factory=list)

    def start(self, name: str) -> Node:
        """``name``'s node with an empty log, its keys (signing and prekeys) in memory."""
        target = self.base / "nodes" / name
        shutil.copytree(
            self.built.nodes[name].path, target, ignore=shutil.ignore_patterns("node.db*")
        )
        home = Home(target)
        node = Node(home, None)
        node.signing = self.keys[self.built.nodes[name].signing_key_path]
        for path, key in self.keys.items():
            if path.parent == self.built.nodes[name].prekey_dir:
                node.prekey_secrets[key.public] = key.reveal()
        worker = NodeWorker(node)
        transport = MemoryTransport(
            PeerIdentity(name, node.signing.reveal()), node.clock, self.services
        )
        gossip = Gossip(worker, transport, [n for n in self.built.nodes if n != name])
        self.services[name] = PeerService(worker, gossip.push)
        self.nodes[name], self.workers[name], self.gossips[name] = node, worker, gossip
        return node

    def officer_home(self, officer: str) -> Home:
        return self.built.officers[officer]

    def officer(self, officer: str, **kw: Any) -> OfficerClient:
        """A client for ``officer``, talking to their node in memory."""
        home = self.officer_home(officer)
        node = home.config().node
        assert node is not None
        identity = OfficerIdentity(node, officer, self.keys[home.signing_key_path].reveal())
        transport = MemoryOfficerTransport(self.services[node], identity)
        client = _client(home, self.keys[home.signing_key_path], transport, **kw)
        self.clients.append(client)
        return client

    def sync(self, a: str, b: str) -> None:
        """One anti-entropy exchange from ``a`` with ``b`` (both ways after it)."""
        asyncio.run(self.gossips[a].sync_with(b))

    def sync_all(self) -> None:
        names = list(self.nodes)
        for a in names:
            for b in names:
                if a != b:
                    self.sync(a, b)

    def witness(self, subject: str, by: Iterable[str]) -> None:
        """Each node of ``by`` runs its witnessing of ``subject``: it fetches ``subject``'s
        latest checkpoint, checks it and cosigns it, as in a gossip round."""
        for name in by:
            asyncio.run(self.gossips[name].witness.witness(subject))

    def on(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        return asyncio.run(self.workers[name].call(fn, *args))

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for name in self.nodes:
            self.workers[name].close()
            self.nodes[name].close()


def _client(home: Home, key: SecretKey, transport: OfficerTransport, **kw: Any) -> OfficerClient:
    # The key is in memory (no Argon2id file to unlock): read it as the home would.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Home, "signing_key", lambda self, passphrase: key)
        return OfficerClient(home, b"unused", transport=transport, **kw)


def build_posting(
    base: Path, nodes: list[str], officers: dict[str, list[str]]
) -> Iterator[Posting]:
    captured: dict[Path, SecretKey] = {}

    def keep(path: Path, key: SecretKey, passphrase: bytes, **_: object) -> None:
        captured[path] = key

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ilo_node.dev.netbuilder.write_private_key", keep)
        built = build_network(
            base / "built", nodes, passphrase=b"pw", keep_authorities=True, officers=officers
        )
    posting = Posting(built, captured, base)
    for name in nodes:
        posting.start(name)
    try:
        yield posting
    finally:
        posting.close()
