"""``keys rotate`` for a home whose node may be running.

The new signing key is written in the home as always (``home/identity.py``); a
running node is then told through its local API (``POST /local/keys``) to look at
its key files again. It opens the new key with the passphrase it was started with
(the key is encrypted at rest with that same passphrase, which the command asked
for to open the current key) and signs with it as soon as the trust layer lets the
key speak for the node, that is once the new key's certificate is here
(``keys/ownkey.py``); until then it keeps signing with the retired key, so nothing
it writes waits anywhere. A running node keeps its own prekeys, so the command
leaves them to it (two writers of ``keys/prekeys/`` could make two keys for one
epoch). With no node running, the prekeys are refreshed here on the schedule of the
home's ``daemon.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ilo_node.client.local import LocalApiClient, node_running
from ilo_node.home.home import Home
from ilo_node.home.identity import KeyRotation, refresh_prekeys, rotate_keys, rotate_signing_key
from ilo_node.home.keyfiles import PassphraseFor
from ilo_node.home.ownkeys import held_keys
from ilo_node.home.prekeyfiles import delete_all_prekeys
from ilo_node.net.config import load_config
from keys.ownkey import OwnKeyChoice, choose_own_key
from protocol.errors import IloError

__all__ = ["NodeRotation", "rotate_node_keys", "signing_choice"]


@dataclass
class NodeRotation:
    rotation: KeyRotation
    #: The running node's answer (``{signing_key, prekeys}``); None: no node runs.
    node: dict[str, Any] | None = None
    #: With no node running: which key the node will sign with when it starts.
    at_start: OwnKeyChoice | None = None


def signing_choice(home: Home, now_ms: int) -> OwnKeyChoice | None:
    """Which key the node of ``home`` signs with, judged on the home's stored trust (the
    rule the running node applies); None if the home has no roster or no key."""
    config = home.config()
    publics = [k.public for k in held_keys(home)]
    if config.role != "node" or not publics or not home.has_roster():
        return None
    return choose_own_key(home.trust_state(), str(config.node), publics, now_ms)


def rotate_node_keys(
    home: Home,
    passphrase: PassphraseFor,
    *,
    prekeys_only: bool,
    replace_prekeys: bool,
    kdf: str,
    now_ms: int,
) -> NodeRotation:
    """Rotate the home's keys; if its node runs, hand it the change."""
    config = home.config()
    if config.role != "node":
        return NodeRotation(
            rotate_keys(
                home,
                passphrase,
                prekeys_only=prekeys_only,
                replace_prekeys=replace_prekeys,
                kdf=kdf,
                now_ms=now_ms,
            )
        )
    schedule = load_config(home).prekey_schedule()
    if not node_running(home):
        rotation = rotate_keys(
            home,
            passphrase,
            prekeys_only=prekeys_only,
            replace_prekeys=replace_prekeys,
            kdf=kdf,
            now_ms=now_ms,
            schedule=schedule,
        )
        return NodeRotation(rotation, at_start=signing_choice(home, now_ms))
    rotation = KeyRotation(config)
    secret: bytes | None = None
    if not prekeys_only:
        secret = passphrase(f"the {config.label} keys")
        new, rotation.retired_to = rotate_signing_key(home, secret, kdf)
        rotation.new_key = new.public
    try:
        answer = LocalApiClient(home).reload_keys(replace_prekeys)
    except IloError as exc:
        if node_running(home):
            rotation.failure = exc  # it runs and refused; the key files are rotated
            return NodeRotation(rotation)
        # It stopped meanwhile: the prekeys are this command's to keep after all, and the
        # node takes the new key when it starts again.
        rotation = _prekeys_here(home, rotation, secret, passphrase, replace_prekeys, kdf, now_ms)
        return NodeRotation(rotation, at_start=signing_choice(home, now_ms))
    rotation.replaced_prekeys = [str(e) for e in answer.get("prekeys", {}).get("replaced", [])]
    return NodeRotation(rotation, node=answer)


def _prekeys_here(
    home: Home,
    rotation: KeyRotation,
    secret: bytes | None,
    passphrase: PassphraseFor,
    replace_prekeys: bool,
    kdf: str,
    now_ms: int,
) -> KeyRotation:
    secret = secret if secret is not None else passphrase(f"the {rotation.config.label} keys")
    schedule = load_config(home).prekey_schedule()
    try:
        if replace_prekeys:
            epochs, _ = delete_all_prekeys(home)
            rotation.replaced_prekeys = [str(e) for e in epochs]
        current = home.signing_key(secret)
        rotation.prekeys = refresh_prekeys(home, current, secret, kdf, now_ms, schedule)
    except IloError as exc:
        rotation.failure = exc
    return rotation
