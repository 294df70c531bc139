"""The local API: JSON over the Unix socket ``HOME/daemon.sock`` (mode 0600), for the CLI.

Whoever may read the node's files may use it, and nobody else. Every route runs
its node work on the node's worker thread. Errors answer ``{error, hint}``:
400 for a malformed request, 404 for an unknown envelope, 422 for what the node
refuses (any ``IloError``); never a 500 for bad input. docs/api.md, section 5,
lists the routes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ilo_node.formats.jsoncontent import content_from_json
from ilo_node.net.gossip import Gossip
from ilo_node.net.wire import MAX_BODY_BYTES
from ilo_node.net.worker import NodeWorker
from protocol.errors import IloError, UsageError

__all__ = ["local_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(UsageError):
    pass


def _error(status: int, message: str, hint: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if hint:
        body["hint"] = hint
    return web.json_response(body, status=status)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not JSON: {type(exc).__name__}") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def _hex_list(body: dict[str, Any], name: str) -> list[bytes]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"field {name!r} must be a list of hex strings")
    try:
        return [bytes.fromhex(v) for v in value]
    except ValueError:
        raise BadRequest(f"field {name!r} must be a list of hex strings") from None


def _id(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise BadRequest(f"{text[:80]!r} is not an envelope id (64 hex digits)")
    return value


def local_app(
    worker: NodeWorker,
    gossip: Gossip,
    stop: asyncio.Event,
    transport: Callable[[], dict[str, Any]] | None = None,
) -> web.Application:
    """``transport()``: how the peer API is carried, for ``/local/status``."""
    node = worker.node

    async def publish(request: web.Request) -> web.Response:
        body = await _json(request)
        kind, content = body.get("kind"), body.get("content")
        if not isinstance(kind, str) or not isinstance(content, dict):
            raise BadRequest("give 'kind' (a string) and 'content' (an object)")
        states = body.get("states", [])
        if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
            raise BadRequest("'states' must be a list of Member State codes")
        envelope, result = await worker.call(
            lambda: node.publish(
                kind,
                content_from_json(content),
                distribution=str(body.get("distribution", "local")),
                handling=str(body.get("handling", "H1")),
                states=states,
            )
        )
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
        record = await worker.call(node.view.status)
        record["running"] = True
        record["counters"] = node.counters.snapshot()
        record["queue"] = gossip.queue.qsize()
        record["peers"] = {p: {"failures": s.failures} for p, s in sorted(gossip.state.items())}
        if transport is not None:
            record["transport"] = transport()
        return web.json_response(record)

    async def checkpoint(request: web.Request) -> web.Response:
        note = await worker.call(node.checkpoint)
        return web.json_response({"note": note.decode()})

    async def ingest(request: web.Request) -> web.Response:
        raws = _hex_list(await _json(request), "envelopes")
        results = await worker.call(node.ingest, raws, None, "api")
        new = [r for r, res in zip(raws, results, strict=True) if res.status == "accepted"]
        new += await worker.call(node.ingestor.take_placed_from_quarantine)
        if new:
            await gossip.push(new, None)
        return web.json_response({"results": [r.as_dict() for r in results]})

    async def documents(request: web.Request) -> web.Response:
        docs = _hex_list(await _json(request), "documents")
        outcomes = await worker.call(node.add_documents, docs)
        return web.json_response({"results": outcomes})

    async def readable(request: web.Request) -> web.Response:
        wanted = [_id(h) for h in request.query.get("ids", "").split(",") if h]

        def which() -> list[str]:
            return [i.hex() for i in wanted if node.view.content(i) is not None]

        return web.json_response({"readable": await worker.call(which)})

    async def retention(request: web.Request) -> web.Response:
        body = await _json(request)
        policy, now = body.get("policy"), body.get("now_ms")
        if not isinstance(policy, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in policy.values()
        ):
            raise BadRequest("'policy' must map kinds, handling codes and 'default' to days")
        if now is not None and (not isinstance(now, int) or isinstance(now, bool) or now < 0):
            raise BadRequest("'now_ms' must be a non-negative integer")
        erased = await worker.call(node.apply_retention, policy, now)
        return web.json_response({"erased": erased})

    async def shutdown(request: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"stopping": True})

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except BadRequest as exc:
            return _error(400, exc.message)
        except IloError as exc:
            return _error(422, exc.message, exc.advice)

    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[errors])
    app.router.add_post("/local/publish", publish)
    app.router.add_get("/local/status", status)
    app.router.add_post("/local/checkpoint", checkpoint)
    app.router.add_post("/local/ingest", ingest)
    app.router.add_post("/local/documents", documents)
    app.router.add_get("/local/readable", readable)
    app.router.add_post("/local/retention", retention)
    app.router.add_post("/local/stop", shutdown)
    return app
