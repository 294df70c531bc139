"""Bundles for offline postings: export past the receiver's heads, import through ingest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.errors import BundleError
from ilo_node.home.bundle import make_bundle, read_bundle
from ilo_node.home.home import Home
from ilo_node.node.core import Node
from keys.keystore import generate_signing_key
from protocol.examples import example

PASS = b"bundle test passphrase"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(
        tmp_path_factory.mktemp("bundle") / "net", ["COM@EU", "DE@TR", "FR@TR"], passphrase=PASS
    )


def _cli(network: BuiltNetwork, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ilo_node",
            "--home",
            str(home),
            "--passphrase-file",
            str(network.passphrase_file),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.slow
def test_offline_posting_catches_up_by_bundle(network: BuiltNetwork, tmp_path: Path) -> None:
    de_home = Home(tmp_path / "DE@TR")
    fr_home = Home(tmp_path / "FR@TR")
    for home, node in ((de_home, "DE@TR"), (fr_home, "FR@TR")):
        shutil.copytree(network.nodes[node].path, home.path)
    de = Node(de_home, PASS)
    for kind in ("incident_alert", "route_report", "flow_report"):
        de.publish(kind, example(kind))
    de.close()
    heads = tmp_path / "fr-heads.json"
    assert _cli(network, fr_home.path, "bundle", "heads", "-o", str(heads)).returncode == 0
    out = tmp_path / "to-fr.bundle"
    exported = _cli(
        network, de_home.path, "bundle", "export", "--since", str(heads), "-o", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    assert "3 envelopes" in exported.stdout
    imported = _cli(network, fr_home.path, "bundle", "import", str(out), "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["accepted"] == 3
    # The second time, nothing is new; a bundle since the new heads is empty.
    again = _cli(network, fr_home.path, "bundle", "import", str(out), "--json")
    assert json.loads(again.stdout).get("duplicate") == 3
    _cli(network, fr_home.path, "bundle", "heads", "-o", str(heads))
    empty = _cli(
        network,
        de_home.path,
        "bundle",
        "export",
        "--since",
        str(heads),
        "-o",
        str(tmp_path / "empty.bundle"),
    )
    assert "0 envelopes" in empty.stdout
    assert _cli(network, fr_home.path, "log", "verify").returncode == 0


def test_tampered_bundle_refused_whole(network: BuiltNetwork, tmp_path: Path) -> None:
    fr = network.nodes["FR@TR"]
    de = Node(Home(network.nodes["DE@TR"].path), PASS)
    try:
        assert de.signing is not None
        data = make_bundle(
            network=de.network,
            exporter="DE@TR",
            seed=de.signing.reveal(),
            created_ms=de.clock(),
            since={},
            envelopes=[b"x"],
            documents=[],
        )
    finally:
        de.close()
    state = fr.trust_state()
    read_bundle(data, state, de.clock())  # authentic: decodes
    tampered = bytearray(data)
    tampered[-70] ^= 1
    with pytest.raises(BundleError):
        read_bundle(bytes(tampered), state, de.clock())
    stranger = generate_signing_key()
    forged = make_bundle(
        network=de.network,
        exporter="DE@TR",
        seed=stranger.reveal(),
        created_ms=de.clock(),
        since={},
        envelopes=[],
        documents=[],
    )
    with pytest.raises(BundleError, match="not signed by a certified key"):
        read_bundle(forged, state, de.clock())
    with pytest.raises(BundleError):
        read_bundle(b"\x93garbage", state, de.clock())
