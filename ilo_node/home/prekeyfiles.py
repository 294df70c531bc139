"""Keeping a node's prekeys on schedule: create, announce, delete (forward secrecy).

Used by ``ilo-node keys rotate`` and, periodically, by the running node, so a
node that runs for months keeps current prekeys without anyone's intervention:
each epoch's key is created ahead of time and announced with the node's
signing key, and a private prekey is deleted once its epoch ended more than the
grace period ago, after which nothing captured earlier can be decrypted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ilo_node.home.home import Home
from ilo_node.home.keyfiles import delete_private_key, write_private_key
from keys.keystore import SecretKey, generate_encryption_key, key_file_info
from keys.prekeys import PrekeyRing, PrekeySchedule, announce_prekey
from keys.trust import TrustState

__all__ = [
    "PrekeyChanges",
    "announced_until",
    "delete_all_prekeys",
    "maintain_prekeys",
]


@dataclass
class PrekeyChanges:
    created: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    created_keys: dict[bytes, bytes] = field(default_factory=dict)  # public -> secret
    deleted_publics: list[bytes] = field(default_factory=list)
    announcements: list[bytes] = field(default_factory=list)
    announced: list[int] = field(default_factory=list)  # the epochs of ``announcements``
    not_announced: str | None = None
    #: The epochs held once the round is done, and when the next round has work.
    held: list[int] = field(default_factory=list)
    next_change_ms: int | None = None


def _held(home: Home) -> dict[int, Path]:
    if not home.prekey_dir.exists():
        return {}
    return {int(p.stem): p for p in home.prekey_dir.glob("*.key") if p.stem.isdigit()}


def _file_public(path: Path) -> bytes:
    return bytes.fromhex(key_file_info(path.read_bytes())["public"])


def delete_all_prekeys(home: Home) -> tuple[list[int], list[bytes]]:
    """Delete every prekey secret of the home (after a compromise: they were on the stolen
    disk); returns the epochs and the public keys deleted, so that a running node drops
    the secrets from memory too."""
    epochs: list[int] = []
    publics: list[bytes] = []
    for epoch, path in sorted(_held(home).items()):
        publics.append(_file_public(path))
        delete_private_key(path)
        epochs.append(epoch)
    return epochs, publics


def announced_until(
    trust: TrustState | None, node: str, publics: dict[int, bytes]
) -> dict[int, int]:
    """Epoch → the latest end of a window this node announced the epoch's prekey for."""
    if trust is None:
        return {}
    ends: dict[bytes, int] = {}
    for announcement in trust.prekeys.get(node, []):
        ends[announcement.key] = max(ends.get(announcement.key, 0), announcement.valid_until_ms)
    return {epoch: ends[public] for epoch, public in publics.items() if public in ends}


def maintain_prekeys(
    home: Home,
    signing: SecretKey,
    passphrase: bytes,
    trust: TrustState | None,
    now: int,
    kdf: str,
    schedule: PrekeySchedule | None = None,
) -> PrekeyChanges:
    """One round: create the prekeys ``schedule`` needs now, delete those whose grace
    has ended (from disk; the caller drops ``deleted_publics`` from memory), and announce
    with ``signing`` those not announced yet, if ``trust`` lets that key speak."""
    config = home.config()
    node = str(config.node)
    schedule = schedule or PrekeySchedule()
    changes = PrekeyChanges()
    home.prekey_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = _held(home)
    publics = {epoch: _file_public(path) for epoch, path in paths.items()}
    until = announced_until(trust, node, publics)
    # Planning needs only which epochs are held, not their secrets.
    ring = PrekeyRing(schedule, dict.fromkeys(paths, b""))
    fresh: list[SecretKey] = []

    def new_secret() -> bytes:
        fresh.append(generate_encryption_key())
        return fresh[-1].reveal()

    changes.created, changes.deleted = ring.apply(now, new_secret, until)
    for epoch, key in zip(changes.created, fresh, strict=True):
        write_private_key(
            home.prekey_dir / f"{epoch}.key", key, passphrase, label=f"prekey {epoch}", profile=kdf
        )
        changes.created_keys[key.public] = key.reveal()
        publics[epoch] = key.public
    for epoch in changes.deleted:
        changes.deleted_publics.append(publics.pop(epoch))
        delete_private_key(paths[epoch])
    changes.held = sorted(publics)
    changes.next_change_ms = schedule.next_change(publics, now, until)
    if trust is None:
        changes.not_announced = "no roster is pinned yet"
        return changes
    decision = trust.decide(
        key=signing.public, node=node, created_ms=now, now_ms=now, witnessed_ms=None, role="node"
    )
    if not decision:
        changes.not_announced = decision.reason
        return changes
    announced = {(a.epoch, a.key) for a in trust.prekeys.get(node, [])}
    for epoch, public in sorted(publics.items()):
        if (epoch, public) in announced or schedule.window(epoch)[1] <= now:
            continue
        announcement = announce_prekey(
            network=config.network,
            node=node,
            epoch=epoch,
            public=public,
            schedule=schedule,
            signing_seed=signing.reveal(),
            issued_ms=now,
        )
        trust.add_prekey(announcement, now)
        home.save_document(home.prekey_announcement_dir, announcement, ".prekey")
        changes.announcements.append(announcement)
        changes.announced.append(epoch)
    return changes
