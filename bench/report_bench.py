"""Report benchmark: ``report build`` (without and with the PDF) and ``report verify`` at
the Presidency's node as its log grows, each set against opening that log, measured in
the same run.

Run from the repository root (nothing needs installing beyond the project's
dependencies, and Pango for the PDF, as for the report itself)::

    python bench/report_bench.py [--sizes 10000,30000,100000] [--repeats 3] [--json]
    python bench/report_bench.py --sizes 1000000 --dir /var/tmp/ilo-report-bench
    python -m bench.report_bench ...                 # equivalent

The workload:

* a scratch network (:func:`ilo_node.dev.netbuilder.build_network`, passphrase-protected
  keys) of two host countries, ``TR`` and ``MA``, each with the nodes of six Member
  States that send contributions (the Presidency's among them, ``IE`` in 2026-H2) and
  of one more that only writes (``AT@TR``, ``BE@MA``), and ``COM@EU``;
* **contributions**: one ``half_year_contribution`` per host country, contributing
  Member State and half-year, for the report's half-year (the current one) and the
  three before it that the template's trends cover: 2 x 6 x 4 = 48, authored by the
  Member States' nodes, distribution ``presidency``, spread evenly over the log;
* **filler**: the rest of the log, sealed by ``AT@TR`` and ``BE@MA`` in turn,
  distribution ``local``, cycling through the example content of every other kind
  that stands alone (:mod:`protocol.examples`). ``AT@TR``'s are addressed to the
  Presidency's node ``IE@TR`` (it decrypts and stores their contents), ``BE@MA``'s
  are not (it stores them encrypted): half of the log is readable there.

Preparing a log of N envelopes: everything is sealed beforehand (two processes, one
hash chain each) and kept in files; a fresh copy of ``IE@TR``'s home ingests the log
with its passphrase through :meth:`ilo_node.node.Node.ingest` in batches of
``--batch``, then signs a checkpoint, which ``COM@EU`` cosigns (the report is built
at a checkpoint a peer cosigned). With ``--dir`` the network, the sealed envelopes
and every prepared database are kept there and reused by the next run (a size not
prepared yet is prepared from the envelopes already sealed, sealing only what is
missing); without it everything goes in a temporary directory.

What is timed at each N, wall-clock and CPU time of this process (one core; the
report code runs in one thread):

* **floor**: ``Node(home, None, writer=False)`` and ``close()``: opening the log,
  which rebuilds its Merkle tree from the stored ids; any reader of the log pays it.
* **build, with PDF**: :func:`ilo_node.client.reports.build_report_files`, what
  ``ilo-node report build`` runs: key derivation for the signing key, opening the
  node, :func:`ilo_node.report.build.build_report` (the contributions read and chosen,
  inclusion proofs against the latest checkpoint, report.json and report.sig) and
  :func:`ilo_node.report.render.write_outputs` (Markdown, HTML, PDF).
* **build, without PDF**: the same steps, called one by one from the same public
  functions, with ``render_markdown`` and ``render_html`` but not ``render_pdf``.
* **verify**: :func:`ilo_node.client.reports.verify_report_files` of that report in
  the Presidency's home, what ``ilo-node report verify`` runs there: signature,
  checkpoint, every proof, and every figure recomputed from its own log.
* for reference: the key derivation alone (``Home.signing_key``, part of both builds).

Every figure is the best of ``--repeats`` runs, interleaved (floor, build without PDF,
build with PDF, verify, then again) so that a burst of load on a shared machine hits
an operation and its floor alike; the build with PDF runs only in the first
``--pdf-repeats`` of them (default 1): WeasyPrint takes about a minute for the
report here, whatever the size of the log. The growth is a least-squares line
``t = a + b N`` through the sizes measured; its slope is the time per envelope, and the same line
gives the extrapolation to 1,000,000 envelopes (the target of issue 11: at most 10 s
each on one core), printed as an extrapolation, apart from the verdict on the largest
size actually measured.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench.protocol_bench import platform_info  # noqa: E402
from ilo_node.client.reports import build_report_files, verify_report_files  # noqa: E402
from ilo_node.dev.netbuilder import DEFAULT_PRESIDENCY, build_network  # noqa: E402
from ilo_node.home.home import Home, now_ms, write_private_file  # noqa: E402
from ilo_node.node.core import Node  # noqa: E402
from ilo_node.report.aggregate import previous_periods  # noqa: E402
from ilo_node.report.build import build_report  # noqa: E402
from ilo_node.report.render import render_html, render_markdown  # noqa: E402
from ilo_node.report.template import load_template  # noqa: E402
from keys.distribution import recipients_for  # noqa: E402
from protocol.checkpoint import SignedCheckpoint, cosign  # noqa: E402
from protocol.envelope import REFERENCE_KINDS, Envelope, seal  # noqa: E402
from protocol.examples import EXAMPLES, example  # noqa: E402
from protocol.periods import half_year_of  # noqa: E402

NETWORK = "bench.ilo"
PASSPHRASE = b"ilo-node report bench"
TEMPLATE = "decision-2005-687"
HOSTS = ("TR", "MA")
FILLER_AUTHORS = ("AT@TR", "BE@MA")  # AT@TR's reach the builder, BE@MA's do not
WITNESS = "COM@EU"  # cosigns the builder's checkpoint
CONTRIBUTION_KIND = "half_year_contribution"
TARGET_S = 10.0
TARGET_SIZE = 1_000_000
DEFAULT_SIZES = "10000,30000,100000"
#: Bumped when the workload changes, so that --dir does not reuse an older one.
WORKLOAD_VERSION = 1
_LENGTH = struct.Struct(">I")


def presidency_party(at_ms: int) -> str:
    party = DEFAULT_PRESIDENCY.get(half_year_of(at_ms))
    if party is None:
        raise SystemExit(f"bench: no Presidency for {half_year_of(at_ms)} in the scratch roster")
    return party


def contributing_states(presidency: str) -> list[str]:
    """Six Member States, the Presidency's among them."""
    others = [s for s in ("DE", "ES", "FR", "IT", "NL", "PL") if s != presidency]
    return sorted([presidency, *others[:5]])


@dataclass(frozen=True)
class Workload:
    base: Path
    period: str
    periods: list[str]
    presidency: str
    states: list[str]
    builder: str  # the Presidency's node that builds and verifies the report
    start_ms: int  # created_ms of the first envelope

    @property
    def node_ids(self) -> list[str]:
        ms = [f"{s}@{h}" for h in HOSTS for s in self.states]
        return sorted([*ms, *FILLER_AUTHORS, "COM@EU"])

    @property
    def contributions(self) -> int:
        return len(HOSTS) * len(self.states) * len(self.periods)

    def signature(self) -> dict[str, Any]:
        return {
            "version": WORKLOAD_VERSION,
            "period": self.period,
            "periods": self.periods,
            "states": self.states,
            "hosts": list(HOSTS),
            "filler_authors": list(FILLER_AUTHORS),
        }


# --- sealed envelopes, in files ---------------------------------------------------


def _write_raws(out: BinaryIO, raws: Sequence[bytes]) -> None:
    for raw in raws:
        out.write(_LENGTH.pack(len(raw)))
        out.write(raw)


def read_raws(path: Path) -> Iterator[bytes]:
    if not path.exists():
        return
    with path.open("rb") as f:
        while head := f.read(_LENGTH.size):
            yield f.read(_LENGTH.unpack(head)[0])


def _count_and_head(path: Path) -> tuple[int, bytes | None, int]:
    """How many envelopes the file holds, and the last one's id and created_ms."""
    count, last = 0, None
    for raw in read_raws(path):
        count, last = count + 1, raw
    if last is None:
        return 0, None, 0
    env = Envelope.from_bytes(last)
    return count, env.id, env.header.created_ms


def _filler_kinds() -> list[str]:
    return sorted(k for k in EXAMPLES if k not in REFERENCE_KINDS and k != CONTRIBUTION_KIND)


def _seal_chain(
    path: str, author: str, seed: bytes, keys: Any, start: int, count: int, start_ms: int
) -> int:
    """Append ``count`` filler envelopes to ``author``'s chain in ``path`` (a worker)."""
    have, prev, _ = _count_and_head(Path(path))
    assert have == start
    kinds = _filler_kinds()
    with open(path, "ab") as out:
        chunk: list[bytes] = []
        for seq in range(start + 1, start + count + 1):
            kind = kinds[seq % len(kinds)]
            envelope = seal(
                signing_seed=seed,
                network=NETWORK,
                kind=kind,
                author_node=author,
                seq=seq,
                prev=prev,
                # 20 envelopes per millisecond and chain: a million span 25 s.
                created_ms=start_ms + seq // 20,
                distribution="local",
                recipient_keys=keys,
                handling="H1",
                content=example(kind),
            )
            prev = envelope.id
            chunk.append(envelope.to_bytes())
            if len(chunk) >= 1000:
                _write_raws(out, chunk)
                chunk = []
        _write_raws(out, chunk)
    return count


def _keys_and_seed(home: Home, distribution: str, at_ms: int) -> tuple[Any, bytes]:
    node = Node(home, PASSPHRASE)
    try:
        assert node.signing is not None  # opened with the passphrase
        to = recipients_for(node.trust.roster, node.node_id, distribution, at_ms)
        return node.trust.recipient_keys(to, at_ms), node.signing.reveal()
    finally:
        node.close()


def _contribution_content(state: str, host: str, period: str, k: int) -> dict[str, Any]:
    content = example(CONTRIBUTION_KIND)
    content.update(member_state=state, host_country=host, half_year=period)
    # Figures that differ from one contribution to the next, as real ones do.
    content["deployments"] = 1 + k % 4
    content["carrier_contacts"] = 5 + k % 11
    content["irregular_migrants_detected"] = 400 + 7 * k
    return content


def seal_everything(wl: Workload, homes: Mapping[str, Home], filler_needed: int) -> None:
    """The 48 contributions once, and each filler chain up to what ``filler_needed`` takes."""
    sealed = wl.base / "sealed"
    sealed.mkdir(exist_ok=True)
    at = wl.start_ms
    contributions = sealed / "contributions.bin"
    if not contributions.exists():
        raws: list[bytes] = []
        heads: dict[str, tuple[int, bytes | None]] = {}
        k = 0
        for period in wl.periods:  # period-major: each author's seqs in log order
            for host in HOSTS:
                for state in wl.states:
                    author = f"{state}@{host}"
                    keys, seed = _keys_and_seed(homes[author], "presidency", at)
                    seq, prev = heads.get(author, (0, None))
                    envelope = seal(
                        signing_seed=seed,
                        network=NETWORK,
                        kind=CONTRIBUTION_KIND,
                        author_node=author,
                        seq=seq + 1,
                        prev=prev,
                        created_ms=at + k,
                        distribution="presidency",
                        recipient_keys=keys,
                        handling="H1",
                        content=_contribution_content(state, host, period, k),
                    )
                    heads[author] = (seq + 1, envelope.id)
                    raws.append(envelope.to_bytes())
                    k += 1
        with contributions.open("wb") as out:
            _write_raws(out, raws)
    per_chain = -(-filler_needed // len(FILLER_AUTHORS))
    jobs = []
    for author in FILLER_AUTHORS:
        have, _, _ = _count_and_head(sealed / f"{author}.bin")
        if have < per_chain:
            keys, seed = _keys_and_seed(homes[author], "local", at)
            jobs.append((str(sealed / f"{author}.bin"), author, seed, keys, have, per_chain - have))
    if not jobs:
        return
    started = time.perf_counter()
    total = sum(j[5] for j in jobs)
    print(f"  sealing {total:,} filler envelopes in {len(jobs)} processes ...", file=sys.stderr)
    with ProcessPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(_seal_chain, *job, at) for job in jobs]
        for f in futures:
            f.result()
    print(f"  sealed in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def log_order(wl: Workload, size: int) -> Iterator[bytes]:
    """The log of ``size`` envelopes: filler by the two authors in turn, the
    contributions spread evenly among them (each chain read in its own order)."""
    sealed = wl.base / "sealed"
    contributions = list(read_raws(sealed / "contributions.bin"))
    places = {round((k + 0.5) * size / len(contributions)): k for k in range(len(contributions))}
    chains = [read_raws(sealed / f"{a}.bin") for a in FILLER_AUTHORS]
    filler = 0
    for position in range(size):
        if position in places:
            yield contributions[places[position]]
        else:
            yield next(chains[filler % len(chains)])
            filler += 1


# --- preparing the logs -----------------------------------------------------------


def prepare_network(base: Path) -> tuple[Workload, dict[str, Home]]:
    marker = base / "workload.json"
    net = base / "net"
    if marker.exists():
        saved = json.loads(marker.read_text())
        wl = Workload(
            base,
            saved["period"],
            saved["periods"],
            saved["presidency"],
            saved["states"],
            saved["builder"],
            saved["start_ms"],
        )
        if saved.get("version") == WORKLOAD_VERSION and wl.period == half_year_of(now_ms()):
            homes = {n: Home(net / n) for n in wl.node_ids}
            return wl, homes
        raise SystemExit(
            f"bench: {base} holds another workload (or another half-year's); "
            "give another --dir or remove it"
        )
    now = now_ms()
    presidency = presidency_party(now)
    period = half_year_of(now)
    template = load_template(TEMPLATE)
    periods = [*previous_periods(period, template.trend_periods), period]
    # Built a day ago, so that every envelope's time is past and within the validity.
    built_at = now - 86_400_000
    wl = Workload(
        base,
        period,
        periods,
        presidency,
        contributing_states(presidency),
        f"{presidency}@{HOSTS[0]}",
        built_at + 60_000,
    )
    if half_year_of(built_at) != period:
        raise SystemExit("bench: run it again tomorrow (the half-year began less than a day ago)")
    print(f"  building the network of {len(wl.node_ids)} nodes ...", file=sys.stderr)
    network = build_network(net, wl.node_ids, network=NETWORK, passphrase=PASSPHRASE, now=built_at)
    marker.write_text(
        json.dumps(
            {
                **wl.signature(),
                "presidency": presidency,
                "builder": wl.builder,
                "start_ms": wl.start_ms,
            }
        )
    )
    return wl, dict(network.nodes)


def prepare_log(wl: Workload, homes: Mapping[str, Home], size: int, batch: int) -> Home:
    """The builder's home with a log of ``size`` envelopes and a checkpoint of it."""
    target = wl.base / "logs" / str(size)
    marker = target / "bench-prepared.json"
    if marker.exists():
        return Home(target)
    if target.exists():
        shutil.rmtree(target)  # an interrupted preparation
    seal_everything(wl, homes, size - wl.contributions)
    target.parent.mkdir(exist_ok=True)
    shutil.copytree(
        homes[wl.builder].path, target, ignore=shutil.ignore_patterns("node.db*", "*.lock")
    )
    home = Home(target)
    print(f"  ingesting {size:,} envelopes into {wl.builder} ...", file=sys.stderr)
    started = time.perf_counter()
    node = Node(home, PASSPHRASE)
    try:
        chunk: list[bytes] = []
        for raw in log_order(wl, size):
            chunk.append(raw)
            if len(chunk) == batch:
                _ingest(node, chunk)
                chunk = []
        if chunk:
            _ingest(node, chunk)
        if node.size() != size:
            raise SystemExit(f"bench: the log holds {node.size()} envelopes, not {size}")
        node.checkpoint()
        readable = node.view.counts()["readable"]
    finally:
        node.close()
    elapsed = time.perf_counter() - started
    print(f"  ingested in {elapsed:.0f} s", file=sys.stderr)
    marker.write_text(json.dumps({"size": size, "readable": readable, "ingest_s": elapsed}))
    return home


def witness_checkpoint(home: Home, witness: Home) -> None:
    """A peer cosigns the builder's latest checkpoint, as in a witnessing round: the
    report is built at a checkpoint a peer cosigned (once per prepared log)."""
    node = Node(home, PASSPHRASE)
    try:
        note = node.log.checkpoint_note_at()
        assert note is not None
        size = SignedCheckpoint.from_bytes(note).checkpoint.size
        if node.witnessing.cosigned_at(size):
            return
        key = witness.signing_key(PASSPHRASE)
        cosigned = cosign(note, witness.config().node or "", key.reveal(), int(time.time()))
        if not node.witnessing.record_cosignature(cosigned, witness.config().node or ""):
            raise SystemExit("bench: the witness's cosignature was not accepted")
    finally:
        node.close()


def _ingest(node: Node, raws: list[bytes]) -> None:
    for result in node.ingest(raws):
        if result.status != "accepted":
            raise SystemExit(f"bench: ingest refused an envelope: {result.status} {result.reason}")


# --- the operations ---------------------------------------------------------------


@dataclass
class Sample:
    wall: list[float]
    cpu: list[float]

    @property
    def best(self) -> float:
        return min(self.wall)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)


def _timed(samples: dict[str, Sample], name: str, fn: Callable[[], object]) -> object:
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    c1, w1 = time.process_time(), time.perf_counter()
    sample = samples.setdefault(name, Sample([], []))
    sample.wall.append(w1 - w0)
    sample.cpu.append(c1 - c0)
    return result


def _passphrase() -> bytes:
    return PASSPHRASE


def build_without_pdf(home: Home, period: str, out: Path) -> dict[str, Any]:
    """build_report_files's steps, from the same functions, without render_pdf."""
    template = load_template(TEMPLATE)
    signing = home.signing_key(PASSPHRASE)
    node = Node(home, None, writer=False)
    try:
        built = build_report(node, signing, template, period, now_ms())
    finally:
        node.close()
    write_private_file(out / "report.json", built.data)
    write_private_file(out / "report.sig", built.signature)
    report = json.loads(built.data)
    write_private_file(out / "report.md", render_markdown(report).encode())
    write_private_file(out / "report.html", render_html(report).encode())
    return built.body


def measure_size(
    wl: Workload, home: Home, size: int, repeats: int, pdf_repeats: int, runs: Path
) -> dict[str, Any]:
    samples: dict[str, Sample] = {}
    summary: dict[str, Any] = {}
    notes: list[str] = []
    for r in range(repeats):
        out_plain, out_full = runs / f"{size}-{r}-plain", runs / f"{size}-{r}-full"
        out_plain.mkdir(parents=True)

        def open_log() -> None:
            Node(home, None, writer=False).close()

        def verify(out: Path) -> None:
            result = verify_report_files(home, out / "report.json", now_ms())
            if not result.ok or not result.recomputed:
                raise SystemExit(f"bench: the report does not verify: {result.problems[:3]}")
            notes[:] = result.notes

        _timed(samples, "floor", open_log)
        body = _timed(samples, "build", partial(build_without_pdf, home, wl.period, out_plain))
        assert isinstance(body, dict)
        summary["contributions_in_report"] = len(body["manifest"]["contributions"])
        summary["checkpoint_size"] = body["manifest"]["log_size"]
        summary["report_json_bytes"] = (out_plain / "report.json").stat().st_size
        verified = out_plain
        if r < pdf_repeats:  # the PDF costs a minute here, whatever the size of the log
            out_full.mkdir(parents=True)
            built = _timed(
                samples,
                "build_pdf",
                partial(
                    build_report_files, home, _passphrase, wl.period, out_full, TEMPLATE, now_ms()
                ),
            )
            summary.update(getattr(built, "summary", {}))
            summary["report_pdf_bytes"] = (out_full / "report.pdf").stat().st_size
            verified = out_full
        _timed(samples, "verify", partial(verify, verified))
        _timed(samples, "kdf", lambda: home.signing_key(PASSPHRASE))
        shutil.rmtree(out_plain)
        shutil.rmtree(out_full, ignore_errors=True)
    expected = (wl.contributions, size)
    if (summary["contributions_in_report"], summary["checkpoint_size"]) != expected:
        raise SystemExit(f"bench: the report holds {summary}, expected {expected}")
    prepared = json.loads((home.path / "bench-prepared.json").read_text())
    return {
        "envelopes": size,
        "readable": prepared["readable"],
        "prepare_ingest_s": prepared["ingest_s"],
        "report": summary,
        "verify_notes": notes,
        "seconds": {
            name: {"best": s.best, "best_cpu": s.best_cpu, "samples": s.wall}
            for name, s in samples.items()
        },
    }


# --- report -----------------------------------------------------------------------

_OPS = {
    "floor": "open the log (floor)",
    "build": "report build, no PDF",
    "build_pdf": "report build, with PDF",
    "verify": "report verify",
    "kdf": "key derivation (in build)",
}
_TIMED = ("build", "build_pdf", "verify")


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least squares ``y = a + b x``; with one point, the line through the origin."""
    if len(xs) == 1:
        return 0.0, ys[0] / xs[0]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return my - b * mx, b


def report(
    wl: Workload, per_size: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    sizes = [m["envelopes"] for m in per_size]
    growth: dict[str, Any] = {}
    for name in _OPS:
        times = [m["seconds"][name]["best"] for m in per_size]
        a, b = linear_fit(sizes, times)
        growth[name] = {
            "intercept_s": a,
            "us_per_envelope": b * 1e6,
            "per_envelope_at_each_size_us": [
                t / n * 1e6 for t, n in zip(times, sizes, strict=True)
            ],
            "extrapolated_1M_s": a + b * TARGET_SIZE,
        }
    largest = per_size[-1]
    verdicts = {
        name: {
            "largest_size": largest["envelopes"],
            "seconds": largest["seconds"][name]["best"],
            "verdict": "PASS" if largest["seconds"][name]["best"] <= TARGET_S else "ABOVE",
            "extrapolated_1M_s": growth[name]["extrapolated_1M_s"],
            # A slope at or below zero is noise (sizes too small or too close): no verdict.
            "extrapolated_verdict": (
                "n/a: no growth measured"
                if growth[name]["us_per_envelope"] <= 0
                else "PASS"
                if growth[name]["extrapolated_1M_s"] <= TARGET_S
                else "ABOVE"
            ),
        }
        for name in _TIMED
    }
    return {
        "benchmark": "report (bench/report_bench.py)",
        "platform": platform_info(),
        "settings": {
            "sizes": sizes,
            "repeats": args.repeats,
            "batch": args.batch,
            "directory": str(wl.base),
            "template": TEMPLATE,
        },
        "workload": {
            "period": wl.period,
            "periods": wl.periods,
            "hosts": list(HOSTS),
            "contributing_states": wl.states,
            "contributions": wl.contributions,
            "builder": wl.builder,
            "filler_authors": list(FILLER_AUTHORS),
        },
        "sizes": per_size,
        "growth": growth,
        "target_s": TARGET_S,
        "verdicts": verdicts,
    }


def print_text(result: dict[str, Any]) -> None:
    p, s, w = result["platform"], result["settings"], result["workload"]
    print("Report benchmark (bench/report_bench.py)")
    print(f"  date       {p['date']}")
    print(f"  cpu        {p['cpu_model']} ({p['nproc']} usable CPUs)")
    print(f"  python     {p['python']} on {p['platform']}")
    print(f"  timing     best of {s['repeats']} interleaved runs; files in {s['directory']}")
    print(
        f"  workload   report {w['period']} ({s['template']}) built and verified at "
        f"{w['builder']}; {w['contributions']} contributions ({len(w['hosts'])} host countries "
        f"x {len(w['contributing_states'])} Member States x {len(w['periods'])} half-years), "
        f"the rest filler by {' and '.join(w['filler_authors'])}"
    )
    print()
    header = f"  {'N envelopes':<28}" + "".join(f"{m['envelopes']:>14,}" for m in result["sizes"])
    print(header)
    print(
        f"  {'readable at the builder':<28}"
        + "".join(f"{m['readable']:>14,}" for m in result["sizes"])
    )
    for name, label in _OPS.items():
        row = "".join(f"{m['seconds'][name]['best']:>12.3f} s" for m in result["sizes"])
        print(f"  {label:<28}{row}")
    print(f"  {'  CPU time of the same':<28}")
    for name in ("floor", "build", "build_pdf", "verify"):
        row = "".join(f"{m['seconds'][name]['best_cpu']:>12.3f} s" for m in result["sizes"])
        print(f"  {'  ' + _OPS[name]:<28}{row}")
    print(f"  {'ratio to the floor':<28}")
    for name in _TIMED:
        row = "".join(
            f"{m['seconds'][name]['best'] / m['seconds']['floor']['best']:>14.2f}"
            for m in result["sizes"]
        )
        print(f"  {'  ' + _OPS[name]:<28}{row}")
    print()
    print("  growth: least-squares line t = a + b N through the sizes above")
    print(f"  {'':<28} {'a (s)':>9} {'b (µs/env)':>11}   µs per envelope at each size")
    for name, label in _OPS.items():
        g = result["growth"][name]
        each = ", ".join(f"{v:.1f}" for v in g["per_envelope_at_each_size_us"])
        print(f"  {label:<28} {g['intercept_s']:>9.3f} {g['us_per_envelope']:>11.2f}   {each}")
    print(
        "  (the PDF's own cost does not depend on N, the report being the same at every size:"
        " its\n  line is the noise of one run each; read build with PDF as build without PDF"
        " + the PDF)"
    )
    print()
    print(f"  target (issue 11): <= {result['target_s']:.0f} s each at {TARGET_SIZE:,} envelopes")
    for name in _TIMED:
        v = result["verdicts"][name]
        measured = f"measured {v['seconds']:.2f} s at {v['largest_size']:,}: {v['verdict']}"
        print(
            f"  {_OPS[name]:<24} {measured}; EXTRAPOLATED to 1 M from the line: "
            f"{v['extrapolated_1M_s']:.1f} s ({v['extrapolated_verdict']})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"log sizes, comma-separated (default {DEFAULT_SIZES}; 1000000 is issue 11's)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs each (default 3)")
    parser.add_argument(
        "--pdf-repeats",
        type=int,
        default=1,
        help="of those, runs that also build the PDF (default 1: it takes about a minute)",
    )
    parser.add_argument("--batch", type=int, default=5000, help="ingest batch (default 5000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="keep the network, sealed envelopes and prepared logs here, and reuse them",
    )
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas")
    if not sizes or args.repeats < 1 or args.batch < 1 or args.pdf_repeats < 1:
        parser.error("--sizes needs a size; --repeats, --pdf-repeats, --batch at least 1")
    pdf = min(args.pdf_repeats, args.repeats)
    with tempfile.TemporaryDirectory(prefix="ilo-report-bench-") as tmp:
        base = args.dir if args.dir is not None else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        wl, homes = prepare_network(base)
        if sizes[0] < 2 * wl.contributions:
            parser.error(f"every size must be at least {2 * wl.contributions}")
        logs = [prepare_log(wl, homes, n, args.batch) for n in sizes]
        for log in logs:
            witness_checkpoint(log, homes[WITNESS])
        runs = Path(tmp) / "runs"
        per_size = []
        for n, home in zip(sizes, logs, strict=True):
            print(f"  measuring at {n:,} envelopes ...", file=sys.stderr)
            per_size.append(measure_size(wl, home, n, args.repeats, pdf, runs))
        result = report(wl, per_size, args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_text(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
