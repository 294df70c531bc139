"""TLS 1.3 between nodes, pinned to the certified node keys (ADR 0010).

Each node's TLS certificate is the deterministic one of ``protocol/tlscert.py``
over its own signing key, so every node computes every peer's certificate from
the roster's certified keys. The trust decision stays in ``keys``:
:func:`trusted_keys` asks :meth:`TrustState.node_keys` which keys are certified
for each node and :meth:`TrustState.decide_node_statement` whether each may speak
now, and only those keys' leaves become trust anchors:

* the client side pins, for each peer, the leaves of that peer's keys, so a
  server presenting any other certificate fails the handshake;
* the server side accepts the leaves of every roster node's keys, and of the
  keys of this node's own officers (the officer API shares the listener); each
  request is then bound to its connection (the TLS key must be the request's
  ``X-Ilo-Key``, checked in :mod:`ilo_node.net.service`).

OpenSSL checks the chain (the leaf is its own anchor under
``VERIFY_X509_PARTIAL_CHAIN``); TLS 1.3's CertificateVerify proves possession
of the leaf's private key, which is the node's signing seed. That seed reaches
OpenSSL through an anonymous memory file (``memfd_create``), never the disk.

:class:`NodeTls` holds the contexts of a running node and replaces them when the
trusted keys change (a certificate or a revocation arrives, a certificate
starts or ends, the roster adds or drops a node) or when the node's own signing
key changes (a rotation, once the new key is certified): new handshakes use the
new ones.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ilo_node.errors import TransportError
from keys.trust import TrustState
from protocol.crypto import ed25519_public
from protocol.errors import ProtocolError
from protocol.tlscert import certificate_key, certificate_pem, node_certificate, private_key_pem

__all__ = [
    "TLS_VERSION",
    "NodeTls",
    "TrustedKeys",
    "client_context",
    "peer_certificate_key",
    "server_context",
    "trusted_keys",
    "unpinned_client_context",
]

TLS_VERSION = "TLSv1.3"


@dataclass(frozen=True)
class TrustedKeys:
    """The node keys that may speak for each roster node now, as the trust layer decided."""

    by_node: Mapping[str, frozenset[bytes]] = field(default_factory=dict)
    #: (``officer/node``, key) of the officers of the node these keys are for.
    officers: frozenset[tuple[str, bytes]] = frozenset()

    def of(self, node: str) -> frozenset[bytes]:
        return self.by_node.get(node, frozenset())

    def pairs(self) -> list[tuple[str, bytes]]:
        """Every (node, key), in a stable order."""
        return sorted((n, k) for n, keys in self.by_node.items() for k in keys)

    def accepted(self) -> list[tuple[str, bytes]]:
        """What the server side accepts: every node key, and the own officers' keys."""
        return self.pairs() + sorted(self.officers)


def trusted_keys(trust: TrustState, now_ms: int, me: str | None = None) -> TrustedKeys:
    """Which certified node keys of each roster node may speak at ``now_ms``, and (with
    ``me``) which keys of ``me``'s officers may act as them now. Reads the trust state:
    call it on the thread that owns the node."""
    by_node: dict[str, frozenset[bytes]] = {}
    for node in trust.roster.nodes:
        keys = frozenset(
            key
            for key in trust.node_keys(node).values()
            if trust.decide_node_statement(key, node, now_ms, now_ms)
        )
        if keys:
            by_node[node] = keys
    officers: frozenset[tuple[str, bytes]] = frozenset()
    if me is not None:
        officers = frozenset(
            (f"{officer}/{me}", key)
            for officer, key in trust.officer_keys(me)
            if trust.decide_officer(key, me, officer, now_ms)
        )
    return TrustedKeys(by_node, officers)


def _base_context(server_side: bool, network: str, node: str, seed: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    # Peers are named by their keys, not by host names: the pinned leaf is the check.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    # A pinned leaf is its own trust anchor; without this flag OpenSSL would look for
    # the issuer's certificate, which nobody has (nor needs: its key is public).
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    _load_identity(context, network, node, seed)
    return context


def _load_identity(context: ssl.SSLContext, network: str, node: str, seed: bytes) -> None:
    """Give OpenSSL this node's certificate and private key through a memory file: the
    key is never written to disk (a path is all ``load_cert_chain`` takes)."""
    certificate = node_certificate(network, node, ed25519_public(seed))
    secret = certificate_pem(certificate).encode() + private_key_pem(seed)
    fd = os.memfd_create("ilo-node-tls", os.MFD_CLOEXEC)
    try:
        view = memoryview(secret)
        while view:
            view = view[os.write(fd, view) :]
        context.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _anchors(network: str, pairs: Iterable[tuple[str, bytes]]) -> str:
    return "".join(certificate_pem(node_certificate(network, n, k)) for n, k in pairs)


def server_context(
    network: str, node: str, seed: bytes, accepted: Iterable[tuple[str, bytes]]
) -> ssl.SSLContext:
    """The server side: TLS 1.3 only, a client certificate required, and only the leaves
    of ``accepted`` (node, key) pairs trusted."""
    context = _base_context(True, network, node, seed)
    # No session tickets: every connection is a full handshake, so every connection's
    # client certificate is checked against the anchors of the moment.
    context.num_tickets = 0
    context.options |= ssl.OP_NO_TICKET
    anchors = _anchors(network, accepted)
    if anchors:
        context.load_verify_locations(cadata=anchors)
    return context


def client_context(
    network: str, node: str, seed: bytes, peer: str, keys: Iterable[bytes]
) -> ssl.SSLContext:
    """The client side for dialling ``peer``: TLS 1.3 only, and only the leaves of the
    peer's ``keys`` trusted."""
    anchors = _anchors(network, ((peer, k) for k in sorted(keys)))
    if not anchors:
        raise TransportError(
            f"no certified node key of {peer} to pin for TLS",
            "the peer's certificate has not reached this node, or every key of it is "
            "revoked or expired; see 'ilo-node status'",
        )
    context = _base_context(False, network, node, seed)
    context.load_verify_locations(cadata=anchors)
    return context


def unpinned_client_context(network: str, name: str, seed: bytes) -> ssl.SSLContext:
    """A client context that presents ``seed``'s certificate but checks none: only for an
    officer's home that holds no certified key of its node yet, to fetch the signed
    documents it then verifies against its own pinned roster (nothing else is asked
    on such a connection)."""
    context = _base_context(False, network, name, seed)
    context.verify_mode = ssl.CERT_NONE
    return context


def peer_certificate_key(ssl_object: object) -> bytes | None:
    """The Ed25519 key of the certificate the TLS peer presented, or None (no TLS, no
    certificate, or not a node certificate)."""
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    try:
        return certificate_key(der)
    except ProtocolError:
        return None


class NodeTls:
    """The TLS contexts of one running node, following the trusted keys.

    Everything here runs on the event loop; :meth:`update` is given keys computed
    on the node's worker thread by :func:`trusted_keys`.
    """

    def __init__(self, network: str, node: str, seed: bytes, keys: TrustedKeys) -> None:
        self.network = network
        self.node = node
        self._seed = seed
        self.keys = keys
        self.server = server_context(network, node, seed, keys.accepted())
        self._clients: dict[str, ssl.SSLContext] = {}

    def __repr__(self) -> str:  # never the seed
        return f"NodeTls({self.node})"

    def update(self, keys: TrustedKeys) -> bool:
        """Take new trusted keys; True if anything changed. The server context is
        replaced (keys may have gone as well as come) and so is the client context of
        each peer whose keys changed; connections already open keep theirs."""
        if keys == self.keys:
            return False
        old, self.keys = self.keys, keys
        if set(old.accepted()) != set(keys.accepted()):
            self.server = server_context(self.network, self.node, self._seed, keys.accepted())
        for peer in list(self._clients):
            if old.of(peer) != keys.of(peer):
                del self._clients[peer]
        return True

    @property
    def key(self) -> bytes:
        """The node key whose certificate this node presents now."""
        return ed25519_public(self._seed)

    def set_identity(self, seed: bytes) -> None:
        """Present the certificate of another key of this node from now on (its signing
        key changed): the server context and every client context are rebuilt, so new
        handshakes use it; connections already open keep the old one."""
        self._seed = seed
        self.server = server_context(self.network, self.node, seed, self.keys.accepted())
        self._clients.clear()

    def client(self, peer: str) -> ssl.SSLContext:
        """The context pinning ``peer``'s trusted keys (built on first use); raises
        :class:`TransportError` if it has none."""
        context = self._clients.get(peer)
        if context is None:
            context = client_context(self.network, self.node, self._seed, peer, self.keys.of(peer))
            self._clients[peer] = context
        return context
