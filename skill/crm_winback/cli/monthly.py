"""``crm-winback monthly``: seed 001's monthly CRM report with its actuals from the orders."""

from __future__ import annotations

import argparse
from typing import Any

from ..monthly import monthly_report
from .common import add_input_options, emit, resolve_input, to_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "monthly",
        help="the monthly CRM report: retention, churn, value, segment health with trend, cohorts",
        description="Count one month from the orders: retention and churn of the customers not churned at its "
        "start, new and reactivated customers, orders, revenue, AOV and LTV to date against the month before; "
        "segment and lifecycle-stage sizes against the month's start; the cohort table. The email-performance, "
        "NPS and churn-reason tables are left for you to fill.",
        epilog="Example: crm-winback monthly orders.csv --month 2011-11 -o report.md",
    )
    add_input_options(p, example=False)
    p.add_argument("--month", required=True, metavar="YYYY-MM", help="the month to report")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p.add_argument("--templates", metavar="DIR", help="a folder with your own monthly.md.j2")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(handler=run_monthly)


def run_monthly(args: argparse.Namespace) -> int:
    path, options = resolve_input(args)
    report = monthly_report(path, args.month, options)
    if args.format == "json":
        emit(to_json(report), args.output)
        return 0
    from ..brief.render import render

    emit(render("monthly.md.j2", report, args.templates), args.output)
    return 0
