"""The local API: JSON over the Unix socket ``HOME/daemon.sock`` (mode 0600), for the CLI.

Whoever may read the node's files may use it, and nobody else. Every route runs
its node work on the node's worker thread. Every answer is JSON, errors included
(``{error}`` or ``{error, hint}``): 400 for a malformed request (the body, a field,
the query), 404 and 405 for an unknown route or method, 413 for a body over 16 MiB,
422 for what the node refuses (any other ``IloError``); never a 500 for bad input.
Bodies are read by the one JSON parser of :mod:`ilo_node.formats.jsonfile` and
their fields checked with its ``get_*`` functions. docs/api.md, section 5, lists
the routes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ilo_node.errors import InputError, NodeError
from ilo_node.formats.jsoncontent import content_from_json
from ilo_node.formats.jsonfile import (
    MAX_JSON_BYTES,
    get_int,
    get_list,
    get_object,
    get_str,
    json_object,
    parse_json,
)
from ilo_node.net.gossip import Gossip
from ilo_node.net.logs import QuietLog, quiet_server_log
from ilo_node.net.worker import NodeWorker
from protocol.errors import IloError

__all__ = ["LOCAL_ROUTES", "local_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger("ilo_node.localapi")
#: A bug reached by some request: its traceback once a minute, not once per request.
bugs = QuietLog(log, burst=1)
_BODY = "request body"


class BadRequest(InputError):
    pass


def _error(status: int, message: str, hint: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if hint:
        body["hint"] = hint
    return web.json_response(body, status=status)


async def _json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is ``{}``)."""
    return json_object(parse_json(await request.read() or b"{}", _BODY), _BODY)


def _hex_list(body: dict[str, Any], name: str) -> list[bytes]:
    value = get_list(body, name, _BODY, [])
    if not all(isinstance(v, str) for v in value):
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


#: Every route of the local API (docs/api.md, section 5), as (method, path).
LOCAL_ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/local/publish"),
    ("GET", "/local/status"),
    ("POST", "/local/checkpoint"),
    ("POST", "/local/ingest"),
    ("POST", "/local/documents"),
    ("GET", "/local/readable"),
    ("POST", "/local/retention"),
    ("POST", "/local/keys"),
    ("POST", "/local/stop"),
    ("POST", "/local/resume-publishing"),
)


def local_app(
    worker: NodeWorker,
    gossip: Gossip,
    stop: asyncio.Event,
    transport: Callable[[], dict[str, Any]] | None = None,
    *,
    live: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    reload_keys: Callable[[bool], Awaitable[dict[str, Any]]] | None = None,
) -> web.Application:
    """``transport()``: how the peer API is carried, for ``/local/status``; ``live()``:
    what the daemon follows while it runs (its signing key, prekeys, peers), added to
    ``/local/status``; ``reload_keys(replace_prekeys)``: what ``/local/keys`` does (a
    node served without them answers 422 there)."""
    node = worker.node
    started_ms = node.clock()

    async def publish(request: web.Request) -> web.Response:
        body = await _json(request)
        kind, content = get_str(body, "kind", _BODY), get_object(body, "content", _BODY)
        distribution = get_str(body, "distribution", _BODY, "local")
        handling = get_str(body, "handling", _BODY, "H1")
        states = get_list(body, "states", _BODY, [])
        if not all(isinstance(s, str) for s in states):
            raise BadRequest("'states' must be a list of Member State codes")
        # Before the worker: a malformed {"$bytes": …} is the request's fault (400).
        value = content_from_json(content)
        envelope, result = await worker.call(
            lambda: node.publish(
                kind, value, distribution=distribution, handling=handling, states=states
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
        # The process, for 'ilo-node stop' (it waits for this pid to end) and status.
        record["pid"] = os.getpid()
        record["started_ms"] = started_ms
        record["peers"] = gossip.peer_status()
        record["outbox"]["push_queue"] = gossip.queue.qsize()
        if transport is not None:
            record["transport"] = transport()
        if live is not None:
            followed = await live()
            # The schedule's view of the prekeys joins what the home holds of them.
            schedule = followed.pop("prekeys", None)
            record.update(followed)
            if isinstance(schedule, dict):
                record.setdefault("prekeys", {}).update(schedule)
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
        policy = get_object(body, "policy", _BODY)
        for name in policy:
            get_int(policy, name, "'policy'")  # days: 0 to 2**63 - 1, as now_ms
        # Bounded: now_ms is stored with each erasure, and SQLite holds 64 bits.
        now = get_int(body, "now_ms", _BODY, None)
        erased = await worker.call(node.apply_retention, policy, now)
        return web.json_response({"erased": erased})

    async def keys(request: web.Request) -> web.Response:
        body = await _json(request)
        replace = body.get("replace_prekeys", False)
        if type(replace) is not bool:
            raise BadRequest("field 'replace_prekeys' must be true or false")
        if reload_keys is None:
            raise NodeError(
                "this node does not keep its own keys here",
                "Run 'ilo-node keys rotate' in the node's home; 'ilo-node run' takes it up.",
            )
        return web.json_response(await reload_keys(replace))

    async def resume_publishing(request: web.Request) -> web.Response:
        await _json(request)  # no fields; a body that is not JSON is still refused
        own = node.own_chain
        missing = await worker.call(own.resume, gossip.peers) if own is not None else None
        return web.json_response({"resumed": missing is not None, "not_heard_from": missing or []})

    async def shutdown(request: web.Request) -> web.Response:
        log.info("stop asked for through the local API")
        stop.set()
        # The pid: the caller waits for this process to end, not only for an answer.
        return web.json_response({"stopping": True, "pid": os.getpid()})

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            # aiohttp's own refusals (no such route, wrong method, body too large)
            # answer in plain text; the CLI reads JSON.
            if exc.status < 400:
                raise
            answer = _error(exc.status, exc.reason)
            if "Allow" in exc.headers:
                answer.headers["Allow"] = exc.headers["Allow"]
            return answer
        except InputError as exc:
            return _error(400, exc.message)
        except IloError as exc:
            return _error(422, exc.message, exc.advice)
        except Exception:
            # A bug: a short JSON answer, and aiohttp does not log a traceback per call.
            bugs.log(
                logging.ERROR,
                "local API bug",
                "internal error answering %s %r",
                request.method,
                request.path[:80],
                exc_info=True,
            )
            return _error(500, "internal error", "See the node's log, and report the bug.")

    quiet_server_log()
    app = web.Application(client_max_size=MAX_JSON_BYTES, middlewares=[errors])
    handlers = {
        "/local/publish": publish,
        "/local/status": status,
        "/local/checkpoint": checkpoint,
        "/local/ingest": ingest,
        "/local/documents": documents,
        "/local/readable": readable,
        "/local/retention": retention,
        "/local/keys": keys,
        "/local/stop": shutdown,
        "/local/resume-publishing": resume_publishing,
    }
    for method, path in LOCAL_ROUTES:
        app.router.add_route(method, path, handlers[path])
    return app
