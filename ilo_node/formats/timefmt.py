"""Times as operators type them and as the protocol carries them (UTC milliseconds)."""

from __future__ import annotations

import datetime as dt

from protocol.errors import UsageError

__all__ = ["MAX_TIME_MS", "format_duration", "format_ms", "parse_time"]


#: Latest time accepted: the end of year 9999, where ISO dates end. Times are stored
#: and signed as 64-bit integers; a larger number used to fail far from where it was typed.
MAX_TIME_MS = 253_402_300_799_999


def parse_time(text: str, now_ms: int) -> int:
    """'now', a date '2026-11-28' (midnight UTC), an ISO time, or milliseconds since 1970."""
    value = text.strip()
    if value == "now":
        return now_ms
    # isascii: str.isdigit() is also true of other scripts' digits and of superscripts,
    # which int() then refuses with a ValueError.
    if value.isascii() and value.isdigit():
        if len(value) > 15 or int(value) > MAX_TIME_MS:
            raise UsageError(
                f"time {value[:20]!r} is after the year 9999",
                "Give milliseconds since 1970, e.g. 1795000000000, or a date.",
            )
        return int(value)
    try:
        if len(value) == 10:
            moment = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise UsageError(
                    f"time {value!r} has no time zone",
                    "Add 'Z' for UTC, for example 2026-11-28T14:30:00Z.",
                )
    except ValueError:
        raise UsageError(
            f"cannot read {value!r} as a time",
            "Use 'now', a date such as 2026-11-28, or an ISO time such as 2026-11-28T14:30:00Z.",
        ) from None
    return int(moment.timestamp() * 1000)


def format_ms(time_ms: int) -> str:
    try:
        moment = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        # A signed document may carry any 64-bit time; show it rather than fail.
        return f"{time_ms} ms"
    if moment.hour == moment.minute == moment.second == 0 and moment.microsecond == 0:
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def format_duration(seconds: int) -> str:
    """``"12 s"``, ``"5 min"``, ``"3 h"`` or ``"4 days"``: rounded down to one unit."""
    seconds = max(0, seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 3 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
