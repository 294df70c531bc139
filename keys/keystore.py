"""Private keys in memory and their passphrase-locked form (bytes in, bytes out).

A locked key is a small UTF-8 JSON document, so that an operator who finds the file
can see what it is without any tool::

    {"format": "ilo-node-key", "version": 1, "kind": "ed25519", "label": "node fr-tun-1",
     "public": HEX, "kdf": {"alg": "argon2id13", "opslimit": 2, "memlimit": 67108864,
     "salt": HEX}, "aead": "xchacha20poly1305-ietf", "nonce": HEX, "ciphertext": HEX}

The secret is encrypted with XChaCha20-Poly1305-IETF under a key derived from the
passphrase with Argon2id (both libsodium, through pynacl). Every other field is bound
into the associated data, so none can be swapped or edited without the AEAD failing.
Fields in the file are *unauthenticated* until :func:`unlock_secret` succeeds:
:func:`key_file_info` shows them for convenience, not as a trust decision.

This module does no file access; :mod:`ilo_node.keyfiles` reads and writes the files.
Python cannot reliably wipe memory, so secrets live as ordinary ``bytes`` for as long
as the garbage collector keeps them; :class:`SecretKey` only makes it hard to leak
them by accident (repr, logs, pickling, comparisons).
"""

from __future__ import annotations

import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

import nacl.bindings as sodium
import nacl.exceptions
from nacl.pwhash import argon2id

from protocol.crypto import ed25519_public, x25519_public
from protocol.errors import UsageError

from .errors import KeyStoreError, WrongPassphraseError

__all__ = [
    "KDF_PROFILES",
    "KEY_KINDS",
    "MAX_KEY_FILE_BYTES",
    "SecretKey",
    "generate_encryption_key",
    "generate_signing_key",
    "key_file_info",
    "lock_secret",
    "unlock_secret",
]

FORMAT = "ilo-node-key"
VERSION = 1
KDF_ALG = "argon2id13"
AEAD_ALG = "xchacha20poly1305-ietf"

KEY_KINDS = ("ed25519", "x25519")
SECRET_BYTES = 32
PUBLIC_BYTES = 32
SALT_BYTES: int = argon2id.SALTBYTES
NONCE_BYTES: int = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
AEAD_KEY_BYTES: int = sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
CIPHERTEXT_BYTES = SECRET_BYTES + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES
MAX_LABEL_CHARS = 200
#: A real key file is well under 1 KiB; the cap keeps a hostile file from costing
#: more than a trivial parse.
MAX_KEY_FILE_BYTES = 64 * 1024

KDF_PROFILES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "interactive": (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
        "moderate": (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
        "sensitive": (argon2id.OPSLIMIT_SENSITIVE, argon2id.MEMLIMIT_SENSITIVE),
    }
)
# The file chooses its own KDF cost, so an attacker who hands us a key file chooses
# it too: below "interactive" would accept a brute-forceable file, above "sensitive"
# would let the file make us allocate and burn arbitrary memory and time.
KDF_OPSLIMIT_MIN, KDF_MEMLIMIT_MIN = KDF_PROFILES["interactive"]
KDF_OPSLIMIT_MAX, KDF_MEMLIMIT_MAX = KDF_PROFILES["sensitive"]

_TOP_FIELDS = frozenset(
    {"format", "version", "kind", "label", "public", "kdf", "aead", "nonce", "ciphertext"}
)
_KDF_FIELDS = frozenset({"alg", "opslimit", "memlimit", "salt"})
_LOWER_HEX = re.compile(r"[0-9a-f]*")

_CORRUPT_ADVICE = (
    "The file is damaged or is not a key file ilo-node wrote: restore it from your "
    "backup. Nothing was decrypted."
)


# -- keys in memory ---------------------------------------------------------------------


def _derive_public(kind: str, secret: bytes) -> bytes:
    if kind == "ed25519":
        return ed25519_public(secret)
    return x25519_public(secret)


class SecretKey:
    """A private key held in memory: ``kind``, its ``public`` key, and a hidden secret.

    ``ed25519`` keys sign (the secret is the 32-byte seed); ``x25519`` keys decrypt.
    There is deliberately no ``__eq__`` (a byte comparison of secrets would leak
    timing; compare ``public`` instead) and no pickling (pickles end up in caches,
    queues and crash dumps).
    """

    __slots__ = ("__secret", "kind", "public")

    kind: str
    public: bytes

    def __init__(self, kind: str, secret: bytes) -> None:
        if kind not in KEY_KINDS:
            raise UsageError(
                f"unknown key kind {kind!r}", f"A key kind is one of {', '.join(KEY_KINDS)}."
            )
        if not isinstance(secret, bytes):
            raise UsageError(f"a secret key must be bytes, not {type(secret).__name__}")
        if len(secret) != SECRET_BYTES:
            # The length is safe to show; the content never is.
            raise UsageError(f"an {kind} secret is {SECRET_BYTES} bytes, got {len(secret)}")
        self.kind = kind
        self.public = _derive_public(kind, secret)
        self.__secret = secret

    def reveal(self) -> bytes:
        """The raw secret. Every call site is a place the secret can leak: keep them few."""
        return self.__secret

    def __repr__(self) -> str:
        return f"SecretKey({self.kind}, public={self.public.hex()[:8]}…)"

    __str__ = __repr__

    def _refuse_pickle(self) -> NoReturn:
        raise TypeError("SecretKey cannot be pickled or copied: lock it with lock_secret()")

    def __reduce__(self) -> NoReturn:
        self._refuse_pickle()

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        self._refuse_pickle()

    def __getstate__(self) -> NoReturn:
        self._refuse_pickle()


def generate_signing_key() -> SecretKey:
    return SecretKey("ed25519", os.urandom(SECRET_BYTES))


def generate_encryption_key() -> SecretKey:
    return SecretKey("x25519", os.urandom(SECRET_BYTES))


# -- locking ----------------------------------------------------------------------------


def _check_label(label: object) -> str:
    """A label ends up in error messages shown on a terminal: keep it short and printable."""
    if not isinstance(label, str) or not label or len(label) > MAX_LABEL_CHARS:
        raise ValueError(f"must be a non-empty string of at most {MAX_LABEL_CHARS} characters")
    if not label.isprintable():
        raise ValueError("must not contain control characters")
    return label


def _derive_key(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    try:
        key: bytes = argon2id.kdf(AEAD_KEY_BYTES, passphrase, salt, opslimit, memlimit)
    except (MemoryError, nacl.exceptions.RuntimeError):
        # libsodium fails this way when it cannot allocate memlimit bytes.
        raise KeyStoreError(
            f"cannot derive the key: Argon2id needs {memlimit // 2**20} MiB of memory",
            "Run on a machine with more free memory, or re-lock the key with a lighter "
            "KDF profile on a machine that can open it.",
        ) from None
    return key


@dataclass(frozen=True, slots=True, kw_only=True)
class _Header:
    """Everything in a key file except nonce and ciphertext: what the AEAD binds."""

    kind: str
    label: str
    public: bytes
    opslimit: int
    memlimit: int
    salt: bytes

    def fields(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "kind": self.kind,
            "label": self.label,
            "public": self.public.hex(),
            "kdf": {
                "alg": KDF_ALG,
                "opslimit": self.opslimit,
                "memlimit": self.memlimit,
                "salt": self.salt.hex(),
            },
            "aead": AEAD_ALG,
        }

    def associated_data(self) -> bytes:
        # Rebuilt from parsed values, never taken from the file's bytes, so that any
        # JSON spelling of the same values gives the same associated data.
        return json.dumps(
            self.fields(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode()

    def aead_key(self, passphrase: bytes) -> bytes:
        return _derive_key(passphrase, self.salt, self.opslimit, self.memlimit)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Locked:
    """The parsed, still unauthenticated content of a key file."""

    header: _Header
    nonce: bytes
    ciphertext: bytes


def _seal(header: _Header, secret: bytes, passphrase: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        secret, header.associated_data(), nonce, header.aead_key(passphrase)
    )
    document = header.fields() | {"nonce": nonce.hex(), "ciphertext": ciphertext.hex()}
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def lock_secret(
    key: SecretKey, passphrase: bytes, *, label: str, profile: str = "interactive"
) -> bytes:
    """Encrypt ``key`` under ``passphrase``; ``label`` says what the key is for."""
    if not isinstance(key, SecretKey):
        raise UsageError("lock_secret() takes a SecretKey")
    try:
        _check_label(label)
    except ValueError as exc:
        raise UsageError(f"key label {exc}") from None
    if profile not in KDF_PROFILES:
        raise UsageError(
            f"unknown KDF profile {profile!r}",
            f"Use one of {', '.join(KDF_PROFILES)}.",
        )
    if not isinstance(passphrase, bytes):
        raise UsageError("the passphrase must be bytes (encode it as UTF-8)")
    if not passphrase:
        raise KeyStoreError(
            f"refusing to lock key {label!r} with an empty passphrase",
            "Choose a long passphrase (e.g. five or more random words) and pass it through "
            "the prompt, --passphrase-file or ILO_NODE_PASSPHRASE.",
        )
    opslimit, memlimit = KDF_PROFILES[profile]
    header = _Header(
        kind=key.kind,
        label=label,
        public=key.public,
        opslimit=opslimit,
        memlimit=memlimit,
        salt=os.urandom(SALT_BYTES),
    )
    return _seal(header, key.reveal(), passphrase)


# -- parsing and unlocking --------------------------------------------------------------


def _corrupt(detail: str) -> NoReturn:
    raise KeyStoreError(f"key file is corrupted: {detail}", _CORRUPT_ADVICE)


def _shown(name: str) -> str:
    """A field name taken from the file, safe to print: escaped and capped."""
    return ascii(name)[1:-1][:40]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers that keep different copies of a duplicated field would disagree on
    # what the file says; refuse the ambiguity instead of picking one.
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            _corrupt(f"field '{_shown(name)}' appears twice")
        result[name] = value
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not allowed")


def _field(obj: dict[str, Any], name: str, where: str = "") -> Any:
    if name not in obj:
        _corrupt(f"field '{where}{name}' is missing")
    return obj[name]


def _str_field(obj: dict[str, Any], name: str, where: str = "") -> str:
    value = _field(obj, name, where)
    if not isinstance(value, str):
        _corrupt(f"field '{where}{name}' must be a string")
    return value


def _int_field(obj: dict[str, Any], name: str, where: str = "") -> int:
    value = _field(obj, name, where)
    # bool is an int subclass in Python; JSON true is not a number.
    if not isinstance(value, int) or isinstance(value, bool):
        _corrupt(f"field '{where}{name}' must be an integer")
    return value


def _hex_field(obj: dict[str, Any], name: str, size: int, where: str = "") -> bytes:
    value = _field(obj, name, where)
    # bytes.fromhex alone accepts spaces and upper case; the writer never produces them.
    if not isinstance(value, str) or len(value) != 2 * size or not _LOWER_HEX.fullmatch(value):
        _corrupt(f"field '{where}{name}' must be {size} bytes as lowercase hex")
    return bytes.fromhex(value)


def _check_fields(obj: dict[str, Any], allowed: frozenset[str], where: str = "") -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        _corrupt(f"unknown field '{where}{_shown(unknown[0])}'")


def _parse(data: bytes) -> _Locked:
    if not isinstance(data, bytes | bytearray):
        raise UsageError("a key file is given as bytes")
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyStoreError(
            f"not an ilo-node key file: {len(data)} bytes is larger than any key file",
            "Check that the path names the key file 'ilo-node keys init' wrote.",
        )
    try:
        obj = json.loads(
            bytes(data).decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # json's messages carry only a position, never file content.
        detail = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not valid JSON"
        raise KeyStoreError(
            f"not an ilo-node key file ({detail})",
            "Check that the path names the key file 'ilo-node keys init' wrote; if it "
            "does, the file is damaged: restore it from your backup.",
        ) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise KeyStoreError(
            "not an ilo-node key file (field 'format' is not 'ilo-node-key')",
            "Check that the path names the key file 'ilo-node keys init' wrote.",
        )
    version = _int_field(obj, "version")
    if version != VERSION:
        raise KeyStoreError(
            f"unsupported key file version {version} (this ilo-node reads version {VERSION})",
            "Use the ilo-node release that wrote the key, or upgrade this one.",
        )
    _check_fields(obj, _TOP_FIELDS)

    kind = _str_field(obj, "kind")
    if kind not in KEY_KINDS:
        _corrupt(f"field 'kind' must be one of {', '.join(KEY_KINDS)}")
    try:
        label = _check_label(_str_field(obj, "label"))
    except ValueError as exc:
        _corrupt(f"field 'label' {exc}")
    public = _hex_field(obj, "public", PUBLIC_BYTES)

    kdf = _field(obj, "kdf")
    if not isinstance(kdf, dict):
        _corrupt("field 'kdf' must be an object")
    _check_fields(kdf, _KDF_FIELDS, "kdf.")
    if _str_field(kdf, "alg", "kdf.") != KDF_ALG:
        _corrupt(f"field 'kdf.alg' must be '{KDF_ALG}'")
    opslimit = _int_field(kdf, "opslimit", "kdf.")
    memlimit = _int_field(kdf, "memlimit", "kdf.")
    salt = _hex_field(kdf, "salt", SALT_BYTES, "kdf.")
    if not KDF_OPSLIMIT_MIN <= opslimit <= KDF_OPSLIMIT_MAX:
        raise KeyStoreError(
            f"key file {label!r} asks for KDF opslimit {opslimit}, outside the accepted "
            f"range {KDF_OPSLIMIT_MIN}..{KDF_OPSLIMIT_MAX}",
            "ilo-node only writes the 'interactive', 'moderate' and 'sensitive' profiles; "
            "a file outside them was not written by ilo-node or was altered.",
        )
    if not KDF_MEMLIMIT_MIN <= memlimit <= KDF_MEMLIMIT_MAX:
        raise KeyStoreError(
            f"key file {label!r} asks for KDF memlimit {memlimit} bytes, outside the "
            f"accepted range {KDF_MEMLIMIT_MIN}..{KDF_MEMLIMIT_MAX}",
            "ilo-node only writes the 'interactive', 'moderate' and 'sensitive' profiles; "
            "a file outside them was not written by ilo-node or was altered.",
        )

    if _str_field(obj, "aead") != AEAD_ALG:
        _corrupt(f"field 'aead' must be '{AEAD_ALG}'")
    nonce = _hex_field(obj, "nonce", NONCE_BYTES)
    ciphertext = _hex_field(obj, "ciphertext", CIPHERTEXT_BYTES)
    header = _Header(
        kind=kind, label=label, public=public, opslimit=opslimit, memlimit=memlimit, salt=salt
    )
    return _Locked(header=header, nonce=nonce, ciphertext=ciphertext)


def _profile_name(opslimit: int, memlimit: int) -> str:
    for name, params in KDF_PROFILES.items():
        if params == (opslimit, memlimit):
            return name
    return "custom"


def key_file_info(data: bytes) -> dict[str, str]:
    """What a key file says about itself, read without the passphrase.

    The values are not authenticated until :func:`unlock_secret` succeeds; use them
    to tell files apart, not to decide trust.
    """
    header = _parse(data).header
    return {
        "format": FORMAT,
        "version": str(VERSION),
        "kind": header.kind,
        "label": header.label,
        "public": header.public.hex(),
        "kdf": KDF_ALG,
        "kdf_opslimit": str(header.opslimit),
        "kdf_memlimit": str(header.memlimit),
        "kdf_profile": _profile_name(header.opslimit, header.memlimit),
        "aead": AEAD_ALG,
    }


def unlock_secret(data: bytes, passphrase: bytes) -> SecretKey:
    """Decrypt a locked key; the result is checked to derive the stored public key."""
    if not isinstance(passphrase, bytes):
        raise UsageError("the passphrase must be bytes (encode it as UTF-8)")
    locked = _parse(data)
    header = locked.header
    try:
        secret = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            locked.ciphertext, header.associated_data(), locked.nonce, header.aead_key(passphrase)
        )
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, ValueError):
        # The AEAD cannot tell a wrong passphrase from an edited file; say both.
        raise WrongPassphraseError(
            f"wrong passphrase for key file {header.label!r}, or the file was altered",
            "Check the passphrase (ILO_NODE_PASSPHRASE, --passphrase-file or the prompt). "
            "If it is certainly right, the file was changed since it was written: restore "
            "it from your backup.",
        ) from None
    key = SecretKey(header.kind, secret)
    if not hmac.compare_digest(key.public, header.public):
        # Only a faulty or malicious writer that knew the passphrase gets here.
        raise KeyStoreError(
            f"key file {header.label!r} is inconsistent: its secret does not derive the "
            "public key it records",
            "Do not use this file; restore the key from your backup and report how the "
            "file was produced.",
        )
    return key
