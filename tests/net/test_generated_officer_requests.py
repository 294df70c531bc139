"""Generated requests against every route of the officer API (``/v1/officer/``, served by
``ilo_node/net/officer_service.py`` behind ``PeerService.handle``), driven as
tests/net/test_generated_requests.py drives the peer API.

* In memory (``PeerService.handle``): random methods, paths (the officer routes, others
  under ``/v1/officer/``, the peer API's, anything) and query strings; bodies of
  random bytes, of random msgpack values, nested deeper than any decoder goes, and
  near-valid bodies (a body per route as the officer client sends it,
  ``ilo_node/client/officer.py``, with one field replaced by a random or a plausible
  value, removed, or one added); headers that are random, signed by a certified
  officer of the node (``sign_officer_request``), signed and then one header changed
  or removed, or signed by the wrong key or in the wrong way (a colleague's key in
  the officer's name, an officer of another node, the node's own key, a peer's
  request signature, a time outside the window).
* Over HTTP (``daemon.peer_app`` on a real aiohttp server), at the socket: officers'
  signed requests with header values of any bytes, extra headers, other targets
  and methods.
* Named cases, so that nothing is left to the odds of the draw: every valid body is
  answered, each field of each one replaced by each of a set of awkward values,
  each wrong signature at each route with the status it gets, a replay, and a
  request on a TLS connection of another key.

Every answer has a status below 500 and a msgpack body, with an ``error`` text for a
refusal. A refusal leaves the node's fingerprint unchanged, and one refused at
authentication (401, 403, 421) the nonce cache too. Only handing over envelopes and
marking them read may change the node when answered: every other route leaves it as
it was. A correctly signed request passes authentication; anything else sent to an
officer route is refused there, and an officer's signature is no peer's. The default
example counts keep this file to a few seconds; the ``slow`` tests run the same
properties much longer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ilo_node.client.officer import MessageFilter
from ilo_node.net.officer_service import OFFICER_PREFIX, OFFICER_ROUTES
from ilo_node.net.peerauth import (
    HEADERS,
    OFFICER_HEADER,
    WINDOW_MS,
    OfficerIdentity,
    sign_officer_request,
)
from ilo_node.net.ratelimit import RateLimiter
from ilo_node.net.service import PEER_ROUTES
from ilo_node.net.wire import decode_body, split_target
from ilo_node.node.officers import MAX_MESSAGES
from protocol.crypto import sha256
from protocol.envelope import seal
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
from tests.support.servicekit import ServedNode, serve_node

ME, DE, IT = "FR@TR", "DE@TR", "IT@TR"
#: Officers at this node (anna, bea) and at another (dora).
OFFICER, COLLEAGUE, ABROAD = "anna", "bea", "dora"

# The routes as the product declares them: a route added there is driven here too.
ROUTES = list(OFFICER_ROUTES)
#: The routes that may change what the node stores when they answer 200. A new
#: route that does belongs here; every other one must leave the node as it was.
WRITING = {("POST", "/v1/officer/submit"), ("POST", "/v1/officer/read")}
SIGNATURE_HEADERS = sorted([*HEADERS.values(), OFFICER_HEADER])
FIELDS = [
    "have", "envelopes", "awaiting", "kinds", "hosts", "parties", "officers", "since_ms",
    "until_ms", "unread", "others", "limit", "text", "ids", "prefix",
]  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_in_memory(
        tmp_path_factory.mktemp("generated-officers") / "net",
        ["COM@EU", DE, ME, IT],
        officers={ME: [OFFICER, COLLEAGUE], DE: [ABROAD]},
    )


@dataclass
class Desk:
    """FR with something for its officers to see: the node's own alerts, anna's first
    envelopes and a checkpoint; and what anna has yet to hand over."""

    served: ServedNode
    #: Envelope ids in the log, the node's and anna's.
    logged: list[bytes]
    #: Anna's envelopes in the log.
    handed: list[bytes]
    #: Anna's next envelopes, chained on from the last one handed over.
    fresh: list[bytes]
    #: An envelope bea signed (anna may not hand it over as hers).
    colleagues: bytes
    digests: list[bytes]
    #: Strategies built once per node: building them again for every draw was most
    #: of this file's time.
    strategies: dict[tuple[str, str, bool], st.SearchStrategy[Any]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Desk({self.served.name}, {len(self.logged)} envelopes)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints a dataclass field by field, with every example it reports.
        printer.text(repr(self))

    def seed(self, officer: str) -> bytes:
        return self.served.built.officer(officer).reveal()

    def signed(
        self, method: str, target: str, body: bytes, officer: str = OFFICER
    ) -> dict[str, str]:
        identity = OfficerIdentity(ME, officer, self.seed(officer))
        return sign_officer_request(identity, method, target, body, self.served.node.clock())


def _seal_chain(fr: ServedNode, officer: str, count: int) -> list[bytes]:
    node = fr.node
    now = node.clock()
    seed = fr.built.officer(officer).reveal()
    keys = node.trust.recipient_keys([ME, DE], now)
    out: list[bytes] = []
    prev: bytes | None = None
    for seq in range(1, count + 1):
        envelope = seal(
            signing_seed=seed,
            network=node.network,
            kind="incident_alert",
            author_node=ME,
            author_officer=officer,
            seq=seq,
            prev=prev,
            created_ms=now,
            distribution="local",
            recipient_keys=keys,
            handling="H1",
            content=example("incident_alert"),
        )
        out.append(envelope.to_bytes())
        prev = envelope.id
    return out


@pytest.fixture
def desk(built: Built, tmp_path: Path) -> Iterator[Desk]:
    served = serve_node(built, tmp_path, ME)
    node = served.node
    # The node reads what its officers seal to it, as a running node does.
    for path, key in built.keys.items():
        if path.parent == built.network.nodes[ME].prekey_dir:
            node.prekey_secrets[key.public] = key.reveal()
    # Hundreds of requests a second from one officer are what the test is, not abuse.
    served.service.officers.limits = RateLimiter(1e9, 1e9)
    for _ in range(2):
        node.publish("incident_alert", example("incident_alert"))
    chain = _seal_chain(served, OFFICER, 6)
    results = node.officers.submit(OFFICER, chain[:2], {})
    assert [r.status for r in results] == ["accepted", "accepted"], results
    node.checkpoint()
    logged = [bytes(r[0]) for r in node.db.execute("SELECT id FROM envelopes ORDER BY idx")]
    yield Desk(
        served,
        logged,
        chain[:2],
        chain[2:],
        _seal_chain(served, COLLEAGUE, 1)[0],
        sorted(node.docs.by_digest()),
    )
    served.close()


# -- what is generated ----------------------------------------------------------------------


def _valid_bodies(desk: Desk) -> dict[str, list[dict[str, Any]]]:
    """Bodies as ilo_node/client/officer.py sends them, route by route."""
    first, second = desk.logged[0], desk.logged[-1]
    fresh_id = sha256(desk.fresh[0])
    listing = MessageFilter(
        kinds=("incident_alert",),
        hosts=("TR",),
        parties=("FR",),
        officers=(OFFICER,),
        since_ms=0,
        until_ms=2**62,
        unread_only=True,
        others_only=True,
        limit=5,
    ).body()
    return {
        "/v1/officer/documents": [{"have": desk.digests[:3]}, {"have": []}],
        "/v1/officer/submit": [
            # IT has a prekey but was left out of the sealing: a late recipient.
            {"envelopes": desk.fresh[:2], "awaiting": [[fresh_id, [IT]]]},
            {"envelopes": desk.handed[:1], "awaiting": []},
            {"envelopes": [desk.colleagues]},
        ],
        "/v1/officer/messages": [
            # Every filter: once as a listing, once as a search (whose filters are the
            # search index's to check first).
            listing,
            {**listing, "text": "incident"},
            {"ids": [second], "limit": 1},  # as show() asks for one message
            {"text": "incident", "limit": 10},
        ],
        "/v1/officer/resolve": [{"prefix": first.hex()[:10]}],
        "/v1/officer/read": [{"ids": [first, second]}],
    }


WORDS = st.sampled_from(
    [
        "", "FR", "TR", "ZZ", "XK", "EU", "EUROPOL", "FRANCE", "fr", "FR@TR", "IT@TR",
        "ZZ@ZZ", "COM@EU", "incident_alert", "key_share", "retraction", "Incident_Alert",
        "anna", "bea", "dora", "Anna", "a" * 101, "%", "_", "*", "'", '"', "İ", "ß",
        "\u0661", "\x00", "a OR b", "NEAR(a b)", '"open', "contact.email:x",
        "nosuchfield:x", "title:", "0" * 7, "0" * 8, "f" * 64, "F" * 64, "0" * 65,
        " " * 9 + "0" * 8, "x" * 1001,
    ]
)  # fmt: skip
BOUNDS = st.sampled_from([0, 1, 50, MAX_MESSAGES, MAX_MESSAGES + 1, 2**62, 2**63 - 1, 2**63, -1])


def _plausible(desk: Desk) -> st.SearchStrategy[Any]:
    """Values that pass some of a field's checks: codes of the right shape but unknown,
    known ids, sizes at their bounds, lists at and over their caps."""
    known = desk.logged + [sha256(raw) for raw in desk.fresh]
    ids = st.sampled_from(known) | st.binary(min_size=32, max_size=32)
    items = WORDS | ids | st.binary(min_size=16, max_size=16) | BOUNDS
    awaiting = st.tuples(ids, st.lists(WORDS, max_size=3)).map(list)
    return st.one_of(
        MSGPACK_VALUES,
        WORDS,
        BOUNDS,
        items,
        st.lists(items, max_size=6),
        st.lists(awaiting, max_size=3),
        st.tuples(ids, st.integers(0, 300)).map(lambda t: [[t[0], [IT] * t[1]]]),
        st.tuples(ids, st.integers(0, MAX_MESSAGES + 2)).map(lambda t: [t[0]] * t[1]),
        st.tuples(WORDS, st.integers(0, 70)).map(lambda t: [t[0]] * t[1]),
        st.sampled_from(desk.fresh + desk.handed + [desk.colleagues]).map(lambda r: [r]),
        st.sampled_from(desk.fresh + desk.handed).map(lambda r: [r[:-1], r + b"\x00", r[1:]]),
    )


def _bodies(desk: Desk, path: str, *, aimed: bool = False) -> st.SearchStrategy[bytes]:
    key = ("bodies", path, aimed)
    if key not in desk.strategies:
        desk.strategies[key] = _new_bodies(desk, path, aimed)
    return desk.strategies[key]


def _new_bodies(desk: Desk, path: str, aimed: bool) -> st.SearchStrategy[bytes]:
    """Any body; ``aimed``: mostly near a valid one, where the route's own checks are."""
    plausible = _plausible(desk)
    anything = st.one_of(
        st.binary(max_size=300),
        MSGPACK_VALUES.map(pack),
        st.dictionaries(st.sampled_from(FIELDS), plausible, max_size=5).map(pack),
        DEEP,
        st.just(b""),
    )
    valid = _valid_bodies(desk).get(path)
    if not valid:
        return anything
    near = st.sampled_from(valid).flatmap(lambda v: near_valid(v, FIELDS, plausible)).map(pack)
    exact = st.sampled_from(valid).map(pack)
    return (
        st.one_of(near, near, near, exact, anything) if aimed else st.one_of(anything, near, exact)
    )


def _queries(desk: Desk, *, aimed: bool = False) -> st.SearchStrategy[str]:
    key = ("queries", "", aimed)
    if key not in desk.strategies:
        desk.strategies[key] = _new_queries(desk, aimed)
    return desk.strategies[key]


def _new_queries(desk: Desk, aimed: bool) -> st.SearchStrategy[str]:
    values = st.one_of(
        INTEGERS.map(str),
        st.text(max_size=12),
        st.sampled_from(desk.logged).map(bytes.hex),
        st.sampled_from(desk.logged).map(lambda i: i.hex().upper()),
        st.sampled_from(desk.logged).map(lambda i: i.hex()[:10]),
        st.binary(min_size=32, max_size=32).map(bytes.hex),
        st.sampled_from(["", "%41", "+", "\u0661" * 64]),
    )
    pairs = st.lists(st.tuples(st.sampled_from(["id", "id", "x", ""]), values), max_size=3)
    anything = pairs.map(lambda ps: "&".join(f"{k}={v}" for k, v in ps))
    if not aimed:
        return anything
    logged = st.sampled_from(desk.logged).map(lambda i: f"id={i.hex()}")
    return st.one_of(logged, logged, anything)


PATHS = st.one_of(
    st.sampled_from([p for _, p in ROUTES]),
    st.sampled_from([p for _, p in ROUTES]).map(lambda p: p + "/x"),
    st.text(max_size=20).map(lambda t: OFFICER_PREFIX + t),
    st.sampled_from([p for _, p in PEER_ROUTES] + ["/v1/officer", "/v1/officers/status"]),
    st.text(max_size=30).map(lambda t: "/" + t),
)
METHODS = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "get", "post"]), st.text(max_size=8)
)
HEADER_SETS = st.dictionaries(
    st.sampled_from([*SIGNATURE_HEADERS, "Content-Type", "X-Other"]), st.text(max_size=80)
)

#: Requests signed by someone or in some way the node must not take from its officer;
#: each with the status it is refused with.
Signer = Callable[[Desk, str, str, bytes], dict[str, str]]


def _as(officer: str, node: str, seed: Callable[[Desk], bytes]) -> Signer:
    def sign(desk: Desk, method: str, target: str, body: bytes) -> dict[str, str]:
        identity = OfficerIdentity(node, officer, seed(desk))
        return sign_officer_request(identity, method, target, body, desk.served.node.clock())

    return sign


def _stale(desk: Desk, method: str, target: str, body: bytes) -> dict[str, str]:
    identity = OfficerIdentity(ME, OFFICER, desk.seed(OFFICER))
    then = desk.served.node.clock() - 2 * WINDOW_MS
    return sign_officer_request(identity, method, target, body, then)


def _peer(desk: Desk, method: str, target: str, body: bytes) -> dict[str, str]:
    return desk.served.signed(DE, method, target, body)


def _peer_naming_anna(desk: Desk, method: str, target: str, body: bytes) -> dict[str, str]:
    return {**_peer(desk, method, target, body), OFFICER_HEADER: OFFICER}


def _another_body(desk: Desk, method: str, target: str, body: bytes) -> dict[str, str]:
    return desk.signed(method, target, body + b"\x00")


def _another_target(desk: Desk, method: str, target: str, body: bytes) -> dict[str, str]:
    return desk.signed(method, target + ("&" if "?" in target else "?") + "x=1", body)


WRONG: dict[str, tuple[Signer, int]] = {
    "a colleague's key in anna's name": (_as(OFFICER, ME, lambda d: d.seed(COLLEAGUE)), 403),
    "dora of DE, at this node": (_as(ABROAD, ME, lambda d: d.seed(ABROAD)), 403),
    "dora of DE, to her own node": (_as(ABROAD, DE, lambda d: d.seed(ABROAD)), 421),
    "the node's own key as anna": (
        _as(OFFICER, ME, lambda d: d.served.built.signing(ME).reveal()),
        403,
    ),
    "a peer's signature": (_peer, 401),
    "a peer's signature with anna's name added": (_peer_naming_anna, 401),
    "a time outside the window": (_stale, 401),
    "signed for another body": (_another_body, 401),
    "signed for another target": (_another_target, 401),
}
#: What authentication refuses with, before any nonce is kept.
UNAUTHENTICATED = (401, 403, 421)


#: "pass": authentication must let it through; "refuse": it must refuse it; "any":
#: either (an answer without authentication, or a peer's own request).
Expectation = Literal["pass", "refuse", "any"]


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    expect: Expectation


def _expectation(method: str, target: str, how: str) -> Expectation:
    path, _ = split_target(target)
    if method == "GET" and path == "/v1/health":
        return "any"  # answered to anyone
    officer_route = path.startswith(OFFICER_PREFIX)
    if how == "signed":
        # An officer's signature is no peer's: the peer routes refuse it.
        return "pass" if officer_route else "refuse"
    if how.startswith("a peer's signature") and not officer_route:
        return "any"  # a peer's request to the peer API, with or without an extra header
    return "refuse"


@st.composite
def officer_requests(draw: st.DrawFn, desk: Desk, signed_only: bool = False) -> Request:
    if signed_only or draw(st.booleans()):
        method, path = draw(st.sampled_from(ROUTES))
    else:
        method, path = draw(METHODS), draw(PATHS)
    query = draw(_queries(desk, aimed=signed_only))
    target = f"{path}?{query}" if query else path
    body = draw(_bodies(desk, path, aimed=signed_only))
    hows = ["signed", "signed, then changed", "signed, then one removed", "wrong", "random"]
    how = "signed" if signed_only else draw(st.sampled_from(hows))
    if how == "random":
        return Request(method, target, draw(HEADER_SETS), body, _expectation(method, target, how))
    signer = draw(st.sampled_from([OFFICER, COLLEAGUE]))
    if how == "wrong":
        how = draw(st.sampled_from(sorted(WRONG)))
    try:
        if how in WRONG:
            headers = WRONG[how][0](desk, method, target, body)
        else:
            headers = desk.signed(method, target, body, signer)
    except Exception:  # a method or target that cannot even be signed (lone surrogates)
        headers, how = draw(HEADER_SETS), "random"
    if how == "signed, then changed":
        name = draw(st.sampled_from(SIGNATURE_HEADERS))
        value = draw(st.text(max_size=80))
        if value == headers[name]:
            how = "signed"
        headers[name] = value
    elif how == "signed, then one removed":
        del headers[draw(st.sampled_from(SIGNATURE_HEADERS))]
    return Request(method, target, headers, body, _expectation(method, target, how))


# -- the officer API in memory ---------------------------------------------------------------


async def _check(
    desk: Desk, request: Request, tls_key: bytes | None = None, *, nonce_kept: bool = False
) -> int:
    served = desk.served
    before = await served.fingerprint()
    nonces = len(served.service.nonces._seen)
    status, out = await served.service.handle(
        request.method, request.target, request.headers, request.body, tls_key
    )
    assert 200 <= status < 500, (request, status, out[:300])
    answer = decode_body(out, "answer")
    path, _ = split_target(request.target)
    if status != 200:
        assert isinstance(answer.get("error"), str) and answer["error"], answer
        assert await served.fingerprint() == before, (request, status, answer)
    elif path.startswith(OFFICER_PREFIX) and (request.method, path) not in WRITING:
        assert await served.fingerprint() == before, (
            f"{request.method} {path} changed the node; if it is meant to, add it to WRITING"
        )
    if status in UNAUTHENTICATED and not nonce_kept:
        assert len(served.service.nonces._seen) == nonces, (request, status, answer)
    if request.expect == "pass":
        assert status not in (*UNAUTHENTICATED, 409, 429), (request, status, answer)
    elif request.expect == "refuse":
        assert status in UNAUTHENTICATED, (request, status, answer)
    return status


def _officer_api_in_memory(desk: Desk, data: st.DataObject) -> None:
    run(_check(desk, data.draw(officer_requests(desk))))


@quick(150)
@given(data=st.data())
def test_generated_officer_requests_get_a_4xx_or_an_answer(desk: Desk, data: st.DataObject) -> None:
    _officer_api_in_memory(desk, data)


@quick(80)
@given(data=st.data())
def test_generated_signed_officer_requests_reach_every_route(
    desk: Desk, data: st.DataObject
) -> None:
    run(_check(desk, data.draw(officer_requests(desk, signed_only=True))))


@pytest.mark.slow
@quick(1000)
@given(data=st.data())
def test_generated_officer_requests_long_run(desk: Desk, data: st.DataObject) -> None:
    _officer_api_in_memory(desk, data)


@pytest.mark.slow
@quick(500)
@given(data=st.data())
def test_generated_signed_officer_requests_long_run(desk: Desk, data: st.DataObject) -> None:
    run(_check(desk, data.draw(officer_requests(desk, signed_only=True))))


# -- named cases of what is generated ----------------------------------------------------------


def _signed_request(desk: Desk, method: str, path: str, value: Any, **kw: str) -> Request:
    body = pack(value) if value is not None else b""
    return Request(method, path, desk.signed(method, path, body, **kw), body, "pass")


def test_every_officer_route_answers_its_valid_bodies(desk: Desk) -> None:
    """The near-valid bodies above are near something the node takes: each valid
    body is answered 200. A POST route added without a valid body here fails."""
    valid = _valid_bodies(desk)
    assert {p for m, p in ROUTES if m == "POST"} <= set(valid), "a route without a valid body"

    async def scenario() -> None:
        for method, path in ROUTES:
            if method == "POST":
                bodies: list[Any] = valid[path]
                targets = [path] * len(bodies)
            else:
                bodies = [None]
                targets = [f"{path}?id={desk.logged[-1].hex()}" if path.endswith("proof") else path]
            for target, body in zip(targets, bodies, strict=True):
                assert await _check(desk, _signed_request(desk, method, target, body)) == 200

    run(scenario())


#: A value of each msgpack type, and some at the edges of the fields' checks.
AWKWARD: list[Any] = [
    None, True, -1, 2**64 - 1, 1.5, "", "x" * 1001, b"\x00" * 33, [[]], {"a": 1},
]  # fmt: skip


def test_every_field_of_every_valid_body_replaced_by_an_awkward_value(desk: Desk) -> None:
    """The near-valid bodies of the tests above, drawn systematically: each field of
    each valid body (and each list field's first item) replaced by each awkward
    value, so that no field is left to the odds of the draw."""

    def variants(valid: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for name, value in valid.items():
            for awkward in AWKWARD:
                yield {**valid, name: awkward}
                if isinstance(value, list) and value:
                    yield {**valid, name: [awkward, *value[1:]]}

    async def scenario() -> None:
        for path, bodies in _valid_bodies(desk).items():
            for body in (variant for valid in bodies for variant in variants(valid)):
                await _check(desk, _signed_request(desk, "POST", path, body))

    run(scenario())


def test_wrongly_signed_officer_requests_are_refused_at_every_route(desk: Desk) -> None:
    valid = _valid_bodies(desk)

    async def scenario() -> None:
        for how, (sign, status) in sorted(WRONG.items()):
            for method, path in ROUTES:
                body = pack(valid[path][0]) if path in valid else b""
                request = Request(method, path, sign(desk, method, path, body), body, "refuse")
                assert await _check(desk, request) == status, (how, method, path)

    run(scenario())


def test_a_replayed_officer_request_is_refused_and_changes_nothing(desk: Desk) -> None:
    request = _signed_request(desk, "POST", "/v1/officer/read", {"ids": desk.logged[:1]})

    async def scenario() -> None:
        assert await _check(desk, request) == 200
        nonces = len(desk.served.service.nonces._seen)
        again = Request(request.method, request.target, request.headers, request.body, "any")
        assert await _check(desk, again) == 409
        assert len(desk.served.service.nonces._seen) == nonces

    run(scenario())


def test_an_officer_request_on_another_keys_tls_connection_is_refused(desk: Desk) -> None:
    signed = _signed_request(desk, "POST", "/v1/officer/read", {"ids": desk.logged[:1]})
    request = Request(signed.method, signed.target, signed.headers, signed.body, "refuse")
    # The binding to the connection is checked after the signature (service.py says
    # why), so the nonce is spent: that request is not taken on any connection after.
    assert run(_check(desk, request, tls_key=bytes(32), nonce_kept=True)) == 403


# -- the officer API over HTTP, at the socket --------------------------------------------------

TARGET_BYTES = st.one_of(
    st.sampled_from([p.encode() for _, p in ROUTES]),
    st.binary(max_size=40).map(lambda b: OFFICER_PREFIX.encode() + bytes(c for c in b if c > 0x20)),
)


@st.composite
def raw_officer_requests(draw: st.DrawFn, desk: Desk) -> bytes:
    method, path = draw(st.sampled_from(ROUTES))
    body = draw(_bodies(desk, path)) if method == "POST" else b""
    headers = {k: v.encode() for k, v in desk.signed(method, path, body).items()}
    return mutated_request(
        draw,
        method,
        path,
        headers,
        body,
        signature_headers=SIGNATURE_HEADERS,
        extra_headers=["X-Ilo-Officer", "x-ilo-officer", "X-A", "Expect"],
        targets=TARGET_BYTES,
    )


@quick(15)
@given(data=st.data())
def test_generated_raw_http_officer_requests_get_a_4xx_or_an_answer(
    desk: Desk, data: st.DataObject
) -> None:
    requests = data.draw(st.lists(raw_officer_requests(desk), min_size=1, max_size=6))
    served_over_http(desk.served, requests)


@pytest.mark.slow
@quick(100)
@given(data=st.data())
def test_generated_raw_http_officer_requests_long_run(desk: Desk, data: st.DataObject) -> None:
    requests = data.draw(st.lists(raw_officer_requests(desk), min_size=1, max_size=10))
    served_over_http(desk.served, requests)
