"""The officer API: what a node's own officers ask of it, on the peer listener.

Routes under ``/v1/officer/`` (docs/api.md, "The officer API"). Every request is
signed with the officer's certified key (:func:`verify_officer_request`); over
TLS it must come on a connection whose client certificate is that key's. Bodies
are msgpack maps read with the typed readers of :mod:`ilo_node.net.wire`;
answers are msgpack too. The node's part is :class:`ilo_node.node.officers.OfficerDesk`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ilo_node.errors import AuthError
from ilo_node.net.logs import QuietLog
from ilo_node.net.peerauth import HEADERS, NonceCache, PeerRequest, verify_officer_request
from ilo_node.net.ratelimit import RateLimiter
from ilo_node.net.wire import (
    MAX_INT,
    decode_body,
    encode_body,
    error_body,
    get_bool,
    get_bytes_list,
    get_int,
    get_list,
    get_str,
    get_str_list,
)
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from ilo_node.node.documents import document_rank
from ilo_node.node.officers import MAX_MESSAGES, MessageQuery
from protocol.errors import FieldError, IloError, LimitExceededError, ProtocolError
from protocol.identifiers import OFFICER_NAME_PATTERN, split_node_id
from protocol.kinds import KINDS

__all__ = ["OFFICER_ROUTES", "OfficerService"]

log = logging.getLogger("ilo_node.officers")
refusals = QuietLog(log)

#: Every route of the officer API, as (method, path).
OFFICER_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/v1/officer/status"),
    ("GET", "/v1/officer/head"),
    ("POST", "/v1/officer/documents"),
    ("POST", "/v1/officer/submit"),
    ("POST", "/v1/officer/messages"),
    ("POST", "/v1/officer/resolve"),
    ("POST", "/v1/officer/read"),
    ("GET", "/v1/officer/proof"),
)
OFFICER_PREFIX = "/v1/officer/"

_PARTY = re.compile(r"[A-Z]{2,7}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_KIND = re.compile(r"[a-z_]{1,64}")
_NAME = re.compile(OFFICER_NAME_PATTERN)
_NODE = re.compile(r"[A-Z]{2,7}@[A-Z]{2}")
#: Most document bytes one answer carries; the officer asks again for the rest.
_DOCUMENT_PAGE_BYTES = 4 * 1024 * 1024


def _ok(value: dict[str, Any]) -> tuple[int, bytes]:
    return 200, encode_body(value)


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, error_body(message)


class OfficerService:
    def __init__(self, worker: NodeWorker, nonces: NonceCache) -> None:
        self.worker = worker
        self.node: Node = worker.node
        self.nonces = nonces
        self.limits = RateLimiter(50.0, 100.0)
        #: Set by the daemon: hands what officers handed over on to gossip.
        self.on_new: Callable[[list[bytes]], Awaitable[None]] | None = None

    async def handle(
        self,
        method: str,
        path: str,
        target: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        tls_key: bytes | None,
    ) -> tuple[int, bytes]:
        node = self.node
        try:
            request = PeerRequest(method, target, body, headers)
            who = await self.worker.call(
                lambda: verify_officer_request(
                    node.trust, node.node_id, request, node.clock(), self.nonces
                )
            )
        except AuthError as exc:
            refusals.info("officer auth", "refused %r %r: %s", method[:16], path[:80], exc.message)
            return _error(exc.status, exc.message)
        if tls_key is not None and bytes.fromhex(headers[HEADERS["key"]]) != tls_key:
            return _error(403, f"officer {who.officer} signed with another key than its TLS one")
        if not self.limits.allow(who.officer):
            return _error(429, f"officer {who.officer} exceeds the request rate; slow down")
        try:
            return await self._route(who.officer, who.key, method, path, query, body)
        except LimitExceededError as exc:
            return _error(413, exc.message)
        except ProtocolError as exc:
            return _error(400, exc.message)
        except IloError as exc:
            return _error(422, exc.message)

    async def _route(
        self,
        officer: str,
        key: bytes,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> tuple[int, bytes]:
        desk = self.node.officers
        if method == "GET" and path == "/v1/officer/status":
            return _ok(await self.worker.call(self._status, officer))
        if method == "GET" and path == "/v1/officer/head":
            return _ok(await self.worker.call(desk.head, key))
        if method == "POST" and path == "/v1/officer/documents":
            have = set(get_bytes_list(decode_body(body, "documents"), "have", size=16))
            return _ok(await self.worker.call(self._documents, have))
        if method == "POST" and path == "/v1/officer/submit":
            request = decode_body(body, "submit")
            envelopes = get_bytes_list(request, "envelopes")
            awaiting = _awaiting(request)
            results = await self.worker.call(desk.submit, officer, envelopes, awaiting)
            placed = [
                raw for raw, r in zip(envelopes, results, strict=True) if r.status == "accepted"
            ]
            if placed and self.on_new is not None:
                await self.on_new(placed)
            return _ok(
                {
                    "results": [
                        [r.status, r.reason, r.envelope_id if r.envelope_id else None]
                        for r in results
                    ]
                }
            )
        if method == "POST" and path == "/v1/officer/messages":
            request = decode_body(body, "messages")
            found = await self._search(request)
            asked = _message_query(request, found)
            return _ok({"messages": await self.worker.call(desk.messages, officer, asked)})
        if method == "POST" and path == "/v1/officer/resolve":
            prefix = get_str(decode_body(body, "resolve"), "prefix", max_chars=64) or ""
            return _ok({"ids": await self.worker.call(desk.resolve, prefix)})
        if method == "POST" and path == "/v1/officer/read":
            ids = get_bytes_list(decode_body(body, "read"), "ids", size=32)
            if len(ids) > MAX_MESSAGES:
                raise FieldError(f"field 'ids' holds at most {MAX_MESSAGES} ids")
            return _ok({"marked": await self.worker.call(desk.mark_read, officer, ids)})
        if method == "GET" and path == "/v1/officer/proof":
            envelope_id = _hex_id(query)
            return _ok(await self.worker.call(desk.proof, envelope_id))
        return _error(404, f"no such officer API route: {method[:16]!r} {path[:80]!r}")

    async def _search(self, request: dict[str, Any]) -> tuple[bytes, ...] | None:
        """Ids a text search finds, with the listing's own filters (so that the limit
        counts what is listed); ``None`` when no text is asked for."""
        text = get_str(request, "text", max_chars=1000)
        if text is None:
            return None
        asked = _message_query(request, None)
        search = self.node.search

        def run() -> list[bytes]:
            return search.search(
                text,
                kinds=asked.kinds,
                parties=asked.parties,
                hosts=asked.hosts,
                officers=asked.officers,
                since_ms=asked.since_ms,
                until_ms=asked.until_ms,
                limit=asked.limit,
            )

        return tuple(await self.worker.call(run))

    def _status(self, officer: str) -> dict[str, Any]:
        node = self.node
        roster = node.trust.chain.status(node.clock())
        return {
            "node": node.node_id,
            "network": node.network,
            "size": node.size(),
            "unread": node.officers.unread_count(officer),
            "pending_shares": node.officers.pending(),
            "roster": {"version": roster.version, "state": roster.state, "message": roster.message},
            "time_ms": node.clock(),
        }

    def _documents(self, have: set[bytes]) -> dict[str, Any]:
        mine = self.node.docs.by_digest()
        out: list[bytes] = []
        size = 0
        more = False
        # Rosters first, then what depends on them (the node's own order), so that an
        # officer's home can apply each page as it comes.
        for digest, data in sorted(mine.items(), key=lambda item: document_rank(item[1])):
            if digest in have:
                continue
            if out and size + len(data) > _DOCUMENT_PAGE_BYTES:
                more = True
                break
            out.append(data)
            size += len(data)
        return {"documents": out, "more": more}


def _awaiting(request: dict[str, Any]) -> dict[bytes, tuple[str, ...]]:
    out: dict[bytes, tuple[str, ...]] = {}
    for item in get_list(request, "awaiting", required=False)[:MAX_MESSAGES]:
        if not (isinstance(item, list) and len(item) == 2 and type(item[0]) is bytes):
            raise FieldError("field 'awaiting' must be a list of [envelope id, [node ids]]")
        nodes = item[1]
        if (
            len(item[0]) != 32
            or not isinstance(nodes, list)
            or len(nodes) > 256
            or not all(type(n) is str and _NODE.fullmatch(n) and split_node_id(n) for n in nodes)
        ):
            raise FieldError("field 'awaiting' must be a list of [envelope id, [node ids]]")
        out[item[0]] = tuple(nodes)
    return out


def _message_query(request: dict[str, Any], found: tuple[bytes, ...] | None) -> MessageQuery:
    kinds = get_str_list(request, "kinds", _KIND, "message kinds")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise FieldError(f"unknown message kind {unknown[0]!r}")
    since = request.get("since_ms")
    until = request.get("until_ms")
    return MessageQuery(
        kinds=tuple(kinds),
        parties=tuple(get_str_list(request, "parties", _PARTY, "party codes")),
        hosts=tuple(get_str_list(request, "hosts", _COUNTRY, "country codes")),
        officers=tuple(get_str_list(request, "officers", _NAME, "officer names")),
        since_ms=None if since is None else get_int(request, "since_ms", 0, hi=MAX_INT),
        until_ms=None if until is None else get_int(request, "until_ms", 0, hi=MAX_INT),
        unread_only=get_bool(request, "unread", False),
        others_only=get_bool(request, "others", False),
        ids=tuple(get_bytes_list(request, "ids", required=False, size=32)[:MAX_MESSAGES]),
        limit=get_int(request, "limit", 50, lo=1, hi=MAX_MESSAGES),
        found=found,
    )


def _hex_id(query: dict[str, list[str]]) -> bytes:
    values = query.get("id") or [""]
    text = values[0]
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise FieldError("query parameter 'id' must be an envelope id (64 lower-case hex digits)")
    return bytes.fromhex(text)
