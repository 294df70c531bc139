"""Tests for protocol.checkpoint: C2SP signed notes, checkpoints and cosignatures.

Checked four ways: known answers pinned here (our own keys, derived from fixed
labels); vectors published by other implementations (the Go sumdb/note example
and a real cosigned checkpoint of a public log); one named case for every
rejection the format defines; and Hypothesis round trips plus a fuzz of the
decoder, from which nothing but CheckpointError may escape.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey, VerifyKey

from protocol.checkpoint import (
    COSIGNATURE_TYPE,
    ED25519_TYPE,
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    MAX_UINT63,
    Checkpoint,
    CheckpointError,
    NoteSignature,
    SignedCheckpoint,
    combine_signatures,
    cosign,
    cosignature_key_hash,
    key_hash,
    origin_for,
    sign_checkpoint,
    split_note,
    verify_cosignature,
    verify_note,
    verify_note_cosignature,
)
from protocol.errors import ProtocolError, UsageError
from protocol.merkle import leaf_hash, root_from_leaf_hashes

DASH = "\u2014 "  # em dash and space: the start of every signature line


def seed_of(label: str) -> bytes:
    return hashlib.sha256(b"ilo-node checkpoint tests: " + label.encode()).digest()


def public_of(seed: bytes) -> bytes:
    return bytes(SigningKey(seed).verify_key)


LOG_SEED = seed_of("log DE@TR")
LOG_NAME = "ilo-node/ilo-tr/DE@TR"
LOG_KEY = public_of(LOG_SEED)
WITNESS_SEED = seed_of("witness FR@TR")
WITNESS_NAME = "ilo-node/ilo-tr/FR@TR"
WITNESS_KEY = public_of(WITNESS_SEED)
OTHER_SEED = seed_of("witness NL@TR")
OTHER_NAME = "ilo-node/ilo-tr/NL@TR"
OTHER_KEY = public_of(OTHER_SEED)

ROOT = root_from_leaf_hashes([leaf_hash(b"envelope %d" % i) for i in range(5)])
CP = Checkpoint(LOG_NAME, 5, ROOT, 1_790_000_000_000)
COSIGN_TIME = 1_790_000_060

# --- known answers ------------------------------------------------------------------

KAT_LOG_PUBLIC = "13414ab744c4bad8141deb28bc0bd2e16dff5ad61435c9ab5f9fcbca60782c66"
KAT_LOG_KEY_HASH = "cc5038dc"
KAT_WITNESS_PUBLIC = "33083fae0bd1ec6779a657157eb7b3c00a2ea0774c2cf6a111617c26b1bf10e1"
KAT_WITNESS_KEY_HASH = "b86c647e"
KAT_BODY = (
    "ilo-node/ilo-tr/DE@TR\n5\niHKWzX3TfHROlJSjbpG+j1CAtjx4b9Eeq1N04DamnOo=\ntime 1790000000000\n"
)
KAT_LOG_LINE = (
    f"{DASH}ilo-node/ilo-tr/DE@TR "
    "zFA43LQ48MFUFri/oCnXq8VghGLeljRQ5SqTea4yoWxzv4p01LFXpWRqrNYefLM5hE7NGufpTc0HyfZj1uCliJ0y4w4=\n"
)
KAT_COSIGNATURE_LINE = (
    f"{DASH}ilo-node/ilo-tr/FR@TR "
    "uGxkfgAAAABqsTu8ynD9/mbd0+ZEWfHTKbVwCTtxW7tW24Lbxw8pZgAsVyvjWpbMmopRURaQwzTB8Ea/cII5OmXMJJ90"
    "wurzNaKJDg==\n"
)
KAT_NOTE = KAT_BODY + "\n" + KAT_LOG_LINE
KAT_COSIGNED_NOTE = KAT_NOTE + KAT_COSIGNATURE_LINE

NOTE = sign_checkpoint(CP, LOG_NAME, LOG_SEED)
COSIGNED = cosign(NOTE, WITNESS_NAME, WITNESS_SEED, COSIGN_TIME)


def test_known_answer_keys() -> None:
    assert LOG_KEY.hex() == KAT_LOG_PUBLIC
    assert key_hash(LOG_NAME, LOG_KEY).hex() == KAT_LOG_KEY_HASH
    assert WITNESS_KEY.hex() == KAT_WITNESS_PUBLIC
    assert cosignature_key_hash(WITNESS_NAME, WITNESS_KEY).hex() == KAT_WITNESS_KEY_HASH


def test_known_answer_key_hashes_follow_the_spec_formula() -> None:
    # Written out independently: SHA-256(name || 0A || type || public key)[:4].
    def spec(name: str, sig_type: int, key: bytes) -> bytes:
        return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + key).digest()[:4]

    assert key_hash(LOG_NAME, LOG_KEY) == spec(LOG_NAME, 0x01, LOG_KEY)
    assert cosignature_key_hash(WITNESS_NAME, WITNESS_KEY) == spec(WITNESS_NAME, 0x04, WITNESS_KEY)
    assert (ED25519_TYPE, COSIGNATURE_TYPE) == (0x01, 0x04)


def test_known_answer_body_and_notes() -> None:
    assert CP.body().decode() == KAT_BODY
    assert NOTE.decode() == KAT_NOTE
    assert COSIGNED.decode() == KAT_COSIGNED_NOTE


def test_known_answer_signatures_check_out_without_the_module() -> None:
    # The log signs the body bytes as they are; the witness signs the
    # cosignature/v1 message; both checked here with pynacl alone.
    raw = base64.b64decode(KAT_LOG_LINE.split(" ")[2])
    assert raw[:4].hex() == KAT_LOG_KEY_HASH
    VerifyKey(LOG_KEY).verify(KAT_BODY.encode(), raw[4:])

    raw = base64.b64decode(KAT_COSIGNATURE_LINE.split(" ")[2])
    assert raw[:4].hex() == KAT_WITNESS_KEY_HASH
    assert int.from_bytes(raw[4:12], "big") == COSIGN_TIME
    message = f"cosignature/v1\ntime {COSIGN_TIME}\n{KAT_BODY}".encode()
    VerifyKey(WITNESS_KEY).verify(message, raw[12:])


# --- vectors of other implementations -----------------------------------------------

# golang.org/x/mod/sumdb/note: the example note of the package documentation,
# signed by the key "PeterNeumann" (the keys are published there as test keys).
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + f"\n{DASH}PeterNeumann "
    + "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
    + "BwJnAM=\n"
)

# A checkpoint of the public log arche2025h1.staging.ct.transparency.dev with the log's
# Ed25519 note signature, its RFC 6962 signature (type 05, unknown to us) and
# cosignature/v1 lines of four public witnesses.
REAL_CHECKPOINT = "".join(
    line + "\n"
    for line in [
        "arche2025h1.staging.ct.transparency.dev",
        "1432088532",
        "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=",
        "",
        f"{DASH}arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX"
        "6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=",
        f"{DASH}arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lef"
        "whUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=",
        f"{DASH}transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/"
        "KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==",
        f"{DASH}witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO"
        "0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==",
        f"{DASH}remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVC"
        "IobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==",
        f"{DASH}witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOU"
        "vVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==",
    ]
).encode()
REAL_LOG = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
REAL_WITNESSES = [
    "transparency.dev/DEV:witness-little-garden+d8042a87+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
    "witness1.smartit.nu/witness1+a48c820f+BPSFWg9G6KPiO7QPryYO5Xq4oYJJ+kAvLKLSimDhoxMO",
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv",
]
REAL_COSIGNATURE_TIME = 1_779_573_024


def parse_vkey(vkey: str) -> tuple[str, bytes, int, bytes]:
    """A signed-note verifier key: name + key hash (hex) + base64(type || public key)."""
    name, hashed, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    return name, bytes.fromhex(hashed), raw[0], raw[1:]


def test_go_note_vector_signs_and_verifies() -> None:
    name, hashed, sig_type, public = parse_vkey(GO_VERIFIER)
    assert sig_type == ED25519_TYPE
    assert key_hash(name, public) == hashed
    text, signatures = split_note(GO_NOTE.encode())
    assert text == GO_TEXT.encode()
    verify_note(text, signatures, name, public)
    # Ed25519 is deterministic: our line for the same text and seed is Go's line.
    seed = base64.b64decode(GO_SIGNER.split("+", 4)[4])[1:]
    ours = NoteSignature(name, hashed, SigningKey(seed).sign(text).signature)
    assert signatures == (ours,)
    assert GO_NOTE.endswith(ours.line())
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(text.replace(b"cryptography", b"cryptographY"), signatures, name, public)


def test_real_cosigned_checkpoint_verifies() -> None:
    text, signatures = split_note(REAL_CHECKPOINT)
    name, hashed, sig_type, public = parse_vkey(REAL_LOG)
    assert sig_type == ED25519_TYPE
    assert key_hash(name, public) == hashed
    verify_note(text, signatures, name, public)
    for vkey in REAL_WITNESSES:
        name, hashed, sig_type, public = parse_vkey(vkey)
        assert sig_type == COSIGNATURE_TYPE
        assert cosignature_key_hash(name, public) == hashed
        assert verify_note_cosignature(text, signatures, name, public) == REAL_COSIGNATURE_TIME
        tampered = text.replace(b"1432088532", b"1432088533")
        with pytest.raises(CheckpointError, match="does not verify"):
            verify_note_cosignature(tampered, signatures, name, public)


def test_real_checkpoint_lacks_our_time_line() -> None:
    # Plain C2SP checkpoints have no time line: our profile requires one.
    with pytest.raises(CheckpointError, match="needs origin, tree size, root hash and time"):
        SignedCheckpoint.from_bytes(REAL_CHECKPOINT)


# --- round trips and verification ---------------------------------------------------


def test_round_trip() -> None:
    sc = SignedCheckpoint.from_bytes(NOTE)
    assert sc.checkpoint == CP
    assert sc.note == NOTE
    assert sc.body == CP.body()
    assert Checkpoint.from_body(CP.body()) == CP
    assert len(sc.signatures) == 1
    assert sc.signatures[0].name == LOG_NAME
    assert sc.signatures[0].key_hash == key_hash(LOG_NAME, LOG_KEY)
    sc.verify(LOG_NAME, LOG_KEY)
    assert sc.verified_by({LOG_NAME: LOG_KEY, WITNESS_NAME: WITNESS_KEY}) == {LOG_NAME}


def test_extensions_round_trip() -> None:
    cp = replace(CP, extensions=("note one", "x"))
    assert cp.body().endswith(b"time 1790000000000\nnote one\nx\n")
    sc = SignedCheckpoint.from_bytes(sign_checkpoint(cp, LOG_NAME, LOG_SEED))
    assert sc.checkpoint == cp
    sc.verify(LOG_NAME, LOG_KEY)


def test_empty_tree_and_extremes_round_trip() -> None:
    for cp in (
        replace(CP, size=0, time_ms=0),
        replace(CP, size=MAX_UINT63, time_ms=MAX_UINT63),
    ):
        assert SignedCheckpoint.from_bytes(sign_checkpoint(cp, LOG_NAME, LOG_SEED)).checkpoint == cp


def test_origin_may_contain_spaces_and_plus() -> None:
    # tlog-checkpoint only recommends against them, and tells clients not to
    # assume the recommended form; the key name is where they are forbidden.
    cp = replace(CP, origin="example log+1 ü")
    sc = SignedCheckpoint.from_bytes(sign_checkpoint(cp, "example.com/log", LOG_SEED))
    assert sc.checkpoint.origin == "example log+1 ü"
    sc.verify("example.com/log", LOG_KEY)


def test_verify_rejects_wrong_key_and_wrong_name() -> None:
    sc = SignedCheckpoint.from_bytes(NOTE)
    with pytest.raises(CheckpointError, match="no signature by"):
        sc.verify(LOG_NAME, OTHER_KEY)
    with pytest.raises(CheckpointError, match="no signature by"):
        sc.verify(OTHER_NAME, LOG_KEY)


def test_verify_rejects_a_changed_body() -> None:
    line = SignedCheckpoint.from_bytes(NOTE).signatures[0].line()
    forged = replace(CP, size=6).body() + b"\n" + line.encode()
    sc = SignedCheckpoint.from_bytes(forged)
    with pytest.raises(CheckpointError, match="does not verify"):
        sc.verify(LOG_NAME, LOG_KEY)
    with pytest.raises(CheckpointError, match="does not verify"):
        sc.verified_by({LOG_NAME: LOG_KEY})


def test_unknown_signature_lines_are_ignored() -> None:
    log_hash = key_hash(LOG_NAME, LOG_KEY)
    extra = [
        NoteSignature(OTHER_NAME, key_hash(OTHER_NAME, OTHER_KEY), b"\x01" * 64),  # unknown key
        NoteSignature(LOG_NAME, b"\x00\x00\x00\x00", b"\x02" * 64),  # same name, other hash
        NoteSignature("another.example/log", log_hash, b"\x03" * 64),  # same hash, other name
        NoteSignature("post-quantum.example", b"\xaa\xbb\xcc\xdd", b"\x04" * 3000),  # long type
        NoteSignature("x", b"\x01\x02\x03\x04", b"\x05"),  # one byte
    ]
    note = NOTE + "".join(s.line() for s in extra).encode()
    sc = SignedCheckpoint.from_bytes(note)
    assert len(sc.signatures) == 1 + len(extra)
    sc.verify(LOG_NAME, LOG_KEY)
    assert sc.verified_by({LOG_NAME: LOG_KEY, WITNESS_NAME: WITNESS_KEY}) == {LOG_NAME}
    assert sc.cosigned_by({WITNESS_NAME: WITNESS_KEY}) == {}
    # Lines before the log's own line are ignored just as well.
    text, signatures = split_note(note)
    reordered = text + b"\n" + "".join(s.line() for s in reversed(signatures)).encode()
    SignedCheckpoint.from_bytes(reordered).verify(LOG_NAME, LOG_KEY)


def test_a_bad_line_of_a_known_key_rejects_the_note() -> None:
    # signed-note: a signature of a known key that fails should reject the note.
    bad = NoteSignature(OTHER_NAME, key_hash(OTHER_NAME, OTHER_KEY), b"\x01" * 64)
    sc = SignedCheckpoint.from_bytes(NOTE + bad.line().encode())
    with pytest.raises(CheckpointError, match="does not verify"):
        sc.verified_by({LOG_NAME: LOG_KEY, OTHER_NAME: OTHER_KEY})
    with pytest.raises(CheckpointError, match="does not verify"):
        sc.verify(OTHER_NAME, OTHER_KEY)
    assert sc.verified_by({LOG_NAME: LOG_KEY}) == {LOG_NAME}


# --- cosignatures -------------------------------------------------------------------


def test_cosigned_note_verifies_for_log_and_cosigner() -> None:
    assert COSIGNED.startswith(NOTE)
    sc = SignedCheckpoint.from_bytes(COSIGNED)
    assert sc.checkpoint == CP
    sc.verify(LOG_NAME, LOG_KEY)
    assert verify_cosignature(sc, WITNESS_NAME, WITNESS_KEY) == COSIGN_TIME
    assert sc.cosigned_by({WITNESS_NAME: WITNESS_KEY, OTHER_NAME: OTHER_KEY}) == {
        WITNESS_NAME: COSIGN_TIME
    }
    # The cosignature is not a note signature of the witness key.
    assert sc.verified_by({LOG_NAME: LOG_KEY, WITNESS_NAME: WITNESS_KEY}) == {LOG_NAME}


def test_several_cosigners_and_recosigning() -> None:
    both = cosign(COSIGNED, OTHER_NAME, OTHER_SEED, COSIGN_TIME + 5)
    sc = SignedCheckpoint.from_bytes(both)
    sc.verify(LOG_NAME, LOG_KEY)
    assert sc.cosigned_by({WITNESS_NAME: WITNESS_KEY, OTHER_NAME: OTHER_KEY}) == {
        WITNESS_NAME: COSIGN_TIME,
        OTHER_NAME: COSIGN_TIME + 5,
    }
    # The same witness cosigning again replaces its line and keeps the others.
    again = SignedCheckpoint.from_bytes(cosign(both, WITNESS_NAME, WITNESS_SEED, COSIGN_TIME + 9))
    assert [s.name for s in again.signatures] == [LOG_NAME, OTHER_NAME, WITNESS_NAME]
    assert verify_cosignature(again, WITNESS_NAME, WITNESS_KEY) == COSIGN_TIME + 9
    assert verify_cosignature(again, OTHER_NAME, OTHER_KEY) == COSIGN_TIME + 5


def test_cosignatures_made_apart_combine_on_one_note() -> None:
    """Witnesses cosign the log's note each on their own; one note carries them all,
    the log's line first, each line once."""
    other = cosign(NOTE, OTHER_NAME, OTHER_SEED, COSIGN_TIME + 5)
    combined = combine_signatures([NOTE, COSIGNED, other, COSIGNED])
    sc = SignedCheckpoint.from_bytes(combined)
    assert [s.name for s in sc.signatures] == [LOG_NAME, WITNESS_NAME, OTHER_NAME]
    sc.verify(LOG_NAME, LOG_KEY)
    assert sc.cosigned_by({WITNESS_NAME: WITNESS_KEY, OTHER_NAME: OTHER_KEY}) == {
        WITNESS_NAME: COSIGN_TIME,
        OTHER_NAME: COSIGN_TIME + 5,
    }
    assert combine_signatures([COSIGNED]) == COSIGNED


def test_notes_of_different_checkpoints_do_not_combine() -> None:
    later = sign_checkpoint(replace(CP, size=6), LOG_NAME, LOG_SEED)
    with pytest.raises(CheckpointError, match="sign different checkpoints"):
        combine_signatures([NOTE, later])
    with pytest.raises(UsageError):
        combine_signatures([])


def test_cosignature_time_is_signed() -> None:
    sc = SignedCheckpoint.from_bytes(COSIGNED)
    line = sc.signatures[1]
    shifted = (COSIGN_TIME + 1).to_bytes(8, "big") + line.signature[8:]
    forged = NOTE + replace(line, signature=shifted).line().encode()
    with pytest.raises(CheckpointError, match="does not verify over the cosigned message"):
        verify_cosignature(SignedCheckpoint.from_bytes(forged), WITNESS_NAME, WITNESS_KEY)


def test_cosignature_timestamp_above_2_63_is_rejected() -> None:
    sc = SignedCheckpoint.from_bytes(COSIGNED)
    line = sc.signatures[1]
    huge = (2**63).to_bytes(8, "big") + line.signature[8:]
    forged = NOTE + replace(line, signature=huge).line().encode()
    with pytest.raises(CheckpointError, match="timestamp above"):
        verify_cosignature(SignedCheckpoint.from_bytes(forged), WITNESS_NAME, WITNESS_KEY)


def test_cosignature_on_another_checkpoint_does_not_verify() -> None:
    line = SignedCheckpoint.from_bytes(COSIGNED).signatures[1]
    other = sign_checkpoint(replace(CP, size=6), LOG_NAME, LOG_SEED)
    sc = SignedCheckpoint.from_bytes(other + line.line().encode())
    sc.verify(LOG_NAME, LOG_KEY)
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_cosignature(sc, WITNESS_NAME, WITNESS_KEY)


def test_missing_cosignature() -> None:
    with pytest.raises(CheckpointError, match="no cosignature by"):
        verify_cosignature(SignedCheckpoint.from_bytes(NOTE), WITNESS_NAME, WITNESS_KEY)


def test_a_bad_cosignature_of_a_known_witness_rejects_the_note() -> None:
    line = SignedCheckpoint.from_bytes(COSIGNED).signatures[1]
    broken = line.signature[:-1] + bytes([line.signature[-1] ^ 1])
    sc = SignedCheckpoint.from_bytes(NOTE + replace(line, signature=broken).line().encode())
    sc.verify(LOG_NAME, LOG_KEY)
    with pytest.raises(CheckpointError, match="does not verify"):
        sc.cosigned_by({WITNESS_NAME: WITNESS_KEY})
    assert sc.cosigned_by({OTHER_NAME: OTHER_KEY}) == {}


def test_cosignature_cannot_pass_as_the_log_signature() -> None:
    # One key in both roles (a node is a log and a witness): its cosignature on
    # a checkpoint must never count as that node's own checkpoint signature.
    only_cosigned = cosign(NOTE, LOG_NAME, LOG_SEED, COSIGN_TIME)
    sc = SignedCheckpoint.from_bytes(only_cosigned)
    assert verify_cosignature(sc, LOG_NAME, LOG_KEY) == COSIGN_TIME
    stripped = CP.body() + b"\n" + sc.signatures[1].line().encode()
    cos_only = SignedCheckpoint.from_bytes(stripped)
    with pytest.raises(CheckpointError, match="no signature by"):
        cos_only.verify(LOG_NAME, LOG_KEY)
    assert cos_only.verified_by({LOG_NAME: LOG_KEY}) == set()
    # Relabelled with the note key hash, with or without its timestamp: no.
    cosignature = sc.signatures[1]
    for raw in (cosignature.signature, cosignature.signature[8:]):
        relabelled = NoteSignature(LOG_NAME, key_hash(LOG_NAME, LOG_KEY), raw)
        forged = SignedCheckpoint.from_bytes(CP.body() + b"\n" + relabelled.line().encode())
        with pytest.raises(CheckpointError, match="does not verify"):
            forged.verify(LOG_NAME, LOG_KEY)


def test_log_signature_cannot_pass_as_a_cosignature() -> None:
    log_line = SignedCheckpoint.from_bytes(NOTE).signatures[0]
    cos_hash = cosignature_key_hash(LOG_NAME, LOG_KEY)
    candidates = [
        log_line.signature,  # 64 bytes: no timestamp at all
        (0).to_bytes(8, "big") + log_line.signature,
        CP.time_ms.to_bytes(8, "big") + log_line.signature,
        (CP.time_ms // 1000).to_bytes(8, "big") + log_line.signature,
    ]
    for raw in candidates:
        relabelled = NoteSignature(LOG_NAME, cos_hash, raw)
        sc = SignedCheckpoint.from_bytes(NOTE + relabelled.line().encode())
        sc.verify(LOG_NAME, LOG_KEY)
        with pytest.raises(CheckpointError, match="cosignature by"):
            verify_cosignature(sc, LOG_NAME, LOG_KEY)


def test_cosign_refuses_a_malformed_note() -> None:
    with pytest.raises(CheckpointError):
        cosign(NOTE.replace(b"\n\n", b"\n"), WITNESS_NAME, WITNESS_SEED, COSIGN_TIME)


def test_cosign_refuses_a_full_note() -> None:
    lines = [
        NoteSignature(f"w{i}", b"\x00\x00\x00\x01", b"\x00" * 64).line()
        for i in range(MAX_SIGNATURES - 1)
    ]
    full = NOTE + "".join(lines).encode()
    assert len(SignedCheckpoint.from_bytes(full).signatures) == MAX_SIGNATURES
    with pytest.raises(CheckpointError, match="more than"):
        cosign(full, WITNESS_NAME, WITNESS_SEED, COSIGN_TIME)


# --- rejections of the decoder ------------------------------------------------------

BODY = KAT_BODY
LOG_LINE = KAT_LOG_LINE
GOOD_SIG = LOG_LINE.split(" ")[2].rstrip("\n")
ROOT_B64 = base64.b64encode(ROOT).decode()


def note_text(body: str = BODY, lines: str = LOG_LINE) -> bytes:
    return (body + "\n" + lines).encode()


def body_with(*, origin: str = LOG_NAME, size: str = "5", root: str = ROOT_B64, time: str) -> str:
    return f"{origin}\n{size}\n{root}\n{time}\n"


def size_body(size: str) -> bytes:
    return note_text(body_with(size=size, time="time 1790000000000"))


def root_body(root: str) -> bytes:
    return note_text(body_with(root=root, time="time 1790000000000"))


def time_body(time: str) -> bytes:
    return note_text(body_with(time=time))


def sig_line(rest: str) -> bytes:
    return note_text(lines=rest + "\n")


_31 = base64.b64encode(bytes(31)).decode()
_33 = base64.b64encode(bytes(33)).decode()
_NON_CANONICAL_ROOT = ROOT_B64[:42] + chr(ord(ROOT_B64[42]) + 1) + "="  # unused bits set

REJECTED: dict[str, tuple[bytes, str]] = {
    # size and encoding of the whole note
    "over_size_limit": (
        note_text(BODY + "x" * MAX_NOTE_BYTES + "\n"),
        "more than the 16384 accepted",
    ),
    "not_utf8": (NOTE.replace(b"DE@TR\n", b"DE@TR\xff\n", 1), "not valid UTF-8"),
    "overlong_utf8": (NOTE.replace(b"DE@TR", b"DE@TR\xc0\xaf", 1), "not valid UTF-8"),
    "utf8_surrogate": (NOTE.replace(b"DE@TR", b"DE@TR\xed\xa0\x80", 1), "not valid UTF-8"),
    "carriage_returns": (NOTE.replace(b"\n", b"\r\n"), "control character U\\+000D"),
    "carriage_return_in_origin": (NOTE.replace(b"DE@TR", b"DE@TR\r", 1), "U\\+000D"),
    "tab": (NOTE.replace(b"DE@TR", b"DE\t@TR", 1), "control character U\\+0009"),
    "nul": (NOTE.replace(b"DE@TR", b"DE\x00@TR", 1), "control character U\\+0000"),
    "no_final_newline": (NOTE[:-1], "does not end with a newline"),
    "empty": (b"", "does not end with a newline"),
    # note structure
    "missing_blank_line": (NOTE.replace(b"\n\n", b"\n"), "no blank line"),
    "empty_signature_section": ((BODY + "\n").encode(), "no signature lines"),
    "only_blank_lines": (b"\n\n\n", "no signature lines"),
    "blank_line_after_signatures": (NOTE + b"\n", "no signature lines"),
    "too_many_signature_lines": (
        note_text(lines=LOG_LINE * 1 + "".join(f"{DASH}w{i} {GOOD_SIG}\n" for i in range(100))),
        "101 signature lines",
    ),
    "duplicate_signature": (note_text(lines=LOG_LINE * 2), "two signature lines"),
    # malformed signature lines
    "hyphen_instead_of_em_dash": (sig_line(f"- {LOG_NAME} {GOOD_SIG}"), "em dash"),
    "en_dash": (sig_line(f"\u2013 {LOG_NAME} {GOOD_SIG}"), "em dash"),
    "em_dash_without_space": (sig_line(f"\u2014{LOG_NAME} {GOOD_SIG}"), "em dash"),
    "no_signature": (sig_line(f"{DASH}{LOG_NAME}"), "is not '"),
    "two_spaces": (sig_line(f"{DASH}{LOG_NAME}  {GOOD_SIG}"), "is not '"),
    "trailing_space": (sig_line(f"{DASH}{LOG_NAME} {GOOD_SIG} "), "is not '"),
    "three_fields": (sig_line(f"{DASH}{LOG_NAME} x {GOOD_SIG}"), "is not '"),
    "empty_key_name": (sig_line(f"{DASH} {GOOD_SIG}"), "key name is empty"),
    "plus_in_key_name": (sig_line(f"{DASH}a+b {GOOD_SIG}"), "contains '\\+'"),
    "nbsp_in_key_name": (sig_line(f"{DASH}a\u00a0b {GOOD_SIG}"), "contains a space"),
    "ideographic_space_in_key_name": (sig_line(f"{DASH}a\u3000b {GOOD_SIG}"), "contains a space"),
    "signature_not_base64": (sig_line(f"{DASH}{LOG_NAME} {GOOD_SIG[:-4]}!!!!"), "not valid base64"),
    "signature_urlsafe_base64": (sig_line(f"{DASH}a {'-_' * 44}"), "not valid base64"),
    "signature_unpadded": (sig_line(f"{DASH}{LOG_NAME} {GOOD_SIG.rstrip('=')}"), "base64"),
    "signature_non_canonical_base64": (sig_line(f"{DASH}a AAAAAB=="), "canonical base64"),
    "signature_too_short": (sig_line(f"{DASH}a AA=="), "1 bytes, too short"),
    "signature_only_key_hash": (sig_line(f"{DASH}a AAAAAA=="), "4 bytes, too short"),
    "signature_empty": (sig_line(f"{DASH}a "), "too short"),
    # the checkpoint text
    "empty_body_line": (note_text(f"{LOG_NAME}\n\n5\n{ROOT_B64}\ntime 1\n"), "line 2 is empty"),
    "empty_origin": (note_text(f"\n5\n{ROOT_B64}\ntime 1\n"), "line 1 is empty"),
    "empty_last_extension": (note_text(BODY + "\n"), "line 5 is empty"),
    "plain_c2sp_without_time": (
        note_text(f"{LOG_NAME}\n5\n{ROOT_B64}\n"),
        "needs origin, tree size, root hash and time",
    ),
    "one_line_body": (note_text("x\n"), "needs origin"),
    "size_leading_zero": (size_body("05"), "tree size '05'"),
    "size_zero_zero": (size_body("00"), "tree size '00'"),
    "size_plus": (size_body("+5"), "tree size"),
    "size_negative": (size_body("-1"), "tree size"),
    "size_space": (size_body(" 5"), "tree size"),
    "size_underscore": (size_body("1_000"), "tree size"),
    "size_hex": (size_body("0x5"), "tree size"),
    "size_arabic_indic_digit": (size_body("\u0665"), "tree size"),
    "size_fullwidth_digit": (size_body("\uff15"), "tree size"),
    "size_2_63": (size_body(str(2**63)), "larger than 2\\*\\*63 - 1"),
    "size_20_digits": (size_body("1" * 20), "tree size"),
    "size_5000_digits": (size_body("9" * 5000), "tree size"),
    "root_31_bytes": (root_body(_31), "31 bytes, not 32"),
    "root_33_bytes": (root_body(_33), "33 bytes, not 32"),
    "root_empty_base64": (root_body("===="), "base64"),
    "root_not_base64": (root_body("*" * 44), "not valid base64"),
    "root_urlsafe": (root_body(ROOT_B64.replace("+", "-")), "not valid base64"),
    "root_unpadded": (root_body(ROOT_B64.rstrip("=")), "base64"),
    "root_non_canonical": (root_body(_NON_CANONICAL_ROOT), "canonical base64"),
    "root_inner_space": (root_body(ROOT_B64[:20] + " " + ROOT_B64[20:]), "base64"),
    "root_hex": (root_body(ROOT.hex()), "root hash"),
    "time_missing_prefix": (time_body("1790000000000"), "line 4 is not 'time"),
    "time_capitalised": (time_body("Time 1790000000000"), "line 4 is not 'time"),
    "time_alone": (time_body("time"), "line 4 is not 'time"),
    "time_double_space": (time_body("time  1790000000000"), "checkpoint time"),
    "time_leading_zero": (time_body("time 01790000000000"), "checkpoint time"),
    "time_negative": (time_body("time -1"), "checkpoint time"),
    "time_fraction": (time_body("time 1790000000000.5"), "checkpoint time"),
    "time_empty": (time_body("time "), "checkpoint time"),
    "time_2_63": (time_body(f"time {2**63}"), "larger than"),
    "time_other_keyword": (time_body("timestamp 1"), "line 4 is not 'time"),
    "second_time_line": (note_text(BODY + "time 5\n"), "exactly one time line"),
    "time_line_as_extension_word": (note_text(BODY + "time\n"), "exactly one time line"),
}


@pytest.mark.parametrize(("data", "match"), list(REJECTED.values()), ids=list(REJECTED))
def test_from_bytes_rejects(data: bytes, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        SignedCheckpoint.from_bytes(data)


def test_rejection_cases_differ_from_a_valid_note_only_where_intended() -> None:
    # The helpers build valid notes when given valid parts.
    assert note_text() == NOTE
    assert size_body("5") == NOTE
    assert root_body(ROOT_B64) == NOTE
    assert time_body("time 1790000000000") == NOTE
    assert sig_line(LOG_LINE.rstrip("\n")) == NOTE
    assert SignedCheckpoint.from_bytes(
        note_text(lines=LOG_LINE + "".join(f"{DASH}w{i} {GOOD_SIG}\n" for i in range(99)))
    )


def test_checkpoint_error_is_a_protocol_error() -> None:
    assert issubclass(CheckpointError, ProtocolError)
    assert "checkpoint was refused" in CheckpointError("x").advice


def test_from_body_rejects_non_checkpoints() -> None:
    with pytest.raises(CheckpointError, match="not valid UTF-8"):
        Checkpoint.from_body(b"\xff\n")
    with pytest.raises(CheckpointError, match="needs origin"):
        Checkpoint.from_body(GO_TEXT.encode())
    with pytest.raises(UsageError):
        Checkpoint.from_body("text")  # type: ignore[arg-type]


# --- caller mistakes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"origin": ""},
        {"origin": "a\nb"},
        {"origin": "a\rb"},
        {"origin": "\ud800"},
        {"origin": b"DE@TR"},
        {"size": -1},
        {"size": 2**63},
        {"size": True},
        {"size": 5.0},
        {"root": ROOT[:31]},
        {"root": bytearray(ROOT)},
        {"time_ms": -1},
        {"time_ms": 2**63},
        {"extensions": ["x"]},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
        {"extensions": ("time 5",)},
        {"extensions": ("time",)},
    ],
    ids=repr,
)
def test_checkpoint_constructor_refuses_unwritable_values(fields: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        replace(CP, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\nb", "a\u2003b", "\ud800"], ids=repr)
def test_bad_key_names_are_usage_errors(name: str) -> None:
    with pytest.raises(UsageError):
        key_hash(name, LOG_KEY)
    with pytest.raises(UsageError):
        sign_checkpoint(CP, name, LOG_SEED)
    with pytest.raises(UsageError):
        cosign(NOTE, name, WITNESS_SEED, COSIGN_TIME)
    with pytest.raises(UsageError):
        SignedCheckpoint.from_bytes(NOTE).verify(name, LOG_KEY)


def test_other_usage_errors() -> None:
    with pytest.raises(UsageError):
        sign_checkpoint(CP, LOG_NAME, LOG_SEED[:31])
    with pytest.raises(UsageError):
        key_hash(LOG_NAME, LOG_KEY[:31])
    with pytest.raises(UsageError):
        cosign(NOTE, WITNESS_NAME, WITNESS_SEED, -1)
    with pytest.raises(UsageError):
        cosign(NOTE, WITNESS_NAME, WITNESS_SEED, 2**63)
    with pytest.raises(UsageError):
        cosign(NOTE, WITNESS_NAME, WITNESS_SEED, True)
    with pytest.raises(UsageError):
        SignedCheckpoint.from_bytes(NOTE.decode())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        SignedCheckpoint.from_bytes(bytearray(NOTE))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="do not match"):
        SignedCheckpoint(replace(CP, size=6), NOTE, SignedCheckpoint.from_bytes(NOTE).signatures)
    with pytest.raises(UsageError, match="do not match"):
        SignedCheckpoint(CP, NOTE, ())
    with pytest.raises(UsageError, match="cannot sign"):
        sign_checkpoint(replace(CP, extensions=("x" * MAX_NOTE_BYTES,)), LOG_NAME, LOG_SEED)
    with pytest.raises(UsageError):
        NoteSignature(LOG_NAME, b"\x00" * 3, b"\x00" * 64)
    with pytest.raises(UsageError):
        NoteSignature(LOG_NAME, b"\x00" * 4, b"")


def test_origin_for() -> None:
    assert origin_for("ilo-tr", "DE@TR") == "ilo-node/ilo-tr/DE@TR"
    assert origin_for("test.ilo", "COM@EU") == "ilo-node/test.ilo/COM@EU"
    for network, node in [("ILO", "DE@TR"), ("ilo-tr", "DE@DE"), ("ilo tr", "DE@TR")]:
        with pytest.raises(UsageError):
            origin_for(network, node)


# --- properties ---------------------------------------------------------------------

_line_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\n", min_codepoint=0x20),
    min_size=1,
    max_size=40,
)
checkpoints = st.builds(
    Checkpoint,
    origin=_line_text,
    size=st.integers(0, MAX_UINT63),
    root=st.binary(min_size=32, max_size=32),
    time_ms=st.integers(0, MAX_UINT63),
    extensions=st.lists(
        _line_text.filter(lambda s: s != "time" and not s.startswith("time ")), max_size=3
    ).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(cp=checkpoints, time_s=st.integers(0, MAX_UINT63))
def test_property_round_trip(cp: Checkpoint, time_s: int) -> None:
    assert Checkpoint.from_body(cp.body()) == cp
    note = sign_checkpoint(cp, LOG_NAME, LOG_SEED)
    sc = SignedCheckpoint.from_bytes(note)
    assert sc.checkpoint == cp
    assert sc.note == note
    sc.verify(LOG_NAME, LOG_KEY)
    cosigned = SignedCheckpoint.from_bytes(cosign(note, WITNESS_NAME, WITNESS_SEED, time_s))
    cosigned.verify(LOG_NAME, LOG_KEY)
    assert verify_cosignature(cosigned, WITNESS_NAME, WITNESS_KEY) == time_s


def _decode_or_none(data: bytes) -> SignedCheckpoint | None:
    try:
        return SignedCheckpoint.from_bytes(data)
    except CheckpointError:
        return None


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=600))
def test_fuzz_random_bytes(data: bytes) -> None:
    _decode_or_none(data)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("\n \u2014+=/aA0159time-\r\u00a0"), max_size=200))
def test_fuzz_note_like_text(text: str) -> None:
    _decode_or_none(text.encode())


def _mutate(original: bytes, kind: int, position: int, value: int) -> bytes:
    position %= len(original) + 1
    if kind == 0:  # replace one byte
        position = min(position, len(original) - 1)
        return original[:position] + bytes([value]) + original[position + 1 :]
    if kind == 1:  # insert one byte
        return original[:position] + bytes([value]) + original[position:]
    if kind == 2:  # delete one byte
        return original[:position] + original[position + 1 :]
    if kind == 3:  # truncate
        return original[:position]
    # duplicate a slice
    return original[:position] + original[position : position + value % 40] + original[position:]


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 2**16), st.integers(0, 255)),
        min_size=1,
        max_size=3,
    )
)
def test_fuzz_mutated_notes(steps: list[tuple[int, int, int]]) -> None:
    data = COSIGNED
    for kind, position, value in steps:
        data = _mutate(data, kind, position, value)
    sc = _decode_or_none(data)
    if sc is None:
        return
    # Whatever is accepted is kept byte for byte and re-assembles to the input.
    assert sc.note == data
    assert sc.body + b"\n" + "".join(s.line() for s in sc.signatures).encode() == data
    if data == COSIGNED:
        return
    # A signature covers every byte of the text it signs: a changed note can
    # keep the log's signature or the witness's cosignature, never both.
    try:
        sc.verify(LOG_NAME, LOG_KEY)
        verify_cosignature(sc, WITNESS_NAME, WITNESS_KEY)
    except CheckpointError:
        return
    # Both still verify only if the mutation left both lines and the body
    # intact, i.e. it only touched lines of keys we do not know.
    original = SignedCheckpoint.from_bytes(COSIGNED)
    assert sc.checkpoint == original.checkpoint
    assert set(original.signatures) <= set(sc.signatures)
