"""``crm-winback report``: one self-contained HTML page of charts."""

from __future__ import annotations

import argparse
from typing import Any

from ..api import StoreOptions, parse_date_option
from ..files import check_output
from ..segments.store import check_store
from .common import FORMATS, add_input_options, emit, progress, resolve_input, to_json

HTML_SUFFIXES = (".html", ".htm")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="a visual report (one HTML file, opens offline): R x F grid, funnel, cohorts, backtest, migration",
        description="Score the orders with the backtest and write one self-contained HTML page of charts, each "
        "with its numbers in a table: data quality, the R x F grid and segment sizes, the lifecycle funnel, "
        "cohort retention, the model's tracking plot, deciles and churn-band calibration, the winback dates per "
        "segment and, with --db holding two or more snapshots, the migration and trend.",
        epilog="Examples: crm-winback report --example cdnow -o report.html\n"
        "          crm-winback report orders.csv -o report.html --db store.duckdb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_options(p)
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="the report to write (.html)")
    p.add_argument(
        "--calibration-end",
        metavar="YYYY-MM-DD",
        help="where the backtest splits the history (default: chosen from the data, as score --predict)",
    )
    p.add_argument(
        "--db", metavar="PATH", help="a customer store: its snapshots give the migration and trend"
    )
    p.add_argument("--shop", default="default", help="which shop's snapshots to draw")
    p.add_argument("--format", choices=FORMATS, default="table", help="what to print about the file written")
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from ..visual import build_report

    path, options = resolve_input(args)
    check_output(args.output, HTML_SUFFIXES)  # at once, not after the scoring
    if args.db:
        check_store(args.db)
    result = build_report(
        path,
        args.output,
        options,
        parse_date_option(args.calibration_end, "--calibration-end"),
        StoreOptions(db=args.db, shop=args.shop) if args.db else None,
    )
    if args.format == "json":
        emit(to_json(result))
    else:
        lines = [f"report: {result.report_file}", f"charts: {', '.join(result.charts)}"]
        lines += [f"not drawn: {s}" for s in result.skipped]
        emit("\n".join(lines) + "\n")
    progress(f"wrote {result.report_file}")
    return 0
