"""``status``, ``stop`` and ``service unit`` in process (click's runner), on homes of a
built network with no node running: what status reads from a home, how it lays out
a quarantine and a key peers would refuse, how stop and watch refuse, and what the
systemd unit says. The same commands against real nodes: tests/net/test_node_lifecycle.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.home.keyfiles import write_private_key
from keys.keystore import generate_signing_key
from tests.support.clirun import Ran, check, invoke

PASS = "cli node service passphrase"
NODES = ["COM@EU", "DE@TR", "FR@TR"]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(
        tmp_path_factory.mktemp("cli-service") / "net", NODES, passphrase=PASS.encode()
    )


def _run(
    network: BuiltNetwork, home: Path | str, *args: str, ok: bool = True, passphrase: bool = False
) -> Ran:
    path = home if isinstance(home, Path) else network.base / home
    env = {"ILO_NODE_PASSPHRASE": PASS} if passphrase else {}
    ran = invoke(["--home", str(path), *args], cwd=network.base, env=env)
    return check(ran, ok=ok)


def _json(network: BuiltNetwork, home: Path | str, *args: str) -> Any:
    return json.loads(_run(network, home, *args, "--json").stdout)


def _copy(network: BuiltNetwork, node: str, target: Path) -> Path:
    return Path(shutil.copytree(network.base / node, target / node))


def _own_raws(home: Path) -> list[bytes]:
    conn = sqlite3.connect(home / "node.db")
    try:
        return [bytes(r[0]) for r in conn.execute("SELECT raw FROM envelopes ORDER BY idx")]
    finally:
        conn.close()


# -- status of a home with no node running ------------------------------------------------


def test_status_of_a_node_that_does_not_run(network: BuiltNetwork) -> None:
    status = _json(network, "DE@TR", "status")
    assert status["running"] is False
    assert (status["pid"], status["started_ms"], status["lock_holder"]) == (None, None, None)
    assert set(status["peers"]) == {"COM@EU", "FR@TR"}
    assert all(set(p.values()) == {None} for p in status["peers"].values())
    assert status["witnessed"] == {} and status["fork_proofs"] == []
    certificate = status["certificate"]
    assert certificate["state"] == "ok" and certificate["may_speak"] is True
    assert certificate["key"] == network.nodes["DE@TR"].public_key().hex()
    assert 360 <= certificate["days_left"] <= 365
    prekeys = status["prekeys"]
    assert prekeys["state"] == "ok" and prekeys["epoch"] in prekeys["held"]
    assert status["outbox"] == {
        "push_queue": None,
        "key_shares": {"envelopes": 0, "recipients": {}},
    }
    disk = status["disk"]
    assert disk["home_bytes"] >= disk["database_bytes"] > 0
    assert 0 < disk["free_bytes"] <= disk["filesystem_bytes"]
    assert disk["log_file"] is None and disk["log_bytes"] is None
    assert status["daemon_json"] == {"problem": None}
    assert status["attention"] == []
    text = _run(network, "DE@TR", "status").stdout
    lines = text.splitlines()
    assert lines[0] == "DE@TR in devnet.ilo: NOT RUNNING (read from the home)"
    assert "  peers (2; contact and backoff are known only while the node runs):" in lines
    assert re.search(r"^    COM@EU +none$", text, re.MULTILINE)
    assert "  quarantine: empty" in lines
    assert "  forks: none; split views: none" in lines
    assert re.search(r"^  certificate: key [0-9a-f]{16}… valid until \S+ \(3\d\d days", text, re.M)
    assert re.search(
        r"^  prekeys: epoch \d+ until \S+(, next \d+ announced)?; secrets held for \d+",
        text,
        re.MULTILINE,
    )
    assert "  outbox: no content keys owed" in lines
    assert lines[-1] == "nothing needs attention"


def test_status_lists_what_the_quarantine_waits_for(network: BuiltNetwork, tmp_path: Path) -> None:
    writer = _copy(network, "DE@TR", tmp_path / "writer")
    for kind in ("incident_alert", "route_report"):
        _run(network, writer, "publish", kind, "--example", passphrase=True)
    _first, second = _own_raws(writer)
    reader = _copy(network, "FR@TR", tmp_path / "reader")
    frame = len(second).to_bytes(4, "big") + second
    env = {"ILO_NODE_PASSPHRASE": PASS}
    ran = invoke(["--home", str(reader), "log", "ingest"], cwd=tmp_path, env=env, stdin=frame)
    assert check(ran).stdout.split()[2] == "quarantined"
    status = _json(network, reader, "status")
    (waiting,) = status["quarantine_waiting"]
    assert (waiting["author"], waiting["seq"], waiting["kind"]) == ("DE@TR", 2, "route_report")
    assert waiting["waits_for"] == "pred" and waiting["reason"] == "waiting for seq 1 of DE@TR"
    assert waiting["attempts"] == 1 and waiting["sender"] is None
    assert status["quarantine_by_wait"] == {"pred": 1}
    assert status["attention"] == []  # it has waited seconds, not minutes
    text = _run(network, reader, "status").stdout
    assert "  quarantine: 1 envelope(s) (1 waiting for its predecessor)\n" in text
    assert (
        f"    {waiting['id'][:16]} DE@TR seq 2 route_report: waiting for seq 1 of DE@TR "
        "(since 0 s ago, 1 tries)" in text
    )


def test_status_says_when_peers_would_refuse_the_nodes_key(
    network: BuiltNetwork, tmp_path: Path
) -> None:
    home = _copy(network, "FR@TR", tmp_path)
    write_private_key(
        home / "keys" / "signing.key",
        generate_signing_key(),
        PASS.encode(),
        label="node FR@TR",
        overwrite=True,
    )
    (home / "daemon.json").write_text('{"fanout": "two"}')
    status = _json(network, home, "status")
    certificate = status["certificate"]
    assert certificate["state"] == "uncertified" and certificate["may_speak"] is False
    assert certificate["valid_until_ms"] is None and "no certificate" in certificate["reason"]
    assert status["daemon_json"]["problem"] is not None
    assert "certificate of this node's key: none for the key in use: peers refuse this node" in (
        "\n".join(status["attention"])
    )
    assert any(line.startswith("daemon.json: ") for line in status["attention"])
    text = _run(network, home, "status").stdout
    assert "NOT CERTIFIED" in text and "peers refuse it" in text
    assert "\nattention (2):\n" in text


@pytest.fixture
def held_home(network: BuiltNetwork, tmp_path: Path) -> Iterator[Path]:
    """A copy of DE@TR whose writer lock this process holds, with no socket: as a node
    that starts, or hangs."""
    home = _copy(network, "DE@TR", tmp_path)
    fd = os.open(home / "node.lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        yield home
    finally:
        os.close(fd)


def test_status_and_stop_name_a_process_that_holds_the_home_without_answering(
    network: BuiltNetwork, held_home: Path
) -> None:
    status = _json(network, held_home, "status")
    assert status["running"] is False and status["lock_holder"] == os.getpid()
    assert status["attention"][0].startswith(f"process {os.getpid()} holds this home")
    ran = _run(network, held_home, "stop", ok=False)
    assert ran.returncode == 1
    assert ran.stderr.startswith(f"error: process {os.getpid()} holds {held_home} but does not")
    assert f"'kill -TERM {os.getpid()}'" in ran.stderr


# -- what refuses -------------------------------------------------------------------------


def test_stop_with_no_node_running_says_so_and_exits_5(network: BuiltNetwork) -> None:
    for args in (("stop",), ("stop", "--json")):
        ran = _run(network, "DE@TR", *args, ok=False)
        assert ran.returncode == 5
        assert "no node is running in" in ran.stderr and "Nothing was stopped" in ran.stderr
        assert ran.stdout == ""


def test_stop_needs_a_node_home(network: BuiltNetwork, tmp_path: Path) -> None:
    ran = _run(network, tmp_path / "nowhere", "stop", ok=False)
    assert "no ilo-node identity in" in ran.stderr


def test_watch_needs_a_terminal_and_is_not_for_scripts(network: BuiltNetwork) -> None:
    ran = _run(network, "DE@TR", "status", "--watch", ok=False)
    assert ran.returncode == 2 and "--watch needs a terminal" in ran.stderr
    ran = _run(network, "DE@TR", "status", "--watch", "3", "--json", ok=False)
    assert ran.returncode == 2 and "--watch and --json do not go together" in ran.stderr
    assert ran.stdout == ""


# -- the systemd unit ---------------------------------------------------------------------

#: Every key the unit may hold, by section (systemd.unit(5), systemd.service(5),
#: systemd.exec(5), systemd.kill(5)).
UNIT_KEYS = {
    "Unit": {"Description", "After", "Wants"},
    "Service": {
        "Type",
        "User",
        "Group",
        "LoadCredentialEncrypted",
        "LoadCredential",
        "ExecStart",
        "WorkingDirectory",
        "KillSignal",
        "TimeoutStopSec",
        "Restart",
        "RestartSec",
        "LimitNOFILE",
        "UMask",
        "NoNewPrivileges",
        "CapabilityBoundingSet",
        "AmbientCapabilities",
        "ProtectSystem",
        "ReadWritePaths",
        "ProtectHome",
        "BindPaths",
        "BindReadOnlyPaths",
        "PrivateTmp",
        "PrivateMounts",
        "PrivateDevices",
        "DevicePolicy",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectClock",
        "ProtectHostname",
        "ProtectProc",
        "ProcSubset",
        "RestrictAddressFamilies",
        "RestrictNamespaces",
        "RestrictRealtime",
        "RestrictSUIDSGID",
        "LockPersonality",
        "MemoryDenyWriteExecute",
        "RemoveIPC",
        "SystemCallArchitectures",
        "SystemCallFilter",
        "SystemCallErrorNumber",
    },
    "Install": {"WantedBy"},
}


def _parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections to (key, value) lines, as systemd reads a unit file."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert current is not None and sep, f"line {number} is neither a section nor a key"
        assert key == key.strip() and value == value.strip(), f"line {number}: {line!r}"
        current.append((key, value))
    return sections


def _values(unit: dict[str, list[tuple[str, str]]], key: str) -> list[str]:
    return [v for lines in unit.values() for k, v in lines if k == key]


def test_service_unit_names_the_home_the_user_and_the_credential(
    network: BuiltNetwork, tmp_path: Path
) -> None:
    home = network.base / "DE@TR"
    ran = _run(network, home, "service", "unit", "--user", "ilo-node", "--group", "ilo-node")
    unit = _parse_unit(ran.stdout)
    for section, lines in unit.items():
        assert {k for k, _ in lines} <= UNIT_KEYS[section], section
    assert _values(unit, "Description") == ["ilo-node DE@TR (network devnet.ilo)"]
    assert _values(unit, "User") == ["ilo-node"] and _values(unit, "Group") == ["ilo-node"]
    (exec_start,) = _values(unit, "ExecStart")
    program, *args = exec_start.split()
    assert Path(program).is_absolute() and os.access(program, os.X_OK)
    assert args[-5:] == ["--home", str(home), "--passphrase-file", "%d/passphrase", "run"]
    assert _values(unit, "LoadCredentialEncrypted") == [
        "passphrase:/etc/credstore.encrypted/ilo-node-de-tr"
    ]
    assert _values(unit, "LoadCredential") == []
    assert _values(unit, "ReadWritePaths") == [str(home)]
    assert _values(unit, "WorkingDirectory") == [str(home)]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "MemoryDenyWriteExecute": "yes",
        "UMask": "0077",
        "KillSignal": "SIGTERM",
    }.items():
        assert _values(unit, key) == [value], key
    assert _values(unit, "SystemCallFilter") == ["@system-service", "~@privileged @resources"]
    # The home is under /tmp here: PrivateTmp= would hide it, and the command says so.
    assert _values(unit, "PrivateTmp") == ["no"]
    assert "under a temporary directory" in ran.stderr
    assert "Environment" not in ran.stdout and PASS not in ran.stdout
    assert ran.stdout.startswith("# The ilo-node service of node DE@TR")
    assert "/etc/systemd/system/ilo-node-de-tr.service" in ran.stdout


def test_service_unit_with_a_plain_credential_written_to_a_file(
    network: BuiltNetwork, tmp_path: Path
) -> None:
    out = tmp_path / "ilo-node-de-tr.service"
    ran = _run(
        network,
        "DE@TR",
        "service",
        "unit",
        "--user",
        "svc",
        "--group",
        "svc",
        "--plain",
        "--credential",
        "/etc/ilo/de-tr.pass",
        "-o",
        str(out),
    )
    assert ran.stdout == ""
    assert f"wrote {out}; install it as /etc/systemd/system/ilo-node-de-tr.service" in ran.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    unit = _parse_unit(out.read_text())
    assert _values(unit, "LoadCredential") == ["passphrase:/etc/ilo/de-tr.pass"]
    assert _values(unit, "LoadCredentialEncrypted") == []


def test_service_unit_refuses_what_it_cannot_write(network: BuiltNetwork, tmp_path: Path) -> None:
    ran = _run(network, "DE@TR", "service", "unit", "--user", "no-such-user-here", ok=False)
    assert "user 'no-such-user-here' is not known on this machine" in ran.stderr
    ran = _run(network, "DE@TR", "service", "unit", "--user", "a b", "--group", "x", ok=False)
    assert "'a b' is not a user name" in ran.stderr
    spaced = _copy(network, "DE@TR", tmp_path / "with space")
    ran = _run(network, spaced, "service", "unit", "--user", "x", "--group", "x", ok=False)
    assert "holds characters a unit file would have to quote" in ran.stderr
    officer = _run(network, tmp_path / "nowhere", "service", "unit", ok=False)
    assert "no ilo-node identity in" in officer.stderr


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is missing")
def test_systemd_accepts_the_unit(network: BuiltNetwork, tmp_path: Path) -> None:
    for extra in ((), ("--plain",)):
        ran = _run(
            network, "DE@TR", "service", "unit", "--user", "ilo-node", "--group", "ilo-node", *extra
        )
        path = tmp_path / "ilo-node-de-tr.service"
        path.write_text(ran.stdout)
        verify = subprocess.run(
            ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
        )
        assert verify.returncode == 0, verify.stderr
        # Unknown keys and values it cannot parse are only warnings: there must be none.
        assert str(path) not in verify.stderr, verify.stderr
