"""Evaluation codes (protocol/evaluation.py) and the two grades on the alert kinds."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.errors import ContentError, UsageError
from protocol.evaluation import (
    ACCURACY_FIELD,
    INFORMATION_ACCURACY,
    SOURCE_FIELD,
    SOURCE_RELIABILITY,
    describe_evaluation,
    evaluation_code,
)
from protocol.examples import example
from protocol.kinds import KINDS
from protocol.schema import Grade, Int

EVALUATED = [
    "flow_report",
    "route_report",
    "smuggling_network_alert",
    "incident_alert",
    "forged_document_alert",
]


def _refused(kind: str, content: dict[str, Any], path: str) -> str:
    with pytest.raises(ContentError) as info:
        KINDS[kind].validate(content)
    message = str(info.value)
    assert message.startswith(f"{kind}.{path}: "), message
    return message


def test_the_grades_are_the_4x4_ones() -> None:
    assert list(SOURCE_RELIABILITY) == ["A", "B", "C", "X"]
    assert list(INFORMATION_ACCURACY) == [1, 2, 3, 4]
    assert all(SOURCE_RELIABILITY.values()) and all(INFORMATION_ACCURACY.values())


@pytest.mark.parametrize("kind", EVALUATED)
def test_evaluated_kinds_take_both_grades_as_optional_fields(kind: str) -> None:
    fields = {f.name: f for f in KINDS[kind].fields}
    source, accuracy = fields[SOURCE_FIELD], fields[ACCURACY_FIELD]
    assert not source.required and not accuracy.required
    assert source.type == Grade(("A", "B", "C", "X"))
    assert accuracy.type == Int(1, 4)
    content = example(kind)
    content.update({SOURCE_FIELD: "C", ACCURACY_FIELD: 4})
    assert evaluation_code(KINDS[kind].validate(content)) == "C4"
    del content[SOURCE_FIELD], content[ACCURACY_FIELD]
    assert evaluation_code(KINDS[kind].validate(content)) is None


def test_other_kinds_have_no_grades() -> None:
    for name, spec in KINDS.items():
        if name not in EVALUATED:
            assert SOURCE_FIELD not in spec.field_names(), name


def test_examples_carry_evaluation_codes() -> None:
    codes = {kind: evaluation_code(example(kind)) for kind in KINDS}
    assert codes["flow_report"] == "B2"
    assert codes["incident_alert"] == "A1"
    assert sum(code is not None for code in codes.values()) >= 2


@pytest.mark.parametrize(
    ("given", "missing"), [(SOURCE_FIELD, ACCURACY_FIELD), (ACCURACY_FIELD, SOURCE_FIELD)]
)
def test_one_grade_without_the_other_is_refused(given: str, missing: str) -> None:
    content = example("incident_alert")
    del content[missing]
    message = _refused("incident_alert", content, missing)
    assert f"required when {given} is given" in message and ", e.g. " in message


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        (SOURCE_FIELD, "D", "'D' is not an allowed value; expected one of: A, B, C, X, e.g. A"),
        (SOURCE_FIELD, "b", "(did you mean B?)"),
        (SOURCE_FIELD, 1, "got an int"),
        (ACCURACY_FIELD, 5, "5 is out of range; expected an integer 1..4, e.g. 1"),
        (ACCURACY_FIELD, True, "got a bool"),
        (ACCURACY_FIELD, "2", "got a string"),
    ],
)
def test_bad_grades_are_refused(field: str, value: object, words: str) -> None:
    content = example("flow_report")
    content[field] = value
    assert words in _refused("flow_report", content, field)


def test_evaluation_code_ignores_what_is_not_a_grade() -> None:
    assert evaluation_code({SOURCE_FIELD: "B", ACCURACY_FIELD: True}) is None
    assert evaluation_code({SOURCE_FIELD: "B"}) is None
    assert evaluation_code({SOURCE_FIELD: "Q", ACCURACY_FIELD: 2}) is None


def test_describe_evaluation() -> None:
    assert describe_evaluation("B2") == (
        "B2: source B, mostly reliable; "
        "information 2, known personally to the source but not to the officer passing it on"
    )
    for bad in ("", "B", "B5", "D1", "b2", "B22", "X0"):
        with pytest.raises(UsageError):
            describe_evaluation(bad)
