"""The installed entry point, run as real processes: a few smoke tests.

Every command is tested in process (``tests.support.clirun``); these check that the
``ilo-node`` script and ``python -m ilo_node`` reach the same command group, end with the
same codes and never show a traceback, and that a real process takes its passphrase from
the environment and from ``--passphrase-file``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from tests.support.clirun import CLI_ENVIRONMENT

pytestmark = pytest.mark.slow

PASS = "entry point passphrase"
REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("ilo-node")
ENTRY_POINTS = {"script": [str(SCRIPT)], "module": [sys.executable, "-m", "ilo_node"]}


def _run(
    entry: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in CLI_ENVIRONMENT}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [*ENTRY_POINTS[entry], *args],
        env={**environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Never a traceback, whatever happened.
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(
        tmp_path_factory.mktemp("entry") / "net", ["DE@TR", "FR@TR"], passphrase=PASS.encode()
    )


def test_the_script_is_installed() -> None:
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: install the project (pip install -e .)"


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_help(entry: str) -> None:
    result = _run(entry, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ilo-node [OPTIONS] COMMAND [ARGS]...\n")
    assert "keys" in result.stdout and "publish" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_project_error_is_error_and_hint_not_a_traceback(entry: str, tmp_path: Path) -> None:
    result = _run(entry, "--home", str(tmp_path / "nowhere"), "status")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: no ilo-node identity in {tmp_path / 'nowhere'}")
    assert "\nhint: " in result.stderr
    assert result.stdout == ""


def test_usage_error_exits_2() -> None:
    result = _run("script", "read", "--limit", "0")
    assert result.returncode == 2, result.stderr
    assert "Usage: ilo-node read" in result.stderr and "Error: " in result.stderr


def test_passphrase_from_the_environment(network: BuiltNetwork) -> None:
    home = str(network.nodes["DE@TR"].path)
    argv = ("--home", home, "publish", "incident_alert", "--example", "--json")
    refused = _run("script", *argv)  # neither variable nor file, and no terminal
    assert refused.returncode == 1
    # With --json the error is one JSON object, the installed command's as CliRunner's.
    error = json.loads(refused.stderr)["error"]
    assert (error["type"], error["exit_code"]) == ("KeyStoreError", 1)
    assert error["message"].startswith("no passphrase for the node DE@TR keys: ")
    wrong = _run("script", *argv, env={"ILO_NODE_PASSPHRASE": "not the passphrase"})
    assert wrong.returncode == 1
    assert "wrong passphrase" in json.loads(wrong.stderr)["error"]["message"]
    published = _run("script", *argv, env={"ILO_NODE_PASSPHRASE": PASS})
    assert published.returncode == 0, published.stderr
    record = json.loads(published.stdout)
    assert (record["kind"], record["seq"], record["log_index"]) == ("incident_alert", 1, 0)


def test_passphrase_from_a_file(network: BuiltNetwork) -> None:
    home = network.nodes["FR@TR"].path
    result = _run(
        "module",
        "--home",
        str(home),
        "--passphrase-file",
        str(network.passphrase_file),
        "log",
        "checkpoint",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["ilo-node/devnet.ilo/FR@TR", "0"]
