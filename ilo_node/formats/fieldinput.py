"""Message content given one field at a time: ``PATH=VALUE`` settings (the CLI's
``--set``) and single values typed at a prompt, converted to the types of a kind's
schema.

Setting syntax, for a kind's fields as ``docs/protocol.md`` lists them:

======================================  ==============================================
``title=Visa-free entry ends``          a field; the value is trimmed of surrounding
                                        whitespace
``contact.email=ilo@example.invalid``   a field inside a group of fields (a struct)
``origin_countries=NG,GH``              a list of scalars, comma-separated; an empty
                                        value is the empty list
``detection_features+=Ink, smudged``    append one item to a list of scalars, taken
                                        whole (commas and all)
``detection_features[1]=Ink``           set item 1 (0-based) of a list of scalars
``waypoints[0].country=IR``             a field of item 0 of a list of structs; items
                                        are created in order, so ``[N]`` may be at most
                                        the current length
``nationalities=``                      an empty list of structs
======================================  ==============================================

Values are converted by the field's type and nothing more: an ``Int`` from plain
decimal digits (a leading minus allowed), a ``Bool`` from yes/no, true/false or
1/0, an ``EnvelopeId`` or ``PublicKey`` from hex; dates, half-years, countries,
enum values and strings stay strings. Whether a value fits its field (a real date,
a known country code, a length) is the schema's to say: :func:`check_value` for one
value, the kind's ``validate`` for the whole content when the envelope is sealed.

Messages name paths and the expected form, never the value given: a setting may
hold personal data, and a setting that is not of the form ``PATH=VALUE`` may be
nothing but a value (an officer typing ``--set "Test Holder"``), so it is referred to
by its position.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ilo_node.errors import InputError
from protocol.errors import ContentError, UsageError
from protocol.kinds import kind_spec
from protocol.schema import (
    Bool,
    Bytes,
    Country,
    Date,
    Enum,
    EnvelopeId,
    Field,
    FieldType,
    HalfYear,
    Int,
    List,
    PublicKey,
    Str,
    Struct,
    validate_value,
)

__all__ = [
    "FieldPath",
    "apply_settings",
    "check_value",
    "field_label",
    "missing_required",
    "parse_value",
    "setting_example",
]

_NAME = r"[a-z][a-z0-9_]*"
# Indices have at most 6 digits: no list holds more than the decoder's container cap,
# and int() of a long digit string would be work for nothing.
_PATH = re.compile(rf"{_NAME}(?:\.{_NAME}|\[[0-9]{{1,6}}\])*")
_STEP = re.compile(rf"\.?({_NAME})|\[([0-9]+)\]")
# A path longer than this is no field path of any kind, and is not quoted back.
_MAX_PATH = 200
# ASCII digits only (Python's int() also reads other scripts' digits and '_'); 20
# digits hold every 64-bit integer, the widest msgpack carries.
_INT = re.compile(r"-?[0-9]{1,20}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_BOOLS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}

_KINDS_DOC = "The fields of each kind are in docs/protocol.md, 'Message kinds'."
_SETTING_ADVICE = (
    "Give each field as --set FIELD=VALUE: a dotted path reaches into a group of fields "
    "(contact.email=...), [N] into a list of them (waypoints[0].country=TR), a comma "
    "separates the items of a list (origin_countries=NG,GH) and += appends one item. " + _KINDS_DOC
)
_VALUE_ADVICE = "Give the value in the form the message names."


@dataclass(frozen=True)
class FieldPath:
    """A field of a kind at one place in the content.

    ``path`` is in setting syntax (``contact.email``, ``waypoints[1].country``);
    ``personal`` is true when the field or one that holds it is marked personal, so
    that its value is kept out of messages.
    """

    path: str
    field: Field
    personal: bool

    @property
    def type(self) -> FieldType:
        return self.field.type


def field_label(name: str) -> str:
    """The label a person reads for a field name: ``posting_city`` -> ``Posting city``."""
    return name.replace("_", " ").capitalize()


# -- one value ----------------------------------------------------------------------------


class _Unconvertible(Exception):
    """A text that is not of the form its type is written in (``form``, for a message)."""

    def __init__(self, form: str) -> None:
        super().__init__(form)
        self.form = form


def _is_scalar(field_type: FieldType) -> bool:
    return not isinstance(field_type, List | Struct)


def _convert_scalar(field_type: FieldType, text: str) -> Any:
    text = text.strip()
    if isinstance(field_type, Int):
        if _INT.fullmatch(text) is None:
            raise _Unconvertible("an integer in plain digits (a leading minus allowed)")
        return int(text)
    if isinstance(field_type, Bool):
        try:
            return _BOOLS[text.lower()]
        except KeyError:
            raise _Unconvertible("yes or no (or true/false, 1/0)") from None
    if isinstance(field_type, EnvelopeId | PublicKey | Bytes):
        if _HEX.fullmatch(text) is None:
            raise _Unconvertible("hexadecimal, two digits per byte")
        return bytes.fromhex(text)
    # Str, Text, Date, HalfYear, Country, Enum and any type added later are strings;
    # line endings as content files have them (jsoncontent does the same).
    return text.replace("\r\n", "\n")


def _split_items(text: str) -> list[str]:
    """The comma-separated items of a list value; an empty value is no items."""
    if not text.strip():
        return []
    return text.split(",")


def parse_value(field_type: FieldType, text: str, *, path: str = "value") -> Any:
    """The value ``text`` stands for in ``field_type``: converted, not yet checked.

    A list of scalars is written comma-separated. A struct or a list of structs is not
    one value: :class:`InputError`, as for a text its type cannot be read from.
    """
    if isinstance(field_type, Struct):
        raise InputError(
            f"{path} is a group of fields, not one value",
            f"Give its fields one by one, e.g. {setting_example(path, field_type)}.",
        )
    if isinstance(field_type, List):
        if not _is_scalar(field_type.item):
            raise InputError(
                f"{path} is a list of groups of fields, not one value",
                f"Give its items field by field, e.g. {setting_example(path, field_type)}.",
            )
        out = []
        for i, item in enumerate(_split_items(text)):
            try:
                out.append(_convert_scalar(field_type.item, item))
            except _Unconvertible as exc:
                raise InputError(
                    f"{path}[{i}]: expected {exc.form}, e.g. {_example_text(field_type.item)}",
                    _VALUE_ADVICE,
                ) from None
        return out
    try:
        return _convert_scalar(field_type, text)
    except _Unconvertible as exc:
        raise InputError(
            f"{path}: expected {exc.form}, e.g. {_example_text(field_type)}", _VALUE_ADVICE
        ) from None


def check_value(
    field_type: FieldType, value: object, *, path: str = "value", personal: bool = False
) -> Any:
    """``value`` validated against ``field_type`` alone, with the schema's own rules and
    message (which names the rule); :class:`InputError` if it does not fit.

    ``personal``: the value belongs to a field marked personal, so the message does not
    show it. The kind's cross-field checks need the whole content and are not run.
    """
    try:
        return validate_value(field_type, value, path, personal=personal)
    except ContentError as exc:
        raise InputError(exc.message, _VALUE_ADVICE) from None


# -- examples -----------------------------------------------------------------------------


def _format(field_type: FieldType, value: Any) -> str:
    """A value as it is written in a setting (the inverse of :func:`parse_value`)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple) and isinstance(field_type, List):
        return ",".join(_format(field_type.item, v) for v in value)
    return str(value)


def _example_text(field_type: FieldType) -> str:
    """An example value of ``field_type``, written as a setting would be."""
    if isinstance(field_type, List):
        # Two distinct items where the item type has them, to show the comma.
        if isinstance(field_type.item, Country):
            return "DE,FR"
        if isinstance(field_type.item, Enum):
            return ",".join(field_type.item.values[:2])
        return _example_text(field_type.item)
    # The schema's own example, so that a setting's hint and the schema's agree.
    maker = getattr(field_type, "example_value", None)
    if callable(maker):
        return _format(field_type, maker())
    if isinstance(field_type, Int):
        return str(min(max(12, field_type.min), field_type.max))
    if isinstance(field_type, Bool):
        return "yes"
    if isinstance(field_type, Date):
        return "2026-05-20"
    if isinstance(field_type, HalfYear):
        return "2026-H1"
    if isinstance(field_type, Country):
        return "DE"
    if isinstance(field_type, Enum):
        return field_type.values[0]
    if isinstance(field_type, EnvelopeId | PublicKey):
        return "0123456789abcdef" * 4
    if isinstance(field_type, Str) and field_type.pattern is not None:
        return "VALUE"  # no one text fits every pattern; the rule says what does
    return "text"


def setting_example(path: str, field_type: FieldType) -> str:
    """An example setting that reaches a value under ``path``: ``path=VALUE`` for a
    value, through the first field of a struct and item 0 of a list of structs."""
    if isinstance(field_type, Struct):
        first = field_type.fields[0]
        return setting_example(f"{path}.{first.name}", first.type)
    if isinstance(field_type, List) and not _is_scalar(field_type.item):
        return setting_example(f"{path}[0]", field_type.item)
    return f"{path}={_example_text(field_type)}"


# -- settings -----------------------------------------------------------------------------

_Step = str | int


def _parse_path(text: str) -> list[_Step] | None:
    if len(text) > _MAX_PATH or _PATH.fullmatch(text) is None:
        return None
    steps: list[_Step] = []
    for m in _STEP.finditer(text):
        steps.append(m[1] if m[1] is not None else int(m[2]))
    return steps


def _shown(steps: Sequence[_Step]) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


@dataclass
class _Setting:
    kind: str
    steps: list[_Step]
    append: bool
    text: str

    @property
    def path(self) -> str:
        return _shown(self.steps)

    def fail(self, problem: str, advice: str = _SETTING_ADVICE) -> InputError:
        return InputError(f"setting {self.path}: {problem}", advice)

    def upto(self, i: int) -> str:
        """The path of the first ``i`` steps."""
        return _shown(self.steps[:i])


_FIX_FILE = "Correct that field in the --file content, or leave it out there."


def _field_of(struct: Struct, setting: _Setting, i: int) -> Field:
    name = setting.steps[i]
    for f in struct.fields:
        if f.name == name:
            return f
    names = struct.names()
    where = setting.upto(i) or setting.kind
    problem = f"{where} has no field {name}"
    close = difflib.get_close_matches(str(name), names, n=1)
    if close:
        problem += f" (did you mean {close[0]}?)"
    raise setting.fail(problem, f"The fields of {where} are: {', '.join(names)}.")


def _get(container: dict[str, Any] | list[Any], key: _Step) -> Any:
    if isinstance(container, dict):
        return container.get(str(key))
    assert isinstance(key, int)
    return container[key] if key < len(container) else None


def _put(container: dict[str, Any] | list[Any], key: _Step, value: Any) -> None:
    if isinstance(container, dict):
        container[str(key)] = value
    else:
        assert isinstance(key, int)
        if key == len(container):
            container.append(value)
        else:
            container[key] = value


def _step_fits(here: FieldType, step: _Step, setting: _Setting, i: int) -> None:
    """Refuse step ``i`` if the value it goes into (of type ``here``) cannot take it."""
    if isinstance(step, str) and not isinstance(here, Struct):
        raise setting.fail(f"{setting.upto(i)} is a single value; it has no fields")
    if isinstance(step, int) and not isinstance(here, List):
        raise setting.fail(f"{setting.upto(i)} is not a list, so it has no item [{step}]")


def _apply(content: dict[str, Any], setting: _Setting) -> None:
    """Apply one setting to ``content`` in place, walking the schema beside it."""
    steps = setting.steps
    here: FieldType = Struct(kind_spec(setting.kind).fields)
    container: dict[str, Any] | list[Any] = content
    for i, step in enumerate(steps):
        # Resolve this step to the type of the value it reaches.
        _step_fits(here, step, setting, i)
        if isinstance(here, Struct):
            here = _field_of(here, setting, i).type
        else:
            assert isinstance(here, List) and isinstance(step, int)
            assert isinstance(container, list)
            if step > len(container):
                n = len(container)
                raise setting.fail(
                    f"{setting.upto(i)} holds {n} item(s), so the next one is "
                    f"{setting.upto(i)}[{n}]: items are created in order"
                )
            here = here.item
        if i == len(steps) - 1:
            _assign(container, step, here, setting)
            return
        # Descend, creating the group or the list that the next step goes into.
        _step_fits(here, steps[i + 1], setting, i + 1)
        into_map = isinstance(steps[i + 1], str)
        child = _get(container, step)
        if child is None:
            child = {} if into_map else []
            _put(container, step, child)
        elif not isinstance(child, dict if into_map else list):
            # Content from --file without the schema's shape here: not overwritten in
            # silence, since the setting was meant to change one value inside it.
            shape = "group of fields" if into_map else "list"
            raise setting.fail(
                f"the content given holds something other than a {shape} at {setting.upto(i + 1)}",
                _FIX_FILE,
            )
        container = child


def _assign(
    container: dict[str, Any] | list[Any], key: _Step, here: FieldType, setting: _Setting
) -> None:
    path = setting.path
    if isinstance(here, Struct):
        raise setting.fail(
            f"{path} is a group of fields, not one value",
            f"Set its fields one by one, e.g. --set {setting_example(path, here)}.",
        )
    if isinstance(here, List) and not _is_scalar(here.item):
        if not setting.append and not setting.text.strip():
            # The one value a list of groups can be given whole: none (a required
            # breakdown that has nothing to break down).
            _put(container, key, [])
            return
        raise setting.fail(
            f"{path} is a list of groups of fields, not one value",
            f"Set its items field by field, e.g. --set {setting_example(path, here)}.",
        )
    if setting.append:
        if not isinstance(here, List):
            raise setting.fail(
                f"{path} is not a list, so += cannot append to it",
                f"Write it as --set {path}=VALUE.",
            )
        items = _get(container, key)
        if items is None:
            items = []
            _put(container, key, items)
        elif not isinstance(items, list):
            raise setting.fail(
                f"the content given holds something other than a list at {path}", _FIX_FILE
            )
        items.append(_converted(here.item, setting.text, f"{path}[{len(items)}]", path + "+"))
        return
    if isinstance(here, List):
        value: Any = [
            _converted(here.item, item, f"{path}[{j}]", path)
            for j, item in enumerate(_split_items(setting.text))
        ]
    else:
        value = _converted(here, setting.text, path, path)
    _put(container, key, value)


def _converted(field_type: FieldType, text: str, where: str, example_path: str) -> Any:
    try:
        return _convert_scalar(field_type, text)
    except _Unconvertible as exc:
        example = f"{example_path}={_example_text(field_type)}"
        raise InputError(
            f"setting {where}: expected {exc.form}, e.g. {example}",
            "Write the value in the form shown. " + _KINDS_DOC,
        ) from None


def _parse_setting(kind: str, number: int, raw: str) -> _Setting:
    if not isinstance(raw, str):
        raise UsageError(f"setting {number} is a {type(raw).__name__}, not a string")
    path_text, equals, text = raw.partition("=")
    if not equals:
        # Possibly nothing but a value: referred to by position, never quoted.
        raise InputError(f"setting {number} has no '=': expected FIELD=VALUE", _SETTING_ADVICE)
    path_text = path_text.strip()
    append = path_text.endswith("+")
    if append:
        path_text = path_text[:-1].rstrip()
    steps = _parse_path(path_text)
    if steps is None:
        raise InputError(
            f"setting {number}: the part before '=' is not a field path such as "
            "title, contact.email or waypoints[0].country",
            _SETTING_ADVICE,
        )
    return _Setting(kind, steps, append, text)


def apply_settings(
    kind: str, content: Mapping[str, Any], settings: Sequence[str]
) -> dict[str, Any]:
    """``content`` (e.g. from ``--file``) with each ``PATH=VALUE`` setting applied in
    order, so that a setting overrides the file and a later setting an earlier one.

    Values are converted to their field's type (see the module's docstring); the
    content as a whole is not validated. ``content`` itself is not changed. An unknown
    path, a setting not of the form ``PATH=VALUE``, a list item out of order or a
    value its type cannot be read from is an :class:`InputError` naming the path and
    the expected form.
    """
    if isinstance(settings, str):
        raise UsageError("settings must be a sequence of PATH=VALUE strings, not one string")
    if not isinstance(content, Mapping):
        raise InputError(
            f"the {kind} content must be a JSON object of its fields",
            "See docs/protocol.md, 'Message kinds'.",
        )
    kind_spec(kind)  # an unknown kind is reported as such, before any setting
    out: dict[str, Any] = copy.deepcopy(dict(content))
    for number, raw in enumerate(settings, start=1):
        _apply(out, _parse_setting(kind, number, raw))
    return out


# -- what is missing ----------------------------------------------------------------------


def missing_required(kind: str, content: Mapping[str, Any]) -> list[FieldPath]:
    """The required fields ``content`` still lacks, in declaration order: those of the
    kind, then, where a struct (or a list of them) is present, those inside it.

    A field whose value is ``None`` (JSON ``null``) counts as missing: an officer's
    template may leave fields as null to be filled in.
    """
    out: list[FieldPath] = []
    if isinstance(content, Mapping):
        _missing_in(kind_spec(kind).fields, content, "", False, out)
    return out


def _missing_in(
    fields: Sequence[Field],
    value: Mapping[str, Any],
    prefix: str,
    personal: bool,
    out: list[FieldPath],
) -> None:
    for f in fields:
        path = prefix + f.name
        inner = personal or f.personal
        item = value.get(f.name)
        if item is None:
            if f.required:
                out.append(FieldPath(path, f, inner))
            continue
        _missing_below(f.type, item, path, inner, out)


def _missing_below(
    field_type: FieldType, value: Any, path: str, personal: bool, out: list[FieldPath]
) -> None:
    # A value of the wrong shape is the schema's to report, not a missing field.
    if isinstance(field_type, Struct) and isinstance(value, Mapping):
        _missing_in(field_type.fields, value, path + ".", personal, out)
    elif isinstance(field_type, List) and isinstance(value, list):
        for i, item in enumerate(value):
            _missing_below(field_type.item, item, f"{path}[{i}]", personal, out)
