"""Gossip benchmark: dissemination latency, copies received per node per envelope,
and anti-entropy bytes after a partition, on real ``ilo-node run`` processes.

Run from the repository root (nothing needs installing beyond the project's
dependencies)::

    python bench/gossip_bench.py                         # defaults: see --help
    python bench/gossip_bench.py --nodes 30 --envelopes 10000 --rate 50   # the issue's run
    python bench/gossip_bench.py --json                  # one JSON object instead of text
    python bench/gossip_bench.py --save run.json         # text, and the JSON to a file
    python -m bench.gossip_bench ...                     # equivalent

Targets (from the issue): 30 node processes, 10,000 envelopes published at a
steady 50 envelopes/s; dissemination latency p99 <= 1 s; at most 2 copies of
each envelope received per node (flooding would be 29); after a partition,
anti-entropy bytes <= 1.1 x the bytes of the missing envelopes + 4 KiB. The
defaults are smaller (see ``--help`` and docs/performance.md): every node is a
Python process and all of them share the machine's cores, so the full-size run
measures the machine's CPU before it measures gossip. The report states what
was actually run.

What is measured:

* **Network.** :func:`ilo_node.netbuilder.build_network` makes ``--nodes`` node
  homes: ``--nodes - 1`` Member States posted to one host country (``XX@TR``)
  and ``COM@EU``. They form one local network, so every node is a peer of every
  other. Each runs as ``ilo-node run`` (through the instrumented launcher
  below) with ``daemon.json`` from ``--fanout``, ``--sync-interval`` and
  ``--checkpoint-interval`` (the product defaults unless given).
* **Dissemination.** ``--envelopes`` envelopes are published open-loop at a
  steady ``--rate`` through ``POST /local/publish`` of random Member State nodes
  (example content of every kind in turn, distribution ``local``: all the
  nodes are recipients). The send time of each request is recorded; after the
  run each node's ``node.db`` gives ``envelopes.received_ms`` of every
  envelope (same machine clock). Latency = ``received_ms`` at a node - send
  time, over every (envelope, node other than the author) pair: p50, p90, p99,
  max; also per envelope the time until the last node had it.
* **Copies.** The local API (``GET /local/status``) exposes the gossip client
  counters (``pushed``, ``synced_envelopes``, ``sync_bytes``) but not how many
  envelope copies a node *received* (``PeerService.stats`` is not exposed).
  So each node runs through a launcher in this file that, without changing
  product code, wraps a few methods to count: envelopes passed to
  ``Node.ingest`` (minus the node's own publications) = copies received, split
  into pushes received (``POST /v1/envelopes``, which includes sync push-backs)
  and envelopes in sync answers; body bytes of every peer request the node
  makes or serves, by path and by gossip role (push loop, anti-entropy,
  witnessing). The counters are served at ``GET /bench/stats`` on the node's
  local socket. ``--plain`` runs plain ``python -m ilo_node run`` instead; then
  only the status counters are reported (copies estimated from ``pushed``).
  Copies per node per envelope = copies received by all nodes / (envelopes x
  nodes): every node receives copies, the author included (relays can send
  it back its own envelope), and with flooding each node would receive one
  from each of its ``nodes - 1`` peers (29 for 30 nodes).
* **Anti-entropy after a partition.** One Member State node is stopped
  (``POST /local/stop``), ``--missing`` envelopes are published through the
  others and gossiped until every running node has them (the stopped node's
  peers fail to push to it and back off), then it is started again; it
  catches up by anti-entropy (at start it syncs with every peer at once). The
  bytes counted are the HTTP body bytes of every peer request the restarted
  node makes or serves from its start until it is quiet (its log holds every
  envelope and nothing was ingested or queued for 1 s); the HTTP and
  authentication headers, about 0.5 KiB per request, are not counted, like
  the node's own ``sync_bytes``. They are grouped into anti-entropy (its own
  sync exchanges, push-backs and document diffs, the syncs it served, and the
  envelopes peers pushed to it, which after the partition are their sync
  push-backs), its own fanout pushes, and witnessing; the anti-entropy group
  is set against the sum of the ``raw`` lengths of the missing envelopes. The
  report also gives what its peers wrote in answer to its requests.
* **CPU.** User + system time of the node processes (``/proc/PID/stat``) over
  ``--idle`` seconds with no traffic, and over phase 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import aiohttp  # noqa: E402

from ilo_node.dev.devnet import free_ports  # noqa: E402

NETWORK = "bench.ilo"
HOST = "TR"
PASSPHRASE = b"ilo-node gossip bench"

# The issue's workload and targets.
ISSUE_NODES = 30
ISSUE_ENVELOPES = 10_000
ISSUE_RATE = 50.0
TARGET_P99_S = 1.0
TARGET_COPIES = 2.0
TARGET_AE_FACTOR = 1.1
TARGET_AE_SLACK = 4 * 1024

# Defaults that finish in a few minutes on a 2-vCPU machine (see --help).
DEFAULT_NODES = 30
DEFAULT_ENVELOPES = 200
DEFAULT_RATE = 2.0
DEFAULT_MISSING = 100

_WITNESS_PATHS = ("/v1/checkpoint", "/v1/cosign", "/v1/witnessed", "/v1/consistency")

# --- the instrumented node launcher (runs in each node process) ---------------

_ROLE: contextvars.ContextVar[str] = contextvars.ContextVar("gossip_bench_role", default="sync")


def _instrument() -> None:
    """Wrap a few methods of the node daemon to count what it receives and sends.

    Nothing in the product changes behaviour: each wrapper calls the original and
    only adds to counters, which ``GET /bench/stats`` on the local socket returns.
    """
    import ilo_node.daemon as daemon
    from aiohttp import web

    from ilo_node.net.gossip import Gossip
    from ilo_node.net.peerauth import HEADERS
    from ilo_node.net.service import PeerService
    from ilo_node.net.transport import HttpTransport
    from ilo_node.net.wire import decode_body
    from ilo_node.node.core import Node

    state: dict[str, Any] = {"service": None, "gossip": None}
    ingest: dict[str, Any] = {"calls": 0, "envelopes": 0, "published": 0, "statuses": {}}
    # "role path" -> [requests, body bytes out, body bytes in, envelopes sent, accepted]
    client: dict[str, list[int]] = {}
    server: dict[str, list[int]] = {}  # "path" -> [requests, bytes in, bytes out, accepted]
    served_to: dict[str, int] = {}  # requesting peer -> body bytes in + out
    failures: dict[str, int] = {}  # reason (peer name left out) -> count

    original_ingest = Node.ingest
    original_publish = Node.publish

    def counted_ingest(self: Node, batch: Sequence[bytes], *args: Any, **kwargs: Any) -> Any:
        results = original_ingest(self, batch, *args, **kwargs)
        ingest["calls"] += 1
        ingest["envelopes"] += len(batch)
        statuses = ingest["statuses"]
        for r in results:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        return results

    def counted_publish(self: Node, *args: Any, **kwargs: Any) -> Any:
        out = original_publish(self, *args, **kwargs)
        ingest["published"] += 1
        return out

    Node.ingest = counted_ingest  # type: ignore[method-assign]
    Node.publish = counted_publish  # type: ignore[method-assign]

    original_service_init = PeerService.__init__
    original_handle = PeerService.handle

    def service_init(self: PeerService, *args: Any, **kwargs: Any) -> None:
        original_service_init(self, *args, **kwargs)
        state["service"] = self

    async def counted_handle(
        self: PeerService, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, bytes]:
        status, out = await original_handle(self, method, target, headers, body)
        path = target.split("?", 1)[0]
        row = server.setdefault(path, [0, 0, 0, 0])
        row[0] += 1
        row[1] += len(body)
        row[2] += len(out)
        peer = str(headers.get(HEADERS["node"], "?"))
        served_to[peer] = served_to.get(peer, 0) + len(body) + len(out)
        if path == "/v1/envelopes" and status == 200:
            results = decode_body(out, "bench").get("results", [])
            row[3] += sum(1 for r in results if r[0] == "accepted")
        return status, out

    PeerService.__init__ = service_init  # type: ignore[method-assign]
    PeerService.handle = counted_handle  # type: ignore[method-assign]

    original_gossip_init = Gossip.__init__
    original_push_loop = Gossip._push_loop
    original_checkpoint_loop = Gossip._checkpoint_loop
    original_call = Gossip._call
    original_failed = Gossip._failed
    original_request = HttpTransport.request

    def gossip_init(self: Gossip, *args: Any, **kwargs: Any) -> None:
        original_gossip_init(self, *args, **kwargs)
        state["gossip"] = self

    async def push_loop(self: Gossip) -> None:
        _ROLE.set("push")
        await original_push_loop(self)

    async def checkpoint_loop(self: Gossip) -> None:
        _ROLE.set("witness")
        await original_checkpoint_loop(self)

    async def counted_call(
        self: Gossip, peer: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        if body is None or not isinstance(body.get("envelopes"), list):
            return await original_call(self, peer, method, path, body)
        row = client.setdefault(f"{_ROLE.get()} {path.split('?', 1)[0]}", [0, 0, 0, 0, 0])
        row[3] += len(body["envelopes"])
        answer = await original_call(self, peer, method, path, body)
        results = answer.get("results") if answer is not None else None
        if isinstance(results, list):
            row[4] += sum(1 for r in results if isinstance(r, list | tuple) and r[0] == "accepted")
        return answer

    def counted_failed(self: Gossip, peer: str, reason: str) -> None:
        key = f"{_ROLE.get()}: {reason.replace(peer, '<peer>')}"
        failures[key] = failures.get(key, 0) + 1
        original_failed(self, peer, reason)

    async def counted_request(
        self: HttpTransport, peer: str, method: str, path: str, body: bytes
    ) -> tuple[int, bytes]:
        row = client.setdefault(f"{_ROLE.get()} {path.split('?', 1)[0]}", [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += len(body)
        status, data = await original_request(self, peer, method, path, body)
        row[2] += len(data)
        return status, data

    Gossip.__init__ = gossip_init  # type: ignore[method-assign]
    Gossip._push_loop = push_loop  # type: ignore[method-assign]
    Gossip._checkpoint_loop = checkpoint_loop  # type: ignore[method-assign]
    Gossip._call = counted_call  # type: ignore[method-assign]
    Gossip._failed = counted_failed  # type: ignore[method-assign]
    HttpTransport.request = counted_request  # type: ignore[method-assign]

    original_local_app = daemon.local_app

    async def stats(request: web.Request) -> web.Response:
        service, gossip = state["service"], state["gossip"]
        return web.json_response(
            {
                "ingest": ingest,
                "client": client,
                "server": server,
                "served_to": served_to,
                "failures": failures,
                "service": dict(service.stats) if service is not None else {},
                "gossip": dict(gossip.stats) if gossip is not None else {},
                "queue": gossip.queue.qsize() if gossip is not None else 0,
            }
        )

    def local_app(*args: Any, **kwargs: Any) -> web.Application:
        app = original_local_app(*args, **kwargs)
        app.router.add_get("/bench/stats", stats)
        return app

    daemon.local_app = local_app  # type: ignore[assignment]


def _child_main(argv: list[str]) -> None:
    _instrument()
    from ilo_node.cli.app import main

    main(argv)


# --- the network of processes -------------------------------------------------


def node_ids(count: int) -> list[str]:
    """``count - 1`` Member States in TR (sorted) and COM@EU: one local network."""
    from protocol.identifiers import MEMBER_STATES

    states = sorted(MEMBER_STATES)
    if not 3 <= count <= len(states) + 1:
        raise SystemExit(f"--nodes must be between 3 and {len(states) + 1}")
    return sorted([f"{s}@{HOST}" for s in states[: count - 1]] + ["COM@EU"])


@dataclass
class Cluster:
    base: Path
    homes: dict[str, Path]
    passphrase_file: Path
    instrumented: bool
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _sessions: dict[str, aiohttp.ClientSession] = field(default_factory=dict)

    def start(self, node: str) -> None:
        home = self.homes[node]
        ready = home / "ready.json"
        with contextlib.suppress(FileNotFoundError):
            ready.unlink()
        if self.instrumented:
            argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--"]
        else:
            argv = [sys.executable, "-m", "ilo_node"]
        argv += [
            "--home",
            str(home),
            "--passphrase-file",
            str(self.passphrase_file),
            "run",
            "--ready-file",
            str(ready),
        ]
        level = os.environ.get("ILO_NODE_LOG", "WARNING")
        env = {**os.environ, "PYTHONPATH": str(_ROOT), "ILO_NODE_LOG": level}
        env.pop("ILO_NODE_PASSPHRASE", None)
        with (home / "daemon.log").open("ab") as log:
            self.processes[node] = subprocess.Popen(
                argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=home, env=env
            )

    async def wait_ready(self, nodes: Iterable[str], timeout_s: float) -> None:
        pending = set(nodes)
        deadline = time.monotonic() + timeout_s
        while pending:
            for node in list(pending):
                if (self.homes[node] / "ready.json").exists():
                    pending.discard(node)
                elif self.processes[node].poll() is not None:
                    tail = (self.homes[node] / "daemon.log").read_text(errors="replace")[-2000:]
                    raise SystemExit(f"node {node} exited at start:\n{tail}")
            if time.monotonic() > deadline:
                raise SystemExit(f"nodes not ready after {timeout_s:.0f} s: {sorted(pending)}")
            await asyncio.sleep(0.1)

    def _session(self, node: str) -> aiohttp.ClientSession:
        session = self._sessions.get(node)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=str(self.homes[node] / "daemon.sock")),
                timeout=aiohttp.ClientTimeout(total=120),
            )
            self._sessions[node] = session
        return session

    async def forget_session(self, node: str) -> None:
        session = self._sessions.pop(node, None)
        if session is not None:
            await session.close()

    async def call(self, node: str, method: str, path: str, body: Any = None) -> Any:
        async with self._session(node).request(method, "http://node" + path, json=body) as response:
            data = await response.json()
            if response.status != 200:
                raise RuntimeError(f"{node} {path}: HTTP {response.status} {data}")
            return data

    async def status(self, nodes: Iterable[str]) -> dict[str, dict[str, Any]]:
        nodes = list(nodes)
        answers = await asyncio.gather(*(self.call(n, "GET", "/local/status") for n in nodes))
        return dict(zip(nodes, answers, strict=True))

    async def bench_stats(self, nodes: Iterable[str]) -> dict[str, dict[str, Any]]:
        nodes = list(nodes)
        if not self.instrumented:
            return {}
        answers = await asyncio.gather(*(self.call(n, "GET", "/bench/stats") for n in nodes))
        return dict(zip(nodes, answers, strict=True))

    async def stop(self, nodes: Iterable[str], timeout_s: float = 60.0) -> None:
        nodes = [n for n in nodes if n in self.processes and self.processes[n].poll() is None]
        for node in nodes:
            with contextlib.suppress(aiohttp.ClientError, OSError, RuntimeError):
                await self.call(node, "POST", "/local/stop")
            await self.forget_session(node)
        deadline = time.monotonic() + timeout_s
        for node in nodes:
            process = self.processes[node]
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    async def close(self) -> None:
        for node in list(self._sessions):
            await self.forget_session(node)
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


# --- publishing ---------------------------------------------------------------


@dataclass
class Sent:
    author: str
    kind: str
    sent_ms: float  # wall clock (time.time() x 1000) just before the request
    done_ms: float = 0.0
    envelope_id: str = ""
    error: str = ""


def _contents() -> list[tuple[str, Any]]:
    from ilo_node.formats.jsoncontent import content_to_json
    from protocol.examples import example
    from protocol.kinds import KINDS

    # half_year_contribution goes to the Presidency and the Commission only.
    return [
        (k, content_to_json(example(k))) for k in sorted(KINDS) if k != "half_year_contribution"
    ]


async def publish_steady(
    cluster: Cluster,
    authors: Sequence[str],
    count: int,
    rate: float,
    rng: random.Random,
    progress: Any,
) -> tuple[list[Sent], float]:
    """Publish ``count`` envelopes open-loop at ``rate``/s through random authors."""
    contents = _contents()
    sent: list[Sent] = []
    tasks: list[asyncio.Task[None]] = []

    async def one(record: Sent, content: Any) -> None:
        body = {"kind": record.kind, "content": content, "distribution": "local"}
        try:
            answer = await cluster.call(record.author, "POST", "/local/publish", body)
            record.envelope_id = answer["id"]
        except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        record.done_ms = time.time() * 1000

    start = time.monotonic()
    next_report = start + 10
    for i in range(count):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        kind, content = contents[i % len(contents)]
        record = Sent(rng.choice(authors), kind, time.time() * 1000)
        sent.append(record)
        tasks.append(asyncio.create_task(one(record, content)))
        if time.monotonic() >= next_report:
            pending = sum(1 for t in tasks if not t.done())
            progress(f"    published {i + 1}/{count} ({pending} requests pending)")
            next_report += 10
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    return sent, elapsed


async def wait_sizes(
    cluster: Cluster, nodes: Sequence[str], size: int, timeout_s: float, progress: Any
) -> float:
    """Wait until every node's log holds ``size`` envelopes; seconds it took."""
    start = time.monotonic()
    next_report = start + 10
    while True:
        statuses = await cluster.status(nodes)
        sizes = {n: s["log_size"] for n, s in statuses.items()}
        if all(v >= size for v in sizes.values()):
            break
        now = time.monotonic()
        if now - start > timeout_s:
            behind = {n: v for n, v in sizes.items() if v < size}
            raise SystemExit(f"not converged after {timeout_s:.0f} s (want {size}): {behind}")
        if now >= next_report:
            progress(f"    waiting: smallest log {min(sizes.values())}/{size}")
            next_report += 10
        await asyncio.sleep(0.2)
    converged = time.monotonic() - start
    return converged


# --- analysis -----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(min(rank, len(ordered))) - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "count": len(values),
        "min": min(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def read_logs(homes: dict[str, Path]) -> dict[str, dict[str, tuple[int, int]]]:
    """Per node: envelope id (hex) -> (received_ms, len(raw)), read-only."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for node, home in homes.items():
        conn = sqlite3.connect(f"file:{home / 'node.db'}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT id, received_ms, length(raw) FROM envelopes").fetchall()
        finally:
            conn.close()
        out[node] = {bytes(r[0]).hex(): (int(r[1]), int(r[2])) for r in rows}
    return out


def latency_report(
    sent: Sequence[Sent], logs: dict[str, dict[str, tuple[int, int]]]
) -> dict[str, Any]:
    pairs: list[float] = []
    from_author: list[float] = []
    last_node: list[float] = []
    publish_call: list[float] = []
    missing = 0
    for record in sent:
        if not record.envelope_id:
            continue
        publish_call.append((record.done_ms - record.sent_ms) / 1000)
        author_ms = logs[record.author][record.envelope_id][0]
        worst = 0.0
        for node, log in logs.items():
            if node == record.author:
                continue
            entry = log.get(record.envelope_id)
            if entry is None:
                missing += 1
                continue
            latency = (entry[0] - record.sent_ms) / 1000
            pairs.append(latency)
            from_author.append((entry[0] - author_ms) / 1000)
            worst = max(worst, latency)
        last_node.append(worst)
    sizes = [logs[r.author][r.envelope_id][1] for r in sent if r.envelope_id]
    return {
        "pairs": summary(pairs),
        "from_author_ingest": summary(from_author),
        "until_last_node": summary(last_node),
        "publish_call": summary(publish_call),
        "pairs_missing": missing,
        "envelope_bytes": summary([float(s) for s in sizes]),
    }


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """``after - before`` for nested dicts/lists of numbers."""
    if isinstance(after, dict):
        return {
            k: _delta(v, before.get(k, 0 if not isinstance(v, dict | list) else {}))
            for k, v in after.items()
        }
    if isinstance(after, list):
        base = before if isinstance(before, list) else [0] * len(after)
        return [a - b for a, b in zip(after, base, strict=True)]
    if isinstance(after, int | float) and isinstance(before, int | float):
        return after - before
    return after


def copies_report(
    stats: dict[str, dict[str, Any]],
    gossip: dict[str, dict[str, int]],
    envelopes: int,
    nodes: int,
) -> dict[str, Any]:
    pushed = sum(g.get("pushed", 0) for g in gossip.values())
    # Every node receives copies, the author included (relays may send it back), and
    # with flooding each node would get one from each of its nodes - 1 peers.
    pairs = envelopes * nodes
    out: dict[str, Any] = {
        "envelopes": envelopes,
        "receiving_pairs": pairs,
        "status_pushed_total": pushed,
        "status_estimate_per_node": pushed / pairs if pairs else 0.0,
        "status_sync_bytes_total": sum(g.get("sync_bytes", 0) for g in gossip.values()),
    }
    if not stats:
        return out
    per_node: dict[str, float] = {}
    totals = dict.fromkeys(
        ("received", "push", "sync_answers", "duplicates", "quarantined", "served_accepted"), 0
    )
    sent_by_role: dict[str, int] = {}
    accepted_by_role: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for node, s in stats.items():
        ing = s["ingest"]
        received = ing["envelopes"] - ing["published"]
        push_in = s["service"].get("envelopes_received", 0)
        totals["received"] += received
        totals["push"] += push_in
        totals["sync_answers"] += received - push_in
        totals["duplicates"] += ing["statuses"].get("duplicate", 0)
        totals["served_accepted"] += s["server"].get("/v1/envelopes", [0, 0, 0, 0])[3]
        totals["quarantined"] += ing["statuses"].get("quarantined", 0)
        for status, n in ing["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
        per_node[node] = received / envelopes if envelopes else 0.0
        for key, row in s["client"].items():
            if key.endswith("/v1/envelopes"):
                role = key.split(" ", 1)[0]
                sent_by_role[role] = sent_by_role.get(role, 0) + row[3]
                accepted_by_role[role] = accepted_by_role.get(role, 0) + row[4]
    synced = sum(g.get("synced_envelopes", 0) for g in gossip.values())
    deliveries = envelopes * (nodes - 1)
    published = sum(s["ingest"]["published"] for s in stats.values())
    # Accepted straight from a sync answer: the rest of what ingest accepted.
    from_answers = statuses.get("accepted", 0) - published - totals["served_accepted"]
    out.update(
        {
            "received_total": totals["received"],
            "per_node_per_envelope": totals["received"] / pairs if pairs else 0.0,
            "per_non_author_per_envelope": totals["received"] / deliveries,
            "by_way": {
                "push": totals["push"] / pairs,
                "sync_answers": totals["sync_answers"] / pairs,
            },
            "copies_pushed_by_role": sent_by_role,
            "copies_accepted_by_role": accepted_by_role,
            "ingest_statuses": statuses,
            "synced_envelopes": synced,
            "accepted_from_pushes_served": totals["served_accepted"],
            "duplicates_per_node_per_envelope": totals["duplicates"] / pairs,
            "per_node_min": min(per_node.values()),
            "per_node_max": max(per_node.values()),
            # How each (envelope, other node) pair was first delivered.
            "first_delivery": {
                "deliveries": deliveries,
                "push": accepted_by_role.get("push", 0) / deliveries,
                "sync_push_back": accepted_by_role.get("sync", 0) / deliveries,
                "sync_answer": from_answers / deliveries,
                "out_of_order_quarantined": totals["quarantined"] / deliveries,
            },
            "per_node": per_node,
        }
    )
    return out


def bytes_breakdown(stats: dict[str, Any]) -> dict[str, Any]:
    """Body bytes one node exchanged, by what they were for.

    ``anti-entropy``: the node's own sync exchanges (``/v1/sync``, push-backs, trust
    document diffs) and the ones it served, plus envelopes pushed to it by peers
    (after a partition, with nothing new being published, those are the peers'
    sync push-backs); ``push``: its own fanout pushes; ``witnessing``: checkpoints,
    cosignatures and consistency proofs, both ways.
    """
    groups: dict[str, int] = {}
    detail: dict[str, int] = {}
    requests = 0
    for key, row in stats["client"].items():
        role, path = key.split(" ", 1)
        group = {"witness": "witnessing", "push": "push"}.get(role, "anti-entropy")
        groups[group] = groups.get(group, 0) + row[1] + row[2]
        detail[f"own {role} {path}"] = row[1] + row[2]
        requests += row[0]
    for path, row in stats["server"].items():
        group = "witnessing" if path in _WITNESS_PATHS else "anti-entropy"
        groups[group] = groups.get(group, 0) + row[1] + row[2]
        detail[f"served {path}"] = row[1] + row[2]
        requests += row[0]
    return {
        "total": sum(groups.values()),
        "requests": requests,
        "groups": dict(sorted(groups.items())),
        "detail": dict(sorted(detail.items())),
    }


def _cpu_seconds(processes: Iterable[subprocess.Popen[bytes]]) -> float:
    """User + system CPU time of running processes, from /proc (0 where unavailable)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for process in processes:
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def wait_quiet(cluster: Cluster, nodes: Sequence[str], timeout_s: float) -> None:
    """Wait until no node ingests anything more and every push queue is empty for 1 s."""
    if not cluster.instrumented:
        await asyncio.sleep(2.0)
        return
    start = quiet_since = time.monotonic()
    last: Any = None
    while time.monotonic() - start < timeout_s:
        stats = await cluster.bench_stats(nodes)
        counts = {n: (s["ingest"]["envelopes"], s["queue"]) for n, s in stats.items()}
        if counts != last or any(q for _, q in counts.values()):
            last, quiet_since = counts, time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0:
            return
        await asyncio.sleep(0.25)


# --- the run ------------------------------------------------------------------


async def run(args: argparse.Namespace, say: Any) -> dict[str, Any]:
    from ilo_node.dev.netbuilder import build_network

    rng = random.Random(args.seed)
    nodes = node_ids(args.nodes)
    authors = [n for n in nodes if not n.startswith("COM@")]
    base = Path(tempfile.mkdtemp(prefix="ilo-gossip-bench-", dir=args.dir))
    ports = free_ports(len(nodes))
    endpoints = {n: f"http://127.0.0.1:{p}" for n, p in zip(nodes, ports, strict=True)}
    config = {
        "fanout": args.fanout,
        "sync_interval_s": args.sync_interval,
        "checkpoint_interval_s": args.checkpoint_interval,
    }
    t0 = time.monotonic()
    say(f"building a network of {len(nodes)} nodes in {base} ...")
    built = build_network(
        base / "net", nodes, network=NETWORK, endpoints=endpoints, passphrase=PASSPHRASE
    )
    homes = {n: h.path for n, h in built.nodes.items()}
    for home in homes.values():
        (home / "daemon.json").write_text(json.dumps(config))
    cluster = Cluster(base, homes, built.passphrase_file, instrumented=not args.plain)
    partition: dict[str, Any] = {}
    try:
        for node in nodes:
            cluster.start(node)
        await cluster.wait_ready(nodes, args.timeout)
        started_s = time.monotonic() - t0
        say(f"  {len(nodes)} nodes listening after {started_s:.1f} s")
        # Let the start-up catch-up finish, then measure what idle gossip costs.
        await wait_quiet(cluster, nodes, args.timeout)
        await asyncio.sleep(2.0)
        cpu0, idle0 = _cpu_seconds(cluster.processes.values()), time.monotonic()
        await asyncio.sleep(args.idle)
        idle_cores = (_cpu_seconds(cluster.processes.values()) - cpu0) / (time.monotonic() - idle0)
        say(f"  idle: the {len(nodes)} nodes use {idle_cores:.2f} cores with no traffic")

        # Phase 1: steady publishing, dissemination.
        before_status = await cluster.status(nodes)
        before_stats = await cluster.bench_stats(nodes)
        load_before = os.getloadavg()
        cpu1, wall1 = _cpu_seconds(cluster.processes.values()), time.monotonic()
        say(f"phase 1: {args.envelopes} envelopes at {args.rate:g}/s through random nodes")
        sent, publish_s = await publish_steady(
            cluster, authors, args.envelopes, args.rate, rng, say
        )
        errors = [s for s in sent if s.error]
        if errors:
            say(f"  {len(errors)} publish errors, first: {errors[0].error}")
        ok = len(sent) - len(errors)
        say(f"  published {ok} in {publish_s:.1f} s ({ok / publish_s:.1f}/s); converging ...")
        converge_s = await wait_sizes(cluster, nodes, ok, args.timeout, say)
        await wait_quiet(cluster, nodes, args.timeout)  # the last relays, for the copies
        cpu_phase1 = _cpu_seconds(cluster.processes.values()) - cpu1
        wall_phase1 = time.monotonic() - wall1
        load_during = os.getloadavg()
        after_status = await cluster.status(nodes)
        after_stats = await cluster.bench_stats(nodes)
        say(f"  every node holds all {ok} envelopes {converge_s:.1f} s after the last publish")
        gossip_delta = {
            n: _delta(after_status[n]["gossip"], before_status[n]["gossip"]) for n in nodes
        }
        stats_delta = {n: _delta(after_stats[n], before_stats[n]) for n in after_stats}
        copies = copies_report(stats_delta, gossip_delta, ok, len(nodes))
        failures: dict[str, int] = {}
        for delta in stats_delta.values():
            for reason, n in delta["failures"].items():
                if n:
                    failures[reason] = failures.get(reason, 0) + n
        busy_bytes = {n: bytes_breakdown(s)["total"] for n, s in stats_delta.items()}

        # Phase 2: partition one node, publish elsewhere, restart it, measure its catch-up.
        if args.missing > 0:
            partition = await run_partition(cluster, args, nodes, authors, ok, rng, say)
    finally:
        say("stopping the nodes ...")
        await cluster.stop(list(cluster.processes))
        await cluster.close()

    logs = read_logs(homes)
    latency = latency_report(sent, logs)
    if partition:
        finish_partition(partition, logs, nodes)

    from bench.protocol_bench import platform_info

    p99 = latency["pairs"].get("p99", float("inf"))
    copies_measured = copies.get("per_node_per_envelope", copies["status_estimate_per_node"])
    return {
        "benchmark": "gossip (bench/gossip_bench.py)",
        "platform": {
            **platform_info(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after_phase1": [round(x, 2) for x in load_during],
        },
        "command": "python bench/gossip_bench.py " + " ".join(sys.argv[1:]),
        "settings": {
            "nodes": len(nodes),
            "node_ids": nodes,
            "envelopes": args.envelopes,
            "rate_per_s": args.rate,
            "missing": args.missing,
            "missing_rate_per_s": args.missing_rate,
            "daemon_json": config,
            "instrumented": not args.plain,
            "seed": args.seed,
        },
        "issue": {
            "nodes": ISSUE_NODES,
            "envelopes": ISSUE_ENVELOPES,
            "rate_per_s": ISSUE_RATE,
            "full_size": (
                args.nodes == ISSUE_NODES
                and args.envelopes >= ISSUE_ENVELOPES
                and args.rate >= ISSUE_RATE
            ),
        },
        "startup_s": started_s,
        "idle_cores": idle_cores,
        "phase1": {
            "published": ok,
            "publish_errors": len(errors),
            "publish_s": publish_s,
            "achieved_rate_per_s": ok / publish_s if publish_s else 0.0,
            "converged_after_last_publish_s": converge_s,
            "cpu_seconds": cpu_phase1,
            "cores_busy": cpu_phase1 / wall_phase1 if wall_phase1 else 0.0,
            "cpu_ms_per_envelope": 1000 * cpu_phase1 / ok if ok else 0.0,
            "latency_s": latency,
            "copies": copies,
            "body_bytes_per_node": summary([float(v) for v in busy_bytes.values()]),
            "peer_failures": dict(sorted(failures.items(), key=lambda kv: -kv[1])),
        },
        "partition": partition,
        "targets": {
            "latency_p99": {
                "measured_s": p99,
                "target_s": TARGET_P99_S,
                "verdict": "PASS" if p99 <= TARGET_P99_S else "ABOVE",
            },
            "copies": {
                "measured": copies_measured,
                "target": TARGET_COPIES,
                "flooding": len(nodes) - 1,
                "verdict": ("PASS" if copies_measured <= TARGET_COPIES else "ABOVE")
                + ("" if "per_node_per_envelope" in copies else " (pushes only: a lower bound)"),
            },
            "anti_entropy": {
                "measured_bytes": partition.get("measured_bytes"),
                "target_bytes": partition.get("target_bytes"),
                "verdict": partition.get("verdict", "not run"),
            },
        },
        "home": str(base) if args.keep else None,
        "seconds": time.monotonic() - t0,
        "_cleanup": None if args.keep else str(base),
    }


async def run_partition(
    cluster: Cluster,
    args: argparse.Namespace,
    nodes: Sequence[str],
    authors: Sequence[str],
    logged: int,
    rng: random.Random,
    say: Any,
) -> dict[str, Any]:
    """Stop one node, publish ``--missing`` elsewhere, restart it and count its catch-up."""
    victim = rng.choice(authors)
    others = [n for n in nodes if n != victim]
    say(f"phase 2: stopping {victim}; {args.missing} envelopes through the others")
    await cluster.stop([victim])
    sent, _ = await publish_steady(
        cluster, [a for a in authors if a != victim], args.missing, args.missing_rate, rng, say
    )
    ok = sum(1 for s in sent if not s.error)
    await wait_sizes(cluster, others, logged + ok, args.timeout, say)
    await wait_quiet(cluster, others, args.timeout)
    others_before = await cluster.bench_stats(others)
    say(f"  the others hold all {logged + ok}; restarting {victim}")
    restart = time.monotonic()
    cluster.start(victim)
    await cluster.wait_ready([victim], args.timeout)
    ready_s = time.monotonic() - restart
    while True:
        status = (await cluster.status([victim]))[victim]
        if status["log_size"] >= logged + ok:
            break
        if time.monotonic() - restart > args.timeout:
            raise SystemExit(f"{victim} did not catch up in {args.timeout:.0f} s")
        await asyncio.sleep(0.05)
    caught_up_s = time.monotonic() - restart
    at_catch_up = (await cluster.bench_stats([victim])).get(victim)
    # The answers to its other sync requests, and its re-pushes, are still on their way:
    # count until it is quiet (nothing ingested, nothing queued, for 1 s).
    await wait_quiet(cluster, [victim], args.timeout)
    quiet_s = time.monotonic() - restart
    at_quiet = (await cluster.bench_stats([victim])).get(victim)
    others_after = await cluster.bench_stats(others)
    gossip = (await cluster.status([victim]))[victim]["gossip"]
    partition: dict[str, Any] = {
        "node": victim,
        "missing_envelopes": ok,
        "ready_s": ready_s,
        "caught_up_s": caught_up_s,
        "quiet_s": quiet_s,
        "status_gossip": gossip,
        "sent": sent,
    }
    if at_catch_up is not None and at_quiet is not None:
        partition["at_catch_up"] = bytes_breakdown(at_catch_up)
        partition["at_quiet"] = bytes_breakdown(at_quiet)
        partition["ingest"] = at_quiet["ingest"]
        partition["copies_it_pushed"] = {k: v[3] for k, v in at_quiet["client"].items() if v[3]}
        peers: dict[str, list[int]] = {}
        served = 0
        for node, after in others_after.items():
            delta = _delta(after, others_before[node])
            served += delta["served_to"].get(victim, 0)
            for key, row in delta["client"].items():
                if key.endswith("/v1/envelopes") and row[3]:
                    got = peers.setdefault(key.split(" ", 1)[0], [0, 0])
                    got[0] += row[3]
                    got[1] += row[4]
        partition["copies_peers_pushed"] = peers
        # What its peers wrote for its requests (full answers), against what it read.
        partition["served_by_peers"] = served
        partition["failures"] = {k: v for k, v in at_quiet["failures"].items() if v}
    return partition


def finish_partition(
    partition: dict[str, Any], logs: dict[str, dict[str, tuple[int, int]]], nodes: Sequence[str]
) -> None:
    ids = [s.envelope_id for s in partition.pop("sent") if s.envelope_id]
    source = next(n for n in nodes if n != partition["node"])
    missing_bytes = sum(logs[source][i][1] for i in ids)
    limit = TARGET_AE_FACTOR * missing_bytes + TARGET_AE_SLACK
    partition["missing_bytes"] = missing_bytes
    partition["target_bytes"] = limit
    partition["node_has_all"] = all(i in logs[partition["node"]] for i in ids)
    if "at_quiet" in partition:
        measured = partition["at_quiet"]["groups"].get("anti-entropy", 0)
        partition["measured_from"] = "instrumented: anti-entropy body bytes in and out"
    else:  # --plain: only the node's own client counter, which counts every request
        measured = partition["status_gossip"]["sync_bytes"]
        partition["measured_from"] = "/local/status sync_bytes (own requests only)"
    partition["measured_bytes"] = measured
    partition["ratio_to_missing"] = measured / missing_bytes if missing_bytes else None
    partition["verdict"] = "PASS" if measured <= limit else "ABOVE"


# --- report -------------------------------------------------------------------


def _fmt_lat(s: dict[str, float]) -> str:
    if not s:
        return "-"
    return (
        f"p50 {s['p50'] * 1000:7.0f}  p90 {s['p90'] * 1000:7.0f}  p99 {s['p99'] * 1000:7.0f}"
        f"  max {s['max'] * 1000:7.0f}  ms  (n={s['count']:.0f})"
    )


def print_text(r: dict[str, Any]) -> None:
    p, s, ph = r["platform"], r["settings"], r["phase1"]
    issue = r["issue"]
    print("Gossip benchmark (bench/gossip_bench.py)")
    print(f"  date       {p['date']}")
    print(f"  cpu        {p['cpu_model']} ({p['nproc']} usable CPUs), all nodes on this machine")
    print(f"  python     {p['python']} on {p['platform']}")
    print(f"  load       {p['loadavg_before']} before, {p['loadavg_after_phase1']} after phase 1")
    print(f"  command    {r['command']}")
    run_size = f"{s['nodes']} node processes, {s['envelopes']} envelopes at {s['rate_per_s']:g}/s"
    if issue["full_size"]:
        print(f"  workload   {run_size} (the issue's full size)")
    else:
        print(f"  workload   {run_size}")
        print(
            f"             NOT the issue's full size ({issue['nodes']} nodes, "
            f"{issue['envelopes']:,} envelopes at {issue['rate_per_s']:g}/s): every node is a"
        )
        print("             Python process on this machine's cores (see docs/performance.md)")
    print(
        f"  network    one local network, {s['nodes'] - 1} Member States @{HOST} + COM@EU; "
        f"daemon.json {json.dumps(s['daemon_json'])}"
    )
    counting = (
        "instrumented launcher (counters at /bench/stats)"
        if s["instrumented"]
        else "plain ilo-node run (status counters only)"
    )
    print(f"  counting   {counting}")
    print(
        f"  start-up   {r['startup_s']:.1f} s for all nodes to listen; idle, they use "
        f"{r['idle_cores']:.2f} cores"
    )
    print()
    lat = ph["latency_s"]
    print(
        f"Phase 1: published {ph['published']} in {ph['publish_s']:.1f} s "
        f"({ph['achieved_rate_per_s']:.1f}/s, {ph['publish_errors']} errors); every node had "
        f"them {ph['converged_after_last_publish_s']:.1f} s after the last publish"
    )
    print(
        f"  cpu        {ph['cpu_seconds']:.0f} s over the nodes ({ph['cores_busy']:.2f} cores "
        f"busy on average), {ph['cpu_ms_per_envelope']:.0f} ms per envelope"
    )
    eb = lat["envelope_bytes"]
    print(f"  envelopes  {eb['min']:.0f}-{eb['max']:.0f} B, mean {eb['mean']:.0f} B")
    print("  latency, publish request sent -> received_ms at each other node:")
    print(f"             {_fmt_lat(lat['pairs'])}")
    print("  latency, author's own ingest -> each other node:")
    print(f"             {_fmt_lat(lat['from_author_ingest'])}")
    print("  latency, publish request sent -> the last node has it (per envelope):")
    print(f"             {_fmt_lat(lat['until_last_node'])}")
    print(f"  publish API call {_fmt_lat(lat['publish_call'])}")
    c = ph["copies"]
    if "per_node_per_envelope" in c:
        print(
            f"  copies received per node per envelope: {c['per_node_per_envelope']:.2f} "
            f"(pushed to it {c['by_way']['push']:.2f}, in its sync answers "
            f"{c['by_way']['sync_answers']:.2f}; duplicates "
            f"{c['duplicates_per_node_per_envelope']:.2f}; per node {c['per_node_min']:.2f}-"
            f"{c['per_node_max']:.2f}; flooding {s['nodes'] - 1})"
        )
        print(f"    copies sent as /v1/envelopes, by gossip role: {c['copies_pushed_by_role']}")
        fd = c["first_delivery"]
        print(
            f"    first delivery of the {fd['deliveries']} (envelope, other node) pairs: "
            f"push {fd['push']:.1%}, sync push-back {fd['sync_push_back']:.1%}, "
            f"sync answer {fd['sync_answer']:.1%}; arrived out of order (quarantined first) "
            f"{fd['out_of_order_quarantined']:.1%}"
        )
    print(
        f"  status counters: sum of 'pushed' / (envelopes x nodes) = "
        f"{c['status_estimate_per_node']:.2f} (push only)"
    )
    bb = ph["body_bytes_per_node"]
    if bb:
        print(
            f"  peer API body bytes per node: median {bb['p50'] / 1e6:.1f} MB, "
            f"max {bb['max'] / 1e6:.1f} MB"
        )
    failures = ph.get("peer_failures") or {}
    if s["instrumented"]:
        print(f"  peer calls that failed (gossip marks the peer down): {sum(failures.values())}")
    for reason, n in list(failures.items())[:5]:
        print(f"    {n:>6} x {reason[:100]}")
    part = r["partition"]
    if part:
        print()
        print(
            f"Phase 2: {part['node']} stopped, {part['missing_envelopes']} envelopes "
            f"({part['missing_bytes']:,} B) published through the others, {part['node']} restarted"
        )
        print(
            f"  listening after {part['ready_s']:.1f} s, all envelopes after "
            f"{part['caught_up_s']:.1f} s, quiet after {part['quiet_s']:.1f} s "
            f"(has every missing envelope: {part['node_has_all']})"
        )
        if "at_quiet" in part:
            aq, ac = part["at_quiet"], part["at_catch_up"]
            print(
                f"  body bytes in and out of {part['node']} from its start until quiet: "
                f"{aq['total']:,} B in {aq['requests']} requests "
                f"({ac['total']:,} B when its log first held everything)"
            )
            for group, n in aq["groups"].items():
                print(f"    {group:<40} {n:>12,} B  {n / part['missing_bytes']:6.2f} x missing")
            for key, n in aq["detail"].items():
                print(f"      {key:<38} {n:>12,} B")
            ing = part["ingest"]
            print(
                f"  envelopes passed to its ingest: {ing['envelopes']} {ing['statuses']} "
                f"for {part['missing_envelopes']} missing"
            )
            print(f"  copies it pushed on: {part['copies_it_pushed']}")
            print(
                f"  body bytes its peers read and wrote for its requests (full answers): "
                f"{part['served_by_peers']:,} B"
            )
            for reason, n in sorted(part["failures"].items(), key=lambda kv: -kv[1])[:5]:
                print(f"  its failed peer calls: {n} x {reason[:90]}")
            print(
                f"  copies its peers sent as /v1/envelopes [sent, accepted]: "
                f"{part['copies_peers_pushed']}"
            )
        g = part["status_gossip"]
        print(
            f"  its /local/status gossip: sync_bytes {g['sync_bytes']:,}, "
            f"synced_envelopes {g['synced_envelopes']}, pushed {g['pushed']}"
        )
    print()
    print(f"  {'target':<44} {'measured':>14} {'target':>14}  verdict")
    t = r["targets"]
    print(
        f"  {'latency p99 (all envelope-node pairs)':<44} "
        f"{t['latency_p99']['measured_s'] * 1000:>11.0f} ms {TARGET_P99_S * 1000:>11.0f} ms"
        f"  {t['latency_p99']['verdict']}"
    )
    print(
        f"  {'copies received per node per envelope':<44} {t['copies']['measured']:>14.2f} "
        f"{TARGET_COPIES:>14.2f}  {t['copies']['verdict']}"
    )
    ae = t["anti_entropy"]
    if ae["measured_bytes"] is not None:
        print(
            f"  {'anti-entropy bytes after the partition':<44} {ae['measured_bytes']:>12,} B "
            f"{ae['target_bytes']:>12,.0f} B  {ae['verdict']}"
        )
        print(f"  {'':<44} ({part['ratio_to_missing']:.2f} x missing; target 1.1 x + 4 KiB)")
    if not issue["full_size"]:
        print(
            f"  (the targets are the issue's, for {issue['nodes']} nodes at "
            f"{issue['rate_per_s']:g}/s; this run: {s['nodes']} nodes at {s['rate_per_s']:g}/s)"
        )
    print(f"  total {r['seconds']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child_main(argv[2:] if argv[1:2] == ["--"] else argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--nodes",
        type=int,
        default=DEFAULT_NODES,
        help=f"node processes (default {DEFAULT_NODES}; issue {ISSUE_NODES})",
    )
    parser.add_argument(
        "--envelopes",
        type=int,
        default=DEFAULT_ENVELOPES,
        help=f"envelopes published in phase 1 (default {DEFAULT_ENVELOPES}; issue "
        f"{ISSUE_ENVELOPES})",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"steady publishing rate, envelopes/s (default {DEFAULT_RATE:g}; issue "
        f"{ISSUE_RATE:g})",
    )
    parser.add_argument(
        "--missing",
        type=int,
        default=DEFAULT_MISSING,
        help=f"envelopes published while one node is down (default {DEFAULT_MISSING}; 0 skips "
        "the partition)",
    )
    parser.add_argument(
        "--missing-rate",
        type=float,
        default=None,
        help="publishing rate while the node is down (default: --rate)",
    )
    parser.add_argument("--fanout", type=int, default=2, help="daemon.json fanout (default 2)")
    parser.add_argument(
        "--sync-interval", type=float, default=2.0, help="daemon.json sync_interval_s (default 2)"
    )
    parser.add_argument(
        "--checkpoint-interval",
        type=float,
        default=5.0,
        help="daemon.json checkpoint_interval_s (default 5)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=5.0,
        help="seconds of no traffic over which the nodes' idle CPU is measured (default 5)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="per wait (default 600 s)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the choice of authors")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="run plain 'python -m ilo_node run' (no counters beyond /local/status)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="where the node homes go")
    parser.add_argument("--keep", action="store_true", help="keep the node homes")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--save", type=Path, default=None, help="also write the JSON object here")
    args = parser.parse_args(argv)
    if args.envelopes < 1 or args.rate <= 0 or args.missing < 0:
        parser.error("--envelopes must be >= 1, --rate > 0, --missing >= 0")
    if args.missing_rate is None:
        args.missing_rate = args.rate

    def say(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    result = asyncio.run(run(args, say))
    cleanup = result.pop("_cleanup")
    if cleanup:
        shutil.rmtree(cleanup, ignore_errors=True)
    if args.save is not None:
        args.save.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print()
        print_text(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
