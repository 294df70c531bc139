"""Who may read an envelope of each distribution level: one definition, to build and to check.

A distribution level names a set of nodes; the author encrypts to (a subset of)
that set, and a receiver refuses an envelope whose recipients reach beyond it.
The same function, :func:`allowed_recipients`, decides both, so the node that
seals and every node that checks cannot disagree.

=============  ==============================================================
level          the nodes it may reach (always: the author's own node as well)
=============  ==============================================================
``local``      the author's local network: the nodes posted to the same host
               country, and every node of an EU body (``EU_INSTITUTIONS``:
               COM, EBCG, EUROPOL, EUAA), at any host (``local_network`` of
               the roster)
``states``     the nodes of the named Member States; a receiver, which does not
               learn the names, checks that every recipient is a node of a
               Member State (not of an EU body)
``presidency`` the nodes of the Member State holding the Council Presidency at
               the envelope's time, and the Commission's
``network``    every node of the roster
=============  ==============================================================

Recipients outside the roster are never allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from protocol.envelope import DISTRIBUTIONS
from protocol.errors import UsageError
from protocol.identifiers import MEMBER_STATES, split_node_id

from .documents import Roster

__all__ = ["allowed_recipients", "distribution_problem", "recipients_for"]


def _party(node: str) -> str:
    parsed = split_node_id(node)
    if parsed is None:
        raise UsageError(f"{node[:40]!r} is not a node id")
    return parsed[0]


def allowed_recipients(
    roster: Roster,
    author_node: str,
    level: str,
    at_ms: int,
    states: Iterable[str] | None = None,
) -> frozenset[str]:
    """The nodes an envelope of ``level`` by ``author_node`` at ``at_ms`` may reach.

    ``states`` are the Member States named for level ``states``; ``None`` means
    "not known" (a receiver's view), which allows every Member State's node.
    """
    if level not in DISTRIBUTIONS:
        raise UsageError(f"unknown distribution {level!r}; use one of {', '.join(DISTRIBUTIONS)}")
    author = split_node_id(author_node)
    if author is None:
        raise UsageError(f"{author_node[:40]!r} is not a node id")
    nodes: set[str]
    if level == "local":
        nodes = set(roster.local_network(author[1]))
    elif level == "network":
        nodes = set(roster.nodes)
    elif level == "presidency":
        presidency = roster.presidency_at(at_ms)
        parties = {"COM"} | ({presidency} if presidency else set())
        nodes = {n for n in roster.nodes if _party(n) in parties}
    elif states is None:
        nodes = {n for n in roster.nodes if _party(n) in MEMBER_STATES}
    else:
        wanted = set(states)
        if not wanted:
            raise UsageError("distribution 'states' needs at least one Member State")
        # Receivers, who do not learn the names, refuse any EU body's node: refusing
        # the name here tells the author before anything is sealed.
        others = sorted(wanted - MEMBER_STATES)
        if others:
            shown = ", ".join(repr(s[:40]) for s in others)
            raise UsageError(
                f"distribution 'states' names Member States only, not {shown}",
                "Use distribution 'local' or 'network' to reach the EU bodies' nodes.",
            )
        nodes = {n for n in roster.nodes if _party(n) in wanted}
    nodes.add(author_node)
    return frozenset(nodes)


def recipients_for(
    roster: Roster, author_node: str, level: str, at_ms: int, states: Iterable[str] = ()
) -> list[str]:
    """Every node an author addresses for ``level``, sorted (what ``seal`` is given)."""
    return sorted(
        allowed_recipients(roster, author_node, level, at_ms, states if level == "states" else None)
    )


def distribution_problem(
    roster: Roster, author_node: str, level: str, at_ms: int, recipients: Sequence[str]
) -> str | None:
    """Why ``recipients`` do not fit ``level``, or ``None`` if they do."""
    unknown = [r for r in recipients if r not in roster.nodes]
    if unknown:
        return f"recipients not in the roster: {', '.join(unknown)}"
    allowed = allowed_recipients(roster, author_node, level, at_ms)
    outside = [r for r in recipients if r not in allowed]
    if not outside:
        return None
    if level == "presidency":
        return (
            f"distribution 'presidency' may reach the Presidency "
            f"({roster.presidency_at(at_ms)}) and the Commission only, not {', '.join(outside)}"
        )
    return f"distribution {level!r} does not reach {', '.join(outside)}"
