"""Crash safety: a real node process, killed with SIGKILL at random moments while it
ingests a stream of envelopes, loses nothing it acknowledged, and its log verifies.

The receiver is ``ilo-node log ingest`` (length-prefixed envelopes on stdin, one
``ack`` line per stored envelope printed only after its batch commits). The test
plays a sender: it keeps every ack it read, kills the node at a random number of
acks or after a random delay, restarts it and sends again everything that was not
acknowledged, plus some envelopes that were (which must come back as duplicates).
The random choices come from one seed (``ILO_CRASH_SEED`` to try others).
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ilo_node.dev.launcher import child_env, cli_argv
from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.home.home import Home
from ilo_node.node.audit import verify_log
from ilo_node.node.core import Node
from protocol.checkpoint import SignedCheckpoint
from protocol.envelope import Envelope
from protocol.examples import example

pytestmark = pytest.mark.slow

PASS = b"crash test passphrase"
NODES = ["DE@TR", "FR@TR", "IT@TR", "COM@EU"]
RECEIVER = "FR@TR"
KINDS = ["incident_alert", "route_report", "flow_report", "meeting_record"]
SEED = int(os.environ.get("ILO_CRASH_SEED", "20261128"))
PER_AUTHOR = 90
MIN_KILLS = 12
MAX_RUNS = 40
#: Longest wait for any one thing a child process should do; a hung child fails the test.
IO_TIMEOUT = 30.0
STORED = {"accepted", "duplicate", "quarantined"}


def _clean(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr


def _frame(raw: bytes) -> bytes:
    return len(raw).to_bytes(4, "big") + raw


@dataclass
class Run:
    """What one receiver process said before it ended or was killed."""

    acks: list[tuple[str, str, str]] = field(default_factory=list)  # (id hex, status, reason)
    nacks: list[str] = field(default_factory=list)
    killed: bool = False
    returncode: int | None = None
    stderr: str = ""


class Receiver:
    """Starts ``log ingest`` processes on one node home and always reaps them."""

    def __init__(self, home: Path, passphrase_file: Path, workdir: Path) -> None:
        self.home = home
        self.passphrase_file = passphrase_file
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.count = 0

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        argv = cli_argv(self.home, self.passphrase_file, *args)
        result = subprocess.run(
            argv,
            cwd=self.workdir,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        _clean(result.stderr)
        if ok:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def run(
        self,
        frames: Sequence[bytes],
        batch: int,
        *,
        kill_after_acks: int | None = None,
        kill_after_s: float | None = None,
        kill_after_first_ack_s: float | None = None,
    ) -> Run:
        """Send ``frames`` and SIGKILL the process once it printed ``kill_after_acks``
        acks, or ``kill_after_s`` seconds after its start, or ``kill_after_first_ack_s``
        seconds after its first ack (mid-stream, at no particular line). With none of
        them, let it finish."""
        self.count += 1
        errors = self.workdir / f"stderr-{self.count}.txt"
        argv = cli_argv(self.home, self.passphrase_file, "log", "ingest", "--batch", str(batch))
        with errors.open("wb") as stderr:
            proc = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        self.procs.append(proc)
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout
        lines: queue.Queue[bytes | None] = queue.Queue()

        def write() -> None:
            try:
                for frame in frames:
                    stdin.write(frame)
                stdin.close()
            except (OSError, ValueError):  # the process was killed: stop sending
                pass

        def read() -> None:
            try:
                for line in stdout:
                    lines.put(line)
            except (OSError, ValueError):
                pass
            finally:
                lines.put(None)

        threads = [threading.Thread(target=f, daemon=True) for f in (write, read)]
        for thread in threads:
            thread.start()

        run = Run()

        def take(line: bytes) -> None:
            if not line.endswith(b"\n"):
                return  # cut off by the kill: not an acknowledgement
            word, ident, status, reason = line.decode().rstrip("\n").split(" ", 3)
            if word == "ack":
                run.acks.append((ident, status, reason))
            else:
                assert word == "nack", line
                run.nacks.append(line.decode())

        deadline = None if kill_after_s is None else time.monotonic() + kill_after_s
        ended = False
        while True:
            timeout = IO_TIMEOUT
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    run.killed = self._kill(proc)
                    break
                pytest.fail(f"the receiver printed nothing for {IO_TIMEOUT} s (hung?)")
            if line is None:
                ended = True
                break
            take(line)
            if kill_after_acks is not None and len(run.acks) >= kill_after_acks:
                run.killed = self._kill(proc)
                break
            if kill_after_first_ack_s is not None and deadline is None:
                deadline = time.monotonic() + kill_after_first_ack_s
        run.returncode = proc.wait(timeout=IO_TIMEOUT)
        # Lines the process wrote before it died are acknowledgements too.
        while not ended:
            line = lines.get(timeout=IO_TIMEOUT)
            if line is None:
                ended = True
            else:
                take(line)
        for thread in threads:
            thread.join(timeout=IO_TIMEOUT)
            assert not thread.is_alive(), "a pipe thread did not finish"
        stdout.close()
        if not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()
        run.stderr = errors.read_text(errors="replace")
        return run

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> bool:
        """SIGKILL the process if it still runs; True if the signal ended it."""
        proc.send_signal(signal.SIGKILL)
        return proc.wait(timeout=IO_TIMEOUT) == -signal.SIGKILL

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=IO_TIMEOUT)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None and not pipe.closed:
                    with contextlib.suppress(OSError):
                        pipe.close()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(tmp_path_factory.mktemp("crash") / "net", NODES, passphrase=PASS)


def _copy_home(network: BuiltNetwork, node: str, target: Path) -> Home:
    shutil.copytree(network.nodes[node].path, target, ignore=shutil.ignore_patterns("node.db*"))
    return Home(target)


@pytest.fixture(scope="module")
def stream(network: BuiltNetwork, tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A few hundred envelopes from three authors, interleaved and a little out of order.

    DE's are addressed to FR (the receiver decrypts them); IT's and COM's are partly
    not (FR only relays those)."""
    base = tmp_path_factory.mktemp("authors")
    rng = random.Random(SEED)
    per_author: list[list[bytes]] = []
    plans: dict[str, list[tuple[str, tuple[str, ...]]]] = {
        "DE@TR": [("local", ())],
        "IT@TR": [("states", ("IT", "DE")), ("local", ())],
        "COM@EU": [("presidency", ()), ("network", ())],
    }
    for name, plan in plans.items():
        author = Node(_copy_home(network, name, base / name), PASS)
        try:
            sent = []
            for i in range(PER_AUTHOR):
                kind = KINDS[i % len(KINDS)]
                distribution, states = plan[i % len(plan)]
                envelope, _ = author.publish(
                    kind, example(kind), distribution=distribution, states=states
                )
                sent.append(envelope.to_bytes())
            per_author.append(sent)
        finally:
            author.close()
    interleaved = [raw for group in zip(*per_author, strict=True) for raw in group]
    # Shuffle a bit: move some envelopes a few places ahead of their predecessors.
    for i in range(len(interleaved) - 12):
        if rng.random() < 0.15:
            j = i + rng.randint(1, 12)
            interleaved[i], interleaved[j] = interleaved[j], interleaved[i]
    return interleaved


@pytest.fixture
def receiver(network: BuiltNetwork, tmp_path: Path) -> Iterator[Receiver]:
    node = Receiver(network.nodes[RECEIVER].path, network.passphrase_file, tmp_path)
    yield node
    node.close()


def _migrated(db: Path) -> bool:
    if not db.exists():
        return False
    conn = sqlite3.connect(db)
    try:
        return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'envelopes'").fetchone())
    finally:
        conn.close()


def _tables(db: Path) -> tuple[set[str], set[str]]:
    """Ids (hex) in the log and in the quarantine."""
    if not db.exists():
        return set(), set()
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "envelopes" not in tables:
            # Killed before the first migration committed: an empty database, which
            # the next start migrates again.
            return set(), set()
        log = {bytes(r[0]).hex() for r in conn.execute("SELECT id FROM envelopes")}
        held = {bytes(r[0]).hex() for r in conn.execute("SELECT id FROM quarantine")}
    finally:
        conn.close()
    return log, held


def test_sigkill_at_random_moments_loses_no_acknowledged_envelope(
    network: BuiltNetwork, stream: list[bytes], receiver: Receiver
) -> None:
    rng = random.Random(SEED)
    home = network.nodes[RECEIVER]
    db = home.path / "node.db"
    key = home.public_key()
    ids = [Envelope.from_bytes(raw).id.hex() for raw in stream]
    position = {ident: i for i, ident in enumerate(ids)}
    frames = [_frame(raw) for raw in stream]
    readable = sum(RECEIVER in Envelope.from_bytes(raw).header.recipients for raw in stream)
    acked: dict[str, str] = {}  # id -> status of its first ack
    in_log: set[str] = set()  # acked as accepted: must stay in the log for ever
    seen: Counter[str] = Counter()
    lost_acks = 0  # committed before a kill but the ack never came out: resent later
    kills = runs = 0

    def check(run: Run, resent: set[str], context: str) -> None:
        nonlocal lost_acks
        _clean(run.stderr)
        assert not run.nacks, f"{context}: valid envelopes refused: {run.nacks[:3]}"
        for ident, status, reason in run.acks:
            assert status in STORED, f"{context}: {ident} {status} {reason}"
            seen[status] += 1
            if ident in resent:
                assert status == "duplicate", f"{context}: re-sent {ident} came back {status}"
            elif status == "duplicate":
                lost_acks += 1
            acked.setdefault(ident, status)
            if status == "accepted":
                in_log.add(ident)
        log, held = _tables(db)
        missing = set(acked) - log - held
        assert not missing, f"{context}: acknowledged but not on disk: {sorted(missing)[:3]}"
        assert not in_log - log, f"{context}: accepted envelopes left the log"
        assert len(log | held) <= len(ids)
        if _migrated(db):
            report = verify_log(db, [key], RECEIVER, workers=1)
            assert report.ok, f"{context}: {report.problems[:3]}"
            assert report.size == len(log)

    def plan() -> tuple[list[bytes], set[str]]:
        todo = [i for i, ident in enumerate(ids) if ident not in acked]
        again = rng.sample(sorted(acked), min(8, len(acked)))
        order = sorted(set(todo) | {position[a] for a in again})
        return [frames[i] for i in order], set(again)

    while kills < MIN_KILLS:
        assert runs < MAX_RUNS, f"only {kills} kills in {runs} runs (seed {SEED})"
        batch = rng.choice([1, 3, 8, 32])
        to_send, resent = plan()
        mode = rng.random()
        if mode < 0.2:  # anywhere from the start: opening the keys and the database too
            run = receiver.run(to_send, batch, kill_after_s=rng.uniform(0.0, 1.0))
        elif mode < 0.6:  # right after an ack: inside the next batch
            run = receiver.run(to_send, batch, kill_after_acks=rng.randint(1, 24))
        else:  # at a random moment of the ingest
            run = receiver.run(to_send, batch, kill_after_first_ack_s=rng.uniform(0.0, 0.12))
        runs += 1
        context = f"run {runs} (seed {SEED}, batch {batch})"
        if run.killed:
            kills += 1
        else:
            assert run.returncode == 0, f"{context}: exit {run.returncode}: {run.stderr}"
        check(run, resent, context)

    # A last run without a kill: everything left is acknowledged.
    to_send, resent = plan()
    run = receiver.run(to_send, 16)
    assert not run.killed and run.returncode == 0, run.stderr
    check(run, resent, f"final run (seed {SEED})")
    assert set(acked) == set(ids)
    assert seen["quarantined"] > 0, "the stream never sent an envelope before its predecessor"
    assert seen["duplicate"] > 0
    # Every restart retries the quarantine, so nothing placeable is left waiting.
    log, held = _tables(db)
    assert not held, f"{len(held)} envelope(s) never placed (seed {SEED})"
    assert log == set(ids)
    receiver.cli("publish", "incident_alert", "--example")
    log, held = _tables(db)
    assert log >= set(ids) and len(log) == len(ids) + 1

    conn = sqlite3.connect(db)
    try:
        contents = conn.execute("SELECT COUNT(*) FROM contents").fetchone()[0]
    finally:
        conn.close()
    assert contents == readable + 1  # everything addressed to FR was decrypted and kept

    assert receiver.cli("log", "verify").stdout.startswith(f"log OK: {len(ids) + 1} envelopes")
    note = receiver.cli("log", "checkpoint").stdout.encode()
    checkpoint = SignedCheckpoint.from_bytes(note)
    checkpoint.verify(RECEIVER, key)
    assert checkpoint.checkpoint.size == len(ids) + 1
    verified = receiver.cli("log", "verify").stdout
    assert f"latest covers {len(ids) + 1}" in verified
    print(
        f"seed {SEED}: {runs + 1} runs, {kills} kills, {len(ids)} envelopes, "
        f"acks {dict(seen)}, {lost_acks} committed-but-unacknowledged re-sent"
    )


def test_restart_places_quarantined_envelope_whose_predecessor_was_committed_before_a_kill(
    network: BuiltNetwork, tmp_path: Path
) -> None:
    author = Node(_copy_home(network, "IT@TR", tmp_path / "IT@TR"), PASS)
    try:
        first = author.publish("incident_alert", example("incident_alert"))[0]
        second = author.publish("incident_alert", example("incident_alert"))[0]
    finally:
        author.close()
    fr = _copy_home(network, RECEIVER, tmp_path / RECEIVER)
    receiver = Receiver(fr.path, network.passphrase_file, tmp_path)
    try:
        run = receiver.run([_frame(second.to_bytes())], 1)
        assert [a[1] for a in run.acks] == ["quarantined"]
        # What a SIGKILL right after the batch commit leaves on disk: the predecessor
        # is in the log, the retry of the quarantine has not run, no ack was printed.
        node = Node(fr, PASS)
        try:
            placed = node.ingestor._ingest_batch([first.to_bytes()], None, from_quarantine=False)
        finally:
            node.close()
        assert placed[0].status == "accepted"
        # The restarted node gets again what was not acknowledged.
        run = receiver.run([_frame(first.to_bytes()), _frame(second.to_bytes())], 8)
        assert run.returncode == 0 and not run.nacks
        log, held = _tables(fr.path / "node.db")
        assert not held, "the successor is still quarantined although its predecessor is placed"
        assert log == {first.id.hex(), second.id.hex()}
    finally:
        receiver.close()
