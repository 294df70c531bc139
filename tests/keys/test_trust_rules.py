"""One negative test for every rule that closes a trust hole, as tables of named cases.

Revocation scope, certificates of a stolen authority key, receivers' distribution
checks, and what evidence of witnessing proves (and by whose word).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import tests.support.trustkit as tk
from keys.decide import Outcome
from keys.errors import RevocationError
from keys.evidence import witnessed_at
from keys.roster import RosterChain, fingerprint_of
from keys.trust import TrustState
from protocol.canonical import encode_canonical
from protocol.checkpoint import Checkpoint, SignedCheckpoint, cosign, sign_checkpoint
from protocol.errors import ProtocolError, UsageError
from protocol.evidence import WitnessEvidence
from protocol.identifiers import EU_INSTITUTIONS
from protocol.merkle import MerkleTree, leaf_hash
from protocol.signed import SignedDocument


def _state(roster: bytes | None = None, *certificates: tuple[bytes, int | None]) -> TrustState:
    root = roster or tk.roster()
    state = TrustState(RosterChain.from_pinned_root(root, fingerprint_of(root)))
    for data, seen in certificates or ((tk.certificate(), None),):
        state.add_certificate(data, seen)
    return state


def _decide(state: TrustState, key_name: str, node: str, created: int) -> Outcome:
    return state.decide(
        key=tk.pub(key_name),
        node=node,
        created_ms=created,
        now_ms=tk.T0 + 30 * tk.DAY,
        witnessed_ms=None,
    ).outcome


# -- revocation scope ------------------------------------------------------------------

FR_CERT = tk.certificate(node="FR@TR", key_name="node FR@TR")


def _root_revocation(node: str, key_name: str) -> bytes:
    """A revocation signed by two of the three administrators (the threshold)."""
    document = SignedDocument.from_bytes(
        tk.revocation(node=node, key_name=key_name, signer="admin alice")
    )
    return document.signed_by(tk.seed("admin bob")).to_bytes()


@dataclass(frozen=True)
class ScopeCase:
    revocation: Callable[[], bytes]
    added: bool  # the revocation is accepted into the trust state at all
    fr_outcome: Outcome  # what then happens to FR@TR's key after the compromise


SCOPE_CASES: dict[str, ScopeCase] = {
    "FR's authority revokes FR's key → counts": ScopeCase(
        lambda: tk.revocation(node="FR@TR", key_name="node FR@TR"), True, Outcome.REJECT
    ),
    "DE's authority revokes FR's key, naming a DE node → ignored for FR": ScopeCase(
        lambda: tk.revocation(node="DE@TR", key_name="node FR@TR"), True, Outcome.ACCEPT
    ),
    "DE's authority revokes FR's key, naming FR's node → refused": ScopeCase(
        lambda: tk.revocation(node="FR@TR", key_name="node FR@TR", signer="authority DE"),
        False,
        Outcome.ACCEPT,
    ),
    "the administrators' threshold revokes FR's key → counts": ScopeCase(
        lambda: _root_revocation("DE@TR", "node FR@TR"), True, Outcome.REJECT
    ),
    "one administrator alone revokes FR's key → refused": ScopeCase(
        lambda: tk.revocation(node="FR@TR", key_name="node FR@TR", signer="admin alice"),
        False,
        Outcome.ACCEPT,
    ),
}


@pytest.mark.parametrize("name", list(SCOPE_CASES))
def test_revocation_scope(name: str) -> None:
    case = SCOPE_CASES[name]
    state = _state(None, (FR_CERT, None))
    if case.added:
        state.add_revocation(case.revocation())
    else:
        with pytest.raises(RevocationError):
            state.add_revocation(case.revocation())
    # Dated after the compromise time of every revocation above (T0 + 10 days).
    assert _decide(state, "node FR@TR", "FR@TR", tk.T0 + 11 * tk.DAY) is case.fr_outcome


# -- certificates of a stolen authority key ---------------------------------------------

STOLEN_AT = tk.T0 + 10 * tk.DAY


def _roster_declaring_de_authority_stolen() -> bytes:
    payload = tk.roster_payload(version=2)
    for entry in payload["authorities"]:
        if entry["party"] == "DE":
            entry["valid_until_ms"] = STOLEN_AT
            entry["compromised_at_ms"] = STOLEN_AT
    document = SignedDocument.create("roster", payload)
    for name in ("alice", "bob"):
        document = document.signed_by(tk.seed("admin " + name))
    return document.to_bytes()


@dataclass(frozen=True)
class StolenCase:
    seen_ms: int | None  # when this holder first had the certificate
    outcome: Outcome


STOLEN_CASES: dict[str, StolenCase] = {
    "held before the theft → still honoured": StolenCase(STOLEN_AT - tk.DAY, Outcome.ACCEPT),
    # The thief's case: issued "before" the theft (the signer writes the date), but
    # nobody had it before, so nothing shows it existed before.
    "first held after the theft, back-dated → not honoured": StolenCase(
        STOLEN_AT + tk.DAY, Outcome.RETRY
    ),
    "first held exactly at the theft → not honoured": StolenCase(STOLEN_AT, Outcome.RETRY),
    "when it was first held is unknown → not honoured": StolenCase(None, Outcome.RETRY),
}


@pytest.mark.parametrize("name", list(STOLEN_CASES))
def test_certificates_of_a_stolen_authority_key(name: str) -> None:
    case = STOLEN_CASES[name]
    thief = tk.certificate(key_name="thief's DE key", issued_ms=STOLEN_AT - 2 * tk.DAY)
    state = _state(None, (thief, case.seen_ms))
    created = tk.T0 + 20 * tk.DAY
    # Before anyone says the authority key was stolen, its certificates count.
    assert _decide(state, "thief's DE key", "DE@TR", created) is Outcome.ACCEPT
    state.chain.update(_roster_declaring_de_authority_stolen(), tk.T0 + 12 * tk.DAY)
    assert _decide(state, "thief's DE key", "DE@TR", created) is case.outcome


def test_a_stolen_authority_declaration_cannot_be_taken_back() -> None:
    state = _state()
    state.chain.update(_roster_declaring_de_authority_stolen(), tk.T0 + 12 * tk.DAY)
    state.chain.update(tk.roster(version=3), tk.T0 + 13 * tk.DAY)  # lists the key again
    assert state.chain.authority_compromised_at("DE", tk.pub("authority DE")) == STOLEN_AT


# -- distribution, as receivers check it ------------------------------------------------


@dataclass(frozen=True)
class DistributionCase:
    author: str
    level: str
    recipients: tuple[str, ...]
    refused: str | None  # words of the problem, or None if the recipients fit


DISTRIBUTION_CASES: dict[str, DistributionCase] = {
    "local: the host country's nodes and the EU bodies → fits": DistributionCase(
        "DE@TR", "local", ("COM@EU", "DE@TR", "FR@TR"), None
    ),
    "local: Europol's and the EUAA's nodes, at headquarters or posted → fits": DistributionCase(
        "DE@TR", "local", ("DE@TR", "EUAA@EU", "EUAA@MA", "EUROPOL@EU", "EUROPOL@TR"), None
    ),
    "local: a node posted elsewhere → refused": DistributionCase(
        "DE@TR", "local", ("DE@TR", "NL@MA"), "does not reach NL@MA"
    ),
    "presidency: the Presidency (IE in 2026-H2) and the Commission → fits": DistributionCase(
        "DE@TR", "presidency", ("COM@EU", "DE@TR", "IE@TR"), None
    ),
    "presidency: another Member State → refused": DistributionCase(
        "DE@TR", "presidency", ("COM@EU", "DE@TR", "FR@TR"), "Presidency"
    ),
    "presidency: an EU body other than the Commission → refused": DistributionCase(
        "DE@TR", "presidency", ("COM@EU", "DE@TR", "EUAA@EU"), "not EUAA@EU"
    ),
    "states: Member States' nodes → fits": DistributionCase(
        "DE@TR", "states", ("DE@TR", "FR@TR", "NL@MA"), None
    ),
    "states: an EU body's node → refused": DistributionCase(
        "DE@TR", "states", ("COM@EU", "DE@TR", "FR@TR"), "does not reach COM@EU"
    ),
    "states: a Europol node posted to the host country → refused": DistributionCase(
        "DE@TR", "states", ("DE@TR", "EUROPOL@TR", "FR@TR"), "does not reach EUROPOL@TR"
    ),
    "network: every roster node → fits": DistributionCase(
        "DE@TR", "network", tuple(tk.NODES), None
    ),
    "network: a node outside the roster → refused": DistributionCase(
        "DE@TR", "network", ("DE@TR", "ES@TR"), "not in the roster"
    ),
}


@pytest.mark.parametrize("name", list(DISTRIBUTION_CASES))
def test_receivers_check_recipients_fit_the_distribution(name: str) -> None:
    from keys.distribution import distribution_problem

    case = DISTRIBUTION_CASES[name]
    roster = _state().roster
    problem = distribution_problem(roster, case.author, case.level, tk.T0 + tk.DAY, case.recipients)
    if case.refused is None:
        assert problem is None
    else:
        assert problem is not None and case.refused in problem


def test_authors_reach_every_eu_body_with_local_and_none_with_states() -> None:
    from keys.distribution import recipients_for

    roster = _state().roster
    at = tk.T0 + tk.DAY
    local = recipients_for(roster, "DE@TR", "local", at)
    assert local == [
        "COM@EU", "DE@TR", "EUAA@EU", "EUAA@MA", "EUROPOL@EU", "EUROPOL@TR", "FR@TR", "IE@TR",
        "IT@TR",
    ]  # fmt: skip
    states = recipients_for(roster, "DE@TR", "states", at, ("FR", "NL"))
    assert states == ["DE@TR", "FR@TR", "NL@MA"]


@pytest.mark.parametrize("named", [("EUROPOL",), ("FR", "EUAA"), ("COM",)])
def test_states_distribution_names_member_states_only(named: tuple[str, ...]) -> None:
    from keys.distribution import recipients_for

    with pytest.raises(UsageError, match="names Member States only") as info:
        recipients_for(_state().roster, "DE@TR", "states", tk.T0 + tk.DAY, named)
    assert "'local' or 'network'" in info.value.advice


@pytest.mark.parametrize(
    ("node", "role"),
    [("EUROPOL@EU", "europol"), ("EUAA@MA", "asylum_agency"), ("EBCG@EU", "agency")],
)
def test_a_roster_gives_each_eu_bodys_nodes_their_role(node: str, role: str) -> None:
    from keys.documents import INSTITUTION_ROLES, Roster

    assert set(INSTITUTION_ROLES) == EU_INSTITUTIONS
    payload = tk.roster_payload()
    payload["authorities"].append(
        {"party": "EBCG", "key": tk.pub("authority EBCG"), "valid_from_ms": tk.T0}
    )
    payload["nodes"].append(
        {"node": "EBCG@EU", "endpoint": "http://127.0.0.1:7500", "role": "agency"}
    )
    entry = next(n for n in payload["nodes"] if n["node"] == node)
    assert entry["role"] == role
    entry["role"] = "member_state"
    party = node.partition("@")[0]
    with pytest.raises(ProtocolError, match=f"a {party} node has role {role}"):
        Roster.from_document(SignedDocument.create("roster", payload))


# -- evidence of witnessing ---------------------------------------------------------------

ORIGIN = "ilo-node/test.ilo/"
LEAVES = [bytes([i]) * 32 for i in range(5)]
ENVELOPE = LEAVES[3]  # the envelope id the evidence is about


def _node_state() -> TrustState:
    state = _state()
    for node in ("FR@TR", "IT@TR", "COM@EU"):
        state.add_certificate(tk.certificate(node=node, key_name="node " + node), None)
    return state


def _note(log: str, time_ms: int, cosigners: tuple[tuple[str, int], ...]) -> bytes:
    tree = MerkleTree(leaf_hash(leaf) for leaf in LEAVES)
    note = sign_checkpoint(
        Checkpoint(ORIGIN + log, tree.size, tree.root(), time_ms), log, tk.seed("node " + log)
    )
    for witness, time_s in cosigners:
        note = cosign(note, witness, tk.seed("node " + witness), time_s)
    return note


def _evidence(note: bytes, index: int = 3) -> WitnessEvidence:
    tree = MerkleTree(leaf_hash(leaf) for leaf in LEAVES)
    proof = tuple(tree.inclusion_proof(index))
    return WitnessEvidence(ENVELOPE, index, proof, SignedCheckpoint.from_bytes(note))


DAY_S = tk.DAY // 1000
T0_S = tk.T0 // 1000


@dataclass(frozen=True)
class EvidenceCase:
    log: str
    log_time: int
    cosigners: tuple[tuple[str, int], ...]
    proves: int | None  # the time (ms) the evidence proves for an envelope by DE@TR


EVIDENCE_CASES: dict[str, EvidenceCase] = {
    "another node's log, not cosigned → its own time": EvidenceCase(
        "FR@TR", tk.T0 + tk.DAY, (), tk.T0 + tk.DAY
    ),
    "another node's log, cosigned earlier by a third → the earliest": EvidenceCase(
        "FR@TR", tk.T0 + 2 * tk.DAY, (("IT@TR", T0_S + DAY_S),), tk.T0 + tk.DAY
    ),
    # A thief with the author's key controls the author's word on time.
    "the author's own log, not cosigned → proves nothing": EvidenceCase(
        "DE@TR", tk.T0 + tk.DAY, (), None
    ),
    "the author's own log, cosigned by another → the cosigner's time": EvidenceCase(
        "DE@TR", tk.T0, (("COM@EU", T0_S + 3 * DAY_S),), tk.T0 + 3 * tk.DAY
    ),
    "cosigned by the author itself → that cosignature does not count": EvidenceCase(
        "FR@TR", tk.T0 + 5 * tk.DAY, (("DE@TR", T0_S),), tk.T0 + 5 * tk.DAY
    ),
}


@pytest.mark.parametrize("name", list(EVIDENCE_CASES))
def test_what_evidence_of_witnessing_proves(name: str) -> None:
    case = EVIDENCE_CASES[name]
    evidence = _evidence(_note(case.log, case.log_time, case.cosigners))
    now = tk.T0 + 30 * tk.DAY
    assert witnessed_at(_node_state(), evidence, "DE@TR", now) == case.proves
    # It survives the wire unchanged.
    assert WitnessEvidence.from_bytes(evidence.to_bytes()) == evidence


def test_evidence_whose_log_signature_is_not_the_logs_proves_nothing() -> None:
    tree = MerkleTree(leaf_hash(leaf) for leaf in LEAVES)
    forged = sign_checkpoint(
        Checkpoint(ORIGIN + "FR@TR", tree.size, tree.root(), tk.T0), "FR@TR", tk.seed("intruder")
    )
    assert witnessed_at(_node_state(), _evidence(forged), "DE@TR", tk.T0 + tk.DAY) is None


def _raw_evidence(note: bytes, envelope: bytes, index: int) -> bytes:
    tree = MerkleTree(leaf_hash(leaf) for leaf in LEAVES)
    return encode_canonical([1, envelope, index, tree.inclusion_proof(index), note])


BAD_EVIDENCE: dict[str, Callable[[bytes], Any]] = {
    "a proof of another leaf": lambda note: _raw_evidence(note, ENVELOPE, 2),
    "a proof that does not name its envelope": lambda note: _raw_evidence(note, LEAVES[0], 3),
    "an index past the tree": lambda note: _evidence(note).to_bytes().replace(b"\x03", b"\x09", 1),
    "not a list": lambda note: b"\xc0",
    "a truncated note": lambda note: _evidence(note).to_bytes()[:-10],
}


@pytest.mark.parametrize("name", list(BAD_EVIDENCE))
def test_malformed_or_false_evidence_is_refused(name: str) -> None:
    data = BAD_EVIDENCE[name](_note("FR@TR", tk.T0, ()))
    with pytest.raises(ProtocolError):
        WitnessEvidence.from_bytes(data)
