"""What an officer needs to write the content of a message kind: every field with its
rule, and a JSON skeleton that ``ilo-node publish KIND --file`` accepts as it is.

The description is read from the kind's schema (``protocol/kinds.py``), so it
cannot drift from what validation enforces; the skeleton starts from the kind's
example content (``protocol/examples.py``), realistic where it exists, and every
optional field it leaves out is filled in from the field type's own example, so
that the skeleton shows every field there is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ilo_node.formats.jsoncontent import content_to_json
from protocol.errors import ContentError
from protocol.examples import EXAMPLES, example
from protocol.kinds import kind_spec
from protocol.schema import Country, Enum, Field, FieldType, KindSpec, List, Struct

__all__ = ["FieldLine", "KindTemplate", "kind_template", "skeleton_json", "template_text"]


@dataclass(frozen=True)
class FieldLine:
    """One field of a kind, nested ones included."""

    #: Dotted path: ``contact.email``; a list's items are ``[]``: ``nationalities[].count``.
    path: str
    #: Required where its parent is present (a field of an optional map is needed
    #: only when the map is given).
    required: bool
    #: The field type's ``describe()``.
    rule: str
    #: Allowed values of an enum or country field (or of a list's items), else "".
    allowed: str
    #: Personal data (8.3 of docs/protocol.md): itself, or inside a personal field.
    personal: bool
    doc: str


@dataclass(frozen=True)
class KindTemplate:
    kind: str
    doc: str
    fields: tuple[FieldLine, ...]
    #: Valid content, as JSON values (byte strings as ``{"$bytes": hex}``).
    skeleton: dict[str, Any]


def _innermost(field_type: FieldType) -> tuple[FieldType, str]:
    """The item type beneath any lists, and the ``[]`` suffix that reaches it."""
    suffix = ""
    while isinstance(field_type, List):
        field_type, suffix = field_type.item, suffix + "[]"
    return field_type, suffix


def _allowed(field_type: FieldType) -> str:
    inner, _ = _innermost(field_type)
    if isinstance(inner, Enum):  # and Grade, its code-valued form
        return ", ".join(inner.values)
    if isinstance(inner, Country):
        out = f"ISO 3166-1 alpha-2, e.g. {inner.example()}"
        return out + (f"; or {', '.join(inner.extra)}" if inner.extra else "")
    return ""


def _lines(fields: tuple[Field, ...], prefix: str, personal: bool) -> Iterator[FieldLine]:
    for f in fields:
        path = prefix + f.name
        inside_personal = personal or f.personal
        yield FieldLine(
            path, f.required, f.type.describe(), _allowed(f.type), inside_personal, f.doc
        )
        inner, suffix = _innermost(f.type)
        if isinstance(inner, Struct):
            yield from _lines(inner.fields, f"{path}{suffix}.", inside_personal)


def _valid(spec: KindSpec, content: Mapping[str, Any]) -> bool:
    try:
        spec.validate(content)
    except ContentError:
        return False
    return True


def _fill(spec: KindSpec, root: dict[str, Any], here: dict[str, Any], struct: Struct) -> None:
    """Add to ``here`` (a map inside ``root``) the optional fields it lacks, where the
    content stays valid, then do the same in the maps beneath it.

    The missing fields are tried all at once first, because some come in pairs (the
    two evaluation grades); one at a time after, because a cross-field rule may
    refuse one of them (a retraction's replacement, when the action is 'retract').
    """
    missing = [f for f in struct.fields if f.name not in here]
    if missing:
        here.update({f.name: f.type.example_value() for f in missing})
        if not _valid(spec, root):
            for f in missing:
                del here[f.name]
            for f in missing:
                here[f.name] = f.type.example_value()
                if not _valid(spec, root):
                    del here[f.name]
    for f in struct.fields:
        if f.name not in here:
            continue
        inner, suffix = _innermost(f.type)
        if not isinstance(inner, Struct):
            continue
        if suffix == "":
            values = [here[f.name]]
        elif suffix == "[]":
            values = list(here[f.name])
        else:
            values = []  # a list of lists of maps: no kind has one
        for value in values:
            if isinstance(value, dict):
                _fill(spec, root, value, inner)
    # In declaration order, as the field list shows them.
    ordered = {f.name: here[f.name] for f in struct.fields if f.name in here}
    here.clear()
    here.update(ordered)


def _skeleton(spec: KindSpec) -> dict[str, Any]:
    if spec.name in EXAMPLES:
        content = example(spec.name)
    else:
        content = {f.name: f.type.example_value() for f in spec.fields if f.required}
    _fill(spec, content, content, Struct(spec.fields))
    # Refused here rather than handed to an officer who would find out at publish.
    spec.validate(content)
    return dict(content_to_json(content))


def kind_template(kind: str) -> KindTemplate:
    """The fields and a valid skeleton of ``kind``; ``UnknownKindError`` if there is none."""
    spec = kind_spec(kind)
    return KindTemplate(
        kind=spec.name,
        doc=spec.doc,
        fields=tuple(_lines(spec.fields, "", personal=False)),
        skeleton=_skeleton(spec),
    )


def skeleton_json(template: KindTemplate) -> str:
    """The skeleton as a JSON document, to save to a file and edit."""
    return json.dumps(template.skeleton, indent=2, ensure_ascii=False)


def template_text(template: KindTemplate) -> str:
    """Every field as an aligned table, then the skeleton: plain text for a terminal."""
    width = max(len("FIELD"), *(len(line.path) for line in template.fields))
    head = f"{'FIELD':<{width}}  {'PRESENCE':<8}  {'PERSONAL':<8}  RULE"
    indent = " " * (width + 2 + 8 + 2 + 8 + 2)
    out = [f"{template.kind}: {template.doc}", "", head]
    for line in template.fields:
        presence = "required" if line.required else "optional"
        personal = "personal" if line.personal else ""
        out.append(f"{line.path:<{width}}  {presence:<8}  {personal:<8}  {line.rule}")
        # An enum's rule lists its values already.
        if line.allowed and line.allowed not in line.rule:
            out.append(f"{indent}allowed: {line.allowed}")
        if line.doc:
            out.append(f"{indent}{line.doc}")
    out += [
        "",
        "A required field inside an optional map is needed only when the map is given.",
        "PERSONAL marks fields that may hold personal data (names, document numbers, "
        "contact details, free text).",
        "",
        f"Content to start from: 'ilo-node publish {template.kind} --file FILE' accepts it "
        "as it is,",
        f"and 'ilo-node template {template.kind} --json > FILE' writes only this part.",
        skeleton_json(template),
    ]
    return "\n".join(out)
