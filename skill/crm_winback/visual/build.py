"""Build the visual report: score with predictions, gather the chart numbers, render one self-contained HTML file.

The file holds its CSS and its SVG charts inline and loads nothing (no script, font, image or stylesheet from
anywhere), so it opens offline and survives being e-mailed. Every chart has a text alternative and the table
of its numbers beside it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2

from .. import __version__
from ..api import StoreOptions, score_file
from ..cohorts import retention_by_month
from ..errors import CrmError, DataError
from ..files import write_text
from ..ingest import IngestOptions
from ..models.report import ReportResult
from ..models.store import SnapshotInfo
from ..resources import resource_dir
from ..scoring import ScoreOptions
from ..scoring.segment_map import load_segment_map
from . import charts
from .gather import order_funnel, rf_grid, winback_quantiles
from .link import report_link
from .svg import Chart

TEMPLATE = "report.html.j2"


def build_report(
    path: str | Path,
    output: str | Path,
    options: IngestOptions | None = None,
    calibration_end: dt.date | None = None,
    store: StoreOptions | None = None,
) -> ReportResult:
    """Score ``path`` (with the backtest and predictions), draw every chart, write ``output`` atomically.

    With ``store`` (its ``db``), the saved snapshots of ``store.shop`` give the migration and the trend.
    A chart whose numbers cannot be had (a history too short for the backtest, a single snapshot) is left out
    and the page says why; the rest is still drawn.
    """
    segment_names = load_segment_map().names()
    colours = charts.segment_colours(segment_names)
    # the charts read the scores and the purchase days (cohorts, tracking) only: the lines go before scoring
    result, scored = score_file(
        path,
        options,
        ScoreOptions(predict=True, calibration_end=calibration_end, keep_model=True),
        keep=True,
        free_lines=True,
    )
    assert scored is not None
    skipped: list[str] = []
    sections: dict[str, list[Chart]] = {
        "segments": [],
        "lifecycle": [],
        "cohorts": [],
        "model": [],
        "trend": [],
    }
    summary, quality = result.scoring, result.quality
    try:
        con, as_of, monetary = scored.ingested.con, scored.ingested.as_of, scored.ingested.monetary
        card = summary.scorecard
        sections["segments"] += [
            charts.rf_chart(rf_grid(con, monetary), colours, monetary),
            charts.segment_chart(card.by_segment, colours, monetary),
        ]
        sections["lifecycle"] += [
            charts.funnel_chart(order_funnel(con)),
            charts.stage_chart(card.by_lifecycle),
        ]
        # (imported here: the models' modules load SciPy, which score_file imports while DuckDB reads the file)
        from ..predict.summary import purchase_days

        sections["cohorts"].append(charts.cohort_chart(retention_by_month(con, as_of, purchase_days(con))))
        outlook = summary.predictions
        report = outlook.backtest if outlook is not None else None
        if report is not None and report.status == "done":
            from ..predict.tracking import tracking

            try:
                # the backtest's own fit of the drawn model, and its purchase days: nothing fitted or read again
                kept = scored.extra.get("backtest")
                t = tracking(
                    con,
                    as_of,
                    report,
                    getattr(kept, "fits", None),
                    getattr(kept, "calibration", None),
                    getattr(kept, "holdout", None),
                )
                sections["model"] += [charts.tracking_chart(t), charts.decile_chart(t)]
            except DataError as exc:
                skipped.append(f"tracking plot and deciles: {exc}")
            band = charts.band_chart(report)
            if band is not None:
                sections["model"].append(band)
        else:
            why = report.reason if report is not None else "no backtest"
            skipped.append(f"backtest charts: {why}")
        quantiles = winback_quantiles(con, as_of, segment_names)
        if any(q is not None for _, _, q in quantiles):
            sections["model"].append(charts.winback_chart(quantiles))
        else:
            reason = outlook.fallback_reason if outlook is not None else None
            skipped.append(f"winback dates: no customer has one ({reason or 'the model was not fitted'})")
    finally:
        scored.ingested.close()
    if store is not None and store.db:
        trend, missing = _store_charts(store, segment_names, colours)
        sections["trend"] += trend
        if missing:
            skipped.append(missing)
    else:
        skipped.append("migration and trend: no customer store given (--db with two or more saved snapshots)")
    html = render_page(
        {
            "quality": quality,
            # the file's name, not its folder: the page is meant to be e-mailed
            "source_name": Path(quality.file).name,
            "summary": summary,
            "sections": sections,
            "skipped": skipped,
            "version": __version__,
            "backtest_lines": (
                [line.removeprefix("- ") for line in summary.predictions.backtest.summary_lines()]
                if summary.predictions is not None and summary.predictions.backtest is not None
                else []
            ),
        }
    )
    written = write_text(output, html)
    return ReportResult(
        report_file=str(written),
        as_of=summary.as_of,
        customers=summary.customers,
        confidence=quality.confidence,
        charts=[c.id for group in sections.values() for c in group],
        skipped=skipped,
        brief_link=report_link(Path(written.name)),
    )


def _store_charts(
    store: StoreOptions, segment_names: list[str], colours: dict[str, str]
) -> tuple[list[Chart], str | None]:
    from ..segments.migration import build_migration
    from ..segments.store import count_by, list_snapshots, open_store, store_path

    if not store_path(store.db).exists():
        return [], f"migration and trend: no customer store at {store.db}"
    with open_store(store.db, read_only=True) as con:
        snaps: list[SnapshotInfo] = list_snapshots(con, store.shop)
        if len(snaps) < 2:
            return [], (
                f"migration and trend: shop {store.shop!r} has {len(snaps)} saved snapshot(s); save another with "
                "crm-winback snapshot save FILE"
            )
        matrix = build_migration(con, snaps[-2], snaps[-1], "rfm_segment", segment_names)
        counts = [(f"{s.snapshot_id} ({s.as_of})", count_by(con, s.snapshot_id)) for s in snaps]
    return [charts.migration_chart(matrix, colours), charts.trend_chart(counts, segment_names)], None


def render_page(context: dict[str, object]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("prompts"))),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v, d=1: "-" if v is None else f"{100 * v:.{d}f}%"
    env.filters["num"] = lambda v, d=0: "-" if v is None else f"{v:,.{d}f}"
    try:
        return env.get_template(TEMPLATE).render(**context)
    except jinja2.TemplateError as exc:
        raise CrmError(f"prompts/{TEMPLATE}: {exc}; reinstall crm-segment-winback") from None
