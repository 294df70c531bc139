"""Fuzzing every decoder: nothing but the protocol's own errors may come out.

Each test feeds thousands of seeded, deterministic inputs (mutated valid
objects, random bytes, random msgpack structures) to one decoder and accepts
only the errors its contract names: a :class:`ProtocolError` subclass for bytes
from a peer, :class:`UsageError` only where a caller passed a wrong Python type
to a decoder documented to say so (never for bytes input). Anything else --
IndexError, KeyError, TypeError, ValueError, msgpack's exceptions, RecursionError,
an AssertionError inside library code -- fails the test with the input (hex for
bytes, repr otherwise), the seed and the case number, so it can be replayed.

For every input a decoder accepts, invariants are checked as well: the decoded
object re-encodes to exactly the input bytes, and a mutated envelope (or fork
proof) that verifies is byte-identical to a valid original -- a signature covers
every byte, so a mutation that changed anything must never verify.

Protocol bugs this file found are pinned by minimal regression tests at the end.
A bug found but not yet fixed gets its reproduction there marked
``xfail(strict=True)``, so the file stays green until the fix makes it pass.

Every fuzzing test is marked ``slow`` (the fast loop, ``-m "not slow"``, skips them);
the regression tests are not.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocol.vectors
from protocol import PROTOCOL_VERSION
from protocol.canonical import decode_canonical, encode_canonical
from protocol.chain import ForkProof
from protocol.crypto import (
    aead_encrypt,
    ed25519_public,
    key_commitment,
    sign,
    wrap_key,
)
from protocol.envelope import (
    CONTENT_DOMAIN,
    DISTRIBUTIONS,
    HANDLING_CODES,
    SIGNATURE_DOMAIN,
    Envelope,
    parse_content,
)
from protocol.errors import (
    ContentError,
    DecodeError,
    DecryptionError,
    IloError,
    KeyCommitmentError,
    NotARecipientError,
    ProofError,
    ProtocolError,
    UsageError,
)
from protocol.examples import example
from protocol.kinds import KINDS
from protocol.limits import DEFAULT_LIMITS, Limits
from protocol.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from protocol.schema import Country, Enum, Field, FieldType, List, Struct
from tests.support.helpers import NODES, derive, make

# --- test vectors and originals -----------------------------------------------

_VECTORS = Path(protocol.vectors.__file__).parent
VALID = json.loads((_VECTORS / "valid.json").read_text(encoding="utf-8"))
INVALID = json.loads((_VECTORS / "invalid.json").read_text(encoding="utf-8"))

Secrets = dict[str, dict[bytes, bytes]]

_VECTOR_SECRETS: Secrets = {
    node: {bytes.fromhex(k["prekey_public"]): bytes.fromhex(k["prekey_secret"])}
    for node, k in VALID["keys"].items()
}
_HELPER_SECRETS: Secrets = {node: n.secrets for node, n in NODES.items()}


def _fixed_make(label: str, recipients: tuple[str, ...], **over: Any) -> Envelope:
    """``make()`` with every random input fixed, so the bytes are the same on every run."""
    return make(
        recipients=recipients,
        content_key=derive(f"fuzz content key {label}"),
        nonce=derive(f"fuzz nonce {label}")[:24],
        ephemeral_secrets=[derive(f"fuzz ephemeral {label} {i}") for i in range(len(recipients))],
        **over,
    )


def _build_originals() -> list[tuple[bytes, Secrets]]:
    out: list[tuple[bytes, Secrets]] = [
        (bytes.fromhex(v["hex"]), _VECTOR_SECRETS) for v in VALID["envelopes"]
    ]
    proof = ForkProof.from_bytes(bytes.fromhex(VALID["fork_proof"]["hex"]))
    out += [(proof.first.to_bytes(), _VECTOR_SECRETS), (proof.second.to_bytes(), _VECTOR_SECRETS)]
    first = _fixed_make("a", ("COM@EU", "DE@TR", "FR@TR"))
    out += [
        (first.to_bytes(), _HELPER_SECRETS),
        (
            _fixed_make(
                "b", ("COM@EU", "DE@TR"), kind="retraction", seq=2, prev=first.id
            ).to_bytes(),
            _HELPER_SECRETS,
        ),
        (
            _fixed_make(
                "c", ("DE@TR", "NL@MA"), kind="meeting_record", distribution="network"
            ).to_bytes(),
            _HELPER_SECRETS,
        ),
    ]
    return out


ORIGINALS = _build_originals()
ORIGINAL_BYTES = [data for data, _ in ORIGINALS]
ORIGINAL_SET = frozenset(ORIGINAL_BYTES)
FORK_PROOF = bytes.fromhex(VALID["fork_proof"]["hex"])
INVALID_ENVELOPES = [
    bytes.fromhex(c["hex"]) for c in INVALID["cases"] if c["check"] != "fork_proof"
]
#: Every envelope that verifies (the 'open' invalid cases are signed, their fault is
#: inside), with the recipients' keys to open it.
SECRETS_OF: dict[bytes, Secrets] = {
    **dict(ORIGINALS),
    **{bytes.fromhex(c["hex"]): _VECTOR_SECRETS for c in INVALID["cases"] if c["check"] == "open"},
}
INVALID_FORK_PROOFS = [
    bytes.fromhex(c["hex"]) for c in INVALID["cases"] if c["check"] == "fork_proof"
]
EXAMPLE_CONTENT = {kind: encode_canonical(example(kind)) for kind in sorted(KINDS)}

# --- reporting -------------------------------------------------------------------


def _shown(value: object, limit: int = 6000) -> str:
    if isinstance(value, bytes | bytearray):
        text = f"hex {bytes(value).hex()}"
    else:
        text = f"repr {value!r}"
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class Fuzz:
    """Counts cases and collects failures with what is needed to replay them."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.seed = seed
        self.count = 0
        self.accepted = 0
        self.failures: list[str] = []

    @contextlib.contextmanager
    def case(self, label: str, value: object) -> Iterator[None]:
        self.count += 1
        number = self.count
        try:
            yield
        except Exception as exc:  # everything unexpected is a finding
            if len(self.failures) < 5:
                where = "".join(traceback.format_exception(exc)[-4:])
                self.failures.append(
                    f"[{self.name} seed={self.seed} case #{number} {label}] "
                    f"{type(exc).__name__}: {exc}\ninput {_shown(value)}\n{where}"
                )
            else:
                self.failures.append("(more)")

    def done(self, minimum: int) -> None:
        assert not self.failures, f"{len(self.failures)} failing input(s):\n\n" + "\n\n".join(
            self.failures[:6]
        )
        assert self.count >= minimum, f"only {self.count} inputs, expected >= {minimum}"


def _attempt(
    allowed: tuple[type[BaseException], ...], fn: Callable[..., Any], *args: Any
) -> tuple[Any, BaseException | None]:
    """Call ``fn``; an allowed error is returned, anything else propagates."""
    try:
        return fn(*args), None
    except allowed as exc:
        assert isinstance(exc, IloError) and exc.message and exc.advice, "error without text"
        return None, exc


# --- msgpack structure: a tolerant walker over (possibly broken) msgpack --------

_FIX = -1  # length held in the marker byte's low bits
_NONE = 0  # no length field

_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
_CONTAINER = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}
_FIXED_WIDTH = {
    0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,
}  # fmt: skip
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}


def msgpack_headers(data: bytes) -> list[tuple[int, int]]:
    """``(offset, length_width)`` of every object header that parses, in order.

    ``length_width`` is the width of the length field after the marker, ``_FIX``
    for fixstr/fixarray/fixmap, ``_NONE`` for objects without a length.
    """
    out: list[tuple[int, int]] = []
    pos, pending = 0, 1
    while pending and pos < len(data):
        pending -= 1
        b = data[pos]
        if b <= 0x7F or b >= 0xE0:
            out.append((pos, _NONE))
            pos += 1
        elif b <= 0x8F:
            out.append((pos, _FIX))
            pending += 2 * (b & 0x0F)
            pos += 1
        elif b <= 0x9F:
            out.append((pos, _FIX))
            pending += b & 0x0F
            pos += 1
        elif b <= 0xBF:
            out.append((pos, _FIX))
            pos += 1 + (b & 0x1F)
        elif b in _SIZED:
            width = _SIZED[b]
            out.append((pos, width))
            pos += 1 + width + int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
        elif b in _CONTAINER:
            width, per = _CONTAINER[b]
            out.append((pos, width))
            pending += per * int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
            pos += 1 + width
        elif b in _EXT:
            width = _EXT[b]
            out.append((pos, width))
            pos += 2 + width + int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
        elif b in _FIXED_WIDTH:
            out.append((pos, _NONE))
            pos += 1 + _FIXED_WIDTH[b]
        else:  # 0xc1, never used
            break
    return out


_MARKERS = [*range(0xC0, 0xE0), *range(0x90, 0xA0), *range(0x80, 0x90)]
_INTERESTING_BYTES = [0x00, 0x01, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC4,
                      0xCC, 0xD9, 0xDC, 0xDE, 0xE0, 0xFF]  # fmt: skip

# --- byte-level mutations -----------------------------------------------------------

Mutator = Callable[[random.Random, bytes], bytes]


def bit_flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def flip_one(rng: random.Random, data: bytes) -> bytes:
    """Flip exactly one bit: the result always differs from ``data``."""
    out = bytearray(data)
    out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def byte_insert(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    count = rng.choice((1, 1, 2, 3, 8))
    extra = bytes(rng.choice((rng.randrange(256), *_INTERESTING_BYTES)) for _ in range(count))
    return data[:at] + extra + data[at:]


def byte_delete(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.choice((1, 1, 2, 4, 16)) :]


def byte_replace(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4))):
        if out:
            out[rng.randrange(len(out))] = rng.choice((rng.randrange(256), *_INTERESTING_BYTES))
    return bytes(out)


def splice(rng: random.Random, data: bytes) -> bytes:
    other = rng.choice(ORIGINAL_BYTES)
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]


def duplicate_region(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    region = data[start : start + rng.choice((1, 2, 4, 16, 64, 300))]
    at = rng.choice((start, start + len(region), rng.randrange(len(data) + 1)))
    return data[:at] + region * rng.choice((1, 1, 2)) + data[at:]


def type_marker(rng: random.Random, data: bytes) -> bytes:
    headers = msgpack_headers(data)
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2))):
        if headers:
            out[rng.choice(headers)[0]] = rng.choice(_MARKERS)
    return bytes(out)


def length_patch(rng: random.Random, data: bytes) -> bytes:
    sized = [h for h in msgpack_headers(data) if h[1] != _NONE]
    if not sized:
        return byte_replace(rng, data)
    offset, width = rng.choice(sized)
    out = bytearray(data)
    if width == _FIX:
        marker = out[offset]
        mask = 0x1F if 0xA0 <= marker <= 0xBF else 0x0F
        out[offset] = (marker & ~mask & 0xFF) | rng.randrange(mask + 1)
        return bytes(out)
    old = int.from_bytes(out[offset + 1 : offset + 1 + width], "big")
    top = (1 << (8 * width)) - 1
    new = rng.choice((0, 1, old - 1, old + 1, old * 2, top, top - 1, rng.randrange(top + 1)))
    out[offset + 1 : offset + 1 + width] = (new & top).to_bytes(width, "big")
    return bytes(out)


MUTATORS: dict[str, Mutator] = {
    "bit_flip": bit_flip,
    "byte_insert": byte_insert,
    "byte_delete": byte_delete,
    "byte_replace": byte_replace,
    "splice": splice,
    "duplicate_region": duplicate_region,
    "type_marker": type_marker,
    "length_patch": length_patch,
}


def stacked(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.choice((2, 3, 4))):
        data = rng.choice(list(MUTATORS.values()))(rng, data)
    return data


ALL_MUTATORS: dict[str, Mutator] = {**MUTATORS, "stacked": stacked}


def random_bytes(rng: random.Random) -> bytes:
    size = rng.choice((0, 1, 2, 3, 5, 8, 16, 33, 64, 200, rng.randrange(2000)))
    if rng.random() < 0.5:  # msgpack markers make deeper parses likelier
        return bytes(rng.choice((rng.randrange(256), *_MARKERS)) for _ in range(size))
    return rng.randbytes(size)


# --- random msgpack-like values -------------------------------------------------------


def _schema_words() -> list[str]:
    words: set[str] = {
        "DE@TR", "FR@TR", "COM@EU", "EBCG@EU", "NL@MA", "DE@DE", "XX@TR", "de@tr", "COM@TR",
        "EUROPOL@EU", "EUAA@TR", "EUROPOLX@EU", "EUROP@EU", "UK", "EL", "FRONTEX",
        "test.ilo", "vectors.ilo", "TEST.ilo", "", " ", "2026-01-01", "2026-02-30",
        "0000-01-01", "2026-H1", "2026-H3", "0000-H1", "COM", "EBCG", "XX", "tr", "EUR",
        "correct", "retract", "\x00", "\u2028", "a\r\nb", "\ud800", "\U0001f600",
    }  # fmt: skip
    words.update(KINDS)
    words.update(DISTRIBUTIONS)
    words.update(HANDLING_CODES)

    def walk(t: FieldType) -> None:
        if isinstance(t, Enum):
            words.update(t.values)
        elif isinstance(t, Country):
            words.update(t.extra)
            words.update(("DE", "TR", "AF", "SY", "GR"))
        elif isinstance(t, List):
            walk(t.item)
        elif isinstance(t, Struct):
            for f in t.fields:
                walk_field(f)

    def walk_field(f: Field) -> None:
        words.add(f.name)
        walk(f.type)

    for spec in KINDS.values():
        for f in spec.fields:
            walk_field(f)
    return sorted(words)


WORDS = _schema_words()
WIRE_WORDS = [w for w in WORDS if not any("\ud800" <= c <= "\udfff" for c in w)]
_BOUNDARY_INTS = [0, 1, -1, 31, 32, -32, -33, 127, 128, -128, -129, 255, 256, 65535, 65536,
                  -32768, -32769, 2**31 - 1, -(2**31), 2**32 - 1, 2**32, 2**63 - 1, -(2**63),
                  2**63, 2**64 - 1, 10_000_000, 10_000_001]  # fmt: skip


def random_text(rng: random.Random, wire: bool) -> str:
    if rng.random() < 0.6:
        return rng.choice(WIRE_WORDS if wire else WORDS)
    pools = ["abcXYZ019@.-_ ", "\t\n\r\x00\x1f\x7f\x85\u2028\u2029", "éü€漢字\U0001f600"]
    if not wire:
        pools.append("\ud800\udfff")
    size = rng.choice((0, 1, 2, 3, 10, 40, 300))
    return "".join(rng.choice(rng.choice(pools)) for _ in range(size))


def random_value(rng: random.Random, depth: int = 0, *, wire: bool = True) -> Any:
    """A random msgpack-like value; ``wire`` keeps it encodable (no lone surrogates)."""
    roll = rng.random()
    if depth < 4 and roll < 0.12:
        return [random_value(rng, depth + 1, wire=wire) for _ in range(rng.choice((0, 1, 2, 5)))]
    if depth < 4 and roll < 0.24:
        return {
            random_text(rng, wire): random_value(rng, depth + 1, wire=wire)
            for _ in range(rng.choice((0, 1, 2, 5)))
        }
    if roll < 0.32:
        return None
    if roll < 0.40:
        return rng.random() < 0.5
    if roll < 0.55:
        return rng.choice((*_BOUNDARY_INTS, rng.randrange(-(2**63), 2**64)))
    if roll < 0.82:
        return random_text(rng, wire)
    return rng.randbytes(rng.choice((0, 1, 23, 24, 31, 32, 33, 63, 64, 80, 100)))


def scalars_strategy() -> st.SearchStrategy[Any]:
    return (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | st.sampled_from(_BOUNDARY_INTS)
        | st.text(max_size=20)
        | st.sampled_from(WIRE_WORDS)
        | st.binary(max_size=90)
    )


def values_strategy() -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars_strategy(),
        lambda children: (
            st.lists(children, max_size=6)
            | st.dictionaries(st.text(max_size=8), children, max_size=5)
        ),
        max_leaves=30,
    )


def envelope_shaped_strategy() -> st.SearchStrategy[Any]:
    scalar = scalars_strategy()
    leaf = scalar | st.lists(scalar, max_size=4)
    return st.tuples(
        st.lists(leaf, min_size=14, max_size=14),
        st.binary(max_size=200),
        st.binary(min_size=64, max_size=64),
    ).map(list)


FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=250,
    suppress_health_check=list(HealthCheck),
)


def noncanonical_encode(rng: random.Random, value: Any) -> bytes:
    """Encode ``value`` in msgpack, choosing any legal (often not the shortest) form."""
    if value is None:
        return b"\xc0"
    if value is True or value is False:
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int):
        forms: list[bytes] = []
        if 0 <= value <= 0x7F:
            forms.append(bytes([value]))
        if -32 <= value < 0:
            forms.append((value & 0xFF).to_bytes(1, "big"))
        for marker, width in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
            if 0 <= value < 1 << (8 * width):
                forms.append(bytes([marker]) + value.to_bytes(width, "big"))
        for marker, width in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
            if -(1 << (8 * width - 1)) <= value < 1 << (8 * width - 1):
                forms.append(bytes([marker]) + value.to_bytes(width, "big", signed=True))
        return rng.choice(forms)
    if isinstance(value, str):
        raw = value.encode()
        if rng.random() < 0.1:  # text as bin
            return b"\xc6" + len(raw).to_bytes(4, "big") + raw
        heads = [(0xD9, 1), (0xDA, 2), (0xDB, 4)]
        options = [bytes([0xA0 | len(raw)])] if len(raw) < 32 else []
        options += [bytes([m]) + len(raw).to_bytes(w, "big") for m, w in heads if len(raw) < 256**w]
        return rng.choice(options) + raw
    if isinstance(value, bytes):
        heads = [(0xC4, 1), (0xC5, 2), (0xC6, 4)]
        options = [
            bytes([m]) + len(value).to_bytes(w, "big") for m, w in heads if len(value) < 256**w
        ]
        return rng.choice(options) + value
    if isinstance(value, list):
        options = [bytes([0x90 | len(value)])] if len(value) < 16 else []
        options += [
            b"\xdc" + len(value).to_bytes(2, "big"),
            b"\xdd" + len(value).to_bytes(4, "big"),
        ]
        return rng.choice(options) + b"".join(noncanonical_encode(rng, v) for v in value)
    assert isinstance(value, dict)
    keys = list(value)
    if rng.random() < 0.5:
        rng.shuffle(keys)
    else:
        keys.sort(key=lambda k: k.encode())
    options = [bytes([0x80 | len(keys)])] if len(keys) < 16 else []
    options += [b"\xde" + len(keys).to_bytes(2, "big"), b"\xdf" + len(keys).to_bytes(4, "big")]
    body = b"".join(noncanonical_encode(rng, k) + noncanonical_encode(rng, value[k]) for k in keys)
    return rng.choice(options) + body


# --- structure-aware mutation of decoded values -----------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _tweak(rng: random.Random, old: Any, wire: bool) -> Any:
    """A new value near ``old``: same type with an edge value, or another type."""
    if rng.random() < 0.3:
        return random_value(rng, 2, wire=wire)
    if isinstance(old, bool):
        return rng.choice((not old, int(old), None, str(old)))
    if isinstance(old, int):
        return rng.choice((old + 1, old - 1, -old, *_BOUNDARY_INTS, str(old), bool(old)))
    if isinstance(old, str):
        long = old * (300 if len(old) < 100 else 2)
        return rng.choice(
            (
                "", old + "x", old[:-1], old.lower(), old.upper(), long, old + "\x07", old + "\r",
                old.encode(errors="replace"), " " * len(old), old[::-1], rng.choice(WIRE_WORDS),
            )
        )  # fmt: skip
    if isinstance(old, bytes):
        return rng.choice((old[:-1], old + b"\x00", b"", old.hex(), bytes(len(old))))
    if isinstance(old, list):
        return rng.choice(
            ([], old + old, old[::-1], old * 201, {str(i): v for i, v in enumerate(old)})
        )
    if isinstance(old, dict):
        return rng.choice(({}, list(old.values()), dict(reversed(old.items()))))
    return random_value(rng, 2, wire=wire)


def mutate_value(rng: random.Random, value: Any, *, wire: bool = True) -> Any:
    """Apply 1-3 structural edits (replace, delete, insert, nil) at random paths."""
    root: list[Any] = [copy.deepcopy(value)]
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        path = rng.choice(_paths(root[0]))
        parent: Any = root
        key: Any = 0
        for step in path:
            parent, key = parent[key], step
        op = rng.random()
        deletable = isinstance(parent, dict) or (isinstance(parent, list) and parent is not root)
        if op < 0.2 and deletable:
            del parent[key]
        elif op < 0.35 and isinstance(parent, dict):
            parent[rng.choice(WIRE_WORDS)] = random_value(rng, 2, wire=wire)
        elif op < 0.45 and isinstance(parent, list) and parent is not root:
            parent.insert(key, rng.choice((parent[key], random_value(rng, 2, wire=wire))))
        elif op < 0.52:
            parent[key] = None
        else:
            parent[key] = _tweak(rng, parent[key], wire)
    return root[0]


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only the types canonical msgpack may decode to."""
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return value is None or type(value) in (bool, int, str, bytes)


# --- invariants for accepted envelopes ------------------------------------------------


def check_accepted_envelope(envelope: Envelope, data: bytes, secrets: Secrets | None) -> None:
    assert envelope.to_bytes() == data, "accepted envelope does not round-trip to its bytes"
    wire = envelope.header.to_wire()
    assert encode_canonical(wire) == envelope.header_bytes, "header bytes do not match the header"
    assert encode_canonical([wire, envelope.ciphertext, envelope.signature]) == data
    assert Envelope.from_bytes(envelope.to_bytes()) == envelope
    if secrets is None:
        return
    for node in sorted(set(envelope.header.recipients) | {"NL@MA"}):
        if node in secrets:
            content, _ = _attempt((ProtocolError,), envelope.open, node, secrets[node])
            if content is not None:
                assert content.kind == envelope.header.kind
                assert KINDS[content.kind].validate(content.fields) == content.fields


def fuzz_envelope_bytes(
    fuzz: Fuzz, label: str, data: bytes, *, original: bytes | None, signed: bool = False
) -> None:
    """Decode ``data``; unless ``signed`` (re-signed by the test), it may only be
    accepted if it is an envelope that verified before the mutation."""
    with fuzz.case(label, data):
        envelope, _ = _attempt((ProtocolError,), Envelope.from_bytes, data)
        if envelope is None:
            return
        fuzz.accepted += 1
        if not signed:
            assert data in SECRETS_OF, (
                f"a mutated envelope verified (mutation changed the bytes: {data != original})"
            )
        secrets = SECRETS_OF.get(data) or SECRETS_OF.get(original or b"") or _HELPER_SECRETS
        check_accepted_envelope(envelope, data, secrets)


# === 1. Envelope.from_bytes (and .open on anything it accepts) ========================


@pytest.mark.slow
def test_envelope_truncated_at_every_length() -> None:
    fuzz = Fuzz("envelope truncation", 0)
    for data in (ORIGINAL_BYTES[0], ORIGINAL_BYTES[-3]):
        for end in range(len(data) + 1):
            fuzz_envelope_bytes(fuzz, f"prefix {end}", data[:end], original=data)
        for start in range(1, len(data), 3):  # and suffixes
            fuzz_envelope_bytes(fuzz, f"suffix {start}", data[start:], original=data)
    assert fuzz.accepted == 2  # exactly the two whole envelopes
    fuzz.done(2500)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(ALL_MUTATORS))
def test_envelope_mutations(strategy: str) -> None:
    seed = 1000 + sorted(ALL_MUTATORS).index(strategy)
    rng = random.Random(seed)
    mutate = ALL_MUTATORS[strategy]
    fuzz = Fuzz(f"envelope {strategy}", seed)
    sources = ORIGINAL_BYTES + INVALID_ENVELOPES
    for _ in range(800):
        original = rng.choice(sources)
        data = mutate(rng, original)
        fuzz_envelope_bytes(fuzz, strategy, data, original=original)
    fuzz.done(800)


@pytest.mark.slow
def test_envelope_random_bytes() -> None:
    rng = random.Random(2)
    fuzz = Fuzz("envelope random bytes", 2)
    for _ in range(2000):
        data = random_bytes(rng)
        fuzz_envelope_bytes(fuzz, "random", data, original=None)
    # Random bytes after a valid-looking prefix reach the later checks.
    for _ in range(1000):
        prefix = rng.choice(ORIGINAL_BYTES)
        data = prefix[: rng.randrange(len(prefix))] + random_bytes(rng)
        fuzz_envelope_bytes(fuzz, "prefix+random", data, original=prefix)
    assert fuzz.accepted == 0
    fuzz.done(3000)


def _original_parts(data: bytes) -> list[Any]:
    value = decode_canonical(data, DEFAULT_LIMITS, len(data), "envelope")
    assert isinstance(value, list)
    return value


@pytest.mark.slow
def test_envelope_shaped_random_structures() -> None:
    rng = random.Random(3)
    fuzz = Fuzz("envelope-shaped", 3)
    for _ in range(1500):
        header = [random_value(rng) for _ in range(rng.choice((16, 16, 16, 0, 1, 15, 17)))]
        if rng.random() < 0.5:
            header[:1] = [PROTOCOL_VERSION]  # the version spoken, so the layout checks run
        parts = [header, rng.randbytes(rng.choice((0, 15, 16, 17, 100))), rng.randbytes(64)]
        data = encode_canonical(parts)
        fuzz_envelope_bytes(fuzz, "random header", data, original=None)
    # Nearly valid headers: one or two fields of an original replaced (not re-signed).
    for _ in range(2000):
        original = rng.choice(ORIGINAL_BYTES)
        header, ciphertext, signature = _original_parts(original)
        for _ in range(rng.choice((1, 1, 2))):
            at = rng.randrange(len(header))
            header[at] = _tweak(rng, header[at], True)
        if rng.random() < 0.2:
            ciphertext = _tweak(rng, ciphertext, True)
        if rng.random() < 0.1:
            signature = _tweak(rng, signature, True)
        try:
            data = encode_canonical([header, ciphertext, signature])
        except UsageError:
            continue
        fuzz_envelope_bytes(fuzz, "tweaked header", data, original=original)
    fuzz.done(3000)


def _resign(header: list[Any], ciphertext: bytes, seed: bytes) -> bytes:
    unsigned = encode_canonical([header, ciphertext, b""])[:-2]
    return unsigned + encode_canonical(sign(seed, SIGNATURE_DOMAIN, unsigned))


@pytest.mark.slow
def test_envelope_resigned_header_mutations() -> None:
    """Correctly signed envelopes with mutated header fields: every field check runs."""
    rng = random.Random(4)
    fuzz = Fuzz("re-signed header", 4)
    seeds = {
        ed25519_public(NODES["DE@TR"].seed): NODES["DE@TR"].seed,
        **{
            bytes.fromhex(k["signing_public"]): bytes.fromhex(k["signing_seed"])
            for k in (*VALID["keys"].values(), *VALID["officer_keys"].values())
        },
    }
    for _ in range(2500):
        original = rng.choice(ORIGINAL_BYTES)
        header, ciphertext, _ = _original_parts(original)
        seed = seeds[header[3]]
        for _ in range(rng.choice((1, 1, 2))):
            at = rng.randrange(len(header))
            value = header[at]
            if isinstance(value, list) and value and rng.random() < 0.6:
                value = mutate_value(rng, value)  # inside recipients / wrapped keys
            else:
                value = _tweak(rng, value, True)
            header[at] = value
        if rng.random() < 0.05:
            header = header[: rng.randrange(len(header))]
        try:
            data = _resign(header, ciphertext, seed)
        except UsageError:
            continue
        fuzz_envelope_bytes(fuzz, "re-signed", data, original=original, signed=True)
    fuzz.done(2400)


@pytest.mark.slow
@FUZZ_SETTINGS
@given(values_strategy())
def test_envelope_hypothesis_msgpack(value: Any) -> None:
    fuzz = Fuzz("envelope hypothesis", 0)
    fuzz_envelope_bytes(fuzz, "msgpack", encode_canonical(value), original=None)
    fuzz.done(1)


@pytest.mark.slow
@FUZZ_SETTINGS
@given(envelope_shaped_strategy())
def test_envelope_hypothesis_envelope_shaped(parts: list[Any]) -> None:
    fuzz = Fuzz("envelope hypothesis shaped", 0)
    fuzz_envelope_bytes(fuzz, "shaped", encode_canonical(parts), original=None)
    fuzz.done(1)


@pytest.mark.parametrize(
    "value", [None, "93", bytearray(ORIGINAL_BYTES[0]), memoryview(ORIGINAL_BYTES[0]), 0, [1]]
)
def test_envelope_from_non_bytes_is_a_usage_error(value: object) -> None:
    with pytest.raises(UsageError):
        Envelope.from_bytes(value)  # type: ignore[arg-type]


# --- open(): correctly signed envelopes whose encrypted parts are hostile -------------

_AUTHOR = NODES["DE@TR"]
_RECIPIENTS = ("COM@EU", "DE@TR", "FR@TR")
_CONTENT_KEY = derive("fuzz open content key")
# [node, prekey, sealed key] as on the wire: a list of mixed types.
_WRAPPED: dict[str, list[Any]] = {
    node: [node, NODES[node].prekey, wrap_key(NODES[node].prekey, _CONTENT_KEY, derive(node))]
    for node in _RECIPIENTS
}


def forge(
    rng: random.Random,
    kind: str,
    plaintext: bytes,
    *,
    wrapped: list[list[Any]] | None = None,
    commitment: bytes | None = None,
    associated: bytes | None = None,
) -> bytes:
    """A correctly signed envelope carrying arbitrary ciphertext and wrapped keys."""
    nonce = rng.randbytes(24)
    refers = {"retraction": ["retracts", b"\x5e" * 32], "key_share": ["shares", b"\x5e" * 32]}
    header = [
        PROTOCOL_VERSION, "fuzz.ilo", kind, _AUTHOR.public, "DE@TR", None, 1, None,
        1_790_000_000_000, "local", list(_RECIPIENTS), "H1", refers.get(kind),
        commitment if commitment is not None else key_commitment(_CONTENT_KEY),
        wrapped if wrapped is not None else [_WRAPPED[n] for n in _RECIPIENTS], nonce,
    ]  # fmt: skip
    header_bytes = encode_canonical(header)
    ad = associated if associated is not None else CONTENT_DOMAIN + header_bytes
    ciphertext = aead_encrypt(_CONTENT_KEY, nonce, plaintext, ad)
    return _resign(header, ciphertext, _AUTHOR.seed)


def _hostile_plaintext(rng: random.Random, kind: str) -> bytes:
    base = EXAMPLE_CONTENT[kind]
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(list(ALL_MUTATORS.values()))(rng, base)
    if roll < 0.8:
        try:
            return encode_canonical(mutate_value(rng, example(kind)))
        except UsageError:
            return base
    if roll < 0.9:
        return noncanonical_encode(rng, example(kind))
    if roll < 0.95:
        return EXAMPLE_CONTENT[rng.choice(sorted(KINDS))]
    return random_bytes(rng)


@pytest.mark.slow
def test_open_forged_envelopes() -> None:
    rng = random.Random(5)
    fuzz = Fuzz("open forged", 5)
    kinds = sorted(KINDS)
    for number in range(1800):
        kind = rng.choice(kinds)
        mode = rng.choice(("content",) * 6 + ("commitment", "sealed", "ad", "key_swap"))
        plaintext = _hostile_plaintext(rng, kind) if mode == "content" else EXAMPLE_CONTENT[kind]
        wrapped = [list(_WRAPPED[n]) for n in _RECIPIENTS]
        commitment = associated = None
        if mode == "commitment":
            commitment = flip_one(rng, key_commitment(_CONTENT_KEY))
        elif mode == "sealed":
            entry = rng.choice(wrapped)
            entry[2] = rng.choice((flip_one(rng, entry[2]), rng.randbytes(80)))
        elif mode == "ad":
            associated = rng.choice((b"", CONTENT_DOMAIN, flip_one(rng, CONTENT_DOMAIN)))
        elif mode == "key_swap":  # a key sealed to another recipient's prekey
            entry = rng.choice(wrapped)
            entry[2] = wrap_key(NODES["IT@TR"].prekey, _CONTENT_KEY, derive("swap"))
        data = forge(rng, kind, plaintext, wrapped=wrapped, commitment=commitment,
                     associated=associated)  # fmt: skip
        with fuzz.case(f"forged {mode} {kind} #{number} plaintext {plaintext.hex()}", data):
            envelope = Envelope.from_bytes(data)  # well formed and signed: must decode
            check_accepted_envelope(envelope, data, None)
            for node in (*_RECIPIENTS, "IT@TR"):
                content, exc = _attempt((ProtocolError,), envelope.open, node, NODES[node].secrets)
                if node == "IT@TR":
                    assert isinstance(exc, NotARecipientError)
                elif mode == "commitment":
                    assert isinstance(exc, KeyCommitmentError)
                elif mode in ("ad", "sealed", "key_swap"):
                    assert exc is None or isinstance(exc, DecryptionError)
                elif content is None:
                    assert isinstance(exc, ContentError), f"{type(exc).__name__} from content"
                else:
                    fuzz.accepted += 1
                    assert encode_canonical(content.fields) == plaintext
                    assert content.fields == KINDS[kind].validate(content.fields)
    fuzz.done(1800)


# === 2. ForkProof.from_bytes ==========================================================


def fuzz_fork_proof(
    fuzz: Fuzz, label: str, data: bytes, *, signed_parts: tuple[bytes, bytes] | None = None
) -> None:
    with fuzz.case(label, data):
        proof, exc = _attempt((ProtocolError,), ForkProof.from_bytes, data)
        if signed_parts is not None:  # an oracle: whether the pair is a fork
            a, b = (Envelope.from_bytes(p) for p in signed_parts)
            fork = (
                a.header.author_key == b.header.author_key
                and a.header.seq == b.header.seq
                and a.id < b.id
            )
            assert (proof is not None) == fork, f"fork proof decision wrong ({exc!r})"
        if proof is None:
            return
        fuzz.accepted += 1
        assert proof.to_bytes() == data, "accepted fork proof does not round-trip"
        assert proof.first.header.author_key == proof.second.header.author_key
        assert proof.first.header.seq == proof.second.header.seq
        assert proof.first.id < proof.second.id
        if signed_parts is None:
            assert data == FORK_PROOF, "a mutated fork proof verified"


@pytest.mark.slow
def test_fork_proof_truncated_at_every_length() -> None:
    fuzz = Fuzz("fork proof truncation", 0)
    for end in range(len(FORK_PROOF) + 1):
        fuzz_fork_proof(fuzz, f"prefix {end}", FORK_PROOF[:end])
    assert fuzz.accepted == 1
    fuzz.done(len(FORK_PROOF))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(ALL_MUTATORS))
def test_fork_proof_mutations(strategy: str) -> None:
    seed = 2000 + sorted(ALL_MUTATORS).index(strategy)
    rng = random.Random(seed)
    fuzz = Fuzz(f"fork proof {strategy}", seed)
    sources = [FORK_PROOF, *INVALID_FORK_PROOFS]
    for _ in range(400):
        fuzz_fork_proof(fuzz, strategy, ALL_MUTATORS[strategy](rng, rng.choice(sources)))
    fuzz.done(400)


@pytest.mark.slow
def test_fork_proof_structures() -> None:
    rng = random.Random(6)
    fuzz = Fuzz("fork proof structures", 6)
    pool = ORIGINAL_BYTES
    versions = [1, 1, 1, 0, 2, -1, True, "1", None, b"\x01", 2**64 - 1, [1]]
    for _ in range(1500):
        a, b = rng.choice(pool), rng.choice(pool)
        if rng.random() < 0.3:
            a, b = sorted((a, b), key=lambda d: Envelope.from_bytes(d).id)
        version = rng.choice(versions)
        roll = rng.random()
        if roll < 0.5 and version == 1 and type(version) is int:
            fuzz_fork_proof(fuzz, "pair", encode_canonical([1, a, b]), signed_parts=(a, b))
            continue
        parts: list[Any] = [version, a, b]
        if roll < 0.7:
            at = rng.choice((1, 2))
            parts[at] = rng.choice((stacked(rng, parts[at]), random_value(rng), b""))
        elif roll < 0.8:
            parts = parts[: rng.randrange(3)] if rng.random() < 0.5 else [*parts, random_value(rng)]
        elif roll < 0.9:
            parts = [random_value(rng) for _ in range(3)]
        else:
            parts = random_value(rng)
        well_formed = (
            isinstance(parts, list)
            and len(parts) == 3
            and type(parts[0]) is int
            and parts[0] == 1
            and all(type(p) is bytes and p in ORIGINAL_SET for p in parts[1:])
        )
        signed_parts = (parts[1], parts[2]) if well_formed else None
        fuzz_fork_proof(fuzz, "structure", encode_canonical(parts), signed_parts=signed_parts)
    for _ in range(500):
        fuzz_fork_proof(fuzz, "random bytes", random_bytes(rng))
    fuzz.done(2000)


@pytest.mark.slow
@FUZZ_SETTINGS
@given(values_strategy())
def test_fork_proof_hypothesis_msgpack(value: Any) -> None:
    fuzz = Fuzz("fork proof hypothesis", 0)
    fuzz_fork_proof(fuzz, "msgpack", encode_canonical(value))
    fuzz.done(1)


# === 3. parse_content, for every kind =================================================


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_parse_content(kind: str) -> None:
    seed = 3000 + sorted(KINDS).index(kind)
    rng = random.Random(seed)
    fuzz = Fuzz(f"parse_content {kind}", seed)
    assert parse_content(kind, EXAMPLE_CONTENT[kind]).fields == example(kind)
    for _ in range(500):
        plaintext = _hostile_plaintext(rng, kind)
        with fuzz.case(kind, plaintext):
            content, exc = _attempt((ProtocolError,), parse_content, kind, plaintext)
            if content is None:
                assert isinstance(exc, ContentError), f"{type(exc).__name__}, not ContentError"
                continue
            fuzz.accepted += 1
            assert content.kind == kind
            assert encode_canonical(content.fields) == plaintext, "accepted non-canonical content"
            assert KINDS[kind].validate(content.fields) == content.fields
    fuzz.done(500)


# === 4. decode_canonical ==============================================================


def fuzz_canonical(
    fuzz: Fuzz, label: str, data: bytes, max_bytes: int, limits: Limits = DEFAULT_LIMITS
) -> Any:
    with fuzz.case(f"{label} max_bytes={max_bytes} {limits}", data):
        value, exc = _attempt((ProtocolError,), decode_canonical, data, limits, max_bytes, "x")
        if exc is not None:
            assert isinstance(exc, DecodeError), f"{type(exc).__name__}, not a DecodeError"
            return exc
        fuzz.accepted += 1
        assert len(data) <= max_bytes
        assert _plain(value), "decoded value holds a type canonical msgpack does not allow"
        assert encode_canonical(value) == data, "accepted bytes are not the canonical form"
        return value
    return None


_TIGHT = Limits(max_str_bytes=8, max_container_len=3, max_depth=2)


def _max_bytes(rng: random.Random, data: bytes) -> int:
    return rng.choice((1 << 20, 1 << 20, len(data), len(data) + 1, max(len(data) - 1, 1), 16))


@pytest.mark.slow
def test_decode_canonical_mutated() -> None:
    rng = random.Random(7)
    fuzz = Fuzz("decode_canonical mutated", 7)
    sources = ORIGINAL_BYTES + list(EXAMPLE_CONTENT.values()) + [FORK_PROOF]
    for _ in range(3000):
        data = rng.choice(list(ALL_MUTATORS.values()))(rng, rng.choice(sources))
        limits = _TIGHT if rng.random() < 0.15 else DEFAULT_LIMITS
        fuzz_canonical(fuzz, "mutated", data, _max_bytes(rng, data), limits)
    for _ in range(2000):
        data = random_bytes(rng)
        fuzz_canonical(fuzz, "random bytes", data, _max_bytes(rng, data))
    # Extension objects (msgpack's own timestamp type -1 included), alone or inside
    # containers, must all be refused.
    for _ in range(600):
        code, ext = extension_object(rng)
        data = rng.choice((b"", b"\x91", b"\x81\xa1a")) + ext
        result = fuzz_canonical(fuzz, f"extension type {code}", data, 1 << 20)
        with fuzz.case(f"extension type {code} must be refused", data):
            assert isinstance(result, DecodeError), f"extension accepted as {result!r}"
    fuzz.done(6000)


def extension_object(rng: random.Random) -> tuple[int, bytes]:
    """A msgpack extension object (biased to type -1, the timestamp) and its type."""
    code = rng.choice((-1, -1, -1, 0, 1, 127, -128, -2))
    if rng.random() < 0.6:
        size = rng.choice((1, 2, 4, 4, 8, 8, 16))
        head = bytes([{1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}[size], code & 0xFF])
    else:
        size = rng.choice((0, 1, 4, 8, 12, 12, 17))
        width = rng.choice((1, 2, 4))
        marker = {1: 0xC7, 2: 0xC8, 4: 0xC9}[width]
        head = bytes([marker]) + size.to_bytes(width, "big") + bytes([code & 0xFF])
    payload = rng.choice((bytes(size), rng.randbytes(size), b"\x00" * (size - 1) + b"\x01"))
    return code, head + payload[:size]


@pytest.mark.slow
def test_decode_canonical_encodings() -> None:
    """Canonical bytes are accepted as their value; any other encoding is refused."""
    rng = random.Random(8)
    fuzz = Fuzz("decode_canonical encodings", 8)
    values = [random_value(rng) for _ in range(1200)]
    values += [mutate_value(rng, example(rng.choice(sorted(KINDS)))) for _ in range(800)]
    for value in values:
        try:
            canonical = encode_canonical(value)
        except UsageError:  # an integer the edits pushed outside msgpack's range
            continue
        with fuzz.case("canonical", canonical):
            decoded, _ = _attempt((ProtocolError,), decode_canonical, canonical, DEFAULT_LIMITS,
                                  len(canonical), "x")  # fmt: skip
            assert decoded == value or decoded is None  # deeper than 8 levels is refused
        for _ in range(2):
            other = noncanonical_encode(rng, value)
            result = fuzz_canonical(fuzz, "re-encoded", other, 1 << 20)
            with fuzz.case("re-encoded must be refused unless canonical", other):
                if other != canonical:
                    assert isinstance(result, ProtocolError), "a non-canonical form was accepted"
    fuzz.done(5000)


@pytest.mark.slow
@FUZZ_SETTINGS
@given(values_strategy(), st.integers(min_value=0, max_value=6), st.randoms(use_true_random=False))
def test_decode_canonical_hypothesis(value: Any, cut: int, rnd: random.Random) -> None:
    fuzz = Fuzz("decode_canonical hypothesis", 0)
    data = encode_canonical(value)
    fuzz_canonical(fuzz, "canonical", data, len(data))
    fuzz_canonical(fuzz, "truncated", data[: max(0, len(data) - cut)], 1 << 20)
    fuzz_canonical(fuzz, "re-encoded", noncanonical_encode(rnd, value), 1 << 20)
    fuzz_canonical(fuzz, "tight limits", data, 1 << 20, _TIGHT)
    fuzz.done(4)


# === 5. Merkle proof verifiers ========================================================

_TREE_SIZE = 70
_LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(_TREE_SIZE)]
_TREE = MerkleTree(_LEAVES)
_BAD_TYPES: list[Any] = [None, -1, True, 1.0, "1", b"\x01", bytearray(32)]


def _bad_hash(rng: random.Random) -> Any:
    return rng.choice(
        (None, "x" * 32, bytearray(32), bytes(31), bytes(33), b"", 32, memoryview(bytes(32)))
    )


def _random_size(rng: random.Random) -> int:
    return rng.choice((0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 2**32, 2**63, 2**64 + 1, 2**200,
                       rng.randrange(200), rng.randrange(2**70)))  # fmt: skip


def _random_proof(rng: random.Random) -> list[bytes]:
    sizes = (32, 32, 32, 32, 0, 1, 31, 33, 64)
    return [rng.randbytes(rng.choice(sizes)) for _ in range(rng.choice((0, 1, 2, 6, 7, 80)))]


def _mutate_proof(rng: random.Random, proof: list[Any]) -> tuple[list[Any], str]:
    """Change the proof's hashes; return the new proof and what was done."""
    proof = list(proof)
    ops = ["insert", "replace_random"]
    if proof:
        ops += ["flip", "flip", "drop", "duplicate", "resize", "bad_element"]
    if len(set(proof)) > 1:
        ops.append("reverse")
    op = rng.choice(ops)
    at = rng.randrange(len(proof)) if proof else 0
    if op == "insert":
        proof.insert(rng.randrange(len(proof) + 1), rng.randbytes(32))
    elif op == "replace_random":
        proof = [rng.randbytes(32) for _ in range(max(1, len(proof)))]
    elif op == "flip":
        proof[at] = flip_one(rng, proof[at])
    elif op == "drop":
        del proof[at]
    elif op == "duplicate":
        proof.insert(at, proof[at])
    elif op == "resize":
        proof[at] = rng.choice((proof[at][:-1], proof[at] + b"\x00", b""))
    elif op == "bad_element":
        proof[at] = rng.choice((None, proof[at].hex(), bytearray(proof[at]), 0))
    else:
        proof.reverse()
    return proof, op


def fuzz_merkle(
    fuzz: Fuzz, label: str, fn: Callable[..., None], args: tuple[Any, ...], expect: str
) -> None:
    """``expect``: 'pass', 'fail' (ProofError), 'usage' (UsageError) or 'any' (pass or
    ProofError). Only a wrong Python type, a negative size, a root or leaf that is
    not 32 bytes or old size > new size may be a UsageError."""
    with fuzz.case(label, args):
        _, exc = _attempt((ProofError, UsageError), fn, *args)
        if expect == "pass":
            assert exc is None, f"a valid proof was refused: {exc!r}"
        elif expect == "usage":
            assert isinstance(exc, UsageError), f"expected UsageError, got {exc!r}"
        elif expect == "fail":
            assert isinstance(exc, ProofError), f"expected ProofError, got {exc!r}"
        else:
            assert exc is None or isinstance(exc, ProofError), f"UsageError for well-typed {exc!r}"
        if exc is None:
            fuzz.accepted += 1


@pytest.mark.slow
def test_verify_inclusion_fuzz() -> None:
    rng = random.Random(9)
    fuzz = Fuzz("verify_inclusion", 9)
    for _ in range(3000):
        size = rng.randrange(1, _TREE_SIZE + 1)
        index = rng.randrange(size)
        leaf, root = _LEAVES[index], _TREE.root(size)
        proof = _TREE.inclusion_proof(index, size)
        fuzz_merkle(fuzz, "valid", verify_inclusion, (leaf, index, size, proof, root), "pass")
        roll = rng.random()
        if roll < 0.45:
            bad, op = _mutate_proof(rng, proof)
            expect = "usage" if op == "bad_element" else "fail"
            fuzz_merkle(fuzz, op, verify_inclusion, (leaf, index, size, bad, root), expect)
        elif roll < 0.55:
            args = (flip_one(rng, leaf), index, size, proof, root)
            fuzz_merkle(fuzz, "flip leaf", verify_inclusion, args, "fail")
        elif roll < 0.62:
            args = (leaf, index, size, proof, flip_one(rng, root))
            fuzz_merkle(fuzz, "flip root", verify_inclusion, args, "fail")
        elif roll < 0.82:
            index2 = rng.choice((_random_size(rng), size, index + 1, index ^ 1))
            size2 = rng.choice((size, _random_size(rng), size + 1, size - 1, index))
            args = (leaf, index2, size2, proof, root)
            fuzz_merkle(fuzz, "index/size", verify_inclusion, args, "any")
        elif roll < 0.9:
            args = (rng.randbytes(32), _random_size(rng), _random_size(rng), _random_proof(rng),
                    rng.randbytes(32))  # fmt: skip
            fuzz_merkle(fuzz, "random", verify_inclusion, args, "fail")
        else:
            args_list: list[Any] = [leaf, index, size, proof, root]
            at = rng.choice((0, 1, 2, 4))
            args_list[at] = _bad_hash(rng) if at in (0, 4) else rng.choice(_BAD_TYPES[:5])
            fuzz_merkle(fuzz, "bad type", verify_inclusion, tuple(args_list), "usage")
    fuzz.done(6000)


@pytest.mark.slow
def test_verify_consistency_fuzz() -> None:
    rng = random.Random(10)
    fuzz = Fuzz("verify_consistency", 10)
    for _ in range(3000):
        new = rng.randrange(0, _TREE_SIZE + 1)
        old = rng.choice((0, new, rng.randrange(new + 1)))
        old_root, new_root = _TREE.root(old), _TREE.root(new)
        proof = _TREE.consistency_proof(old, new)
        args: tuple[Any, ...] = (old, new, old_root, new_root, proof)
        fuzz_merkle(fuzz, "valid", verify_consistency, args, "pass")
        roll = rng.random()
        if roll < 0.45:
            bad, op = _mutate_proof(rng, proof)
            expect = "usage" if op == "bad_element" else "fail"
            fuzz_merkle(fuzz, op, verify_consistency, (old, new, old_root, new_root, bad), expect)
        elif roll < 0.55:
            args = (old, new, flip_one(rng, old_root), new_root, proof)
            fuzz_merkle(fuzz, "flip old root", verify_consistency, args, "fail")
        elif roll < 0.62:
            # From size 0 the new root is not checked: every tree extends the empty one.
            args = (old, new, old_root, flip_one(rng, new_root), proof)
            fuzz_merkle(
                fuzz, "flip new root", verify_consistency, args, "any" if old == 0 else "fail"
            )
        elif roll < 0.82:
            old2 = rng.choice((old, old + 1, old - 1, 0, _random_size(rng)))
            new2 = rng.choice((new, new + 1, _random_size(rng), old2 + rng.randrange(3)))
            args = (old2, new2, old_root, new_root, proof)
            expect = "usage" if old2 < 0 or old2 > new2 else "any"
            fuzz_merkle(fuzz, "sizes", verify_consistency, args, expect)
        elif roll < 0.9:
            a, b = sorted((_random_size(rng), _random_size(rng)))
            args = (a, b, rng.choice((rng.randbytes(32), EMPTY_ROOT)), rng.randbytes(32),
                    _random_proof(rng))  # fmt: skip
            # From size 0 an empty proof and the empty root do prove consistency.
            fuzz_merkle(fuzz, "random", verify_consistency, args, "any" if a == 0 else "fail")
        else:
            args_list: list[Any] = [old, new, old_root, new_root, proof]
            at = rng.choice((0, 1, 2, 3))
            args_list[at] = _bad_hash(rng) if at in (2, 3) else rng.choice(_BAD_TYPES[:5])
            fuzz_merkle(fuzz, "bad type", verify_consistency, tuple(args_list), "usage")
    fuzz.done(6000)


# === 6. KindSpec.validate =============================================================


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kind_validate(kind: str) -> None:
    seed = 4000 + sorted(KINDS).index(kind)
    rng = random.Random(seed)
    spec = KINDS[kind]
    fuzz = Fuzz(f"validate {kind}", seed)
    for number in range(350):
        roll = rng.random()
        if roll < 0.7:
            value = mutate_value(rng, example(kind), wire=rng.random() < 0.8)
        elif roll < 0.85:
            value = {f.name: random_value(rng, 1) for f in spec.fields if rng.random() < 0.9}
        else:
            value = random_value(rng, wire=False)
        with fuzz.case(f"{kind} #{number}", value):
            out, exc = _attempt((ProtocolError,), spec.validate, value)
            if exc is not None:
                assert isinstance(exc, ContentError), f"{type(exc).__name__}, not ContentError"
                assert exc.message.startswith(kind), "error message does not start with a path"
                continue
            fuzz.accepted += 1
            assert spec.validate(out) == out, "validation is not idempotent"
            encoded = encode_canonical(out)
            assert len(encoded) <= spec.max_encoded_size()
            assert parse_content(kind, encoded).fields == out
    fuzz.done(350)


# === Known bugs: minimal reproductions ================================================


@pytest.mark.parametrize("hex_input", ["d6ff00000000", "91d6ff00000001", "d7ff0000000400000000"])
def test_decode_canonical_refuses_timestamp_extension(hex_input: str) -> None:
    # Regression: msgpack decodes its timestamp extension (type -1) itself, without
    # calling ext_hook; these canonical-looking inputs used to decode to msgpack.Timestamp.
    with pytest.raises(DecodeError):
        decode_canonical(bytes.fromhex(hex_input), DEFAULT_LIMITS, 100, "x")


def test_deep_nesting_cannot_be_configured_past_the_stack() -> None:
    with pytest.raises(UsageError):
        Limits(max_depth=5000)
    data = b"\x91" * 1000 + b"\xc0"
    with pytest.raises(ProtocolError):
        decode_canonical(data, Limits(max_depth=64), 1 << 20, "x")


@pytest.mark.parametrize("proof", [None, 5])
def test_merkle_non_iterable_proof_is_a_usage_error(proof: Any) -> None:
    with pytest.raises(UsageError):
        verify_inclusion(_LEAVES[0], 0, 1, proof, _LEAVES[0])
    with pytest.raises(UsageError):
        verify_consistency(1, 2, _TREE.root(1), _TREE.root(2), proof)


def test_fuzz_inputs_are_deterministic() -> None:
    """The mutators depend only on their seed, so a failure replays from seed and case."""
    for name, mutate in ALL_MUTATORS.items():
        a, b = random.Random(42), random.Random(42)
        assert [mutate(a, ORIGINAL_BYTES[0]) for _ in range(20)] == [
            mutate(b, ORIGINAL_BYTES[0]) for _ in range(20)
        ], name
    assert [_h[0] for _h in msgpack_headers(b"\x92\xa1a\xc4\x01x")] == [0, 1, 3]
