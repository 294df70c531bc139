"""TLS rules between real ``ilo-node run`` processes (small networks of their own).

* A node running with a key that is not its certified one is refused both ways:
  its peers' clients refuse its server certificate, their servers refuse its client
  certificate; the honest nodes go on gossiping.
* An ``http://`` endpoint needs ``"plain_http": true``: without it the node does not
  start, and its peers do not dial it; with it, it serves plain HTTP (and still dials
  TLS peers over TLS), and ``status`` says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ilo_node.dev.netbuilder import build_network
from ilo_node.home.keyfiles import write_private_key
from keys.keystore import generate_signing_key
from tests.support.netproc import Cluster, free_ports, run_cli, write_daemon_config

pytestmark = pytest.mark.slow

PASS = b"tls nodes test passphrase"
NODES = ["COM@EU", "DE@TR", "FR@TR"]
CONVERGE_S = 60.0


def test_a_node_running_with_an_uncertified_key_is_refused_both_ways(tmp_path: Path) -> None:
    ports = dict(zip(NODES, free_ports(len(NODES)), strict=True))
    built = build_network(
        tmp_path / "net",
        NODES,
        endpoints={n: f"https://127.0.0.1:{p}" for n, p in ports.items()},
        passphrase=PASS,
    )
    for node in NODES:
        write_daemon_config(built.nodes[node].path)
    # FR@TR's home gets a new signing key that no authority certified.
    impostor = built.nodes["FR@TR"]
    write_private_key(
        impostor.signing_key_path, generate_signing_key(), PASS, label="node FR@TR", overwrite=True
    )
    cluster = Cluster(built)
    try:
        cluster.start(*NODES)
        cluster.wait_ready(NODES)
        sent = cluster.publish("DE@TR", "incident_alert")
        assert "FR@TR" in sent.recipients

        def refused_both_ways() -> tuple[bool, str]:
            de = (cluster.status("DE@TR") or {}).get("peers", {})
            fr = (cluster.status("FR@TR") or {}).get("peers", {})
            de_log = cluster.log_tail("DE@TR", 100_000)
            done = (
                de.get("FR@TR", {}).get("failures", 0) >= 1
                and all(fr.get(p, {}).get("failures", 0) >= 1 for p in ("DE@TR", "COM@EU"))
                # DE@TR's client refused FR@TR's server certificate ...
                and "FR@TR presented a TLS certificate of none of its certified" in de_log
                # ... and DE@TR's server refused FR@TR's client certificate.
                and "TLS handshake with 127.0.0.1 failed" in de_log
            )
            return done, f"DE@TR's peers {de}; FR@TR's peers {fr}"

        cluster.wait_for(refused_both_ways, CONVERGE_S, "FR@TR to be refused both ways")
        # The honest nodes gossip on: COM@EU holds the envelope; FR@TR got nothing.
        cluster.wait_for(
            lambda: ((cluster.status("COM@EU") or {}).get("log_size") == 1, "COM@EU's log"),
            CONVERGE_S,
            "the envelope to reach COM@EU",
        )
        assert (cluster.status("FR@TR") or {}).get("log_size") == 0
        assert cluster.readable("FR@TR", [sent.id]) == set()
        fr_log = cluster.log_tail("FR@TR", 100_000)
        assert "is not a certified node key of FR@TR" in fr_log
        assert "Traceback" not in fr_log + cluster.log_tail("DE@TR", 100_000)
    finally:
        cluster.close()


def test_plain_http_needs_its_setting_and_status_says_so(tmp_path: Path) -> None:
    ports = dict(zip(NODES, free_ports(len(NODES)), strict=True))
    endpoints = {n: f"https://127.0.0.1:{p}" for n, p in ports.items()}
    endpoints["FR@TR"] = f"http://127.0.0.1:{ports['FR@TR']}"
    built = build_network(
        tmp_path / "net",
        NODES,
        endpoints=endpoints,
        passphrase=PASS,
    )
    for node in NODES:
        write_daemon_config(built.nodes[node].path)
    cluster = Cluster(built)
    try:
        # Without the setting FR@TR does not start, and says which setting it needs.
        started = cluster.launcher.start("FR@TR", cluster.home("FR@TR"))
        assert started.process.wait(120) != 0
        log = cluster.log_tail("FR@TR", 100_000)
        assert "plain http between nodes is refused" in log
        assert '"plain_http": true in daemon.json' in log
        assert not started.ready_file.exists()
        cluster.launcher.stop(["FR@TR"])

        write_daemon_config(cluster.home("FR@TR"), plain_http=True)
        cluster.start(*NODES)
        cluster.wait_ready(NODES)
        fr, de = cluster.status("FR@TR"), cluster.status("DE@TR")
        assert fr is not None and de is not None
        assert fr["transport"]["tls"] is False and fr["transport"]["plain_http"] is True
        assert "version" not in fr["transport"]
        assert de["transport"] == {**de["transport"], "tls": True, "version": "TLSv1.3"}
        assert de["transport"]["plain_http"] is False
        assert "PLAIN HTTP" in run_cli(cluster, "FR@TR", "status")
        assert "TLSv1.3 with every peer" in run_cli(cluster, "DE@TR", "status")
        status_json = json.loads(run_cli(cluster, "DE@TR", "status", "--json"))
        assert status_json["transport"]["tls"] is True

        # FR@TR dials its TLS peers over TLS: what it publishes reaches them.
        sent = cluster.publish("FR@TR", "incident_alert")

        def delivered() -> tuple[bool, str]:
            got = cluster.readable("DE@TR", [sent.id])
            return got == {sent.id}, f"DE@TR reads {got}"

        cluster.wait_for(delivered, CONVERGE_S, "FR@TR's envelope to reach DE@TR")
        # DE@TR, without the setting, never dials FR@TR's http endpoint, and says why.
        de_log = cluster.log_tail("DE@TR", 100_000)
        assert "peers with plain http endpoints are not dialled: FR@TR" in de_log
        assert re.search(r"FR@TR's roster endpoint http://\S+ is plain http: not dialled", de_log)
        cluster.stop()
    finally:
        cluster.close()
