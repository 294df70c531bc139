"""The TLS certificate of a node key, computed by anyone from the public key alone.

TLS between nodes is authenticated by the node signing keys the roster's
authorities certify, not by a certificate authority (ADR 0010). To fit X.509,
each node key gets one **deterministic** certificate:

* subject ``CN=<node id>``; public key: the node's Ed25519 signing key;
* issuer ``CN=ilo-node TLS issuer, O=<network>``, signed with an Ed25519 key
  derived *publicly* from the network name (:func:`issuer_seed`);
* serial number from the public key, validity from 2000-01-01 to
  9999-12-31 23:59:59 UTC (RFC 5280's "no well-defined expiration");
* BasicConstraints ``CA:FALSE``, KeyUsage ``digitalSignature``, extended key
  usage server and client authentication.

Ed25519 signatures and DER are deterministic, so :func:`node_certificate` gives
the same bytes on every node: a peer's certificate is computed from its
certified key, never sent ahead or stored. The issuer key is not a secret and
vouches for nothing; trust comes from pinning the computed leaves (the TLS
layer checks the exact certificate bytes) and from TLS 1.3's CertificateVerify,
which proves the holder has the node's private key. Validity dates in the
certificate mean nothing either: when a key may speak is the certificates' and
revocations' business (``keys/``).

Bytes in, bytes out, no I/O. The exact encoding is pinned by test vectors
(``tests/protocol/test_tlscert.py``): a change would make nodes of two
versions refuse each other's handshakes.
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .crypto import PUBLIC_KEY_BYTES, sha256
from .errors import DecodeError, UsageError

__all__ = [
    "ISSUER_DOMAIN",
    "MAX_CERTIFICATE_BYTES",
    "SERIAL_DOMAIN",
    "certificate_key",
    "certificate_pem",
    "issuer_seed",
    "node_certificate",
    "private_key_pem",
]

ISSUER_DOMAIN = b"ilo-node/v1/tls-issuer\x00"
SERIAL_DOMAIN = b"ilo-node/v1/tls-serial\x00"
#: A node certificate is about 330 bytes; anything much larger is not one of ours.
MAX_CERTIFICATE_BYTES = 4096

_NOT_BEFORE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


def issuer_seed(network: str) -> bytes:
    """The Ed25519 seed of the network's TLS issuer: public by construction."""
    return sha256(ISSUER_DOMAIN + network.encode())


def _serial(public_key: bytes) -> int:
    # 127 bits, never zero in practice: positive and well under RFC 5280's 20 octets.
    return (int.from_bytes(sha256(SERIAL_DOMAIN + public_key)[:16], "big") >> 1) or 1


def node_certificate(network: str, node: str, public_key: bytes) -> bytes:
    """The DER certificate of ``node``'s Ed25519 ``public_key`` in ``network``."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise UsageError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
    if not network or not node:
        raise UsageError("a TLS certificate needs a network and a node id")
    issuer = Ed25519PrivateKey.from_private_bytes(issuer_seed(network))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node)]))
        .issuer_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "ilo-node TLS issuer"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, network),
                ]
            )
        )
        .public_key(Ed25519PublicKey.from_public_bytes(public_key))
        .serial_number(_serial(public_key))
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    # Ed25519 takes no separate hash algorithm; its signatures are deterministic.
    return builder.sign(issuer, None).public_bytes(serialization.Encoding.DER)


def certificate_key(der: bytes) -> bytes:
    """The raw Ed25519 public key a DER certificate holds; :class:`DecodeError` for
    anything else (the bytes come from a TLS peer)."""
    if len(der) > MAX_CERTIFICATE_BYTES:
        raise DecodeError(f"TLS certificate of {len(der)} bytes is not a node certificate")
    try:
        key = x509.load_der_x509_certificate(der).public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise DecodeError("TLS certificate is malformed") from None
    if not isinstance(key, Ed25519PublicKey):
        raise DecodeError("TLS certificate does not hold an Ed25519 key")
    return key.public_bytes_raw()


def certificate_pem(der: bytes) -> str:
    """PEM text of a DER certificate (what OpenSSL's trust store loads)."""
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def private_key_pem(seed: bytes) -> bytes:
    """The Ed25519 signing seed as unencrypted PKCS #8 PEM, for OpenSSL to load. Secret:
    the caller hands it to OpenSSL without writing it to disk."""
    if len(seed) != 32:
        raise UsageError(f"an Ed25519 seed has 32 bytes, not {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
