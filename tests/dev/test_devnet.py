"""The README's main command: `ilo-node devnet` brings up a network that converges, tells
a person what happens, and leaves nothing behind unless asked to keep its homes."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev.devnet import DEVNET_NODES
from ilo_node.dev.devnetview import NODE_HEADERS
from protocol.envelope import REFERENCE_KINDS, Envelope
from protocol.kinds import KINDS
from tests.support.pty import Terminal

pytestmark = pytest.mark.slow

#: Seconds a whole devnet run may take on two loaded cores (it builds 15 homes, each
#: with Argon2id, and starts 7 node processes).
RUN_TIMEOUT_S = 300


def _env(tmp: Path) -> dict[str, str]:
    """The environment of a devnet run whose temporary directories go to ``tmp``."""
    tmp.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TMPDIR": str(tmp),
    }


def _processes_naming(path: Path) -> list[str]:
    """The command lines of live processes that name ``path`` (node processes do)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(str(path).encode() in word for word in argv):
            found.append(b" ".join(argv).decode(errors="replace"))
    return found


def _log_headers(db: Path) -> dict[str, Any]:
    """Every envelope in a node's log by id, its header as signed (the raw bytes)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT raw FROM envelopes").fetchall()
    finally:
        conn.close()
    envelopes = [Envelope.from_bytes(bytes(raw)) for (raw,) in rows]
    return {e.id.hex(): e.header for e in envelopes}


def short_tmp(tmp_path: Path) -> Path:
    """A $TMPDIR short enough for the nodes' Unix sockets: devnet makes its homes there,
    and pytest's own temporary paths can exceed the 107 bytes a socket path may have."""
    tmp = Path(tempfile.mkdtemp(prefix="ilo-dn-"))
    return tmp


def test_devnet_converges_and_every_home_verifies(tmp_path: Path) -> None:
    env = _env(tmp_path / "tmp")
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
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    # With --json: one JSON object and nothing else.
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    summary = json.loads(result.stdout)
    assert summary["converged"] is True
    assert summary["delivered"] == summary["expected"] > 0
    # Every kind that stands alone, one to the whole network, a retraction, a correction.
    standalone = KINDS.keys() - REFERENCE_KINDS
    assert summary["published"] >= len(standalone) + 3
    assert len(summary["nodes"]) == 7
    assert all(summary["log_verify"].values())
    assert summary["home"] == str(home) and summary["home_kept"] is True
    # No node process is left behind; --home keeps every home, and nothing is in $TMPDIR.
    for node in summary["nodes"]:
        assert not (home / node / "daemon.sock").exists()
        assert (home / node / "node.db").is_file()
    assert _processes_naming(home) == []
    assert list((tmp_path / "tmp").iterdir()) == []
    per_node = summary["per_node"]
    assert set(per_node) == set(summary["nodes"])
    for node, end in per_node.items():
        assert end["log_size"] == summary["published"] == end["checkpoint"], node
        assert end["readable"] == end["addressed"] > 0 and end["log_verify"] is True, node
    assert sum(end["wrote"] for end in per_node.values()) == summary["published"]

    # One or two officers at every Member State node, none at the Commission's.
    officers = summary["officers"]
    assert set(officers) == set(summary["nodes"]) - {"COM@EU"}
    assert all(1 <= len(names) <= 2 for names in officers.values())
    envelopes = summary["envelopes"]
    assert len(envelopes) == summary["published"]
    assert {e["kind"] for e in envelopes} == standalone | {"retraction"}
    for e in envelopes:
        assert e["delivered_to"] == e["recipients"], e
        if e["officer"] is None:
            assert e["author"] == f"node {e['node']}"
        else:
            assert e["officer"] in officers[e["node"]]
            assert e["author"] == f"{e['officer']} ({e['node']})"
    assert [e["kind"] for e in envelopes if e["officer"] is None] == ["half_year_contribution"]
    # The mission's end: the first officer of every Member State node sent a contribution
    # for the current half-year, to the Presidency's node (IE@MA) and COM@EU.
    sent = [e for e in envelopes if e["kind"] == "half_year_contribution" and e["officer"]]
    assert sorted(e["officer"] for e in sent) == sorted(n[0] for n in officers.values())
    assert all({"IE@MA", "COM@EU"} <= set(e["recipients"]) for e in sent)
    assert any(e["level"] == "network" and e["officer"] for e in envelopes)

    # What the logs hold, as signed: every node relays every envelope.
    for node in summary["nodes"]:
        headers = _log_headers(home / node / "node.db")
        for e in envelopes:
            header = headers[e["id"]]
            assert (header.author_node, header.author_officer, header.kind) == (
                e["node"],
                e["officer"],
                e["kind"],
            ), node

    # A retraction and a correction, each by the author of its target, reached every
    # reader of the target.
    by_id = {e["id"]: e for e in envelopes}
    referring = {e["refers_to"]["relation"]: e for e in envelopes if e["refers_to"]}
    assert set(referring) == {"retracts", "corrects"}
    for relation, e in referring.items():
        target = by_id[e["refers_to"]["id"]]
        assert (e["node"], e["officer"]) == (target["node"], target["officer"]), relation
        assert e["officer"] is not None
        assert e["delivered_to"] == target["recipients"], relation
    assert referring["retracts"]["kind"] == "retraction"
    assert referring["corrects"]["kind"] == by_id[referring["corrects"]["refers_to"]["id"]]["kind"]

    # The report: built and signed at the Presidency's node, verified at the Commission's
    # with every figure recomputed, from contributions of both host countries.
    report = summary["report"]
    assert report["verified"] is True, report["problems"]
    assert report["recomputed"] is True
    assert (report["built_by"], report["verified_by"]) == ("IE@MA", "COM@EU")
    assert set(report["files"]) >= {"report.json", "report.sig"}
    assert all(Path(path).is_file() for path in report["files"].values())
    assert report["path"] == report["files"]["report.json"]
    body = json.loads(Path(report["path"]).read_bytes())
    assert body["presidency"] == "IE" and body["built"]["node"] == "IE@MA"
    hosts = {h["code"]: h for h in body["host_countries"]}
    assert set(hosts) == {"MA", "TR"}
    assert hosts["TR"]["contributors"] == ["DE", "FR", "IT"]
    assert hosts["MA"]["contributors"] == ["ES", "IE", "NL"]
    assert body["missing"] == []
    manifest = {c["id"] for c in body["manifest"]["contributions"]}
    assert {e["id"] for e in sent} <= manifest


def test_devnet_without_home_tells_what_happens_and_leaves_nothing(tmp_path: Path) -> None:
    """As the README runs it (no --home, output to a pipe): what it will publish, a line
    per envelope, a line a second while they spread, a plain table per node, the report
    last; and the temporary homes (with their passphrase file) are gone."""
    tmp = short_tmp(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ilo_node", "devnet", "--duration", "5"],
        capture_output=True,
        text=True,
        env=_env(tmp),
        cwd=tmp_path,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    base = Path(re.findall(r"in a temporary directory \((\S+); removed at the end", lines[0])[0])
    assert base.parent == tmp
    assert not base.exists() and list(tmp.iterdir()) == []
    tmp.rmdir()
    assert _processes_naming(base) == []

    plan = next(line for line in lines if line.startswith("devnet now publishes by itself"))
    assert "by its 8 officers and node DE@TR" in plan and "Ctrl-C stops it" in plan
    published = [line for line in lines if line.startswith("  + ")]
    assert len(published) >= len(KINDS.keys() - REFERENCE_KINDS) + 3 + 6
    alert = next(line for line in published if " incident_alert " in line)
    assert re.search(r"by [a-z.]+ \([A-Z]{2}@[A-Z]{2}\), local; readable by COM@EU, ", alert)
    retraction = next(line for line in published if " retraction " in line)
    assert re.search(r"retracts [0-9a-f]{8}; readable by ", retraction)
    spreading = [line for line in lines if re.match(r"  t= +\d+s  \d+ published", line)]
    assert spreading and spreading[-1].endswith("held by all 7 nodes"), spreading

    # The table per node, plain (not a terminal): a header and one row a node.
    header = lines.index(next(line for line in lines if line.startswith("node ")))
    assert lines[header].split() == " ".join(NODE_HEADERS).split()
    rows = [line.split() for line in lines[header + 1 : header + 1 + len(DEVNET_NODES)]]
    assert [row[0] for row in rows] == list(DEVNET_NODES)
    assert all(row[-1] == "OK" for row in rows), rows
    assert "\x1b[" not in result.stdout  # no escape codes in a pipe

    assert "the node homes and the report are removed as devnet ends" in result.stdout
    assert lines[-1] == "report verify at COM@EU: valid (every figure recomputed)"


def test_devnet_interrupted_at_a_terminal_stops_and_removes_everything(tmp_path: Path) -> None:
    """Ctrl-C at a terminal (SIGINT to devnet and its nodes): every node stopped, the
    temporary homes removed, exit 130."""
    tmp = short_tmp(tmp_path)
    argv = [sys.executable, "-m", "ilo_node", "devnet", "--duration", "600"]
    with Terminal(argv, env=_env(tmp), cwd=tmp_path, timeout=RUN_TIMEOUT_S) as terminal:
        found = terminal.expect(re.compile(r"in a temporary directory \((\S+); removed"))
        base = Path(found.group(1))
        terminal.expect("devnet now publishes by itself")
        terminal.expect(re.compile(r"  t= +\d+s  "))
        terminal.control("c")
        assert terminal.wait() == 130, terminal.transcript
    assert "devnet interrupted: every node stopped; temporary homes removed" in (
        terminal.transcript
    )
    assert "Traceback" not in terminal.transcript
    assert not base.exists() and list(tmp.iterdir()) == []
    tmp.rmdir()
    assert _processes_naming(base) == []
