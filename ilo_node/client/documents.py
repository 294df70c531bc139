"""Importing trust document files: into the home, then into the running node if one runs.

A running node keeps its trust state in memory, so documents stored in its home
alone would reach it only at its next start: it is handed them too, uses them
at once and gossips them on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ilo_node.client.local import LocalApiClient, node_running
from ilo_node.home.home import Home
from ilo_node.home.imports import Imported, import_files, own_key_state
from protocol.errors import IloError

__all__ = ["DocumentImport", "import_document_files"]


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


def import_document_files(home: Home, files: Sequence[Path], now_ms: int) -> DocumentImport:
    """Import ``files`` in order into ``home`` and, if all were taken, into its running
    node; stops at the first refused, before the node is handed any."""
    stored = import_files(home, files, now_ms)
    result = DocumentImport(stored.imported, failure=stored.failure)
    if result.failure is not None:
        return result
    try:
        if node_running(home):
            result.node_answer = LocalApiClient(home).add_documents(stored.documents)
        result.own_key = own_key_state(home, stored.state)
    except IloError as exc:
        result.failure = exc
    return result
