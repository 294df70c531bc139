"""Times as operators type them and as the protocol carries them (UTC milliseconds)."""

from __future__ import annotations

import datetime as dt

from protocol.errors import UsageError

__all__ = ["format_ms", "parse_time"]


def parse_time(text: str, now_ms: int) -> int:
    """'now', a date '2026-11-28' (midnight UTC), an ISO time, or milliseconds since 1970."""
    value = text.strip()
    if value == "now":
        return now_ms
    if value.isdigit():
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
    moment = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    if moment.hour == moment.minute == moment.second == 0 and moment.microsecond == 0:
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
