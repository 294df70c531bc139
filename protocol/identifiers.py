"""Identifiers that appear in envelopes: node ids, party codes, network ids.

A node id names one node of the network as ``PARTY@HOST``. The party is the
ISO 3166-1 alpha-2 code of a Member State (or Schengen-associated state), or
the code of an EU body that holds nodes (:data:`EU_INSTITUTIONS`: the
Commission, the European Border and Coast Guard Agency, Europol and the EU
Agency for Asylum, the EU bodies represented on the Steering Board of the
recast Regulation (EU) 2019/1240). The host is the ISO 3166-1 alpha-2 code of
the third country of the posting, or ``EU`` for an EU body's headquarters node
that serves several local networks.
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
#: The EU bodies that hold nodes, by party code: the European Commission, the
#: European Border and Coast Guard Agency (Frontex), the European Union Agency
#: for Law Enforcement Cooperation and the European Union Agency for Asylum.
EU_INSTITUTIONS: frozenset[str] = frozenset({"COM", "EBCG", "EUROPOL", "EUAA"})
HEADQUARTERS = "EU"

#: An officer's name in certificates and envelope headers: an identifier, never a
#: display name (it is in clear in every header the officer signs).
OFFICER_NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,99}"
_OFFICER_NAME = re.compile(r"\A" + OFFICER_NAME_PATTERN + r"\Z")
# A party is 2-7 letters: a state's alpha-2 code up to the longest EU body code,
# EUROPOL. The syntax is checked first, membership after (is_party).
_NODE_ID = re.compile(r"\A([A-Z]{2,7})@([A-Z]{2})\Z")
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
