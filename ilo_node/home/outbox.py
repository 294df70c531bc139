"""An officer's home: the envelopes they signed and not yet handed over, and their chain.

::

    HOME/outbox/SEQ-ID.json    one signed envelope waiting for the node (0600), with
                               the draft it was sealed from
    HOME/chain.json            per signing key: the seq, id and time of the last
                               envelope this home signed
    HOME/officer.lock          held while a command signs or hands over
    HOME/drafts/KIND-TIME.json content typed at a terminal that could not be sent
                               (publish it again with --file)

An envelope is written here, and the chain advanced, *before* it is sent: if the
node is down, or the process dies mid-request, nothing the officer wrote is lost
and the next command hands it over. The draft is kept beside it so that the
envelope can be sealed again if the node refuses one of its predecessors (the
chain must not have a gap); it is deleted once the node has the envelope. Like
every file of a home it is the owner's alone (0600 in 0700 directories).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ilo_node.errors import HomeError
from ilo_node.formats.jsoncontent import content_from_json, content_to_json
from ilo_node.home.home import Home
from protocol.envelope import Envelope
from protocol.errors import ProtocolError

__all__ = ["ChainHead", "Draft", "Outbox", "Waiting"]


@dataclass(frozen=True)
class ChainHead:
    seq: int
    envelope_id: bytes | None
    created_ms: int


@dataclass(frozen=True)
class Draft:
    """What an officer asked to send, as it was before sealing."""

    kind: str
    content: dict[str, Any]
    distribution: str
    handling: str
    #: The nodes it is addressed to (all of them, readable now or not).
    recipients: tuple[str, ...]
    refers_to: tuple[str, bytes] | None = None
    #: Member States named for distribution ``states`` (shown to the officer).
    states: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "content": content_to_json(self.content),
            "distribution": self.distribution,
            "handling": self.handling,
            "recipients": list(self.recipients),
            "refers_to": None
            if self.refers_to is None
            else [self.refers_to[0], self.refers_to[1].hex()],
            "states": list(self.states),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Draft:
        refers = raw.get("refers_to")
        return cls(
            kind=str(raw["kind"]),
            content=content_from_json(raw["content"]),
            distribution=str(raw["distribution"]),
            handling=str(raw["handling"]),
            recipients=tuple(str(r) for r in raw["recipients"]),
            refers_to=None if refers is None else (str(refers[0]), bytes.fromhex(refers[1])),
            states=tuple(str(s) for s in raw.get("states", [])),
        )


@dataclass(frozen=True)
class Waiting:
    """A signed envelope in the outbox."""

    path: Path
    envelope: Envelope
    draft: Draft
    #: Recipients it could not be sealed to (no prekey yet): the node shares the key later.
    awaiting: tuple[str, ...]

    @property
    def seq(self) -> int:
        return self.envelope.header.seq


class Outbox:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.directory = home.path / "outbox"
        self.chain_path = home.path / "chain.json"
        self.lock_path = home.path / "officer.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One command at a time signs or hands over (two would fork the chain)."""
        fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- the chain ------------------------------------------------------------------

    def _heads(self) -> dict[str, Any]:
        if not self.chain_path.exists():
            return {}
        try:
            raw = json.loads(self.chain_path.read_bytes())
        except (OSError, ValueError):
            raise HomeError(
                f"{self.chain_path} is unreadable",
                "Restore it from a backup, or delete it: the node tells this home where "
                "its chain stands at the next command.",
            ) from None
        return raw if isinstance(raw, dict) else {}

    def head(self, key: bytes) -> ChainHead | None:
        entry = self._heads().get(key.hex())
        if not isinstance(entry, dict):
            return None
        try:
            envelope_id = entry.get("id")
            return ChainHead(
                int(entry["seq"]),
                None if envelope_id is None else bytes.fromhex(envelope_id),
                int(entry["created_ms"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def set_head(self, key: bytes, head: ChainHead) -> None:
        heads = self._heads()
        heads[key.hex()] = {
            "seq": head.seq,
            "id": None if head.envelope_id is None else head.envelope_id.hex(),
            "created_ms": head.created_ms,
        }
        self.home._write(self.chain_path, json.dumps(heads, sort_keys=True).encode())

    # -- waiting envelopes -------------------------------------------------------------

    def add(self, envelope: Envelope, draft: Draft, awaiting: tuple[str, ...]) -> Waiting:
        """Keep a signed envelope and advance the chain to it, in that order: a crash
        between the two leaves the envelope, which the chain then catches up with."""
        header = envelope.header
        path = self.directory / f"{header.seq:012d}-{envelope.id.hex()[:16]}.json"
        record = {
            "envelope": envelope.to_bytes().hex(),
            "draft": draft.to_json(),
            "awaiting": list(awaiting),
        }
        self.home._write(path, json.dumps(record, sort_keys=True).encode())
        self.set_head(header.author_key, ChainHead(header.seq, envelope.id, header.created_ms))
        return Waiting(path, envelope, draft, awaiting)

    def waiting(self) -> list[Waiting]:
        """Every envelope not handed over yet, in chain order."""
        if not self.directory.exists():
            return []
        out: list[Waiting] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                record = json.loads(path.read_bytes())
                envelope = Envelope.from_bytes(bytes.fromhex(record["envelope"]))
                draft = Draft.from_json(record["draft"])
                awaiting = tuple(str(n) for n in record.get("awaiting", []))
            except (OSError, ValueError, KeyError, TypeError, ProtocolError) as exc:
                raise HomeError(
                    f"{path} is not a readable outbox entry ({type(exc).__name__})",
                    "Move it out of the outbox directory and report it; the other entries "
                    "are unaffected.",
                ) from None
            out.append(Waiting(path, envelope, draft, awaiting))
        return sorted(out, key=lambda w: (w.envelope.header.author_key, w.seq))

    def keep_draft(self, kind: str, content: dict[str, Any], time_ms: int) -> Path:
        """Keep what an officer typed when it could not be signed or sent, in the form
        ``publish --file`` reads."""
        path = self.home.path / "drafts" / f"{kind}-{time_ms}.json"
        text = json.dumps(content_to_json(content), indent=1, ensure_ascii=False)
        self.home._write(path, text.encode())
        return path

    def remove(self, waiting: Waiting) -> None:
        with contextlib.suppress(FileNotFoundError):
            waiting.path.unlink()
