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

The nodes are plain ``ilo-node run`` processes run by
:class:`ilo_node.dev.launcher.Launcher`. Every count is one the nodes keep of
themselves, ``GET /local/status`` ``"counters"`` (differences between two
snapshots), and every time comes from their databases; nothing in the product
is wrapped. docs/performance.md says what each figure means. In short:

* **Network.** ``--nodes - 1`` Member States posted to ``TR`` and ``COM@EU``, one
  local network (every node a peer of every other, every node a recipient of
  distribution ``local``), ``daemon.json`` from ``--fanout``, ``--sync-interval``
  and ``--checkpoint-interval``.
* **Phase 1, dissemination.** ``--envelopes`` envelopes published open-loop at
  ``--rate`` through ``POST /local/publish`` of random Member State nodes.
  Latency = ``envelopes.received_ms`` in each other node's ``node.db`` - the
  time the publish request was sent (one machine, one clock).
* **Copies** a node received = ``push_copies.received`` (fanout pushes and sync
  push-backs, duplicates included) + ``ingest`` ``sync.*`` (envelopes in its sync
  answers), summed over the nodes and divided by envelopes x nodes (flooding:
  ``nodes - 1``). First deliveries: the senders' ``gossip.push_accepted`` and
  ``gossip.pushed_back_accepted``, the receivers' ``ingest`` ``sync.accepted``
  and ``*.quarantined`` (arrived before its predecessor).
* **Phase 2, anti-entropy after a partition.** One node is stopped,
  ``--missing`` envelopes go through the others, it is restarted. Its counters
  start at zero with the new process, so once it is quiet (its log holds every
  envelope; nothing ingested, sent or queued for 1 s) they hold what it
  exchanged since its start: body bytes of the peer requests it made
  (``bytes_out``/``bytes_in`` by role) and served (``served_bytes_*`` by
  route). The anti-entropy group (role ``sync``; served ``/v1/sync``,
  ``/v1/envelopes``, ``/v1/documents*``) is set against the ``raw`` bytes of
  the missing envelopes; its own fanout pushes and witnessing are apart.
* **CPU.** User + system time of the node processes (``/proc/PID/stat``) over
  ``--idle`` seconds of no traffic, and over phase 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench.protocol_bench import platform_info  # noqa: E402
from ilo_node.dev.launcher import Launcher, LaunchError, free_ports  # noqa: E402
from ilo_node.dev.netbuilder import build_network  # noqa: E402
from ilo_node.errors import ClientError  # noqa: E402
from ilo_node.formats.jsoncontent import content_to_json  # noqa: E402
from protocol.envelope import REFERENCE_KINDS  # noqa: E402
from protocol.errors import IloError  # noqa: E402
from protocol.examples import example  # noqa: E402
from protocol.identifiers import MEMBER_STATES  # noqa: E402
from protocol.kinds import KINDS  # noqa: E402

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

#: Seconds between two polls of the nodes' status.
POLL_S = 0.2
#: Seconds with nothing ingested, sent or queued after which a node counts as quiet.
QUIET_S = 1.0
#: Concurrent publish requests at most: enough for the loop to stay open at 50/s.
PUBLISH_THREADS = 64

#: A node's counters: group -> key -> count (``GET /local/status`` ``"counters"``).
Counters = dict[str, dict[str, int]]
Say = Callable[[str], None]

_ROLE_GROUPS = {"sync": "anti-entropy", "push": "push", "witness": "witnessing"}
_ROUTE_GROUPS = {
    "/v1/sync": "anti-entropy",
    "/v1/envelopes": "anti-entropy",
    "/v1/documents/diff": "anti-entropy",
    "/v1/documents": "anti-entropy",
    "/v1/checkpoint": "witnessing",
    "/v1/cosign": "witnessing",
    "/v1/witnessed": "witnessing",
    "/v1/consistency": "witnessing",
}


def node_ids(count: int) -> list[str]:
    """``count - 1`` Member States in TR (sorted) and COM@EU: one local network."""
    states = sorted(MEMBER_STATES)
    if not 3 <= count <= len(states) + 1:
        raise SystemExit(f"--nodes must be between 3 and {len(states) + 1}")
    return sorted([f"{s}@{HOST}" for s in states[: count - 1]] + ["COM@EU"])


# --- the nodes' counters ------------------------------------------------------


def statuses(launcher: Launcher, nodes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``GET /local/status`` of each node (a node that does not answer ends the run)."""
    out: dict[str, dict[str, Any]] = {}
    for node in nodes:
        out[node] = launcher.call(node, "GET", "/local/status")
    return out


def counters(launcher: Launcher, nodes: Iterable[str]) -> dict[str, Counters]:
    return {n: s["counters"] for n, s in statuses(launcher, nodes).items()}


def delta(after: Counters, before: Counters) -> Counters:
    return {
        group: {k: v - before.get(group, {}).get(k, 0) for k, v in values.items()}
        for group, values in after.items()
    }


def total(c: Counters, group: str, keys: Callable[[str], bool] = lambda _: True) -> int:
    return sum(v for k, v in c.get(group, {}).items() if keys(k))


def merged(many: Iterable[Counters], group: str) -> dict[str, int]:
    """One group summed over nodes, without the keys that stayed at zero."""
    out: dict[str, int] = {}
    for c in many:
        for k, v in c.get(group, {}).items():
            out[k] = out.get(k, 0) + v
    return {k: v for k, v in sorted(out.items()) if v}


def _activity(c: Counters) -> int:
    return total(c, "ingest") + total(c, "gossip", lambda k: k in ("pushed", "pushed_back"))


def wait_sizes(
    launcher: Launcher, nodes: Sequence[str], size: int, timeout_s: float, say: Say
) -> float:
    """Poll until every node's log holds ``size`` envelopes; the seconds it took."""
    start = time.monotonic()
    next_report = start + 10
    while True:
        sizes = {n: s["log_size"] for n, s in statuses(launcher, nodes).items()}
        if all(v >= size for v in sizes.values()):
            return time.monotonic() - start
        now = time.monotonic()
        if now - start > timeout_s:
            behind = {n: v for n, v in sizes.items() if v < size}
            raise SystemExit(f"not converged after {timeout_s:.0f} s (want {size}): {behind}")
        if now >= next_report:
            say(f"    waiting: smallest log {min(sizes.values())}/{size}")
            next_report += 10
        time.sleep(POLL_S)


def wait_quiet(launcher: Launcher, nodes: Sequence[str], timeout_s: float) -> None:
    """Poll until no node ingested or sent an envelope, and every push queue stayed
    empty, for ``QUIET_S``."""
    start = quiet_since = time.monotonic()
    last: dict[str, tuple[int, int]] = {}
    while True:
        now_status = statuses(launcher, nodes)
        marks = {n: (_activity(s["counters"]), int(s["queue"])) for n, s in now_status.items()}
        now = time.monotonic()
        if marks != last or any(queue for _, queue in marks.values()):
            last, quiet_since = marks, now
        elif now - quiet_since >= QUIET_S:
            return
        if now - start > timeout_s:
            raise SystemExit(f"nodes not quiet after {timeout_s:.0f} s")
        time.sleep(POLL_S)


def cpu_seconds(launcher: Launcher) -> float:
    """User + system CPU time of the running nodes, from /proc (0 where unavailable)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    spent = 0
    for node in launcher.nodes.values():
        try:
            stat = Path(f"/proc/{node.process.pid}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        spent += int(fields[11]) + int(fields[12])  # utime, stime
    return spent / ticks


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
    # half_year_contribution goes to the Presidency and the Commission only.
    return [
        (k, content_to_json(example(k)))
        for k in sorted(KINDS)
        if k != "half_year_contribution" and k not in REFERENCE_KINDS
    ]


def publish_steady(
    launcher: Launcher,
    authors: Sequence[str],
    count: int,
    rate: float,
    rng: random.Random,
    say: Say,
) -> tuple[list[Sent], float]:
    """Publish ``count`` envelopes open-loop at ``rate``/s through random authors; each
    request runs in a thread of its own, so that a slow answer delays no other one."""
    contents = _contents()
    sent: list[Sent] = []

    def one(record: Sent, content: Any) -> None:
        body = {"kind": record.kind, "content": content, "distribution": "local"}
        try:
            record.envelope_id = launcher.call(record.author, "POST", "/local/publish", body)["id"]
        except ClientError as exc:
            record.error = exc.message
        record.done_ms = time.time() * 1000

    start = time.monotonic()
    next_report = start + 10
    with ThreadPoolExecutor(PUBLISH_THREADS, thread_name_prefix="publish") as pool:
        futures = []
        for i in range(count):
            # The schedule of an open loop: request i leaves at i / rate seconds.
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            kind, content = contents[i % len(contents)]
            record = Sent(rng.choice(authors), kind, time.time() * 1000)
            sent.append(record)
            futures.append(pool.submit(one, record, content))
            if time.monotonic() >= next_report:
                pending = sum(1 for f in futures if not f.done())
                say(f"    published {i + 1}/{count} ({pending} requests pending)")
                next_report += 10
        for future in futures:
            future.result()
    return sent, time.monotonic() - start


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


def read_logs(homes: Mapping[str, Path]) -> dict[str, dict[str, tuple[int, int]]]:
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
    sent: Sequence[Sent], logs: Mapping[str, Mapping[str, tuple[int, int]]]
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
    sizes = [float(logs[r.author][r.envelope_id][1]) for r in sent if r.envelope_id]
    return {
        "pairs": summary(pairs),
        "from_author_ingest": summary(from_author),
        "until_last_node": summary(last_node),
        "publish_call": summary(publish_call),
        "pairs_missing": missing,
        "envelope_bytes": summary(sizes),
    }


def _from(sources: tuple[str, ...], outcomes: tuple[str, ...] = ()) -> Callable[[str], bool]:
    """An ``ingest`` key filter: ``"<source>.<status>"`` from these sources (and statuses)."""

    def keep(key: str) -> bool:
        source, _, status = key.partition(".")
        return source in sources and (not outcomes or status in outcomes)

    return keep


def copies_report(deltas: Mapping[str, Counters], envelopes: int) -> dict[str, Any]:
    nodes = len(deltas)
    # Every node receives copies, the author included (relays may send it back), and
    # with flooding each node would get one from each of its nodes - 1 peers.
    pairs = envelopes * nodes
    deliveries = envelopes * (nodes - 1)
    per_node: dict[str, float] = {}
    push_in = sync_in = 0
    for node, c in deltas.items():
        pushed_to_it = c.get("push_copies", {}).get("received", 0)
        in_answers = total(c, "ingest", _from(("sync",)))
        push_in += pushed_to_it
        sync_in += in_answers
        per_node[node] = (pushed_to_it + in_answers) / envelopes
    values = list(deltas.values())
    ingest = merged(values, "ingest")
    gossip = merged(values, "gossip")
    received = push_in + sync_in
    duplicates = sum(v for k, v in ingest.items() if _from(("push", "sync"), ("duplicate",))(k))
    out_of_order = sum(v for k, v in ingest.items() if _from(("push", "sync"), ("quarantined",))(k))
    return {
        "envelopes": envelopes,
        "receiving_pairs": pairs,
        "received_total": received,
        "per_node_per_envelope": received / pairs,
        "per_non_author_per_envelope": received / deliveries,
        "by_way": {"push": push_in / pairs, "sync_answers": sync_in / pairs},
        "duplicates_per_node_per_envelope": duplicates / pairs,
        "per_node_min": min(per_node.values()),
        "per_node_max": max(per_node.values()),
        # Sent by the push loops (exactly `fanout` per node that accepted an envelope)
        # and by anti-entropy push-backs, per node per envelope.
        "sent_per_node_per_envelope": {
            "push": gossip.get("pushed", 0) / pairs,
            "sync_push_back": gossip.get("pushed_back", 0) / pairs,
        },
        "first_delivery": {
            "deliveries": deliveries,
            "push": gossip.get("push_accepted", 0) / deliveries,
            "sync_push_back": gossip.get("pushed_back_accepted", 0) / deliveries,
            "sync_answer": ingest.get("sync.accepted", 0) / deliveries,
            "out_of_order_quarantined": out_of_order / deliveries,
        },
        "ingest": ingest,
        "gossip": gossip,
        "per_node": per_node,
    }


def bytes_breakdown(c: Counters) -> dict[str, Any]:
    """Body bytes one node exchanged, by what they were for (see the module docstring)."""
    groups: dict[str, int] = {}
    detail: dict[str, int] = {}
    roles = set(c.get("bytes_out", {})) | set(c.get("bytes_in", {}))
    for role in sorted(roles):
        n = c.get("bytes_out", {}).get(role, 0) + c.get("bytes_in", {}).get(role, 0)
        group = _ROLE_GROUPS.get(role, role)
        groups[group] = groups.get(group, 0) + n
        detail[f"own {role} requests"] = n
    routes = set(c.get("served_bytes_in", {})) | set(c.get("served_bytes_out", {}))
    for route in sorted(routes):
        n = c.get("served_bytes_in", {}).get(route, 0) + c.get("served_bytes_out", {}).get(route, 0)
        group = _ROUTE_GROUPS.get(route, "other")
        groups[group] = groups.get(group, 0) + n
        detail[f"served {route}"] = n
    return {
        "total": sum(groups.values()),
        "requests": total(c, "requests_out") + total(c, "served_requests"),
        "groups": dict(sorted(groups.items())),
        "detail": detail,
    }


# --- the run ------------------------------------------------------------------


def run(args: argparse.Namespace, say: Say) -> dict[str, Any]:
    rng = random.Random(args.seed)
    nodes = node_ids(args.nodes)
    authors = [n for n in nodes if not n.startswith("COM@")]
    base = Path(tempfile.mkdtemp(prefix="ilo-gossip-bench-", dir=args.dir))
    ports = free_ports(len(nodes))
    endpoints = {n: f"https://127.0.0.1:{p}" for n, p in zip(nodes, ports, strict=True)}
    config = {
        "fanout": args.fanout,
        "sync_interval_s": args.sync_interval,
        "checkpoint_interval_s": args.checkpoint_interval,
        # Every node dials from 127.0.0.1 here, up to 4 connections per peer: the
        # per-address cap meant for one node per address would refuse them.
        "max_connections_per_address": 4 * len(nodes) + 16,
    }
    t0 = time.monotonic()
    say(f"building a network of {len(nodes)} nodes in {base} ...")
    built = build_network(
        base / "net", nodes, network=NETWORK, endpoints=endpoints, passphrase=PASSPHRASE
    )
    homes = {n: h.path for n, h in built.nodes.items()}
    for home in homes.values():
        (home / "daemon.json").write_text(json.dumps(config))
    partition: dict[str, Any] = {}
    with Launcher(
        built.passphrase_file, log_level=os.environ.get("ILO_NODE_LOG", "WARNING")
    ) as launcher:
        for node in nodes:
            launcher.start(node, homes[node])
        launcher.wait_ready(nodes, args.timeout)
        started_s = time.monotonic() - t0
        say(f"  {len(nodes)} nodes listening after {started_s:.1f} s")
        # Let the start-up catch-up finish, then measure what idle gossip costs.
        wait_quiet(launcher, nodes, args.timeout)
        cpu0, idle0 = cpu_seconds(launcher), time.monotonic()
        time.sleep(args.idle)  # the measurement window itself
        idle_cores = (cpu_seconds(launcher) - cpu0) / (time.monotonic() - idle0)
        say(f"  idle: the {len(nodes)} nodes use {idle_cores:.2f} cores with no traffic")

        # Phase 1: steady publishing, dissemination.
        before = counters(launcher, nodes)
        load_before = os.getloadavg()
        cpu1, wall1 = cpu_seconds(launcher), time.monotonic()
        say(f"phase 1: {args.envelopes} envelopes at {args.rate:g}/s through random nodes")
        sent, publish_s = publish_steady(launcher, authors, args.envelopes, args.rate, rng, say)
        errors = [s for s in sent if s.error]
        if errors:
            say(f"  {len(errors)} publish errors, first: {errors[0].error}")
        ok = len(sent) - len(errors)
        say(f"  published {ok} in {publish_s:.1f} s ({ok / publish_s:.1f}/s); converging ...")
        converge_s = wait_sizes(launcher, nodes, ok, args.timeout, say)
        wait_quiet(launcher, nodes, args.timeout)  # the last relays, for the copies
        cpu_phase1 = cpu_seconds(launcher) - cpu1
        wall_phase1 = time.monotonic() - wall1
        load_during = os.getloadavg()
        after = counters(launcher, nodes)
        say(f"  every node holds all {ok} envelopes {converge_s:.1f} s after the last publish")
        deltas = {n: delta(after[n], before[n]) for n in nodes}
        copies = copies_report(deltas, ok)
        failures = merged(deltas.values(), "peer_failures")
        busy_bytes = [float(bytes_breakdown(c)["total"]) for c in deltas.values()]

        # Phase 2: partition one node, publish elsewhere, restart it, count its catch-up.
        if args.missing > 0:
            partition = run_partition(launcher, args, nodes, authors, ok, rng, say)
        say("stopping the nodes ...")
    # The nodes are stopped (each signed a last checkpoint): their databases are final.
    logs = read_logs(homes)
    latency = latency_report(sent, logs)
    if partition:
        finish_partition(partition, logs, nodes)

    p99 = latency["pairs"].get("p99", float("inf"))
    copies_measured = copies["per_node_per_envelope"]
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
            "body_bytes_per_node": summary(busy_bytes),
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
                "verdict": "PASS" if copies_measured <= TARGET_COPIES else "ABOVE",
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


def run_partition(
    launcher: Launcher,
    args: argparse.Namespace,
    nodes: Sequence[str],
    authors: Sequence[str],
    logged: int,
    rng: random.Random,
    say: Say,
) -> dict[str, Any]:
    """Stop one node, publish ``--missing`` elsewhere, restart it and count its catch-up."""
    victim = rng.choice(authors)
    others = [n for n in nodes if n != victim]
    say(f"phase 2: stopping {victim}; {args.missing} envelopes through the others")
    launcher.stop([victim])
    live = [a for a in authors if a != victim]
    sent, _ = publish_steady(launcher, live, args.missing, args.missing_rate, rng, say)
    ok = sum(1 for s in sent if not s.error)
    want = logged + ok
    wait_sizes(launcher, others, want, args.timeout, say)
    wait_quiet(launcher, others, args.timeout)
    others_before = counters(launcher, others)
    say(f"  the others hold all {want}; restarting {victim}")
    restart = time.monotonic()
    launcher.start(victim, launcher.homes[victim])
    launcher.wait_ready([victim], args.timeout)
    ready_s = time.monotonic() - restart
    while True:
        status = statuses(launcher, [victim])[victim]
        if status["log_size"] >= want:
            break
        if time.monotonic() - restart > args.timeout:
            raise SystemExit(f"{victim} did not catch up in {args.timeout:.0f} s")
        time.sleep(0.05)  # a poll, finer than POLL_S: the catch-up takes a few seconds
    caught_up_s = time.monotonic() - restart
    at_catch_up: Counters = status["counters"]
    # Answers to its last requests, and its relays, may still be on their way: count
    # until it is quiet.
    wait_quiet(launcher, [victim], args.timeout)
    quiet_s = time.monotonic() - restart
    at_quiet = counters(launcher, [victim])[victim]
    others_after = counters(launcher, others)
    peers = merged((delta(others_after[n], others_before[n]) for n in others), "gossip")
    return {
        "node": victim,
        "missing_envelopes": ok,
        "ready_s": ready_s,
        "caught_up_s": caught_up_s,
        "quiet_s": quiet_s,
        "at_catch_up": bytes_breakdown(at_catch_up),
        "at_quiet": bytes_breakdown(at_quiet),
        "ingest": merged([at_quiet], "ingest"),
        "gossip": merged([at_quiet], "gossip"),
        "peers_gossip": peers,
        "failures": merged([at_quiet], "peer_failures"),
        "sent": sent,
    }


def finish_partition(
    partition: dict[str, Any],
    logs: Mapping[str, Mapping[str, tuple[int, int]]],
    nodes: Sequence[str],
) -> None:
    sent: list[Sent] = partition.pop("sent")
    ids = [s.envelope_id for s in sent if s.envelope_id]
    source = next(n for n in nodes if n != partition["node"])
    missing_bytes = sum(logs[source][i][1] for i in ids)
    limit = TARGET_AE_FACTOR * missing_bytes + TARGET_AE_SLACK
    measured = partition["at_quiet"]["groups"].get("anti-entropy", 0)
    partition["missing_bytes"] = missing_bytes
    partition["target_bytes"] = limit
    partition["node_has_all"] = all(i in logs[partition["node"]] for i in ids)
    partition["measured_bytes"] = measured
    partition["ratio_to_missing"] = measured / missing_bytes if missing_bytes else None
    partition["verdict"] = "PASS" if measured <= limit else "ABOVE"


# --- report -------------------------------------------------------------------


def _fmt_lat(s: Mapping[str, float]) -> str:
    if not s:
        return "-"
    return (
        f"p50 {s['p50'] * 1000:7.0f}  p90 {s['p90'] * 1000:7.0f}  p99 {s['p99'] * 1000:7.0f}"
        f"  max {s['max'] * 1000:7.0f}  ms  (n={s['count']:.0f})"
    )


def print_text(r: dict[str, Any]) -> None:
    p, s, ph, issue = r["platform"], r["settings"], r["phase1"], r["issue"]
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
    print(
        f"  copies received per node per envelope: {c['per_node_per_envelope']:.2f} "
        f"(pushed to it {c['by_way']['push']:.2f}, in its sync answers "
        f"{c['by_way']['sync_answers']:.2f}; duplicates "
        f"{c['duplicates_per_node_per_envelope']:.2f}; per node {c['per_node_min']:.2f}-"
        f"{c['per_node_max']:.2f}; flooding {s['nodes'] - 1})"
    )
    sent = c["sent_per_node_per_envelope"]
    print(
        f"    copies sent per node per envelope: push loop {sent['push']:.2f}, "
        f"sync push-backs {sent['sync_push_back']:.2f}"
    )
    fd = c["first_delivery"]
    print(
        f"    first delivery of the {fd['deliveries']} (envelope, other node) pairs: "
        f"push {fd['push']:.1%}, sync push-back {fd['sync_push_back']:.1%}, "
        f"sync answer {fd['sync_answer']:.1%}; arrived out of order (quarantined first) "
        f"{fd['out_of_order_quarantined']:.1%}"
    )
    bb = ph["body_bytes_per_node"]
    print(
        f"  peer API body bytes per node: median {bb['p50'] / 1e6:.1f} MB, "
        f"max {bb['max'] / 1e6:.1f} MB"
    )
    failures = ph["peer_failures"]
    print(f"  peer calls that failed (gossip backs the peer off): {sum(failures.values())}")
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
        print(f"  its ingest: {part['ingest']} for {part['missing_envelopes']} missing")
        print(f"  its gossip: {part['gossip']}")
        print(f"  its peers' gossip meanwhile: {part['peers_gossip']}")
        for reason, n in sorted(part["failures"].items(), key=lambda kv: -kv[1])[:5]:
            print(f"  its failed peer calls: {n} x {reason[:90]}")
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
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--nodes", type=int, default=DEFAULT_NODES, help=f"node processes (issue {ISSUE_NODES})")
    add(
        "--envelopes",
        type=int,
        default=DEFAULT_ENVELOPES,
        help=f"envelopes published in phase 1 (issue {ISSUE_ENVELOPES})",
    )
    add("--rate", type=float, default=DEFAULT_RATE, help=f"envelopes/s (issue {ISSUE_RATE:g})")
    add(
        "--missing",
        type=int,
        default=DEFAULT_MISSING,
        help="envelopes published while one node is down (0 skips the partition)",
    )
    add("--missing-rate", type=float, default=None, help="rate while it is down; None: --rate")
    add("--fanout", type=int, default=2, help="daemon.json fanout")
    add("--sync-interval", type=float, default=2.0, help="daemon.json sync_interval_s")
    add("--checkpoint-interval", type=float, default=5.0, help="daemon.json checkpoint_interval_s")
    add("--idle", type=float, default=5.0, help="seconds over which idle CPU is measured")
    add("--timeout", type=float, default=600.0, help="seconds per wait")
    add("--seed", type=int, default=1, help="seed for the choice of authors and stopped node")
    add("--dir", type=Path, default=None, help="where the node homes go")
    add("--keep", action="store_true", help="keep the node homes")
    add("--json", action="store_true", help="print one JSON object instead of text")
    add("--save", type=Path, default=None, help="also write the JSON object here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.envelopes < 1 or args.rate <= 0 or args.missing < 0:
        parser.error("--envelopes must be >= 1, --rate > 0, --missing >= 0")
    if args.missing_rate is None:
        args.missing_rate = args.rate

    def say(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    try:
        result = run(args, say)
    except LaunchError as exc:
        raise SystemExit(f"gossip bench: {exc}") from None
    except IloError as exc:  # a node that stopped answering its local API
        raise SystemExit(f"gossip bench: {exc.message}") from None
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
