"""``--json`` for scripts, over the whole command tree: every command that prints has it,
and with it every way a run can fail is one JSON object, the last line on stderr.

The tree is walked from ``ilo_node.cli.app.cli`` (as ``test_help.py`` does), so a
command added later is covered without being named here. Each command is run in
process, in a home that does not exist, with its required arguments filled in from
their types: it fails (no home, no such file, no passphrase, a value refused), and the
failure must be the JSON error, whatever the command.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from ilo_node.cli.app import cli
from ilo_node.cli.failure import asks_for_json
from tests.cli.test_help import GROUPS, LEAVES
from tests.support.clirun import invoke, json_error

#: Commands that print nothing a script would parse, and so have no ``--json``:
#: ``run`` serves until stopped (its log is for people; supervisors use --ready-file).
NO_JSON = {("run",)}
#: Commands that need no home and succeed with any valid arguments, or run for long:
#: what their JSON looks like is tested with them (tests/dev, tests/cli/test_template.py).
SUCCEED_ANYWHERE = {("demo",), ("devnet",), ("template",)}


def _value(param: click.Parameter) -> str:
    """A value of the parameter's type that parses (and names nothing that exists)."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if isinstance(kind, click.IntRange | click.FloatRange):
        return str(kind.min if kind.min is not None else 1)
    if isinstance(kind, click.Path):
        return "missing-file"
    if kind is click.INT:
        return "1"
    return "0123456789abcdef"


def _required(command: click.Command) -> list[str]:
    """The command's required arguments and options, each given one value."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        if isinstance(param, click.Option):
            args += [param.opts[0], _value(param)]
        else:
            args.append(_value(param))
    return args


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_every_command_that_prints_has_json(path: tuple[str, ...]) -> None:
    options = {o for p in LEAVES[path].params for o in p.opts}
    assert ("--json" in options) == (path not in NO_JSON), path


@pytest.mark.parametrize("path", sorted(set(LEAVES) - SUCCEED_ANYWHERE), ids=" ".join)
def test_every_command_fails_as_json(path: tuple[str, ...], tmp_path: Path) -> None:
    argv = ["--home", str(tmp_path / "nowhere"), *path, *_required(LEAVES[path]), "--json"]
    result = invoke(argv, cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    error = json_error(result)
    assert error["type"] != "InternalError", error
    if path in NO_JSON:
        assert error["type"] == "UsageError" and "--json" in error["message"], error
    # Only what the command did before it failed, as JSON, or nothing.
    if result.stdout.strip():
        json.loads(result.stdout)
    assert not (tmp_path / "nowhere").exists(), "a failed command left a home behind"


@pytest.mark.parametrize("path", sorted({(), *GROUPS, *LEAVES}), ids=lambda p: " ".join(p) or "-")
def test_usage_errors_are_json_everywhere(path: tuple[str, ...], tmp_path: Path) -> None:
    result = invoke([*path, "--json", "--no-such-option"], cwd=tmp_path)
    error = json_error(result)
    assert (error["type"], error["exit_code"], result.stdout) == ("UsageError", 2, "")
    assert "--no-such-option" in error["message"] or "--json" in error["message"], error
    assert error["advice"] == f"See '{' '.join(('ilo-node', *path))} --help'."


def test_a_bad_value_with_json_is_a_json_usage_error(tmp_path: Path) -> None:
    result = invoke(["read", "--limit", "0", "--json"], cwd=tmp_path)
    error = json_error(result)
    assert error["type"] == "UsageError"
    assert error["message"].startswith("Invalid value for '--limit'")
    # The same without --json: click's own text, as before.
    plain = invoke(["read", "--limit", "0"], cwd=tmp_path)
    assert plain.returncode == 2 and plain.stderr.startswith("Usage: ilo-node read")


def test_an_error_names_its_class_and_exit_code(tmp_path: Path) -> None:
    result = invoke(["--home", str(tmp_path / "nowhere"), "keys", "show", "--json"], cwd=tmp_path)
    error = json_error(result)
    assert (error["type"], error["exit_code"]) == ("HomeError", 1)
    assert error["message"] == f"no ilo-node identity in {tmp_path / 'nowhere'}"
    assert "keys init" in error["advice"]
    # Text without --json, as before.
    plain = invoke(["--home", str(tmp_path / "nowhere"), "keys", "show"], cwd=tmp_path)
    assert plain.stderr.startswith("error: no ilo-node identity") and "\nhint: " in plain.stderr


@pytest.mark.parametrize(
    ("words", "asks"),
    [
        (["keys", "show", "--json"], True),
        (["--json"], True),
        (["keys", "show"], False),
        (["retract", "ID", "--reason", "x", "--", "--json"], False),
        (["keys", "show", "--jsonx"], False),
    ],
)
def test_what_asks_for_json(words: list[str], asks: bool) -> None:
    assert asks_for_json(words) is asks


def test_the_tree_is_walked() -> None:
    assert {("keys", "init"), ("roster", "combine"), ("cert", "import"), ("run",)} <= set(LEAVES)
    assert cli.commands  # the group the walk starts from
