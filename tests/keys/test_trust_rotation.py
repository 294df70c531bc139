"""Roster rotation and key validity as tables of named cases (in the spirit of TUF's tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from keys.errors import (
    CertificateError,
    RevocationError,
    RollbackError,
    RootOfTrustError,
    RosterError,
    RosterExpiredError,
    ThresholdError,
)
from keys.roster import RosterChain, fingerprint_of
from keys.trust import Outcome, TrustState
from tests.support import trustkit as tk

# ---------------------------------------------------------------------------------
# Roster updates


@dataclass(frozen=True)
class RotationCase:
    """Version 1 has administrators alice, bob, carol (2-of-3) unless said otherwise."""

    v2_admins: tuple[str, ...]
    v2_threshold: int
    v2_signers: tuple[str, ...]
    error: type[Exception] | None
    v1_signers: tuple[str, ...] = ("alice", "bob")
    v1_admins: tuple[str, ...] = ("alice", "bob", "carol")
    v1_threshold: int = 2
    extra: dict[str, Any] = field(default_factory=dict)


ROTATION_CASES: dict[str, RotationCase] = {
    "2-of-3, same admins, signed by two → accepted": RotationCase(
        ("alice", "bob", "carol"), 2, ("alice", "bob"), None
    ),
    "2-of-3, signed by one → rejected": RotationCase(
        ("alice", "bob", "carol"), 2, ("alice",), ThresholdError
    ),
    "2-of-3, one key rotated (carol→dave), signed by alice+dave → rejected (old needs 2)": (
        RotationCase(("alice", "bob", "dave"), 2, ("alice", "dave"), ThresholdError)
    ),
    "2-of-3, one key rotated (carol→dave), signed by alice+bob → accepted": RotationCase(
        ("alice", "bob", "dave"), 2, ("alice", "bob"), None
    ),
    "2-of-3, all keys rotated, signed by two new keys only → rejected": RotationCase(
        ("dave", "erin", "frank"), 2, ("dave", "erin"), ThresholdError
    ),
    "2-of-3, all keys rotated, signed by two old keys only → rejected (new needs 2)": (
        RotationCase(("dave", "erin", "frank"), 2, ("alice", "bob"), ThresholdError)
    ),
    "2-of-3, all keys rotated, signed by two old and two new → accepted": RotationCase(
        ("dave", "erin", "frank"), 2, ("alice", "bob", "dave", "erin"), None
    ),
    "threshold raised to 3-of-3, signed by two → rejected": RotationCase(
        ("alice", "bob", "carol"), 3, ("alice", "bob"), ThresholdError
    ),
    "threshold raised to 3-of-3, signed by three → accepted": RotationCase(
        ("alice", "bob", "carol"), 3, ("alice", "bob", "carol"), None
    ),
    "threshold lowered to 1-of-3, signed by two old → accepted": RotationCase(
        ("alice", "bob", "carol"), 1, ("alice", "bob"), None
    ),
    "lost admin key removed (3 → 2 admins, 2-of-2), signed by the two left → accepted": (
        RotationCase(("alice", "bob"), 2, ("alice", "bob"), None)
    ),
    "1-of-1 root, new admin added, signed by the new admin only → rejected": RotationCase(
        ("alice", "bob"), 1, ("bob",), ThresholdError, ("alice",), ("alice",), 1
    ),
    "signed by a non-admin key → not counted": RotationCase(
        ("alice", "bob", "carol"), 2, ("alice", "mallory"), ThresholdError
    ),
}


def _v1(case: RotationCase) -> bytes:
    return tk.roster(signers=case.v1_signers, admins=case.v1_admins, threshold=case.v1_threshold)


@pytest.mark.parametrize("name", list(ROTATION_CASES))
def test_roster_rotation(name: str) -> None:
    case = ROTATION_CASES[name]
    root = _v1(case)
    chain = RosterChain.from_pinned_root(root, fingerprint_of(root))
    v2 = tk.roster(
        version=2, admins=case.v2_admins, threshold=case.v2_threshold, signers=case.v2_signers
    )
    if case.error is None:
        assert chain.update(v2, now_ms=tk.T0).version == 2
        assert chain.current.version == 2
    else:
        with pytest.raises(case.error):
            chain.update(v2, now_ms=tk.T0)
        assert chain.current.version == 1  # nothing applied


def test_same_key_signing_twice_counts_once() -> None:
    from protocol.signed import SignedDocument

    root = tk.roster()
    chain = RosterChain.from_pinned_root(root, fingerprint_of(root))
    document = SignedDocument.create("roster", tk.roster_payload(version=2))
    once = document.signed_by(tk.seed("admin alice"))
    # Duplicate the same signature by hand: the wire form refuses duplicates...
    with pytest.raises(Exception, match="each key once"):
        SignedDocument(once.doc_type, once.body, once.signatures * 2)
    # ...and signing again with the same key replaces, it does not add.
    twice = once.signed_by(tk.seed("admin alice"))
    assert len(twice.signatures) == 1
    with pytest.raises(ThresholdError):
        chain.update(twice.to_bytes(), now_ms=tk.T0)


ROSTER_ORDER_CASES: dict[str, tuple[list[dict[str, Any]], type[Exception]]] = {
    "rollback to version N-1 → rejected": ([{"version": 2}, {"version": 1}], RollbackError),
    "an older version replayed after the current → rejected": (
        [{"version": 2}, {"version": 3}, {"version": 2}],
        RollbackError,
    ),
    "skipping a version (1 → 3) → rejected": ([{"version": 3}], RollbackError),
    "a different document at the current version (fork) → rejected": (
        [{"version": 2}, {"version": 2, "expires_ms": tk.T0 + 400 * tk.DAY}],
        RollbackError,
    ),
    "another network's roster → rejected": ([{"version": 2, "network": "other.ilo"}], RosterError),
}


def test_expired_intermediate_version_does_not_block_catching_up() -> None:
    root = tk.roster()
    chain = RosterChain.from_pinned_root(root, fingerprint_of(root))
    expired = tk.roster(version=2, expires_ms=tk.T0 - tk.DAY, issued_ms=tk.T0 - 2 * tk.DAY)
    applied = chain.update_all([expired, tk.roster(version=3)], now_ms=tk.T0)
    assert [r.version for r in applied] == [2, 3]
    assert chain.status(tk.T0).state == "ok"


def test_a_version_already_expired_when_it_arrives_is_not_applied() -> None:
    # Applied, one relayed old version would hold every node's new envelopes.
    root = tk.roster()
    chain = RosterChain.from_pinned_root(root, fingerprint_of(root))
    expired = tk.roster(version=2, expires_ms=tk.T0 - tk.DAY, issued_ms=tk.T0 - 2 * tk.DAY)
    with pytest.raises(RosterExpiredError, match=r"expired .* before it arrived"):
        chain.update(expired, now_ms=tk.T0)
    with pytest.raises(RosterExpiredError):
        chain.update_all([expired], now_ms=tk.T0)
    assert chain.current.version == 1 and chain.status(tk.T0).state == "ok"
    # Stored history is replayed without a clock: what was accepted stays accepted.
    assert RosterChain.from_history([root, expired]).current.version == 2


def test_reapplying_the_current_version_is_a_no_op() -> None:
    root = tk.roster()
    chain = RosterChain.from_pinned_root(root, fingerprint_of(root))
    v2 = tk.roster(version=2)
    chain.update(v2, now_ms=tk.T0)
    chain.update(v2, now_ms=tk.T0)
    assert [r.version for r in chain.versions] == [1, 2]


@pytest.mark.parametrize("name", list(ROSTER_ORDER_CASES))
def test_roster_order(name: str) -> None:
    steps, error = ROSTER_ORDER_CASES[name]
    root = tk.roster()
    chain = RosterChain.from_pinned_root(root, fingerprint_of(root))
    *good, bad = steps
    for step in good:
        chain.update(tk.roster(**step), now_ms=tk.T0)
    before = chain.current
    with pytest.raises(error):
        chain.update(tk.roster(**bad), now_ms=tk.T0)
    assert chain.current is before


def test_root_pinned_by_fingerprint_only() -> None:
    root = tk.roster()
    with pytest.raises(RootOfTrustError):
        RosterChain.from_pinned_root(root, "00" * 32)
    # Fingerprints may be typed with spaces, colons and either case.
    spaced = fingerprint_of(root).upper().replace(" ", ":")
    assert RosterChain.from_pinned_root(root, spaced).current.version == 1


def test_root_must_meet_its_own_threshold() -> None:
    root = tk.roster(signers=("alice",))
    with pytest.raises(ThresholdError):
        RosterChain.from_pinned_root(root, fingerprint_of(root))


def test_malformed_roster_is_a_roster_error() -> None:
    with pytest.raises(RosterError):
        RosterChain.from_pinned_root(b"\x93garbage", fingerprint_of(b"\x93garbage"))


def test_expiry_status_warns_ahead_and_history_replays() -> None:
    root = tk.roster(expires_ms=tk.T0 + 20 * tk.DAY)
    chain = RosterChain.from_pinned_root(root, fingerprint_of(root))
    assert chain.status(tk.T0).state == "expiring"
    assert "expires in 20 day" in chain.status(tk.T0).message
    assert chain.status(tk.T0 + 21 * tk.DAY).state == "expired"
    assert chain.status(tk.T0 - 30 * tk.DAY).state == "ok"
    v2 = tk.roster(version=2)
    chain.update(v2, now_ms=tk.T0)
    # A stored chain is replayed without the clock: history stays verifiable.
    replay = RosterChain.from_history([root, v2])
    assert replay.current.version == 2


# ---------------------------------------------------------------------------------
# Key validity for envelopes


def _state(**roster_kw: Any) -> TrustState:
    root = tk.roster(**roster_kw)
    state = TrustState(RosterChain.from_pinned_root(root, fingerprint_of(root)))
    state.add_certificate(tk.certificate())
    return state


@dataclass(frozen=True)
class KeyCase:
    created_ms: int
    outcome: Outcome
    revoked: bool = False
    witnessed_ms: int | None = None
    now_ms: int = tk.T0 + 30 * tk.DAY
    node: str = "DE@TR"
    key_name: str = "node DE@TR"
    role: str | None = None


# Revocation in these cases: compromised at T0+10d, issued (arrived) at T0+12d.
KEY_CASES: dict[str, KeyCase] = {
    "certified, no revocation → accepted": KeyCase(tk.T0 + 5 * tk.DAY, Outcome.ACCEPT),
    "before the certificate's window → rejected": KeyCase(tk.T0 - 2 * tk.DAY, Outcome.REJECT),
    "after the certificate expired → rejected": KeyCase(
        tk.T0 + 91 * tk.DAY, Outcome.REJECT, now_ms=tk.T0 + 91 * tk.DAY
    ),
    "unknown key → held for retry": KeyCase(tk.T0, Outcome.RETRY, key_name="node other"),
    "key certified for another node → rejected (an impostor)": KeyCase(
        tk.T0, Outcome.REJECT, node="FR@TR"
    ),
    "node not in the roster → rejected": KeyCase(tk.T0, Outcome.REJECT, node="ES@TR"),
    "an officer's key where a node key is needed → rejected": KeyCase(
        tk.T0 + 5 * tk.DAY, Outcome.REJECT, key_name="officer anna", role="node"
    ),
    "an officer's key for what any certified key may sign → accepted": KeyCase(
        tk.T0 + 5 * tk.DAY, Outcome.ACCEPT, key_name="officer anna"
    ),
    "a node key where a node key is needed → accepted": KeyCase(
        tk.T0 + 5 * tk.DAY, Outcome.ACCEPT, role="node"
    ),
    "dated far in the future → held for retry": KeyCase(
        tk.T0 + 40 * tk.DAY, Outcome.RETRY, now_ms=tk.T0 + 30 * tk.DAY
    ),
    "envelope signed after compromise time → rejected": KeyCase(
        tk.T0 + 11 * tk.DAY, Outcome.REJECT, revoked=True, witnessed_ms=tk.T0 + 11 * tk.DAY
    ),
    "envelope signed exactly at compromise time → rejected": KeyCase(
        tk.T0 + 10 * tk.DAY, Outcome.REJECT, revoked=True, witnessed_ms=tk.T0 + 10 * tk.DAY
    ),
    "dated before compromise, witnessed only after the revocation → held for evidence": KeyCase(
        tk.T0 + 5 * tk.DAY, Outcome.RETRY, revoked=True, witnessed_ms=tk.T0 + 13 * tk.DAY
    ),
    "dated before compromise, never witnessed → held for evidence": KeyCase(
        tk.T0 + 5 * tk.DAY, Outcome.RETRY, revoked=True, witnessed_ms=None
    ),
    "witnessed before the compromise → kept": KeyCase(
        tk.T0 + 5 * tk.DAY, Outcome.ACCEPT, revoked=True, witnessed_ms=tk.T0 + 6 * tk.DAY
    ),
    # The thief's case: dated before the theft, but first witnessed after it.
    "back-dated: witnessed between compromise and revocation → held for evidence": KeyCase(
        tk.T0 + 5 * tk.DAY, Outcome.RETRY, revoked=True, witnessed_ms=tk.T0 + 11 * tk.DAY
    ),
    "witnessed exactly at the compromise time → held for evidence": KeyCase(
        tk.T0 + 5 * tk.DAY, Outcome.RETRY, revoked=True, witnessed_ms=tk.T0 + 10 * tk.DAY
    ),
}


@pytest.mark.parametrize("name", list(KEY_CASES))
def test_key_validity(name: str) -> None:
    case = KEY_CASES[name]
    state = _state()
    state.add_certificate(tk.certificate(key_name="officer anna", role="officer", officer="anna"))
    if case.revoked:
        state.add_revocation(tk.revocation())
    decision = state.decide(
        key=tk.pub(case.key_name),
        node=case.node,
        created_ms=case.created_ms,
        now_ms=case.now_ms,
        witnessed_ms=case.witnessed_ms,
        role=case.role,
    )
    assert decision.outcome is case.outcome, decision.reason
    assert decision.reason


def test_rotation_overlap_old_and_new_keys_both_valid() -> None:
    state = _state()
    state.add_certificate(
        tk.certificate(
            key_name="node DE@TR v2",
            valid_from_ms=tk.T0 + 60 * tk.DAY,
            valid_until_ms=tk.T0 + 180 * tk.DAY,
            issued_ms=tk.T0 + 59 * tk.DAY,
        )
    )
    overlap = tk.T0 + 70 * tk.DAY
    for key in ("node DE@TR", "node DE@TR v2"):
        decision = state.decide(
            key=tk.pub(key), node="DE@TR", created_ms=overlap, now_ms=overlap, witnessed_ms=None
        )
        assert decision.outcome is Outcome.ACCEPT
    after = tk.T0 + 100 * tk.DAY
    assert not state.decide(
        key=tk.pub("node DE@TR"), node="DE@TR", created_ms=after, now_ms=after, witnessed_ms=None
    )
    assert state.decide(
        key=tk.pub("node DE@TR v2"),
        node="DE@TR",
        created_ms=after,
        now_ms=after,
        witnessed_ms=None,
    )


def test_expired_roster_holds_new_envelopes_but_history_verifies() -> None:
    state = _state(expires_ms=tk.T0 + 20 * tk.DAY)
    old = state.decide(
        key=tk.pub("node DE@TR"),
        node="DE@TR",
        created_ms=tk.T0 + tk.DAY,
        now_ms=tk.T0 + 40 * tk.DAY,
        witnessed_ms=None,
    )
    new = state.decide(
        key=tk.pub("node DE@TR"),
        node="DE@TR",
        created_ms=tk.T0 + 30 * tk.DAY,
        now_ms=tk.T0 + 40 * tk.DAY,
        witnessed_ms=None,
    )
    assert old.outcome is Outcome.ACCEPT
    assert new.outcome is Outcome.RETRY


CERT_CASES: dict[str, tuple[dict[str, Any], type[Exception]]] = {
    "certificate signed by another party's authority → rejected": (
        {"signer": "authority FR"},
        CertificateError,
    ),
    "certificate signed by a node key → rejected": ({"signer": "node DE@TR"}, CertificateError),
    "certificate for a node not in the roster → rejected": ({"node": "ES@TR"}, CertificateError),
}


@pytest.mark.parametrize("name", list(CERT_CASES))
def test_certificate_rules(name: str) -> None:
    kwargs, error = CERT_CASES[name]
    state = _state()
    with pytest.raises(error):
        state.add_certificate(tk.certificate(**kwargs))


def test_revocation_by_wrong_authority_refused() -> None:
    state = _state()
    with pytest.raises(RevocationError):
        state.add_revocation(tk.revocation(signer="authority FR"))
    with pytest.raises(RevocationError):
        state.add_revocation(b"not a revocation")


def test_authority_key_rotation_in_roster() -> None:
    """A Member State rotates its authority key with an overlap; old certificates stay valid."""
    payload = tk.roster_payload(version=2)
    payload["authorities"] = [
        a if a["party"] != "DE" else {**a, "valid_until_ms": tk.T0 + 50 * tk.DAY}
        for a in payload["authorities"]
    ] + [{"party": "DE", "key": tk.pub("authority DE v2"), "valid_from_ms": tk.T0 + 40 * tk.DAY}]
    from protocol.signed import SignedDocument

    document = SignedDocument.create("roster", payload)
    for admin in ("alice", "bob"):
        document = document.signed_by(tk.seed("admin " + admin))
    state = _state()
    state.chain.update(document.to_bytes(), now_ms=tk.T0)
    # Issued by the old key before its end: still fine.
    state.add_certificate(tk.certificate(key_name="k1", issued_ms=tk.T0 + 45 * tk.DAY))
    # Issued by the old key after its end: refused.
    with pytest.raises(CertificateError):
        state.add_certificate(tk.certificate(key_name="k2", issued_ms=tk.T0 + 55 * tk.DAY))
    # The new key works from its start.
    state.add_certificate(
        tk.certificate(key_name="k3", issued_ms=tk.T0 + 55 * tk.DAY, signer="authority DE v2")
    )


def test_authority_key_dropped_from_the_roster_ends_when_dropped() -> None:
    """Leaving a key out of a later roster ends it then: no new certificates with it."""
    from protocol.signed import SignedDocument

    payload = tk.roster_payload(version=2, issued_ms=tk.T0 + 30 * tk.DAY)
    payload["authorities"] = [a for a in payload["authorities"] if a["party"] != "DE"] + [
        {"party": "DE", "key": tk.pub("authority DE v2"), "valid_from_ms": tk.T0}
    ]
    document = SignedDocument.create("roster", payload)
    for admin in ("alice", "bob"):
        document = document.signed_by(tk.seed("admin " + admin))
    state = _state()
    state.chain.update(document.to_bytes(), now_ms=tk.T0 + 30 * tk.DAY)
    # Certified by the dropped key while it was listed: still valid.
    state.add_certificate(tk.certificate(key_name="before", issued_ms=tk.T0 + 10 * tk.DAY))
    # Signed with the dropped key after the roster that dropped it: refused.
    with pytest.raises(CertificateError):
        state.add_certificate(tk.certificate(key_name="thief", issued_ms=tk.T0 + 31 * tk.DAY))
