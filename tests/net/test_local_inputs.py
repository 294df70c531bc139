"""The local API's answers to bad input, rule by rule, over a real aiohttp server: every
answer is JSON, 4xx for what the request got wrong, and the node keeps nothing of a
refused request. tests/net/test_generated_requests.py throws generated requests at
the same routes."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from tests.support.memkeys import Built, build_in_memory
from tests.support.servicekit import ServedNode, http_server, serve_node

T = TypeVar("T")
ME = "FR@TR"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_in_memory(tmp_path_factory.mktemp("local") / "net", ["COM@EU", "DE@TR", ME])


@pytest.fixture
def fr(built: Built, tmp_path: Path) -> Iterator[ServedNode]:
    served = serve_node(built, tmp_path, ME)
    yield served
    served.close()


Call = Callable[[str, str, bytes], Awaitable[tuple[int, Any]]]


def _with_local_api(fr: ServedNode, scenario: Callable[[Call], Awaitable[None]]) -> None:
    async def main() -> None:
        async with http_server(fr.local_app()) as port, aiohttp.ClientSession() as session:

            async def call(method: str, path: str, body: bytes) -> tuple[int, Any]:
                url = f"http://127.0.0.1:{port}{path}"
                # A stream: aiohttp warns (an error here) about large bytes bodies.
                async with session.request(method, url, data=io.BytesIO(body)) as response:
                    assert response.content_type == "application/json", response
                    return response.status, json.loads(await response.read())

            before = await fr.fingerprint()
            await scenario(call)
            assert await fr.fingerprint() == before

    asyncio.run(asyncio.wait_for(main(), 60))


def _refused(fr: ServedNode, cases: list[tuple[str, str, bytes, int, str]]) -> None:
    async def scenario(call: Call) -> None:
        for method, path, body, status, words in cases:
            got, answer = await call(method, path, body)
            assert got == status, (path, body[:60], got, answer)
            assert words in answer["error"], answer

    _with_local_api(fr, scenario)


def _publish(**fields: Any) -> bytes:
    return json.dumps({"kind": "incident_alert", "content": {"title": "t"}, **fields}).encode()


def test_a_body_nested_too_deep_is_400_not_500(fr: ServedNode) -> None:
    # json.loads raised RecursionError: a 500 and a traceback per request.
    deep = b"[" * 100_000 + b"]" * 100_000
    _refused(
        fr,
        [
            ("POST", "/local/publish", deep, 400, "nests deeper"),
            (
                "POST",
                "/local/ingest",
                b'{"envelopes": ' + b"[" * 70 + b"]" * 70 + b"}",
                400,
                "nests deeper",
            ),
        ],
    )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "9" * 30, "9" * 5000])
def test_numbers_json_cannot_carry_are_400(fr: ServedNode, number: str) -> None:
    body = b'{"policy": {"default": 1}, "now_ms": ' + number.encode() + b"}"
    _refused(fr, [("POST", "/local/retention", body, 400, "not valid JSON")])


@pytest.mark.parametrize("now", [True, 1.5, -1, 2**63, "0", [0]])
def test_retention_now_ms_is_an_integer_sqlite_holds(fr: ServedNode, now: object) -> None:
    # 2**63 reached SQLite with each erasure and raised OverflowError.
    body = json.dumps({"policy": {"default": 1}, "now_ms": now}).encode()
    _refused(fr, [("POST", "/local/retention", body, 400, "'now_ms' must be an integer")])


@pytest.mark.parametrize("days", [True, 1.5, -1, 2**63, "30", None])
def test_retention_days_are_integers(fr: ServedNode, days: object) -> None:
    body = json.dumps({"policy": {"default": days}}).encode()
    _refused(fr, [("POST", "/local/retention", body, 400, "must be an integer")])


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"distribution": {"a": 1}}, "'distribution' must be a string"),
        ({"handling": 3}, "'handling' must be a string"),
        ({"kind": None}, "'kind' must be a string"),
        ({"content": [1]}, "'content' must be an object"),
        ({"states": "DE"}, "'states' must be a list"),
        ({"states": [1]}, "'states' must be a list of Member State codes"),
        ({"content": {"refs": [{"$bytes": 12}]}}, "must be a string of hex"),
        ({"content": {"refs": [{"$bytes": "zz"}]}}, "must be a string of hex"),
    ],
)
def test_publish_fields_of_the_wrong_type_are_400(
    fr: ServedNode, fields: dict[str, Any], words: str
) -> None:
    # str() used to turn a distribution of {"a": 1} into text the node then refused
    # (422), and {"$bytes": 12} into the byte 0x12.
    _refused(fr, [("POST", "/local/publish", _publish(**fields), 400, words)])


def test_duplicate_keys_are_400(fr: ServedNode) -> None:
    body = b'{"kind": "incident_alert", "kind": "route_report", "content": {}}'
    _refused(fr, [("POST", "/local/publish", body, 400, "appears twice")])


def test_a_body_that_is_not_utf8_or_not_an_object_is_400(fr: ServedNode) -> None:
    _refused(
        fr,
        [
            ("POST", "/local/ingest", b"\xff\xfe{}", 400, "not UTF-8"),
            ("POST", "/local/ingest", b"[]", 400, "must be a JSON object"),
            ("POST", "/local/documents", b'"x"', 400, "must be a JSON object"),
        ],
    )


def test_keys_takes_a_boolean_and_needs_a_node_that_keeps_its_keys(fr: ServedNode) -> None:
    # This node is served without its passphrase (its key given in memory): there are no
    # key files for it to look at again, and it says so instead of pretending.
    _refused(
        fr,
        [
            ("POST", "/local/keys", b'{"replace_prekeys": 1}', 400, "must be true or false"),
            ("POST", "/local/keys", b'{"replace_prekeys": "yes"}', 400, "must be true or false"),
            ("POST", "/local/keys", b"{}", 422, "does not keep its own keys"),
        ],
    )


def test_aiohttps_own_refusals_answer_json(fr: ServedNode) -> None:
    # 404, 405 and 413 were plain text, which the CLI's client could not read.
    _refused(
        fr,
        [
            ("GET", "/local/nothing", b"", 404, "Not Found"),
            ("PUT", "/local/publish", b"", 405, "Method Not Allowed"),
            ("POST", "/local/ingest", b" " * (16 * 1024 * 1024 + 1), 413, "Too Large"),
        ],
    )


def test_what_the_node_refuses_is_422_with_a_hint(fr: ServedNode) -> None:
    async def scenario(call: Call) -> None:
        status, answer = await call("POST", "/local/publish", _publish(kind="no_such_kind"))
        assert status == 422 and answer["error"] and answer["hint"]

    _with_local_api(fr, scenario)
