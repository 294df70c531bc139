"""Envelopes: sealing, verifying over the received bytes, opening, and refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.crypto import sha256, x25519_public
from protocol.envelope import Envelope, seal
from protocol.errors import (
    FieldError,
    KeyCommitmentError,
    LimitExceededError,
    NotARecipientError,
    SignatureError,
    TimeError,
    UsageError,
)
from protocol.examples import example
from protocol.kinds import KINDS
from protocol.limits import Limits
from tests.support.helpers import NODES, NOW_MS, derive, make


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_round_trips_for_every_recipient(kind: str) -> None:
    envelope = make(kind=kind)
    received = Envelope.from_bytes(envelope.to_bytes())
    assert received == envelope
    assert received.to_bytes() == envelope.to_bytes()
    assert received.id == sha256(envelope.to_bytes())
    for node in ("DE@TR", "FR@TR", "COM@EU"):
        content = received.open(node, NODES[node].secrets)
        assert content.kind == kind
        assert content.fields == example(kind)


def test_relay_verifies_but_cannot_read() -> None:
    envelope = make(recipients=("DE@TR", "FR@TR"))
    relayed = Envelope.from_bytes(envelope.to_bytes())  # a relay can verify
    with pytest.raises(NotARecipientError):
        relayed.open("IT@TR", NODES["IT@TR"].secrets)
    # Claiming to be a recipient does not help without the recipient's key.
    with pytest.raises(NotARecipientError):
        relayed.open("DE@TR", NODES["IT@TR"].secrets)


def test_forty_recipients() -> None:
    hosts = ["DZ", "EG", "LY", "MA", "TN"]
    states = ["AT", "BE", "DE", "ES", "FR", "IT", "NL", "PL"]
    recipients = {f"{s}@{h}": [x25519_public(derive(f"pk {s}{h}"))] for s in states for h in hosts}
    assert len(recipients) == 40
    envelope = seal(
        signing_seed=NODES["DE@TR"].seed,
        network="test.ilo",
        kind="smuggling_network_alert",
        author_node="DE@TR",
        seq=1,
        prev=None,
        created_ms=NOW_MS,
        distribution="network",
        recipient_keys=recipients,
        handling="H2",
        content=example("smuggling_network_alert"),
    )
    received = Envelope.from_bytes(envelope.to_bytes())
    for s in states:
        for h in hosts:
            node = f"{s}@{h}"
            content = received.open(node, {recipients[node][0]: derive(f"pk {s}{h}")})
            assert content.fields == example("smuggling_network_alert")


def test_signature_covers_every_byte() -> None:
    data = make().to_bytes()
    # Flipping any single bit anywhere is refused (as a signature, form or field error).
    for position in range(0, len(data), max(1, len(data) // 300)):
        tampered = bytearray(data)
        tampered[position] ^= 0x04
        with pytest.raises(Exception) as info:
            Envelope.from_bytes(bytes(tampered))
        assert type(info.value).__module__ == "protocol.errors"


def test_header_bytes_are_the_received_bytes() -> None:
    envelope = make()
    data = envelope.to_bytes()
    assert data[1 : 1 + len(envelope.header_bytes)] == envelope.header_bytes
    assert data.endswith(b"\xc4\x40" + envelope.signature)


def test_prekey_rotation_two_keys_for_one_recipient() -> None:
    old, new = NODES["FR@TR"].prekey, x25519_public(derive("new prekey"))
    envelope = make(
        recipient_keys={"DE@TR": [NODES["DE@TR"].prekey], "FR@TR": [old, new]},
    )
    assert len(envelope.wrapped_for("FR@TR")) == 2
    content = envelope.open("FR@TR", {new: derive("new prekey")})
    assert content.fields == example("incident_alert")


def test_key_commitment_checked_before_decrypting() -> None:
    # Seal normally, then give one recipient a different content key through a
    # re-signed envelope: only the author could do this, and the recipient notices.
    from protocol.vectors.generate import build_vectors

    case = next(
        c for c in build_vectors()["invalid"]["cases"] if c["name"] == "key_commitment_mismatch"
    )
    from protocol.vectors.generate import prekey_secret

    envelope = Envelope.from_bytes(bytes.fromhex(case["hex"]))
    secret = prekey_secret("DE@TR")
    with pytest.raises(KeyCommitmentError):
        envelope.open("DE@TR", {x25519_public(secret): secret})


def test_future_dated_envelope_refused_at_time() -> None:
    envelope = make(created_ms=NOW_MS + 3_600_000)
    with pytest.raises(TimeError):
        envelope.check_time(NOW_MS)
    envelope.check_time(NOW_MS + 3_600_000 - 60_000)


def test_oversized_envelope_refused_before_parsing() -> None:
    data = make().to_bytes()
    with pytest.raises(LimitExceededError):
        Envelope.from_bytes(data, Limits(max_envelope_bytes=len(data) - 1))


def test_recipient_limit() -> None:
    with pytest.raises(LimitExceededError):
        Envelope.from_bytes(make().to_bytes(), Limits(max_recipients=2))


def test_local_distribution_cannot_leave_the_host_country() -> None:
    with pytest.raises(FieldError, match="outside the local network"):
        make(recipients=("DE@TR", "NL@MA"))
    # 'network' distribution may.
    make(recipients=("DE@TR", "NL@MA"), distribution="network")


def test_seal_refuses_bad_arguments() -> None:
    with pytest.raises(UsageError):
        make(signing_seed=b"short")
    with pytest.raises(FieldError):
        make(seq=2, prev=None)


def test_not_bytes_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        Envelope.from_bytes(bytearray(make().to_bytes()))  # type: ignore[arg-type]


def test_repr_shows_no_content() -> None:
    envelope = make()
    text = repr(envelope)
    assert "incident_alert" in text
    assert str(example("incident_alert")["title"]) not in text


def test_signed_by_another_key_refused() -> None:
    genuine = make()
    forged = make(signing_seed=NODES["FR@TR"].seed)
    # Header of one, signature of the other.
    spliced = forged.to_bytes()[:-64] + genuine.signature
    with pytest.raises(SignatureError):
        Envelope.from_bytes(spliced)


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(sorted(KINDS)),
    seq=st.integers(min_value=1, max_value=(1 << 63) - 1),
    created=st.integers(min_value=0, max_value=(1 << 63) - 1),
    handling=st.sampled_from(["H0", "H1", "H2", "H3"]),
    recipients=st.sets(st.sampled_from(["DE@TR", "FR@TR", "IT@TR", "COM@EU"]), min_size=1),
)
def test_round_trip_property(
    kind: str, seq: int, created: int, handling: str, recipients: set[str]
) -> None:
    envelope = make(
        kind=kind,
        seq=seq,
        prev=None if seq == 1 else derive("prev"),
        created_ms=created,
        handling=handling,
        recipients=tuple(sorted(recipients)),
    )
    received = Envelope.from_bytes(envelope.to_bytes())
    assert received.header == envelope.header
    node = sorted(recipients)[0]
    assert received.open(node, NODES[node].secrets).fields == example(kind)
