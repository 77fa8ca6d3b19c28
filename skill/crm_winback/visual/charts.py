"""Each chart of the report from the numbers the core computed: an SVG, its text alternative and its table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..models.backtest import BacktestReport
from ..models.scores import ScorecardRow
from ..models.store import MigrationMatrix
from .gather import FunnelStep, RfCell
from .svg import ACTUAL, PREDICTED, Chart, bars, blend, colour, grid, lines, ranges

if TYPE_CHECKING:  # the model code (SciPy) loads when a chart is drawn, not with the page
    from ..predict.tracking import Tracking


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def _int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


# By position in the segment map, which lists segments best first (knowledge/rfm_segments.yaml): greens for the
# customers to keep, blues for the new, yellow to red for those to act on, purple for the valuable ones slipping
# away, greys for the gone. A map with more segments cycles through the general palette after these.
SEGMENT_PALETTE = (
    "#1a7f37", "#4ac26b", "#aceebb", "#0969da", "#80ccff", "#e3b341", "#fb8f44", "#cf222e", "#8250df",
    "#afb8c1", "#6e7781",
)  # fmt: skip


def segment_colours(segments: Sequence[str]) -> dict[str, str]:
    return {
        name: SEGMENT_PALETTE[i] if i < len(SEGMENT_PALETTE) else colour(i) for i, name in enumerate(segments)
    }


def rf_chart(cells: list[RfCell], colours: dict[str, str], monetary: bool) -> Chart:
    by = {(c.r, c.f): c for c in cells}
    rows_r = [5, 4, 3, 2, 1]
    fills = [[colours.get(by[(r, f)].segment) if (r, f) in by else None for f in range(1, 6)] for r in rows_r]
    texts = [
        [
            [f"{by[(r, f)].customers:,}"] + ([f"{_money(by[(r, f)].revenue)}"] if monetary else [])
            if (r, f) in by
            else ["0"]
            for f in range(1, 6)
        ]
        for r in rows_r
    ]
    present = list(
        dict.fromkeys(c.segment for c in sorted(cells, key=lambda c: list(colours).index(c.segment)))
    )
    total = sum(c.customers for c in cells)
    biggest = max(cells, key=lambda c: c.customers)
    desc = (
        f"A 5 by 5 grid of recency score (rows, 5 most recent at the top) by frequency score (columns). Each cell "
        f"shows its customers{' and net revenue' if monetary else ''}, coloured by the segment most of them are "
        f"in. {total:,} customers; the largest cell is R{biggest.r} F{biggest.f} with {biggest.customers:,} "
        f"({biggest.segment})."
    )
    svg, width, height = grid(
        "rf-grid",
        "Customers by recency and frequency score",
        desc,
        [f"R {r}" for r in rows_r],
        [f"F {f}" for f in range(1, 6)],
        fills,
        texts,
        "recency",
        "frequency score (1 = one order)",
        legend=[(name, colours[name]) for name in present],
    )
    ordered = sorted(cells, key=lambda c: (-c.r, c.f))
    if not monetary:  # segments use F in place of M: no cell is split, and there is no revenue to show
        rows = [[f"R{c.r} F{c.f}", f"{c.customers:,}", c.segment] for c in ordered]
        return Chart(
            "rf-grid", "Recency x frequency", desc, svg, width, height, ["cell", "customers", "segment"], rows
        )
    rows = [
        [f"R{c.r} F{c.f}", f"{c.customers:,}", _money(c.revenue), c.segment, _pct(c.segment_share, 0)]
        for c in ordered
    ]
    return Chart(
        "rf-grid", "Recency x frequency", desc, svg, width, height,
        ["cell", "customers", "net revenue", "main segment", "of the cell"], rows,
        ["Cells where M splits the customers between segments take the colour of the larger part."],
    )  # fmt: skip


def segment_chart(rows: list[ScorecardRow], colours: dict[str, str], monetary: bool) -> Chart:
    labels = [r.group for r in rows]
    series: list[tuple[str, Sequence[float | None], str]] = [
        ("share of customers", [r.share for r in rows], "#0072b2")
    ]
    if monetary:
        series.append(("share of net revenue", [r.revenue_share for r in rows], "#e69f00"))
    top = max(rows, key=lambda r: r.revenue_share or 0) if monetary else max(rows, key=lambda r: r.share)
    desc = (
        f"Bars per segment: its share of customers{' and of net revenue' if monetary else ''}. "
        f"{top.group} holds {_pct(top.share)} of customers"
        + (f" and {_pct(top.revenue_share)} of net revenue." if monetary else ".")
    )
    svg = bars("segments", "Segment sizes and revenue share", desc, labels, series, lambda v: _pct(v, 0))
    table = [
        [r.group, f"{r.customers:,}", _pct(r.share), _money(r.revenue), _pct(r.revenue_share)] for r in rows
    ]
    return Chart(
        "segments", "Segment sizes and revenue share", desc, svg, 560, _height(svg),
        ["segment", "customers", "share", "net revenue", "revenue share"], table,
    )  # fmt: skip


def funnel_chart(steps: list[FunnelStep]) -> Chart:
    names = {1: "1st order", 2: "2nd order", 3: "3rd order"}
    last = steps[-1].orders
    labels = [
        names.get(s.orders, f"{s.orders}th order") if s.orders < last else f"{last}+ orders" for s in steps
    ]
    first = steps[0].reached or 1
    lapse = [s.stopped_lapsed / s.stopped if s.stopped else None for s in steps[:-1]]
    desc = (
        f"Customers reaching each order: {', '.join(f'{lab} {s.reached:,}' for lab, s in zip(labels, steps, strict=True))}. "
        + " ".join(
            f"Of those who stopped at {lab.split()[0]}, {_pct(share, 0)} are lapsed or churned."
            for lab, share in zip(labels, lapse, strict=False)
            if share is not None
        )
    )
    svg = bars(
        "funnel", "From first order to repeat", desc, labels,
        [("customers", [s.reached / first for s in steps], "#0072b2")],
        lambda v: _pct(v, 0), axis_max=1.0,
    )  # fmt: skip
    table = [
        [
            lab, f"{s.reached:,}", _pct(s.reached / first),
            f"{s.stopped:,}" if s.orders < last else "-",
            _pct(s.stopped_lapsed / s.stopped) if s.stopped and s.orders < last else "-",
        ]
        for lab, s in zip(labels, steps, strict=True)
    ]  # fmt: skip
    return Chart(
        "funnel", "Lifecycle funnel", desc, svg, 560, _height(svg),
        ["step", "customers reaching it", "of all customers", "stopped there", "of those, lapsed or churned"],
        table,
    )  # fmt: skip


def stage_chart(rows: list[ScorecardRow]) -> Chart:
    labels = [r.group for r in rows]
    desc = (
        "Customers per lifecycle stage today: " + ", ".join(f"{r.group} {r.customers:,}" for r in rows) + "."
    )
    svg = bars(
        "stages", "Lifecycle stages", desc, labels, [("customers", [float(r.customers) for r in rows], "#009e73")],
        _int, label_width=110, whole=True,
    )  # fmt: skip
    table = [
        [r.group, f"{r.customers:,}", _pct(r.share), f"{r.median_days_since_last_order or 0:,.0f}"]
        for r in rows
    ]
    return Chart(
        "stages", "Lifecycle stages", desc, svg, 560, _height(svg),
        ["stage", "customers", "share", "median days since last order"], table,
    )  # fmt: skip


def cohort_chart(cohorts: list[tuple[str, int, list[float | None]]]) -> Chart:
    months = len(cohorts[0][2]) if cohorts else 12
    peak = max((v for _, _, vals in cohorts for v in vals if v is not None), default=0.0) or 1.0
    fills = [[None if v is None else blend(v / peak) for v in vals] for _, _, vals in cohorts]
    texts = [[[_pct(v, 0)] if v is not None else [""] for v in vals] for _, _, vals in cohorts]
    first_m1 = [vals[0] for _, _, vals in cohorts if vals and vals[0] is not None]
    desc = (
        f"Retention heat map: rows are acquisition months ({cohorts[0][0] if cohorts else '-'} to "
        f"{cohorts[-1][0] if cohorts else '-'}), columns months 1 to {months} after the first order; each cell is "
        f"the share of the cohort that ordered in that month (darker is higher, blank: not yet observed). "
        + (
            f"Month-1 retention ranges from {_pct(min(first_m1))} to {_pct(max(first_m1))}."
            if first_m1
            else ""
        )
    )
    svg, width, height = grid(
        "cohorts", "Cohort retention by month", desc,
        [f"{c} ({n:,})" for c, n, _ in cohorts], [str(k) for k in range(1, months + 1)], fills, texts,
        "cohort (customers)", "months after the first order", cell_w=50, cell_h=24, label_width=130,
    )  # fmt: skip
    table = [[c, f"{n:,}", *(_pct(v) for v in vals)] for c, n, vals in cohorts]
    return Chart(
        "cohorts", "Cohort retention", desc, svg, width, height,
        ["cohort", "customers", *(f"m{k}" for k in range(1, months + 1))], table,
        [f"Colour scale: white 0% to dark blue {_pct(peak)}, the highest cell."],
    )  # fmt: skip


def tracking_chart(t: Tracking) -> Chart:
    end_actual, end_pred = t.actual[-1], t.predicted[-1]
    cal_index = max(i for i, w in enumerate(t.weeks) if w <= t.calibration_weeks) if t.weeks else 0
    desc = (
        f"Cumulative repeat purchase days by week since {t.start} of {t.who()}, actual and predicted by "
        f"{t.model} fitted on the weeks up to {t.calibration_end} (dashed line). At the end of the calibration "
        f"period: actual {t.actual[cal_index]:,.0f}, predicted {t.predicted[cal_index]:,.0f}; at the end of the "
        f"holdout: actual {end_actual:,.0f}, predicted {end_pred:,.0f} ({_signed_pct(end_pred, end_actual)})."
    )
    svg = lines(
        "tracking", "Repeat purchases: predicted vs actual", desc, t.weeks,
        [("actual", t.actual, ACTUAL, False), (f"predicted ({t.model})", t.predicted, PREDICTED, True)],
        "weeks since the first order in the data", _int, marker_x=t.calibration_weeks,
        marker_label="calibration | holdout",
    )  # fmt: skip
    step = max(1, len(t.weeks) // 13)
    picked = sorted(set(range(0, len(t.weeks), step)) | {cal_index, len(t.weeks) - 1})
    table = [
        [
            str(t.weeks[i]),
            "calibration" if i <= cal_index else "holdout",
            f"{t.actual[i]:,.0f}",
            f"{t.predicted[i]:,.0f}",
        ]
        for i in picked
    ]
    return Chart(
        "tracking", "Backtest: tracking plot", desc, svg, 640, 300,
        ["week", "period", "actual (cumulative)", "predicted (cumulative)"], table,
        [f"Drawn with {t.why}, for {t.who()}. Every {step} weeks, plus the split and the last week."],
    )  # fmt: skip


def _signed_pct(predicted: float, actual: float) -> str:
    if not actual:
        return "no actual purchases"
    return f"{100 * (predicted - actual) / actual:+.1f}%"


def decile_chart(t: Tracking) -> Chart:
    labels = [f"decile {d}" for d, _, _, _ in t.deciles]
    desc = (
        f"Holdout repeat purchase days per customer, mean predicted by {t.model} against mean actual, for ten "
        f"groups of {t.who()} ranked by the prediction (decile 1: highest). "
        f"Decile 1: predicted {t.deciles[0][2]:.2f}, actual {t.deciles[0][3]:.2f}; decile 10: predicted "
        f"{t.deciles[-1][2]:.2f}, actual {t.deciles[-1][3]:.2f}."
    )
    svg = bars(
        "deciles", "Predicted vs actual by decile", desc, labels,
        [("predicted", [p for _, _, p, _ in t.deciles], PREDICTED), ("actual", [a for _, _, _, a in t.deciles], ACTUAL)],
        lambda v: f"{v:.2f}", label_width=90,
    )  # fmt: skip
    table = [[str(d), f"{n:,}", f"{p:.3f}", f"{a:.3f}"] for d, n, p, a in t.deciles]
    return Chart(
        "deciles", "Backtest: by decile", desc, svg, 560, _height(svg),
        ["decile", "customers", "predicted per customer", "actual per customer"], table,
        [f"Holdout of {t.who()}."],
    )  # fmt: skip


def band_chart(report: BacktestReport) -> Chart | None:
    chosen = report.check(report.chosen)
    if chosen is None or not chosen.bands:
        return None
    bands = chosen.bands
    desc = (
        f"Churn-risk bands of {report.chosen} on the holdout: predicted against observed share with no order in "
        f"the {report.holdout_days} days after {report.calibration_end}. "
        + " ".join(
            f"{b.band}: predicted {_pct(b.predicted_no_order, 0)}, observed {_pct(b.observed_no_order, 0)}."
            for b in bands
        )
    )
    svg = bars(
        "bands", "Churn-risk calibration", desc, [b.band for b in bands],
        [("predicted no order", [b.predicted_no_order for b in bands], PREDICTED),
         ("observed no order", [b.observed_no_order for b in bands], ACTUAL)],
        lambda v: _pct(v, 0), axis_max=1.0, label_width=90,
    )  # fmt: skip
    table = [
        [b.band, b.rule, f"{b.customers:,}", _pct(b.predicted_no_order), _pct(b.observed_no_order)]
        for b in bands
    ]
    return Chart(
        "bands", "Churn-risk calibration", desc, svg, 560, _height(svg),
        ["band", "rule", "customers", "predicted no order", "observed no order"], table,
    )  # fmt: skip


def winback_chart(rows: list[tuple[str, int, tuple[float, float, float, float, float] | None]]) -> Chart:
    shown = [r for r in rows if r[2] is not None]
    desc = (
        "Days from the as-of date to each customer's winback date, per segment (negative: the date has passed): "
        "the box spans the middle half, the line the 10th to 90th percentile, the bar the median. "
        + " ".join(f"{s}: median {q[2]:,.0f} days." for s, _, q in shown if q is not None)
    )
    svg = ranges(
        "winback", "Days until the winback date", desc, [r[0] for r in rows], [r[2] for r in rows],
        "days from the as-of date (negative: passed)", zero_label="as-of date",
    )  # fmt: skip
    table = [
        [s, f"{n:,}", *(f"{v:,.0f}" for v in q)] if q is not None else [s, f"{n:,}", "-", "-", "-", "-", "-"]
        for s, n, q in rows
    ]
    return Chart(
        "winback", "Winback dates", desc, svg, 640, _height(svg),
        ["segment", "customers with a date", "p10", "p25", "median", "p75", "p90"], table,
    )  # fmt: skip


def migration_chart(m: MigrationMatrix, colours: dict[str, str]) -> Chart:
    from ..segments.migration import GONE, NEW

    froms = [*m.groups, NEW]
    tos = [*m.groups, GONE]
    counts = {(c.from_group, c.to_group): c.customers for c in m.cells}
    row_totals = {f: sum(counts.get((f, t), 0) for t in tos) for f in froms}
    fills, texts = [], []
    for f in froms:
        fill_row: list[str | None] = []
        text_row: list[list[str]] = []
        for t in tos:
            n = counts.get((f, t), 0)
            share = n / row_totals[f] if row_totals[f] else 0.0
            fill_row.append(blend(share) if n else None)
            text_row.append([f"{n:,}" if n else ""])
        fills.append(fill_row)
        texts.append(text_row)
    desc = (
        f"Customers moving between segments from snapshot {m.from_snapshot.snapshot_id} (as of "
        f"{m.from_snapshot.as_of}, rows) to snapshot {m.to_snapshot.snapshot_id} (as of {m.to_snapshot.as_of}, "
        f"columns); darker is a larger share of the row. {m.stayed:,} stayed, {m.moved:,} moved, {m.new:,} are "
        f"new and {m.gone:,} are gone."
    )
    svg, width, height = grid(
        "migration", "Segment migration", desc, froms, tos, fills, texts,
        f"from (as of {m.from_snapshot.as_of})", f"to (as of {m.to_snapshot.as_of})",
        cell_w=60, cell_h=26, label_width=130, slanted=True,
    )  # fmt: skip
    table = [[f, *(f"{counts.get((f, t), 0):,}" for t in tos)] for f in froms]
    return Chart(
        "migration", "Segment migration", desc, svg, width, height, ["from \\ to", *tos], table,
    )  # fmt: skip


# the snapshots of the trend, oldest lightest (at most this many, the latest)
TREND_SNAPSHOTS = 5
TREND_COLOURS = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")


def trend_chart(snapshots: list[tuple[str, dict[str, int]]], segments: list[str]) -> Chart:
    shown = snapshots[-TREND_SNAPSHOTS:]
    names = [s for s in segments if any(counts.get(s) for _, counts in shown)]
    names += sorted({g for _, counts in shown for g in counts} - set(names))
    shades = TREND_COLOURS[-len(shown) :]
    series = [
        (label, [float(counts.get(s, 0)) for s in names], shade)
        for (label, counts), shade in zip(shown, shades, strict=True)
    ]
    first, last = shown[0], shown[-1]
    desc = (
        f"Customers per segment in the last {len(shown)} saved snapshots, oldest lightest. From {first[0]} to "
        f"{last[0]}: "
        + "; ".join(f"{s} {first[1].get(s, 0):,} -> {last[1].get(s, 0):,}" for s in names)
        + "."
    )
    svg = bars("trend", "Segment sizes over snapshots", desc, names, series, _int, width=640, whole=True)
    table = [
        [s, *(f"{counts.get(s, 0):,}" for _, counts in shown), f"{last[1].get(s, 0) - first[1].get(s, 0):+,}"]
        for s in names
    ]
    return Chart(
        "trend", "Trend per segment", desc, svg, 640, _height(svg),
        ["segment", *(f"snapshot {label}" for label, _ in shown), "change"], table,
    )  # fmt: skip


def _height(svg: str) -> int:
    marker = 'height="'
    start = svg.index(marker) + len(marker)
    return int(svg[start : svg.index('"', start)])
