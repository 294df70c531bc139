"""Signed JSON files of the report family: the half-year report (``report.json`` with
``report.sig``) and the Commission's annual overview (``annual.json`` with
``annual.sig``).

The file is canonical JSON; the signature, a second file, is by a node key over a
domain of its own and the SHA-256 of the file's exact bytes. Checking one
(:func:`check_signed_json`) verifies the signature before anything of the file is
parsed, and the key by the node-statement rule for the node the file says built
it, when it says it was built. No I/O here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from keys.keystore import SecretKey
from keys.trust import TrustState
from protocol.crypto import sha256, sign, verify
from protocol.errors import ProtocolError

__all__ = [
    "SignedForm",
    "Verification",
    "canonical_json",
    "check_signed_json",
    "hex_bytes",
    "sign_json",
]


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recomputed: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class SignedForm:
    """One kind of signed file: its ``format`` field, the domain its signature is made
    under, the names of its two files as problems name them, and what it is called."""

    format: str
    signature_format: str
    domain: bytes
    json_name: str
    sig_name: str
    called: str


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hex_bytes(value: Any, length: int) -> bytes | None:
    """``value`` as ``length`` bytes if it is their hex, else None."""
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return raw if raw is not None and len(raw) == length else None


def sign_json(body: Any, form: SignedForm, node: str, signing: SecretKey) -> tuple[bytes, bytes]:
    """The file's bytes (canonical JSON of ``body``) and its signature file's."""
    data = canonical_json(body)
    digest = sha256(data)
    signature = {
        "format": form.signature_format,
        "node": node,
        "key": signing.public.hex(),
        "digest": digest.hex(),
        "signature": sign(signing.reveal(), form.domain, digest).hex(),
    }
    return data, canonical_json(signature)


def check_signed_json(
    data: bytes,
    signature_data: bytes,
    trust: TrustState,
    now_ms: int,
    form: SignedForm,
    out: Verification,
) -> dict[str, Any] | None:
    """The parsed file if its signature verifies over its exact bytes, by a key of the
    node its ``built.node`` names when it was built (``built.at_ms``); otherwise None,
    with the reason added to ``out.problems``."""
    try:
        sig = json.loads(signature_data)
        key, signature = hex_bytes(sig["key"], 32), hex_bytes(sig["signature"], 64)
        node = str(sig["node"])
    except (ValueError, KeyError, TypeError):
        out.problems.append(f"{form.sig_name}: not {form.called} signature")
        return None
    digest = sha256(data)
    if key is None or signature is None or hex_bytes(sig.get("digest"), 32) != digest:
        out.problems.append(f"{form.sig_name}: it signs other bytes than this {form.json_name}")
        return None
    try:
        verify(key, form.domain, digest, signature)
    except ProtocolError:
        out.problems.append(f"{form.sig_name}: the signature does not verify")
        return None
    try:
        body = json.loads(data)
        built_ms = int(body["built"]["at_ms"])
        if body["format"] != form.format or body["built"]["node"] != node:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        out.problems.append(f"{form.json_name}: signed, but not {form.called} of this format")
        return None
    decision = trust.decide_node_statement(key, node, built_ms, now_ms)
    if not decision:
        out.problems.append(f"{form.sig_name}: the key is not {node}'s: {decision.reason}")
        return None
    out.notes.append(f"signed by {node} (key {key.hex()[:16]}…)")
    return body if isinstance(body, dict) else None
