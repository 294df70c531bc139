"""One realistic, valid example content for every message kind.

The data is fictional: a local network in Türkiye (``TR``) during 2026, with
invented officers, organisations and figures; any resemblance to real people
is accidental. The examples feed the demo, the test vectors and the
benchmarks, so changing one changes the vectors: regenerate them.

:data:`EXAMPLES` is deeply read-only (maps are ``MappingProxyType``, lists are
tuples) because many modules share it; :func:`example` returns a fresh plain
``dict``/``list`` copy, which is what to mutate or hand to the encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import UnknownKindError
from .schema import safe_repr

__all__ = ["EXAMPLES", "example"]

_RAW: dict[str, dict[str, Any]] = {
    "deployment_notice": {
        "officer_name": "Katrin Beispiel",
        "sending_state": "DE",
        "host_country": "TR",
        "posting_city": "Ankara",
        "position": "Immigration liaison officer",
        "sending_authority": "Bundespolizei",
        "start_date": "2026-03-01",
        "end_date": "2029-02-28",
        "competences": ["border_control", "document_fraud", "smuggling"],
        "states_represented": ["AT", "LU"],
        "contact": {
            "email": "ilo.ankara@example.invalid",
            "phone": "+90 312 555 0142",
        },
        "notes": "Also covers the consular section's document advisory role.",
    },
    "flow_report": {
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
        "origin_countries": ["AF", "SY", "IQ"],
        "transit_countries": ["IR", "TR"],
        "destination_countries": ["GR", "BG", "DE"],
        "nationalities": [
            {"nationality": "AF", "count": 1240},
            {"nationality": "SY", "count": 860},
            {"nationality": "IQ", "count": 310},
        ],
        "total_count": 2650,
        "trend": "increasing",
        "sources": ["host_authorities", "local_network"],
        "notes": "Increase concentrated on the Van - Istanbul corridor after mid-February.",
        "source_reliability": "B",
        "information_accuracy": 2,
    },
    "route_report": {
        "route_name": "Van - Istanbul - Edirne land route",
        "waypoints": [
            {"country": "IR", "place": "Khoy"},
            {"country": "TR", "place": "Van"},
            {"country": "TR", "place": "Istanbul"},
            {"country": "TR", "place": "Edirne"},
            {"country": "BG"},
        ],
        "transport_modes": ["land"],
        "nationalities": ["AF", "PK"],
        "active_since": "2025-09-15",
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
        "notes": "Minibus legs between cities; crossing on foot near the river border.",
    },
    "smuggling_network_alert": {
        "organisation_name": "Network 'Lighthouse' (working label)",
        "modus_operandi": (
            "Recruits through messaging groups, collects payment via informal transfer "
            "agents and moves groups of 10-15 by minibus to the coast at night."
        ),
        "routes": ["Izmir - Lesvos sea crossing"],
        "prices": [
            {"amount": 2500, "currency": "EUR", "per": "person"},
            {"amount": 800, "currency": "USD", "per": "document"},
        ],
        "linked_networks": ["Network 'Harbour' (working label)"],
        "nationalities_involved": ["TR", "SY"],
        "countries_of_operation": ["TR", "GR"],
        "known_members": ["alias 'Captain'", "alias 'Teacher'"],
        "confidence": "probable",
    },
    "incident_alert": {
        "category": "policy_change",
        "title": "Host country tightens visa-free entry for two nationalities",
        "occurred_on": "2026-04-10",
        "country": "TR",
        "description": (
            "The host ministry announced that visa-free entry ends on 1 May 2026; "
            "a rise in attempts before the deadline is expected."
        ),
        "expected_impact": "medium",
        "source_reliability": "A",
        "information_accuracy": 1,
    },
    "forged_document_alert": {
        "document_type": "residence_permit",
        "issuing_country": "IT",
        "fraud_type": "counterfeit",
        "detection_features": [
            "Missing optically variable ink on the card number",
            "Laser-engraved photo replaced by inkjet print",
        ],
        "first_detected": "2026-02-18",
        "detected_at": "Istanbul Airport, departure gates",
        "route": "Istanbul - Bologna",
        "holder_nationality": "PK",
        "document_number": "Z0000000X",
        "holder_name": "Test Holder",
    },
    "prevention_assistance_note": {
        "host_authority": "Directorate of Migration Management, Izmir office",
        "assistance_type": "document_examination",
        "date": "2026-05-12",
        "description": "Two-day workshop on examining EU residence permits for airport staff.",
    },
    "return_facilitation_note": {
        "topic": "travel_documents",
        "host_authority": "Consular affairs department",
        "date": "2026-06-03",
        "description": "Agreed a contact point for emergency travel document requests.",
    },
    "legislation_note": {
        "category": "legislation",
        "jurisdiction": "TR",
        "title": "Amendment to the law on foreigners and international protection",
        "reference": "Official Gazette no. 00000 (fictional)",
        "effective_date": "2026-07-01",
        "summary": "Raises penalties for migrant smuggling and extends detention review periods.",
    },
    "meeting_record": {
        "date": "2026-05-20",
        "location": "Embassy of the Netherlands, Ankara",
        "chair_state": "NL",
        "participants": ["NL", "DE", "FR", "GR", "BG", "COM", "EBCG"],
        "commission_present": True,
        "agency_present": True,
        "topics": ["flows", "routes", "document_fraud", "training"],
        "summary": "Exchanged Q1 flow figures; agreed a joint training on residence permits.",
    },
    "training_record": {
        "title": "Detecting counterfeit EU residence permits",
        "start_date": "2026-06-16",
        "end_date": "2026-06-17",
        "organiser_state": "IT",
        "audience": "carriers",
        "participant_count": 34,
        "topics": ["Residence permit security features", "Impostor detection"],
    },
    "carrier_position": {
        "carrier_name": "Example Air",
        "carrier_type": "airline",
        "date": "2026-04-22",
        "position": "Members ask the carrier to extend document checks to transfer passengers.",
        "endorsing_states": ["DE", "NL", "FR"],
    },
    "common_approach": {
        "title": "Common template for monthly flow figures",
        "subject": "reporting",
        "adopted_on": "2026-05-20",
        "participating_states": ["NL", "DE", "FR", "GR", "BG"],
        "description": "Members report monthly figures by nationality using flow_report.",
    },
    "host_country_contact": {
        "counterpart": "Provincial migration coordination board",
        "country": "TR",
        "contact_date": "2026-03-11",
        "description": "Introductory meeting; agreed quarterly exchange of statistics.",
        "contact_person": "Head of the coordination office",
    },
    "representation_agreement": {
        "representing_state": "DE",
        "represented_states": ["AT", "LU"],
        "scope": ["visa", "document_fraud"],
        "start_date": "2026-03-01",
        "legal_basis": "Arrangement DE-AT-LU of 2026-02-15 (fictional)",
    },
    "task_sharing_agreement": {
        "participating_states": ["FR", "BE", "NL"],
        "tasks": ["Airport document advice at Istanbul Airport", "Carrier liaison"],
        "start_date": "2026-04-01",
        "end_date": "2026-12-31",
        "description": "Weekly rota between the three ILOs for airport presence.",
    },
    "half_year_contribution": {
        "half_year": "2026-H1",
        "member_state": "DE",
        "host_country": "TR",
        "deployments": 2,
        "meetings_held": 6,
        "meetings_attended": 5,
        "trainings": 2,
        "carrier_contacts": 9,
        "host_network_contacts": 4,
        "common_approaches": 1,
        "representation_agreements": 1,
        "task_sharing_agreements": 0,
        "irregular_migrants_detected": 412,
        "forged_documents_detected": 37,
        "smuggling_networks_reported": 3,
        "returns_facilitated": 58,
        "nationalities": [
            {"nationality": "AF", "count": 190},
            {"nationality": "SY", "count": 120},
        ],
        "alerts_by_kind": [
            {"kind": "forged_document_alert", "count": 4, "corrected": 1},
            {"kind": "route_report", "count": 2, "corrected": 0},
        ],
        "document_fraud": [
            {
                "document_type": "residence_permit",
                "fraud_type": "counterfeit",
                "issuing_country": "IT",
                "count": 3,
            },
            {
                "document_type": "passport",
                "fraud_type": "impostor",
                "issuing_country": "DE",
                "count": 1,
            },
        ],
        "routes": ["Van - Istanbul - Edirne"],
        "indicators": [
            {
                "indicator": "illegal_border_crossing_between_bcps",
                "nationality": "AF",
                "count": 150,
            },
            {"indicator": "refusals_of_entry", "count": 42},
            {"indicator": "effective_returns", "nationality": "PK", "count": 17},
        ],
        "activities_narrative": "Regular attendance at network meetings; two carrier trainings.",
        "situation_narrative": "Flows via the eastern land border rose; sea departures stable.",
    },
    "retraction": {
        "reason": "Sent to the wrong network; the figures were not yet confirmed.",
    },
    "key_share": {"content_key": bytes(range(32))},
}


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


EXAMPLES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {kind: _freeze(content) for kind, content in _RAW.items()}
)
"""Example content by kind name; read-only, use :func:`example` for a copy."""

del _RAW


def example(kind: str) -> dict[str, Any]:
    """A fresh, mutable copy of the example for ``kind`` (plain dicts and lists)."""
    try:
        content = EXAMPLES[kind]
    except KeyError:
        raise UnknownKindError(f"no example for message kind {safe_repr(kind)}") from None
    out: dict[str, Any] = _thaw(content)
    return out
