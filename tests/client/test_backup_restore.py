"""``ilo-node backup`` and ``ilo-node restore`` in process, as an operator runs them: a
backup taken while the home's writer is open, restored whole and verified; every refusal
(a target that is not empty, a backup that is not whole or not readable, a node running
in the home, a home of another node) changes nothing; after a restore the node does not
publish as itself until its peers have told it where its own chain stands.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.errors import NodeError
from ilo_node.home.home import Home
from ilo_node.net.gossip import Gossip
from ilo_node.net.peerauth import PeerIdentity
from ilo_node.net.service import PeerService
from ilo_node.net.transport import MemoryTransport
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from protocol.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from protocol.examples import example
from tests.support.clirun import Ran, check, invoke

PASS = "backup restore passphrase"
DE, FR, IT = "DE@TR", "FR@TR", "IT@TR"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(
        tmp_path_factory.mktemp("backup") / "net", [DE, FR, IT], passphrase=PASS.encode()
    )


@dataclass
class Site:
    """Copies of the built homes for one test, and the CLI run in its directory."""

    base: Path
    passphrase_file: Path

    def home(self, node: str) -> Path:
        return self.base / node

    def cli(self, *args: str, ok: bool = True, usage: bool = False) -> Ran:
        ran = invoke(["--passphrase-file", str(self.passphrase_file), *args], cwd=self.base)
        return check(ran, ok=ok, usage=usage)

    def open(self, node: str) -> Node:
        return Node(Home(self.home(node)), PASS.encode())


@pytest.fixture
def site(built: BuiltNetwork, tmp_path: Path) -> Site:
    for node, home in built.nodes.items():
        shutil.copytree(home.path, tmp_path / node)
    return Site(tmp_path, built.passphrase_file)


def publish(node: Node, count: int) -> list[bytes]:
    return [
        node.publish("incident_alert", example("incident_alert"))[0].to_bytes()
        for _ in range(count)
    ]


def modes(top: Path) -> dict[str, int]:
    return {
        str(p.relative_to(top)): stat.S_IMODE(p.lstat().st_mode) for p in [top, *top.rglob("*")]
    }


def listing(top: Path) -> dict[str, bytes]:
    return {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def backup(site: Site, node: str, target: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(
        site.cli("--home", str(site.home(node)), "backup", str(target), "--json").stdout
    )
    return record


def test_a_backup_taken_while_the_writer_is_open_restores_whole_and_verifies(site: Site) -> None:
    node = site.open(DE)
    try:
        publish(node, 3)
        node.checkpoint()
        publish(node, 2)  # after the checkpoint: the log is ahead of it
        # The writer holds the lock and its WAL has uncheckpointed pages: the backup reads
        # through SQLite, not the file, so what was committed is in the copy.
        assert (site.home(DE) / "node.db-wal").stat().st_size > 0
        target = site.base / "backups" / "de-1"
        record = backup(site, DE, target)
        publish(node, 1)  # after the backup: not in it
    finally:
        node.close()
    assert record["database"]["log_size"] == 5
    assert record["database"]["latest_checkpoint"]["size"] == 3
    assert record["database"]["own_head"]["seq"] == 5
    assert record["database"]["schema_version"] == 5
    assert record["node"] == DE and record["skipped"] == []
    assert stat.S_IMODE((site.base / "backups").stat().st_mode) == 0o700  # made for it
    # Every file 0600 in 0700 directories; keys copied byte for byte (still encrypted).
    wrong = {
        n: oct(m)
        for n, m in modes(target).items()
        if m != (0o700 if (target / n).is_dir() else 0o600)
    }
    assert wrong == {}
    copied = listing(target / "home")
    original = listing(site.home(DE))
    assert copied["keys/signing.key"] == original["keys/signing.key"]
    assert PASS.encode() not in b"".join(copied.values())
    assert not {"node.lock", "node.db-wal", "node.db-shm"} & set(copied)
    # The manifest lists every file with its size and hash.
    manifest = json.loads((target / "manifest.json").read_text())
    assert {f["path"] for f in manifest["files"]} == set(copied)
    for entry in manifest["files"]:
        assert entry["size"] == len(copied[entry["path"]])

    new_home = site.base / "restored-DE"
    restored = json.loads(
        site.cli("restore", str(target), "--home", str(new_home), "--json").stdout
    )
    assert restored["restored"] is True and restored["moved_aside"] is None
    assert restored["log_verify"]["ok"] is True
    assert restored["log_verify"]["size"] == 5 and restored["log_verify"]["latest_checkpoint"] == 3
    assert restored["publishing"] == "held"
    assert restored["root_fingerprint"] == site_fingerprint(site)
    assert {k: v for k, v in listing(new_home).items() if k != "restored.json"} == copied
    wrong = {
        n: oct(m)
        for n, m in modes(new_home).items()
        if m != (0o700 if (new_home / n).is_dir() else 0o600)
    }
    assert wrong == {}
    # The restored home is the node as of the backup: what came after is not there.
    again = Node(Home(new_home), None, writer=False)
    try:
        assert again.size() == 5
    finally:
        again.close()
    # And log verify, run on it as an operator would, agrees.
    verified = json.loads(
        site.cli("--home", str(new_home), "log", "verify", "--json", "--workers", "1").stdout
    )
    assert verified["ok"] and verified["size"] == 5


def site_fingerprint(site: Site) -> str:
    from keys.roster import fingerprint_of

    roster = sorted((site.home(DE) / "trust" / "roster").glob("*.roster"))[0]
    return fingerprint_of(roster.read_bytes())


# -- refusals: nothing is changed ---------------------------------------------------------


def test_a_backup_goes_only_into_a_new_or_empty_directory_outside_the_home(site: Site) -> None:
    full = site.base / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    ran = site.cli("--home", str(site.home(DE)), "backup", str(full), ok=False)
    assert "is not empty" in ran.stderr and "new directory for each backup" in ran.stderr
    assert listing(full) == {"keep.txt": b"mine"}
    inside = site.home(DE) / "backups"
    ran = site.cli("--home", str(site.home(DE)), "backup", str(inside), ok=False)
    assert "inside the home" in ran.stderr and not inside.exists()
    empty = site.base / "empty"
    empty.mkdir(mode=0o755)
    backup(site, DE, empty)
    assert stat.S_IMODE(empty.stat().st_mode) == 0o700 and (empty / "manifest.json").exists()


@pytest.fixture
def taken(site: Site) -> Path:
    node = site.open(DE)
    try:
        publish(node, 3)
        node.checkpoint()
    finally:
        node.close()
    target = site.base / "bk"
    backup(site, DE, target)
    return target


def _rewrite_manifest(backup_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = backup_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _rehash(backup_dir: Path, name: str) -> None:
    """Make the manifest agree with the file as it now is (a backup changed with care)."""
    import hashlib

    data = (backup_dir / "home" / name).read_bytes()

    def change(manifest: dict[str, Any]) -> None:
        for entry in manifest["files"]:
            if entry["path"] == name:
                entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()

    _rewrite_manifest(backup_dir, change)


def _flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _certificate(backup_dir: Path) -> Path:
    return sorted((backup_dir / "home" / "trust" / "certificates").glob("*.cert"))[0]


def _truncated_and_rehashed(backup_dir: Path) -> None:
    _truncate(backup_dir / "home" / "node.db", 0.5)
    _rehash(backup_dir, "node.db")


def _file_added(backup_dir: Path) -> None:
    (backup_dir / "home" / "keys" / "extra.key").write_text("x")


#: (name, how the backup is damaged, what the refusal says)
BROKEN: list[tuple[str, Callable[[Path], None], str]] = [
    ("no manifest", lambda b: (b / "manifest.json").unlink(), "has no manifest.json"),
    ("manifest not JSON", lambda b: _flip_byte(b / "manifest.json", 0), "not valid JSON"),
    (
        "a certificate changed (hash mismatch)",
        lambda b: _flip_byte(_certificate(b), 40),
        "does not have the SHA-256 the manifest gives",
    ),
    ("the database truncated", lambda b: _truncate(b / "home" / "node.db", 0.5), "node.db has"),
    (
        "the database truncated and the manifest made to agree",
        _truncated_and_rehashed,
        "cannot be read whole",
    ),
    ("a file missing", lambda b: (b / "home" / "config.json").unlink(), "config.json is missing"),
    (
        "a file added",
        _file_added,
        "keys/extra.key is in the backup but not in its manifest",
    ),
    (
        "a path out of the home in the manifest",
        lambda b: _rewrite_manifest(b, lambda m: m["files"][0].update(path="../../outside")),
        "is not a plain relative path",
    ),
    (
        "a newer schema",
        lambda b: _rewrite_manifest(b, lambda m: m["database"].update(schema_version=99)),
        "newer than this ilo-node",
    ),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_a_backup_that_is_not_whole_is_refused_before_anything_changes(
    site: Site, taken: Path, case: tuple[str, Callable[[Path], None], str]
) -> None:
    _, damage, said = case
    damage(taken)
    target = site.base / "new-DE"
    ran = site.cli("restore", str(taken), "--home", str(target), ok=False)
    assert said in ran.stderr
    assert not target.exists()
    assert [p.name for p in site.base.iterdir() if "restoring" in p.name] == []
    # Nor over the node's own home, even with --force.
    before = listing(site.home(DE))
    site.cli("restore", str(taken), "--home", str(site.home(DE)), "--force", ok=False)
    assert listing(site.home(DE)) == before


def test_a_log_that_does_not_verify_is_not_restored(site: Site, taken: Path) -> None:
    db = taken / "home" / "node.db"
    conn = sqlite3.connect(db)
    conn.execute("UPDATE envelopes SET kind = 'route_report' WHERE idx = 1")
    conn.commit()
    conn.close()
    _rehash(taken, "node.db")
    target = site.base / "new-DE"
    ran = invoke(["restore", str(taken), "--home", str(target), "--json"], cwd=site.base)
    assert ran.returncode == 1
    error = json.loads(ran.stderr.splitlines()[-1])["error"]  # with --json, errors are JSON
    assert error["message"].startswith("position 1: a column no longer")
    record = json.loads(ran.stdout)
    assert record["restored"] is False and record["log_verify"]["ok"] is False
    assert not target.exists()
    assert [p.name for p in site.base.iterdir() if "restoring" in p.name] == []


def test_restore_is_refused_while_the_node_of_the_home_runs(site: Site, taken: Path) -> None:
    before = listing(site.home(DE))
    # A writer holds the home (a running node does).
    node = site.open(DE)
    try:
        ran = site.cli("restore", str(taken), "--home", str(site.home(DE)), "--force", ok=False)
        assert "in use by a running node" in ran.stderr and "Stop the node first" in ran.stderr
    finally:
        node.close()
    # The local API answers on its socket (the node runs).
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(site.home(DE) / "daemon.sock"))
    server.listen(1)
    try:
        ran = site.cli("restore", str(taken), "--home", str(site.home(DE)), "--force", ok=False)
        assert "is running" in ran.stderr
    finally:
        server.close()
        (site.home(DE) / "daemon.sock").unlink()
    # The home is as it was (the node's own files aside: the writer opened and closed it).
    assert _files(site.home(DE)) == _files_of(before)


def _files_of(found: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in found.items() if not k.startswith("node.")}


def _files(home: Path) -> dict[str, bytes]:
    return _files_of(listing(home))


def test_a_home_that_is_there_is_replaced_only_with_force_and_moved_aside(
    site: Site, taken: Path
) -> None:
    node = site.open(DE)
    try:
        publish(node, 2)  # after the backup
    finally:
        node.close()
    before = listing(site.home(DE))
    ran = site.cli("restore", str(taken), "--home", str(site.home(DE)), ok=False)
    assert "is not empty" in ran.stderr and "--force" in ran.stderr
    assert listing(site.home(DE)) == before
    # Another node's home is not replaced even with --force.
    ran = site.cli("restore", str(taken), "--home", str(site.home(FR)), "--force", ok=False)
    assert f"is the home of {FR}; the backup is of {DE}" in ran.stderr
    record = json.loads(
        site.cli("restore", str(taken), "--home", str(site.home(DE)), "--force", "--json").stdout
    )
    aside = Path(record["moved_aside"])
    assert aside.parent == site.base and aside.name.startswith(f"{DE}.before-restore-")
    assert listing(aside) == before  # nothing of the old home was lost
    restored = Node(Home(site.home(DE)), None, writer=False)
    try:
        assert restored.size() == 3
    finally:
        restored.close()


def test_restore_usage(site: Site, taken: Path) -> None:
    site.cli("restore", usage=True)
    site.cli("restore", str(taken), "--resume-publishing", usage=True)


# -- after a restore: the node's own chain ---------------------------------------------------


class Pair:
    """Two nodes in this process, joined by an in-memory transport, with their gossip."""

    def __init__(self, site: Site, names: list[str]) -> None:
        self.services: dict[str, PeerService] = {}
        self.nodes: dict[str, Node] = {}
        self.workers: dict[str, NodeWorker] = {}
        self.gossips: dict[str, Gossip] = {}
        for name in names:
            node = site.open(name)
            worker = NodeWorker(node)
            assert node.signing is not None
            transport = MemoryTransport(
                PeerIdentity(name, node.signing.reveal()), node.clock, self.services
            )
            gossip = Gossip(worker, transport, [p for p in names if p != name])
            self.services[name] = PeerService(worker, gossip.push)
            self.nodes[name], self.workers[name], self.gossips[name] = node, worker, gossip

    def close(self) -> None:
        for name, node in self.nodes.items():
            self.workers[name].close()
            node.close()

    def sync(self, name: str, peer: str) -> int:
        return asyncio.run(self.gossips[name].sync_with(peer))


@pytest.fixture
def pair_of(site: Site) -> Iterator[Callable[[list[str]], Pair]]:
    made: list[Pair] = []

    def make(names: list[str]) -> Pair:
        made.append(Pair(site, names))
        return made[-1]

    yield make
    for pair in made:
        pair.close()


def _own_head(node: Node) -> int:
    assert node.signing is not None
    head = node.ingestor.head(node.signing.public)
    return 0 if head is None else head.seq


def test_a_restored_node_publishes_again_only_once_its_peers_gave_back_its_own_chain(
    site: Site, pair_of: Callable[[list[str]], Pair]
) -> None:
    first = pair_of([DE, FR])
    de, fr = first.nodes[DE], first.nodes[FR]
    publish(de, 2)
    first.sync(FR, DE)
    backup(site, DE, site.base / "bk")  # DE's chain at seq 2
    publish(de, 3)  # seq 3 to 5, after the backup
    first.sync(FR, DE)
    assert _own_head(de) == 5 and fr.size() == 5
    first.close()

    site.cli("restore", str(site.base / "bk"), "--home", str(site.home(DE)), "--force")
    second = pair_of([DE, FR])
    de, fr = second.nodes[DE], second.nodes[FR]
    assert _own_head(de) == 2  # the restored head is not the chain's head
    status = de.view.status()["restore"]
    assert status["publishing"] == "held" and status["peers_confirmed"] == []
    with pytest.raises(NodeError, match="restored from a backup"):
        de.publish("incident_alert", example("incident_alert"))
    assert de.officers.share_pending() == []
    ran = site.cli("--home", str(site.home(DE)), "status", ok=True)
    assert "publishing as the node is held" in ran.stdout
    # One anti-entropy exchange with its one peer brings its envelopes back and lifts it.
    assert second.sync(DE, FR) == 3
    assert _own_head(de) == 5
    assert de.view.status()["restore"]["publishing"] == "resumed"
    envelope, _ = de.publish("incident_alert", example("incident_alert"))
    assert envelope.header.seq == 6
    result = fr.ingest([envelope.to_bytes()])[0]
    assert result.status == "accepted", result
    assert fr.view.status()["forks"] == 0 and de.view.status()["forks"] == 0
    record = json.loads((site.home(DE) / "restored.json").read_text())
    assert record["resumed_by"] == "peers" and record["peers_confirmed"] == [FR]


def test_the_hold_waits_for_every_peer_and_the_operator_may_lift_it(
    site: Site, pair_of: Callable[[list[str]], Pair]
) -> None:
    first = pair_of([DE, FR])
    publish(first.nodes[DE], 1)
    first.close()
    backup(site, DE, site.base / "bk")
    site.cli("restore", str(site.base / "bk"), "--home", str(site.home(DE)), "--force")
    three = pair_of([DE, FR, IT])
    de = three.nodes[DE]
    three.sync(DE, FR)
    assert de.view.status()["restore"]["peers_confirmed"] == [FR]
    with pytest.raises(NodeError, match="restored from a backup"):
        de.publish("incident_alert", example("incident_alert"))
    three.close()
    # IT@TR is gone for good: the operator lifts the hold, told whom it was not heard from.
    ran = site.cli("--home", str(site.home(DE)), "restore", "--resume-publishing", "--json")
    assert json.loads(ran.stdout) == {"resumed": True, "not_heard_from": [IT]}
    record = json.loads((site.home(DE) / "restored.json").read_text())
    assert record["resumed_by"] == "operator" and record["unconfirmed_at_resume"] == [IT]
    again = site.cli("--home", str(site.home(DE)), "restore", "--resume-publishing")
    assert "not held" in again.stdout
    node = site.open(DE)
    try:
        assert node.publish("incident_alert", example("incident_alert"))[0].header.seq == 2
    finally:
        node.close()


def test_a_key_rotated_after_the_restore_is_not_held(site: Site) -> None:
    backup(site, DE, site.base / "bk")
    site.cli("restore", str(site.base / "bk"), "--home", str(site.home(DE)), "--force")
    record = json.loads((site.home(DE) / "restored.json").read_text())
    record["own_key"] = "00" * 32  # the key the restore found is no longer the node's
    (site.home(DE) / "restored.json").write_text(json.dumps(record))
    node = site.open(DE)
    try:
        assert node.own_chain is not None and not node.own_chain.held
    finally:
        node.close()


def test_evidence_against_its_own_log_from_before_the_restore_is_known_for_the_restore(
    site: Site,
) -> None:
    """Split-view evidence a peer relays about the restored node's own log: the lost
    history if that note was signed before the restore and is past the backup; anything
    else still says that its key signs another log."""
    node = site.open(DE)
    try:
        publish(node, 2)
        node.checkpoint()
    finally:
        node.close()
    backup(site, DE, site.base / "bk")
    site.cli("restore", str(site.base / "bk"), "--home", str(site.home(DE)), "--force")
    node = site.open(DE)
    try:
        signing, own = node.signing, node.own_chain
        assert signing is not None and own is not None and own.record is not None
        restored_ms = own.record.restores[-1].restored_ms
        assert own.resume([]) == []  # no peer in this test: the node publishes again
        publish(node, 2)  # the log grows past the backup again
        ours = node.checkpoint()
        size = SignedCheckpoint.from_bytes(ours).checkpoint.size
        origin = node.log.origin

        def other(time_ms: int) -> bytes:
            return sign_checkpoint(
                Checkpoint(origin, size, b"\x07" * 32, time_ms), DE, signing.reveal()
            )

        lost = node.witnessing.judge_evidence(origin, ours, other(restored_ms - 1))
        assert lost is not None and lost.restored and "restored from a backup" in lost.reason
        stolen = node.witnessing.judge_evidence(origin, ours, other(restored_ms + 1))
        assert stolen is not None and not stolen.restored
        assert "its key signs another log" in stolen.reason
    finally:
        node.close()
