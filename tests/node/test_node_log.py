"""The node's ingest path, quarantine, forks, retention and the verifiable log."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.home.home import Home
from ilo_node.node.audit import verify_log
from ilo_node.node.core import Node
from keys.keystore import generate_signing_key
from protocol.envelope import Envelope, seal
from protocol.examples import example
from protocol.merkle import leaf_hash, verify_consistency, verify_inclusion
from protocol.signed import SignedDocument

PASS = b"test passphrase"
NODES = ["COM@EU", "DE@TR", "FR@TR", "IT@TR"]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(tmp_path_factory.mktemp("net") / "net", NODES, passphrase=PASS)


def _fresh_home(network: BuiltNetwork, node: str, tmp_path: Path) -> Home:
    """A copy of a node home with an empty database, so each test starts clean."""
    target = tmp_path / node
    shutil.copytree(network.nodes[node].path, target, ignore=shutil.ignore_patterns("node.db*"))
    return Home(target)


@pytest.fixture
def de(network: BuiltNetwork, tmp_path: Path) -> Iterator[Node]:
    node = Node(_fresh_home(network, "DE@TR", tmp_path), PASS)
    yield node
    node.close()


@pytest.fixture
def fr(network: BuiltNetwork, tmp_path: Path) -> Iterator[Node]:
    node = Node(_fresh_home(network, "FR@TR", tmp_path), PASS)
    yield node
    node.close()


def _publish(node: Node, n: int, kind: str = "incident_alert") -> list[bytes]:
    return [node.publish(kind, example(kind))[0].to_bytes() for _ in range(n)]


def _verify(node: Node) -> list[tuple[int | None, str]]:
    assert node.signing is not None
    report = verify_log(node.home.path / "node.db", [node.signing.public], node.node_id)
    return report.problems


def test_publish_ingest_read_and_duplicate(de: Node, fr: Node) -> None:
    sent = _publish(de, 3)
    results = fr.ingest(sent)
    assert [r.status for r in results] == ["accepted"] * 3
    assert [r.log_index for r in results] == [0, 1, 2]
    content = fr.view.read(Envelope.from_bytes(sent[0]).id)
    assert content is not None and content.fields == example("incident_alert")
    again = fr.ingest(sent)
    assert [r.status for r in again] == ["duplicate"] * 3
    assert fr.size() == 3


def test_out_of_order_envelopes_wait_in_quarantine_then_all_place(de: Node, fr: Node) -> None:
    sent = _publish(de, 6)
    for raw in reversed(sent):  # worst case: newest first, one at a time
        fr.ingest([raw])
    assert fr.size() == 6
    assert fr.view.counts()["quarantined"] == 0
    assert not _verify_after_checkpoint(fr)


def _verify_after_checkpoint(node: Node) -> list[tuple[int | None, str]]:
    node.checkpoint()
    return _verify(node)


def test_envelope_before_its_authors_certificate_is_held_then_placed(
    network: BuiltNetwork, fr: Node, tmp_path: Path
) -> None:
    # A node whose certificate FR has not seen yet: a fresh key for IT@TR, certified
    # by an authority FR knows only after the envelope arrives.
    it_home = _fresh_home(network, "IT@TR", tmp_path)
    it = Node(it_home, PASS)
    sent = _publish(it, 2)
    it.close()
    # Remove IT's certificate from FR's view, as if it had not arrived yet.
    fr.trust.certificates.clear()
    results = fr.ingest(sent)
    assert {r.status for r in results} == {"quarantined"}
    assert "no certificate" in results[0].reason
    fr.trust = fr.home.trust_state()  # the certificate arrives
    assert fr.ingestor.retry_quarantine(everything=True) == 2
    assert fr.size() == 2
    assert fr.view.counts()["quarantined"] == 0


def test_equivocation_becomes_a_fork_proof_and_holds_the_author(de: Node, fr: Node) -> None:
    first = _publish(de, 1)[0]
    assert de.signing is not None
    twin = seal(  # DE signs a second, different envelope at seq 1
        signing_seed=de.signing.reveal(),
        network=de.network,
        kind="incident_alert",
        author_node="DE@TR",
        seq=1,
        prev=None,
        created_ms=Envelope.from_bytes(first).header.created_ms,
        distribution="local",
        recipient_keys={"FR@TR": [fr.trust.current_prekey("FR@TR", de.clock()).key]},
        handling="H3",
        content=example("incident_alert"),
    ).to_bytes()
    later = _publish(de, 1)[0]
    assert fr.ingest([first])[0].status == "accepted"
    fork = fr.ingest([twin])[0]
    assert fork.status == "fork"
    assert fr.view.counts()["forks"] == 1
    held = fr.ingest([later])[0]
    assert held.status == "quarantined" and "equivocated" in held.reason
    proof = fr.db.execute("SELECT proof FROM forks").fetchone()[0]
    from protocol.chain import ForkProof

    assert ForkProof.from_bytes(bytes(proof)).seq == 1


@pytest.mark.parametrize(
    ("name", "mutate", "reason"),
    [
        ("malformed", lambda raw: raw[:-10], "truncated"),
        ("mis-signed", lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), "signature"),
        ("oversized", lambda raw: raw + b"\x00" * (1 << 20), "over the limit"),
    ],
)
def test_bad_input_is_refused_and_nothing_else_changes(
    de: Node, fr: Node, name: str, mutate: Callable[[bytes], bytes], reason: str
) -> None:
    raw = _publish(de, 1)[0]
    result = fr.ingest([mutate(raw)])[0]
    assert result.status == "rejected"
    assert reason in result.reason
    assert fr.size() == 0 and fr.view.counts()["quarantined"] == 0
    assert fr.ingest([raw])[0].status == "accepted"


def test_non_member_and_wrong_network_refused(network: BuiltNetwork, fr: Node) -> None:
    stranger = generate_signing_key()
    raw = seal(
        signing_seed=stranger.reveal(),
        network=network.network,
        kind="incident_alert",
        author_node="ES@TR",
        seq=1,
        prev=None,
        created_ms=fr.clock(),
        distribution="local",
        recipient_keys={"FR@TR": [fr.trust.current_prekey("FR@TR", fr.clock()).key]},
        handling="H1",
        content=example("incident_alert"),
    ).to_bytes()
    result = fr.ingest([raw])[0]
    assert result.status == "rejected" and "not a member" in result.reason
    other = seal(
        signing_seed=stranger.reveal(),
        network="other.ilo",
        kind="incident_alert",
        author_node="DE@TR",
        seq=1,
        prev=None,
        created_ms=fr.clock(),
        distribution="local",
        recipient_keys={"FR@TR": [fr.trust.current_prekey("FR@TR", fr.clock()).key]},
        handling="H1",
        content=example("incident_alert"),
    ).to_bytes()
    assert fr.ingest([other])[0].status == "rejected"


def test_revoked_key_refused(network: BuiltNetwork, de: Node, fr: Node) -> None:
    raw = _publish(de, 1)[0]
    # DE's authority is not kept by the builder; revoke through a fresh roster-less path:
    # FR learns that DE's key was compromised before the envelope was written.
    compromised = Envelope.from_bytes(raw).header.created_ms - 1
    from keys.documents import Revocation

    assert de.signing is not None
    revocation = Revocation(
        document=SignedDocument.create("revocation", {}),
        network=network.network,
        node="DE@TR",
        key=de.signing.public,
        compromised_at_ms=compromised,
        issued_ms=compromised + 1,
        reason="stolen",
    )
    fr.trust.revocations[revocation.key] = [revocation]
    result = fr.ingest([raw])[0]
    assert result.status == "rejected" and "revoked" in result.reason


def test_inclusion_and_consistency_proofs(de: Node) -> None:
    sent = _publish(de, 9)
    de.checkpoint()
    old_root = de.log.root(4)
    for raw in sent:
        envelope_id = Envelope.from_bytes(raw).id
        index = de.log.index_of(envelope_id)
        proof = de.log.inclusion_proof(envelope_id)
        verify_inclusion(leaf_hash(envelope_id), index, de.size(), proof, de.log.root())
    verify_consistency(4, 9, old_root, de.log.root(), de.log.consistency_proof(4, 9))


def test_retention_erases_content_and_the_log_still_verifies(de: Node) -> None:
    sent = _publish(de, 4)
    de.checkpoint()
    erased = de.apply_retention({"incident_alert": 30}, now=de.clock() + 31 * 86_400_000)
    assert erased == 4
    first = Envelope.from_bytes(sent[0]).id
    assert de.view.read(first) is None
    assert de.view.content(first) is None
    assert de.view.counts()["erased"] == 4
    assert not _verify(de)
    # Nothing of the plaintext is left in the database file.
    title = str(example("incident_alert")["title"]).encode()
    de.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert title not in (de.home.path / "node.db").read_bytes()


# -- tampering --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_log(network: BuiltNetwork, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node home with a couple of thousand envelopes from three authors."""
    base = tmp_path_factory.mktemp("big")
    homes = {n: _fresh_home(network, n, base) for n in ("DE@TR", "FR@TR", "IT@TR")}
    authors = {n: Node(h, PASS) for n, h in homes.items()}
    receiver = authors["FR@TR"]
    kinds = ["incident_alert", "route_report", "flow_report", "meeting_record"]
    for round_ in range(700):
        for name in ("DE@TR", "IT@TR"):
            kind = kinds[round_ % len(kinds)]
            raw = authors[name].publish(kind, example(kind))[0].to_bytes()
            receiver.ingest([raw])
        if round_ % 100 == 99:
            receiver.checkpoint()
    receiver.publish("flow_report", example("flow_report"))
    receiver.checkpoint()
    for node in authors.values():
        node.close()
    return homes["FR@TR"].path


def _tampered(big_log: Path, tmp_path: Path, *statements: tuple[str, list[object]]) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(big_log, copy)
    conn = sqlite3.connect(copy / "node.db")
    with conn:
        for sql, args in statements:
            conn.execute(sql, args)
    conn.close()
    return copy / "node.db"


def _problems(db: Path, big_log: Path) -> list[tuple[int | None, str]]:
    key = Home(big_log).public_key()
    return verify_log(db, [key], "FR@TR", workers=2).problems


@pytest.mark.slow
def test_big_log_verifies(big_log: Path) -> None:
    key = Home(big_log).public_key()
    report = verify_log(big_log / "node.db", [key], "FR@TR", workers=2)
    assert report.ok, report.problems
    assert report.size == 1401
    assert report.latest_checkpoint == 1401
    assert report.checkpoints == 8


@pytest.mark.slow
@pytest.mark.parametrize("position", [0, 777, 1400])
def test_edited_row_is_named(big_log: Path, tmp_path: Path, position: int) -> None:
    raw = (
        sqlite3.connect(big_log / "node.db")
        .execute("SELECT raw FROM envelopes WHERE idx = ?", [position])
        .fetchone()[0]
    )
    edited = bytearray(raw)
    edited[-100] ^= 1
    db = _tampered(
        big_log, tmp_path, ("UPDATE envelopes SET raw = ? WHERE idx = ?", [bytes(edited), position])
    )
    problems = _problems(db, big_log)
    assert problems and problems[0][0] == position
    assert f"position {position}" in problems[0][1]


@pytest.mark.slow
def test_edited_row_with_recomputed_id_is_named(big_log: Path, tmp_path: Path) -> None:
    """An attacker who also fixes the id column is caught by the signature."""
    conn = sqlite3.connect(big_log / "node.db")
    raw = conn.execute("SELECT raw FROM envelopes WHERE idx = 500").fetchone()[0]
    conn.close()
    edited = bytearray(raw)
    edited[-100] ^= 1
    from protocol.crypto import sha256

    db = _tampered(
        big_log,
        tmp_path,
        (
            "UPDATE envelopes SET raw = ?, id = ? WHERE idx = 500",
            [bytes(edited), sha256(bytes(edited))],
        ),
    )
    problems = _problems(db, big_log)
    assert problems[0][0] == 500 and "signature" in problems[0][1]


@pytest.mark.slow
def test_deleted_row_is_named(big_log: Path, tmp_path: Path) -> None:
    db = _tampered(big_log, tmp_path, ("DELETE FROM envelopes WHERE idx = 321", []))
    problems = _problems(db, big_log)
    assert problems[0][0] == 321 and "missing" in problems[0][1]


@pytest.mark.slow
def test_deleted_last_row_is_caught_by_the_checkpoint(big_log: Path, tmp_path: Path) -> None:
    db = _tampered(big_log, tmp_path, ("DELETE FROM envelopes WHERE idx = 1400", []))
    problems = _problems(db, big_log)
    assert problems and problems[0][0] == 1400


@pytest.mark.slow
def test_inserted_row_is_named(big_log: Path, tmp_path: Path) -> None:
    # Shift rows up from 600 and re-insert a copy of row 10 there.
    conn = sqlite3.connect(big_log / "node.db")
    row = conn.execute("SELECT * FROM envelopes WHERE idx = 10").fetchone()
    conn.close()
    db = _tampered(
        big_log,
        tmp_path,
        ("UPDATE envelopes SET idx = idx + 100000 WHERE idx >= 600", []),
        ("UPDATE envelopes SET idx = idx - 100000 + 1 WHERE idx >= 100000", []),
        ("UPDATE envelopes SET id = ?, raw = ? WHERE idx = 10", [row[1] + b"", row[2]]),
    )
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM envelopes WHERE idx = 10")
        marks = ", ".join("?" for _ in row[1:])
        conn.execute(f"INSERT INTO envelopes VALUES (600, {marks})", list(row[1:]))
    conn.close()
    problems = _problems(db, big_log)
    assert problems and problems[0][0] in (10, 600)


@pytest.mark.slow
def test_reordered_rows_are_named(big_log: Path, tmp_path: Path) -> None:
    db = _tampered(
        big_log,
        tmp_path,
        ("UPDATE envelopes SET idx = -1 WHERE idx = 900", []),
        ("UPDATE envelopes SET idx = 900 WHERE idx = 901", []),
        ("UPDATE envelopes SET idx = 901 WHERE idx = -1", []),
    )
    problems = _problems(db, big_log)
    assert problems and problems[0][0] == 900


@pytest.mark.slow
def test_edited_checkpoint_and_content_key_are_caught(big_log: Path, tmp_path: Path) -> None:
    db = _tampered(
        big_log,
        tmp_path,
        ("UPDATE checkpoints SET root = zeroblob(32) WHERE size = 1401", []),
    )
    assert any("checkpoint at size 1401" in m for _, m in _problems(db, big_log))
    db2 = _tampered(
        big_log,
        tmp_path / "b",
        ("UPDATE contents SET content_key = zeroblob(32) WHERE rowid = 1", []),
    )
    assert any("content key" in m for _, m in _problems(db2, big_log))
