"""The report's charts as SVG, written by hand (ADR 0012).

Three shapes are all the reports need: horizontal bars (a label and a count per row,
labels being country names that vary in length), the same in groups of one bar per
series (the annual overview's figures, first and second half-year side by side) and
a line over half-years. Each is a pure function of its points, so the same report
always gives the same bytes; every text is escaped here, because the SVG is inserted
into the HTML as markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

__all__ = ["MAX_BARS", "bar_chart", "capped", "format_number", "grouped_bar_chart", "line_chart"]

#: Bars past this many are summed into one: a chart of 200 nationalities is unreadable,
#: and the table beside it still lists them all.
MAX_BARS = 15
_WIDTH = 640
_LABEL_W = 200
_VALUE_W = 60
_BAR_H = 18
_GAP = 6
_TOP = 30
_MAX_LABEL = 30
_FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
#: The shades of a grouped chart's series, in order (then repeated).
_SERIES_FILL = ("#8fb3d9", "#1f4e79", "#c55a11", "#548235")

Number = int | float


def format_number(value: Number) -> str:
    """A value as shown: integers without a decimal point, others to two places."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def _coord(value: float) -> str:
    # Fixed precision keeps the output byte-identical across runs and platforms.
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _open(chart_id: str, title: str, height: float) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id={quoteattr("chart-" + chart_id)}'
        f' width="{_WIDTH}" height="{_coord(height)}" viewBox="0 0 {_WIDTH} {_coord(height)}"'
        f' role="img" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" {_FONT} font-size="13" font-weight="bold">{escape(title)}</text>',
    ]


def _empty(chart_id: str, title: str) -> str:
    parts = _open(chart_id, title, 60)
    parts.append(f'<text x="0" y="44" {_FONT} font-size="12" fill="#555">No data</text>')
    parts.append("</svg>")
    return "".join(parts)


def capped(points: Sequence[tuple[str, Number]]) -> list[tuple[str, Number]]:
    if len(points) <= MAX_BARS:
        return list(points)
    kept, rest = list(points[: MAX_BARS - 1]), points[MAX_BARS - 1 :]
    kept.append((f"Others ({len(rest)})", sum(v for _, v in rest)))
    return kept


def bar_chart(chart_id: str, title: str, points: Sequence[tuple[str, Number]]) -> str:
    """Horizontal bars, one a point, in the order given; negative values are drawn as 0."""
    if not points:
        return _empty(chart_id, title)
    bars = capped(points)
    top = max((max(v, 0) for _, v in bars), default=0)
    scale = (_WIDTH - _LABEL_W - _VALUE_W) / top if top > 0 else 0.0
    height = _TOP + len(bars) * (_BAR_H + _GAP)
    parts = _open(chart_id, title, height)
    for i, (label, value) in enumerate(bars):
        y = _TOP + i * (_BAR_H + _GAP)
        width = max(value, 0) * scale
        text_y = _coord(y + _BAR_H - 5)
        parts.append(
            f'<text x="{_LABEL_W - 6}" y="{text_y}" {_FONT} font-size="11"'
            f' text-anchor="end"><title>{escape(label)}</title>{escape(_short(label))}</text>'
        )
        parts.append(
            f'<rect x="{_LABEL_W}" y="{_coord(y)}" width="{_coord(width)}" height="{_BAR_H}"'
            ' fill="#1f4e79"/>'
        )
        parts.append(
            f'<text x="{_coord(_LABEL_W + width + 4)}" y="{text_y}" {_FONT}'
            f' font-size="11">{escape(format_number(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def grouped_bar_chart(
    chart_id: str,
    title: str,
    series: Sequence[str],
    groups: Sequence[tuple[str, Sequence[Number | None]]],
) -> str:
    """Horizontal bars in groups, one group per label and in it one bar per series,
    with a legend. Each group has its own scale (its largest bar is full width): the
    chart compares the series of one label, such as a figure's two half-years, and
    figures counted in tens and in thousands side by side would leave the small ones
    invisible; the values are printed. A missing value (None) draws no bar and shows
    "—"; negative values are drawn as 0. Every group is drawn: the groups are a
    template's figures, few, and none may be folded into another."""
    if not groups or not series:
        return _empty(chart_id, title)
    bar_h = 12
    group_h = len(series) * bar_h + _GAP
    legend_y = _TOP
    first = _TOP + 20
    height = first + len(groups) * group_h
    parts = _open(chart_id, title, height)
    x = float(_LABEL_W)
    for i, name in enumerate(series):
        fill = _SERIES_FILL[i % len(_SERIES_FILL)]
        parts.append(
            f'<rect x="{_coord(x)}" y="{legend_y - 9}" width="10" height="10" fill="{fill}"/>'
            f'<text x="{_coord(x + 14)}" y="{legend_y}" {_FONT} font-size="11">'
            f"{escape(name)}</text>"
        )
        x += 24 + 7 * min(len(name), _MAX_LABEL)
    for g, (label, group) in enumerate(groups):
        y = first + g * group_h
        top = max((max(v, 0) for v in group if v is not None), default=0)
        scale = (_WIDTH - _LABEL_W - _VALUE_W) / top if top > 0 else 0.0
        parts.append(
            f'<text x="{_LABEL_W - 6}" y="{_coord(y + len(series) * bar_h / 2 + 4)}" {_FONT}'
            f' font-size="11" text-anchor="end"><title>{escape(label)}</title>'
            f"{escape(_short(label))}</text>"
        )
        for i in range(len(series)):
            value = group[i] if i < len(group) else None
            bar_y = y + i * bar_h
            text_y = _coord(bar_y + bar_h - 2)
            if value is None:
                parts.append(
                    f'<text x="{_LABEL_W + 4}" y="{text_y}" {_FONT} font-size="10"'
                    ' fill="#555">—</text>'
                )
                continue
            width = max(value, 0) * scale
            parts.append(
                f'<rect x="{_LABEL_W}" y="{_coord(bar_y)}" width="{_coord(width)}"'
                f' height="{bar_h - 1}" fill="{_SERIES_FILL[i % len(_SERIES_FILL)]}"/>'
                f'<text x="{_coord(_LABEL_W + width + 4)}" y="{text_y}" {_FONT}'
                f' font-size="10">{escape(format_number(value))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above value (value > 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # not reached: value < 10 * power by the choice of power


def line_chart(chart_id: str, title: str, points: Sequence[tuple[str, Number | None]]) -> str:
    """A line over the points in order (half-years); a point without a value is a gap
    in the line but keeps its place on the axis."""
    if not points:
        return _empty(chart_id, title)
    left, right, plot_top, plot_h = 50, 20, 30, 160
    height = plot_top + plot_h + 40
    values = [v for _, v in points if v is not None]
    top = max((max(v, 0) for v in values), default=0)
    ceiling = _nice_ceiling(top) if top > 0 else 1.0
    span = _WIDTH - left - right
    step = span / (len(points) - 1) if len(points) > 1 else 0.0

    def x_of(i: int) -> float:
        return left + (i * step if len(points) > 1 else span / 2)

    def y_of(v: Number) -> float:
        return plot_top + plot_h - max(v, 0) / ceiling * plot_h

    parts = _open(chart_id, title, height)
    for k in range(5):
        tick = ceiling * k / 4
        y = _coord(y_of(tick))
        parts.append(
            f'<line x1="{left}" y1="{y}" x2="{_WIDTH - right}" y2="{y}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y}" {_FONT} font-size="10" text-anchor="end"'
            f' dominant-baseline="middle">{escape(format_number(tick))}</text>'
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, (_, v) in enumerate(points):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
        else:
            segment.append(f"{_coord(x_of(i))},{_coord(y_of(v))}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(
                f'<polyline points="{" ".join(seg)}" fill="none" stroke="#1f4e79"'
                ' stroke-width="2"/>'
            )
    for i, (label, v) in enumerate(points):
        x = _coord(x_of(i))
        parts.append(
            f'<text x="{x}" y="{plot_top + plot_h + 18}" {_FONT} font-size="11"'
            f' text-anchor="middle">{escape(label)}</text>'
        )
        if v is not None:
            cy = y_of(v)
            parts.append(
                f'<circle cx="{x}" cy="{_coord(cy)}" r="3.5" fill="#1f4e79"/>'
                f'<text x="{x}" y="{_coord(cy - 8)}" {_FONT} font-size="10"'
                f' text-anchor="middle">{escape(format_number(v))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
