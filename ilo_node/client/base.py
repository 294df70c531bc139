"""The client interface, and the read-only side both implementations share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ilo_node.errors import NodeError, NotFoundError
from ilo_node.formats.personal import personal_removed
from ilo_node.home.home import Home
from ilo_node.node.audit import AuditReport, verify_log
from ilo_node.node.core import Node
from ilo_node.node.publish import Publication
from protocol.envelope import Envelope
from protocol.errors import ProtocolError, UsageError
from protocol.merkle import leaf_hash, verify_consistency, verify_inclusion

__all__ = ["NodeClient", "PassphraseSource"]

#: Asked only when a command needs the node's keys (a prompt, a file, the environment).
PassphraseSource = Callable[[], bytes]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class NodeClient(ABC):
    """What commands ask of a node."""

    def __init__(self, home: Home, passphrase: PassphraseSource | None) -> None:
        self.home = home
        self._passphrase = passphrase
        self._reader: Node | None = None

    def passphrase(self) -> bytes:
        if self._passphrase is None:
            raise UsageError("this command needs the node's passphrase")
        return self._passphrase()

    # -- what a running node does itself, or the home opened for writing -----------

    @abstractmethod
    def status(self) -> dict[str, Any]: ...

    @abstractmethod
    def publish(self, publication: Publication) -> dict[str, Any]:
        """``{id, kind, seq, recipients, log_index}`` of the envelope published."""

    def require_keys(self) -> None:  # noqa: B027 (a no-op unless the keys are local)
        """Fail now, before any input is read, if the command could not sign or decrypt."""

    @abstractmethod
    def checkpoint(self) -> str: ...

    @abstractmethod
    def ingest(self, envelopes: Sequence[bytes]) -> list[dict[str, Any]]: ...

    @abstractmethod
    def add_documents(self, documents: Sequence[bytes]) -> list[str]: ...

    @abstractmethod
    def apply_retention(self, policy: Mapping[str, int], now_ms: int) -> int: ...

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- read-only, from the database ----------------------------------------------

    def reader(self) -> Node:
        """The home opened read-only, without keys (no lock: the node may be running)."""
        if self._reader is None:
            self._reader = Node(self.home, None, writer=False)
        return self._reader

    def resolve(self, text: str) -> bytes:
        """The one envelope id ``text`` names: the whole id, or a unique prefix of at least
        8 hex digits."""
        ids = self.reader().officers.resolve(text)
        if not ids:
            raise NotFoundError(
                f"envelope {text.strip().lower()[:16]}… is not in this node's log",
                "Check the id; 'ilo-node read' lists what this node can read.",
            )
        if len(ids) > 1:
            raise UsageError(
                f"{text!r} is the start of {len(ids)} envelope ids: "
                + ", ".join(i.hex()[:16] for i in ids[:5]),
                "Give more digits of the id.",
            )
        return ids[0]

    def message(self, envelope_id: bytes, *, include_personal: bool = False) -> dict[str, Any]:
        """One envelope as the operator reads it: fields marked personal are left out
        unless ``include_personal`` (officers read them through their own home)."""
        node = self.reader()
        envelope = node.view.envelope(envelope_id)
        if envelope is None:
            raise NodeError(
                f"envelope {envelope_id.hex()[:16]}… is not in this node's log",
                "Check the id; 'ilo-node read' lists what this node can read.",
            )
        header = envelope.header
        record: dict[str, Any] = {
            "id": envelope.id.hex(),
            "kind": header.kind,
            "author": header.author_node,
            "seq": header.seq,
            "created_ms": header.created_ms,
            "distribution": header.distribution,
            "handling": header.handling,
            "recipients": list(header.recipients),
            "author_officer": header.author_officer,
            "refers_to": None
            if header.refers_to is None
            else {"relation": header.refers_to[0], "id": header.refers_to[1].hex()},
            "referred_by": _referred_by(node, envelope_id),
            "withdrawn_by": [
                {"party": w.party, "reason": w.reason} for w in node.trust.withdrawals_of(envelope)
            ],
        }
        record["retracted"] = bool(record["withdrawn_by"]) or any(
            r["relation"] == "retracts" for r in record["referred_by"]
        )
        stored = node.view.content(envelope_id)
        if stored is not None:
            try:
                # Decrypted again from the signed envelope: what is shown is what was signed.
                content = dict(envelope.open_with_key(stored[1]).fields)
                if not include_personal:
                    content, record["personal_withheld"] = personal_removed(header.kind, content)
                record["content"] = _jsonable(content)
            except ProtocolError:
                raise NodeError(
                    f"the content stored for envelope {envelope_id.hex()[:16]}… does not "
                    "match the signed envelope",
                    "The node's database was changed: run 'ilo-node log verify' and treat "
                    "this node as compromised until it is explained.",
                ) from None
        else:
            erased = node.view.erasure_reason(envelope_id)
            record["content"] = None
            record["note"] = (
                f"erased: {erased}" if erased else "not addressed to this node: stored encrypted"
            )
        return record

    def messages(self, kind: str | None, limit: int) -> list[dict[str, Any]]:
        return self.reader().view.readable(kind, limit)

    def prove(self, envelope_id: bytes) -> dict[str, Any]:
        """Inclusion proof of an envelope in the latest signed checkpoint (checked here)."""
        node = self.reader()
        latest = node.log.latest_checkpoint()
        if latest is None:
            raise UsageError(
                "this node has signed no checkpoint yet", "Run 'ilo-node log checkpoint' first."
            )
        index = node.log.index_of(envelope_id)
        size = latest.checkpoint.size
        if index >= size:
            raise UsageError(
                f"envelope is at position {index}, after the latest checkpoint (size {size})",
                "Run 'ilo-node log checkpoint' first.",
            )
        proof = node.log.inclusion_proof(envelope_id, size)
        verify_inclusion(leaf_hash(envelope_id), index, size, proof, latest.checkpoint.root)
        return {"index": index, "tree_size": size, "proof": proof, "note": latest.note}

    def consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        node = self.reader()
        if new_size > node.size() or old_size > new_size:
            raise UsageError(f"sizes must satisfy 0 <= OLD <= NEW <= {node.size()}")
        proof = node.log.consistency_proof(old_size, new_size)
        old_root, new_root = node.log.root(old_size), node.log.root(new_size)
        verify_consistency(old_size, new_size, old_root, new_root, proof)
        return {"old_root": old_root, "new_root": new_root, "proof": proof}

    def heads(self) -> dict[bytes, int]:
        return self.reader().view.heads()

    def envelopes_beyond(
        self, since: Mapping[bytes, int], max_bytes: int
    ) -> tuple[list[bytes], bool]:
        return self.reader().view.envelopes_beyond(since, max_bytes)

    def documents(self) -> list[bytes]:
        return list(self.reader().docs.by_digest().values())

    def verify_log(self, workers: int, progress: Callable[[int, int], None] | None) -> AuditReport:
        """Recompute the whole log from the stored bytes (``ilo-node log verify``)."""
        config = self.home.require_role("node")
        db = self.home.path / "node.db"
        if not db.exists():
            raise UsageError(f"{self.home.path} has no node database yet")
        return verify_log(
            db, self.home.checkpoint_keys(), str(config.node), workers=workers, progress=progress
        )


def _referred_by(node: Node, envelope_id: bytes) -> list[dict[str, Any]]:
    """The envelopes in the log that retract, correct or share this one (each checked
    at ingest against the target, so only their authors' may be here)."""
    out: list[dict[str, Any]] = []
    for ref in node.officers.refs(envelope_id):
        envelope = Envelope.from_bytes(ref["raw"])
        header = envelope.header
        if header.refers_to is None or header.refers_to[1] != envelope_id:
            continue
        author = header.author_node + (
            f" ({header.author_officer})" if header.author_officer else ""
        )
        out.append({"relation": header.refers_to[0], "id": envelope.id.hex(), "by": author})
    return out
