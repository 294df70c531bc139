"""The half-year report in human formats: Markdown, one self-contained HTML file, PDF.

Each renderer takes the report as the builder writes it (``report.json``, parsed)
and reads nothing else: no node, no key, no network. The report is signed data and
its texts are what officers wrote, so every string is treated as hostile: HTML is
escaped by Jinja's autoescaping and by :mod:`ilo_node.report.charts`, Markdown by
backslash escapes, and WeasyPrint is given a fetcher that fetches nothing
(ADR 0012).

One view (:func:`_view`) turns the report into what the formats show: country codes
as names, enum codes as words, numbers as text, the charts' points; the formats then
differ only in layout.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ilo_node.errors import PdfUnavailableError
from ilo_node.home.home import write_private_file
from ilo_node.report import charts
from protocol.countries import COUNTRY_NAMES

__all__ = ["render_html", "render_markdown", "render_pdf", "write_documents", "write_outputs"]

#: Columns (by heading, lower case) whose cells are country codes, shown by name.
COUNTRY_COLUMNS = frozenset(
    {"nationality", "issuing country", "country", "host country", "member state"}
)

_PART_TITLES = {
    "I": "Part I — Activities of the ILO network",
    "II": "Part II — Situation in the host country as regards illegal immigration",
}
_ENUM = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

Number = int | float


# -- the view shared by all formats ---------------------------------------------------


def country_name(code: object) -> str:
    """A country by its English short name, or the code as given if it is none."""
    text = "" if code is None else str(code)
    names = COUNTRY_NAMES.get(text)
    return names[0] if names else text


def _number(value: object) -> Number | None:
    # bool is an int to Python but never a count; NaN and infinities cannot be drawn.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _show(value: object) -> str:
    number = _number(value)
    if number is not None:
        return charts.format_number(number)
    if value is None or value == "":
        return "—"
    text = str(value)
    return text.replace("_", " ") if _ENUM.fullmatch(text) else text


def _cell(column: str, value: object) -> str:
    if column.strip().lower() in COUNTRY_COLUMNS and isinstance(value, str) and value:
        return country_name(value)
    return _show(value)


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dom_id(*parts: object) -> str:
    return "-".join(_ID_UNSAFE.sub("_", str(p)) for p in parts)


def _table(table: Mapping[str, Any]) -> dict[str, Any]:
    columns = [str(c) for c in _list(table.get("columns"))]
    rows = []
    for row in _list(table.get("rows")):
        cells = _list(row)
        rows.append(
            [_cell(columns[i] if i < len(columns) else "", cell) for i, cell in enumerate(cells)]
        )
    numeric = [
        bool(table.get("rows"))
        and all(
            _number(_list(r)[i]) is not None for r in _list(table.get("rows")) if i < len(_list(r))
        )
        for i in range(len(columns))
    ]
    return {
        "id": str(table.get("id", "")),
        "title": str(table.get("title", "")),
        "columns": columns,
        "numeric": numeric,
        "rows": rows,
    }


def _bar_points(table: Mapping[str, Any], chart: Mapping[str, Any]) -> list[tuple[str, Number]]:
    """The chart's rows summed by label (several fraud types share a document type),
    largest first, ties in the table's order."""
    columns = [str(c) for c in _list(table.get("columns"))]
    label_col, value_col = chart.get("label_column", 0), chart.get("value_column", 1)
    if not isinstance(label_col, int) or not isinstance(value_col, int):
        return []
    heading = columns[label_col] if 0 <= label_col < len(columns) else ""
    sums: dict[str, Number] = {}
    for row in _list(table.get("rows")):
        cells = _list(row)
        if not (0 <= label_col < len(cells) and 0 <= value_col < len(cells)):
            continue
        label = _cell(heading, cells[label_col])
        sums[label] = sums.get(label, 0) + (_number(cells[value_col]) or 0)
    order = {label: i for i, label in enumerate(sums)}
    return sorted(sums.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def _table_charts(
    scope: str, tables: Sequence[Mapping[str, Any]], chart_specs: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    by_id = {str(t.get("id")): t for t in tables}
    drawn = []
    for chart in chart_specs:
        if "table" not in chart:
            continue
        table = by_id.get(str(chart["table"]), {})
        title = str(chart.get("title", ""))
        chart_id = _dom_id(scope, chart.get("id", ""))
        points = _bar_points(table, chart)
        svg = charts.bar_chart(chart_id, title, points)
        drawn.append({"id": chart_id, "title": title, "points": points, "svg": svg})
    return drawn


def _trend_charts(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    trend = [_dict(t) for t in _list(report.get("trend"))]
    drawn = []
    for chart in map(_dict, _list(report.get("charts"))):
        if chart.get("type") != "line" or "figure" not in chart:
            continue
        figure = str(chart["figure"])
        points = [
            (str(t.get("period", "")), _number(_dict(t.get("figures")).get(figure))) for t in trend
        ]
        title = str(chart.get("title", ""))
        chart_id = _dom_id("trend", chart.get("id", ""))
        svg = charts.line_chart(chart_id, title, points)
        drawn.append({"id": chart_id, "title": title, "points": points, "svg": svg})
    return drawn


def _figures(figures: Iterable[Any]) -> list[dict[str, str]]:
    return [
        {"label": str(f.get("label", f.get("id", ""))), "value": _show(f.get("value"))}
        for f in map(_dict, figures)
    ]


def _host(host: Mapping[str, Any], chart_specs: list[Mapping[str, Any]]) -> dict[str, Any]:
    code = str(host.get("code", ""))
    name = str(host.get("name") or country_name(code))
    parts: dict[str, list[dict[str, Any]]] = {}
    for section in map(_dict, _list(host.get("sections"))):
        part = str(section.get("part", ""))
        parts.setdefault(part, []).append(
            {
                "id": _dom_id("host", code, section.get("id", "")),
                "title": str(section.get("title", "")),
                "figures": _figures(_list(section.get("figures"))),
                "texts": [
                    {
                        "member_state": country_name(t.get("member_state")),
                        "code": str(t.get("member_state", "")),
                        "text": str(t.get("text", "")),
                    }
                    for t in map(_dict, _list(section.get("texts")))
                ],
            }
        )
    tables = [_dict(t) for t in _list(host.get("tables"))]
    return {
        "code": code,
        "name": name,
        "anchor": _dom_id("host", code),
        "contributors": [country_name(c) for c in _list(host.get("contributors"))],
        "parts": [
            {"part": part, "title": _PART_TITLES.get(part, f"Part {part}"), "sections": sections}
            for part, sections in parts.items()
        ],
        "tables": [_table(t) for t in tables],
        "charts": _table_charts(_dom_id("host", code), tables, chart_specs),
    }


def _view(report: Mapping[str, Any]) -> dict[str, Any]:
    template = _dict(report.get("template"))
    built = _dict(report.get("built"))
    chart_specs = [_dict(c) for c in _list(report.get("charts"))]
    overall = _dict(report.get("overall"))
    overall_tables = [_dict(t) for t in _list(overall.get("tables"))]
    manifest = _dict(report.get("manifest"))
    presidency = str(report.get("presidency", ""))
    return {
        "title": str(template.get("title") or "Half-year report"),
        "template_id": str(template.get("id", "")),
        "template_digest": str(template.get("digest", "")),
        "format": str(report.get("format", "")),
        "period": str(report.get("period", "")),
        "network": str(report.get("network", "")),
        "presidency": presidency,
        "presidency_name": country_name(presidency),
        "built_node": str(built.get("node", "")),
        "built_at": str(built.get("at", "")),
        "hosts": [_host(_dict(h), chart_specs) for h in _list(report.get("host_countries"))],
        "overall": {
            "figures": _figures(_list(overall.get("figures"))),
            "tables": [_table(t) for t in overall_tables],
            "charts": _table_charts("overall", overall_tables, chart_specs),
        },
        "trend_charts": _trend_charts(report),
        "missing": [
            {
                "host": country_name(m.get("host")),
                "member_state": country_name(m.get("member_state")),
                "node": str(m.get("node", "")),
            }
            for m in map(_dict, _list(report.get("missing")))
        ],
        "manifest": {
            "checkpoint": str(manifest.get("checkpoint", "")),
            "log_size": _show(manifest.get("log_size")),
            "contributions": [
                {
                    "id": str(c.get("id", "")),
                    "host": country_name(c.get("host")),
                    "member_state": country_name(c.get("member_state")),
                    "author": str(c.get("author", "")),
                    "index": _show(c.get("index")),
                    "proof": [str(p) for p in _list(c.get("proof"))],
                }
                for c in map(_dict, _list(manifest.get("contributions")))
            ],
        },
    }


# -- Markdown ---------------------------------------------------------------------------

# Backslash escapes are literal in CommonMark for any ASCII punctuation, so a text
# stays readable as plain text and still cannot open a link, an emphasis or raw HTML.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&!#])")
# What opens a block at a line's start (a list, a heading, a quote, a rule); only a
# line of its own (a quoted text's) can start one.
_MD_BLOCK_START = re.compile(r"^(\s*)(?:([+\-=>])|(\d+)([.)]))")


def md_text(text: str) -> str:
    """Text inside a line (a heading, a cell, after a label), escaped for Markdown."""
    return _MD_INLINE.sub(r"\\\1", text)


def _md_line(text: str) -> str:
    """A line of its own, escaped for Markdown."""

    def block(m: re.Match[str]) -> str:
        if m[2]:
            return f"{m[1]}\\{m[2]}"
        return f"{m[1]}{m[3]}\\{m[4]}"

    return _MD_BLOCK_START.sub(block, md_text(text))


def _md_cell(text: str) -> str:
    return md_text(" ".join(text.split()))


def _md_table(
    columns: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]
) -> str:
    if not columns:
        columns = [""] * max((len(r) for r in rows), default=1)
    align = ["---:" if i < len(numeric) and numeric[i] else "---" for i in range(len(columns))]
    lines = [
        "| " + " | ".join(_md_cell(c) for c in columns) + " |",
        "| " + " | ".join(align) + " |",
    ]
    for row in rows:
        cells = [*row, *[""] * (len(columns) - len(row))][: len(columns)]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _md_quote(text: str) -> str:
    lines = text.splitlines() or [""]
    # Two trailing spaces keep the officer's line breaks inside one quoted paragraph.
    return "\n".join(
        "> " + _md_line(line) + ("  " if i < len(lines) - 1 else "") for i, line in enumerate(lines)
    )


def _md_bars(points: Sequence[tuple[str, Number]], width: int = 40) -> str:
    if not points:
        return "_No data._"
    # One line a bar, whatever a label holds: its line breaks become spaces.
    bars = [(" ".join(label.split()), value) for label, value in charts.capped(points)]
    top = max((max(v, 0) for _, v in bars), default=0)
    label_w = min(max(len(label) for label, _ in bars), 30)
    lines = []
    for label, value in bars:
        length = round(max(value, 0) / top * width) if top > 0 else 0
        shown = label if len(label) <= 30 else label[:29] + "…"
        lines.append(f"{shown.ljust(label_w)}  {'█' * length} {charts.format_number(value)}")
    # A fence longer than any run of tildes in the labels: none of them can close it.
    fence = "~" * max(3, 1 + max((len(run) for run in re.findall("~+", "".join(lines))), default=0))
    return f"{fence}\n" + "\n".join(lines) + f"\n{fence}"


def _md_figures(figures: Sequence[Mapping[str, str]]) -> list[str]:
    if not figures:
        return []
    rows = [[f["label"], f["value"]] for f in figures]
    return [_md_table(["Figure", "Value"], rows, [False, True]), ""]


def _md_tables_and_charts(
    out: list[str],
    level: str,
    tables: Sequence[Mapping[str, Any]],
    drawn: Sequence[Mapping[str, Any]],
) -> None:
    for table in tables:
        out += [f"{level} {md_text(table['title'])}", ""]
        if table["rows"]:
            out += [_md_table(table["columns"], table["rows"], table["numeric"]), ""]
        else:
            out += ["_No data._", ""]
    for chart in drawn:
        out += [f"{level} Chart: {md_text(chart['title'])}", "", _md_bars(chart["points"]), ""]


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown (CommonMark with pipe tables)."""
    view = _view(report)
    out = [
        f"# {md_text(view['title'])}",
        "",
        f"**Period:** {md_text(view['period'])}  ",
        f"**Network:** {md_text(view['network'])}  ",
        f"**Presidency:** {md_text(view['presidency_name'])} ({md_text(view['presidency'])})  ",
        f"**Built by:** {md_text(view['built_node'])} at {md_text(view['built_at'])}  ",
        f"**Template:** {md_text(view['template_id'])} ({md_text(view['template_digest'])})",
        "",
    ]
    if not view["hosts"]:
        out += ["_No host country is covered by this report._", ""]
    for host in view["hosts"]:
        out += [f"## {md_text(host['name'])} ({md_text(host['code'])})", ""]
        contributors = ", ".join(host["contributors"]) or "none"
        out += [f"Contributions from: {md_text(contributors)}", ""]
        for part in host["parts"]:
            out += [f"### {md_text(part['title'])}", ""]
            for section in part["sections"]:
                out += [f"#### {md_text(section['title'])}", ""]
                out += _md_figures(section["figures"])
                for text in section["texts"]:
                    out += [
                        f"**{md_text(text['member_state'])}:**",
                        "",
                        _md_quote(text["text"]),
                        "",
                    ]
                if not section["figures"] and not section["texts"]:
                    out += ["_Nothing reported._", ""]
        out += ["### Statistical tables", ""]
        _md_tables_and_charts(out, "####", host["tables"], host["charts"])
    overall = view["overall"]
    out += ["## Overall", ""]
    out += _md_figures(overall["figures"]) or ["_No figures._", ""]
    _md_tables_and_charts(out, "###", overall["tables"], overall["charts"])
    for chart in view["trend_charts"]:
        out += [f"### Chart: {md_text(chart['title'])}", ""]
        rows = [[p, charts.format_number(v) if v is not None else "—"] for p, v in chart["points"]]
        out += [
            _md_table(["Half-year", "Value"], rows, [False, True]) if rows else "_No data._",
            "",
        ]
    out += ["## Local networks that did not contribute", ""]
    if view["missing"]:
        rows = [[m["host"], m["member_state"], m["node"]] for m in view["missing"]]
        out += [_md_table(["Host country", "Member State", "Node"], rows, [False] * 3), ""]
    else:
        out += ["Every expected local network contributed.", ""]
    manifest = view["manifest"]
    out += ["## Annex: manifest", "", f"Log size: {md_text(manifest['log_size'])}", ""]
    if manifest["contributions"]:
        rows = [
            [c["id"], c["host"], c["member_state"], c["author"], c["index"], str(len(c["proof"]))]
            for c in manifest["contributions"]
        ]
        columns = [
            "Contribution",
            "Host country",
            "Member State",
            "Author",
            "Index",
            "Proof hashes",
        ]
        out += [_md_table(columns, rows, [False] * 4 + [True, True]), ""]
    else:
        out += ["_No contribution._", ""]
    out += ["Checkpoint:", "", "~~~", manifest["checkpoint"].replace("~~~", "\\~~~"), "~~~", ""]
    return "\n".join(out)


# -- HTML and PDF -----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # autoescape=True, not select_autoescape: the template's name ends in .j2, and
    # escaping must never hang on a file name.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("ilo_node.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one HTML file: inline CSS and SVG, no script, nothing fetched."""
    view = _view(report)
    for chart in _all_charts(view):
        # charts.py escaped every text it put in the SVG.
        chart["svg"] = Markup(chart["svg"])  # noqa: S704
    return _environment().get_template("report.html.j2").render(report=view)


def _all_charts(view: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for host in view["hosts"]:
        yield from host["charts"]
    yield from view["overall"]["charts"]
    yield from view["trend_charts"]


def render_pdf(html: str, path: Path) -> None:
    """The HTML laid out as PDF by WeasyPrint (the same layout as on screen, its @page
    rules for paper), written as a private file."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        # WeasyPrint loads Pango and HarfBuzz from the system when it is imported.
        stem = path.stem
        raise PdfUnavailableError(
            f"{path.name} cannot be written here: WeasyPrint cannot load its system "
            f"libraries ({type(exc).__name__})",
            "Install them (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
            f"libharfbuzz-subset0) and build again; {stem}.json, {stem}.html and "
            f"{stem}.md are written all the same.",
        ) from None

    # The HTML references nothing; a fetcher allowing no protocol makes sure that
    # nothing a text might smuggle in is read from disk or the network.
    fetcher = weasyprint.URLFetcher(allowed_protocols=())
    pdf = weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    write_private_file(path, pdf)


def write_outputs(
    report: Mapping[str, Any], out_dir: Path, *, problems: list[str] | None = None
) -> dict[str, Path]:
    """report.md, report.html and report.pdf in out_dir, each mode 0600. Where the PDF
    cannot be made here, it is left out and, given ``problems``, the reason added
    there (without it, :class:`PdfUnavailableError` is raised)."""
    return write_documents(
        "report", render_markdown(report), render_html(report), out_dir, problems=problems
    )


def write_documents(
    stem: str, markdown: str, html: str, out_dir: Path, *, problems: list[str] | None = None
) -> dict[str, Path]:
    """``stem``.md, .html and .pdf (the HTML laid out) in out_dir, as :func:`write_outputs`
    says; shared with the annual overview's renderer."""
    paths = {
        "md": out_dir / f"{stem}.md",
        "html": out_dir / f"{stem}.html",
        "pdf": out_dir / f"{stem}.pdf",
    }
    write_private_file(paths["md"], markdown.encode("utf-8"))
    write_private_file(paths["html"], html.encode("utf-8"))
    try:
        render_pdf(html, paths["pdf"])
    except PdfUnavailableError as exc:
        if problems is None:
            raise
        problems.append(f"{exc.message}. {exc.advice}")
        del paths["pdf"]
    return paths
