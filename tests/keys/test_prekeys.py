"""Encryption prekeys: schedule, announcement, selection, deletion and forward secrecy."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import nacl.bindings as sodium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.documents import PrekeyAnnouncement
from keys.errors import PrekeyError
from keys.prekeys import (
    DAY_MS,
    WEEK_MS,
    PrekeyRing,
    PrekeySchedule,
    announce_prekey,
    select_prekey,
)
from keys.roster import RosterChain, fingerprint_of
from keys.trust import TrustState
from protocol.crypto import ed25519_public, x25519_public
from protocol.envelope import Envelope, seal
from protocol.errors import DecryptionError, NotARecipientError, UsageError
from protocol.examples import example
from protocol.signed import SignedDocument
from tests.support import trustkit as tk
from tests.support.helpers import derive

MINUTE_MS = 60_000

# ---------------------------------------------------------------------------------
# Schedule arithmetic

#: Small numbers so the boundaries read easily: epochs of 100 ms from t=1000,
#: next prekey due 10 ms ahead, kept 50 ms after its epoch.
SMALL = PrekeySchedule(epoch_ms=100, grace_ms=50, lead_ms=10, origin_ms=1000)
NO_GRACE = PrekeySchedule(epoch_ms=100, grace_ms=0, lead_ms=10, origin_ms=1000)


@dataclass(frozen=True)
class ScheduleCase:
    call: Callable[[], object]
    expected: object


SCHEDULE_CASES: dict[str, ScheduleCase] = {
    "origin is the first ms of epoch 0": ScheduleCase(lambda: SMALL.epoch_at(1000), 0),
    "last ms of epoch 0": ScheduleCase(lambda: SMALL.epoch_at(1099), 0),
    "first ms of epoch 1": ScheduleCase(lambda: SMALL.epoch_at(1100), 1),
    "window of epoch 0 is [1000, 1100)": ScheduleCase(lambda: SMALL.window(0), (1000, 1100)),
    "window of epoch 3 is [1300, 1400)": ScheduleCase(lambda: SMALL.window(3), (1300, 1400)),
    "default: Unix epoch starts epoch 0": ScheduleCase(lambda: PrekeySchedule().epoch_at(0), 0),
    "default: one week later is epoch 1": ScheduleCase(
        lambda: PrekeySchedule().epoch_at(WEEK_MS), 1
    ),
    "default: epochs are weeks": ScheduleCase(
        lambda: PrekeySchedule().window(2), (2 * WEEK_MS, 3 * WEEK_MS)
    ),
    "hold: at an epoch's start, only it": ScheduleCase(lambda: SMALL.epochs_to_hold(1000), [0]),
    "hold: 1 ms before the lead time, only the current": ScheduleCase(
        lambda: SMALL.epochs_to_hold(1089), [0]
    ),
    "hold: exactly lead_ms before the next, both": ScheduleCase(
        lambda: SMALL.epochs_to_hold(1090), [0, 1]
    ),
    "hold: last ms of the epoch, both": ScheduleCase(lambda: SMALL.epochs_to_hold(1099), [0, 1]),
    "hold: after rollover, only the new current": ScheduleCase(
        lambda: SMALL.epochs_to_hold(1100), [1]
    ),
    "hold: default, one day ahead of the next week": ScheduleCase(
        lambda: PrekeySchedule().epochs_to_hold(WEEK_MS - DAY_MS), [0, 1]
    ),
    "hold: default, one day and 1 ms ahead": ScheduleCase(
        lambda: PrekeySchedule().epochs_to_hold(WEEK_MS - DAY_MS - 1), [0]
    ),
    "delete: 1 ms before end + grace, kept": ScheduleCase(lambda: SMALL.deletable([0], 1149), []),
    "delete: exactly at end + grace, deleted": ScheduleCase(
        lambda: SMALL.deletable([0], 1150), [0]
    ),
    "delete: during the grace, kept": ScheduleCase(lambda: SMALL.deletable([0], 1100), []),
    "delete: zero grace, deleted at the epoch's end": ScheduleCase(
        lambda: NO_GRACE.deletable([0], 1100), [0]
    ),
    "delete: zero grace, kept on the epoch's last ms": ScheduleCase(
        lambda: NO_GRACE.deletable([0], 1099), []
    ),
    "delete: sorted and once each, current and next kept": ScheduleCase(
        lambda: SMALL.deletable([3, 1, 2, 0, 1, 0], 1250), [0, 1]
    ),
    "delete: nothing held": ScheduleCase(lambda: SMALL.deletable([], 10**9), []),
    "delete: announced for a later window (an older schedule), kept until its grace": (
        ScheduleCase(lambda: SMALL.deletable([0], 1150, {0: 1300}), [])
    ),
    "delete: announced for a later window, deleted at that window's end + grace": (
        ScheduleCase(lambda: SMALL.deletable([0], 1350, {0: 1300}), [0])
    ),
    "delete: announced for an earlier window, the epoch's own end counts": ScheduleCase(
        lambda: SMALL.deletable([0], 1149, {0: 1050}), []
    ),
    "next change: the next epoch's lead point": ScheduleCase(
        lambda: SMALL.next_change([0], 1000), 1090
    ),
    "next change: past the lead point, the epoch after next": ScheduleCase(
        lambda: SMALL.next_change([1], 1095), 1190
    ),
    "next change: a held prekey's grace ends first": ScheduleCase(
        lambda: SMALL.next_change([0, 1], 1120), 1150
    ),
    "next change: an announced window moves the deletion": ScheduleCase(
        lambda: SMALL.next_change([0, 1], 1120, {0: 1300}), 1190
    ),
    "next change: a grace already over does not count (it is deleted now)": ScheduleCase(
        lambda: SMALL.next_change([0, 2], 1200), 1290
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULE_CASES))
def test_schedule_arithmetic(name: str) -> None:
    case = SCHEDULE_CASES[name]
    assert case.call() == case.expected


BAD_SCHEDULES: dict[str, dict[str, Any]] = {
    "zero-length epoch": {"epoch_ms": 0},
    "negative epoch": {"epoch_ms": -1},
    "negative grace": {"grace_ms": -1},
    "zero lead (the next prekey would appear only as it starts)": {"lead_ms": 0},
    "lead longer than an epoch": {"epoch_ms": 100, "lead_ms": 101},
    "negative origin": {"origin_ms": -1},
    "a bool for a duration": {"epoch_ms": True},
    "a float for a duration": {"grace_ms": 1.5},
}


@pytest.mark.parametrize("name", list(BAD_SCHEDULES))
def test_schedule_validation(name: str) -> None:
    with pytest.raises(UsageError):
        PrekeySchedule(**BAD_SCHEDULES[name])


def test_schedule_defaults_and_limits() -> None:
    schedule = PrekeySchedule()
    assert (schedule.epoch_ms, schedule.grace_ms, schedule.lead_ms, schedule.origin_ms) == (
        WEEK_MS,
        2 * WEEK_MS,
        DAY_MS,
        0,
    )
    assert PrekeySchedule(epoch_ms=100, lead_ms=100).epochs_to_hold(0) == [0, 1]
    assert PrekeySchedule(grace_ms=0).grace_ms == 0
    with pytest.raises(UsageError, match="before the prekey schedule's origin"):
        SMALL.epoch_at(999)
    with pytest.raises(UsageError):
        SMALL.window(-1)
    with pytest.raises(UsageError):
        SMALL.deletable([-1], 5000)


@st.composite
def schedules(draw: st.DrawFn) -> PrekeySchedule:
    epoch_ms = draw(st.integers(1, 10 * WEEK_MS))
    return PrekeySchedule(
        epoch_ms=epoch_ms,
        grace_ms=draw(st.integers(0, 10 * WEEK_MS)),
        lead_ms=draw(st.integers(1, epoch_ms)),
        origin_ms=draw(st.integers(0, 1 << 42)),
    )


OFFSETS = st.integers(0, 1 << 45)
EPOCHS = st.integers(0, 1 << 20)


@given(schedules(), EPOCHS)
def test_windows_tile_time(schedule: PrekeySchedule, epoch: int) -> None:
    start, end = schedule.window(epoch)
    assert end - start == schedule.epoch_ms
    assert schedule.window(epoch + 1)[0] == end  # no gap, no overlap
    assert schedule.epoch_at(start) == epoch
    assert schedule.epoch_at(end - 1) == epoch
    assert schedule.epoch_at(end) == epoch + 1
    assert schedule.window(0)[0] == schedule.origin_ms


@given(schedules(), OFFSETS)
def test_time_lies_in_its_epochs_window(schedule: PrekeySchedule, offset: int) -> None:
    time_ms = schedule.origin_ms + offset
    start, end = schedule.window(schedule.epoch_at(time_ms))
    assert start <= time_ms < end


@given(schedules(), OFFSETS, st.lists(EPOCHS, max_size=8))
def test_deletable_never_includes_what_must_be_held(
    schedule: PrekeySchedule, offset: int, others: list[int]
) -> None:
    now = schedule.origin_ms + offset
    current = schedule.epoch_at(now)
    hold = schedule.epochs_to_hold(now)
    held = [*others, *hold]
    deletable = schedule.deletable(held, now)
    assert current not in deletable
    assert not set(hold) & set(deletable)
    assert deletable == sorted(set(deletable))
    assert set(deletable) <= set(held)
    assert all(e < current for e in deletable)  # only past epochs ever go
    assert hold[0] == current
    assert hold in ([current], [current, current + 1])


@given(schedules(), OFFSETS, st.lists(EPOCHS, max_size=8))
def test_nothing_is_due_before_next_change(
    schedule: PrekeySchedule, offset: int, others: list[int]
) -> None:
    """Once what is due now is done, nothing is due again before ``next_change``: a node
    that sleeps until then misses nothing (it may wake for nothing, when the prekey
    falling due then is already held)."""
    now = schedule.origin_ms + offset
    ring = PrekeyRing(schedule, {e: derive(f"held {e}") for e in {*others}})
    ring.apply(now, _secret_source("next"))  # what is due now is done
    after = schedule.next_change(ring.secrets, now)
    assert after > now
    assert ring.plan(after - 1) == ([], [])
    assert after <= schedule.window(schedule.epoch_at(now) + 2)[0] - schedule.lead_ms


def _secret_source(label: str = "ring") -> Callable[[], bytes]:
    counter = itertools.count()
    return lambda: derive(f"prekey secret {label} {next(counter)}")


@settings(max_examples=50)
@given(schedules(), st.lists(st.integers(0, 1 << 24), min_size=1, max_size=6))
def test_ring_apply_reaches_the_plan(schedule: PrekeySchedule, steps: list[int]) -> None:
    ring = PrekeyRing(schedule)
    new_secret = _secret_source()
    now = schedule.origin_ms
    for step in steps:
        now += step
        created, deleted = ring.apply(now, new_secret)
        assert set(schedule.epochs_to_hold(now)) <= set(ring.secrets)
        assert not set(created) & set(deleted)
        assert not set(deleted) & set(ring.secrets)
        assert ring.plan(now) == ([], [])
        assert len(ring.secret_keys()) == len(ring.secrets)


# ---------------------------------------------------------------------------------
# The ring


def test_ring_lifecycle_over_weeks() -> None:
    schedule = PrekeySchedule()
    ring = PrekeyRing(schedule)
    new_secret = _secret_source()
    assert ring.plan(10 * WEEK_MS) == ([10], [])
    assert ring.apply(10 * WEEK_MS, new_secret) == ([10], [])
    assert ring.apply(10 * WEEK_MS, new_secret) == ([], [])  # idempotent
    assert ring.apply(11 * WEEK_MS - DAY_MS, new_secret) == ([11], [])
    assert ring.apply(11 * WEEK_MS, new_secret) == ([], [])  # 10 is in its grace
    assert ring.apply(12 * WEEK_MS, new_secret) == ([12], [])  # missed its lead time
    assert ring.apply(13 * WEEK_MS - 1, new_secret) == ([13], [])
    assert sorted(ring.secrets) == [10, 11, 12, 13]
    # Epoch 10 ends at 11 weeks; with two weeks' grace it goes at 13 weeks.
    assert ring.apply(13 * WEEK_MS, new_secret) == ([], [10])
    assert sorted(ring.secrets) == [11, 12, 13]
    # A node that was off for a long time catches up in one step.
    assert ring.apply(40 * WEEK_MS, new_secret) == ([40], [11, 12, 13])
    assert sorted(ring.secrets) == [40]
    assert ring.public(40) == x25519_public(ring.secrets[40])
    with pytest.raises(UsageError):
        ring.public(39)


def test_ring_apply_is_all_or_nothing_and_checks_secrets() -> None:
    ring = PrekeyRing(SMALL)
    ring.apply(1000, _secret_source())
    before = dict(ring.secrets)

    def failing() -> bytes:
        raise RuntimeError("entropy source unavailable")

    with pytest.raises(RuntimeError):
        ring.apply(1095, failing)
    with pytest.raises(UsageError, match="32-byte"):
        ring.apply(1095, lambda: b"short")
    with pytest.raises(UsageError, match="already in use"):
        ring.apply(1095, lambda: before[0])
    assert ring.secrets == before


def test_ring_repr_shows_no_secret() -> None:
    ring = PrekeyRing(SMALL)
    ring.apply(1095, _secret_source())
    text = repr(ring)
    for secret in ring.secrets.values():
        assert secret.hex() not in text
        assert repr(secret) not in text


# ---------------------------------------------------------------------------------
# Announcements and the trust state

#: Epochs aligned to T0, so that epoch 0 lies inside the node certificate's window
#: (T0-1d .. T0+90d): ``add_prekey`` checks the signer at the epoch's start.
SCHED = PrekeySchedule(origin_ms=tk.T0)
DE_SEED = tk.seed("node DE@TR")


def _state() -> TrustState:
    root = tk.roster()
    state = TrustState(RosterChain.from_pinned_root(root, fingerprint_of(root)))
    state.add_certificate(tk.certificate())
    return state


def _prekey_public(epoch: int, label: str = "DE@TR") -> bytes:
    return x25519_public(derive(f"prekey {label} epoch {epoch}"))


def _announce(
    epoch: int = 0,
    *,
    seed: bytes = DE_SEED,
    node: str = "DE@TR",
    network: str = tk.NETWORK,
    public: bytes | None = None,
    issued_ms: int | None = None,
) -> bytes:
    return announce_prekey(
        network=network,
        node=node,
        epoch=epoch,
        public=public if public is not None else _prekey_public(epoch),
        schedule=SCHED,
        signing_seed=seed,
        issued_ms=issued_ms
        if issued_ms is not None
        else max(SCHED.window(epoch)[0] - SCHED.lead_ms, tk.T0),
    )


def test_announcement_signed_by_certified_node_key_is_accepted() -> None:
    state = _state()
    wire = _announce(0)
    announcement = state.add_prekey(wire, now_ms=tk.T0)
    assert announcement.node == "DE@TR"
    assert announcement.network == tk.NETWORK
    assert announcement.epoch == 0
    assert announcement.key == _prekey_public(0)
    assert (announcement.valid_from_ms, announcement.valid_until_ms) == SCHED.window(0)
    assert announcement.document.signed_keys() == {tk.pub("node DE@TR")}
    assert announcement.document.to_bytes() == wire
    assert state.prekeys["DE@TR"] == [announcement]
    assert state.current_prekey("DE@TR", tk.T0) == announcement
    # The same bytes again change nothing.
    state.add_prekey(wire, now_ms=tk.T0)
    assert state.prekeys["DE@TR"] == [announcement]


def _tampered() -> bytes:
    good = SignedDocument.from_bytes(_announce(0))
    other = SignedDocument.from_bytes(_announce(0, public=_prekey_public(0, "mallory")))
    return SignedDocument(good.doc_type, other.body, good.signatures).to_bytes()


def _bad_window() -> bytes:
    start, _ = SCHED.window(0)
    payload = {
        "network": tk.NETWORK,
        "node": "DE@TR",
        "epoch": 0,
        "key": _prekey_public(0),
        "valid_from_ms": start,
        "valid_until_ms": start,
    }
    return SignedDocument.create("prekey", payload).signed_by(DE_SEED).to_bytes()


def _unsigned() -> bytes:
    document = SignedDocument.from_bytes(_announce(0))
    return SignedDocument(document.doc_type, document.body, ()).to_bytes()


@dataclass(frozen=True)
class RefusalCase:
    wire: Callable[[], bytes]
    now_ms: int = tk.T0
    setup: Callable[[TrustState], object] = lambda state: None


REFUSALS: dict[str, RefusalCase] = {
    "signed by an uncertified key": RefusalCase(lambda: _announce(seed=tk.seed("node mallory"))),
    "signed by another node's certified key": RefusalCase(
        lambda: _announce(seed=tk.seed("node FR@TR")),
        setup=lambda s: s.add_certificate(tk.certificate(node="FR@TR", key_name="node FR@TR")),
    ),
    "signed by an officer's key, not a node key": RefusalCase(
        lambda: _announce(seed=tk.seed("officer anna")),
        setup=lambda s: s.add_certificate(
            tk.certificate(key_name="officer anna", role="officer", officer="anna")
        ),
    ),
    "signed by a revoked key (epoch 2 starts T0+14d, after the compromise at T0+10d)": (
        RefusalCase(
            lambda: _announce(2),
            now_ms=tk.T0 + 14 * tk.DAY,
            setup=lambda s: s.add_revocation(tk.revocation()),
        )
    ),
    "for a node not in the roster": RefusalCase(lambda: _announce(node="ES@TR")),
    "for another network": RefusalCase(lambda: _announce(network="other.ilo")),
    "unsigned": RefusalCase(_unsigned),
    "signature over a different body": RefusalCase(_tampered),
    "empty validity window": RefusalCase(_bad_window),
    "malformed bytes": RefusalCase(lambda: b"\x93garbage"),
    "empty bytes": RefusalCase(lambda: b""),
    "a certificate, not a prekey": RefusalCase(tk.certificate),
    "truncated announcement": RefusalCase(lambda: _announce(0)[:-10]),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_announcement_refused(name: str) -> None:
    case = REFUSALS[name]
    state = _state()
    case.setup(state)
    with pytest.raises(PrekeyError) as info:
        state.add_prekey(case.wire(), now_ms=case.now_ms)
    assert info.value.message
    assert not state.prekeys.get("DE@TR")


def test_revoked_key_case_is_refused_because_of_the_revocation() -> None:
    """Control for the revocation case above: without the revocation it is accepted."""
    state = _state()
    announcement = state.add_prekey(_announce(2), now_ms=tk.T0 + 14 * tk.DAY)
    assert announcement.epoch == 2


def test_announce_refuses_arguments_no_receiver_accepts() -> None:
    with pytest.raises(UsageError, match="cannot announce"):
        _announce(0, node="not a node")
    with pytest.raises(UsageError, match="cannot announce"):
        _announce(0, public=b"\x01" * 31)
    with pytest.raises(UsageError):
        _announce(0, seed=b"short")
    with pytest.raises(UsageError):
        _announce(-1)


# ---------------------------------------------------------------------------------
# Selecting the prekey to seal to

START_1 = SCHED.window(1)[0]
END_1 = SCHED.window(1)[1]


def _state_with_two_epochs() -> TrustState:
    state = _state()
    state.add_prekey(_announce(0), now_ms=tk.T0)
    # Announced a minute before it starts.
    state.add_prekey(_announce(1), now_ms=START_1 - MINUTE_MS)
    return state


SELECTION_CASES: dict[str, tuple[int, int | None]] = {
    "first ms of epoch 0 → epoch 0": (tk.T0, 0),
    "last ms of epoch 0, epoch 1 already known → still epoch 0": (START_1 - 1, 0),
    "rollover: first ms of epoch 1 → epoch 1": (START_1, 1),
    "last ms of epoch 1 → epoch 1": (END_1 - 1, 1),
    "after epoch 1, nothing newer announced → none": (END_1, None),
    "before any announced epoch → none": (tk.T0 - 1, None),
}


@pytest.mark.parametrize("name", list(SELECTION_CASES))
def test_select_prekey_and_current_prekey_agree(name: str) -> None:
    now, expected = SELECTION_CASES[name]
    state = _state_with_two_epochs()
    announcements = state.prekeys["DE@TR"]
    if expected is None:
        with pytest.raises(PrekeyError):
            select_prekey(announcements, now)
        with pytest.raises(PrekeyError):
            state.current_prekey("DE@TR", now)
        with pytest.raises(PrekeyError):
            state.recipient_keys(["DE@TR"], now)
        return
    chosen = select_prekey(announcements, now)
    assert chosen.epoch == expected
    assert chosen.key == _prekey_public(expected)
    assert state.current_prekey("DE@TR", now) == chosen
    assert select_prekey(reversed(announcements), now) == chosen  # order does not matter
    assert state.recipient_keys(["DE@TR"], now) == {"DE@TR": [chosen.key]}


def test_select_prekey_without_announcements() -> None:
    with pytest.raises(PrekeyError, match="no valid prekey"):
        select_prekey([], tk.T0)
    state = _state()
    with pytest.raises(PrekeyError):
        state.current_prekey("DE@TR", tk.T0)


def test_select_prekey_ties_are_decided_like_current_prekey() -> None:
    """Two announcements of one epoch (the node re-keyed): both functions pick the same."""
    state = _state()
    state.add_prekey(_announce(0, public=_prekey_public(0, "first")), now_ms=tk.T0)
    state.add_prekey(_announce(0, public=_prekey_public(0, "second")), now_ms=tk.T0)
    announcements = state.prekeys["DE@TR"]
    assert len(announcements) == 2
    assert select_prekey(announcements, tk.T0) == state.current_prekey("DE@TR", tk.T0)


def test_select_prekey_refuses_announcements_of_several_nodes() -> None:
    state = _state()
    state.add_certificate(tk.certificate(node="FR@TR", key_name="node FR@TR"))
    de = state.add_prekey(_announce(0), now_ms=tk.T0)
    fr = state.add_prekey(
        _announce(0, node="FR@TR", seed=tk.seed("node FR@TR"), public=_prekey_public(0, "FR")),
        now_ms=tk.T0,
    )
    with pytest.raises(UsageError, match="several nodes"):
        select_prekey([de, fr], tk.T0)


def test_next_prekey_announced_lead_ms_ahead_is_accepted() -> None:
    state = _state()
    now = START_1 - SCHED.lead_ms
    assert SCHED.epochs_to_hold(now) == [0, 1]
    state.add_prekey(_announce(1), now_ms=now)


def test_prekey_announced_after_compromise_is_dropped_when_the_revocation_arrives() -> None:
    state = _state()
    state.add_prekey(_announce(0), now_ms=tk.T0)
    thief_key = _prekey_public(0, "thief")
    payload = {
        "network": tk.NETWORK,
        "node": "DE@TR",
        "epoch": 99,  # outranks every honest epoch in select_prekey
        "key": thief_key,
        "valid_from_ms": tk.T0 + 11 * tk.DAY,  # compromised at T0+10d, revoked at T0+12d
        "valid_until_ms": tk.T0 + 60 * tk.DAY,
        "issued_ms": tk.T0 + 11 * tk.DAY,
    }
    wire = SignedDocument.create("prekey", payload).signed_by(DE_SEED).to_bytes()
    state.add_prekey(wire, now_ms=tk.T0 + 11 * tk.DAY)  # accepted: no revocation yet
    assert state.current_prekey("DE@TR", tk.T0 + 11 * tk.DAY).key == thief_key
    state.add_revocation(tk.revocation())
    # Every prekey the revoked key signed is forgotten, the honest ones too: nobody
    # can tell them apart, so senders wait for the node's new key to announce.
    with pytest.raises(PrekeyError):
        state.current_prekey("DE@TR", tk.T0 + 13 * tk.DAY)
    state.add_certificate(
        tk.certificate(
            key_name="node DE@TR v2",
            issued_ms=tk.T0 + 12 * tk.DAY,
            valid_from_ms=tk.T0 + 12 * tk.DAY,
        )
    )
    fresh = announce_prekey(
        network=tk.NETWORK,
        node="DE@TR",
        epoch=2,
        public=_prekey_public(2),
        schedule=SCHED,
        signing_seed=tk.seed("node DE@TR v2"),
        issued_ms=tk.T0 + 13 * tk.DAY,
    )
    state.add_prekey(fresh, now_ms=tk.T0 + 13 * tk.DAY)
    assert state.current_prekey("DE@TR", tk.T0 + 14 * tk.DAY).key == _prekey_public(2)


# ---------------------------------------------------------------------------------
# Forward secrecy

SENDER_SEED = tk.seed("node FR@TR")


def _seal_to(recipient_keys: dict[str, list[bytes]], created_ms: int) -> Envelope:
    return seal(
        signing_seed=SENDER_SEED,
        network=tk.NETWORK,
        kind="incident_alert",
        author_node="FR@TR",
        seq=1,
        prev=None,
        created_ms=created_ms,
        distribution="local",
        recipient_keys=recipient_keys,
        handling="H1",
        content=example("incident_alert"),
    )


def _everything_de_holds(ring: PrekeyRing) -> Iterator[bytes]:
    """Every 32-byte secret DE@TR still has: its prekeys and its signing key, both as is
    and converted to X25519 the standard way."""
    yield from ring.secrets.values()
    yield DE_SEED
    yield sodium.crypto_sign_ed25519_sk_to_curve25519(DE_SEED + ed25519_public(DE_SEED))


def test_deleted_prekey_gives_forward_secrecy() -> None:
    ring = PrekeyRing(SCHED)
    new_secret = _secret_source("forward secrecy")
    state = _state()

    # DE@TR makes and announces its prekey for epoch 0; FR@TR seals to it.
    assert ring.apply(tk.T0, new_secret) == ([0], [])
    state.add_prekey(_announce(0, public=ring.public(0)), now_ms=tk.T0)
    sent_at = tk.T0 + 3 * DAY_MS
    envelope = _seal_to(dict(state.recipient_keys(["DE@TR"], sent_at)), sent_at)
    captured = envelope.to_bytes()  # an attacker on the wire keeps a copy
    secret_0 = ring.secrets[0]
    assert [w.recipient_key for w in envelope.wrapped_for("DE@TR")] == [x25519_public(secret_0)]

    # While DE@TR holds the prekey, including through the grace period, it reads the envelope.
    expected = example("incident_alert")
    end_0 = SCHED.window(0)[1]
    for now in (sent_at, end_0, end_0 + SCHED.grace_ms - 1):
        ring.apply(now, new_secret)
        assert 0 in ring.secrets
        content = Envelope.from_bytes(captured).open("DE@TR", ring.secret_keys())
        assert content.fields["title"] == expected["title"]

    # At the epoch's end plus the grace, the prekey is deleted.
    created, deleted = ring.apply(end_0 + SCHED.grace_ms, new_secret)
    assert deleted == [0]
    assert 0 not in ring.secrets
    assert secret_0 not in ring.secrets.values()
    assert secret_0 not in ring.secret_keys().values()
    assert x25519_public(secret_0) not in ring.secret_keys()
    assert ring.secrets  # the node still has its current prekeys: it keeps working
    assert created == [] and sorted(ring.secrets) == [1, 2, 3]

    # With everything DE@TR still holds, the captured envelope no longer opens.
    received = Envelope.from_bytes(captured)  # still authentic: only reading is lost
    held = list(_everything_de_holds(ring))
    assert secret_0 not in held
    all_keys = {x25519_public(s): s for s in held}
    with pytest.raises(NotARecipientError):
        received.open("DE@TR", ring.secret_keys())
    with pytest.raises(NotARecipientError):
        received.open("DE@TR", all_keys)
    # Even offering each held secret as if it were the deleted prekey's does not help.
    wrapped = received.wrapped_for("DE@TR")[0]
    for secret in held:
        with pytest.raises(DecryptionError):
            received.open("DE@TR", {wrapped.recipient_key: secret})


def test_envelope_sealed_to_two_prekeys_opens_with_either() -> None:
    ring = PrekeyRing(SCHED)
    rollover = START_1 - SCHED.lead_ms
    assert ring.apply(rollover, _secret_source("rollover")) == ([0, 1], [])
    keys = {"DE@TR": [ring.public(0), ring.public(1)], "FR@TR": [_prekey_public(0, "FR")]}
    envelope = _seal_to(keys, rollover)
    assert {w.recipient_key for w in envelope.wrapped_for("DE@TR")} == set(keys["DE@TR"])
    received = Envelope.from_bytes(envelope.to_bytes())
    title = example("incident_alert")["title"]
    for epochs in ([0], [1], [0, 1]):
        partial = PrekeyRing(SCHED, {e: ring.secrets[e] for e in epochs})
        assert received.open("DE@TR", partial.secret_keys()).fields["title"] == title
    with pytest.raises(NotARecipientError):
        received.open("DE@TR", {})
    # Each of DE@TR's keys opens only DE@TR's entries, not FR@TR's.
    with pytest.raises(NotARecipientError):
        received.open("FR@TR", ring.secret_keys())


def test_announcement_round_trip_is_the_prekey_announcement_type() -> None:
    wire = _announce(5)
    announcement = PrekeyAnnouncement.from_document(SignedDocument.from_bytes(wire, "prekey"))
    assert announcement.epoch == 5
    assert (announcement.valid_from_ms, announcement.valid_until_ms) == SCHED.window(5)
    announcement.document.verify_by(tk.pub("node DE@TR"))
