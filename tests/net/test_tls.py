"""TLS between nodes (ilo_node/net/tls.py), in process: a real peer API server over
TLS on loopback, dialled by ``HttpTransport`` and by raw TLS clients.

Checked: which keys the trust layer lets TLS trust; a handshake pinned both ways
negotiates TLS 1.3; a server with another key, a client with an untrusted or no
certificate, and TLS 1.2 are refused; a request signed with another key than its
connection's certificate is refused with 403; new trusted keys (a revocation)
reach new handshakes; plain http is dialled only when allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from aiohttp import web

from ilo_node.errors import TransportError
from ilo_node.home.home import Home, now_ms
from ilo_node.net import connections
from ilo_node.net.config import DaemonConfig
from ilo_node.net.connections import ConnectionLimits, PeerListener
from ilo_node.net.daemon import peer_app
from ilo_node.net.logs import QuietLog
from ilo_node.net.peerauth import PeerIdentity
from ilo_node.net.service import PeerService
from ilo_node.net.tls import (
    TLS_VERSION,
    NodeTls,
    TrustedKeys,
    client_context,
    peer_certificate_key,
    server_context,
    trusted_keys,
)
from ilo_node.net.transport import HttpTransport
from ilo_node.net.wire import decode_body
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from keys.trust import TrustState
from protocol.crypto import ed25519_public
from protocol.signed import SignedDocument
from tests.support.memkeys import Built, build_in_memory

T = TypeVar("T")

NODES = ["COM@EU", "DE@TR", "FR@TR"]
SERVER, CLIENT, OTHER = "FR@TR", "DE@TR", "COM@EU"
DAY = 86_400_000
HEALTH = b"GET /v1/health HTTP/1.1\r\nHost: peer\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_in_memory(tmp_path_factory.mktemp("tls") / "net", NODES)


@pytest.fixture(autouse=True)
def fresh_quiet_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test counts its own log lines: the listener's QuietLogs start afresh."""
    monkeypatch.setattr(connections, "resources", QuietLog(connections.log, burst=1))
    monkeypatch.setattr(connections, "refusals", QuietLog(connections.log))


def seed_of(built: Built, node: str) -> bytes:
    return built.signing(node).reveal()


def trust_of(built: Built) -> TrustState:
    return built.network.nodes[SERVER].trust_state()


def keys_of(built: Built) -> TrustedKeys:
    return trusted_keys(trust_of(built), now_ms())


def node_tls(built: Built, node: str, seed: bytes | None = None) -> NodeTls:
    seed = seed if seed is not None else seed_of(built, node)
    return NodeTls(built.network.network, node, seed, keys_of(built))


def revocation(built: Built, node: str) -> bytes:
    """A revocation of ``node``'s key, compromised an hour ago, signed by its authority."""
    moment = now_ms()
    document = SignedDocument.create(
        "revocation",
        {
            "network": built.network.network,
            "node": node,
            "key": built.signing(node).public,
            "compromised_at_ms": moment - 3_600_000,
            "issued_ms": moment - 1000,
            "reason": "test: key compromised",
        },
    )
    party = node.split("@", maxsplit=1)[0]
    return document.signed_by(built.authority(party).reveal()).to_bytes()


def certificate(built: Built, node: str, key: bytes, starts_in_ms: int = 0) -> bytes:
    moment = now_ms()
    document = SignedDocument.create(
        "certificate",
        {
            "network": built.network.network,
            "node": node,
            "role": "node",
            "key": key,
            "valid_from_ms": moment + starts_in_ms,
            "valid_until_ms": moment + 30 * DAY,
            "issued_ms": moment - 1000,
        },
    )
    party = node.split("@", maxsplit=1)[0]
    return document.signed_by(built.authority(party).reveal()).to_bytes()


# -- a peer API server over TLS, in this process -----------------------------------------


@dataclass
class Server:
    port: int
    tls: NodeTls
    listener: PeerListener
    node: Node


@contextlib.asynccontextmanager
async def peer_server(
    built: Built, base: Path, node_tls: NodeTls, limits: ConnectionLimits | None = None
) -> AsyncIterator[Server]:
    """FR@TR's peer API (a real Node, PeerService and peer_app) behind a PeerListener
    whose TLS context is ``node_tls.server``."""
    home = base / SERVER
    if not home.exists():
        shutil.copytree(
            built.network.nodes[SERVER].path, home, ignore=shutil.ignore_patterns("node.db*")
        )
    node = Node(Home(home), None)
    worker = NodeWorker(node)
    service = PeerService(worker)
    runner = web.AppRunner(peer_app(service, DaemonConfig(), tls=True), access_log=None)
    await runner.setup()
    assert runner.server is not None
    listener = PeerListener(runner.server, limits or ConnectionLimits(), lambda: node_tls.server)
    await listener.start("127.0.0.1", 0)
    try:
        yield Server(listener.port, node_tls, listener, node)
    finally:
        listener.close()
        await runner.cleanup()
        worker.close()
        node.close()


def run(coro: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await asyncio.wait_for(coro(), 60)

    return asyncio.run(main())


async def exchange(port: int, context: ssl.SSLContext, request: bytes = HEALTH) -> bytes:
    """One request on a fresh TLS connection: what the server answered, or b"" if the
    server refused the connection (an alert or a reset during the handshake, or no
    answer after it). Raises ssl.SSLCertVerificationError if this client refused the
    server's certificate."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    except ssl.SSLCertVerificationError:
        raise
    except (ssl.SSLError, ConnectionError):
        return b""
    try:
        writer.write(request)
        await writer.drain()
        try:
            return await reader.read()
        except (ssl.SSLError, ConnectionError):
            # TLS 1.3: a client whose certificate the server refused learns it only
            # when it reads, after its own side of the handshake has ended.
            return b""
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()


def client_as(
    built: Built, node: str, pin: str = SERVER, seed: bytes | None = None
) -> ssl.SSLContext:
    """A client context presenting ``node``'s certificate (for ``seed``, default its own
    key) and pinning ``pin``'s certified key."""
    return client_context(
        built.network.network,
        node,
        seed if seed is not None else seed_of(built, node),
        pin,
        [built.signing(pin).public],
    )


# -- which keys TLS trusts -----------------------------------------------------------------


def test_trusted_keys_are_the_certified_keys_the_trust_layer_lets_speak(built: Built) -> None:
    trust = trust_of(built)
    keys = trusted_keys(trust, now_ms())
    assert set(keys.by_node) == set(NODES)
    for node in NODES:
        assert keys.of(node) == {built.signing(node).public}
    # A revoked key is no longer trusted; the others are.
    trust.add_revocation(revocation(built, CLIENT))
    after = trusted_keys(trust, now_ms())
    assert after.of(CLIENT) == frozenset()
    assert after.of(SERVER) == keys.of(SERVER)
    # A certificate that starts tomorrow: its key is trusted from then on, not now (which
    # is why a running node looks again now and then, not only when documents arrive).
    later = os.urandom(32)
    trust.add_certificate(certificate(built, SERVER, ed25519_public(later), starts_in_ms=DAY))
    assert ed25519_public(later) not in trusted_keys(trust, now_ms()).of(SERVER)
    assert ed25519_public(later) in trusted_keys(trust, now_ms() + 2 * DAY).of(SERVER)


# -- handshakes ----------------------------------------------------------------------------


def test_a_handshake_pinned_both_ways_is_tls13_and_the_server_sees_the_client_key(
    built: Built, tmp_path: Path
) -> None:
    async def main() -> None:
        async with peer_server(built, tmp_path, node_tls(built, SERVER)) as server:
            context = client_as(built, CLIENT)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=context)
            ssl_object = writer.get_extra_info("ssl_object")
            assert ssl_object.version() == TLS_VERSION
            assert peer_certificate_key(ssl_object) == built.signing(SERVER).public
            writer.write(HEALTH)
            answer = await reader.read()
            writer.close()
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]

    run(main)


def test_a_server_presenting_another_key_fails_the_client_handshake(
    built: Built, tmp_path: Path
) -> None:
    async def main() -> None:
        # FR@TR's server runs with a key that is not FR@TR's certified key.
        impostor = node_tls(built, SERVER, seed=os.urandom(32))
        async with peer_server(built, tmp_path, impostor) as server:
            with pytest.raises(ssl.SSLCertVerificationError):
                await exchange(server.port, client_as(built, CLIENT))
            # Another roster node's genuine certificate is no better: the client pins
            # the peer's own keys, not the network's.
            with pytest.raises(ssl.SSLCertVerificationError):
                await exchange(server.port, client_as(built, CLIENT, pin=OTHER))

    run(main)


def test_the_server_refuses_clients_without_a_trusted_certificate_or_tls13(
    built: Built, tmp_path: Path
) -> None:
    async def main() -> None:
        async with peer_server(built, tmp_path, node_tls(built, SERVER)) as server:
            # Sanity: the same request from a trusted client is answered.
            assert (await exchange(server.port, client_as(built, CLIENT))).startswith(b"HTTP/1.1")
            # A certificate for a key that is not certified (a member's name, a new key).
            untrusted = client_as(built, CLIENT, seed=os.urandom(32))
            assert await exchange(server.port, untrusted) == b""
            # No certificate at all.
            bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            bare.check_hostname = False
            bare.verify_mode = ssl.CERT_NONE
            assert await exchange(server.port, bare) == b""
            # TLS 1.2, even with a trusted certificate.
            old = client_as(built, CLIENT)
            old.minimum_version = ssl.TLSVersion.TLSv1_2
            old.maximum_version = ssl.TLSVersion.TLSv1_2
            assert await exchange(server.port, old) == b""
            # Plain HTTP on the TLS port gets no HTTP answer.
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(HEALTH)
            assert not (await reader.read()).startswith(b"HTTP/")
            writer.close()

            async def released() -> None:
                while server.listener.total:
                    await asyncio.sleep(0.01)

            # Every refused connection gave its slot back.
            await asyncio.wait_for(released(), 10)

    run(main)


def test_a_handshake_that_never_comes_is_cut_off_at_the_header_timeout(
    built: Built, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ilo_node.connections")

    async def main() -> None:
        limits = ConnectionLimits(header_timeout_s=0.3)
        async with peer_server(built, tmp_path, node_tls(built, SERVER), limits) as server:
            silent = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
            await asyncio.wait_for(until_closed(silent[0][0]), 10)
            for reader, writer in silent:
                await asyncio.wait_for(until_closed(reader), 10)
                writer.close()

            async def released() -> None:
                while server.listener.total:
                    await asyncio.sleep(0.01)

            await asyncio.wait_for(released(), 10)
            # The node still answers.
            assert (await exchange(server.port, client_as(built, CLIENT))).startswith(b"HTTP/")

    run(main)
    abandoned = [r for r in caplog.records if "left unfinished" in r.getMessage()]
    assert len(abandoned) == 1, [r.getMessage() for r in abandoned]  # one line, not five


async def until_closed(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass


def test_a_request_signed_with_another_key_than_the_connections_is_refused(
    built: Built, tmp_path: Path
) -> None:
    async def main() -> None:
        async with peer_server(built, tmp_path, node_tls(built, SERVER)) as server:
            endpoints = {SERVER: f"https://127.0.0.1:{server.port}"}
            # TLS as DE@TR, requests signed by DE@TR: answered.
            de = HttpTransport(
                PeerIdentity(CLIENT, seed_of(built, CLIENT)),
                now_ms,
                endpoints,
                tls=node_tls(built, CLIENT).client,
            )
            # TLS as DE@TR, requests signed by COM@EU (a genuine key, another one).
            crossed = HttpTransport(
                PeerIdentity(OTHER, seed_of(built, OTHER)),
                now_ms,
                endpoints,
                tls=node_tls(built, CLIENT).client,
            )
            try:
                status, body = await de.request(SERVER, "GET", "/v1/witnessed", b"")
                assert status == 200, decode_body(body, "answer")
                status, body = await crossed.request(SERVER, "GET", "/v1/witnessed", b"")
                assert status == 403
                assert "another key than its TLS certificate" in decode_body(body, "e")["error"]
            finally:
                await de.close()
                await crossed.close()

    run(main)


def test_new_trusted_keys_reach_new_handshakes(built: Built, tmp_path: Path) -> None:
    async def main() -> None:
        tls = node_tls(built, SERVER)
        async with peer_server(built, tmp_path, tls) as server:
            assert (await exchange(server.port, client_as(built, CLIENT))).startswith(b"HTTP/")
            trust = trust_of(built)
            trust.add_revocation(revocation(built, CLIENT))
            before_server, before_other = tls.server, tls.client(OTHER)
            assert tls.update(trusted_keys(trust, now_ms()))
            assert not tls.update(trusted_keys(trust, now_ms()))  # nothing new the second time
            # The server context was replaced: DE@TR's revoked key is refused now.
            assert tls.server is not before_server
            assert await exchange(server.port, client_as(built, CLIENT)) == b""
            assert (await exchange(server.port, client_as(built, OTHER))).startswith(b"HTTP/")
            # Client contexts: COM@EU's keys did not change, DE@TR has none left to pin.
            assert tls.client(OTHER) is before_other
            with pytest.raises(TransportError, match="no certified node key of DE@TR"):
                tls.client(CLIENT)

    run(main)


def test_the_key_reaches_openssl_through_a_closed_memory_file_and_no_repr(
    built: Built,
) -> None:
    def memory_files() -> list[str]:
        links = []
        for path in Path("/proc/self/fd").iterdir():
            with contextlib.suppress(OSError):
                links.append(os.readlink(path))
        return [link for link in links if "ilo-node-tls" in link]

    tls = node_tls(built, SERVER)
    tls.client(CLIENT)
    assert memory_files() == []  # each descriptor was closed once OpenSSL read it
    assert seed_of(built, SERVER).hex() not in repr(tls)
    assert ed25519_public(seed_of(built, SERVER)) in tls.keys.of(SERVER)


# -- what the transport dials ----------------------------------------------------------------


def test_plain_http_is_dialled_only_when_allowed(built: Built) -> None:
    identity = PeerIdentity(CLIENT, seed_of(built, CLIENT))
    endpoints = {SERVER: "http://127.0.0.1:9", OTHER: "https://127.0.0.1:9", "X@Y": "ftp://h:1"}

    async def main() -> list[str]:
        refused = HttpTransport(identity, now_ms, endpoints)
        allowed = HttpTransport(identity, now_ms, endpoints, plain_http=True, timeout_s=2)
        messages = []
        try:
            for transport, peer in ((refused, SERVER), (refused, OTHER), (refused, "X@Y")):
                with pytest.raises(TransportError) as caught:
                    await transport.request(peer, "GET", "/v1/health", b"")
                messages.append(caught.value.message)
            # Allowed: it is dialled (and nobody listens on port 9).
            with pytest.raises(TransportError, match="unreachable"):
                await allowed.request(SERVER, "GET", "/v1/health", b"")
        finally:
            await refused.close()
            await allowed.close()
        return messages

    plain, no_tls, other = run(main)
    assert "plain http" in plain and '"plain_http": true' in plain
    assert "no TLS" in no_tls
    assert "no HTTP endpoint" in other


def test_contexts_are_tls13_only_and_require_certificates(built: Built) -> None:
    server = server_context(built.network.network, SERVER, seed_of(built, SERVER), [])
    client = client_as(built, CLIENT)
    for context in (server, client):
        assert context.minimum_version is ssl.TLSVersion.TLSv1_3
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert context.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    assert server.num_tickets == 0
    with pytest.raises(TransportError):
        client_context(built.network.network, CLIENT, seed_of(built, CLIENT), SERVER, [])
