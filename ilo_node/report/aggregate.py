"""The report's figures from the contributions: a pure function, run alike by the
Presidency that builds a report and by anyone who verifies one and can read the
contributions (``report verify`` recomputes every figure with it).

One contribution counts per Member State and host country: the latest one (by
its signed time) that is not retracted; the Presidency's builder and the verifier
choose it the same way (:func:`choose`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ilo_node.report.template import ReportTemplate
from protocol.countries import COUNTRY_NAMES
from protocol.periods import half_year_bounds

__all__ = ["Contribution", "choose", "compose", "figures_for", "host_sections", "previous_periods"]


@dataclass(frozen=True)
class Contribution:
    envelope_id: bytes
    member_state: str
    host_country: str
    half_year: str
    created_ms: int
    content: Mapping[str, Any]


def choose(contributions: Iterable[Contribution]) -> list[Contribution]:
    """The one contribution of each Member State for each host country and half-year:
    the latest by signed time, then by id (so that both sides choose alike)."""
    best: dict[tuple[str, str, str], Contribution] = {}
    for c in contributions:
        key = (c.half_year, c.host_country, c.member_state)
        held = best.get(key)
        if held is None or (c.created_ms, c.envelope_id) > (held.created_ms, held.envelope_id):
            best[key] = c
    return sorted(best.values(), key=lambda c: (c.half_year, c.host_country, c.member_state))


def figures_for(template: ReportTemplate, contributions: Sequence[Contribution]) -> dict[str, int]:
    """Each figure of ``template`` over ``contributions`` (of one host country, or summed
    per host country first for the overall part by :func:`overall_figures`)."""
    out: dict[str, int] = {}
    for f in template.figures:
        values = [int(c.content.get(f["field"], 0)) for c in contributions]
        out[f["id"]] = (max(values) if values else 0) if f["combine"] == "max" else sum(values)
    return out


def _table(spec: Mapping[str, Any], contributions: Sequence[Contribution]) -> dict[str, Any]:
    totals: dict[tuple[str, ...], int] = defaultdict(int)
    for c in contributions:
        for row in c.content.get(spec["rows_from"], []):
            key = tuple(str(row.get(k, "")) for k in spec["keys"])
            totals[key] += int(row[spec["value"]])
    rows = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    if spec.get("top"):
        rows = rows[: int(spec["top"])]
    return {
        "id": spec["id"],
        "title": spec["title"],
        "columns": list(spec["columns"]),
        "rows": [[*key, value] for key, value in rows],
    }


def _figure_list(
    template: ReportTemplate, values: Mapping[str, int], ids: Iterable[str]
) -> list[Any]:
    return [{"id": i, "label": template.figure(i)["label"], "value": values[i]} for i in ids]


def host_sections(
    template: ReportTemplate, host: str, contributions: Sequence[Contribution]
) -> dict[str, Any]:
    """One host country's part of the report."""
    values = figures_for(template, contributions)
    sections = []
    for s in template.sections:
        texts = []
        if "text" in s:
            texts = [
                {"member_state": c.member_state, "text": str(c.content[s["text"]])}
                for c in contributions
                if c.content.get(s["text"])
            ]
        sections.append(
            {
                "part": s["part"],
                "id": s["id"],
                "title": s["title"],
                "figures": _figure_list(template, values, s["figures"]),
                "texts": texts,
            }
        )
    names = COUNTRY_NAMES.get(host)
    return {
        "code": host,
        "name": names[0] if names else host,
        "contributors": sorted(c.member_state for c in contributions),
        "sections": sections,
        "tables": [_table(t, contributions) for t in template.tables],
    }


def overall_figures(
    template: ReportTemplate, by_host: Mapping[str, Sequence[Contribution]]
) -> dict[str, int]:
    """Figures for the whole report: each host country's, summed."""
    per_host = [figures_for(template, cs) for cs in by_host.values()]
    return {f["id"]: sum(h[f["id"]] for h in per_host) for f in template.figures}


def overall(
    template: ReportTemplate, by_host: Mapping[str, Sequence[Contribution]]
) -> dict[str, Any]:
    values = overall_figures(template, by_host)
    everything = [c for cs in by_host.values() for c in cs]
    return {
        "figures": _figure_list(template, values, [f["id"] for f in template.figures]),
        "tables": [_table(t, everything) for t in template.tables],
    }


def previous_periods(half_year: str, count: int) -> list[str]:
    """The ``count`` half-years before ``half_year``, oldest first."""
    half_year_bounds(half_year)  # refuses what is not a half-year
    out: list[str] = []
    year, half = int(half_year[:4]), int(half_year[-1])
    for _ in range(count):
        year, half = (year, 1) if half == 2 else (year - 1, 2)
        if year < 1970:
            break
        out.append(f"{year}-H{half}")
    return list(reversed(out))


def compose(
    template: ReportTemplate,
    half_year: str,
    contributions: Iterable[Contribution],
    expected: Iterable[tuple[str, str, str]],
) -> dict[str, Any]:
    """Everything in a report that is computed from the contributions: per host country,
    overall, the trend, the charts declared, and who did not contribute.

    ``contributions`` may hold several half-years (the trend's); ``expected`` is
    ``(host, member_state, node)`` for every Member State node of the roster at a
    host country, whose contribution the report expects."""
    chosen = choose(contributions)
    current = [c for c in chosen if c.half_year == half_year]
    grouped = by_host(current)
    trend = []
    for period in [*previous_periods(half_year, template.trend_periods), half_year]:
        of_period = by_host(c for c in chosen if c.half_year == period)
        if of_period or period == half_year:
            trend.append({"period": period, "figures": overall_figures(template, of_period)})
    given = {(c.host_country, c.member_state) for c in current}
    missing = [
        {"host": host, "member_state": state, "node": node}
        for host, state, node in sorted(set(expected))
        if (host, state) not in given
    ]
    return {
        "host_countries": [host_sections(template, h, cs) for h, cs in grouped.items()],
        "overall": overall(template, grouped),
        "trend": trend,
        "charts": [dict(c) for c in template.charts],
        "missing": missing,
    }


def by_host(contributions: Iterable[Contribution]) -> dict[str, list[Contribution]]:
    grouped: dict[str, list[Contribution]] = defaultdict(list)
    for c in contributions:
        grouped[c.host_country].append(c)
    return dict(sorted(grouped.items()))
