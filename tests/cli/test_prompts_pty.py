"""Field prompts at a real pseudo-terminal (``ilo_node/cli/prompts.py``).

``tests.support.promptdriver`` runs ``prompt_missing`` for a kind in a child process
whose standard streams and controlling terminal are a pty (``tests.support.pty``), and
prints the content it ends with; each test types as an officer would: a required field
of each kind is asked for in declaration order, a bad value is asked for again with the
schema's message, Ctrl-D and Ctrl-C end the run cleanly, and without a terminal the
missing fields are listed in one error. Marked slow: each test starts a Python process
that imports the CLI (over a second on its own).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ilo_node.formats.jsoncontent import content_from_json
from protocol.kinds import kind_spec
from tests.support.clirun import CLI_ENVIRONMENT
from tests.support.pty import Terminal

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DRIVER = [sys.executable, "-m", "tests.support.promptdriver", "fill"]
# A heading line: "Issuing country (issuing_country)", "Notes (notes, optional, ...)".
HEADING = re.compile(r"^[A-Z][a-z ]*\(([a-z0-9_.\[\]]+)(?:, [^)\n]*)?\)$", re.MULTILINE)


def _environment() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in CLI_ENVIRONMENT}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environ.get("PYTHONPATH")]))
    environ["TERM"] = "dumb"
    return environ


def _fill(kind: str, *args: str) -> Terminal:
    return Terminal([*DRIVER, kind, *args], env=_environment(), cwd=REPO)


def _prompt(terminal: Terminal, label: str) -> None:
    """Wait for the prompt of ``label`` at the start of a line."""
    terminal.expect(re.compile(rf"^{re.escape(label)}: ", re.MULTILINE))


def _answer(terminal: Terminal, label: str, text: str) -> None:
    _prompt(terminal, label)
    terminal.send(text)


def _content(terminal: Terminal, kind: str) -> dict[str, Any]:
    """The content the driver printed, read back, and checked against the schema."""
    line = terminal.expect(re.compile(r"^content: (\{.*\})$", re.MULTILINE))
    content: dict[str, Any] = content_from_json(json.loads(line[1]))
    assert kind_spec(kind).validate(content) == content
    return content


def _asked(terminal: Terminal) -> list[str]:
    """The paths of the fields whose heading was shown, in order."""
    return HEADING.findall(terminal.transcript)


def _clean(terminal: Terminal) -> None:
    assert "Traceback" not in terminal.transcript, terminal.transcript
    assert "internal error" not in terminal.transcript, terminal.transcript


def test_forged_document_alert_asks_each_required_field_and_again_after_a_bad_value() -> None:
    with _fill("forged_document_alert") as t:
        t.expect("Document type (document_type)\n")
        t.expect("  one of (type the value or its number):\n")
        t.expect("     4) residence_permit\n")
        _answer(t, "Document type", "passprt")
        t.expect(
            "  document_type: 'passprt' is not an allowed value (did you mean passport?); "
            "expected one of: passport, id_card, visa, residence_permit, travel_document, "
            "driving_licence, other, e.g. passport; try again\n"
        )
        _answer(t, "Document type", "4")

        t.expect("Issuing country (issuing_country)\n  country the document claims to be from\n")
        t.expect("  ISO code, e.g. DE\n")
        _answer(t, "Issuing country", "UK")
        t.expect(
            "  issuing_country: 'UK' is not a valid code (did you mean GB?); "
            "expected an ISO 3166-1 alpha-2 country code, e.g. DE; try again\n"
        )
        _answer(t, "Issuing country", "IT")

        _answer(t, "Fraud type", "counterfeit")

        t.expect("Detection features (detection_features)\n  how to spot it\n")
        t.expect("  1..50 items, comma-separated, each: string, 1..300 characters\n")
        _answer(t, "Detection features (comma-separated)", "")
        t.expect("  detection_features: too few items (0, at least 1); expected a list")
        # A comma splits the answer into items: shown, and typed again when not meant.
        _answer(t, "Detection features (comma-separated)", "Missing ink, on the card number")
        t.expect("  2 items:\n    1) Missing ink\n    2) on the card number\n")
        t.expect("Keep these items? [Y/n]: ")
        t.send("n")
        _answer(t, "Detection features (comma-separated)", "Missing optically variable ink")

        _answer(t, "First detected", "2026-02-30")
        t.expect("  first_detected: '2026-02-30' is not a real calendar date; expected a date")
        _answer(t, "First detected", "18/02/2026")
        t.expect("  first_detected: '18/02/2026' is not a date; expected a date YYYY-MM-DD")
        _answer(t, "First detected", "2026-02-18")

        t.expect("Detected at (detected_at)\n  airport, border post or office\n")
        _answer(t, "Detected at", "Istanbul Airport, departure gates")

        content = _content(t, "forged_document_alert")
        assert t.wait() == 0
    _clean(t)
    assert content == {
        "document_type": "residence_permit",
        "issuing_country": "IT",
        "fraud_type": "counterfeit",
        "detection_features": ["Missing optically variable ink"],
        "first_detected": "2026-02-18",
        "detected_at": "Istanbul Airport, departure gates",
    }
    # Every required field, in declaration order; no optional one.
    spec = kind_spec("forged_document_alert")
    assert _asked(t) == [f.name for f in spec.fields if f.required]


def test_incident_alert_asks_each_required_field_and_marks_personal_data() -> None:
    with _fill("incident_alert") as t:
        _answer(t, "Category", "earthquake")
        t.expect(
            "  category: 'earthquake' is not an allowed value; expected one of: incident, "
            "new_trend, policy_change, crisis, other, e.g. incident; try again\n"
        )
        _answer(t, "Category", "policy_change")
        t.expect("Title (title)\n  string, 1..300 characters\n")
        _answer(t, "Title", "Host country tightens visa-free entry")
        t.expect("  date, YYYY-MM-DD\n")
        _answer(t, "Occurred on", "2026-4-10")
        t.expect("  occurred_on: '2026-4-10' is not a date; expected a date YYYY-MM-DD")
        _answer(t, "Occurred on", "2026-04-10")
        _answer(t, "Country", "tr")
        t.expect("  country: 'tr' is not a valid code (codes are upper case: did you mean TR?)")
        _answer(t, "Country", "TR")
        t.expect("Description (description, personal data)\n  free text, 1..20000 characters\n")
        _answer(t, "Description", "")
        t.expect("  description: must not be empty; expected free text")
        _answer(t, "Description", "Visa-free entry ends on 1 May; a rise in attempts expected.")
        t.expect("Expected impact (expected_impact)\n  expected effect on migration flows\n")
        _answer(t, "Expected impact", "9")  # there are 4 choices: 9 is no number of one
        t.expect("  expected_impact: '9' is not an allowed value; expected one of: low, medium")
        _answer(t, "Expected impact", "2")
        content = _content(t, "incident_alert")
        assert t.wait() == 0
    _clean(t)
    assert content["category"] == "policy_change"
    assert content["expected_impact"] == "medium"
    assert content["country"] == "TR"
    spec = kind_spec("incident_alert")
    assert _asked(t) == [f.name for f in spec.fields if f.required]


def test_only_what_settings_left_out_is_asked_and_list_items_are_asked_in_turn() -> None:
    settings = [
        "route_name=Van - Istanbul - Edirne",
        "transport_modes=land",
        "nationalities=AF,PK",
        "active_since=2025-09-15",
        "period_start=2026-01-01",
        "period_end=2026-03-31",
    ]
    with _fill("route_report", *(a for s in settings for a in ("--set", s))) as t:
        t.expect("Waypoints (waypoints)\n  from origin to destination, in travel order\n")
        t.expect("  a list of 2..200 items, each with: country, place\n")
        t.expect("Waypoints, item 1:\n")
        t.expect("Country (waypoints[0].country)\n")
        _answer(t, "Country", "Iran")
        t.expect("  waypoints[0].country: 'Iran' is not a valid code; expected an ISO 3166-1")
        _answer(t, "Country", "IR")
        # Two items at least: the second is asked for without a question.
        t.expect("Waypoints, item 2:\n")
        _answer(t, "Country", "TR")
        t.expect("Add another? [y/N]: ")
        t.send("y")
        t.expect("Waypoints, item 3:\n")
        _answer(t, "Country", "BG")
        t.expect("Add another? [y/N]: ")
        t.send("")
        content = _content(t, "route_report")
        assert t.wait() == 0
    _clean(t)
    assert content["waypoints"] == [{"country": "IR"}, {"country": "TR"}, {"country": "BG"}]
    assert content["route_name"] == "Van - Istanbul - Edirne"
    assert _asked(t) == [
        "waypoints",
        "waypoints[0].country",
        "waypoints[1].country",
        "waypoints[2].country",
    ]


def test_optional_fields_are_asked_when_wanted_and_skipped_with_enter() -> None:
    settings = [
        "document_type=passport",
        "issuing_country=IT",
        "fraud_type=impostor",
        "detection_features=Photo does not match the holder",
        "first_detected=2026-02-18",
        "detected_at=Istanbul Airport",
    ]
    with _fill(
        "forged_document_alert", "--optional", *(a for s in settings for a in ("--set", s))
    ) as t:
        t.expect("Route (route, optional, Enter to skip)\n")
        _answer(t, "Route", "")
        _answer(t, "Holder nationality", "PK")
        t.expect("Document number (document_number, optional, Enter to skip, personal data)\n")
        _answer(t, "Document number", "")
        _answer(t, "Holder name", "")
        _answer(t, "Notes", "")
        _answer(t, "Source reliability", "B")
        _answer(t, "Information accuracy", "2")
        content = _content(t, "forged_document_alert")
        assert t.wait() == 0
    _clean(t)
    assert content["holder_nationality"] == "PK"
    assert "route" not in content and "document_number" not in content
    assert (content["source_reliability"], content["information_accuracy"]) == ("B", 2)
    assert _asked(t) == [
        "route",
        "holder_nationality",
        "document_number",
        "holder_name",
        "notes",
        "source_reliability",
        "information_accuracy",
    ]


def test_ctrl_d_aborts_cleanly() -> None:
    with _fill("forged_document_alert") as t:
        _answer(t, "Document type", "passport")
        _prompt(t, "Issuing country")
        t.control("d")
        t.expect("\naborted\n")
        assert t.wait() == 130
    _clean(t)
    assert "content:" not in t.transcript


def test_ctrl_c_aborts_cleanly() -> None:
    with _fill("forged_document_alert") as t:
        _answer(t, "Document type", "passport")
        _prompt(t, "Issuing country")
        # CPython acts on a signal when a blocking read is interrupted: a SIGINT that
        # lands after the prompt is written but before the read starts only waits for
        # the next one. A person would press again; so does the test, a few times.
        for _ in range(5):
            t.control("c")
            try:
                t.expect("\naborted\n", timeout=2)
                break
            except AssertionError:
                if t.process.poll() is not None:
                    raise
        else:
            raise AssertionError(f"Ctrl-C did not abort:\n{t.transcript}")
        assert t.wait() == 130
    _clean(t)
    assert "content:" not in t.transcript


def test_not_at_a_terminal_every_missing_field_is_named_in_one_error() -> None:
    result = subprocess.run(
        [*DRIVER, "forged_document_alert", "--set", "fraud_type=forged"],
        env=_environment(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr  # a usage error: the input is incomplete
    assert result.stdout == ""
    error, hint = result.stderr.splitlines()
    assert error == (
        "error: forged_document_alert: 5 required fields are missing: document_type, "
        "issuing_country, detection_features, first_detected, detected_at"
    )
    assert hint.startswith("hint: Give them in the --file content or as --set FIELD=VALUE")
