"""The seam between gossip and the network.

:class:`HttpTransport` signs each request with the node's key and sends it with
aiohttp to the peer's endpoint from the roster, over TLS 1.3 pinned to the
peer's certified keys for an ``https://`` endpoint (``ilo_node/net/tls.py``), in
plain HTTP for an ``http://`` one only if the node allows it (``plain_http``, for
test networks); :class:`MemoryTransport` hands
the same signed request straight to another in-process node's
:class:`~ilo_node.service.PeerService`, so gossip logic is tested fast and
deterministically without sockets. Network failures become
:class:`TransportError`, the only error gossip has to handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

import aiohttp

from ilo_node.errors import TransportError
from ilo_node.net.peerauth import PeerIdentity, sign_request
from ilo_node.net.service import PeerService
from ilo_node.net.wire import MAX_BODY_BYTES

__all__ = [
    "CONNECTIONS_PER_PEER",
    "MAX_OUTGOING",
    "HttpTransport",
    "MemoryTransport",
    "Transport",
    "outgoing_connections",
]

#: Connections open at once to one peer, and to all of them.
CONNECTIONS_PER_PEER = 4
MAX_OUTGOING = 100
#: Seconds an idle connection to a peer is kept for the next call. Each new one costs
#: a full TLS handshake, and with many peers the same peer comes round again only
#: every minute or so; the server keeps idle connections longer (75 s by default),
#: so it is the client that closes them, never one it is about to reuse.
IDLE_KEEPALIVE_S = 60.0
PLAIN_HTTP_ADVICE = (
    "give the node an https:// endpoint in the roster; only a test network may set "
    '"plain_http": true in daemon.json'
)


def outgoing_connections(peers: int) -> int:
    """The most connections an :class:`HttpTransport` holds open for ``peers`` peers."""
    return min(MAX_OUTGOING, CONNECTIONS_PER_PEER * peers)


class Transport(ABC):
    def __init__(self, identity: PeerIdentity, clock: Callable[[], int]) -> None:
        self.identity = identity
        self.clock = clock

    def set_identity(self, identity: PeerIdentity) -> None:
        """Sign requests as ``identity`` from now on (the node's signing key changed)."""
        self.identity = identity

    def set_endpoints(self, endpoints: Mapping[str, str]) -> None:  # noqa: B027
        """Dial peers at these endpoints from now on (a roster version changed them)."""

    def headers(self, method: str, path: str, body: bytes, peer: str) -> dict[str, str]:
        return sign_request(self.identity, method, path, body, peer, self.clock())

    @abstractmethod
    async def request(self, peer: str, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """Send one signed request; return (status, body) or raise TransportError."""

    async def close(self) -> None:
        return None


class HttpTransport(Transport):
    def __init__(
        self,
        identity: PeerIdentity,
        clock: Callable[[], int],
        endpoints: Mapping[str, str],
        *,
        timeout_s: float = 10.0,
        tls: Callable[[str], ssl.SSLContext] | None = None,
        plain_http: bool = False,
    ) -> None:
        """``tls(peer)`` gives the client context that pins ``peer``'s keys (it may
        raise :class:`TransportError`); ``plain_http`` allows ``http://`` endpoints."""
        super().__init__(identity, clock)
        self.endpoints = dict(endpoints)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(3.0, timeout_s))
        self.tls = tls
        self.plain_http = plain_http
        self._session: aiohttp.ClientSession | None = None
        #: Sessions of an earlier identity, closed once their requests have finished.
        self._retired: set[asyncio.Task[None]] = set()

    def set_identity(self, identity: PeerIdentity) -> None:
        """Sign as ``identity`` from now on, on new connections only: a kept-alive
        connection carries the old key's TLS certificate, and a peer refuses a request
        whose signing key is not its connection's. Requests under way finish on the old
        session, which is closed once they have had their time."""
        super().set_identity(identity)
        old, self._session = self._session, None
        if old is not None and not old.closed:
            task = asyncio.get_running_loop().create_task(self._close_later(old))
            self._retired.add(task)
            task.add_done_callback(self._retired.discard)

    async def _close_later(self, session: aiohttp.ClientSession) -> None:
        try:
            await asyncio.sleep(self.timeout.total or 10.0)
        finally:
            await session.close()

    def set_endpoints(self, endpoints: Mapping[str, str]) -> None:
        self.endpoints = dict(endpoints)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                connector=aiohttp.TCPConnector(
                    limit_per_host=CONNECTIONS_PER_PEER,
                    limit=MAX_OUTGOING,
                    keepalive_timeout=IDLE_KEEPALIVE_S,
                ),
            )
        return self._session

    def _ssl_for(self, peer: str, base: str) -> ssl.SSLContext | bool:
        if base.startswith("https://"):
            if self.tls is None:
                raise TransportError(f"{peer} has an https endpoint and this node has no TLS")
            return self.tls(peer)
        if base.startswith("http://"):
            if not self.plain_http:
                raise TransportError(
                    f"{peer}'s roster endpoint {base} is plain http: not dialled unless "
                    'daemon.json sets "plain_http": true',
                    PLAIN_HTTP_ADVICE,
                )
            return False
        raise TransportError(f"no HTTP endpoint for {peer} in the roster")

    async def request(self, peer: str, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        base = self.endpoints.get(peer)
        if not base:
            raise TransportError(f"no HTTP endpoint for {peer} in the roster")
        context = self._ssl_for(peer, base)
        headers = self.headers(method, path, body, peer)
        headers["Content-Type"] = "application/msgpack"
        try:
            async with self._client().request(
                method,
                base.rstrip("/") + path,
                data=body if method != "GET" else None,
                headers=headers,
                ssl=context,
            ) as response:
                if (response.content_length or 0) > MAX_BODY_BYTES:
                    raise TransportError(f"{peer} sent a response over {MAX_BODY_BYTES} bytes")
                # Read the whole body, capped while reading (a single read() returns
                # only what has arrived so far).
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > MAX_BODY_BYTES:
                        raise TransportError(f"{peer} sent a response over {MAX_BODY_BYTES} bytes")
                return response.status, bytes(data)
        except aiohttp.ClientConnectorCertificateError:
            raise TransportError(
                f"{peer} presented a TLS certificate of none of its certified node keys",
                "the peer runs with a key that is not certified (or revoked), or another "
                "server answers at its endpoint",
            ) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{peer} unreachable: {type(exc).__name__}") from None

    async def close(self) -> None:
        for task in list(self._retired):
            task.cancel()  # closes its session on the way out
        for task in list(self._retired):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()


class MemoryTransport(Transport):
    """Delivers to in-process services; ``down`` simulates unreachable peers."""

    def __init__(
        self, identity: PeerIdentity, clock: Callable[[], int], services: Mapping[str, PeerService]
    ) -> None:
        super().__init__(identity, clock)
        self.services = services
        self.down: set[str] = set()

    async def request(self, peer: str, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if peer in self.down or self.identity.node in self.down or peer not in self.services:
            raise TransportError(f"{peer} unreachable (in-memory network)")
        headers = self.headers(method, path, body, peer)
        return await self.services[peer].handle(method, path, headers, body)
