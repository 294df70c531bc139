"""The ``ilo-node`` command group run in this process through click's ``CliRunner``.

``ilo_node.cli.app.cli`` handles its own errors (``IloGroup.main``), so a run here ends
exactly as the installed ``ilo-node`` does: the same exit code, stdout and stderr. The
variables the CLI reads are set for one invocation only; those a test does not give are
unset, so nothing leaks from the developer's shell or from another test.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ilo_node.cli.app import cli
from ilo_node.cli.failure import asks_for_json

__all__ = ["CLI_ENVIRONMENT", "Ran", "check", "invoke", "json_error"]

#: Every environment variable the CLI reads.
CLI_ENVIRONMENT = ("ILO_NODE_PASSPHRASE", "ILO_NODE_HOME", "ILO_NODE_DEBUG")


@dataclass(frozen=True)
class Ran:
    """How one command ended (the fields a ``subprocess.CompletedProcess`` has)."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def invoke(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
) -> Ran:
    """``ilo-node ARGS`` in ``cwd``, with only ``env`` of the CLI's variables set and
    ``stdin`` (not a terminal) as its input."""
    environ: dict[str, str | None] = dict.fromkeys(CLI_ENVIRONMENT)
    environ.update(env or {})
    # An exception escaping the group would be a bug of its error handling: let it fail
    # the test with its traceback rather than be reported as exit code 1.
    runner = CliRunner(catch_exceptions=False)
    with contextlib.chdir(cwd):
        result = runner.invoke(cli, list(args), input=stdin, env=environ, prog_name="ilo-node")
    return Ran(
        tuple(args),
        result.exit_code,
        result.stdout_bytes.decode(),
        result.stderr_bytes.decode(),
    )


def json_error(result: Ran) -> dict[str, Any]:
    """The error of a run given ``--json``: one JSON object, the last line of stderr,
    with its message, advice and the run's exit code."""
    assert result.returncode != 0, f"{result.args} unexpectedly succeeded: {result.stdout}"
    lines = result.stderr.splitlines()
    assert lines, f"{result.args}: nothing on stderr"
    document = json.loads(lines[-1])
    assert set(document) == {"error"}, document
    error: dict[str, Any] = document["error"]
    assert set(error) == {"type", "message", "advice", "exit_code"}, error
    assert error["exit_code"] == result.returncode, (error, result.returncode)
    assert error["message"] and error["advice"] and error["type"], error
    return error


def check(result: Ran, *, ok: bool = True, usage: bool = False) -> Ran:
    """``ok=False``: a project error ("error: ..." and a hint); ``usage=True``: a
    command-line usage error from click. With ``--json`` among the arguments, either is
    a JSON error (:func:`json_error`). Never a traceback, whatever happened."""
    args = result.args
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    if (usage or not ok) and asks_for_json(args):
        error = json_error(result)
        assert (error["type"] == "UsageError") == (result.returncode == 2), error
        assert result.returncode == 2 if usage else result.returncode != 0, error
    elif usage:
        assert result.returncode == 2, f"{args}: {result.returncode} {result.stderr}"
        assert "Usage: ilo-node" in result.stderr and "Error: " in result.stderr
    elif ok:
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    else:
        assert result.returncode != 0, f"{args} unexpectedly succeeded: {result.stdout}"
        assert result.stderr.startswith("error: "), result.stderr
        assert "\nhint: " in result.stderr, result.stderr
    return result
