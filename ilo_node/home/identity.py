"""A home's identity: creating one, rotating its keys, and what it says about itself.

``create_identity`` writes the configuration, the signing key and (for a node)
the first prekeys; ``rotate_keys`` retires the signing key and keeps or
replaces the prekeys; ``describe_identity`` is what ``ilo-node keys show``
reports. Results say what was done; ``failure`` carries an error that stopped
the work after something was already changed on disk, so that the caller can
tell the operator both.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ilo_node.home.home import Home, HomeConfig
from ilo_node.home.keyfiles import PassphraseFor, write_private_key
from ilo_node.home.ownkeys import OwnKeys, held_keys
from ilo_node.home.prekeyfiles import PrekeyChanges, delete_all_prekeys, maintain_prekeys
from keys.keystore import SecretKey, generate_signing_key
from keys.ownkey import choose_own_key
from keys.prekeys import PrekeySchedule
from protocol.errors import IloError, UsageError
from protocol.identifiers import (
    EU_INSTITUTIONS,
    MEMBER_STATES,
    OFFICER_NAME_PATTERN,
    is_network_id,
    split_node_id,
)

__all__ = [
    "IdentityView",
    "KeyRotation",
    "NewIdentity",
    "create_identity",
    "describe_identity",
    "refresh_prekeys",
    "rotate_keys",
    "rotate_signing_key",
]


@dataclass
class NewIdentity:
    config: HomeConfig
    path: Path
    key: bytes  # the signing public key
    prekeys: PrekeyChanges | None = None  # nodes only
    failure: IloError | None = None  # the prekeys could not be made; the identity exists


@dataclass
class KeyRotation:
    config: HomeConfig
    new_key: bytes | None = None  # None with prekeys_only
    retired_to: Path | None = None
    replaced_prekeys: list[str] = field(default_factory=list)  # epochs deleted to be replaced
    prekeys: PrekeyChanges | None = None  # nodes only
    failure: IloError | None = None  # stopped the prekey step; what is above was done


@dataclass(frozen=True)
class IdentityView:
    label: str
    network: str
    record: dict[str, Any]  # the public record, plus the home's keys and roster state


def _check_identity(
    role: str, network: str, node: str | None, party: str | None, name: str | None
) -> None:
    if not is_network_id(network):
        raise UsageError(f"network id {network!r} must be 1-64 characters of a-z, 0-9, '.', '-'")
    if role in ("node", "officer") and (not node or split_node_id(node) is None):
        raise UsageError(f"--node must be a node id such as DE@TR (got {node!r})")
    if role == "authority" and (party not in MEMBER_STATES and party not in EU_INSTITUTIONS):
        bodies = ", ".join(sorted(EU_INSTITUTIONS))
        raise UsageError(f"--party must be a Member State code or one of {bodies} (got {party!r})")
    if role in ("admin", "officer") and not name:
        raise UsageError(f"--name is required for role {role}")
    # Officer names end up in certificates, whose schema allows only identifiers.
    if role == "officer" and not re.fullmatch(OFFICER_NAME_PATTERN, str(name)):
        raise UsageError(
            f"officer name {name!r} must be lower case letters, digits, '.', '_' or '-'",
            "Use an identifier such as 'k.beispiel', not a display name.",
        )


def create_identity(
    home: Home,
    *,
    role: str,
    network: str,
    node: str | None,
    party: str | None,
    name: str | None,
    kdf: str,
    passphrase: PassphraseFor,
    now_ms: int,
) -> NewIdentity:
    """A new identity of ``role`` in ``home``; fields a role does not use are ignored."""
    _check_identity(role, network, node, party, name)
    config = HomeConfig(
        role=role,
        network=network,
        node=node if role in ("node", "officer") else None,
        party=party if role == "authority" else None,
        name=name if role in ("admin", "officer") else None,
    )
    secret = passphrase(f"the new {config.label} key")
    home.create(config)
    key = generate_signing_key()
    write_private_key(home.signing_key_path, key, secret, label=config.label, profile=kdf)
    created = NewIdentity(config, home.path, key.public)
    if role == "node":
        try:
            created.prekeys = refresh_prekeys(home, key, secret, kdf, now_ms)
        except IloError as exc:
            created.failure = exc
    return created


def refresh_prekeys(
    home: Home,
    signing: SecretKey,
    passphrase: bytes,
    kdf: str,
    now_ms: int,
    schedule: PrekeySchedule | None = None,
) -> PrekeyChanges:
    """Create the prekeys the schedule needs now, delete those past their grace, and
    announce them once there is a roster to decide whether this node's key may; signed
    with the key the node signs with (the retired one while the new one waits for its
    certificate)."""
    trust = home.trust_state() if home.has_roster() else None
    if trust is not None:
        node = str(home.config().node)
        signing, _ = OwnKeys(home, passphrase).choose(trust, node, now_ms)
    return maintain_prekeys(home, signing, passphrase, trust, now_ms, kdf, schedule)


def rotate_signing_key(home: Home, passphrase: bytes, kdf: str) -> tuple[SecretKey, Path]:
    """Retire the signing key and write a new one; returns the new key and where the old
    one went. Retired, not deleted: the old key may still have to sign (a node's, until
    the new one is certified; an administrator's, for a roster overlap with 'roster sign
    --with-retired') and proves this home's earlier checkpoints."""
    config = home.config()
    current = home.signing_key(passphrase)
    retired = home.retired_dir / f"{current.public.hex()[:16]}.key"
    home.retired_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.replace(home.signing_key_path, retired)
    new = generate_signing_key()
    write_private_key(home.signing_key_path, new, passphrase, label=config.label, profile=kdf)
    return new, retired


def rotate_keys(
    home: Home,
    passphrase: PassphraseFor,
    *,
    prekeys_only: bool,
    replace_prekeys: bool,
    kdf: str,
    now_ms: int,
    schedule: PrekeySchedule | None = None,
) -> KeyRotation:
    """Replace the signing key (unless ``prekeys_only``) and bring a node's prekeys up to
    date on ``schedule``; ``replace_prekeys`` first deletes the current ones (after a
    compromise). For a home whose node is not running: a running node keeps its own
    prekeys (``ilo_node/client/keyrotation.py``)."""
    config = home.config()
    if config.role != "node" and (prekeys_only or replace_prekeys):
        # Refused before anything changes: without prekeys there is nothing to do, and a
        # signing key replaced while --replace-prekeys is ignored is not what was asked.
        option = "--prekeys-only" if prekeys_only else "--replace-prekeys"
        raise UsageError(
            f"{option} is for node homes; {home.path} holds {config.label}, which has no prekeys",
            "Run 'ilo-node keys rotate' without it to replace this home's signing key.",
        )
    secret = passphrase(f"the {config.label} keys")
    current = home.signing_key(secret)
    rotation = KeyRotation(config)
    if not prekeys_only:
        current, rotation.retired_to = rotate_signing_key(home, secret, kdf)
        rotation.new_key = current.public
    if config.role != "node":
        return rotation
    try:
        if replace_prekeys:
            epochs, _ = delete_all_prekeys(home)
            rotation.replaced_prekeys = [str(e) for e in epochs]
        rotation.prekeys = refresh_prekeys(home, current, secret, kdf, now_ms, schedule)
    except IloError as exc:
        rotation.failure = exc
    return rotation


def describe_identity(home: Home, now_ms: int) -> IdentityView:
    """What ``keys show`` reports; reads no private key, so needs no passphrase."""
    config = home.config()
    record = home.public_record()
    record["home"] = str(home.path)
    record["retired_keys"] = [p.stem for p in home.retired_key_paths()]
    record["prekey_epochs"] = (
        sorted(int(p.stem) for p in home.prekey_dir.glob("*.key") if p.stem.isdigit())
        if home.prekey_dir.exists()
        else []
    )
    if home.has_roster():
        trust = home.trust_state()
        status = home.chain().status(now_ms)
        publics = [k.public for k in held_keys(home)]
        if config.role == "node" and publics:
            # Which key signs (the rule the running node applies, on the stored trust).
            choice = choose_own_key(trust, str(config.node), publics, now_ms)
            record["signing_key_in_use"] = {
                "key": choice.key.hex(),
                "may_speak": choice.may_speak,
                "reason": choice.reason,
                "newest_reason": choice.newest_reason,
            }
        record["roster"] = {
            "version": status.version,
            "state": status.state,
            "message": status.message,
        }
        record["trust_warnings"] = list(home.trust_warnings)
    return IdentityView(config.label, config.network, record)
