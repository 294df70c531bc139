"""The node's log commands (publish, read, status, log, retention), run in process on a
built network, as an operator would."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.home.home import Home
from protocol.checkpoint import SignedCheckpoint
from protocol.errors import ProofError
from protocol.examples import example
from protocol.merkle import leaf_hash, verify_consistency, verify_inclusion
from tests.support.clirun import Ran, check, invoke

PASS = "cli log passphrase"
NODES = ["DE@TR", "FR@TR", "IT@TR", "COM@EU"]
ZERO_ID = "00" * 32


class Cli:
    """Runs ``ilo-node`` (in process) on homes under ``base`` and checks how it ended."""

    def __init__(self, network: BuiltNetwork, workdir: Path) -> None:
        self.network = network
        self.workdir = workdir

    def run(
        self,
        *args: str,
        home: Path | str,
        ok: bool = True,
        usage: bool = False,
        passphrase: str | None = "env",
        stdin: bytes = b"",
        env: dict[str, str] | None = None,
    ) -> Ran:
        """``passphrase``: "env" (ILO_NODE_PASSPHRASE), "file" (--passphrase-file) or None
        (neither, and no terminal to ask on). ``ok=False``: a project error ("error: ..."
        and a hint); ``usage=True``: a command-line usage error from click."""
        path = home if isinstance(home, Path) else self.network.base / home
        argv = ["--home", str(path)]
        environ = {"ILO_NODE_PASSPHRASE": PASS} if passphrase == "env" else {}
        if passphrase == "file":
            argv += ["--passphrase-file", str(self.network.passphrase_file)]
        result = invoke(
            [*argv, *args], cwd=self.workdir, env={**environ, **(env or {})}, stdin=stdin
        )
        return check(result, ok=ok, usage=usage)

    def json(self, *args: str, home: Path | str, **kwargs: Any) -> Any:
        return json.loads(self.run(*args, "--json", home=home, **kwargs).stdout)


def _frames(raws: list[bytes]) -> bytes:
    return b"".join(len(raw).to_bytes(4, "big") + raw for raw in raws)


def _raws(home: Path) -> list[bytes]:
    conn = sqlite3.connect(home / "node.db")
    try:
        return [bytes(r[0]) for r in conn.execute("SELECT raw FROM envelopes ORDER BY idx")]
    finally:
        conn.close()


def _copy(source: Path, target: Path, with_db: bool = True) -> Path:
    ignore = None if with_db else shutil.ignore_patterns("node.db*")
    shutil.copytree(source, target, ignore=ignore)
    return target


def _acks(stdout: str) -> list[tuple[str, ...]]:
    """(word, id, status) of each line ``log ingest`` printed."""
    return [tuple(line.split(" ", 3)[:3]) for line in stdout.splitlines()]


@dataclass(frozen=True)
class Published:
    """What DE@TR published, in log order; FR@TR has ingested all of it."""

    alert: str  # incident_alert, --example, local
    route: str  # route_report, --file, local
    presidency: str  # flow_report to the Commission and the presidency (not FR)
    states: str  # meeting_record to FR only, handling H2
    alert2: str  # incident_alert, published with --passphrase-file and text output
    route_content: dict[str, Any]
    records: dict[str, dict[str, Any]]

    @property
    def order(self) -> list[str]:
        return [self.alert, self.route, self.presidency, self.states, self.alert2]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(
        tmp_path_factory.mktemp("cli-log") / "net", NODES, passphrase=PASS.encode()
    )


@pytest.fixture(scope="module")
def cli(network: BuiltNetwork) -> Cli:
    return Cli(network, network.base)


@pytest.fixture(scope="module")
def published(cli: Cli, network: BuiltNetwork) -> Published:
    route = example("route_report")
    route["notes"] = "Written on Windows:\r\nsecond line."
    (network.base / "route.json").write_text(json.dumps(route), encoding="utf-8")
    records = {
        "alert": cli.json("publish", "incident_alert", "--example", home="DE@TR"),
        "route": cli.json("publish", "route_report", "--file", "route.json", home="DE@TR"),
        "presidency": cli.json(
            "publish", "flow_report", "--example", "--distribution", "presidency", home="DE@TR"
        ),
        "states": cli.json(
            "publish",
            "meeting_record",
            "--example",
            "--distribution",
            "states",
            "--state",
            "FR",
            "--handling",
            "H2",
            home="DE@TR",
        ),
    }
    text = cli.run("publish", "incident_alert", "--example", home="DE@TR", passphrase="file").stdout
    match = re.fullmatch(r"published incident_alert ([0-9a-f]{64}) \(seq 5\) to (.+)\n", text)
    assert match, text
    records["alert2"] = {"id": match[1], "seq": 5, "recipients": match[2].split(", ")}
    # Hand DE's log to FR, as a peer would.
    out = cli.run(
        "log", "ingest", "--batch", "2", home="FR@TR", stdin=_frames(_raws(network.base / "DE@TR"))
    ).stdout
    assert [(a[0], a[2]) for a in _acks(out)] == [("ack", "accepted")] * 5
    route["notes"] = route["notes"].replace("\r\n", "\n")
    return Published(
        **{name: record["id"] for name, record in records.items()},
        route_content=route,
        records=records,
    )


@pytest.fixture(scope="module")
def checkpointed(cli: Cli, published: Published, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of FR's home whose log of 5 has a signed checkpoint."""
    home = _copy(cli.network.base / "FR@TR", tmp_path_factory.mktemp("cp") / "FR@TR")
    cli.run("log", "checkpoint", home=home, passphrase="file")
    return home


# -- publish, read, status -------------------------------------------------------------


def test_publish_records_seq_index_and_recipients(published: Published) -> None:
    records = [published.records[n] for n in ("alert", "route", "presidency", "states")]
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert [r["log_index"] for r in records] == [0, 1, 2, 3]
    kinds = ["incident_alert", "route_report", "flow_report", "meeting_record"]
    assert [r["kind"] for r in records] == kinds
    local = set(published.records["alert"]["recipients"])
    assert {"DE@TR", "FR@TR", "IT@TR"} <= local
    assert set(published.records["route"]["recipients"]) == local
    presidency = set(published.records["presidency"]["recipients"])
    assert {"COM@EU", "DE@TR"} <= presidency and "FR@TR" not in presidency
    assert published.records["states"]["recipients"] == ["DE@TR", "FR@TR"]
    assert set(published.records["alert2"]["recipients"]) == local


def test_read_lists_and_shows_messages(cli: Cli, published: Published) -> None:
    readable = [published.alert2, published.states, published.route, published.alert]
    listed = cli.json("read", home="FR@TR", passphrase=None)
    assert [item["id"] for item in listed] == readable  # newest first, not the presidency one
    assert listed[1] == {
        "id": published.states,
        "kind": "meeting_record",
        "author": "DE@TR",
        "seq": 4,
        "created_ms": listed[1]["created_ms"],
        "handling": "H2",
    }
    kind = cli.json("read", "--kind", "route_report", home="FR@TR")
    assert [item["id"] for item in kind] == [published.route]
    assert [i["id"] for i in cli.json("read", "--limit", "2", home="FR@TR")] == readable[:2]
    lines = cli.run("read", home="FR@TR").stdout.splitlines()
    assert [line[:16] for line in lines] == [i[:16] for i in readable]
    assert "meeting_record" in lines[1] and "DE@TR" in lines[1] and "H2" in lines[1]

    # The operator's view leaves the fields marked personal out, and says which.
    route = cli.json("read", published.route, home="FR@TR")
    assert route["personal_withheld"] == ["notes"] and "notes" not in route["content"]
    route = cli.json("read", published.route[:8], "--include-personal", home="FR@TR")
    assert route["content"] == published.route_content  # CRLF in the file became LF
    assert route["author_officer"] is None and route["retracted"] is False
    assert (route["kind"], route["author"], route["seq"]) == ("route_report", "DE@TR", 2)
    assert route["distribution"] == "local" and route["handling"] == "H1"

    shown = json.loads(
        cli.run("read", published.states, "--include-personal", home="FR@TR").stdout
    )  # indented
    assert shown["content"] == example("meeting_record")
    assert shown["recipients"] == ["DE@TR", "FR@TR"] and shown["handling"] == "H2"

    sealed = cli.json("read", published.presidency, home="FR@TR")
    assert sealed["content"] is None
    assert sealed["note"] == "not addressed to this node: stored encrypted"
    own = cli.json("read", published.presidency, "--include-personal", home="DE@TR")
    assert own["content"] == example("flow_report")


def test_read_on_an_empty_log(cli: Cli, network: BuiltNetwork, tmp_path: Path) -> None:
    home = _copy(network.base / "IT@TR", tmp_path / "IT@TR", with_db=False)
    assert cli.run("read", home=home).stdout == "no readable messages\n"
    assert cli.json("read", home=home) == []


def test_status(cli: Cli, published: Published) -> None:
    status = cli.json("status", home="FR@TR", passphrase=None)
    assert status["node"] == "FR@TR" and status["network"] == "devnet.ilo"
    assert status["log_size"] == status["envelopes"] == 5
    assert status["readable"] == 4  # all but the presidency message
    assert (status["erased"], status["quarantined"], status["forks"]) == (0, 0, 0)
    assert status["checkpoints"] == 0 and status["latest_checkpoint"] is None
    assert status["roster"]["version"] == 1 and status["roster"]["state"] == "ok"
    assert status["quarantine_reasons"] == {}
    assert status["running"] is False and status["quarantine_waiting"] == []
    text = cli.run("status", home="FR@TR").stdout
    assert text.startswith("FR@TR in devnet.ilo: NOT RUNNING (read from the home)\n")
    assert "  log: 5 envelopes (4 readable, 0 erased); no checkpoint signed yet" in text


def test_log_ingest_acks_quarantine_duplicates_and_refusals(
    cli: Cli, network: BuiltNetwork, published: Published, tmp_path: Path
) -> None:
    home = _copy(network.base / "IT@TR", tmp_path / "IT@TR", with_db=False)
    first, second, third = _raws(network.base / "DE@TR")[:3]
    ids = published.order[:3]
    out = cli.run("log", "ingest", home=home, stdin=_frames([third])).stdout
    assert _acks(out) == [("ack", ids[2], "quarantined")]
    assert "waiting for seq 2 of DE@TR" in out
    status = cli.json("status", home=home)
    assert status["log_size"] == 0 and status["quarantined"] == 1
    assert status["quarantine_reasons"] == {"waiting for seq 2 of DE@TR": 1}

    garbage = b"\x01" * 40
    stream = _frames([third, first, second, garbage, first])
    refused = cli.run("log", "ingest", "--batch", "2", home=home, stdin=stream, ok=False)
    assert refused.stderr.startswith("error: 1 of the 5 envelope(s) read were not stored")
    out = refused.stdout
    assert _acks(out) == [
        ("ack", ids[2], "duplicate"),  # already in quarantine
        ("ack", ids[0], "accepted"),
        ("ack", ids[1], "accepted"),
        ("nack", "-", "rejected"),
        ("ack", ids[0], "duplicate"),
    ]
    status = cli.json("status", home=home)
    assert status["log_size"] == 3 and status["quarantined"] == 0
    assert status["readable"] == 2  # IT is not a recipient of the presidency message
    assert cli.run("log", "verify", home=home).stdout.startswith("log OK: 3 envelopes")


# -- checkpoints and proofs --------------------------------------------------------------


def test_checkpoint_prove_and_consistency(
    cli: Cli, network: BuiltNetwork, published: Published, tmp_path: Path
) -> None:
    home = _copy(network.base / "FR@TR", tmp_path / "FR@TR")
    key = Home(home).public_key()
    error = cli.run("log", "prove", published.alert, home=home, ok=False).stderr
    assert error.startswith("error: this node has signed no checkpoint yet")

    note = cli.run("log", "checkpoint", home=home, passphrase="file").stdout
    signed = SignedCheckpoint.from_bytes(note.encode())
    signed.verify("FR@TR", key)
    first = signed.checkpoint
    assert first.origin == "ilo-node/devnet.ilo/FR@TR" and first.size == 5
    assert note.splitlines()[:2] == ["ilo-node/devnet.ilo/FR@TR", "5"]
    assert cli.run("log", "checkpoint", home=home).stdout == note  # nothing new: same note

    for position in (0, 4):
        envelope_id = published.order[position]
        proof = cli.json("log", "prove", envelope_id, home=home, passphrase=None)
        assert proof["envelope_id"] == envelope_id and proof["checkpoint"] == note
        assert (proof["index"], proof["tree_size"]) == (position, 5)
        path = [base64.b64decode(h) for h in proof["proof"]]
        leaf = leaf_hash(bytes.fromhex(envelope_id))
        verify_inclusion(leaf, position, 5, path, first.root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf, (position + 1) % 5, 5, path, first.root)
    text = cli.run("log", "prove", published.route, home=home).stdout
    assert text.startswith(f"envelope {published.route} is leaf 1 of 5\n")
    assert text.endswith(note)

    # The log grows: FR publishes; the new envelope is provable after a new checkpoint.
    newest = cli.json("publish", "incident_alert", "--example", home=home)
    error = cli.run("log", "prove", newest["id"], home=home, ok=False).stderr
    assert error.startswith("error: envelope is at position 5, after the latest checkpoint")
    second = SignedCheckpoint.from_bytes(cli.run("log", "checkpoint", home=home).stdout.encode())
    second.verify("FR@TR", key)
    assert second.checkpoint.size == 6
    proof = cli.json("log", "prove", newest["id"], home=home)
    verify_inclusion(
        leaf_hash(bytes.fromhex(newest["id"])),
        5,
        6,
        [base64.b64decode(h) for h in proof["proof"]],
        second.checkpoint.root,
    )

    consistency = cli.json("log", "consistency", "5", "6", home=home, passphrase=None)
    assert consistency["old_root"] == base64.b64encode(first.root).decode()
    assert consistency["new_root"] == base64.b64encode(second.checkpoint.root).decode()
    path = [base64.b64decode(h) for h in consistency["proof"]]
    verify_consistency(5, 6, first.root, second.checkpoint.root, path)
    with pytest.raises(ProofError):
        verify_consistency(5, 6, second.checkpoint.root, first.root, path)
    # Any size is provable, not only those with a checkpoint of their own.
    record = cli.json("log", "consistency", "3", "6", home=home)
    path = [base64.b64decode(h) for h in record["proof"]]
    verify_consistency(3, 6, base64.b64decode(record["old_root"]), second.checkpoint.root, path)
    text = cli.run("log", "consistency", "0", "6", home=home).stdout
    assert text == "log of 0 is a prefix of log of 6\n"  # from the empty log: no hashes
    assert cli.run("log", "verify", home=home).stdout.startswith(
        "log OK: 6 envelopes, 6 signatures, 2 checkpoint(s), latest covers 6"
    )


# -- log verify and tampering ------------------------------------------------------------


def test_log_verify_passes(cli: Cli, checkpointed: Path) -> None:
    out = cli.run("log", "verify", home=checkpointed, passphrase=None).stdout
    assert out == "log OK: 5 envelopes, 5 signatures, 1 checkpoint(s), latest covers 5\n"
    report = cli.json("log", "verify", "--workers", "2", home=checkpointed)
    assert report["ok"] and report["problems"] == []
    assert (report["size"], report["signatures_verified"], report["latest_checkpoint"]) == (5, 5, 5)
    assert report["contents_checked"] == 4


def _flip_raw(conn: sqlite3.Connection, position: int) -> None:
    raw = bytearray(
        conn.execute("SELECT raw FROM envelopes WHERE idx = ?", [position]).fetchone()[0]
    )
    raw[-40] ^= 1
    conn.execute("UPDATE envelopes SET raw = ? WHERE idx = ?", [bytes(raw), position])


TAMPERING: dict[str, tuple[int, Callable[[sqlite3.Connection], object]]] = {
    "edited bytes": (2, lambda c: _flip_raw(c, 2)),
    "deleted row": (3, lambda c: c.execute("DELETE FROM envelopes WHERE idx = 3")),
    "deleted last row": (4, lambda c: c.execute("DELETE FROM envelopes WHERE idx = 4")),
    "edited column": (
        1,
        lambda c: c.execute("UPDATE envelopes SET author_node = 'IT@TR' WHERE idx = 1"),
    ),
    "edited kind column": (
        1,
        lambda c: c.execute("UPDATE envelopes SET kind = 'legislation_note' WHERE idx = 1"),
    ),
    "edited handling column": (
        3,
        lambda c: c.execute("UPDATE envelopes SET handling = 'H0' WHERE idx = 3"),
    ),
    "edited distribution column": (
        3,
        lambda c: c.execute("UPDATE envelopes SET distribution = 'network' WHERE idx = 3"),
    ),
    "edited decrypted content": (
        0,
        lambda c: c.execute(
            "UPDATE contents SET content = content || x'00' "
            "WHERE envelope_id = (SELECT id FROM envelopes WHERE idx = 0)"
        ),
    ),
    "content of another envelope": (
        0,
        lambda c: c.execute(
            "UPDATE contents SET content = (SELECT content FROM contents WHERE envelope_id = "
            "(SELECT id FROM envelopes WHERE idx = 1)) "
            "WHERE envelope_id = (SELECT id FROM envelopes WHERE idx = 0)"
        ),
    ),
    "swapped rows": (
        1,
        lambda c: (
            c.execute("UPDATE envelopes SET idx = -1 WHERE idx = 1"),
            c.execute("UPDATE envelopes SET idx = 1 WHERE idx = 2"),
            c.execute("UPDATE envelopes SET idx = 2 WHERE idx = -1"),
        ),
    ),
}


def _tamper(checkpointed: Path, tmp_path: Path, change: Any) -> Path:
    home = _copy(checkpointed, tmp_path / "FR@TR")
    conn = sqlite3.connect(home / "node.db")
    with conn:
        change(conn)
    conn.close()
    return home


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_log_verify_names_the_tampered_position(
    cli: Cli, checkpointed: Path, tmp_path: Path, name: str
) -> None:
    position, change = TAMPERING[name]
    home = _tamper(checkpointed, tmp_path, change)
    result = cli.run(
        "log",
        "verify",
        *(["--json"] if name == "edited bytes" else []),
        home=home,
        ok=False,
        passphrase=None,
    )
    assert result.returncode == 1
    assert f"position {position}" in result.stderr.splitlines()[0], result.stderr
    if name == "edited bytes":  # --json prints the report, then fails all the same
        report = json.loads(result.stdout)
        assert not report["ok"] and report["problems"][0]["position"] == position
    else:
        assert result.stdout == ""


def test_what_people_read_comes_from_the_signed_envelope(
    cli: Cli, checkpointed: Path, published: Published, tmp_path: Path
) -> None:
    """A changed database cannot make ``read`` show words or labels nobody signed."""
    alert = published.records["alert"]["id"]
    genuine = cli.json("read", alert, home=checkpointed, passphrase=None)
    _, change = TAMPERING["edited decrypted content"]
    home = _tamper(checkpointed, tmp_path, change)
    # The content shown is decrypted again from the signed envelope, not the stored copy.
    assert cli.json("read", alert, home=home, passphrase=None) == genuine
    # A changed content key opens nothing the author committed to: refused, not shown.
    conn = sqlite3.connect(home / "node.db")
    with conn:
        conn.execute("UPDATE contents SET content_key = randomblob(32)")
    conn.close()
    error = cli.run("read", alert, home=home, ok=False, passphrase=None).stderr
    assert "does not match the signed envelope" in error and "log verify" in error
    _, relabel = TAMPERING["edited kind column"]
    conn = sqlite3.connect(home / "node.db")
    with conn:
        relabel(conn)
        conn.execute("UPDATE envelopes SET handling = 'H0' WHERE idx = 3")
    conn.close()
    listed = {item["id"]: item for item in cli.json("read", home=home, passphrase=None)}
    assert listed[published.records["route"]["id"]]["kind"] == "route_report"
    assert listed[published.records["states"]["id"]]["handling"] == "H2"
    # Asked for by the changed label, the row is found but not shown as that kind.
    assert cli.json("read", "--kind", "legislation_note", home=home, passphrase=None) == []


def test_log_verify_names_a_row_whose_bytes_were_replaced_by_text(
    cli: Cli, checkpointed: Path, tmp_path: Path
) -> None:
    home = _tamper(
        checkpointed,
        tmp_path,
        lambda c: c.execute("UPDATE envelopes SET raw = 'tampered' WHERE idx = 2"),
    )
    result = cli.run("log", "verify", home=home, ok=False)
    assert "position 2" in result.stderr.splitlines()[0], result.stderr


def test_log_verify_names_a_row_stored_as_text(
    cli: Cli, checkpointed: Path, tmp_path: Path
) -> None:
    home = _tamper(
        checkpointed,
        tmp_path,
        lambda c: c.execute("UPDATE envelopes SET raw = raw || x'00' WHERE idx = 2"),
    )
    result = cli.run("log", "verify", home=home, ok=False)
    assert "position 2" in result.stderr.splitlines()[0], result.stderr


# -- retention ---------------------------------------------------------------------------


def test_retention_erases_content_and_the_log_still_verifies(
    cli: Cli, checkpointed: Path, published: Published, tmp_path: Path
) -> None:
    home = _copy(checkpointed, tmp_path / "FR@TR")
    (home / "retention.json").write_text(json.dumps({"incident_alert": 30, "default": 3650}))
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=60)).isoformat()
    out = cli.run("retention", "run", "--now", future, home=home, passphrase=None).stdout
    assert out == (
        f"erased the content of 2 envelope(s) past their retention period at {future}; the "
        "envelopes and their log entries stay ('ilo-node log verify' checks the log)\n"
    )
    record = cli.json("read", published.alert2, home=home)
    assert record["content"] is None
    assert record["note"] == "erased: retention 30 days (incident_alert, H1)"
    assert record["kind"] == "incident_alert"  # the envelope itself stays
    listed = [item["id"] for item in cli.json("read", home=home)]
    assert listed == [published.states, published.route]
    status = cli.json("status", home=home)
    assert (status["log_size"], status["readable"], status["erased"]) == (5, 2, 2)
    report = cli.json("log", "verify", home=home)
    assert report["ok"] and report["erasures"] == 2 and report["latest_checkpoint"] == 5
    out = cli.run("retention", "run", "--now", future, home=home).stdout
    assert out.startswith("erased the content of 0 envelope(s)")
    # The plaintext is gone from the database files, not only from the table.
    conn = sqlite3.connect(home / "node.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    title = str(example("incident_alert")["title"]).encode()
    assert all(title not in p.read_bytes() for p in home.glob("node.db*"))


# -- bad input ---------------------------------------------------------------------------


BAD = [
    (("read", "zz"), "FR@TR", "'zz' is not an envelope id or a prefix of one"),
    (("read", "abcdef1"), "FR@TR", "is not an envelope id or a prefix of one"),  # 7 digits
    (("read", "ab" * 33), "FR@TR", "is not an envelope id or a prefix of one"),
    (("read", "ab" * 31), "FR@TR", "envelope abababababababab… is not in this node's log"),
    (("read", ZERO_ID), "FR@TR", "envelope 0000000000000000… is not in this node's log"),
    (("log", "prove", ZERO_ID), "checkpointed", "is not in this node's log"),
    (("log", "prove", "xyz"), "checkpointed", "'xyz' is not an envelope id"),
    (("log", "consistency", "0", "6"), "FR@TR", "sizes must satisfy 0 <= OLD <= NEW <= 5"),
    (("publish", "incident_alert"), "DE@TR", "required fields are missing"),
    (("publish", "incident_alert", "--file", "missing.json"), "DE@TR", "no such file"),
    (("publish", "incident_alert", "--file", "broken.json"), "DE@TR", "is not valid JSON"),
    (
        ("publish", "incident_alert", "--file", "list.json"),
        "DE@TR",
        "the incident_alert content must be a JSON object of its fields",
    ),
    (
        ("publish", "incident_alert", "--file", "partial.json"),
        "DE@TR",
        "required fields are missing: category, occurred_on, country, description",
    ),
    (
        ("publish", "incident_alert", "--example", "--distribution", "states"),
        "DE@TR",
        "distribution 'states' needs at least one Member State",
    ),
    (("retention", "run", "--now", "soon"), "FR@TR", "cannot read 'soon' as a time"),
    (("status",), "nowhere", "no ilo-node identity in"),
]


@pytest.mark.parametrize(("args", "home", "message"), BAD, ids=lambda v: str(v)[:40])
def test_bad_input_is_a_clear_error(
    cli: Cli,
    network: BuiltNetwork,
    published: Published,
    checkpointed: Path,
    args: tuple[str, ...],
    home: str,
    message: str,
) -> None:
    (network.base / "broken.json").write_text('{"title": ')
    (network.base / "list.json").write_text("[1, 2]")
    (network.base / "partial.json").write_text('{"title": "only a title"}')
    where: Path | str = checkpointed if home == "checkpointed" else home
    error = cli.run(*args, home=where, ok=False).stderr
    assert message in error.splitlines()[0], error
    assert len(_raws(network.base / "DE@TR")) == 5  # a refused publish stored nothing


@pytest.mark.parametrize(
    "args",
    [
        ("read", "--limit", "0"),
        ("log", "consistency", "x", "3"),
        ("publish", "no_such_kind", "--example"),
        ("publish", "incident_alert", "--example", "--distribution", "everyone"),
    ],
    ids=" ".join,
)
def test_bad_arguments_are_usage_errors(
    cli: Cli, published: Published, args: tuple[str, ...]
) -> None:
    cli.run(*args, home="FR@TR", usage=True)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"\x00\x00", "input ended inside a frame header"),
        (b"\x00\x00\x01\x00" + b"x" * 10, "input ended inside a frame"),
        (b"\x7f\x00\x00\x00", "frame of 2130706432 bytes is over the envelope limit"),
    ],
    ids=["cut header", "cut frame", "oversized frame"],
)
def test_log_ingest_refuses_broken_framing(
    cli: Cli, network: BuiltNetwork, tmp_path: Path, stdin: bytes, message: str
) -> None:
    home = _copy(network.base / "IT@TR", tmp_path / "IT@TR", with_db=False)
    error = cli.run("log", "ingest", home=home, stdin=stdin, ok=False).stderr
    assert error.startswith(f"error: {message}"), error


def test_log_verify_without_a_database(cli: Cli, network: BuiltNetwork, tmp_path: Path) -> None:
    home = _copy(network.base / "COM@EU", tmp_path / "COM@EU", with_db=False)
    error = cli.run("log", "verify", home=home, ok=False).stderr
    assert "has no node database yet" in error.splitlines()[0]


def test_commands_that_sign_or_decrypt_need_the_passphrase(
    cli: Cli, network: BuiltNetwork, published: Published
) -> None:
    for args in (
        ("publish", "incident_alert", "--example"),
        ("log", "checkpoint"),
        ("log", "ingest"),
    ):
        error = cli.run(*args, home="DE@TR", ok=False, passphrase=None).stderr
        assert error.startswith(
            "error: no passphrase for the node DE@TR keys: set ILO_NODE_PASSPHRASE, "
            "pass --passphrase-file, or run in a terminal"
        ), error
    wrong = cli.run(
        "publish",
        "incident_alert",
        "--example",
        home="DE@TR",
        ok=False,
        env={"ILO_NODE_PASSPHRASE": "not the passphrase"},
    ).stderr
    assert wrong.startswith("error: ") and "wrong passphrase" in wrong, wrong
    # Reading needs no passphrase, and nothing was published by the refused commands.
    assert cli.json("status", home="DE@TR", passphrase=None)["log_size"] == 5
