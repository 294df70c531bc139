"""The checked-in test vectors: regenerated identically, and each one behaves as named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from protocol import errors
from protocol.chain import ForkProof, check_link
from protocol.envelope import Envelope
from protocol.vectors import generate

VECTORS = Path(generate.__file__).parent
VALID = json.loads((VECTORS / "valid.json").read_text(encoding="utf-8"))
INVALID = json.loads((VECTORS / "invalid.json").read_text(encoding="utf-8"))


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def test_generator_reproduces_checked_in_vectors() -> None:
    built = generate.build_vectors()
    for name in ("valid", "invalid"):
        on_disk = (VECTORS / f"{name}.json").read_text(encoding="utf-8")
        assert generate.to_json(built[name]) == on_disk, (
            f"{name}.json differs from the generator's output: the wire format changed. "
            "If that was intended, run 'python -m protocol.vectors.generate' and review the diff."
        )


def test_valid_vectors_cover_every_kind() -> None:
    from protocol.kinds import KINDS

    assert {v["kind"] for v in VALID["envelopes"]} == set(KINDS)


def test_valid_envelopes_verify_chain_and_open() -> None:
    keys = VALID["keys"]
    previous: dict[bytes, Envelope] = {}
    for vector in VALID["envelopes"]:
        data = bytes.fromhex(vector["hex"])
        envelope = Envelope.from_bytes(data)
        header = envelope.header
        assert envelope.id.hex() == vector["id"]
        assert header.author_key.hex() == vector["author_key"]
        assert header.author_officer == vector["author_officer"]
        refers = (
            None if header.refers_to is None else [header.refers_to[0], header.refers_to[1].hex()]
        )
        assert refers == vector["refers_to"]
        assert list(header.recipients) == vector["recipients"]
        check_link(previous.get(header.author_key), envelope)
        previous[header.author_key] = envelope
        for node in vector["recipients"]:
            secret = bytes.fromhex(keys[node]["prekey_secret"])
            public = bytes.fromhex(keys[node]["prekey_public"])
            content = envelope.open(node, {public: secret})
            assert content.fields == _from_json(vector["content"]), vector["name"]


def test_valid_fork_proof() -> None:
    proof = ForkProof.from_bytes(bytes.fromhex(VALID["fork_proof"]["hex"]))
    assert proof.seq == 1
    assert proof.first.id < proof.second.id


@pytest.mark.parametrize("case", INVALID["cases"], ids=[c["name"] for c in INVALID["cases"]])
def test_invalid_vector_refused_with_its_error(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["hex"])
    expected = getattr(errors, case["error"])
    with pytest.raises(expected) as info:
        if case["check"] == "decode":
            Envelope.from_bytes(data)
        elif case["check"] == "fork_proof":
            ForkProof.from_bytes(data)
        else:
            envelope = Envelope.from_bytes(data)  # must decode: the fault is inside
            secret = generate.prekey_secret("DE@TR")
            from protocol.crypto import x25519_public

            envelope.open("DE@TR", {x25519_public(secret): secret})
    assert type(info.value) is expected, (
        f"{case['name']}: expected {case['error']}, got {type(info.value).__name__}: {info.value}"
    )
    assert info.value.message and info.value.advice
