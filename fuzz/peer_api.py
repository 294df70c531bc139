"""Fuzz target: peer API bodies through ``PeerService.handle``, signed by a certified
node so that every route's logic is reached. The first byte picks the route, the
rest is the body (GET routes: the query string). Every answer must be below 500
with a msgpack map for a body."""

from __future__ import annotations

from _harness import Served, fuzz, instrumented

with instrumented():
    from ilo_node.net.wire import decode_body

ROUTES = [
    ("POST", "/v1/envelopes"),
    ("POST", "/v1/sync"),
    ("POST", "/v1/documents/diff"),
    ("POST", "/v1/documents"),
    ("POST", "/v1/cosign"),
    ("GET", "/v1/checkpoint?"),
    ("GET", "/v1/consistency?"),
    ("GET", "/v1/witnessed"),
    ("GET", "/v1/health"),
]
served = Served()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    method, path = ROUTES[data[0] % len(ROUTES)]
    body = data[1:]
    if method == "GET":
        target, body = path + body.decode("latin-1"), b""
    else:
        target = path
    node = served.node
    headers = node.signed("DE@TR", method, target, body)
    status, out = served.loop.run_until_complete(node.service.handle(method, target, headers, body))
    assert 200 <= status < 500, (status, out[:200])
    decode_body(out, "answer")


if __name__ == "__main__":
    fuzz(test_one_input)
