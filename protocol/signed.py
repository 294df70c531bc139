"""Signed documents: one wire form for rosters, certificates, revocations and prekeys.

::

    document = [type: str, body: bin, signatures: [[key: bin(32), sig: bin(64)], ...]]

``body`` is the canonical msgpack map of the typed payload, carried as a byte
string so that signatures are checked over exactly the bytes received. Each
signature is Ed25519 over ``"ilo-node/v1/" + type + "\\0" + body``: the type in
the domain stops a signature on one kind of document from being replayed as
another. Signatures are sorted by key and a key signs at most once, so a
document with a given set of signers has one encoding.

This module checks form and signatures only. Whose signatures count, and how
many, is a trust decision made in ``keys/``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .canonical import decode_canonical, encode_canonical
from .crypto import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, ed25519_public, sha256, sign, verify
from .errors import DecodeError, FieldError, SignatureError, UsageError
from .limits import DEFAULT_LIMITS, Limits

__all__ = ["DOCUMENT_TYPES", "SignedDocument", "domain_for"]

#: Known document types; an unknown type is refused before anything else is read.
DOCUMENT_TYPES: frozenset[str] = frozenset(
    {"roster", "certificate", "revocation", "prekey", "withdrawal", "checkpoint-cosignature"}
)
_MAX_SIGNATURES = 64


def domain_for(doc_type: str) -> bytes:
    return b"ilo-node/v1/" + doc_type.encode() + b"\x00"


@dataclass(frozen=True, slots=True)
class SignedDocument:
    """A typed body and the signatures over it, as received or as built."""

    doc_type: str
    body: bytes
    signatures: tuple[tuple[bytes, bytes], ...]

    def __post_init__(self) -> None:
        if self.doc_type not in DOCUMENT_TYPES:
            raise DecodeError(f"unknown signed document type {self.doc_type[:40]!r}")
        keys = [k for k, _ in self.signatures]
        if any(a >= b for a, b in itertools.pairwise(keys)):
            raise FieldError(f"{self.doc_type} signatures must be sorted by key, each key once")
        for key, sig in self.signatures:
            if len(key) != PUBLIC_KEY_BYTES or len(sig) != SIGNATURE_BYTES:
                raise FieldError(f"{self.doc_type} signature entry has a wrong-length key or sig")

    # -- building -----------------------------------------------------------------

    @classmethod
    def create(cls, doc_type: str, payload: Mapping[str, Any]) -> SignedDocument:
        """An unsigned document over the canonical encoding of ``payload``."""
        return cls(doc_type, encode_canonical(dict(payload)), ())

    def signed_by(self, seed: bytes) -> SignedDocument:
        """A copy with one more signature (replacing an earlier one by the same key)."""
        key = ed25519_public(seed)
        signature = sign(seed, domain_for(self.doc_type), self.body)
        merged = {k: s for k, s in self.signatures if k != key}
        merged[key] = signature
        return SignedDocument(self.doc_type, self.body, tuple(sorted(merged.items())))

    def merged_with(self, others: Iterable[SignedDocument]) -> SignedDocument:
        """Combine signatures of documents over the same body; each must verify."""
        merged = dict(self.valid_signatures())
        for other in others:
            if other.doc_type != self.doc_type or other.body != self.body:
                raise UsageError(
                    "cannot combine signatures over different documents: the proposals differ "
                    f"(digests {self.digest.hex()[:16]}… and {other.digest.hex()[:16]}…)"
                )
            merged.update(other.valid_signatures())
        return SignedDocument(self.doc_type, self.body, tuple(sorted(merged.items())))

    # -- wire ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        return encode_canonical([self.doc_type, self.body, [[k, s] for k, s in self.signatures]])

    @classmethod
    def from_bytes(
        cls, data: bytes, expected_type: str | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> SignedDocument:
        """Decode the wire form; signatures are not checked here (see ``verify_*``)."""
        if type(data) is not bytes:
            raise UsageError("a signed document is decoded from bytes")
        value = decode_canonical(data, limits, limits.max_envelope_bytes, "signed document")
        if type(value) is not list or len(value) != 3:
            raise DecodeError("signed document is not [type, body, signatures]")
        doc_type, body, signatures = value
        if type(doc_type) is not str:
            raise FieldError("signed document type is not a string")
        if expected_type is not None and doc_type != expected_type:
            raise DecodeError(f"expected a {expected_type} document, got {doc_type[:40]!r}")
        if type(body) is not bytes:
            raise FieldError(f"{doc_type} body is not a byte string")
        if type(signatures) is not list or len(signatures) > _MAX_SIGNATURES:
            raise FieldError(f"{doc_type} signatures must be a list of at most {_MAX_SIGNATURES}")
        pairs: list[tuple[bytes, bytes]] = []
        for entry in signatures:
            if (
                type(entry) is not list
                or len(entry) != 2
                or type(entry[0]) is not bytes
                or type(entry[1]) is not bytes
            ):
                raise FieldError(f"{doc_type} signature entry is not [key, signature]")
            pairs.append((entry[0], entry[1]))
        return cls(doc_type, body, tuple(pairs))

    # -- checking -----------------------------------------------------------------

    @property
    def digest(self) -> bytes:
        """SHA-256 of the body: what administrators compare when signing a proposal."""
        return sha256(domain_for(self.doc_type) + self.body)

    def payload(self, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
        """The body decoded as a canonical map. Call only after deciding to trust it."""
        value = decode_canonical(self.body, limits, limits.max_envelope_bytes, self.doc_type)
        if type(value) is not dict:
            raise DecodeError(f"{self.doc_type} body is not a map")
        return value

    def valid_signatures(self) -> dict[bytes, bytes]:
        """Signatures that verify, by key; invalid ones are left out."""
        good: dict[bytes, bytes] = {}
        for key, sig in self.signatures:
            try:
                verify(key, domain_for(self.doc_type), self.body, sig)
            except SignatureError:
                continue
            good[key] = sig
        return good

    def signed_keys(self) -> frozenset[bytes]:
        return frozenset(self.valid_signatures())

    def verify_by(self, key: bytes) -> None:
        """Raise :class:`SignatureError` unless ``key`` signed this document."""
        for signer, sig in self.signatures:
            if signer == key:
                verify(key, domain_for(self.doc_type), self.body, sig)
                return
        raise SignatureError(f"{self.doc_type} is not signed by key {key.hex()[:16]}…")
