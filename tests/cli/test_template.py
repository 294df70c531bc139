"""``ilo-node template KIND``: every field of a kind, and a skeleton publish accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ilo_node.formats.jsoncontent import content_from_file
from ilo_node.formats.template import kind_template
from protocol.kinds import KINDS, kind_spec
from protocol.schema import Field, List, Struct
from tests.support.clirun import check, invoke

ALL_KINDS = sorted(KINDS)


def _paths(fields: tuple[Field, ...], prefix: str = "") -> list[str]:
    """Every field path of a schema, written independently of the code under test."""
    out: list[str] = []
    for f in fields:
        path = prefix + f.name
        out.append(path)
        inner, suffix = f.type, ""
        while isinstance(inner, List):
            inner, suffix = inner.item, suffix + "[]"
        if isinstance(inner, Struct):
            out.extend(_paths(inner.fields, f"{path}{suffix}."))
    return out


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_json_skeleton_is_content_publish_accepts(kind: str, tmp_path: Path) -> None:
    result = check(invoke(["template", kind, "--json"], cwd=tmp_path))
    assert result.stderr == ""
    json.loads(result.stdout)  # only JSON on stdout, so '> file' works
    (tmp_path / "skeleton.json").write_text(result.stdout, encoding="utf-8")
    # What 'publish --file' does with the file before sealing it.
    content = content_from_file(tmp_path / "skeleton.json")
    kind_spec(kind).validate(content)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_json_skeleton_fills_in_every_top_level_field(kind: str, tmp_path: Path) -> None:
    skeleton = json.loads(check(invoke(["template", kind, "--json"], cwd=tmp_path)).stdout)
    assert list(skeleton) == list(KINDS[kind].field_names())


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_text_lists_every_field_path(kind: str, tmp_path: Path) -> None:
    result = check(invoke(["template", kind], cwd=tmp_path))
    listed = [line.split()[0] for line in result.stdout.splitlines() if line[:1].isalpha()]
    for path in _paths(KINDS[kind].fields):
        assert path in listed, path
    assert result.stdout.startswith(f"{kind}: {KINDS[kind].doc}\n")


def test_text_shows_presence_rules_allowed_values_personal_data_and_docs(tmp_path: Path) -> None:
    text = check(invoke(["template", "deployment_notice"], cwd=tmp_path)).stdout
    rows = {line.split()[0]: line for line in text.splitlines() if line[:1].isalpha()}
    assert rows["officer_name"].split()[1:3] == ["required", "personal"]
    assert rows["end_date"].split()[1:] == ["optional", "date,", "YYYY-MM-DD"]
    # Inside a personal map, personal too.
    assert "personal" in rows["contact.email"]
    assert "allowed: ISO 3166-1 alpha-2, e.g. DE" in text
    assert "Member State that posts the officer" in text
    assert "one of: border_control, visa" in rows["competences"]


def test_list_items_have_bracketed_paths() -> None:
    paths = {line.path: line for line in kind_template("flow_report").fields}
    assert paths["nationalities[].nationality"].allowed == "ISO 3166-1 alpha-2, e.g. DE"
    assert paths["nationalities[].count"].rule == "integer, 0..10000000"
    assert paths["source_reliability"].allowed == "A, B, C, X"
    assert not paths["source_reliability"].required


def test_party_fields_list_the_eu_bodies() -> None:
    paths = {line.path: line for line in kind_template("meeting_record").fields}
    assert paths["participants"].allowed == (
        "ISO 3166-1 alpha-2, e.g. DE; or COM, EBCG, EUAA, EUROPOL"
    )


def test_skeleton_keeps_the_example_and_adds_the_optional_fields_it_lacks() -> None:
    skeleton = kind_template("forged_document_alert").skeleton
    assert skeleton["holder_name"] == "Test Holder"  # from protocol/examples.py
    # Absent from the example, added together (the grades come as a pair).
    assert {"notes", "source_reliability", "information_accuracy"} <= set(skeleton)
    retraction = kind_template("retraction").skeleton
    assert set(retraction) == {"reason"}  # the target is in the header, not the content


def test_unknown_kind_is_a_usage_error_listing_the_kinds(tmp_path: Path) -> None:
    result = check(invoke(["template", "incident"], cwd=tmp_path), usage=True)
    assert "'incident' is not one of" in result.stderr
    assert all(kind in result.stderr for kind in ALL_KINDS)


def test_help_shows_an_example(tmp_path: Path) -> None:
    result = check(invoke(["template", "--help"], cwd=tmp_path))
    assert "ilo-node template incident_alert --json > alert.json" in result.stdout
    assert "ilo-node publish incident_alert --file alert.json" in result.stdout
