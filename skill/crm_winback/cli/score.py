"""``crm-winback profile`` and ``crm-winback score``."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ..api import (
    DEFAULT_OUT_DIR,
    StoreOptions,
    default_scores_path,
    parse_date_option,
    profile_file,
    score_file,
    score_summary_file,
)
from ..errors import InputError
from ..files import TABLE_SUFFIXES, check_output, may_create
from ..report import render_profile, render_scores
from ..scoring import ScoreOptions
from ..segments.store import check_store
from .common import FORMATS, add_input_options, add_profiles_option, emit, progress, resolve_input, to_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "profile",
        help="what the export holds: column mapping, data quality, confidence",
        description="Read an orders export and report the column mapping, layout, exclusions and confidence.",
        epilog="Example: crm-winback profile orders.csv --format markdown",
    )
    add_input_options(p)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_profile)

    s = sub.add_parser(
        "score",
        help="score every customer (RFM, segment, lifecycle, churn risk) and print the scorecard",
        description="Score every customer and print the segment health scorecard. Per-customer scores go to "
        f"a file (default: {DEFAULT_OUT_DIR}/<name>-scores.csv).",
        epilog="Examples: crm-winback score --example cdnow\n"
        "          crm-winback score orders.csv --method quantile -o scores.parquet --format json\n"
        "          crm-winback score orders.csv --predict   # churn risk by what wins the backtest\n"
        "          crm-winback score --summary s.parquet --gaps g.parquet --backtest b.parquet --predict\n"
        "          crm-winback score orders/ --engine spark --map customer=customer_id,date=created_at,amount=total",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_options(s)
    s.add_argument(
        "--method",
        choices=["fixed", "quantile"],
        default="fixed",
        help="fixed thresholds (knowledge/rfm_thresholds.yaml or --thresholds) or quintiles",
    )
    s.add_argument(
        "--thresholds", metavar="FILE", help="your own fixed thresholds (YAML, as rfm_thresholds.yaml)"
    )
    s.add_argument(
        "--segment-map", metavar="FILE", help="your own R-F-M segment map (YAML, as rfm_segments.yaml)"
    )
    s.add_argument(
        "--predict",
        action="store_true",
        help="also backtest the purchase models against recency alone on the shop's own past and band churn "
        "risk by the winner (each band's measured meaning is stated; the heuristic when the history is too "
        "short); the scores file gains p_alive, expected_orders, clv, winback_date, winback_basis and p_no_order",
    )
    s.add_argument(
        "--calibration-end",
        metavar="YYYY-MM-DD",
        help="with --predict: where the backtest splits the history (default: the last third, at least 90 days "
        "and two repurchase cycles held out)",
    )
    add_profiles_option(s)
    s.add_argument(
        "--summary",
        metavar="FILE",
        help="score a per-customer summary (Parquet or CSV, contract v1, from crm-winback sql) instead of the "
        "orders; needs --gaps, and --backtest with --predict. The scores file is the one the orders give",
    )
    s.add_argument(
        "--gaps",
        metavar="FILE",
        help="with --summary: the gap histogram (crm-winback sql --part gaps), for the shop's repurchase cycle",
    )
    s.add_argument(
        "--backtest",
        metavar="FILE",
        help="with --summary and --predict: the backtest part (crm-winback sql --part backtest "
        "--calibration-end DATE; without it the error names the date and the command)",
    )
    s.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb: read and score here (default); spark: Spark reads FILE (CSV, Parquet or a folder of "
        "Parquet files) and builds the per-customer summary, which is scored here (needs the [spark] extra)",
    )
    s.add_argument(
        "--spark-remote",
        metavar="sc://HOST:15002",
        help="with --engine spark: a cluster through Spark Connect instead of Spark on this machine",
    )
    s.add_argument(
        "--table",
        metavar="NAME",
        help="with --spark-remote: a table in the cluster's catalog instead of FILE",
    )
    s.add_argument(
        "--timezone",
        metavar="ZONE",
        help="with --engine spark: the time zone an order's timestamp becomes a date in (default UTC)",
    )
    s.add_argument("-o", "--output", metavar="FILE", help="per-customer scores file (.csv or .parquet)")
    s.add_argument(
        "--save",
        action="store_true",
        help="also save this run as a snapshot in the customer store (for trends and migration)",
    )
    s.add_argument(
        "--db",
        metavar="PATH",
        help="the customer store; with it (or --save) the scorecard gains a trend column against "
        "the previous snapshot (default store: ~/.local/share/crm-winback/store.duckdb)",
    )
    s.add_argument("--shop", default="default", help="which shop's snapshots to compare and save into")
    s.add_argument("--format", choices=FORMATS, default="table")
    s.set_defaults(handler=run_score)


def run_profile(args: argparse.Namespace) -> int:
    path, options = resolve_input(args)
    report = profile_file(path, options)
    emit(to_json(report) if args.format == "json" else render_profile(report, args.format))
    return 0


def run_score(args: argparse.Namespace) -> int:
    if args.thresholds and args.method != "fixed":
        raise InputError("--thresholds applies to --method fixed only")
    _check_engine_options(args)
    if args.engine == "spark":
        return _run_score_spark(args)
    if args.summary or args.gaps or args.backtest:
        return _run_score_summary(args)
    path, options = resolve_input(args)
    output = Path(args.output) if args.output else default_scores_path(path)
    with may_create(output.parent) if not args.output else nullcontext():
        check_output(output, TABLE_SUFFIXES)  # at once, not after minutes of scoring
        if args.db:
            check_store(args.db)
        store = StoreOptions(db=args.db, save=args.save, shop=args.shop) if (args.db or args.save) else None
        result, _ = score_file(
            path,
            options,
            _score_options(args),
            output,
            store=store,
        )
    if args.format == "json":
        emit(to_json(result))
    else:
        emit(render_scores(result.quality, result.scoring, result.scores_file, args.format))
    progress(f"per-customer scores: {result.scores_file}")
    if result.snapshot is not None:
        what = "already saved as" if result.snapshot.already_saved else "saved as"
        progress(f"{what} snapshot {result.snapshot.snapshot_id} (as of {result.snapshot.as_of})")
    return 0


def _score_options(args: argparse.Namespace) -> ScoreOptions:
    """The scoring options both doors of ``score`` (orders or a summary) take from the command line."""
    return ScoreOptions(
        args.method,
        args.thresholds,
        args.segment_map,
        args.predict,
        parse_date_option(args.calibration_end, "--calibration-end"),
        tuple(args.profiles or ()),
    )


def _run_score_summary(args: argparse.Namespace) -> int:
    """``score --summary FILE --gaps FILE``: the scores of a warehouse's summary, without the order lines."""
    if not args.summary:
        option = "--gaps" if args.gaps else "--backtest"
        raise InputError(f"{option} goes with --summary FILE (the per-customer summary it belongs to)")
    for given, option in (
        (args.file or args.example, "an orders FILE or --example"),
        (args.column_map or args.currency or args.date_format, "--map, --currency or --date-format"),
        (args.save or args.db, "--save or --db"),
    ):
        if given:
            raise InputError(f"--summary: {option} cannot go with it; score the summary file alone")
    output = Path(args.output) if args.output else default_scores_path(Path(args.summary))
    with may_create(output.parent) if not args.output else nullcontext():
        check_output(output, TABLE_SUFFIXES)
        result = score_summary_file(
            args.summary,
            args.gaps,
            _score_options(args),
            output,
            parse_date_option(args.as_of, "--as-of"),
            args.backtest,
        )
    written = result.scores_file
    if args.format == "json":
        emit(to_json(result))
    else:
        emit(render_scores(result.quality, result.scoring, written, args.format))
    progress(f"per-customer scores: {written}")
    return 0


def _check_engine_options(args: argparse.Namespace) -> None:
    """The Spark options go with --engine spark, and --table with --spark-remote."""
    if args.engine != "spark":
        for given, option, why in (
            (args.spark_remote, "--spark-remote", "a Spark cluster builds the summary"),
            (args.table, "--table", "a table in a Spark cluster's catalog"),
            (args.timezone, "--timezone", "locally each order's date is taken as written"),
        ):
            if given:
                raise InputError(
                    f"{option} goes with --engine spark ({why}); add --engine spark or leave {option} out"
                )
        return
    if args.table and not args.spark_remote:
        raise InputError(
            f"--table {args.table}: a table in a cluster's catalog needs --spark-remote sc://HOST:15002; to "
            "read files on this machine give the orders' path instead"
        )
    for given, option in (
        (args.summary or args.gaps, "--summary or --gaps (a summary is scored without an engine)"),
        (args.backtest, "--backtest (the backtest part goes with --summary, scored without an engine)"),
        (args.example, "--example (the bundled example is a text file for the local reader)"),
        (args.currency or args.date_format, "--currency or --date-format (options of the local reader)"),
        (args.save or args.db, "--save or --db"),
    ):
        if given:
            raise InputError(f"--engine spark: {option} cannot go with it")


def _run_score_spark(args: argparse.Namespace) -> int:
    """``score ORDERS --engine spark``: Spark builds the summary, which is scored here as --summary is."""
    from ..api import score_on_spark
    from ..ingest.mapping import parse_map_option

    options = _score_options(args)
    name = args.file or (args.table or "orders").split(".")[-1]
    output = Path(args.output) if args.output else default_scores_path(Path(name))
    with may_create(output.parent) if not args.output else nullcontext():
        check_output(output, TABLE_SUFFIXES)
        result = score_on_spark(
            args.file,
            parse_map_option(args.column_map),
            options,
            output,
            parse_date_option(args.as_of, "--as-of"),
            args.timezone or "UTC",
            args.spark_remote,
            args.table,
        )
    if args.format == "json":
        emit(to_json(result))
    else:
        emit(render_scores(result.quality, result.scoring, result.scores_file, args.format))
    progress(f"per-customer scores: {result.scores_file}")
    return 0
