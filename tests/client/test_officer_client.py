"""Officers as authors, through the officer API, against real nodes in memory.

An officer's home holds its own key and the pinned root; it learns every other
document from its node and signs on its own side. These tests follow envelopes
from one officer's home to another officer's inbox at another node.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ilo_node.client.officer import MessageFilter, OfficerClient, PublishRequest
from ilo_node.errors import ClientError, NotFoundError
from keys.trust import Outcome
from protocol.examples import example
from tests.support.officerkit import Posting, build_posting

DE, FR, IT, COM = "DE@TR", "FR@TR", "IT@TR", "COM@EU"


@pytest.fixture
def posting(tmp_path: Path) -> Iterator[Posting]:
    yield from build_posting(tmp_path, [DE, FR, IT, COM], {DE: ["anna", "bert"], FR: ["claire"]})


def _publish(client: OfficerClient, kind: str = "incident_alert", **kw: object) -> bytes:
    outcome = client.publish(PublishRequest(kind, example(kind), **kw))  # type: ignore[arg-type]
    assert outcome.sent, outcome.delivery
    assert outcome.envelope_id is not None
    return outcome.envelope_id


def test_an_officers_alert_reaches_another_postings_officer_signed_by_its_author(
    posting: Posting,
) -> None:
    anna, claire = posting.officer("anna"), posting.officer("claire")
    envelope_id = _publish(anna)
    stored = posting.on(DE, lambda: posting.nodes[DE].view.envelope(envelope_id))
    assert stored.header.author_officer == "anna"
    assert stored.header.author_key == anna.signing.public  # signed with anna's key
    posting.sync(FR, DE)
    [message] = claire.messages(MessageFilter(unread_only=True))
    assert message.envelope_id == envelope_id
    assert message.author_label == "anna (DE@TR)"
    assert message.author.outcome is Outcome.ACCEPT
    assert message.author.certificate is not None
    assert message.author.certificate.officer == "anna"
    assert message.content == example("incident_alert")
    assert set(message.readers) == {DE, FR, IT, COM}


def test_the_node_key_alone_cannot_pass_for_an_officer(posting: Posting) -> None:
    """An envelope naming anna but signed by DE's node key is refused by every node."""
    from protocol.envelope import seal

    de = posting.nodes[DE]
    assert de.signing is not None
    forged = seal(
        signing_seed=de.signing.reveal(),
        network=de.network,
        kind="incident_alert",
        author_node=DE,
        author_officer="anna",
        seq=1,
        prev=None,
        created_ms=de.clock(),
        distribution="local",
        recipient_keys=de.trust.recipient_keys([DE, FR], de.clock()),
        handling="H1",
        content=example("incident_alert"),
    )
    [result] = posting.on(FR, posting.nodes[FR].ingest, [forged.to_bytes()])
    assert result.status == "rejected"
    assert "node" in result.reason and "officer" in result.reason


def test_what_is_signed_while_the_node_is_down_waits_in_the_outbox(posting: Posting) -> None:
    anna = posting.officer("anna")
    anna.sync()
    anna.transport.down = True  # type: ignore[attr-defined]
    outcome = anna.publish(PublishRequest("incident_alert", example("incident_alert")))
    assert not outcome.sent and outcome.delivery is not None
    assert outcome.delivery.status == "waiting"
    assert [w.envelope.id for w in anna.outbox.waiting()] == [outcome.envelope_id]
    assert posting.nodes[DE].size() == 0
    anna.transport.down = False  # type: ignore[attr-defined]
    second = anna.publish(PublishRequest("route_report", example("route_report")))
    assert second.sent
    assert [d.envelope_id for d in second.others] == [outcome.envelope_id]
    assert anna.outbox.waiting() == []
    assert posting.nodes[DE].size() == 2


def test_a_home_that_lost_its_chain_continues_from_the_nodes_head(posting: Posting) -> None:
    anna = posting.officer("anna")
    first = _publish(anna)
    anna.outbox.chain_path.unlink()
    second = _publish(anna)
    envelope = posting.on(DE, lambda: posting.nodes[DE].view.envelope(second))
    assert envelope.header.seq == 2 and envelope.header.prev == first


def test_only_the_author_may_retract_and_the_retraction_shows_everywhere(
    posting: Posting,
) -> None:
    anna, bert, claire = posting.officer("anna"), posting.officer("bert"), posting.officer("claire")
    target = _publish(anna)
    with pytest.raises(ClientError, match="only its author"):
        bert.retract(target.hex()[:10], "not mine to retract")
    outcome = anna.retract(target.hex()[:10], "sent to the wrong network")
    assert outcome.sent
    posting.sync(FR, DE)
    shown = claire.show(target.hex()[:8])
    assert shown.retracted
    assert shown.retractions[0].reason == "sent to the wrong network"
    assert shown.retractions[0].author == "anna (DE@TR)"


def test_a_retraction_by_another_officer_is_refused_at_ingest_by_every_node(
    posting: Posting,
) -> None:
    """bert's client would refuse; a retraction he signs anyway is refused by the nodes."""
    anna, bert = posting.officer("anna"), posting.officer("bert")
    target = _publish(anna)
    bert.sync()
    from ilo_node.home.outbox import Draft

    draft = Draft(
        "retraction",
        {"reason": "bert forges it"},
        "local",
        "H1",
        (DE, FR, IT, COM),
        refers_to=("retracts", target),
    )
    keys, _ = bert._prekeys(draft.recipients)
    forged = bert._seal(draft, keys)
    for node in (DE, FR):
        if node == FR:
            posting.sync(FR, DE)
        [result] = posting.on(node, posting.nodes[node].ingest, [forged.to_bytes()])
        assert result.status == "rejected", node
        assert "only its author (officer anna of DE@TR)" in result.reason


def test_a_correction_is_listed_with_the_original(posting: Posting) -> None:
    anna, claire = posting.officer("anna"), posting.officer("claire")
    target = _publish(anna)
    fixed = example("incident_alert")
    fixed["title"] = "Corrected: " + str(fixed["title"])[:60]
    outcome = anna.correct(target.hex(), fixed)
    assert outcome.sent
    posting.sync(FR, DE)
    shown = claire.show(target.hex())
    assert [c.envelope_id for c in shown.corrections] == [outcome.envelope_id]


def test_ids_are_found_by_a_prefix_of_eight_hex_digits(posting: Posting) -> None:
    anna = posting.officer("anna")
    target = _publish(anna)
    assert anna.resolve(target.hex()[:8]) == target
    with pytest.raises(NotFoundError):
        anna.resolve("00000000")
    with pytest.raises(Exception, match=r"is not a message id"):
        anna.resolve("abc")


def test_unread_marks_are_per_officer(posting: Posting) -> None:
    anna, bert = posting.officer("anna"), posting.officer("bert")
    target = _publish(anna)
    assert [m.envelope_id for m in bert.messages(MessageFilter(unread_only=True))] == [target]
    bert.show(target.hex())
    assert bert.messages(MessageFilter(unread_only=True)) == []
    # anna wrote it: it is not in her own inbox, but is listed when she asks for hers.
    assert anna.messages(MessageFilter(unread_only=True, others_only=True)) == []
    assert len(anna.messages(MessageFilter())) == 1


def test_a_recipient_without_a_prekey_gets_the_key_once_it_arrives(posting: Posting) -> None:
    de = posting.nodes[DE]
    # IT's prekey announcements have not reached DE (nor, from it, anna's home).
    late = [a.document.to_bytes() for a in de.trust.prekeys.pop(IT)]
    anna = posting.officer("anna")
    outcome = anna.publish(PublishRequest("incident_alert", example("incident_alert")))
    assert outcome.envelope_id is not None
    assert IT in outcome.awaiting and IT not in outcome.readable_by
    assert outcome.sent
    assert de.officers.pending() == {outcome.envelope_id.hex(): [IT]}
    assert posting.on(DE, de.officers.share_pending) == []  # still no prekey
    posting.on(DE, de.add_documents, late)
    shares = posting.on(DE, de.officers.share_pending)
    assert len(shares) == 1
    posting.sync(IT, DE)
    content = posting.on(IT, posting.nodes[IT].view.read, outcome.envelope_id)
    assert content is not None and dict(content.fields) == example("incident_alert")
    assert de.officers.pending() == {}
    # What the officers see: IT among the readers, through the share.
    anna_view = anna.show(outcome.envelope_id.hex())
    assert IT in anna_view.readers


def test_require_all_refuses_to_leave_anyone_out(posting: Posting) -> None:
    posting.nodes[DE].trust.prekeys.pop(IT)
    anna = posting.officer("anna")
    with pytest.raises(ClientError, match="IT@TR"):
        anna.publish(PublishRequest("incident_alert", example("incident_alert"), require_all=True))
    assert anna.outbox.waiting() == []


def test_states_level_names_only_states_with_a_node(posting: Posting) -> None:
    anna = posting.officer("anna")
    outcome = anna.publish(
        PublishRequest("incident_alert", example("incident_alert"), level="states", to=("FR",))
    )
    assert set(outcome.readable_by) == {DE, FR}
    with pytest.raises(Exception, match="NL has no node"):
        anna.publish(
            PublishRequest("incident_alert", example("incident_alert"), level="states", to=("NL",))
        )
    with pytest.raises(Exception, match="--to"):
        anna.publish(PublishRequest("incident_alert", example("incident_alert"), to=("FR",)))


def test_a_revoked_officer_is_refused_by_the_node_and_their_new_envelopes_everywhere(
    posting: Posting,
) -> None:
    from protocol.signed import SignedDocument

    anna = posting.officer("anna")
    _publish(anna)
    de = posting.nodes[DE]
    now = de.clock()
    revocation = SignedDocument.create(
        "revocation",
        {
            "network": de.network,
            "node": DE,
            "key": anna.signing.public,
            "compromised_at_ms": now,
            "issued_ms": now,
            "reason": "left the post",
        },
    ).signed_by(
        posting.keys[posting.built.base / "authorities" / "DE" / "keys" / "signing.key"].reveal()
    )
    for node in posting.nodes:
        posting.on(node, posting.nodes[node].add_documents, [revocation.to_bytes()])
    with pytest.raises(ClientError, match="may not use this key"):
        anna.publish(PublishRequest("incident_alert", example("incident_alert")))
    assert anna.outbox.waiting() == []  # refused before anything was signed
    # Offline, her home does not know of the revocation and signs; every node that
    # the envelope reaches refuses it.
    anna.transport.down = True  # type: ignore[attr-defined]
    anna.publish(PublishRequest("incident_alert", example("incident_alert")))
    [waiting] = anna.outbox.waiting()
    for node in (DE, FR, COM):
        [result] = posting.on(node, posting.nodes[node].ingest, [waiting.envelope.to_bytes()])
        assert result.status == "rejected" and "revoked" in result.reason, node


def _withdrawal(posting: Posting, party: str, signer: str, target: bytes, node: str) -> bytes:
    from protocol.signed import SignedDocument

    key = posting.keys[posting.built.base / f"authorities/{signer}/keys/signing.key"]
    return (
        SignedDocument.create(
            "withdrawal",
            {
                "network": posting.built.network,
                "party": party,
                "target": target,
                "target_node": node,
                "issued_ms": posting.nodes[DE].clock(),
                "reason": "issued in error",
            },
        )
        .signed_by(key.reveal())
        .to_bytes()
    )


def test_the_authors_authority_withdraws_and_no_other_authority_can(posting: Posting) -> None:
    anna, claire = posting.officer("anna"), posting.officer("claire")
    target = _publish(anna)
    by_fr = _withdrawal(posting, "DE", "FR", target, DE)  # FR's key, claiming DE
    fr_for_de = _withdrawal(posting, "FR", "FR", target, DE)  # FR, for a DE envelope
    assert posting.on(DE, posting.nodes[DE].add_documents, [by_fr, fr_for_de]) == [
        "refused: withdrawal of an envelope of DE@TR is not signed by a DE authority key "
        "valid at its issue time",
        "refused: withdrawal is malformed: withdrawal.target_node: an authority withdraws "
        "only its own nodes' envelopes",
    ]
    assert posting.on(
        DE, posting.nodes[DE].add_documents, [_withdrawal(posting, "DE", "DE", target, DE)]
    ) == ["added"]
    posting.sync(FR, DE)
    shown = claire.show(target.hex())
    assert shown.retracted
    assert [(w.author, w.reason) for w in shown.withdrawals] == [
        ("the DE authority", "issued in error")
    ]


def test_a_home_that_missed_a_roster_version_which_expired_since_catches_up(
    posting: Posting,
) -> None:
    from protocol.signed import SignedDocument

    anna = posting.officer("anna")
    anna.sync()
    first = anna.trust.roster
    admins = posting.built.base / "administrators"

    def version(number: int, issued_ms: int, expires_ms: int) -> bytes:
        payload = first.document.payload()
        payload.update(version=number, issued_ms=issued_ms, expires_ms=expires_ms)
        document = SignedDocument.create("roster", payload)
        for name in ("admin-a", "admin-b"):
            document = document.signed_by(
                posting.keys[admins / name / "keys" / "signing.key"].reveal()
            )
        return document.to_bytes()

    issued = first.issued_ms
    expired = version(2, issued + 1, issued + 2)  # expired before anna's home saw it
    current = version(3, issued + 3, issued + 400 * 86_400_000)
    de = posting.nodes[DE]
    posting.on(DE, de.add_documents, [expired, current])
    assert de.trust.roster.version == 3
    anna.sync()
    assert anna.trust.roster.version == 3
    assert anna.home.trust_state().roster.version == 3  # kept in the home
