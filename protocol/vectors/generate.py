"""Generate the protocol test vectors: ``python -m protocol.vectors.generate``.

Every key, content key, nonce and ephemeral secret is derived from a fixed
label, and Ed25519 signatures are deterministic, so the output is the same on
every run; ``tests/protocol/test_vectors.py`` regenerates the vectors and fails on any
difference from the checked-in files.

``valid.json`` holds one envelope per message kind (plus chain and fork cases);
``invalid.json`` holds inputs that a conforming decoder must refuse, each named
for what it breaks and with the error class it must raise. Most invalid cases
are correctly *signed*, so that they test the rule they are named for and not
the signature check.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgpack

from protocol.canonical import encode_canonical
from protocol.chain import ForkProof
from protocol.crypto import (
    aead_encrypt,
    ed25519_public,
    key_commitment,
    sign,
    wrap_key,
    x25519_public,
)
from protocol.envelope import CONTENT_DOMAIN, SIGNATURE_DOMAIN, Envelope, seal
from protocol.examples import example
from protocol.kinds import KINDS

__all__ = ["build_vectors", "main", "to_json"]

HERE = Path(__file__).resolve().parent
NETWORK = "vectors.ilo"
CREATED_MS = 1_790_000_000_000  # 2026-09-21, fixed
NODES = ("COM@EU", "DE@TR", "FR@TR", "IE@TR", "IT@TR")
OUTSIDER = "NL@MA"


def _derive(label: str) -> bytes:
    return hashlib.sha256(b"ilo-node test vector: " + label.encode()).digest()


def signing_seed(node: str) -> bytes:
    return _derive(f"signing seed {node}")


def prekey_secret(node: str) -> bytes:
    return _derive(f"prekey secret {node}")


def _jsonable(value: Any) -> Any:
    """Content as JSON: bytes become {"$bytes": hex}."""
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _recipients(kind: str) -> dict[str, list[bytes]]:
    nodes = ("COM@EU", "DE@TR", "IE@TR") if kind == "half_year_contribution" else NODES
    return {n: [x25519_public(prekey_secret(n))] for n in nodes}


def _seal_fixed(kind: str, seq: int, prev: bytes | None, label: str, **over: Any) -> Envelope:
    recipients = _recipients(kind)
    n_keys = sum(len(v) for v in recipients.values())
    args: dict[str, Any] = {
        "signing_seed": signing_seed("DE@TR"),
        "network": NETWORK,
        "kind": kind,
        "author_node": "DE@TR",
        "seq": seq,
        "prev": prev,
        "created_ms": CREATED_MS + seq * 1000,
        "distribution": "presidency" if kind == "half_year_contribution" else "local",
        "recipient_keys": recipients,
        "handling": "H1",
        "content": example(kind),
        "content_key": _derive(f"content key {label}"),
        "nonce": _derive(f"nonce {label}")[:24],
        "ephemeral_secrets": [_derive(f"ephemeral {label} {i}") for i in range(n_keys)],
    }
    args.update(over)
    return seal(**args)


# -- low-level builder for invalid cases: signs whatever it is given ------------


def _header(
    kind: str = "incident_alert", label: str = "raw", **over: Any
) -> tuple[list[Any], bytes, dict[str, Any]]:
    content_key = _derive(f"content key {label}")
    recipients = ["DE@TR", "FR@TR"]
    fields: dict[str, Any] = {
        "version": 2,
        "network": NETWORK,
        "kind": kind,
        "author_key": ed25519_public(signing_seed("DE@TR")),
        "author_node": "DE@TR",
        "author_officer": None,
        "seq": 1,
        "prev": None,
        "created_ms": CREATED_MS,
        "distribution": "local",
        "recipients": recipients,
        "handling": "H1",
        "refers_to": None,
        "key_commitment": key_commitment(content_key),
        "wrapped_keys": [
            [
                n,
                x25519_public(prekey_secret(n)),
                wrap_key(x25519_public(prekey_secret(n)), content_key, _derive(f"eph {label} {n}")),
            ]
            for n in recipients
        ],
        "nonce": _derive(f"nonce {label}")[:24],
    }
    fields.update(over)
    return list(fields.values()), content_key, fields


# Positions of header fields the invalid cases edit in place.
_WRAPPED_KEYS = 14
_NONCE = 15


def _raw_envelope(
    header: Sequence[Any],
    content_key: bytes,
    plaintext: bytes,
    *,
    seed: bytes | None = None,
    domain: bytes = SIGNATURE_DOMAIN,
    associated_domain: bytes = CONTENT_DOMAIN,
    pack: Callable[[Any], bytes] = encode_canonical,
) -> bytes:
    header_bytes = pack(list(header))
    nonce = header[_NONCE] if len(header) > _NONCE and isinstance(header[_NONCE], bytes) else b""
    nonce = nonce if len(nonce) == 24 else b"\0" * 24
    ciphertext = aead_encrypt(content_key, nonce, plaintext, associated_domain + header_bytes)
    unsigned = b"\x93" + header_bytes + encode_canonical(ciphertext)
    signature = sign(seed or signing_seed("DE@TR"), domain, unsigned)
    return unsigned + encode_canonical(signature)


def _plain(kind: str = "incident_alert") -> bytes:
    return encode_canonical(example(kind))


def _resign(data: bytes) -> bytes:
    """Re-sign bytes that were edited after signing, so only the edit is wrong."""
    unsigned = data[:-66]
    return unsigned + encode_canonical(sign(signing_seed("DE@TR"), SIGNATURE_DOMAIN, unsigned))


def _invalid_cases() -> list[dict[str, Any]]:
    base = _seal_fixed("incident_alert", 1, None, "base").to_bytes()
    cases: list[dict[str, Any]] = []

    def add(name: str, error: str, data: bytes, what: str, check: str = "decode") -> None:
        cases.append(
            {"name": name, "error": error, "check": check, "description": what, "hex": data.hex()}
        )

    # -- framing and canonical form
    add("empty_input", "DecodeError", b"", "zero bytes")
    add("truncated_envelope", "DecodeError", base[:-10], "the last 10 bytes are missing")
    add("trailing_bytes", "TrailingBytesError", base + b"\x00", "one byte after the envelope")
    add("not_an_array", "DecodeError", encode_canonical({"a": 1}), "top level is a map")
    add(
        "envelope_of_four_elements",
        "DecodeError",
        b"\x94" + base[1:] + b"\xc0",
        "the top-level array has a fourth element",
    )
    h, ck, _ = _header()
    add(
        "non_canonical_int_width",
        "NonCanonicalError",
        _raw_envelope(h, ck, _plain(), pack=_wide_ints),
        "seq 1 encoded as uint32 instead of a positive fixint",
    )
    author = ed25519_public(signing_seed("DE@TR"))
    add(
        "non_canonical_bin16_for_short_bytes",
        "NonCanonicalError",
        _raw_envelope(
            h,
            ck,
            _plain(),
            pack=lambda v: encode_canonical(v).replace(
                b"\xc4\x20" + author, b"\xc5\x00\x20" + author
            ),
        ),
        "the 32-byte author key encoded as bin16 instead of bin8",
    )
    add(
        "bytes_as_old_raw_str",
        "DecodeError",
        _raw_envelope(h, ck, _plain(), pack=lambda v: msgpack.packb(v, use_bin_type=False)),
        "byte strings encoded as raw str (old msgpack form): not valid UTF-8 text",
    )
    h_float, ck_f, _ = _header(created_ms=1.5)
    add(
        "float_in_header",
        "FieldError",
        _raw_envelope(h_float, ck_f, _plain(), pack=lambda v: msgpack.packb(v, use_bin_type=True)),
        "created_ms is a float",
    )
    add(
        "extension_type",
        "DecodeError",
        b"\x93" + b"\xd4\x01\x00" + base[-68:],
        "an msgpack extension type where the header belongs",
    )
    add(
        "declared_bin_length_beyond_input",
        "DecodeError",
        b"\x93\xc6\xff\xff\xff\xff" + b"\x00" * 16,
        "a bin32 claiming 4 GiB in a 22-byte input: refused as truncated, nothing allocated",
    )
    add(
        "declared_array_length_over_limit",
        "LimitExceededError",
        b"\x93\xdd\x00\x01\x00\x00" + b"\x00" * 16,
        "a header array claiming 65536 elements: refused on reading its length",
    )
    add(
        "too_many_recipients",
        "LimitExceededError",
        _raw_envelope(*_many_recipients(), _plain()),
        "65 recipients, over the default limit of 64",
    )

    # -- header fields (all correctly signed)
    def header_case(
        name: str, error: str, what: str, kind: str = "incident_alert", **over: Any
    ) -> None:
        hh, key, _ = _header(kind=kind, label=name, **over)
        add(name, error, _raw_envelope(hh, key, _plain()), what)

    header_case(
        "unsupported_version", "UnsupportedVersionError", "version 1 (before officers)", version=1
    )
    header_case("unknown_kind", "UnknownKindError", "kind 'weather_report'", kind="weather_report")
    header_case("seq_zero", "FieldError", "sequence numbers start at 1", seq=0)
    header_case("seq_as_string", "FieldError", "seq is the string '1'", seq="1")
    header_case("seq_as_bool", "FieldError", "seq is msgpack true", seq=True)
    header_case(
        "prev_at_seq_1", "FieldError", "the first envelope names a predecessor", prev=b"\x11" * 32
    )
    header_case("prev_missing_at_seq_2", "FieldError", "seq 2 without prev", seq=2)
    header_case("prev_wrong_length", "FieldError", "prev of 31 bytes", seq=2, prev=b"\x11" * 31)
    header_case(
        "author_key_wrong_length", "FieldError", "author key of 31 bytes", author_key=b"\x01" * 31
    )
    header_case(
        "author_node_malformed", "FieldError", "author node 'germany'", author_node="germany"
    )
    header_case(
        "author_node_in_member_state",
        "FieldError",
        "host country is a Member State",
        author_node="DE@FR",
    )
    header_case("network_id_uppercase", "FieldError", "network id with capitals", network="Vectors")
    header_case(
        "distribution_unknown", "FieldError", "distribution 'public'", distribution="public"
    )
    header_case("handling_unknown", "FieldError", "handling code H9", handling="H9")
    header_case("recipients_empty", "FieldError", "no recipients", recipients=[], wrapped_keys=[])
    header_case(
        "recipients_unsorted",
        "FieldError",
        "recipients out of order",
        recipients=["FR@TR", "DE@TR"],
    )
    header_case(
        "recipients_duplicate",
        "FieldError",
        "a recipient listed twice",
        recipients=["DE@TR", "DE@TR"],
    )
    header_case(
        "local_recipient_outside_host",
        "FieldError",
        "distribution local, but a recipient is posted to another country",
        recipients=["DE@TR", "NL@MA"],
    )
    _, _, f = _header(label="wrapped")
    header_case(
        "wrapped_key_for_non_recipient",
        "FieldError",
        "a key wrapped for a node not in the signed recipient list",
        recipients=["DE@TR"],
    )
    header_case(
        "recipient_without_wrapped_key",
        "FieldError",
        "a recipient for whom no key is wrapped",
        wrapped_keys=f["wrapped_keys"][:1],
    )
    header_case(
        "wrapped_keys_unsorted",
        "FieldError",
        "wrapped keys out of order",
        wrapped_keys=list(reversed(f["wrapped_keys"])),
    )
    header_case("nonce_wrong_length", "FieldError", "nonce of 12 bytes", nonce=b"\x00" * 12)
    header_case(
        "author_officer_display_name",
        "FieldError",
        "the officer named by a display name, not an identifier",
        author_officer="Katrin Beispiel",
    )
    header_case("author_officer_not_text", "FieldError", "officer as bytes", author_officer=b"k")
    header_case(
        "refers_to_unknown_relation",
        "FieldError",
        "relation 'endorses'",
        refers_to=["endorses", b"\x5e" * 32],
    )
    header_case(
        "refers_to_short_id",
        "FieldError",
        "target id of 31 bytes",
        refers_to=["corrects", b"\x5e" * 31],
    )
    header_case(
        "retraction_without_target",
        "FieldError",
        "a retraction that names no envelope",
        kind="retraction",
    )
    header_case(
        "retracts_as_another_kind",
        "FieldError",
        "an incident alert claiming to retract an envelope",
        refers_to=["retracts", b"\x5e" * 32],
    )
    header_case(
        "correction_as_retraction",
        "FieldError",
        "a retraction claiming to correct an envelope",
        kind="retraction",
        refers_to=["corrects", b"\x5e" * 32],
    )
    header_case(
        "key_share_by_an_officer",
        "FieldError",
        "an officer sharing a content key (nodes share them)",
        kind="key_share",
        author_officer="k.beispiel",
        refers_to=["shares", b"\x5e" * 32],
    )
    hs, ks, _ = _header(label="short")
    add(
        "header_too_short",
        "DecodeError",
        _raw_envelope(hs[:15], ks, _plain()),
        "header of 15 fields",
    )

    # -- signature
    flipped = bytearray(base)
    flipped[-1] ^= 0x01
    add(
        "signature_bit_flipped",
        "SignatureError",
        bytes(flipped),
        "last bit of the signature flipped",
    )
    add(
        "header_edited_after_signing",
        "SignatureError",
        base.replace(b"vectors.ilo", b"vectors.ilx", 1),
        "network id edited by a relay; still canonical",
    )
    edited = bytearray(base)
    edited[-80] ^= 0x01
    add(
        "ciphertext_edited_after_signing",
        "SignatureError",
        bytes(edited),
        "a ciphertext byte flipped",
    )
    other = _seal_fixed("incident_alert", 1, None, "base", signing_seed=signing_seed("FR@TR"))
    add(
        "signed_by_other_key",
        "SignatureError",
        other.to_bytes()[:-66] + base[-66:],
        "header names one key, the signature is another key's",
    )
    h2, k2, _ = _header(label="nodomain")
    add(
        "signature_without_domain",
        "SignatureError",
        _raw_envelope(h2, k2, _plain(), domain=b""),
        "signed without the domain-separation prefix",
    )
    add(
        "re_addressed_by_relay",
        "SignatureError",
        base.replace(b"IT@TR", b"IS@TR"),
        "a relay renamed recipient IT@TR to IS@TR in the list and the wrapped keys",
    )

    # -- opening (decoding succeeds; opening as DE@TR must fail)
    h3, _k3, f3 = _header(label="commit")
    bad_wrapped = [list(w) for w in f3["wrapped_keys"]]
    bad_wrapped[0][2] = wrap_key(bad_wrapped[0][1], _derive("another key"), _derive("eph x"))
    h3[_WRAPPED_KEYS] = bad_wrapped
    add(
        "key_commitment_mismatch",
        "KeyCommitmentError",
        _raw_envelope(h3, _derive("another key"), _plain()),
        "DE@TR is given a key that does not match the signed commitment",
        check="open",
    )
    h4, k4, _ = _header(label="noad")
    add(
        "content_without_associated_header",
        "DecryptionError",
        _raw_envelope(h4, k4, _plain(), associated_domain=b"wrong"),
        "the AEAD associated data is not the header",
        check="open",
    )
    h5, k5, _ = _header(label="schema")
    broken = example("incident_alert")
    broken.pop(next(iter(broken)))
    add(
        "content_missing_required_field",
        "ContentError",
        _raw_envelope(h5, k5, encode_canonical(broken)),
        "signed and encrypted, but the content lacks a required field",
        check="open",
    )
    h6, k6, _ = _header(label="noncanon")
    add(
        "content_non_canonical",
        "ContentError",
        _raw_envelope(h6, k6, _reversed_map(example("incident_alert"))),
        "content map keys not sorted",
        check="open",
    )
    h7, k7, _ = _header(label="kindmix", kind="route_report")
    add(
        "content_of_another_kind",
        "ContentError",
        _raw_envelope(h7, k7, _plain("incident_alert")),
        "header says route_report, content is an incident alert",
        check="open",
    )
    h8, k8, _ = _header(label="notrecipient", recipients=["FR@TR"])
    all_wrapped = _header(label="notrecipient")[2]["wrapped_keys"]
    h8[_WRAPPED_KEYS] = [w for w in all_wrapped if w[0] == "FR@TR"]
    add(
        "not_a_recipient",
        "NotARecipientError",
        _raw_envelope(h8, k8, _plain()),
        "DE@TR is not among the recipients",
        check="open",
    )

    # -- fork proofs
    one = _seal_fixed("incident_alert", 1, None, "fork-a")
    two = _seal_fixed("incident_alert", 1, None, "fork-b", handling="H2")
    a, b = sorted([one, two], key=lambda e: e.id)
    later = _seal_fixed("incident_alert", 2, a.id, "fork-c")
    other_author = _seal_fixed(
        "incident_alert", 1, None, "fork-d", signing_seed=signing_seed("FR@TR"), author_node="FR@TR"
    )

    def fork(name: str, error: str, parts: list[Any], what: str) -> None:
        add(name, error, encode_canonical(parts), what, check="fork_proof")

    fork(
        "fork_proof_same_envelope",
        "ForkProofError",
        [1, a.to_bytes(), a.to_bytes()],
        "one envelope twice",
    )
    fork(
        "fork_proof_different_seq",
        "ForkProofError",
        [1, a.to_bytes(), later.to_bytes()],
        "seq 1 and seq 2",
    )
    pair = sorted([a, other_author], key=lambda e: e.id)
    fork(
        "fork_proof_different_authors",
        "ForkProofError",
        [1, pair[0].to_bytes(), pair[1].to_bytes()],
        "two authors' first envelopes",
    )
    fork(
        "fork_proof_unordered",
        "ForkProofError",
        [1, b.to_bytes(), a.to_bytes()],
        "ids in decreasing order",
    )
    fork(
        "fork_proof_with_bad_signature",
        "ForkProofError",
        [1, a.to_bytes(), b.to_bytes()[:-1] + bytes([b.to_bytes()[-1] ^ 1])],
        "the second envelope's signature is broken",
    )
    fork(
        "fork_proof_version_2",
        "UnsupportedVersionError",
        [2, a.to_bytes(), b.to_bytes()],
        "version 2",
    )
    return cases


def _wide_ints(value: Any) -> bytes:
    """Pack with every non-negative int as uint32 (valid msgpack, not canonical)."""
    packer = msgpack.Packer(use_bin_type=True)
    if isinstance(value, bool) or value is None or isinstance(value, bytes | str):
        return bytes(packer.pack(value))
    if isinstance(value, int) and 0 <= value < 1 << 32:
        return b"\xce" + value.to_bytes(4, "big")
    if isinstance(value, list):
        head = bytes(packer.pack_array_header(len(value)))
        return head + b"".join(_wide_ints(v) for v in value)
    return bytes(packer.pack(value))


def _reversed_map(value: dict[str, Any]) -> bytes:
    packer = msgpack.Packer(use_bin_type=True)
    out = bytes(packer.pack_map_header(len(value)))
    for key in sorted(value, reverse=True):
        out += bytes(packer.pack(key)) + encode_canonical(value[key])
    return out


def _many_recipients() -> tuple[list[Any], bytes]:
    hosts = sorted(
        c
        for c in [
            "AF",
            "AL",
            "BD",
            "BR",
            "CN",
            "DZ",
            "EG",
            "ET",
            "GH",
            "IN",
            "IQ",
            "IR",
            "JO",
            "KE",
            "LB",
            "LY",
            "MA",
            "ML",
            "MX",
            "NE",
            "NG",
            "PK",
            "RU",
            "SN",
            "SY",
            "TN",
            "TR",
            "UA",
            "VN",
        ]
    )
    states = sorted(
        [
            "AT",
            "BE",
            "BG",
            "CY",
            "CZ",
            "DE",
            "DK",
            "EE",
            "ES",
            "FI",
            "FR",
            "GR",
            "HR",
            "HU",
            "IE",
            "IT",
            "LT",
            "LU",
            "LV",
            "MT",
            "NL",
            "PL",
            "PT",
            "RO",
            "SE",
            "SI",
            "SK",
        ]
    )
    recipients = sorted(f"{s}@{h}" for s in states for h in hosts)[:65]
    h, ck, _ = _header(
        recipients=recipients,
        distribution="network",
        wrapped_keys=[[r, b"\x09" * 32, b"\x00" * 80] for r in recipients],
    )
    return h, ck


def _entry(envelope: Envelope, name: str, content: Any) -> dict[str, Any]:
    h = envelope.header
    return {
        "name": name,
        "kind": h.kind,
        "hex": envelope.to_bytes().hex(),
        "id": envelope.id.hex(),
        "author_node": h.author_node,
        "author_officer": h.author_officer,
        "author_key": h.author_key.hex(),
        "seq": h.seq,
        "prev": h.prev.hex() if h.prev else None,
        "refers_to": None if h.refers_to is None else [h.refers_to[0], h.refers_to[1].hex()],
        "recipients": list(h.recipients),
        "content": _jsonable(content),
    }


def build_vectors() -> dict[str, Any]:
    valid: list[dict[str, Any]] = []
    prev: bytes | None = None
    first: Envelope | None = None
    for seq, kind in enumerate(sorted(KINDS), start=1):
        refers: dict[str, Any] = {}
        # The chain's first envelope is the target of its retraction and key share.
        if kind == "retraction" and first is not None:
            refers["refers_to"] = ("retracts", first.id)
        if kind == "key_share" and first is not None:
            refers["refers_to"] = ("shares", first.id)
        envelope = _seal_fixed(kind, seq, prev, f"valid {kind}", **refers)
        first = first or envelope
        prev = envelope.id
        h = envelope.header
        name = f"{kind}_local" if h.distribution == "local" else f"{kind}_{h.distribution}"
        valid.append(_entry(envelope, name, example(kind)))
    # An officer's own chain: an alert, then its correction.
    officer_seed = signing_seed("officer k.beispiel of DE@TR")
    alert = _seal_fixed(
        "incident_alert", 1, None, "officer alert", signing_seed=officer_seed,
        author_officer="k.beispiel",
    )  # fmt: skip
    correction = _seal_fixed(
        "incident_alert", 2, alert.id, "officer correction", signing_seed=officer_seed,
        author_officer="k.beispiel", refers_to=("corrects", alert.id),
    )  # fmt: skip
    valid.append(_entry(alert, "incident_alert_by_officer", example("incident_alert")))
    valid.append(_entry(correction, "correction_by_officer", example("incident_alert")))
    a = _seal_fixed("incident_alert", 1, None, "fork-a")
    b = _seal_fixed("incident_alert", 1, None, "fork-b", handling="H2")
    first, second = sorted([a, b], key=lambda e: e.id)
    keys = {
        n: {
            "signing_seed": signing_seed(n).hex(),
            "signing_public": ed25519_public(signing_seed(n)).hex(),
            "prekey_secret": prekey_secret(n).hex(),
            "prekey_public": x25519_public(prekey_secret(n)).hex(),
        }
        for n in (*NODES, OUTSIDER)
    }
    return {
        "valid": {
            "description": (
                "One envelope per message kind by node DE@TR, forming one hash chain in "
                "order (its retraction and key share refer to its first envelope), then an "
                "officer's chain of an alert and its correction; each opens for every "
                "recipient to 'content' (bytes as {'$bytes': hex})."
            ),
            "network": NETWORK,
            "keys": keys,
            "officer_keys": {
                "k.beispiel of DE@TR": {
                    "signing_seed": officer_seed.hex(),
                    "signing_public": ed25519_public(officer_seed).hex(),
                }
            },
            "envelopes": valid,
            "fork_proof": {
                "description": "DE@TR signed two different envelopes at seq 1",
                "hex": ForkProof(first, second).to_bytes().hex(),
            },
        },
        "invalid": {
            "description": (
                "Inputs a conforming implementation must refuse. check 'decode': "
                "Envelope.from_bytes; 'open': decodes, then opening as DE@TR fails; "
                "'fork_proof': ForkProof.from_bytes. 'error' is the class that must be raised."
            ),
            "cases": _invalid_cases(),
        },
    }


def to_json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else HERE
    vectors = build_vectors()
    for name in ("valid", "invalid"):
        (out / f"{name}.json").write_text(to_json(vectors[name]), encoding="utf-8")
    print(f"wrote {out}/valid.json and {out}/invalid.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
