"""Asking an officer at a terminal for the fields a message still lacks.

``publish`` takes fields from ``--file`` and ``--set`` first; what is still missing is
asked for here, one field at a time, each with its label, its rule and, for a choice,
the values allowed. A value is checked as soon as it is typed, with the schema's own
message, and asked again until it fits: a typo never throws away what was already
typed. The kind's cross-field checks (an end date not before its start) need the
whole content and run when the envelope is sealed.

Prompts and messages go to standard error, so that standard output carries only the
command's result (``--json``). When standard input or output is not a terminal
nothing is asked: a script gets one :class:`~ilo_node.errors.InputError` that lists
every missing field. Ctrl-C or Ctrl-D at any prompt raises :class:`click.Abort`,
which the command group ends with ``aborted`` and exit status 130.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final, TextIO

import click

from ilo_node.errors import InputError
from ilo_node.formats.fieldinput import (
    check_value,
    field_label,
    missing_required,
    parse_value,
    setting_example,
)
from protocol.kinds import kind_spec
from protocol.schema import Bool, Country, Enum, Field, FieldType, List, Str, Struct, Text

__all__ = ["confirm_send", "interactive", "prompt_missing"]


class _Skip:
    """An optional field the officer left empty."""


_SKIP: Final = _Skip()


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # a closed stream
        return False


def interactive() -> bool:
    """Whether a person can be asked: standard input and output are both terminals."""
    return _is_terminal(sys.stdin) and _is_terminal(sys.stdout)


def _say(text: str = "") -> None:
    click.echo(text, err=True)


def _read(text: str) -> str:
    """One line typed at the prompt ``text``, stripped; Ctrl-C or Ctrl-D: ``Abort``."""
    try:
        answer: str = click.prompt(text, default="", show_default=False, err=True)
    except click.Abort:
        _say()  # end the prompt's line, so the app's "aborted" starts on its own
        raise
    return answer.strip()


def _yes(text: str) -> bool:
    """Yes or no, no when Enter alone; Ctrl-C or Ctrl-D: ``Abort``."""
    return _confirm(text, default=False)


def _yes_default(text: str) -> bool:
    return _confirm(text, default=True)


def _confirm(text: str, *, default: bool) -> bool:
    try:
        return click.confirm(text, default=default, err=True)
    except click.Abort:
        _say()
        raise


def _split_text(field_type: FieldType, value: Any) -> bool:
    """Whether ``value`` is a list of free strings that a comma split into several."""
    return (
        isinstance(field_type, List)
        and isinstance(field_type.item, Str | Text)
        and isinstance(value, list)
        and len(value) > 1
    )


def prompt_missing(
    kind: str, content: Mapping[str, Any], *, include_optional: bool = False
) -> dict[str, Any]:
    """``content`` with every missing required field (and every missing optional one
    if ``include_optional``) asked for at the terminal, in declaration order.

    Not at a terminal, nothing is asked: if a required field is missing, one
    :class:`InputError` names them all. ``content`` itself is not changed.
    """
    spec = kind_spec(kind)
    if not isinstance(content, Mapping):
        raise InputError(
            f"the {kind} content must be a JSON object of its fields",
            "See docs/protocol.md, 'Message kinds'.",
        )
    if not interactive():
        missing = missing_required(kind, content)
        if missing:
            paths = ", ".join(m.path for m in missing)
            fields = "field is" if len(missing) == 1 else "fields are"
            raise InputError(
                f"{kind}: {len(missing)} required {fields} missing: {paths}",
                "Give them in the --file content or as --set FIELD=VALUE (e.g. --set "
                f"{setting_example(missing[0].path, missing[0].type)}), or run the command "
                "at a terminal to be asked for each.",
            )
        return copy.deepcopy(dict(content))
    out: dict[str, Any] = copy.deepcopy(dict(content))
    _Asker(include_optional).fill(spec.fields, out, "", personal=False)
    return out


def confirm_send(summary: str) -> bool:
    """Show ``summary`` and ask whether to send it (the answer defaults to no).

    Needs a terminal: a script that cannot answer gets an :class:`InputError` rather
    than a message sent, or not sent, without anyone deciding.
    """
    if not interactive():
        raise InputError(
            "cannot ask whether to send: standard input or output is not a terminal",
            "Run the command at a terminal, or give the option that sends without asking.",
        )
    _say(summary)
    return _yes("Send?")


# -- one field at a time -------------------------------------------------------------------


def _choices(values: Sequence[str]) -> list[str]:
    return [f"  {i:>2}) {v}" for i, v in enumerate(values, start=1)]


def _extra(country: Country) -> str:
    return f", or {', '.join(country.extra)}" if country.extra else ""


def _rule_lines(field_type: FieldType) -> list[str]:
    """What a value of ``field_type`` must be, as lines under the field's heading."""
    if isinstance(field_type, Enum):
        return ["one of (type the value or its number):", *_choices(field_type.values)]
    if isinstance(field_type, Country):
        return [f"ISO code, e.g. DE{_extra(field_type)}"]
    if isinstance(field_type, Bool):
        return ["yes or no"]
    if isinstance(field_type, Struct):
        return [f"a group of fields: {', '.join(field_type.names())}"]
    if isinstance(field_type, List):
        item = field_type.item
        distinct = ", distinct" if field_type.unique else ""
        if field_type.unique_by:
            distinct = f", one per {field_type.unique_by}"
        count = f"{field_type.min_items}..{field_type.max_items} items{distinct}"
        if isinstance(item, Struct):
            return [f"a list of {count}, each with: {', '.join(item.names())}"]
        if isinstance(item, Enum):
            return [
                f"{count}, comma-separated, each one of (values or numbers):",
                *_choices(item.values),
            ]
        if isinstance(item, Country):
            return [f"{count}, comma-separated ISO codes, e.g. DE,FR{_extra(item)}"]
        return [f"{count}, comma-separated, each: {item.describe()}"]
    return [field_type.describe()]


def _numbered(field_type: FieldType, text: str) -> str:
    """``text`` with choice numbers (``3``, or ``1,3`` for a list) replaced by the
    values they stand for; enum values are identifiers, so a number is never one."""
    if isinstance(field_type, Enum):
        return _choice(field_type.values, text)
    if isinstance(field_type, List) and isinstance(field_type.item, Enum):
        values = field_type.item.values
        return ",".join(_choice(values, part) for part in text.split(","))
    return text


def _choice(values: Sequence[str], text: str) -> str:
    token = text.strip()
    if token.isascii() and token.isdigit() and 1 <= int(token) <= len(values):
        return values[int(token) - 1]
    return text


class _Asker:
    def __init__(self, include_optional: bool) -> None:
        self.include_optional = include_optional

    def fill(
        self, fields: Sequence[Field], group: dict[str, Any], prefix: str, *, personal: bool
    ) -> None:
        """Ask for the fields of ``group`` that are missing, and for those missing
        inside the groups and lists it already has."""
        for f in fields:
            path = prefix + f.name
            inner = personal or f.personal
            present = group.get(f.name)
            if present is not None:
                self._inside(f.type, present, path, inner)
                continue
            if not f.required and not self.include_optional:
                continue
            value = self._ask(f, path, inner)
            if not isinstance(value, _Skip):
                group[f.name] = value

    def _inside(self, field_type: FieldType, value: Any, path: str, personal: bool) -> None:
        # Values of the wrong shape are left to the schema, which says what is wrong.
        if isinstance(field_type, Struct) and isinstance(value, dict):
            self.fill(field_type.fields, value, path + ".", personal=personal)
        elif isinstance(field_type, List) and isinstance(value, list):
            for i, item in enumerate(value):
                self._inside(field_type.item, item, f"{path}[{i}]", personal)

    def _heading(self, f: Field, path: str, personal: bool) -> None:
        notes = [path]
        if not f.required:
            notes.append("optional, Enter to skip")
        elif isinstance(f.type, List) and f.type.min_items == 0:
            notes.append("Enter for none")
        if personal:
            notes.append("personal data")
        _say()
        _say(f"{field_label(f.name)} ({', '.join(notes)})")
        if f.doc:
            _say(f"  {f.doc}")
        for line in _rule_lines(f.type):
            _say(f"  {line}")

    def _ask(self, f: Field, path: str, personal: bool) -> Any:
        self._heading(f, path, personal)
        label = field_label(f.name)
        if isinstance(f.type, Struct):
            if not f.required and not _yes(f"Add {label.lower()}?"):
                return _SKIP
            group: dict[str, Any] = {}
            self.fill(f.type.fields, group, path + ".", personal=personal)
            return group
        if isinstance(f.type, List) and isinstance(f.type.item, Struct):
            return self._ask_items(f, f.type, f.type.item, path, personal)
        return self._ask_value(f, path, personal)

    def _ask_value(self, f: Field, path: str, personal: bool) -> Any:
        label = field_label(f.name)
        if isinstance(f.type, List):
            label += " (comma-separated)"
        while True:
            text = _read(label)
            if not text and not f.required:
                return _SKIP
            # An empty answer to a required field goes through the same checks: the
            # schema says what is wanted ("must not be empty", "too few items").
            try:
                value = parse_value(f.type, _numbered(f.type, text), path=path)
                value = check_value(f.type, value, path=path, personal=personal)
            except InputError as exc:
                _say(f"  {exc.message}; try again")
                continue
            if _split_text(f.type, value) and not self._items_meant(value):
                continue
            return value

    @staticmethod
    def _items_meant(items: list[str]) -> bool:
        # Phrases such as detection features may hold a comma of their own: show how
        # the answer was split, so that one phrase does not become two unseen.
        _say(f"  {len(items)} items:")
        for i, item in enumerate(items, start=1):
            _say(f"    {i}) {item}")
        return _yes_default("Keep these items?")

    def _ask_items(
        self, f: Field, of: List, item: Struct, path: str, personal: bool
    ) -> list[dict[str, Any]] | _Skip:
        label = field_label(f.name)
        items: list[dict[str, Any]] = []
        if of.min_items == 0 and not _yes(f"Add an item to {label.lower()}?"):
            return [] if f.required else _SKIP
        while True:
            _say(f"{label}, item {len(items) + 1}:")
            entry: dict[str, Any] = {}
            self.fill(item.fields, entry, f"{path}[{len(items)}].", personal=personal)
            items.append(entry)
            if len(items) >= of.max_items:
                _say(f"  {label} holds at most {of.max_items} items")
                return items
            if len(items) >= of.min_items and not _yes("Add another?"):
                return items
