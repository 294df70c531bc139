"""The key and roster CLI, run in process on a scratch network, as an operator would."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from pathlib import Path

import pytest

from tests.support.clirun import Ran, check, invoke, json_error

PASS = "correct horse battery staple"


class Cli:
    """Runs ``ilo-node`` (in process) in ``workdir`` and checks how it ended."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def run(
        self,
        *args: str,
        home: str | None = None,
        ok: bool = True,
        env: dict[str, str] | None = None,
    ) -> Ran:
        argv: list[str] = []
        if home:
            argv += ["--home", str(self.workdir / home)]
        result = invoke(
            [*argv, *args],
            cwd=self.workdir,
            env={"ILO_NODE_PASSPHRASE": PASS, **(env or {})},
        )
        return check(result, ok=ok)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A scratch network: admins alice, bob, carol (2-of-3); DE, FR, COM, EUROPOL; four
    nodes."""
    cli = Cli(tmp_path_factory.mktemp("net"))
    init = ["keys", "init", "--network", "ilo-tr", "--kdf", "interactive"]
    for admin in ("alice", "bob", "carol", "dave"):
        cli.run(*init, "--role", "admin", "--name", admin, home=admin)
        cli.run("keys", "export-public", "-o", f"{admin}.pub", home=admin)
    for party in ("DE", "FR", "COM", "EUROPOL"):
        cli.run(*init, "--role", "authority", "--party", party, home=f"auth-{party}")
        cli.run("keys", "export-public", "-o", f"auth-{party}.pub", home=f"auth-{party}")
    for node in ("DE@TR", "FR@TR"):
        cli.run(*init, "--role", "node", "--node", node, home=node)
        cli.run("keys", "export-public", "-o", f"{node}.pub", home=node)
    description = {
        "network": "ilo-tr",
        "version": 1,
        "issued": "now",
        "expires": "2099-01-01",
        "threshold": 2,
        "administrators": [{"name": a, "key_file": f"{a}.pub"} for a in ("alice", "bob", "carol")],
        "authorities": [
            {"party": p, "key_file": f"auth-{p}.pub", "valid_from": "2026-01-01"}
            for p in ("DE", "FR", "COM", "EUROPOL")
        ],
        "nodes": [
            {"node": "DE@TR", "endpoint": "http://127.0.0.1:7401"},
            {"node": "FR@TR", "endpoint": "http://127.0.0.1:7402"},
            {"node": "COM@EU", "endpoint": "http://127.0.0.1:7400"},
            # No role given: the description fills in each party's.
            {"node": "EUROPOL@EU", "endpoint": "http://127.0.0.1:7403"},
        ],
        "presidency": {
            "2026-H2": "IE",
            "2027-H1": "LT",
            "2027-H2": "GR",
            "2028-H1": "IT",
            "2028-H2": "LV",
        },
    }
    (cli.workdir / "v1.json").write_text(json.dumps(description))
    cli.run("roster", "propose", "v1.json", "-o", "v1.proposal")
    # Each administrator signs a copy on their own machine; the copies are combined.
    for admin in ("alice", "bob"):
        (cli.workdir / f"v1-{admin}.proposal").write_bytes(
            (cli.workdir / "v1.proposal").read_bytes()
        )
        cli.run("roster", "sign", f"v1-{admin}.proposal", "--yes", home=admin)
    cli.run("roster", "combine", "v1-alice.proposal", "v1-bob.proposal", "-o", "root.roster")
    verified = json.loads(cli.run("roster", "verify", "root.roster", "--json").stdout)
    assert verified["valid"] and verified["checked_as"] == "root"
    for node in ("DE@TR", "FR@TR"):
        cli.run(
            "roster", "init", "root.roster", "--fingerprint", verified["fingerprint"], home=node
        )
        cli.run("cert", "issue", f"{node}.pub", "-o", f"{node}.cert", home=f"auth-{node[:2]}")
        out = cli.run("cert", "import", f"{node}.cert", home=node).stdout
        assert "keys rotate --prekeys-only" in out
        cli.run("keys", "rotate", "--prekeys-only", "--kdf", "interactive", home=node)
    return cli


def test_node_is_set_up(net: Cli) -> None:
    shown = json.loads(net.run("keys", "show", "--json", home="DE@TR").stdout)
    assert shown["roster"]["version"] == 1
    assert shown["roster"]["state"] == "ok"
    assert len(shown["prekey_epochs"]) >= 1
    key_file = net.workdir / "DE@TR" / "keys" / "signing.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert PASS not in key_file.read_text()


def test_eu_bodies_nodes_get_their_roles(net: Cli) -> None:
    nodes = json.loads(net.run("roster", "show", "root.roster", "--json").stdout)["nodes"]
    roles = {n["node"]: n["role"] for n in nodes}
    assert roles == {
        "DE@TR": "member_state",
        "FR@TR": "member_state",
        "COM@EU": "commission",
        "EUROPOL@EU": "europol",
    }


def test_authority_party_must_be_a_member_state_or_an_eu_body(net: Cli) -> None:
    result = net.run(
        "keys", "init", "--network", "ilo-tr", "--role", "authority", "--party", "FRONTEX",
        home="auth-FRONTEX", ok=False,
    )  # fmt: skip
    assert "--party must be a Member State code or one of COM, EBCG, EUAA, EUROPOL" in (
        result.stderr
    )


def test_root_fingerprint_mismatch_refused(net: Cli) -> None:
    net.run(
        "keys",
        "init",
        "--network",
        "ilo-tr",
        "--kdf",
        "interactive",
        "--role",
        "node",
        "--node",
        "IT@TR",
        home="IT@TR",
    )
    result = net.run(
        "roster", "init", "root.roster", "--fingerprint", "00" * 32, home="IT@TR", ok=False
    )
    assert "fingerprint" in result.stderr


def _next_version(net: Cli, name: str, signers: tuple[str, ...], **changes: object) -> Path:
    description = json.loads(net.run("roster", "show", "root.roster", "--json").stdout)
    description.update(changes)
    (net.workdir / f"{name}.json").write_text(json.dumps(description))
    net.run(
        "roster", "propose", f"{name}.json", "-o", f"{name}.roster", "--previous", "root.roster"
    )
    for admin in signers:
        net.run("roster", "sign", f"{name}.roster", "--yes", home=admin)
    return net.workdir / f"{name}.roster"


def test_roster_rotation_needs_old_and_new_thresholds(net: Cli) -> None:
    dave = json.loads((net.workdir / "dave.pub").read_text())["key"]
    admins = json.loads(net.run("roster", "show", "root.roster", "--json").stdout)["administrators"]
    replaced = [a for a in admins if a["name"] != "carol"] + [{"name": "dave", "key": dave}]
    # carol's key is lost: dave replaces her. alice + dave is only one of v1's admins.
    _next_version(net, "v2-short", ("alice", "dave"), version=2, administrators=replaced)
    refused = net.run("roster", "verify", "v2-short.roster", home="DE@TR", ok=False)
    assert "1 valid signature(s) from version 1's administrators; 2 are required" in (
        refused.stderr
    )
    net.run("roster", "update", "v2-short.roster", home="DE@TR", ok=False)
    # alice + bob are two of v1's and two of v2's: accepted.
    _next_version(net, "v2", ("alice", "bob"), version=2, administrators=replaced)
    net.run("roster", "verify", "v2.roster", home="DE@TR")
    net.run("roster", "update", "v2.roster", home="DE@TR")
    shown = json.loads(net.run("keys", "show", "--json", home="DE@TR").stdout)
    assert shown["roster"]["version"] == 2
    # Replaying version 1 as an update is a rollback.
    rollback = net.run("roster", "update", "root.roster", home="DE@TR", ok=False)
    assert "not newer" in rollback.stderr


def test_authority_cannot_certify_another_states_node(net: Cli) -> None:
    result = net.run("cert", "issue", "DE@TR.pub", "-o", "x.cert", home="auth-FR", ok=False)
    assert "certifies only FR" in result.stderr


def test_officer_add_list_revoke(net: Cli) -> None:
    net.run(
        "keys",
        "init",
        "--network",
        "ilo-tr",
        "--kdf",
        "interactive",
        "--role",
        "officer",
        "--node",
        "DE@TR",
        "--name",
        "k.beispiel",
        home="officer",
    )
    net.run("keys", "export-public", "-o", "officer.pub", home="officer")
    net.run("officer", "add", "officer.pub", "-o", "officer.cert", home="auth-DE")
    listed = json.loads(net.run("officer", "list", "--json", home="auth-DE").stdout)
    assert [o["officer"] for o in listed] == ["k.beispiel"]
    assert listed[0]["revoked"] is False
    net.run("cert", "import", "officer.cert", home="FR@TR")
    net.run(
        "officer",
        "revoke",
        "k.beispiel",
        "--compromised-at",
        "now",
        "-o",
        "officer.rev",
        home="auth-DE",
    )
    listed = json.loads(net.run("officer", "list", "--json", home="auth-DE").stdout)
    assert listed[0]["revoked"] is True
    net.run("cert", "import", "officer.rev", home="FR@TR")


def test_stolen_node_key_revoked_and_rekeyed(net: Cli) -> None:
    net.run(
        "revoke",
        "--public-file",
        "FR@TR.pub",
        "--compromised-at",
        "now",
        "--reason",
        "laptop stolen",
        "-o",
        "fr.rev",
        home="auth-FR",
    )
    net.run("cert", "import", "fr.rev", home="FR@TR")
    # A revocation signed by the wrong authority is refused.
    net.run(
        "revoke",
        "--public-file",
        "FR@TR.pub",
        "--node",
        "FR@TR",
        "--compromised-at",
        "now",
        "--reason",
        "x",
        "-o",
        "bad.rev",
        home="auth-DE",
        ok=False,
    )
    # Re-key: new signing key, certified by the authority, prekeys re-announced.
    net.run("keys", "rotate", "--kdf", "interactive", home="FR@TR")
    net.run("keys", "export-public", "-o", "FR@TR-v2.pub", home="FR@TR")
    net.run("cert", "issue", "FR@TR-v2.pub", "-o", "FR@TR-v2.cert", home="auth-FR")
    net.run("cert", "import", "FR@TR-v2.cert", home="FR@TR")
    out = net.run("keys", "rotate", "--prekeys-only", "--kdf", "interactive", home="FR@TR").stdout
    assert "announced" in out
    shown = json.loads(net.run("keys", "show", "--json", home="FR@TR").stdout)
    assert len(shown["retired_keys"]) == 1


def test_administrators_revoke_any_key_with_a_threshold(net: Cli) -> None:
    """The administrators (2 of 3 here) may revoke a key of any state; one alone may not."""
    revoke = ["revoke", "--public-file", "DE@TR.pub", "--compromised-at", "now"]
    net.run(*revoke, "--reason", "seized", "-o", "de-by-admins.rev", home="alice")
    alone = net.run("cert", "import", "de-by-admins.rev", home="FR@TR", ok=False).stderr
    assert "threshold of the administrators" in alone
    out = net.run("countersign", "de-by-admins.rev", home="bob").stdout
    assert "carries 2 signature(s)" in out
    imported = net.run("cert", "import", "de-by-admins.rev", home="FR@TR").stdout
    assert "revocation of DE@TR" in imported
    # A node or an authority home cannot countersign.
    net.run("countersign", "de-by-admins.rev", home="auth-DE", ok=False)


def test_wrong_passphrase_is_a_clear_error(net: Cli) -> None:
    guess = "Zebra-Quartz-991"
    result = net.run("keys", "rotate", home="DE@TR", ok=False, env={"ILO_NODE_PASSPHRASE": guess})
    assert "wrong passphrase" in result.stderr
    assert guess not in result.stderr + result.stdout


def test_group_readable_key_refused(net: Cli) -> None:
    key = net.workdir / "DE@TR" / "keys" / "signing.key"
    key.chmod(0o640)
    try:
        result = net.run("keys", "rotate", home="DE@TR", ok=False)
        assert "chmod 600" in result.stderr
    finally:
        key.chmod(0o600)


@pytest.mark.parametrize(
    "argv",
    [
        ["roster", "verify", "missing.roster"],
        ["roster", "show", "v1.json"],
        ["roster", "propose", "missing.json", "-o", "x"],
        ["cert", "import", "v1.json"],
        ["keys", "show"],
    ],
    ids=["missing-file", "json-as-roster", "missing-description", "json-as-cert", "no-home"],
)
def test_bad_input_is_an_error_not_a_traceback(net: Cli, argv: list[str]) -> None:
    home = "nonexistent-home" if argv[0] == "keys" else "DE@TR"
    net.run(*argv, home=home, ok=False)


# -- no success reported for what was not done ------------------------------------------------


def test_combine_below_the_threshold_exits_1_and_says_how_many(net: Cli) -> None:
    """One signed copy of a 2-of-3 root: written (it can still collect signatures), but
    not a roster yet, and the command says so instead of 'wrote it'."""
    result = net.run("roster", "combine", "v1-alice.proposal", "-o", "one.roster", ok=False)
    assert result.stderr.startswith(
        "error: one.roster is not a valid roster yet: 1 of its own administrators signed, "
        "2 needed for version 1\n"
    )
    assert "1 more of its own administrators sign" in result.stderr
    assert "1 of its own administrators signed (threshold 2): NOT ENOUGH" in result.stdout
    assert (net.workdir / "one.roster").exists()
    # As JSON: the result on stdout, then the error on stderr.
    again = net.run(
        "roster", "combine", "v1-alice.proposal", "-o", "one.roster", "--json", ok=False
    )
    record = json.loads(again.stdout)
    assert record["threshold_met"] is False
    assert record["thresholds"] == [
        {"administrators": "its own", "signed": 1, "threshold": 2, "met": False}
    ]
    assert json_error(again)["type"] == "ThresholdError"
    # A second copy brings it to the threshold: exit 0.
    both = net.run("roster", "combine", "one.roster", "v1-bob.proposal", "-o", "two.roster")
    assert "2 of its own administrators signed (threshold 2)" in both.stdout
    assert (net.workdir / "two.roster").read_bytes() == (net.workdir / "root.roster").read_bytes()


def test_combine_counts_the_previous_versions_threshold(net: Cli) -> None:
    dave = json.loads((net.workdir / "dave.pub").read_text())["key"]
    admins = json.loads(net.run("roster", "show", "root.roster", "--json").stdout)["administrators"]
    replaced = [a for a in admins if a["name"] != "carol"] + [{"name": "dave", "key": dave}]
    _next_version(net, "v2-combine", ("alice", "dave"), version=2, administrators=replaced)
    # Two of its own (alice, dave), but only one of version 1's (alice).
    own_only = net.run("roster", "combine", "v2-combine.roster", "-o", "v2-c.roster")
    assert "2 of its own administrators signed (threshold 2)" in own_only.stdout
    result = net.run(
        "roster", "combine", "v2-combine.roster", "-o", "v2-c.roster", "--previous",
        "root.roster", ok=False,
    )  # fmt: skip
    assert "1 of version 1's administrators signed, 2 needed for version 2" in result.stderr
    wrong = net.run(
        "roster", "combine", "v2-combine.roster", "-o", "v2-c.roster", "--previous",
        "v2-combine.roster", ok=False,
    )  # fmt: skip
    assert "after version 2 it must be 3" in wrong.stderr


def test_signing_twice_adds_nothing_and_says_so(net: Cli) -> None:
    copy = net.workdir / "v1-twice.proposal"
    copy.write_bytes((net.workdir / "v1-alice.proposal").read_bytes())
    out = net.run("roster", "sign", "v1-twice.proposal", "--yes", home="alice").stdout
    assert out.startswith("already signed by alice (1 key(s)): no signature added")
    record = json.loads(
        net.run("roster", "sign", "v1-twice.proposal", "--yes", "--json", home="bob").stdout
    )
    assert record["added"] is True and record["signatures"]["signed"] == 2
    assert record["roster"]["version"] == 1


def test_importing_what_is_held_already_adds_nothing_and_says_so(net: Cli) -> None:
    # The set-up imported DE@TR's own certificate into its home.
    out = net.run("cert", "import", "DE@TR.cert", home="DE@TR").stdout
    assert out == "already held, nothing added: certificate for DE@TR (node)\n"
    record = json.loads(net.run("cert", "import", "DE@TR.cert", "--json", home="DE@TR").stdout)
    assert [(i["type"], i["new"]) for i in record["imported"]] == [("certificate", False)]
    assert record["node"] is None  # no node runs here


class _RefusingNode(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Stands in for a running node on HOME/daemon.sock: its local API refuses every
    document, as a node whose trust differs from its home's would."""

    daemon_threads = True


class _Refuse(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        documents = json.loads(self.rfile.read(length))["documents"]
        body = json.dumps({"results": ["refused: not for this node"] * len(documents)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_documents_the_running_node_refuses_are_an_error(net: Cli) -> None:
    socket_path = net.workdir / "DE@TR" / "daemon.sock"
    server = _RefusingNode(str(socket_path), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = net.run("cert", "import", "DE@TR.cert", home="DE@TR", ok=False)
    finally:
        server.shutdown()
        server.server_close()
        socket_path.unlink()
    assert "imported" not in result.stdout  # nothing reported done that was not
    assert result.stderr.startswith(
        "error: the running node refused 1 document(s): refused: not for this node"
    )


def test_roster_update_with_the_current_version_applies_nothing(net: Cli) -> None:
    out = net.run("roster", "update", "root.roster", home="FR@TR").stdout
    assert out.startswith("nothing applied: roster version 1 is already current here")
    record = json.loads(net.run("roster", "update", "root.roster", "--json", home="FR@TR").stdout)
    assert (record["applied"], record["current"]) == ([], 1)


def test_prekey_options_are_refused_where_there_are_no_prekeys(net: Cli) -> None:
    before = (net.workdir / "alice" / "keys" / "signing.key").read_bytes()
    for option in ("--prekeys-only", "--replace-prekeys"):
        result = net.run("keys", "rotate", option, home="alice", ok=False)
        assert result.stderr.startswith(f"error: {option} is for node homes")
        assert result.returncode == 2
    # Refused before anything changed: alice's signing key is the one she had.
    assert (net.workdir / "alice" / "keys" / "signing.key").read_bytes() == before


def test_prekeys_up_to_date_is_said(net: Cli) -> None:
    args = ("keys", "rotate", "--prekeys-only", "--kdf", "interactive")
    out = net.run(*args, home="DE@TR").stdout
    assert out == (
        "prekeys up to date: none to create, delete or announce\n"
        "no node is running for this home: 'ilo-node run' takes the keys as they are now "
        "when it starts\n"
    )
    record = json.loads(net.run(*args, "--json", home="DE@TR").stdout)
    assert record["new_key"] is None
    assert record["prekeys"] == {
        "created": [],
        "deleted": [],
        "announced": 0,
        "not_announced": None,
    }


def test_countersigning_twice_adds_nothing_and_says_so(net: Cli) -> None:
    revoke = ["revoke", "--public-file", "FR@TR.pub", "--compromised-at", "now"]
    net.run(*revoke, "--reason", "drill", "-o", "twice.rev", home="alice")
    again = net.run("countersign", "twice.rev", home="alice").stdout
    assert again.startswith("already signed, no signature added to the revocation")
    record = json.loads(net.run("countersign", "twice.rev", "--json", home="bob").stdout)
    assert (record["added"], record["signatures"]) == (True, 2)
