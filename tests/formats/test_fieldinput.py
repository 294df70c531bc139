"""Field input (``ilo_node/formats/fieldinput.py``): ``PATH=VALUE`` settings, single
values, and what a content still lacks.

A table of named settings, good and bad; every kind's example rebuilt from settings
alone; generated settings that end in a dict or an ``InputError`` and nothing else; and
the messages, which name paths and forms but never the value given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilo_node.errors import InputError
from ilo_node.formats.fieldinput import (
    FieldPath,
    apply_settings,
    check_value,
    field_label,
    missing_required,
    parse_value,
    setting_example,
)
from protocol.errors import ContentError, UsageError
from protocol.examples import example
from protocol.kinds import KINDS, kind_spec
from protocol.schema import (
    Bool,
    Country,
    Date,
    Enum,
    EnvelopeId,
    FieldType,
    Int,
    List,
    Str,
    Struct,
    Text,
    validate_value,
)

ALL_KINDS = sorted(KINDS)
ID_HEX = "5e" * 32
# Put in values that must never come back in a message.
SECRET = "#SECRET#"


# --- the table of settings ---------------------------------------------------------------


@dataclass(frozen=True)
class Good:
    kind: str
    settings: tuple[str, ...]
    expected: dict[str, Any]
    given: dict[str, Any] | None = None


GOOD = {
    "a string, trimmed": Good(
        "forged_document_alert",
        ("detected_at=  Istanbul Airport ",),
        {"detected_at": "Istanbul Airport"},
    ),
    "spaces around the path": Good("incident_alert", (" title = A title",), {"title": "A title"}),
    "'=' inside the value": Good("incident_alert", ("title=a=b",), {"title": "a=b"}),
    "an empty value is an empty string": Good("incident_alert", ("title=",), {"title": ""}),
    "CRLF read as LF": Good("incident_alert", ("description=a\r\nb",), {"description": "a\nb"}),
    "an integer": Good("flow_report", ("total_count=2650",), {"total_count": 2650}),
    "a negative integer (the range is the schema's)": Good(
        "flow_report", ("total_count=-5",), {"total_count": -5}
    ),
    "an integer with spaces": Good("flow_report", ("total_count= 7 ",), {"total_count": 7}),
    "booleans in every spelling": Good(
        "meeting_record",
        ("commission_present=Yes", "agency_present=no"),
        {"commission_present": True, "agency_present": False},
    ),
    "booleans as true/false": Good(
        "meeting_record",
        ("commission_present=TRUE", "agency_present=false"),
        {"commission_present": True, "agency_present": False},
    ),
    "booleans as 1/0": Good(
        "meeting_record",
        ("commission_present=1", "agency_present=0"),
        {"commission_present": True, "agency_present": False},
    ),
    "a content key in hex": Good(
        "key_share", (f"content_key={ID_HEX}",), {"content_key": bytes.fromhex(ID_HEX)}
    ),
    "hex in upper case": Good("key_share", ("content_key=ABCD",), {"content_key": b"\xab\xcd"}),
    "a date stays a string, unchecked": Good(
        "forged_document_alert", ("first_detected=2026-02-30",), {"first_detected": "2026-02-30"}
    ),
    "an enum value stays a string, unchecked": Good(
        "forged_document_alert", ("document_type=spaceship",), {"document_type": "spaceship"}
    ),
    "a list, comma-separated": Good(
        "flow_report", ("origin_countries=NG, GH",), {"origin_countries": ["NG", "GH"]}
    ),
    "an empty value is an empty list": Good(
        "flow_report", ("origin_countries=",), {"origin_countries": []}
    ),
    "+= creates the list": Good(
        "smuggling_network_alert",
        ("known_members+=alias 'Captain', the older one",),
        {"known_members": ["alias 'Captain', the older one"]},
    ),
    "+= appends to the file's list": Good(
        "flow_report",
        ("origin_countries+=SY",),
        {"origin_countries": ["AF", "SY"]},
        given={"origin_countries": ["AF"]},
    ),
    "items of a list of scalars by index": Good(
        "forged_document_alert",
        ("detection_features[0]=Ink, smudged", "detection_features[1]=Photo"),
        {"detection_features": ["Ink, smudged", "Photo"]},
    ),
    "an index replaces an item of the file": Good(
        "forged_document_alert",
        ("detection_features[0]=New",),
        {"detection_features": ["New", "Kept"]},
        given={"detection_features": ["Old", "Kept"]},
    ),
    "a field of a struct": Good(
        "deployment_notice",
        ("contact.email=ilo@example.invalid",),
        {"contact": {"email": "ilo@example.invalid"}},
    ),
    "a struct of the file keeps its other fields": Good(
        "deployment_notice",
        ("contact.phone=+90 312",),
        {"contact": {"email": "a@b.c", "phone": "+90 312"}},
        given={"contact": {"email": "a@b.c"}},
    ),
    "a null in the file is no value": Good(
        "deployment_notice",
        ("contact.email=a@b.c",),
        {"contact": {"email": "a@b.c"}},
        given={"contact": None},
    ),
    "items of a list of structs, in order": Good(
        "route_report",
        ("waypoints[0].country=IR", "waypoints[0].place=Khoy", "waypoints[1].country=TR"),
        {"waypoints": [{"country": "IR", "place": "Khoy"}, {"country": "TR"}]},
    ),
    "an index reaches an item of the file": Good(
        "route_report",
        ("waypoints[0].place=Van", "waypoints[1].country=BG"),
        {"waypoints": [{"country": "TR", "place": "Van"}, {"country": "BG"}]},
        given={"waypoints": [{"country": "TR"}]},
    ),
    "an empty list of structs": Good("flow_report", ("nationalities=",), {"nationalities": []}),
    "a setting overrides the file": Good(
        "incident_alert",
        ("title=New",),
        {"title": "New", "country": "TR"},
        given={"title": "Old", "country": "TR"},
    ),
    "a later setting overrides an earlier one": Good(
        "incident_alert", ("title=First", "title=Second"), {"title": "Second"}
    ),
    "a list set, then appended to": Good(
        "flow_report",
        ("origin_countries=NG", "origin_countries+=GH"),
        {"origin_countries": ["NG", "GH"]},
    ),
}


@pytest.mark.parametrize("case", GOOD.values(), ids=GOOD.keys())
def test_good_settings(case: Good) -> None:
    given_copy = {} if case.given is None else dict(case.given)
    assert apply_settings(case.kind, given_copy, case.settings) == case.expected
    assert given_copy == (case.given or {}), "the content given was changed"


@dataclass(frozen=True)
class Bad:
    kind: str
    settings: tuple[str, ...]
    message: str  # the whole message, so that the form and the path are pinned
    given: dict[str, Any] | None = None


BAD = {
    "no '='": Bad(
        "incident_alert", (f"{SECRET} Test Holder",), "setting 1 has no '=': expected FIELD=VALUE"
    ),
    "the position of the bad setting": Bad(
        "incident_alert", ("title=x", SECRET), "setting 2 has no '=': expected FIELD=VALUE"
    ),
    "a path with a space": Bad(
        "forged_document_alert",
        (f"holder name={SECRET}",),
        "setting 1: the part before '=' is not a field path such as title, contact.email "
        "or waypoints[0].country",
    ),
    "an empty path": Bad(
        "incident_alert",
        (f"={SECRET}",),
        "setting 1: the part before '=' is not a field path such as title, contact.email "
        "or waypoints[0].country",
    ),
    "a path of capitals": Bad(
        "incident_alert",
        (f"Title={SECRET}",),
        "setting 1: the part before '=' is not a field path such as title, contact.email "
        "or waypoints[0].country",
    ),
    "a path far too long": Bad(
        "incident_alert",
        ("a" * 300 + f"={SECRET}",),
        "setting 1: the part before '=' is not a field path such as title, contact.email "
        "or waypoints[0].country",
    ),
    "an unknown field, with a suggestion": Bad(
        "forged_document_alert",
        (f"issuing_contry={SECRET}",),
        "setting issuing_contry: forged_document_alert has no field issuing_contry "
        "(did you mean issuing_country?)",
    ),
    "an unknown field": Bad(
        "incident_alert", (f"zzz={SECRET}",), "setting zzz: incident_alert has no field zzz"
    ),
    "an unknown field of a struct": Bad(
        "deployment_notice",
        (f"contact.fax={SECRET}",),
        "setting contact.fax: contact has no field fax",
    ),
    "an unknown field of a list item": Bad(
        "route_report",
        (f"waypoints[0].city={SECRET}",),
        "setting waypoints[0].city: waypoints[0] has no field city",
    ),
    "an integer with a decimal point": Bad(
        "flow_report",
        ("total_count=12.5",),
        "setting total_count: expected an integer in plain digits (a leading minus allowed), "
        "e.g. total_count=1",
    ),
    "an integer with an exponent": Bad(
        "flow_report",
        ("total_count=1e3",),
        "setting total_count: expected an integer in plain digits (a leading minus allowed), "
        "e.g. total_count=1",
    ),
    "an integer with a plus": Bad(
        "flow_report",
        ("total_count=+3",),
        "setting total_count: expected an integer in plain digits (a leading minus allowed), "
        "e.g. total_count=1",
    ),
    "an integer in other digits": Bad(
        "flow_report",
        ("total_count=\u0661\u0662",),
        "setting total_count: expected an integer in plain digits (a leading minus allowed), "
        "e.g. total_count=1",
    ),
    "an integer with underscores": Bad(
        "flow_report",
        ("total_count=1_000",),
        "setting total_count: expected an integer in plain digits (a leading minus allowed), "
        "e.g. total_count=1",
    ),
    "an empty integer": Bad(
        "flow_report",
        ("total_count=",),
        "setting total_count: expected an integer in plain digits (a leading minus allowed), "
        "e.g. total_count=1",
    ),
    "an integer of 21 digits": Bad(
        "flow_report",
        ("total_count=" + "9" * 21,),
        "setting total_count: expected an integer in plain digits (a leading minus allowed), "
        "e.g. total_count=1",
    ),
    "an integer in a list item": Bad(
        "flow_report",
        ("nationalities[0].count=many",),
        "setting nationalities[0].count: expected an integer in plain digits (a leading "
        "minus allowed), e.g. nationalities[0].count=1",
    ),
    "a boolean that is neither": Bad(
        "meeting_record",
        (f"agency_present=maybe{SECRET}",),
        "setting agency_present: expected yes or no (or true/false, 1/0), e.g. agency_present=yes",
    ),
    "hex that is not hex": Bad(
        "key_share",
        ("content_key=zz",),
        "setting content_key: expected hexadecimal, two digits per byte, e.g. content_key="
        + "2a" * 32,
    ),
    "hex of an odd length": Bad(
        "key_share",
        ("content_key=abc",),
        "setting content_key: expected hexadecimal, two digits per byte, e.g. content_key="
        + "2a" * 32,
    ),
    "an index out of order": Bad(
        "route_report",
        ("waypoints[1].country=TR",),
        "setting waypoints[1].country: waypoints holds 0 item(s), so the next one is "
        "waypoints[0]: items are created in order",
    ),
    "an index past the file's items": Bad(
        "route_report",
        ("waypoints[2].country=TR",),
        "setting waypoints[2].country: waypoints holds 1 item(s), so the next one is "
        "waypoints[1]: items are created in order",
        given={"waypoints": [{"country": "IR"}]},
    ),
    "an index of a scalar list out of order": Bad(
        "forged_document_alert",
        (f"detection_features[3]={SECRET}",),
        "setting detection_features[3]: detection_features holds 0 item(s), so the next "
        "one is detection_features[0]: items are created in order",
    ),
    "an index into a scalar": Bad(
        "incident_alert",
        (f"title[0]={SECRET}",),
        "setting title[0]: title is not a list, so it has no item [0]",
    ),
    "a field of a scalar": Bad(
        "incident_alert",
        (f"title.text={SECRET}",),
        "setting title.text: title is a single value; it has no fields",
    ),
    "a field of a list of scalars' item": Bad(
        "forged_document_alert",
        (f"detection_features[0].text={SECRET}",),
        "setting detection_features[0].text: detection_features[0] is a single value; it has "
        "no fields",
    ),
    "a struct given one value": Bad(
        "deployment_notice",
        (f"contact={SECRET}",),
        "setting contact: contact is a group of fields, not one value",
    ),
    "a list of structs given one value": Bad(
        "route_report",
        ("waypoints=IR,TR",),
        "setting waypoints: waypoints is a list of groups of fields, not one value",
    ),
    "an item of a list of structs given one value": Bad(
        "route_report",
        ("waypoints[0]=IR",),
        "setting waypoints[0]: waypoints[0] is a group of fields, not one value",
    ),
    "+= on a scalar": Bad(
        "incident_alert",
        (f"title+={SECRET}",),
        "setting title: title is not a list, so += cannot append to it",
    ),
    "+= on a list of structs": Bad(
        "route_report",
        (f"waypoints+={SECRET}",),
        "setting waypoints: waypoints is a list of groups of fields, not one value",
    ),
    "the file has a string where a struct goes": Bad(
        "deployment_notice",
        (f"contact.email={SECRET}",),
        "setting contact.email: the content given holds something other than a group of "
        "fields at contact",
        given={"contact": "ilo@example.invalid"},
    ),
    "the file has a string where a list goes": Bad(
        "route_report",
        ("waypoints[0].country=IR",),
        "setting waypoints[0].country: the content given holds something other than a list "
        "at waypoints",
        given={"waypoints": "IR, TR"},
    ),
    "+= on the file's non-list": Bad(
        "flow_report",
        ("origin_countries+=SY",),
        "setting origin_countries: the content given holds something other than a list at "
        "origin_countries",
        given={"origin_countries": "AF"},
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_settings(case: Bad) -> None:
    with pytest.raises(InputError) as info:
        apply_settings(case.kind, dict(case.given or {}), case.settings)
    assert info.value.message == case.message
    assert SECRET not in info.value.message + info.value.advice
    assert info.value.advice  # every one says what to do


def test_an_unknown_field_is_answered_with_the_fields_there() -> None:
    with pytest.raises(InputError) as info:
        apply_settings("deployment_notice", {}, ["contact.fax=1"])
    assert info.value.advice == "The fields of contact are: email, phone, address."


def test_a_struct_given_one_value_is_answered_with_an_example_setting() -> None:
    with pytest.raises(InputError) as info:
        apply_settings("route_report", {}, ["waypoints=IR"])
    assert info.value.advice == "Set its items field by field, e.g. --set waypoints[0].country=DE."


def test_content_that_is_not_an_object() -> None:
    with pytest.raises(InputError, match="must be a JSON object"):
        apply_settings("incident_alert", ["title"], [])  # type: ignore[arg-type]


def test_one_string_is_not_a_sequence_of_settings() -> None:
    with pytest.raises(UsageError):
        apply_settings("incident_alert", {}, "title=x")


# --- every example, rebuilt from settings ---------------------------------------------------


def _written(value: Any) -> str:
    """A scalar as a setting writes it (independent of the module's own formatter)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _flatten(field_type: FieldType, value: Any, path: str) -> list[str]:
    """Settings that build ``value`` of ``field_type`` at ``path``."""
    if isinstance(field_type, Struct):
        types = {f.name: f.type for f in field_type.fields}
        prefix = f"{path}." if path else ""
        return [s for name, v in value.items() for s in _flatten(types[name], v, prefix + name)]
    if isinstance(field_type, List):
        if isinstance(field_type.item, Struct):
            if not value:
                return [f"{path}="]
            return [
                s for i, v in enumerate(value) for s in _flatten(field_type.item, v, f"{path}[{i}]")
            ]
        items = [_written(v) for v in value]
        if all(item and "," not in item and item == item.strip() for item in items):
            return [f"{path}={','.join(items)}"]
        # An item with a comma is appended whole.
        return [f"{path}=", *(f"{path}+={item}" for item in items)]
    return [f"{path}={_written(value)}"]


def _settings_for(kind: str, content: dict[str, Any]) -> list[str]:
    return _flatten(Struct(kind_spec(kind).fields), content, "")


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_example_is_rebuilt_from_settings(kind: str) -> None:
    content = example(kind)
    rebuilt = apply_settings(kind, {}, _settings_for(kind, content))
    assert rebuilt == content
    assert kind_spec(kind).validate(rebuilt) == content


def _stale(value: Any) -> Any:
    """``value`` with the same shape and every scalar changed."""
    if isinstance(value, dict):
        return {k: _stale(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stale(v) for v in value]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, bytes):
        return bytes(32)
    return "stale"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_settings_override_every_field_of_a_file(kind: str) -> None:
    content = example(kind)
    stale = _stale(content)
    assert stale != content
    assert apply_settings(kind, stale, _settings_for(kind, content)) == content


def test_an_item_with_a_comma_is_appended_whole() -> None:
    content = example("forged_document_alert")
    content["detection_features"] = ["Ink, smudged", "Photo replaced"]
    settings_ = _settings_for("forged_document_alert", content)
    assert "detection_features+=Ink, smudged" in settings_
    assert apply_settings("forged_document_alert", {}, settings_) == content


# --- generated settings ---------------------------------------------------------------------


def _names(field_type: FieldType) -> set[str]:
    if isinstance(field_type, Struct):
        return {n for f in field_type.fields for n in {f.name, *_names(f.type)}}
    if isinstance(field_type, List):
        return _names(field_type.item)
    return set()


FIELD_NAMES = sorted({n for spec in KINDS.values() for n in _names(Struct(spec.fields))})
_PIECES = st.sampled_from(
    [*FIELD_NAMES, ".", "[0]", "[1]", "[2]", "[999999]", "[", "]", "+", "=", "+=", ",", " ", ""]
)
_VALUES = st.sampled_from(
    ["", "yes", "no", "12", "-3", "1e3", ID_HEX, "zz", "2026-01-01", "DE", "NG,GH", " , ", "x=y"]
)
_PATHS = st.lists(_PIECES, max_size=8).map("".join)
_SETTINGS = st.one_of(
    st.text(max_size=40),
    _PATHS,
    st.builds(lambda p, v, t: f"{p}={SECRET}{v}{t}", _PATHS, _VALUES, st.text(max_size=10)),
    st.builds(lambda p, v: f"{p}={v}", _PATHS, _VALUES),
    st.builds(lambda p, v: f"{p}+={v}", _PATHS, _VALUES),
)


def _paths(field_type: FieldType, path: str) -> list[str]:
    """Every path into ``field_type`` at ``path``, lists reached at items 0, 1 and 5."""
    out = [path] if path else []
    if isinstance(field_type, Struct):
        prefix = f"{path}." if path else ""
        for f in field_type.fields:
            out += _paths(f.type, prefix + f.name)
    elif isinstance(field_type, List):
        for i in (0, 1, 5):
            out += _paths(field_type.item, f"{path}[{i}]")
    return out


PATHS = {kind: sorted(set(_paths(Struct(spec.fields), ""))) for kind, spec in KINDS.items()}


def _schema_settings(kind: str) -> st.SearchStrategy[str]:
    """Settings along the kind's own paths: the ones that get past the path checks."""
    return st.builds(
        lambda p, op, secret, v: f"{p}{op}{SECRET if secret else ''}{v}",
        st.sampled_from(PATHS[kind]),
        st.sampled_from(["=", "+=", " = "]),
        st.booleans(),
        _VALUES | st.text(max_size=10),
    )


def _generated(examples: int) -> settings:
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=examples,
        suppress_health_check=[HealthCheck.too_slow],
    )


_CASES = {
    "kind": st.sampled_from(ALL_KINDS),
    "base": st.sampled_from(["empty", "example", "wrong shapes"]),
    "data": st.data(),
}


def _dict_or_input_error(kind: str, base: str, data: st.DataObject) -> None:
    # Two parts in three along the kind's paths, where conversions and shapes are reached.
    own = _schema_settings(kind)
    settings_ = data.draw(st.lists(st.one_of(own, own, _SETTINGS), max_size=6))
    content: dict[str, Any] = {}
    if base == "example":
        content = example(kind)
    elif base == "wrong shapes":
        content = {name: "x" for name in kind_spec(kind).field_names()}
    try:
        out = apply_settings(kind, content, settings_)
    except InputError as exc:
        assert SECRET not in exc.message + exc.advice
        assert "\n" not in exc.message
    else:
        assert isinstance(out, dict)


@_generated(200)
@given(**_CASES)
def test_generated_settings_give_a_dict_or_an_input_error(
    kind: str, base: str, data: st.DataObject
) -> None:
    _dict_or_input_error(kind, base, data)


@pytest.mark.slow
@_generated(1500)
@given(**_CASES)
def test_many_generated_settings_give_a_dict_or_an_input_error(
    kind: str, base: str, data: st.DataObject
) -> None:
    _dict_or_input_error(kind, base, data)


# --- what is missing -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_missing_from_nothing_is_every_required_field_in_order(kind: str) -> None:
    spec = kind_spec(kind)
    missing = missing_required(kind, {})
    assert [m.path for m in missing] == [f.name for f in spec.fields if f.required]
    assert [m.field for m in missing] == [f for f in spec.fields if f.required]
    assert all(m.type is m.field.type for m in missing)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_nothing_is_missing_from_an_example(kind: str) -> None:
    assert missing_required(kind, example(kind)) == []


def test_missing_fields_are_in_declaration_order_whatever_the_content_order() -> None:
    content = {"detected_at": "x", "document_type": "visa"}
    paths = [m.path for m in missing_required("forged_document_alert", content)]
    assert paths == ["issuing_country", "fraud_type", "detection_features", "first_detected"]


def test_missing_inside_list_items_and_structs() -> None:
    content = example("route_report")
    content["waypoints"] = [{"place": "Khoy"}, {"country": "TR"}, {}]
    del content["period_end"]
    missing = missing_required("route_report", content)
    assert [m.path for m in missing] == [
        "waypoints[0].country",
        "waypoints[2].country",
        "period_end",
    ]
    first = missing[0]
    assert first.field.name == "country" and isinstance(first.type, Country)
    assert not first.personal


def test_a_null_is_missing_and_an_optional_struct_adds_only_its_required_fields() -> None:
    content = {**example("incident_alert"), "title": None}
    assert [m.path for m in missing_required("incident_alert", content)] == ["title"]
    # contact's fields are all optional: nothing inside it is missing.
    notice = {**example("deployment_notice"), "contact": {}}
    assert missing_required("deployment_notice", notice) == []


def test_personal_is_inherited_from_the_fields_that_hold_a_value() -> None:
    missing = {m.path: m for m in missing_required("incident_alert", {})}
    assert missing["description"].personal and not missing["title"].personal
    assert FieldPath("contact.email", kind_spec("deployment_notice").fields[0], True).personal


def test_values_of_the_wrong_shape_are_not_missing_fields() -> None:
    content = {**example("route_report"), "waypoints": ["IR", 5]}
    assert missing_required("route_report", content) == []


# --- one value -------------------------------------------------------------------------------

PARSED: list[tuple[FieldType, str, Any]] = [
    (Int(0, 10), " 7 ", 7),
    (Int(-5, 5), "-5", -5),
    (Bool(), "No", False),
    (Date(), " 2026-02-18 ", "2026-02-18"),
    (Country(), "uk", "uk"),  # as given: the schema says that codes are upper case
    (Enum(("a", "b")), "c", "c"),
    (EnvelopeId(), ID_HEX, bytes.fromhex(ID_HEX)),
    (Text(100), "  two\r\nlines ", "two\nlines"),
    (List(Country(), 5), "NG, GH ,SY", ["NG", "GH", "SY"]),
    (List(Country(), 5), "  ", []),
    (List(Int(0, 9), 5), "1,2", [1, 2]),
]


@pytest.mark.parametrize(("field_type", "text", "value"), PARSED)
def test_parse_value(field_type: FieldType, text: str, value: Any) -> None:
    assert parse_value(field_type, text) == value


def test_parse_value_names_the_path_the_form_and_an_example() -> None:
    with pytest.raises(InputError) as info:
        parse_value(Int(0, 10_000_000), f"{SECRET}", path="total_count")
    assert info.value.message == (
        "total_count: expected an integer in plain digits (a leading minus allowed), e.g. 1"
    )
    with pytest.raises(InputError) as info:
        parse_value(List(Int(0, 9), 5), "1,x", path="counts")
    assert info.value.message.startswith("counts[1]: expected an integer")


def test_parse_value_of_a_group_is_refused() -> None:
    nationality = kind_spec("flow_report").fields[5].type
    assert isinstance(nationality, List)
    with pytest.raises(InputError, match="is a group of fields, not one value"):
        parse_value(nationality.item, "AF", path="nationalities[0]")
    with pytest.raises(InputError, match="is a list of groups of fields, not one value"):
        parse_value(nationality, "AF", path="nationalities")


@dataclass(frozen=True)
class _IntWithExample(Int):
    """A type as the schema's types may become: one that gives its own example."""

    def example_value(self, index: int = 0) -> int:
        return 7


def test_a_type_s_own_example_is_preferred() -> None:
    with pytest.raises(InputError) as info:
        parse_value(_IntWithExample(0, 10), "x", path="n")
    assert info.value.message.endswith("e.g. 7")
    assert setting_example("n", _IntWithExample(0, 10)) == "n=7"


def test_setting_examples_reach_a_value() -> None:
    spec = kind_spec("route_report")
    assert setting_example("waypoints", spec.fields[1].type) == "waypoints[0].country=DE"
    assert setting_example("first_detected", Date()) == "first_detected=2026-11-30"
    assert setting_example("participants", List(Country(), 5)) == "participants=DE,FR"
    assert setting_example("modes", List(Enum(("air", "sea", "land")), 3)) == "modes=air,sea"
    assert setting_example("target", EnvelopeId()) == "target=" + "5e" * 32


CHECKED: list[tuple[FieldType, Any, str]] = [
    (Date(), "2026-02-30", "first_detected: '2026-02-30' is not a real calendar date"),
    (Date(), "18/02/2026", "first_detected: '18/02/2026' is not a date"),
    (Country(), "UK", "first_detected: 'UK' is not a valid code (did you mean GB?)"),
    (Country(), "de", "first_detected: 'de' is not a valid code (codes are upper case"),
    (Enum(("low", "high")), "mid", "first_detected: 'mid' is not an allowed value"),
    (Str(5), "", "first_detected: must not be empty"),
    (Int(0, 9), 12, "first_detected: 12 is out of range; expected an integer 0..9"),
    (List(Country(), 3, min_items=1), [], "first_detected: too few items (0, at least 1)"),
    (List(Country(), 3, unique=True), ["DE", "DE"], "first_detected[1]: duplicate of item 0"),
]


@pytest.mark.parametrize(("field_type", "value", "message"), CHECKED)
def test_check_value_gives_the_schema_s_message(
    field_type: FieldType, value: Any, message: str
) -> None:
    with pytest.raises(InputError) as info:
        check_value(field_type, value, path="first_detected")
    with pytest.raises(ContentError) as schema:
        validate_value(field_type, value, "first_detected")
    assert info.value.message == schema.value.message
    assert info.value.message.startswith(message)
    assert "e.g." in info.value.message


def test_check_value_returns_the_normalised_value() -> None:
    assert check_value(List(Country(), 3), ("DE", "FR")) == ["DE", "FR"]
    assert check_value(Date(), "2026-02-18") == "2026-02-18"


@pytest.mark.parametrize(
    ("field_type", "value"),
    [(Country(), "UK"), (Int(0, 9), 12), (Enum(("low",)), "mid"), (Date(), "2026-02-30")],
)
def test_check_value_of_a_personal_field_does_not_show_it(
    field_type: FieldType, value: Any
) -> None:
    with pytest.raises(InputError) as info:
        check_value(field_type, value, path="holder", personal=True)
    assert str(value) not in info.value.message
    assert info.value.message.startswith("holder: ")


def test_validate_value_is_the_schema_s_own_check() -> None:
    assert validate_value(Country(), "DE", "x") == "DE"
    with pytest.raises(ContentError, match=r"^x: 'UK' is not"):
        validate_value(Country(), "UK", "x")
    with pytest.raises(ContentError, match=r"^x: the value is not"):
        validate_value(Country(), "UK", "x", personal=True)


def test_field_label() -> None:
    assert field_label("posting_city") == "Posting city"
    assert field_label("title") == "Title"
    assert field_label("holder_nationality") == "Holder nationality"
