"""The key decision: may this key sign, for this node, something dated this time?

:func:`decide_key` is one pure function; the clock (``now_ms``) and the evidence
(the roster, the certificates and revocations that count, and when the
statement was first witnessed) are passed in. :class:`keys.trust.TrustState`
holds the evidence, verified as it arrived, and chooses what counts.

Rules, in the order they are applied:

1. A statement dated more than the allowed skew in the future waits (RETRY).
2. The node must be a member of the network in the current roster.
3. A statement dated after the roster's expiry waits for the next roster.
4. Revocation: nothing dated at or after the key's compromise time is accepted.
   Something dated *before* it is accepted only with evidence that it was
   witnessed before the compromise time (a cosigned checkpoint that includes
   it, :mod:`keys.evidence`): a thief holding the key can write any date, but
   cannot make a statement appear in a checkpoint an honest witness cosigned
   before the theft. Without such evidence it waits (RETRY), for evidence may
   still come from another node.
5. Impostors: a key certified for other nodes, and not for this one, is refused;
   so is a key certified in another role than the one asked for (an officer's
   key where a node key is needed, and the reverse), and an officer's key used
   under another officer's name.
6. The key needs a certificate for this node, valid at the statement's date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from protocol.limits import DEFAULT_LIMITS, Limits

from .documents import Certificate, Revocation, Roster, when

__all__ = ["KeyDecision", "Outcome", "decide_key"]


class Outcome(Enum):
    ACCEPT = "accept"
    #: Cannot be decided yet (unknown key, roster expired, dated in the future,
    #: evidence of witnessing missing): keep it and try again when evidence arrives.
    RETRY = "retry"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class KeyDecision:
    outcome: Outcome
    reason: str
    certificate: Certificate | None = None
    #: Set on a RETRY that waits for evidence of witnessing, not for a document.
    needs_evidence: bool = False

    def __bool__(self) -> bool:
        return self.outcome is Outcome.ACCEPT


def _revocation_decision(
    revocation: Revocation, short: str, created_ms: int, witnessed_ms: int | None
) -> KeyDecision | None:
    compromised = revocation.compromised_at_ms
    if created_ms >= compromised:
        return KeyDecision(
            Outcome.REJECT,
            f"key {short}… was revoked as compromised from {when(compromised)} and this is "
            f"dated {when(created_ms)}",
        )
    if witnessed_ms is None or witnessed_ms >= compromised:
        return KeyDecision(
            Outcome.RETRY,
            f"key {short}… was revoked as compromised from {when(compromised)}; this is dated "
            "before, but nothing shows yet that it was witnessed before the compromise (it "
            "may be back-dated): held until a cosigned checkpoint shows it",
            needs_evidence=True,
        )
    return None


def decide_key(
    *,
    roster: Roster,
    key: bytes,
    node: str,
    created_ms: int,
    now_ms: int,
    certificates: Iterable[Certificate],
    revocations: Iterable[Revocation],
    witnessed_ms: int | None,
    role: str | None = None,
    officer: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> KeyDecision:
    """Decide whether ``key`` may sign for ``node`` something dated ``created_ms``.

    ``certificates`` are the verified certificates of ``key`` that count, for any
    node and role; ``role`` (``node`` or ``officer``), if given, is the role the key
    must be certified in; ``officer``, with role ``officer``, the officer it must be
    certified for. ``revocations`` are the verified revocations of ``key``
    that count for ``node``. ``witnessed_ms`` is the earliest time the statement is
    proven to have been witnessed, or ``None``.
    """
    short = key.hex()[:16]
    if created_ms > now_ms + limits.max_future_skew_ms:
        return KeyDecision(
            Outcome.RETRY, f"dated {(created_ms - now_ms) // 1000} s in the future; check clocks"
        )
    if node not in roster.nodes:
        return KeyDecision(
            Outcome.REJECT, f"{node} is not a member of the network in roster v{roster.version}"
        )
    if created_ms >= roster.expires_ms:
        return KeyDecision(
            Outcome.RETRY,
            f"dated after roster v{roster.version} expired; held until a new roster arrives",
        )
    for revocation in revocations:
        if revocation.key == key:
            decision = _revocation_decision(revocation, short, created_ms, witnessed_ms)
            if decision is not None:
                return decision
    held = [c for c in certificates if c.key == key]
    for_node = [c for c in held if c.node == node]
    if held and not for_node:
        others = ", ".join(sorted({c.node for c in held}))
        return KeyDecision(
            Outcome.REJECT, f"key {short}… is certified for {others}, not for {node}: an impostor"
        )
    matching = [c for c in for_node if role is None or c.role == role]
    if for_node and not matching:
        roles = " and ".join(sorted({c.role for c in for_node}))
        return KeyDecision(
            Outcome.REJECT, f"key {short}… is certified as {roles} key of {node}, not as {role}"
        )
    if officer is not None and matching:
        named = [c for c in matching if c.officer == officer]
        if not named:
            others = ", ".join(sorted({str(c.officer) for c in matching}))
            return KeyDecision(
                Outcome.REJECT,
                f"key {short}… is certified for officer {others} of {node}, not for {officer}: "
                "an impostor",
            )
        matching = named
    if not matching:
        return KeyDecision(
            Outcome.RETRY, f"no certificate for key {short}… of {node} yet; held until one arrives"
        )
    for certificate in matching:
        if certificate.valid_at(created_ms):
            return KeyDecision(Outcome.ACCEPT, "certified and not revoked", certificate)
    return KeyDecision(
        Outcome.REJECT,
        f"key {short}… of {node} was not certified at the envelope's time {when(created_ms)}",
    )
