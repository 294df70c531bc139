"""The primitives the protocol uses, each a thin call into libsodium (pynacl).

Nothing here is a new construction:

* signatures: Ed25519 (``crypto_sign``), always over a domain-separation prefix;
* content: XChaCha20-Poly1305-IETF (``crypto_aead_xchacha20poly1305_ietf``);
* key wrapping: libsodium sealed boxes (``crypto_box_seal``: ephemeral X25519 +
  XSalsa20-Poly1305, nonce = BLAKE2b-192(ephemeral_pk || recipient_pk));
* key commitment and ids: SHA-256.

:func:`wrap_key` takes an optional ephemeral secret only so that the test-vector
generator is reproducible; it then builds the sealed box from libsodium's own
``crypto_box`` exactly as ``crypto_box_seal`` does, and the tests check that
libsodium's ``crypto_box_seal_open`` opens it.
"""

from __future__ import annotations

import hashlib
import os

import nacl.bindings as sodium
import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from .errors import DecryptionError, SignatureError, UsageError

__all__ = [
    "AEAD_KEY_BYTES",
    "AEAD_NONCE_BYTES",
    "AEAD_TAG_BYTES",
    "COMMITMENT_DOMAIN",
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "WRAPPED_KEY_BYTES",
    "aead_decrypt",
    "aead_encrypt",
    "ed25519_public",
    "key_commitment",
    "random_bytes",
    "sha256",
    "sign",
    "sign_with",
    "signing_key",
    "unwrap_key",
    "verify",
    "wrap_key",
    "x25519_public",
]

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
AEAD_KEY_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
AEAD_NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
AEAD_TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES
#: ephemeral public key (32) + MAC (16) + content key (32)
WRAPPED_KEY_BYTES = 32 + 16 + AEAD_KEY_BYTES
COMMITMENT_DOMAIN = b"ilo-node/v1/content-key-commitment\x00"


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sign(seed: bytes, domain: bytes, message: bytes) -> bytes:
    """Ed25519 signature by the key with 32-byte ``seed`` over ``domain || message``."""
    if len(seed) != 32:
        raise UsageError("an Ed25519 signing seed is 32 bytes")
    return SigningKey(seed).sign(domain + message).signature


def signing_key(seed: bytes) -> SigningKey:
    """An Ed25519 signing key object, to sign several times without re-deriving it."""
    if type(seed) is not bytes or len(seed) != 32:
        raise UsageError("an Ed25519 signing seed is 32 bytes")
    return SigningKey(seed)


def sign_with(key: SigningKey, domain: bytes, message: bytes) -> bytes:
    return key.sign(domain + message).signature


def ed25519_public(seed: bytes) -> bytes:
    if len(seed) != 32:
        raise UsageError("an Ed25519 signing seed is 32 bytes")
    return bytes(SigningKey(seed).verify_key)


def verify(public_key: bytes, domain: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is valid over ``domain || message``."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        raise SignatureError("signature or public key has the wrong length")
    try:
        VerifyKey(public_key).verify(domain + message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        raise SignatureError(
            f"signature does not verify for key {public_key.hex()[:16]}…"
        ) from None


def key_commitment(content_key: bytes) -> bytes:
    """SHA-256 commitment to the content key, carried in the signed header.

    AEADs are not key-committing: without this, an author could wrap different
    keys for different recipients that open one ciphertext to different texts.
    """
    return sha256(COMMITMENT_DOMAIN + content_key)


def aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associated_data, nonce, key)


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, associated_data, nonce, key
        )
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, ValueError):
        raise DecryptionError("content does not decrypt with the unwrapped key") from None


def x25519_public(secret: bytes) -> bytes:
    if len(secret) != 32:
        raise UsageError("an X25519 secret key is 32 bytes")
    return sodium.crypto_scalarmult_base(secret)


def wrap_key(
    recipient_public: bytes, content_key: bytes, ephemeral_secret: bytes | None = None
) -> bytes:
    """Seal ``content_key`` to an X25519 public key (libsodium sealed box)."""
    if len(recipient_public) != PUBLIC_KEY_BYTES:
        raise UsageError("an X25519 public key is 32 bytes")
    if ephemeral_secret is None:
        return sodium.crypto_box_seal(content_key, recipient_public)
    ephemeral_public = x25519_public(ephemeral_secret)
    nonce = sodium.crypto_generichash_blake2b_salt_personal(
        ephemeral_public + recipient_public, digest_size=sodium.crypto_box_NONCEBYTES
    )
    boxed = sodium.crypto_box(content_key, nonce, recipient_public, ephemeral_secret)
    return ephemeral_public + boxed


def unwrap_key(recipient_secret: bytes, recipient_public: bytes, wrapped: bytes) -> bytes:
    try:
        key = sodium.crypto_box_seal_open(wrapped, recipient_public, recipient_secret)
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, ValueError):
        raise DecryptionError("wrapped content key does not open with this node's key") from None
    if len(key) != AEAD_KEY_BYTES:
        raise DecryptionError("wrapped content key has the wrong length")
    return key
