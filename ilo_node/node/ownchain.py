"""After a restore, whether this node knows where its own chain stands.

A restored node holds its own envelopes only as far as its backup; those it
signed later are with its peers, which hand them back through anti-entropy.
Until they have, the head it holds is not its head, and an envelope sealed from
it would share a seq with one the peers hold: a fork of the node's own chain.
Publishing as the node (``publish``, key shares) is therefore held while the
home's restore record (``ilo_node/home/restored.py``) says so, and released once
every peer has answered an anti-entropy exchange and this node then holds at
least as far along its chain as that peer's heads say. An operator may release
it by hand when a peer is gone for good, knowing what that peer may hold.

A key rotated after the restore starts a chain of its own (``seq`` 1): the hold
is on the chain of the key the restore found, not on the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ilo_node.errors import NodeError
from ilo_node.home.restored import RestoreRecord, read_restore_record, write_restore_record

from .state import NodeState

__all__ = ["OwnChain"]


class OwnChain:
    def __init__(self, state: NodeState) -> None:
        self.s = state
        self.record: RestoreRecord | None = read_restore_record(state.home)

    def _key(self) -> bytes:
        return self.s.signing.public if self.s.signing is not None else self.s.home.public_key()

    @property
    def held(self) -> bool:
        record = self.record
        if record is None or not record.held:
            return False
        return record.own_key is None or record.own_key == self._key().hex()

    def check(self) -> None:
        """Refuse to extend this node's own chain while the restore's hold is on."""
        if not self.held:
            return
        assert self.record is not None
        heard = len(self.record.peers_confirmed)
        raise NodeError(
            "this node was restored from a backup and does not know yet where its own chain "
            f"stands (peers heard from: {heard}); publishing now could fork it",
            "Let the node run ('ilo-node run') until it has heard from its peers: it "
            "publishes again by itself once each of them has answered ('ilo-node status' "
            "shows which have). If a peer is gone for good: 'ilo-node restore "
            "--resume-publishing'.",
        )

    def heard_from(self, peer: str, peer_heads: Mapping[bytes, int], peers: Iterable[str]) -> bool:
        """A peer answered an anti-entropy exchange with ``peer_heads``: it counts once
        this node holds at least as far along its own chain. True when that lifts the
        hold (``peers``: every peer there is to hear from)."""
        if not self.held:
            return False
        key = self._key()
        row = self.s.db.execute("SELECT seq FROM heads WHERE author_key = ?", [key]).fetchone()
        if (int(row[0]) if row else 0) < peer_heads.get(key, 0):
            return False
        assert self.record is not None
        if peer not in self.record.peers_confirmed:
            self._save(self.record.confirmed(peer))
        return self.release_if_confirmed(peers)

    def release_if_confirmed(self, peers: Iterable[str]) -> bool:
        """Lift the hold if every one of ``peers`` has been heard from; True if lifted."""
        if not self.held:
            return False
        assert self.record is not None
        if set(peers) - set(self.record.peers_confirmed):
            return False
        self._save(self.record.resumed(self.s.clock(), "peers", ()))
        return True

    def resume(self, peers: Iterable[str]) -> list[str] | None:
        """The operator lifts the hold; returns the peers of ``peers`` not heard from
        (``None``: there was no hold to lift)."""
        if not self.held:
            return None
        assert self.record is not None
        missing = sorted(set(peers) - set(self.record.peers_confirmed))
        self._save(self.record.resumed(self.s.clock(), "operator", tuple(missing)))
        return missing

    def _save(self, record: RestoreRecord) -> None:
        write_restore_record(self.s.home.path, record)
        self.record = record

    def status(self) -> dict[str, Any] | None:
        record = self.record
        if record is None:
            return None
        latest = record.latest
        return {
            "restored_ms": latest.restored_ms if latest else None,
            "backup_created_ms": latest.backup_created_ms if latest else None,
            "backup_log_size": latest.backup_log_size if latest else None,
            "publishing": "held" if self.held else "resumed",
            "peers_confirmed": list(record.peers_confirmed),
            "resumed_ms": record.resumed_ms,
            "resumed_by": record.resumed_by,
            "unconfirmed_at_resume": list(record.unconfirmed_at_resume),
        }
