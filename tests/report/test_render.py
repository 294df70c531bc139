"""The report's renderers: Markdown, HTML (self-contained, escaped), SVG charts, PDF,
and the HTML as a real browser reads it."""

from __future__ import annotations

import copy
import ctypes.util
import re
import stat
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ilo_node.errors import PdfUnavailableError
from ilo_node.report import charts
from ilo_node.report.render import (
    render_html,
    render_markdown,
    render_pdf,
    write_outputs,
)
from tests.support.browser import dump_dom

HOSTILE = 'Smugglers <script>alert("x")</script> & co | "quoted"\nsecond line'
SVG_NS = "{http://www.w3.org/2000/svg}"


def _tables(scale: int) -> list[dict[str, Any]]:
    return [
        {
            "id": "nationalities",
            "title": "Irregular migrants detected, by nationality (top ten)",
            "columns": ["Nationality", "Detected"],
            "rows": [["AF", 190 * scale], ["SY", 120 * scale], ["IQ", 0]],
        },
        {
            "id": "document_fraud",
            "title": "Document fraud",
            "columns": ["Document", "Fraud type", "Issuing country", "Count"],
            "rows": [
                ["passport", "impostor", "DE", 1 * scale],
                ["passport", "photo_substitution", "FR", 2],
                ["identity_card", "counterfeit", "IT", 4],
            ],
        },
        {
            "id": "indicators",
            "title": "Indicators",
            "columns": ["Indicator", "Nationality", "Route", "Count"],
            "rows": [
                ["refusals_of_entry", "", "a|b route", 42],
                ["effective_returns", "AF", "", 7],
            ],
        },
    ]


def _report() -> dict[str, Any]:
    return {
        "format": "ilo-node-report/1",
        "template": {
            "id": "decision-2005-687",
            "title": "Report on the activities of the immigration liaison officers' networks",
            "digest": "ab" * 32,
        },
        "period": "2026-H2",
        "network": "devnet.ilo",
        "presidency": "IE",
        "built": {"node": "IE@TR", "at": "2026-12-01T20:00:00.000Z"},
        "host_countries": [
            {
                "code": "TR",
                "name": "Türkiye",
                "contributors": ["DE", "FR"],
                "sections": [
                    {
                        "part": "I",
                        "id": "composition",
                        "title": "1. Composition of the network",
                        "figures": [{"id": "deployments", "label": "ILOs deployed", "value": 3}],
                        "texts": [{"member_state": "DE", "text": HOSTILE}],
                    },
                    {
                        "part": "II",
                        "id": "flows",
                        "title": "II.1 Flows of irregular migrants",
                        "figures": [
                            {
                                "id": "irregular_migrants_detected",
                                "label": "Irregular migrants detected",
                                "value": 310,
                            }
                        ],
                        "texts": [],
                    },
                    {
                        "part": "II",
                        "id": "assessment",
                        "title": "II.9 Assessment and outlook",
                        "figures": [],
                        "texts": [],
                    },
                ],
                "tables": _tables(1),
            },
            {
                "code": "MA",
                "name": "Morocco",
                "contributors": ["FR"],
                "sections": [
                    {
                        "part": "I",
                        "id": "composition",
                        "title": "1. Composition of the network",
                        "figures": [{"id": "deployments", "label": "ILOs deployed", "value": 2}],
                        "texts": [{"member_state": "FR", "text": "Routine."}],
                    }
                ],
                "tables": [
                    {
                        "id": "nationalities",
                        "title": "By nationality",
                        "columns": ["Nationality", "Detected"],
                        "rows": [],
                    },
                    {
                        "id": "document_fraud",
                        "title": "Document fraud",
                        "columns": ["Document", "Fraud type", "Issuing country", "Count"],
                        "rows": [["visa", "forged", "ES", 0]],
                    },
                ],
            },
        ],
        "overall": {
            "figures": [{"id": "deployments", "label": "ILOs deployed", "value": 5}],
            "tables": _tables(2),
        },
        "trend": [
            {
                "period": "2026-H1",
                "figures": {"irregular_migrants_detected": 300, "forged_documents_detected": 20},
            },
            {
                "period": "2026-H2",
                "figures": {"irregular_migrants_detected": 310, "forged_documents_detected": 7},
            },
        ],
        "charts": [
            {
                "id": "flows",
                "title": "Irregular migrants by nationality",
                "type": "bar",
                "table": "nationalities",
                "label_column": 0,
                "value_column": 1,
            },
            {
                "id": "fraud",
                "title": "Document fraud by type",
                "type": "bar",
                "table": "document_fraud",
                "label_column": 0,
                "value_column": 3,
            },
            {
                "id": "trend",
                "title": "Trend against earlier half-years",
                "type": "line",
                "figure": "irregular_migrants_detected",
            },
        ],
        "missing": [{"host": "MA", "member_state": "ES", "node": "ES@MA"}],
        "manifest": {
            "checkpoint": "devnet.ilo\n123\nq83bPJPmFA0=\n\n— IE@TR Az3grlgHd0o=\n",
            "log_size": 123,
            "contributions": [
                {
                    "id": "0f" * 32,
                    "host": "TR",
                    "member_state": "DE",
                    "author": "anna.berg (DE@TR)",
                    "index": 5,
                    "proof": ["aa" * 32, "bb" * 32],
                },
                {
                    "id": "1e" * 32,
                    "host": "TR",
                    "member_state": "FR",
                    "author": "luc.martin (FR@TR)",
                    "index": 9,
                    "proof": [],
                },
            ],
        },
    }


def _empty_report() -> dict[str, Any]:
    report = _report()
    report["host_countries"] = []
    report["overall"] = {"figures": [], "tables": []}
    report["trend"] = []
    report["missing"] = []
    report["manifest"] = {"checkpoint": "", "log_size": 0, "contributions": []}
    return report


# -- Markdown ---------------------------------------------------------------------------


def test_markdown_has_every_part() -> None:
    md = render_markdown(_report())
    for heading in (
        "# Report on the activities",
        "## Türkiye (TR)",
        "## Morocco (MA)",
        "### Part I",
        "### Part II",
        "#### 1. Composition of the network",
        "### Statistical tables",
        "## Overall",
        "## Local networks that did not contribute",
        "## Annex: manifest",
    ):
        assert heading in md, heading
    assert "| Afghanistan | 190 |" in md
    assert "| passport | impostor | Germany | 1 |" in md
    assert "| refusals of entry | — | a\\|b route | 42 |" in md
    assert "Chart: Irregular migrants by nationality" in md
    assert "█" in md
    assert "| 2026-H1 | 300 |" in md
    assert "| Morocco | Spain | ES@MA |" in md
    assert "0f" * 32 in md
    assert "Germany, France" in md


def test_markdown_escapes_text() -> None:
    md = render_markdown(_report())
    assert "<script>" not in md
    assert "\\<script\\>" in md
    assert "\\& co \\| " in md
    # The officer's line break is kept inside the quote.
    assert "> second line" in md


def test_markdown_quote_cannot_open_a_block() -> None:
    report = _report()
    text = "# heading\n1. list\n- item\n> quote"
    report["host_countries"][0]["sections"][0]["texts"][0]["text"] = text
    md = render_markdown(report)
    assert "> \\# heading  \n> 1\\. list  \n> \\- item  \n> \\> quote\n" in md


def test_markdown_table_rows_keep_their_column_count() -> None:
    for line in render_markdown(_report()).splitlines():
        if line.startswith("| refusals"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 5


def test_markdown_of_an_empty_report() -> None:
    md = render_markdown(_empty_report())
    assert "No host country is covered" in md
    assert "Every expected local network contributed." in md
    assert "_No contribution._" in md


# -- HTML -------------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)


def _parsed(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


def test_html_is_self_contained() -> None:
    html = render_html(_report())
    parsed = _parsed(html)
    assert "script" not in parsed.tags
    assert not {"img", "link", "iframe", "object", "embed"} & set(parsed.tags)
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    for name, value in parsed.attrs:
        assert name not in {"src", "srcset"}
        if name == "href":
            assert value is not None and value.startswith("#")


def test_html_escapes_text() -> None:
    html = render_html(_report())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co | &#34;quoted&#34;" in html


def test_html_has_every_section_host_table_and_chart() -> None:
    ids = _parsed(render_html(_report())).ids
    expected = {
        "title",
        "host-TR",
        "host-MA",
        "host-TR-part-I",
        "host-TR-part-II",
        "host-TR-composition",
        "host-TR-flows",
        "host-TR-assessment",
        "host-TR-table-nationalities",
        "host-TR-table-document_fraud",
        "host-TR-table-indicators",
        "chart-host-TR-flows",
        "chart-host-TR-fraud",
        "chart-host-MA-flows",
        "overall",
        "overall-table-nationalities",
        "chart-overall-flows",
        "chart-overall-fraud",
        "chart-trend-trend",
        "missing",
        "annex",
        "manifest-contributions",
        "checkpoint",
    }
    assert expected <= ids, expected - ids


def test_html_shows_names_and_manifest() -> None:
    html = render_html(_report())
    assert "Afghanistan" in html
    assert "Ireland (IE)" in html
    assert "photo substitution" in html
    assert "0f" * 32 in html
    # The proofs are for 'report verify', in report.json: printed, they cost the PDF
    # minutes of table layout and tell a reader nothing.
    assert "aa" * 32 not in html
    assert "inclusion proof in the\n  checkpoint below is in report.json" in html
    assert "q83bPJPmFA0=" in html


def test_html_svg_charts_are_well_formed() -> None:
    html = render_html(_report())
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) == 2 * 2 + 2 + 1
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG_NS}svg"


def test_html_of_an_empty_report() -> None:
    html = render_html(_empty_report())
    ids = _parsed(html).ids
    assert {"title", "no-hosts", "overall", "missing", "annex"} <= ids
    # Each chart is still there, saying it has nothing to draw.
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) == 3
    assert all("No data" in svg for svg in svgs)
    assert "No contribution." in html


def test_rendering_is_deterministic() -> None:
    assert render_html(_report()) == render_html(copy.deepcopy(_report()))
    assert render_markdown(_report()) == render_markdown(_report())


# -- charts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "points",
    [
        [],
        [("Afghanistan", 0)],
        [("Afghanistan", 3)],
        [("A", 0), ("B", 0)],
        [(f"C{i}", i) for i in range(40)],
        [("<b>&\"'", 1.5), ("x" * 80, -2)],
    ],
)
def test_bar_chart_is_well_formed(points: list[tuple[str, int | float]]) -> None:
    svg = charts.bar_chart("t", "Title <&>", points)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    bars = root.findall(f"{SVG_NS}rect")
    assert len(bars) == min(len(points), charts.MAX_BARS)
    assert all(float(b.get("width", "-1")) >= 0 for b in bars)
    if len(points) > charts.MAX_BARS:
        assert "Others (26)" in svg


@pytest.mark.parametrize(
    "points",
    [
        [],
        [("2026-H2", 5)],
        [("2026-H1", 0), ("2026-H2", 0)],
        [("2025-H2", 10), ("2026-H1", None), ("2026-H2", 7)],
        [(f"P{i}", i * 1000) for i in range(12)],
    ],
)
def test_line_chart_is_well_formed(points: list[tuple[str, int | float | None]]) -> None:
    root = ET.fromstring(charts.line_chart("t", "Trend", points))
    circles = root.findall(f"{SVG_NS}circle")
    assert len(circles) == sum(v is not None for _, v in points)
    for c in circles:
        assert 0 <= float(c.get("cy", "-1")) <= 230


# -- PDF --------------------------------------------------------------------------------


def _weasyprint_or_skip() -> None:
    if ctypes.util.find_library("pango-1.0") is None:
        pytest.skip("WeasyPrint needs Pango (Debian: libpango-1.0-0 libpangoft2-1.0-0)")
    try:
        import weasyprint  # noqa: F401
    except OSError as error:
        pytest.skip(f"WeasyPrint's system libraries are missing: {error}")


@pytest.mark.slow
def test_pdf(tmp_path: Path) -> None:
    _weasyprint_or_skip()
    path = tmp_path / "report.pdf"
    html = render_html(_report())
    render_pdf(html, path)
    assert path.read_bytes().startswith(b"%PDF")
    # Title page, two host countries, overall, missing, annex: a page each at least.
    import weasyprint

    assert len(weasyprint.HTML(string=html).render().pages) >= 6
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.slow
def test_write_outputs(tmp_path: Path) -> None:
    _weasyprint_or_skip()
    paths = write_outputs(_empty_report(), tmp_path / "out")
    assert sorted(paths) == ["html", "md", "pdf"]
    for path in paths.values():
        assert path.parent == tmp_path / "out"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert paths["html"].read_text("utf-8").startswith("<!DOCTYPE html>")


# -- a real browser ---------------------------------------------------------------------


@pytest.mark.slow
def test_browser_renders_sections_and_charts(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(_report()), "utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    for anchor in ("host-TR", "host-MA", "overall", "missing", "annex", "chart-trend-trend"):
        assert f'id="{anchor}"' in dom, anchor
    assert len(re.findall(r"<svg\b", dom)) == 7
    assert "<script" not in dom
    assert "&lt;script&gt;" in dom


def test_without_weasyprints_system_libraries_the_pdf_is_left_out_and_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    # As where Pango is missing: importing WeasyPrint fails.
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    problems: list[str] = []
    paths = write_outputs(_report(), tmp_path, problems=problems)
    assert sorted(paths) == ["html", "md"] and not (tmp_path / "report.pdf").exists()
    [problem] = problems
    assert "report.pdf cannot be written here" in problem and "apt-get install" in problem
    with pytest.raises(PdfUnavailableError):
        write_outputs(_report(), tmp_path)
