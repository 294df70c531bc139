"""What a restore leaves in a node home: ``HOME/restored.json``.

A node restored from a backup holds its own chain only as far as the backup; what
it signed after the backup is with its peers. Signing its next envelope from the
restored head would put a second envelope at a seq its peers already hold: a fork
of its own chain, which every node treats as an equivocation (``protocol.md`` 9.2)
and answers by refusing the node's later envelopes. So a restore writes this
record with publishing *held*, and the node lifts the hold itself
(``ilo_node/node/ownchain.py``) once every peer has answered it with its heads and
it holds at least as much of its own chain as each of them. The operator may lift
it by hand (``ilo-node restore --resume-publishing``), for a peer gone for good.

::

    {"format": "ilo-node-restore", "version": 1,
     "restores": [{"restored_ms": …, "backup_created_ms": …, "backup_log_size": …}],
     "own_key": "<hex>",            the signing key whose chain is held
     "publishing": "held" | "resumed",
     "peers_confirmed": ["FR@TR", …],
     "resumed_ms": … | null, "resumed_by": "peers" | "operator" | null,
     "unconfirmed_at_resume": [peers not heard from when the operator resumed]}

``restores`` keeps every restore of the home, oldest first: a checkpoint of this
node's log signed before a restore and larger than the log of its backup is
history the restore lost, not a second log signed with a stolen key
(:func:`keys.witness.judge_own_log`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ilo_node.home.home import Home

__all__ = [
    "RESTORE_RECORD",
    "Restore",
    "RestoreRecord",
    "read_restore_record",
    "write_restore_record",
]

RESTORE_RECORD = "restored.json"
_FORMAT = "ilo-node-restore"


@dataclass(frozen=True)
class Restore:
    restored_ms: int
    backup_created_ms: int
    backup_log_size: int


@dataclass(frozen=True)
class RestoreRecord:
    restores: tuple[Restore, ...]
    own_key: str | None
    publishing: str = "held"
    peers_confirmed: tuple[str, ...] = field(default=())
    resumed_ms: int | None = None
    resumed_by: str | None = None
    unconfirmed_at_resume: tuple[str, ...] = field(default=())

    @property
    def held(self) -> bool:
        return self.publishing != "resumed"

    @property
    def latest(self) -> Restore | None:
        return self.restores[-1] if self.restores else None

    def after_restore(self, restore: Restore, own_key: str | None) -> RestoreRecord:
        """The record once the home is restored again: held, nothing confirmed yet."""
        return RestoreRecord((*self.restores, restore), own_key)

    def confirmed(self, peer: str) -> RestoreRecord:
        return replace(self, peers_confirmed=tuple(sorted({*self.peers_confirmed, peer})))

    def resumed(self, now_ms: int, by: str, unconfirmed: tuple[str, ...]) -> RestoreRecord:
        return replace(
            self,
            publishing="resumed",
            resumed_ms=now_ms,
            resumed_by=by,
            unconfirmed_at_resume=unconfirmed,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "version": 1,
            "restores": [
                {
                    "restored_ms": r.restored_ms,
                    "backup_created_ms": r.backup_created_ms,
                    "backup_log_size": r.backup_log_size,
                }
                for r in self.restores
            ],
            "own_key": self.own_key,
            "publishing": self.publishing,
            "peers_confirmed": list(self.peers_confirmed),
            "resumed_ms": self.resumed_ms,
            "resumed_by": self.resumed_by,
            "unconfirmed_at_resume": list(self.unconfirmed_at_resume),
        }


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _restores(value: object) -> tuple[Restore, ...]:
    out: list[Restore] = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        numbers = [item.get(k) for k in ("restored_ms", "backup_created_ms", "backup_log_size")]
        if all(type(n) is int and n >= 0 for n in numbers):
            out.append(Restore(*numbers))  # type: ignore[arg-type]
    return tuple(out)


def read_restore_record(home: Home) -> RestoreRecord | None:
    """The home's restore record; ``None`` if it was never restored.

    A record that cannot be read counts as a restore still held with no peer heard
    from: the safe reading, and one the node corrects as its peers answer.
    """
    path = home.path / RESTORE_RECORD
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raw = None
    if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
        return RestoreRecord((), None)
    own_key = raw.get("own_key")
    resumed_ms = raw.get("resumed_ms")
    resumed_by = raw.get("resumed_by")
    return RestoreRecord(
        restores=_restores(raw.get("restores")),
        own_key=own_key if isinstance(own_key, str) else None,
        publishing="resumed" if raw.get("publishing") == "resumed" else "held",
        peers_confirmed=_texts(raw.get("peers_confirmed")),
        resumed_ms=resumed_ms if type(resumed_ms) is int else None,
        resumed_by=resumed_by if isinstance(resumed_by, str) else None,
        unconfirmed_at_resume=_texts(raw.get("unconfirmed_at_resume")),
    )


def write_restore_record(home: Path, record: RestoreRecord) -> None:
    """Write the record into the home at ``home`` (0600, atomically)."""
    data = json.dumps(record.to_json(), indent=1, sort_keys=True).encode() + b"\n"
    Home(home)._write(home / RESTORE_RECORD, data)
