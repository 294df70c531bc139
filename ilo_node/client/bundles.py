"""Bundles for offline postings, end to end: heads file, signed export, import.

The file formats are in :mod:`ilo_node.home.bundle`; these functions move what
a node holds into them and back, through a :class:`NodeClient`, so an import
goes through the running node when there is one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ilo_node.client.base import NodeClient
from ilo_node.home.bundle import MAX_BUNDLE_BYTES, make_bundle, read_bundle
from ilo_node.home.home import now_ms
from protocol.errors import UsageError

__all__ = ["BundleExport", "export_bundle", "import_bundle", "read_heads_file", "write_heads_file"]


def write_heads_file(client: NodeClient, path: Path) -> int:
    """Write where this node stands (per-author heads); returns how many authors."""
    config = client.home.config()
    heads = client.heads()
    record = {
        "format": "ilo-node-heads",
        "network": config.network,
        "node": config.node,
        "heads": {k.hex(): v for k, v in sorted(heads.items())},
    }
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return len(heads)


def read_heads_file(path: Path) -> dict[bytes, int]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        heads = raw["heads"]
        since = {bytes.fromhex(k): v for k, v in heads.items()}
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(f"{path} is not a heads file ('ilo-node bundle heads')") from None
    if not all(len(k) == 32 and type(v) is int and v >= 0 for k, v in since.items()):
        raise UsageError(f"{path} is not a heads file ('ilo-node bundle heads')")
    return since


@dataclass(frozen=True)
class BundleExport:
    data: bytes
    envelopes: int
    more: bool


def export_bundle(client: NodeClient, since: dict[bytes, int]) -> BundleExport:
    """A signed bundle of the envelopes past ``since`` and every trust document."""
    config = client.home.config()
    signing = client.home.signing_key(client.passphrase())
    envelopes, more = client.envelopes_beyond(since, MAX_BUNDLE_BYTES // 2)
    data = make_bundle(
        network=config.network,
        exporter=str(config.node),
        seed=signing.reveal(),
        created_ms=now_ms(),
        since=since,
        envelopes=envelopes,
        documents=client.documents(),
    )
    return BundleExport(data, len(envelopes), more)


def import_bundle(client: NodeClient, path: Path) -> dict[str, Any]:
    """Verify a bundle and feed its documents and envelopes through the ingest path;
    returns the exporter, how many envelopes, and how many of each ingest status."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"no such bundle file: {path}") from None
    if size > MAX_BUNDLE_BYTES:
        raise UsageError(f"{path} is {size} bytes, over the bundle limit {MAX_BUNDLE_BYTES}")
    contents = read_bundle(path.read_bytes(), client.home.trust_state(), now_ms())
    client.add_documents(contents.documents)
    counts: dict[str, int] = {}
    for result in client.ingest(contents.envelopes):
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return {"exporter": contents.exporter, "envelopes": len(contents.envelopes), **counts}
