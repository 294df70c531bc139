"""Every file of a node home is its owner's alone, and no child inherits the passphrase."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ilo_node.dev.netbuilder import build_network
from ilo_node.home.home import Home
from ilo_node.home.keyfiles import PASSPHRASE_ENV
from ilo_node.node.core import Node
from protocol.examples import example

NODES = ["COM@EU", "DE@TR", "FR@TR"]


def _modes(home: Path) -> dict[str, int]:
    return {
        str(p.relative_to(home)): stat.S_IMODE(p.lstat().st_mode)
        for p in [home, *home.rglob("*")]
        if not p.is_symlink()
    }


def test_a_node_home_is_0600_files_in_0700_directories(tmp_path: Path) -> None:
    built = build_network(tmp_path / "net", NODES, passphrase=b"pw")
    home = built.nodes["DE@TR"]
    node = Node(home, b"pw")
    try:
        node.publish("incident_alert", example("incident_alert"))
        node.checkpoint()
        # While the node is open its WAL and shared-memory files exist too.
        modes = _modes(home.path)
    finally:
        node.close()
    assert {"node.db", "node.db-wal", "node.db-shm", "config.json", "node.lock"} <= set(modes)
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (home.path / name).is_dir() else 0o600)
    }
    assert wrong == {}


def test_secure_makes_files_copied_in_by_hand_private(tmp_path: Path) -> None:
    built = build_network(tmp_path / "net", NODES, passphrase=b"pw")
    home: Home = built.nodes["FR@TR"]
    loose = home.path / "daemon.json"
    loose.write_text("{}")
    os.chmod(loose, 0o644)
    os.chmod(home.certificate_dir, 0o755)
    changed = home.secure()
    assert set(changed) == {loose, home.certificate_dir}
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.certificate_dir.stat().st_mode) == 0o700
    assert home.secure() == []


@pytest.mark.slow
def test_no_child_inherits_the_passphrase(tmp_path: Path) -> None:
    """Once a command has read $ILO_NODE_PASSPHRASE, the variable is gone from its
    process: a child started afterwards does not see it."""
    built = build_network(tmp_path / "net", NODES, passphrase=b"pw")
    driver = textwrap.dedent(
        """
        import subprocess, sys
        from ilo_node.cli.app import cli
        try:
            cli.main(args=["--home", sys.argv[1], "log", "checkpoint"], standalone_mode=False)
        except SystemExit:
            pass
        child = subprocess.run(["env"], capture_output=True, text=True, check=True).stdout
        print("leaked" if "ILO_NODE_PASSPHRASE" in child else "clean")
        """
    )
    env = {**os.environ, PASSPHRASE_ENV: "pw"}
    out = subprocess.run(
        [sys.executable, "-c", driver, str(built.nodes["DE@TR"].path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("ilo-node/devnet.ilo/DE@TR"), out  # the command did run
    assert lines[-1] == "clean", out
