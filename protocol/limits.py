"""One object holding every size and count cap the decoders enforce.

The input length is capped before anything is parsed (and, on the network, by
the HTTP layer while the body is read); msgpack's unpacker then refuses an
array or map whose declared count exceeds its cap as soon as it reads the
count, and a string longer than its cap before building it. Nesting depth is
bounded by msgpack's own stack (1024 levels) while reading and checked against
``max_depth`` right after, before any field is interpreted. A node passes its
own ``Limits``; the defaults suit a local network of up to a few dozen nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError

__all__ = ["DEFAULT_LIMITS", "MAX_DEPTH_CAP", "Limits"]

MAX_DEPTH_CAP = 64


@dataclass(frozen=True, slots=True)
class Limits:
    #: Whole envelope on the wire (header + ciphertext + signature).
    max_envelope_bytes: int = 1024 * 1024
    #: Decrypted content of one envelope.
    max_content_bytes: int = 512 * 1024
    #: Recipient nodes of one envelope; the network has at most ~40 nodes per host country.
    max_recipients: int = 64
    #: Wrapped keys per recipient (a node may publish two prekeys while rotating).
    max_keys_per_recipient: int = 4
    #: Any msgpack string (names, free text); schema fields set tighter bounds.
    max_str_bytes: int = 64 * 1024
    #: Any msgpack array or map, by element count.
    max_container_len: int = 4096
    #: Nesting depth of decoded content.
    max_depth: int = 8
    #: How far in the future an envelope's creation time may be, against the local clock.
    max_future_skew_ms: int = 5 * 60 * 1000

    def __post_init__(self) -> None:
        for name in (
            "max_envelope_bytes",
            "max_content_bytes",
            "max_recipients",
            "max_keys_per_recipient",
            "max_str_bytes",
            "max_container_len",
            "max_depth",
        ):
            if getattr(self, name) < 1:
                raise UsageError(f"limit {name} must be at least 1")
        if self.max_depth > MAX_DEPTH_CAP:
            # The depth check recurses once per level; beyond this the interpreter's
            # own stack, not our cap, would decide.
            raise UsageError(f"limit max_depth must be at most {MAX_DEPTH_CAP}")
        if self.max_future_skew_ms < 0:
            raise UsageError("limit max_future_skew_ms must not be negative")


DEFAULT_LIMITS = Limits()
