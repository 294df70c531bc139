"""The launcher of real ``ilo-node run`` processes (ilo_node/dev/launcher.py), on its
failure paths: a node that cannot start fails the wait with its log, a node whose
local API is gone is still stopped, and nothing started outlives ``close()``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ilo_node.dev.launcher import Launcher, LaunchError, free_ports
from ilo_node.dev.netbuilder import BuiltNetwork, build_network

pytestmark = pytest.mark.slow

PASS = b"launcher test passphrase"
NODE = "DE@TR"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    nodes = [NODE, "COM@EU"]
    ports = free_ports(len(nodes))
    endpoints = {n: f"https://127.0.0.1:{p}" for n, p in zip(nodes, ports, strict=True)}
    base = tmp_path_factory.mktemp("launcher") / "net"
    return build_network(base, nodes, endpoints=endpoints, passphrase=PASS)


def test_a_node_that_cannot_start_fails_the_wait_with_its_log(
    network: BuiltNetwork, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-passphrase"
    wrong.write_text("not the passphrase\n")
    launcher = Launcher(wrong)
    try:
        launcher.start(NODE, network.nodes[NODE].path)
        with pytest.raises(LaunchError, match=f"{NODE} exited with status") as failure:
            launcher.wait_ready([NODE], timeout_s=60)
        assert f"--- {NODE} daemon.log (tail) ---" in str(failure.value)
        ended = launcher.stop()[NODE]
        assert ended.code != 0 and not ended.clean and not ended.signalled
    finally:
        launcher.close()
    assert not launcher.nodes


def test_stop_is_clean_and_still_ends_a_node_whose_local_api_is_gone(
    network: BuiltNetwork,
) -> None:
    home = network.nodes[NODE].path
    launcher = Launcher(network.passphrase_file)
    cli = None
    try:
        launcher.start(NODE, home)
        launcher.wait_ready([NODE], timeout_s=60)
        status = launcher.status(NODE)
        assert status is not None and status["node"] == NODE
        ended = launcher.stop([NODE])[NODE]
        assert ended.clean, ended
        assert not (home / "daemon.sock").exists()
        assert launcher.status(NODE) is None

        launcher.start(NODE, home)
        launcher.wait_ready([NODE], timeout_s=60)
        (home / "daemon.sock").unlink()  # POST /local/stop can no longer reach it
        ended = launcher.stop([NODE], timeout_s=30)[NODE]
        assert ended.refused is not None and ended.signalled and not ended.clean, ended

        # A CLI process still running (here a node started as a plain command) is
        # ended and reaped by close().
        cli = launcher.cli(home, "run")
    finally:
        launcher.close()
    assert cli is not None and cli.returncode is not None
    assert not launcher.nodes
