"""The node home: where one identity keeps its configuration, keys and trust documents.

::

    HOME/
      config.json                 role, network, node id / party / name
      keys/signing.key            the current Ed25519 key (encrypted, 0600)
      keys/retired/*.key          earlier signing keys, kept until deleted by the operator
      keys/prekeys/EPOCH.key      X25519 prekeys (nodes only; deleted after their grace)
      trust/roster/NNNN.roster    the accepted roster chain, first file = the pinned root
      trust/certificates/         certificates this node has verified
      trust/revocations/          revocations this node has verified
      trust/prekeys/              other nodes' prekey announcements
      trust/withdrawals/          authorities' withdrawals of envelopes
      issued/                     what an authority issued (certificates, revocations)
      restored.json               after a restore from a backup (ilo_node/home/restored.py)

Everything under ``trust/`` is a verified copy of a signed document; the home can
be rebuilt from those files and the pinned root alone.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ilo_node.errors import HomeError, InputError
from ilo_node.formats.jsonfile import get_int, parse_json, read_json_file, read_limited
from ilo_node.formats.keytext import hex_public_key
from ilo_node.home.keyfiles import read_private_key, write_public_file
from keys.errors import KeyStoreError, TrustError
from keys.keystore import SecretKey
from keys.roster import RosterChain
from keys.trust import TrustState
from protocol.crypto import sha256
from protocol.errors import IloError, ProtocolError, UsageError

__all__ = ["ROLES", "Home", "HomeConfig", "now_ms"]

ROLES = ("node", "admin", "authority", "officer")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class HomeConfig:
    role: str
    network: str
    node: str | None = None  # nodes and officers: the node id
    party: str | None = None  # authorities: the Member State or EU body (COM, EBCG, ...)
    name: str | None = None  # administrators and officers
    format: str = "ilo-node-home"
    version: int = 1

    @property
    def label(self) -> str:
        if self.role == "node":
            return f"node {self.node}"
        if self.role == "authority":
            return f"authority {self.party}"
        if self.role == "officer":
            return f"officer {self.name} at {self.node}"
        return f"administrator {self.name}"


def _private_dirs(directory: Path, top: Path) -> None:
    """Create ``directory`` and its parents up to ``top`` as 0700 (the umask may not)."""
    missing = []
    for parent in (directory, *directory.parents):
        if parent.exists() or parent == top.parent:
            break
        missing.append(parent)
    for parent in reversed(missing):
        parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(parent, 0o700)


def write_private_file(path: Path, data: bytes) -> None:
    """Write a file an operator or officer asked for (a draft, an export) as the home's
    own files are written: whole or not at all, mode 0600."""
    _atomic_write(path, data)


def _atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        # O_CREAT's mode is filtered by the umask: set exactly the mode promised.
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Home:
    def __init__(self, path: Path) -> None:
        self.path = path
        # The layout of the module docstring, one attribute per place.
        self.config_path = path / "config.json"
        self.signing_key_path = path / "keys" / "signing.key"
        self.retired_dir = path / "keys" / "retired"
        self.prekey_dir = path / "keys" / "prekeys"
        self.roster_dir = path / "trust" / "roster"
        self.certificate_dir = path / "trust" / "certificates"
        self.revocation_dir = path / "trust" / "revocations"
        self.prekey_announcement_dir = path / "trust" / "prekeys"
        self.withdrawal_dir = path / "trust" / "withdrawals"
        self.issued_dir = path / "issued"
        #: When each trust document was first held (what stolen-authority rules need).
        self.seen_index = path / "trust" / "seen.json"

    def secure(self) -> list[Path]:
        """Make every directory of the home 0700 and every file 0600, as a running node
        keeps it; returns what had to change (files copied in by hand, older versions)."""
        changed: list[Path] = []
        for path in [self.path, *sorted(self.path.rglob("*"))]:
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue  # not followed: a link's target is not the home's to change
            want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            if stat.S_IMODE(st.st_mode) != want:
                os.chmod(path, want)
                changed.append(path)
        return changed

    # -- config ---------------------------------------------------------------------

    def exists(self) -> bool:
        return self.config_path.exists()

    def create(self, config: HomeConfig) -> None:
        if self.exists():
            raise HomeError(
                f"{self.path} already holds an identity ({self.config().label})",
                "Use another --home, or remove the directory if you really mean to start over.",
            )
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        self._write(self.config_path, json.dumps(asdict(config), indent=1).encode() + b"\n")

    def config(self) -> HomeConfig:
        try:
            os.stat(self.config_path)
        except FileNotFoundError:
            raise HomeError(f"no ilo-node identity in {self.path}") from None
        except PermissionError:
            # A service user that cannot reach its home, or an operator not its owner.
            raise HomeError(
                f"{self.path} cannot be read as this user (permission denied)",
                "Run the command as the home's owner (for a service, its User=), and let "
                "that user reach the home: every directory above it must be searchable.",
            ) from None
        except OSError as exc:
            raise HomeError(f"{self.config_path} cannot be read: {exc.strerror}") from None
        try:
            data = read_limited(self.config_path, "a home configuration", 1 << 20)
            raw = parse_json(data, str(self.config_path))
        except InputError as exc:
            raise HomeError(exc.message) from None
        if not isinstance(raw, dict) or raw.get("format") != "ilo-node-home":
            raise HomeError(f"{self.config_path} is not an ilo-node home configuration")
        try:
            config = HomeConfig(**raw)
        except TypeError:
            raise HomeError(f"{self.config_path} has unknown or missing fields") from None
        texts = (config.role, config.network, config.node, config.party, config.name)
        if config.role not in ROLES:
            raise HomeError(f"{self.config_path}: unknown role {config.role!r}")
        if not all(v is None or isinstance(v, str) for v in texts):
            raise HomeError(f"{self.config_path}: role, network and names must be text")
        return config

    def require_role(self, *roles: str) -> HomeConfig:
        config = self.config()
        if config.role not in roles:
            raise UsageError(
                f"this command needs a home of role {' or '.join(roles)}; {self.path} is "
                f"{config.label}",
                "Pass the right --home.",
            )
        return config

    # -- keys -----------------------------------------------------------------------

    def signing_key(self, passphrase: bytes) -> SecretKey:
        return read_private_key(self.signing_key_path, passphrase)

    def retired_key_paths(self) -> list[Path]:
        return sorted(self.retired_dir.glob("*.key")) if self.retired_dir.exists() else []

    def public_key(self) -> bytes:
        """The current signing public key, read without the passphrase."""
        from keys.keystore import key_file_info

        try:
            info = key_file_info(self.signing_key_path.read_bytes())
        except FileNotFoundError:
            raise KeyStoreError(f"no signing key in {self.path}") from None
        return bytes.fromhex(info["public"])

    # -- trust documents ------------------------------------------------------------

    def roster_files(self) -> list[Path]:
        return sorted(self.roster_dir.glob("*.roster")) if self.roster_dir.exists() else []

    def has_roster(self) -> bool:
        return bool(self.roster_files())

    def chain(self) -> RosterChain:
        files = self.roster_files()
        if not files:
            raise TrustError(
                f"{self.path} has no roster yet",
                "Pin the root roster with 'ilo-node roster init FILE --fingerprint FP'.",
            )
        return RosterChain.from_history(f.read_bytes() for f in files)

    def _write(self, path: Path, data: bytes) -> None:
        """Every file of a home is 0600 in 0700 directories: trust documents are public,
        but what a node holds, and since when, is nobody else's business."""
        _private_dirs(path.parent, self.path)
        _atomic_write(path, data)

    def save_roster(self, data: bytes, version: int) -> Path:
        path = self.roster_dir / f"{version:06d}.roster"
        self._write(path, data)
        return path

    @staticmethod
    def _doc_name(data: bytes, suffix: str) -> str:
        return sha256(data).hex()[:24] + suffix

    def save_document(self, directory: Path, data: bytes, suffix: str) -> Path:
        """Keep a verified document; the first time, also record when it was first held."""
        path = directory / self._doc_name(data, suffix)
        if not path.exists():
            self._write(path, data)
            seen = self._seen()
            seen.setdefault(path.name, now_ms())
            self._write(self.seen_index, json.dumps(seen, sort_keys=True).encode())
        return path

    def holds_document(self, data: bytes) -> bool:
        """Whether these very bytes are kept already, as a roster version, certificate,
        revocation, prekey announcement or withdrawal."""
        kept = (
            (self.certificate_dir, ".cert"),
            (self.revocation_dir, ".rev"),
            (self.prekey_announcement_dir, ".prekey"),
            (self.withdrawal_dir, ".withdrawal"),
        )
        if any((d / self._doc_name(data, suffix)).exists() for d, suffix in kept):
            return True
        return any(path.read_bytes() == data for path in self.roster_files())

    def _seen(self) -> dict[str, int]:
        try:
            raw = json.loads(self.seen_index.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {k: v for k, v in raw.items() if isinstance(k, str) and type(v) is int}

    def first_seen(self, path: Path) -> int:
        """When this home first held the document at ``path`` (its file's time if the
        index has no entry, as for homes written before the index existed)."""
        seen = self._seen().get(path.name)
        if seen is not None:
            return seen
        try:
            return int(path.stat().st_mtime * 1000)
        except OSError:
            return now_ms()

    def trust_state(self) -> TrustState:
        """The roster chain plus every stored certificate, revocation and prekey, re-verified.

        A stored document that no longer verifies (for example a prekey of a key
        revoked since) is skipped and listed in ``self.trust_warnings``; the file is
        kept for the record.
        """
        state = TrustState(self.chain())
        self.trust_warnings: list[str] = []
        loaders = (
            (self.certificate_dir, "*.cert", None),
            (self.revocation_dir, "*.rev", state.add_revocation),
            (self.prekey_announcement_dir, "*.prekey", lambda d: state.add_prekey(d, now_ms())),
            (self.withdrawal_dir, "*.withdrawal", None),
        )
        for directory, pattern, add in loaders:
            if not directory.exists():
                continue
            for path in sorted(directory.glob(pattern)):
                try:
                    if add is None and directory == self.withdrawal_dir:
                        state.add_withdrawal(path.read_bytes(), self.first_seen(path))
                    elif add is None:
                        state.add_certificate(path.read_bytes(), self.first_seen(path))
                    else:
                        add(path.read_bytes())
                except (TrustError, ProtocolError) as exc:
                    self.trust_warnings.append(f"{path.name}: {exc.message}")
        return state

    def checkpoint_keys(self) -> set[bytes]:
        """Keys that may have signed this node's checkpoints: its current and retired
        keys, and every key its authority certified for it as a node."""
        from keys.keystore import key_file_info

        keys = {self.public_key()}
        for path in self.retired_key_paths():
            keys.add(bytes.fromhex(key_file_info(path.read_bytes())["public"]))
        try:
            state = self.trust_state()
        except IloError:
            return keys
        node = self.config().node
        for key, certificates in state.certificates.items():
            if any(c.node == node and c.role == "node" for c in certificates):
                keys.add(key)
        return keys

    def retention_policy(self) -> dict[str, int]:
        """``HOME/retention.json``: kinds, handling codes and ``default`` to days
        (730 days for everything when there is no file)."""
        path = self.path / "retention.json"
        if not path.exists():
            return {"default": 730}
        hint = 'For example {"incident_alert": 30, "H3": 90, "default": 730} (days).'
        raw = read_json_file(path, "retention.json", hint=hint)
        if not isinstance(raw, dict):
            raise InputError(f"{path} must map kinds, handling codes and 'default' to days", hint)
        # Days up to 2**63 - 1, as every count the node stores; true is not a number.
        return {name: get_int(raw, name, str(path)) for name in raw}

    # -- public export --------------------------------------------------------------

    def public_record(self) -> dict[str, Any]:
        config = self.config()
        key = self.public_key()
        record: dict[str, Any] = {
            "format": "ilo-node-public-key",
            "version": 1,
            "network": config.network,
            "role": config.role,
            "key": key.hex(),
        }
        for name in ("node", "party", "name"):
            value = getattr(config, name)
            if value is not None:
                record[name] = value
        return record

    def write_public(self, path: Path) -> None:
        write_public_file(path, json.dumps(self.public_record(), indent=1).encode() + b"\n")


def write_document(path: Path, data: bytes) -> None:
    """Write a public signed document (roster, certificate, revocation) to hand over,
    atomically; readable by others, as it is meant to travel."""
    _atomic_write(path, data, 0o644)


def read_public_record(path: Path) -> dict[str, Any]:
    hint = "Public key files are written by 'ilo-node keys export-public'."
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"no such public key file: {path}")
    try:
        raw = read_json_file(path, "a public key file", max_bytes=1 << 20)
    except InputError as exc:
        raise HomeError(f"{path} is not a public key file ({exc.message})", hint) from None
    if not isinstance(raw, dict) or raw.get("format") != "ilo-node-public-key":
        raise HomeError(f"{path} is not a public key file", hint)
    if hex_public_key(raw.get("key")) is None:
        raise HomeError(f"{path}: the 'key' field is not a 32-byte public key in hex")
    for name in ("network", "role", "node", "party", "name"):
        if name in raw and not isinstance(raw[name], str):
            raise HomeError(f"{path}: the {name!r} field is not text", hint)
    return raw
