"""The Commission's annual overview, from the two half-year reports of a year.

:func:`annual_overview` is a pure function of the two reports' exact bytes (each
verified first by the caller) and of the template they both follow; the node that
builds the overview and whoever verifies it with the reports in hand
(:mod:`ilo_node.report.verify_annual`) run it alike.

Per host country and overall, every figure of the reports is combined over the
year as the template declares it (``over_year``): ``sum`` adds the half-years
(what happened in each: detections, meetings, trainings), ``last`` takes the
latest half-year that shows it (what stands at the end: ILOs deployed, agreements
in force): the second half-year's value, or the first's for a host country the
second report does not cover. Overall, a ``last`` figure is the sum of the host
countries' year values, so that a host country missing from the second report
still counts with what it had. Tables are combined the same way; a summed table
is ranked again and cut to the template's ``top``, so a row outside one
half-year's published top counts only with the other's.

The overview names its sources in ``from``: for each report its period, building
node, template, and the SHA-256 of its exact ``report.json`` and ``report.sig``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ilo_node.errors import InputError
from ilo_node.formats.timefmt import format_ms
from ilo_node.report.signed import SignedForm
from ilo_node.report.template import ReportTemplate
from protocol.crypto import sha256

__all__ = [
    "ANNUAL_DOMAIN",
    "ANNUAL_FORM",
    "ANNUAL_FORMAT",
    "HalfYearReport",
    "annual_overview",
    "year_value",
]

ANNUAL_FORMAT = "ilo-node-annual/1"
#: What an annual overview's signature signs, before the digest of annual.json.
ANNUAL_DOMAIN = b"ilo-node/v1/annual\x00"
ANNUAL_FORM = SignedForm(
    ANNUAL_FORMAT,
    "ilo-node-annual-signature/1",
    ANNUAL_DOMAIN,
    "annual.json",
    "annual.sig",
    "an annual overview",
)


@dataclass(frozen=True)
class HalfYearReport:
    """A half-year report as given: the exact bytes of its report.json and report.sig."""

    data: bytes
    signature: bytes

    def body(self) -> dict[str, Any]:
        body = json.loads(self.data)
        if not isinstance(body, dict):
            raise TypeError("report.json is not an object")
        return body


def year_value(over_year: str, by_half_year: Mapping[str, int]) -> int:
    """The year's value from the half-years' (``{"2026-H1": 4, "2026-H2": 3}``)."""
    if over_year == "last":
        # Half-year names sort in time order ("2026-H1" < "2026-H2").
        return by_half_year[max(by_half_year)]
    return sum(by_half_year.values())


def annual_overview(
    year: int,
    reports: Sequence[HalfYearReport],
    template_for: Callable[[str], ReportTemplate],
    built_node: str,
    built_ms: int,
) -> dict[str, Any]:
    """annual.json's content: ``reports`` are the year's two half-year reports, in any
    order; ``template_for`` gives the template they name."""
    ordered = _ordered(year, reports)
    bodies = [body for _, body in ordered]
    template = template_for(str(bodies[0]["template"]["id"]))
    return {
        "format": ANNUAL_FORMAT,
        "year": year,
        "network": bodies[0]["network"],
        "template": {"id": template.id, "title": template.title, "digest": template.digest},
        "built": {"node": built_node, "at_ms": built_ms, "at": format_ms(built_ms)},
        "from": [
            {
                "period": body["period"],
                "report_sha256": sha256(report.data).hex(),
                "signature_sha256": sha256(report.signature).hex(),
                "built_by": body["built"]["node"],
                "template": {"id": body["template"]["id"], "digest": body["template"]["digest"]},
            }
            for report, body in ordered
        ],
        **_combined(bodies, template),
    }


def _ordered(
    year: int, reports: Sequence[HalfYearReport]
) -> list[tuple[HalfYearReport, dict[str, Any]]]:
    """The reports with their bodies, H1 first; refused unless they are the year's two
    half-years, of one network, following one template."""
    ordered = sorted(((r, r.body()) for r in reports), key=lambda rb: str(rb[1]["period"]))
    periods = [str(body["period"]) for _, body in ordered]
    if periods != [f"{year}-H1", f"{year}-H2"]:
        raise InputError(
            f"the half-year reports of {year} are needed, got {', '.join(periods) or 'none'}",
            f"Give the reports of {year}-H1 and {year}-H2, one each.",
        )
    networks = sorted({str(body["network"]) for _, body in ordered})
    if len(networks) != 1:
        raise InputError(
            f"the two reports are of different networks ({', '.join(networks)})",
            "An overview adds the half-year reports of one network.",
        )
    templates = sorted({str(body["template"]["id"]) for _, body in ordered})
    if len(templates) != 1:
        raise InputError(
            f"the two reports follow different templates ({', '.join(templates)})",
            "An overview adds the figures of one template: give two reports built with "
            "the same --template.",
        )
    return ordered


def _combined(bodies: Sequence[Mapping[str, Any]], template: ReportTemplate) -> dict[str, Any]:
    hosts: dict[str, dict[str, Any]] = {}
    for body in bodies:
        period = str(body["period"])
        for host in body["host_countries"]:
            entry = hosts.setdefault(
                str(host["code"]), {"periods": [], "sections": {}, "tables": defaultdict(list)}
            )
            entry.update(code=host["code"], name=host["name"])
            entry["periods"].append(period)
            for section in host["sections"]:
                held = entry["sections"].setdefault(section["id"], {"figures": {}})
                held.update(part=section["part"], id=section["id"], title=section["title"])
                _gather(held["figures"], period, section["figures"])
            for table in host["tables"]:
                entry["tables"][table["id"]].append(table)
    host_parts = [_host(entry, template) for _, entry in sorted(hosts.items())]
    overall_figures: dict[str, dict[str, Any]] = {}
    overall_tables: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for body in bodies:
        _gather(overall_figures, str(body["period"]), body["overall"]["figures"])
        for table in body["overall"]["tables"]:
            overall_tables[table["id"]].append(table)
    return {
        "host_countries": host_parts,
        "overall": {
            "figures": [_overall_figure(f, host_parts, template) for f in overall_figures.values()],
            "tables": [_table(parts, template) for parts in overall_tables.values()],
        },
        # The bar charts draw the year's tables; a half-year's trend line is not the year's.
        "charts": [dict(c) for c in bodies[-1]["charts"] if "table" in c],
        "missing": [{**m, "period": body["period"]} for body in bodies for m in body["missing"]],
    }


def _gather(held: dict[str, dict[str, Any]], period: str, figures: Iterable[Any]) -> None:
    for figure in figures:
        entry = held.setdefault(str(figure["id"]), {"id": figure["id"], "by_half_year": {}})
        entry["label"] = figure["label"]
        value = figure["value"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"figure {figure['id']} is not a count")
        entry["by_half_year"][period] = value


def _figure(entry: Mapping[str, Any], template: ReportTemplate) -> dict[str, Any]:
    rule = template.over_year("figures", str(entry["id"]))
    return {
        "id": entry["id"],
        "label": entry["label"],
        "over_year": rule,
        "by_half_year": dict(entry["by_half_year"]),
        "value": year_value(rule, entry["by_half_year"]),
    }


def _host(entry: Mapping[str, Any], template: ReportTemplate) -> dict[str, Any]:
    return {
        "code": entry["code"],
        "name": entry["name"],
        "periods": entry["periods"],
        "sections": [
            {
                "part": s["part"],
                "id": s["id"],
                "title": s["title"],
                "figures": [_figure(f, template) for f in s["figures"].values()],
            }
            for s in entry["sections"].values()
        ],
        "tables": [_table(parts, template) for parts in entry["tables"].values()],
    }


def _overall_figure(
    entry: Mapping[str, Any], hosts: Sequence[Mapping[str, Any]], template: ReportTemplate
) -> dict[str, Any]:
    figure = _figure(entry, template)
    if figure["over_year"] == "last":
        per_host = [_host_value(host, str(entry["id"])) for host in hosts]
        shown = [v for v in per_host if v is not None]
        if shown:
            figure["value"] = sum(shown)
    return figure


def _host_value(host: Mapping[str, Any], figure_id: str) -> int | None:
    for section in host["sections"]:
        for figure in section["figures"]:
            if figure["id"] == figure_id:
                return int(figure["value"])
    return None


def _table(parts: Sequence[Mapping[str, Any]], template: ReportTemplate) -> dict[str, Any]:
    """The year's table from the half-years' tables of one id (H1 first)."""
    latest = parts[-1]
    rule = template.over_year("tables", str(latest["id"]))
    if rule == "last":
        rows = [list(row) for row in latest["rows"]]
    else:
        totals: dict[tuple[str, ...], int] = defaultdict(int)
        for table in parts:
            for row in table["rows"]:
                count = row[-1]
                if isinstance(count, bool) or not isinstance(count, int):
                    raise TypeError(f"table {latest['id']} has a row without a count")
                totals[tuple(str(k) for k in row[:-1])] += count
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        spec = next((t for t in template.tables if t["id"] == latest["id"]), {})
        if spec.get("top"):
            ranked = ranked[: int(spec["top"])]
        rows = [[*key, count] for key, count in ranked]
    return {
        "id": latest["id"],
        "title": latest["title"],
        "columns": list(latest["columns"]),
        "over_year": rule,
        "rows": rows,
    }
