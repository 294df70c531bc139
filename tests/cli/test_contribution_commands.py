"""``contribution draft`` and ``contribution send`` in an officer's home, against real
nodes in memory (the seam of tests/cli/test_officer_commands.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ilo_node.home.home import Home
from protocol.examples import example
from tests.cli.test_officer_commands import Officer, _published
from tests.support.officerkit import Posting, build_posting

DE, FR, COM = "DE@TR", "FR@TR", "COM@EU"


@pytest.fixture
def posting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Posting]:
    postings = build_posting(tmp_path, [DE, FR, COM], {DE: ["anna.berg"], FR: ["claire.dubois"]})
    posting = next(postings)
    keys = posting.keys
    monkeypatch.setattr(Home, "signing_key", lambda self, passphrase: keys[self.signing_key_path])
    yield posting
    next(postings, None)


def test_a_draft_counts_what_stands_and_is_sent_once_written(
    posting: Posting, tmp_path: Path
) -> None:
    anna, claire = Officer(posting, "anna.berg"), Officer(posting, "claire.dubois")
    anna.ok("publish", "forged_document_alert", "--example")
    anna.ok("publish", "training_record", "--example")
    wrong = _published(anna.ok("publish", "incident_alert", "--example", "--json"))
    anna.ok("retract", wrong[:12], "--reason", "not for this network")
    first = _published(anna.ok("publish", "route_report", "--example", "--json"))
    anna.ok("correct", first[:12], "--set", "route_name=Van - Kapikule")
    meeting = example("meeting_record")
    meeting.update(chair_state="FR", participants=["FR", "DE", "COM", "EBCG"])
    (tmp_path / "meeting.json").write_text(json.dumps(meeting))
    claire.ok("publish", "meeting_record", "--file", str(tmp_path / "meeting.json"))
    posting.sync(DE, FR)

    draft = anna.json("contribution", "draft", "--period", "2026-H2")
    assert (draft["half_year"], draft["member_state"], draft["host_country"]) == (
        "2026-H2",
        "DE",
        "TR",
    )
    assert {r["kind"]: (r["count"], r["corrected"]) for r in draft["alerts_by_kind"]} == {
        "forged_document_alert": (1, 0),
        "route_report": (1, 1),  # counted once, as its correction
        "training_record": (1, 0),
    }  # the retracted incident alert is left out
    assert draft["routes"] == ["Van - Kapikule"]
    assert (draft["meetings_held"], draft["meetings_attended"]) == (1, 1)

    path = tmp_path / "h2.json"
    said = anna.ok("contribution", "draft", "--period", "2026-H2", "-o", str(path)).stdout
    assert "for you to enter: irregular_migrants_detected" in said
    assert path.stat().st_mode & 0o777 == 0o600
    unwritten = anna.run("contribution", "send", str(path))
    assert unwritten.exit_code == 2
    assert "activities_narrative, situation_narrative not written yet" in unwritten.stderr

    edited = json.loads(path.read_text())
    edited.update(
        activities_narrative="Six network meetings; one joint training.",
        situation_narrative="Flows over the eastern land border rose.",
        irregular_migrants_detected=120,
    )
    path.write_text(json.dumps(edited))
    dry = anna.json("contribution", "send", str(path), "--dry-run")
    assert dry["level"] == "presidency" and COM in dry["readable_by"]
    assert FR not in dry["readable_by"]
    sent = anna.json("contribution", "send", str(path))
    assert sent["sent"] is True and sent["kind"] == "half_year_contribution"
    posting.sync(COM, DE)
    record = posting.on(COM, posting.nodes[COM].view.read, bytes.fromhex(sent["id"]))
    assert record is not None  # the Commission's node can read it


def test_a_contribution_for_another_posting_or_period_is_refused(
    posting: Posting, tmp_path: Path
) -> None:
    anna = Officer(posting, "anna.berg")
    other = example("half_year_contribution")
    other["host_country"] = "MA"
    (tmp_path / "ma.json").write_text(json.dumps(other))
    result = anna.run("contribution", "send", str(tmp_path / "ma.json"))
    assert result.exit_code == 2
    assert "is for DE in MA, but this home is an officer's at DE@TR" in result.stderr
    bad = anna.run("contribution", "draft", "--period", "2026-H3")
    assert bad.exit_code == 2 and "'2026-H3' is not a half-year" in bad.stderr
