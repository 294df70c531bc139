"""Tests for the content schemas (protocol/schema.py) and the kind registry."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import ContentError, UnknownKindError, UsageError
from protocol.examples import EXAMPLES, example
from protocol.kinds import KINDS, kind_spec
from protocol.limits import DEFAULT_LIMITS, Limits
from protocol.schema import (
    Bool,
    Country,
    Date,
    Enum,
    EnvelopeId,
    Field,
    FieldType,
    Grade,
    HalfYear,
    Int,
    KindSpec,
    List,
    PublicKey,
    Str,
    Struct,
    Text,
)

ALL_KINDS = sorted(KINDS)


def refused(kind: str, content: object, path: str) -> ContentError:
    """Assert that ``content`` is refused with an error at exactly ``path``."""
    with pytest.raises(ContentError) as info:
        KINDS[kind].validate(content)
    message = str(info.value)
    assert message.startswith(path + ": "), message
    return info.value


# --- registry and examples -----------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_example_validates(kind: str) -> None:
    assert KINDS[kind].validate(EXAMPLES[kind]) == example(kind)


def test_every_kind_has_an_example_and_no_more() -> None:
    assert set(EXAMPLES) == set(KINDS)


def test_registry_names_match_specs_and_are_the_listed_kinds() -> None:
    assert all(spec.name == name for name, spec in KINDS.items())
    assert set(KINDS) == {
        "deployment_notice",
        "flow_report",
        "route_report",
        "smuggling_network_alert",
        "incident_alert",
        "forged_document_alert",
        "prevention_assistance_note",
        "return_facilitation_note",
        "legislation_note",
        "meeting_record",
        "training_record",
        "carrier_position",
        "common_approach",
        "host_country_contact",
        "representation_agreement",
        "task_sharing_agreement",
        "half_year_contribution",
        "retraction",
        "key_share",
    }


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        KINDS["x"] = KINDS["retraction"]  # type: ignore[index]


def test_examples_are_read_only_and_example_returns_independent_copies() -> None:
    with pytest.raises(TypeError):
        EXAMPLES["flow_report"]["trend"] = "stable"  # type: ignore[index]
    copy = example("flow_report")
    copy["nationalities"].append({"nationality": "PK", "count": 1})
    assert len(example("flow_report")["nationalities"]) == 3


def test_unknown_kind() -> None:
    with pytest.raises(UnknownKindError, match="unknown message kind 'x'"):
        kind_spec("x")
    assert kind_spec("retraction") is KINDS["retraction"]


def test_validate_returns_plain_containers() -> None:
    out = KINDS["route_report"].validate(EXAMPLES["route_report"])
    assert type(out) is dict
    assert type(out["waypoints"]) is list
    assert type(out["waypoints"][0]) is dict


def test_every_kind_has_doc_and_fits_default_limits() -> None:
    for spec in KINDS.values():
        assert spec.doc
        assert spec.max_encoded_size() <= DEFAULT_LIMITS.max_content_bytes
        assert spec.reference().startswith(f"### `{spec.name}`")


# --- personal data ---------------------------------------------------------------


def test_personal_paths_of_deployment_notice() -> None:
    paths = KINDS["deployment_notice"].personal_paths()
    assert "officer_name" in paths
    assert "contact" in paths and "contact.email" in paths
    assert "notes" in paths
    assert "host_country" not in paths


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("forged_document_alert", "document_number"),
        ("forged_document_alert", "holder_name"),
        ("smuggling_network_alert", "known_members"),
        ("host_country_contact", "contact_person"),
    ],
)
def test_personal_fields_exist_and_are_reported(kind: str, path: str) -> None:
    assert path in KINDS[kind].field_names()
    assert path in KINDS[kind].personal_paths()


def test_every_free_text_field_is_personal() -> None:
    # The rule the spec states: free text can name people, so it is personal.
    for spec in KINDS.values():
        for f in spec.fields:
            if isinstance(f.type, Text):
                assert f.personal, f"{spec.name}.{f.name}"


def test_nested_personal_paths_use_list_brackets() -> None:
    spec = KindSpec(
        "probe",
        (
            Field(
                "people",
                List(Struct((Field("name", Str(10), personal=True), Field("n", Int(0, 9)))), 5),
            ),
        ),
        "test",
    )
    assert spec.personal_paths() == ["people[].name"]


def test_personal_values_are_not_echoed_in_errors() -> None:
    content = example("deployment_notice")
    content["officer_name"] = "Secret\x00Name"
    err = refused("deployment_notice", content, "deployment_notice.officer_name")
    assert "Secret" not in str(err)
    spec = KindSpec("probe", (Field("who", Country(), personal=True),), "test")
    with pytest.raises(ContentError) as info:
        spec.validate({"who": "QQ"})
    assert "QQ" not in str(info.value)


# --- negative cases, each named for what it breaks --------------------------------


def test_non_dict_content() -> None:
    refused("flow_report", ["not", "a", "map"], "flow_report")
    refused("flow_report", None, "flow_report")


def test_unknown_key() -> None:
    content = example("incident_alert")
    content["severity"] = "high"
    refused("incident_alert", content, "incident_alert.severity")


def test_unknown_nested_key() -> None:
    content = example("flow_report")
    content["nationalities"][1]["age"] = 30
    refused("flow_report", content, "flow_report.nationalities[1].age")


def test_unknown_key_that_is_not_an_identifier_is_quoted() -> None:
    content = example("incident_alert")
    content["a.b\n"] = 1
    err = refused("incident_alert", content, "incident_alert['a.b\\n']")
    assert "\n" not in str(err)


def test_non_string_key() -> None:
    content: dict[Any, Any] = example("incident_alert")
    content[1] = "x"
    refused("incident_alert", content, "incident_alert")


def test_missing_required() -> None:
    content = example("deployment_notice")
    del content["start_date"]
    refused("deployment_notice", content, "deployment_notice.start_date")


def test_missing_optional_is_fine() -> None:
    content = example("deployment_notice")
    del content["end_date"], content["contact"], content["notes"]
    KINDS["deployment_notice"].validate(content)


def test_none_value() -> None:
    content = example("deployment_notice")
    content["end_date"] = None
    err = refused("deployment_notice", content, "deployment_notice.end_date")
    assert "nil" in str(err)


def test_bool_for_int() -> None:
    content = example("flow_report")
    content["total_count"] = True
    refused("flow_report", content, "flow_report.total_count")


def test_int_for_bool() -> None:
    content = example("meeting_record")
    content["commission_present"] = 1
    refused("meeting_record", content, "meeting_record.commission_present")


def test_negative_count() -> None:
    content = example("half_year_contribution")
    content["trainings"] = -1
    refused("half_year_contribution", content, "half_year_contribution.trainings")


def test_bad_country() -> None:
    content = example("deployment_notice")
    content["states_represented"] = ["AT", "LU", "XX"]
    err = refused("deployment_notice", content, "deployment_notice.states_represented[2]")
    assert str(err) == (
        "deployment_notice.states_represented[2]: 'XX' is not a valid code; "
        "expected an ISO 3166-1 alpha-2 country code, e.g. DE"
    )


def test_lower_case_country() -> None:
    content = example("incident_alert")
    content["country"] = "tr"
    err = refused("incident_alert", content, "incident_alert.country")
    assert "(codes are upper case: did you mean TR?)" in str(err)


@pytest.mark.parametrize(
    ("written", "meant"), [("UK", "GB"), ("EL", "GR"), ("uk", "GB"), ("el", "GR")]
)
def test_codes_people_commonly_write_get_the_iso_code_suggested(written: str, meant: str) -> None:
    content = example("incident_alert")
    content["country"] = written
    err = refused("incident_alert", content, "incident_alert.country")
    assert str(err) == (
        f"incident_alert.country: {written!r} is not a valid code (did you mean {meant}?); "
        "expected an ISO 3166-1 alpha-2 country code, e.g. DE"
    )


def test_bad_party_code() -> None:
    content = example("meeting_record")
    content["participants"] = ["NL", "DE", "FRONTEX"]
    err = refused("meeting_record", content, "meeting_record.participants[2]")
    assert "(did you mean EBCG?)" in str(err)
    assert "one of COM, EBCG, EUAA, EUROPOL" in str(err)


def test_a_party_code_is_not_suggested_where_only_countries_are_allowed() -> None:
    content = example("incident_alert")
    content["country"] = "FRONTEX"
    err = refused("incident_alert", content, "incident_alert.country")
    assert "did you mean" not in str(err)


def test_eu_bodies_may_take_part_in_meetings() -> None:
    content = example("meeting_record")
    content["participants"] += ["EUROPOL", "EUAA"]
    KINDS["meeting_record"].validate(content)


@pytest.mark.parametrize(
    "bad", ["2026-02-30", "2026-13-01", "2026-1-01", "20260101", "2026-W01-1", "٢٠٢٦-01-01", ""]
)
def test_bad_date(bad: str) -> None:
    content = example("incident_alert")
    content["occurred_on"] = bad
    err = refused("incident_alert", content, "incident_alert.occurred_on")
    assert str(err).endswith("; expected a date YYYY-MM-DD, e.g. 2026-11-30")


def test_leap_day_is_a_real_date() -> None:
    content = example("incident_alert")
    content["occurred_on"] = "2028-02-29"
    KINDS["incident_alert"].validate(content)


@pytest.mark.parametrize("bad", ["2026-H3", "2026-h1", "2026H1", "0000-H1", "2026-H1 "])
def test_bad_half_year(bad: str) -> None:
    content = example("half_year_contribution")
    content["half_year"] = bad
    refused("half_year_contribution", content, "half_year_contribution.half_year")


def test_bad_enum() -> None:
    content = example("flow_report")
    content["trend"] = "exploding"
    err = refused("flow_report", content, "flow_report.trend")
    assert str(err) == (
        "flow_report.trend: 'exploding' is not an allowed value; "
        "expected one of: increasing, stable, decreasing, unknown, e.g. increasing"
    )


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("Increasing", "increasing"),  # case
        ("DECREASING", "decreasing"),
        ("decresing", "decreasing"),  # spelling
        (" stable ", "stable"),  # surrounding blanks
    ],
)
def test_enum_near_miss_is_suggested(written: str, meant: str) -> None:
    content = example("flow_report")
    content["trend"] = written
    err = refused("flow_report", content, "flow_report.trend")
    assert f"is not an allowed value (did you mean {meant}?); expected one of: " in str(err)


@pytest.mark.parametrize("written", ["own-observation", "own observation", "Own_Observation"])
def test_enum_hyphens_and_spaces_for_underscores_are_suggested(written: str) -> None:
    content = example("flow_report")
    content["sources"] = ["local_network", written]
    err = refused("flow_report", content, "flow_report.sources[1]")
    assert "(did you mean own_observation?)" in str(err)


def test_unknown_field_near_a_known_one_is_suggested() -> None:
    content = example("flow_report")
    content["totalcount"] = 5
    err = refused("flow_report", content, "flow_report.totalcount")
    assert str(err) == "flow_report.totalcount: unknown field; did you mean total_count?"


def test_unknown_field_far_from_any_lists_the_fields() -> None:
    content = example("incident_alert")
    content["severity"] = "high"
    err = refused("incident_alert", content, "incident_alert.severity")
    assert str(err).startswith("incident_alert.severity: unknown field; allowed fields: category, ")


def test_no_suggestion_beneath_a_personal_field() -> None:
    # A suggestion would tell what the value was.
    spec = KindSpec(
        "probe",
        (
            Field("who", Country(), personal=True),
            Field("what", Enum(("alpha", "beta")), required=False, personal=True),
        ),
        "test",
    )
    for content in ({"who": "UK"}, {"who": "tr"}, {"who": "DE", "what": "Alpha"}):
        with pytest.raises(ContentError) as info:
            spec.validate(content)
        message = str(info.value)
        assert "did you mean" not in message and "the value is not" in message
        assert all(repr(v) not in message for v in content.values() if v != "DE")


def test_missing_field_and_nil_name_what_the_field_takes() -> None:
    content = example("deployment_notice")
    del content["start_date"]
    err = refused("deployment_notice", content, "deployment_notice.start_date")
    assert str(err) == (
        "deployment_notice.start_date: required field is missing; "
        "expected a date YYYY-MM-DD, e.g. 2026-11-30"
    )
    content = example("deployment_notice")
    content["end_date"] = None
    err = refused("deployment_notice", content, "deployment_notice.end_date")
    assert str(err) == (
        "deployment_notice.end_date: nil is not allowed (leave the field out); "
        "expected a date YYYY-MM-DD, e.g. 2026-11-30"
    )


def test_wrong_type_names_the_type_and_what_is_expected() -> None:
    content = example("incident_alert")
    content["occurred_on"] = 20260410
    err = refused("incident_alert", content, "incident_alert.occurred_on")
    assert str(err) == (
        "incident_alert.occurred_on: got an int; expected a date YYYY-MM-DD, e.g. 2026-11-30"
    )
    err = refused("incident_alert", [1, 2], "incident_alert")
    assert str(err).startswith(
        "incident_alert: got a list; expected a map with fields category, title, "
    )
    assert str(err).endswith('e.g. {"category": "incident", "title": "Example", ...}')


def test_bad_enum_in_list() -> None:
    content = example("route_report")
    content["transport_modes"] = ["land", "teleport"]
    refused("route_report", content, "route_report.transport_modes[1]")


def test_over_long_string() -> None:
    content = example("deployment_notice")
    content["officer_name"] = "x" * 201
    err = refused("deployment_notice", content, "deployment_notice.officer_name")
    assert "201" in str(err) and "200" in str(err)


def test_over_long_text() -> None:
    content = example("incident_alert")
    content["description"] = "y" * 20_001
    refused("incident_alert", content, "incident_alert.description")


def test_text_over_the_decoders_byte_cap() -> None:
    # 17 000 four-byte characters are within 20 000 characters but over 64 KiB.
    content = example("incident_alert")
    content["description"] = "\U0001f600" * 17_000
    err = refused("incident_alert", content, "incident_alert.description")
    assert "bytes" in str(err)


def test_empty_and_blank_strings() -> None:
    content = example("incident_alert")
    content["title"] = ""
    refused("incident_alert", content, "incident_alert.title")
    content["title"] = "   "
    refused("incident_alert", content, "incident_alert.title")


def test_control_character_in_string() -> None:
    content = example("incident_alert")
    content["title"] = "line one\nline two"
    err = refused("incident_alert", content, "incident_alert.title")
    assert "U+000A" in str(err)


def test_text_allows_newlines_and_tabs_but_not_other_controls() -> None:
    content = example("incident_alert")
    content["description"] = "para one\n\n\tpara two"
    KINDS["incident_alert"].validate(content)
    content["description"] = "windows\r\nline"
    refused("incident_alert", content, "incident_alert.description")


def test_pattern_mismatch() -> None:
    content = example("smuggling_network_alert")
    content["prices"][0]["currency"] = "eur"
    refused("smuggling_network_alert", content, "smuggling_network_alert.prices[0].currency")


def test_too_many_list_items() -> None:
    content = example("flow_report")
    content["origin_countries"] = ["AF"] * 201
    refused("flow_report", content, "flow_report.origin_countries")


def test_too_few_list_items() -> None:
    content = example("route_report")
    content["waypoints"] = [{"country": "TR"}]
    refused("route_report", content, "route_report.waypoints")


def test_duplicate_in_unique_list() -> None:
    content = example("flow_report")
    content["origin_countries"] = ["AF", "SY", "AF"]
    err = refused("flow_report", content, "flow_report.origin_countries[2]")
    assert "item 0" in str(err)


def test_duplicate_nationality() -> None:
    content = example("flow_report")
    content["nationalities"][2]["nationality"] = "AF"
    refused("flow_report", content, "flow_report.nationalities[2].nationality")


def test_list_where_string_expected_and_vice_versa() -> None:
    content = example("flow_report")
    content["origin_countries"] = "AF"
    refused("flow_report", content, "flow_report.origin_countries")
    content = example("incident_alert")
    content["title"] = ["a"]
    refused("incident_alert", content, "incident_alert.title")


def test_end_before_start() -> None:
    content = example("deployment_notice")
    content["end_date"] = "2026-02-28"
    err = refused("deployment_notice", content, "deployment_notice.end_date")
    assert str(err) == (
        "deployment_notice.end_date: 2026-02-28 is before start_date 2026-03-01; "
        "expected end_date on or after start_date, e.g. 2026-03-01"
    )


def test_period_end_before_period_start() -> None:
    content = example("flow_report")
    content["period_end"] = "2025-12-31"
    refused("flow_report", content, "flow_report.period_end")


def test_nationality_counts_exceed_total() -> None:
    content = example("flow_report")
    content["total_count"] = 100
    refused("flow_report", content, "flow_report.nationalities")


def test_meeting_presence_flag_contradicts_participants() -> None:
    content = example("meeting_record")
    content["commission_present"] = False
    refused("meeting_record", content, "meeting_record.commission_present")
    content = example("meeting_record")
    content["participants"].remove("EBCG")
    refused("meeting_record", content, "meeting_record.agency_present")


def test_meeting_chair_not_participating() -> None:
    content = example("meeting_record")
    content["chair_state"] = "IT"
    refused("meeting_record", content, "meeting_record.chair_state")


def test_attended_more_meetings_than_held() -> None:
    content = example("half_year_contribution")
    content["meetings_attended"] = 7
    refused("half_year_contribution", content, "half_year_contribution.meetings_attended")


def test_representing_state_represents_itself() -> None:
    content = example("representation_agreement")
    content["represented_states"] = ["AT", "DE"]
    refused("representation_agreement", content, "representation_agreement.represented_states[1]")


def test_empty_contact() -> None:
    content = example("deployment_notice")
    content["contact"] = {}
    refused("deployment_notice", content, "deployment_notice.contact")


def test_content_key_of_the_wrong_length() -> None:
    content = example("key_share")
    content["content_key"] = b"\x00" * 31
    err = refused("key_share", content, "key_share.content_key")
    assert "32 bytes" in str(err)


def test_content_key_as_string() -> None:
    content = example("key_share")
    content["content_key"] = "5e" * 32
    refused("key_share", content, "key_share.content_key")


def test_retraction_needs_its_reason_and_nothing_else() -> None:
    refused("retraction", {}, "retraction.reason")
    content = example("retraction")
    content["target"] = b"\x5e" * 32  # the target is in the signed header, not here
    refused("retraction", content, "retraction.target")


def test_smaller_limits_apply_to_strings() -> None:
    content = example("incident_alert")
    with pytest.raises(ContentError, match=r"^incident_alert\.title: .*bytes"):
        KINDS["incident_alert"].validate(content, limits=Limits(max_str_bytes=16))


# --- hints: every failure ends with the allowed form and an example --------------------


@pytest.mark.parametrize(
    ("field_type", "text"),
    [
        (Date(), "2026-11-30"),
        (Country(), "DE"),
        (Country(extra=("COM",)), "DE"),
        (Enum(("increasing", "stable")), "increasing"),
        (Grade(("A", "B")), "A"),
        (HalfYear(), "2026-H2"),
        (Int(0, 10), "1"),
        (Int(5, 9), "5"),
        (Int(-9, -2), "-2"),
        (Bool(), "true"),
        (EnvelopeId(), "5e" * 32),
        (PublicKey(), "1f" * 32),
        (Str(200), "Example"),
        (Str(3, min_len=3, pattern="[A-Z]{3}", sample="EUR"), "EUR"),
        (Text(100), "Free text."),
        (List(Country(), 5), '["DE"]'),
        (List(Country(), 5, min_items=2, unique=True), '["DE", ...]'),
        (Struct((Field("n", Int(0, 9)), Field("c", Country(), required=False))), '{"n": 1}'),
    ],
)
def test_every_field_type_has_a_valid_example(field_type: FieldType, text: str) -> None:
    assert field_type.example() == text
    spec = KindSpec("probe", (Field("f", field_type),), "test")
    spec.validate({"f": field_type.example_value()})
    assert field_type.hint() == f"expected {field_type.expected()}, e.g. {text}"


def test_examples_of_a_distinct_list_are_distinct() -> None:
    for item in (Country(), Date(), HalfYear(), Int(1, 4), Enum(("a", "b", "c")), Str(20)):
        spec = KindSpec("probe", (Field("f", List(item, 3, min_items=3, unique=True)),), "t")
        spec.validate({"f": List(item, 3, min_items=3, unique=True).example_value()})


def _walk(fields: tuple[Field, ...], prefix: tuple[str | int, ...]) -> list[tuple[Any, ...]]:
    """(path, field type) of every field, nested ones included; list items at index 0."""
    out: list[tuple[Any, ...]] = []
    for f in fields:
        path = (*prefix, f.name)
        out.append((path, f.type))
        inner, where = f.type, path
        while isinstance(inner, List):
            inner, where = inner.item, (*where, 0)
            out.append((where, inner))
        if isinstance(inner, Struct):
            out.extend(_walk(inner.fields, where))
    return out


def _type_at(spec: KindSpec, path: tuple[str | int, ...]) -> FieldType:
    return dict(_walk(spec.fields, ()))[path]  # type: ignore[no-any-return]


def _put(content: dict[str, Any], spec: KindSpec, path: tuple[str | int, ...], value: Any) -> None:
    """Set ``value`` at ``path``, creating from examples what the example content lacks."""
    here: Any = content
    for depth, step in enumerate(path[:-1]):
        missing = step not in here if isinstance(step, str) else len(here) <= step
        if missing:
            made = _type_at(spec, path[: depth + 1]).example_value()
            if isinstance(step, str):
                here[step] = made
            else:
                here.append(made)
        here = here[step]
    here[path[-1]] = value


def _wrong_values(field_type: FieldType) -> list[Any]:
    """Values the type refuses: one of a type it never takes, one of its own type."""
    wrong: list[Any] = ["not bytes"] if isinstance(field_type, EnvelopeId | PublicKey) else [b"x"]
    if isinstance(field_type, Str | Text):
        wrong.append("x" * (field_type.max_len + 1))
    elif isinstance(field_type, Int):
        wrong.append(field_type.max + 1)
    elif isinstance(field_type, Date):
        wrong.append("2026-02-30")
    elif isinstance(field_type, HalfYear):
        wrong.append("2026-H3")
    elif isinstance(field_type, Country | Enum):
        wrong.append("QQ-not-a-value")
    elif isinstance(field_type, EnvelopeId | PublicKey):
        wrong.append(b"\x00" * 31)
    elif isinstance(field_type, List):
        wrong.append([field_type.item.example_value()] * (field_type.max_items + 1))
    return wrong


def _shown(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


FIELD_CASES = [(kind, path) for kind in ALL_KINDS for path, _ in _walk(KINDS[kind].fields, ())]


@pytest.mark.parametrize(
    ("kind", "path"), FIELD_CASES, ids=[f"{k}{_shown(p)}" for k, p in FIELD_CASES]
)
def test_a_wrong_value_of_any_field_is_refused_with_an_example(
    kind: str, path: tuple[str | int, ...]
) -> None:
    spec = KINDS[kind]
    for wrong in _wrong_values(_type_at(spec, path)):
        content = example(kind)
        _put(content, spec, path, wrong)
        err = refused(kind, content, kind + _shown(path))
        message = str(err)
        assert "; expected " in message and ", e.g. " in message, message
        # Deterministic: the same input, the same words.
        with pytest.raises(ContentError) as again:
            spec.validate(content)
        assert str(again.value) == message


# --- schema construction is checked -------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Str(0),
        lambda: Str(5, min_len=6),
        lambda: Str(5, pattern="("),
        lambda: Str(5, pattern="[A-Z]+"),  # a pattern needs a sample
        lambda: Str(5, pattern="[A-Z]+", sample="abc"),  # that matches it
        lambda: Str(3, sample="too long"),
        lambda: Int(3, 2),
        lambda: Enum(()),
        lambda: Enum(("a", "a")),
        lambda: Enum(("Not Snake",)),
        lambda: Enum("abc"),  # type: ignore[arg-type]
        lambda: Enum(("A", "B")),  # codes are a Grade
        lambda: Grade(("a",)),
        lambda: Grade(("TOOLONGCODE",)),
        lambda: Country(extra="COM"),  # type: ignore[arg-type]
        lambda: List(Date(), 0),
        lambda: List(Date(), 100_000),
        lambda: List(Date(), 5, unique_by="x"),
        lambda: Struct(()),
        lambda: Struct((Field("a", Date()), Field("a", Date()))),
        lambda: Field("Bad-Name", Date()),
        lambda: KindSpec("Bad Kind", (Field("a", Date()),), "doc"),
        lambda: KindSpec("huge", (Field("a", List(Text(20_000), 200)),), "doc"),
    ],
)
def test_bad_schema_definitions_are_usage_errors(build: Callable[[], object]) -> None:
    with pytest.raises(UsageError):
        build()


# --- fuzzing: nothing but ContentError ever escapes validate ------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=40)
    | st.binary(max_size=40)
    | st.sampled_from(["TR", "XX", "2026-02-30", "2026-01-01", "2026-H1", "COM", "other"])
)
_json_like = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)


def _assert_only_content_errors(kind: str, value: object) -> None:
    spec = KINDS[kind]
    try:
        out = spec.validate(value)
    except ContentError as exc:
        assert re.match(rf"{kind}[.\[:]", str(exc)), str(exc)
    else:
        assert spec.validate(out) == out  # validation is idempotent


_FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ALL_KINDS)
@_FUZZ
@given(value=_json_like)
def test_fuzz_random_values(kind: str, value: object) -> None:
    _assert_only_content_errors(kind, value)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ALL_KINDS)
@_FUZZ
@given(data=st.data())
def test_fuzz_mutated_examples(kind: str, data: st.DataObject) -> None:
    # Random values rarely get past the top-level checks; mutating one field of a
    # valid example reaches every field validator and the cross-field checks.
    content = example(kind)
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from([*sorted(content), "extra_key"]))
        if data.draw(st.booleans()) and key in content:
            del content[key]
        else:
            content[key] = data.draw(_json_like)
    _assert_only_content_errors(kind, content)
