"""The half-year report end to end between real ``ilo-node run`` processes over TLS.

Four nodes: DE@TR and ES@MA, each with an officer (anna.berg, lucia.navarro), IE@MA,
the Presidency's node, and COM@EU. Each officer signs a contribution in their own home
and hands it to their node over the officer API (HTTPS, as ``contribution send``
does); gossip carries it to IE@MA and COM@EU. Polling with deadlines, the test
follows that

* IE@MA builds and signs the report through the real CLI (``report build``, a child
  process, the passphrase from a file), once a peer cosigned a checkpoint of its log
  that covers both contributions;
* ``report verify`` at COM@EU exits 0 with every figure recomputed;
* a report tampered with is refused by ``report verify`` at COM@EU, exit 1 and the
  reason on stderr: a figure changed and signed again with IE@MA's own key, a
  contribution dropped from the manifest and signed again, report.json edited
  without signing again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ilo_node.client.officer import OfficerClient, PublishRequest
from ilo_node.dev.netbuilder import build_network
from ilo_node.home.home import now_ms
from ilo_node.report.build import SIGNATURE_DOMAIN, canonical_json
from protocol.crypto import sha256, sign
from protocol.examples import example
from protocol.periods import half_year_of
from tests.support.netproc import Cluster, free_ports, run_cli, write_daemon_config

pytestmark = pytest.mark.slow

PASS = b"report processes test passphrase"
DE, ES, IE, COM = "DE@TR", "ES@MA", "IE@MA", "COM@EU"
NODES = [DE, ES, IE, COM]
ANNA, LUCIA = "anna.berg", "lucia.navarro"
DELIVERY_S = 60.0
CLI_S = 120.0


def _contribution(state: str, host: str, half_year: str, **changes: Any) -> dict[str, Any]:
    content = example("half_year_contribution")
    content.update(member_state=state, host_country=host, half_year=half_year, **changes)
    return content


def _resign(out: Path, body: dict[str, Any], seed: bytes) -> None:
    """As a dishonest Presidency would: change the report and sign it again with its key."""
    data = canonical_json(body)
    digest = sha256(data)
    sig = json.loads((out / "report.sig").read_bytes())
    sig.update(digest=digest.hex(), signature=sign(seed, SIGNATURE_DOMAIN, digest).hex())
    (out / "report.json").write_bytes(data)
    (out / "report.sig").write_bytes(canonical_json(sig))


def _change_figure(body: dict[str, Any]) -> str:
    figure = body["host_countries"][0]["sections"][0]["figures"][0]
    said = figure["value"]
    figure["value"] = said + 1
    return f"the report says {said + 1}, the contributions give {said}"


def _drop_contribution(body: dict[str, Any]) -> str:
    dropped = body["manifest"]["contributions"].pop()
    return f"contribution {dropped['id'][:16]} for {body['period']} is in this log but not in"


#: Name → (change to the report body, returns the reason expected on stderr).
RESIGNED: dict[str, Callable[[dict[str, Any]], str]] = {
    "a figure changed": _change_figure,
    "a contribution dropped": _drop_contribution,
}


def test_contributions_over_real_nodes_make_a_report_the_commission_verifies(
    tmp_path: Path,
) -> None:
    half_year = half_year_of(now_ms())
    ports = dict(zip(NODES, free_ports(len(NODES)), strict=True))
    built = build_network(
        tmp_path / "net",
        NODES,
        endpoints={n: f"https://127.0.0.1:{p}" for n, p in ports.items()},
        passphrase=PASS,
        keep_authorities=True,
        officers={DE: [ANNA], ES: [LUCIA]},
        # IE@MA holds the Presidency whatever half-year the test runs in (IE's is
        # 2026-H2 in the default schedule), or there is nobody here to build for.
        presidency={half_year: "IE"},
    )
    for node in NODES:
        write_daemon_config(built.nodes[node].path)
    cluster = Cluster(built)
    clients: list[OfficerClient] = []
    try:
        cluster.start(*NODES)
        anna = OfficerClient(built.officers[ANNA], PASS)
        lucia = OfficerClient(built.officers[LUCIA], PASS)
        clients += [anna, lucia]
        cluster.wait_ready(NODES)

        # -- contributions from both host countries, over the officer API -----------------
        sent: dict[str, bytes] = {}
        for client, state, host, extra in (
            (anna, "DE", "TR", {}),
            (lucia, "ES", "MA", {"deployments": 1, "meetings_held": 3, "meetings_attended": 3}),
        ):
            client.sync()
            content = _contribution(state, host, half_year, **extra)
            outcome = client.publish(
                PublishRequest("half_year_contribution", content, "presidency")
            )
            assert outcome.sent and outcome.envelope_id is not None, outcome
            assert {IE, COM} <= set(outcome.readable_by), outcome.readable_by
            sent[state] = outcome.envelope_id
        ids = [i.hex() for i in sent.values()]

        def covered() -> tuple[bool, str]:
            at = {n: cluster.readable(n, ids) for n in (IE, COM)}
            if any(got != set(ids) for got in at.values()):
                return False, f"readable: {at}"
            status = cluster.status(IE) or {}
            size, cosigned = status.get("log_size"), status.get("latest_cosigned")
            # Nothing else is published: once readable, the log holds both, and a
            # checkpoint of its whole size that a peer cosigned covers them.
            return cosigned == size, f"{IE} log {size}, cosigned checkpoint {cosigned}"

        cluster.wait_for(
            covered, DELIVERY_S, f"both contributions at {IE} and {COM}, in a cosigned checkpoint"
        )

        # -- built at the Presidency's node, verified at the Commission's -----------------
        out = tmp_path / "report"
        made = run_cli(
            cluster, IE, "report", "build", "--period", half_year, "--out", str(out), "--json"
        )
        record = json.loads(made)
        assert record["host_countries"] == ["MA", "TR"]
        assert record["contributions"] == 2
        assert set(record["files"]) >= {"report.json", "report.sig"}
        body = json.loads((out / "report.json").read_bytes())
        assert body["built"]["node"] == IE and body["presidency"] == "IE"
        assert {c["id"] for c in body["manifest"]["contributions"]} == set(ids)
        said = run_cli(cluster, COM, "report", "verify", str(out / "report.json"))
        assert said.endswith("(every figure recomputed)\n"), said

        # -- tampered with: each refused through the CLI, with its reason --------------
        seed = built.nodes[IE].signing_key(PASS).reveal()
        cases: dict[str, tuple[Path, str]] = {}
        for name, change in RESIGNED.items():
            copy = tmp_path / name.replace(" ", "-")
            shutil.copytree(out, copy)
            tampered = json.loads((copy / "report.json").read_bytes())
            reason = change(tampered)
            _resign(copy, tampered, seed)
            cases[name] = (copy, reason)
        unsigned = tmp_path / "edited-unsigned"
        shutil.copytree(out, unsigned)
        data = (unsigned / "report.json").read_bytes()
        edited = data.replace(b'"code":"MA"', b'"code":"DZ"', 1)
        assert edited != data
        (unsigned / "report.json").write_bytes(edited)
        cases["edited without signing again"] = (
            unsigned,
            "report.sig: it signs other bytes than this report.json",
        )
        # Side by side: each is its own short-lived process reading COM@EU's home.
        running = {
            name: cluster.cli(COM, "report", "verify", str(copy / "report.json"))
            for name, (copy, _) in cases.items()
        }
        for name, process in running.items():
            try:
                stdout, stderr = process.communicate(timeout=CLI_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                pytest.fail(f"report verify of {name!r} hung for {CLI_S} s")
            assert "Traceback" not in stderr, stderr
            assert process.returncode == 1, (name, stdout, stderr)
            assert "does not verify" in stderr, (name, stderr)
            assert cases[name][1] in stderr, (name, stderr)

        cluster.stop()
        for node in NODES:
            assert "Traceback" not in cluster.log_tail(node, 1_000_000), node
    finally:
        for client in clients:
            client.close()
        cluster.close()
