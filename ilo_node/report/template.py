"""Report templates: the structure of a report as data (``templates/*.json``).

A template declares the figures (each a contribution field and how contributions
of one host country combine: ``sum``, or ``max`` for what every Member State of a
local network reports alike, such as the network's meetings), the sections that
show them (and the narrative field each section quotes), the tables (rows of a
contribution list field, grouped by keys) and the charts. Adding a template is
adding a file: the aggregation and the renderers read only this.

Each figure and table also says how the Commission's annual overview combines the
two half-years (``over_year``): ``sum`` (the default) for what happens in a period,
such as detections or meetings, and ``last`` for what stands at its end, such as the
agreements in force: the second half-year's value, or the first's for a host country
that the second half-year's report does not cover.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ilo_node.errors import InputError
from protocol.kinds import kind_spec

__all__ = ["OVER_YEAR", "ReportTemplate", "load_template", "template_names"]

_COMBINE = ("sum", "max")
#: How a figure or table of the two half-year reports makes the year's (annual.py).
OVER_YEAR = ("sum", "last")


@dataclass(frozen=True)
class ReportTemplate:
    id: str
    title: str
    figures: tuple[dict[str, Any], ...]
    sections: tuple[dict[str, Any], ...]
    tables: tuple[dict[str, Any], ...]
    charts: tuple[dict[str, Any], ...]
    trend_periods: int
    #: SHA-256 of the template file: a report names the exact template it followed.
    digest: str

    def figure(self, figure_id: str) -> dict[str, Any]:
        return next(f for f in self.figures if f["id"] == figure_id)

    def over_year(self, kind: str, item_id: str) -> str:
        """How the year combines the half-years' ``kind`` ("figures" or "tables")
        ``item_id``: as declared, ``sum`` if not declared or not in this template."""
        items = self.figures if kind == "figures" else self.tables
        found = next((i for i in items if i["id"] == item_id), {})
        return str(found.get("over_year", "sum"))


def template_names() -> list[str]:
    folder = resources.files("ilo_node.report") / "templates"
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def load_template(name: str) -> ReportTemplate:
    if name not in template_names():
        raise InputError(
            f"no report template {name[:64]!r}",
            f"Templates: {', '.join(template_names())}.",
        )
    data = (resources.files("ilo_node.report") / "templates" / f"{name}.json").read_bytes()
    return _checked(name, json.loads(data), hashlib.sha256(data).hexdigest())


def _checked(name: str, raw: dict[str, Any], digest: str) -> ReportTemplate:
    """The template, or an error naming what in it does not fit the contribution kind."""
    fields = {f.name for f in kind_spec("half_year_contribution").fields}

    def fail(what: str) -> InputError:
        return InputError(f"report template {name}: {what}", "Correct the template file.")

    figures = tuple(raw["figures"])
    ids = {f["id"] for f in figures}
    for f in figures:
        if f["field"] not in fields or f["combine"] not in _COMBINE:
            raise fail(f"figure {f['id']} takes {f['field']!r} by {f['combine']!r}")
        if f.get("over_year", "sum") not in OVER_YEAR:
            raise fail(f"figure {f['id']} is {f['over_year']!r} over the year, not sum or last")
    shown: set[str] = set()
    for s in raw["sections"]:
        unknown = set(s["figures"]) - ids
        if unknown or s.get("text", "activities_narrative") not in fields:
            raise fail(f"section {s['id']} names {sorted(unknown) or s.get('text')}")
        shown.update(s["figures"])
    for f in figures:
        # The year's value of a stock is each host country's last one, summed: a figure
        # no host country shows has no such value.
        if f.get("over_year") == "last" and f["id"] not in shown:
            raise fail(f"figure {f['id']} is 'last' over the year but no section shows it")
    tables = tuple(raw["tables"])
    for t in tables:
        if t["rows_from"] not in fields or len(t["columns"]) != len(t["keys"]) + 1:
            raise fail(f"table {t['id']} from {t['rows_from']!r} with columns {t['columns']}")
        if t.get("over_year", "sum") not in OVER_YEAR:
            raise fail(f"table {t['id']} is {t['over_year']!r} over the year, not sum or last")
    table_ids = {t["id"] for t in tables}
    for c in raw["charts"]:
        if c["type"] == "bar" and c["table"] not in table_ids:
            raise fail(f"chart {c['id']} draws table {c['table']!r}")
        if c["type"] == "line" and c["figure"] not in ids:
            raise fail(f"chart {c['id']} draws figure {c['figure']!r}")
    return ReportTemplate(
        raw["id"],
        raw["title"],
        figures,
        tuple(raw["sections"]),
        tables,
        tuple(raw["charts"]),
        int(raw.get("trend_periods", 0)),
        digest,
    )
