"""The roster chain: which roster a node trusts, and how it moves forward.

The rules follow TUF's root rotation:

* a node starts from the root roster it was set up with, whose fingerprint the
  administrators read out (:meth:`RosterChain.from_pinned_root`); it must be
  signed by a threshold of its own administrators;
* version N+1 is accepted only if it is signed by a threshold of version N's
  administrators *and* a threshold of its own, each distinct key counted once;
* versions advance by exactly one: an older or equal version is a rollback, and
  a different document at the current version is a fork of the roster;
* every roster has an expiry. An expired roster still verifies history (the
  chain and the keys it names do not change), but envelopes dated after the
  expiry wait in quarantine until a newer roster arrives; a version that has
  already expired when it arrives is applied only on the way to a later one
  that has not.

The chain is I/O-free: it takes bytes and the current time and either advances
or raises; persisting the accepted documents is the node's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protocol.crypto import sha256
from protocol.errors import ProtocolError
from protocol.signed import SignedDocument

from .documents import Roster, when
from .errors import (
    RollbackError,
    RootOfTrustError,
    RosterError,
    RosterExpiredError,
    ThresholdError,
)

__all__ = ["EXPIRY_WARNING_MS", "RosterChain", "RosterStatus", "count_signers", "fingerprint_of"]

#: Warn this long before the current roster expires.
EXPIRY_WARNING_MS = 30 * 24 * 3600 * 1000


def fingerprint_of(data: bytes) -> str:
    """Fingerprint of a roster file: SHA-256 of its bytes, in groups of four hex digits."""
    digest = sha256(data).hex()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def _normalise_fingerprint(text: str) -> str:
    return "".join(text.split()).replace(":", "").lower()


def count_signers(document: SignedDocument, administrators: Iterable[bytes]) -> int:
    """Distinct administrator keys with a valid signature; each key counts once."""
    return len(document.signed_keys() & frozenset(administrators))


def _parse(data: bytes) -> Roster:
    try:
        return Roster.from_document(SignedDocument.from_bytes(data, "roster"))
    except ProtocolError as exc:
        raise RosterError(f"roster file is malformed: {exc.message}") from None


def _check_threshold(roster: Roster, by: Roster, role: str) -> None:
    got = count_signers(roster.document, by.administrators)
    if got < by.threshold:
        raise ThresholdError(
            f"roster version {roster.version} has {got} valid signature(s) from {role} "
            f"administrators; {by.threshold} are required"
        )


def _next_after(current: Roster, data: bytes) -> Roster:
    """``data`` as the version after ``current``, by TUF's root-rotation rules."""
    new = _parse(data)
    if new.network != current.network:
        raise RosterError(
            f"roster is for network {new.network!r}, this node is in {current.network!r}"
        )
    if new.version <= current.version:
        if new.version == current.version and new.document.body != current.document.body:
            raise RollbackError(
                f"a different roster claims version {new.version}: the roster has forked; "
                "report it to the administrators"
            )
        raise RollbackError(
            f"roster version {new.version} is not newer than the current version {current.version}"
        )
    if new.version != current.version + 1:
        raise RollbackError(
            f"roster version {new.version} skips versions after {current.version}: apply "
            f"version {current.version + 1} first"
        )
    _check_threshold(new, current, f"version {current.version}'s")
    _check_threshold(new, new, "its own")
    return new


def _check_not_expired(roster: Roster, now_ms: int) -> None:
    if roster.expires_ms <= now_ms:
        raise RosterExpiredError(
            f"roster version {roster.version} expired on {when(roster.expires_ms)}, before "
            "it arrived; it was not applied",
            "Ask the administrators for the current version, and apply the versions in "
            "between together with it ('ilo-node roster update V1 V2 ...').",
        )


@dataclass(frozen=True, slots=True)
class RosterStatus:
    version: int
    expires_ms: int
    remaining_ms: int
    state: str  # "ok" | "expiring" | "expired"

    @property
    def message(self) -> str:
        days = abs(self.remaining_ms) // 86_400_000
        if self.state == "expired":
            return (
                f"roster version {self.version} EXPIRED {days} day(s) ago: new envelopes are "
                "held and peer requests refused until the administrators publish a new version"
            )
        if self.state == "expiring":
            return (
                f"roster version {self.version} expires in {days} day(s): administrators "
                "must sign and publish the next version"
            )
        return f"roster version {self.version} valid for {days} more day(s)"


class RosterChain:
    """The sequence of rosters a node has accepted, starting at its pinned root."""

    def __init__(self, root: Roster) -> None:
        _check_threshold(root, root, "its own")
        self._versions: list[Roster] = [root]

    @classmethod
    def from_pinned_root(cls, data: bytes, expected_fingerprint: str) -> RosterChain:
        """Start trusting the root roster ``data`` if its fingerprint is the expected one."""
        actual = fingerprint_of(data)
        if _normalise_fingerprint(actual) != _normalise_fingerprint(expected_fingerprint):
            raise RootOfTrustError(
                f"root roster fingerprint is {actual}, not the expected "
                f"{expected_fingerprint.strip()}"
            )
        return cls(_parse(data))

    @classmethod
    def from_history(cls, documents: Iterable[bytes]) -> RosterChain:
        """Rebuild a chain from stored documents (first = the pinned root)."""
        items = iter(documents)
        try:
            chain = cls(_parse(next(items)))
        except StopIteration:
            raise RosterError("no root roster stored") from None
        for data in items:
            chain.update(data, now_ms=None)
        return chain

    @property
    def current(self) -> Roster:
        return self._versions[-1]

    @property
    def root(self) -> Roster:
        return self._versions[0]

    @property
    def versions(self) -> tuple[Roster, ...]:
        return tuple(self._versions)

    def authority_window(self, party: str, key: bytes) -> tuple[int, int | None] | None:
        """The validity window of an authority key, per the roster chain.

        The newest version listing the key gives its window; if a later version no
        longer lists it, the key ends when that version was issued (whichever is
        earlier). So cutting a key off or dropping it stops new certificates, and
        what the key certified while valid stays valid.
        """
        window: tuple[int, int | None] | None = None
        for roster in self._versions:
            listed = [a for a in roster.authorities if a.party == party and a.key == key]
            if listed:
                window = (listed[0].valid_from_ms, listed[0].valid_until_ms)
            elif window is not None:
                start, end = window
                dropped = roster.issued_ms
                window = (start, dropped if end is None else min(end, dropped))
        return window

    def authority_compromised_at(self, party: str, key: bytes) -> int | None:
        """When an authority key was stolen, if any roster version ever said so (the
        earliest time said: a later version cannot take the statement back)."""
        times = [
            a.compromised_at_ms
            for roster in self._versions
            for a in roster.authorities
            if a.party == party and a.key == key and a.compromised_at_ms is not None
        ]
        return min(times) if times else None

    def check_next(self, data: bytes, now_ms: int | None) -> Roster:
        """Decide whether ``data`` is the valid next roster, without applying it; with
        ``now_ms``, an already expired version is refused too."""
        if data == self.current.document.to_bytes():
            return self.current  # re-applying the current version is a no-op
        new = _next_after(self.current, data)
        if now_ms is not None:
            _check_not_expired(new, now_ms)
        return new

    def update(self, data: bytes, now_ms: int | None) -> Roster:
        """Apply the next roster version; returns it. ``now_ms=None`` replays stored history.

        A version that has already expired when it arrives is refused
        (:class:`RosterExpiredError`): applied, one relayed old version would hold
        every node's new envelopes until administrators act. :meth:`update_all`
        catches up through versions that expired while this node was away.
        """
        if data == self.current.document.to_bytes():
            return self.current
        return self.update_all([data], now_ms)[-1]

    def update_all(self, documents: Sequence[bytes], now_ms: int | None) -> list[Roster]:
        """Apply consecutive versions, in order; returns the versions applied.

        With ``now_ms``, the newest version applied must not have expired: versions
        that did are applied only on the way to a later one that has not (as TUF
        clients catch up through expired intermediate roots); otherwise nothing is
        applied.
        """
        pending: list[Roster] = []
        current = self.current
        for data in documents:
            if data == current.document.to_bytes():
                continue
            current = _next_after(current, data)
            pending.append(current)
        if now_ms is not None and pending:
            _check_not_expired(pending[-1], now_ms)
        self._versions.extend(pending)
        return pending

    def status(self, now_ms: int) -> RosterStatus:
        current = self.current
        remaining = current.expires_ms - now_ms
        state = (
            "expired"
            if remaining <= 0
            else ("expiring" if remaining <= EXPIRY_WARNING_MS else "ok")
        )
        return RosterStatus(current.version, current.expires_ms, remaining, state)
