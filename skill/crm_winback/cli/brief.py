"""``crm-winback brief``, ``ltv-plan``, ``programme``, ``check`` and ``schema``: thin doors onto crm_winback.brief."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..brief import api
from ..brief.context import context_schema, load_context
from ..errors import InputError
from .common import add_profiles_option, emit, to_json

Builder = Callable[..., api.BuiltDocument]


def _document_parser(sub: Any, name: str, help_text: str, example: str, handler: Builder) -> None:
    p = sub.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ". Narrative "
        "slots are marked <!-- narrative:ID: instruction -->; --format json also lists them.",
        epilog=f"Example: {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--context",
        metavar="FILE",
        help="the operator's context (YAML or JSON; see "
        "crm-winback schema context); omit it to see every default",
    )
    data = p.add_mutually_exclusive_group()
    data.add_argument("--orders", metavar="FILE", help="an orders export to score and measure")
    data.add_argument("--scores", metavar="FILE", help="the JSON of crm-winback score --format json")
    if name == "brief":
        add_profiles_option(p)
    p.add_argument("--templates", metavar="DIR", help="your own template folder (files named as in prompts/)")
    p.add_argument(
        "--format",
        choices=["markdown", "json"],
        default="markdown",
        help="markdown (the skeleton) or json (skeleton, slots, assumptions, certainty)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument(
        "--report", metavar="FILE", help="link the visual report of crm-winback report under the title"
    )
    p.set_defaults(handler=lambda args: _run_document(args, handler))


def register(sub: Any) -> None:
    _document_parser(
        sub,
        "brief",
        "build the CRM segment & winback brief",
        "crm-winback brief --context context.yaml --orders orders.csv -o brief.md",
        api.build_brief,
    )
    _document_parser(
        sub,
        "ltv-plan",
        "build the LTV action plan",
        "crm-winback ltv-plan --context context.yaml --orders orders.csv -o plan.md",
        api.build_ltv_plan_document,
    )
    _document_parser(
        sub,
        "programme",
        "build the CRM programme (journey, automations, scoring, loyalty, monthly report)",
        "crm-winback programme --context context.yaml --orders orders.csv -o programme.md",
        api.build_programme_document,
    )
    pr = sub.add_parser(
        "priority",
        help="rank the RFM segments by value at risk (the formula is printed)",
        description="Rank the RFM segments to work on first: value at risk = customers x 12-month revenue per "
        "customer x P(not returning) x reachable share, each factor with its source.",
        epilog="Example: crm-winback priority --context context.yaml --orders orders.csv --format json",
    )
    pr.add_argument(
        "--context", metavar="FILE", help="the operator's context (see crm-winback schema context)"
    )
    source = pr.add_mutually_exclusive_group(required=True)
    source.add_argument("--orders", metavar="FILE", help="an orders export to score and measure")
    source.add_argument("--scores", metavar="FILE", help="the JSON of crm-winback score --format json")
    pr.add_argument("--format", choices=["markdown", "json"], default="markdown")
    pr.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    pr.set_defaults(handler=_run_priority)
    c = sub.add_parser(
        "check",
        help="check a brief or plan: acceptance criteria and red flags (exit 1 on a fail)",
        description="Check a brief or LTV plan against its acceptance criteria and the red flags; "
        "each result has a line reference. Exit 0 only when all pass.",
        epilog="Example: crm-winback check brief.md --format json",
    )
    c.add_argument("file", help="the markdown file to check")
    c.add_argument("--format", choices=["table", "json"], default="table")
    c.set_defaults(handler=_run_check)
    s = sub.add_parser(
        "schema",
        help="print a JSON schema (context: what an agent fills in)",
        description="Print the JSON schema of the context file.",
        epilog="Example: crm-winback schema context > context.schema.json",
    )
    s.add_argument("what", choices=["context"])
    s.set_defaults(handler=_run_schema)


def _run_schema(args: argparse.Namespace) -> int:
    emit(json.dumps(context_schema(), indent=2) + "\n")
    return 0


def _run_document(args: argparse.Namespace, build: Builder) -> int:
    context = load_context(args.context) if args.context else api.Context()
    extra = {"profiles": tuple(args.profiles)} if getattr(args, "profiles", None) else {}
    doc = build(
        context,
        orders=Path(args.orders) if args.orders else None,
        scores=Path(args.scores) if args.scores else None,
        template_dir=args.templates,
        **extra,
    )
    if args.report:
        from ..visual.link import link_report

        doc = doc.model_copy(update={"markdown": link_report(doc.markdown, args.report, args.output)})
    emit(to_json(doc) if args.format == "json" else doc.markdown, args.output)
    return 0


def _run_priority(args: argparse.Namespace) -> int:
    context = load_context(args.context) if args.context else api.Context()
    risk = api.rank_segments(
        context,
        orders=Path(args.orders) if args.orders else None,
        scores=Path(args.scores) if args.scores else None,
    )
    if risk is None:
        raise InputError(
            "priority: the orders have no amounts, so value at risk cannot be measured; export the order totals "
            "(an amount column) and run again"
        )
    if args.format == "json":
        emit(to_json(risk), args.output)
        return 0
    lines = [
        f"Ranked by {risk.formula}.",
        f"Revenue: {risk.revenue_source}. Not returning: {risk.risk_source}. Reachable: {risk.reach_source}.",
        "",
        "| Rank | Segment | Customers | 12-month revenue | Per customer | Not returning | Reachable | Value at risk |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row.rank} | {row.segment} | {row.customers:,} | {row.revenue:,.0f} | {row.revenue_per_customer:,.2f} | "
        f"{row.p_not_returning * 100:.1f}% | {row.reachable_share * 100:.1f}% | {row.value_at_risk:,.0f} |"
        for row in risk.rows
    ]
    emit("\n".join([*lines, "", risk.start_with]) + "\n", args.output)
    return 0


def _run_check(args: argparse.Namespace) -> int:
    report = api.check_file(args.file)
    if args.format == "json":
        emit(to_json(report))
    else:
        rows = [
            f"{'PASS' if c.passed else 'FAIL'}  {'line ' + str(c.line) if c.line else '-':>9}  "
            f"{c.description}: {c.detail}"
            for c in report.criteria
        ]
        rows += [
            f"{'ok  ' if c.passed else 'FLAG'}  {'line ' + str(c.line) if c.line else '-':>9}  "
            f"red flag, {c.description}: {c.detail}"
            for c in report.red_flags
        ]
        rows += [f"note  narrative slot not written yet: {s}" for s in report.unfilled_slots]
        emit(
            f"{args.file}: {report.kind}, {'all criteria pass' if report.passed else 'FAILED'}\n"
            + "\n".join(rows)
            + "\n"
        )
    return 0 if report.passed else 1
