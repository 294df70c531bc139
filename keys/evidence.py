"""What time evidence of witnessing proves, and by whose word.

:class:`protocol.evidence.WitnessEvidence` shows an envelope in a checkpoint of
some node's log. The checkpoint is a statement by the log's node ("my log held
this at my time T"), each cosignature a statement by a witness ("I saw that
checkpoint at my time T"). Such a statement counts only if it is signed by a
key of its node that was valid then, and only if that node is not the author's
own: after a theft, the author's node is exactly the party whose word on time
cannot be taken. The evidence proves the earliest time among the statements
that count.
"""

from __future__ import annotations

from protocol.checkpoint import node_of_origin
from protocol.evidence import WitnessEvidence

from .errors import WitnessError
from .trust import TrustState

__all__ = ["witnessed_at"]


def witnessed_at(
    trust: TrustState, evidence: WitnessEvidence, author_node: str, now_ms: int
) -> int | None:
    """The earliest time (ms) ``evidence`` proves, or ``None`` if no statement counts."""
    signed = evidence.checkpoint
    log_node = node_of_origin(signed.checkpoint.origin, trust.roster.network)
    if log_node is None:
        return None
    try:
        trust.verify_checkpoint(log_node, signed.note, now_ms)
    except WitnessError:
        return None
    times: list[int] = []
    if log_node != author_node:
        times.append(signed.checkpoint.time_ms)
    for witness in sorted({s.name for s in signed.signatures} - {log_node, author_node}):
        try:
            times.append(trust.verify_cosigner(signed, witness, now_ms) * 1000)
        except WitnessError:
            continue
    return min(times) if times else None
