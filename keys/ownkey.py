"""Which of its own keys a node signs with: the trust decision behind a live key rotation.

After ``ilo-node keys rotate`` a node holds a new signing key that nobody has
certified yet, and the retired one, still certified. Signing with the new key
at once would make every receiver hold what the node writes until the new
certificate arrives (and the node's own ingest refuse it); signing with the
old one for ever would make the rotation pointless. So a node signs with the
**newest of its keys that may speak for it now**, by the same decision peers
apply to it (:meth:`keys.trust.TrustState.decide_node_key`): the retired key
until the new key's certificate is held and in force, the new key from that
moment on. When none may speak (a fresh node before its first certificate, or
every key revoked), it signs with the newest, and what it writes waits at the
receivers until a certificate arrives; nothing is lost.

Pure: the keys held (public halves, newest first), the trust state and the
time are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protocol.errors import UsageError

from .trust import TrustState

__all__ = ["OwnKeyChoice", "choose_own_key", "next_own_key_change"]


@dataclass(frozen=True, slots=True)
class OwnKeyChoice:
    #: The public key to sign with.
    key: bytes
    #: Whether the trust state lets ``key`` speak for the node now.
    may_speak: bool
    #: The trust layer's word on ``key`` ("certified and not revoked", or why not).
    reason: str
    #: The newest key held (``keys/signing.key``): differs from ``key`` while the
    #: newest waits for its certificate.
    newest: bytes
    #: The trust layer's word on ``newest`` (why it may not speak, while it waits).
    newest_reason: str

    @property
    def waiting_for_newest(self) -> bool:
        """Whether a newer key than the one in use waits to be allowed to speak."""
        return self.key != self.newest


def choose_own_key(
    trust: TrustState, node: str, held: Sequence[bytes], now_ms: int
) -> OwnKeyChoice:
    """The newest of ``held`` (public keys, newest first) that may speak for ``node`` at
    ``now_ms``; if none may, the newest, with the reason it may not."""
    if not held:
        raise UsageError("choose_own_key needs at least one key")
    newest_reason = ""
    for key in held:
        decision = trust.decide_node_key(key, node, now_ms, now_ms)
        newest_reason = newest_reason or decision.reason
        if decision:
            return OwnKeyChoice(key, True, decision.reason, held[0], newest_reason)
    return OwnKeyChoice(held[0], False, newest_reason, held[0], newest_reason)


def next_own_key_change(
    trust: TrustState, node: str, held: Sequence[bytes], now_ms: int
) -> int | None:
    """The first time after ``now_ms`` at which a certificate of one of ``held`` for
    ``node`` begins or ends, or a revocation of one takes effect: when
    :func:`choose_own_key` may choose differently. None if there is no such time. A
    certificate issued to start a little ahead (or by an authority whose clock is ahead
    of this node's) is so taken up on time, not at the next periodic look."""
    times = [
        t
        for key in held
        for certificate in trust.certificates.get(key, [])
        if certificate.node == node and certificate.role == "node"
        for t in (certificate.valid_from_ms, certificate.valid_until_ms)
        if t > now_ms
    ]
    times += [
        r.compromised_at_ms
        for key in held
        for r in trust.revocations_of(key, node)
        if r.compromised_at_ms > now_ms
    ]
    return min(times, default=None)
