"""``crm-winback predict`` (per-customer BG/NBD + Gamma-Gamma) and ``crm-winback validate`` (holdout)."""

from __future__ import annotations

import argparse
import dataclasses
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ..api import DEFAULT_OUT_DIR, parse_date_option, predict_file
from ..errors import InputError
from ..files import TABLE_SUFFIXES, check_output, may_create
from ..predict.render import render_prediction, render_validation
from ..predict.service import PredictOptions
from ..predict.validation import validate_file
from .common import FORMATS, add_input_options, emit, progress, resolve_input, to_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="per customer: P(alive), expected orders, spend, CLV and winback date (BG/NBD + Gamma-Gamma)",
        description="Backtest first: split the history, score every model and recency alone on the holdout and "
        "rank churn risk by the winner (p_no_order, churn_risk). Then refit the model whose per-customer "
        "forecasts erred least on the holdout (or --model) and Gamma-Gamma on the whole history and predict "
        "every customer: P(alive), "
        "expected orders and spend in the horizon, CLV, and the winback date (the day P(alive) falls to the "
        "threshold without a new order; with BG/NBD one-time buyers get the shop-level date). Per-customer rows go to a "
        f"file (default: {DEFAULT_OUT_DIR}/<name>-predictions.csv); stdout gets the per-segment summary.",
        epilog="Examples: crm-winback predict --example cdnow\n"
        "          crm-winback predict orders.csv --horizon 180 --margin 0.3 -o predictions.parquet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_options(p)
    p.add_argument(
        "--horizon", type=int, default=365, metavar="DAYS", help="prediction and CLV horizon (365)"
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="P",
        help="winback when P(alive) falls to this probability (0.5)",
    )
    _add_model_options(p)
    p.add_argument(
        "--model",
        choices=["backtest", "BG/NBD", "Pareto/NBD", "MBG/NBD", "MBG/CNBD-k"],
        default="backtest",
        help="the model of the per-customer forecasts: the backtest's forecaster, the one that erred least per "
        "customer on the shop's past (default), or one named",
    )
    p.add_argument(
        "--calibration-end",
        metavar="YYYY-MM-DD",
        help="where the backtest splits the history (default: the last third, at least 90 days and two "
        "repurchase cycles held out)",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=1.0,
        metavar="M",
        help="gross margin as a fraction of order value, for CLV (1 = revenue)",
    )
    p.add_argument(
        "--discount-rate", type=float, default=0.01, metavar="R", help="discount rate per CLV period (0.01)"
    )
    p.add_argument("--period-days", type=int, default=30, metavar="DAYS", help="length of a CLV period (30)")
    p.add_argument("-o", "--output", metavar="FILE", help="per-customer predictions file (.csv or .parquet)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_predict)

    v = sub.add_parser(
        "validate",
        help="fit on a calibration period, predict the holdout, compare with what happened",
        description="Fit BG/NBD and Gamma-Gamma on orders up to --calibration-end, predict repeat purchases "
        "(purchase days) up to --holdout-end (default: the last order date) and compare with the actual "
        "ones, in total and by decile of prediction, against the naive forecast 'each customer keeps their "
        "calibration repeat rate'; then the backtest of every model against recency alone on the same split.",
        epilog="Example: crm-winback validate --example cdnow --calibration-end 1997-09-30 "
        "--holdout-end 1998-06-30 --format json",
    )
    add_input_options(v)
    v.add_argument(
        "--calibration-end",
        metavar="YYYY-MM-DD",
        help="last day of the fit (default: the backtest's rule - the last third of the history, at least 90 "
        "days and two repurchase cycles, is held out)",
    )
    v.add_argument(
        "--holdout-end", metavar="YYYY-MM-DD", help="last day of the holdout (default: last order)"
    )
    _add_model_options(v)
    v.add_argument("--format", choices=FORMATS, default="table")
    v.set_defaults(handler=run_validate)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--time-unit",
        choices=["weeks", "days"],
        default="weeks",
        help="unit of the fitted parameters (weeks); output dates are calendar days",
    )
    p.add_argument(
        "--penalizer",
        type=float,
        default=0.0,
        metavar="C",
        help="L2 penalty on the parameters (lifetimes' penalizer_coef), for thin data",
    )


def _predict_options(args: argparse.Namespace) -> PredictOptions:
    checks = [
        (args.horizon > 0, f"--horizon {args.horizon}: give a number of days > 0"),
        (
            0 < args.threshold < 1,
            f"--threshold {args.threshold}: give a probability between 0 and 1, e.g. 0.5",
        ),
        (0 < args.margin <= 1, f"--margin {args.margin}: give a fraction of order value in (0, 1], e.g. 0.3"),
        (args.discount_rate >= 0, f"--discount-rate {args.discount_rate}: give a rate >= 0, e.g. 0.01"),
        (args.period_days > 0, f"--period-days {args.period_days}: give a number of days > 0"),
        (args.penalizer >= 0, f"--penalizer {args.penalizer}: give a value >= 0, e.g. 0.001"),
    ]
    for ok, message in checks:
        if not ok:
            raise InputError(message)
    return PredictOptions(
        horizon_days=args.horizon,
        threshold=args.threshold,
        time_unit=args.time_unit,
        margin=args.margin,
        discount_rate=args.discount_rate,
        period_days=args.period_days,
        penalizer_coef=args.penalizer,
        calibration_end=parse_date_option(args.calibration_end, "--calibration-end"),
        model=args.model,
    )


def run_predict(args: argparse.Namespace) -> int:
    options = _predict_options(args)
    path, ingest = resolve_input(args)
    output = (
        Path(args.output)
        if args.output
        else DEFAULT_OUT_DIR / f"{path.name.split('.')[0] or 'orders'}-predictions.csv"
    )
    with may_create(output.parent) if not args.output else nullcontext():
        check_output(output, TABLE_SUFFIXES)  # at once, not after the fit
        summary = predict_file(path, ingest, options, output)
    emit(to_json(summary) if args.format == "json" else render_prediction(summary, args.format))
    progress(f"per-customer predictions: {summary.predictions_file}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    if args.penalizer < 0:
        raise InputError(f"--penalizer {args.penalizer}: give a value >= 0, e.g. 0.001")
    calibration_end = parse_date_option(args.calibration_end, "--calibration-end")
    holdout_end = parse_date_option(args.holdout_end, "--holdout-end")
    if holdout_end is not None and args.as_of:
        raise InputError("--holdout-end and --as-of mean the same here; give only --holdout-end")
    path, ingest = resolve_input(args)
    if holdout_end is not None:
        ingest = dataclasses.replace(ingest, as_of=holdout_end)
    report = validate_file(
        path, calibration_end, ingest, time_unit=args.time_unit, penalizer_coef=args.penalizer
    )
    emit(to_json(report) if args.format == "json" else render_validation(report, args.format))
    return 0
