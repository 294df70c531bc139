"""The half-year report end to end in memory: officers of two Member States send their
contributions, the Presidency's node builds and signs the report, the Commission's
node verifies it and recomputes every figure; then each way of tampering with it is
refused with its reason (a table of named cases)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ilo_node.client.officer import PublishRequest
from ilo_node.client.reports import build_report_files, verify_report_files
from ilo_node.home.home import Home
from ilo_node.report.build import SIGNATURE_DOMAIN
from ilo_node.report.signed import canonical_json
from protocol.crypto import sign
from protocol.periods import half_year_of
from tests.support.reportkit import (
    COM,
    DE,
    FR,
    IE,
    Built,
    posting_now,
    witnessed_checkpoint,
)
from tests.support.reportkit import contribution as _contribution


def test_the_presidency_builds_and_the_commission_recomputes_every_figure(built: Built) -> None:
    body = built.body()
    [tr] = body["host_countries"]
    assert tr["code"] == "TR" and tr["contributors"] == ["DE", "FR"]
    figures = {f["id"]: f["value"] for s in tr["sections"] for f in s["figures"]}
    assert figures["deployments"] == 2 + 1  # summed over Member States
    assert figures["meetings_held"] == 6  # the network's, the most reported
    assert figures["meetings_attended"] == 5 + 4
    assert [m["member_state"] for m in body["missing"]] == ["IE"]  # IE@TR sent none
    result = built.verify(COM)
    assert result.ok, result.problems
    assert result.recomputed
    assert "every figure recomputed from 2 contributions" in result.notes


def test_a_verifier_that_cannot_read_the_contributions_checks_signature_and_proofs(
    built: Built,
) -> None:
    result = built.verify(FR)  # FR's node is not a recipient of DE's contribution
    assert result.ok and not result.recomputed
    assert any("cannot be read here" in n for n in result.notes)


def _change_figure(body: dict[str, Any]) -> None:
    section = body["host_countries"][0]["sections"][0]
    section["figures"][0]["value"] += 1


def _drop_contribution(body: dict[str, Any]) -> None:
    body["manifest"]["contributions"].pop()


def _alter_manifest(body: dict[str, Any]) -> None:
    body["manifest"]["contributions"][0]["member_state"] = "IT"


def _wrong_proof(body: dict[str, Any]) -> None:
    proof = body["manifest"]["contributions"][0]["proof"]
    proof[0] = "00" * 32


def _add_contribution(body: dict[str, Any]) -> None:
    entry = dict(body["manifest"]["contributions"][0])
    entry["id"] = "ab" * 32
    body["manifest"]["contributions"].append(entry)


def _checkpoint_lines(body: dict[str, Any]) -> list[str]:
    return str(body["manifest"]["checkpoint"]).splitlines(keepends=True)


def _cosignature_broken(body: dict[str, Any]) -> None:
    lines = _checkpoint_lines(body)
    last = lines[-1].rstrip("\n")
    # The last base64 character of DE's or COM's line changed: a cosignature that fails.
    lines[-1] = last[:-2] + ("A" if last[-2] != "A" else "B") + last[-1] + "\n"
    body["manifest"]["checkpoint"] = "".join(lines)


def _cosignature_by_a_stranger(body: dict[str, Any]) -> None:
    lines = _checkpoint_lines(body)
    blob = lines[-1].removeprefix("\u2014 ").split(" ", 1)[1]
    lines.append(f"\u2014 XX@TR {blob}")
    body["manifest"]["checkpoint"] = "".join(lines)


def _cosignatures_removed(body: dict[str, Any]) -> None:
    # Only the log's own signature line left: nobody else vouches for that state.
    lines = _checkpoint_lines(body)
    own = [line for line in lines if line.startswith(f"\u2014 {IE} ")]
    text = lines[: lines.index("\n") + 1]
    body["manifest"]["checkpoint"] = "".join(text + own)
    body["manifest"]["witnesses"] = []


TAMPERING: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "a cosignature broken": (_cosignature_broken, "cosignature does not verify with a key"),
    "a cosignature by a node not in the roster": (
        _cosignature_by_a_stranger,
        "'XX@TR' is not a node of the roster",
    ),
    "the cosignatures removed": (_cosignatures_removed, "cosigned by 0 peer(s) of IE@TR"),
    "a witness listed who did not cosign": (
        lambda body: body["manifest"]["witnesses"].append(FR),
        "manifest.witnesses: does not list the nodes",
    ),
    "a figure changed": (_change_figure, "the report says 4, the contributions give 3"),
    "a contribution dropped": (_drop_contribution, "is in this log but not in the report"),
    "a contribution named for another state": (_alter_manifest, "the manifest names it for"),
    "a wrong inclusion proof": (_wrong_proof, "inclusion proof does not verify"),
    "a contribution added": (_add_contribution, "inclusion proof does not verify"),
    "the manifest taken out": (
        lambda body: body.pop("manifest"),
        "report.json: signed, but not of the form of a report (KeyError)",
    ),
    "contributions not a list": (
        lambda body: body["manifest"].update(contributions=7),
        "report.json: signed, but not of the form of a report (TypeError)",
    ),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_a_report_changed_and_signed_again_is_refused(built: Built, case: str) -> None:
    change, reason = TAMPERING[case]
    body = built.body()
    change(body)
    built.resign(body)
    result = built.verify(COM)
    assert not result.ok
    assert any(reason in p for p in result.problems), result.problems


def test_the_checkpoint_carries_every_witness_cosignature(built: Built) -> None:
    body = built.body()
    assert body["manifest"]["witnesses"] == [COM, DE]
    result = built.verify(COM)
    assert f"checkpoint cosigned by 2 witness(es): {COM}, {DE}" in result.notes


def test_a_report_is_not_built_on_a_checkpoint_no_peer_cosigned(
    built: Built, tmp_path: Path
) -> None:
    from ilo_node.errors import ReportError

    posting = built.posting
    anna = posting.officer("anna.berg")
    later = _contribution("DE", deployments=5)
    assert anna.publish(PublishRequest("half_year_contribution", later, "presidency")).sent
    posting.sync_all()
    posting.on(IE, posting.nodes[IE].checkpoint)  # signed, but witnessed by nobody yet
    home = Home(posting.base / "nodes" / IE)
    period = half_year_of(posting_now())

    def build(out: Path, **kw: Any) -> None:
        build_report_files(
            home, lambda: b"unused", period, out, "decision-2005-687", posting_now(), **kw
        )

    with pytest.raises(ReportError, match="has been cosigned by a peer yet") as refused:
        build(tmp_path / "refused")
    assert "--uncosigned" in refused.value.advice
    build(tmp_path / "anyway", render=False, uncosigned=True)
    report = tmp_path / "anyway" / "report.json"
    strict = verify_report_files(Home(posting.base / "nodes" / COM), report, posting_now())
    assert any("cosigned by 0 peer(s)" in p for p in strict.problems)
    lenient = verify_report_files(
        Home(posting.base / "nodes" / COM), report, posting_now(), min_witnesses=0
    )
    assert lenient.ok and lenient.recomputed, lenient.problems
    # Once a peer cosigned, the report is built at that checkpoint, the newest covered.
    posting.witness(IE, [FR])
    build(tmp_path / "witnessed", render=False)
    body = json.loads((tmp_path / "witnessed" / "report.json").read_bytes())
    assert body["manifest"]["witnesses"] == [FR]
    assert body["manifest"]["log_size"] == posting.nodes[IE].size()


def test_a_report_changed_without_signing_again_is_refused_before_it_is_read(
    built: Built,
) -> None:
    data = built.report.read_bytes().replace(b'"value":3', b'"value":4', 1)
    built.report.write_bytes(data)
    result = built.verify(COM)
    assert result.problems == ["report.sig: it signs other bytes than this report.json"]


def test_a_report_signed_by_another_node_is_refused(built: Built) -> None:
    sig = json.loads((built.out / "report.sig").read_bytes())
    key = built.posting.keys[built.posting.built.nodes[FR].signing_key_path]
    digest = bytes.fromhex(sig["digest"])
    sig.update(key=key.public.hex(), signature=sign(key.reveal(), SIGNATURE_DOMAIN, digest).hex())
    (built.out / "report.sig").write_bytes(canonical_json(sig))
    result = built.verify(COM)
    assert any("the key is not IE@TR's" in p for p in result.problems), result.problems


def test_a_second_template_is_a_file_and_no_code(built: Built, tmp_path: Path) -> None:
    from ilo_node.report.template import template_names

    assert "host-country-brief" in template_names()
    out = tmp_path / "brief"
    home = Home(built.posting.base / "nodes" / IE)
    period = half_year_of(posting_now())
    build_report_files(
        home, lambda: b"unused", period, out, "host-country-brief", posting_now(), render=False
    )
    brief = json.loads((out / "report.json").read_bytes())
    assert brief["template"]["id"] == "host-country-brief"
    [tr] = brief["host_countries"]
    assert [s["id"] for s in tr["sections"]] == ["situation"]
    assert [t["id"] for t in tr["tables"]] == ["nationalities"]
    verified = verify_report_files(
        Home(built.posting.base / "nodes" / COM), out / "report.json", posting_now()
    )
    assert verified.ok and verified.recomputed, verified.problems


def test_a_report_computed_on_a_forked_log_is_refused(built: Built) -> None:
    """The verifier holds another checkpoint of the Presidency's log at the same size: the
    report's history is not the one its node showed this verifier."""
    from ilo_node.report.template import load_template
    from ilo_node.report.verify import verify_report
    from protocol.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint

    body = built.body()
    shown = SignedCheckpoint.from_bytes(body["manifest"]["checkpoint"].encode()).checkpoint
    other = Checkpoint(shown.origin, shown.size, bytes(32), shown.time_ms)
    ie = built.posting.nodes[IE]
    assert ie.signing is not None
    forked = sign_checkpoint(other, ie.log.name, ie.signing.reveal())
    result = verify_report(
        built.report.read_bytes(),
        (built.out / "report.sig").read_bytes(),
        built.posting.nodes[COM].trust,
        posting_now(),
        template_for=load_template,
        witnessed=[forked],
    )
    assert any("computed on a forked log" in p for p in result.problems), result.problems
    split = verify_report(
        built.report.read_bytes(),
        (built.out / "report.sig").read_bytes(),
        built.posting.nodes[COM].trust,
        posting_now(),
        template_for=load_template,
        split_view=True,
    )
    assert any("split view" in p for p in split.problems)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {"figures": [{"id": "x", "label": "X", "field": "no_such_field", "combine": "sum"}]},
            "figure x",
        ),
        (
            {"figures": [{"id": "x", "label": "X", "field": "trainings", "combine": "mean"}]},
            "figure x",
        ),
        ({"charts": [{"id": "c", "title": "C", "type": "bar", "table": "nope"}]}, "chart c"),
    ],
    ids=["unknown field", "unknown combination", "chart of no table"],
)
def test_a_template_that_does_not_fit_the_contribution_is_refused(
    change: dict[str, Any], words: str
) -> None:
    from importlib import resources

    from ilo_node.errors import InputError
    from ilo_node.report.template import _checked

    raw = json.loads(
        (resources.files("ilo_node.report") / "templates" / "host-country-brief.json").read_bytes()
    )
    raw.update(change)
    if "figures" in change:
        raw["sections"] = []
    with pytest.raises(InputError, match=words):
        _checked("test", raw, "0" * 64)


def _cli(home: Path, *args: str) -> Any:
    from click.testing import CliRunner

    from ilo_node.cli.app import cli

    passphrase = home.parent / "pw"
    passphrase.write_text("unused")
    passphrase.chmod(0o600)
    result = CliRunner().invoke(
        cli, ["--home", str(home), "--passphrase-file", str(passphrase), *args]
    )
    assert "Traceback" not in result.output + result.stderr
    return result


@pytest.mark.slow  # each build renders the PDF (WeasyPrint)
def test_the_report_commands(built: Built, tmp_path: Path) -> None:
    nodes = built.posting.base / "nodes"
    period = half_year_of(posting_now())
    out = tmp_path / "cli-report"
    made = _cli(nodes / IE, "report", "build", "--period", period, "--out", str(out))
    assert made.exit_code == 0, made.stderr
    assert made.stdout.startswith(f"built the {period} report from 2 contributions (TR)")
    assert "no contribution from IE for TR" in made.stdout
    ok = _cli(nodes / COM, "report", "verify", str(out / "report.json"))
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.endswith("(every figure recomputed)\n")
    record = json.loads(
        _cli(nodes / COM, "report", "verify", str(out / "report.json"), "--json").stdout
    )
    assert record["ok"] and record["recomputed"]

    (out / "report.json").write_bytes((out / "report.json").read_bytes() + b" ")
    bad = _cli(nodes / COM, "report", "verify", str(out / "report.json"))
    assert bad.exit_code == 1
    assert "does not verify: report.sig: it signs other bytes than this report.json" in bad.stderr
    (out / "report.sig").unlink()
    missing = _cli(nodes / COM, "report", "verify", str(out / "report.json"))
    assert missing.exit_code == 2 and "no report.sig beside" in missing.stderr
    not_yet = _cli(nodes / FR, "report", "build", "--period", "2026-H7", "--out", str(out))
    assert not_yet.exit_code == 2 and "is not a half-year" in not_yet.stderr


def test_a_contribution_for_another_state_or_retracted_does_not_count(
    built: Built, tmp_path: Path
) -> None:
    posting = built.posting
    anna = posting.officer("anna.berg")
    # anna's node is DE's: a contribution in Italy's name is not Italy's.
    posing = anna.publish(
        PublishRequest("half_year_contribution", _contribution("IT"), "presidency")
    )
    assert posing.sent
    # A later DE contribution, then retracted: the earlier one stands.
    later = anna.publish(
        PublishRequest("half_year_contribution", _contribution("DE", deployments=9), "presidency")
    )
    assert later.sent and later.envelope_id is not None
    assert anna.retract(later.envelope_id.hex(), "figures not final").sent
    posting.sync_all()
    witnessed_checkpoint(posting)
    out = tmp_path / "again"
    home = Home(posting.base / "nodes" / IE)
    build_report_files(
        home,
        lambda: b"unused",
        half_year_of(posting_now()),
        out,
        "decision-2005-687",
        posting_now(),
    )
    [tr] = json.loads((out / "report.json").read_bytes())["host_countries"]
    assert tr["contributors"] == ["DE", "FR"]
    figures = {f["id"]: f["value"] for s in tr["sections"] for f in s["figures"]}
    assert figures["deployments"] == 2 + 1
    assert verify_report_files(
        Home(posting.base / "nodes" / COM), out / "report.json", posting_now()
    ).ok
