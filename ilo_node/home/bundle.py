"""Bundles: envelopes carried on removable media to and from an offline posting.

The receiving node names where it stands (``bundle heads``: its per-author
heads); the exporting node writes every envelope past those heads and every
trust document it holds into one file, signed with its node key; the receiver
verifies the bundle's signature against its roster and certificates, then feeds
the contents through the normal ingest path, where every envelope is verified
again on its own. A tampered bundle is refused whole; a bundle from an
uncertified exporter is refused whole.

File format: canonical msgpack ``[1, body, [signer_key, signature]]`` where
``body`` is the canonical msgpack map ``{network, exporter, created_ms, since,
envelopes, documents}`` and the signature is Ed25519 over
``"ilo-node/v1/bundle\\0" + body``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ilo_node.errors import BundleError
from keys.trust import KeyDecision, TrustState
from protocol.canonical import decode_canonical, encode_canonical
from protocol.crypto import sign_with, signing_key, verify
from protocol.errors import IloError, ProtocolError
from protocol.limits import Limits

__all__ = ["MAX_BUNDLE_BYTES", "Bundle", "make_bundle", "read_bundle"]

DOMAIN = b"ilo-node/v1/bundle\x00"
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
_LIMITS = Limits(
    max_envelope_bytes=MAX_BUNDLE_BYTES, max_container_len=1_000_000, max_str_bytes=4096
)



@dataclass(frozen=True)
class Bundle:
    """A bundle whose signer was found certified; its envelopes and documents are
    still verified one by one when they are ingested."""

    network: str
    exporter: str
    created_ms: int
    since: Mapping[bytes, int]
    envelopes: list[bytes]
    documents: list[bytes]


def make_bundle(
    *,
    network: str,
    exporter: str,
    seed: bytes,
    created_ms: int,
    since: Mapping[bytes, int],
    envelopes: list[bytes],
    documents: list[bytes],
) -> bytes:
    body = encode_canonical(
        {
            "network": network,
            "exporter": exporter,
            "created_ms": created_ms,
            "since": [[k, v] for k, v in sorted(since.items())],
            "envelopes": envelopes,
            "documents": documents,
        }
    )
    key = signing_key(seed)
    signature = sign_with(key, DOMAIN, body)
    return encode_canonical([1, body, [bytes(key.verify_key), signature]])


def read_bundle(data: bytes, trust: TrustState, now_ms: int) -> Bundle:
    """Decode and authenticate a bundle; raise :class:`BundleError` otherwise."""
    try:
        outer = decode_canonical(data, _LIMITS, MAX_BUNDLE_BYTES, "bundle")
        if not (isinstance(outer, list) and len(outer) == 3 and outer[0] == 1):
            raise BundleError("not an ilo-node bundle (version 1)")
        _, body, signer = outer
        if not (isinstance(body, bytes) and isinstance(signer, list) and len(signer) == 2):
            raise BundleError("bundle is malformed")
        key, signature = signer
        if not (isinstance(key, bytes) and isinstance(signature, bytes)):
            raise BundleError("bundle signature is malformed")
        verify(key, DOMAIN, body, signature)
        fields: Any = decode_canonical(body, _LIMITS, MAX_BUNDLE_BYTES, "bundle body")
    except ProtocolError as exc:
        raise BundleError(f"bundle refused: {exc.message}") from None
    try:
        network, exporter = fields["network"], fields["exporter"]
        envelopes, documents = fields["envelopes"], fields["documents"]
        created = fields["created_ms"]
        since = {bytes(k): int(v) for k, v in fields["since"]}
    except (KeyError, TypeError, ValueError):
        raise BundleError("bundle body lacks required fields") from None
    if network != trust.roster.network:
        raise BundleError(f"bundle is from network {network!r}, not {trust.roster.network!r}")
    if not all(type(e) is bytes for e in envelopes) or not all(type(d) is bytes for d in documents):
        raise BundleError("bundle envelopes and documents must be byte strings")

    def signer_decision() -> KeyDecision:
        return trust.decide(
            key=key,
            node=str(exporter),
            created_ms=int(created),
            now_ms=now_ms,
            witnessed_ms=None,
            role="node",
        )

    decision = signer_decision()
    if not decision:
        # The exporter's certificate may travel in the bundle itself: accept it only if
        # it verifies against the roster we already trust.
        for document in documents:
            try:
                trust.add_certificate(document)
            except IloError:
                continue
        decision = signer_decision()
    if not decision:
        raise BundleError(
            f"bundle is not signed by a certified key of {exporter}: {decision.reason}"
        )
    return Bundle(network, str(exporter), int(created), since, envelopes, documents)
