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
from ilo_node.errors import InputError
from ilo_node.formats.jsonfile import get_object, get_str, json_object, read_json_file, read_limited
from ilo_node.formats.keytext import hex_public_key
from ilo_node.home.bundle import MAX_BUNDLE_BYTES, make_bundle, read_bundle
from ilo_node.home.home import now_ms
from ilo_node.home.ownkeys import signing_key_in_use

__all__ = [
    "SUMMARY_KEYS",
    "BundleExport",
    "export_bundle",
    "import_bundle",
    "read_heads_file",
    "write_heads_file",
]


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


_HEADS_HINT = "Heads files are written by 'ilo-node bundle heads' on the receiving node."


def read_heads_file(path: Path) -> dict[bytes, int]:
    """The per-author heads in a heads file: 64 hex digits to a seq from 0 to 2**63 - 1
    (larger seqs cannot be stored, and used to fail only when the bundle was signed)."""
    raw = json_object(read_json_file(path, "a heads file", hint=_HEADS_HINT), str(path))
    if get_str(raw, "format", str(path), "ilo-node-heads") != "ilo-node-heads":
        raise InputError(f"{path} is not a heads file ('ilo-node bundle heads')", _HEADS_HINT)
    heads = get_object(raw, "heads", str(path))
    since: dict[bytes, int] = {}
    for key_hex, seq in heads.items():
        key = hex_public_key(key_hex) if len(key_hex) == 64 and key_hex.isascii() else None
        if key is None or type(seq) is not int or not 0 <= seq < 2**63:
            raise InputError(
                f"{path}: heads must map author keys (64 hex digits) to seqs from 0 to "
                f"2**63 - 1; {key_hex[:70]!r} does not",
                _HEADS_HINT,
            )
        since[key] = seq
    return since


@dataclass(frozen=True)
class BundleExport:
    data: bytes
    envelopes: int
    more: bool


def export_bundle(client: NodeClient, since: dict[bytes, int]) -> BundleExport:
    """A signed bundle of the envelopes past ``since`` and every trust document."""
    config = client.home.config()
    # The key the node signs with (the retired one while a new key waits for its
    # certificate): receivers check the bundle's signer is certified first.
    signing = signing_key_in_use(client.home, client.passphrase(), now_ms())
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


#: Keys of ``import_bundle``'s summary that are not an ingest status.
SUMMARY_KEYS = ("exporter", "envelopes", "documents", "not_stored")


def import_bundle(client: NodeClient, path: Path) -> dict[str, Any]:
    """Verify a bundle and feed its documents and envelopes through the ingest path.

    Returns the exporter, how many envelopes, how many of each ingest status
    (``accepted``: 3), what became of its trust documents (``documents``: how many
    ``added``, ``known`` or ``refused``, with each refusal's reason under
    ``refused_reasons``), and ``not_stored``: every envelope the node did not store
    (refused, or deferred by a full quarantine), with its id and reason."""
    # Read at most the limit (a stat first could not stop a file that grows, a pipe or
    # a device); every read error is a message naming the file.
    data = read_limited(path, "a bundle", MAX_BUNDLE_BYTES)
    contents = read_bundle(data, client.home.trust_state(), now_ms())
    documents: dict[str, Any] = {"added": 0, "known": 0, "refused": 0, "refused_reasons": []}
    for answer in client.add_documents(contents.documents):
        outcome, _, reason = answer.partition(": ")
        if outcome == "refused":
            documents["refused_reasons"].append(reason)
        documents[outcome if outcome in ("added", "known") else "refused"] += 1
    counts: dict[str, int] = {}
    not_stored: list[dict[str, Any]] = []
    for result in client.ingest(contents.envelopes):
        counts[result["status"]] = counts.get(result["status"], 0) + 1
        if not result["stored"]:
            not_stored.append(
                {"id": result["id"], "status": result["status"], "reason": result["reason"]}
            )
    return {
        "exporter": contents.exporter,
        "envelopes": len(contents.envelopes),
        **counts,
        "documents": documents,
        "not_stored": not_stored,
    }
