"""The one way the CLI reaches a node: :func:`connect` gives a :class:`NodeClient`.

Two implementations behind one interface: :class:`LocalApiClient` talks to the
running node over its local API (``HOME/daemon.sock``); :class:`DirectClient`
opens the home itself when no node runs. Read-only queries of the log (proofs,
bundles, ``log verify``) read the database directly in both, which WAL allows
while the node writes.
"""

from ilo_node.client.base import NodeClient
from ilo_node.client.connect import connect
from ilo_node.client.direct import DirectClient
from ilo_node.client.local import LocalApiClient, node_running
from ilo_node.node.audit import AuditReport
from ilo_node.node.publish import Publication

__all__ = [
    "AuditReport",
    "DirectClient",
    "LocalApiClient",
    "NodeClient",
    "Publication",
    "connect",
    "node_running",
]
