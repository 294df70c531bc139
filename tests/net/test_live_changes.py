"""Changes applied to running nodes, between real ``ilo-node run`` processes over TLS:
no node is restarted in any of these tests.

* A node key rotated with ``keys rotate`` while the node runs: the node keeps signing
  with the retired key until the new key's certificate is imported into it (so its
  publishing never waits), then signs envelopes and checkpoints, signs its requests
  and presents its TLS certificate with the new key at once; the peers accept all of
  it (they read its envelopes, cosign its checkpoints, and answer its handshakes).
* A roster version adding a member, applied with ``roster update`` to one running
  node: every node takes it by gossip, dials the new member and sends it envelopes;
  a later version removing it makes every node drop it, and their TLS refuse it.
* Prekeys on a schedule of seconds (``daemon.json``): a node creates and announces
  each epoch's prekey ahead of time, peers seal to it, and its secret is deleted from
  the disk and the node's memory once the grace has passed; what was sealed to it
  then opens with nothing the node holds.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.errors import ClientError
from ilo_node.formats.jsoncontent import content_to_json
from ilo_node.home.home import Home
from ilo_node.home.keyfiles import read_private_key
from ilo_node.net.tls import client_context, peer_certificate_key
from keys.keystore import key_file_info
from protocol.checkpoint import SignedCheckpoint
from protocol.envelope import Envelope
from protocol.errors import NotARecipientError, ProtocolError
from protocol.examples import example
from tests.support.netproc import Cluster, Published, free_ports, run_cli, write_daemon_config

pytestmark = pytest.mark.slow

PASS = b"live changes test passphrase"
NODES = ("COM@EU", "DE@TR", "FR@TR")
CONVERGE_S = 90.0


def _network(tmp_path: Path, nodes: tuple[str, ...], **daemon: Any) -> BuiltNetwork:
    ports = dict(zip(nodes, free_ports(len(nodes)), strict=True))
    built = build_network(
        tmp_path / "net",
        list(nodes),
        endpoints={n: f"https://127.0.0.1:{p}" for n, p in ports.items()},
        passphrase=PASS,
        keep_authorities=True,
    )
    for node in nodes:
        write_daemon_config(built.nodes[node].path, **daemon)
    return built


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    daemon = getattr(request, "param", {})
    built = _network(tmp_path, NODES, **daemon)
    if "prekey_epoch_s" in daemon:
        # The homes were built with prekeys of the weekly schedule; on another schedule
        # they start without any and make and announce their own.
        for home in built.nodes.values():
            for path in [
                *home.prekey_dir.glob("*.key"),
                *home.prekey_announcement_dir.glob("*.prekey"),
            ]:
                path.unlink()
    running = Cluster(built)
    try:
        running.start(*NODES)
        running.wait_ready(NODES)
        yield running
    finally:
        running.close()


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def _stored(home: Path, envelope_id: str) -> Envelope | None:
    """The envelope as a node stores it (read-only: the node is running)."""
    conn = sqlite3.connect(f"file:{home / 'node.db'}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT raw FROM envelopes WHERE id = ?", [bytes.fromhex(envelope_id)]
        ).fetchone()
    finally:
        conn.close()
    return None if row is None else Envelope.from_bytes(bytes(row[0]))


def _cosigned(home: Path, key: bytes, node: str) -> list[str]:
    """Witnesses whose stored cosignature is on a checkpoint of ``node`` signed by ``key``."""
    conn = sqlite3.connect(f"file:{home / 'node.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT witness, note FROM cosignatures").fetchall()
    finally:
        conn.close()
    witnesses = []
    for witness, note in rows:
        try:
            signed = SignedCheckpoint.from_bytes(bytes(note))
            signed.verify(node, key)
        except ProtocolError:
            continue
        witnesses.append(str(witness))
    return witnesses


def _tls_answer(
    network: str, port: int, me: str, seed: bytes, peer: str, pins: list[bytes]
) -> tuple[bytes | None, bytes]:
    """A TLS connection to ``peer`` presenting ``me``'s certificate for ``seed`` and
    pinning ``pins``; the key the server presented (None if this side refused it) and
    the first bytes of its answer to a health check (b"" if it refused this client)."""
    context = client_context(network, me, seed, peer, pins)
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        try:
            sock = context.wrap_socket(raw)
        except (ssl.SSLError, ConnectionError):
            return None, b""
        key = peer_certificate_key(sock)
        try:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: n\r\nConnection: close\r\n\r\n")
            answer = sock.recv(64)
        except (ssl.SSLError, ConnectionError):
            answer = b""  # TLS 1.3: a refused client certificate shows only now
        sock.close()
        return key, answer
    finally:
        raw.close()


def _status(cluster: Cluster, node: str) -> dict[str, Any]:
    return cluster.status(node) or {}


def _publish_once_possible(cluster: Cluster, author: str) -> Published:
    """Publish an alert to the local network as soon as ``author`` holds a prekey of
    every recipient (a new member's announcement travels by gossip)."""
    published: list[Published] = []

    def attempt() -> tuple[bool, str]:
        body = {
            "kind": "incident_alert",
            "content": content_to_json(example("incident_alert")),
            "distribution": "local",
            "handling": "H1",
            "states": [],
        }
        try:
            answer = cluster.launcher.call(author, "POST", "/local/publish", body, timeout_s=30)
        except ClientError as exc:
            return False, exc.message
        published.append(
            Published(answer["id"], author, "incident_alert", tuple(answer["recipients"]))
        )
        return True, "published"

    cluster.wait_for(attempt, CONVERGE_S, f"{author} to be able to publish")
    cluster.published.append(published[0])
    return published[0]


# -- a node key rotated while the node runs ---------------------------------------------


def test_a_rotated_node_key_signs_at_once_once_certified_and_peers_accept_it(
    cluster: Cluster,
) -> None:
    built = cluster.built
    de = cluster.home("DE@TR")
    old = Home(de).public_key()
    assert _status(cluster, "DE@TR")["signing_key"]["key"] == old.hex()

    out = run_cli(cluster, de, "keys", "rotate", "--kdf", "interactive")
    new = Home(de).public_key()
    assert new != old
    assert f"new signing key: {new.hex()}" in out
    assert "the running node keeps signing with the retired key" in out
    signing = _status(cluster, "DE@TR")["signing_key"]
    assert (signing["key"], signing["newest"]) == (old.hex(), new.hex())
    assert signing["may_speak"] is True and signing["transport"] == old.hex()

    # Publishing is not held up by the rotation: the retired key signs, peers read it.
    before = cluster.publish("DE@TR", "incident_alert")
    cluster.wait_converged(NODES, CONVERGE_S)
    stored = _stored(de, before.id)
    assert stored is not None and stored.header.author_key == old

    # The authority certifies the new key; importing it into the running node is enough.
    pub, cert = built.base / "node-DE.2.pub", built.base / "node-DE.2.cert"
    run_cli(cluster, de, "keys", "export-public", "-o", str(pub))
    run_cli(cluster, built.base / "authorities" / "DE", "cert", "issue", str(pub), "-o", str(cert))
    out = run_cli(cluster, de, "cert", "import", str(cert))
    assert "the running node answered: added" in out

    def speaks_new() -> tuple[bool, str]:
        signing = _status(cluster, "DE@TR").get("signing_key", {})
        done = signing.get("key") == signing.get("transport") == new.hex()
        return done, f"signing {signing}"

    cluster.wait_for(speaks_new, CONVERGE_S, "DE@TR to speak with its new key", ["DE@TR"])
    status = _status(cluster, "DE@TR")
    assert status["counters"]["keys"]["signing_switches"] == 1
    assert status["counters"]["live"]["transport_key_switches"] == 1

    after = cluster.publish("DE@TR", "incident_alert")
    stored = _stored(de, after.id)
    assert stored is not None and stored.header.author_key == new
    # Every peer reads it: it took DE@TR's new key (the certificate reached it first).
    cluster.wait_converged(NODES, CONVERGE_S)
    for node in ("COM@EU", "FR@TR"):
        theirs = _stored(cluster.home(node), after.id)
        assert theirs is not None and theirs.header.author_key == new

    # Its checkpoints are signed by the new key, and the peers cosign them.
    note = cluster.local("DE@TR", "POST", "/local/checkpoint")["note"].encode()
    signed = SignedCheckpoint.from_bytes(note)
    signed.verify("DE@TR", new)
    assert signed.checkpoint.size == _status(cluster, "DE@TR")["log_size"]

    def cosigned() -> tuple[bool, str]:
        witnesses = set(_cosigned(de, new, "DE@TR"))
        return witnesses >= {"COM@EU", "FR@TR"}, f"cosigned by {sorted(witnesses)}"

    cluster.wait_for(cosigned, CONVERGE_S, "the peers to cosign a new-key checkpoint")

    # New TLS handshakes present the new key's certificate; the old one is not shown.
    fr_seed = Home(cluster.home("FR@TR")).signing_key(PASS).reveal()
    port = _port(built.endpoints["DE@TR"])
    key, answer = _tls_answer(built.network, port, "FR@TR", fr_seed, "DE@TR", [new])
    assert key == new and answer.startswith(b"HTTP/1.1 200")
    assert _tls_answer(built.network, port, "FR@TR", fr_seed, "DE@TR", [old]) == (None, b"")
    # The peers answer DE@TR's requests signed with the new key: no failures since.
    failures = {n: _status(cluster, n)["peers"]["DE@TR"]["failures"] for n in ("COM@EU", "FR@TR")}
    assert failures == {"COM@EU": 0, "FR@TR": 0}
    for node in NODES:
        assert "Traceback" not in cluster.log_tail(node, 200_000)


# -- roster members added and removed while every node runs -----------------------------


def _roster_version(
    cluster: Cluster,
    version: int,
    *,
    add: dict[str, Any] | None = None,
    drop: str | None = None,
    authority: dict[str, Any] | None = None,
) -> Path:
    """Roster ``version`` after the current one: with a node added (and its authority),
    or one dropped; signed by two of the three administrators, as an operator makes it."""
    built = cluster.built
    admins = built.base / "administrators"
    previous = built.base / f"roster-v{version - 1}.roster"
    if version == 2:
        previous = built.root_roster
    description = json.loads(
        run_cli(cluster, admins / "admin-a", "roster", "show", "--json", str(previous))
    )
    description.update(version=version, issued="now")
    if add is not None:
        description["nodes"].append(add)
    if authority is not None:
        description["authorities"].append(authority)
    if drop is not None:
        description["nodes"] = [n for n in description["nodes"] if n["node"] != drop]
    path = built.base / f"roster-v{version}.json"
    path.write_text(json.dumps(description))
    signed = built.base / f"roster-v{version}.roster"
    run_cli(
        cluster,
        admins / "admin-a",
        "roster",
        "propose",
        str(path),
        "--previous",
        str(previous),
        "-o",
        str(signed),
    )
    for admin in ("admin-a", "admin-b"):
        run_cli(cluster, admins / admin, "roster", "sign", "--yes", str(signed))
    return signed


def test_a_member_added_is_contacted_and_a_member_removed_is_dropped(
    cluster: Cluster, tmp_path: Path
) -> None:
    built = cluster.built
    new_node, new_port = "IT@TR", free_ports(1)[0]
    endpoint = f"https://127.0.0.1:{new_port}"
    # The new member's authority and node, as their operators make them.
    auth_it, it = built.base / "authorities" / "IT", built.base / "IT@TR"
    for home in (auth_it, it):
        home.mkdir(mode=0o700)  # the CLI runs in the home it is given
    run_cli(
        cluster,
        auth_it,
        "keys",
        "init",
        "--role",
        "authority",
        "--network",
        built.network,
        "--party",
        "IT",
        "--kdf",
        "interactive",
    )
    run_cli(
        cluster,
        it,
        "keys",
        "init",
        "--role",
        "node",
        "--network",
        built.network,
        "--node",
        new_node,
        "--kdf",
        "interactive",
    )
    v2 = _roster_version(
        cluster,
        2,
        add={"node": new_node, "endpoint": endpoint, "role": "member_state"},
        authority={"party": "IT", "key": Home(auth_it).public_key().hex(), "valid_from": "now"},
    )

    # One running node takes the new version; the others get it by gossip.
    out = run_cli(cluster, cluster.home("DE@TR"), "roster", "update", str(v2))
    assert "applied roster version 2" in out and "the running node took them: added" in out

    def everyone_on(version: int, peers_of_de: set[str]) -> tuple[bool, str]:
        states = {n: _status(cluster, n) for n in NODES}
        versions = {n: s.get("roster", {}).get("version") for n, s in states.items()}
        peers = set(states["DE@TR"].get("peering", {}).get("peers", []))
        return all(v == version for v in versions.values()) and peers == peers_of_de, (
            f"roster versions {versions}, DE@TR's peers {sorted(peers)}"
        )

    cluster.wait_for(
        lambda: everyone_on(2, {"COM@EU", "FR@TR", new_node}), CONVERGE_S, "roster v2 everywhere"
    )
    assert set(_status(cluster, "COM@EU")["peering"]["peers"]) == {"DE@TR", "FR@TR", new_node}
    assert _status(cluster, "DE@TR")["counters"]["live"]["peers_added"] == 1

    # IT@TR's certificate, issued by its authority, is imported into one running node.
    pub, cert = built.base / "node-IT.pub", built.base / "node-IT.cert"
    run_cli(cluster, it, "keys", "export-public", "-o", str(pub))
    run_cli(cluster, auth_it, "cert", "issue", str(pub), "-o", str(cert))
    run_cli(cluster, cluster.home("FR@TR"), "cert", "import", str(cert))
    # The new node's home: the pinned root, v2, and the members' certificates.
    run_cli(
        cluster, it, "roster", "init", str(built.root_roster), "--fingerprint", built.fingerprint
    )
    run_cli(cluster, it, "roster", "update", str(v2))
    certs = sorted(
        str(p) for p in (cluster.home("DE@TR") / "trust" / "certificates").glob("*.cert")
    )
    run_cli(cluster, it, "cert", "import", *certs, str(cert))
    write_daemon_config(it)
    cluster.launcher.start(new_node, it)
    cluster.wait_ready([new_node])

    # The running members send it what they publish from now on, and what it missed;
    # DE@TR can seal to it once its prekey announcement arrived (it announces at start).
    sent = _publish_once_possible(cluster, "DE@TR")
    assert new_node in sent.recipients
    cluster.wait_converged([*NODES, new_node], CONVERGE_S)

    # Version 3 removes IT@TR; applied to COM@EU, it spreads, and every member drops it.
    it_seed = read_private_key(Home(it).signing_key_path, PASS).reveal()
    de_key = Home(cluster.home("DE@TR")).public_key()
    de_port = _port(built.endpoints["DE@TR"])
    assert _tls_answer(built.network, de_port, new_node, it_seed, "DE@TR", [de_key])[1].startswith(
        b"HTTP/1.1 200"
    )
    v3 = _roster_version(cluster, 3, drop=new_node)
    run_cli(cluster, cluster.home("COM@EU"), "roster", "update", str(v3))
    cluster.wait_for(
        lambda: everyone_on(3, {"COM@EU", "FR@TR"}), CONVERGE_S, "roster v3 everywhere"
    )
    for node in NODES:
        status = _status(cluster, node)
        assert new_node not in status["peering"]["peers"]
        assert new_node not in status["peers"]
        assert status["counters"]["live"]["peers_dropped"] == 1
    # Its TLS handshakes are refused by every member from now on.
    for node in NODES:
        key = Home(cluster.home(node)).public_key()
        port = _port(built.endpoints[node])
        assert _tls_answer(built.network, port, new_node, it_seed, node, [key])[1] == b""
    # And what the members publish is no longer addressed to it.
    later = cluster.publish("FR@TR", "incident_alert")
    assert new_node not in later.recipients
    cluster.wait_converged(list(NODES), CONVERGE_S)


# -- prekeys on a schedule of seconds ---------------------------------------------------

#: Epochs of 4 s, each prekey due 2 s ahead, secrets kept 3 s after their epoch.
SHORT = {"prekey_epoch_s": 4.0, "prekey_lead_s": 2.0, "prekey_grace_s": 3.0}


@pytest.mark.parametrize("cluster", [SHORT], indirect=True)
def test_prekeys_rotate_on_schedule_and_old_secrets_are_gone_after_grace(
    cluster: Cluster,
) -> None:
    de = cluster.home("DE@TR")
    prekey_dir = de / "keys" / "prekeys"

    def prekeys() -> dict[str, Any]:
        return dict(_status(cluster, "DE@TR").get("prekeys", {}))

    assert prekeys()["schedule"] == {"epoch_s": 4.0, "grace_s": 3.0, "lead_s": 2.0}

    # FR@TR seals to DE@TR's prekey of the moment, one of the short schedule.
    def sealed_to_a_short_prekey() -> tuple[bool, str]:
        p = prekeys()
        if p.get("current_epoch") not in p.get("announced_epochs", []):
            return False, f"DE@TR's prekeys {p}"
        try:
            sent = cluster.launcher.call("FR@TR", "POST", "/local/publish", _to_de(), timeout_s=30)
        except ClientError as exc:  # FR@TR does not have the announcement yet
            return False, exc.message
        sealed.append(sent["id"])
        return True, "sealed"

    sealed: list[str] = []
    cluster.wait_for(sealed_to_a_short_prekey, CONVERGE_S, "FR@TR to seal to a new prekey")

    def stored_at_de() -> tuple[bool, str]:
        return _stored(de, sealed[0]) is not None, "not at DE@TR yet"

    cluster.wait_for(stored_at_de, CONVERGE_S, "the envelope to reach DE@TR")
    envelope = _stored(de, sealed[0])
    assert envelope is not None
    (prekey,) = [w.recipient_key for w in envelope.wrapped_for("DE@TR")]
    epoch = next(
        int(path.stem)
        for path in prekey_dir.glob("*.key")
        if key_file_info(path.read_bytes())["public"] == prekey.hex()
    )
    assert epoch in prekeys()["announced_epochs"] or epoch < prekeys()["current_epoch"]

    # After that epoch and its grace, its secret is gone from the disk and the memory.
    def deleted() -> tuple[bool, str]:
        p = prekeys()
        held = p.get("held_epochs") or []
        gone = epoch not in held and not (prekey_dir / f"{epoch}.key").exists()
        files = len(list(prekey_dir.glob("*.key")))
        return gone and p.get("secrets_in_memory") == len(held) == files, f"prekeys {p}"

    cluster.wait_for(deleted, CONVERGE_S, f"prekey {epoch} to be deleted")
    counters = _status(cluster, "DE@TR")["counters"]["prekeys"]
    assert counters["deleted"] >= 1 and counters["created"] >= 2 and counters["announced"] >= 2
    # Forward secrecy: nothing DE@TR still holds opens what was sealed to that prekey.
    secrets = {}
    for path in prekey_dir.glob("*.key"):
        key = read_private_key(path, PASS)
        secrets[key.public] = key.reveal()
    assert prekey not in secrets
    with pytest.raises(NotARecipientError):
        envelope.unwrap_content_key("DE@TR", secrets)
    # The node goes on: FR@TR seals to its newer prekeys, and DE@TR reads what it gets.
    sealed.clear()
    cluster.wait_for(sealed_to_a_short_prekey, CONVERGE_S, "FR@TR to seal to a newer prekey")

    def readable() -> tuple[bool, str]:
        return cluster.readable("DE@TR", sealed) == set(sealed), "not readable at DE@TR yet"

    cluster.wait_for(readable, CONVERGE_S, "DE@TR to read the newer envelope")
    for node in NODES:
        assert "Traceback" not in cluster.log_tail(node, 200_000)


def _to_de() -> dict[str, Any]:
    return {
        "kind": "incident_alert",
        "content": content_to_json(example("incident_alert")),
        "distribution": "states",
        "handling": "H1",
        "states": ["DE"],
    }
