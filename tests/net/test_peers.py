"""Peer selection from the roster (ilo_node/net/peers.py): every EU body bridges."""

from __future__ import annotations

import tests.support.trustkit as tk
from ilo_node.net.peers import peers_for
from keys.documents import Roster
from protocol.signed import SignedDocument


def _roster() -> Roster:
    return Roster.from_document(SignedDocument.from_bytes(tk.roster(), "roster"))


def test_a_member_state_node_gossips_with_its_local_network_and_every_eu_body() -> None:
    assert peers_for(_roster(), "DE@TR") == [
        "COM@EU", "EUAA@EU", "EUAA@MA", "EUROPOL@EU", "EUROPOL@TR", "FR@TR", "IE@TR", "IT@TR",
    ]  # fmt: skip


def test_europol_and_the_euaa_gossip_with_every_node() -> None:
    roster = _roster()
    for node in ("EUROPOL@EU", "EUAA@MA"):
        assert peers_for(roster, node) == sorted(n for n in tk.NODES if n != node)
