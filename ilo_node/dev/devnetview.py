"""What ``ilo-node devnet`` tells a person watching it: a line per envelope published, a
line a second while they spread, a table per node at the end.

Pure: the devnet run (:mod:`ilo_node.dev.devnet`) measures, these functions word it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["NodeEnd", "Published", "Spread", "node_rows", "published_line", "spread_line"]

#: The headers of the table per node printed at the end.
NODE_HEADERS = ("node", "officers", "wrote", "log", "readable", "checkpoint", "log verify")


@dataclass
class Published:
    envelope_id: str
    kind: str
    node: str
    #: None: signed with the node's own key.
    officer: str | None
    level: str
    recipients: list[str]
    #: (relation, target id) for a retraction or a correction.
    refers_to: tuple[str, str] | None = None

    @property
    def author(self) -> str:
        # As officers' clients label authors (ilo_node.client.reading.author_label).
        return f"node {self.node}" if self.officer is None else f"{self.officer} ({self.node})"


def published_line(p: Published) -> str:
    """One envelope as it is handed over: its kind, author and who can read it."""
    what = p.level
    if p.refers_to is not None:
        relation, target = p.refers_to
        what = f"{relation} {target[:8]}"
    return f"  + {p.envelope_id[:8]} {p.kind:<28} by {p.author}, {what}; readable by " + (
        ", ".join(p.recipients) or "nobody"
    )


@dataclass(frozen=True)
class Spread:
    """How far what was published has got, at one moment."""

    published: int
    #: Envelopes readable at every one of their recipients.
    everywhere: int
    #: (envelope, recipient) pairs where it is readable, of all such pairs.
    pairs: int
    expected_pairs: int
    #: Each node's log size (missing: the node did not answer).
    sizes: Mapping[str, int]
    nodes: int

    @property
    def holding_all(self) -> int:
        """Nodes whose log holds every envelope published (nodes relay what they cannot
        read, and their logs hold nothing but devnet's envelopes)."""
        return sum(size >= self.published for size in self.sizes.values())

    @property
    def done(self) -> bool:
        return self.pairs == self.expected_pairs and self.holding_all == self.nodes


def spread_line(seconds: float, spread: Spread) -> str:
    head = f"  t={seconds:4.0f}s  {spread.published} published"
    if spread.done:
        return (
            f"{head}: every one readable by all its recipients ({spread.pairs} pairs) and "
            f"held by all {spread.nodes} nodes"
        )
    return (
        f"{head}; readable by all their recipients: {spread.everywhere} ({spread.pairs}/"
        f"{spread.expected_pairs} pairs); in every node's log: "
        f"{spread.holding_all}/{spread.nodes} nodes hold all"
    )


@dataclass(frozen=True)
class NodeEnd:
    """One node once stopped: what it holds, as its database says."""

    officers: Sequence[str]
    wrote: int  # envelopes written there (by its officers or the node)
    log_size: int
    readable: int  # envelopes it can read
    addressed: int  # envelopes addressed to it
    checkpoint: int | None  # the size its latest signed checkpoint covers
    verified: bool


def node_rows(ends: Mapping[str, NodeEnd]) -> list[tuple[str, ...]]:
    return [
        (
            node,
            ", ".join(end.officers) or "-",
            str(end.wrote),
            str(end.log_size),
            f"{end.readable}/{end.addressed}",
            "none" if end.checkpoint is None else str(end.checkpoint),
            "OK" if end.verified else "FAILED",
        )
        for node, end in ends.items()
    ]
