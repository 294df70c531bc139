"""A Member State's half-year contribution for one host country, drafted from what its
officers read: no I/O here, the messages come in already checked.

What is counted (:func:`draft_contribution`):

* messages of the local network (authors posted to the host country), written in
  the half-year, except agreements, which count while in force during it;
* retracted or withdrawn messages are left out; a message that was corrected is
  counted once, as its latest correction, and shown as corrected
  (``alerts_by_kind[].corrected``);
* the Member State's postings in force during the half-year (its deployment
  notices, whenever written) for the ILOs deployed;
* the Member State's own reporting (its nodes' and officers' messages) for the
  counts of what it did: trainings, carrier positions, host-country
  contacts, alerts by kind, document fraud, routes;
* the network's for what it did together: meetings held (and of those, attended
  by the Member State as chair or participant), common approaches, representation
  and task-sharing agreements that name the Member State.

The statistics only officers know (detections, returns, by nationality or route)
and the two narratives are left for the officer to enter; :data:`TO_BE_WRITTEN`
marks them, and :func:`unfinished` names what still holds it, so that a draft is
never sent as it came.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from protocol.identifiers import split_node_id
from protocol.periods import half_year_bounds

__all__ = ["TO_BE_WRITTEN", "Counted", "draft_contribution", "unfinished"]

#: The text a draft's narratives hold until the officer writes them.
TO_BE_WRITTEN = "TO BE WRITTEN by the officer before sending."

#: Fields the log cannot fill: left at zero or empty for the officer.
OFFICER_FIELDS = (
    "irregular_migrants_detected",
    "returns_facilitated",
    "nationalities",
    "indicators",
    "activities_narrative",
    "situation_narrative",
)

_AGREEMENTS = ("representation_agreement", "task_sharing_agreement")
_MAX_SOURCES = 2000
_MAX_ROUTES = 50


@dataclass(frozen=True)
class Counted:
    """One message as the officer's side checked it: not retracted, the latest version."""

    envelope_id: bytes
    kind: str
    author_node: str
    created_ms: int
    content: Mapping[str, Any]
    #: It corrects an earlier message (which is then not given).
    corrected: bool = False


def _party_host(node: str) -> tuple[str, str]:
    parts = split_node_id(node)
    return (parts[0], parts[1]) if parts else ("", "")


def _in_force(content: Mapping[str, Any], start_day: str, end_day: str) -> bool:
    """An agreement or a posting in force on some day of [start_day, end_day) (ISO dates
    compare as text)."""
    starts, ends = str(content["start_date"]), str(content.get("end_date", "9999-12-31"))
    return starts < end_day and ends >= start_day


def _iso_day(time_ms: int) -> str:
    return dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC).date().isoformat()


def draft_contribution(
    member_state: str, host_country: str, half_year: str, messages: Iterable[Counted]
) -> dict[str, Any]:
    """The contribution's content, every field filled that the messages allow."""
    start_ms, end_ms = half_year_bounds(half_year)
    start_day, end_day = _iso_day(start_ms), _iso_day(end_ms)
    own: list[Counted] = []
    network: list[Counted] = []
    agreements: list[Counted] = []
    deployed: list[Counted] = []
    for m in messages:
        party, host = _party_host(m.author_node)
        if host != host_country or m.created_ms >= end_ms:
            continue
        # ILOs deployed is the network's composition: every posting of this Member
        # State in force during the half-year, whenever its notice was written.
        if (
            m.kind == "deployment_notice"
            and m.content["sending_state"] == member_state
            and _in_force(m.content, start_day, end_day)
        ):
            deployed.append(m)
        if m.kind in _AGREEMENTS:
            if _in_force(m.content, start_day, end_day):
                agreements.append(m)
            continue
        if m.created_ms < start_ms:
            continue
        network.append(m)
        if party == member_state:
            own.append(m)

    by_kind = Counter(m.kind for m in own)
    corrected = Counter(m.kind for m in own if m.corrected)
    meetings = [m for m in network if m.kind == "meeting_record"]
    attended = [
        m
        for m in meetings
        if m.content["chair_state"] == member_state or member_state in m.content["participants"]
    ]
    approaches = [
        m
        for m in network
        if m.kind == "common_approach" and member_state in m.content["participating_states"]
    ]
    representation = [
        m
        for m in agreements
        if m.kind == "representation_agreement"
        and (
            m.content["representing_state"] == member_state
            or member_state in m.content["represented_states"]
        )
    ]
    task_sharing = [
        m
        for m in agreements
        if m.kind == "task_sharing_agreement" and member_state in m.content["participating_states"]
    ]
    fraud = Counter(
        (m.content["document_type"], m.content["fraud_type"], m.content["issuing_country"])
        for m in own
        if m.kind == "forged_document_alert"
    )
    routes = sorted({m.content["route_name"] for m in own if m.kind == "route_report"})
    used = {
        m.envelope_id
        for m in own + deployed + meetings + approaches + representation + task_sharing
    }
    return {
        "half_year": half_year,
        "member_state": member_state,
        "host_country": host_country,
        "deployments": len(deployed),
        "meetings_held": len(meetings),
        "meetings_attended": len(attended),
        "trainings": by_kind["training_record"],
        "carrier_contacts": by_kind["carrier_position"],
        "host_network_contacts": by_kind["host_country_contact"],
        "common_approaches": len(approaches),
        "representation_agreements": len(representation),
        "task_sharing_agreements": len(task_sharing),
        "irregular_migrants_detected": 0,
        "forged_documents_detected": by_kind["forged_document_alert"],
        "smuggling_networks_reported": by_kind["smuggling_network_alert"],
        "returns_facilitated": 0,
        "nationalities": [],
        "alerts_by_kind": [
            {"kind": kind, "count": count, "corrected": corrected[kind]}
            for kind, count in sorted(by_kind.items())
        ],
        "document_fraud": [
            {"document_type": d, "fraud_type": f, "issuing_country": c, "count": n}
            for (d, f, c), n in sorted(fraud.items())
        ],
        "routes": routes[:_MAX_ROUTES],
        "indicators": [],
        "sources": sorted(used)[:_MAX_SOURCES],
        "activities_narrative": TO_BE_WRITTEN,
        "situation_narrative": TO_BE_WRITTEN,
    }


def unfinished(content: Mapping[str, Any]) -> list[str]:
    """The fields that still hold :data:`TO_BE_WRITTEN`."""
    return [name for name, value in content.items() if value == TO_BE_WRITTEN]
