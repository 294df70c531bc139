"""A node home's prekeys kept on a schedule (ilo_node/home/prekeyfiles.py): what a round
creates, announces and deletes on disk, and that changing the schedule never deletes a
prekey before the end of the window it was announced for, plus the grace."""

from __future__ import annotations

from pathlib import Path

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.home.home import Home, now_ms
from ilo_node.home.keyfiles import read_private_key
from ilo_node.home.prekeyfiles import delete_all_prekeys, maintain_prekeys
from keys.prekeys import WEEK_MS, PrekeySchedule

PASS = b"prekey files test passphrase"
#: Epochs of four seconds, due one second ahead, secrets kept two seconds after.
SHORT = PrekeySchedule(epoch_ms=4000, grace_ms=2000, lead_ms=1000)


def _built(tmp_path: Path) -> BuiltNetwork:
    return build_network(tmp_path / "net", ["COM@EU", "DE@TR"], passphrase=PASS)


def _epochs(home: Home) -> list[int]:
    return sorted(int(p.stem) for p in home.prekey_dir.glob("*.key"))


def test_a_short_schedule_creates_announces_and_deletes_on_disk(tmp_path: Path) -> None:
    home = _built(tmp_path).nodes["DE@TR"]
    signing = home.signing_key(PASS)
    weekly = _epochs(home)  # what the network was built with
    trust = home.trust_state()
    start = now_ms()
    first = maintain_prekeys(home, signing, PASS, trust, start, "interactive", SHORT)
    assert first.created == SHORT.epochs_to_hold(start)
    assert first.announced == first.created and len(first.announcements) == len(first.created)
    assert first.not_announced is None
    # The weekly prekey was announced for this week: a shorter schedule keeps it.
    assert first.deleted == [] and set(weekly) <= set(first.held)
    assert first.next_change_ms is not None and first.next_change_ms > start
    created = dict(zip(first.created, first.created_keys, strict=True))

    # Two epochs and the grace later the first short prekey is gone from the disk.
    later = SHORT.deletion_time(first.created[0])
    second = maintain_prekeys(home, signing, PASS, trust, later, "interactive", SHORT)
    assert first.created[0] in second.deleted
    assert created[first.created[0]] in second.deleted_publics
    assert first.created[0] not in _epochs(home) and first.created[0] not in second.held
    for epoch in second.held:
        # Every file left opens, and none of them is the deleted key.
        key = read_private_key(home.prekey_dir / f"{epoch}.key", PASS)
        assert key.public not in second.deleted_publics
    # The weekly one still waits for the end of its announced week, plus the grace.
    assert set(weekly) <= set(second.held)
    week_end = (start // WEEK_MS + 1) * WEEK_MS
    third = maintain_prekeys(
        home, signing, PASS, trust, week_end + SHORT.grace_ms, "interactive", SHORT
    )
    # Late in a week the network was also built with next week's prekey (announced
    # ahead): that one waits for the end of its own week.
    this_week = {e for e in weekly if e <= start // WEEK_MS}
    assert this_week and this_week <= set(third.deleted)
    assert not this_week & set(_epochs(home))
    assert set(weekly) - this_week <= set(third.held)


def test_without_announcements_the_schedule_alone_decides(tmp_path: Path) -> None:
    """A home with no roster pinned knows no announcement: only the epoch's own window
    counts (and nothing is announced)."""
    home = _built(tmp_path).nodes["COM@EU"]
    weekly = _epochs(home)
    changes = maintain_prekeys(
        home, home.signing_key(PASS), PASS, None, now_ms(), "interactive", SHORT
    )
    assert changes.deleted == weekly  # under 4-second epochs the weekly number is 1970's
    assert changes.not_announced == "no roster is pinned yet" and not changes.announcements


def test_replacing_deletes_every_prekey(tmp_path: Path) -> None:
    home = _built(tmp_path).nodes["DE@TR"]
    held = _epochs(home)
    epochs, publics = delete_all_prekeys(home)
    assert epochs == held and len(publics) == len(held)
    assert _epochs(home) == []
