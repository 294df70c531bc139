"""What the generated-request tests draw from and how they run (tests/net/
test_generated_requests.py for the peer and local APIs, test_generated_officer_requests.py
for the officer API): msgpack values of every type and depth, bodies nested deeper
than any decoder goes, near-valid bodies (a valid one with one field changed), and
a raw HTTP exchange at the socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import msgpack
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ilo_node.net.config import DaemonConfig
from ilo_node.net.daemon import peer_app
from ilo_node.net.wire import decode_body
from tests.support.servicekit import ServedNode, http_server

__all__ = [
    "DEEP",
    "HEADER_BYTES",
    "INTEGERS",
    "MSGPACK_VALUES",
    "exchange",
    "mutated_request",
    "near_valid",
    "pack",
    "quick",
    "run",
    "served_over_http",
]

T = TypeVar("T")


def quick(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 60)

    return asyncio.run(bounded())


INTEGERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([0, 1, -1, 2**31, 2**32, 2**53, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)]),
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
MSGPACK_SCALARS = st.one_of(
    st.none(), st.booleans(), INTEGERS, FLOATS, st.binary(max_size=40), st.text(max_size=16)
)
MSGPACK_VALUES = st.recursive(
    MSGPACK_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=16,
)
#: Nesting deeper than msgpack's own stack (1024) and than any decoder goes.
DEEP = st.integers(1, 3000).map(lambda n: b"\x91" * n + b"\xc0")
#: Header value bytes, any but a line break (which would end the header).
HEADER_BYTES = st.binary(max_size=60).map(lambda b: bytes(c for c in b if c not in b"\r\n"))


def pack(value: Any) -> bytes:
    out = msgpack.packb(value, use_bin_type=True)
    assert isinstance(out, bytes)
    return out


def near_valid(
    valid: dict[str, Any],
    other_names: Sequence[str],
    values: st.SearchStrategy[Any] = MSGPACK_VALUES,
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body with one field replaced by any of ``values`` (or one of
    ``other_names`` added), removed, or a list field with one item replaced."""
    names = sorted(valid)

    def replaced(name: str, value: Any) -> dict[str, Any]:
        return {**valid, name: value}

    def item_replaced(name: str, at: int, value: Any) -> dict[str, Any]:
        items = list(valid[name]) if isinstance(valid[name], list) else []
        if items:
            items[at % len(items)] = value
        return {**valid, name: items}

    return st.one_of(
        st.builds(replaced, st.sampled_from(names + list(other_names)), values),
        st.builds(item_replaced, st.sampled_from(names), st.integers(0, 9), values),
        st.sampled_from(names).map(lambda n: {k: v for k, v in valid.items() if k != n}),
    )


async def exchange(port: int, data: bytes) -> tuple[int, str, bytes]:
    """Send ``data`` as it is to a server on loopback; its status, content type and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        body = await reader.readexactly(int(fields.get("content-length", "0")))
        return int(lines[0].split()[1]), fields.get("content-type", "").split(";")[0], body
    finally:
        writer.close()


def mutated_request(
    draw: st.DrawFn,
    method: str,
    path: str,
    headers: dict[str, bytes],
    body: bytes,
    *,
    signature_headers: Sequence[str],
    extra_headers: Sequence[str],
    targets: st.SearchStrategy[bytes],
) -> bytes:
    """A signed request's bytes with up to three things changed: a signature header's
    value, an extra header, the target, or the method."""
    target = path.encode()
    for _ in range(draw(st.integers(0, 3))):
        what = draw(st.sampled_from(["header value", "extra header", "target", "method"]))
        if what == "header value":
            headers[draw(st.sampled_from(list(signature_headers)))] = draw(HEADER_BYTES)
        elif what == "extra header":
            headers[draw(st.sampled_from(list(extra_headers)))] = draw(HEADER_BYTES)
        elif what == "target":
            target = draw(targets)
        else:
            method = draw(st.sampled_from(["PUT", "G\xe9T", "get", "DELETE"]))
    lines = [method.encode("latin-1") + b" " + target + b" HTTP/1.1", b"Host: node"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def served_over_http(served: ServedNode, requests: Sequence[bytes]) -> None:
    """Each of ``requests`` to the node's peer listener on a real aiohttp server: a
    status below 500, a msgpack body (or aiohttp's own plain-text 400 for what is not
    HTTP), and a refusal leaves the node as it was."""

    async def scenario() -> None:
        config = DaemonConfig(address_rate=1e6)
        async with http_server(peer_app(served.service, config)) as port:
            for data in requests:
                before = await served.fingerprint()
                status, kind, body = await exchange(port, data)
                assert 200 <= status < 500, (status, body[:200], data[:200])
                if kind == "application/msgpack":
                    answer = decode_body(body, "answer")
                    assert status == 200 or answer["error"]
                else:
                    # What aiohttp's parser refuses before any handler runs.
                    assert (status, kind) == (400, "text/plain"), (status, kind, data[:200])
                if status != 200:
                    assert await served.fingerprint() == before

    run(scenario())
