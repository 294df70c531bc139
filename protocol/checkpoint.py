"""Signed checkpoints of a node's log: C2SP signed notes, tlog-checkpoints, cosignatures.

A checkpoint is the signed statement "my log has ``size`` leaves and this root".
The text formats are those of three public C2SP specifications, so that tools
written for other transparency logs can read ours:

* ``c2sp.org/signed-note``: a UTF-8 text, a blank line, then signature lines
  ``"— " name " " base64(key hash (4 bytes) || signature) "\\n"``;
* ``c2sp.org/tlog-checkpoint``: the text is the origin, the tree size, the
  base64 root hash, then optional extension lines;
* ``c2sp.org/tlog-cosignature`` (the Ed25519 ``cosignature/v1`` type): a witness
  adds a line whose signature is ``timestamp (8 bytes, big-endian) || Ed25519``
  over ``"cosignature/v1\\n" "time " <timestamp> "\\n" || checkpoint text``.

An ilo-node checkpoint always has exactly one extension line of its own, the
first one: ``time <unix milliseconds>``, when the node signed it. Section
"Checkpoints" of ``docs/protocol.md`` specifies the profile in full; the short
version of what this module enforces beyond the C2SP texts:

* a whole note is at most :data:`MAX_NOTE_BYTES` bytes and has at most
  :data:`MAX_SIGNATURES` signature lines;
* decimals are ASCII ``0`` or ``[1-9][0-9]*`` and at most ``2**63 - 1``; base64 is
  the padded standard alphabet in its one canonical form (re-encoding the
  decoded bytes must give the same text);
* two signature lines with the same key name *and* key hash are refused, so that
  "the signature of key K" always means one line.

Everything is pure: no I/O, and the time is an argument. The module checks form
and signatures only; which keys count (the node's own key for its origin, which
witnesses, how many) is decided by the trust layer.

Signatures here do *not* go through :func:`protocol.crypto.sign`, which prepends
an ``ilo-node/v1/...`` domain: the C2SP formats fix the signed bytes (the note
text itself, or the ``cosignature/v1`` message), so pynacl is called directly.
Domain separation still holds: every message signed through
:func:`protocol.crypto.sign` contains a 00 byte (the end of its domain) and no
note text ever does; and a checkpoint text is never a ``cosignature/v1`` message
(its second line is a decimal, the message's is ``time ...``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from .errors import CheckpointError, UsageError
from .identifiers import is_network_id, is_node_id

__all__ = [
    "COSIGNATURE_HEADER",
    "COSIGNATURE_TYPE",
    "ED25519_TYPE",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "MAX_UINT63",
    "Checkpoint",
    "CheckpointError",
    "NoteSignature",
    "SignedCheckpoint",
    "combine_signatures",
    "cosign",
    "cosignature_key_hash",
    "key_hash",
    "node_of_origin",
    "origin_for",
    "sign_checkpoint",
    "split_note",
    "verify_cosignature",
    "verify_note",
    "verify_note_cosignature",
]

#: Largest signed note accepted or produced, in bytes (text and all signature lines).
MAX_NOTE_BYTES = 16 * 1024
#: Most signature lines in one note (the log's own plus cosignatures).
MAX_SIGNATURES = 100
#: Largest tree size, time or cosignature timestamp (C2SP bounds timestamps by 2**63 - 1).
MAX_UINT63 = 2**63 - 1
#: Signature type byte of plain Ed25519 note signatures (signed-note), used in key hashes.
ED25519_TYPE = 0x01
#: Signature type byte of timestamped Ed25519 cosignatures (tlog-cosignature).
COSIGNATURE_TYPE = 0x04
#: First line of every message a cosigner signs.
COSIGNATURE_HEADER = b"cosignature/v1\n"

_KEY_HASH_BYTES = 4
_ED25519_PUBLIC_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64
_TIMESTAMP_BYTES = 8
_ROOT_BYTES = 32
_EM_DASH_SPACE = "\u2014 "
_TIME_PREFIX = "time "
_MAX_DECIMAL_DIGITS = len(str(MAX_UINT63))

_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile("0|[1-9][0-9]*")


# --- small checks ----------------------------------------------------------------


def _utf8(value: str, what: str, error: type[Exception]) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        # Only lone surrogates get here: a str built by a caller, never a decoded note.
        raise error(f"{what} is not valid Unicode text") from None


def _check_text_line(value: object, what: str, error: type[Exception]) -> str:
    """A non-empty line of note text: a str without newline or control characters."""
    if type(value) is not str:
        raise error(f"{what} must be a str, got {type(value).__name__}")
    if not value:
        raise error(f"{what} is empty")
    if "\n" in value:
        raise error(f"{what} contains a newline")
    bad = _CONTROL.search(value)
    if bad is not None:
        raise error(f"{what} contains control character U+{ord(bad.group()):04X}")
    _utf8(value, what, error)
    return value


def _check_key_name(value: object, error: type[Exception]) -> str:
    """signed-note: a key name is non-empty and has no Unicode space and no '+'."""
    name = _check_text_line(value, "key name", error)
    if any(char.isspace() for char in name):
        raise error(f"key name {name[:40]!r} contains a space")
    if "+" in name:
        raise error(f"key name {name[:40]!r} contains '+'")
    return name


def _check_uint63(value: object, what: str) -> int:
    # bool is an int subclass; True as a tree size is always a caller bug.
    if type(value) is not int:
        raise UsageError(f"{what} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_UINT63:
        raise UsageError(f"{what} must be between 0 and 2**63 - 1, got {value}")
    return value


def _check_bytes(value: object, length: int, what: str) -> bytes:
    if type(value) is not bytes:
        raise UsageError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != length:
        raise UsageError(f"{what} must be {length} bytes, got {len(value)}")
    return value


def _parse_decimal(text: str, what: str) -> int:
    if len(text) > _MAX_DECIMAL_DIGITS or _DECIMAL.fullmatch(text) is None:
        raise CheckpointError(
            f"{what} {text[:24]!r} is not a decimal without leading zeros below 2**63"
        )
    value = int(text)
    if value > MAX_UINT63:
        raise CheckpointError(f"{what} {text!r} is larger than 2**63 - 1")
    return value


def _parse_base64(text: str, what: str) -> bytes:
    """Standard padded base64 in its only canonical form; anything else is refused."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not valid base64") from None
    # b64decode ignores the unused low bits of the last character; re-encoding
    # catches them, so that each value has exactly one accepted spelling.
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} is not in canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --- key hashes and raw signatures -----------------------------------------------


def _key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    name = _check_key_name(name, UsageError)
    public_key = _check_bytes(public_key, _ED25519_PUBLIC_BYTES, "Ed25519 public key")
    material = name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key
    return hashlib.sha256(material).digest()[:_KEY_HASH_BYTES]


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key hash of an Ed25519 note key (signed-note, type 01).

    ``SHA-256(name || 0A || 01 || public key)[:4]``. A short identifier, not a
    security property: a line whose hash matches is still verified with the key.
    """
    return _key_id(name, ED25519_TYPE, public_key)


def cosignature_key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key hash of an Ed25519 cosigner key (tlog-cosignature, type 04)."""
    return _key_id(name, COSIGNATURE_TYPE, public_key)


def _signing_key(seed: bytes) -> SigningKey:
    return SigningKey(_check_bytes(seed, 32, "Ed25519 signing seed"))


def _ed25519_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != _ED25519_SIGNATURE_BYTES:
        return False
    try:
        # Raw Ed25519 over the bytes the C2SP format names: no ilo-node domain
        # prefix (see the module docstring).
        VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def _cosigned_message(timestamp: int, text: bytes) -> bytes:
    return COSIGNATURE_HEADER + b"time " + str(timestamp).encode("ascii") + b"\n" + text


# --- signature lines ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: ``— <name> base64(key_hash || signature)``.

    ``signature`` is everything after the key hash: 64 bytes for an Ed25519 note
    signature, 8 + 64 for a cosignature, anything non-empty for types this
    module does not know (such lines are kept and ignored).
    """

    name: str
    key_hash: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name, UsageError)
        _check_bytes(self.key_hash, _KEY_HASH_BYTES, "key hash")
        if type(self.signature) is not bytes or not self.signature:
            raise UsageError("a note signature is non-empty bytes")

    def line(self) -> str:
        """The signature line, including its final newline."""
        return f"{_EM_DASH_SPACE}{self.name} {_b64(self.key_hash + self.signature)}\n"


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    where = f"signature line {number}"
    if not line.startswith(_EM_DASH_SPACE):
        raise CheckpointError(f"{where} does not start with an em dash and a space")
    parts = line[len(_EM_DASH_SPACE) :].split(" ")
    if len(parts) != 2:
        raise CheckpointError(f"{where} is not '— <key name> <base64 signature>'")
    name, encoded = parts
    name = _check_key_name(name, CheckpointError)
    raw = _parse_base64(encoded, f"{where}'s signature")
    if len(raw) <= _KEY_HASH_BYTES:
        raise CheckpointError(
            f"{where} has {len(raw)} bytes, too short for a key hash and a signature"
        )
    return NoteSignature(name, raw[:_KEY_HASH_BYTES], raw[_KEY_HASH_BYTES:])


# --- signed notes ------------------------------------------------------------------


def _decode_note_text(data: bytes, what: str) -> str:
    if type(data) is not bytes:
        raise UsageError(f"a {what} is decoded from bytes, not {type(data).__name__}")
    if len(data) > MAX_NOTE_BYTES:
        raise CheckpointError(
            f"{what} is {len(data)} bytes, more than the {MAX_NOTE_BYTES} accepted"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    bad = _CONTROL.search(text)
    if bad is not None:
        raise CheckpointError(
            f"{what} contains control character U+{ord(bad.group()):04X} at offset {bad.start()}"
        )
    if not text.endswith("\n"):
        raise CheckpointError(f"{what} does not end with a newline")
    return text


def split_note(note: bytes) -> tuple[bytes, tuple[NoteSignature, ...]]:
    """Split a signed note into its text and its signature lines, checking their form.

    The text is everything up to and including the newline before the note's last
    blank line; it may be any text (a checkpoint is checked by
    :meth:`Checkpoint.from_body`). Nothing is verified here.
    """
    text = _decode_note_text(note, "signed note")
    separator = text.rfind("\n\n")
    if separator < 0:
        raise CheckpointError("signed note has no blank line before its signatures")
    body, block = text[: separator + 1], text[separator + 2 :]
    if not block:
        raise CheckpointError("signed note has no signature lines after its blank line")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(
            f"signed note has {len(lines)} signature lines, more than the {MAX_SIGNATURES} accepted"
        )
    signatures = tuple(
        _parse_signature_line(line, number) for number, line in enumerate(lines, start=1)
    )
    seen: set[tuple[str, bytes]] = set()
    for signature in signatures:
        key = (signature.name, signature.key_hash)
        if key in seen:
            raise CheckpointError(
                f"signed note has two signature lines by {signature.name[:60]!r} "
                f"with key hash {signature.key_hash.hex()}"
            )
        seen.add(key)
    return body.encode("utf-8"), signatures


def _find(signatures: tuple[NoteSignature, ...], name: str, hashed: bytes) -> NoteSignature | None:
    for signature in signatures:
        if signature.name == name and signature.key_hash == hashed:
            return signature
    return None


def _verify_line(text: bytes, signature: NoteSignature, public_key: bytes) -> None:
    if not _ed25519_valid(public_key, text, signature.signature):
        raise CheckpointError(
            f"the signature by {signature.name[:60]!r} (key hash {signature.key_hash.hex()}) "
            "does not verify over the note text"
        )


def _verify_cosignature_line(text: bytes, signature: NoteSignature, public_key: bytes) -> int:
    where = f"the cosignature by {signature.name[:60]!r} (key hash {signature.key_hash.hex()})"
    raw = signature.signature
    if len(raw) != _TIMESTAMP_BYTES + _ED25519_SIGNATURE_BYTES:
        raise CheckpointError(f"{where} is {len(raw)} bytes, not a timestamp and a signature")
    timestamp = int.from_bytes(raw[:_TIMESTAMP_BYTES], "big")
    if timestamp > MAX_UINT63:
        raise CheckpointError(f"{where} has a timestamp above 2**63 - 1")
    if not _ed25519_valid(public_key, _cosigned_message(timestamp, text), raw[_TIMESTAMP_BYTES:]):
        raise CheckpointError(f"{where} does not verify over the cosigned message")
    return timestamp


def verify_note(
    text: bytes, signatures: tuple[NoteSignature, ...], name: str, public_key: bytes
) -> None:
    """Raise :class:`CheckpointError` unless a valid Ed25519 note signature by
    (``name``, ``public_key``) over ``text`` is among ``signatures``.

    Lines of other keys are ignored, including lines that share only the name or
    only the key hash with this key (signed-note).
    """
    hashed = key_hash(name, public_key)
    signature = _find(signatures, name, hashed)
    if signature is None:
        raise CheckpointError(
            f"the note has no signature by {name[:60]!r} with key hash {hashed.hex()}"
        )
    _verify_line(text, signature, public_key)


def verify_note_cosignature(
    text: bytes, signatures: tuple[NoteSignature, ...], name: str, public_key: bytes
) -> int:
    """The timestamp (seconds) of the valid ``cosignature/v1`` by (``name``,
    ``public_key``) over checkpoint ``text``; raise :class:`CheckpointError` if absent
    or invalid."""
    hashed = cosignature_key_hash(name, public_key)
    signature = _find(signatures, name, hashed)
    if signature is None:
        raise CheckpointError(
            f"the note has no cosignature by {name[:60]!r} with key hash {hashed.hex()}"
        )
    return _verify_cosignature_line(text, signature, public_key)


def _assemble(text: bytes, signatures: tuple[NoteSignature, ...]) -> bytes:
    if not signatures:
        raise UsageError("a signed note needs at least one signature")
    note = text + b"\n" + "".join(s.line() for s in signatures).encode("utf-8")
    if len(signatures) > MAX_SIGNATURES or len(note) > MAX_NOTE_BYTES:
        raise CheckpointError(
            f"the note would have {len(signatures)} signatures and {len(note)} bytes, more "
            f"than the {MAX_SIGNATURES} and {MAX_NOTE_BYTES} accepted"
        )
    return note


# --- checkpoints ------------------------------------------------------------------


def origin_for(network: str, node_id: str) -> str:
    """The origin of a node's log: ``ilo-node/<network>/<node id>``.

    ilo-node signs (and cosigns) under the node id as key name, which the origin
    names one to one.
    """
    if type(network) is not str or not is_network_id(network):
        raise UsageError(f"{str(network)[:40]!r} is not a network id")
    if type(node_id) is not str or not is_node_id(node_id):
        raise UsageError(f"{str(node_id)[:40]!r} is not a node id")
    return f"ilo-node/{network}/{node_id}"


def node_of_origin(origin: str, network: str) -> str | None:
    """The node id whose log ``origin`` names in ``network``, or ``None`` if it names
    no node's log there (the inverse of :func:`origin_for`)."""
    prefix = f"ilo-node/{network}/"
    if type(origin) is not str or not origin.startswith(prefix):
        return None
    node = origin[len(prefix) :]
    return node if is_node_id(node) else None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: ``origin``, ``size`` leaves, ``root`` hash, signed at ``time_ms``.

    ``extensions`` are further extension lines after the ``time`` line (none are
    defined yet). Constructing one with values that cannot be written raises
    :class:`~protocol.errors.UsageError`.
    """

    origin: str
    size: int
    root: bytes
    time_ms: int
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The origin only has to be a non-empty line: tlog-checkpoint recommends,
        # but does not require, no spaces and no '+' (our origins never have any).
        _check_text_line(self.origin, "checkpoint origin", UsageError)
        _check_uint63(self.size, "tree size")
        _check_bytes(self.root, _ROOT_BYTES, "root hash")
        _check_uint63(self.time_ms, "checkpoint time")
        if type(self.extensions) is not tuple:
            raise UsageError("checkpoint extensions must be a tuple of str")
        for position, line in enumerate(self.extensions):
            _check_text_line(line, f"checkpoint extension line {position}", UsageError)
            if line == "time" or line.startswith(_TIME_PREFIX):
                raise UsageError("a checkpoint has exactly one time line, written from time_ms")

    def body(self) -> bytes:
        """The checkpoint text (the note body): every line ends with a newline."""
        lines = [
            self.origin,
            str(self.size),
            _b64(self.root),
            f"{_TIME_PREFIX}{self.time_ms}",
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def from_body(cls, body: bytes) -> Checkpoint:
        """Parse a checkpoint text; raise :class:`CheckpointError` unless it is one."""
        text = _decode_note_text(body, "checkpoint")
        lines = text[:-1].split("\n")
        for number, line in enumerate(lines, start=1):
            if not line:
                raise CheckpointError(f"checkpoint line {number} is empty")
        if len(lines) < 4:
            raise CheckpointError(
                f"checkpoint has {len(lines)} lines; it needs origin, tree size, root hash and time"
            )
        origin, size_line, root_line, time_line, *extensions = lines
        size = _parse_decimal(size_line, "tree size")
        root = _parse_base64(root_line, "root hash")
        if len(root) != _ROOT_BYTES:
            raise CheckpointError(f"root hash is {len(root)} bytes, not {_ROOT_BYTES}")
        if not time_line.startswith(_TIME_PREFIX):
            raise CheckpointError("checkpoint line 4 is not 'time <unix milliseconds>'")
        time_ms = _parse_decimal(time_line[len(_TIME_PREFIX) :], "checkpoint time")
        try:
            checkpoint = cls(origin, size, root, time_ms, tuple(extensions))
        except UsageError as exc:
            raise CheckpointError(exc.message) from None
        if checkpoint.body() != body:
            # Unreachable if the checks above are complete; kept so that a parse
            # that would not round-trip can never be accepted.
            raise CheckpointError("checkpoint is not in its canonical form")
        return checkpoint


def sign_checkpoint(cp: Checkpoint, name: str, seed: bytes) -> bytes:
    """The signed note of ``cp`` with one Ed25519 signature by the key with ``seed``.

    ``name`` is the log's key name; in ilo-node it is the origin itself.
    """
    if not isinstance(cp, Checkpoint):
        raise UsageError(f"sign_checkpoint takes a Checkpoint, not {type(cp).__name__}")
    key = _signing_key(seed)
    text = cp.body()
    hashed = key_hash(name, bytes(key.verify_key))
    signature = key.sign(text).signature
    try:
        return _assemble(text, (NoteSignature(name, hashed, signature),))
    except CheckpointError as exc:
        raise UsageError(f"cannot sign this checkpoint: {exc.message}") from None


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A well-formed signed checkpoint note, as received.

    Existing means "well-formed", not "trusted": call :meth:`verify` (or
    :meth:`verified_by`, :func:`verify_cosignature`) with the keys the trust layer
    chose. ``note`` is the exact bytes; store and forward those.
    """

    checkpoint: Checkpoint
    note: bytes
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        text, signatures = split_note(self.note)
        if Checkpoint.from_body(text) != self.checkpoint or signatures != self.signatures:
            raise UsageError(
                "SignedCheckpoint fields do not match its note; use SignedCheckpoint.from_bytes"
            )

    @classmethod
    def from_bytes(cls, note: bytes) -> SignedCheckpoint:
        """Parse and check the form of a signed checkpoint; no signature is verified."""
        text, signatures = split_note(note)
        return cls(Checkpoint.from_body(text), note, signatures)

    @property
    def body(self) -> bytes:
        """The signed checkpoint text."""
        return self.checkpoint.body()

    def verify(self, name: str, public_key: bytes) -> None:
        """Raise :class:`CheckpointError` unless the note carries a valid Ed25519 note
        signature by key name ``name`` and ``public_key``."""
        verify_note(self.body, self.signatures, name, public_key)

    def verified_by(self, keys: Mapping[str, bytes]) -> set[str]:
        """The names in ``keys`` (name -> Ed25519 public key) whose note signature verifies.

        A name whose key has no line is left out. A line that matches a known key
        but does not verify makes the whole note suspect: :class:`CheckpointError`
        is raised, as signed-note recommends.
        """
        good: set[str] = set()
        for name, public_key in keys.items():
            signature = _find(self.signatures, name, key_hash(name, public_key))
            if signature is not None:
                _verify_line(self.body, signature, public_key)
                good.add(name)
        return good

    def cosigned_by(self, keys: Mapping[str, bytes]) -> dict[str, int]:
        """Cosigner name -> cosignature time (seconds) for the names in ``keys``
        (name -> Ed25519 cosigner key) that cosigned; an invalid one raises."""
        times: dict[str, int] = {}
        for name, public_key in keys.items():
            signature = _find(self.signatures, name, cosignature_key_hash(name, public_key))
            if signature is not None:
                times[name] = _verify_cosignature_line(self.body, signature, public_key)
        return times


def cosign(note: bytes, name: str, seed: bytes, time_s: int) -> bytes:
    """``note`` with one more line: the ``cosignature/v1`` of witness ``name`` at ``time_s``.

    This only signs. Before calling it the witness must have verified the log's
    signature and that the checkpoint is consistent with every earlier one it saw
    for that origin. A previous cosignature by the same key is replaced; every
    other line is kept as it was.
    """
    signed = SignedCheckpoint.from_bytes(note)
    time_s = _check_uint63(time_s, "cosignature time")
    key = _signing_key(seed)
    hashed = cosignature_key_hash(name, bytes(key.verify_key))
    text = signed.body
    signature = key.sign(_cosigned_message(time_s, text)).signature
    line = NoteSignature(name, hashed, time_s.to_bytes(_TIMESTAMP_BYTES, "big") + signature)
    kept = tuple(s for s in signed.signatures if (s.name, s.key_hash) != (name, hashed))
    return _assemble(text, (*kept, line))


def combine_signatures(notes: Sequence[bytes]) -> bytes:
    """One note carrying every signature line of ``notes``, which must all sign the same
    checkpoint text: the first note's lines in their order, then each other line not
    already there. Nothing is verified; a reader verifies each line it cares about.
    """
    if not notes:
        raise UsageError("combine_signatures needs at least one note")
    first = SignedCheckpoint.from_bytes(notes[0])
    lines = list(first.signatures)
    for note in notes[1:]:
        other = SignedCheckpoint.from_bytes(note)
        if other.body != first.body:
            raise CheckpointError("the notes to combine sign different checkpoints")
        lines.extend(s for s in other.signatures if s not in lines)
    return _assemble(first.body, tuple(lines))


def verify_cosignature(sc: SignedCheckpoint, name: str, public_key: bytes) -> int:
    """The time (seconds) of the valid cosignature by witness ``name`` with
    ``public_key`` on ``sc``; raise :class:`CheckpointError` if there is none."""
    if not isinstance(sc, SignedCheckpoint):
        raise UsageError(f"verify_cosignature takes a SignedCheckpoint, not {type(sc).__name__}")
    return verify_note_cosignature(sc.body, sc.signatures, name, public_key)
