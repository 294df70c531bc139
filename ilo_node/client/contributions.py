"""What a contribution draft counts of the messages an officer's side checked."""

from __future__ import annotations

from ilo_node.client.reading import ReadMessage
from ilo_node.report.contribution import Counted
from protocol.kinds import COUNTED_KINDS

__all__ = ["counted"]


def counted(message: ReadMessage) -> Counted | None:
    """What a draft counts of a checked message: nothing of a retracted one, or of one
    superseded by a correction (the correction is counted instead)."""
    header = message.header
    if message.retracted or message.corrections or message.content is None:
        return None
    if header.kind not in COUNTED_KINDS:
        return None
    corrects = header.refers_to is not None and header.refers_to[0] == "corrects"
    return Counted(
        message.envelope_id,
        header.kind,
        header.author_node,
        header.created_ms,
        message.content,
        corrected=corrects,
    )
