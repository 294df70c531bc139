"""Node ids and party codes (protocol/identifiers.py): the EU bodies that hold nodes."""

from __future__ import annotations

import pytest

from protocol.crypto import x25519_public
from protocol.errors import FieldError
from protocol.identifiers import EU_INSTITUTIONS, is_node_id, is_party, split_node_id
from tests.support.helpers import derive, make


def test_the_eu_bodies_that_hold_nodes() -> None:
    assert {"COM", "EBCG", "EUROPOL", "EUAA"} == EU_INSTITUTIONS
    assert all(is_party(code) for code in EU_INSTITUTIONS)


@pytest.mark.parametrize(
    ("node", "parts"),
    [
        ("DE@TR", ("DE", "TR")),
        ("COM@EU", ("COM", "EU")),
        ("EBCG@EU", ("EBCG", "EU")),
        ("EUROPOL@EU", ("EUROPOL", "EU")),
        ("EUAA@EU", ("EUAA", "EU")),
        ("EUROPOL@TR", ("EUROPOL", "TR")),  # an EU body's node in one host country
        ("EUAA@MA", ("EUAA", "MA")),
    ],
)
def test_valid_node_ids(node: str, parts: tuple[str, str]) -> None:
    assert split_node_id(node) == parts
    assert is_node_id(node)


@pytest.mark.parametrize(
    "node",
    [
        "DE@EU",  # headquarters only for EU bodies
        "EUROPOL@DE",  # never posted to a Member State
        "EUROPOLX@EU",  # 8 letters
        "EUROP@EU",  # syntax fits, not a party
        "europol@EU",
        "EUAA@XX",
        "E@TR",
        "EUROPOL@EU\n",
        "EUROPOL@@EU",
    ],
)
def test_invalid_node_ids(node: str) -> None:
    assert split_node_id(node) is None


def test_local_distribution_reaches_eu_bodies_wherever_they_are_posted() -> None:
    recipients = ("DE@TR", "EUAA@EU", "EUAA@MA", "EUROPOL@EU", "EUROPOL@TR")
    keys = {r: [x25519_public(derive("prekey " + r))] for r in recipients}
    assert make(recipient_keys=keys).header.recipients == recipients
    with pytest.raises(FieldError, match="outside the local network"):
        make(recipient_keys={**keys, "NL@MA": [x25519_public(derive("prekey NL@MA"))]})
