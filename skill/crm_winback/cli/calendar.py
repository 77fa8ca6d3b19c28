"""``crm-winback calendar``: a thin door onto crm_winback.brief.calendar (the lifecycle campaign calendar)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from ..brief import api
from ..brief.calendar import DEFAULT_WEEKS, parse_stages
from ..brief.context import load_context
from ..errors import InputError
from .common import emit, to_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calendar",
        help="lay the lifecycle flows out on dated weeks, within the frequency caps",
        description="Build the lifecycle campaign calendar: on the start date the customers in each stage start "
        "its flow; each send is dated, sized and kept within the channel frequency caps and the discount "
        "guardrails of the knowledge files. Nothing is scheduled or sent.",
        epilog="Example: crm-winback calendar --context context.yaml --orders orders.csv --stages new,VIP,lapsed "
        "--start 2026-01-05 -o calendar.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--context", metavar="FILE", help="the operator's context (see crm-winback schema context)"
    )
    data = p.add_mutually_exclusive_group()
    data.add_argument("--orders", metavar="FILE", help="an orders export to score: sizes and the as-of date")
    data.add_argument("--scores", metavar="FILE", help="the JSON of crm-winback score --format json")
    p.add_argument(
        "--start",
        metavar="YYYY-MM-DD",
        help="the first day (default: the context's campaign_start, else the Monday after the data's as-of date)",
    )
    p.add_argument(
        "--weeks", type=int, default=DEFAULT_WEEKS, help=f"weeks to plan (default {DEFAULT_WEEKS})"
    )
    p.add_argument(
        "--stages",
        metavar="STAGE,...",
        help="lifecycle stages to plan, e.g. new,VIP,lapsed (default: all, the goal's first)",
    )
    p.add_argument("--templates", metavar="DIR", help="your own template folder (files named as in prompts/)")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(handler=_run)


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--start {text}: not a date; write it as YYYY-MM-DD, e.g. 2026-01-05") from None


def _run(args: argparse.Namespace) -> int:
    context = load_context(args.context) if args.context else api.Context()
    doc = api.build_calendar_document(
        context,
        orders=Path(args.orders) if args.orders else None,
        scores=Path(args.scores) if args.scores else None,
        start=_date(args.start),
        weeks=args.weeks,
        stages=parse_stages(args.stages),
        template_dir=args.templates,
    )
    emit(to_json(doc.calendar) if args.format == "json" else doc.markdown, args.output)
    return 0
