"""The registry of message content kinds and their schemas.

Each kind is one :class:`~protocol.schema.KindSpec` wrapped in
:func:`_register`; adding a kind is adding one such block (and an example in
``protocol/examples.py``). Kind names are part of the wire format: never rename
or reuse one, add a new kind instead.

Conventions every kind follows, so that the spec can state them once:

* dates are ``YYYY-MM-DD``; an end date or period end is never before its start;
* countries and Member States are ISO 3166-1 alpha-2 codes (Greece is ``GR``,
  not the EU's ``EL``). Which states take part in a network is the roster's
  business, not the schema's, so "Member State" fields accept any code;
* counts are integers 0..10 000 000; lists hold at most 200 items (fewer where
  the worst case would not fit the 512 KiB content cap);
* every free-text (:class:`~protocol.schema.Text`) field is marked personal:
  free text can name people and the node cannot tell when it does. Person
  names, document numbers and contact details are personal too;
* the kinds that carry intelligence (flows, routes, smuggling networks,
  incidents, forged documents) may carry its evaluation, both grades or none
  (:mod:`protocol.evaluation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import ContentError, UnknownKindError
from .evaluation import ACCURACY_FIELD, INFORMATION_ACCURACY, SOURCE_FIELD, SOURCE_RELIABILITY
from .identifiers import EU_INSTITUTIONS
from .schema import (
    Bool,
    Bytes,
    Check,
    Country,
    Date,
    Enum,
    Field,
    Grade,
    HalfYear,
    Int,
    KindSpec,
    List,
    Str,
    Struct,
    Text,
    all_of,
    in_order,
    safe_repr,
)

__all__ = [
    "ARTICLE2_TOPICS",
    "COMPETENCES",
    "COUNTED_KINDS",
    "DOCUMENT_TYPES",
    "FRAUD_TYPES",
    "INDICATORS",
    "KINDS",
    "PARTY_AGENCY",
    "PARTY_COMMISSION",
    "kind_spec",
]

# --- shared building blocks ------------------------------------------------

MAX_ITEMS = 200
NAME = Str(200)
TITLE = Str(300)
TEXT = Text(20_000)
SHORT_TEXT = Text(5_000)
COUNT = Int(0, 10_000_000)
COUNTRY = Country()
DATE = Date()

PARTY_COMMISSION = "COM"
"""Party code of the European Commission in meeting participant lists."""
PARTY_AGENCY = "EBCG"
"""Party code of the European Border and Coast Guard Agency (Frontex)."""

COMPETENCES = (
    "border_control",
    "visa",
    "document_fraud",
    "return",
    "smuggling",
    "trafficking",
    "asylum",
    "law_enforcement_liaison",
)
"""What an ILO deals with (Regulation 2019/1240, Article 3)."""

ARTICLE2_TOPICS = (
    "flows",
    "routes",
    "smuggling",
    "incidents",
    "document_fraud",
    "prevention",
    "return",
    "legislation",
    "carriers",
    "training",
    "common_approaches",
    "other",
)
"""The information categories the network exchanges; also Part II of the report."""


def _countries(max_items: int = MAX_ITEMS, min_items: int = 0) -> List:
    return List(COUNTRY, max_items, min_items=min_items, unique=True)


def _enum_set(values: tuple[str, ...], min_items: int = 1) -> List:
    return List(Enum(values), len(values), min_items=min_items, unique=True)


NATIONALITY_COUNTS = List(
    Struct(
        (
            Field("nationality", COUNTRY, doc="country of nationality"),
            Field("count", COUNT),
        )
    ),
    MAX_ITEMS,
    unique_by="nationality",
)


def _sum_at_most(list_field: str, total_field: str) -> Check:
    """Per-nationality counts may be a partial breakdown but never exceed the total."""

    def check(content: Mapping[str, Any], path: str) -> None:
        total = sum(item["count"] for item in content.get(list_field, ()))
        if total > content[total_field]:
            raise ContentError(
                f"{path}.{list_field}: counts add up to {total}, more than "
                f"{total_field} {content[total_field]}; expected at most {total_field} in all "
                "(a breakdown may cover only some)"
            )

    return check


def _not_listed(single: str, many: str, why: str) -> Check:
    def check(content: Mapping[str, Any], path: str) -> None:
        items = content.get(many, ())
        if single in content and content[single] in items:
            i = items.index(content[single])
            raise ContentError(
                f"{path}.{many}[{i}]: {content[single]!r} is {why}; leave it out of {many}"
            )

    return check


# Optional on the kinds that carry intelligence (protocol/evaluation.py), as a pair.
_EVALUATION = (
    Field(
        SOURCE_FIELD,
        Grade(tuple(SOURCE_RELIABILITY)),
        required=False,
        doc="evaluation of the source (4x4): A always reliable, B mostly reliable, "
        "C mostly unreliable, X cannot be assessed",
    ),
    Field(
        ACCURACY_FIELD,
        Int(min(INFORMATION_ACCURACY), max(INFORMATION_ACCURACY)),
        required=False,
        doc="evaluation of the information (4x4): 1 not in doubt, 2 known personally "
        "to the source, 3 corroborated, 4 cannot be corroborated",
    ),
)


def _evaluated_as_pair(content: Mapping[str, Any], path: str) -> None:
    # One grade means little without the other; requiring both keeps every
    # evaluation code a letter and a digit (evaluation_code).
    source, accuracy = _EVALUATION
    for given, missing in ((source, accuracy), (accuracy, source)):
        if given.name in content and missing.name not in content:
            raise ContentError(
                f"{path}.{missing.name}: required when {given.name} is given; {missing.type.hint()}"
            )


_REGISTRY: dict[str, KindSpec] = {}

KINDS: Mapping[str, KindSpec] = MappingProxyType(_REGISTRY)
"""Every content kind this node understands, by name (read-only view)."""


def _register(spec: KindSpec) -> KindSpec:
    if spec.name in _REGISTRY:
        raise AssertionError(f"kind {spec.name} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def kind_spec(name: str) -> KindSpec:
    """The schema of kind ``name``; :class:`UnknownKindError` if there is none."""
    if not isinstance(name, str):
        raise UnknownKindError(f"message kind must be a string, got {type(name).__name__}")
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKindError(f"unknown message kind {safe_repr(name)}") from None


# --- deployments ------------------------------------------------------------


def _contact_given(content: Mapping[str, Any], path: str) -> None:
    if "contact" in content and not content["contact"]:
        raise ContentError(f"{path}.contact: give at least one of email, phone, address")


_register(
    KindSpec(
        "deployment_notice",
        (
            Field("officer_name", NAME, personal=True),
            Field("sending_state", COUNTRY, doc="Member State that posts the officer"),
            Field("host_country", COUNTRY),
            Field("posting_city", NAME),
            Field("position", TITLE, doc="title of the post, e.g. 'ILO' or 'ILO (deputy)'"),
            Field("sending_authority", NAME, doc="authority the officer belongs to"),
            Field("start_date", DATE),
            Field("end_date", DATE, required=False, doc="absent while open-ended"),
            Field("competences", _enum_set(COMPETENCES)),
            Field(
                "states_represented",
                _countries(),
                doc="other Member States whose interests the officer also represents",
            ),
            Field(
                "contact",
                Struct(
                    (
                        Field(
                            "email",
                            Str(
                                254,
                                pattern=r"[^@\s]+@[^@\s]+\.[^@\s]+",
                                sample="ilo.post@example.invalid",
                            ),
                            required=False,
                            personal=True,
                        ),
                        Field(
                            "phone",
                            Str(
                                40,
                                pattern=r"\+?[0-9][0-9 ()\-]{2,39}",
                                sample="+32 2 555 0100",
                            ),
                            required=False,
                            personal=True,
                        ),
                        Field("address", TITLE, required=False, personal=True),
                    )
                ),
                required=False,
                personal=True,
                doc="professional contact details; at least one entry",
            ),
            Field("notes", TEXT, required=False, personal=True),
        ),
        "An officer's posting to a host country begins, changes or ends (Art. 4).",
        check=all_of(
            in_order("start_date", "end_date"),
            _not_listed("sending_state", "states_represented", "the sending state"),
            _contact_given,
        ),
    )
)

# --- Article 2 information categories ----------------------------------------

_register(
    KindSpec(
        "flow_report",
        (
            Field("period_start", DATE),
            Field("period_end", DATE),
            Field("origin_countries", _countries()),
            Field("transit_countries", _countries()),
            Field("destination_countries", _countries()),
            Field(
                "nationalities",
                NATIONALITY_COUNTS,
                doc="breakdown by nationality; may cover only the main ones",
            ),
            Field("total_count", COUNT, doc="irregular migrants observed in the period"),
            Field("trend", Enum(("increasing", "stable", "decreasing", "unknown"))),
            Field(
                "sources",
                _enum_set(
                    (
                        "host_authorities",
                        "own_observation",
                        "local_network",
                        "carriers",
                        "international_organisations",
                        "ngos",
                        "open_sources",
                        "other",
                    )
                ),
            ),
            Field("notes", TEXT, required=False, personal=True),
            *_EVALUATION,
        ),
        "Flows of irregular migrants originating from or transiting the host country.",
        check=all_of(
            in_order("period_start", "period_end"),
            _sum_at_most("nationalities", "total_count"),
            _evaluated_as_pair,
        ),
    )
)

_register(
    KindSpec(
        "route_report",
        (
            Field("route_name", NAME, doc="working name, referred to by other reports"),
            Field(
                "waypoints",
                List(
                    Struct(
                        (
                            Field("country", COUNTRY),
                            Field("place", NAME, required=False, doc="city, port or crossing"),
                        )
                    ),
                    MAX_ITEMS,
                    min_items=2,
                ),
                doc="from origin to destination, in travel order",
            ),
            Field("transport_modes", _enum_set(("air", "sea", "land", "rail"))),
            Field("nationalities", _countries(), doc="nationalities of the migrants using it"),
            Field("active_since", DATE, doc="first known use"),
            Field("period_start", DATE),
            Field("period_end", DATE),
            Field("notes", TEXT, required=False, personal=True),
            *_EVALUATION,
        ),
        "A route used by irregular migrants to reach Member States.",
        check=all_of(
            in_order("period_start", "period_end"),
            in_order("active_since", "period_end"),
            _evaluated_as_pair,
        ),
    )
)

_register(
    KindSpec(
        "smuggling_network_alert",
        (
            Field("organisation_name", NAME, doc="name or working label of the network"),
            Field("modus_operandi", TEXT, personal=True),
            Field("routes", List(TITLE, 50, unique=True), doc="route names or descriptions"),
            Field(
                "prices",
                List(
                    Struct(
                        (
                            Field("amount", COUNT),
                            Field(
                                "currency",
                                Str(3, min_len=3, pattern=r"[A-Z]{3}", sample="EUR"),
                                doc="ISO 4217 code",
                            ),
                            Field("per", Enum(("person", "journey", "document"))),
                        )
                    ),
                    MAX_ITEMS,
                ),
                doc="prices charged",
            ),
            Field(
                "linked_networks",
                List(NAME, 50, unique=True),
                doc="other networks it works with",
            ),
            Field("nationalities_involved", _countries()),
            Field("countries_of_operation", _countries(min_items=1)),
            Field(
                "known_members",
                List(NAME, 100, min_items=1),
                required=False,
                personal=True,
                doc="names or aliases",
            ),
            Field("confidence", Enum(("confirmed", "probable", "possible", "doubtful"))),
            *_EVALUATION,
        ),
        "A criminal organisation smuggling migrants, and its modus operandi.",
        check=_evaluated_as_pair,
    )
)

_register(
    KindSpec(
        "incident_alert",
        (
            Field(
                "category",
                Enum(("incident", "new_trend", "policy_change", "crisis", "other")),
            ),
            Field("title", TITLE),
            Field("occurred_on", DATE),
            Field("country", COUNTRY),
            Field("description", TEXT, personal=True),
            Field(
                "expected_impact",
                Enum(("low", "medium", "high", "unknown")),
                doc="expected effect on migration flows",
            ),
            *_EVALUATION,
        ),
        "An incident, new trend or factor that may change the flows.",
        check=_evaluated_as_pair,
    )
)

#: Document types and fraud types of a forged-document alert (REPORT.md's typology, to
#: be checked against the Frontex EDF-RAN scheme), also the keys of the contribution's
#: document-fraud table.
DOCUMENT_TYPES = (
    "passport",
    "id_card",
    "visa",
    "residence_permit",
    "travel_document",
    "driving_licence",
    "other",
)
FRAUD_TYPES = (
    "counterfeit",
    "forged",
    "fraudulently_obtained",
    "impostor",
    "pseudo_document",
    "stolen_blank",
)

_register(
    KindSpec(
        "forged_document_alert",
        (
            Field("document_type", Enum(DOCUMENT_TYPES)),
            Field("issuing_country", COUNTRY, doc="country the document claims to be from"),
            Field("fraud_type", Enum(FRAUD_TYPES)),
            Field("detection_features", List(TITLE, 50, min_items=1), doc="how to spot it"),
            Field("first_detected", DATE),
            Field("detected_at", NAME, doc="airport, border post or office"),
            Field("route", TITLE, required=False, doc="route the holder travelled"),
            Field("holder_nationality", COUNTRY, required=False),
            Field("document_number", Str(50), required=False, personal=True),
            Field("holder_name", NAME, required=False, personal=True),
            Field("notes", TEXT, required=False, personal=True),
            *_EVALUATION,
        ),
        "A method of forging identity or travel documents, as detected.",
        check=_evaluated_as_pair,
    )
)

_register(
    KindSpec(
        "prevention_assistance_note",
        (
            Field("host_authority", NAME),
            Field(
                "assistance_type",
                Enum(
                    (
                        "training",
                        "equipment",
                        "advice",
                        "document_examination",
                        "joint_operation",
                        "awareness_campaign",
                        "capacity_building",
                        "other",
                    )
                ),
            ),
            Field("date", DATE),
            Field("description", TEXT, personal=True),
        ),
        "Assistance to host-country authorities in preventing irregular migration flows.",
    )
)

_register(
    KindSpec(
        "return_facilitation_note",
        (
            Field(
                "topic",
                Enum(
                    (
                        "identification",
                        "travel_documents",
                        "readmission",
                        "transit",
                        "voluntary_return",
                        "reintegration",
                        "other",
                    )
                ),
            ),
            Field("host_authority", NAME),
            Field("date", DATE),
            Field("description", TEXT, personal=True),
        ),
        "How best to facilitate the return of third-country nationals.",
    )
)

_register(
    KindSpec(
        "legislation_note",
        (
            # Named 'category', not 'kind', to avoid confusion with the message kind.
            Field("category", Enum(("legislation", "legal_practice"))),
            Field("jurisdiction", COUNTRY),
            Field("title", TITLE),
            Field("reference", TITLE, doc="official reference: gazette, law or case number"),
            Field("effective_date", DATE, required=False),
            Field("summary", TEXT, personal=True),
        ),
        "Relevant host-country legislation or legal practice.",
    )
)

# --- network activities (Part I of the report) -------------------------------


def _presence_matches(flag: str, party: str) -> Check:
    # The flag duplicates the participant list on purpose (it is what the report
    # counts); refusing a mismatch keeps the two from telling different stories.
    def check(content: Mapping[str, Any], path: str) -> None:
        if content[flag] != (party in content["participants"]):
            state = "true" if content[flag] else "false"
            has = "do not include" if content[flag] else "include"
            raise ContentError(
                f"{path}.{flag}: is {state} but participants {has} {party!r}; expected "
                f"{flag} true exactly when {party} is among the participants"
            )

    return check


def _chair_participates(content: Mapping[str, Any], path: str) -> None:
    if content["chair_state"] not in content["participants"]:
        raise ContentError(
            f"{path}.chair_state: {content['chair_state']!r} is not among the participants; "
            "expected one of the participants"
        )


_register(
    KindSpec(
        "meeting_record",
        (
            Field("date", DATE),
            Field("location", NAME),
            Field("chair_state", COUNTRY),
            Field(
                "participants",
                List(
                    Country(extra=tuple(sorted(EU_INSTITUTIONS))),
                    MAX_ITEMS,
                    min_items=1,
                    unique=True,
                ),
                doc=f"Member States and EU bodies: {PARTY_COMMISSION} (Commission), "
                f"{PARTY_AGENCY} (Agency), EUROPOL, EUAA",
            ),
            Field("commission_present", Bool()),
            Field("agency_present", Bool()),
            Field("topics", _enum_set(ARTICLE2_TOPICS)),
            Field("summary", TEXT, personal=True),
        ),
        "A meeting of the local network (Art. 10).",
        check=all_of(
            _chair_participates,
            _presence_matches("commission_present", PARTY_COMMISSION),
            _presence_matches("agency_present", PARTY_AGENCY),
        ),
    )
)

_register(
    KindSpec(
        "training_record",
        (
            Field("title", TITLE),
            Field("start_date", DATE),
            Field("end_date", DATE),
            Field("organiser_state", COUNTRY),
            Field("audience", Enum(("ilos", "host_authorities", "carriers", "mixed"))),
            Field("participant_count", COUNT),
            Field("topics", List(TITLE, 50, min_items=1)),
        ),
        "Joint training or information session.",
        check=in_order("start_date", "end_date"),
    )
)

_register(
    KindSpec(
        "carrier_position",
        (
            Field("carrier_name", NAME),
            Field("carrier_type", Enum(("airline", "shipping", "bus", "rail", "other"))),
            Field("date", DATE),
            Field("position", TEXT, personal=True, doc="the position agreed towards the carrier"),
            Field("endorsing_states", _countries(min_items=1)),
        ),
        "A common position of the network towards a commercial carrier.",
    )
)

_register(
    KindSpec(
        "common_approach",
        (
            Field("title", TITLE),
            Field(
                "subject",
                Enum(
                    (
                        "information_collection",
                        "reporting",
                        "risk_analysis",
                        "training",
                        "carrier_liaison",
                        "other",
                    )
                ),
            ),
            Field("adopted_on", DATE),
            Field("participating_states", _countries(min_items=1)),
            Field("description", TEXT, personal=True),
        ),
        "A common approach adopted by the network, e.g. to collecting information.",
    )
)

_register(
    KindSpec(
        "host_country_contact",
        (
            Field("counterpart", NAME, doc="network or authority contacted"),
            Field("country", COUNTRY, doc="host country or neighbouring country"),
            Field("contact_date", DATE),
            Field("description", TEXT, personal=True),
            Field("contact_person", NAME, required=False, personal=True),
        ),
        "Contact with a similar network or authority of the host or a neighbouring country.",
    )
)

_register(
    KindSpec(
        "representation_agreement",
        (
            Field("representing_state", COUNTRY),
            Field("represented_states", _countries(min_items=1)),
            Field("scope", _enum_set(COMPETENCES), doc="tasks the representation covers"),
            Field("start_date", DATE),
            Field("end_date", DATE, required=False),
            Field("legal_basis", TITLE, doc="reference of the agreement"),
            Field("notes", TEXT, required=False, personal=True),
        ),
        "An agreement for one Member State's ILO to represent others' interests.",
        check=all_of(
            in_order("start_date", "end_date"),
            _not_listed("representing_state", "represented_states", "the representing state"),
        ),
    )
)

_register(
    KindSpec(
        "task_sharing_agreement",
        (
            Field("participating_states", _countries(min_items=2)),
            Field("tasks", List(TITLE, 50, min_items=1)),
            Field("start_date", DATE),
            Field("end_date", DATE, required=False),
            Field("description", TEXT, personal=True),
        ),
        "An agreement among Member States' ILOs to share tasks.",
        check=in_order("start_date", "end_date"),
    )
)

# --- reporting and housekeeping ------------------------------------------------

_HALF_YEAR_COUNTS = (
    ("deployments", "ILOs deployed by this Member State in the host country"),
    ("meetings_held", "meetings of the local network"),
    ("meetings_attended", "of those, meetings this Member State's ILOs attended"),
    ("trainings", "joint trainings"),
    ("carrier_contacts", "contacts with commercial carriers"),
    ("host_network_contacts", "contacts with host/neighbouring-country networks"),
    ("common_approaches", "common approaches adopted"),
    ("representation_agreements", "representation agreements in force"),
    ("task_sharing_agreements", "task-sharing agreements in force"),
    ("irregular_migrants_detected", ""),
    ("forged_documents_detected", ""),
    ("smuggling_networks_reported", ""),
    ("returns_facilitated", ""),
)


def _attended_at_most_held(content: Mapping[str, Any], path: str) -> None:
    if content["meetings_attended"] > content["meetings_held"]:
        raise ContentError(
            f"{path}.meetings_attended: {content['meetings_attended']} is more than "
            f"meetings_held {content['meetings_held']}; expected at most meetings_held"
        )


#: The statistical indicators of the half-year report (REPORT.md: the Frontex Risk
#: Analysis Network's, which EU readers know), entered by officers per nationality or
#: route where the data exist.
INDICATORS = (
    "illegal_border_crossing_between_bcps",
    "illegal_border_crossing_at_bcps",
    "suspected_facilitators",
    "illegal_stay",
    "refusals_of_entry",
    "fraudulent_documents",
    "return_decisions",
    "effective_returns",
)
#: The kinds a contribution counts (all that a person publishes but the contribution).
COUNTED_KINDS = (
    "carrier_position",
    "common_approach",
    "deployment_notice",
    "flow_report",
    "forged_document_alert",
    "host_country_contact",
    "incident_alert",
    "legislation_note",
    "meeting_record",
    "prevention_assistance_note",
    "representation_agreement",
    "return_facilitation_note",
    "route_report",
    "smuggling_network_alert",
    "task_sharing_agreement",
    "training_record",
)


def _unique_rows(list_field: str, keys: tuple[str, ...]) -> Check:
    """No two rows of ``list_field`` for the same ``keys`` (absent keys count as such)."""

    def check(content: Mapping[str, Any], path: str) -> None:
        seen: set[tuple[Any, ...]] = set()
        for i, row in enumerate(content.get(list_field, [])):
            key = tuple(row.get(k) for k in keys)
            if key in seen:
                raise ContentError(
                    f"{path}.{list_field}[{i}]: a second row for the same "
                    f"{', '.join(keys)}; expected one row each, their counts added"
                )
            seen.add(key)

    return check


_register(
    KindSpec(
        "half_year_contribution",
        (
            Field("half_year", HalfYear()),
            Field("member_state", COUNTRY),
            Field("host_country", COUNTRY),
            *(Field(name, COUNT, doc=doc) for name, doc in _HALF_YEAR_COUNTS),
            Field(
                "nationalities",
                NATIONALITY_COUNTS,
                doc="irregular migrants detected, by nationality",
            ),
            Field(
                "alerts_by_kind",
                List(
                    Struct(
                        (
                            Field("kind", Enum(COUNTED_KINDS)),
                            Field("count", COUNT),
                            Field("corrected", COUNT, doc="of those, corrected since"),
                        )
                    ),
                    len(COUNTED_KINDS),
                    unique_by="kind",
                ),
                required=False,
                doc="messages of the period by kind, retracted ones left out",
            ),
            Field(
                "document_fraud",
                List(
                    Struct(
                        (
                            Field("document_type", Enum(DOCUMENT_TYPES)),
                            Field("fraud_type", Enum(FRAUD_TYPES)),
                            Field("issuing_country", COUNTRY),
                            Field("count", COUNT),
                        )
                    ),
                    MAX_ITEMS,
                ),
                required=False,
                doc="forged-document alerts by document type, fraud type and issuing country",
            ),
            Field(
                "routes",
                List(TITLE, 50, unique=True),
                required=False,
                doc="routes reported in the period",
            ),
            Field(
                "indicators",
                List(
                    Struct(
                        (
                            Field("indicator", Enum(INDICATORS)),
                            Field("nationality", COUNTRY, required=False),
                            Field("route", TITLE, required=False),
                            Field("count", COUNT),
                        )
                    ),
                    MAX_ITEMS,
                ),
                required=False,
                doc="statistics entered by officers, by nationality or route where known",
            ),
            Field(
                "sources",
                List(Bytes(32, "envelope id"), 2000, unique=True),
                required=False,
                doc="ids of the envelopes the counts were taken from",
            ),
            Field("activities_narrative", SHORT_TEXT, personal=True, doc="Part I"),
            Field("situation_narrative", SHORT_TEXT, personal=True, doc="Part II"),
        ),
        "A Member State's input for one host country to the half-year report "
        "(Decision 2005/687/EC), sent to the Presidency and the Commission.",
        check=all_of(
            _attended_at_most_held,
            _sum_at_most("nationalities", "irregular_migrants_detected"),
            _unique_rows("document_fraud", ("document_type", "fraud_type", "issuing_country")),
            _unique_rows("indicators", ("indicator", "nationality", "route")),
        ),
    )
)


_register(
    KindSpec(
        "retraction",
        (Field("reason", Text(2_000), personal=True),),
        "Withdraws one of the author's earlier envelopes, named in the header's "
        "refers_to (a correction is instead a new envelope of the target's kind that "
        "refers to it).",
    )
)

_register(
    KindSpec(
        "key_share",
        (
            Field(
                "content_key",
                Bytes(32, "content key"),
                doc="the content key of the envelope named in refers_to",
            ),
        ),
        "A node gives the content key of one of its own or its officers' envelopes to "
        "recipients whose prekeys it did not have when the envelope was sealed; the "
        "target's signed key commitment proves the key opens what the author signed.",
    )
)
