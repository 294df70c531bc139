"""The annual overview in human formats: Markdown, one self-contained HTML file, PDF.

As for the half-year report (:mod:`ilo_node.report.render`, ADR 0012), each renderer
takes the overview as it was signed (``annual.json``, parsed) and reads nothing else;
every string in it is hostile (labels, titles and names came through the reports from
officers and nodes): HTML is escaped by Jinja's autoescaping and by
:mod:`ilo_node.report.charts`, Markdown by backslash escapes, the PDF made by the
same WeasyPrint call that fetches nothing.

One view (:func:`_view`) turns the overview into what the formats show: for each host
country and overall, every figure's first and second half-year and the year's value
(with how it was combined), by part and section of the template, a chart of the two
half-years side by side, the year's tables and their bar charts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ilo_node.report import charts
from ilo_node.report.render import (
    _PART_TITLES,
    _dict,
    _dom_id,
    _environment,
    _list,
    _md_table,
    _md_tables_and_charts,
    _show,
    _table,
    _table_charts,
    country_name,
    md_text,
    write_documents,
)

__all__ = ["render_annual_html", "render_annual_markdown", "write_annual_outputs"]

#: How the year's value came from the half-years', as a reader is told.
_OVER_YEAR = {"sum": "sum of the half-years", "last": "latest half-year"}


def _periods(overview: Mapping[str, Any]) -> list[str]:
    found = sorted({str(_dict(f).get("period", "")) for f in _list(overview.get("from"))})
    return [p for p in found if p]


def _figures(figures: Iterable[Any], periods: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for f in map(_dict, figures):
        halves = _dict(f.get("by_half_year"))
        rule = str(f.get("over_year", ""))
        out.append(
            {
                "label": str(f.get("label", f.get("id", ""))),
                "halves": [_show(halves.get(p)) for p in periods],
                "points": [_count(halves.get(p)) for p in periods],
                "value": _show(f.get("value")),
                "over_year": _OVER_YEAR.get(rule, rule),
            }
        )
    return out


def _count(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _halves_chart(
    scope: str, title: str, figures: Sequence[Mapping[str, Any]], periods: Sequence[str]
) -> dict[str, Any]:
    chart_id = _dom_id(scope, "half-years")
    groups = [(str(f["label"]), list(f["points"])) for f in figures]
    svg = charts.grouped_bar_chart(chart_id, title, list(periods), groups)
    return {"id": chart_id, "title": title, "groups": groups, "svg": svg}


def _host(
    host: Mapping[str, Any], chart_specs: list[Mapping[str, Any]], periods: Sequence[str]
) -> dict[str, Any]:
    code = str(host.get("code", ""))
    name = str(host.get("name") or country_name(code))
    scope = _dom_id("host", code)
    sections = []
    parts: dict[str, list[dict[str, Any]]] = {}
    every_figure: list[dict[str, Any]] = []
    for section in map(_dict, _list(host.get("sections"))):
        figures = _figures(_list(section.get("figures")), periods)
        every_figure += figures
        shown = {
            "id": _dom_id("host", code, section.get("id", "")),
            "title": str(section.get("title", "")),
            "figures": figures,
        }
        sections.append(shown)
        if figures:
            parts.setdefault(str(section.get("part", "")), []).append(shown)
    tables = [_dict(t) for t in _list(host.get("tables"))]
    title = f"{name}: figures by half-year"
    return {
        "code": code,
        "name": name,
        "anchor": scope,
        "periods": [str(p) for p in _list(host.get("periods"))],
        "sections": sections,
        "parts": [
            {
                "part": _dom_id(part),
                "title": _PART_TITLES.get(part, f"Part {part}"),
                "sections": shown,
            }
            for part, shown in parts.items()
        ],
        "halves_chart": _halves_chart(scope, title, every_figure, periods),
        "tables": [_table(t) for t in tables],
        "charts": _table_charts(scope, tables, chart_specs),
    }


def _view(overview: Mapping[str, Any]) -> dict[str, Any]:
    template = _dict(overview.get("template"))
    built = _dict(overview.get("built"))
    periods = _periods(overview)
    chart_specs = [_dict(c) for c in _list(overview.get("charts"))]
    overall = _dict(overview.get("overall"))
    overall_tables = [_dict(t) for t in _list(overall.get("tables"))]
    overall_figures = _figures(_list(overall.get("figures")), periods)
    year = _show(overview.get("year"))
    return {
        "title": f"Annual overview {year}",
        "subtitle": str(template.get("title", "")),
        "year": year,
        "format": str(overview.get("format", "")),
        "network": str(overview.get("network", "")),
        "template_id": str(template.get("id", "")),
        "template_digest": str(template.get("digest", "")),
        "built_node": str(built.get("node", "")),
        "built_at": str(built.get("at", "")),
        "periods": periods,
        "sources": [
            {
                "period": str(f.get("period", "")),
                "built_by": str(f.get("built_by", "")),
                "report_sha256": str(f.get("report_sha256", "")),
                "signature_sha256": str(f.get("signature_sha256", "")),
                "template": (
                    f"{_dict(f.get('template')).get('id', '')} "
                    f"{_dict(f.get('template')).get('digest', '')}"
                ),
            }
            for f in map(_dict, _list(overview.get("from")))
        ],
        "hosts": [
            _host(_dict(h), chart_specs, periods) for h in _list(overview.get("host_countries"))
        ],
        "overall": {
            "figures": overall_figures,
            "halves_chart": _halves_chart(
                "overall", "All host countries: figures by half-year", overall_figures, periods
            ),
            "tables": [_table(t) for t in overall_tables],
            "charts": _table_charts("overall", overall_tables, chart_specs),
        },
        "missing": [
            {
                "period": str(m.get("period", "")),
                "host": country_name(m.get("host")),
                "member_state": country_name(m.get("member_state")),
                "node": str(m.get("node", "")),
            }
            for m in map(_dict, _list(overview.get("missing")))
        ],
    }


# -- Markdown ---------------------------------------------------------------------------


def _md_figures(figures: Sequence[Mapping[str, Any]], periods: Sequence[str]) -> list[str]:
    if not figures:
        return ["_No figures._", ""]
    columns = ["Figure", *periods, "Year", "Over the year"]
    rows = [[f["label"], *f["halves"], f["value"], f["over_year"]] for f in figures]
    numeric = [False, *[True] * (len(periods) + 1), False]
    return [_md_table(columns, rows, numeric), ""]


def render_annual_markdown(overview: Mapping[str, Any]) -> str:
    """The overview as Markdown (CommonMark with pipe tables)."""
    view = _view(overview)
    periods = view["periods"]
    out = [
        f"# {md_text(view['title'])}",
        "",
        f"{md_text(view['subtitle'])}",
        "",
        f"**Network:** {md_text(view['network'])}  ",
        f"**Half-years:** {md_text(', '.join(periods))}  ",
        f"**Built by:** {md_text(view['built_node'])} at {md_text(view['built_at'])}  ",
        f"**Template:** {md_text(view['template_id'])} ({md_text(view['template_digest'])})",
        "",
    ]
    if not view["hosts"]:
        out += ["_No host country is covered by the half-year reports._", ""]
    for host in view["hosts"]:
        out += [f"## {md_text(host['name'])} ({md_text(host['code'])})", ""]
        out += [f"In the reports of: {md_text(', '.join(host['periods']) or 'none')}", ""]
        for section in host["sections"]:
            out += [f"### {md_text(section['title'])}", ""]
            out += _md_figures(section["figures"], periods)
        out += ["### Statistical tables, the year", ""]
        _md_tables_and_charts(out, "####", host["tables"], host["charts"])
    overall = view["overall"]
    out += ["## Overall", ""]
    out += _md_figures(overall["figures"], periods)
    _md_tables_and_charts(out, "###", overall["tables"], overall["charts"])
    out += ["## Local networks that did not contribute", ""]
    if view["missing"]:
        rows = [[m["period"], m["host"], m["member_state"], m["node"]] for m in view["missing"]]
        columns = ["Half-year", "Host country", "Member State", "Node"]
        out += [_md_table(columns, rows, [False] * 4), ""]
    else:
        out += ["Every expected local network contributed in both half-years.", ""]
    out += ["## Annex: the half-year reports", ""]
    if view["sources"]:
        rows = [
            [s["period"], s["built_by"], s["report_sha256"], s["signature_sha256"], s["template"]]
            for s in view["sources"]
        ]
        columns = ["Half-year", "Built by", "report.json SHA-256", "report.sig SHA-256", "Template"]
        out += [_md_table(columns, rows, [False] * 5), ""]
    else:
        out += ["_No report is named._", ""]
    return "\n".join(out)


# -- HTML and PDF -----------------------------------------------------------------------


def render_annual_html(overview: Mapping[str, Any]) -> str:
    """The overview as one HTML file: inline CSS and SVG, no script, nothing fetched."""
    view = _view(overview)
    for chart in _all_charts(view):
        # charts.py escaped every text it put in the SVG.
        chart["svg"] = Markup(chart["svg"])  # noqa: S704
    return _environment().get_template("annual.html.j2").render(overview=view)


def _all_charts(view: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for host in view["hosts"]:
        yield host["halves_chart"]
        yield from host["charts"]
    yield view["overall"]["halves_chart"]
    yield from view["overall"]["charts"]


def write_annual_outputs(
    overview: Mapping[str, Any], out_dir: Path, *, problems: list[str] | None = None
) -> dict[str, Path]:
    """annual.md, annual.html and annual.pdf in out_dir, each mode 0600. Where the PDF
    cannot be made here, it is left out and, given ``problems``, the reason added there
    (without it, :class:`PdfUnavailableError` is raised)."""
    return write_documents(
        "annual",
        render_annual_markdown(overview),
        render_annual_html(overview),
        out_dir,
        problems=problems,
    )
