"""A node's own signing keys on disk, and the one it signs with (``keys/ownkey.py``).

``keys/signing.key`` is the newest key, ``keys/retired/*.key`` the earlier ones
(``ilo-node keys rotate`` moves the current key there). Which one signs is the
trust layer's decision: the newest that may speak for the node now. The
public halves are read from the files' headers without the passphrase; a key
is decrypted only once it is chosen, and kept in memory from then on (a retired
key is needed again only if the newer one loses its certificate).

:class:`OwnKeys` looks at the files again when told to (:meth:`OwnKeys.reload`):
the running node does so when ``keys rotate`` tells it through the local API,
and on its own every minute, so a rotation is taken up even if that call never
came.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ilo_node.home.home import Home
from ilo_node.home.keyfiles import read_private_key
from keys.keystore import SecretKey, key_file_info
from keys.ownkey import OwnKeyChoice, choose_own_key
from keys.trust import TrustState
from protocol.errors import IloError

__all__ = ["HeldKey", "OwnKeys", "held_keys", "signing_key_in_use"]


@dataclass(frozen=True)
class HeldKey:
    public: bytes
    path: Path


def _public(path: Path) -> bytes | None:
    try:
        return bytes.fromhex(key_file_info(path.read_bytes())["public"])
    except (OSError, IloError, ValueError, KeyError):
        return None


def held_keys(home: Home) -> list[HeldKey]:
    """The home's signing keys, newest first: ``signing.key``, then the retired keys by
    the time their file was written (when each became the current key), newest first.
    Files that cannot be read are left out; between the two steps of a rotation (the
    old key moved away, the new one not yet written) the retired keys are all there is."""
    keys: list[HeldKey] = []
    current = _public(home.signing_key_path)
    if current is not None:
        keys.append(HeldKey(current, home.signing_key_path))

    def written(path: Path) -> tuple[float, str]:
        try:
            return (path.stat().st_mtime, path.name)
        except OSError:
            return (0.0, path.name)

    for path in sorted(home.retired_key_paths(), key=written, reverse=True):
        public = _public(path)
        if public is not None and all(k.public != public for k in keys):
            keys.append(HeldKey(public, path))
    return keys


class OwnKeys:
    """The signing keys of one node home, and the passphrase that opens them.

    Not thread-safe: the node's owning thread uses it.
    """

    def __init__(self, home: Home, passphrase: bytes) -> None:
        self.home = home
        self._passphrase = passphrase
        self._secrets: dict[bytes, SecretKey] = {}
        self.held: list[HeldKey] = []
        self.reload()

    def __repr__(self) -> str:  # never the passphrase
        return f"OwnKeys({self.home.path}, {len(self.held)} key(s))"

    def reload(self) -> bool:
        """Look at the key files again; True if the keys held changed. Secrets of keys
        no longer on disk are dropped from memory."""
        before = [k.public for k in self.held]
        self.held = held_keys(self.home)
        publics = {k.public for k in self.held}
        for public in list(self._secrets):
            if public not in publics:
                del self._secrets[public]
        return before != [k.public for k in self.held]

    def publics(self) -> list[bytes]:
        return [k.public for k in self.held]

    def secret(self, public: bytes) -> SecretKey:
        """The secret of a held key, decrypted the first time it is asked for."""
        key = self._secrets.get(public)
        if key is None:
            path = next(k.path for k in self.held if k.public == public)
            key = read_private_key(path, self._passphrase)
            self._secrets[public] = key
        return key

    def choose(self, trust: TrustState, node: str, now_ms: int) -> tuple[SecretKey, OwnKeyChoice]:
        """The key to sign with now, and the decision that chose it. A chosen key that
        cannot be decrypted (a retired key locked with another passphrase) is passed
        over for the next one the trust state allows, else the newest."""
        held = self.publics()
        if not held:
            # No key file whose header could be read: the home's own reading of its
            # signing key says why (or gives the key, if it has another way to).
            key = self.home.signing_key(self._passphrase)
            return key, choose_own_key(trust, node, [key.public], now_ms)
        while True:
            choice = choose_own_key(trust, node, held, now_ms)
            try:
                return self.secret(choice.key), choice
            except IloError:
                if choice.key == held[0] or len(held) == 1:
                    raise
                held = [k for k in held if k != choice.key]


def signing_key_in_use(home: Home, passphrase: bytes, now_ms: int) -> SecretKey:
    """The key a node home signs with now (for what is signed outside the node: bundles,
    reports), chosen against the home's stored trust documents."""
    config = home.require_role("node")
    key, _ = OwnKeys(home, passphrase).choose(home.trust_state(), str(config.node), now_ms)
    return key
