"""``ilo-node devnet``: a whole local network on loopback, in one command.

Six Member State nodes posted to two host countries (Türkiye and Morocco) and
the Commission's node, each a real ``ilo-node run`` process with its own home,
keys and database, talking signed HTTP over TLS 1.3 on 127.0.0.1 (``https://``
endpoints; the certificates derive from the node keys). A fresh network root,
roster and keys are made for the run, and one or two officers' homes at every
Member State node. The officers write the sample envelopes of every message
kind: each signs in their own home with their certified key and hands the
envelope to their node over the officer API (HTTPS, as ``ilo-node publish``
does); one alert goes to the whole network, one is corrected and one retracted
by its author. The half-year contribution is the post's own figures and is
signed by its node. Devnet says so before it publishes (nobody types anything
while it runs), then says a line for each envelope (its kind, its author, who can
read it) and a line a second while they spread. Then the half-year's mission
ends as it would: an officer at every Member State node drafts their
contribution for the current half-year from what their node can read (as
``ilo-node contribution draft`` does), writes in what only officers know and
sends it to the Presidency and the Commission; once those arrived, every node is
stopped cleanly (it signs a last checkpoint, which covers them), the
Presidency's node builds and signs the report (as ``ilo-node report build``), the
Commission's node verifies it and recomputes every figure (as ``report verify``),
and every node home is checked with the same verification as ``ilo-node log
verify``; a table gives each node's end state, and the run ends with the report's
verdict.

The homes are made in ``--home`` (kept) or in a temporary directory, which is
removed when devnet ends, however it ends (Ctrl-C and errors too): it holds the
homes' passphrase file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

# The draft command's own reading of a message (retracted and superseded ones left
# out): devnet must count exactly as an officer's 'contribution draft' would.
from ilo_node.client.contributions import counted
from ilo_node.client.officer import MessageFilter, OfficerClient, PublishOutcome, PublishRequest
from ilo_node.client.reports import build_report_files, verify_report_files
from ilo_node.dev.devnetview import (
    NODE_HEADERS,
    NodeEnd,
    Published,
    Spread,
    node_rows,
    published_line,
    spread_line,
)
from ilo_node.dev.launcher import Launcher, LaunchError, free_ports
from ilo_node.dev.netbuilder import DEFAULT_PRESIDENCY, build_network
from ilo_node.errors import ClientError, NodeError
from ilo_node.formats.jsoncontent import content_to_json
from ilo_node.home.home import Home, now_ms
from ilo_node.home.keyfiles import resolve_passphrase
from ilo_node.node.audit import verify_log
from ilo_node.report.contribution import draft_contribution
from protocol.envelope import REFERENCE_KINDS
from protocol.errors import UsageError
from protocol.examples import example
from protocol.identifiers import split_node_id
from protocol.kinds import KINDS
from protocol.periods import half_year_bounds, half_year_of

__all__ = ["DEVNET_NODES", "DEVNET_OFFICERS", "TablePrinter", "run_devnet"]

#: How a table is shown to a person: headers, then rows (the CLI passes its own, rich at
#: a terminal and plain columns otherwise; devnet may not import the CLI).
TablePrinter = Callable[[Sequence[str], Sequence[Sequence[str]]], None]

#: IE holds the Presidency in 2026-H2: half-year contributions go to IE and COM.
#: At another time devnet's roster may name IE for it instead (:func:`_presidency`).
DEVNET_NODES = ("COM@EU", "DE@TR", "FR@TR", "IT@TR", "ES@MA", "IE@MA", "NL@MA")
#: The officers posted at each Member State node, the authors of what devnet publishes.
#: Few on purpose: each home costs two Argon2id derivations (made, then opened).
DEVNET_OFFICERS: Mapping[str, tuple[str, ...]] = {
    "DE@TR": ("anna.berg", "jonas.keller"),
    "FR@TR": ("claire.moreau",),
    "IT@TR": ("marco.rossi",),
    "ES@MA": ("lucia.navarro", "pablo.ortega"),
    "IE@MA": ("aoife.byrne",),
    "NL@MA": ("daan.visser",),
}
#: Seconds the nodes get to start: each derives its key-encryption keys with Argon2id.
READY_TIMEOUT_S = 90.0
#: What devnet publishes: every kind that stands alone (not a retraction or key share).
_INFORMATION_KINDS = [k for k in sorted(KINDS) if k not in REFERENCE_KINDS]
#: Kinds the node signs itself, and which node: a half-year contribution is the
#: post's statistics (the example's are DE's in TR), not one officer's report.
_NODE_SIGNED = {"half_year_contribution": "DE@TR"}
#: Where a kind goes if not to its host country's posts and COM ("local").
_LEVELS = {"half_year_contribution": "presidency"}
#: The alert sent to the whole network, and corrected by its author afterwards.
_NETWORK_ALERT = ("anna.berg", "smuggling_network_alert")
#: Seconds the contributions get to reach the Presidency's and the Commission's nodes.
CONTRIBUTIONS_TIMEOUT_S = 60.0
#: The stand-in Presidency when the real schedule names a Member State with no node here.
_STAND_IN_PRESIDENCY = "IE"
#: Seconds between the messages devnet publishes while the network runs, and the last
#: seconds of the run, when it publishes nothing so that everything can arrive.
_WAVE_S = 3.0
_QUIET_END_S = 5.0
#: The advice when devnet fails: where to look.
_LOOK_AT_LOGS = (
    "Each node's log is HOME/daemon.log: run again with --home DIR to keep the homes and "
    "look there; on a loaded machine, give a longer --duration."
)
#: The alert its author retracts, and why.
_RETRACTED = (
    "forged_document_alert",
    "The issuing authority confirmed the permit is genuine: alert sent in error.",
)


@dataclass
class Devnet:
    base: Path
    launcher: Launcher
    say: Callable[[str], None]
    officers: dict[str, OfficerClient] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)

    def record(self, published: Published) -> Published:
        self.published.append(published)
        self.say(published_line(published))
        return published


def _node_publish(net: Devnet, node: str, kind: str, level: str) -> Published:
    body = {
        "kind": kind,
        "content": content_to_json(example(kind)),
        "distribution": level,
        "handling": "H1",
    }
    result = net.launcher.call(node, "POST", "/local/publish", body)
    return net.record(Published(result["id"], kind, node, None, level, result["recipients"]))


def _handed_over(net: Devnet, client: OfficerClient, outcome: PublishOutcome) -> Published:
    if not outcome.sent or outcome.envelope_id is None:
        delivery = outcome.delivery
        why = "not sent" if delivery is None else f"{delivery.status}: {delivery.reason}"
        raise NodeError(
            f"{client.officer} ({client.node}) could not hand over a {outcome.kind} ({why})",
            _LOOK_AT_LOGS,
        )
    refers_to = outcome.refers_to
    return net.record(
        Published(
            outcome.envelope_id.hex(),
            outcome.kind,
            client.node,
            client.officer,
            outcome.level,
            # The awaiting ones get the content key from the node once their prekey
            # arrives: they are recipients all the same.
            sorted({*outcome.readable_by, *outcome.awaiting}),
            None if refers_to is None else (refers_to[0], refers_to[1].hex()),
        )
    )


def _officer_publish(net: Devnet, officer: str, kind: str, level: str) -> Published:
    client = net.officers[officer]
    outcome = client.publish(PublishRequest(kind, example(kind), level))
    return _handed_over(net, client, outcome)


def _publish(net: Devnet, kind: str, turn: int) -> Published:
    """``kind`` by its node if it is node-signed, else by the ``turn``-th officer."""
    level = _LEVELS.get(kind, "local")
    if kind in _NODE_SIGNED:
        return _node_publish(net, _NODE_SIGNED[kind], kind, level)
    officers = list(net.officers)
    return _officer_publish(net, officers[turn % len(officers)], kind, level)


def _publish_all(net: Devnet) -> None:
    for kind, node in _NODE_SIGNED.items():
        _node_publish(net, node, kind, _LEVELS.get(kind, "local"))
    officer_kinds = [k for k in _INFORMATION_KINDS if k not in _NODE_SIGNED]
    for turn, kind in enumerate(officer_kinds):
        _publish(net, kind, turn)
    officer, kind = _NETWORK_ALERT
    alert = _officer_publish(net, officer, kind, "network")
    retracted_kind, reason = _RETRACTED
    target = next(p for p in net.published if p.kind == retracted_kind)
    assert target.officer is not None  # only _NODE_SIGNED kinds are the node's
    author = net.officers[target.officer]
    _handed_over(net, author, author.retract(target.envelope_id, reason))
    fixed = example(kind)
    fixed["confidence"] = "confirmed"
    fixed["routes"] = [*fixed["routes"], "Izmir - Chios sea crossing"]
    author = net.officers[officer]
    _handed_over(net, author, author.correct(alert.envelope_id, fixed))


def _readable_at(net: Devnet) -> dict[str, set[str]]:
    """By envelope id, the recipients where it is readable now (asked of each node)."""
    by_node: dict[str, list[str]] = {}
    for p in net.published:
        for r in p.recipients:
            by_node.setdefault(r, []).append(p.envelope_id)
    found: dict[str, set[str]] = {p.envelope_id: set() for p in net.published}
    for node, ids in by_node.items():
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            try:
                answer = net.launcher.call(node, "GET", "/local/readable?ids=" + ",".join(chunk))
            except ClientError:
                continue  # counted as not delivered yet
            for envelope_id in answer["readable"]:
                found[envelope_id].add(node)
    return found


def _sizes(net: Devnet, nodes: list[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for node in nodes:
        status = net.launcher.status(node)
        if status is not None:
            sizes[node] = status["log_size"]
    return sizes


def _spread(net: Devnet, nodes: list[str]) -> Spread:
    readable = _readable_at(net)
    return Spread(
        published=len(net.published),
        everywhere=sum(len(readable[p.envelope_id]) == len(p.recipients) for p in net.published),
        pairs=sum(len(found) for found in readable.values()),
        expected_pairs=sum(len(p.recipients) for p in net.published),
        sizes=_sizes(net, nodes),
        nodes=len(nodes),
    )


@dataclass
class _Watch:
    """The line a second while something spreads: said from the first look after a
    publication until everything is everywhere, then quiet until the next one."""

    net: Devnet
    nodes: list[str]
    started: float
    said_done: bool = False
    converged_at: float | None = None

    def look(self) -> Spread:
        spread = _spread(self.net, self.nodes)
        seconds = time.monotonic() - self.started
        if not spread.done:
            self.said_done = False
        elif self.converged_at is None:
            self.converged_at = seconds
        if not self.said_done:
            self.net.say(spread_line(seconds, spread))
            self.said_done = spread.done
        return spread

    def every_second_until(self, deadline: float, stop: Callable[[Spread], bool]) -> bool:
        """Look once a second until ``stop`` says so (True) or ``deadline`` (False)."""
        while True:
            spread = self.look()
            if stop(spread):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))


def _open_officers(
    built_officers: Mapping[str, Home], passphrase_file: Path
) -> dict[str, OfficerClient]:
    passphrase = resolve_passphrase(
        passphrase_file=passphrase_file,
        environ={},
        prompt=None,
        confirm=False,
        what="the devnet officers' keys",
    )
    clients: dict[str, OfficerClient] = {}
    try:
        for names in DEVNET_OFFICERS.values():
            for name in names:
                clients[name] = OfficerClient(built_officers[name], passphrase)
    except BaseException:
        for client in clients.values():
            client.close()
        raise
    return clients


def _presidency(half_year: str) -> tuple[dict[str, str], str]:
    """The roster's Presidency schedule, and the devnet node that holds ``half_year``.

    The real schedule when its Presidency has a node here (IE@MA in 2026-H2); else a
    scratch roster naming IE for ``half_year`` alone: a devnet that cannot build its
    report would be the bigger surprise, and a single half-year keeps the schedule
    without a gap (which the roster refuses)."""
    by_party = {n.split("@")[0]: n for n in DEVNET_NODES}
    holder = DEFAULT_PRESIDENCY.get(half_year)
    if holder is not None and holder in by_party:
        return dict(DEFAULT_PRESIDENCY), by_party[holder]
    return {half_year: _STAND_IN_PRESIDENCY}, by_party[_STAND_IN_PRESIDENCY]


def _draft(client: OfficerClient, half_year: str) -> dict[str, Any]:
    """What ``ilo-node contribution draft`` drafts in this officer's home, then what only
    the officer knows written in (the example's figures; the narratives)."""
    parts = split_node_id(client.node)
    assert parts is not None  # a home's node id was checked when it was made
    state, host = parts
    _, end_ms = half_year_bounds(half_year)
    messages = client.every_message(MessageFilter(hosts=(host,), until_ms=end_ms))
    kept = [c for c in (counted(m) for m in messages) if c is not None]
    content = draft_contribution(state, host, half_year, kept)
    sample = example("half_year_contribution")
    for name in ("irregular_migrants_detected", "returns_facilitated", "nationalities"):
        content[name] = sample[name]
    content["activities_narrative"] = (
        f"{client.officer} ({client.node}): the devnet's sample activities in {host}."
    )
    content["situation_narrative"] = f"The devnet's sample situation in {host}, {half_year}."
    return content


def _send_contributions(net: Devnet, half_year: str) -> list[Published]:
    """The first officer of every Member State node drafts and sends their contribution."""
    sent = []
    for names in DEVNET_OFFICERS.values():
        client = net.officers[names[0]]
        request = PublishRequest("half_year_contribution", _draft(client, half_year), "presidency")
        sent.append(_handed_over(net, client, client.publish(request)))
    return sent


def _wait_cosigned(net: Devnet, node: str, timeout_s: float) -> bool:
    """A checkpoint of ``node``'s whole log cosigned by a peer: what the report is built
    at (peers cosign in their witnessing rounds, every few seconds)."""
    deadline = time.monotonic() + timeout_s
    total = len(net.published)
    while True:
        status = net.launcher.status(node)
        if status is not None and (status.get("latest_cosigned") or 0) >= total:
            return True
        if time.monotonic() >= deadline:
            net.say(f"  no peer cosigned a checkpoint of {node}'s {total} envelopes in time")
            return False
        time.sleep(0.2)


def _report(
    base: Path,
    half_year: str,
    builder: str,
    passphrase_file: Path,
    *,
    render: bool,
) -> tuple[dict[str, Any], list[str]]:
    """Build the report in the Presidency node's home and verify it in the Commission's,
    from their logs as the nodes left them (at the last checkpoint its peers cosigned,
    which covers everything); what ``--json`` shows of it, and what a person is told
    (the verdict last)."""
    passphrase = resolve_passphrase(
        passphrase_file=passphrase_file,
        environ={},
        prompt=None,
        confirm=False,
        what=f"the {builder} keys",
    )
    out = base / "report"
    built = build_report_files(
        Home(base / builder),
        lambda: passphrase,
        half_year,
        out,
        "decision-2005-687",
        now_ms(),
        render=render,
    )
    summary = built.summary
    report_path = built.files["report.json"]
    body = json.loads(report_path.read_bytes())
    lines = [
        f"the {half_year} report, built and signed at {builder} from "
        f"{summary['contributions']} contributions at checkpoint size "
        f"{summary['checkpoint_size']} cosigned by {', '.join(summary['witnesses'])}:",
        *(
            f"  {h['code']}: contributions of {', '.join(h['contributors']) or 'nobody'}"
            for h in body["host_countries"]
        ),
        *(f"  no contribution from {m['member_state']} for {m['host']}" for m in body["missing"]),
    ]
    if render:
        lines += [f"  {name}: {path}" for name, path in built.files.items()]
        lines += [f"  not written: {problem}" for problem in summary["not_written"]]
    verifier = "COM@EU"
    result = verify_report_files(Home(base / verifier), report_path, now_ms())
    what = "every figure recomputed" if result.recomputed else "figures NOT recomputed"
    lines.append(
        f"report verify at {verifier}: "
        + ("valid" if result.ok else "INVALID: " + "; ".join(result.problems[:5]))
        + f" ({what})"
    )
    record = {
        "path": str(report_path),
        "period": half_year,
        "built_by": builder,
        "verified_by": verifier,
        "verified": result.ok,
        "recomputed": result.recomputed,
        "problems": result.problems,
        "host_countries": summary["host_countries"],
        "contributions": summary["contributions"],
        "witnesses": summary["witnesses"],
        "files": {name: str(path) for name, path in built.files.items()},
    }
    return record, lines


def _wait_and_sync(net: Devnet, nodes: list[str]) -> None:
    """Wait for every node, and sync each officer's home with its node as soon as that
    node listens: the first sync writes (and fsyncs) every document the home lacks, disk
    work that overlaps the other nodes' start and each other."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    with ThreadPoolExecutor(max_workers=len(net.officers)) as pool:
        syncs = []
        for node in nodes:
            net.launcher.wait_ready([node], deadline - time.monotonic())
            syncs += [pool.submit(c.sync) for c in net.officers.values() if c.node == node]
        for sync in syncs:
            sync.result()


def _publishing_plan(duration: float, half_year: str) -> str:
    """What devnet will publish by itself, said before it starts."""
    # Every kind once, then the alert to the whole network, a retraction, a correction.
    first = len(_INFORMATION_KINDS) + 3
    officers = sum(len(names) for names in DEVNET_OFFICERS.values())
    waves = max(0, math.ceil((duration - _QUIET_END_S) / _WAVE_S) - 1)
    signers = " and ".join(f"node {n}" for n in sorted(set(_NODE_SIGNED.values())))
    more = f"then one every {_WAVE_S:g} s ({waves} in all), " if waves else ""
    return (
        f"devnet now publishes by itself (nothing for you to type): {first} messages by its "
        f"{officers} officers and {signers} (every kind, one to the whole network, a "
        f"retraction and a correction), {more}and at the end each Member State's "
        f"{half_year} contribution; then it stops the nodes, verifies their logs and builds "
        "the report. Ctrl-C stops it."
    )


def _main(
    base: Path, duration: float, as_json: bool, keep: bool, table: TablePrinter | None
) -> dict[str, Any]:
    # With --json nothing is said but the JSON object at the end.
    say: Callable[[str], None] = (lambda _: None) if as_json else click.echo
    nodes = list(DEVNET_NODES)
    ports = free_ports(len(nodes))
    endpoints = {n: f"https://127.0.0.1:{p}" for n, p in zip(nodes, ports, strict=True)}
    first_start = time.monotonic()
    officer_count = sum(len(names) for names in DEVNET_OFFICERS.values())
    where = (
        str(base)
        if keep
        else f"a temporary directory ({base}; removed at the end, --home DIR keeps it)"
    )
    say(f"building a network of {len(nodes)} nodes and {officer_count} officers in {where} ...")
    half_year = half_year_of(now_ms())
    schedule, presidency_node = _presidency(half_year)
    built = build_network(
        base,
        nodes,
        network="devnet.ilo",
        endpoints=endpoints,
        officers=DEVNET_OFFICERS,
        presidency=schedule,
    )
    launcher = Launcher(built.passphrase_file, log_level=os.environ.get("ILO_NODE_LOG", "WARNING"))
    net = Devnet(base, launcher, say)
    say(f"root roster fingerprint {built.fingerprint}")
    if schedule.get(half_year) != DEFAULT_PRESIDENCY.get(half_year):
        say(
            f"the Presidency of {half_year} has no node here: devnet's roster names "
            f"{schedule[half_year]} for it"
        )
    say(f"{half_year}: the Presidency's node is {presidency_node}")
    try:
        for node in nodes:
            launcher.start(node, built.nodes[node].path)
        # While the nodes start: unlocking the officers' keys is Argon2id work too.
        net.officers = _open_officers(built.officers, built.passphrase_file)
        try:
            _wait_and_sync(net, nodes)
        except LaunchError as exc:
            raise NodeError(str(exc), _LOOK_AT_LOGS) from None
        say("all nodes listening: " + ", ".join(f"{n} {endpoints[n]}" for n in nodes))
        say(
            "officers: "
            + "; ".join(f"{', '.join(names)} at {n}" for n, names in DEVNET_OFFICERS.items())
        )
        say(_publishing_plan(duration, half_year))
        _publish_all(net)
        # The duration runs from when the network is up: start-up time varies with the
        # machine (each node derives its key-encryption keys with Argon2id).
        started = time.monotonic()
        deadline = started + duration
        watch = _Watch(net, nodes, started)
        wave = 0
        while True:
            now = time.monotonic()
            # Keep publishing now and then, but leave time at the end to converge.
            if now < deadline - _QUIET_END_S and int((now - started) // _WAVE_S) > wave:
                wave += 1
                _publish(net, _INFORMATION_KINDS[wave % len(_INFORMATION_KINDS)], wave)
            watch.look()
            if now >= deadline:
                break
            # One look a second: the run lasts `duration` whatever happens.
            ticks = int(now - started) + 1
            time.sleep(max(0.0, min(started + ticks, deadline) - time.monotonic()))
        say(f"officers draft and send their {half_year} contributions:")
        _send_contributions(net, half_year)
        # Every envelope readable at its recipients and held in every node's log (nodes
        # relay what they cannot read): the state the nodes should stop in.
        contributions_arrived = watch.every_second_until(
            time.monotonic() + CONTRIBUTIONS_TIMEOUT_S, lambda spread: spread.done
        )
        if not contributions_arrived:
            say(f"  not everywhere after {CONTRIBUTIONS_TIMEOUT_S:.0f} s; stopping all the same")
        else:
            contributions_arrived = _wait_cosigned(net, presidency_node, CONTRIBUTIONS_TIMEOUT_S)
    finally:
        say("stopping the nodes (each signs a last checkpoint) ...")
        for client in net.officers.values():
            client.close()
        launcher.close()
    delivered_to = _delivery_offline(net)
    ends = _node_ends(net, nodes, delivered_to)
    if table is not None and not as_json:
        table(NODE_HEADERS, node_rows(ends))
    delivered = sum(len(d) for d in delivered_to)
    expected = sum(len(p.recipients) for p in net.published)
    verified = {node: end.verified for node, end in ends.items()}
    say(
        f"{'converged' if delivered == expected else 'NOT converged'}: {delivered}/{expected} "
        "envelope-recipient pairs delivered; log verify: "
        + (
            "every log OK"
            if all(verified.values())
            else ", ".join(n for n, ok in verified.items() if not ok) + " FAILED"
        )
    )
    for p, got in zip(net.published, delivered_to, strict=True):
        if p.refers_to is not None:
            relation, target = p.refers_to
            say(
                f"{p.author} {relation} {target[:8]} ({p.kind} {p.envelope_id[:8]}): "
                f"readable at {len(got)}/{len(p.recipients)} recipients"
            )
    say(
        f"node homes kept in {base} (try: ilo-node --home {base / 'DE@TR'} status)"
        if keep
        else "the node homes and the report are removed as devnet ends; run with --home DIR "
        "to keep them"
    )
    # Without every contribution at the Presidency's node the report would name a
    # Member State as missing that did send, or fail to verify: not worth building.
    the_report: dict[str, Any] | None = None
    if contributions_arrived:
        the_report, lines = _report(
            base, half_year, presidency_node, built.passphrase_file, render=keep
        )
        for line in lines:
            say(line)
    else:
        say(f"report not built: the contributions did not all reach {presidency_node} and COM@EU")
    return {
        "nodes": nodes,
        "officers": {n: list(names) for n, names in DEVNET_OFFICERS.items()},
        "published": len(net.published),
        "envelopes": [
            {
                "id": p.envelope_id,
                "kind": p.kind,
                "author": p.author,
                "node": p.node,
                "officer": p.officer,
                "level": p.level,
                "refers_to": None
                if p.refers_to is None
                else {"relation": p.refers_to[0], "id": p.refers_to[1]},
                "recipients": p.recipients,
                "delivered_to": got,
            }
            for p, got in zip(net.published, delivered_to, strict=True)
        ],
        "delivered": delivered,
        "expected": expected,
        "converged": delivered == expected,
        "converged_after_s": None if watch.converged_at is None else round(watch.converged_at, 2),
        "log_verify": verified,
        "per_node": {
            node: {
                "officers": list(end.officers),
                "wrote": end.wrote,
                "log_size": end.log_size,
                "readable": end.readable,
                "addressed": end.addressed,
                "checkpoint": end.checkpoint,
                "log_verify": end.verified,
            }
            for node, end in ends.items()
        },
        "report": the_report,
        "home": str(base),
        "home_kept": keep,
        "seconds": round(time.monotonic() - first_start, 2),
    }


def _node_ends(net: Devnet, nodes: list[str], delivered_to: list[list[str]]) -> dict[str, NodeEnd]:
    """Each node as it stopped: its log verified as 'ilo-node log verify' does, and what
    it wrote and can read."""
    ends: dict[str, NodeEnd] = {}
    for node in nodes:
        home = Home(net.base / node)
        report = verify_log(home.path / "node.db", [home.public_key()], node, workers=1)
        ends[node] = NodeEnd(
            officers=DEVNET_OFFICERS.get(node, ()),
            wrote=sum(p.node == node for p in net.published),
            log_size=report.size,
            readable=sum(node in got for got in delivered_to),
            addressed=sum(node in p.recipients for p in net.published),
            checkpoint=report.latest_checkpoint,
            verified=report.ok and report.latest_checkpoint == report.size,
        )
    return ends


def _delivery_offline(net: Devnet) -> list[list[str]]:
    """Where each published envelope is readable, from the databases after the nodes
    stopped (the final word)."""
    delivered: list[list[str]] = []
    for p in net.published:
        readable: list[str] = []
        for r in p.recipients:
            db = net.base / r / "node.db"
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                row = conn.execute(
                    "SELECT 1 FROM contents WHERE envelope_id = ?", [bytes.fromhex(p.envelope_id)]
                ).fetchone()
            finally:
                conn.close()
            if row is not None:
                readable.append(r)
        delivered.append(readable)
    return delivered


def _problems(result: dict[str, Any]) -> list[str]:
    report = result["report"]
    problems = [] if result["converged"] else ["the network did not converge"]
    problems += [f"log verify failed at {n}" for n, ok in result["log_verify"].items() if not ok]
    if report is None:
        problems.append("the report was not built")
    elif not report["verified"]:
        problems.append("the report does not verify: " + "; ".join(report["problems"][:5]))
    elif not report["recomputed"]:
        problems.append("the report's figures were not recomputed")
    return problems


def _remove(base: Path) -> str:
    shutil.rmtree(base, ignore_errors=True)
    return f"could not remove {base}" if base.exists() else "temporary homes removed"


def run_devnet(
    home: Path | None, duration: float, as_json: bool, table: TablePrinter | None = None
) -> None:
    """Run devnet in ``home`` (new or empty; kept), or in a temporary directory removed
    at the end, on Ctrl-C and on an error too. With ``as_json`` it prints one JSON object
    at the end and nothing else; otherwise it says what happens, and shows the nodes'
    end states with ``table``. Raises :class:`~ilo_node.errors.NodeError` if the run
    did not end as it should (after its JSON, if asked for)."""
    keep = home is not None
    if home is not None and any(home.iterdir() if home.exists() else []):
        raise UsageError(f"{home} is not empty", "Give a new or empty --home.")
    base = home if home is not None else Path(tempfile.mkdtemp(prefix="ilo-devnet-"))
    try:
        result = _main(base, duration, as_json, keep, table)
    except KeyboardInterrupt:
        left = f"node homes kept in {base}" if keep else _remove(base)
        click.echo(f"devnet interrupted: every node stopped; {left}", err=True)
        raise
    except BaseException:
        if not keep:
            _remove(base)
        raise
    if not keep:
        _remove(base)
    if as_json:
        click.echo(json.dumps(result))
    problems = _problems(result)
    if problems:
        raise NodeError("devnet did not end as it should: " + "; ".join(problems), _LOOK_AT_LOGS)
