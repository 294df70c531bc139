"""A checked message as people and scripts read it.

Everything here is derived from a :class:`~ilo_node.client.reading.ReadMessage`,
that is from what the author signed and the officer's side verified: the labels
come from the kind's schema, countries are named from their code, times are
shown in ISO form in local time and UTC.

Fields marked personal in the schema (names, document numbers, contact details)
are shown to the officer at the terminal; in JSON they are left out unless the
caller asks for them (``include_personal``), and the paths left out are listed so
that a script knows something was withheld.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ilo_node.client.reading import ReadMessage, Reference
from ilo_node.formats.fieldinput import field_label
from ilo_node.formats.jsoncontent import content_to_json
from ilo_node.formats.personal import personal_removed
from keys.decide import Outcome
from protocol.countries import COUNTRY_NAMES
from protocol.envelope import HANDLING_MEANINGS
from protocol.evaluation import (
    ACCURACY_FIELD,
    INFORMATION_ACCURACY,
    SOURCE_FIELD,
    SOURCE_RELIABILITY,
)
from protocol.identifiers import split_node_id
from protocol.kinds import kind_spec
from protocol.schema import Country, Date, Enum, Field, FieldType, HalfYear, List, Str, Struct

__all__ = [
    "InboxRow",
    "content_lines",
    "country_name",
    "inbox_row",
    "message_json",
    "message_lines",
    "times",
]


def times(time_ms: int) -> str:
    """``2026-12-01 20:15:03 CET (19:15:03 UTC)``: local time first, UTC after."""
    try:
        utc = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        return f"{time_ms} ms"
    local = utc.astimezone()
    if local.utcoffset() == dt.timedelta(0):
        return utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{local.strftime('%Y-%m-%d %H:%M:%S %Z')} ({utc.strftime('%H:%M:%S UTC')})"


def iso_utc(time_ms: int) -> str:
    """For JSON: ``2026-12-01T19:15:03.120Z``."""
    try:
        moment = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        return str(time_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def country_name(code: str) -> str:
    names = COUNTRY_NAMES.get(code)
    return f"{names[0]} ({code})" if names else code


def host_of(node: str) -> str:
    parts = split_node_id(node)
    return parts[1] if parts else ""


# -- JSON --------------------------------------------------------------------------------


def _reference_json(ref: Reference) -> dict[str, Any]:
    return {
        "id": ref.envelope_id.hex(),
        "relation": ref.relation,
        "by": ref.author,
        "at": iso_utc(ref.created_ms),
        "reason": ref.reason,
        **({"readers_added": list(ref.recipients)} if ref.recipients else {}),
    }


def message_json(message: ReadMessage, *, include_personal: bool = False) -> dict[str, Any]:
    header = message.header
    content: Any = None
    withheld: list[str] = []
    if message.content is not None:
        shown = message.content
        if not include_personal:
            shown, withheld = personal_removed(header.kind, message.content)
        content = content_to_json(shown)
    return {
        "id": message.envelope_id.hex(),
        "kind": header.kind,
        "author": {
            "officer": header.author_officer,
            "node": header.author_node,
            "key": header.author_key.hex(),
            "signature": "valid",
            "key_status": message.author.outcome.value,
            "key_detail": message.author.reason,
        },
        "host_country": host_of(header.author_node),
        "created": iso_utc(header.created_ms),
        "received": iso_utc(message.received_ms) if message.received_ms else None,
        "seq": header.seq,
        "distribution": header.distribution,
        "readers": list(message.readers),
        "handling": {"code": header.handling, "meaning": HANDLING_MEANINGS[header.handling]},
        "refers_to": None
        if header.refers_to is None
        else {"relation": header.refers_to[0], "id": header.refers_to[1].hex()},
        "log_index": message.index,
        "position": message.position,
        "read": message.read_ms is not None,
        "retracted": message.retracted,
        "corrected": bool(message.corrections),
        "retractions": [_reference_json(r) for r in message.retractions],
        "corrections": [_reference_json(r) for r in message.corrections],
        "withdrawals": [_reference_json(r) for r in message.withdrawals],
        "content": content,
        "content_problem": message.problem,
        "personal_withheld": withheld,
    }


# -- for people -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    short_id: str
    when: str
    kind: str
    author: str
    host: str
    state: str  # new, read, RETRACTED, corrected
    title: str


def _title(message: ReadMessage) -> str:
    """A few words to tell messages apart in a listing: the first text field that is not
    personal (a title, a route's or a carrier's name), else the first two coded values
    (a forged document's type and issuing country)."""
    content = message.content or {}
    fields = [f for f in kind_spec(message.header.kind).fields if not f.personal]
    for f in fields:
        value = content.get(f.name)
        if isinstance(f.type, Str) and isinstance(value, str):
            return value if len(value) <= 60 else value[:59] + "…"
    coded = [
        str(content[f.name])
        for f in fields
        if isinstance(f.type, Enum | Country | Date | HalfYear) and f.name in content
    ]
    return ", ".join(coded[:2])


def inbox_row(message: ReadMessage, me: tuple[str, str] | None = None) -> InboxRow:
    """One line of a listing; ``me`` (node, officer) marks the reader's own messages."""
    header = message.header
    if message.withdrawals:
        state = "WITHDRAWN"
    elif message.retractions:
        state = "RETRACTED"
    elif message.corrections:
        state = "corrected"
    elif me is not None and (header.author_node, header.author_officer) == me:
        state = "yours"
    else:
        state = "read" if message.read_ms is not None else "new"
    local = times(header.created_ms).split(" (")[0]
    return InboxRow(
        message.envelope_id.hex()[:12],
        local,
        header.kind,
        message.author_label,
        host_of(header.author_node),
        state,
        _title(message),
    )


def _decision_line(message: ReadMessage) -> str:
    decision = message.author
    role = "node" if message.header.author_officer is None else "officer"
    if decision.outcome is Outcome.ACCEPT:
        return f"valid; {role} key {decision.reason}"
    return f"valid, but the {role} key is not accepted here: {decision.reason}"


def _ref_line(ref: Reference, verb: str) -> str:
    reason = f": {ref.reason}" if ref.reason else ""
    return (
        f"{verb} by {ref.author} on {times(ref.created_ms)} ({ref.envelope_id.hex()[:16]}){reason}"
    )


def message_lines(message: ReadMessage) -> list[str]:
    """The whole message for the officer at the terminal, personal fields included."""
    header = message.header
    spec = kind_spec(header.kind)
    lines = [
        f"{field_label(header.kind)}  {message.envelope_id.hex()}",
    ]
    for ref in message.retractions:
        lines.append("RETRACTED " + _ref_line(ref, "retracted"))
    for ref in message.withdrawals:
        lines.append("WITHDRAWN " + _ref_line(ref, "withdrawn"))
    for ref in message.corrections:
        lines.append("CORRECTED " + _ref_line(ref, "corrected") + " — show that id")
    lines += [
        f"  author:       {message.author_label}",
        f"  signature:    {_decision_line(message)}",
        f"  written:      {times(header.created_ms)}",
    ]
    if message.received_ms:
        lines.append(f"  received:     {times(message.received_ms)}")
    lines += [
        f"  distribution: {header.distribution}; readable by {', '.join(message.readers)}",
        f"  handling:     {header.handling}: {HANDLING_MEANINGS[header.handling]}",
    ]
    if header.refers_to is not None:
        lines.append(f"  {header.refers_to[0]}:     {header.refers_to[1].hex()}")
    if message.position is not None:
        lines.append(f"  log:          {message.position}")
    lines.append("")
    if message.content is None:
        lines.append(f"  content cannot be shown: {message.problem}")
        return lines
    lines += list(_field_lines(spec.fields, message.content, 1))
    return lines


def _field_lines(fields: Sequence[Field], content: dict[str, Any], depth: int) -> Iterator[str]:
    pad = "  " * depth
    for f in fields:
        if f.name not in content:
            continue
        label = field_label(f.name) + (" [personal]" if f.personal else "")
        value = content[f.name]
        if isinstance(f.type, Struct) and isinstance(value, dict):
            yield f"{pad}{label}:"
            yield from _field_lines(f.type.fields, value, depth + 1)
        elif isinstance(f.type, List) and isinstance(f.type.item, Struct):
            yield f"{pad}{label}:"
            for i, item in enumerate(value, start=1):
                yield f"{pad}  {i}."
                yield from _field_lines(f.type.item.fields, item, depth + 2)
        elif isinstance(f.type, List):
            shown = [_scalar(f.type.item, v) for v in value]
            yield f"{pad}{label}: {', '.join(shown)}"
        else:
            text = _scalar(f.type, value, f.name)
            if "\n" in text:
                yield f"{pad}{label}:"
                yield from (f"{pad}  {line}" for line in text.splitlines())
            else:
                yield f"{pad}{label}: {text}"


def _scalar(field_type: FieldType, value: Any, name: str = "") -> str:
    if isinstance(field_type, Country) and isinstance(value, str):
        return country_name(value)
    if name == SOURCE_FIELD and value in SOURCE_RELIABILITY:
        return f"{value} ({SOURCE_RELIABILITY[value]})"
    if name == ACCURACY_FIELD and value in INFORMATION_ACCURACY:
        return f"{value} ({INFORMATION_ACCURACY[value]})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def content_lines(kind: str, content: dict[str, Any]) -> list[str]:
    """The fields of ``content`` with their labels, as ``show`` prints them."""
    return list(_field_lines(kind_spec(kind).fields, content, 1))
