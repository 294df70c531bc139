"""Who may refer to an earlier envelope: retract it, correct it, or share its content key.

An envelope's header may name an earlier one (``refers_to``, docs/protocol.md).
The protocol checks that the relation fits the kind; whether *this* author may
refer so to *that* envelope is decided here, from the two signed headers alone,
so every node, relay or recipient, decides the same:

* **retracts / corrects**: only the target's author. For an officer's envelope,
  that officer (any key certified for them at the same node: keys rotate, the
  officer stays); for a node's own envelope, the node. The node key cannot
  retract or correct what an officer wrote, nor an officer what another wrote.
  A correction keeps the target's kind, and both keep its distribution level.
  (A Member State authority withdraws an envelope with a signed document
  instead, :class:`keys.documents.Withdrawal`, not with an envelope.)
* **shares**: the target's node, by itself (the protocol refuses officers), for
  a target of the same distribution level; the recipients it adds are checked
  against that level like any envelope's.

Retractions, corrections and shares are never themselves retracted, corrected
or shared, except that a correction may be corrected or retracted in turn, and
the content key of a retraction or correction may be shared.
"""

from __future__ import annotations

from protocol.envelope import Header

__all__ = ["reference_problem", "same_author"]


def same_author(a: Header, b: Header) -> bool:
    """Whether two envelopes have one author: the same officer at the same node, or the
    same node writing by itself."""
    return a.author_node == b.author_node and a.author_officer == b.author_officer


def _who(header: Header) -> str:
    if header.author_officer is None:
        return f"node {header.author_node}"
    return f"officer {header.author_officer} of {header.author_node}"


def reference_problem(header: Header, target: Header) -> str | None:
    """Why ``header`` may not refer to ``target`` as it does, or ``None`` if it may.

    ``target`` is the header of the envelope named in ``header.refers_to``.
    """
    assert header.refers_to is not None
    relation = header.refers_to[0]
    if header.created_ms < target.created_ms:
        return f"it is dated before the envelope it {relation}"
    if header.distribution != target.distribution:
        return (
            f"it has distribution {header.distribution!r}, the envelope it {relation} "
            f"{target.distribution!r}"
        )
    if target.kind == "key_share":
        return f"a key share cannot be the target of an envelope that {relation} it"
    if relation == "shares":
        if header.author_node != target.author_node:
            return (
                f"only {target.author_node} may share the content key of its envelopes, "
                f"not {header.author_node}"
            )
        return None
    if target.kind == "retraction":
        return f"a retraction cannot be {'corrected' if relation == 'corrects' else 'retracted'}"
    if not same_author(header, target):
        return (
            f"only its author ({_who(target)}) or that Member State's authority may "
            f"{'correct' if relation == 'corrects' else 'retract'} it, not {_who(header)}"
        )
    if relation == "corrects" and header.kind != target.kind:
        return f"a correction of a {target.kind} must be a {target.kind}, not a {header.kind}"
    return None
