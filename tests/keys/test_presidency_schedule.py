"""The roster's Presidency schedule: one Member State per half-year, without a gap.

A half-year with nobody holding the Presidency would have nobody to collect the
local networks' contributions, and two for one half-year would make "the
Presidency" ambiguous; both are refused when the roster is read, as a table of
named cases (ROSTER_SCHEMA is what every roster, made or received, is checked by).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from keys.documents import ROSTER_SCHEMA, half_year_of
from protocol.errors import ContentError
from tests.support import trustkit as tk


@dataclass(frozen=True)
class Case:
    schedule: tuple[tuple[str, str], ...]
    refused: str | None  # words of the error, or None when the schedule is accepted


CASES = {
    "consecutive half-years across a year end": Case(
        (("2026-H2", "IE"), ("2027-H1", "LT"), ("2027-H2", "GR")), None
    ),
    "listed out of order, still consecutive": Case(
        (("2027-H1", "LT"), ("2026-H2", "IE"), ("2027-H2", "GR")), None
    ),
    "one half-year only": Case((("2026-H2", "IE"),), None),
    "a missing half-year": Case(
        (("2026-H2", "IE"), ("2027-H2", "GR")),
        "no Member State holds the Presidency between 2026-H2 and 2027-H2",
    ),
    "a missing year": Case(
        (("2026-H1", "CY"), ("2026-H2", "IE"), ("2028-H1", "IT")),
        "between 2026-H2 and 2028-H1",
    ),
    "a half-year listed twice": Case(
        (("2026-H2", "IE"), ("2026-H2", "DE"), ("2027-H1", "LT")),
        "2026-H2 listed twice; expected one Member State per half-year",
    ),
    "a party that is not a Member State": Case(
        (("2026-H2", "IE"), ("2027-H1", "TR")), "TR is not an EU Member State"
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_presidency_schedule(name: str) -> None:
    case = CASES[name]
    payload = tk.roster_payload(presidency=[{"half_year": h, "party": p} for h, p in case.schedule])
    if case.refused is None:
        ROSTER_SCHEMA.validate(payload)
        return
    with pytest.raises(ContentError, match=case.refused):
        ROSTER_SCHEMA.validate(payload)


@pytest.mark.parametrize(
    ("time_ms", "half_year"),
    [
        (1_767_225_599_999, "2025-H2"),  # 2025-12-31T23:59:59.999Z
        (1_767_225_600_000, "2026-H1"),  # 2026-01-01T00:00:00Z
        (1_782_863_999_999, "2026-H1"),  # 2026-06-30T23:59:59.999Z
        (1_782_864_000_000, "2026-H2"),  # 2026-07-01T00:00:00Z
    ],
)
def test_half_years_turn_at_midnight_utc(time_ms: int, half_year: str) -> None:
    assert half_year_of(time_ms) == half_year
