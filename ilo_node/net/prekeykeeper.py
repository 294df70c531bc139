"""The running node keeps its own prekeys: create, announce, delete (forward secrecy).

A round (``home/prekeyfiles.py``, on the node's worker thread) creates the
prekeys the schedule needs now, deletes every secret whose grace has ended, from
the disk and from the node's memory, and announces with the key the node signs
with the prekeys not announced yet; the announcements go to every live peer at
once and spread further by gossip. Rounds come when the schedule has something
due (``PrekeySchedule.next_change``: a prekey falls due, a grace ends), when
something that may let the node announce changed (its signing key, or whether
that key may speak), when ``keys rotate`` asks through the local API, and at the
latest every ``prekey_check_interval_s``. The schedule is ``daemon.json``'s
(``prekey_epoch_s``, ``prekey_grace_s``, ``prekey_lead_s``).

What it did is counted (``prekeys``: ``created``, ``deleted``, ``announced``,
``replaced``, ``rounds``, ``failures``) and shown by ``/local/status`` under
``prekeys``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ilo_node.home.home import Home
from ilo_node.home.prekeyfiles import PrekeyChanges, delete_all_prekeys, maintain_prekeys
from ilo_node.net.gossip import Gossip
from ilo_node.net.worker import NodeWorker
from keys.keystore import key_file_info
from keys.prekeys import PrekeySchedule
from protocol.errors import IloError

__all__ = ["PrekeyKeeper"]

log = logging.getLogger("ilo_node.prekeys")
#: The shortest wait between two rounds: a clock read just before a due time must not
#: turn into a burst of empty rounds.
MIN_WAIT_S = 0.05


def _kdf_profile(home: Home) -> str:
    """New prekeys are locked like the signing key (its file says how, without the
    passphrase)."""
    try:
        profile = key_file_info(home.signing_key_path.read_bytes()).get("kdf_profile")
    except (OSError, IloError):
        profile = None
    return profile if profile in ("interactive", "moderate", "sensitive") else "moderate"


class PrekeyKeeper:
    def __init__(
        self,
        home: Home,
        worker: NodeWorker,
        gossip: Gossip,
        passphrase: bytes,
        schedule: PrekeySchedule,
        max_wait_s: float,
    ) -> None:
        self.home = home
        self.worker = worker
        self.node = worker.node
        self.gossip = gossip
        self._passphrase = passphrase
        self.schedule = schedule
        self.max_wait_s = max_wait_s
        self._wake = asyncio.Event()
        self.last: PrekeyChanges | None = None
        self.last_round_ms: int | None = None
        self.next_round_ms: int | None = None

    def __repr__(self) -> str:  # never the passphrase
        return f"PrekeyKeeper({self.home.path})"

    def wake(self) -> None:
        """Run a round now (the signing key changed, or may now speak)."""
        self._wake.set()

    def _round(self, replace: bool) -> tuple[PrekeyChanges, list[int]]:
        """On the worker thread: one round, the node's memory kept equal to the disk."""
        node = self.node
        counters = node.counters
        replaced: list[int] = []
        if replace:
            replaced, publics = delete_all_prekeys(self.home)
            for public in publics:
                node.prekey_secrets.pop(public, None)
            counters.add("prekeys", "replaced", len(replaced))
        assert node.signing is not None
        changes = maintain_prekeys(
            self.home,
            node.signing,
            self._passphrase,
            node.trust,
            node.clock(),
            _kdf_profile(self.home),
            self.schedule,
        )
        node.prekey_secrets.update(changes.created_keys)
        changes.created_keys.clear()  # the node's dict is now the only holder
        for public in changes.deleted_publics:
            node.prekey_secrets.pop(public, None)
        counters.add("prekeys", "rounds")
        counters.add("prekeys", "created", len(changes.created))
        counters.add("prekeys", "deleted", len(changes.deleted))
        counters.add("prekeys", "announced", len(changes.announcements))
        return changes, replaced

    async def round(self, replace: bool = False) -> dict[str, Any]:
        """One round now; what it did, as ``POST /local/keys`` answers under ``prekeys``."""
        changes, replaced = await self.worker.call(self._round, replace)
        self.last = changes
        self.last_round_ms = self.node.clock()
        self.next_round_ms = changes.next_change_ms
        if changes.created or changes.deleted or replaced:
            log.info(
                "prekeys: created epochs %s, deleted epochs %s%s",
                changes.created,
                changes.deleted,
                f", replaced epochs {replaced}" if replaced else "",
            )
        announced = changes.announced
        if changes.announcements:
            reached = await self.gossip.send_documents(changes.announcements, role="announce")
            log.info("prekeys announced for epochs %s to %d peer(s)", announced, reached)
        return {
            "created": changes.created,
            "deleted": changes.deleted,
            "announced": announced,
            "not_announced": changes.not_announced,
            "replaced": replaced,
            "held": changes.held,
        }

    async def run(self) -> None:
        """Rounds until cancelled, the first at once."""
        while True:
            self._wake.clear()
            try:
                await self.round()
            except IloError as exc:
                self.node.counters.add("prekeys", "failures")
                log.warning("prekey maintenance failed: %s", exc.message)
            except Exception:  # a bug must not end prekey rotation for good
                self.node.counters.add("prekeys", "failures")
                log.exception("prekey maintenance failed")
            wait = self.max_wait_s
            if self.next_round_ms is not None:
                wait = min(wait, (self.next_round_ms - self.node.clock()) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, MIN_WAIT_S))

    def status(self, now_ms: int) -> dict[str, Any]:
        """What ``/local/status`` shows under ``prekeys`` (call on the worker thread: it
        reads the node's memory and trust)."""
        node = self.node
        own = node.trust.prekeys.get(node.node_id, [])
        return {
            "current_epoch": self.schedule.epoch_at(now_ms),
            "held_epochs": self.last.held if self.last is not None else None,
            "secrets_in_memory": len(node.prekey_secrets),
            "announced_epochs": sorted({a.epoch for a in own if a.valid_until_ms > now_ms}),
            "not_announced": self.last.not_announced if self.last is not None else None,
            "last_round_ms": self.last_round_ms,
            "next_round_ms": self.next_round_ms,
            "schedule": {
                "epoch_s": self.schedule.epoch_ms / 1000,
                "grace_s": self.schedule.grace_ms / 1000,
                "lead_s": self.schedule.lead_ms / 1000,
            },
        }
