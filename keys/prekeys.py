"""Encryption prekeys: one X25519 key per epoch, announced signed, deleted after a grace.

Envelopes are encrypted to a recipient's *prekey*, not to a long-term key. A
node makes one prekey per epoch (a week by default), announces its public half
in a ``prekey`` signed document (signed by the node's certified Ed25519 key)
a little before the epoch starts, and deletes the private half once the epoch
has ended and a grace period has passed. After that deletion, nothing the node
still holds opens an envelope sealed to that prekey, even for an attacker who
captured the envelope on the wire and later steals the node's keys: that is
the forward secrecy the design asks for.

Timeline of one epoch ``e`` (``start, end = schedule.window(e)``)::

    start(e) - lead      start(e)              end(e)              end(e) + grace
        |  created and        |  current: senders   |  kept for delayed     |  deleted
        |  announced          |  seal to it         |  or quarantined mail  |

Everything here is pure: the clock is passed in as milliseconds, secrets are
made by a callable the caller supplies, and :class:`PrekeyRing` is an in-memory
model of the private prekeys that the node's storage mirrors (the storage layer
must delete the secret from disk when the ring deletes it from memory).
Python cannot scrub freed memory; deletion here drops every reference the ring
holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from protocol.crypto import x25519_public
from protocol.errors import ProtocolError, UsageError
from protocol.signed import SignedDocument

from .documents import PREKEY_SCHEMA, PrekeyAnnouncement, when
from .errors import PrekeyError

__all__ = [
    "DAY_MS",
    "WEEK_MS",
    "PrekeyRing",
    "PrekeySchedule",
    "announce_prekey",
    "select_prekey",
]

DAY_MS = 24 * 3600 * 1000
WEEK_MS = 7 * DAY_MS
_SECRET_BYTES = 32


def _check_int(name: str, value: object, minimum: int) -> None:
    # bool is an int in Python; a flag passed for a duration is a bug.
    if type(value) is not int or value < minimum:
        raise UsageError(f"prekey schedule {name} must be an integer of at least {minimum}")


@dataclass(frozen=True, slots=True)
class PrekeySchedule:
    """When each epoch's prekey exists, is current, and is deleted.

    Epoch ``e`` covers ``[origin_ms + e * epoch_ms, origin_ms + (e + 1) * epoch_ms)``;
    windows tile time from ``origin_ms`` on, without gaps or overlaps.
    """

    epoch_ms: int = WEEK_MS
    grace_ms: int = 2 * WEEK_MS
    lead_ms: int = DAY_MS
    origin_ms: int = 0

    def __post_init__(self) -> None:
        _check_int("epoch_ms", self.epoch_ms, 1)
        _check_int("grace_ms", self.grace_ms, 0)
        _check_int("lead_ms", self.lead_ms, 1)
        _check_int("origin_ms", self.origin_ms, 0)
        if self.lead_ms > self.epoch_ms:
            # Otherwise the prekey two epochs ahead would be due too.
            raise UsageError("prekey schedule lead_ms must not be longer than epoch_ms")

    def epoch_at(self, time_ms: int) -> int:
        """The epoch ``time_ms`` falls in."""
        if time_ms < self.origin_ms:
            raise UsageError(
                f"time {time_ms} is before the prekey schedule's origin {self.origin_ms}"
            )
        return (time_ms - self.origin_ms) // self.epoch_ms

    def window(self, epoch: int) -> tuple[int, int]:
        """``(start, end)`` of ``epoch`` in ms: it covers ``start <= t < end``."""
        if type(epoch) is not int or epoch < 0:
            raise UsageError(f"prekey epoch must be a non-negative integer, not {epoch!r}")
        start = self.origin_ms + epoch * self.epoch_ms
        return start, start + self.epoch_ms

    def epochs_to_hold(self, now_ms: int) -> list[int]:
        """Epochs whose prekey must exist now: the current one, and the next from
        ``lead_ms`` before it starts (inclusive) so it can be announced in time."""
        current = self.epoch_at(now_ms)
        _, end = self.window(current)
        if now_ms >= end - self.lead_ms:
            return [current, current + 1]
        return [current]

    def deletion_time(self, epoch: int, announced_until_ms: int | None = None) -> int:
        """When the secret of ``epoch``'s prekey may go: ``grace_ms`` after the end of its
        window, or after the end of the window it was announced for if that is later.

        The announced window counts because it is what senders went by: a node whose
        schedule was changed (``daemon.json``) must not delete a prekey that others may
        still seal to under the window it announced with the old schedule.
        """
        end = self.window(epoch)[1]
        if announced_until_ms is not None:
            end = max(end, announced_until_ms)
        return end + self.grace_ms

    def deletable(
        self,
        held_epochs: Iterable[int],
        now_ms: int,
        announced_until: Mapping[int, int] | None = None,
    ) -> list[int]:
        """Of ``held_epochs``, those whose :meth:`deletion_time` has come, sorted, once
        each; ``announced_until`` maps epochs to the end of the window announced for them.

        The current and future epochs are never deletable (their end is after now).
        """
        until = announced_until or {}
        return sorted({e for e in held_epochs if self.deletion_time(e, until.get(e)) <= now_ms})

    def next_change(
        self,
        held_epochs: Iterable[int],
        now_ms: int,
        announced_until: Mapping[int, int] | None = None,
    ) -> int:
        """The first time after ``now_ms`` at which :meth:`PrekeyRing.plan` has something
        new to do: the next epoch's prekey falls due (``lead_ms`` before it starts), or a
        held prekey's :meth:`deletion_time` comes. A node that wakes then keeps its
        prekeys exactly on schedule, and deletes old secrets as soon as their grace ends.
        """
        current = self.epoch_at(now_ms)
        due = self.window(current + 1)[0] - self.lead_ms
        if due <= now_ms:
            due = self.window(current + 2)[0] - self.lead_ms
        until = announced_until or {}
        deletions = [self.deletion_time(e, until.get(e)) for e in held_epochs]
        return min([due, *(t for t in deletions if t > now_ms)])


def announce_prekey(
    *,
    network: str,
    node: str,
    epoch: int,
    public: bytes,
    schedule: PrekeySchedule,
    signing_seed: bytes,
    issued_ms: int,
) -> bytes:
    """The wire bytes of a ``prekey`` document for ``epoch``, signed by ``signing_seed``.

    ``issued_ms`` is when the node announces it (now): receivers judge the
    signing key at that time, so a prekey can be announced ahead of its epoch.

    The validity window is ``schedule.window(epoch)``. The payload is validated
    before signing, so arguments that no receiver would accept raise
    :class:`UsageError` instead of producing a document.
    """
    valid_from, valid_until = schedule.window(epoch)
    payload = {
        "network": network,
        "node": node,
        "epoch": epoch,
        "key": public,
        "valid_from_ms": valid_from,
        "valid_until_ms": valid_until,
        "issued_ms": issued_ms,
    }
    try:
        PREKEY_SCHEMA.validate(payload)
    except ProtocolError as exc:
        raise UsageError(f"cannot announce this prekey: {exc.message}") from None
    wire = SignedDocument.create("prekey", payload).signed_by(signing_seed).to_bytes()
    # Decode what we built: never emit a document the receiving side refuses to parse.
    PrekeyAnnouncement.from_document(SignedDocument.from_bytes(wire, "prekey"))
    return wire


def select_prekey(announcements: Iterable[PrekeyAnnouncement], now_ms: int) -> PrekeyAnnouncement:
    """The announcement valid at ``now_ms`` with the highest epoch.

    Ties (two announcements of one epoch) go to the later ``valid_from_ms``, then
    the later ``issued_ms`` (a replaced prekey), then
    to the first given, exactly as :meth:`keys.trust.TrustState.current_prekey`
    decides. ``announcements`` must all be of one node of one network (and
    already verified: this function checks times, not signatures).
    """
    items = list(announcements)
    owners = {(a.network, a.node) for a in items}
    if len(owners) > 1:
        names = ", ".join(sorted(f"{node} ({network})" for network, node in owners))
        raise UsageError(f"select_prekey was given announcements of several nodes: {names}")
    valid = [a for a in items if a.valid_at(now_ms)]
    if not valid:
        who = next(iter(owners))[1] if owners else "the recipient"
        raise PrekeyError(
            f"no valid prekey known for {who} at {when(now_ms)} "
            f"({len(items)} announcement(s), none covering that time)"
        )
    return max(valid, key=lambda a: (a.epoch, a.valid_from_ms, a.issued_ms))


@dataclass
class PrekeyRing:
    """The node's private prekeys by epoch; an I/O-free model its storage mirrors."""

    schedule: PrekeySchedule
    secrets: dict[int, bytes] = field(default_factory=dict, repr=False)

    def secret_keys(self) -> dict[bytes, bytes]:
        """X25519 public -> secret for every held prekey, as ``Envelope.open`` takes them."""
        return {x25519_public(secret): secret for secret in self.secrets.values()}

    def public(self, epoch: int) -> bytes:
        """The public prekey of a held epoch (what :func:`announce_prekey` announces)."""
        try:
            return x25519_public(self.secrets[epoch])
        except KeyError:
            raise UsageError(f"no prekey is held for epoch {epoch}") from None

    def plan(
        self, now_ms: int, announced_until: Mapping[int, int] | None = None
    ) -> tuple[list[int], list[int]]:
        """``(epochs to create, epochs to delete)`` at ``now_ms``, each sorted;
        ``announced_until`` as for :meth:`PrekeySchedule.deletable`."""
        create = [e for e in self.schedule.epochs_to_hold(now_ms) if e not in self.secrets]
        delete = self.schedule.deletable(self.secrets, now_ms, announced_until)
        return create, delete

    def apply(
        self,
        now_ms: int,
        new_secret: Callable[[], bytes],
        announced_until: Mapping[int, int] | None = None,
    ) -> tuple[list[int], list[int]]:
        """Create and delete prekeys per :meth:`plan`; return ``(created, deleted)``.

        ``new_secret`` returns a fresh 32-byte X25519 secret (from a CSPRNG). All
        new secrets are made and checked before the ring changes, so a failing
        ``new_secret`` leaves the ring as it was.
        """
        create, delete = self.plan(now_ms, announced_until)
        held = set(self.secrets.values())
        made: dict[int, bytes] = {}
        for epoch in create:
            secret = new_secret()
            if type(secret) is not bytes or len(secret) != _SECRET_BYTES:
                raise UsageError("new_secret must return a 32-byte X25519 secret")
            if secret in held:
                raise UsageError("new_secret returned a secret already in use; check its source")
            held.add(secret)
            made[epoch] = secret
        self.secrets.update(made)
        for epoch in delete:
            del self.secrets[epoch]
        return create, delete
