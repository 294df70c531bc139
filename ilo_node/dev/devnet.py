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
signed by its node. Their spread is shown live. Then the half-year's mission
ends as it would: an officer at every Member State node drafts their
contribution for the current half-year from what their node can read (as
``ilo-node contribution draft`` does), writes in what only officers know and
sends it to the Presidency and the Commission; once those arrived, every node is
stopped cleanly (it signs a last checkpoint, which covers them), the
Presidency's node builds and signs the report (as ``ilo-node report build``), the
Commission's node verifies it and recomputes every figure (as ``report verify``),
and every node home is checked with the same verification as ``ilo-node log
verify``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
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
from ilo_node.dev.launcher import Launcher, LaunchError, free_ports
from ilo_node.dev.netbuilder import DEFAULT_PRESIDENCY, build_network
from ilo_node.errors import ClientError
from ilo_node.formats.jsoncontent import content_to_json
from ilo_node.home.home import Home, now_ms
from ilo_node.home.keyfiles import resolve_passphrase
from ilo_node.node.audit import verify_log
from ilo_node.report.contribution import draft_contribution
from protocol.envelope import REFERENCE_KINDS
from protocol.examples import example
from protocol.identifiers import split_node_id
from protocol.kinds import KINDS
from protocol.periods import half_year_bounds, half_year_of

__all__ = ["DEVNET_NODES", "DEVNET_OFFICERS", "run_devnet"]

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
#: The alert its author retracts, and why.
_RETRACTED = (
    "forged_document_alert",
    "The issuing authority confirmed the permit is genuine: alert sent in error.",
)


@dataclass
class Published:
    envelope_id: str
    kind: str
    node: str
    #: None: signed with the node's own key.
    officer: str | None
    level: str
    recipients: list[str]
    #: (relation, target id) for a retraction or a correction.
    refers_to: tuple[str, str] | None = None

    @property
    def author(self) -> str:
        # As officers' clients label authors (ilo_node.client.reading.author_label).
        return f"node {self.node}" if self.officer is None else f"{self.officer} ({self.node})"


@dataclass
class Devnet:
    base: Path
    launcher: Launcher
    say: Callable[[str], None]
    officers: dict[str, OfficerClient] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)

    def record(self, published: Published) -> Published:
        self.published.append(published)
        what = published.level
        if published.refers_to is not None:
            relation, target = published.refers_to
            what = f"{relation} {target[:8]}"
        self.say(
            f"  + {published.envelope_id[:8]} {published.kind:<28} by {published.author}, "
            f"{what}, to {len(published.recipients)} nodes"
        )
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
        raise click.ClickException(
            f"{client.officer} ({client.node}) could not hand over a {outcome.kind} ({why})"
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


def _wait_delivered(net: Devnet, nodes: list[str], timeout_s: float) -> bool:
    """Every envelope readable at its recipients and held in every node's log (nodes
    relay what they cannot read): the state the nodes should stop in."""
    deadline = time.monotonic() + timeout_s
    total = len(net.published)
    while True:
        delivered, expected = _delivery(net)
        sizes = _sizes(net, nodes)
        if delivered == expected and all(sizes.get(n) == total for n in nodes):
            return True
        if time.monotonic() >= deadline:
            net.say(
                f"  only {delivered}/{expected} pairs delivered after {timeout_s:.0f} s; "
                f"log sizes {sizes}, want {total}"
            )
            return False
        time.sleep(0.2)


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
    base: Path, half_year: str, builder: str, passphrase_file: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """Build the report in the Presidency node's home and verify it in the Commission's,
    from their logs as the nodes left them (at the last checkpoint its peers cosigned,
    which covers everything)."""
    passphrase = resolve_passphrase(
        passphrase_file=passphrase_file,
        environ={},
        prompt=None,
        confirm=False,
        what=f"the {builder} keys",
    )
    out = base / "report"
    built = build_report_files(
        Home(base / builder), lambda: passphrase, half_year, out, "decision-2005-687", now_ms()
    )
    summary = built.summary
    say(
        f"{builder} built the {half_year} report from {summary['contributions']} "
        f"contributions ({', '.join(summary['host_countries'])}), at checkpoint size "
        f"{summary['checkpoint_size']} cosigned by {', '.join(summary['witnesses'])}:"
    )
    for name, path in built.files.items():
        say(f"  {name}: {path}")
    for problem in summary["not_written"]:
        say(f"  not written: {problem}")
    verifier = "COM@EU"
    report_path = built.files["report.json"]
    result = verify_report_files(Home(base / verifier), report_path, now_ms())
    what = "every figure recomputed" if result.recomputed else "figures NOT recomputed"
    say(
        f"report verify at {verifier}: "
        + ("valid" if result.ok else "INVALID: " + "; ".join(result.problems[:5]))
        + f" ({what})"
    )
    return {
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


def _main(base: Path, duration: float, as_json: bool) -> dict[str, Any]:
    say: Callable[[str], None] = (lambda _: None) if as_json else click.echo
    nodes = list(DEVNET_NODES)
    ports = free_ports(len(nodes))
    endpoints = {n: f"https://127.0.0.1:{p}" for n, p in zip(nodes, ports, strict=True)}
    started = first_start = time.monotonic()
    officer_count = sum(len(names) for names in DEVNET_OFFICERS.values())
    say(f"building a network of {len(nodes)} nodes and {officer_count} officers in {base} ...")
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
            raise click.ClickException(str(exc)) from None
        say("all nodes listening: " + ", ".join(f"{n} {endpoints[n]}" for n in nodes))
        say(
            "officers: "
            + "; ".join(f"{', '.join(names)} at {n}" for n, names in DEVNET_OFFICERS.items())
        )
        _publish_all(net)
        node_signed = sum(p.officer is None for p in net.published)
        say(
            f"published {len(net.published)} envelopes (every kind, one to the whole network, "
            f"a retraction and a correction; {node_signed} node-signed, the rest by officers)"
        )
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
                _publish(net, _INFORMATION_KINDS[wave % len(_INFORMATION_KINDS)], wave)
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
        say(f"officers draft and send their {half_year} contributions:")
        _send_contributions(net, half_year)
        contributions_arrived = _wait_delivered(net, nodes, CONTRIBUTIONS_TIMEOUT_S)
        if contributions_arrived:
            contributions_arrived = _wait_cosigned(net, presidency_node, CONTRIBUTIONS_TIMEOUT_S)
    finally:
        say("stopping the nodes ...")
        for client in net.officers.values():
            client.close()
        launcher.close()
    delivered_to = _delivery_offline(net)
    delivered = sum(len(d) for d in delivered_to)
    expected = sum(len(p.recipients) for p in net.published)
    verified: dict[str, bool] = {}
    for node in nodes:
        home = Home(base / node)
        report = verify_log(home.path / "node.db", [home.public_key()], node, workers=1)
        verified[node] = report.ok and report.latest_checkpoint == report.size
    say(
        f"{'converged' if delivered == expected else 'NOT converged'}: {delivered}/{expected} "
        f"pairs delivered; log verify: "
        + ", ".join(f"{n} {'OK' if ok else 'FAILED'}" for n, ok in verified.items())
    )
    # Without every contribution at the Presidency's node the report would name a
    # Member State as missing that did send, or fail to verify: not worth building.
    the_report: dict[str, Any] | None = None
    if contributions_arrived:
        the_report = _report(base, half_year, presidency_node, built.passphrase_file, say)
    else:
        say(f"report not built: the contributions did not all reach {presidency_node} and COM@EU")
    result = {
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
        "converged_after_s": None if converged_at is None else round(converged_at, 2),
        "log_verify": verified,
        "report": the_report,
        "home": str(base),
        "seconds": round(time.monotonic() - first_start, 2),
    }
    authors = Counter(p.author for p in net.published)
    say("authors: " + ", ".join(f"{a} {n}" for a, n in authors.items()))
    for p, got in zip(net.published, delivered_to, strict=True):
        if p.refers_to is not None:
            relation, target = p.refers_to
            say(
                f"{p.author} {relation} {target[:8]} ({p.kind} {p.envelope_id[:8]}): "
                f"readable at {len(got)}/{len(p.recipients)} recipients"
            )
    say(f"node homes kept in {base} (try: ilo-node --home {base / 'DE@TR'} status)")
    return result


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
    report = result["report"]
    return (
        bool(result["converged"])
        and all(result["log_verify"].values())
        and report is not None
        and bool(report["verified"] and report["recomputed"])
    )
