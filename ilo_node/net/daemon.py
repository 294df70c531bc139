"""``ilo-node run``: the peer API over TLS, the local API over a Unix socket, gossip.

The peer API listens on the address from ``HOME/daemon.json`` (default: the host
and port of this node's endpoint in the roster), over TLS 1.3 pinned to the
certified node keys (``ilo_node/net/tls.py``, ADR 0010); plain HTTP only for an
``http://`` endpoint and with ``"plain_http": true``. Connections are counted and
timed where they are accepted (``ilo_node/net/connections.py``), bodies are
capped while they are read (``Content-Length`` first, then the stream), slow
bodies time out, and every request is authenticated, and bound to its TLS
connection's key, before its body is interpreted. The local API for the CLI is a
Unix socket ``HOME/daemon.sock`` (mode 0600): whoever may read the node's files
may use it, nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import HttpVersion11, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from ilo_node.errors import HomeError
from ilo_node.home.home import Home
from ilo_node.net import connections
from ilo_node.net.config import DaemonConfig, load_config
from ilo_node.net.connections import (
    ConnectionLimits,
    PeerListener,
    connection_of,
    guard_middleware,
    inbound_budget,
    quiet_exception_handler,
)
from ilo_node.net.gossip import Gossip, GossipConfig
from ilo_node.net.live import LiveNetwork, network_view
from ilo_node.net.localapi import local_app
from ilo_node.net.logs import QuietFilter, QuietLog, private_log_handler, quiet_server_log
from ilo_node.net.peerauth import PeerIdentity
from ilo_node.net.peers import peers_for
from ilo_node.net.prekeykeeper import PrekeyKeeper
from ilo_node.net.ratelimit import RateLimiter
from ilo_node.net.service import PeerService
from ilo_node.net.tls import TLS_VERSION, NodeTls, trusted_keys
from ilo_node.net.transport import PLAIN_HTTP_ADVICE, HttpTransport, outgoing_connections
from ilo_node.net.wire import error_body
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from protocol.errors import IloError, UsageError

__all__ = ["BODY_TIMEOUT_S", "DaemonNode", "configure_logging", "run_daemon", "serve"]

log = logging.getLogger("ilo_node.daemon")
#: The default of ``body_timeout_s`` in daemon.json.
BODY_TIMEOUT_S = DaemonConfig.body_timeout_s
#: Seconds between two looks at which node keys may speak: certificates begin and
#: end with time, not only when a document arrives.
TLS_REFRESH_S = 60.0
#: aiohttp's server logger, quietened: it logs every malformed request (anyone's).
http_log = logging.getLogger("ilo_node.http")
http_log.addFilter(QuietFilter(QuietLog(http_log)))


class DaemonNode(Node):
    """The node as the daemon runs it: it says when trust documents were added, on the
    worker thread and before the caller resumes, so that TLS, peers and the key it
    speaks with follow at once (``net/live.py``)."""

    on_trust_change: Callable[[], None] | None = None

    def add_documents(self, documents: Iterable[bytes]) -> list[str]:
        outcomes = super().add_documents(documents)
        if "added" in outcomes and self.on_trust_change is not None:
            self.on_trust_change()
        return outcomes


async def _read_body(request: web.Request, limit: int, timeout_s: float) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout_s):
        while True:
            chunk = await request.content.read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
            chunks.append(chunk)
    return b"".join(chunks)


def _refused(status: int, message: str) -> web.Response:
    # msgpack like every other answer of the peer API, so a client reads one format.
    return web.Response(status=status, body=error_body(message), content_type="application/msgpack")


async def _expectation(request: web.Request) -> web.StreamResponse | None:
    """aiohttp's own handling of ``Expect`` (it runs before the route's handler), except
    that an expectation other than ``100-continue`` is refused in msgpack: aiohttp's
    refusal is plain text that quotes the header."""
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no expectations to meet
    if request.headers.get(hdrs.EXPECT, "").lower() != "100-continue":
        return _refused(417, "the only expectation met is 100-continue")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    # As aiohttp does: the interim answer is not part of the response's size.
    request.writer.output_size = 0
    return None


def peer_app(service: PeerService, config: DaemonConfig, *, tls: bool = False) -> web.Application:
    """The peer API; with ``tls``, every request must come on a connection whose client
    presented a node certificate, and is bound to its key."""
    anonymous = RateLimiter(config.address_rate, config.address_rate * 2)
    quiet_server_log()

    async def handle(request: web.Request) -> web.Response:
        # Every request counts against a bucket before anything else is done, so that
        # neither garbage nor forged headers can keep the node's worker busy: requests
        # without the signature headers per address, signed-looking ones per address
        # and claimed node (a forger only exhausts the bucket of what it forges).
        remote = request.remote or "?"
        claimed = request.headers.get("X-Ilo-Node", "")
        signed_looking = claimed and all(
            request.headers.get(h) for h in ("X-Ilo-Key", "X-Ilo-Signature", "X-Ilo-Nonce")
        )
        bucket = f"{remote}|{claimed}" if signed_looking else remote
        if not anonymous.allow(bucket):
            return _refused(429, "too many requests from this address")
        tls_key = None
        if tls:
            connection = connection_of(request)
            tls_key = connection.tls_key if connection is not None else None
            if tls_key is None:  # the handshake requires a certificate: not reached
                return _refused(403, "no TLS client certificate on this connection")
        if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
            # aiohttp would decompress it: the body cap would then count decompressed
            # bytes only after the work of inflating them. Peers never compress.
            return _refused(415, "compressed request bodies are not accepted")
        try:
            body = await _read_body(request, config.max_body_bytes, config.body_timeout_s)
        except TimeoutError:
            return _refused(408, "request body too slow")
        except web.HTTPRequestEntityTooLarge:
            return _refused(413, f"body over {config.max_body_bytes} bytes")
        except (HttpProcessingError, web.RequestPayloadError, ConnectionError):
            # A body aiohttp cannot decode (bad chunking, a Content-Encoding that does
            # not decompress) or a client gone mid-body: the sender's doing, answered
            # like any malformed request instead of a 500 and a traceback in the log.
            return _refused(400, "request body is malformed or incomplete")
        status, out = await service.handle(
            request.method, request.path_qs, request.headers, body, tls_key
        )
        return web.Response(status=status, body=out, content_type="application/msgpack")

    app = web.Application(client_max_size=config.max_body_bytes + 1, middlewares=[guard_middleware])
    app.router.add_route("*", "/{tail:.*}", handle, expect_handler=_expectation)
    return app


def _listen_address(node: Node, config: DaemonConfig) -> tuple[str, int]:
    listen = config.listen
    if listen is None:
        endpoint = node.trust.roster.nodes[node.node_id].endpoint
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or parts.port is None:
            raise UsageError(
                f"the roster endpoint of {node.node_id} is {endpoint!r}; set 'listen' in "
                "daemon.json"
            )
        return parts.hostname or "127.0.0.1", parts.port
    host, _, port = listen.rpartition(":")
    return host or "127.0.0.1", int(port)


def _serves_tls(node: Node, config: DaemonConfig) -> bool:
    """Whether the peer API listens with TLS: yes, unless this node's roster endpoint is
    ``http://``, which only a test network may allow."""
    endpoint = node.trust.roster.nodes[node.node_id].endpoint
    if urlsplit(endpoint).scheme != "http":
        return True
    if not config.plain_http:
        raise UsageError(
            f"the roster endpoint of {node.node_id} is {endpoint!r}: plain http between "
            'nodes is refused without "plain_http": true in daemon.json',
            PLAIN_HTTP_ADVICE,
        )
    return False


def _plain_peers(endpoints: dict[str, str], peers: Iterable[str]) -> list[str]:
    return [p for p in peers if urlsplit(endpoints.get(p, "")).scheme == "http"]


async def serve(
    home: Home,
    passphrase: bytes,
    ready_file: Path | None = None,
    config: DaemonConfig | None = None,
) -> None:
    config = config if config is not None else load_config(home)
    loop = asyncio.get_running_loop()
    # asyncio's own accept loop (the local API) and transports report what outsiders
    # cause through the loop's handler: a line a minute, not one a second.
    loop.set_exception_handler(quiet_exception_handler(connections.resources))
    node = DaemonNode(home, passphrase)
    worker = NodeWorker(node)
    try:
        assert node.signing is not None
        seed = node.signing.reveal()
        tls_on = _serves_tls(node, config)
        host, port = _listen_address(node, config)
        # The worker has not started yet: the trust state may be read here.
        keys = trusted_keys(node.trust, node.clock(), node.node_id)
        node_tls = NodeTls(node.network, node.node_id, seed, keys)
        peers = peers_for(node.trust.roster, node.node_id)
        budget = inbound_budget(config.max_connections, outgoing_connections(len(peers)))
    except BaseException:
        worker.close()
        node.close()
        raise
    identity = PeerIdentity(node.node_id, seed)
    endpoints = {n: e.endpoint for n, e in node.trust.roster.nodes.items()}
    plain = _plain_peers(endpoints, peers)
    if plain and not config.plain_http:
        log.warning(
            "peers with plain http endpoints are not dialled: %s (%s)",
            ", ".join(plain),
            PLAIN_HTTP_ADVICE,
        )
    _warn_about_own_key(node)
    transport = HttpTransport(
        identity,
        node.clock,
        endpoints,
        timeout_s=config.request_timeout_s,
        tls=node_tls.client,
        plain_http=config.plain_http,
    )
    gossip = Gossip(
        worker,
        transport,
        peers,
        GossipConfig(
            fanout=config.fanout,
            sync_interval_s=config.sync_interval_s,
            checkpoint_interval_s=config.checkpoint_interval_s,
        ),
    )
    service = PeerService(worker, gossip.push, rate=config.peer_rate, burst=config.peer_burst)

    async def officers_handed_over(envelopes: list[bytes]) -> None:
        placed = await worker.call(node.ingestor.take_placed_from_quarantine)
        await gossip.push(envelopes + placed, None)

    service.officers.on_new = officers_handed_over
    stop = asyncio.Event()
    limits = ConnectionLimits(
        header_timeout_s=config.header_timeout_s,
        max_per_address=config.max_connections_per_address,
        max_total=budget,
    )
    peer_runner = web.AppRunner(
        peer_app(service, config, tls=tls_on),
        access_log=None,
        keepalive_timeout=config.keepalive_timeout_s,
        logger=http_log,
    )
    await peer_runner.setup()
    assert peer_runner.server is not None
    listener = PeerListener(
        peer_runner.server, limits, (lambda: node_tls.server) if tls_on else (lambda: None)
    )
    prekeys = PrekeyKeeper(
        home,
        worker,
        gossip,
        passphrase,
        config.prekey_schedule(),
        config.prekey_check_interval_s,
    )
    # The worker has not started yet: the trust state may be read here.
    live = LiveNetwork(
        worker,
        node_tls,
        transport,
        gossip,
        config,
        listener=listener,
        prekeys=prekeys,
        first=network_view(node),
    )

    # Runs on the worker thread, inside add_documents (which chose the signing key
    # first): the view is applied on the event loop, TLS before the caller resumes.
    def trust_changed() -> None:
        loop.call_soon_threadsafe(live.schedule, network_view(node))

    node.on_trust_change = trust_changed

    def transport_status() -> dict[str, Any]:
        record: dict[str, Any] = {"tls": tls_on, "plain_http": config.plain_http}
        if tls_on:
            record["version"] = TLS_VERSION
        record["trusted_keys"] = len(node_tls.keys.pairs())
        record["connections"] = {
            "open": listener.total,
            "max": listener.limits.max_total,
            "max_per_address": limits.max_per_address,
            "refused": listener.refused,
        }
        return record

    async def live_status() -> dict[str, Any]:
        def on_worker() -> dict[str, Any]:
            now = node.clock()
            return {"signing_key": _signing_status(node), "prekeys": prekeys.status(now)}

        record = await worker.call(on_worker)
        record["signing_key"]["transport"] = node_tls.key.hex()
        record["peering"] = live.status()
        return record

    async def reload_keys(replace_prekeys: bool) -> dict[str, Any]:
        await live.refresh(reload_keys=True)
        record = {"prekeys": await prekeys.round(replace=replace_prekeys)}
        record["signing_key"] = await worker.call(_signing_status, node)
        return record

    local_runner = web.AppRunner(
        local_app(
            worker, gossip, stop, transport_status, live=live_status, reload_keys=reload_keys
        ),
        access_log=None,
    )
    await local_runner.setup()
    socket_path = home.path / "daemon.sock"
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    old_umask = os.umask(0o177)
    try:
        await web.UnixSite(local_runner, str(socket_path)).start()
    finally:
        os.umask(old_umask)
    await listener.start(host, port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gossip.start()
    log.info(
        "%s listening on %s:%d (%s), peers %s",
        node.node_id,
        host,
        port,
        TLS_VERSION if tls_on else "PLAIN HTTP, test network",
        ", ".join(gossip.peers),
    )
    if ready_file is not None:
        ready_file.write_text(json.dumps({"node": node.node_id, "port": port}))

    # Catch up at once with every peer instead of waiting for the first round.
    async def catch_up_with_peers() -> None:
        # One after another: the first peer brings what was missed, the others then
        # only compare heads (asking all at once would fetch the same envelopes from
        # every peer).
        for peer in random.sample(gossip.peers, len(gossip.peers)):
            await gossip.sync_with(peer)

    async def refresh() -> None:
        # Certificates begin and end with time, not only when a document arrives; and a
        # rotated key is taken up even if 'keys rotate' could not tell the node.
        while True:
            wait = TLS_REFRESH_S
            if live.view.next_key_change_ms is not None:
                wait = min(wait, max(0.05, (live.view.next_key_change_ms - node.clock()) / 1000))
            await asyncio.sleep(wait)
            try:
                await live.refresh(reload_keys=True)
            except IloError as exc:
                log.warning("looking at this node's keys failed: %s", exc.message)
            except Exception:  # a bug must not stop the node following its trust
                log.exception("following the trust state failed")

    catch_up = [asyncio.create_task(catch_up_with_peers())]
    background = [
        asyncio.create_task(prekeys.run()),
        asyncio.create_task(refresh()),
        asyncio.create_task(_share_loop(worker, gossip, config.sync_interval_s)),
    ]
    await stop.wait()
    for task in [*catch_up, *background]:
        task.cancel()
    log.info("%s stopping", node.node_id)
    await live.close()
    await gossip.stop()
    listener.close()
    await peer_runner.cleanup()
    await local_runner.cleanup()
    await transport.close()
    try:
        await worker.call(node.checkpoint)  # the last state, signed, for auditors
    except IloError as exc:
        log.warning("no last checkpoint signed: %s", exc.message)
    else:
        log.info("%s stopped: last checkpoint at log size %d", node.node_id, node.log.size)
    await worker.call(node.close)
    worker.close()
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()


def _signing_status(node: Node) -> dict[str, Any]:
    """Which key the node signs with and why (on the worker thread), for the status."""
    assert node.signing is not None
    choice = node.signing_choice
    held = node.own_keys.publics() if node.own_keys is not None else [node.signing.public]
    return {
        "key": node.signing.public.hex(),
        "newest": (choice.newest if choice is not None else node.signing.public).hex(),
        "may_speak": choice.may_speak if choice is not None else True,
        "reason": choice.reason if choice is not None else "",
        "newest_reason": choice.newest_reason if choice is not None else "",
        "retired_held": len(held) - 1,
    }


def _warn_about_own_key(node: Node) -> None:
    choice = node.signing_choice
    assert node.signing is not None
    if choice is not None and not choice.may_speak:
        log.warning(
            "this node's key %s… is not a certified node key of %s that may speak now (%s): "
            "peers refuse its TLS handshakes and requests until its certificate reaches them",
            node.signing.public.hex()[:16],
            node.node_id,
            choice.reason,
        )
    elif choice is not None and choice.waiting_for_newest:
        log.info(
            "signing with the retired key %s… until the new key %s… is certified",
            choice.key.hex()[:16],
            choice.newest.hex()[:16],
        )


async def _share_loop(worker: NodeWorker, gossip: Gossip, interval_s: float) -> None:
    """Give recipients whose prekey was missing the content keys they are owed, once the
    prekey has arrived; the shares spread like any envelope."""
    node = worker.node
    while True:
        await asyncio.sleep(interval_s)
        try:
            shares = await worker.call(node.officers.share_pending)
        except IloError as exc:
            log.warning("sharing content keys failed: %s", exc.message)
            continue
        if shares:
            log.info("shared %d content key(s) with recipients whose prekey arrived", len(shares))
            await gossip.push(shares, None)


def configure_logging(home: Home, config: DaemonConfig) -> None:
    """The daemon's log: standard error, or the rotated file ``daemon.json`` names
    (created 0600). Level: ``ILO_NODE_LOG`` (default ``INFO``)."""
    path = config.log_path(home)
    handler: logging.Handler = (
        logging.StreamHandler(sys.stderr)
        if path is None
        else private_log_handler(path, config.log_max_bytes, config.log_backups)
    )
    logging.basicConfig(
        level=os.environ.get("ILO_NODE_LOG", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )


#: The longest path a Unix socket may have here (sun_path holds 108 bytes with its NUL).
_MAX_SOCKET_PATH = 107


def run_daemon(home: Home, passphrase: bytes, ready_file: Path | None = None) -> None:
    socket_path = os.fsencode(home.path.absolute() / "daemon.sock")
    if len(socket_path) > _MAX_SOCKET_PATH:
        raise HomeError(
            f"the home's path is too long for its local API socket: {home.path}/daemon.sock "
            f"is {len(socket_path)} bytes, and a Unix socket path may have at most "
            f"{_MAX_SOCKET_PATH}",
            "Move the home to a shorter path (for instance under /var/lib/ilo-node/), or "
            "reach it by a shorter symbolic link, and start the node there.",
        )
    config = load_config(home)
    configure_logging(home, config)
    asyncio.run(serve(home, passphrase, ready_file, config))
