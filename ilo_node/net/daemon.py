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
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ilo_node.formats.jsoncontent import content_from_json
from ilo_node.home.home import Home
from ilo_node.net.gossip import Gossip, GossipConfig
from ilo_node.net.peerauth import PeerIdentity
from ilo_node.net.service import NodeWorker, PeerService, RateLimiter
from ilo_node.net.transport import HttpTransport
from ilo_node.net.wire import MAX_BODY_BYTES
from ilo_node.node.core import Node
from protocol.errors import IloError, UsageError
from protocol.identifiers import EU_INSTITUTIONS, split_node_id

__all__ = ["DaemonConfig", "load_config", "peers_for", "run_daemon"]

log = logging.getLogger("ilo_node.net.daemon")
BODY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DaemonConfig:
    listen: str | None = None  # host:port; default from the roster endpoint
    fanout: int = 2
    sync_interval_s: float = 2.0
    checkpoint_interval_s: float = 5.0
    max_body_bytes: int = MAX_BODY_BYTES
    peer_rate: float = 200.0
    peer_burst: float = 400.0
    address_rate: float = 200.0
    request_timeout_s: float = 10.0
    prekey_check_interval_s: float = 600.0


def load_config(home: Home) -> DaemonConfig:
    path = home.path / "daemon.json"
    if not path.exists():
        return DaemonConfig()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    known = {f.name for f in fields(DaemonConfig)}
    unknown = set(raw) - known
    if unknown:
        raise UsageError(f"{path}: unknown settings {', '.join(sorted(unknown))}")
    return DaemonConfig(**raw)


def peers_for(node: Node) -> list[str]:
    """The roster nodes this node gossips with: its local network and the EU bodies;
    the Commission and the Agency gossip with every node, bridging local networks."""
    roster = node.trust.roster
    me = split_node_id(node.node_id)
    assert me is not None
    if me[0] in EU_INSTITUTIONS:
        return sorted(n for n in roster.nodes if n != node.node_id)
    return [n for n in roster.local_network(me[1]) if n != node.node_id]


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


def peer_app(service: PeerService, config: DaemonConfig) -> web.Application:
    anonymous = RateLimiter(config.address_rate, config.address_rate * 2)

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
            return web.Response(status=429, text="too many requests from this address")
        try:
            body = await _read_body(request, config.max_body_bytes)
        except TimeoutError:
            return web.Response(status=408, text="request body too slow")
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text=f"body over {config.max_body_bytes} bytes")
        status, out = await service.handle(request.method, request.path_qs, request.headers, body)
        return web.Response(status=status, body=out, content_type="application/msgpack")

    app = web.Application(client_max_size=config.max_body_bytes + 1)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def local_app(worker: NodeWorker, gossip: Gossip, stop: asyncio.Event) -> web.Application:
    """JSON API for the officer's CLI on the same machine."""
    node = worker.node

    async def publish(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            envelope, result = await worker.call(
                lambda: node.publish(
                    body["kind"],
                    content_from_json(body["content"]),
                    distribution=body.get("distribution", "local"),
                    handling=body.get("handling", "H1"),
                    states=body.get("states", ()),
                )
            )
        except IloError as exc:
            return web.json_response({"error": exc.message, "hint": exc.advice}, status=422)
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": f"bad request: {exc}"}, status=400)
        await gossip.push([envelope.to_bytes()], None)
        return web.json_response(
            {
                "id": envelope.id.hex(),
                "kind": envelope.header.kind,
                "seq": envelope.header.seq,
                "recipients": list(envelope.header.recipients),
                "log_index": result.log_index,
            }
        )

    async def status(request: web.Request) -> web.Response:
        def collect() -> dict[str, Any]:
            return {
                "node": node.node_id,
                "log_size": node.size(),
                **node.counts(),
                "split_views": len(node.split_views()),
                "heads": len(node.heads()),
            }

        record = await worker.call(collect)
        record["gossip"] = dict(gossip.stats)
        record["peers"] = {p: {"failures": s.failures} for p, s in sorted(gossip.state.items())}
        return web.json_response(record)

    async def checkpoint(request: web.Request) -> web.Response:
        note = await worker.call(node.checkpoint)
        return web.json_response({"note": note.decode()})

    async def ingest(request: web.Request) -> web.Response:
        body = await request.json()
        raws = [bytes.fromhex(h) for h in body.get("envelopes", [])]
        results = await worker.call(node.ingest, raws)
        new = [r for r, res in zip(raws, results, strict=True) if res.status == "accepted"]
        if new:
            await gossip.push(new, None)
        return web.json_response({"results": [r.as_dict() for r in results]})

    async def documents(request: web.Request) -> web.Response:
        body = await request.json()
        docs = [bytes.fromhex(h) for h in body.get("documents", [])]
        outcomes = await worker.call(node.add_documents, docs)
        return web.json_response({"results": outcomes})

    async def readable(request: web.Request) -> web.Response:
        wanted = [bytes.fromhex(h) for h in request.query.get("ids", "").split(",") if h]

        def which() -> list[str]:
            return [i.hex() for i in wanted if node.content(i) is not None]

        return web.json_response({"readable": await worker.call(which)})

    async def shutdown(request: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"stopping": True})

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException:
            raise
        except IloError as exc:
            return web.json_response({"error": exc.message, "hint": exc.advice}, status=422)
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": f"bad request: {exc}"}, status=400)
        return response

    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[errors])
    app.router.add_post("/local/publish", publish)
    app.router.add_get("/local/status", status)
    app.router.add_post("/local/checkpoint", checkpoint)
    app.router.add_post("/local/ingest", ingest)
    app.router.add_post("/local/documents", documents)
    app.router.add_get("/local/readable", readable)
    app.router.add_post("/local/stop", shutdown)
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
        peers_for(node),
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
    from ilo_node.home.prekeyfiles import maintain_prekeys
    from keys.keystore import key_file_info

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
            for peer in gossip.live_peers() if announcements else []:
                await gossip._call(peer, "POST", "/v1/documents", {"documents": announcements})
        except IloError as exc:
            log.warning("prekey maintenance failed: %s", exc.message)
        await asyncio.sleep(interval_s)


def run_daemon(home: Home, passphrase: bytes, ready_file: Path | None = None) -> None:
    logging.basicConfig(
        level=os.environ.get("ILO_NODE_LOG", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(home, passphrase, ready_file))
