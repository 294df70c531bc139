"""Bundles: envelopes carried on removable media to and from an offline posting.

The receiving node names where it stands (``bundle heads``: its per-author
heads); the exporting node writes every envelope past those heads and every
trust document it holds into one file, signed with its node key; the receiver
verifies the bundle's signature and that its signer is a certified node key
before it decodes the body (:func:`read_bundle` says in which order), then feeds
the contents through the normal ingest path, where every envelope is verified
again on its own. A tampered bundle is refused whole; a bundle from an
uncertified exporter is refused whole.

File format: canonical msgpack ``[1, body, [signer_key, signature]]`` where
``body`` is the canonical msgpack map ``{network, exporter, created_ms, since,
envelopes, documents}`` and the signature is Ed25519 over
``"ilo-node/v1/bundle\\0" + body``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from ilo_node.errors import BundleError
from keys.documents import Certificate
from keys.trust import TrustState
from protocol.canonical import decode_canonical, encode_canonical
from protocol.crypto import sign_with, signing_key, verify
from protocol.errors import IloError, ProtocolError
from protocol.limits import Limits
from protocol.signed import SignedDocument

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
    """Decode and authenticate a bundle; raise :class:`BundleError` otherwise.

    In this order, so that the body (up to 512 MiB, a million items) is decoded only
    once its signer is known to be a certified node key:

    1. the outer list: version 1 (an int, not ``true``), the body as bytes, a 32-byte
       key and a 64-byte signature;
    2. the signature over the body bytes;
    3. the signer: a key holding a node certificate of the receiver's roster, never
       revoked. If the receiver holds none, the exporter's certificate may travel in
       the bundle: only the ``documents`` are read for it (they come before the
       envelopes in the canonical body), and only certificates of this key are taken;
    4. the body, every field with its exact type; then the exporter must be a node the
       key is certified for, and the certificate valid when the bundle was made.
    """
    key, body = _outer(data)
    candidates = _certified_nodes(trust, key)
    # Certificates found in the bundle are tried on a copy of the trust state, and kept
    # only if the whole bundle is accepted: a refused bundle changes nothing.
    judge, travelling = trust, []
    if not candidates:
        judge = dataclasses.replace(
            trust, certificates={k: list(v) for k, v in trust.certificates.items()}
        )
        travelling = [d for d in _documents_first(body) if _take_certificate_of(judge, key, d)]
        candidates = _certified_nodes(judge, key)
    if not candidates:
        raise BundleError(
            f"bundle is not signed by a certified key: key {key.hex()[:16]}… holds no node "
            "certificate of this network (or is revoked), and the bundle carries none"
        )
    fields = _body(body)
    network, exporter, created = fields["network"], fields["exporter"], fields["created_ms"]
    if network != trust.roster.network:
        raise BundleError(f"bundle is from network {network!r}, not {trust.roster.network!r}")
    if exporter not in candidates:
        raise BundleError(
            f"bundle is not signed by a certified key of {exporter[:64]!r}: key "
            f"{key.hex()[:16]}… is certified for {', '.join(sorted(candidates))}"
        )
    decision = judge.decide(
        key=key, node=exporter, created_ms=created, now_ms=now_ms, witnessed_ms=None, role="node"
    )
    if not decision:
        raise BundleError(
            f"bundle is not signed by a certified key of {exporter}: {decision.reason}"
        )
    for document in travelling:
        trust.add_certificate(document)
    return Bundle(
        network, exporter, created, fields["since"], fields["envelopes"], fields["documents"]
    )


#: The outer list holds one body, small maps and keys: nothing needs more.
_OUTER_LIMITS = Limits(max_envelope_bytes=MAX_BUNDLE_BYTES, max_container_len=3, max_depth=2)


def _outer(data: bytes) -> tuple[bytes, bytes]:
    """``(signer key, body)`` of a bundle whose signature verifies; the body unread."""
    try:
        outer = decode_canonical(data, _OUTER_LIMITS, MAX_BUNDLE_BYTES, "bundle")
    except ProtocolError as exc:
        raise BundleError(f"bundle refused: {exc.message}") from None
    # type() is int: True == 1, so [true, ...] passed as version 1.
    if not (isinstance(outer, list) and len(outer) == 3 and type(outer[0]) is int):
        raise BundleError("not an ilo-node bundle (version 1)")
    version, body, signer = outer
    if version != 1:
        raise BundleError(f"bundle format version {version} is not supported (only 1)")
    if type(body) is not bytes or not (isinstance(signer, list) and len(signer) == 2):
        raise BundleError("bundle is malformed")
    key, signature = signer
    if not (type(key) is bytes and len(key) == 32 and type(signature) is bytes):
        raise BundleError("bundle signature is malformed")
    try:
        verify(key, DOMAIN, body, signature)
    except ProtocolError as exc:
        raise BundleError(f"bundle refused: {exc.message}") from None
    return key, body


def _certified_nodes(trust: TrustState, key: bytes) -> set[str]:
    """The roster nodes ``key`` holds a node certificate for, unless it was ever revoked
    (with no checkpoint to date a bundle, any revocation refuses it: ``decide``)."""
    if trust.revocations.get(key):
        return set()
    roster = trust.roster.nodes
    return {
        c.node for c in trust.certificates.get(key, []) if c.role == "node" and c.node in roster
    }


def _take_certificate_of(trust: TrustState, key: bytes, document: bytes) -> bool:
    """Add ``document`` to ``trust`` if it is a certificate of ``key`` that verifies
    against the roster (True then); anything else in the bundle is left for ingest."""
    try:
        certificate = Certificate.from_document(SignedDocument.from_bytes(document, "certificate"))
    except ProtocolError:
        return False
    if certificate.key != key:
        return False
    try:
        trust.add_certificate(document)
    except IloError:
        return False
    return True


def _documents_first(body: bytes) -> list[bytes]:
    """The ``documents`` of a body, read without decoding anything after them.

    The body is canonical msgpack, so its keys come sorted: ``created_ms``,
    ``documents``, then ``envelopes`` and the rest. The unpacker reads the map header,
    skips the values before ``documents`` and stops right after it. Anything else is
    no documents: the full decode (step 4) says what is wrong with the body.
    """
    unpacker = msgpack.Unpacker(
        raw=False,
        max_buffer_size=len(body) or 1,
        max_str_len=_LIMITS.max_str_bytes,
        max_bin_len=MAX_BUNDLE_BYTES,
        max_array_len=_LIMITS.max_container_len,
        max_map_len=16,
        max_ext_len=0,
    )
    unpacker.feed(body)
    try:
        for _ in range(unpacker.read_map_header()):
            name = unpacker.unpack()
            if name != "documents":
                if not isinstance(name, str) or name > "documents":
                    return []
                unpacker.skip()
                continue
            count = unpacker.read_array_header()
            documents = [unpacker.unpack() for _ in range(count)]
            return [d for d in documents if type(d) is bytes]
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.StackError):
        return []  # msgpack's OutOfData and FormatError are among these
    return []


def _body(body: bytes) -> dict[str, Any]:
    """The body's fields, each of its exact type: ``bytes(k)`` and ``int(v)`` used to
    turn a list into bytes and ``true``, ``"7"`` or ``7.9`` into seqs."""
    try:
        fields = decode_canonical(body, _LIMITS, MAX_BUNDLE_BYTES, "bundle body")
    except ProtocolError as exc:
        raise BundleError(f"bundle refused: {exc.message}") from None
    if not isinstance(fields, dict) or not set(fields) >= _FIELDS:
        missing = sorted(_FIELDS - set(fields)) if isinstance(fields, dict) else "all"
        raise BundleError(f"bundle body lacks required fields ({missing})")
    for name in ("network", "exporter"):
        if type(fields[name]) is not str:
            raise BundleError(f"bundle field {name!r} must be text")
    created = fields["created_ms"]
    if type(created) is not int or not 0 <= created <= _MAX_INT:
        raise BundleError("bundle field 'created_ms' must be an integer from 0 to 2**63 - 1")
    for name in ("envelopes", "documents"):
        if not (isinstance(fields[name], list) and all(type(v) is bytes for v in fields[name])):
            raise BundleError("bundle envelopes and documents must be byte strings")
    since: dict[bytes, int] = {}
    pairs = fields["since"]
    if not isinstance(pairs, list):
        raise BundleError("bundle field 'since' must be a list of [author key, seq]")
    for pair in pairs:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and type(pair[0]) is bytes
            and len(pair[0]) == 32
            and type(pair[1]) is int
            and 0 <= pair[1] <= _MAX_INT
            and pair[0] not in since
        ):
            raise BundleError(
                "bundle field 'since' must hold distinct [32-byte author key, seq from 0 to "
                "2**63 - 1] pairs"
            )
        since[pair[0]] = pair[1]
    fields["since"] = since
    return fields


_FIELDS = frozenset({"network", "exporter", "created_ms", "since", "envelopes", "documents"})
_MAX_INT = 2**63 - 1
