"""The peer API's listener (ilo_node/net/connections.py), in process on loopback: the
connection caps, the header timeout, the accept loop when descriptors run out, and the
log lines all of that may cause (one a minute per kind, whatever the flood)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from aiohttp import web

from ilo_node.net import connections
from ilo_node.net.connections import (
    ConnectionLimits,
    PeerListener,
    connection_of,
    guard_middleware,
    inbound_budget,
    quiet_exception_handler,
)
from ilo_node.net.logs import QuietLog
from protocol.errors import UsageError

T = TypeVar("T")

REQUEST = b"GET /hello HTTP/1.1\r\nHost: peer\r\n\r\n"


def run(coro: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await asyncio.wait_for(coro(), 60)

    return asyncio.run(main())


@pytest.fixture(autouse=True)
def fresh_quiet_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test counts its own log lines: the module's QuietLogs start afresh."""
    monkeypatch.setattr(connections, "resources", QuietLog(connections.log, burst=1))
    monkeypatch.setattr(connections, "refusals", QuietLog(connections.log))


@contextlib.asynccontextmanager
async def listening(
    limits: ConnectionLimits, keepalive_s: float = 75.0
) -> AsyncIterator[PeerListener]:
    async def hello(request: web.Request) -> web.Response:
        connection = connection_of(request)
        return web.Response(text=f"hello {connection.address if connection else '?'}")

    app = web.Application(middlewares=[guard_middleware])
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=keepalive_s)
    await runner.setup()
    assert runner.server is not None
    listener = PeerListener(runner.server, limits)
    await listener.start("127.0.0.1", 0)
    try:
        yield listener
    finally:
        listener.close()
        await runner.cleanup()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_by_server(reader: asyncio.StreamReader, timeout_s: float = 10.0) -> bool:
    """Whether the server ends the connection (EOF or reset) within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


async def until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.01)


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


# -- caps ---------------------------------------------------------------------------------------


def test_connections_over_the_per_address_cap_are_closed_at_once_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "ilo_node.connections")

    async def main() -> None:
        async with listening(ConnectionLimits(max_per_address=3, max_total=100)) as listener:
            held = [await connect(listener.port) for _ in range(3)]
            await until(lambda: listener.total == 3)
            extra = [await connect(listener.port) for _ in range(20)]
            for reader, _ in extra:
                assert await closed_by_server(reader)
            assert listener.refused == 20 and listener.total == 3
            # Those within the cap are served.
            for reader, writer in held:
                assert (await answer(reader, writer)).endswith(b"hello 127.0.0.1")
            for _, writer in [*held, *extra]:
                writer.close()
            await until(lambda: listener.total == 0)
            # Slots come back: a new connection is served again.
            reader, writer = await connect(listener.port)
            assert (await answer(reader, writer)).startswith(b"HTTP/1.1 200")
            writer.close()

    run(main)
    refused = lines(caplog, "refusing peer connections")
    assert len(refused) == 1, refused
    assert "max_connections_per_address" in refused[0]


def test_connections_over_the_total_cap_are_closed_at_once() -> None:
    async def main() -> None:
        async with listening(ConnectionLimits(max_per_address=100, max_total=2)) as listener:
            held = [await connect(listener.port) for _ in range(2)]
            await until(lambda: listener.total == 2)
            reader, writer = await connect(listener.port)
            assert await closed_by_server(reader)
            assert listener.refused == 1
            for _, w in [*held, (reader, writer)]:
                w.close()

    run(main)


# -- the header timeout -----------------------------------------------------------------------


def test_a_connection_that_does_not_send_its_headers_in_time_is_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "ilo_node.connections")

    async def main() -> None:
        limits = ConnectionLimits(header_timeout_s=0.3)
        async with listening(limits) as listener:
            silent_reader, silent = await connect(listener.port)
            partial_reader, partial = await connect(listener.port)
            partial.write(b"GET /hello HTTP/1.1\r\nHost: pe")  # and nothing more
            start = asyncio.get_running_loop().time()
            assert await closed_by_server(silent_reader)
            assert await closed_by_server(partial_reader)
            assert asyncio.get_running_loop().time() - start < 5
            await until(lambda: listener.total == 0)
            silent.close()
            partial.close()

    run(main)
    assert lines(caplog, "no request headers within")


def test_the_header_timer_spares_requests_in_time_and_idle_kept_alive_connections() -> None:
    async def main() -> None:
        async with listening(ConnectionLimits(header_timeout_s=0.3), keepalive_s=30) as listener:
            reader, writer = await connect(listener.port)
            assert (await answer(reader, writer)).startswith(b"HTTP/1.1 200")
            # Idle between requests for longer than the header timeout: the idle time is
            # the keep-alive timeout's business, not the header timer's.
            await asyncio.sleep(0.6)
            assert (await answer(reader, writer)).startswith(b"HTTP/1.1 200")
            # A later request that stalls in its headers is cut off, though.
            writer.write(b"GET /hel")
            assert await closed_by_server(reader)
            writer.close()

    run(main)


# -- descriptors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "line"),
    [
        (errno.EMFILE, "cannot accept peer connections: EMFILE"),
        (errno.ENFILE, "cannot accept peer connections: ENFILE"),
        (errno.EINVAL, "accepting a peer connection failed: OSError"),  # unexpected: go on
    ],
)
def test_accept_failing_for_lack_of_descriptors_is_retried_and_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, code: int, line: str
) -> None:
    caplog.set_level(logging.INFO, "ilo_node.connections")
    monkeypatch.setattr(connections, "ACCEPT_RETRY_S", 0.001)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        real = loop.sock_accept
        failures = {"left": 200}

        async def sock_accept(sock: socket.socket) -> tuple[socket.socket, Any]:
            if failures["left"]:
                failures["left"] -= 1
                raise OSError(code, os.strerror(code))
            return await real(sock)

        monkeypatch.setattr(loop, "sock_accept", sock_accept)
        async with listening(ConnectionLimits()) as listener:
            reader, writer = await connect(listener.port)
            # Once descriptors are back, the waiting connection is served.
            assert (await answer(reader, writer)).startswith(b"HTTP/1.1 200")
            assert failures["left"] == 0
            writer.close()

    run(main)
    assert len(lines(caplog, line)) == 1


def test_asyncio_accept_loop_reports_go_through_a_quiet_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    quiet = QuietLog(logging.getLogger("test.quiet"), burst=1)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(quiet_exception_handler(quiet))
        for _ in range(100):  # what asyncio's accept loop says once a second
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(errno.EMFILE, "Too many open files"),
                }
            )
        for _ in range(100):
            loop.call_exception_handler(
                {"message": "Fatal error on transport", "exception": ConnectionResetError()}
            )
        # Anything else still reaches asyncio's default handler.
        loop.call_exception_handler({"message": "something of ours broke"})

    run(main)
    assert len(lines(caplog, "out of system resource")) == 1
    assert len(lines(caplog, "Fatal error on transport")) == 1
    assert len(lines(caplog, "something of ours broke")) == 1


def test_the_inbound_budget_keeps_descriptors_for_outgoing_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_use = len(os.listdir("/proc/self/fd"))
    limit = in_use + connections.FD_RESERVE + 40 + 100

    monkeypatch.setattr(resource, "getrlimit", lambda _: (limit, limit))
    budget = inbound_budget(10_000, outgoing=40)
    assert 90 <= budget <= 100  # the limit less what is open, the reserve and outgoing
    assert inbound_budget(50, outgoing=40) == 50  # a lower setting stays as it is
    monkeypatch.setattr(resource, "getrlimit", lambda _: (in_use + 70, in_use + 70))
    with pytest.raises(UsageError, match="descriptor limit") as caught:
        inbound_budget(10_000, outgoing=40)
    assert "ulimit -n" in caught.value.advice


def test_the_listener_serves_ipv6_loopback_too() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")

    async def main() -> None:
        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="hi")

        app = web.Application(middlewares=[guard_middleware])
        app.router.add_get("/hello", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        assert runner.server is not None
        listener = PeerListener(runner.server, ConnectionLimits())
        try:
            await listener.start("::1", 0)
        except OSError:
            await runner.cleanup()
            pytest.skip("no IPv6 loopback")
        try:
            reader, writer = await asyncio.open_connection("::1", listener.port)
            assert (await answer(reader, writer)).startswith(b"HTTP/1.1 200")
            writer.close()
        finally:
            listener.close()
            await runner.cleanup()

    run(main)
