"""A built network whose private keys stay in memory (tests of gossip and peer auth).

The key store is not under test there, and writing Argon2id-locked files would cost
about half a second per key and per node opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from keys.keystore import SecretKey


@dataclass(frozen=True)
class Built:
    network: BuiltNetwork
    keys: Mapping[Path, SecretKey]

    def signing(self, node: str) -> SecretKey:
        return self.keys[self.network.nodes[node].signing_key_path]

    # The same, under the name the peer-auth tests read best with.
    node = signing

    def authority(self, party: str) -> SecretKey:
        return self.keys[self.network.base / "authorities" / party / "keys" / "signing.key"]

    def officer(self, name: str) -> SecretKey:
        return self.keys[self.network.officers[name].signing_key_path]


def build_in_memory(
    base: Path, nodes: list[str], officers: Mapping[str, Sequence[str]] | None = None
) -> Built:
    """``officers``: node id to the names of the officers certified there."""
    captured: dict[Path, SecretKey] = {}

    def keep(path: Path, key: SecretKey, passphrase: bytes, **_: object) -> None:
        captured[path] = key

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ilo_node.dev.netbuilder.write_private_key", keep)
        network = build_network(
            base, nodes, passphrase=b"pw", keep_authorities=True, officers=officers
        )
    return Built(network, captured)
