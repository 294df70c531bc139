"""Backup and restore on real ``ilo-node run`` processes over TLS, as the operator guide
runs them ("Backups and restore"): a backup taken while envelopes arrive, the node then
publishing past it, a restore over its home, ``log verify`` on the result, and the
restored node catching up from its peers, holding its own publishing until every peer
has answered it, then publishing on from its real chain head without a fork.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev.netbuilder import build_network
from ilo_node.errors import ClientError
from ilo_node.formats.jsoncontent import content_to_json
from protocol.examples import example
from tests.support.netproc import Cluster, Published, free_ports, run_cli, write_daemon_config

pytestmark = pytest.mark.slow

PASS = b"backup processes passphrase"
DE, FR, IT = "DE@TR", "FR@TR", "IT@TR"
NODES = (DE, FR, IT)
CONVERGE_S = 90.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    ports = dict(zip(NODES, free_ports(len(NODES)), strict=True))
    built = build_network(
        tmp_path / "net",
        list(NODES),
        endpoints={n: f"https://127.0.0.1:{p}" for n, p in ports.items()},
        passphrase=PASS,
    )
    for node in NODES:
        write_daemon_config(built.nodes[node].path)
    cluster = Cluster(built)
    try:
        yield cluster
    finally:
        cluster.close()


def _witnessed_size(cluster: Cluster, witness: str, of: str) -> int:
    """The largest checkpoint of ``of``'s log that ``witness`` accepted (read-only)."""
    db = cluster.home(witness) / "node.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT MAX(size) FROM witnessed WHERE origin = ?", [f"ilo-node/devnet.ilo/{of}"]
        ).fetchone()
    finally:
        conn.close()
    return int(row[0] or 0)


def _restore_state(cluster: Cluster, node: str) -> dict[str, Any]:
    status = cluster.status(node) or {}
    state: dict[str, Any] = status.get("restore") or {}
    return state


def test_backup_under_load_restore_verify_and_catch_up(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start(*NODES)
    cluster.wait_ready(NODES)
    for node in NODES:
        cluster.publish(node, "incident_alert")
    cluster.wait_converged(NODES, CONVERGE_S)
    before = len(cluster.published)

    # Envelopes keep arriving at DE@TR from its peers while its backup is taken.
    stop_load = threading.Event()

    def load() -> None:
        while not stop_load.is_set():
            for author in (FR, IT):
                cluster.publish(author, "route_report")

    loader = threading.Thread(target=load)
    loader.start()
    try:
        cluster.wait_for(
            lambda: (len(cluster.published) >= before + 4, "load starting"), 30, "load"
        )
        backup_dir = tmp_path / "backups" / "de-1"
        taken = json.loads(run_cli(cluster, DE, "backup", str(backup_dir), "--json"))
    finally:
        stop_load.set()
        loader.join(timeout=60)
    assert taken["node_running"] is True and taken["skipped"] == []
    backed_up = taken["database"]["log_size"]
    assert before < backed_up < len(cluster.published)
    own_seq = taken["database"]["own_head"]["seq"]

    # DE@TR publishes on after the backup: its chain is past the backup's head.
    after = [cluster.local(DE, "POST", "/local/publish", _body()) for _ in range(3)]
    assert [a["seq"] for a in after] == [own_seq + 1, own_seq + 2, own_seq + 3]
    cluster.published += [_published(a, DE) for a in after]
    cluster.wait_converged(NODES, CONVERGE_S)
    total = len(cluster.published)
    # FR@TR witnessed DE@TR's log past the backup: the history a restore loses.
    cluster.wait_for(
        lambda: (_witnessed_size(cluster, FR, DE) > backed_up, "waiting for FR to witness"),
        CONVERGE_S,
        "FR@TR to witness DE@TR past the backup",
    )

    # The disk is lost: stop DE@TR (and IT@TR, which it then cannot hear from), restore.
    cluster.stop(DE, IT)
    home = cluster.home(DE)
    restored = json.loads(
        run_cli(cluster, DE, "restore", str(backup_dir), "--home", str(home), "--force", "--json")
    )
    assert restored["restored"] is True and restored["publishing"] == "held"
    assert restored["log_verify"]["ok"] and restored["log_verify"]["problems"] == []
    assert restored["log_verify"]["size"] == backed_up
    assert Path(restored["moved_aside"]).is_dir()

    cluster.start(DE)
    cluster.wait_ready([DE])
    # It catches up from FR@TR, but publishes nothing as itself until IT@TR has answered.
    cluster.wait_for(
        lambda: (_restore_state(cluster, DE).get("peers_confirmed") == [FR], "FR not yet"),
        CONVERGE_S,
        "DE@TR to hear from FR@TR",
        [DE],
    )
    assert (cluster.status(DE) or {})["log_size"] == total
    assert _restore_state(cluster, DE)["publishing"] == "held"
    with pytest.raises(ClientError, match="restored from a backup"):
        cluster.launcher.call(DE, "POST", "/local/publish", _body())

    cluster.start(IT)
    cluster.wait_ready([IT])
    cluster.wait_for(
        lambda: (
            _restore_state(cluster, DE).get("publishing") == "resumed",
            json.dumps(_restore_state(cluster, DE)),
        ),
        CONVERGE_S,
        "DE@TR to hear from every peer",
        NODES,
    )
    record = json.loads((home / "restored.json").read_text())
    assert record["resumed_by"] == "peers" and record["peers_confirmed"] == [FR, IT]
    # Its next envelope follows its real head, not the backup's: no fork anywhere.
    nxt = cluster.local(DE, "POST", "/local/publish", _body())
    assert nxt["seq"] == own_seq + 4
    cluster.published.append(_published(nxt, DE))
    cluster.wait_converged(NODES, CONVERGE_S)
    for node in NODES:
        assert (cluster.status(node) or {})["forks"] == 0, node

    # What the restore lost shows as it is documented: FR@TR, which witnessed the lost
    # history, records a split view of DE@TR's log; DE@TR knows it for its restore.
    def fr_sees_split() -> tuple[bool, str]:
        views = (cluster.status(FR) or {}).get("split_views", [])
        return any(v["origin"].endswith(DE) for v in views), json.dumps(views)

    cluster.wait_for(fr_sees_split, CONVERGE_S, "FR@TR's split view of DE@TR", NODES)

    def de_explains() -> tuple[bool, str]:
        log = (home / "daemon.log").read_text(errors="replace")
        return "expected after a restore" in log, "not yet in DE@TR's log"

    cluster.wait_for(de_explains, CONVERGE_S, "DE@TR to explain its own split view", NODES)
    log = (home / "daemon.log").read_text(errors="replace")
    assert "signing key is in other hands" not in log and "Traceback" not in log

    cluster.stop()
    for node in NODES:
        report = json.loads(run_cli(cluster, node, "log", "verify", "--json", "--workers", "1"))
        assert report["ok"] and report["size"] == len(cluster.published), (node, report)


def _body() -> dict[str, Any]:
    return {
        "kind": "incident_alert",
        "content": content_to_json(example("incident_alert")),
        "distribution": "local",
        "handling": "H1",
        "states": [],
    }


def _published(answer: dict[str, Any], author: str) -> Published:
    return Published(answer["id"], author, answer["kind"], tuple(answer["recipients"]))
