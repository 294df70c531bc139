"""Field prompts in process (``ilo_node/cli/prompts.py``): when nothing may be asked,
and the questions that need no real terminal. ``test_prompts_pty.py`` types at a real
one."""

from __future__ import annotations

import io
import sys
from typing import Any

import click
import pytest

from ilo_node.cli.prompts import confirm_send, interactive, prompt_missing
from ilo_node.errors import InputError
from protocol.examples import example
from protocol.kinds import kind_spec


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, holding what will be typed."""

    def isatty(self) -> bool:
        return True


def _streams(monkeypatch: pytest.MonkeyPatch, stdin: io.StringIO, stdout: io.StringIO) -> None:
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make standard input and output terminals; ``typed(lines)`` sets what is typed."""

    def set_input(*lines: str) -> None:
        _streams(monkeypatch, _Terminal("".join(line + "\n" for line in lines)), _Terminal())

    return set_input


def test_without_a_terminal_one_error_names_every_missing_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _streams(monkeypatch, io.StringIO(), io.StringIO())
    assert not interactive()
    with pytest.raises(InputError) as info:
        prompt_missing("incident_alert", {"title": "A title"})
    assert info.value.message == (
        "incident_alert: 5 required fields are missing: category, occurred_on, country, "
        "description, expected_impact"
    )
    assert info.value.advice == (
        "Give them in the --file content or as --set FIELD=VALUE (e.g. --set "
        "category=incident), or run the command at a terminal to be asked for each."
    )


def test_a_terminal_for_input_only_is_not_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    _streams(monkeypatch, _Terminal(), io.StringIO())
    assert not interactive()
    content = example("route_report")
    content["waypoints"][1] = {"place": "Van"}
    with pytest.raises(InputError) as info:
        prompt_missing("route_report", content)
    assert info.value.message.endswith("1 required field is missing: waypoints[1].country")


def test_nothing_missing_needs_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    _streams(monkeypatch, io.StringIO(), io.StringIO())
    content = example("forged_document_alert")
    out = prompt_missing("forged_document_alert", content, include_optional=True)
    assert out == content and out is not content


def test_content_that_is_not_an_object(monkeypatch: pytest.MonkeyPatch) -> None:
    _streams(monkeypatch, io.StringIO(), io.StringIO())
    with pytest.raises(InputError, match="must be a JSON object"):
        prompt_missing("incident_alert", ["title"])  # type: ignore[arg-type]


def test_a_required_list_that_may_be_empty_is_offered_items(typed: Any) -> None:
    content = example("flow_report")
    del content["nationalities"]
    typed("n")
    assert prompt_missing("flow_report", content)["nationalities"] == []
    typed("y", "AF", "1240", "", "")
    out = prompt_missing("flow_report", content)
    assert out["nationalities"] == [{"nationality": "AF", "count": 1240}]
    assert kind_spec("flow_report").validate(out) == out


def test_an_optional_group_is_offered_and_filled(typed: Any) -> None:
    content = example("deployment_notice")
    del content["contact"], content["end_date"], content["notes"]
    # end_date skipped; contact: yes, email given, phone and address skipped; notes skipped.
    typed("", "y", "ilo.ankara@example.invalid", "", "", "")
    out = prompt_missing("deployment_notice", content, include_optional=True)
    assert out["contact"] == {"email": "ilo.ankara@example.invalid"}
    assert "end_date" not in out and "notes" not in out
    assert kind_spec("deployment_notice").validate(out) == out


def test_numbers_stand_for_choices_in_a_list(typed: Any) -> None:
    content = example("deployment_notice")
    del content["competences"]
    typed("1, 3")
    assert prompt_missing("deployment_notice", content)["competences"] == [
        "border_control",
        "document_fraud",
    ]


def test_end_of_input_aborts(typed: Any) -> None:
    typed()  # nothing typed: the first prompt reads the end of input
    with pytest.raises(click.Abort):
        prompt_missing("incident_alert", {})


@pytest.mark.parametrize(("answer", "sent"), [("y", True), ("n", False), ("", False)])
def test_confirm_send(typed: Any, answer: str, sent: bool) -> None:
    typed(answer)
    assert confirm_send("incident_alert to DE, FR") is sent


def test_confirm_send_needs_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    _streams(monkeypatch, io.StringIO("y\n"), io.StringIO())
    with pytest.raises(InputError, match="not a terminal"):
        confirm_send("incident_alert to DE, FR")
