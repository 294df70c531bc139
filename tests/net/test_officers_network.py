"""Officers as authors between real ``ilo-node run`` processes, over the officer API's HTTPS.

Two nodes posted to Türkiye, DE@TR and FR@TR, each with an officer whose home
``build_network`` made: anna.berg at DE@TR, luc.martin at FR@TR. Their clients use
the real HTTP transport (TLS 1.3 pinned to their node's certified keys, the
officer's certificate presented, every request signed). Polling with deadlines,
the test follows that

* every kind that stands alone, signed in anna's home and handed to DE@TR, reaches
  luc's inbox at FR@TR by gossip, and luc's home finds it signed by anna's
  certified key, with the content she wrote;
* a word of one message's content finds it in a search at FR@TR;
* anna retracts one and luc sees it retracted, with her reason; luc cannot;
* the DE authority revokes anna in its own home (``officer revoke``), DE@TR imports
  the revocation (``cert import``) and gossip carries it to FR@TR: anna can no
  longer work through DE@TR, and an envelope her home signs while offline, as the
  next link of her chain, is refused by FR@TR (pushed to it as a peer pushes) and
  by DE@TR (its raw ingest).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ilo_node.client.officer import MessageFilter, OfficerClient, PublishRequest
from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.errors import ClientError
from ilo_node.home.home import now_ms
from ilo_node.net.peerauth import PeerIdentity
from ilo_node.net.tls import client_context
from ilo_node.net.transport import HttpTransport
from ilo_node.net.wire import decode_body, encode_body
from keys.trust import Outcome
from protocol.envelope import REFERENCE_KINDS
from protocol.examples import example
from protocol.kinds import KINDS
from tests.support.netproc import Cluster, free_ports, run_cli, write_daemon_config

pytestmark = pytest.mark.slow

PASS = b"officers network test passphrase"
DE, FR = "DE@TR", "FR@TR"
ANNA, LUC = "anna.berg", "luc.martin"
STANDALONE = sorted(set(KINDS) - REFERENCE_KINDS)
#: A word of one example's content and of no other's: what the search looks for.
SEARCHED_KIND, SEARCHED_WORD = "deployment_notice", "Bundespolizei"
RETRACTED_KIND = "route_report"
REASON = "figures double-counted; a corrected report follows"
DELIVERY_S = 60.0


def _push_as_peer(built: BuiltNetwork, peer: str, to: str, raw: bytes) -> tuple[int, Any]:
    """``POST /v1/envelopes`` to ``to`` as node ``peer`` pushes: signed with its real key
    over TLS with its certificate, through the nodes' own peer transport."""
    seed = built.nodes[peer].signing_key(PASS).reveal()
    pinned = [built.nodes[to].public_key()]

    async def push() -> tuple[int, bytes]:
        transport = HttpTransport(
            PeerIdentity(peer, seed),
            now_ms,
            built.endpoints,
            tls=lambda name: client_context(built.network, peer, seed, name, pinned),
        )
        try:
            body = encode_body({"envelopes": [raw]})
            return await transport.request(to, "POST", "/v1/envelopes", body)
        finally:
            await transport.close()

    status, answer = asyncio.run(push())
    return status, decode_body(answer, "answer")


def test_officers_publish_read_retract_and_are_revoked_across_real_nodes(tmp_path: Path) -> None:
    # The third port nobody listens on: where anna's home looks while it is offline.
    de_port, fr_port, offline_port = free_ports(3)
    ports = {DE: de_port, FR: fr_port}
    built = build_network(
        tmp_path / "net",
        [DE, FR],
        endpoints={n: f"https://127.0.0.1:{p}" for n, p in ports.items()},
        passphrase=PASS,
        keep_authorities=True,
        officers={DE: [ANNA], FR: [LUC]},
    )
    for node in (DE, FR):
        write_daemon_config(built.nodes[node].path)
    # The precondition of the search step: the word is in that example only.
    assert [k for k in STANDALONE if SEARCHED_WORD in repr(example(k))] == [SEARCHED_KIND]
    cluster = Cluster(built)
    clients: list[OfficerClient] = []
    try:
        cluster.start(DE, FR)
        anna = OfficerClient(built.officers[ANNA], PASS)  # the real HTTP transport
        luc = OfficerClient(built.officers[LUC], PASS)
        clients += [anna, luc]
        cluster.wait_ready([DE, FR])

        # -- every kind that stands alone, from anna's home to luc's inbox ------------
        anna.sync()
        # No kind is bound to a level, and local reaches FR@TR for all of them; the
        # half-year contribution's usual level, presidency, would reach only the
        # Presidency's and the Commission's nodes, none of which is in this network.
        assert anna.recipients("local", ()) == [DE, FR]
        sent: dict[str, bytes] = {}
        for kind in STANDALONE:
            outcome = anna.publish(PublishRequest(kind, example(kind)))
            assert outcome.sent, (kind, outcome.delivery)
            assert outcome.readable_by == (DE, FR) and outcome.awaiting == ()
            assert outcome.envelope_id is not None
            sent[kind] = outcome.envelope_id
        inbox = MessageFilter(unread_only=True, others_only=True, limit=100)

        def all_arrived() -> tuple[bool, str]:
            got = {m.envelope_id for m in luc.messages(inbox)}
            missing = [k for k, i in sent.items() if i not in got]
            return not missing, f"not yet in {LUC}'s inbox: {missing}"

        took = cluster.wait_for(all_arrived, DELIVERY_S, f"{LUC}'s inbox")
        print(f"{len(sent)} envelopes reached {LUC} at {FR} in {took:.1f} s")
        messages = {m.envelope_id: m for m in luc.messages(inbox)}
        for kind, envelope_id in sent.items():
            message = messages[envelope_id]
            assert message.header.kind == kind
            assert message.header.author_officer == ANNA
            assert message.header.author_node == DE
            assert message.author_label == f"{ANNA} ({DE})"
            # Decided in luc's home, against the certificates it synced from FR@TR.
            assert message.author.outcome is Outcome.ACCEPT, (kind, message.author.reason)
            assert message.author.certificate is not None
            assert message.author.certificate.officer == ANNA
            assert message.header.author_key == anna.signing.public
            assert message.problem is None, (kind, message.problem)
            assert message.content == example(kind), kind
            assert set(message.readers) == {DE, FR}

        # -- search at FR@TR --------------------------------------------------------------
        [found] = luc.messages(MessageFilter(text=SEARCHED_WORD))
        assert found.envelope_id == sent[SEARCHED_KIND]
        assert found.content is not None and SEARCHED_WORD in repr(found.content)

        # -- retraction: by the author only -----------------------------------------------
        target = sent[RETRACTED_KIND]
        retraction = anna.retract(target.hex()[:12], REASON)
        assert retraction.sent, retraction.delivery
        assert retraction.refers_to == ("retracts", target)

        def retracted() -> tuple[bool, str]:
            shown = luc.show(target.hex(), mark_read=False)
            return shown.retracted, f"retractions seen by {LUC}: {shown.retractions}"

        cluster.wait_for(retracted, DELIVERY_S, f"{LUC} to see the retraction")
        shown = luc.show(target.hex()[:10])  # also checks its log position at FR@TR
        assert shown.position is not None
        assert [(r.author, r.reason) for r in shown.retractions] == [(f"{ANNA} ({DE})", REASON)]
        assert [r.envelope_id for r in shown.retractions] == [retraction.envelope_id]
        with pytest.raises(ClientError) as refused:
            luc.retract(target.hex(), "not mine to retract")
        assert type(refused.value) is ClientError
        assert refused.value.message.startswith(f"only its author ({ANNA} ({DE})) may retract")
        assert "Traceback" not in str(refused.value)
        assert luc.outbox.waiting() == []

        # -- revocation: the DE authority's, imported at DE@TR, spread by gossip ----------
        revocation = tmp_path / "anna.rev"
        said = run_cli(
            cluster,
            built.base / "authorities" / "DE",
            "officer",
            "revoke",
            ANNA,
            "--compromised-at",
            "now",
            "--reason",
            "laptop stolen",
            "-o",
            str(revocation),
        )
        assert f"revoked key {anna.signing.public.hex()[:16]}… of {DE}" in said
        said = run_cli(cluster, DE, "cert", "import", str(revocation))
        assert "imported" in said, said

        # anna can no longer work through DE@TR, and nothing is signed: on the
        # connection her client opened before, DE@TR refuses each request ...
        with pytest.raises(ClientError) as refused:
            anna.publish(PublishRequest("incident_alert", example("incident_alert")))
        assert type(refused.value) is ClientError
        # On a loaded machine the idle connection may have been closed meanwhile: then
        # the refusal comes at the new connection's handshake, as checked just below.
        said = refused.value.message
        assert (
            f"officer {ANNA} of {DE} may not use this key" in said and "revoked" in said
        ) or "refused this officer's certificate" in said, said
        # ... and a new connection at its TLS handshake, which is no "node unreachable"
        # (that would sign and queue the envelope in her outbox).
        reconnected = OfficerClient(built.officers[ANNA], PASS)
        clients.append(reconnected)
        with pytest.raises(ClientError) as refused:
            reconnected.publish(PublishRequest("incident_alert", example("incident_alert")))
        assert type(refused.value) is ClientError
        assert "refused this officer's certificate" in refused.value.message
        # The node logs the refused handshake on its own time: wait for the line.
        cluster.wait_for(
            lambda: (
                "CERTIFICATE_VERIFY_FAILED" in cluster.log_tail(DE, 20_000),
                "no refused handshake in the log",
            ),
            DELIVERY_S,
            f"{DE} to log the refused handshake",
        )
        assert anna.outbox.waiting() == []

        # FR@TR has it only from DE@TR, by gossip; luc's home takes it from FR@TR.
        def revocation_at_fr() -> tuple[bool, str]:
            luc.sync()
            known = luc.trust.revocations_of(anna.signing.public, DE)
            return bool(known), f"{LUC}'s home holds no revocation of {ANNA}'s key yet"

        cluster.wait_for(revocation_at_fr, DELIVERY_S, f"the revocation to reach {FR}")

        # Her home, offline, does not know of it and signs the next link of her chain.
        home = built.officers[ANNA]
        (home.path / "officer.json").write_text(
            json.dumps({"node_url": f"https://127.0.0.1:{offline_port}"})
        )
        offline = OfficerClient(home, PASS)
        clients.append(offline)
        late = offline.publish(PublishRequest("incident_alert", example("incident_alert")))
        assert late.delivery is not None and late.delivery.status == "waiting"
        [waiting] = offline.outbox.waiting()
        forged = waiting.envelope
        assert forged.header.author_key == anna.signing.public
        assert retraction.seq is not None
        assert forged.header.seq == retraction.seq + 1
        assert forged.header.prev == retraction.envelope_id
        raw = forged.to_bytes()

        sizes = {n: (cluster.status(n) or {}).get("log_size") for n in (DE, FR)}
        status, answer = _push_as_peer(built, DE, FR, raw)
        assert status == 200, answer
        [[verdict, reason]] = answer["results"]
        assert verdict == "rejected", reason
        assert "was revoked as compromised" in reason
        [result] = cluster.local(DE, "POST", "/local/ingest", {"envelopes": [raw.hex()]})["results"]
        assert result["status"] == "rejected", result
        assert "was revoked as compromised" in result["reason"]
        assert {n: (cluster.status(n) or {}).get("log_size") for n in (DE, FR)} == sizes
        assert cluster.readable(FR, [forged.id.hex()]) == set()
        assert forged.id not in {m.envelope_id for m in luc.messages(MessageFilter(limit=100))}

        cluster.stop()
        for node in (DE, FR):
            assert "Traceback" not in cluster.log_tail(node, 1_000_000), node
    finally:
        for client in clients:
            client.close()
        cluster.close()
