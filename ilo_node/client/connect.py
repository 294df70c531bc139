"""Choosing the client: the running node if one answers, else the home itself."""

from __future__ import annotations

from ilo_node.client.base import NodeClient, PassphraseSource
from ilo_node.client.direct import DirectClient
from ilo_node.client.local import LocalApiClient, node_running
from ilo_node.home.home import Home

__all__ = ["connect"]


def connect(home: Home, passphrase: PassphraseSource | None = None) -> NodeClient:
    """A client of the node of ``home``; ``passphrase`` is asked for only when needed."""
    home.require_role("node")
    if node_running(home):
        return LocalApiClient(home, passphrase)
    return DirectClient(home, passphrase)
