"""Request authentication: every peer request is signed by the sending node's key, and
every officer request by the officer's key.

The signature covers, in canonical msgpack under a domain prefix: the method,
the path with its query, the SHA-256 of the body, a timestamp, a random nonce,
the sending node and the node the request is addressed to. The receiver checks
the sender against the roster and its certificates (a revoked or unknown key
is refused), the timestamp against its clock (a window either side), and the
nonce against the ones it saw inside that window, so a captured request cannot
be replayed to it or to any other node.

Officers' requests (the officer API, docs/api.md) are signed the same way under
their own domain, with the officer's name in the signed message and in
``X-Ilo-Officer``; ``X-Ilo-Node`` is then the officer's node, which must be the
node addressed: an officer works through their own posting's node only.
"""

from __future__ import annotations

import base64
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from ilo_node.errors import AuthError
from keys.trust import TrustState
from protocol.canonical import encode_canonical
from protocol.crypto import sha256, sign_with, signing_key, verify
from protocol.errors import SignatureError, UsageError
from protocol.identifiers import OFFICER_NAME_PATTERN

__all__ = [
    "HEADERS",
    "OFFICER_HEADER",
    "WINDOW_MS",
    "NonceCache",
    "OfficerIdentity",
    "PeerIdentity",
    "PeerRequest",
    "VerifiedOfficer",
    "sign_officer_request",
    "sign_request",
    "verify_officer_request",
    "verify_request",
]

DOMAIN = b"ilo-node/v1/peer-request\x00"
OFFICER_DOMAIN = b"ilo-node/v1/officer-request\x00"
WINDOW_MS = 60_000
HEADERS = {
    "node": "X-Ilo-Node",
    "key": "X-Ilo-Key",
    "time": "X-Ilo-Time",
    "nonce": "X-Ilo-Nonce",
    "to": "X-Ilo-To",
    "signature": "X-Ilo-Signature",
}
#: What officer requests add to the headers above.
OFFICER_HEADER = "X-Ilo-Officer"

# What each header may hold before it is interpreted. aiohttp passes header bytes that
# are not UTF-8 on as lone surrogates, and int(), bytes.fromhex() and str.isdigit()
# accept more than the spec says (other scripts' digits, signs, underscores,
# whitespace); so every value is matched against its plain ASCII form first.
#: Node ids: printable ASCII without spaces (whether it is a member is trust's call).
_NODE = re.compile(r"[\x21-\x7e]{1,64}")
#: Officer names (certificates allow only such identifiers).
_OFFICER = re.compile(OFFICER_NAME_PATTERN)
#: Hex of at most 64 bytes (keys and nonces; their exact lengths are checked later,
#: with their own messages).
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){0,64}")
#: Milliseconds since 1970, decimal; 19 digits hold any signed 64-bit time.
_DECIMAL = re.compile(r"[0-9]{1,19}")
#: Standard base64 of at most 96 bytes (a signature is 64).
_BASE64 = re.compile(r"[A-Za-z0-9+/]{0,128}={0,2}")


@dataclass(frozen=True)
class PeerIdentity:
    node: str
    seed: bytes

    def __repr__(self) -> str:
        return f"PeerIdentity({self.node})"


@dataclass(frozen=True)
class OfficerIdentity:
    node: str
    officer: str
    seed: bytes

    def __repr__(self) -> str:
        return f"OfficerIdentity({self.officer} at {self.node})"


@dataclass(frozen=True)
class VerifiedOfficer:
    """Who an authenticated officer request came from."""

    node: str
    officer: str
    key: bytes


def _message(
    method: str,
    path: str,
    body_hash: bytes,
    time_ms: int,
    nonce: bytes,
    node: str,
    to: str,
    officer: str | None = None,
) -> bytes:
    fields: list[object] = [method.upper(), path, body_hash, time_ms, nonce, node, to]
    if officer is not None:
        fields.append(officer)
    return encode_canonical(fields)


def sign_request(
    identity: PeerIdentity, method: str, path: str, body: bytes, to: str, now_ms: int
) -> dict[str, str]:
    """Headers that authenticate one request from ``identity`` to node ``to``."""
    nonce = os.urandom(16)
    key = signing_key(identity.seed)
    message = _message(method, path, sha256(body), now_ms, nonce, identity.node, to)
    signature = sign_with(key, DOMAIN, message)
    return {
        HEADERS["node"]: identity.node,
        HEADERS["key"]: bytes(key.verify_key).hex(),
        HEADERS["time"]: str(now_ms),
        HEADERS["nonce"]: nonce.hex(),
        HEADERS["to"]: to,
        HEADERS["signature"]: base64.b64encode(signature).decode(),
    }


def sign_officer_request(
    identity: OfficerIdentity, method: str, path: str, body: bytes, now_ms: int
) -> dict[str, str]:
    """Headers that authenticate one request from an officer to their own node."""
    nonce = os.urandom(16)
    key = signing_key(identity.seed)
    message = _message(
        method, path, sha256(body), now_ms, nonce, identity.node, identity.node, identity.officer
    )
    return {
        HEADERS["node"]: identity.node,
        OFFICER_HEADER: identity.officer,
        HEADERS["key"]: bytes(key.verify_key).hex(),
        HEADERS["time"]: str(now_ms),
        HEADERS["nonce"]: nonce.hex(),
        HEADERS["to"]: identity.node,
        HEADERS["signature"]: base64.b64encode(sign_with(key, OFFICER_DOMAIN, message)).decode(),
    }


class NonceCache:
    """Nonces seen inside the replay window, bounded in size."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[bytes, int] = OrderedDict()

    def check_and_add(self, nonce: bytes, time_ms: int, now_ms: int) -> bool:
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if seen_at >= now_ms - 2 * WINDOW_MS and len(self._seen) < self.capacity:
                break
            del self._seen[oldest]
        if nonce in self._seen:
            return False
        self._seen[nonce] = time_ms
        return True


@dataclass(frozen=True)
class PeerRequest:
    """A request as the server received it: the path with its query, exactly as sent."""

    method: str
    path: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _Signed:
    node: str
    key: bytes
    time_ms: int
    nonce: bytes


def _check_signature(
    me: str,
    request: PeerRequest,
    now_ms: int,
    domain: bytes,
    officer: str | None,
) -> _Signed:
    headers = request.headers
    try:
        node = _header(headers, "node", _NODE)
        key = bytes.fromhex(_header(headers, "key", _HEX))
        time_ms = int(_header(headers, "time", _DECIMAL))
        nonce = bytes.fromhex(_header(headers, "nonce", _HEX))
        to = _header(headers, "to", _NODE)
        signature = base64.b64decode(_header(headers, "signature", _BASE64), validate=True)
    except (KeyError, ValueError):
        raise AuthError("request is not signed (missing or malformed X-Ilo-* headers)") from None
    if to != me:
        raise AuthError(f"request is addressed to {to}, not to this node {me}", 421)
    if abs(time_ms - now_ms) > WINDOW_MS:
        raise AuthError(
            f"request time is {(time_ms - now_ms) // 1000} s off this node's clock", 401
        )
    if len(nonce) != 16:
        raise AuthError("request nonce must be 16 bytes")
    try:
        message = _message(
            request.method, request.path, sha256(request.body), time_ms, nonce, node, to, officer
        )
    except UsageError:
        # A method or path that is not text (lone surrogates): nobody can have signed it.
        raise AuthError("request signature does not verify") from None
    try:
        verify(key, domain, message, signature)
    except SignatureError:
        raise AuthError("request signature does not verify") from None
    return _Signed(node, key, time_ms, nonce)


def verify_request(
    trust: TrustState, me: str, request: PeerRequest, now_ms: int, nonces: NonceCache
) -> str:
    """Return the authenticated sending node, or raise :class:`AuthError`."""
    signed = _check_signature(me, request, now_ms, DOMAIN, None)
    decision = trust.decide_peer(signed.key, signed.node, now_ms)
    if not decision:
        raise AuthError(f"{signed.node} may not use this key: {decision.reason}", 403)
    if not nonces.check_and_add(signed.nonce, signed.time_ms, now_ms):
        raise AuthError("request was already received (replay)", 409)
    return signed.node


def verify_officer_request(
    trust: TrustState, me: str, request: PeerRequest, now_ms: int, nonces: NonceCache
) -> VerifiedOfficer:
    """The authenticated officer of node ``me`` a request came from, or :class:`AuthError`
    (403 for a key that may not act as that officer now: uncertified, revoked, expired)."""
    officer = request.headers.get(OFFICER_HEADER)
    if not isinstance(officer, str) or _OFFICER.fullmatch(officer) is None:
        raise AuthError(f"officer request without a valid {OFFICER_HEADER} header") from None
    signed = _check_signature(me, request, now_ms, OFFICER_DOMAIN, officer)
    if signed.node != me:
        raise AuthError(f"officers of {signed.node} work through their own node, not {me}", 403)
    decision = trust.decide_officer(signed.key, me, officer, now_ms)
    if not decision:
        raise AuthError(f"officer {officer} of {me} may not use this key: {decision.reason}", 403)
    if not nonces.check_and_add(signed.nonce, signed.time_ms, now_ms):
        raise AuthError("request was already received (replay)", 409)
    return VerifiedOfficer(me, officer, signed.key)


def _header(headers: Mapping[str, str], name: str, form: re.Pattern[str]) -> str:
    """The value of one signature header, if it has the plain form ``form``;
    ``KeyError`` if it is missing, ``ValueError`` if it has another form."""
    value = headers[HEADERS[name]]
    if not isinstance(value, str) or form.fullmatch(value) is None:
        raise ValueError(name)
    return value
