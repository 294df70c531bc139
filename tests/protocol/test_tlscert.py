"""Tests for protocol.tlscert: the deterministic TLS certificate of a node key.

Every node computes every peer's certificate and pins its exact bytes, so the
encoding itself is the contract: a known-answer vector pins it, and the other
tests check what the certificate says (the node, its key, the network's issuer,
the extensions) and that the decoder of certificates from TLS peers refuses
anything that is not a node certificate.
"""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.crypto import ed25519_public, sha256
from protocol.errors import DecodeError, UsageError
from protocol.tlscert import (
    MAX_CERTIFICATE_BYTES,
    certificate_key,
    certificate_pem,
    issuer_seed,
    node_certificate,
    private_key_pem,
)

NETWORK = "devnet.ilo"
NODE = "DE@TR"
SEED = sha256(b"tlscert test vector seed")
PUBLIC = ed25519_public(SEED)

# The known answer: any change to the encoding breaks handshakes between versions.
VECTOR_PUBLIC = "4ecfe1c4f23204a166bdc961d37bfc20c0a7808703875232cdf5b7178aa093c7"
VECTOR_ISSUER_SEED = "d8612be7f7701538c1fd1671a07d4c6024a866cf093a4ee339b3099380e96a5e"
VECTOR_DER = (
    "308201413081f4a003020102021062c49583f06df3e41b8d57c654c41570300506032b657030"
    "33311c301a06035504030c13696c6f2d6e6f646520544c532069737375657231133011060355"
    "040a0c0a6465766e65742e696c6f3020170d3030303130313030303030305a180f3939393931"
    "3233313233353935395a3010310e300c06035504030c054445405452302a300506032b657003"
    "21004ecfe1c4f23204a166bdc961d37bfc20c0a7808703875232cdf5b7178aa093c7a33f303d"
    "300c0603551d130101ff04023000300e0603551d0f0101ff040403020780301d0603551d2504"
    "16301406082b0601050507030106082b06010505070302300506032b6570034100b747a2dfe0"
    "25e37bcf03d4f62bf1257907200d5cef9a1dca07c9be6bc59f5af96a43f6ab3965a512175a41"
    "f3eedd99e8d92eb88bd23e18d3e2f45bb2fb28f606"
)
VECTOR_SHA256 = "4f653474125af04b4e095e7a3592e7b81e1ef540a876e759d063e71c0433e8f0"


def test_the_certificate_of_a_key_is_the_known_answer() -> None:
    assert PUBLIC.hex() == VECTOR_PUBLIC
    assert issuer_seed(NETWORK).hex() == VECTOR_ISSUER_SEED
    der = node_certificate(NETWORK, NODE, PUBLIC)
    assert der.hex() == VECTOR_DER
    assert sha256(der).hex() == VECTOR_SHA256


def test_the_certificate_names_the_node_and_holds_its_key() -> None:
    cert = x509.load_der_x509_certificate(node_certificate(NETWORK, NODE, PUBLIC))
    assert cert.version is x509.Version.v3
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == NODE
    assert cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == NETWORK
    assert certificate_key(cert.public_bytes(serialization.Encoding.DER)) == PUBLIC
    assert cert.serial_number > 0 and cert.serial_number.bit_length() <= 127
    assert cert.not_valid_before_utc == datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    assert cert.not_valid_after_utc.year == 9999
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(purposes) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_the_network_issuer_signs_it_with_its_public_derived_key() -> None:
    cert = x509.load_der_x509_certificate(node_certificate(NETWORK, NODE, PUBLIC))
    issuer = Ed25519PrivateKey.from_private_bytes(issuer_seed(NETWORK)).public_key()
    issuer.verify(cert.signature, cert.tbs_certificate_bytes)  # raises if it does not
    other = Ed25519PrivateKey.from_private_bytes(issuer_seed("other.ilo")).public_key()
    with pytest.raises(InvalidSignature):
        other.verify(cert.signature, cert.tbs_certificate_bytes)


def test_another_key_node_or_network_gives_another_certificate() -> None:
    base = node_certificate(NETWORK, NODE, PUBLIC)
    other_key = ed25519_public(sha256(b"another seed"))
    assert node_certificate(NETWORK, NODE, other_key) != base
    assert node_certificate(NETWORK, "FR@TR", PUBLIC) != base
    assert node_certificate("other.ilo", NODE, PUBLIC) != base


@settings(max_examples=25, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), node=st.sampled_from(["DE@TR", "COM@EU"]))
def test_any_key_round_trips_and_is_computed_identically(seed: bytes, node: str) -> None:
    public = ed25519_public(seed)
    der = node_certificate(NETWORK, node, public)
    assert der == node_certificate(NETWORK, node, public)
    assert certificate_key(der) == public
    assert certificate_pem(der).startswith("-----BEGIN CERTIFICATE-----")


def test_the_private_key_pem_is_the_seed_in_pkcs8() -> None:
    pem = private_key_pem(SEED)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert key.public_key().public_bytes_raw() == PUBLIC


def _ec_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NODE)])
    moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(moment)
        .not_valid_after(moment + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("der", "message"),
    [
        (b"", "malformed"),
        (b"\x30\x03\x02\x01\x01", "malformed"),
        (bytes.fromhex(VECTOR_DER)[:-10], "malformed"),
        (b"\x30" * (MAX_CERTIFICATE_BYTES + 1), "not a node certificate"),
        (_ec_certificate(), "Ed25519"),
    ],
    ids=["empty", "not a certificate", "truncated", "oversized", "an EC key"],
)
def test_a_peer_certificate_that_is_not_a_node_certificate_is_refused(
    der: bytes, message: str
) -> None:
    with pytest.raises(DecodeError, match=message):
        certificate_key(der)


def test_arguments_that_cannot_work_are_refused() -> None:
    with pytest.raises(UsageError, match="32 bytes"):
        node_certificate(NETWORK, NODE, PUBLIC[:31])
    with pytest.raises(UsageError, match="network and a node"):
        node_certificate("", NODE, PUBLIC)
    with pytest.raises(UsageError, match="32 bytes"):
        private_key_pem(SEED + b"\x00")
