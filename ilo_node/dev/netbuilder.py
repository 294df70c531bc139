"""Build a complete scratch network of node homes in one call.

This is what ``ilo-node devnet``, the integration tests and the benchmarks use
instead of running the dozens of CLI steps an operator would (the runbook in
docs/operator-guide.md). It makes the same documents the CLI makes: a root
roster signed by 2 of 3 fresh administrators, one authority key per party,
certificates for every node key, and current prekeys, and it hands every node
the others' certificates and prekey announcements (gossip would do that). With
``officers`` it also makes officers' homes (``base/officers/NAME``): each with its
own key, certified by its party's authority, and the pinned root roster; they
learn the rest from their node, as an officer's home does.
Administrator and authority keys live only in memory unless ``keep_authorities``
asks for their homes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ilo_node.home.home import Home, HomeConfig, now_ms
from ilo_node.home.keyfiles import write_private_key
from keys.documents import node_role
from keys.keystore import SecretKey, generate_encryption_key, generate_signing_key
from keys.prekeys import PrekeySchedule, announce_prekey
from keys.roster import fingerprint_of
from protocol.identifiers import split_node_id
from protocol.signed import SignedDocument

__all__ = ["DEFAULT_PRESIDENCY", "BuiltNetwork", "build_network"]

DAY_MS = 86_400_000
DEFAULT_PRESIDENCY = {
    "2026-H2": "IE",
    "2027-H1": "LT",
    "2027-H2": "GR",
    "2028-H1": "IT",
    "2028-H2": "LV",
}


@dataclass(frozen=True)
class BuiltNetwork:
    base: Path
    network: str
    nodes: Mapping[str, Home]
    endpoints: Mapping[str, str]
    passphrase_file: Path
    root_roster: Path
    fingerprint: str
    #: Officer name → their home (empty unless asked for).
    officers: Mapping[str, Home] = field(default_factory=dict)


def _write_passphrase(path: Path, passphrase: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.write(fd, passphrase + b"\n")
    finally:
        os.close(fd)


def build_network(
    base: Path,
    node_ids: Sequence[str],
    *,
    network: str = "devnet.ilo",
    endpoints: Mapping[str, str] | None = None,
    passphrase: bytes | None = None,
    kdf: str = "interactive",
    now: int | None = None,
    keep_authorities: bool = False,
    roster_days: int = 365,
    officers: Mapping[str, Sequence[str]] | None = None,
    presidency: Mapping[str, str] | None = None,
) -> BuiltNetwork:
    """Create ``base/<node id>/`` homes for ``node_ids``, all trusting one root roster;
    ``officers`` maps node ids to the names of officers posted there, ``presidency``
    half-years to the Member State holding the Presidency (default
    :data:`DEFAULT_PRESIDENCY`)."""
    moment = now if now is not None else now_ms()
    base.mkdir(parents=True, exist_ok=True)
    secret = passphrase if passphrase is not None else os.urandom(18).hex().encode()
    passphrase_file = base / "passphrase"
    _write_passphrase(passphrase_file, secret)
    endpoints = dict(
        endpoints or {n: f"https://127.0.0.1:{7400 + i}" for i, n in enumerate(node_ids)}
    )
    parties = sorted({split_node_id(n)[0] for n in node_ids})  # type: ignore[index]
    admins = {name: generate_signing_key() for name in ("admin-a", "admin-b", "admin-c")}
    authorities = {party: generate_signing_key() for party in parties}
    payload: dict[str, Any] = {
        "network": network,
        "version": 1,
        "issued_ms": moment,
        "expires_ms": moment + roster_days * DAY_MS,
        "threshold": 2,
        "administrators": [{"name": n, "key": k.public} for n, k in admins.items()],
        "authorities": [
            {"party": p, "key": k.public, "valid_from_ms": moment - DAY_MS}
            for p, k in authorities.items()
        ],
        "nodes": [
            {
                "node": n,
                "endpoint": endpoints[n],
                "role": node_role(n.split("@")[0]),
            }
            for n in node_ids
        ],
        "presidency": [
            {"half_year": h, "party": p} for h, p in (presidency or DEFAULT_PRESIDENCY).items()
        ],
    }
    document = SignedDocument.create("roster", payload)
    for name in ("admin-a", "admin-b"):
        document = document.signed_by(admins[name].reveal())
    root = document.to_bytes()
    root_path = base / "root.roster"
    root_path.write_bytes(root)

    schedule = PrekeySchedule()
    signing: dict[str, SecretKey] = {}
    certificates: list[bytes] = []
    #: Party → the certificates its authority signed: what its home keeps as issued.
    issued: dict[str, list[bytes]] = {party: [] for party in parties}
    announcements: list[bytes] = []
    homes: dict[str, Home] = {}
    for node in node_ids:
        home = Home(base / node)
        home.create(HomeConfig(role="node", network=network, node=node))
        key = generate_signing_key()
        signing[node] = key
        write_private_key(home.signing_key_path, key, secret, label=f"node {node}", profile=kdf)
        home.save_roster(root, 1)
        party = node.split("@")[0]
        certificate = SignedDocument.create(
            "certificate",
            {
                "network": network,
                "node": node,
                "role": "node",
                "key": key.public,
                "valid_from_ms": moment - DAY_MS,
                "valid_until_ms": moment + roster_days * DAY_MS,
                "issued_ms": moment - DAY_MS,
            },
        ).signed_by(authorities[party].reveal())
        certificates.append(certificate.to_bytes())
        issued[party].append(certificate.to_bytes())
        home.prekey_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for epoch in schedule.epochs_to_hold(moment):
            prekey = generate_encryption_key()
            write_private_key(
                home.prekey_dir / f"{epoch}.key",
                prekey,
                secret,
                label=f"prekey {epoch}",
                profile=kdf,
            )
            announcements.append(
                announce_prekey(
                    network=network,
                    node=node,
                    epoch=epoch,
                    public=prekey.public,
                    schedule=schedule,
                    signing_seed=key.reveal(),
                    issued_ms=moment,
                )
            )
        homes[node] = home
    officer_homes: dict[str, Home] = {}
    for node, names in (officers or {}).items():
        party = node.split("@")[0]
        for name in names:
            home = Home(base / "officers" / name)
            home.create(HomeConfig(role="officer", network=network, node=node, name=name))
            key = generate_signing_key()
            write_private_key(
                home.signing_key_path, key, secret, label=f"officer {name} at {node}", profile=kdf
            )
            home.save_roster(root, 1)
            certificate = SignedDocument.create(
                "certificate",
                {
                    "network": network,
                    "node": node,
                    "role": "officer",
                    "officer": name,
                    "key": key.public,
                    "valid_from_ms": moment - DAY_MS,
                    "valid_until_ms": moment + roster_days * DAY_MS,
                    "issued_ms": moment - DAY_MS,
                },
            ).signed_by(authorities[party].reveal())
            certificates.append(certificate.to_bytes())
            issued[party].append(certificate.to_bytes())
            home.save_document(home.certificate_dir, certificate.to_bytes(), ".cert")
            officer_homes[name] = home
    for home in homes.values():
        for data in certificates:
            home.save_document(home.certificate_dir, data, ".cert")
        for data in announcements:
            home.save_document(home.prekey_announcement_dir, data, ".prekey")
    if keep_authorities:
        for party, key in authorities.items():
            home = Home(base / "authorities" / party)
            home.create(HomeConfig(role="authority", network=network, party=party))
            write_private_key(
                home.signing_key_path, key, secret, label=f"authority {party}", profile=kdf
            )
            # As 'ilo-node officer add' and 'cert issue' keep them (HOME/issued/): without
            # them the home cannot list or revoke the officers it certified.
            for data in issued[party]:
                home.save_document(home.issued_dir / "certificates", data, ".cert")
        for name, key in admins.items():
            home = Home(base / "administrators" / name)
            home.create(HomeConfig(role="admin", network=network, name=name))
            write_private_key(
                home.signing_key_path, key, secret, label=f"admin {name}", profile=kdf
            )
    (base / "network.json").write_text(
        json.dumps(
            {"network": network, "nodes": list(node_ids), "fingerprint": fingerprint_of(root)},
            indent=1,
        )
    )
    return BuiltNetwork(
        base,
        network,
        homes,
        endpoints,
        passphrase_file,
        root_path,
        fingerprint_of(root),
        officer_homes,
    )
