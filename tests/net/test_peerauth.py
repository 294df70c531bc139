"""Peer request signing (ilo_node/net/peerauth.py): one test per rule the receiver enforces."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ilo_node.errors import AuthError
from ilo_node.home.home import now_ms
from ilo_node.net.peerauth import (
    HEADERS,
    WINDOW_MS,
    NonceCache,
    PeerIdentity,
    PeerRequest,
    sign_request,
    verify_request,
)
from keys.keystore import generate_signing_key
from keys.trust import TrustState
from protocol.signed import SignedDocument
from tests.support.memkeys import Built, build_in_memory

NODES = ["COM@EU", "DE@TR", "FR@TR"]
ME = "FR@TR"
PATH = "/v1/checkpoint?from=7"
BODY = b"\x81\xa5heads\x90"


Keys = Built


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return build_in_memory(tmp_path_factory.mktemp("auth") / "net", NODES)


@pytest.fixture
def trust(built: Keys) -> TrustState:
    """FR's trust state, fresh for each test (some tests add a revocation)."""
    return built.network.nodes[ME].trust_state()


@pytest.fixture
def de(built: Keys) -> PeerIdentity:
    return PeerIdentity("DE@TR", built.node("DE@TR").reveal())


def _verify(
    trust: TrustState,
    headers: Mapping[str, str],
    *,
    method: str = "GET",
    path: str = PATH,
    body: bytes = BODY,
    now: int | None = None,
    nonces: NonceCache | None = None,
    me: str = ME,
) -> str:
    return verify_request(
        trust,
        me,
        PeerRequest(method, path, body, headers),
        now if now is not None else now_ms(),
        nonces if nonces is not None else NonceCache(),
    )


def _sign(identity: PeerIdentity, *, to: str = ME, at: int | None = None) -> dict[str, str]:
    return sign_request(identity, "GET", PATH, BODY, to, at if at is not None else now_ms())


def _refused(fn: Callable[[], object], status: int, words: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        fn()
    assert caught.value.status == status, caught.value.message
    assert words in caught.value.message
    return caught.value


# -- accepted ------------------------------------------------------------------------------


def test_valid_request_returns_the_sending_node(trust: TrustState, de: PeerIdentity) -> None:
    assert _verify(trust, _sign(de)) == "DE@TR"
    headers = sign_request(de, "POST", "/v1/sync", b"", ME, now_ms())
    assert _verify(trust, headers, method="POST", path="/v1/sync", body=b"") == "DE@TR"


def test_every_node_of_the_roster_is_accepted(built: Keys, trust: TrustState) -> None:
    for name in NODES:
        identity = PeerIdentity(name, built.node(name).reveal())
        assert _verify(trust, _sign(identity)) == name


# -- missing and malformed headers -------------------------------------------------------


@pytest.mark.parametrize("header", sorted(HEADERS.values()))
def test_missing_header_is_401(trust: TrustState, de: PeerIdentity, header: str) -> None:
    headers = _sign(de)
    del headers[header]
    _refused(lambda: _verify(trust, headers), 401, "not signed")


def test_no_headers_at_all_is_401(trust: TrustState) -> None:
    _refused(lambda: _verify(trust, {}), 401, "not signed")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("key", "not hex", "not signed"),
        ("time", "soon", "not signed"),
        ("time", "", "not signed"),
        ("nonce", "zz" * 16, "not signed"),
        ("signature", "***not base64***", "not signed"),
        ("nonce", "ab" * 15, "16 bytes"),
        ("nonce", "ab" * 17, "16 bytes"),
        ("key", "ab" * 31, "does not verify"),
        ("signature", base64.b64encode(b"\x00" * 10).decode(), "does not verify"),
    ],
)
def test_malformed_header_is_401(
    trust: TrustState, de: PeerIdentity, field: str, value: str, words: str
) -> None:
    headers = _sign(de)
    headers[HEADERS[field]] = value
    _refused(lambda: _verify(trust, headers), 401, words)


# -- audience, time, replay ----------------------------------------------------------------


def test_request_for_another_node_is_421(trust: TrustState, de: PeerIdentity) -> None:
    headers = _sign(de, to="COM@EU")
    _refused(lambda: _verify(trust, headers), 421, "addressed to COM@EU")


def test_readdressing_a_request_breaks_its_signature(trust: TrustState, de: PeerIdentity) -> None:
    headers = _sign(de, to="COM@EU")
    headers[HEADERS["to"]] = ME
    _refused(lambda: _verify(trust, headers), 401, "does not verify")


@pytest.mark.parametrize("offset", [-WINDOW_MS - 1, WINDOW_MS + 1, -3_600_000, 86_400_000])
def test_time_outside_the_window_is_401(trust: TrustState, de: PeerIdentity, offset: int) -> None:
    now = now_ms()
    headers = _sign(de, at=now + offset)
    _refused(lambda: _verify(trust, headers, now=now), 401, "off this node's clock")


@pytest.mark.parametrize("offset", [-WINDOW_MS, WINDOW_MS, 0])
def test_time_at_the_edge_of_the_window_is_accepted(
    trust: TrustState, de: PeerIdentity, offset: int
) -> None:
    now = now_ms()
    assert _verify(trust, _sign(de, at=now + offset), now=now) == "DE@TR"


def test_replayed_request_is_409(trust: TrustState, de: PeerIdentity) -> None:
    nonces = NonceCache()
    headers = _sign(de)
    now = now_ms()
    assert _verify(trust, headers, nonces=nonces, now=now) == "DE@TR"
    _refused(lambda: _verify(trust, headers, nonces=nonces, now=now + 1000), 409, "replay")
    # A fresh request (new nonce) from the same peer still passes.
    assert _verify(trust, _sign(de), nonces=nonces) == "DE@TR"
    # Once the window has passed, the old request is refused for its time.
    late = now + WINDOW_MS + 1_000
    _refused(lambda: _verify(trust, headers, nonces=nonces, now=late), 401, "off")


def test_refused_request_does_not_burn_its_nonce(trust: TrustState, de: PeerIdentity) -> None:
    """A request refused for its signature must not let an attacker block the real one."""
    nonces = NonceCache()
    headers = _sign(de)
    forged = dict(headers)
    forged[HEADERS["signature"]] = base64.b64encode(b"\x01" * 64).decode()
    _refused(lambda: _verify(trust, forged, nonces=nonces), 401, "does not verify")
    assert _verify(trust, headers, nonces=nonces) == "DE@TR"


# -- what the signature covers -------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"body": BODY + b"\x00"},
        {"body": b""},
        {"path": "/v1/checkpoint?from=8"},
        {"path": "/v1/checkpoint"},
        {"path": "/v1/witnessed"},
        {"method": "POST"},
        {"method": "DELETE"},
    ],
    ids=lambda c: next(iter(c)) + "=" + str(next(iter(c.values())))[:20],
)
def test_altered_request_is_401(
    trust: TrustState, de: PeerIdentity, change: dict[str, Any]
) -> None:
    headers = _sign(de)
    _refused(lambda: _verify(trust, headers, **change), 401, "does not verify")


@pytest.mark.parametrize("field", ["time", "nonce", "node"])
def test_altered_signed_header_is_refused(trust: TrustState, de: PeerIdentity, field: str) -> None:
    headers = _sign(de)
    if field == "time":
        headers[HEADERS["time"]] = str(int(headers[HEADERS["time"]]) + 1)
    elif field == "nonce":
        headers[HEADERS["nonce"]] = os.urandom(16).hex()
    else:
        headers[HEADERS["node"]] = "COM@EU"
    _refused(lambda: _verify(trust, headers), 401, "does not verify")


def test_expired_roster_refuses_peer_requests_with_403(trust: TrustState, de: PeerIdentity) -> None:
    """With its roster expired a node cannot tell who is still a member: it refuses
    requests (its own syncs still pull the next version from peers that have it)."""
    later = trust.roster.expires_ms + 86_400_000
    _refused(lambda: _verify(trust, _sign(de, at=later), now=later), 403, "roster v1 expired")


# -- keys and the roster -------------------------------------------------------------------


def test_signature_by_another_key_is_401(built: Keys, trust: TrustState) -> None:
    """The X-Ilo-Key header names DE's key but another key made the signature."""
    stranger = PeerIdentity("DE@TR", generate_signing_key().reveal())
    headers = _sign(stranger)
    headers[HEADERS["key"]] = built.node("DE@TR").public.hex()
    _refused(lambda: _verify(trust, headers), 401, "does not verify")


def test_key_not_certified_for_the_claimed_node_is_403(built: Keys, trust: TrustState) -> None:
    # A fresh key nobody certified.
    stranger = PeerIdentity("DE@TR", generate_signing_key().reveal())
    _refused(lambda: _verify(trust, _sign(stranger)), 403, "no certificate")
    # COM's real, certified key used to speak for DE: an impostor, refused outright.
    impostor = PeerIdentity("DE@TR", built.node("COM@EU").reveal())
    _refused(lambda: _verify(trust, _sign(impostor)), 403, "certified for COM@EU, not for DE@TR")


def test_node_not_in_the_roster_is_403(built: Keys, trust: TrustState) -> None:
    outsider = PeerIdentity("ES@TR", generate_signing_key().reveal())
    _refused(lambda: _verify(trust, _sign(outsider)), 403, "not a member")
    # Even with a certified key of a member.
    borrowed = PeerIdentity("ES@TR", built.node("DE@TR").reveal())
    _refused(lambda: _verify(trust, _sign(borrowed)), 403, "not a member")


def _revocation(built: Keys, compromised_at_ms: int) -> bytes:
    issued = now_ms() - 1_000
    return (
        SignedDocument.create(
            "revocation",
            {
                "network": built.network.network,
                "node": "DE@TR",
                "key": built.node("DE@TR").public,
                "compromised_at_ms": compromised_at_ms,
                "issued_ms": issued,
                "reason": "laptop stolen",
            },
        )
        .signed_by(built.authority("DE").reveal())
        .to_bytes()
    )


@pytest.mark.parametrize("compromised", ["an hour ago", "tomorrow"])
def test_revoked_key_is_403(
    built: Keys, trust: TrustState, de: PeerIdentity, compromised: str
) -> None:
    assert _verify(trust, _sign(de)) == "DE@TR"
    shift = {"an hour ago": -3_600_000, "tomorrow": 86_400_000}[compromised]
    trust.add_revocation(_revocation(built, now_ms() + shift))
    _refused(lambda: _verify(trust, _sign(de)), 403, "revoked")
    # Other nodes are unaffected.
    com = PeerIdentity("COM@EU", built.node("COM@EU").reveal())
    assert _verify(trust, _sign(com)) == "COM@EU"


def test_revocation_signed_by_the_wrong_authority_has_no_effect(
    built: Keys, trust: TrustState, de: PeerIdentity
) -> None:
    forged = SignedDocument.from_bytes(_revocation(built, now_ms() - 1_000))
    wrong = SignedDocument.create("revocation", forged.payload()).signed_by(
        built.authority("FR").reveal()
    )
    with pytest.raises(Exception, match="not signed by a DE authority"):
        trust.add_revocation(wrong.to_bytes())
    assert _verify(trust, _sign(de)) == "DE@TR"


# -- the nonce cache ------------------------------------------------------------------------


def test_nonce_cache_refuses_a_nonce_seen_inside_the_window() -> None:
    cache = NonceCache()
    t = 1_000_000_000
    assert cache.check_and_add(b"a" * 16, t, t)
    assert not cache.check_and_add(b"a" * 16, t, t + WINDOW_MS)
    assert cache.check_and_add(b"b" * 16, t, t + WINDOW_MS)


def test_nonce_cache_forgets_entries_older_than_two_windows() -> None:
    cache = NonceCache()
    t = 1_000_000_000
    for i in range(10):
        assert cache.check_and_add(bytes([i]) * 16, t + i, t + i)
    later = t + 2 * WINDOW_MS + 5  # entries 0..4 are now older than two windows
    assert cache.check_and_add(b"new" * 5 + b"!", later, later)
    assert len(cache._seen) == 6
    assert bytes([4]) * 16 not in cache._seen
    assert bytes([5]) * 16 in cache._seen


def test_nonce_cache_is_bounded() -> None:
    cache = NonceCache(capacity=100)
    t = 1_000_000_000
    for i in range(1_000):
        assert cache.check_and_add(i.to_bytes(16, "big"), t, t)
        assert len(cache._seen) <= 100
    # The newest are still remembered; the oldest were let go to respect the bound.
    assert not cache.check_and_add((999).to_bytes(16, "big"), t, t)
    assert (0).to_bytes(16, "big") not in cache._seen


# -- header values are read in their plain ASCII form only ------------------------------


@pytest.mark.parametrize("header", sorted(HEADERS))
def test_header_with_undecodable_bytes_is_401(
    trust: TrustState, de: PeerIdentity, header: str
) -> None:
    # aiohttp passes header bytes that are not UTF-8 on as lone surrogates; quoting or
    # signing over one used to raise (a 500) instead of refusing the request.
    headers = _sign(de)
    headers[HEADERS[header]] += "\udcff"
    _refused(lambda: _verify(trust, headers), 401, "not signed")


@pytest.mark.parametrize("value", ["\u0661\u0662", "+1", "1_000", " 1", "1 ", "-1", "9" * 20])
def test_time_other_than_plain_decimal_digits_is_401(
    trust: TrustState, de: PeerIdentity, value: str
) -> None:
    # int() takes other scripts' digits, signs, spaces and underscores.
    headers = _sign(de)
    headers[HEADERS["time"]] = value
    _refused(lambda: _verify(trust, headers), 401, "not signed")


@pytest.mark.parametrize(("field", "value"), [("key", "ab " * 32), ("nonce", "\uff10" * 32)])
def test_hex_with_spaces_or_wide_digits_is_401(
    trust: TrustState, de: PeerIdentity, field: str, value: str
) -> None:
    headers = _sign(de)
    headers[HEADERS[field]] = value
    _refused(lambda: _verify(trust, headers), 401, "not signed")


@pytest.mark.parametrize("field", ["node", "to"])
@pytest.mark.parametrize("value", ["DE@TR ", "DE\n@TR", "", "x" * 65, "DÉ@TR"])
def test_node_ids_outside_printable_ascii_are_401(
    trust: TrustState, de: PeerIdentity, field: str, value: str
) -> None:
    headers = _sign(de)
    headers[HEADERS[field]] = value
    _refused(lambda: _verify(trust, headers), 401, "not signed")


def test_a_path_that_is_not_text_is_401(trust: TrustState, de: PeerIdentity) -> None:
    # Reachable through PeerService.handle: nobody can have signed a lone surrogate.
    headers = _sign(de)
    _refused(lambda: _verify(trust, headers, path=PATH + "\udcff"), 401, "does not verify")
