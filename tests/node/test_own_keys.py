"""A node's own keys while it is open: which key signs after ``keys rotate``, and when it
switches (``keys/ownkey.py``, ``home/ownkeys.py``, ``Node.choose_signing_key``).

In process, on real key files (Argon2id at its cheapest). The daemon does the same
on its worker thread; tests/net/test_live_changes.py checks it between real processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ilo_node.client.keyrotation import signing_choice
from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.errors import NodeError
from ilo_node.home.home import Home, now_ms
from ilo_node.home.identity import rotate_signing_key
from ilo_node.home.keyfiles import read_private_key
from ilo_node.home.ownkeys import held_keys, signing_key_in_use
from ilo_node.node.core import Node
from keys.issuing import sign_certificate
from keys.prekeys import DAY_MS
from protocol.checkpoint import SignedCheckpoint
from protocol.envelope import Envelope
from protocol.examples import example

PASS = b"own keys test passphrase"
NODES = ["COM@EU", "DE@TR", "FR@TR"]


@pytest.fixture
def built(tmp_path: Path) -> BuiltNetwork:
    return build_network(tmp_path / "net", NODES, passphrase=PASS, keep_authorities=True)


def _key(node: Node) -> bytes:
    """The public key the node signs with now."""
    assert node.signing is not None
    return node.signing.public


def _certify(built: BuiltNetwork, node: str, key: bytes, valid_from_ms: int) -> bytes:
    """What 'cert issue' in the authority's home makes for ``key``."""
    party = node.split("@", maxsplit=1)[0]
    authority = Home(built.base / "authorities" / party)
    seed = read_private_key(authority.signing_key_path, PASS).reveal()
    payload = {
        "network": built.network,
        "node": node,
        "role": "node",
        "key": key,
        "valid_from_ms": valid_from_ms,
        "valid_until_ms": valid_from_ms + 365 * DAY_MS,
        "issued_ms": now_ms(),
    }
    data, _ = sign_certificate(payload, seed, "test")
    return data


def test_after_rotation_the_retired_key_signs_until_the_new_one_is_certified(
    built: BuiltNetwork,
) -> None:
    home = built.nodes["DE@TR"]
    node = Node(home, PASS)
    try:
        old = node.signing
        assert old is not None and node.signing_choice is not None
        assert node.signing_choice.may_speak and not node.signing_choice.waiting_for_newest

        new, retired = rotate_signing_key(home, PASS, "interactive")
        assert retired.exists() and [k.public for k in held_keys(home)] == [new.public, old.public]
        # The node is told (the daemon: POST /local/keys): it keeps the retired key.
        assert node.reload_keys() is False
        assert _key(node) == old.public
        assert node.signing_choice.newest == new.public
        assert node.signing_choice.may_speak and node.signing_choice.waiting_for_newest
        first, result = node.publish("incident_alert", example("incident_alert"))
        assert first.header.author_key == old.public and result.status == "accepted"

        # The new key's certificate arrives (cert import, gossip, a bundle): at once.
        assert node.add_documents([_certify(built, "DE@TR", new.public, now_ms() - 1000)]) == [
            "added"
        ]
        assert _key(node) == new.public
        assert node.signing_choice.may_speak and not node.signing_choice.waiting_for_newest
        assert node.counters.get("keys", "signing_switches") == 1
        second, result = node.publish("incident_alert", example("incident_alert"))
        assert result.status == "accepted"
        assert second.header.author_key == new.public
        assert second.header.seq == 1  # the new key's own chain
        note = node.checkpoint()
        SignedCheckpoint.from_bytes(note).verify("DE@TR", new.public)
        assert Envelope.from_bytes(second.to_bytes()).header.author_key == new.public
    finally:
        node.close()


def test_a_certificate_that_starts_later_is_taken_when_it_starts(built: BuiltNetwork) -> None:
    home = built.nodes["FR@TR"]
    clock = [now_ms()]
    node = Node(home, PASS, clock=lambda: clock[0])
    try:
        old = node.signing
        assert old is not None
        new, _ = rotate_signing_key(home, PASS, "interactive")
        node.reload_keys()
        start = clock[0] + 3_600_000
        node.add_documents([_certify(built, "FR@TR", new.public, start)])
        assert _key(node) == old.public
        clock[0] = start
        assert node.choose_signing_key() is True
        assert _key(node) == new.public
    finally:
        node.close()


def test_what_is_signed_outside_the_node_uses_the_key_in_use(built: BuiltNetwork) -> None:
    """Bundles and reports are signed with the key the node signs with, judged on the
    home's stored documents: the retired key until the new one's certificate is stored."""
    home = built.nodes["COM@EU"]
    old = home.signing_key(PASS)
    new, _ = rotate_signing_key(home, PASS, "interactive")
    assert signing_key_in_use(home, PASS, now_ms()).public == old.public
    choice = signing_choice(home, now_ms())
    assert choice is not None and choice.key == old.public and choice.newest == new.public
    home.save_document(
        home.certificate_dir, _certify(built, "COM@EU", new.public, now_ms() - 1000), ".cert"
    )
    assert signing_key_in_use(home, PASS, now_ms()).public == new.public
    # A node opened later starts with the new key.
    node = Node(home, PASS)
    try:
        assert _key(node) == new.public
    finally:
        node.close()


def test_without_a_passphrase_there_are_no_keys_to_reload(built: BuiltNetwork) -> None:
    node = Node(built.nodes["DE@TR"], None, writer=False)
    try:
        assert node.choose_signing_key() is False
        with pytest.raises(NodeError, match="without its passphrase"):
            node.reload_keys()
    finally:
        node.close()
