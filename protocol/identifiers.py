"""Identifiers that appear in envelopes: node ids, party codes, network ids.

A node id names one node of the network as ``PARTY@HOST``: the party is the
ISO 3166-1 alpha-2 code of a Member State (or Schengen-associated state), or
``COM`` for the European Commission, or ``EBCG`` for the European Border and
Coast Guard Agency; the host is the ISO 3166-1 alpha-2 code of the third
country of the posting, or ``EU`` for a headquarters node that serves several
local networks (the Commission's and the Agency's).
"""

from __future__ import annotations

import functools
import re

from .countries import ISO_3166_ALPHA2

__all__ = [
    "EU_INSTITUTIONS",
    "EU_MEMBER_STATES",
    "HEADQUARTERS",
    "MEMBER_STATES",
    "OFFICER_NAME_PATTERN",
    "is_network_id",
    "is_node_id",
    "is_officer_name",
    "is_party",
    "split_node_id",
]

#: EU Member States (ISO codes; Greece is GR, not the EU's EL). Only these hold
#: the Council Presidency.
EU_MEMBER_STATES: frozenset[str] = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
)
#: ... and the Schengen-associated states that also post liaison officers.
MEMBER_STATES: frozenset[str] = EU_MEMBER_STATES | frozenset({"IS", "LI", "NO", "CH"})
EU_INSTITUTIONS: frozenset[str] = frozenset({"COM", "EBCG"})
HEADQUARTERS = "EU"

#: An officer's name in certificates and envelope headers: an identifier, never a
#: display name (it is in clear in every header the officer signs).
OFFICER_NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,99}"
_OFFICER_NAME = re.compile(r"\A" + OFFICER_NAME_PATTERN + r"\Z")
_NODE_ID = re.compile(r"\A([A-Z]{2,4})@([A-Z]{2})\Z")
_NETWORK_ID = re.compile(r"\A[a-z0-9][a-z0-9.-]{0,63}\Z")


def is_party(code: str) -> bool:
    return code in MEMBER_STATES or code in EU_INSTITUTIONS


@functools.lru_cache(maxsize=4096)
def split_node_id(node_id: str) -> tuple[str, str] | None:
    """``(party, host)`` for a valid node id, else ``None``."""
    match = _NODE_ID.match(node_id)
    if match is None:
        return None
    party, host = match.group(1), match.group(2)
    if not is_party(party):
        return None
    if host == HEADQUARTERS:
        return (party, host) if party in EU_INSTITUTIONS else None
    if host not in ISO_3166_ALPHA2 or host in MEMBER_STATES:
        # A liaison officer is posted to a third country, never to a Member State.
        return None
    return party, host


def is_node_id(node_id: str) -> bool:
    return split_node_id(node_id) is not None


def is_network_id(network_id: str) -> bool:
    return _NETWORK_ID.match(network_id) is not None


def is_officer_name(name: str) -> bool:
    return _OFFICER_NAME.match(name) is not None
