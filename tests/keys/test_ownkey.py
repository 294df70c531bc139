"""Which of its own keys a node signs with (keys/ownkey.py), as a table of named cases.

DE@TR holds a new key ("new") and the key it retired ("old"), newest first; the
certificates and revocations each case gives are all the trust state holds of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from keys.ownkey import choose_own_key, next_own_key_change
from keys.roster import RosterChain
from keys.trust import TrustState
from protocol.errors import UsageError
from tests.support import trustkit as tk

NOW = tk.T0 + 20 * tk.DAY
OLD, NEW = "node DE@TR", "node DE@TR 2"
#: A window covering NOW, and one that starts an hour after it.
IN_FORCE = (tk.T0 - tk.DAY, tk.T0 + 90 * tk.DAY)
LATER = (NOW + 3_600_000, tk.T0 + 90 * tk.DAY)
ENDED = (tk.T0 - tk.DAY, NOW - 1)


def _certificate(name: str, window: tuple[int, int], node: str = "DE@TR") -> bytes:
    return tk.certificate(
        node=node, key_name=name, valid_from_ms=window[0], valid_until_ms=window[1]
    )


@dataclass(frozen=True)
class Case:
    certified: dict[str, tuple[int, int]]  # key name → certificate window
    chosen: str
    may_speak: bool
    revoked: tuple[str, ...] = ()
    held: tuple[str, ...] = (NEW, OLD)
    elsewhere: tuple[str, ...] = ()  # key names certified for FR@TR instead
    reason: str = ""


CASES: dict[str, Case] = {
    "just rotated: the new key has no certificate yet → the retired key signs": Case(
        {OLD: IN_FORCE}, OLD, True
    ),
    "the new key's certificate arrived → the new key signs at once": Case(
        {OLD: IN_FORCE, NEW: IN_FORCE}, NEW, True
    ),
    "the new key certified, the old one's certificate ended → the new key": Case(
        {OLD: ENDED, NEW: IN_FORCE}, NEW, True
    ),
    "the new key's certificate starts in an hour → the retired key until then": Case(
        {OLD: IN_FORCE, NEW: LATER}, OLD, True
    ),
    "after a theft: the old key revoked, the new one not certified yet → the new key, "
    "held at receivers": Case({OLD: IN_FORCE}, NEW, False, revoked=(OLD,), reason="no certif"),
    "after a theft: the old key revoked, the new one certified → the new key": Case(
        {OLD: IN_FORCE, NEW: IN_FORCE}, NEW, True, revoked=(OLD,)
    ),
    "a fresh node, no certificate at all → its only key, held at receivers": Case(
        {}, NEW, False, held=(NEW,), reason="no certificate"
    ),
    "the new key is certified for another node → not this node's: the retired key": Case(
        {OLD: IN_FORCE}, OLD, True, elsewhere=(NEW,)
    ),
    "every key's certificate ended → the newest, with the reason": Case(
        {OLD: ENDED, NEW: ENDED}, NEW, False, reason="was not certified"
    ),
    "three keys, the middle one certified → the middle one": Case(
        {"node DE@TR 1": IN_FORCE}, "node DE@TR 1", True, held=(NEW, "node DE@TR 1", OLD)
    ),
}


def _trust(case: Case) -> TrustState:
    trust = TrustState(RosterChain.from_history([tk.roster()]))
    for name, window in case.certified.items():
        trust.add_certificate(_certificate(name, window))
    for name in case.elsewhere:
        trust.add_certificate(_certificate(name, IN_FORCE, "FR@TR"))
    for name in case.revoked:
        trust.add_revocation(
            tk.revocation(key_name=name, compromised_at_ms=tk.T0, issued_ms=tk.T0 + tk.DAY)
        )
    return trust


@pytest.mark.parametrize("name", list(CASES))
def test_own_key_choice(name: str) -> None:
    case = CASES[name]
    held = [tk.pub(k) for k in case.held]
    choice = choose_own_key(_trust(case), "DE@TR", held, NOW)
    assert choice.key == tk.pub(case.chosen)
    assert choice.may_speak is case.may_speak
    assert choice.newest == held[0]
    assert choice.waiting_for_newest is (case.chosen != case.held[0])
    assert case.reason in choice.reason
    newest = _trust(case).decide_node_key(held[0], "DE@TR", NOW, NOW)
    assert choice.newest_reason == newest.reason


def test_a_node_without_keys_is_a_caller_error() -> None:
    with pytest.raises(UsageError):
        choose_own_key(_trust(CASES[next(iter(CASES))]), "DE@TR", [], NOW)


def test_the_next_change_is_the_first_certificate_edge_or_compromise_after_now() -> None:
    trust = TrustState(RosterChain.from_history([tk.roster()]))
    trust.add_certificate(_certificate(OLD, IN_FORCE))
    held = [tk.pub(NEW), tk.pub(OLD)]
    assert next_own_key_change(trust, "DE@TR", held, NOW) == IN_FORCE[1]
    trust.add_certificate(_certificate(NEW, LATER))
    assert next_own_key_change(trust, "DE@TR", held, NOW) == LATER[0]
    # A compromise declared ahead of time ends the old key then.
    trust.add_revocation(
        tk.revocation(key_name=OLD, compromised_at_ms=NOW + 60_000, issued_ms=NOW - 1)
    )
    assert next_own_key_change(trust, "DE@TR", held, NOW) == NOW + 60_000
    # Certificates of other nodes, and of keys not held, do not count.
    other = TrustState(RosterChain.from_history([tk.roster()]))
    other.add_certificate(_certificate("node FR@TR", LATER, "FR@TR"))
    assert next_own_key_change(other, "DE@TR", held, NOW) is None
