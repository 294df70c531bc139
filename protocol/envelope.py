"""Envelopes: the signed, encrypted, hash-chained unit that nodes exchange.

Wire form (docs/protocol.md has the byte-level specification)::

    envelope = [header, ciphertext: bin, signature: bin(64)]      canonical msgpack
    header   = [version, network, kind, author_key, author_node, author_officer,
                seq, prev, created_ms, distribution, recipients, handling,
                refers_to, key_commitment, wrapped_keys, nonce]

``author_officer`` names the officer who wrote the envelope (their certified key
is ``author_key``), or is nil for what a node writes by itself. ``refers_to`` is
nil or ``[relation, envelope id]``: a retraction, a correction, or a share of an
earlier envelope's content key with recipients that could not read it yet.

The Ed25519 signature covers ``SIGNATURE_DOMAIN`` followed by every byte of the
envelope before the signature's own encoding, taken from the bytes as received.
The AEAD's associated data is ``CONTENT_DOMAIN`` followed by the header's bytes
as received. The envelope id is SHA-256 of the whole envelope.

The order of checks is fixed: size caps while reading, canonical form, header
fields, signature; only then, and only for a recipient, key unwrapping, the key
commitment, decryption, and last of all parsing of the content.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from . import PROTOCOL_VERSION
from .canonical import decode_canonical, encode_canonical
from .crypto import (
    AEAD_KEY_BYTES,
    AEAD_NONCE_BYTES,
    AEAD_TAG_BYTES,
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    WRAPPED_KEY_BYTES,
    aead_decrypt,
    aead_encrypt,
    key_commitment,
    random_bytes,
    sha256,
    sign_with,
    signing_key,
    unwrap_key,
    verify,
    wrap_key,
)
from .errors import (
    ContentError,
    DecodeError,
    FieldError,
    KeyCommitmentError,
    LimitExceededError,
    NotARecipientError,
    ProtocolError,
    TimeError,
    UnsupportedVersionError,
    UsageError,
)
from .identifiers import EU_INSTITUTIONS, is_network_id, is_officer_name, split_node_id
from .kinds import kind_spec
from .limits import DEFAULT_LIMITS, Limits

__all__ = [
    "CONTENT_DOMAIN",
    "DISTRIBUTIONS",
    "HANDLING_CODES",
    "HANDLING_MEANINGS",
    "REFERENCES",
    "REFERENCE_KINDS",
    "SIGNATURE_DOMAIN",
    "Content",
    "Envelope",
    "Header",
    "WrappedKey",
    "seal",
]

SIGNATURE_DOMAIN = b"ilo-node/v1/envelope-signature\x00"
CONTENT_DOMAIN = b"ilo-node/v1/envelope-content\x00"

#: Handling levels: who the content is encrypted to (enforced by encryption).
DISTRIBUTIONS: tuple[str, ...] = ("local", "states", "presidency", "network")
#: Restrictions on onward use that travel with the content (docs/protocol.md).
HANDLING_CODES: tuple[str, ...] = ("H0", "H1", "H2", "H3")
#: What each handling code asks of a reader, as shown to people (docs/protocol.md).
HANDLING_MEANINGS: Mapping[str, str] = MappingProxyType(
    {
        "H0": "no restriction beyond use for the purposes of the network",
        "H1": "not to be used as evidence in judicial or administrative proceedings "
        "without the originator's consent",
        "H2": "not to be passed on beyond the recipients without the originator's consent",
        "H3": "other restrictions apply, stated in the content: read them before any onward use",
    }
)
#: How an envelope may refer to an earlier one, and the kind each relation needs
#: (``None``: any kind but those two, the target's own; checked against the target
#: by the keys layer, which holds it).
REFERENCES: Mapping[str, str | None] = {
    "retracts": "retraction",
    "corrects": None,
    "shares": "key_share",
}
#: The kinds that exist only to refer to another envelope (never published alone).
REFERENCE_KINDS = frozenset(k for k in REFERENCES.values() if k is not None)

_HEADER_FIELDS = (
    "version",
    "network",
    "kind",
    "author_key",
    "author_node",
    "author_officer",
    "seq",
    "prev",
    "created_ms",
    "distribution",
    "recipients",
    "handling",
    "refers_to",
    "key_commitment",
    "wrapped_keys",
    "nonce",
)
_MAX_U63 = (1 << 63) - 1
# A canonical bin8 of 64 bytes is 0xc4 0x40 followed by the signature.
_SIGNATURE_ENCODING_BYTES = 2 + SIGNATURE_BYTES


class WrappedKey(NamedTuple):
    """The content key sealed to one recipient key.

    A named tuple rather than a dataclass: an envelope to 40 nodes carries 40 of
    these, and decoding them is on the hot path.
    """

    recipient: str  # node id
    recipient_key: bytes  # the X25519 (pre)key it was sealed to
    sealed: bytes


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    network: str
    kind: str
    author_key: bytes
    author_node: str
    #: The officer who wrote it, or ``None`` for what the node writes by itself.
    author_officer: str | None
    seq: int
    prev: bytes | None
    created_ms: int
    distribution: str
    recipients: tuple[str, ...]
    handling: str
    #: ``(relation, target id)`` or ``None``; relations in :data:`REFERENCES`.
    refers_to: tuple[str, bytes] | None
    key_commitment: bytes
    #: (node, key, sealed) triples, as plain tuples: building 40 objects per
    #: decode showed up in profiles; :meth:`Envelope.wrapped_for` gives named ones.
    wrapped_keys: tuple[tuple[str, bytes, bytes], ...]
    nonce: bytes

    def to_wire(self) -> list[Any]:
        return [
            self.version,
            self.network,
            self.kind,
            self.author_key,
            self.author_node,
            self.author_officer,
            self.seq,
            self.prev,
            self.created_ms,
            self.distribution,
            list(self.recipients),
            self.handling,
            None if self.refers_to is None else list(self.refers_to),
            self.key_commitment,
            [list(w) for w in self.wrapped_keys],
            self.nonce,
        ]


@dataclass(frozen=True, slots=True)
class Content:
    """Decrypted, schema-validated content of an envelope."""

    kind: str
    fields: Mapping[str, Any]


def _field(name: str, message: str) -> FieldError:
    return FieldError(f"envelope header field '{name}': {message}")


def _int(value: object, name: str, minimum: int) -> int:
    # bool is an int in Python but a distinct msgpack type: refuse it.
    if type(value) is not int or not minimum <= value <= _MAX_U63:
        raise _field(name, f"expected an integer from {minimum} to 2^63-1")
    return value


def _bytes(value: object, name: str, length: int) -> bytes:
    if type(value) is not bytes or len(value) != length:
        raise _field(name, f"expected {length} bytes")
    return value


def _str(value: object, name: str) -> str:
    if type(value) is not str:
        raise _field(name, "expected a string")
    return value


def _node(value: object, name: str) -> str:
    node = _str(value, name)
    if split_node_id(node) is None:
        raise _field(name, f"{node[:40]!r} is not a node id such as 'DE@TR'")
    return node


def _parse_header(raw: object, limits: Limits) -> Header:
    if type(raw) is not list:
        raise DecodeError("envelope header is not an array")
    # The version decides the layout, so it is read before the length is checked.
    if raw and type(raw[0]) is int and raw[0] != PROTOCOL_VERSION:
        raise UnsupportedVersionError(
            f"envelope protocol version {raw[0]} is not supported (this node speaks "
            f"{PROTOCOL_VERSION})"
        )
    if len(raw) != len(_HEADER_FIELDS):
        raise DecodeError(f"envelope header has {len(raw)} fields, expected {len(_HEADER_FIELDS)}")
    (version, network, kind, author_key, author_node, author_officer, seq, prev,
     created_ms, distribution, recipients, handling, refers_to, commitment, wrapped,
     nonce) = raw  # fmt: skip
    if type(version) is not int:
        raise _field("version", "expected an integer")
    network = _str(network, "network")
    if not is_network_id(network):
        raise _field("network", "expected 1-64 characters of a-z, 0-9, '.', '-'")
    kind = _str(kind, "kind")
    kind_spec(kind)  # raises UnknownKindError
    author_key = _bytes(author_key, "author_key", PUBLIC_KEY_BYTES)
    author_node = _node(author_node, "author_node")
    if author_officer is not None:
        author_officer = _str(author_officer, "author_officer")
        if not is_officer_name(author_officer):
            raise _field("author_officer", "expected nil or an officer name such as 'k.beispiel'")
    seq = _int(seq, "seq", 1)
    if seq == 1:
        if prev is not None:
            raise _field("prev", "must be nil for the first envelope of a chain (seq 1)")
    else:
        prev = _bytes(prev, "prev", 32)
    created_ms = _int(created_ms, "created_ms", 0)
    distribution = _str(distribution, "distribution")
    if distribution not in DISTRIBUTIONS:
        raise _field("distribution", f"expected one of {', '.join(DISTRIBUTIONS)}")
    if type(recipients) is not list:
        raise _field("recipients", "expected an array")
    if not recipients:
        raise _field("recipients", "expected at least one recipient")
    if len(recipients) > limits.max_recipients:
        raise LimitExceededError(
            f"envelope has {len(recipients)} recipients, over the limit of {limits.max_recipients}"
        )
    if set(map(type, recipients)) != {str}:
        for r in recipients:
            _node(r, "recipients")  # raises, naming the bad one
    recipient_ids = tuple(recipients)
    problem = _recipients_problem(recipient_ids, author_node, distribution)
    if problem is not None:
        raise _field("recipients", problem)
    handling = _str(handling, "handling")
    if handling not in HANDLING_CODES:
        raise _field("handling", f"expected one of {', '.join(HANDLING_CODES)}")
    reference = _parse_reference(refers_to, kind, author_officer)
    commitment = _bytes(commitment, "key_commitment", 32)
    wrapped_keys = _parse_wrapped(wrapped, recipient_ids, limits)
    nonce = _bytes(nonce, "nonce", AEAD_NONCE_BYTES)
    return Header(
        version=version,
        network=network,
        kind=kind,
        author_key=author_key,
        author_node=author_node,
        author_officer=author_officer,
        seq=seq,
        prev=prev,
        created_ms=created_ms,
        distribution=distribution,
        recipients=recipient_ids,
        handling=handling,
        refers_to=reference,
        key_commitment=commitment,
        wrapped_keys=wrapped_keys,
        nonce=nonce,
    )


def _parse_reference(
    raw: object, kind: str, author_officer: str | None
) -> tuple[str, bytes] | None:
    """``refers_to``: what it says alone, and that it fits the kind. Whether the author
    may refer so to the target is decided with the target, in ``keys``."""
    if raw is None:
        if kind in REFERENCE_KINDS:
            raise _field("refers_to", f"a {kind} must name the envelope it refers to")
        return None
    if type(raw) is not list or len(raw) != 2:
        raise _field("refers_to", "expected nil or [relation, envelope id]")
    relation, target = raw
    if type(relation) is not str or relation not in REFERENCES:
        raise _field("refers_to", f"relation must be one of {', '.join(REFERENCES)}")
    target = _bytes(target, "refers_to", 32)
    needed = REFERENCES[relation]
    if needed is not None and kind != needed:
        raise _field("refers_to", f"an envelope that {relation} another must be a {needed}")
    if needed is None and kind in REFERENCE_KINDS:
        raise _field("refers_to", f"a {kind} cannot be a correction")
    if relation == "shares" and author_officer is not None:
        raise _field("refers_to", "content keys are shared by nodes, not by officers")
    return relation, target


@functools.lru_cache(maxsize=1024)
def _recipients_problem(
    recipients: tuple[str, ...], author_node: str, distribution: str
) -> str | None:
    """What is wrong with a recipient list, or ``None``.

    Cached: nodes of one local network send to the same lists over and over, and
    this is on the hot path of every ingest.
    """
    for recipient in recipients:
        if split_node_id(recipient) is None:
            return f"{recipient[:40]!r} is not a node id such as 'DE@TR'"
    if list(recipients) != sorted(set(recipients)):
        return "must be sorted and without duplicates"
    if distribution == "local":
        author = split_node_id(author_node)
        assert author is not None
        for recipient in recipients:
            party, host = split_node_id(recipient)  # type: ignore[misc]
            if host != author[1] and party not in EU_INSTITUTIONS:
                return (
                    f"{recipient} is outside the local network of {author[1]}, which "
                    "distribution 'local' does not allow"
                )
    return None


def _parse_wrapped(
    raw: object, recipients: tuple[str, ...], limits: Limits
) -> tuple[tuple[str, bytes, bytes], ...]:
    if type(raw) is not list:
        raise _field("wrapped_keys", "expected an array")
    if len(raw) > len(recipients) * limits.max_keys_per_recipient:
        # Checked before the loop so that a huge array is not walked.
        raise LimitExceededError(
            f"envelope has {len(raw)} wrapped keys, over "
            f"{limits.max_keys_per_recipient} per recipient"
        )
    # Bulk checks with C-level loops, as for recipients (see _parse_header).
    if set(map(type, raw)) - {list} or set(map(len, raw)) - {3}:
        raise _field("wrapped_keys", "each entry must be [node, key, sealed key]")
    out: tuple[tuple[str, bytes, bytes], ...] = tuple(map(tuple, raw))
    nodes, keys, sealed = zip(*out, strict=True) if out else ((), (), ())
    known = frozenset(recipients)
    if set(map(type, nodes)) - {str} or set(nodes) - known:
        for node in nodes:
            _node(node, "wrapped_keys")  # a malformed id gets its own message
    if set(map(type, keys)) - {bytes} or set(map(len, keys)) - {PUBLIC_KEY_BYTES}:
        raise _field("wrapped_keys", f"recipient keys must be {PUBLIC_KEY_BYTES} bytes")
    if set(map(type, sealed)) - {bytes} or set(map(len, sealed)) - {WRAPPED_KEY_BYTES}:
        raise _field("wrapped_keys", f"sealed keys must be {WRAPPED_KEY_BYTES} bytes")
    order = list(zip(nodes, keys, strict=True))
    if order != sorted(set(order)):
        raise _field("wrapped_keys", "must be sorted by (node, key) and without duplicates")
    per_node = Counter(nodes)
    if per_node and max(per_node.values()) > limits.max_keys_per_recipient:
        worst = max(per_node, key=per_node.__getitem__)
        raise LimitExceededError(
            f"envelope has more than {limits.max_keys_per_recipient} wrapped keys for {worst}"
        )
    covered = set(per_node)
    if covered != known:
        missing = sorted(known - covered)
        extra = sorted(covered - known)
        detail = (
            f"no key for {', '.join(missing)}"
            if missing
            else f"keys for non-recipients {', '.join(extra)}"
        )
        raise _field("wrapped_keys", f"do not match the recipient list ({detail})")
    return out


class Envelope:
    """A decoded envelope whose signature has been verified over its wire bytes.

    An ``Envelope`` only exists for bytes that are canonical, within limits,
    well-formed and correctly signed by ``header.author_key``. Whether that key
    may speak for ``header.author_node`` at ``header.created_ms`` is a trust
    decision made in ``keys/``, not here.
    """

    __slots__ = ("_raw", "ciphertext", "header", "header_bytes", "id", "signature")

    def __init__(
        self, raw: bytes, header: Header, header_bytes: bytes, ciphertext: bytes, signature: bytes
    ) -> None:
        self._raw = raw
        self.header = header
        self.header_bytes = header_bytes
        self.ciphertext = ciphertext
        self.signature = signature
        self.id = sha256(raw)

    def __repr__(self) -> str:
        h = self.header
        return (
            f"Envelope(id={self.id.hex()[:16]}…, kind={h.kind}, author={h.author_node}, "
            f"seq={h.seq}, bytes={len(self._raw)})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Envelope) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self.id)

    @classmethod
    def from_bytes(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Envelope:
        """Decode ``data`` and verify its signature; raise a ProtocolError otherwise."""
        envelope = _get_unverified_envelope(data, limits)
        verify(
            envelope.header.author_key,
            SIGNATURE_DOMAIN,
            data[: len(data) - _SIGNATURE_ENCODING_BYTES],
            envelope.signature,
        )
        return envelope

    def to_bytes(self) -> bytes:
        """The exact bytes this envelope was decoded from or sealed as."""
        return self._raw

    def check_time(self, now_ms: int, limits: Limits = DEFAULT_LIMITS) -> None:
        """Refuse an envelope dated further in the future than the allowed clock skew."""
        ahead = self.header.created_ms - now_ms
        if ahead > limits.max_future_skew_ms:
            raise TimeError(
                f"envelope {self.id.hex()[:16]}… is dated {ahead // 1000} s in the future "
                f"(allowed skew {limits.max_future_skew_ms // 1000} s)"
            )

    def wrapped_for(self, node_id: str) -> tuple[WrappedKey, ...]:
        return tuple(WrappedKey._make(w) for w in self.header.wrapped_keys if w[0] == node_id)

    def unwrap_content_key(self, node_id: str, secret_keys: Mapping[bytes, bytes]) -> bytes:
        """The content key, unwrapped with a key ``node_id`` holds and checked against
        the signed commitment.

        ``secret_keys`` maps X25519 public keys this node holds (its current and
        not-yet-deleted prekeys) to their secret keys.
        """
        candidates = [w for w in self.wrapped_for(node_id) if w.recipient_key in secret_keys]
        if not candidates:
            raise NotARecipientError(
                f"envelope {self.id.hex()[:16]}… is not encrypted to any key {node_id} holds"
            )
        failure: ProtocolError | None = None
        # During prekey rotation a node may hold two keys it was sealed to; any one
        # that unwraps to the committed key opens the one plaintext there is.
        for wrapped in candidates:
            try:
                content_key = unwrap_key(
                    secret_keys[wrapped.recipient_key], wrapped.recipient_key, wrapped.sealed
                )
                self._check_commitment(content_key, node_id)
            except ProtocolError as exc:
                failure = exc
                continue
            return content_key
        assert failure is not None
        raise failure

    def _check_commitment(self, content_key: bytes, who: str) -> None:
        if key_commitment(content_key) != self.header.key_commitment:
            raise KeyCommitmentError(
                f"envelope {self.id.hex()[:16]}…: the key given to {who} does not match the "
                "author's signed key commitment"
            )

    def open_with_key(self, content_key: bytes, limits: Limits = DEFAULT_LIMITS) -> Content:
        """Decrypt with a content key (for example one disclosed to an auditor).

        The key is checked against the signed commitment first, so a disclosed key
        can only ever open the one plaintext every recipient read.
        """
        return parse_content(self.header.kind, self.decrypt(content_key), limits)

    def decrypt(self, content_key: bytes) -> bytes:
        """The content bytes, after checking ``content_key`` against the commitment.

        Not parsed: :meth:`open_with_key` parses and validates them.
        """
        if type(content_key) is not bytes or len(content_key) != AEAD_KEY_BYTES:
            raise KeyCommitmentError("a content key is 32 bytes")
        self._check_commitment(content_key, "the holder of this key")
        return aead_decrypt(
            content_key, self.header.nonce, self.ciphertext, CONTENT_DOMAIN + self.header_bytes
        )

    def open(
        self,
        node_id: str,
        secret_keys: Mapping[bytes, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> Content:
        """Decrypt and validate the content as recipient ``node_id``."""
        return self.open_with_key(self.unwrap_content_key(node_id, secret_keys), limits)


def parse_content(kind: str, plaintext: bytes, limits: Limits = DEFAULT_LIMITS) -> Content:
    """Parse decrypted content bytes as canonical msgpack and validate its schema."""
    try:
        value = decode_canonical(plaintext, limits, limits.max_content_bytes, "content")
    except DecodeError as exc:
        raise ContentError(exc.message) from None
    return Content(kind, kind_spec(kind).validate(value, limits=limits))


def _bin_encoding_bytes(length: int) -> int:
    if length < 1 << 8:
        return 2 + length
    if length < 1 << 16:
        return 3 + length
    return 5 + length


def _get_unverified_envelope(data: bytes, limits: Limits) -> Envelope:
    """Decode without checking the signature. Only ``Envelope.from_bytes`` may call this."""
    if type(data) is not bytes:
        raise UsageError("an envelope is decoded from bytes")
    # Every element's type is checked below, field by field, so the generic walk
    # over values is not needed here.
    value = decode_canonical(
        data, limits, limits.max_envelope_bytes, "envelope", typed_by_caller=True
    )
    if type(value) is not list or len(value) != 3:
        raise DecodeError("envelope is not an array of [header, ciphertext, signature]")
    raw_header, ciphertext, signature = value
    header = _parse_header(raw_header, limits)
    if type(ciphertext) is not bytes or len(ciphertext) < AEAD_TAG_BYTES:
        raise DecodeError("envelope ciphertext is missing or shorter than its tag")
    if len(ciphertext) > limits.max_content_bytes + AEAD_TAG_BYTES:
        raise LimitExceededError(
            f"envelope ciphertext is {len(ciphertext)} bytes, over the content limit of "
            f"{limits.max_content_bytes}"
        )
    if type(signature) is not bytes or len(signature) != SIGNATURE_BYTES:
        raise DecodeError("envelope signature is not 64 bytes")
    # The input is canonical (checked above), so the header's bytes are exactly
    # what lies between the 1-byte array marker and the ciphertext's encoding.
    header_end = len(data) - _SIGNATURE_ENCODING_BYTES - _bin_encoding_bytes(len(ciphertext))
    return Envelope(data, header, data[1:header_end], ciphertext, signature)


def seal(
    *,
    signing_seed: bytes,
    network: str,
    kind: str,
    author_node: str,
    seq: int,
    prev: bytes | None,
    created_ms: int,
    distribution: str,
    recipient_keys: Mapping[str, Sequence[bytes]],
    handling: str,
    content: Mapping[str, Any],
    author_officer: str | None = None,
    refers_to: tuple[str, bytes] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    content_key: bytes | None = None,
    nonce: bytes | None = None,
    ephemeral_secrets: Sequence[bytes] | None = None,
) -> Envelope:
    """Validate, encrypt and sign content; return the envelope as it will be sent.

    ``recipient_keys`` maps each recipient node id to the X25519 (pre)keys to
    seal the content key to. ``author_officer`` is set when the signing key is an
    officer's; ``refers_to`` names an earlier envelope this one retracts, corrects
    or shares. ``content_key``, ``nonce`` and
    ``ephemeral_secrets`` exist for reproducible test vectors; leave them unset
    otherwise.
    """
    signer = signing_key(signing_seed)
    author_key = bytes(signer.verify_key)
    validated = kind_spec(kind).validate(content, limits=limits)
    plaintext = encode_canonical(validated)
    if len(plaintext) > limits.max_content_bytes:
        raise LimitExceededError(
            f"content is {len(plaintext)} bytes, over the limit of {limits.max_content_bytes}"
        )
    content_key = content_key if content_key is not None else random_bytes(AEAD_KEY_BYTES)
    nonce = nonce if nonce is not None else random_bytes(AEAD_NONCE_BYTES)
    if len(content_key) != AEAD_KEY_BYTES or len(nonce) != AEAD_NONCE_BYTES:
        raise UsageError("content key must be 32 bytes and nonce 24 bytes")
    entries = sorted((node, key) for node, keys in recipient_keys.items() for key in keys)
    if ephemeral_secrets is not None and len(ephemeral_secrets) != len(entries):
        raise UsageError("one ephemeral secret is needed per wrapped key")
    wrapped = tuple(
        WrappedKey(
            node,
            key,
            wrap_key(key, content_key, None if ephemeral_secrets is None else ephemeral_secrets[i]),
        )
        for i, (node, key) in enumerate(entries)
    )
    header = Header(
        version=PROTOCOL_VERSION,
        network=network,
        kind=kind,
        author_key=author_key,
        author_node=author_node,
        author_officer=author_officer,
        seq=seq,
        prev=prev,
        created_ms=created_ms,
        distribution=distribution,
        recipients=tuple(sorted(recipient_keys)),
        handling=handling,
        refers_to=refers_to,
        key_commitment=key_commitment(content_key),
        wrapped_keys=wrapped,
        nonce=nonce,
    )
    wire_header = header.to_wire()
    # The same checks a receiver makes, so that seal never emits what decoders refuse.
    _parse_header(wire_header, limits)
    header_bytes = encode_canonical(wire_header)
    ciphertext = aead_encrypt(content_key, nonce, plaintext, CONTENT_DOMAIN + header_bytes)
    unsigned = b"\x93" + header_bytes + encode_canonical(ciphertext)
    signature = sign_with(signer, SIGNATURE_DOMAIN, unsigned)
    raw = unsigned + encode_canonical(signature)
    if len(raw) > limits.max_envelope_bytes:
        raise LimitExceededError(
            f"envelope would be {len(raw)} bytes, over the limit of {limits.max_envelope_bytes}"
        )
    return Envelope(raw, header, header_bytes, ciphertext, signature)
