"""The peer API's listening socket: connection caps, a header timeout, descriptors in reserve.

aiohttp limits bodies and idle keep-alive, but not how many connections one
address (or everyone) may hold open, nor how long a connection may take to send
its request line and headers. :class:`PeerListener` runs its own accept loop so
that both are enforced where the connection is accepted, before any TLS or HTTP
work is done for it:

* a connection over ``max_per_address`` for its address, or over ``max_total``
  in all, is closed at once;
* a connection's TLS handshake must end within ``header_timeout_s``, and then its
  request line and headers must arrive within ``header_timeout_s`` too (timed
  from the connection, or from the first byte of a later request on a kept-alive
  connection, to the start of its handler);
* when descriptors run out, accept fails with ``EMFILE``: the loop waits a second
  and tries again, logging one line a minute (:class:`~ilo_node.net.logs.QuietLog`);
  :func:`inbound_budget` keeps ``max_total`` below the process's descriptor limit
  less a reserve, so that outgoing gossip and the database still get theirs.

Each accepted connection is served by a :class:`GuardedConnection`, which wraps
the protocol aiohttp makes for it, counts it, times it and knows the key of the
TLS certificate its client presented.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import socket
import ssl
import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ilo_node.net.logs import QuietLog
from ilo_node.net.tls import peer_certificate_key
from protocol.errors import UsageError

__all__ = [
    "ACCEPT_RETRY_S",
    "FD_RESERVE",
    "ConnectionLimits",
    "GuardedConnection",
    "PeerListener",
    "connection_of",
    "guard_middleware",
    "inbound_budget",
    "quiet_exception_handler",
]

log = logging.getLogger("ilo_node.connections")
#: Connections refused for the caps, cut off at the header timeout or left in their
#: handshake, and descriptors running out: anyone can cause them at will, so one line
#: a minute per kind, then a count.
resources = QuietLog(log, burst=1, period_s=60.0)
#: Refused TLS handshakes: a few lines a minute (they help an operator find a
#: misconfigured peer), then a count.
refusals = QuietLog(log)

#: Seconds the accept loop waits after the system ran out of descriptors or memory.
ACCEPT_RETRY_S = 1.0
#: Descriptors kept free of inbound connections whatever the peers: the database and
#: its journal, log files, the listening and local API sockets, the interpreter's own.
FD_RESERVE = 64
#: The fewest inbound connections a node can work with.
MIN_INBOUND = 8
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    max_per_address: int = 64
    max_total: int = 1024


def inbound_budget(requested: int, outgoing: int) -> int:
    """``requested``, lowered so that inbound connections can never take the descriptors
    that ``outgoing`` connections and :data:`FD_RESERVE` need. Raises
    :class:`UsageError` if the process's descriptor limit leaves too few."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return requested
    in_use = len(os.listdir("/proc/self/fd"))
    budget = soft - in_use - FD_RESERVE - outgoing
    if budget < MIN_INBOUND:
        raise UsageError(
            f"the descriptor limit ({soft}, RLIMIT_NOFILE) leaves room for {max(budget, 0)} "
            f"inbound connections once {in_use} open descriptors, {outgoing} for calls to "
            f"peers and {FD_RESERVE} in reserve are counted",
            f"raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit) to at least "
            f"{soft - budget + MIN_INBOUND}",
        )
    return min(requested, budget)


class GuardedConnection(asyncio.Protocol):
    """One accepted connection: aiohttp's protocol inside, a slot in its listener's
    counts, the header timer, and the key of the client's TLS certificate."""

    def __init__(self, listener: PeerListener, inner: asyncio.Protocol, address: str) -> None:
        self.listener = listener
        self.inner = inner
        self.address = address
        #: The Ed25519 key of the client's TLS certificate (None without TLS).
        self.tls_key: bytes | None = None
        #: The negotiated TLS version, e.g. "TLSv1.3" (None without TLS).
        self.tls_version: str | None = None
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        self._released = False

    # -- the protocol: counted, timed, then handed to aiohttp -----------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.tls_key = peer_certificate_key(ssl_object)
            self.tls_version = ssl_object.version()
        self._arm()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._busy and self._timer is None:
            self._arm()  # the first bytes of another request on a kept-alive connection
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.release()
        self.inner.connection_lost(exc)

    # -- what the handler tells it ---------------------------------------------------

    def request_started(self) -> None:
        """The request's headers are in: its handler runs, the header timer stops."""
        self._busy = True
        self._disarm()

    def request_finished(self) -> None:
        self._busy = False

    # -- bookkeeping -------------------------------------------------------------------

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.listener.release(self.address)

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.listener.limits.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self._busy or self.transport is None:
            return
        resources.info(
            "header timeout",
            "closed a connection from %s: no request headers within %.0f s",
            self.address,
            self.listener.limits.header_timeout_s,
        )
        self.transport.abort()


def connection_of(request: web.BaseRequest) -> GuardedConnection | None:
    """The guarded connection a request came on (None outside a :class:`PeerListener`)."""
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, GuardedConnection) else None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stops the header timer while a request is handled (its body has its own timeout)."""
    connection = connection_of(request)
    if connection is not None:
        connection.request_started()
    try:
        return await handler(request)
    finally:
        if connection is not None:
            connection.request_finished()


class PeerListener:
    """A listening TCP socket with its own accept loop, serving aiohttp's protocol
    (``factory``, i.e. ``AppRunner.server``) on each admitted connection, over TLS
    when ``ssl_context()`` gives a context (asked again for every connection, so that
    a replaced context applies to new handshakes)."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        limits: ConnectionLimits,
        ssl_context: Callable[[], ssl.SSLContext | None] = lambda: None,
    ) -> None:
        self.factory = factory
        self.limits = limits
        self.ssl_context = ssl_context
        self.per_address: Counter[str] = Counter()
        self.total = 0
        self.refused = 0
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._opening: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._sock is not None
        port: int = self._sock.getsockname()[1]
        return port

    async def start(self, host: str, port: int, backlog: int = 128) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=backlog)
        sock.setblocking(False)
        self._sock = sock
        self._accepting = asyncio.create_task(self._accept_loop(sock), name="peer-accept")

    def close(self) -> None:
        """Stop accepting and drop connections still in their handshake; the connections
        being served are closed by aiohttp's runner (``AppRunner.cleanup``)."""
        if self._accepting is not None:
            self._accepting.cancel()
            self._accepting = None
        for task in list(self._opening):
            task.cancel()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def release(self, address: str) -> None:
        self.total -= 1
        self.per_address[address] -= 1
        if self.per_address[address] <= 0:
            del self.per_address[address]

    # -- accepting ---------------------------------------------------------------------

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    # The connection stays in the backlog: try again later, not in a loop.
                    resources.warning(
                        "accept out of resources",
                        "cannot accept peer connections: %s; retrying every %.0f s",
                        errno.errorcode.get(exc.errno or 0, str(exc.errno)),
                        ACCEPT_RETRY_S,
                    )
                    await asyncio.sleep(ACCEPT_RETRY_S)
                    continue
                if exc.errno in (errno.ECONNABORTED, errno.EAGAIN, errno.EINTR, errno.EPROTO):
                    continue  # the client gave up before we took it
                # Anything else: say so and go on; a dead accept loop would leave the
                # node up but unreachable.
                resources.warning(
                    "accept failed", "accepting a peer connection failed: %s", type(exc).__name__
                )
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            self._admit(conn, _address(peer))

    def _admit(self, conn: socket.socket, address: str) -> None:
        why = None
        if self.total >= self.limits.max_total:
            why = f"{self.total} connections open, the most allowed (max_connections)"
        elif self.per_address[address] >= self.limits.max_per_address:
            why = (
                f"{self.per_address[address]} connections open from {address}, the most "
                "allowed per address (max_connections_per_address)"
            )
        if why is not None:
            self.refused += 1
            resources.warning("connections refused", "refusing peer connections: %s", why)
            with contextlib.suppress(OSError):
                # Reset rather than a graceful close: under a flood nothing of these
                # connections lingers on our side (no TIME_WAIT, no unsent data).
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        self.total += 1
        self.per_address[address] += 1
        guard = GuardedConnection(self, self.factory(), address)
        task = asyncio.create_task(self._open(conn, guard))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _open(self, conn: socket.socket, guard: GuardedConnection) -> None:
        loop = asyncio.get_running_loop()
        context = self.ssl_context()
        try:
            await loop.connect_accepted_socket(
                lambda: guard,
                conn,
                ssl=context,
                ssl_handshake_timeout=self.limits.header_timeout_s if context else None,
            )
        except asyncio.CancelledError:
            guard.release()
            conn.close()
            raise
        except (OSError, EOFError, ValueError) as exc:
            guard.release()
            conn.close()
            if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
                # Refused: no certificate, a certificate of no trusted key, an old TLS
                # version, plain HTTP on the TLS port. Worth a few lines: it is how a
                # misconfigured peer shows.
                refusals.info(
                    "tls handshake",
                    "TLS handshake with %s failed: %s",
                    guard.address,
                    _reason(exc),
                )
            else:
                # Abandoned: the client went away or stalled past the timeout (a flood
                # of connections that never speak looks like this).
                resources.info(
                    "handshake abandoned",
                    "TLS handshakes left unfinished by their clients (%s from %s)",
                    _reason(exc),
                    guard.address,
                )


def _address(peer: Any) -> str:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)  # e.g. CERTIFICATE_VERIFY_FAILED, UNSUPPORTED_PROTOCOL
    return type(exc).__name__


def quiet_exception_handler(
    quiet: QuietLog,
) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """An event loop exception handler that sends what outsiders can cause at will
    through ``quiet``: asyncio's own accept loops (the local API's Unix socket) report
    running out of descriptors once a second, and connection errors on transports are
    the peer's doing. Everything else goes to asyncio's default handler."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        exc = context.get("exception")
        if "out of system resource" in message or (
            isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES
        ):
            quiet.warning("accept out of resources", "%s: %s", message, type(exc).__name__)
            return
        if isinstance(exc, ConnectionError | ssl.SSLError):
            quiet.info("connection error", "%s: %s", message, type(exc).__name__)
            return
        loop.default_exception_handler(context)

    return handle
