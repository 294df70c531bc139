"""Gossip between real ``ilo-node run`` processes talking signed HTTP over TLS 1.3.

One module network (built once) has seven running nodes on loopback, the
Commission bridging two host-country local networks::

    COM@EU   DE@TR FR@TR IT@TR   ES@MA IE@MA NL@MA

and two more roster members that never run a node process: PT@TR, whose roster
endpoint is served by a lying peer inside this test process (it shows one
checkpoint to DE@TR and another of the same size to everyone else), and PL@EG,
whose key the test revokes. The tests publish through the nodes' local APIs and
check, by polling with deadlines, that

* every envelope reaches every recipient and every log holds every envelope;
* a stopped node catches up when it comes back;
* they speak TLS 1.3 pinned to the certified node keys, and refuse TLS 1.2, clients
  without a certificate or with one of another key, and requests signed with another
  key than their connection's;
* one node refuses hostile requests with the right status and keeps serving;
* the honest nodes catch the lying peer's split view and spread the evidence;
* after a clean stop every node's log passes ``ilo-node log verify``;

and, in a second small network across two network namespaces joined by a veth
pair, that a node cut off by taking the link down catches up once it is back up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import select
import shutil
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp import web

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.home.home import Home
from ilo_node.net.daemon import BODY_TIMEOUT_S
from ilo_node.net.peerauth import PeerIdentity, sign_request
from ilo_node.net.tls import TLS_VERSION, client_context, peer_certificate_key, server_context
from ilo_node.net.wire import decode_body, encode_body
from protocol.checkpoint import Checkpoint, sign_checkpoint
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from tests.support.netproc import Cluster, Published, free_ports, run_cli, write_daemon_config

pytestmark = pytest.mark.slow

PASS = b"gossip integration test passphrase"
RUNNING = ("COM@EU", "DE@TR", "FR@TR", "IT@TR", "ES@MA", "IE@MA", "NL@MA")
EVIL = "PT@TR"  # a roster member played by a lying peer in this process
REVOKED = "PL@EG"  # a roster member that never runs; its key is revoked in the test
FOOLED = "DE@TR"  # the lying peer shows checkpoint "A" to this node, "B" to the others
TARGET = "NL@MA"  # hostile requests go to this node
TARGET_MAX_BODY = 256 * 1024  # its daemon.json max_body_bytes
#: Its requests per second per address (and per claimed peer): a quarter of the default,
#: so that the flood below outruns the refill even when the machine is loaded.
TARGET_ADDRESS_RATE = 50.0
OFFLINE = "IE@MA"  # the node stopped and restarted in the partition test
SPLIT_SIZE = 3
CONVERGE_S = 90.0
#: Whom this test process speaks TLS as, unless a request says otherwise: an ordinary
#: member (the hostile-request test signs as IT@TR too).
MEMBER = "IT@TR"


def now_ms() -> int:
    return int(time.time() * 1000)


# -- a lying peer -------------------------------------------------------------------


class EvilPeer:
    """The PT@TR node as a liar: an aiohttp server on its roster endpoint, in a thread
    of this process, with PT@TR's real certified key. ``GET /v1/checkpoint`` answers
    a checkpoint of size 3 with root A to the nodes in ``fooled`` and one of the same
    size with root B to every other node; the other routes answer minimally (it takes
    envelopes and documents and keeps nothing but the per-author heads)."""

    def __init__(
        self,
        network: str,
        node: str,
        seed: bytes,
        port: int,
        fooled: set[str],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.node, self.port, self.fooled, self.tls = node, port, fooled, tls
        self.origin = f"ilo-node/{network}/{node}"
        moment = now_ms()
        self.notes = {
            view: sign_checkpoint(
                Checkpoint(self.origin, SPLIT_SIZE, hashlib.sha256(view.encode()).digest(), moment),
                node,
                seed,
            )
            for view in ("A", "B")
        }
        self.served: dict[str, set[str]] = {"A": set(), "B": set()}
        self.requests = 0
        self.heads: dict[bytes, int] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def served_views(self) -> dict[str, list[str]]:
        with self._lock:
            return {view: sorted(nodes) for view, nodes in self.served.items()}

    def _answer(self, method: str, path: str, peer: str, query: Any, body: bytes) -> Any:
        if method == "GET" and path == "/v1/checkpoint":
            view = "A" if peer in self.fooled else "B"
            with self._lock:
                self.served[view].add(peer)
            return {"note": self.notes[view], "consistency": [], "from": int(query.get("from", 0))}
        if method == "POST" and path == "/v1/sync":
            return {
                "envelopes": [],
                "more": False,
                "heads": [[k, v] for k, v in sorted(self.heads.items())],
                "docs_summary": b"",
                "forks": [],
                "split_views": [],
            }
        if method == "POST" and path == "/v1/envelopes":
            envelopes = decode_body(body, "push").get("envelopes", [])
            for raw in envelopes:
                header = Envelope.from_bytes(raw).header
                self.heads[header.author_key] = max(
                    self.heads.get(header.author_key, 0), header.seq
                )
            return {"results": [["duplicate", ""] for _ in envelopes]}
        if method == "POST" and path == "/v1/documents/diff":
            return {"documents": [], "docs": []}
        if method == "POST" and path == "/v1/documents":
            return {"results": []}
        if method == "POST" and path == "/v1/cosign":
            return {"stored": False}
        if method == "GET" and path == "/v1/witnessed":
            return {"notes": []}
        if method == "GET" and path == "/v1/consistency":
            return {"proof": []}
        if method == "GET" and path == "/v1/health":
            return {"node": self.node, "size": SPLIT_SIZE}
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        peer = request.headers.get("X-Ilo-Node", "")
        answer = self._answer(request.method, request.path, peer, request.query, body)
        if answer is None:
            return web.Response(status=404, body=encode_body({"error": "no such route"}))
        return web.Response(body=encode_body(answer), content_type="application/msgpack")

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self.tls).start()
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by stop(), not lost in the thread
            self.error = exc
        finally:
            self._ready.set()
            loop.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="evil-peer", daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "the lying peer did not start"
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the lying peer did not stop"
        if self.error is not None:
            raise self.error


# -- the module network ---------------------------------------------------------------


@dataclass
class TlsKit:
    """How this test process speaks TLS to the nodes: as any member (with its real key,
    or another one), pinning the certified key of the node listening on the port."""

    network: str
    keys: dict[str, bytes]  # node -> its certified key
    seeds: dict[str, bytes]  # node -> its real signing seed
    nodes_by_port: dict[int, str]

    def client(
        self, port: int, as_node: str = MEMBER, seed: bytes | None = None, pin: str | None = None
    ) -> ssl.SSLContext:
        peer = pin or self.nodes_by_port[port]
        own = seed if seed is not None else self.seeds[as_node]
        return client_context(self.network, as_node, own, peer, [self.keys[peer]])


#: Set by the module fixture: the raw-request helpers below speak TLS through it.
KIT: TlsKit | None = None


def kit() -> TlsKit:
    assert KIT is not None, "the module network is not up"
    return KIT


@dataclass
class Net:
    built: BuiltNetwork
    cluster: Cluster
    evil: EvilPeer
    ports: dict[str, int]
    identities: dict[str, PeerIdentity] = field(default_factory=dict)

    def identity(self, node: str) -> PeerIdentity:
        """The real signing identity of a node of this network (read from its home)."""
        if node not in self.identities:
            seed = Home(self.built.base / node).signing_key(PASS).reveal()
            self.identities[node] = PeerIdentity(node, seed)
        return self.identities[node]

    def up(self) -> Cluster:
        """Every running node up (a failed earlier test may have left one stopped)."""
        down = [n for n in RUNNING if not self.cluster.running(n)]
        if down:
            self.cluster.start(*down)
            self.cluster.wait_ready(down)
        return self.cluster


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    base = tmp_path_factory.mktemp("gossip") / "net"
    nodes = [*RUNNING, EVIL, REVOKED]
    ports = dict(zip(nodes, free_ports(len(nodes)), strict=True))
    built = build_network(
        base,
        nodes,
        endpoints={n: f"https://127.0.0.1:{p}" for n, p in ports.items()},
        passphrase=PASS,
        keep_authorities=True,
    )
    for node in RUNNING:
        extra = (
            {"max_body_bytes": TARGET_MAX_BODY, "address_rate": TARGET_ADDRESS_RATE}
            if node == TARGET
            else {}
        )
        write_daemon_config(built.nodes[node].path, **extra)
    seeds = {n: Home(base / n).signing_key(PASS).reveal() for n in nodes}
    keys = {n: Home(base / n).public_key() for n in nodes}
    global KIT  # noqa: PLW0603 - one network per module, read by the request helpers
    KIT = TlsKit(built.network, keys, seeds, {p: n for n, p in ports.items()})
    # The liar speaks TLS with PT@TR's real key, so the nodes' pinned handshakes succeed.
    evil_tls = server_context(built.network, EVIL, seeds[EVIL], sorted(keys.items()))
    evil = EvilPeer(built.network, EVIL, seeds[EVIL], ports[EVIL], fooled={FOOLED}, tls=evil_tls)
    cluster = Cluster(built)
    try:
        evil.start()
        cluster.start(*RUNNING)
        cluster.wait_ready(RUNNING)
        yield Net(built, cluster, evil, ports)
    finally:
        cluster.close()
        evil.stop()
        KIT = None


# -- raw peer-API requests ------------------------------------------------------------


def peer_request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    tls_as: str = MEMBER,
) -> tuple[int, dict[str, Any]]:
    """One HTTPS request on a fresh connection, TLS as ``tls_as``; the status and the
    decoded msgpack body."""
    conn = http.client.HTTPSConnection(host, port, timeout=30, context=kit().client(port, tls_as))
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        try:
            decoded = decode_body(data, "response") if data else {}
        except ProtocolError:  # an error page that is not msgpack
            decoded = {"raw": data[:200]}
        return response.status, decoded
    finally:
        conn.close()


def signed_headers(
    identity: PeerIdentity, method: str, path: str, body: bytes, to: str, at_ms: int | None = None
) -> dict[str, str]:
    headers = sign_request(identity, method, path, body, to, now_ms() if at_ms is None else at_ms)
    headers["Content-Type"] = "application/msgpack"
    return headers


def signed_request(
    port: int,
    identity: PeerIdentity,
    method: str,
    path: str,
    to: str,
    body: bytes = b"",
    tls_as: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """A request signed by ``identity`` on a TLS connection as ``tls_as`` (by default the
    signer's own node, with its real key: the connection binds the request's key)."""
    headers = signed_headers(identity, method, path, body, to)
    return peer_request(port, method, path, body, headers, tls_as=tls_as or identity.node)


def raw_exchange(
    port: int, head: bytes, chunks: Sequence[bytes], pause_s: float, wait_s: float
) -> tuple[int | None, float]:
    """Send ``head`` then ``chunks`` with ``pause_s`` between them, stopping as soon as
    the server answers; return the answer's status (None if it closed the connection
    without one) and the seconds from the head to the answer."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=wait_s)
    sock = kit().client(port).wrap_socket(raw)
    start = time.monotonic()
    try:
        sock.sendall(head)
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], pause_s)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed its side: read what it said
                break
        data = b""
        while b"\r\n" not in data:
            try:
                more = sock.recv(4096)
            except (ConnectionResetError, TimeoutError, ssl.SSLError):
                break
            if not more:
                break
            data += more
        elapsed = time.monotonic() - start
        if not data.startswith(b"HTTP/1.1 "):
            return None, elapsed
        return int(data.split(b" ", 2)[1]), elapsed
    finally:
        sock.close()


def _head(method: str, path: str, port: int, extra: str) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/msgpack\r\n{extra}\r\n"
    ).encode()


# -- the tests ------------------------------------------------------------------------


def test_every_envelope_reaches_every_recipient(net: Net) -> None:
    cluster = net.up()
    plan: list[tuple[str, str, str, tuple[str, ...]]] = [
        ("DE@TR", "incident_alert", "local", ()),
        ("FR@TR", "route_report", "local", ()),
        ("ES@MA", "flow_report", "local", ()),
        ("NL@MA", "forged_document_alert", "local", ()),
        ("IE@MA", "half_year_contribution", "presidency", ()),
        ("IT@TR", "meeting_record", "states", ("NL", "DE", "IT")),
        ("ES@MA", "smuggling_network_alert", "network", ()),
        ("COM@EU", "common_approach", "network", ()),
    ]
    mine = [cluster.publish(*step) for step in plan]
    # Across host countries (IT@TR to NL@MA, ES@MA to everyone) only through COM@EU.
    assert "NL@MA" in mine[5].recipients and "FR@TR" not in mine[5].recipients
    took = cluster.wait_converged(RUNNING, CONVERGE_S)
    print(f"{len(mine)} envelopes converged on {len(RUNNING)} nodes in {took:.1f} s")
    # Every node holds every envelope, and reads exactly the ones addressed to it.
    for node in RUNNING:
        readable = cluster.readable(node, [p.id for p in cluster.published])
        assert readable is not None
        expected = {p.id for p in cluster.published if node in p.recipients}
        assert readable == expected, f"{node} reads {readable ^ expected} wrongly"


def test_stopped_node_catches_up_after_restart(net: Net) -> None:
    cluster = net.up()
    cluster.wait_converged(RUNNING, CONVERGE_S)
    before = len(cluster.published)
    cluster.stop(OFFLINE)
    others = [n for n in RUNNING if n != OFFLINE]
    missed = [
        cluster.publish("ES@MA", "incident_alert"),  # MA local: IE@MA is a recipient
        cluster.publish("DE@TR", "route_report", "states", ("IE", "FR")),
        cluster.publish("COM@EU", "legislation_note", "network"),
        cluster.publish("NL@MA", "training_record"),
    ]
    assert all(OFFLINE in p.recipients for p in missed)
    cluster.wait_converged(others, CONVERGE_S)
    # The stopped node really missed them: its database is still at the old size.
    conn = sqlite3.connect(f"file:{cluster.home(OFFLINE) / 'node.db'}?mode=ro", uri=True)
    try:
        assert conn.execute("SELECT COUNT(*) FROM envelopes").fetchone()[0] == before
    finally:
        conn.close()
    cluster.start(OFFLINE)
    cluster.wait_ready([OFFLINE])
    took = cluster.wait_converged(RUNNING, CONVERGE_S)
    print(f"{OFFLINE} caught up {len(missed)} envelopes {took:.1f} s after it was ready")


def tls_exchange(context: ssl.SSLContext, port: int) -> tuple[str | None, bytes | None, bytes]:
    """A TLS connection with ``context``, then ``GET /v1/health``: the negotiated version
    and the server certificate's key (None if the handshake failed here), and the
    answer's first bytes (b"" if the server refused the connection)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        try:
            sock = context.wrap_socket(raw)
        except ssl.SSLCertVerificationError:
            raise
        except (ssl.SSLError, ConnectionError):
            return None, None, b""
        version, key = sock.version(), peer_certificate_key(sock)
        try:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: n\r\nConnection: close\r\n\r\n")
            answer = sock.recv(64)
        except (ssl.SSLError, ConnectionError):
            # TLS 1.3: a client whose certificate the server refused learns it only now.
            answer = b""
        sock.close()
        return version, key, answer
    finally:
        raw.close()


def tls_accepted(port: int, as_node: str, seed: bytes | None = None) -> bool:
    """Whether the node on ``port`` answers a TLS client presenting ``as_node``'s
    certificate (for ``seed``, default its real key)."""
    return tls_exchange(kit().client(port, as_node, seed), port)[2].startswith(b"HTTP/1.1 200")


def test_nodes_speak_tls13_pinned_to_the_certified_keys(net: Net) -> None:
    cluster = net.up()
    port = net.ports[TARGET]
    # A raw TLS client as a member: TLS 1.3, and the server is TARGET's certified key.
    version, key, answer = tls_exchange(kit().client(port), port)
    assert version == TLS_VERSION == "TLSv1.3"
    assert key == kit().keys[TARGET]
    assert answer.startswith(b"HTTP/1.1 200"), answer
    status = cluster.status(TARGET)
    assert status is not None
    transport = status["transport"]
    assert transport["tls"] is True and transport["version"] == "TLSv1.3", transport
    assert transport["plain_http"] is False
    assert transport["trusted_keys"] == len(net.built.nodes)  # every roster node's key
    # The client side pins: a server that is not the node pinned fails the handshake.
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_exchange(kit().client(port, pin="FR@TR"), port)
    # The server side refuses a certificate for a key that is not certified, ...
    assert not tls_accepted(port, "DE@TR", seed=os.urandom(32))
    # ... a client without a certificate, ...
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.check_hostname, bare.verify_mode = False, ssl.CERT_NONE
    assert tls_exchange(bare, port)[2] == b""
    # ... TLS 1.2, even with a member's certificate, ...
    old = kit().client(port)
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_2
    assert tls_exchange(old, port) == (None, None, b"")
    # ... and plain HTTP on its port.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as plain:
        plain.sendall(b"GET /v1/health HTTP/1.1\r\nHost: n\r\n\r\n")
        assert not plain.recv(64).startswith(b"HTTP/")
    # A request signed by one member on another member's connection is refused.
    es = net.identity("ES@MA")
    status_code, reply = signed_request(port, es, "GET", "/v1/witnessed", TARGET, tls_as=MEMBER)
    assert status_code == 403, reply
    assert "another key than its TLS certificate" in reply["error"]
    assert signed_request(port, es, "GET", "/v1/witnessed", TARGET)[0] == 200
    # The refusals are in the node's log, a few lines, no traceback.
    log = (cluster.home(TARGET) / "daemon.log").read_text(errors="replace")
    assert "TLS handshake with 127.0.0.1 failed" in log
    assert "Traceback" not in log


def _slow_body(port: int, result: list[Any]) -> None:
    """A body announced as 64 bytes and sent one byte every 0.5 s (32 s in all)."""
    try:
        head = _head("POST", "/v1/envelopes", port, "Content-Length: 64\r\n")
        result.append(raw_exchange(port, head, [b"\x80"] * 64, 0.5, BODY_TIMEOUT_S + 15))
    except BaseException as exc:  # reported by the test, not lost in the thread
        result.append(exc)


def test_hostile_requests_are_refused_and_the_node_keeps_serving(net: Net, tmp_path: Path) -> None:
    cluster = net.up()
    port, to = net.ports[TARGET], TARGET
    member = net.identity("IT@TR")  # an ordinary peer's key (the test signs as IT@TR)
    # The body timeout is fixed (BODY_TIMEOUT_S, no daemon.json setting): the slow body
    # runs in a thread alongside every other check, so its 10 s cost the test no more.
    slow: list[Any] = []
    slow_thread = threading.Thread(target=_slow_body, args=(port, slow), daemon=True)
    slow_thread.start()
    try:
        # While one connection dribbles its body, the node answers everyone else.
        assert peer_request(port, "GET", "/v1/health")[0] == 200
        assert signed_request(port, member, "GET", "/v1/witnessed", to)[0] == 200

        # Unsigned requests.
        status, answer = peer_request(port, "GET", "/v1/checkpoint")
        assert status == 401, answer
        assert "not signed" in answer["error"]
        body = encode_body({"envelopes": []})
        assert peer_request(port, "POST", "/v1/envelopes", body)[0] == 401

        # The exact same signed request twice: the second is a replay.
        headers = signed_headers(member, "GET", "/v1/checkpoint", b"", to)
        assert peer_request(port, "GET", "/v1/checkpoint", b"", headers)[0] == 200
        status, answer = peer_request(port, "GET", "/v1/checkpoint", b"", headers)
        assert status == 409, answer
        assert "replay" in answer["error"]

        # Signed, but wrong: another addressee, a changed body, an old timestamp.
        headers = signed_headers(member, "GET", "/v1/witnessed", b"", "ES@MA")
        assert peer_request(port, "GET", "/v1/witnessed", b"", headers)[0] == 421
        headers = signed_headers(member, "POST", "/v1/envelopes", body, to)
        tampered = encode_body({"envelopes": [b"x"]})
        assert peer_request(port, "POST", "/v1/envelopes", tampered, headers)[0] == 401
        headers = signed_headers(member, "GET", "/v1/witnessed", b"", to, now_ms() - 300_000)
        assert peer_request(port, "GET", "/v1/witnessed", b"", headers)[0] == 401

        # Not a member: a node id outside the roster; a member's id with a foreign key.
        # Neither could open a TLS connection of its own (test_tls_*): carried on a
        # member's, the request-level checks answer, and say why.
        for stranger, why in (
            (PeerIdentity("SE@TR", os.urandom(32)), "not a member"),
            (PeerIdentity(FOOLED, os.urandom(32)), "no certificate"),
        ):
            status, answer = signed_request(
                port, stranger, "GET", "/v1/witnessed", to, tls_as=MEMBER
            )
            assert status == 403, (stranger, status, answer)
            assert why in answer["error"], answer

        # Garbage bodies, properly signed.
        for path, junk in (
            ("/v1/envelopes", b"\xc1 this is not msgpack"),
            ("/v1/sync", msgpack.packb([1, 2, 3])),
            ("/v1/envelopes", encode_body({"envelopes": "not a list"})),
            ("/v1/sync", encode_body({"heads": [[b"k", -1]]})),
        ):
            status, answer = signed_request(port, member, "POST", path, to, junk)
            assert status == 400, (path, junk, status, answer)
        # Well-formed, but the envelope inside is junk: refused one by one, not a crash.
        junk_push = encode_body({"envelopes": [b"\x00" * 40]})
        status, answer = signed_request(port, member, "POST", "/v1/envelopes", to, junk_push)
        assert status == 200, answer
        assert answer["results"][0][0] not in ("accepted", "duplicate"), answer

        # Oversized bodies: announced by Content-Length, and streamed without one.
        over = TARGET_MAX_BODY + 1
        head = _head("POST", "/v1/envelopes", port, f"Content-Length: {over}\r\n")
        assert raw_exchange(port, head, [], 0.0, 30)[0] == 413
        head = _head("POST", "/v1/envelopes", port, "Transfer-Encoding: chunked\r\n")
        piece = b"\x00" * 16384
        chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (over // len(piece) + 4)
        assert raw_exchange(port, head, [*chunks, b"0\r\n\r\n"], 0.02, 30)[0] == 413

        # A revoked key: accepted before the revocation reaches the node, refused after.
        revoked = net.identity(REVOKED)
        assert signed_request(port, revoked, "GET", "/v1/witnessed", to)[0] == 200
        document = tmp_path / "revocation.rev"
        run_cli(
            cluster,
            net.built.base / "authorities" / REVOKED.split("@", maxsplit=1)[0],
            "revoke",
            "--key",
            Home(net.built.base / REVOKED).public_key().hex(),
            "--node",
            REVOKED,
            "--compromised-at",
            "now",
            "--reason",
            "integration test: key compromised",
            "-o",
            str(document),
        )
        added = cluster.local(
            TARGET, "POST", "/local/documents", {"documents": [document.read_bytes().hex()]}
        )
        assert added["results"] == ["added"], added
        # At once: its TLS handshakes are refused, and its requests on a member's
        # connection are refused as revoked.
        assert not tls_accepted(port, REVOKED)
        status, answer = signed_request(port, revoked, "GET", "/v1/witnessed", to, tls_as=MEMBER)
        assert status == 403, answer
        assert "revoked" in answer["error"]
        # Gossip carries the revocation on: another node soon refuses the key too.
        other = "ES@MA"

        def refused_elsewhere() -> tuple[bool, str]:
            status, answer = signed_request(
                net.ports[other], revoked, "GET", "/v1/witnessed", other, tls_as=MEMBER
            )
            handshake = tls_accepted(net.ports[other], REVOKED)
            done = status == 403 and not handshake
            return done, f"{other} answers {status} {answer}; TLS handshake accepted: {handshake}"

        cluster.wait_for(refused_elsewhere, 60, "the revocation to spread", [TARGET, other])

        # A flood of unsigned requests is cut off; signed peers are not.
        context = kit().client(port)
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context)
        statuses: list[int] = []
        try:
            while 429 not in statuses and len(statuses) < 3000:
                conn.request("GET", "/v1/checkpoint")
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            conn.close()
        assert statuses[-1] == 429, statuses
        assert set(statuses[:-1]) == {401}, statuses
        assert signed_request(port, member, "GET", "/v1/witnessed", to)[0] == 200
    finally:
        slow_thread.join(BODY_TIMEOUT_S + 30)
    assert not slow_thread.is_alive(), "the slow-body connection never ended"
    assert len(slow) == 1
    if isinstance(slow[0], BaseException):
        raise slow[0]
    status, elapsed = slow[0]
    print(f"slow body: {status} after {elapsed:.1f} s; 429 after {len(statuses)} unsigned")
    # Timed out by the server: 408, after the body timeout and long before 32 s.
    assert status == 408, slow
    assert BODY_TIMEOUT_S - 1 <= elapsed <= BODY_TIMEOUT_S + 10, slow

    # After all that, the node still takes part in gossip: an honest envelope reaches it.
    honest = cluster.publish("ES@MA", "host_country_contact")
    assert TARGET in honest.recipients
    cluster.wait_converged(RUNNING, CONVERGE_S)
    assert cluster.running(TARGET)
    log = (cluster.home(TARGET) / "daemon.log").read_text(errors="replace")
    assert "Traceback" not in log, cluster.log_tail(TARGET)


def test_split_view_is_caught_and_the_evidence_spreads(net: Net) -> None:
    cluster = net.up()

    def check() -> tuple[bool, str]:
        counts = {n: len((cluster.status(n) or {}).get("split_views", [])) for n in RUNNING}
        done = all(c >= 1 for c in counts.values())
        served, asked = net.evil.served_views(), net.evil.requests
        return done, f"split views {counts}; the liar served {served} ({asked} requests)"

    took = cluster.wait_for(check, CONVERGE_S, "split-view evidence on every node")
    print(f"split view recorded on every node {took:.1f} s into this test")
    served = net.evil.served_views()
    assert served["A"] == [FOOLED], served
    assert FOOLED not in served["B"] and served["B"], served
    # The evidence a node hands its peers: the liar's origin and both signed notes.
    asker = net.identity(EVIL)
    for node in ("DE@TR", "FR@TR", "ES@MA"):
        request = encode_body({"heads": [], "max_bytes": 1})
        status, answer = signed_request(net.ports[node], asker, "POST", "/v1/sync", node, request)
        assert status == 200, answer
        evidence = [e for e in answer["split_views"] if e[0] == net.evil.origin]
        assert len(evidence) == 1, answer["split_views"]
        assert set(evidence[0][1:]) == set(net.evil.notes.values())


def test_clean_stop_then_every_log_verifies(net: Net) -> None:
    cluster = net.up()
    cluster.publish("FR@TR", "task_sharing_agreement")  # so that a lone run has a log too
    cluster.wait_converged(RUNNING, CONVERGE_S)
    total = len(cluster.published)
    cluster.stop()
    runs = {
        node: cluster.cli(node, "log", "verify", "--json", "--workers", "1") for node in RUNNING
    }
    for node, process in runs.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{node}: {out}\n{err}"
        report = json.loads(out)
        assert report["ok"] and report["problems"] == [], (node, report)
        assert report["size"] == total, (node, report)
        # The clean stop signed a last checkpoint covering the whole log.
        assert report["latest_checkpoint"] == total, (node, report)
    for node in RUNNING:
        log = (cluster.home(node) / "daemon.log").read_text(errors="replace")
        assert "Traceback" not in log, cluster.log_tail(node)


# -- network namespaces ---------------------------------------------------------------

NS_NODES = {"COM@EU": "a", "DE@TR": "a", "FR@TR": "b"}
#: TEST-NET-1 addresses, only ever configured inside the two namespaces made here.
NS_ADDRESSES = {"a": "192.0.2.1", "b": "192.0.2.2"}


@dataclass
class Namespaces:
    """Two network namespaces joined by one veth pair; each end has one address."""

    tag: str
    created: list[str] = field(default_factory=list)

    def name(self, side: str) -> str:
        return f"ilo-gossip-{self.tag}-{side}"

    def link(self, side: str) -> str:
        return f"ilo{self.tag[-6:]}{side}"  # within 15 characters

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)

    def create(self) -> None:
        for side in ("a", "b"):
            self.ip("netns", "add", self.name(side))
            self.created.append(self.name(side))
        a, b = self.name("a"), self.name("b")
        self.ip(
            "link", "add", self.link("a"), "netns", a, "type", "veth",
            "peer", "name", self.link("b"), "netns", b,
        )  # fmt: skip
        for side in ("a", "b"):
            ns = self.name(side)
            self.ip("-n", ns, "link", "set", "lo", "up")
            self.ip("-n", ns, "addr", "add", f"{NS_ADDRESSES[side]}/24", "dev", self.link(side))
            self.ip("-n", ns, "link", "set", self.link(side), "up")
            self.ip("netns", "exec", ns, "true")  # processes can run in it, too

    def set_link(self, side: str, state: str) -> None:
        self.ip("-n", self.name(side), "link", "set", self.link(side), state)

    def delete(self) -> None:
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)
        self.created.clear()


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    if shutil.which("ip") is None:
        pytest.skip("no 'ip' command (iproute2) to create network namespaces")
    if os.geteuid() != 0:
        pytest.skip("creating network namespaces needs root (CAP_NET_ADMIN)")
    spaces = Namespaces(str(os.getpid()))
    try:
        try:
            spaces.create()
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot create network namespaces and a veth pair: {exc.stderr.strip()}")
        yield spaces
    finally:
        spaces.delete()


def test_node_cut_off_by_a_link_down_catches_up_when_it_is_up(
    namespaces: Namespaces, tmp_path: Path
) -> None:
    nodes = list(NS_NODES)
    ports = dict(zip(nodes, (7101, 7102, 7103), strict=True))  # fresh namespaces: all free
    endpoints = {n: f"https://{NS_ADDRESSES[NS_NODES[n]]}:{ports[n]}" for n in nodes}
    built = build_network(tmp_path / "net", nodes, endpoints=endpoints, passphrase=PASS)
    for node in nodes:
        write_daemon_config(built.nodes[node].path)
    prefixes = {n: ("ip", "netns", "exec", namespaces.name(side)) for n, side in NS_NODES.items()}
    cluster = Cluster(built, prefixes=prefixes)
    try:
        cluster.start(*nodes)
        cluster.wait_ready(nodes)
        cluster.publish("DE@TR", "incident_alert")
        cluster.wait_converged(nodes, CONVERGE_S)

        namespaces.set_link("b", "down")  # FR@TR, alone in namespace b, is cut off
        from_a = cluster.publish("DE@TR", "route_report")
        from_b = cluster.publish("FR@TR", "flow_report")
        assert "FR@TR" in from_a.recipients and "DE@TR" in from_b.recipients

        def cut_observed() -> tuple[bool, str]:
            com = cluster.readable("COM@EU", [from_a.id]) or set()
            fr = cluster.status("FR@TR") or {}
            failing = {p: s["failures"] for p, s in fr.get("peers", {}).items()}
            done = from_a.id in com and all(failing.get(p, 0) >= 1 for p in ("COM@EU", "DE@TR"))
            return done, f"COM@EU reads {com}; FR@TR's peers failing {failing}"

        cluster.wait_for(cut_observed, CONVERGE_S, "the cut to show")
        # Namespace a still gossips inside; nothing crossed the cut either way.
        assert cluster.readable("FR@TR", [from_a.id]) == set()
        assert cluster.readable("COM@EU", [from_b.id]) == set()
        assert cluster.readable("DE@TR", [from_b.id]) == set()
        sizes = {n: (cluster.status(n) or {}).get("log_size") for n in nodes}
        assert sizes == {"COM@EU": 2, "DE@TR": 2, "FR@TR": 2}, sizes

        namespaces.set_link("b", "up")
        took = cluster.wait_converged(nodes, CONVERGE_S)
        print(f"healed: converged {took:.1f} s after the link came back up")
        cluster.stop()
    finally:
        cluster.close()
    assert_published(cluster, cluster.published)


def assert_published(cluster: Cluster, published: Sequence[Published]) -> None:
    """Every node's database, read after the stop, holds every envelope."""
    for node in cluster.built.nodes:
        conn = sqlite3.connect(f"file:{cluster.home(node) / 'node.db'}?mode=ro", uri=True)
        try:
            ids = {bytes(r[0]).hex() for r in conn.execute("SELECT id FROM envelopes")}
        finally:
            conn.close()
        assert {p.id for p in published} <= ids, node
