"""Fuzz target: local API JSON bodies, through the real aiohttp app on a loopback
port. The first byte picks the route, the rest is the body. Every answer must be
JSON with a status below 500."""

from __future__ import annotations

import json

from _harness import Served, fuzz, instrumented

with instrumented():
    import aiohttp

    from tests.support.servicekit import http_server

ROUTES = [
    ("POST", "/local/publish"),
    ("POST", "/local/ingest"),
    ("POST", "/local/documents"),
    ("POST", "/local/retention"),
    ("POST", "/local/keys"),
    ("GET", "/local/readable?ids="),
    ("GET", "/local/status"),
    ("POST", "/local/checkpoint"),
]
served = Served()
server = http_server(served.node.local_app())
port = served.loop.run_until_complete(server.__aenter__())


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()  # made inside the loop it will run in


session = served.loop.run_until_complete(_session())


async def _call(method: str, url: str, body: bytes) -> tuple[int, str, bytes]:
    async with session.request(method, url, data=body) as response:
        return response.status, response.content_type, await response.read()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    method, path = ROUTES[data[0] % len(ROUTES)]
    body = data[1:]
    if method == "GET":
        path, body = path + body.hex(), b""
    status, kind, raw = served.loop.run_until_complete(
        _call(method, f"http://127.0.0.1:{port}{path}", body)
    )
    assert 200 <= status < 500 and kind == "application/json", (status, kind, raw[:200])
    json.loads(raw)


if __name__ == "__main__":
    fuzz(test_one_input)
