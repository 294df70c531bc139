"""``ilo-node run``: the peer API over HTTP, the local API over a Unix socket, gossip.

The peer API listens on the address from ``HOME/daemon.json`` (default: the host
and port of this node's endpoint in the roster). Bodies are capped while they
are read (``Content-Length`` first, then the stream), slow bodies time out, and
every request is authenticated before its body is interpreted. The local API
for the CLI is a Unix socket ``HOME/daemon.sock`` (mode 0600): whoever may read
the node's files may use it, nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ilo_node.home.home import Home
from ilo_node.home.prekeyfiles import maintain_prekeys
from ilo_node.net.config import DaemonConfig, load_config
from ilo_node.net.gossip import Gossip, GossipConfig
from ilo_node.net.localapi import local_app
from ilo_node.net.logs import quiet_server_log
from ilo_node.net.peerauth import PeerIdentity
from ilo_node.net.peers import peers_for
from ilo_node.net.ratelimit import RateLimiter
from ilo_node.net.service import PeerService
from ilo_node.net.transport import HttpTransport
from ilo_node.net.wire import error_body
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from keys.keystore import key_file_info
from protocol.errors import IloError, UsageError

__all__ = ["BODY_TIMEOUT_S", "run_daemon", "serve"]

log = logging.getLogger("ilo_node.daemon")
BODY_TIMEOUT_S = 10.0


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(BODY_TIMEOUT_S):
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


def peer_app(service: PeerService, config: DaemonConfig) -> web.Application:
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
        try:
            body = await _read_body(request, config.max_body_bytes)
        except TimeoutError:
            return _refused(408, "request body too slow")
        except web.HTTPRequestEntityTooLarge:
            return _refused(413, f"body over {config.max_body_bytes} bytes")
        except (HttpProcessingError, web.RequestPayloadError, ConnectionError):
            # A body aiohttp cannot decode (bad chunking, a Content-Encoding that does
            # not decompress) or a client gone mid-body: the sender's doing, answered
            # like any malformed request instead of a 500 and a traceback in the log.
            return _refused(400, "request body is malformed or incomplete")
        status, out = await service.handle(request.method, request.path_qs, request.headers, body)
        return web.Response(status=status, body=out, content_type="application/msgpack")

    app = web.Application(client_max_size=config.max_body_bytes + 1)
    app.router.add_route("*", "/{tail:.*}", handle)
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


async def serve(home: Home, passphrase: bytes, ready_file: Path | None = None) -> None:
    config = load_config(home)
    node = Node(home, passphrase)
    worker = NodeWorker(node)
    assert node.signing is not None
    identity = PeerIdentity(node.node_id, node.signing.reveal())
    endpoints = {n: e.endpoint for n, e in node.trust.roster.nodes.items()}
    transport = HttpTransport(identity, node.clock, endpoints, timeout_s=config.request_timeout_s)
    gossip = Gossip(
        worker,
        transport,
        peers_for(node.trust.roster, node.node_id),
        GossipConfig(
            fanout=config.fanout,
            sync_interval_s=config.sync_interval_s,
            checkpoint_interval_s=config.checkpoint_interval_s,
        ),
    )
    service = PeerService(worker, gossip.push, rate=config.peer_rate, burst=config.peer_burst)
    stop = asyncio.Event()
    host, port = _listen_address(node, config)
    peer_runner = web.AppRunner(peer_app(service, config), access_log=None)
    local_runner = web.AppRunner(local_app(worker, gossip, stop), access_log=None)
    await peer_runner.setup()
    await local_runner.setup()
    socket_path = home.path / "daemon.sock"
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    old_umask = os.umask(0o177)
    try:
        await web.UnixSite(local_runner, str(socket_path)).start()
    finally:
        os.umask(old_umask)
    await web.TCPSite(peer_runner, host, port).start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gossip.start()
    log.info("%s listening on %s:%d, peers %s", node.node_id, host, port, ", ".join(gossip.peers))
    if ready_file is not None:
        ready_file.write_text(json.dumps({"node": node.node_id, "port": port}))

    # Catch up at once with every peer instead of waiting for the first round.
    async def catch_up_with_peers() -> None:
        # One after another: the first peer brings what was missed, the others then
        # only compare heads (asking all at once would fetch the same envelopes from
        # every peer).
        for peer in random.sample(gossip.peers, len(gossip.peers)):
            await gossip.sync_with(peer)

    catch_up = [asyncio.create_task(catch_up_with_peers())]
    prekeys = asyncio.create_task(
        _prekey_loop(home, worker, gossip, passphrase, config.prekey_check_interval_s)
    )
    await stop.wait()
    for task in [*catch_up, prekeys]:
        task.cancel()
    log.info("%s stopping", node.node_id)
    await gossip.stop()
    await peer_runner.cleanup()
    await local_runner.cleanup()
    await transport.close()
    with contextlib.suppress(IloError):
        await worker.call(node.checkpoint)  # the last state, signed, for auditors
    await worker.call(node.close)
    worker.close()
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()


async def _prekey_loop(
    home: Home, worker: NodeWorker, gossip: Gossip, passphrase: bytes, interval_s: float
) -> None:
    """Keep prekeys on schedule while the node runs (first round at start)."""
    node = worker.node
    profile = key_file_info(home.signing_key_path.read_bytes()).get("kdf_profile", "moderate")
    if profile not in ("interactive", "moderate", "sensitive"):
        profile = "moderate"
    while True:
        try:

            def maintain() -> list[bytes]:
                assert node.signing is not None
                changes = maintain_prekeys(
                    home, node.signing, passphrase, node.trust, node.clock(), profile
                )
                node.prekey_secrets.update(changes.created_keys)
                for public in changes.deleted_publics:
                    node.prekey_secrets.pop(public, None)
                if changes.created or changes.deleted:
                    log.info(
                        "prekeys: created epochs %s, deleted epochs %s",
                        changes.created,
                        changes.deleted,
                    )
                return changes.announcements

            announcements = await worker.call(maintain)
            if announcements:
                await gossip.send_documents(announcements, role="announce")
        except IloError as exc:
            log.warning("prekey maintenance failed: %s", exc.message)
        await asyncio.sleep(interval_s)


def run_daemon(home: Home, passphrase: bytes, ready_file: Path | None = None) -> None:
    logging.basicConfig(
        level=os.environ.get("ILO_NODE_LOG", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(home, passphrase, ready_file))
