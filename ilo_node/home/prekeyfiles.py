"""Keeping a node's prekeys on schedule: create, announce, delete (forward secrecy).

Used by ``ilo-node keys rotate`` and, periodically, by the running node, so a
node that runs for months keeps current prekeys without anyone's intervention:
each epoch's key is created ahead of time and announced with the node's
signing key, and a private prekey is deleted once its epoch ended more than the
grace period ago, after which nothing captured earlier can be decrypted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ilo_node.home.home import Home
from ilo_node.home.keyfiles import delete_private_key, write_private_key
from keys.keystore import SecretKey, generate_encryption_key, key_file_info
from keys.prekeys import PrekeyRing, PrekeySchedule, announce_prekey
from keys.trust import TrustState

__all__ = ["PrekeyChanges", "maintain_prekeys"]


@dataclass
class PrekeyChanges:
    created: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    created_keys: dict[bytes, bytes] = field(default_factory=dict)  # public -> secret
    deleted_publics: list[bytes] = field(default_factory=list)
    announcements: list[bytes] = field(default_factory=list)
    not_announced: str | None = None


def maintain_prekeys(
    home: Home,
    signing: SecretKey,
    passphrase: bytes,
    trust: TrustState | None,
    now: int,
    kdf: str,
    schedule: PrekeySchedule | None = None,
) -> PrekeyChanges:
    config = home.config()
    node = str(config.node)
    schedule = schedule or PrekeySchedule()
    changes = PrekeyChanges()
    home.prekey_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = {int(p.stem): p for p in home.prekey_dir.glob("*.key") if p.stem.isdigit()}
    # Planning needs only which epochs are held, not their secrets.
    ring = PrekeyRing(schedule, dict.fromkeys(paths, b""))
    fresh: list[SecretKey] = []

    def new_secret() -> bytes:
        fresh.append(generate_encryption_key())
        return fresh[-1].reveal()

    changes.created, changes.deleted = ring.apply(now, new_secret)
    for epoch, key in zip(changes.created, fresh, strict=True):
        write_private_key(
            home.prekey_dir / f"{epoch}.key", key, passphrase, label=f"prekey {epoch}", profile=kdf
        )
        changes.created_keys[key.public] = key.reveal()
    for epoch in changes.deleted:
        changes.deleted_publics.append(
            bytes.fromhex(key_file_info(paths[epoch].read_bytes())["public"])
        )
        delete_private_key(paths[epoch])
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
    for path in sorted(home.prekey_dir.glob("*.key")):
        if not path.stem.isdigit():
            continue
        epoch = int(path.stem)
        public = bytes.fromhex(key_file_info(path.read_bytes())["public"])
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
    return changes
