"""Generated requests against every route of the peer API and the local API, and
generated answers against gossip: nothing from outside gets a 5xx, an undecodable
answer or an exception, and a refused request leaves the node as it was.

* The peer API in memory (``PeerService.handle``): random methods, paths and query
  strings; bodies of random bytes, of random msgpack values of every type and depth,
  and near-valid bodies (a valid body per route with one field replaced, removed or
  added); random header sets, or correctly signed headers (``sign_request`` with a
  key of the network, so the route logic is reached), sometimes with one header
  mutated afterwards.
* The peer API over HTTP (``daemon.peer_app`` on a real aiohttp server), at the
  socket: request lines and header values with any bytes, including ones that are
  not UTF-8.
* The local API over HTTP: random JSON values and bytes to every route.
* Gossip: random answers (status and body) to every call it makes.

Every answer must have a status below 500 and a body in the API's format (msgpack
for the peer API, except the plain-text 400 aiohttp's parser gives to what is not
HTTP at all; JSON for the local API); a refusal must leave the node's fingerprint
(every table, every trust document) unchanged, and an unauthenticated one the nonce
cache too. The default example counts keep this file to a few seconds; the ``slow``
tests run the same properties much longer.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ilo_node.net.gossip import Gossip
from ilo_node.net.localapi import LOCAL_ROUTES as ALL_LOCAL_ROUTES
from ilo_node.net.peerauth import HEADERS
from ilo_node.net.service import PEER_ROUTES
from ilo_node.net.transport import Transport
from ilo_node.net.wire import decode_body, encode_body
from protocol.examples import example
from tests.support.memkeys import Built, build_in_memory
from tests.support.requestgen import (
    DEEP,
    INTEGERS,
    MSGPACK_VALUES,
    mutated_request,
    near_valid,
    pack,
    quick,
    run,
    served_over_http,
)
from tests.support.servicekit import ServedNode, http_server, serve_node

ME, DE = "FR@TR", "DE@TR"
KEY = bytes(range(32))

# The routes as the product declares them: a route added there is driven here too.
ROUTES = list(PEER_ROUTES)
# Stopping the node would end the test's node; every other local route is driven.
LOCAL_ROUTES = [r for r in ALL_LOCAL_ROUTES if r[1] != "/local/stop"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_in_memory(tmp_path_factory.mktemp("generated") / "net", ["COM@EU", DE, ME])


@pytest.fixture
def fr(built: Built, tmp_path: Path) -> Iterator[ServedNode]:
    """FR with something in its log (two envelopes, a checkpoint), so that sync,
    checkpoint and consistency have something to answer with."""
    served = serve_node(built, tmp_path, ME)
    for _ in range(2):
        served.node.publish("incident_alert", example("incident_alert"))
    served.node.checkpoint()
    yield served
    served.close()


# -- what is generated ----------------------------------------------------------------------

FIELDS = ["envelopes", "heads", "head_ids", "max_bytes", "docs", "documents", "note"]


def _valid_bodies(fr: ServedNode) -> dict[str, dict[str, Any]]:
    raws = [bytes(r[0]) for r in fr.node.db.execute("SELECT raw FROM envelopes").fetchall()]
    note = fr.node.log.checkpoint_note_at() or b""
    return {
        "/v1/envelopes": {"envelopes": raws},
        "/v1/sync": {"heads": [[KEY, 1]], "head_ids": [[KEY, bytes(32)]], "max_bytes": 4096},
        "/v1/documents/diff": {"docs": [bytes(16)]},
        "/v1/documents": {"documents": [b"\x93\x01\x02\x03"]},
        "/v1/cosign": {"note": note},
    }


def _bodies(fr: ServedNode, path: str) -> st.SearchStrategy[bytes]:
    valid = _valid_bodies(fr).get(path, {})
    options = [
        st.binary(max_size=300),
        MSGPACK_VALUES.map(pack),
        st.dictionaries(st.sampled_from(FIELDS), MSGPACK_VALUES, max_size=4).map(pack),
        DEEP,
        st.just(b""),
    ]
    if valid:
        options.append(near_valid(valid, FIELDS).map(pack))
        options.append(st.just(pack(valid)))
    return st.one_of(options)


QUERY_VALUES = st.one_of(
    INTEGERS.map(str), st.text(max_size=12), st.sampled_from(["", "\u0661", "1_0", "+1", " 1"])
)
QUERY = st.lists(
    st.tuples(st.sampled_from(["from", "old", "new", "x", ""]), QUERY_VALUES), max_size=3
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))
PATHS = st.one_of(
    st.sampled_from([p for _, p in ROUTES]),
    st.sampled_from([p for _, p in ROUTES]).map(lambda p: p + "/x"),
    st.text(max_size=30).map(lambda t: "/" + t),
    st.text(max_size=30),
)
METHODS = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]),
    st.text(max_size=8),
)
HEADER_NAMES = st.sampled_from([*HEADERS.values(), "Content-Type", "X-Other"])
HEADER_SETS = st.dictionaries(HEADER_NAMES, st.text(max_size=80), max_size=8)


@st.composite
def peer_requests(draw: st.DrawFn, fr: ServedNode) -> tuple[str, str, dict[str, str], bytes]:
    if draw(st.booleans()):
        method, path = draw(st.sampled_from(ROUTES))
    else:
        method, path = draw(METHODS), draw(PATHS)
    query = draw(QUERY)
    target = f"{path}?{query}" if query else path
    body = draw(_bodies(fr, path))
    how = draw(st.sampled_from(["signed", "signed, then mutated", "random"]))
    if how == "random":
        headers = draw(HEADER_SETS)
    else:
        try:
            headers = fr.signed(DE, method, target, body)
        except Exception:  # a method or target that cannot even be signed
            headers = draw(HEADER_SETS)
        if how == "signed, then mutated":
            headers[draw(st.sampled_from(sorted(HEADERS.values())))] = draw(st.text(max_size=80))
    return method, target, headers, body


# -- the peer API in memory -------------------------------------------------------------------


async def _check_peer_request(
    fr: ServedNode, method: str, target: str, headers: dict[str, str], body: bytes
) -> int:
    before = await fr.fingerprint()
    nonces = len(fr.service.nonces._seen)
    status, out = await fr.service.handle(method, target, headers, body)
    assert 200 <= status < 500, (status, out[:200])
    answer = decode_body(out, "answer")
    if status != 200:
        assert isinstance(answer.get("error"), str) and answer["error"], answer
        assert await fr.fingerprint() == before, (method, target, status, answer)
    if status in (401, 403, 421):
        assert len(fr.service.nonces._seen) == nonces
    return status


def _peer_api_in_memory(fr: ServedNode, data: st.DataObject) -> None:
    method, target, headers, body = data.draw(peer_requests(fr))
    run(_check_peer_request(fr, method, target, headers, body))


@quick(150)
@given(data=st.data())
def test_generated_peer_requests_get_a_4xx_or_an_answer(
    fr: ServedNode, data: st.DataObject
) -> None:
    _peer_api_in_memory(fr, data)


@quick(60)
@given(data=st.data())
def test_generated_signed_requests_reach_every_route(fr: ServedNode, data: st.DataObject) -> None:
    method, path = data.draw(st.sampled_from(ROUTES))
    query = data.draw(QUERY) if method == "GET" else ""
    target = f"{path}?{query}" if query else path
    body = data.draw(_bodies(fr, path)) if method == "POST" else b""
    status = run(_check_peer_request(fr, method, target, fr.signed(DE, method, target, body), body))
    # Signed by a certified key, fresh nonce, right audience: authentication passes.
    assert status not in (401, 403, 409, 421), (method, target, status)


@pytest.mark.slow
@quick(1000)
@given(data=st.data())
def test_generated_peer_requests_long_run(fr: ServedNode, data: st.DataObject) -> None:
    _peer_api_in_memory(fr, data)


# -- the peer API over HTTP, at the socket ----------------------------------------------------

TARGET_BYTES = st.one_of(
    st.sampled_from([p.encode() for _, p in ROUTES]),
    st.binary(max_size=40).map(lambda b: b"/" + bytes(c for c in b if c > 0x20)),
)


@st.composite
def raw_requests(draw: st.DrawFn, fr: ServedNode) -> bytes:
    method, path = draw(st.sampled_from(ROUTES))
    body = draw(_bodies(fr, path)) if method == "POST" else b""
    headers = {k: v.encode() for k, v in fr.signed(DE, method, path, body).items()}
    return mutated_request(
        draw,
        method,
        path,
        headers,
        body,
        signature_headers=sorted(HEADERS.values()),
        extra_headers=["X-Ilo-Node", "X-A", "Content-Encoding", "Expect"],
        targets=TARGET_BYTES,
    )


@quick(15)
@given(data=st.data())
def test_generated_raw_http_requests_get_a_4xx_or_an_answer(
    fr: ServedNode, data: st.DataObject
) -> None:
    served_over_http(fr, data.draw(st.lists(raw_requests(fr), min_size=1, max_size=6)))


@pytest.mark.slow
@quick(100)
@given(data=st.data())
def test_generated_raw_http_requests_long_run(fr: ServedNode, data: st.DataObject) -> None:
    served_over_http(fr, data.draw(st.lists(raw_requests(fr), min_size=1, max_size=10)))


# -- the local API over HTTP ---------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=16,
)
LOCAL_VALID: dict[str, dict[str, Any]] = {
    "/local/publish": {
        "kind": "incident_alert",
        "content": {"title": "t"},
        "distribution": "local",
        "handling": "H1",
        "states": [],
    },
    "/local/ingest": {"envelopes": ["00"]},
    "/local/documents": {"documents": ["93010203"]},
    "/local/retention": {"policy": {"default": 3650}, "now_ms": 0},
    "/local/keys": {"replace_prekeys": False},
}


def _local_bodies(path: str) -> st.SearchStrategy[bytes]:
    valid = LOCAL_VALID.get(path, {})
    options = [
        st.binary(max_size=200),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
        st.sampled_from([b"NaN", b'{"now_ms": 1e400}', b'{"a": 1, "a": 2}', b"\xff"]),
    ]
    if valid:
        names = sorted(valid)
        options.append(
            st.builds(
                lambda name, value: json.dumps({**valid, name: value}).encode(),
                st.sampled_from(names),
                JSON_VALUES,
            )
        )
    return st.one_of(options)


@st.composite
def local_requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    if draw(st.booleans()):
        method, path = draw(st.sampled_from(LOCAL_ROUTES))
    else:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
        path = draw(st.sampled_from([p for _, p in LOCAL_ROUTES] + ["/local/x", "/", "/v1/sync"]))
    query = draw(st.sampled_from(["", "?ids=", "?ids=zz", "?ids=" + "ab" * 32, "?ids=,,,"]))
    return method, path + query, draw(_local_bodies(path))


def _local_api(fr: ServedNode, requests: list[tuple[str, str, bytes]]) -> None:
    async def scenario() -> None:
        async with http_server(fr.local_app()) as port, aiohttp.ClientSession() as session:
            for method, target, body in requests:
                before = await fr.fingerprint()
                url = f"http://127.0.0.1:{port}{target}"
                async with session.request(method, url, data=io.BytesIO(body)) as response:
                    status, raw = response.status, await response.read()
                    assert response.content_type == "application/json", (status, raw[:200])
                assert 200 <= status < 500, (method, target, body[:200], status, raw[:300])
                answer = json.loads(raw)
                if status != 200:
                    assert isinstance(answer["error"], str) and answer["error"]
                    assert await fr.fingerprint() == before, (method, target, answer)
        assert not fr.stop.is_set() or any(t.startswith("/local/stop") for _, t, _ in requests)

    run(scenario())


@quick(25)
@given(data=st.data())
def test_generated_local_requests_get_a_4xx_or_an_answer(
    fr: ServedNode, data: st.DataObject
) -> None:
    _local_api(fr, data.draw(st.lists(local_requests(), min_size=1, max_size=6)))


@pytest.mark.slow
@quick(150)
@given(data=st.data())
def test_generated_local_requests_long_run(fr: ServedNode, data: st.DataObject) -> None:
    _local_api(fr, data.draw(st.lists(local_requests(), min_size=1, max_size=10)))


# -- gossip reading generated answers ----------------------------------------------------------


class Answers(Transport):
    """Answers each request with the next generated (status, body)."""

    def __init__(self, fr: ServedNode, answers: list[tuple[int, bytes]]) -> None:
        super().__init__(fr.identity(ME), fr.node.clock)
        self.answers = answers
        self.calls = 0

    async def request(self, peer: str, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        self.calls += 1
        return self.answers[(self.calls - 1) % len(self.answers)]


ANSWER_FIELDS = [
    "envelopes", "more", "heads", "docs_summary", "forks", "split_views", "documents",
    "docs", "note", "consistency", "from", "proof", "notes", "stored", "results", "error",
]  # fmt: skip


def _answer_bodies(fr: ServedNode) -> st.SearchStrategy[bytes]:
    note = fr.node.log.checkpoint_note_at() or b""
    return st.one_of(
        st.binary(max_size=200),
        MSGPACK_VALUES.map(pack),
        st.dictionaries(st.sampled_from(ANSWER_FIELDS), MSGPACK_VALUES, max_size=6).map(pack),
        st.builds(
            lambda v: pack({"note": note, "consistency": v, "notes": [note], "proof": v}),
            MSGPACK_VALUES,
        ),
        DEEP,
    )


def _gossip_reads(fr: ServedNode, answers: list[tuple[int, bytes]]) -> None:
    async def scenario() -> None:
        gossip = Gossip(fr.worker, Answers(fr, answers), [DE, "COM@EU"])
        await gossip.sync_with(DE)
        await gossip.witness.witness(DE)
        await gossip._sync_documents(DE)
        await gossip._send_batch([(b"\x00", None)])
        await gossip.send_documents([b"\x00"], role="announce")
        await gossip.witness.adopt_evidence(_unpack_or_none(answers[0][1]) if answers else None)

    run(scenario())


def _unpack_or_none(data: bytes) -> object:
    try:
        return msgpack.unpackb(data, raw=False)
    except Exception:
        return None


@quick(60)
@given(data=st.data())
def test_gossip_survives_generated_answers(fr: ServedNode, data: st.DataObject) -> None:
    status = st.sampled_from([200, 200, 200, 400, 404, 429, 500, 503])
    answers = data.draw(st.lists(st.tuples(status, _answer_bodies(fr)), min_size=1, max_size=5))
    _gossip_reads(fr, answers)


@pytest.mark.slow
@quick(300)
@given(data=st.data())
def test_gossip_survives_generated_answers_long_run(fr: ServedNode, data: st.DataObject) -> None:
    status = st.sampled_from([200, 200, 200, 400, 404, 429, 500, 503])
    answers = data.draw(st.lists(st.tuples(status, _answer_bodies(fr)), min_size=1, max_size=5))
    _gossip_reads(fr, answers)


def test_msgpack_floats_and_nan_reach_the_service_as_400(fr: ServedNode) -> None:
    # A named case of what the properties above generate, kept readable.
    async def scenario() -> None:
        for value in (math.nan, math.inf, 1.5):
            body = encode_body({"heads": [[KEY, value]], "max_bytes": value})
            assert (
                await _check_peer_request(
                    fr, "POST", "/v1/sync", fr.signed(DE, "POST", "/v1/sync", body), body
                )
                == 400
            )

    run(scenario())
