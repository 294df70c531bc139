"""The peer API's answers to bad input, rule by rule: every field type and range, the
request target, the HTTP layer in front of the service (against a real aiohttp
server, at the socket), and what gossip does with a peer's bad answers.

Each test is named for the rule it breaks; tests/net/test_generated_requests.py
throws generated requests at the same code. pytest-asyncio is not used: each test
is a sync function around ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgpack
import pytest

from ilo_node.net.config import DaemonConfig
from ilo_node.net.daemon import peer_app
from ilo_node.net.gossip import Gossip
from ilo_node.net.logs import QuietLog, quiet_server_log
from ilo_node.net.transport import Transport
from ilo_node.net.wire import MAX_INT, decode_body, encode_body, error_body
from tests.support.memkeys import Built, build_in_memory
from tests.support.servicekit import ServedNode, http_server, serve_node

T = TypeVar("T")
NODES = ["COM@EU", "DE@TR", "FR@TR"]
ME, DE = "FR@TR", "DE@TR"
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_in_memory(tmp_path_factory.mktemp("inputs") / "net", NODES)


@pytest.fixture
def fr(built: Built, tmp_path: Path) -> Iterator[ServedNode]:
    served = serve_node(built, tmp_path, ME)
    yield served
    served.close()


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 60)

    return asyncio.run(bounded())


async def _signed(fr: ServedNode, method: str, target: str, body: bytes = b"") -> tuple[int, Any]:
    headers = fr.signed(DE, method, target, body)
    status, data = await fr.service.handle(method, target, headers, body)
    return status, decode_body(data, "answer")


def _answers(fr: ServedNode, cases: list[tuple[str, str, bytes, int]]) -> None:
    async def scenario() -> None:
        before = await fr.fingerprint()
        for method, target, body, expected in cases:
            status, answer = await _signed(fr, method, target, body)
            assert status == expected, (method, target, body[:40], status, answer)
            if expected != 200:
                assert isinstance(answer["error"], str) and answer["error"]
        assert await fr.fingerprint() == before

    run(scenario())


# -- integers: exact type, and within what SQLite holds -------------------------------------


def test_sync_heads_beyond_sqlite_integers_are_400_not_500(fr: ServedNode) -> None:
    # A seq of 2**63 or more (msgpack carries up to 2**64 - 1) used to reach the
    # head-ids query and raise OverflowError: a 500 and a traceback per request.
    for seq in (MAX_INT + 1, 2**64 - 1):
        body = encode_body({"heads": [[KEY, seq]], "head_ids": [[KEY, b"\x00" * 32]]})
        _answers(fr, [("POST", "/v1/sync", body, 400)])
    _answers(fr, [("POST", "/v1/sync", encode_body({"heads": [[KEY, MAX_INT]]}), 200)])


@pytest.mark.parametrize("key", [b"", b"k", bytes(31), bytes(33)])
def test_sync_head_keys_must_be_32_bytes(fr: ServedNode, key: bytes) -> None:
    _answers(fr, [("POST", "/v1/sync", encode_body({"heads": [[key, 1]]}), 400)])


@pytest.mark.parametrize("seq", [True, 1.0, float("nan"), "1", None, -1])
def test_sync_head_seq_must_be_an_integer(fr: ServedNode, seq: object) -> None:
    _answers(fr, [("POST", "/v1/sync", encode_body({"heads": [[KEY, seq]]}), 400)])


@pytest.mark.parametrize("value", [True, False, -1, 1.5, float("inf"), "4096", [1], MAX_INT + 1])
def test_sync_max_bytes_must_be_a_non_negative_integer(fr: ServedNode, value: object) -> None:
    # bool, negative and float used to be taken silently as "a full page".
    _answers(fr, [("POST", "/v1/sync", encode_body({"heads": [], "max_bytes": value}), 400)])


def test_sync_max_bytes_zero_or_absent_still_asks_for_a_full_page(fr: ServedNode) -> None:
    _answers(
        fr,
        [
            ("POST", "/v1/sync", encode_body({"heads": [], "max_bytes": 0}), 200),
            ("POST", "/v1/sync", encode_body({"heads": [], "max_bytes": None}), 200),
            ("POST", "/v1/sync", encode_body({"heads": []}), 200),
        ],
    )


def test_sync_head_ids_must_be_a_list_whose_odd_items_are_ignored(fr: ServedNode) -> None:
    odd = [[KEY], [KEY, "id"], "x", [b"other", b"\x00" * 32], None]
    _answers(
        fr,
        [
            ("POST", "/v1/sync", encode_body({"heads": [[KEY, 1]], "head_ids": odd}), 200),
            ("POST", "/v1/sync", encode_body({"heads": [], "head_ids": {"a": 1}}), 400),
            ("POST", "/v1/sync", encode_body({"heads": [], "head_ids": b"x"}), 400),
        ],
    )


@pytest.mark.parametrize("digest", [b"", bytes(15), bytes(17), bytes(32)])
def test_documents_diff_digests_must_be_16_bytes(fr: ServedNode, digest: bytes) -> None:
    _answers(fr, [("POST", "/v1/documents/diff", encode_body({"docs": [digest]}), 400)])


@pytest.mark.parametrize("note", [None, "text", 1, [b"x"], True])
def test_cosign_note_must_be_bytes(fr: ServedNode, note: object) -> None:
    _answers(fr, [("POST", "/v1/cosign", encode_body({"note": note}), 400)])


# -- query strings and request targets ---------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["\u0661", "\u00b2", "+1", "1_0", "%201", "0x10", "", "9" * 20, str(MAX_INT + 1)]
)
def test_query_integers_are_plain_ascii_digits(fr: ServedNode, value: str) -> None:
    # int() accepted signs and underscores, str.isdigit() other scripts' digits and
    # superscripts (int("²") raises ValueError).
    _answers(
        fr,
        [
            ("GET", f"/v1/checkpoint?from={value}", b"", 400),
            ("GET", f"/v1/consistency?old=0&new={value}", b"", 400),
        ],
    )


def test_query_integers_in_range_are_answered(fr: ServedNode) -> None:
    _answers(
        fr,
        [
            ("GET", "/v1/checkpoint?from=0", b"", 200),
            ("GET", f"/v1/checkpoint?from={MAX_INT}", b"", 200),
            ("GET", "/v1/consistency?old=0&new=0", b"", 200),
            ("GET", f"/v1/consistency?old=0&new={MAX_INT}", b"", 416),
        ],
    )


@pytest.mark.parametrize("target", ["//[x", "http://[/v1/x", "//host/v1/witnessed", "", "?", "#"])
def test_a_target_that_is_not_a_plain_path_is_404(fr: ServedNode, target: str) -> None:
    # urlsplit raised ValueError on "//[x" (a 500) and read "//host/p" as a host.
    _answers(fr, [("GET", target, b"", 404)])


def test_an_unsigned_target_that_is_not_a_plain_path_is_401(fr: ServedNode) -> None:
    async def scenario() -> None:
        for target in ("//[x", "/v1/\udcff", "/v1/witnessed?\udcff=1"):
            status, data = await fr.service.handle("GET", target, {}, b"")
            assert status == 401 and decode_body(data, "answer")["error"]

    run(scenario())


def test_error_bodies_encode_whatever_they_quote() -> None:
    # A message quoting a header with undecodable bytes could not be encoded as UTF-8.
    body = decode_body(error_body("addressed to FR@TR\udcff"), "error")
    assert body["error"] == "addressed to FR@TR\\udcff"
    assert len(decode_body(error_body("x" * 100_000), "error")["error"]) <= 512


# -- the last line of defence -----------------------------------------------------------------


def test_a_bug_behind_a_route_is_a_500_with_one_traceback_a_minute(
    fr: ServedNode, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(documents: object) -> list[str]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(fr.node, "add_documents", broken)
    caplog.set_level(logging.INFO, logger="ilo_node.service")

    async def scenario() -> None:
        for _ in range(5):
            status, answer = await _signed(
                fr, "POST", "/v1/documents", encode_body({"documents": []})
            )
            assert status == 500 and answer == {"error": "internal error"}

    run(scenario())
    bugs = [r for r in caplog.records if r.exc_info is not None]
    assert len(bugs) == 1, [r.getMessage() for r in caplog.records]


# -- quiet logs ---------------------------------------------------------------------------------


def test_quiet_log_allows_a_burst_per_kind_then_counts() -> None:
    now = [0.0]
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("tests.quiet")
    logger.propagate = False
    logger.addHandler(Collect())
    logger.setLevel(logging.INFO)
    quiet = QuietLog(logger, burst=2, period_s=60, clock=lambda: now[0])
    assert [quiet.info("a", "line %d", i) for i in range(4)] == [True, True, False, False]
    assert quiet.info("b", "other")
    now[0] = 61.0
    assert quiet.info("a", "again")
    assert records == [
        "line 0",
        "line 1",
        "other",
        "2 more line(s) of kind 'a' left out in the last 61 s",
        "again",
    ]


# -- the HTTP layer, at the socket ----------------------------------------------------------------


async def _exchange(port: int, data: bytes) -> tuple[int, str, bytes]:
    """Send raw bytes; the status, content type and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        body = await reader.readexactly(int(fields.get("content-length", "0")))
        return int(lines[0].split()[1]), fields.get("content-type", ""), body
    finally:
        writer.close()


def _request(method: str, target: str, headers: dict[str, str | bytes], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: node"]
    for name, value in headers.items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _with_http(
    fr: ServedNode, scenario: Callable[[int], Awaitable[None]], config: DaemonConfig | None = None
) -> None:
    async def main() -> None:
        async with http_server(peer_app(fr.service, config or DaemonConfig())) as port:
            await scenario(port)

    run(main())


@pytest.mark.parametrize(
    "header",
    ["X-Ilo-Node", "X-Ilo-Key", "X-Ilo-Time", "X-Ilo-Nonce", "X-Ilo-To", "X-Ilo-Signature"],
)
def test_non_utf8_header_bytes_are_401_with_a_msgpack_body(fr: ServedNode, header: str) -> None:
    async def scenario(port: int) -> None:
        headers: dict[str, str | bytes] = dict(fr.signed(DE, "GET", "/v1/witnessed", b""))
        headers[header] = str(headers[header]).encode() + b"\xff\xfe"
        before = await fr.fingerprint()
        status, kind, body = await _exchange(port, _request("GET", "/v1/witnessed", headers))
        assert (status, kind) == (401, "application/msgpack")
        assert decode_body(body, "answer")["error"]
        assert await fr.fingerprint() == before
        assert len(fr.service.nonces._seen) == 0

    _with_http(fr, scenario)


def test_a_signed_request_over_http_reaches_the_route(fr: ServedNode) -> None:
    async def scenario(port: int) -> None:
        headers: dict[str, str | bytes] = dict(fr.signed(DE, "GET", "/v1/witnessed", b""))
        status, _, body = await _exchange(port, _request("GET", "/v1/witnessed", headers))
        assert (status, decode_body(body, "answer")) == (200, {"notes": []})

    _with_http(fr, scenario)


GZIPPED = gzip_module.compress(b"\x80" * 10_000)


def test_daemon_refusals_have_msgpack_bodies(fr: ServedNode) -> None:
    # 413 and 400 from the HTTP layer itself used to be plain text.
    async def scenario(port: int) -> None:
        big = b"POST /v1/envelopes HTTP/1.1\r\nHost: n\r\nContent-Length: 99999999999\r\n\r\n"
        gzip = (
            b"POST /v1/envelopes HTTP/1.1\r\nHost: n\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: 10\r\n\r\n0123456789"
        )
        # Compressed bodies are refused before they are read, valid gzip or not: the
        # body cap must count what arrives, not what it inflates to.
        real_gzip = (
            b"POST /v1/envelopes HTTP/1.1\r\nHost: n\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(GZIPPED) + GZIPPED
        )
        for data, expected in ((big, 413), (gzip, 415), (real_gzip, 415)):
            status, kind, body = await _exchange(port, data)
            assert (status, kind) == (expected, "application/msgpack"), body
            assert decode_body(body, "answer")["error"]

    _with_http(fr, scenario)


def test_an_unknown_expectation_is_a_417_with_a_msgpack_body(fr: ServedNode) -> None:
    # aiohttp answers Expect before any handler runs, and its 417 was plain text that
    # quoted the header (found by tests/net/test_generated_officer_requests.py).
    async def scenario(port: int) -> None:
        for value in (b"!", b"200-ok", b"100-continue, x", b"\xff\xfe"):
            request = _request("GET", "/v1/health", {"Expect": value})
            status, kind, body = await _exchange(port, request)
            assert (status, kind) == (417, "application/msgpack"), (value, body)
            assert decode_body(body, "answer") == {
                "error": "the only expectation met is 100-continue"
            }

    _with_http(fr, scenario)


def test_an_expectation_over_http_1_0_is_ignored(fr: ServedNode) -> None:
    async def scenario(port: int) -> None:
        request = b"GET /v1/health HTTP/1.0\r\nExpect: !\r\n\r\n"
        status, kind, body = await _exchange(port, request)
        assert (status, kind) == (200, "application/msgpack"), body

    _with_http(fr, scenario)


def test_expect_100_continue_is_met_before_the_body_is_sent(fr: ServedNode) -> None:
    body = encode_body({"docs": []})

    async def scenario(port: int) -> None:
        headers: dict[str, str | bytes] = dict(fr.signed(DE, "POST", "/v1/documents/diff", body))
        headers["Expect"] = "100-Continue"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            request = _request("POST", "/v1/documents/diff", headers, body)
            writer.write(request[: -len(body)])  # the head alone, Content-Length and all
            await writer.drain()
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(body)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), head
        finally:
            writer.close()

    _with_http(fr, scenario)


def test_anonymous_rate_refusal_has_a_msgpack_body(fr: ServedNode) -> None:
    async def scenario(port: int) -> None:
        status, kind, body = await _exchange(port, _request("GET", "/v1/health", {}))
        assert (status, kind) == (429, "application/msgpack")
        assert decode_body(body, "answer")["error"]

    _with_http(fr, scenario, DaemonConfig(address_rate=0.0001))


def _server_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("aiohttp", "ilo_node"))]


def test_malformed_http_is_a_few_lines_without_traceback(
    fr: ServedNode, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp logs each request it cannot parse at ERROR with a traceback: anyone who
    # can connect could fill the log. Twenty of them make at most five short lines.
    caplog.set_level(logging.DEBUG)
    bad = [
        b"GET /v1/\xff HTTP/1.1\r\nHost: n\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: n\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Ilo-Node: a\x01b\r\n\r\n",
    ]

    async def scenario(port: int) -> None:
        for data in bad * 4:
            status, _, _ = await _exchange(port, data)
            assert status == 400

    _with_http(fr, scenario)
    records = [r for r in _server_records(caplog) if r.levelno >= logging.INFO]
    assert len(records) <= 5, [r.getMessage() for r in records]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records)


def test_a_client_gone_mid_body_leaves_no_traceback(
    fr: ServedNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario(port: int) -> None:
        for _ in range(3):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /v1/sync HTTP/1.1\r\nHost: n\r\nContent-Length: 100\r\n\r\nabc")
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        # The server notices the closed connections on its own time: ask it something
        # after them, on a fresh connection, until it has.
        status, _, _ = await _exchange(port, _request("GET", "/v1/health", {}))
        assert status == 200

    _with_http(fr, scenario)
    assert not [r for r in _server_records(caplog) if r.exc_info is not None]


def test_quiet_server_log_is_installed_once() -> None:
    logger = logging.getLogger("tests.quiet.server")
    quiet_server_log(logger)
    quiet_server_log(logger)
    assert len(logger.filters) == 1


# -- gossip reading a peer's answers ------------------------------------------------------------


class Scripted(Transport):
    """Answers every request with the given status and body."""

    def __init__(self, fr: ServedNode, status: int, body: bytes) -> None:
        super().__init__(fr.identity(ME), fr.node.clock)
        self.status, self.body = status, body

    async def request(self, peer: str, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        return self.status, self.body


def _gossip(fr: ServedNode, status: int, body: bytes) -> Gossip:
    return Gossip(fr.worker, Scripted(fr, status, body), [DE])


def test_a_peers_error_text_is_quoted_in_the_log(
    fr: ServedNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ilo_node.gossip")
    forged = encode_body({"error": "x\n2026-01-01 WARNING ilo_node.gossip: SPLIT VIEW: DE@TR"})
    gossip = _gossip(fr, 503, forged)
    assert run(gossip.call(DE, "GET", "/v1/witnessed", role="witness")) is None
    (record,) = [r for r in caplog.records if r.name == "ilo_node.gossip"]
    assert "\n" not in record.getMessage() and "'x\\n2026" in record.getMessage()


@pytest.mark.parametrize(
    "answer",
    [
        {"envelopes": [], "heads": [[KEY, 2**64 - 1]]},
        {"envelopes": [], "heads": [[b"k", 1]]},
        {"envelopes": [], "heads": [], "more": 1},
        {"envelopes": "x", "heads": []},
    ],
)
def test_a_sync_answer_of_the_wrong_types_is_a_bad_response(
    fr: ServedNode, answer: dict[str, Any]
) -> None:
    async def scenario() -> None:
        before = await fr.fingerprint()
        gossip = _gossip(fr, 200, encode_body(answer))
        assert await gossip.sync_with(DE) == 0
        assert gossip.counters.get("peer_failures", "sync: bad response") == 1
        assert gossip.state[DE].failures == 1
        assert await fr.fingerprint() == before

    run(scenario())


def test_a_documents_diff_answer_of_the_wrong_types_is_a_bad_response(fr: ServedNode) -> None:
    async def scenario() -> None:
        gossip = _gossip(fr, 200, encode_body({"documents": [], "docs": [b"short"]}))
        await gossip._sync_documents(DE)
        assert gossip.counters.get("peer_failures", "sync: bad response") == 1

    run(scenario())


def test_a_failure_of_a_node_that_is_not_a_peer_is_counted_not_raised(fr: ServedNode) -> None:
    # Witnessing asks the subject of a relayed checkpoint for a consistency proof; that
    # node need not be a peer, and had no backoff state (KeyError in the gossip loop).
    async def scenario() -> None:
        gossip = _gossip(fr, 500, b"")
        assert await gossip.call("COM@EU", "GET", "/v1/consistency?old=0&new=1", role="x") is None
        assert gossip.state["COM@EU"].failures == 1

    run(scenario())


def test_undecodable_answers_never_raise(fr: ServedNode) -> None:
    async def scenario() -> None:
        for body in (b"", b"\xc1", msgpack.packb([1, 2]), b"\x81\xa4note\xc3"):
            gossip = _gossip(fr, 200, body)
            assert await gossip.sync_with(DE) == 0
            await gossip.witness.witness(DE)
            await gossip._sync_documents(DE)

    run(scenario())
