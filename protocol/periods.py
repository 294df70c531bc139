"""Half-years, the reporting periods of the ILO networks: H1 is January to June, H2 July
to December, in UTC (Regulation (EC) 377/2004, Art. 6)."""

from __future__ import annotations

import datetime as dt
import re

from .errors import UsageError

__all__ = ["half_year_bounds", "half_year_of"]

_HALF_YEAR = re.compile(r"([0-9]{4})-H([12])")


def half_year_of(time_ms: int) -> str:
    """The half-year ('2026-H2') a UTC time in milliseconds falls in."""
    moment = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    return f"{moment.year}-H{1 if moment.month <= 6 else 2}"


def half_year_bounds(half_year: str) -> tuple[int, int]:
    """``(start, end)`` of a half-year in UTC milliseconds, the end excluded."""
    match = _HALF_YEAR.fullmatch(half_year)
    if match is None or int(match[1]) < 1970:
        raise UsageError(
            f"{half_year[:20]!r} is not a half-year",
            "Write it as YEAR-H1 (January to June) or YEAR-H2 (July to December), e.g. 2026-H2.",
        )
    year, half = int(match[1]), int(match[2])
    start = dt.datetime(year, 1 if half == 1 else 7, 1, tzinfo=dt.UTC)
    if half == 1:
        end_ms = _ms(dt.datetime(year, 7, 1, tzinfo=dt.UTC))
    elif year < 9999:
        end_ms = _ms(dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC))
    else:  # the year 10000 has no datetime: the last millisecond of 9999, plus one
        end_ms = _ms(dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)) + 1
    return _ms(start), end_ms


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _ms(moment: dt.datetime) -> int:
    # In integers: a float timestamp times 1000 can land one millisecond short.
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)
