"""How an officer's home reaches its node: the transport seam of the officer API.

:class:`OfficerTransport` is one method, :meth:`~OfficerTransport.call`, that tests
replace with an in-memory one (``tests/support/officerkit.py``).
:class:`HttpOfficerTransport` signs every request with the officer's key
(:func:`~ilo_node.net.peerauth.sign_officer_request`) and sends it over TLS 1.3 to
the node's endpoint from the roster, presenting the officer key's certificate and
pinning the node's certified keys (as nodes pin each other, ADR 0010). Only a
home that holds no certified key of its node yet asks for the signed documents
without pinning; it verifies them against its own pinned roster.
"""

from __future__ import annotations

import http.client
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ilo_node.errors import ClientError, NodeUnreachableError
from ilo_node.net.peerauth import OfficerIdentity, sign_officer_request
from ilo_node.net.tls import client_context, unpinned_client_context
from ilo_node.net.wire import MAX_BODY_BYTES, decode_body, encode_body
from protocol.errors import ProtocolError

__all__ = ["HttpOfficerTransport", "OfficerTransport"]

_ADVICE_403 = (
    "The node does not accept this key as yours: check with your authority that your "
    "certificate was imported at the node and is not revoked or expired "
    "('ilo-node keys show' lists this home's key)."
)


#: How a node's closing of the connection under a request shows.
_CLOSED = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class OfficerTransport(ABC):
    @abstractmethod
    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, pinned: bool = True
    ) -> dict[str, Any]:
        """One request; the answer's map, or :class:`ClientError` (the node refused, with
        its reason) or :class:`NodeUnreachableError` (no answer)."""

    def close(self) -> None:
        return None


def refusal(status: int, answer: dict[str, Any]) -> ClientError:
    message = str(answer.get("error", f"HTTP {status}"))[:512]
    if status == 403:
        return ClientError(f"the node refused: {message}", _ADVICE_403)
    return ClientError(f"the node refused: {message}")


class HttpOfficerTransport(OfficerTransport):
    def __init__(
        self,
        identity: OfficerIdentity,
        network: str,
        endpoint: str,
        pins: Callable[[], frozenset[bytes]],
        clock: Callable[[], int],
        *,
        timeout_s: float = 15.0,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
            raise ClientError(
                f"the node's endpoint {endpoint!r} is not an http(s)://host:port address",
                "Set 'node_url' in HOME/officer.json, or ask the administrators to fix the roster.",
            )
        self.identity = identity
        self.network = network
        self.endpoint = endpoint
        self.tls = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self.pins = pins
        self.clock = clock
        self.timeout_s = timeout_s
        self._connections: dict[bool, http.client.HTTPConnection] = {}

    def __repr__(self) -> str:
        return f"HttpOfficerTransport({self.identity.officer} → {self.endpoint})"

    def _connection(self, pinned: bool) -> http.client.HTTPConnection:
        existing = self._connections.get(pinned)
        if existing is not None:
            return existing
        if not self.tls:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        else:
            name = f"{self.identity.officer}/{self.identity.node}"
            seed = self.identity.seed
            if pinned:
                keys = self.pins()
                context = client_context(self.network, name, seed, self.identity.node, keys)
            else:
                context = unpinned_client_context(self.network, name, seed)
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout_s, context=context
            )
        self._connections[pinned] = connection
        return connection

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, pinned: bool = True
    ) -> dict[str, Any]:
        data = encode_body(body) if body is not None else b""
        reused = pinned in self._connections
        try:
            status, payload = self._send(method, path, data, pinned)
        except _CLOSED as exc:
            self._drop(pinned)
            if not reused:
                raise self._closed(exc) from None
            # A kept-alive connection the node closed meanwhile: every route may be
            # asked twice (the node answers a second submit with "duplicate").
            try:
                status, payload = self._send(method, path, data, pinned)
            except _CLOSED as again:
                self._drop(pinned)
                raise self._closed(again) from None
        try:
            answer = decode_body(payload, "answer")
        except ProtocolError:
            raise ClientError(
                f"the node at {self.endpoint} answered HTTP {status} with an unreadable body"
            ) from None
        if status != 200:
            raise refusal(status, answer)
        return answer

    def _closed(self, exc: Exception) -> ClientError:
        """What a fresh connection closed by the node says."""
        if self.tls and isinstance(exc, http.client.RemoteDisconnected):
            # The request went out, so this side's TLS 1.3 handshake had ended; the node
            # checks the client's certificate only then, and closes the connection of
            # one it refuses before its alert gets here (ilo_node.net.connections).
            return ClientError(
                f"{self.identity.node} at {self.endpoint} closed the connection unanswered "
                "after the TLS handshake: it most likely refused this officer's certificate",
                _ADVICE_403,
            )
        return NodeUnreachableError(
            f"{self.identity.node} at {self.endpoint} closed the connection"
        )

    def _send(self, method: str, path: str, data: bytes, pinned: bool) -> tuple[int, bytes]:
        headers = sign_officer_request(self.identity, method, path, data, self.clock())
        headers["Content-Type"] = "application/msgpack"
        connection = self._connection(pinned)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read(MAX_BODY_BYTES + 1)
            return response.status, payload
        except _CLOSED:
            raise
        except ssl.SSLCertVerificationError:
            self._drop(pinned)
            raise ClientError(
                f"the node at {self.endpoint} presented a TLS certificate of none of "
                f"{self.identity.node}'s certified keys",
                "Someone may be impersonating the node; or its key changed and this home "
                "does not have the new certificate yet: import it ('ilo-node cert import').",
            ) from None
        except ssl.SSLError as exc:
            self._drop(pinned)
            if "ALERT" in str(exc.reason or ""):
                # TLS 1.3: a server that refuses the client's certificate says so with
                # an alert the client reads only after its own side of the handshake.
                raise ClientError(
                    f"{self.identity.node} refused this officer's TLS certificate ({exc.reason})",
                    _ADVICE_403,
                ) from None
            raise NodeUnreachableError(
                f"cannot reach {self.identity.node} at {self.endpoint} ({exc.reason})"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            self._drop(pinned)
            raise NodeUnreachableError(
                f"cannot reach {self.identity.node} at {self.endpoint} ({type(exc).__name__})"
            ) from None

    def _drop(self, pinned: bool) -> None:
        connection = self._connections.pop(pinned, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for pinned in list(self._connections):
            self._drop(pinned)
