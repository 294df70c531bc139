"""Which roster nodes a node gossips with (docs/api.md, 6.9)."""

from __future__ import annotations

from keys.documents import Roster
from protocol.identifiers import EU_INSTITUTIONS, split_node_id

__all__ = ["peers_for"]


def peers_for(roster: Roster, node_id: str) -> list[str]:
    """Its local network and the EU bodies; the EU bodies gossip with every node,
    bridging the local networks."""
    me = split_node_id(node_id)
    if me is None:
        return []
    if me[0] in EU_INSTITUTIONS:
        return sorted(n for n in roster.nodes if n != node_id)
    return [n for n in roster.local_network(me[1]) if n != node_id]
