"""A local, in-memory demonstration of the protocol core.

It builds a small network (Member State nodes posted to Türkiye, one posted to
Morocco, the Commission), then for every message kind: seals an envelope with
the kind's example content, hands the bytes to a relay that is not a recipient
(it verifies but cannot read), and has every recipient open it. It also shows a
hash chain, a Merkle log over the envelope ids with inclusion proofs, a
tampered envelope being refused and an equivocation turned into a fork proof.
Nothing is written to disk and nothing goes over the network.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import click

from protocol.chain import ForkProof, check_link, detect_fork
from protocol.crypto import x25519_public
from protocol.envelope import Envelope, seal
from protocol.errors import NotARecipientError, ProtocolError
from protocol.examples import example
from protocol.kinds import KINDS
from protocol.merkle import inclusion_proof, leaf_hash, root_from_leaf_hashes, verify_inclusion

__all__ = ["run_demo"]

NETWORK = "demo.ilo"
PRESIDENCY_NODE = "IE@TR"  # 2026-H2 Presidency


@dataclass
class DemoNode:
    node_id: str
    seed: bytes = field(default_factory=lambda: os.urandom(32), repr=False)
    prekey_secret: bytes = field(default_factory=lambda: os.urandom(32), repr=False)
    seq: int = 0
    head: Envelope | None = None

    @property
    def prekey(self) -> bytes:
        return x25519_public(self.prekey_secret)


def _recipients_for(kind: str, author: str, nodes: dict[str, DemoNode]) -> tuple[str, list[str]]:
    if kind == "half_year_contribution":
        return "presidency", sorted({PRESIDENCY_NODE, "COM@EU", author})
    host = author.split("@")[1]
    local = [n for n in nodes if n.endswith("@" + host) or n.startswith("COM@")]
    return "local", sorted(local)


def run_demo(as_json: bool = False) -> bool:
    nodes = {n: DemoNode(n) for n in ("DE@TR", "FR@TR", "IE@TR", "IT@TR", "NL@MA", "COM@EU")}
    authors = ["DE@TR", "FR@TR", "IT@TR", "IE@TR"]
    relay = nodes["NL@MA"]
    rows: list[dict[str, object]] = []
    envelopes: list[Envelope] = []
    opened = expected = 0
    failures: list[str] = []
    started = time.perf_counter()

    for i, kind in enumerate(sorted(KINDS)):
        author = nodes[authors[i % len(authors)]]
        distribution, recipients = _recipients_for(kind, author.node_id, nodes)
        author.seq += 1
        envelope = seal(
            signing_seed=author.seed,
            network=NETWORK,
            kind=kind,
            author_node=author.node_id,
            seq=author.seq,
            prev=author.head.id if author.head else None,
            created_ms=int(time.time() * 1000),
            distribution=distribution,
            recipient_keys={r: [nodes[r].prekey] for r in recipients},
            handling="H1",
            content=example(kind),
        )
        wire = envelope.to_bytes()
        # The relay verifies the author's signature over the bytes it received...
        relayed = Envelope.from_bytes(wire)
        check_link(author.head, relayed)
        author.head = relayed
        envelopes.append(relayed)
        # ...but holds no key the content was sealed to.
        relay_can_read = True
        try:
            relayed.open(relay.node_id, {relay.prekey: relay.prekey_secret})
        except NotARecipientError:
            relay_can_read = False
        if relay_can_read:
            failures.append(f"{kind}: relay read the content")
        readers = 0
        for r in recipients:
            expected += 1
            content = Envelope.from_bytes(wire).open(r, {nodes[r].prekey: nodes[r].prekey_secret})
            if content.fields == example(kind):
                readers += 1
                opened += 1
            else:
                failures.append(f"{kind}: {r} read different content")
        rows.append(
            {
                "kind": kind,
                "author": author.node_id,
                "seq": relayed.header.seq,
                "distribution": distribution,
                "recipients": len(recipients),
                "opened": readers,
                "bytes": len(wire),
                "relay_read": relay_can_read,
                "id": relayed.id.hex()[:16],
            }
        )

    leaves = [leaf_hash(e.id) for e in envelopes]
    root = root_from_leaf_hashes(leaves)
    for index, leaf in enumerate(leaves):
        verify_inclusion(leaf, index, len(leaves), inclusion_proof(leaves, index), root)

    tampered = bytearray(envelopes[0].to_bytes())
    tampered[-80] ^= 0x01  # a ciphertext byte: only the signature can tell
    try:
        Envelope.from_bytes(bytes(tampered))
        failures.append("a tampered envelope was accepted")
        tamper_result = "accepted"
    except ProtocolError as exc:
        tamper_result = f"{type(exc).__name__}: {exc.message}"

    # An author that signs two different envelopes at one seq is caught.
    liar = nodes["FR@TR"]
    twins = [
        seal(
            signing_seed=liar.seed,
            network=NETWORK,
            kind="incident_alert",
            author_node=liar.node_id,
            seq=liar.seq + 1,
            prev=liar.head.id if liar.head else None,
            created_ms=int(time.time() * 1000),
            distribution="local",
            recipient_keys={"DE@TR": [nodes["DE@TR"].prekey]},
            handling=handling,
            content=example("incident_alert"),
        )
        for handling in ("H0", "H2")
    ]
    proof = detect_fork(*twins)
    fork_ok = proof is not None and ForkProof.from_bytes(proof.to_bytes()) == proof
    if not fork_ok:
        failures.append("the equivocation was not proven")
    elapsed = time.perf_counter() - started

    summary = {
        "kinds": len(KINDS),
        "envelopes": len(envelopes),
        "opened": opened,
        "expected": expected,
        "merkle_root": root.hex(),
        "inclusion_proofs_verified": len(leaves),
        "tampered_envelope": tamper_result,
        "fork_proof_verified": fork_ok,
        "seconds": round(elapsed, 3),
        "ok": not failures,
        "failures": failures,
    }
    if as_json:
        click.echo(json.dumps({**summary, "envelopes_detail": rows}, indent=2))
        return not failures

    click.echo(
        f"ilo-node protocol demo: {len(nodes)} nodes in memory, one envelope per message kind\n"
    )
    click.echo(f"{'kind':<28} {'author':<7} {'seq':>3} {'dist':<10} {'read':>5} {'bytes':>6}  id")
    for row in rows:
        click.echo(
            f"{row['kind']!s:<28} {row['author']!s:<7} {row['seq']!s:>3} "
            f"{row['distribution']!s:<10} {row['opened']!s:>2}/{row['recipients']!s:<2} "
            f"{row['bytes']!s:>6}  {row['id']}"
        )
    click.echo("")
    click.echo(f"opened by every recipient: {opened}/{expected}; relay NL@MA read none")
    click.echo(f"merkle log root over {len(leaves)} envelopes: {root.hex()}")
    click.echo(f"inclusion proofs verified: {len(leaves)}")
    click.echo(f"tampered envelope refused: {tamper_result}")
    click.echo(f"equivocation by FR@TR at seq {liar.seq + 1}: fork proof verified = {fork_ok}")
    click.echo(f"done in {elapsed:.2f} s: {'OK' if not failures else 'FAILED'}")
    for failure in failures:
        click.echo(f"FAILED: {failure}", err=True)
    return not failures
