"""The officer's commands through click's runner, against real nodes in memory.

Each officer's home is built by the network builder; its requests reach its node
through :class:`~tests.support.officerkit.MemoryOfficerTransport` (given to the
CLI as ``obj={"officer_transport": ...}``, the seam the HTTP transport fills in
real use). What is checked is what a person or a script reads: the output, the
exit code, and that nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ilo_node.cli.app import cli
from ilo_node.home.home import Home
from keys.keystore import SecretKey
from protocol.examples import example
from tests.support.officerkit import MemoryOfficerTransport, Posting, build_posting

DE, FR, IT = "DE@TR", "FR@TR", "IT@TR"


@pytest.fixture
def posting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Posting]:
    postings = build_posting(
        tmp_path, [DE, FR, IT], {DE: ["anna.berg", "bert.roth"], FR: ["claire.dubois"]}
    )
    posting = next(postings)
    keys = posting.keys
    # Officers' keys are in memory (no Argon2id file to unlock), read as the home would.
    monkeypatch.setattr(Home, "signing_key", lambda self, passphrase: keys[self.signing_key_path])
    yield posting
    next(postings, None)


class Officer:
    """One officer at the command line: ``run`` invokes ``ilo-node --home HOME ...``."""

    def __init__(self, posting: Posting, name: str) -> None:
        self.posting = posting
        self.name = name
        self.home = posting.officer_home(name)
        node = self.home.config().node
        assert node is not None
        from ilo_node.net.peerauth import OfficerIdentity

        key: SecretKey = posting.keys[self.home.signing_key_path]
        self.transport = MemoryOfficerTransport(
            posting.services[node], OfficerIdentity(node, name, key.reveal())
        )

    def _passphrase(self) -> Path:
        path = self.posting.base / "officer-passphrase"
        if not path.exists():
            path.write_text("unused")
            path.chmod(0o600)
        return path

    def run(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(
            cli,
            ["--home", str(self.home.path), "--passphrase-file", str(self._passphrase()), *args],
            obj={"officer_transport": self.transport},
            input=input,
        )
        assert "Traceback" not in result.output, result.output
        assert "internal error" not in result.stderr, result.stderr
        return result

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output + result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def anna(posting: Posting) -> Officer:
    return Officer(posting, "anna.berg")


@pytest.fixture
def claire(posting: Posting) -> Officer:
    return Officer(posting, "claire.dubois")


def _write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return str(path)


def _published(result: Result) -> str:
    """The id a ``publish --json`` printed."""
    record = json.loads(result.stdout)
    assert record["sent"] is True, record
    return str(record["id"])


def test_an_alert_from_a_file_reaches_another_postings_inbox_under_its_authors_name(
    anna: Officer, claire: Officer, posting: Posting, tmp_path: Path
) -> None:
    alert = _write(tmp_path, "alert.json", example("forged_document_alert"))
    published = anna.ok("publish", "forged_document_alert", "--file", alert)
    assert published.stdout.startswith("published forged_document_alert ")
    assert "readable by: DE@TR, FR@TR, IT@TR" in published.stdout
    posting.sync(FR, DE)

    inbox = claire.ok("inbox").stdout.splitlines()
    assert inbox[0].split() == ["id", "written", "kind", "author", "host", "state", "title"]
    [row] = inbox[1:]
    assert "forged_document_alert" in row and "anna.berg (DE@TR)" in row and " new" in row

    short = row.split()[0][:8]
    shown = claire.ok("show", short).stdout
    assert "Forged document alert" in shown
    assert "author:       anna.berg (DE@TR)" in shown
    assert "signature:    valid; officer key certified and not revoked" in shown
    assert "Issuing country: Italy (IT)" in shown
    assert "Holder name [personal]: " in shown  # shown to the officer at the terminal
    assert "handling:     H1: not to be used as evidence" in shown
    assert "readable by DE@TR, FR@TR, IT@TR" in shown
    assert claire.ok("inbox").stdout == "nothing new\n"  # show marked it read
    assert "read" in claire.ok("inbox", "--all").stdout


def test_json_leaves_personal_fields_out_unless_asked(
    anna: Officer, claire: Officer, posting: Posting
) -> None:
    anna.ok("publish", "forged_document_alert", "--example")
    posting.sync(FR, DE)
    [message] = claire.json("inbox")
    assert message["author"] == {
        "officer": "anna.berg",
        "node": DE,
        "key": message["author"]["key"],
        "signature": "valid",
        "key_status": "accept",
        "key_detail": "certified and not revoked",
    }
    assert "holder_name" not in message["content"]
    assert message["personal_withheld"] == ["document_number", "holder_name"]
    with_personal = claire.json("show", message["id"], "--include-personal")
    assert (
        with_personal["content"]["holder_name"] == example("forged_document_alert")["holder_name"]
    )
    assert with_personal["personal_withheld"] == []


def test_fields_come_from_settings_and_bad_ones_are_named_with_an_allowed_example(
    anna: Officer,
) -> None:
    settings = [
        "document_type=passport",
        "issuing_country=IT",
        "fraud_type=impostor",
        "detection_features=Photo does not match the holder",
        "first_detected=2026-02-18",
        "detected_at=Istanbul Airport",
    ]
    args = [a for setting in settings for a in ("--set", setting)]
    record = json.loads(anna.ok("publish", "forged_document_alert", *args, "--json").stdout)
    assert record["sent"] and record["kind"] == "forged_document_alert"

    missing = anna.run("publish", "forged_document_alert", *args[:4])
    assert missing.exit_code == 2
    assert "required fields are missing: fraud_type, detection_features" in missing.stderr

    bad = anna.run("publish", "forged_document_alert", *args, "--set", "issuing_country=UK")
    assert bad.exit_code == 2  # the officer's own input: a usage error, with its advice
    assert "'UK' is not a valid code (did you mean GB?)" in bad.stderr
    assert "'ilo-node template forged_document_alert' lists every field" in bad.stderr
    unknown = anna.run("publish", "no_such_kind", "--example")
    assert unknown.exit_code == 2 and "Invalid value for 'KIND'" in unknown.stderr
    assert anna.run("publish", "retraction", "--example").exit_code == 2


def test_a_dry_run_says_who_could_read_it_and_signs_nothing(
    anna: Officer, posting: Posting
) -> None:
    before = posting.nodes[DE].size()
    out = anna.ok(
        "publish", "incident_alert", "--example", "--level", "states", "--to", "FR", "--dry-run"
    ).stdout
    assert out.startswith("dry run: incident_alert, level states, handling H1; nothing signed")
    assert "readable by: DE@TR, FR@TR" in out
    assert "Country: Türkiye (TR)" in out
    assert posting.nodes[DE].size() == before
    assert not (anna.home.path / "outbox").exists() or not any(
        (anna.home.path / "outbox").iterdir()
    )


def test_a_member_state_without_a_node_is_an_error_not_a_narrower_delivery(
    anna: Officer,
) -> None:
    result = anna.run("publish", "incident_alert", "--example", "--level", "states", "--to", "PL")
    assert result.exit_code == 2
    assert "PL has no node in roster v1: nobody there could read it" in result.stderr
    typo = anna.run("publish", "incident_alert", "--example", "--level", "states", "--to", "XX")
    assert typo.exit_code == 2 and "'XX' is not a Member State code" in typo.stderr


def test_with_the_node_down_the_alert_waits_in_the_outbox_and_goes_when_it_is_up(
    anna: Officer, claire: Officer, posting: Posting
) -> None:
    anna.ok("status")  # the home has learnt the prekeys once
    anna.transport.down = True
    result = anna.run("publish", "incident_alert", "--example")
    assert result.exit_code == 4, result.stderr
    assert "published" not in result.stdout
    assert result.stderr.startswith("error: NOT SENT: incident_alert ")
    assert "kept in your outbox" in result.stderr
    status = anna.json("status")
    assert status["node_reachable"] is False
    [waiting] = status["outbox"]
    assert waiting["kind"] == "incident_alert" and waiting["seq"] == 1
    assert "NOT REACHABLE" in anna.ok("status").stdout

    anna.transport.down = False
    status = anna.json("status")
    assert status["outbox"] == [] and status["node_reachable"] is True
    assert [h["id"] for h in status["handed_over"]] == [waiting["id"]]
    posting.sync(FR, DE)
    [message] = claire.json("inbox")
    assert message["id"] == waiting["id"]


def test_a_fresh_home_with_its_node_down_signs_nothing_and_says_so(anna: Officer) -> None:
    anna.transport.down = True
    result = anna.run("publish", "incident_alert", "--example")
    assert result.exit_code == 4, result.stderr
    assert "nothing was signed" in result.stderr
    assert anna.json("status")["outbox"] == []


def test_unknown_and_too_short_ids_are_distinct_errors(anna: Officer) -> None:
    anna.ok("publish", "incident_alert", "--example")
    unknown = anna.run("show", "00000000")
    assert unknown.exit_code == 3 and "no message with an id starting" in unknown.stderr
    short = anna.run("show", "abc")
    assert short.exit_code == 2, short.stderr
    assert "first 8 or more hex digits" in short.stderr
    garbage = anna.run("show", "not-hex-at-all")
    assert garbage.exit_code == 2, garbage.stderr


def test_search_finds_words_and_fields_within_the_filters(
    anna: Officer, claire: Officer, posting: Posting
) -> None:
    alert = _published(anna.ok("publish", "incident_alert", "--example", "--json"))
    anna.ok("publish", "forged_document_alert", "--example")
    posting.sync(FR, DE)
    [found] = claire.json("search", "visa-free")
    assert found["id"] == alert
    [by_field] = claire.json("search", "issuing_country:IT")
    assert by_field["kind"] == "forged_document_alert"
    assert claire.json("search", "visa-free", "--kind", "forged_document_alert") == []
    assert claire.ok("search", "nothingmatchesthis").stdout == "no message matches\n"
    assert [m["id"] for m in claire.json("search", "visa-free", "--officer", "anna.berg")] == [
        alert
    ]


def test_the_author_retracts_and_every_reader_sees_it_retracted_with_the_reason(
    anna: Officer, claire: Officer, posting: Posting
) -> None:
    alert = _published(anna.ok("publish", "incident_alert", "--example", "--json"))
    posting.sync(FR, DE)
    refused = claire.run("retract", alert[:12], "--reason", "not mine to retract")
    assert refused.exit_code == 1
    assert "only its author (anna.berg (DE@TR)) may retract" in refused.stderr

    out = anna.ok("retract", alert[:12], "--reason", "sent to the wrong network").stdout
    assert out.startswith(f"retracted {alert[:16]}: sent retraction ")
    posting.sync(FR, DE)
    shown = claire.ok("show", alert[:10]).stdout
    assert shown.splitlines()[1].startswith("RETRACTED retracted by anna.berg (DE@TR)")
    assert shown.splitlines()[1].endswith(": sent to the wrong network")
    record = claire.json("show", alert)
    assert record["retracted"] is True
    assert record["retractions"][0]["reason"] == "sent to the wrong network"
    assert "RETRACTED" in claire.ok("inbox", "--all").stdout


def test_the_author_corrects_one_field_and_the_original_shows_as_corrected(
    anna: Officer, claire: Officer, posting: Posting
) -> None:
    alert = _published(anna.ok("publish", "forged_document_alert", "--example", "--json"))
    correction = _published(anna.ok("correct", alert[:8], "--set", "issuing_country=FR", "--json"))
    posting.sync(FR, DE)
    assert claire.json("show", correction)["content"]["issuing_country"] == "FR"
    original = claire.json("show", alert)
    assert original["corrected"] is True
    assert original["corrections"][0]["id"] == correction
    assert "CORRECTED corrected by anna.berg (DE@TR)" in claire.ok("show", alert).stdout
    other = claire.run("correct", alert[:8], "--set", "issuing_country=ES")
    assert other.exit_code == 1 and "only its author" in other.stderr
    assert anna.run("correct", alert[:8]).exit_code == 2  # nothing to correct with


def test_a_revoked_officer_can_neither_publish_nor_read_through_the_node(
    anna: Officer, posting: Posting
) -> None:
    from protocol.signed import SignedDocument

    anna.ok("publish", "incident_alert", "--example")
    de = posting.nodes[DE]
    now = de.clock()
    authority = posting.keys[posting.built.base / "authorities" / "DE" / "keys" / "signing.key"]
    revocation = SignedDocument.create(
        "revocation",
        {
            "network": de.network,
            "node": DE,
            "key": posting.keys[anna.home.signing_key_path].public,
            "compromised_at_ms": now,
            "issued_ms": now,
            "reason": "left the post",
        },
    ).signed_by(authority.reveal())
    posting.on(DE, de.add_documents, [revocation.to_bytes()])
    publish = anna.run("publish", "incident_alert", "--example")
    assert publish.exit_code == 1 and "may not use this key" in publish.stderr
    read = anna.run("inbox")
    assert read.exit_code == 1 and "may not use this key" in read.stderr
    status = anna.json("status")  # the outbox is still shown, and why the node is of no use
    assert status["node_state"] == "refused" and "may not use this key" in status["node_problem"]
    assert "REFUSES YOU" in anna.ok("status").stdout


def test_grades_filter_the_inbox(anna: Officer, claire: Officer, posting: Posting) -> None:
    graded = example("incident_alert")  # graded A1 in the example
    assert (graded["source_reliability"], graded["information_accuracy"]) == ("A", 1)
    anna.ok("publish", "incident_alert", "--example")
    anna.ok(
        "publish",
        "incident_alert",
        "--example",
        "--set",
        "source_reliability=C",
        "--set",
        "information_accuracy=3",
    )
    posting.sync(FR, DE)
    assert len(claire.json("inbox")) == 2
    [c3] = claire.json("inbox", "--reliability", "C")
    assert c3["content"]["information_accuracy"] == 3
    assert [
        m["content"]["source_reliability"] for m in claire.json("inbox", "--accuracy", "1")
    ] == ["A"]
    assert claire.json("inbox", "--reliability", "B") == []
    assert "Source reliability: C (mostly unreliable)" in claire.ok("show", c3["id"]).stdout


def test_follow_prints_each_new_arrival_once_until_interrupted(
    anna: Officer, claire: Officer, posting: Posting, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _published(anna.ok("publish", "incident_alert", "--example", "--json"))
    posting.sync(FR, DE)
    later: list[str] = []

    def between_checks(seconds: float) -> None:
        # Instead of waiting: a new alert arrives before the first check, none before
        # the second, and the officer presses Ctrl-C at the third.
        if not later:
            later.append(_published(anna.ok("publish", "route_report", "--example", "--json")))
            posting.sync(FR, DE)
        elif len(later) == 1:
            later.append("checked again")
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr("ilo_node.cli.desk.time.sleep", between_checks)
    result = claire.ok("inbox", "--follow", "--json")
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == [first, later[0]]


def test_what_was_typed_is_kept_when_it_cannot_be_sent(
    anna: Officer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ilo_node.cli.desk.interactive", lambda: True)
    monkeypatch.setattr("ilo_node.cli.desk.confirm_send", lambda summary: True)
    anna.transport.down = True  # and the home never learnt the prekeys
    result = anna.run("publish", "incident_alert", "--example")
    assert result.exit_code == 4
    [draft] = (anna.home.path / "drafts").glob("incident_alert-*.json")
    assert f"your text is kept in {draft}" in result.stderr
    assert json.loads(draft.read_text()) == example("incident_alert")
    assert draft.stat().st_mode & 0o777 == 0o600
    anna.transport.down = False
    assert anna.json("publish", "incident_alert", "--file", str(draft), "-y")["sent"] is True


def test_mine_lists_what_the_officer_wrote_and_others_see_who_wrote_it(
    anna: Officer, claire: Officer, posting: Posting
) -> None:
    alert = _published(anna.ok("publish", "incident_alert", "--example", "--json"))
    posting.sync(FR, DE)
    claire.ok("publish", "route_report", "--example")
    [own] = anna.json("inbox", "--mine")
    assert own["id"] == alert and own["author"]["officer"] == "anna.berg"
    assert " yours " in anna.ok("inbox", "--mine").stdout
    assert anna.json("inbox") == []  # her own is not news to her
    assert anna.run("inbox", "--mine", "--officer", "claire.dubois").exit_code == 2


def test_a_level_that_reaches_nobody_else_is_refused(tmp_path: Path) -> None:
    # A posting of one node: local reaches only the author's own node.
    postings = build_posting(tmp_path, [DE], {DE: ["anna.berg"]})
    posting = next(postings)
    keys = posting.keys
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Home, "signing_key", lambda self, passphrase: keys[self.signing_key_path])
        result = Officer(posting, "anna.berg").run("publish", "incident_alert", "--example")
    next(postings, None)
    assert result.exit_code == 2
    assert "nobody but your own node DE@TR could read it" in result.stderr


def test_member_state_codes_get_the_same_corrections_as_fields(anna: Officer) -> None:
    result = anna.run("publish", "incident_alert", "--example", "--level", "states", "--to", "EL")
    assert result.exit_code == 2
    assert "'EL' is not a Member State code (did you mean GR?)" in result.stderr
