"""The README's main command: `ilo-node devnet` brings up a network that converges."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from protocol.envelope import REFERENCE_KINDS, Envelope
from protocol.kinds import KINDS

pytestmark = pytest.mark.slow


def _log_headers(db: Path) -> dict[str, Any]:
    """Every envelope in a node's log by id, its header as signed (the raw bytes)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT raw FROM envelopes").fetchall()
    finally:
        conn.close()
    envelopes = [Envelope.from_bytes(bytes(raw)) for (raw,) in rows]
    return {e.id.hex(): e.header for e in envelopes}


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
    # Every kind that stands alone, one to the whole network, a retraction, a correction.
    standalone = KINDS.keys() - REFERENCE_KINDS
    assert summary["published"] >= len(standalone) + 3
    assert len(summary["nodes"]) == 7
    assert all(summary["log_verify"].values())
    assert summary["home"] == str(home)
    # No node process is left behind.
    for node in summary["nodes"]:
        assert not (home / node / "daemon.sock").exists()

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
