"""The README's main command: `ilo-node devnet` brings up a network that converges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.envelope import REFERENCE_KINDS
from protocol.kinds import KINDS

pytestmark = pytest.mark.slow


def test_devnet_converges_and_every_home_verifies(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    home = tmp_path / "devnet"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ilo_node",
            "--home",
            str(home),
            "devnet",
            "--duration",
            "6",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["converged"] is True
    assert summary["delivered"] == summary["expected"] > 0
    # Every kind that stands alone, plus one to the whole network.
    assert summary["published"] >= len(KINDS) - len(REFERENCE_KINDS) + 1
    assert len(summary["nodes"]) == 7
    assert all(summary["log_verify"].values())
    assert summary["home"] == str(home)
    # No node process is left behind.
    for node in summary["nodes"]:
        assert not (home / node / "daemon.sock").exists()
