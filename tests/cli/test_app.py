"""How every ``ilo-node`` run ends (``IloGroup.main``), the same in ``main()`` and in
click's ``CliRunner``: project errors, usage errors, aborts and internal errors, as text
and, with ``--json``, as one JSON object (``test_json_output.py`` does the same over the
whole command tree)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ilo_node.cli.app import IloGroup, cli, main
from protocol.errors import IloError
from tests.support.clirun import CLI_ENVIRONMENT, Ran, invoke, json_error


def _demo_raises(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def raising(as_json: bool) -> bool:
        raise exc

    monkeypatch.setattr("ilo_node.dev.demo.run_demo", raising)


def test_project_error_prints_error_and_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _demo_raises(monkeypatch, IloError("the thing failed", "Do the other thing."))
    result = invoke(["demo"], cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: the thing failed\nhint: Do the other thing.\n"


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "ILO_NODE_DEBUG"])
def test_unexpected_exception_is_one_line_exit_70(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, debug: bool
) -> None:
    _demo_raises(monkeypatch, RuntimeError("secret detail"))
    result = invoke(["demo"], cwd=tmp_path, env={"ILO_NODE_DEBUG": "1"} if debug else {})
    assert result.returncode == 70
    last = result.stderr.splitlines()[-1]
    assert last == (
        "internal error: RuntimeError. This is a bug in ilo-node; run again with "
        "ILO_NODE_DEBUG=1 and report the output."
    )
    if debug:
        assert "Traceback" in result.stderr and "RuntimeError: secret detail" in result.stderr
    else:
        assert result.stderr == last + "\n"  # no traceback, not even the message


@pytest.mark.parametrize("exc", [click.Abort(), KeyboardInterrupt()], ids=["abort", "ctrl-c"])
def test_abort_and_interrupt_exit_130(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, exc: BaseException
) -> None:
    _demo_raises(monkeypatch, exc)
    result = invoke(["demo"], cwd=tmp_path)
    assert result.returncode == 130
    assert result.stderr.strip() == "aborted"


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = invoke(["read", "--limit", "0"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Usage: ilo-node read [OPTIONS] [ENVELOPE]\n")
    assert "Error: Invalid value for '--limit'" in result.stderr


def test_help_and_version_exit_0(tmp_path: Path) -> None:
    help_text = invoke(["--help"], cwd=tmp_path)
    assert help_text.returncode == 0 and help_text.stdout.startswith("Usage: ilo-node ")
    version = invoke(["--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("ilo-node, version ")


def test_main_ends_as_the_runner_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CLI_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    argv = ["--home", str(tmp_path / "nowhere"), "status"]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    assert isinstance(exited.value.code, int)
    from_main = Ran(tuple(argv), exited.value.code, captured.out, captured.err)
    assert from_main == invoke(argv, cwd=tmp_path)
    assert from_main.returncode == 1 and from_main.stderr.startswith("error: no ilo-node")


def test_without_standalone_mode_errors_propagate(tmp_path: Path) -> None:
    with pytest.raises(IloError, match="no ilo-node identity"):
        cli.main(["--home", str(tmp_path / "nowhere"), "status"], standalone_mode=False)


def test_a_group_of_its_own_reports_the_same_way() -> None:
    group = IloGroup("g")

    @group.command()
    def fails() -> None:
        raise IloError("refused")

    result = CliRunner().invoke(group, ["fails"])
    assert result.exit_code == 1
    assert result.stderr == f"error: refused\nhint: {IloError.default_advice}\n"


@pytest.mark.parametrize(
    ("exc", "kind", "code"),
    [
        (IloError("the thing failed", "Do the other thing."), "IloError", 1),
        (RuntimeError("secret detail"), "InternalError", 70),
        (click.Abort(), "Aborted", 130),
        (KeyboardInterrupt(), "Aborted", 130),
    ],
    ids=["project-error", "internal-error", "abort", "ctrl-c"],
)
def test_with_json_every_ending_is_one_json_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, exc: BaseException, kind: str, code: int
) -> None:
    _demo_raises(monkeypatch, exc)
    result = invoke(["demo", "--json"], cwd=tmp_path)
    error = json_error(result)
    assert (error["type"], error["exit_code"], result.stdout) == (kind, code, "")
    # One line, and nothing else on stderr (but the new line click ends a ^C with).
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines == [json.dumps({"error": error}, sort_keys=True)]
    assert "secret detail" not in result.stderr
    if kind == "IloError":
        assert (error["message"], error["advice"]) == ("the thing failed", "Do the other thing.")


def test_a_group_of_its_own_reports_json_the_same_way() -> None:
    group = IloGroup("g")

    @group.command()
    @click.option("--json", "as_json", is_flag=True)
    def fails(as_json: bool) -> None:
        raise IloError("refused")

    result = CliRunner().invoke(group, ["fails", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["message"] == "refused"
