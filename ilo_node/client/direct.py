"""The client of a home with no node running: it opens the node itself, as the one writer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ilo_node.client.base import NodeClient, PassphraseSource
from ilo_node.home.home import Home
from ilo_node.node.core import Node
from ilo_node.node.publish import Publication, publish

__all__ = ["DirectClient"]


class DirectClient(NodeClient):
    def __init__(self, home: Home, passphrase: PassphraseSource | None = None) -> None:
        super().__init__(home, passphrase)
        self._writer: Node | None = None

    def _node(self, with_keys: bool = True) -> Node:
        """The home opened for writing (the writer lock is taken once, kept until close)."""
        if self._writer is None:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._writer = Node(self.home, self.passphrase() if with_keys else None)
        return self._writer

    def reader(self) -> Node:
        return self._writer if self._writer is not None else super().reader()

    def close(self) -> None:
        super().close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def status(self) -> dict[str, Any]:
        record = self.reader().view.status()
        record["running"] = False
        return record

    def publish(self, publication: Publication) -> dict[str, Any]:
        node = self._node()
        envelope, result = publish(node, node.ingestor, publication)
        return {
            "id": envelope.id.hex(),
            "kind": publication.kind,
            "seq": envelope.header.seq,
            "recipients": list(envelope.header.recipients),
            "log_index": result.log_index,
        }

    def require_keys(self) -> None:
        self._node()

    def checkpoint(self) -> str:
        return self._node().checkpoint().decode()

    def ingest(self, envelopes: Sequence[bytes]) -> list[dict[str, Any]]:
        node = self._node()
        results: list[dict[str, Any]] = []
        for start in range(0, len(envelopes), 500):
            results.extend(r.as_dict() for r in node.ingest(envelopes[start : start + 500]))
        return results

    def add_documents(self, documents: Sequence[bytes]) -> list[str]:
        return self._node().add_documents(documents)

    def apply_retention(self, policy: Mapping[str, int], now_ms: int) -> int:
        return self._node(with_keys=False).apply_retention(policy, now_ms)
