"""``ilo-node devnet``: a whole local network on loopback, in one command.

Six Member State nodes posted to two host countries (Türkiye and Morocco) and
the Commission's node, each a real ``ilo-node run`` process with its own home,
keys and database, talking signed HTTP over TLS 1.3 on 127.0.0.1 (``https://``
endpoints; the certificates derive from the node keys). A fresh network root,
roster and keys are made for the run. Sample envelopes of every message kind
are published through the nodes' local APIs and their spread is shown live;
at the end every node is stopped cleanly (it signs a last checkpoint) and every
node home is checked with the same verification as ``ilo-node log verify``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ilo_node.dev.launcher import Launcher, LaunchError, free_ports
from ilo_node.dev.netbuilder import build_network
from ilo_node.errors import ClientError
from ilo_node.formats.jsoncontent import content_to_json
from ilo_node.home.home import Home
from ilo_node.node.audit import verify_log
from protocol.envelope import REFERENCE_KINDS
from protocol.examples import example
from protocol.kinds import KINDS

__all__ = ["DEVNET_NODES", "run_devnet"]

#: IE holds the Presidency in 2026-H2: half-year contributions go to IE and COM.
DEVNET_NODES = ("COM@EU", "DE@TR", "FR@TR", "IT@TR", "ES@MA", "IE@MA", "NL@MA")
#: Seconds the nodes get to start: each derives its key-encryption keys with Argon2id.
READY_TIMEOUT_S = 90.0
#: What devnet publishes: every kind that stands alone (not a retraction or key share).
_INFORMATION_KINDS = [k for k in sorted(KINDS) if k not in REFERENCE_KINDS]


@dataclass
class Published:
    envelope_id: str
    kind: str
    author: str
    recipients: list[str]


@dataclass
class Devnet:
    base: Path
    launcher: Launcher
    published: list[Published] = field(default_factory=list)


def _publish(net: Devnet, author: str, kind: str, distribution: str) -> None:
    body = {
        "kind": kind,
        "content": content_to_json(example(kind)),
        "distribution": distribution,
        "handling": "H1",
    }
    result = net.launcher.call(author, "POST", "/local/publish", body)
    net.published.append(Published(result["id"], kind, author, result["recipients"]))


def _delivery(net: Devnet) -> tuple[int, int]:
    expected = sum(len(p.recipients) for p in net.published)
    by_node: dict[str, list[str]] = {}
    for p in net.published:
        for r in p.recipients:
            by_node.setdefault(r, []).append(p.envelope_id)
    delivered = 0
    for node, ids in by_node.items():
        found: set[str] = set()
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            try:
                answer = net.launcher.call(node, "GET", "/local/readable?ids=" + ",".join(chunk))
            except ClientError:
                continue  # counted as not delivered yet
            found.update(answer["readable"])
        delivered += len(found)
    return delivered, expected


def _sizes(net: Devnet, nodes: list[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for node in nodes:
        status = net.launcher.status(node)
        if status is not None:
            sizes[node] = status["log_size"]
    return sizes


def _main(base: Path, duration: float, as_json: bool) -> dict[str, Any]:
    say = (lambda *_: None) if as_json else click.echo
    nodes = list(DEVNET_NODES)
    ports = free_ports(len(nodes))
    endpoints = {n: f"https://127.0.0.1:{p}" for n, p in zip(nodes, ports, strict=True)}
    started = first_start = time.monotonic()
    say(f"building a network of {len(nodes)} nodes in {base} ...")
    built = build_network(base, nodes, network="devnet.ilo", endpoints=endpoints)
    launcher = Launcher(built.passphrase_file, log_level=os.environ.get("ILO_NODE_LOG", "WARNING"))
    net = Devnet(base, launcher)
    say(f"root roster fingerprint {built.fingerprint}")
    try:
        for node in nodes:
            launcher.start(node, built.nodes[node].path)
        try:
            launcher.wait_ready(nodes, READY_TIMEOUT_S)
        except LaunchError as exc:
            raise click.ClickException(str(exc)) from None
        say("all nodes listening: " + ", ".join(f"{n} {endpoints[n]}" for n in nodes))
        authors = [n for n in nodes if not n.startswith("COM@")]
        for i, kind in enumerate(_INFORMATION_KINDS):
            author = authors[i % len(authors)]
            distribution = "presidency" if kind == "half_year_contribution" else "local"
            _publish(net, author, kind, distribution)
        _publish(net, "DE@TR", "smuggling_network_alert", "network")
        say(f"published {len(net.published)} envelopes (every kind; one to the whole network)")
        # The duration runs from when the network is up: start-up time varies with the
        # machine (each node derives its key-encryption keys with Argon2id).
        started = time.monotonic()
        deadline = started + duration
        wave = 0
        converged_at: float | None = None
        while True:
            now = time.monotonic()
            # Keep publishing now and then, but leave time at the end to converge.
            if now < deadline - 5 and int(now - started) // 3 > wave:
                wave += 1
                kind = _INFORMATION_KINDS[wave % len(_INFORMATION_KINDS)]
                author = authors[wave % len(authors)]
                distribution = "presidency" if kind == "half_year_contribution" else "local"
                _publish(net, author, kind, distribution)
            delivered, expected = _delivery(net)
            sizes = _sizes(net, nodes)
            say(
                f"  t={now - started:5.1f}s delivered {delivered}/{expected} "
                f"envelope-recipient pairs; log sizes "
                + " ".join(f"{n}={sizes.get(n, '?')}" for n in nodes)
            )
            if delivered == expected and converged_at is None:
                converged_at = now - started
            if now >= deadline:
                break
            # The pace of the progress lines: the run lasts `duration` whatever happens.
            time.sleep(0.5 if delivered < expected else 1.0)
    finally:
        say("stopping the nodes ...")
        launcher.close()
    delivered, expected = _delivery_offline(net)
    verified: dict[str, bool] = {}
    for node in nodes:
        home = Home(base / node)
        report = verify_log(home.path / "node.db", [home.public_key()], node, workers=1)
        verified[node] = report.ok and report.latest_checkpoint == report.size
    result = {
        "nodes": nodes,
        "published": len(net.published),
        "delivered": delivered,
        "expected": expected,
        "converged": delivered == expected,
        "converged_after_s": None if converged_at is None else round(converged_at, 2),
        "log_verify": verified,
        "home": str(base),
        "seconds": round(time.monotonic() - first_start, 2),
    }
    say(
        f"{'converged' if result['converged'] else 'NOT converged'}: {delivered}/{expected} "
        f"pairs delivered; log verify: "
        + ", ".join(f"{n} {'OK' if ok else 'FAILED'}" for n, ok in verified.items())
    )
    say(f"node homes kept in {base} (try: ilo-node --home {base / 'DE@TR'} status)")
    return result


def _delivery_offline(net: Devnet) -> tuple[int, int]:
    """Count delivery from the databases after the nodes stopped (the final word)."""
    expected = sum(len(p.recipients) for p in net.published)
    delivered = 0
    for p in net.published:
        for r in p.recipients:
            db = net.base / r / "node.db"
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                row = conn.execute(
                    "SELECT 1 FROM contents WHERE envelope_id = ?", [bytes.fromhex(p.envelope_id)]
                ).fetchone()
            finally:
                conn.close()
            delivered += row is not None
    return delivered, expected


def run_devnet(home: Path | None, duration: float, as_json: bool) -> bool:
    base = home if home is not None else Path(tempfile.mkdtemp(prefix="ilo-devnet-"))
    if home is not None and any(base.iterdir() if base.exists() else []):
        raise click.ClickException(f"{base} is not empty; give a new or empty --home")
    try:
        result = _main(base, duration, as_json)
    except KeyboardInterrupt:
        click.echo("interrupted; node homes kept in " + str(base), err=True)
        return False
    if as_json:
        click.echo(json.dumps(result))
    return bool(result["converged"]) and all(result["log_verify"].values())
