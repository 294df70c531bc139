"""The peer API as plain async functions: (method, path, headers, body) → (status, body).

The aiohttp server (ilo_node/net/daemon.py) and the in-memory transport used by
fast tests (ilo_node/net/transport.py) both call :meth:`PeerService.handle`, so
the logic is the same whatever carries the bytes. Every Node call runs on the
one worker thread that owns the node (SQLite connection, Merkle tree, trust
state).

What it serves is counted in the node's counters: ``served_requests``,
``served_bytes_in`` and ``served_bytes_out`` by route, ``push_copies`` (the
envelopes peers pushed here, duplicates included), and refusals by status.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ilo_node.errors import AuthError
from ilo_node.net.logs import QuietLog
from ilo_node.net.officer_service import OFFICER_PREFIX, OFFICER_ROUTES, OfficerService
from ilo_node.net.peerauth import HEADERS, NonceCache, PeerRequest, verify_request
from ilo_node.net.ratelimit import RateLimiter
from ilo_node.net.wire import (
    decode_body,
    encode_body,
    error_body,
    get_bytes,
    get_bytes_list,
    get_int,
    get_list,
    get_pairs,
    query_int,
    split_target,
)
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from protocol.checkpoint import SignedCheckpoint
from protocol.errors import IloError, LimitExceededError, ProtocolError

__all__ = ["PEER_ROUTES", "SYNC_PAGE_BYTES", "PeerService"]

log = logging.getLogger("ilo_node.service")
#: Refusals are the outside world's doing: a few lines a minute, then a count.
refusals = QuietLog(log)
#: So is whatever input reaches a bug: one traceback per kind a minute, not per request.
bugs = QuietLog(log, burst=1)

#: Most envelope bytes one sync response carries; the requester asks again for more.
SYNC_PAGE_BYTES = 4 * 1024 * 1024
#: Every route of the peer API (docs/api.md, section 4), as (method, path).
PEER_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/v1/health"),
    ("POST", "/v1/envelopes"),
    ("POST", "/v1/sync"),
    ("POST", "/v1/documents/diff"),
    ("POST", "/v1/documents"),
    ("GET", "/v1/checkpoint"),
    ("GET", "/v1/consistency"),
    ("POST", "/v1/cosign"),
    ("GET", "/v1/witnessed"),
    ("POST", "/v1/evidence"),
)
#: Routes known to the counters; anything else is counted as "other".
_ROUTES = frozenset(path for _, path in PEER_ROUTES + OFFICER_ROUTES)


def _ok(value: dict[str, Any]) -> tuple[int, bytes]:
    return 200, encode_body(value)


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, error_body(message)


class PeerService:
    def __init__(
        self,
        worker: NodeWorker,
        on_new: Callable[[list[bytes], str | None], Awaitable[None]] | None = None,
        *,
        rate: float = 200.0,
        burst: float = 400.0,
    ) -> None:
        self.worker = worker
        self.node: Node = worker.node
        self.node_id = self.node.node_id
        self.counters = self.node.counters
        self.on_new = on_new
        self.nonces = NonceCache()
        self.peer_limits = RateLimiter(rate, burst)
        # Officers share the listener, the nonce cache and the worker, not the routes.
        self.officers = OfficerService(worker, self.nonces)

    async def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        tls_key: bytes | None = None,
    ) -> tuple[int, bytes]:
        """``tls_key``: the key of the TLS client certificate the request came with; a
        signed request must then be signed with that key (the connection is bound to
        it)."""
        path, _ = split_target(target)
        route = path if path in _ROUTES else "other"
        try:
            status, out = await self._handle(method, target, headers, body, tls_key)
        except Exception:
            # The last line of defence: every input is meant to be answered by the
            # checks above with a 4xx (tests/net/test_generated_requests.py). What
            # still escapes is a bug, answered with a short 500 here rather than with
            # aiohttp's traceback in the log for every request that triggers it.
            bugs.log(
                logging.ERROR,
                "peer service bug",
                "internal error answering %r %r",
                method[:16],
                path[:80],
                exc_info=True,
            )
            status, out = _error(500, "internal error")
        self.counters.add("served_requests", route)
        self.counters.add("served_bytes_in", route, len(body))
        self.counters.add("served_bytes_out", route, len(out))
        if status != 200:
            self.counters.add("served_refused", str(status))
        return status, out

    async def _handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        tls_key: bytes | None = None,
    ) -> tuple[int, bytes]:
        path, query = split_target(target)
        node = self.node
        if method == "GET" and path == "/v1/health":
            return _ok({"node": self.node_id, "size": node.size()})
        if path.startswith(OFFICER_PREFIX):
            return await self.officers.handle(method, path, target, query, headers, body, tls_key)
        try:
            request = PeerRequest(method, target, body, headers)
            peer = await self.worker.call(
                lambda: verify_request(node.trust, self.node_id, request, node.clock(), self.nonces)
            )
        except AuthError as exc:
            # repr: method and path are the sender's text, kept to one line.
            refusals.info("peer auth", "refused %r %r: %s", method[:16], path[:80], exc.message)
            return _error(exc.status, exc.message)
        # After the signature's own checks, so that their refusals say what they say:
        # the key that signed must be the one the TLS handshake proved (ADR 0010).
        if tls_key is not None and bytes.fromhex(headers[HEADERS["key"]]) != tls_key:
            message = f"{peer} signed with another key than its TLS certificate's"
            refusals.info("peer auth", "refused %r %r: %s", method[:16], path[:80], message)
            return _error(403, message)
        if not self.peer_limits.allow(peer):
            return _error(429, f"{peer} exceeds its request rate; slow down")
        try:
            return await self._route(peer, method, path, query, body)
        except LimitExceededError as exc:
            return _error(413, exc.message)
        except ProtocolError as exc:
            return _error(400, exc.message)
        except IloError as exc:
            return _error(422, exc.message)

    async def _route(
        self, peer: str, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, bytes]:
        node = self.node
        if method == "POST" and path == "/v1/envelopes":
            return await self._push(peer, body)
        if method == "POST" and path == "/v1/sync":
            return _ok(await self.worker.call(self._sync_answer, decode_body(body, "sync")))
        if method == "POST" and path == "/v1/documents/diff":
            theirs = set(get_bytes_list(decode_body(body, "documents diff"), "docs", size=16))

            def diff() -> dict[str, Any]:
                mine = node.docs.by_digest()
                return {
                    "documents": [d for k, d in sorted(mine.items()) if k not in theirs],
                    "docs": sorted(mine),
                }

            return _ok(await self.worker.call(diff))
        if method == "POST" and path == "/v1/documents":
            documents = get_bytes_list(decode_body(body, "documents"), "documents")
            outcomes = await self.worker.call(node.add_documents, documents)
            return _ok({"results": outcomes})
        if method == "GET" and path == "/v1/checkpoint":
            since = query_int(query, "from", 0)
            return _ok(await self.worker.call(self._checkpoint_answer, since))
        if method == "GET" and path == "/v1/consistency":
            old, new = query_int(query, "old", 0), query_int(query, "new", 0)
            if not 0 <= old <= new <= node.size():
                return _error(416, f"sizes must satisfy 0 <= old <= new <= {node.size()}")
            proof = await self.worker.call(node.log.consistency_proof, old, new)
            return _ok({"proof": proof})
        if method == "POST" and path == "/v1/cosign":
            note = get_bytes(decode_body(body, "cosign"), "note")
            stored = await self.worker.call(node.witnessing.record_cosignature, note, peer)
            return _ok({"stored": stored})
        if method == "POST" and path == "/v1/evidence":
            ids = get_bytes_list(decode_body(body, "evidence"), "ids")
            return _ok({"evidence": await self.worker.call(node.evidence.for_ids, ids)})
        if method == "GET" and path == "/v1/witnessed":
            return _ok({"notes": await self.worker.call(node.witnessing.latest_notes)})
        return _error(404, f"no such peer API route: {method[:16]!r} {path[:80]!r}")

    async def _push(self, peer: str, body: bytes) -> tuple[int, bytes]:
        node = self.node
        envelopes = get_bytes_list(decode_body(body, "push"), "envelopes")
        self.counters.add("push_copies", "received", len(envelopes))
        results = await self.worker.call(node.ingest, envelopes, None, "push", peer)
        accepted = [
            raw for raw, r in zip(envelopes, results, strict=True) if r.status == "accepted"
        ] + await self.worker.call(node.ingestor.take_placed_from_quarantine)
        if accepted and self.on_new is not None:
            await self.on_new(accepted, peer)
        return _ok({"results": [[r.status, r.reason] for r in results]})

    def _sync_answer(self, request: dict[str, Any]) -> dict[str, Any]:
        node = self.node
        heads = dict(get_pairs(request, "heads", key_size=32))
        head_ids = _head_ids(request, heads)
        # 0 (or absent) asks for a full page, as it always has.
        limit = min(get_int(request, "max_bytes", 0), SYNC_PAGE_BYTES) or SYNC_PAGE_BYTES
        envelopes, more = node.view.envelopes_beyond(heads, limit)
        envelopes = node.view.differing_heads(head_ids) + envelopes
        return {
            "envelopes": envelopes,
            "more": more,
            "heads": [[k, v] for k, v in sorted(node.view.heads().items())],
            "docs_summary": node.docs.summary(),
            "forks": node.view.fork_proofs(),
            "split_views": [[s.origin, s.note_a, s.note_b] for s in node.witnessing.split_views()],
        }

    def _checkpoint_answer(self, since: int) -> dict[str, Any]:
        node = self.node
        note = node.log.checkpoint_note_at()
        if note is None:
            return {"note": None, "consistency": []}
        size = SignedCheckpoint.from_bytes(note).checkpoint.size
        proof: list[bytes] = []
        if 0 < since <= size:
            proof = node.log.consistency_proof(since, size)
        return {"note": note, "consistency": proof, "from": since}


def _head_ids(request: dict[str, Any], heads: dict[bytes, int]) -> dict[bytes, tuple[int, bytes]]:
    raw = get_list(request, "head_ids", required=False)
    out: dict[bytes, tuple[int, bytes]] = {}
    # Items that do not name one of the heads are ignored: they are a hint for finding
    # forks sooner, and the heads alone answer the request.
    for item in raw[: len(heads)]:
        if (
            isinstance(item, list)
            and len(item) == 2
            and type(item[0]) is bytes
            and type(item[1]) is bytes
            and item[0] in heads
        ):
            out[item[0]] = (heads[item[0]], item[1])
    return out
