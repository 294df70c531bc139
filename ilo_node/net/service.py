"""The peer API as plain async functions: (method, path, headers, body) → (status, body).

The aiohttp server (ilo_node/daemon.py) and the in-memory transport used by
fast tests (ilo_node/transport.py) both call :meth:`PeerService.handle`, so the
logic is the same whatever carries the bytes. Every Node call runs on the one
worker thread that owns the node (SQLite connection, Merkle tree, trust state).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from ilo_node.net.peerauth import AuthError, NonceCache, verify_request
from ilo_node.net.wire import decode_body, encode_body, get_bytes_list, get_pairs
from ilo_node.node.core import Node, documents_summary
from protocol.errors import IloError, LimitExceededError, ProtocolError

__all__ = ["NodeWorker", "PeerService", "RateLimiter"]

log = logging.getLogger("ilo_node.net.service")
T = TypeVar("T")

#: Most envelope bytes one sync response carries; the requester asks again for more.
SYNC_PAGE_BYTES = 4 * 1024 * 1024


class NodeWorker:
    """Runs every operation on a node on one dedicated thread, in order."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="node")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args))

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class RateLimiter:
    """A token bucket per key (peer node or remote address)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > 10_000:  # bounded: forget the least recently seen half
            ordered = sorted(self._buckets.items(), key=lambda item: item[1][1])
            self._buckets = dict(ordered[-5_000:])
        return True


def _ok(value: dict[str, Any]) -> tuple[int, bytes]:
    return 200, encode_body(value)


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, encode_body({"error": message})


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
        self.node_id = worker.node.node_id
        self.on_new = on_new
        self.nonces = NonceCache()
        self.peer_limits = RateLimiter(rate, burst)
        self.stats: dict[str, int] = {"requests": 0, "refused": 0, "envelopes_received": 0}

    async def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        self.stats["requests"] += 1
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if method == "GET" and path == "/v1/health":
            return _ok({"node": self.node_id, "size": self.worker.node.size()})
        node = self.worker.node
        try:
            peer = await self.worker.call(
                lambda: verify_request(
                    trust=node.trust,
                    me=self.node_id,
                    method=method,
                    path=target,
                    body=body,
                    headers=headers,
                    now_ms=node.clock(),
                    nonces=self.nonces,
                )
            )
        except AuthError as exc:
            self.stats["refused"] += 1
            log.info("refused %s %s: %s", method, path, exc.message)
            return _error(exc.status, exc.message)
        if not self.peer_limits.allow(peer):
            self.stats["refused"] += 1
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
        node = self.worker.node
        if method == "POST" and path == "/v1/envelopes":
            envelopes = get_bytes_list(decode_body(body, "push"), "envelopes")
            results = await self.worker.call(node.ingest, envelopes)
            self.stats["envelopes_received"] += len(envelopes)
            accepted = [
                raw for raw, r in zip(envelopes, results, strict=True) if r.status == "accepted"
            ] + await self.worker.call(node.take_placed_from_quarantine)
            if accepted and self.on_new is not None:
                await self.on_new(accepted, peer)
            return _ok({"results": [[r.status, r.reason] for r in results]})
        if method == "POST" and path == "/v1/sync":
            request = decode_body(body, "sync")
            heads = dict(get_pairs(request, "heads"))
            head_ids = _head_ids(request, heads)
            wanted = request.get("max_bytes", SYNC_PAGE_BYTES)
            limit = (
                min(wanted if isinstance(wanted, int) and wanted > 0 else 0, SYNC_PAGE_BYTES)
                or SYNC_PAGE_BYTES
            )

            def answer() -> dict[str, Any]:
                envelopes, more = node.envelopes_beyond(heads, limit)
                envelopes = node.differing_heads(head_ids) + envelopes
                digests = sorted(node.documents())
                return {
                    "envelopes": envelopes,
                    "more": more,
                    "heads": [[k, v] for k, v in sorted(node.heads().items())],
                    "docs_summary": documents_summary(digests),
                    "forks": node.fork_proofs(),
                    "split_views": [[o, a, b] for o, a, b, _ in node.split_views()],
                }

            return _ok(await self.worker.call(answer))
        if method == "POST" and path == "/v1/documents/diff":
            theirs = set(get_bytes_list(decode_body(body, "documents diff"), "docs"))

            def diff() -> dict[str, Any]:
                mine = node.documents()
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
            since = _int_param(query, "from", 0)

            def checkpoint() -> dict[str, Any]:
                note = node.checkpoint_note_at()
                if note is None:
                    return {"note": None, "consistency": []}
                size = int(note.split(b"\n")[1])
                proof: list[bytes] = []
                if 0 < since <= size:
                    proof = node.consistency_proof(since, size)
                return {"note": note, "consistency": proof, "from": since}

            return _ok(await self.worker.call(checkpoint))
        if method == "GET" and path == "/v1/consistency":
            old, new = _int_param(query, "old", 0), _int_param(query, "new", 0)
            if not 0 <= old <= new <= node.size():
                return _error(416, f"sizes must satisfy 0 <= old <= new <= {node.size()}")
            proof = await self.worker.call(node.consistency_proof, old, new)
            return _ok({"proof": proof})
        if method == "POST" and path == "/v1/cosign":
            request = decode_body(body, "cosign")
            note = request.get("note")
            if type(note) is not bytes:
                return _error(400, "field 'note' must be bytes")
            stored = await self.worker.call(node.record_cosignature, note, peer)
            return _ok({"stored": stored})
        if method == "GET" and path == "/v1/witnessed":

            def witnessed() -> dict[str, Any]:
                rows = node.db.execute(
                    "SELECT w.note FROM witnessed w WHERE w.size = "
                    "(SELECT MAX(size) FROM witnessed x WHERE x.origin = w.origin)"
                ).fetchall()
                return {"notes": [bytes(r[0]) for r in rows]}

            return _ok(await self.worker.call(witnessed))
        return _error(404, f"no such peer API route: {method} {path}")


def _head_ids(request: dict[str, Any], heads: dict[bytes, int]) -> dict[bytes, tuple[int, bytes]]:
    raw = request.get("head_ids", [])
    out: dict[bytes, tuple[int, bytes]] = {}
    if not isinstance(raw, list):
        raise ProtocolError("field 'head_ids' must be a list")
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


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError:
        raise ProtocolError(f"query parameter {name!r} must be an integer") from None
    if value < 0:
        raise ProtocolError(f"query parameter {name!r} must not be negative")
    return value
