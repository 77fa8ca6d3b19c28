"""Small static SVG charts drawn from numbers: no JavaScript, no fonts to fetch, nothing to download.

Every chart is a :class:`Chart`: the ``<svg>`` markup (role="img", with ``<title>`` and ``<desc>`` as its text
alternative) and the table of the numbers it draws, which the page prints beside it. The charts are sized in
pixels (``width`` x ``height``), and the SVG carries both its size and a viewBox, so it is drawn at that size
and scales down on a narrow screen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#d9dee4"
# Okabe-Ito and Tableau-like hues that stay apart for the common colour-vision deficiencies
PALETTE = (
    "#0072b2", "#009e73", "#56b4e9", "#e69f00", "#f0e442", "#cc79a7", "#d55e00", "#8c564b", "#7f7f7f",
    "#17becf", "#bcbd22", "#393b79",
)  # fmt: skip
PREDICTED = "#d55e00"
ACTUAL = "#0072b2"


@dataclass
class Chart:
    """One chart: its SVG and the numbers it draws (headers and text rows for the table beside it)."""

    id: str
    title: str
    desc: str
    svg: str
    width: int
    height: int
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _text(
    x: float, y: float, text: str, size: int = 12, anchor: str = "start", fill: str = INK, bold: bool = False
) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{weight}>'
        f"{escape(text)}</text>"
    )


def _svg(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}-svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" style="{FONT}">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>' + "".join(body) + "</svg>"
    )


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ink_on(fill: str) -> str:
    """Black or white text, whichever reads on ``fill``."""
    return INK if _luminance(fill) > 0.5 else "#ffffff"


# the heat maps' scale (ColorBrewer Blues): a straight blend of its ends turns grey in the middle
HEAT = ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")


def blend(share: float) -> str:
    """The heat-map colour of ``share`` (0..1), interpolated between the stops of ``HEAT``."""
    s = min(max(share, 0.0), 1.0) * (len(HEAT) - 1)
    k = min(int(s), len(HEAT) - 2)
    low, high, t = HEAT[k], HEAT[k + 1], s - k
    parts = [round(int(low[i : i + 2], 16) * (1 - t) + int(high[i : i + 2], 16) * t) for i in (1, 3, 5)]
    return "#" + "".join(f"{p:02x}" for p in parts)


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above ``value`` (an axis end)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * 0.999999:
            return step * power
    return 10 * power


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 x 10^k) covering ``lo``..``hi`` with about ``count`` steps."""
    step = nice_max((hi - lo) / count) if hi > lo else 1.0
    first = math.floor(lo / step) * step
    out = []
    value = first
    while value <= hi + step * 1e-9:
        if value >= lo - step * 1e-9:
            out.append(round(value, 10))
        value += step
    return out


def bars(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    fmt: Callable[[float], str],
    width: int = 560,
    label_width: int = 150,
    axis_max: float | None = None,
    row_colours: Sequence[str] | None = None,
    whole: bool = False,
) -> str:
    """Horizontal bars, one group per label, one bar per series (name, values, colour); a legend when several.

    ``whole``: the values are counts, and the axis is marked in whole numbers.
    """
    n_series = len(series)
    bar_h = 16 if n_series > 1 else 20
    group_h = bar_h * n_series + 10
    # the legend's entries, wrapped onto as many rows as the width needs
    places: list[tuple[float, int]] = []
    lx, row = float(label_width), 0
    for name, _, _ in series if n_series > 1 else []:
        size = 24 + 7 * len(name)
        if lx + size > width and lx > label_width:
            lx, row = float(label_width), row + 1
        places.append((lx, row))
        lx += size
    legend_h = 22 * (row + 1) if n_series > 1 else 0
    top = 8 + legend_h
    height = top + group_h * len(labels) + 26
    values = [v for _, vals, _ in series for v in vals if v is not None]
    top_value = axis_max if axis_max is not None else nice_max(max(values, default=0.0))
    step = top_value / 4
    if whole and step != int(step):  # counts: whole-number ticks only (not 0, 0, 1, 2, 2)
        step = float(math.ceil(step))
        top_value = step * 4
    plot_w = width - label_width - 70
    body: list[str] = []
    for (name, _, fill), (lx, row) in zip(series, places, strict=False):
        body.append(f'<rect x="{lx:.1f}" y="{8 + 22 * row}" width="12" height="12" fill="{fill}"/>')
        body.append(_text(lx + 16, 18 + 22 * row, name, 11, fill=MUTED))
    for tick in range(5):
        value = step * tick
        x = label_width + plot_w * tick / 4
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 22}" stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(x, height - 8, fmt(value), 10, "middle", MUTED))
    for i, label in enumerate(labels):
        y0 = top + i * group_h + 5
        body.append(_text(label_width - 8, y0 + group_h / 2 - 1, label, 12, "end"))
        for j, (_, vals, fill) in enumerate(series):
            found = vals[i]
            y = y0 + j * bar_h
            if found is None:
                body.append(_text(label_width + 4, y + bar_h - 5, "n/a", 10, fill=MUTED))
                continue
            w = max(plot_w * found / top_value, 0.0) if top_value else 0.0
            paint = row_colours[i] if row_colours is not None and n_series == 1 else fill
            body.append(
                f'<rect x="{label_width}" y="{y:.1f}" width="{w:.1f}" height="{bar_h - 3}" fill="{paint}"/>'
            )
            body.append(_text(label_width + w + 4, y + bar_h - 6, fmt(found), 10, fill=INK))
    return _svg(chart_id, title, desc, width, int(height), body)


def grid(
    chart_id: str,
    title: str,
    desc: str,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    fills: Sequence[Sequence[str | None]],
    texts: Sequence[Sequence[Sequence[str]]],
    row_title: str,
    col_title: str,
    cell_w: int = 96,
    cell_h: int = 44,
    label_width: int = 90,
    legend: Sequence[tuple[str, str]] = (),
    slanted: bool = False,
) -> tuple[str, int, int]:
    """A matrix of coloured cells with one or two lines of text each; a None fill is an empty (grey) cell.

    ``slanted`` column labels are drawn at 40 degrees, for long names over narrow cells.
    """
    longest = max((len(c) for c in col_labels), default=0)
    top = 40 + (round(longest * 6.2 * 0.64) if slanted else 0)
    legend_rows = math.ceil(len(legend) / 4) if legend else 0
    width = label_width + cell_w * len(col_labels) + 10
    height = top + cell_h * len(row_labels) + 12 + 20 * legend_rows
    body = [_text(label_width + cell_w * len(col_labels) / 2, 14, col_title, 12, "middle", MUTED, True)]
    body.append(_text(8, 14, row_title, 12, "start", MUTED, True))
    for j, col in enumerate(col_labels):
        cx = label_width + cell_w * (j + 0.5)
        if slanted:
            body.append(
                f'<g transform="translate({cx - 6:.1f},{top - 8}) rotate(-40)">{_text(0, 0, col, 11, "start", MUTED)}</g>'
            )
        else:
            body.append(_text(cx, top - 8, col, 11, "middle", MUTED))
    for i, row in enumerate(row_labels):
        y = top + i * cell_h
        body.append(_text(label_width - 8, y + cell_h / 2 + 4, row, 11, "end", MUTED))
        for j in range(len(col_labels)):
            x = label_width + j * cell_w
            fill = fills[i][j]
            paint = fill if fill is not None else "#f1f3f5"
            body.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{paint}" rx="2"/>'
            )
            lines = texts[i][j]
            ink = ink_on(paint) if fill is not None else MUTED
            for k, line in enumerate(lines):
                offset = (k - (len(lines) - 1) / 2) * 14
                body.append(
                    _text(
                        x + (cell_w - 2) / 2,
                        y + (cell_h - 2) / 2 + 4 + offset,
                        line,
                        11,
                        "middle",
                        ink,
                        k == 0,
                    )
                )
    legend_top = top + cell_h * len(row_labels) + 10
    for k, (name, fill) in enumerate(legend):
        lx = 8.0 + (k % 4) * ((width - 16) / 4)
        ly = legend_top + (k // 4) * 20
        body.append(f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{fill}"/>')
        body.append(_text(lx + 16, ly + 10, name, 11, fill=MUTED))
    return _svg(chart_id, title, desc, width, int(height), body), width, int(height)


def lines(
    chart_id: str,
    title: str,
    desc: str,
    xs: Sequence[float],
    series: Sequence[tuple[str, Sequence[float | None], str, bool]],
    x_title: str,
    fmt: Callable[[float], str],
    marker_x: float | None = None,
    marker_label: str = "",
    width: int = 640,
    height: int = 300,
    x_labels: Sequence[str] | None = None,
) -> str:
    """Line series (name, values, colour, dashed) over ``xs``; a vertical marker at ``marker_x``."""
    left, right, top, bottom = 64, 16, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vals, _, _ in series for v in vals if v is not None]
    y_max = nice_max(max(values, default=0.0))
    x_min, x_max = min(xs), max(xs)
    span = (x_max - x_min) or 1.0

    def px(x: float) -> float:
        return left + plot_w * (x - x_min) / span

    def py(y: float) -> float:
        return top + plot_h * (1 - y / y_max)

    body: list[str] = []
    for tick in range(5):
        value = y_max * tick / 4
        body.append(
            f'<line x1="{left}" y1="{py(value):.1f}" x2="{width - right}" y2="{py(value):.1f}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, py(value) + 4, fmt(value), 10, "end", MUTED))
    if x_labels is not None:
        step = max(1, math.ceil(len(xs) / 8))
        for k in range(0, len(xs), step):
            body.append(_text(px(xs[k]), height - bottom + 16, x_labels[k], 10, "middle", MUTED))
    else:
        for x in ticks(x_min, x_max, 6):
            body.append(_text(px(x), height - bottom + 16, f"{x:,.0f}", 10, "middle", MUTED))
    body.append(_text(left + plot_w / 2, height - 6, x_title, 11, "middle", MUTED))
    if marker_x is not None:
        mx = px(marker_x)
        body.append(
            f'<line x1="{mx:.1f}" y1="{top}" x2="{mx:.1f}" y2="{height - bottom}" stroke="{MUTED}" '
            'stroke-dasharray="4 3"/>'
        )
        body.append(_text(mx + 4, top + 12, marker_label, 10, "start", MUTED))
    lx = left + 8
    for name, vals, stroke, dashed in series:
        points = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, vals, strict=True) if v is not None)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        body.append(f'<polyline points="{points}" fill="none" stroke="{stroke}" stroke-width="2.2"{dash}/>')
        if len(vals) == 1 and vals[0] is not None:
            body.append(f'<circle cx="{px(xs[0]):.1f}" cy="{py(vals[0]):.1f}" r="3" fill="{stroke}"/>')
        body.append(
            f'<line x1="{lx}" y1="14" x2="{lx + 18}" y2="14" stroke="{stroke}" stroke-width="2.2"{dash}/>'
        )
        body.append(_text(lx + 22, 18, name, 11, fill=MUTED))
        lx += 36 + 7 * len(name)
    body.append(
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="{MUTED}"/>'
    )
    return _svg(chart_id, title, desc, width, height, body)


def ranges(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    quantiles: Sequence[tuple[float, float, float, float, float] | None],
    x_title: str,
    width: int = 640,
    label_width: int = 150,
    zero_label: str = "",
) -> str:
    """Box plots along x: whiskers p10..p90, box p25..p75, a bar at the median; 0 marked when in range."""
    row_h = 26
    top, bottom = 12, 40
    height = top + row_h * len(labels) + bottom
    present = [q for q in quantiles if q is not None]
    lo = min([q[0] for q in present] + [0.0])
    hi = max([q[4] for q in present] + [1.0])
    step = nice_max((hi - lo) / 6)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    marks = ticks(lo, hi, round((hi - lo) / step))
    top += 14  # room for the zero label above the rows
    height += 14
    plot_w = width - label_width - 20

    def px(x: float) -> float:
        return label_width + plot_w * (x - lo) / (hi - lo)

    body: list[str] = []
    for x in marks:
        body.append(
            f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{height - bottom}" stroke="{GRID}"/>'
        )
        body.append(_text(px(x), height - bottom + 14, f"{x:,.0f}", 10, "middle", MUTED))
    body.append(_text(label_width + plot_w / 2, height - 8, x_title, 11, "middle", MUTED))
    if lo < 0 < hi:
        body.append(
            f'<line x1="{px(0):.1f}" y1="{top}" x2="{px(0):.1f}" y2="{height - bottom}" stroke="{INK}" '
            'stroke-width="1.5"/>'
        )
        if zero_label:
            body.append(_text(px(0), top - 4, zero_label, 10, "middle", INK))
    for i, (label, q) in enumerate(zip(labels, quantiles, strict=True)):
        y = top + i * row_h + row_h / 2
        body.append(_text(label_width - 8, y + 4, label, 12, "end"))
        if q is None:
            body.append(_text(label_width + 4, y + 4, "no dates", 10, fill=MUTED))
            continue
        p10, p25, p50, p75, p90 = (px(v) for v in q)
        fill = colour(i)
        body.append(f'<line x1="{p10:.1f}" y1="{y:.1f}" x2="{p90:.1f}" y2="{y:.1f}" stroke="{MUTED}"/>')
        body.append(
            f'<rect x="{p25:.1f}" y="{y - 8:.1f}" width="{max(p75 - p25, 1.5):.1f}" height="16" fill="{fill}" '
            'fill-opacity="0.75"/>'
        )
        body.append(
            f'<line x1="{p50:.1f}" y1="{y - 10:.1f}" x2="{p50:.1f}" y2="{y + 10:.1f}" stroke="{INK}" stroke-width="2"/>'
        )
    return _svg(chart_id, title, desc, width, int(height), body)
