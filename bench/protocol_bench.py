"""Protocol core benchmark: envelopes sealed and opened per second, set against
the raw libsodium primitives they are made of, all measured in one run.

Run from the repository root (nothing needs installing beyond the project's
dependencies)::

    python bench/protocol_bench.py [--seconds 2] [--repeats 10] [--json] [--profile]
    python -m bench.protocol_bench ...          # equivalent

What is measured (single thread, one process):

* ``seal``: :func:`protocol.envelope.seal` of the ``smuggling_network_alert``
  example to 30 recipients (30 parties ``@TR``, distribution ``local``, one
  X25519 prekey each): schema validation, canonical encoding, 30 sealed-box key
  wraps, encryption, signing, and the decode-and-verify ``seal`` does of its own
  output;
* ``open``: :meth:`Envelope.from_bytes` (size caps, canonical check, header
  checks, signature verification) followed by :meth:`Envelope.open` as one
  recipient (unwrap, key commitment, decryption, content parse and validation);
* the raw primitives on inputs of exactly the sizes the envelope has: Ed25519
  sign and verify (pynacl ``SigningKey``/``VerifyKey`` built once, over the
  domain prefix plus the signed bytes), ``crypto_box_seal`` of a 32-byte key
  and ``crypto_box_seal_open``, XChaCha20-Poly1305-IETF encryption and
  decryption of the content with the header as associated data.

From the primitives it derives what seal and open would cost if the protocol
added nothing: ``seal floor = 1 / (1/sign + N/wrap + 1/encrypt)`` with N the
number of wrapped keys, ``open floor = 1 / (1/verify + 1/unwrap + 1/decrypt)``,
and reports measured/floor against a target of 0.8.

Every figure is the best of ``--repeats`` timed loops of about
``--seconds / --repeats`` each, and the repetitions of all measurements are
interleaved, so that a burst of load on a shared machine hits the envelope
operations and the primitives they are compared with alike. Read the ratios,
not the absolute rates.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import datetime
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import nacl  # noqa: E402
import nacl.bindings as sodium  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402

from protocol.canonical import encode_canonical  # noqa: E402
from protocol.envelope import CONTENT_DOMAIN, SIGNATURE_DOMAIN, Envelope, seal  # noqa: E402
from protocol.examples import example  # noqa: E402
from protocol.identifiers import MEMBER_STATES  # noqa: E402

KIND = "smuggling_network_alert"
NETWORK = "bench.ilo"
HOST = "TR"
AUTHOR = f"DE@{HOST}"
READER = f"FR@{HOST}"
RECIPIENT_COUNT = 30
CREATED_MS = 1_790_000_000_000
TARGET_RATIO = 0.8
CONTENT_KEY_BYTES = 32
# Calibration: grow the loop until one timed run takes at least this long.
_CALIBRATION_SECONDS = 0.02


def _derive(label: str) -> bytes:
    return hashlib.sha256(b"ilo-node bench: " + label.encode()).digest()


# --- the fixture --------------------------------------------------------------


@dataclass
class Fixture:
    seal_args: dict[str, Any]
    raw: bytes
    reader_secrets: dict[bytes, bytes]
    signing_seed: bytes
    sign_input: bytes
    associated_data: bytes
    plaintext: bytes
    ciphertext: bytes
    nonce: bytes
    content_key: bytes
    wrapped: bytes
    wrapped_key_count: int
    reader_public: bytes
    reader_secret: bytes


def build_fixture() -> Fixture:
    # The recipients docs/performance.md measured: pinned, so that EU bodies added to
    # EU_INSTITUTIONS later do not change the envelope under the published figures.
    parties = sorted(MEMBER_STATES | {"COM", "EBCG"})[:RECIPIENT_COUNT]
    nodes = [f"{party}@{HOST}" for party in parties]
    if AUTHOR not in nodes or READER not in nodes:
        raise SystemExit("bench fixture: author and reader must be among the recipients")
    secrets = {node: _derive("prekey " + node) for node in nodes}
    publics = {node: sodium.crypto_scalarmult_base(s) for node, s in secrets.items()}
    seed = _derive("seed " + AUTHOR)
    seal_args: dict[str, Any] = {
        "signing_seed": seed,
        "network": NETWORK,
        "kind": KIND,
        "author_node": AUTHOR,
        "seq": 1,
        "prev": None,
        "created_ms": CREATED_MS,
        "distribution": "local",
        "recipient_keys": {node: [publics[node]] for node in nodes},
        "handling": "H1",
        "content": example(KIND),
    }
    envelope = seal(**seal_args)
    raw = envelope.to_bytes()
    reader_secrets = {publics[READER]: secrets[READER]}
    content = Envelope.from_bytes(raw).open(READER, reader_secrets)
    if content.fields != example(KIND):
        raise SystemExit("bench fixture: the opened content differs from what was sealed")
    plaintext = encode_canonical(example(KIND))
    if (
        len(envelope.ciphertext)
        != len(plaintext) + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES
    ):
        raise SystemExit("bench fixture: content size does not match the ciphertext")
    wrapped = envelope.wrapped_for(READER)[0].sealed
    # Primitive inputs of the envelope's own sizes (the content key is a fresh one).
    content_key = os.urandom(CONTENT_KEY_BYTES)
    nonce = os.urandom(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    associated_data = CONTENT_DOMAIN + envelope.header_bytes
    return Fixture(
        seal_args=seal_args,
        raw=raw,
        reader_secrets=reader_secrets,
        signing_seed=seed,
        sign_input=SIGNATURE_DOMAIN + raw[: len(raw) - 2 - len(envelope.signature)],
        associated_data=associated_data,
        plaintext=plaintext,
        ciphertext=sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, associated_data, nonce, content_key
        ),
        nonce=nonce,
        content_key=content_key,
        wrapped=wrapped,
        wrapped_key_count=len(envelope.header.wrapped_keys),
        reader_public=publics[READER],
        reader_secret=secrets[READER],
    )


# --- the operations -----------------------------------------------------------


def operations(fx: Fixture) -> dict[str, Callable[[], object]]:
    seal_args = fx.seal_args
    raw = fx.raw
    reader_secrets = fx.reader_secrets
    signing_key = SigningKey(fx.signing_seed)
    verify_key = signing_key.verify_key
    signature = signing_key.sign(fx.sign_input).signature
    pk, sk = fx.reader_public, fx.reader_secret
    key, nonce, ad = fx.content_key, fx.nonce, fx.associated_data
    plaintext, ciphertext, wrapped, sign_input = (
        fx.plaintext,
        fx.ciphertext,
        fx.wrapped,
        fx.sign_input,
    )
    encrypt = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt
    decrypt = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt
    box_seal, box_seal_open = sodium.crypto_box_seal, sodium.crypto_box_seal_open

    def do_seal() -> object:
        return seal(**seal_args)

    def do_open() -> object:
        # The definition of "open": decode + verify + unwrap + decrypt.
        envelope = Envelope.from_bytes(raw)
        return envelope.decrypt(envelope.unwrap_content_key(READER, reader_secrets))

    def do_open_validated() -> object:
        # What a node does for a message addressed to it: also parse the content
        # and validate it against the kind's schema (pure Python, not in the floor).
        return Envelope.from_bytes(raw).open(READER, reader_secrets)

    def do_sign() -> object:
        return signing_key.sign(sign_input)

    def do_verify() -> object:
        return verify_key.verify(sign_input, signature)

    def do_wrap() -> object:
        return box_seal(key, pk)

    def do_unwrap() -> object:
        return box_seal_open(wrapped, pk, sk)

    def do_encrypt() -> object:
        return encrypt(plaintext, ad, nonce, key)

    def do_decrypt() -> object:
        return decrypt(ciphertext, ad, nonce, key)

    # Check the primitives do what they are meant to before timing them.
    if (
        box_seal_open(box_seal(key, pk), pk, sk) != key
        or len(box_seal_open(wrapped, pk, sk)) != CONTENT_KEY_BYTES
    ):
        raise SystemExit("bench: sealed box round trip failed")
    if do_decrypt() != plaintext:
        raise SystemExit("bench: decryption failed")
    do_verify()
    return {
        "seal": do_seal,
        "open": do_open,
        "open_validated": do_open_validated,
        "ed25519_sign": do_sign,
        "ed25519_verify": do_verify,
        "box_seal_wrap": do_wrap,
        "box_seal_open_unwrap": do_unwrap,
        "xchacha20poly1305_encrypt": do_encrypt,
        "xchacha20poly1305_decrypt": do_decrypt,
    }


# --- timing -------------------------------------------------------------------


@dataclass
class Measurement:
    name: str
    fn: Callable[[], object]
    loops: int = 0
    samples: list[float] = field(default_factory=list)  # seconds per operation

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def rate(self) -> float:
        return 1.0 / self.best

    @property
    def median_rate(self) -> float:
        return 1.0 / statistics.median(self.samples)


def _timed(fn: Callable[[], object], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return time.perf_counter() - start


def _calibrate(fn: Callable[[], object], seconds: float) -> int:
    fn()  # warm caches and lazy imports
    loops = 1
    while True:
        elapsed = _timed(fn, loops)
        if elapsed >= _CALIBRATION_SECONDS:
            return max(1, round(loops * seconds / elapsed))
        loops *= 2


def measure(
    ops: dict[str, Callable[[], object]], seconds: float, repeats: int
) -> dict[str, Measurement]:
    """Best of ``repeats`` interleaved runs of ~``seconds / repeats`` each per operation."""
    measurements = {name: Measurement(name, fn) for name, fn in ops.items()}
    for m in measurements.values():
        m.loops = _calibrate(m.fn, seconds / repeats)
    for _ in range(repeats):
        for m in measurements.values():
            m.samples.append(_timed(m.fn, m.loops) / m.loops)
    return measurements


# --- platform -----------------------------------------------------------------


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _libsodium_version() -> str:
    """libsodium's version: asked of the library if it exports it, else pynacl's changelog."""
    so = next(Path(nacl.__file__).parent.glob("_sodium*.so"), None)
    if so is not None:
        try:
            fn = ctypes.CDLL(str(so)).sodium_version_string
        except (OSError, AttributeError):
            pass
        else:
            fn.restype = ctypes.c_char_p
            return f"{fn().decode()} (shared library)"
    try:
        meta = importlib.metadata.distribution("pynacl").read_text("METADATA") or ""
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
    match = re.search(r"libsodium`` to (\S+)", meta)
    return f"{match.group(1)} (bundled in the pynacl wheel)" if match else "bundled (unknown)"


def platform_info() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": _cpu_model(),
        "nproc": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "pynacl": importlib.metadata.version("pynacl"),
        "libsodium": _libsodium_version(),
        "msgpack": importlib.metadata.version("msgpack"),
    }


# --- report -------------------------------------------------------------------


def report(fx: Fixture, ms: dict[str, Measurement], seconds: float, repeats: int) -> dict[str, Any]:
    n = fx.wrapped_key_count
    sec = {name: m.best for name, m in ms.items()}
    seal_floor = 1.0 / (
        sec["ed25519_sign"] + n * sec["box_seal_wrap"] + sec["xchacha20poly1305_encrypt"]
    )
    open_floor = 1.0 / (
        sec["ed25519_verify"] + sec["box_seal_open_unwrap"] + sec["xchacha20poly1305_decrypt"]
    )
    ratios = {}
    for name, floor in (
        ("seal", seal_floor),
        ("open", open_floor),
        ("open_validated", open_floor),
    ):
        ratio = ms[name].rate / floor
        target = TARGET_RATIO if name != "open_validated" else None
        ratios[name] = {
            "measured_per_s": ms[name].rate,
            "floor_per_s": floor,
            "ratio": ratio,
            "target": target,
            "verdict": "info" if target is None else ("PASS" if ratio >= target else "BELOW"),
        }
    return {
        "benchmark": "protocol core (bench/protocol_bench.py)",
        "platform": platform_info(),
        "settings": {"seconds_per_measurement": seconds, "repeats": repeats},
        "workload": {
            "kind": KIND,
            "recipients": RECIPIENT_COUNT,
            "wrapped_keys": n,
            "distribution": "local",
            "reader": READER,
            "envelope_bytes": len(fx.raw),
            "signed_bytes": len(fx.sign_input),
            "content_bytes": len(fx.plaintext),
            "associated_data_bytes": len(fx.associated_data),
        },
        "rates": {
            name: {
                "best_per_s": m.rate,
                "median_per_s": m.median_rate,
                "best_us": m.best * 1e6,
                "loops": m.loops,
                "samples_us": [s * 1e6 for s in m.samples],
            }
            for name, m in ms.items()
        },
        "floors": ratios,
    }


_LABELS = {
    "seal": "seal() to {n} recipients",
    "open": "from_bytes() + unwrap + decrypt, 1 recipient",
    "open_validated": "from_bytes() + open() incl. content schema",
    "ed25519_sign": "Ed25519 sign, {signed} B",
    "ed25519_verify": "Ed25519 verify, {signed} B",
    "box_seal_wrap": "crypto_box_seal, 32 B",
    "box_seal_open_unwrap": "crypto_box_seal_open, 80 B",
    "xchacha20poly1305_encrypt": "XChaCha20-Poly1305 encrypt, {content} B + {ad} B AD",
    "xchacha20poly1305_decrypt": "XChaCha20-Poly1305 decrypt, {content} B + {ad} B AD",
}


def print_text(result: dict[str, Any]) -> None:
    p, w = result["platform"], result["workload"]
    fmt = {
        "n": w["recipients"],
        "signed": w["signed_bytes"],
        "content": w["content_bytes"],
        "ad": w["associated_data_bytes"],
    }
    print("Protocol core benchmark (bench/protocol_bench.py)")
    print(f"  date       {p['date']}")
    print(f"  cpu        {p['cpu_model']} ({p['nproc']} usable CPUs), single thread")
    print(f"  python     {p['python']} on {p['platform']}")
    print(f"  pynacl     {p['pynacl']}, libsodium {p['libsodium']}, msgpack {p['msgpack']}")
    s = result["settings"]
    print(
        f"  timing     best of {s['repeats']} interleaved runs, ~{s['seconds_per_measurement']:g} s"
    )
    print(
        f"  workload   {w['kind']} to {w['recipients']} recipients ({w['wrapped_keys']} wrapped "
        f"keys, distribution {w['distribution']}), opened as {w['reader']}"
    )
    print(
        f"  envelope   {w['envelope_bytes']} B (signed part {w['signed_bytes']} B incl. domain, "
        f"content {w['content_bytes']} B, AD {w['associated_data_bytes']} B)"
    )
    print()
    print(f"  {'operation':<52} {'best /s':>11} {'median /s':>11} {'best µs':>10}")
    for name, r in result["rates"].items():
        label = _LABELS[name].format(**fmt)
        rates = f"{r['best_per_s']:>11,.0f} {r['median_per_s']:>11,.0f}"
        print(f"  {label:<52} {rates} {r['best_us']:>10.1f}")
    print()
    print("  floors: seal = 1/(1/sign + N/wrap + 1/encrypt)")
    print("          open = 1/(1/verify + 1/unwrap + 1/decrypt)")
    print(f"  {'':<14} {'measured /s':>12} {'floor /s':>10} {'ratio':>7} {'target':>7}  verdict")
    for name, f in result["floors"].items():
        print(
            f"  {name:<14} {f['measured_per_s']:>12,.1f} {f['floor_per_s']:>10,.1f} "
            f"{f['ratio']:>7.3f} {f['target'] if f['target'] is not None else '-':>7}  "
            f"{f['verdict']}"
        )


def profile(ops: dict[str, Callable[[], object]], seconds: float, out: TextIO) -> None:
    """cProfile ``seal`` and ``open`` for about ``seconds`` each; top functions to ``out``."""
    for name in ("seal", "open"):
        fn = ops[name]
        loops = max(1, math.ceil(_calibrate(fn, seconds) / 3))  # cProfile slows calls ~3x
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(loops):
            fn()
        profiler.disable()
        for key in ("tottime", "cumulative"):
            print(f"\n== cProfile: {name} x {loops}, sorted by {key}", file=out)
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats(key).print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="time per measurement (default 2)"
    )
    parser.add_argument(
        "--repeats", type=int, default=10, help="timed runs per measurement (default 10)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile seal and open (to stderr)"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.repeats < 1:
        parser.error("--seconds must be positive and --repeats at least 1")
    fx = build_fixture()
    ops = operations(fx)
    result = report(fx, measure(ops, args.seconds, args.repeats), args.seconds, args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_text(result)
    if args.profile:
        profile(ops, args.seconds, sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
