"""Importing trust document files (``cert import``, ``roster update``): into the running
node if one runs, else into the home.

A running node keeps its trust state in memory and is the one writer of its
home's trust documents. So while it runs the files are checked here against the
home's trust (for the messages, and to stop at the first bad file before the node
is handed any) and then handed to the node through its local API: it verifies them
again, keeps them, uses them at once (TLS, peers, endpoints, which of its keys
signs) and gossips them on. With no node running the home takes them itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ilo_node.client.local import LocalApiClient, node_running
from ilo_node.errors import NodeError
from ilo_node.home.home import Home
from ilo_node.home.imports import OWN_KEY_REVOKED, Imported, import_files, own_key_state
from ilo_node.home.rosters import RosterUpdates, apply_roster_updates
from protocol.errors import IloError

__all__ = ["DocumentImport", "import_document_files", "update_roster"]


@dataclass
class DocumentImport:
    imported: list[Imported]
    node_answer: list[str] | None = None  # what the running node said of each; None: none runs
    own_key: str | None = None  # see ``ilo_node.home.imports.own_key_state``
    failure: IloError | None = None  # stopped here; everything above was done

    @property
    def node_refused(self) -> list[str]:
        """The running node's answers that refused a document ("refused: REASON")."""
        return [a for a in self.node_answer or [] if a.startswith("refused")]


def _hand_to_node(home: Home, documents: Sequence[bytes]) -> list[str] | None:
    """The running node's word on each document, or None if no node takes them (none
    runs, or it stopped before it answered: then the home must keep them itself)."""
    if not node_running(home):
        return None
    try:
        return LocalApiClient(home).add_documents(documents)
    except IloError:
        if node_running(home):
            raise  # it runs and refused: say so
        return None


def import_document_files(home: Home, files: Sequence[Path], now_ms: int) -> DocumentImport:
    """Import ``files`` in order into the running node of ``home`` (or the home itself);
    stops at the first refused, before the node is handed any."""
    running = node_running(home)
    stored = import_files(home, files, now_ms, store=not running)
    result = DocumentImport(stored.imported, failure=stored.failure)
    if result.failure is not None:
        return result
    try:
        if running:
            result.node_answer = _hand_to_node(home, stored.documents)
            if result.node_answer is None:  # the node stopped meanwhile
                stored = import_files(home, files, now_ms)
                result.failure = stored.failure
            else:
                result.failure = _refusal(result.node_answer, "document")
        own_key = own_key_state(home, stored.state)
        # A running node announces its prekeys itself once its key may speak.
        if result.node_answer is None or own_key == OWN_KEY_REVOKED:
            result.own_key = own_key
    except IloError as exc:
        result.failure = exc
    return result


def _refusal(answers: Sequence[str], what: str) -> NodeError | None:
    """An error if the running node refused any of what it was handed (its trust may
    differ from what its home's files say, for instance a document it dropped)."""
    refused = [a for a in answers if a.startswith("refused")]
    if not refused:
        return None
    return NodeError(
        f"the running node refused {len(refused)} {what}(s): {refused[0]}",
        "The home's files and the running node disagree; see 'ilo-node status' and the node's log.",
    )


def update_roster(home: Home, files: Sequence[Path], now_ms: int) -> RosterUpdates:
    """Apply the next roster versions (``roster update``): checked against the home's
    chain, then taken by the running node, which uses and gossips them at once; or by
    the home when no node runs (or the home is not a node's)."""
    running = home.config().role == "node" and node_running(home)
    updates = apply_roster_updates(home, files, now_ms, store=not running)
    if not running or updates.failure is not None:
        return updates
    try:
        updates.node_answer = _hand_to_node(home, updates.documents)
    except IloError as exc:
        updates.failure = exc
        return updates
    if updates.node_answer is None:  # the node stopped meanwhile: the home keeps them
        return apply_roster_updates(home, files, now_ms)
    updates.failure = _refusal(updates.node_answer, "roster version")
    return updates
